#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: readiness_info
short_description: Check whether a Windows server meets Keyfactor Command's preparation requirements
version_added: 0.1.0
description:
  - Reads, in one PowerShell execution, the state behind every requirement it is given, and judges each one on the
    controller as C(pass), C(fail) or C(warn). It never changes the host, in check mode or not.
  - The requirements come from the roles - each role's C(readiness) entry point lists what its profile asks of a
    server, from the same variables its main entry point uses - and the
    C(pkiops.keyfactor_command.readiness) playbook runs this module once per host and writes a Markdown and an HTML
    report. You can also list requirements yourself.
  - Certificates can be named by the PFX file they were imported from; the controller reads its thumbprint, and
    neither the PFX nor its password reaches the host.
  - A part of the host that cannot be read (the cluster on a host that is not a node, IIS on a host without it) fails
    the requirements that need it, with Windows' message, and leaves the others judged.
options:
  requirements:
    description:
      - What the server must meet. Two entries that ask the same thing (the same pool, the same right for the same
        account) are one requirement, attributed to both profiles.
    type: list
    elements: dict
    required: true
    suboptions:
      kind:
        description:
          - C(co_location) - no certificate authority (C(CertSvc)) and no SQL Server instance (C(MSSQLSERVER),
            C(MSSQL$<instance>)) runs on the server; the Windows Internal Database does not count.
          - C(account) - O(requirements[].account) resolves to an account on the server.
          - C(group_member) - O(requirements[].account) is a direct member of the local O(requirements[].group).
          - C(user_right) - O(requirements[].account) holds O(requirements[].right) directly.
          - C(directory_access) - O(requirements[].path) is a directory; with O(requirements[].account), that account
            is allowed O(requirements[].file_rights) on it, inherited by the files and folders created in it, and
            no deny entry takes them away.
          - C(features) - every Windows feature in O(requirements[].features) is installed.
          - C(app_pool) - the IIS application pool O(requirements[].pool) exists and runs as
            O(requirements[].identity_type) (and O(requirements[].username), compared as SIDs). A pool that is not
            started is a warning.
          - C(certificate) - the certificate is in LocalMachine\O(requirements[].store), with a private key that opens
            when O(requirements[].require_key), and has not expired; one that expires within
            O(requirements[].expiry_warning_days) days is a warning.
          - C(key_access) - O(requirements[].account) has exactly O(requirements[].access) on the certificate's
            private key; C(read) fails when the account has Full control, as Keyfactor asks for Read but not Full
            control.
          - C(registry_serial) - the string value O(requirements[].value_name) under
            O(requirements[].registry_key) holds the certificate's serial number as Windows shows it.
          - C(service_installed) - the service O(requirements[].service) (service or display name) is installed.
          - C(cluster_role) - the Failover Cluster role O(requirements[].role) exists and is Online, has a Generic
            Service resource for each of O(requirements[].services), and replicates each of
            O(requirements[].checkpoints).
        type: str
        required: true
        choices: [co_location, account, group_member, user_right, directory_access, features, app_pool, certificate, key_access,
                  registry_serial, service_installed, cluster_role]
      profile:
        description: The profile (role) that asks for this; the report shows it.
        type: str
        choices: [common, portal, services, web_api, orchestrator_api, ca_connector, gateway_cluster_node]
        default: common
      source:
        description:
          - Where Keyfactor's documentation asks for it, as a reference of the collection's C(docs/requirements.md)
            (for example C(001-07)).
        type: str
        default: ""
      fix:
        description: What puts it right, for the report (a role and the variable to set). Defaults to the profile's role.
        type: str
        default: ""
      account:
        description:
          - The account, as C(DOMAIN\name), C(name@domain), C(.\name), a well-known name or a SID string.
          - Required for O(requirements[].kind=account), O(requirements[].kind=group_member),
            O(requirements[].kind=user_right) and O(requirements[].kind=key_access).
        type: str
      group:
        description: The local group, by name or SID (C(S-1-5-32-544) is Administrators in every language).
        type: str
      right:
        description: The user right or privilege constant, such as C(SeServiceLogonRight).
        type: str
      path:
        description: The directory, as an absolute path with its drive, such as C(C:\Keyfactor\logs).
        type: str
      file_rights:
        description: The FileSystemRights names the account must be allowed.
        type: list
        elements: str
        default: [CreateFiles, AppendData]
      features:
        description: Windows feature names, as C(Get-WindowsFeature) lists them.
        type: list
        elements: str
      pool:
        description: The application pool's name.
        type: str
      identity_type:
        description: The identity the pool must run as.
        type: str
        choices: [ApplicationPoolIdentity, NetworkService, LocalService, LocalSystem, SpecificUser]
      username:
        description: The pool's account, for O(requirements[].identity_type=SpecificUser).
        type: str
      store:
        description: The LocalMachine certificate store.
        type: str
        default: My
      thumbprint:
        description: The certificate's SHA-1 thumbprint. Give this, O(requirements[].pfx_src) or O(requirements[].pfx_content).
        type: str
      pfx_src:
        description: A PFX file on the controller, searched like a task's C(files); its certificate is the one checked.
        type: path
      pfx_content:
        description: The PFX as base64, instead of O(requirements[].pfx_src).
        type: str
      pfx_password:
        description: The PFX's password; used on the controller only.
        type: str
        default: ""
      require_key:
        description: Whether O(requirements[].kind=certificate) needs the certificate's private key.
        type: bool
        default: true
      expiry_warning_days:
        description: A certificate that expires within this many days is a warning.
        type: int
        default: 30
      access:
        description: The access O(requirements[].account) must have on the private key.
        type: str
        choices: [read, full_control]
        default: read
      registry_key:
        description: The registry key under C(HKEY_LOCAL_MACHINE), in any of the spellings M(pkiops.keyfactor_command.cert_serial_registry) accepts.
        type: str
        default: HKLM:\SOFTWARE\Keyfactor\Keyfactor CA Gateway\Parameters
      value_name:
        description: The registry value.
        type: str
        default: EncryptSerialNumber
      service:
        description: The service, by service name or display name.
        type: str
      role:
        description: The cluster role's name.
        type: str
      services:
        description: Services the role must run as Generic Service resources.
        type: list
        elements: str
        default: []
      checkpoints:
        description: Registry keys, under C(HKEY_LOCAL_MACHINE), the role must replicate.
        type: list
        elements: str
        default: []
      allow:
        description:
          - For O(requirements[].kind=co_location), report a certificate authority or SQL Server as a warning, not a
            failure. Unset means false.
          - Refused for every other kind.
        type: bool
