#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pfx_import
short_description: Import a PFX into a LocalMachine store and grant access to its private key
version_added: 0.1.0
description:
  - Imports a certificate with its private key from a PFX (PKCS#12) file into a LocalMachine certificate store, and in
    the same task lets the principals that need it use the key, whether a CNG or a CAPI provider holds it.
  - The controller opens the PFX with the Python C(cryptography) library before anything touches the host. A wrong
    password, a damaged file, a PFX without a private key, or a certificate that fails the requirements asked for
    (RSA, key or data encipherment, not expired) fails the task at once.
  - Idempotent by thumbprint. The host is asked only whether a certificate with that thumbprint and its private key
    is in the store; when it is, the PFX is not sent again. No key material is read on the host to compare.
  - The PFX, and its password, travel to the host only to import the certificate with its key. CA certificates
    (O(chain=install)) travel as their own public bytes and are added without opening the PFX, so installing the chain
    alone writes no key to the host.
  - A PFX encrypted with AES (PBES2, the default of OpenSSL 3 and of Windows Server 2019 and later) cannot be imported
    by Windows Server 2016 and older, which report "The specified network password is not correct.". The host's probe
    reports its Windows build, and an import of such a PFX on an older build is refused before anything changes.
    Export the PFX with TripleDES-SHA1 (C(openssl pkcs12 -export -legacy)) for these hosts.
  - A certificate already in the store whose private key does not open is imported again only when Windows says the
    key is gone. Windows gives the same error, C(NTE_BAD_KEYSET) ("Keyset does not exist"), for a key whose file is gone
    and for one whose ACL shuts the connecting account out; importing over such a key would leave it behind on every
    run, so the task fails instead and says what to do. "Not found" (C(NTE_NOT_FOUND), C(ERROR_FILE_NOT_FOUND)) counts as
    gone only from the providers that come with Windows and keep keys in files; another provider (an HSM's, a smart
    card's, the TPM's) may say so of a device it cannot reach, and the task then fails too rather than give the
    certificate a copy of the key in software.
  - The PFX travels to the host as a SecureString, so it can be at most about 48 KiB, and is imported from memory with
    C(X509Certificate2Collection.Import) and the C(MachineKeySet) and C(PersistKeySet) flags; no file is written on the
    host. The key is not exportable unless O(exportable) says so.
  - Opening the PFX on the host already writes its private keys to the machine key store. Should the import fail after
    that (the PFX turns out not to hold the certificate with its key, or the store refuses it), the task reports a change
    (RV(key_written)), and the message says that the keys stay in the machine key store with no certificate referring to
    them.
  - A PFX without a password is opened with a null password, and, when Windows refuses that as the wrong password, with
    an empty one. The two are different passwords to Windows, and a PFX exported without a password uses one or the
    other (OpenSSL's C(-passout pass:) the empty one).
  - An archived copy of the certificate in the store (automatic enrollment archives a certificate it has renewed) is
    hidden from whoever lists the store, but counts as there; it is restored, with a warning, and imported again only
    when its key is gone. Windows keeps an archived copy archived when the same certificate is added again.
options:
  src:
    description:
      - The PFX file on the controller. A relative path is looked up like other files (the role's or playbook's
        C(files/) directory first).
      - Exactly one of O(src) and O(content) is needed.
    type: path
  content:
    description:
      - The PFX file's bytes, base64 encoded, for example from a vault or a credential store.
    type: str
  password:
    description:
      - The PFX password. Keep it in Ansible Vault; it never appears in output.
    type: str
    default: ""
  store_name:
    description:
      - The LocalMachine store to import into.
    type: str
    choices: [My, WebHosting, TrustedPeople, Remote Desktop]
    default: My
  exportable:
    description:
      - Mark the imported private key exportable. Leave it off unless the key must be copied elsewhere from this host;
        a key that cannot be exported cannot be stolen by exporting it.
    type: bool
    default: false
  chain:
    description:
      - What to do with the CA certificates inside the PFX. C(install) adds each to the LocalMachine intermediate
        certification authorities store (C(CA)), or to the trusted root store (C(Root)) when it is self-signed (its
        issuer is its subject, its own public key verifies its signature, and its authority key identifier, if it has
        one, is its own subject key identifier). A cross certificate that carries a root's name but another key's
        signature goes to C(CA).
    type: str
    choices: [skip, install]
    default: skip
  require_rsa:
    description:
      - Fail unless the certificate's key is RSA, as the Keyfactor CA Gateway's encryption certificate must be.
    type: bool
    default: false
  require_encipherment:
    description:
      - Fail unless the certificate's key usage includes key encipherment or data encipherment, as the gateway's
        encryption certificate needs. A certificate without a key usage extension fails too.
    type: bool
    default: false
  allow_expired:
    description:
      - Import a certificate that has already expired. It is refused otherwise.
    type: bool
    default: false
  expiry_warning_days:
    description:
      - Warn when the certificate expires within this many days.
    type: int
    default: 30
  key_access:
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - pkiops.keyfactor_command.windows_task
  - pkiops.keyfactor_command.snapshot
  - pkiops.keyfactor_command.key_access
notes:
  - Needs the Python C(cryptography) library on the controller.
seealso:
  - module: pkiops.keyfactor_command.private_key_acl
  - module: pkiops.keyfactor_command.cert_serial_registry
  - module: ansible.windows.win_certificate_store
    description: Imports certificates from files already on the host.
author:
  - pkiops maintainers (@pkiops)
"""

EXAMPLES = r"""
- name: Import the Keyfactor CA Gateway encryption certificate on every node; NETWORK SERVICE may read its key
  pkiops.keyfactor_command.pfx_import:
    src: files/gateway-encryption.pfx
    password: "{{ vault_gateway_pfx_password }}"
    require_rsa: true
    require_encipherment: true
    chain: install
    key_access:
      - principal: NT AUTHORITY\NETWORK SERVICE
        access: read

- name: Import the Keyfactor Command HA encryption certificate from a vaulted value
  pkiops.keyfactor_command.pfx_import:
    content: "{{ vault_keyfactor_encryption_pfx_base64 }}"
    password: "{{ vault_keyfactor_encryption_pfx_password }}"
    key_access:
      - principal: CONTOSO\svc_keyfactor
"""

RETURN = r"""
thumbprint:
  description: The certificate's SHA-1 thumbprint.
  returned: success
  type: str
  sample: 9F2C1A7E5B3D4C6A8E0F1B2D3C4E5F60718293A4
serial_number:
  description: The serial number as Windows shows it (C(X509Certificate2.SerialNumber)).
  returned: success
  type: str
  sample: 00E3A1B2C3D4E5F60718293A4B5C6D7E8F
subject:
  description: The certificate's subject, as an RFC 4514 string.
  returned: success
  type: str
  sample: CN=gateway-encryption.contoso.com
issuer:
  description: The certificate's issuer, as an RFC 4514 string.
  returned: success
  type: str
  sample: CN=Contoso Issuing CA,DC=contoso,DC=com
not_before:
  description: When the certificate becomes valid, in ISO 8601.
  returned: success
  type: str
  sample: "2026-01-05T00:00:00+00:00"
not_after:
  description: When the certificate expires, in ISO 8601.
  returned: success
  type: str
  sample: "2028-01-05T00:00:00+00:00"
key_algorithm:
  description: The key's algorithm.
  returned: success
  type: str
  sample: RSA
key_size:
  description: The key's size in bits.
  returned: success
  type: int
  sample: 2048
key_usage:
  description: The key usages the certificate allows.
  returned: success
  type: list
  elements: str
  sample: [digital_signature, key_encipherment]
store:
  description: The store the certificate is in.
  returned: success
  type: str
  sample: LocalMachine\My
imported:
  description:
    - Whether the certificate was imported by this task (in check mode, would be).
    - When the change failed part way, whether the import had been completed.
  returned: success, and failure during a change
  type: bool
  sample: true
archived_restored:
  description:
    - Whether an archived copy of the certificate in the store was restored (in check mode, would be).
    - When the change failed part way, whether it had been.
  returned: success, and failure during a change
  type: bool
  sample: false
key_written:
  description:
    - When the change failed part way, whether opening the PFX had already written its private keys to the machine key
      store; they stay there, with no certificate in a store referring to them unless the import went on to complete.
  returned: failure during a change
  type: bool
  sample: true
acl_applied:
  description:
    - When the change failed part way, the key ACL operations it had applied, each with the C(sid), the C(action)
      (C(set) or C(remove)) and, for C(set), the C(rights) as a signed 32-bit access mask.
  returned: failure during a change
  type: list
  elements: dict
  sample: []
chain_installed:
  description:
    - The thumbprints of the CA certificates added to the CA or Root store (in check mode, that would be).
    - When the change failed part way, those it had added.
  returned: success, and failure during a change
  type: list
  elements: str
  sample: []
key_access:
  description: The access each principal in O(key_access) has after the task, by name.
  returned: success
  type: dict
  sample:
    NT AUTHORITY\NETWORK SERVICE: read
key_access_changes:
  description: For each principal whose access changed, from what to what.
  returned: success
  type: dict
  sample:
    NT AUTHORITY\NETWORK SERVICE: none -> read
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._pfx_import_spec import (  # noqa: E402  pylint: disable=wrong-import-position
    ARGUMENT_SPEC,
    SPEC_RULES,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SPEC_RULES)
    module.fail_json(msg="pkiops.keyfactor_command.pfx_import runs through its action plugin; this file holds its documentation")


if __name__ == "__main__":
    main()
