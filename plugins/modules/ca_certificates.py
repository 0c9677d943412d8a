#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_certificates
short_description: Install CA certificates from the controller in the LocalMachine CA and Root stores
version_added: 0.1.0
description:
  - Installs certificate authority certificates - for example the chain of the managed forest's CA that the Keyfactor
    CA Gateway nodes need - in the LocalMachine Intermediate Certification Authorities (C(CA)) or Trusted Root
    Certification Authorities (C(Root)) store, or removes them.
  - The certificates come from files or text on the controller, in PEM (one or several certificates), DER, or a
    PKCS#7 (C(.p7b)) bundle. The controller reads them with the Python C(cryptography) library before anything touches
    the host. Anything that is not a certificate, a PEM that also holds a private key, a certificate whose names or
    extensions cannot be parsed, or the same certificate asked for in two different stores fails the task at once,
    naming the entry.
  - Idempotent by thumbprint. The host is asked, per certificate, only whether a certificate with that thumbprint is in
    its store; only missing ones are added, and with O(state=absent) only present ones removed. Other certificates in
    the stores are never touched. An empty O(certificates) list changes nothing and does not contact the host.
  - Certificates are public, so their DER bytes go to the host as ordinary payload parameters and are added with
    C(X509Store.Add); no file is written on the host.
options:
  certificates:
    description:
      - The CA certificates. Each entry is one file or one text, which may hold several certificates; each certificate
        in it is installed or removed.
      - The same certificate may appear more than once, as long as every appearance goes to the same store.
    type: list
    elements: dict
    required: true
    suboptions:
      src:
        description:
          - A file on the controller holding PEM, DER or PKCS#7. A relative path is looked up like other files (the
            role's or playbook's C(files/) directory first).
          - Exactly one of O(certificates[].src) and O(certificates[].content) is needed.
        type: path
      content:
        description:
          - The certificates as PEM text, or one DER certificate or PKCS#7 bundle encoded as base64.
        type: str
      store:
        description:
          - The LocalMachine store. C(CA) is Intermediate Certification Authorities, C(Root) is Trusted Root Certification
            Authorities.
          - C(auto) puts a self-signed certificate (issued by itself and signed with its own key) in C(Root) and any
            other in C(CA), and fails for a certificate that is not a CA certificate, that is one without a basic
            constraints extension that says CA. Give C(CA) or C(Root) to install such a certificate anyway, for example
            an old version 1 root certificate that has no extensions.
          - A CA key-renewal cross certificate, whose subject and issuer are the same but which is signed by the CA's
            other key, goes to C(CA) with C(auto).
        type: str
        choices: [auto, CA, Root]
        default: auto
  state:
    description:
      - C(present) adds each certificate to its store when it is not there. C(absent) removes it from that store's own
        copy (its C(.Default) physical store), and from no other store.
      - An expired or not yet valid certificate is installed all the same, with a warning.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - pkiops.keyfactor_command.windows_task
  - pkiops.keyfactor_command.snapshot
notes:
  - Needs the Python C(cryptography) library on the controller.
  - A certificate is looked up in the store as Windows shows it. The C(Root) store also shows the certificates of
    automatic root update (C(.AuthRoot)), Group Policy (C(.GroupPolicy)), enterprise trust in Active Directory
    (C(.Enterprise)) and smart cards (C(.SmartCard)); the C(CA) store those of Group Policy and enterprise trust. The
    probe also reads the store's physical stores one by one (C(CertOpenStore) with C(CERT_STORE_PROV_PHYSICAL)) to tell whether
    the certificate is installed in the store itself (its C(.Default) physical store), and which of the others hold
    it. C(.SmartCard) is not read.
  - With O(state=present), a certificate that only another source provides counts as present and is not added, as
    M(ansible.windows.win_certificate_store) does, but the task warns that it is trusted through that source rather
    than installed, and may disappear when the source no longer provides it.
  - With O(state=absent), a certificate that another source provides, alone or besides the store's own copy, fails the
    task before anything is changed, because only the store's own copy is ever removed, and the source's would keep the
    certificate trusted. To distrust such a certificate, add it to the C(Disallowed) store or change the policy that
    provides it.
  - When the host reports that the apply did not perform exactly the planned operations (for example because
    C(ShouldProcess) declined one), the task fails and returns what was done in C(applied).
  - A removal that finds the certificate already gone from the store's own copy (it went between the task's read of the
    host and its change) changes nothing; the task then does not count it as a change, leaves it out of RV(removed), and
    warns.
