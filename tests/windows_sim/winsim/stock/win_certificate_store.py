"""Stand-in for ansible.windows.win_certificate_store.

State: ``state["certificates"]`` (see ../certificates.py). As win_certificate_store.ps1 of ansible.windows 3.3.0
and its integration tests have it:

- the module's ``required_if`` rules: ``absent`` needs ``path`` or ``thumbprint``, ``exported`` both, ``present``
  a ``path``, with Ansible.Basic's messages ("state is present but all of the following are missing: path");
- ``store_name: CertificateAuthority`` is ``CA``; ``store_location`` must name a StoreLocation
  (``CurrentUser`` or ``LocalMachine``, "value of store_location must be one of: ...");
- the store is opened with OpenExistingOnly, so a store the host does not have fails with "unable to find store
  '<name>'" and CertOpenStore's error. The host has the system stores every Windows Server 2016-2022 has (the nine
  the module itself registers for a service store, as the Certificates snap-in creates them, and Remote Desktop,
  REQUEST, SmartCardRoot and TrustedDevices), WebHosting once IIS is installed, and any store the state holds;
- ``absent`` removes the certificates named by ``thumbprint`` or found in the file at ``path``; the store's
  ``Remove`` leaves their private keys alone; ``thumbprints`` lists the thumbprints looked for, found or not;
- ``present`` imports a file that is already on the host: the simulator transfers no files, so such a file is
  seeded as a ``paths`` entry of type ``file`` with its bytes, base64, in ``content``. As
  X509Certificate2Collection.Import reads it: a DER or PEM certificate, a PKCS#7 bundle (``.p7b``, DER or PEM
  ``-----BEGIN PKCS7-----``) with every certificate in it, or a PKCS#12 with its password (a wrong one fails as
  Windows does). Each certificate whose thumbprint the store lacks is added, and so is one whose stored copy lacks
  the private key the file carries; the key is a machine key (``key_storage``: default or machine), exportable
  only with ``key_exportable``. ``thumbprints`` lists every certificate in the file.

Exporting, the CurrentUser location, service stores and user key storage are not simulated and fail saying so.
"""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from ..certificates import certificate_entry, store as open_store
from ..errors import HostError
from ..models import stock_module
from . import win_file
from .win_feature import is_installed

_WRONG_PASSWORD = "The specified network password is not correct."
_SYSTEM_STORES = ("AuthRoot", "CA", "ClientAuthIssuer", "Disallowed", "My", "Root", "Trust", "TrustedPeople",
                  "TrustedPublisher", "Remote Desktop", "REQUEST", "SmartCardRoot", "TrustedDevices")
_STORE_LOCATIONS = ("CurrentUser", "LocalMachine")
# The Win32Exception CertOpenStore raises for ERROR_FILE_NOT_FOUND, as the module formats it.
_STORE_NOT_FOUND = "CertOpenStore failed (The system cannot find the file specified, Win32ErrorCode 2 - 0x00000002)"


def _store_exists(state: dict, name: str) -> bool:
    known = set(_SYSTEM_STORES) | set(state.get("certificates") or {})
    if is_installed(state, "Web-Server"):
        known.add("WebHosting")
    return name.lower() in {store.lower() for store in known}


def _file_certificates(host, params) -> list[tuple[str, dict]]:
    path = params["path"]
    key = win_file.stored_key(host.state, path)
    item = host.state["paths"].get(key) if key else None
    if item is None or item.get("type") != "file":
        raise HostError(f"File at '{path}' either does not exist or is not a file")
    if "content" not in item:
        raise HostError(f"windows_sim holds no content for the file '{path}'; seed it as base64 in its 'content'")
    data = base64.b64decode(item["content"])
    exportable = params["key_exportable"]
    if params["key_storage"] == "user":
        raise HostError("windows_sim models machine key storage only")
    if data.lstrip().startswith(b"-----BEGIN PKCS7-----"):
        return [certificate_entry(cert) for cert in pkcs7.load_pem_pkcs7_certificates(data)]
    if data.lstrip().startswith(b"-----BEGIN"):
        return [certificate_entry(cert) for cert in x509.load_pem_x509_certificates(data)]
    for loader in (lambda raw: [x509.load_der_x509_certificate(raw)], pkcs7.load_der_pkcs7_certificates):
        try:
            return [certificate_entry(cert) for cert in loader(data)]
        except ValueError:
            pass
    password = params.get("password")
    try:
        private_key, leaf, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    except ValueError:
        raise HostError(f"Failed to load cert from file: {_WRONG_PASSWORD}",
                        "System.Security.Cryptography.CryptographicException") from None
    leaves = [certificate_entry(leaf, private_key, exportable)] if leaf is not None else []
    return leaves + [certificate_entry(cert) for cert in extra]


def _import(host, params, store_name: str, check_mode: bool) -> dict:
    certificates = _file_certificates(host, params)
    store = open_store(host.state, store_name) if not check_mode else \
        next((v for k, v in (host.state.get("certificates") or {}).items() if k.lower() == store_name.lower()), {})
    changed = False
    for thumbprint, entry in certificates:
        found = next((store[t] for t in store if t.upper() == thumbprint), None)
        if found is None or (entry["private_key"] and not found.get("private_key")):
            changed = True
            if not check_mode:
                store[thumbprint] = entry
    return {"changed": changed, "thumbprints": [pair[0] for pair in certificates]}


def _remove(host, params, store_name: str, check_mode: bool) -> dict:
    if params.get("path") is not None:
        wanted = [thumbprint for thumbprint, _entry in _file_certificates(host, params)]
    else:
        wanted = [params["thumbprint"]]
    store = next((v for k, v in (host.state.get("certificates") or {}).items() if k.lower() == store_name.lower()), {})
    changed = False
    for thumbprint in wanted:
        # X509Certificate2Collection.Find(FindByThumbprint) compares without regard to case.
        found = [stored for stored in store if stored.upper() == thumbprint.strip().upper()]
        if found:
            changed = True
            if not check_mode:
                for stored in found:
                    del store[stored]
    return {"changed": changed, "thumbprints": wanted}


@stock_module("ansible.windows.win_certificate_store", secret_options=("password",), spec_rules={"required_if": [
    ["state", "absent", ["path", "thumbprint"], True],
    ["state", "exported", ["path", "thumbprint"]],
    ["state", "present", ["path"]],
]})
def win_certificate_store(host, params, check_mode, diff_mode):
    del diff_mode
    store_name = "CA" if params["store_name"] == "CertificateAuthority" else params["store_name"]
    if params["store_type"] != "system":
        raise HostError("windows_sim does not model service certificate stores")
    location = next((known for known in _STORE_LOCATIONS if known.lower() == params["store_location"].lower()), None)
    if location is None:
        raise HostError(f"value of store_location must be one of: {', '.join(_STORE_LOCATIONS)}. Got no match for: "
                        f"{params['store_location']}")
    if location != "LocalMachine":
        raise HostError("windows_sim models only the LocalMachine certificate stores")
    if not _store_exists(host.state, store_name):
        raise HostError(f"unable to find store '{store_name}': ({_STORE_NOT_FOUND})",
                        "ansible.windows.win_certificate_store.Win32Exception")
    if params["state"] == "present":
        return _import(host, params, store_name, check_mode)
    if params["state"] == "absent":
        return _remove(host, params, store_name, check_mode)
    raise HostError("windows_sim does not model exporting certificates with ansible.windows.win_certificate_store")