attributes:
  check_mode:
    support: full
    details: The module only reads, so check mode changes nothing about what it does.
  diff_mode:
    support: full
    details: The diff shows each requirement's status, the same before and after.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - pkiops.keyfactor_command.windows_task
seealso:
  - module: pkiops.keyfactor_command.user_rights
  - module: pkiops.keyfactor_command.iis_app_pools
  - module: pkiops.keyfactor_command.pfx_import
  - module: pkiops.keyfactor_command.cluster_generic_service_role
author:
  - pkiops maintainers (@pkiops)
"""

EXAMPLES = r"""
- name: Check the Keyfactor Command Service account's right and the log directory
  pkiops.keyfactor_command.readiness_info:
    requirements:
      - kind: user_right
        profile: services
        source: 001-07
        right: SeServiceLogonRight
        account: CONTOSO\svc-keyfactor
        fix: role pkiops.keyfactor_command.services, variable services_account
      - kind: directory_access
        source: 001-05
        path: C:\Keyfactor\logs
        account: BUILTIN\Users
      - kind: co_location
        source: 000-01
  register: readiness

- name: Show what fails
  ansible.builtin.debug:
    msg: "{{ readiness.requirements | selectattr('status', 'equalto', 'fail') | map(attribute='title') | list }}"

- name: Check the gateway's encryption certificate, named by its PFX
  pkiops.keyfactor_command.readiness_info:
    requirements:
      - kind: key_access
        profile: gateway_cluster_node
        source: 002-04
        pfx_src: "{{ inventory_dir }}/files/gateway-encryption.pfx"
        pfx_password: "{{ vault_gateway_pfx_password }}"
        account: NT AUTHORITY\NETWORK SERVICE
        access: read
"""

RETURN = r"""
requirements:
  description: Each requirement with its verdict, in report order (co_location, accounts, rights, log_directory, features,
    app_pools, certificates, registry, cluster).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: A stable identifier; the same requirement on two servers has the same one.
      type: str
      sample: user_right/SeServiceLogonRight/contoso\svc-keyfactor
    title:
      description: What is required, in words.
      type: str
      sample: CONTOSO\svc-keyfactor holds Log on as a service (SeServiceLogonRight)
    category:
      description: The report's group for it.
      type: str
      sample: rights
    kind:
      description: O(requirements[].kind).
      type: str
      sample: user_right
    profiles:
      description: The profiles that ask for it.
      type: list
      elements: str
      sample: [services]
    source:
      description: The references of C(docs/requirements.md) it comes from, comma separated.
      type: str
      sample: 001-07
    status:
      description: C(pass), C(fail) or C(warn).
      type: str
      sample: fail
    expected:
      description: What the requirement asks.
      type: str
      sample: CONTOSO\svc-keyfactor holds SeServiceLogonRight
    observed:
      description: What the server showed.
      type: str
      sample: not granted; 1 account(s) hold it
    fix:
      description: The role and variable that put it right.
      type: str
      sample: role pkiops.keyfactor_command.services, variable services_account
summary:
  description: How many requirements passed, failed and warned.
  returned: success
  type: dict
  sample: {"pass": 14, "fail": 1, "warn": 0}
ready:
  description: Whether no requirement failed.
  returned: success
  type: bool
  sample: false
profiles:
  description: The profiles the requirements came from.
  returned: success
  type: list
  elements: str
  sample: [common, services]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._readiness_info_spec import (  # noqa: E402  pylint: disable=wrong-import-position
    ARGUMENT_SPEC,
    SPEC_RULES,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SPEC_RULES)
    module.fail_json(msg="pkiops.keyfactor_command.readiness_info runs through its action plugin; this file holds its documentation")


if __name__ == "__main__":
    main()
