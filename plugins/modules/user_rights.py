#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: user_rights
short_description: Grant or revoke Windows logon rights and privileges
version_added: 0.1.0
description:
  - Manages which accounts hold Windows user rights (logon rights such as C(SeServiceLogonRight) and privileges
    such as C(SeBackupPrivilege)), as the Local Security Policy's "User Rights Assignment" shows them.
  - One task manages many rights, each for many accounts.
  - Accounts are compared by security identifier (SID) on the host, so C(.\svc_kf), C(KF01\svc_kf) and
    C(S-1-5-21-...-1001) are the same account and differences of spelling or case never cause a change.
  - Uses the Local Security Authority API (C(LsaEnumerateAccountsWithUserRight), C(LsaAddAccountRights),
    C(LsaRemoveAccountRights)) directly, so it changes the local policy. A right also set by Group Policy is
    overwritten again at the next policy refresh; manage such rights in Group Policy instead.
options:
  rights:
    description:
      - A mapping of right constants to lists of accounts.
      - A key is a logon right or privilege constant as Microsoft documents it, for example C(SeServiceLogonRight),
        C(SeBatchLogonRight), C(SeImpersonatePrivilege), C(SeBackupPrivilege) or C(SeRestorePrivilege). Keys are not
        case-sensitive. An unknown key fails before anything runs on the host, naming the closest valid constants.
      - A value is a list of accounts. An account is a name (C(DOMAIN\user), C(.\user) for a local account,
        C(COMPUTER\user), C(user@domain.example), C(NT AUTHORITY\NETWORK SERVICE), C(BUILTIN\IIS_IUSRS)), a group
        managed service account (C(DOMAIN\name$)) or a SID string. A single string is taken as a list of one.
      - An account the host cannot resolve fails the task before anything changes.
    type: dict
    required: true
  action:
    description:
      - C(add) grants each right to the listed accounts and leaves its other holders alone.
      - C(remove) revokes each right from the listed accounts.
      - C(set) makes the listed accounts the only holders of each right, revoking it from every other account. An
        empty list revokes the right from everyone. Rights not named in O(rights) are never touched.
    type: str
    choices: [add, remove, set]
    default: add
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - pkiops.keyfactor_command.windows_task
  - pkiops.keyfactor_command.snapshot
seealso:
  - module: ansible.windows.win_user_right
    description: Manages one right per task, comparing accounts the same way.
  - name: User Rights Assignment
    description: Microsoft's reference for each right and its default holders.
    link: https://learn.microsoft.com/windows/security/threat-protection/security-policy-settings/user-rights-assignment
author:
  - pkiops maintainers (@pkiops)
"""

EXAMPLES = r"""
- name: Give the Keyfactor Command installer account backup and restore privileges
  pkiops.keyfactor_command.user_rights:
    rights:
      SeBackupPrivilege:
        - CONTOSO\kf_installer
      SeRestorePrivilege:
        - CONTOSO\kf_installer

- name: Let the service account log on as a service and the IIS pools log on as a batch job
  pkiops.keyfactor_command.user_rights:
    rights:
      SeServiceLogonRight:
        - CONTOSO\svc_keyfactor
      SeBatchLogonRight:
        - BUILTIN\IIS_IUSRS
        - CONTOSO\svc_keyfactor
      SeImpersonatePrivilege:
        - BUILTIN\IIS_IUSRS

- name: Make these the only accounts allowed to log on as a service
  pkiops.keyfactor_command.user_rights:
    rights:
      SeServiceLogonRight:
        - NT SERVICE\ALL SERVICES
        - CONTOSO\svc_keyfactor
    action: set

- name: Revoke a right from a group managed service account
  pkiops.keyfactor_command.user_rights:
    rights:
      SeInteractiveLogonRight:
        - CONTOSO\gmsa_kf$
    action: remove
"""

RETURN = r"""
changes:
  description:
    - For each right in O(rights), the accounts that were granted it (C(added)) and those it was revoked from
      (C(removed)). In check mode, what would be.
  returned: success
  type: dict
  sample:
    SeServiceLogonRight:
      added:
        - name: CONTOSO\svc_keyfactor
          sid: S-1-5-21-1004336348-1177238915-682003330-1105
      removed: []
holders:
  description:
    - For each right in O(rights), every account that holds it after the task, with its name and SID. An account
      whose SID no longer translates to a name is shown by its SID.
  returned: success
  type: dict
  sample:
    SeServiceLogonRight:
      - name: CONTOSO\svc_keyfactor
        sid: S-1-5-21-1004336348-1177238915-682003330-1105
      - name: NT SERVICE\ALL SERVICES
        sid: S-1-5-80-0
applied:
  description:
    - When the change failed part way, the grants and revocations made on the host before the failure.
  returned: failure after some changes
  type: list
  elements: dict
  sample:
    - right: SeServiceLogonRight
      action: add
      sid: S-1-5-21-1004336348-1177238915-682003330-1105
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._user_rights_spec import (  # noqa: E402  pylint: disable=wrong-import-position
    ARGUMENT_SPEC,
    SPEC_RULES,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SPEC_RULES)
    module.fail_json(msg="pkiops.keyfactor_command.user_rights runs through its action plugin; this file holds its documentation")


if __name__ == "__main__":
    main()
