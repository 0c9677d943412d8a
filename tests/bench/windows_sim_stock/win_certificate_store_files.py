"""The certificate file branch of ansible.windows.win_certificate_store, which only the bench's stock-module
baselines use: they import their PFX files and chain certificates with it.

The simulator's own stand-in (winsim/stock/win_certificate_store.py) opens the store and removes by thumbprint;
this adds reading a certificate file, as win_certificate_store.ps1 of ansible.windows 3.3.0 and its integration
tests have it:

- ``present`` imports a file that is already on the host: the simulator transfers no files, so such a file is
  seeded as a ``paths`` entry of type ``file`` with its bytes, base64, in ``content``. As
  X509Certificate2Collection.Import reads it: a DER or PEM certificate, a PKCS#7 bundle (``.p7b``, DER or PEM
  ``-----BEGIN PKCS7-----``) with every certificate in it, or a PKCS#12 with its password (a wrong one fails as
  Windows does). Each certificate whose thumbprint the store lacks is added, and so is one whose stored copy lacks
  the private key the file carries; the key is a machine key (``key_storage``: default or machine), exportable
  only with ``key_exportable``. ``thumbprints`` lists every certificate in the file;
- ``absent`` with ``path`` removes the certificates found in the file, as the stand-in removes them by thumbprint.

User key storage is not simulated and fails saying so.
"""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from winsim.certificates import certificate_entry, store as open_store
from winsim.errors import HostError
from winsim.models import extends_stock_module
from winsim.stock import win_file
from winsim.stock.win_certificate_store import checked_store_name, remove

_WRONG_PASSWORD = "The specified network password is not correct."


@extends_stock_module("ansible.windows.win_certificate_store")
def win_certificate_store(base, host, params: dict, check_mode: bool, diff_mode: bool) -> dict:
    if params["state"] == "present":
        return _import(host, params, checked_store_name(host, params), check_mode)
    if params["state"] == "absent" and params.get("path") is not None:
        store_name = checked_store_name(host, params)
        return remove(host, [thumbprint for thumbprint, _entry in _file_certificates(host, params)], store_name,
                      check_mode)
    return base(host, params, check_mode, diff_mode)


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
