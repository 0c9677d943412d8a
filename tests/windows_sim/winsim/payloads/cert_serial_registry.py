"""Model of plugins/plugin_utils/_powershell/cert_serial_registry.ps1 (see ../certificates.py)."""

from __future__ import annotations

from ..certificates import create_registry_key, find_certificate, registry_report
from ..registry import payload_model


@payload_model("cert_serial_registry")
def cert_serial_registry(call) -> None:
    call.changed = False
    parameters = call.parameters
    if call.mode == "probe":
        certificate = find_certificate(call.host.state, parameters.get("StoreName") or "My", parameters.get("Thumbprint") or "")
        call.result = {
            "certificate": {
                "found": certificate is not None,
                "has_private_key": bool(certificate and certificate.get("private_key")),
                "key_error": "Keyset does not exist" if certificate and (certificate.get("private_key") or {}).get("broken") else None,
                "serial_number": certificate["serial_number"] if certificate else None,
            },
            "registry": registry_report(call.host.state, parameters["Key"], parameters["ValueName"]),
        }
        return
    if call.check_mode:
        call.result = {"written": False}
        return
    key = create_registry_key(call.host.state, parameters["Key"])
    for existing in [n for n in key if n.lower() == parameters["ValueName"].lower()]:
        del key[existing]
    key[parameters["ValueName"]] = {"kind": "String", "data": parameters["Serial"]}
    call.changed = True
    call.result = {"written": True}
    call.operation_done()
