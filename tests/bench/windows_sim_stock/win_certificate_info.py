"""Stand-in for ansible.windows.win_certificate_info, which only the bench's stock-module baselines use.

Reads ``state["certificates"]`` (see winsim/certificates.py) as win_certificate_info.ps1 reads an X509Store:
``exists`` and, per certificate found (by thumbprint, or every one in the store), the fields a playbook uses
from it. The simulator keeps LocalMachine stores only.
"""

from __future__ import annotations

import base64

from cryptography import x509

from winsim.certificates import serial_number
from winsim.errors import HostError
from winsim.models import stock_module


def _info(thumbprint: str, entry: dict) -> dict:
    cert = x509.load_der_x509_certificate(base64.b64decode(entry["der"]))
    return {
        "thumbprint": thumbprint.upper(),
        "serial_number": serial_number(entry),
        "subject": entry["subject"],
        "issuer": entry["issuer"],
        "valid_to": cert.not_valid_after_utc.timestamp(),
        "valid_from": cert.not_valid_before_utc.timestamp(),
        "has_private_key": bool(entry.get("private_key")),
        "version": cert.version.value + 1,
    }


@stock_module("ansible.windows.win_certificate_info")
def win_certificate_info(host, params: dict, _check_mode: bool, _diff_mode: bool) -> dict:
    if params["store_location"] != "LocalMachine":
        raise HostError("windows_sim models only the LocalMachine certificate stores")
    stores = host.state.get("certificates") or {}
    store = next((v for k, v in stores.items() if k.lower() == params["store_name"].lower()), {})
    wanted = (params.get("thumbprint") or "").strip().upper()
    found = sorted((t, e) for t, e in store.items() if not wanted or t.upper() == wanted)
    return {"changed": False, "exists": bool(found), "certificates": [_info(t, e) for t, e in found]}
