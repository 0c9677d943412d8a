"""Stand-in for ansible.windows.win_certificate_store.

State: ``state["certificates"]`` (see ../certificates.py).

As in the real module with ``state: absent`` and a ``thumbprint``: the certificate
is removed from the LocalMachine store, its private key is left alone (X509Store.Remove
does not delete keys), ``thumbprints`` lists what was removed, and a certificate
that is not there is not a change.

``state: present`` with a ``path`` (what only the bench's stock-module baselines do) imports a file that is
already on the host: the simulator transfers no files, so such a file is seeded as a ``paths`` entry of type
``file`` with its bytes, base64, in ``content``. As X509Certificate2Collection.Import reads it: a PKCS#12 with
its password (a wrong one fails as Windows does), a DER certificate, or a PEM one. Each certificate whose
thumbprint the store lacks is added, and so is one whose stored copy lacks the private key the file carries;
the key is a machine key (``key_storage``: default or machine), exportable only with ``key_exportable``.
``thumbprints`` lists every certificate in the file. Exporting and other store locations are not simulated.
"""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from ..certificates import certificate_entry, store as open_store
from ..errors import HostError
from ..registry import stock_module
from . import win_file

_WRONG_PASSWORD = "The specified network password is not correct."


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
    if data.lstrip().startswith(b"-----BEGIN"):
        return [certificate_entry(cert) for cert in x509.load_pem_x509_certificates(data)]
    try:
        return [certificate_entry(x509.load_der_x509_certificate(data))]
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


def _import(host, params, check_mode) -> dict:
    certificates = _file_certificates(host, params)
    store = open_store(host.state, params["store_name"]) if not check_mode else \
        (host.state.get("certificates") or {}).get(params["store_name"], {})
    changed = False
    for thumbprint, entry in certificates:
        found = next((store[t] for t in store if t.upper() == thumbprint), None)
        if found is None or (entry["private_key"] and not found.get("private_key")):
            changed = True
            if not check_mode:
                store[thumbprint] = entry
    return {"changed": changed, "thumbprints": [pair[0] for pair in certificates]}


@stock_module("ansible.windows.win_certificate_store", secret_options=("password",))
def win_certificate_store(host, params, check_mode, diff_mode):
    del diff_mode
    if params["store_location"] != "LocalMachine" or params["store_type"] != "system":
        raise HostError("windows_sim models only the LocalMachine system stores")
    if params["state"] == "present" and params.get("path"):
        return _import(host, params, check_mode)
    if params["state"] != "absent" or not params.get("thumbprint") or params.get("path"):
        raise HostError("windows_sim models ansible.windows.win_certificate_store only for state=absent with a thumbprint, "
                        "and state=present with a path")
    store = host.state.get("certificates", {}).get(params["store_name"], {})
    wanted = params["thumbprint"].strip().upper()
    found = [t for t in store if t.upper() == wanted]
    if found and not check_mode:
        del store[found[0]]
    return {"changed": bool(found), "thumbprints": found}
