#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: private_key_acl
short_description: Grant or revoke access to a certificate's private key
version_added: 0.1.0
description:
  - Manages who may use the private key of a certificate in a LocalMachine certificate store, as the certificates
    console's "Manage Private Keys" dialog does, for example to let C(NT AUTHORITY\NETWORK SERVICE) read the Keyfactor CA
    Gateway's encryption key.
  - Finds the key with C(CryptAcquireCertificatePrivateKey) and reads and writes its security descriptor through
    C(NCryptGetProperty)/C(NCryptSetProperty) for CNG keys and C(CryptGetProvParam)/C(CryptSetProvParam) for CAPI keys,
    so it works whichever provider holds the key. All changes are written at once.
options:
  thumbprint:
    description:
      - The certificate's SHA-1 thumbprint. Spaces and the invisible character the certificates console copies in front of
        it are ignored.
    type: str
    required: true
  store_name:
    description:
      - The LocalMachine store that holds the certificate.
    type: str
    choices: [My, WebHosting, TrustedPeople, Remote Desktop]
    default: My
  key_access:
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - pkiops.keyfactor_command.windows_task
  - pkiops.keyfactor_command.snapshot
  - pkiops.keyfactor_command.key_access
seealso:
  - module: pkiops.keyfactor_command.pfx_import
    description: Imports a PFX and grants access to its key in the same task.
author:
  - pkiops maintainers (@pkiops)
"""

EXAMPLES = r"""
- name: Let the Keyfactor CA Gateway read its encryption key, and no more
  pkiops.keyfactor_command.private_key_acl:
    thumbprint: 9F2C1A7E5B3D4C6A8E0F1B2D3C4E5F60718293A4
    key_access:
      - principal: NT AUTHORITY\NETWORK SERVICE
        access: read

- name: Take a retired service account off the key
  pkiops.keyfactor_command.private_key_acl:
    thumbprint: 9F2C1A7E5B3D4C6A8E0F1B2D3C4E5F60718293A4
    key_access:
      - principal: CONTOSO\svc_old
        state: absent
"""

RETURN = r"""
thumbprint:
  description: The certificate's thumbprint, as Windows writes it.
  returned: success
  type: str
  sample: 9F2C1A7E5B3D4C6A8E0F1B2D3C4E5F60718293A4
key_provider:
  description: Whether the key is held by a CNG key storage provider (C(cng)) or a CAPI cryptographic service provider (C(capi)).
  returned: success
  type: str
  sample: capi
key_provider_name:
  description: The provider's name.
  returned: success
  type: str
  sample: Microsoft Enhanced RSA and AES Cryptographic Provider
key_access:
  description: The access each principal in O(key_access) has after the task (in check mode, would have), by name.
  returned: success
  type: dict
  sample:
    NT AUTHORITY\NETWORK SERVICE: read
changes:
  description: For each principal whose access changed, from what to what.
  returned: success
  type: dict
  sample:
    NT AUTHORITY\NETWORK SERVICE: full_control -> read
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._private_key_acl_spec import (  # noqa: E402  pylint: disable=wrong-import-position
    ARGUMENT_SPEC,
    SPEC_RULES,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SPEC_RULES)
    module.fail_json(msg="pkiops.keyfactor_command.private_key_acl runs through its action plugin; this file holds its documentation")


if __name__ == "__main__":
    main()
