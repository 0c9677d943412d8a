#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iis_app_pools
short_description: Manage IIS application pools, their identity and their settings
version_added: 0.1.0
description:
  - Creates, configures and removes IIS application pools. One task manages a whole list of pools, so a
    Keyfactor Command server's pools (Management Portal, Logi Analytics, Keyfactor API, Orchestrators API, ...)
    cost one PowerShell execution on the host when nothing needs changing.
  - A pool runs as a built-in identity or as a specific account, which may be a domain account, a local account or a
    group managed service account (gMSA, C(DOMAIN\name$), which has no password).
  - The host compares a pool's configured password with the desired one and reports only whether they match, so a
    changed password is detected without the password ever leaving the host. The diff shows a marker, never the value.
  - Accounts are compared by security identifier (SID) on the host, never by spelling. Every O(pools[].username) is
    resolved on the host first; one that does not resolve fails the task before any pool is created or changed.
  - Before a password is set, the host checks that the account logs on with it the way IIS will log the pool on
    (C(LogonUser) with the pool's logon type, a batch logon unless C(processModel.logonType) says otherwise), so a
    wrong password, a disabled or locked account, or a missing "Log on as a batch job" right fails the task before
    anything is changed. The right counts when the account holds it itself, through its groups, or through
    C(BUILTIN\IIS_IUSRS), which IIS adds to the pool's worker process unless C(processModel.manualGroupMembership) is
    set. A "Deny log on as a batch job" held by the account, by one of its groups (as security baselines give it to
    Domain Admins or Guests) or by C(BUILTIN\IIS_IUSRS) overrides that grant and fails the task too. Where only
    C(BUILTIN\IIS_IUSRS) grants the right, the account's groups are read from a network logon of the account; if that
    logon is refused as well ("Deny access to this computer from the network"), the task warns that a denial through
    a group could not be checked. A gMSA has no password to check; IIS reports its logon failures at the pool's first
    request.
  - When the identity or password of a running pool changes, IIS restarts (rotates) its worker process under the new
    identity by itself. The module recycles the pool only when its C(recycling.disallowRotationOnConfigChange) is
    true, so that the worker process is never restarted twice.
  - Uses C(Microsoft.Web.Administration.ServerManager) and commits all configuration changes of a task at once.
    Start, stop and recycle happen after that commit.
options:
  pools:
    description:
      - The application pools to manage. Pools not listed are never touched.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The pool's name. IIS compares pool names without regard to case.
          - >-
            At most 64 characters, without leading or trailing spaces, and none of C(\ / " | < > : * ? ] [ + = ; , @ &),
            which IIS refuses in a pool name; the task fails before touching the host otherwise.
        type: str
        required: true
      state:
        description:
          - C(present) creates the pool if needed and sets every option given; options left out keep an existing
            pool's value, and a new pool gets the default each option documents. C(absent) removes the pool, and
            takes no option but O(pools[].name) (and O(pools[].started), which it ignores).
        type: str
        choices: [present, absent]
        default: present
      started:
        description:
          - Whether the pool should be running, now and after IIS restarts (IISRESET, a restart of the Windows Process
            Activation Service or of the server). The pool's C(autoStart) is kept equal to it, so that a stopped pool
            stays stopped.
        type: bool
        default: true
      identity_type:
        description:
          - The account the pool's worker process runs as. A new pool gets C(ApplicationPoolIdentity) when this is left
            out.
          - C(SpecificUser) needs O(pools[].username).
        type: str
        choices: [ApplicationPoolIdentity, NetworkService, LocalService, LocalSystem, SpecificUser]
      username:
        description:
          - The account for C(SpecificUser), for example C(CONTOSO\svc_keyfactor), C(.\svc_keyfactor),
            C(svc_keyfactor@contoso.com) or the gMSA C(CONTOSO\gmsa_keyfactor$). Spellings of the same account are
            the same account.
          - A user account or a gMSA. A SID, and a built-in account or group (C(NT AUTHORITY\NETWORK SERVICE),
            C(SYSTEM), C(IIS APPPOOL\...), C(BUILTIN\...)) are refused; use the matching O(pools[].identity_type).
          - Only valid with O(pools[].identity_type=SpecificUser).
        type: str
      password:
        description:
          - The account's password. Needed to create a pool with, or switch a pool to, an account that is not a gMSA.
            When omitted for an existing pool, its configured password is left as it is.
          - Must not be given for a gMSA or a built-in identity, and must not be empty; the task fails before touching
            the host if it is.
          - Reaches the host only as a SecureString and never appears in output.
        type: str
      managed_runtime_version:
        description:
          - The .NET CLR version, or C(no_managed_code). A new pool gets C(v4.0) when this is left out.
        type: str
        choices: [v4.0, v2.0, no_managed_code]
      pipeline_mode:
        description:
          - The managed pipeline mode. A new pool gets C(Integrated) when this is left out.
        type: str
        choices: [Integrated, Classic]
      load_user_profile:
        description:
          - Whether IIS loads the pool identity's user profile. Keyfactor Command's pools need it, for example to use
            the identity's certificate store and temporary directory. A new pool gets C(true) when this is left out.
        type: bool
      start_mode:
        description:
          - C(AlwaysRunning) starts the worker process when IIS starts rather than at the first request. A new pool gets
            C(OnDemand) when this is left out.
        type: str
        choices: [OnDemand, AlwaysRunning]
      auto_start:
        description:
          - Whether IIS starts the pool when the Windows Process Activation Service starts. It always follows
            O(pools[].started); giving a different value fails the task before touching the host.
        type: bool
      enable_32bit:
        description:
          - Whether the pool runs 32-bit applications on 64-bit Windows. A new pool gets C(false) when this is left out.
        type: bool
      idle_timeout_minutes:
        description:
          - Minutes of inactivity after which the worker process shuts down, at most 43200 (30 days); C(0) never. IIS
            gives a new pool 20 when this is left out.
        type: int
      periodic_restart_minutes:
        description:
          - Minutes after which the pool is recycled regardless of load, at most 71582 (the most IIS supports); C(0)
            never. IIS gives a new pool 1740 (29 hours) when this is left out.
        type: int
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - pkiops.keyfactor_command.windows_task
  - pkiops.keyfactor_command.snapshot
notes:
  - IIS (the C(Web-Server) feature) must be installed. In check mode on a host where IIS is not installed yet, every
    pool is reported as to be created, with a warning; a username that does not resolve yet is a warning too.
  - Each password check is a logon of the account on the host (two where only C(BUILTIN\IIS_IUSRS) grants the
    logon right), recorded in its Security event log. A wrong password counts towards the account's lockout
    threshold; the task stops at the first account that fails. Check mode logs no account on.
seealso:
  - module: ansible.windows.win_feature
    description: Installs IIS.
author:
  - pkiops maintainers (@pkiops)
"""

EXAMPLES = r"""
- name: Create the Keyfactor Command pools on a Management Portal server, sharing one service account
  pkiops.keyfactor_command.iis_app_pools:
    pools:
      - name: KeyfactorPortal
        identity_type: SpecificUser
        username: CONTOSO\svc_keyfactor
        password: "{{ vault_svc_keyfactor_password }}"
      - name: KeyfactorLogi
        identity_type: SpecificUser
        username: CONTOSO\svc_keyfactor
        password: "{{ vault_svc_keyfactor_password }}"
      - name: KeyfactorApi
        identity_type: SpecificUser
        username: CONTOSO\svc_keyfactor
        password: "{{ vault_svc_keyfactor_password }}"

- name: Run the Orchestrators API pool as a group managed service account
  pkiops.keyfactor_command.iis_app_pools:
    pools:
      - name: KeyfactorOrchestratorsApi
        identity_type: SpecificUser
        username: CONTOSO\gmsa_keyfactor$
        start_mode: AlwaysRunning

- name: Remove IIS's default pools
  pkiops.keyfactor_command.iis_app_pools:
    pools:
      - name: DefaultAppPool
        state: absent
      - name: .NET v4.5
        state: absent
"""

RETURN = r"""
pools:
  description:
    - Each present pool after the task (in check mode, as it would be), by name. Passwords are never returned.
  returned: success
  type: dict
  sample:
    KeyfactorPortal:
      state: started
      identity_type: SpecificUser
      username: CONTOSO\svc_keyfactor
      managed_runtime_version: v4.0
      pipeline_mode: Integrated
      load_user_profile: true
      start_mode: OnDemand
      auto_start: true
      enable_32bit: false
      idle_timeout_minutes: 20
      periodic_restart_minutes: 1740
changes:
  description:
    - For each pool the task changed (or, in check mode, would change), what changed. C(created) and C(removed) stand
      for the whole pool; otherwise the option names, C(identity), C(password), C(started), C(stopped) and C(recycled)
      (only for a pool whose C(recycling.disallowRotationOnConfigChange) is true; IIS restarts any other running pool
      on the change by itself).
  returned: success
  type: dict
  sample:
    KeyfactorPortal: [password]
    KeyfactorLogi: [created]
applied:
  description:
    - When the change failed part way, what had been done by then on the host - each pool whose configuration was
      committed, and the start, stop and recycle actions performed.
  returned: failure after some changes
  type: list
  elements: dict
  sample:
    - pool: KeyfactorPortal
      action: update
      runtime: [recycle]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._iis_app_pools_spec import (  # noqa: E402  pylint: disable=wrong-import-position
    ARGUMENT_SPEC,
    SPEC_RULES,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SPEC_RULES)
    module.fail_json(msg="pkiops.keyfactor_command.iis_app_pools runs through its action plugin; this file holds its documentation")


if __name__ == "__main__":
    main()
