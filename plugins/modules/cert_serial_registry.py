#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cert_serial_registry
short_description: Write a certificate's serial number to a registry value
version_added: 0.1.0
description:
  - Reads the serial number of a certificate in a LocalMachine store and writes it, as a string, to a registry value
    under C(HKEY_LOCAL_MACHINE). By default this is where the Keyfactor CA Gateway looks for its encryption
    certificate, C(HKLM:\SOFTWARE\Keyfactor\Keyfactor CA Gateway\Parameters) value C(EncryptSerialNumber).
  - The serial number is the one Windows shows (C(X509Certificate2.SerialNumber)) - uppercase hexadecimal,
    most significant byte first, with a leading zero byte kept when the certificate's encoding has one - so it matches
    what the service compares it with.
  - Fails, changing nothing, when the certificate is not in the store, has no private key, or has a private key that does
    not open, because a service pointed at such a certificate could not decrypt. The key is only opened, not read; its
    ACL and properties are not needed, so keys of providers that do not report them (a TPM, an HSM) are fine.
  - Creates the key when it is missing, in the 64-bit registry view.
  - On a Failover Cluster whose role has the key as a registry checkpoint, the cluster restores the key from the active node
    whenever the role comes online on another node, so a value written on a passive node does not last. The
    C(rotate_gateway_certificate) playbook writes it on every node while the role is online.
options:
  thumbprint:
    description:
      - The certificate's SHA-1 thumbprint.
    type: str
    required: true
  store_name:
    description:
      - The LocalMachine store that holds the certificate.
    type: str
    choices: [My, WebHosting, TrustedPeople, Remote Desktop]
    default: My
  key:
    description:
      - The registry key, under C(HKEY_LOCAL_MACHINE). C(HKLM:\...), C(HKLM:/...), C(HKLM\...),
        C(HKEY_LOCAL_MACHINE\...), C(Registry::HKEY_LOCAL_MACHINE\...) and a bare path are all accepted. Gateway versions
        differ in where they read the serial; check yours.
      - A forward slash separates key names, as in PowerShell. The path starts with one of the keys Windows has directly
        under C(HKEY_LOCAL_MACHINE) (C(SOFTWARE), C(SYSTEM), C(HARDWARE), C(SAM), C(SECURITY), C(BCD00000000)), since
        no other key can be created at that level; empty key names, names over 255 characters and control characters
        are refused.
    type: str
    default: HKLM:\SOFTWARE\Keyfactor\Keyfactor CA Gateway\Parameters
  value_name:
    description:
      - The name of the string value.
    type: str
    default: EncryptSerialNumber
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - pkiops.keyfactor_command.windows_task
  - pkiops.keyfactor_command.snapshot
seealso:
  - module: pkiops.keyfactor_command.pfx_import
author:
  - pkiops maintainers (@pkiops)
"""

EXAMPLES = r"""
- name: Import the gateway's encryption certificate
  pkiops.keyfactor_command.pfx_import:
    src: files/gateway-encryption.pfx
    password: "{{ vault_gateway_pfx_password }}"
    require_rsa: true
    require_encipherment: true
    key_access:
      - principal: NT AUTHORITY\NETWORK SERVICE
  register: gateway_certificate

- name: Point the gateway at it
  pkiops.keyfactor_command.cert_serial_registry:
    thumbprint: "{{ gateway_certificate.thumbprint }}"
"""

RETURN = r"""
serial_number:
  description: The certificate's serial number as written.
  returned: success
  type: str
  sample: 00E3A1B2C3D4E5F60718293A4B5C6D7E8F
previous_value:
  description: What the value held before, or null when it did not exist.
  returned: success
  type: str
  sample: 4F0000A1B2C3D4E5F6
key:
  description: The key written to.
  returned: success
  type: str
  sample: HKLM:\SOFTWARE\Keyfactor\Keyfactor CA Gateway\Parameters
value_name:
  description: The value written.
  returned: success
  type: str
  sample: EncryptSerialNumber
key_created:
  description:
    - When the change failed, whether it had created the registry key (with any missing parent keys) before it failed.
      The key stays; running the task again writes the value.
  returned: failure during a change
  type: bool
  sample: true
written:
  description: When the change failed, whether it had written the value; false, as writing the value is its last step.
  returned: failure during a change
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._cert_serial_registry_spec import (  # noqa: E402  pylint: disable=wrong-import-position
    ARGUMENT_SPEC,
    SPEC_RULES,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SPEC_RULES)
    module.fail_json(msg="pkiops.keyfactor_command.cert_serial_registry runs through its action plugin; this file holds its documentation")


if __name__ == "__main__":
    main()
