#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_snapshot
short_description: Read, in one PowerShell execution, what several tasks of this collection would each read
version_added: 0.1.0
description:
  - The snapshot. Runs the read of every task listed in O(reads), each exactly as that task would run it on its
    own, in one PowerShell execution, and returns the answers as RV(snapshot). Give the registered result to those
    tasks in their C(snapshot) option and each plans on it instead of reading the host again. A task that finds
    nothing to change then costs no PowerShell execution, and one that changes something costs one.
  - Also judges named O(checks), each a list of requirements as M(pkiops.keyfactor_command.readiness_info) takes
    them, so that a playbook can skip a task of another collection (a Windows feature, a directory, an ACL entry)
    whose outcome is already in place.
  - It never changes the host, in check mode or not.
  - A read is used only while it is fresh. Every change this collection's modules make is marked in the host fact
    C(keyfactor_command_changes), by the part of Windows it changes (user rights, IIS, certificates, registry,
    cluster), and a task does not use a read of a part changed since the snapshot; it reads the host itself.
  - A read is used only on the host it was taken on, and only by a task that runs as it did (the connection's user,
    or the same become user), so this task refuses C(delegate_to) and C(run_once).
  - A read whose probe compares a secret on the host (an application pool's password) is not taken; its task reads
    the host itself. A snapshot never holds a secret or anything derived from one.
  - Role C(pkiops.keyfactor_command.common) and the profile roles take a snapshot before the steps of each part they
    prepare. See C(docs/snapshot.md) in the collection for the design.
options:
  reads:
    description:
      - The tasks to read for, each as the module and the options its task is given.
      - A task uses the read only when its own options lead to the same read. Options that do not change what is read
        (for example C(action) of M(pkiops.keyfactor_command.user_rights)) may differ.
      - Options are validated as their task would validate them, so a bad option fails here, before the host is read.
    type: list
    elements: dict
    default: []
    suboptions:
      module:
        description: The module of the task, without the collection's name.
        type: str
        required: true
        choices: [ca_certificates, cert_serial_registry, cluster_generic_service_role, iis_app_pools, pfx_import,
                  private_key_acl, user_rights]
      options:
        description: The options of the task.
        type: dict
        required: true
      about:
        description:
          - The task in the inventory's words, one line, such as C(portal_encryption_pfx_src (files/encryption.pfx)). A
            refusal of its options begins with it instead of its position in O(reads).
        type: str
        default: ""
      names:
        description:
          - The inventory variable each option of the task came from, by option (C(password)) or suboption
            (C(additional_services.depends_on)). A refusal that begins with the option names the variable instead.
        type: dict
        default: {}
  validate:
    description:
      - Tasks still to come, whose options are checked as their own tasks would check them (a PFX opened with its
        password, a cluster role's name and addresses), before the host is read, but for which nothing is read. A
        later task's read would be stale by the time it runs; a mistake in its options is found before anything
        changes.
    type: list
    elements: dict
    default: []
    suboptions:
      module:
        description: The module of the task, without the collection's name.
        type: str
        required: true
        choices: [ca_certificates, cert_serial_registry, cluster_generic_service_role, iis_app_pools, pfx_import,
                  private_key_acl, user_rights]
      options:
        description: The options of the task.
        type: dict
        required: true
      about:
        description: The task in the inventory's words, as for O(reads[].about).
        type: str
        default: ""
      names:
        description: The inventory variable each option came from, as for O(reads[].names).
        type: dict
        default: {}
  checks:
    description:
      - Named lists of requirements, each list as O(pkiops.keyfactor_command.readiness_info#module:requirements) of
        M(pkiops.keyfactor_command.readiness_info). All of them are read in the same execution.
      - The C(met) of a check in RV(checks) is true when no requirement of its list fails.
    type: dict
    default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - pkiops.keyfactor_command.windows_task
seealso:
  - module: pkiops.keyfactor_command.readiness_info
    description: Judges every requirement of a server for a report.
author:
  - pkiops maintainers (@pkiops)
"""

EXAMPLES = r"""
- name: Read, once, what the next tasks would each read
  pkiops.keyfactor_command.host_snapshot:
    reads:
      - module: user_rights
        options:
          rights:
            SeServiceLogonRight:
              - CONTOSO\svc_keyfactor
    checks:
      log_directory:
        - kind: directory_access
          path: C:\Program Files\Keyfactor\logs
  register: keyfactor_snapshot

- name: Let the service account log on as a service
  pkiops.keyfactor_command.user_rights:
    rights:
      SeServiceLogonRight:
        - CONTOSO\svc_keyfactor
    snapshot: "{{ keyfactor_snapshot }}"

- name: Create the log directory
  when: not keyfactor_snapshot.checks.log_directory.met
  ansible.windows.win_file:
    path: C:\Program Files\Keyfactor\logs
    state: directory
"""

RETURN = r"""
snapshot:
  description:
    - What was read, on which host, for the tasks' C(snapshot) option, and the change marks when it was read. Its
      layout is internal to this collection and may change; pass the whole registered result on.
  returned: success
  type: dict
  sample: {"host": "kf01.contoso.com", "changes": {"user_rights": "9b2f..."},
           "reads": {"5d1c...": {"module": "user_rights", "current": {}}}}
reads:
  description: What became of each of O(reads), in order.
  returned: success
  type: list
  elements: dict
  contains:
    module:
      description: O(reads[].module).
      type: str
      sample: user_rights
    met:
      description: Whether the read was taken and its task has nothing to change.
      type: bool
      sample: true
    state:
      description:
        - C(read; nothing to change) or C(read; to change); C(read; its task cannot run as written:) and why;
          C(not read:) and why (its probe compares a secret, or the host could not read it); or C(not kept:) and why
          (its reading holds the text of a secret of this task, which Ansible would mask).
      type: str
      sample: read; nothing to change
checks:
  description: Each of O(checks) by name, with whether it is met and the verdict on each of its requirements.
  returned: success
  type: dict
  contains:
    met:
      description: Whether no requirement of the check failed.
      type: bool
      sample: true
    requirements:
      description: The verdicts, as RV(pkiops.keyfactor_command.readiness_info#module:requirements) of
        M(pkiops.keyfactor_command.readiness_info) returns them.
      type: list
      elements: dict
  sample: {"log_directory": {"met": true, "requirements": []}}
met:
  description:
    - Whether every read was taken and its task has nothing to change, and every check is met, so that a playbook can
      skip a group of tasks at once. A read not taken (a probe that compares a secret) makes it false.
  returned: success
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._host_snapshot_spec import (  # noqa: E402  pylint: disable=wrong-import-position
    ARGUMENT_SPEC,
    SPEC_RULES,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SPEC_RULES)
    module.fail_json(msg="pkiops.keyfactor_command.host_snapshot runs through its action plugin; this file holds its documentation")


if __name__ == "__main__":
    main()
