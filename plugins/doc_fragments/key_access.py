# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The key_access option of pfx_import and private_key_acl."""

    DOCUMENTATION = r"""
options:
  key_access:
    description:
      - Who may use the certificate's private key. Works for CNG (key storage provider) and CAPI (cryptographic service
        provider) keys alike, through the key's own security descriptor.
      - Only the principals listed are managed; other entries, such as C(NT AUTHORITY\SYSTEM) and
        C(BUILTIN\Administrators), stay as they are.
      - An existing grant is recognised whatever wrote it (the certificates console, icacls, a script), by what its access
        mask allows. A principal holding more than asked for is brought down to it, so C(read) never leaves full control.
      - A change that would leave the account the task runs as on the host unable to open the key is refused before
        anything changes, because no later run could read or change such a key, and Windows would report it as if it were gone.
        The probe reads that account's user and group SIDs from its own token, so removing C(BUILTIN\Administrators) is
        refused unless the account keeps access another way, for example through an entry of its own in the same task.
    type: list
    elements: dict
    suboptions:
      principal:
        description:
          - The account or group, as a name (C(NT AUTHORITY\NETWORK SERVICE), C(CONTOSO\svc_keyfactor), C(.\svc),
            C(IIS APPPOOL\KeyfactorAPI)) or a SID. Resolved on the host and compared by SID.
        type: str
        required: true
      access:
        description:
          - C(read) lets the principal use the key, which is all a service needs. C(full_control) also lets it change the
            key's permissions and delete it; grant it only where a product asks for it.
        type: str
        choices: [read, full_control]
        default: read
      state:
        description:
          - C(absent) removes the principal's access.
        type: str
        choices: [present, absent]
        default: present
"""