seealso:
  - module: pkiops.keyfactor_command.pfx_import
    description: Installs the CA certificates that come inside a PFX, with its option C(chain=install).
  - module: ansible.windows.win_certificate_store
    description: Imports certificates from files already on the host.
author:
  - pkiops maintainers (@pkiops)
"""

EXAMPLES = r"""
- name: Install the managed forest CA's chain on every gateway node
  pkiops.keyfactor_command.ca_certificates:
    certificates:
      - src: files/managed-forest-root-ca.cer
      - src: files/managed-forest-issuing-ca.pem

- name: Install a chain bundle kept in a variable, one PEM block per certificate
  pkiops.keyfactor_command.ca_certificates:
    certificates:
      - content: "{{ managed_forest_ca_chain_pem }}"

- name: Install a root certificate without extensions, which auto cannot recognise as a CA
  pkiops.keyfactor_command.ca_certificates:
    certificates:
      - src: files/legacy-root-v1.cer
        store: Root

- name: Remove a retired issuing CA
  pkiops.keyfactor_command.ca_certificates:
    certificates:
      - src: files/retired-issuing-ca.cer
    state: absent
"""

RETURN = r"""
certificates:
  description: Every certificate the task manages, once each, in the order given.
  returned: success
  type: list
  elements: dict
  contains:
    thumbprint:
      description: The certificate's SHA-1 thumbprint.
      type: str
      sample: 3B1EFD3A66EA28B16697394703A72CA340A05BD5
    subject:
      description: The certificate's subject, as an RFC 4514 string.
      type: str
      sample: CN=Contoso Root CA,DC=contoso,DC=com
    store:
      description: The LocalMachine store it was put in or removed from.
      type: str
      sample: Root
    not_after:
      description: When the certificate expires, in ISO 8601.
      type: str
      sample: "2036-01-05T00:00:00+00:00"
    changed:
      description: Whether the task added or removed it (in check mode, would have).
      type: bool
      sample: true
installed:
  description: The thumbprints added by this task (in check mode, that would be).
  returned: success
  type: list
  elements: str
  sample: [3B1EFD3A66EA28B16697394703A72CA340A05BD5]
removed:
  description: The thumbprints removed by this task (in check mode, that would be).
  returned: success
  type: list
  elements: str
  sample: []
applied:
  description:
    - When the change failed part way, or the host did not perform every planned operation, the operations it did
      perform; running the task again finishes the rest.
  returned: failure during a change
  type: list
  elements: dict
  contains:
    action:
      description: C(add) or C(remove).
      type: str
      sample: add
    thumbprint:
      description: The certificate's SHA-1 thumbprint.
      type: str
      sample: 3B1EFD3A66EA28B16697394703A72CA340A05BD5
    store:
      description: The LocalMachine store, C(CA) or C(Root).
      type: str
      sample: Root
    removed:
      description:
        - For a C(remove), how many copies it deleted from the store's own copy (its C(.Default) physical store); 0
          when the certificate had already gone from there since the task read the host.
      type: int
      sample: 1
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._ca_certificates_spec import (  # noqa: E402  pylint: disable=wrong-import-position
    ARGUMENT_SPEC,
    SPEC_RULES,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SPEC_RULES)
    module.fail_json(msg="pkiops.keyfactor_command.ca_certificates runs through its action plugin; this file holds its documentation")


if __name__ == "__main__":
    main()
