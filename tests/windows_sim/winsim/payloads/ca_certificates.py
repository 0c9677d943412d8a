"""Model of plugins/plugin_utils/_powershell/ca_certificates.ps1 (see ../certificates.py for the stores)."""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509

from ..certificates import certificate_entry, find_certificate, store
from ..errors import HostError
from ..registry import payload_model

_THUMBPRINT = re.compile(r"^[0-9A-F]{40}$")
_STORES = ("CA", "Root")


def _check_entry(entry, label: str) -> None:
    """Assert-StoreEntry: what the controller always sends, held to exactly."""
    thumbprint, store_name = entry.get("thumbprint"), entry.get("store")
    if not isinstance(thumbprint, str) or not _THUMBPRINT.match(thumbprint):
        raise HostError(f"Invalid {label}: thumbprint must be 40 uppercase hexadecimal digits.")
    if store_name not in _STORES:
        raise HostError(f"Invalid {label}: store must be 'CA' (intermediate certification authorities) or 'Root' "
                        "(trusted root certification authorities).")


def _probe(call) -> None:
    report = []
    for index, entry in enumerate(call.parameters.get("Certificates") or []):
        if not isinstance(entry, dict):
            raise HostError(f"Certificates entry #{index} is not a dictionary with the keys thumbprint and store.")
        _check_entry(entry, f"Certificates entry #{index} (thumbprint '{entry.get('thumbprint')}', store '{entry.get('store')}')")
        present = find_certificate(call.host.state, entry["store"], entry["thumbprint"]) is not None
        report.append({"thumbprint": entry["thumbprint"], "store": entry["store"], "present": present})
    call.result = {"certificates": report}


def _certificate(encoded, thumbprint: str, label: str) -> dict:
    """ConvertTo-CaCertificate: only a lone DER certificate, and only the one the controller named."""
    if not isinstance(encoded, str) or not encoded:
        raise HostError(f"Invalid {label}: der must hold the certificate's DER bytes as base64.")
    try:
        der = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise HostError(f"Invalid {label}: der is not valid base64.") from None
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise HostError(f"Invalid {label}: der is not a single certificate (Windows identifies it as 'Unknown').") from None
    actual, entry = certificate_entry(cert)
    if actual != thumbprint:
        raise HostError(f"Invalid {label}: der holds the certificate {actual}, not {thumbprint}.")
    return entry


def _plan(operations: list) -> list[dict]:
    """Get-OperationPlan: every operation checked before the first change."""
    plan, seen = [], set()
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise HostError(f"Operation #{index} is not a dictionary with the keys action, thumbprint and store.")
        action = operation.get("action")
        label = (f"operation #{index} (action '{action}', thumbprint '{operation.get('thumbprint')}', "
                 f"store '{operation.get('store')}')")
        if action not in ("add", "remove"):
            raise HostError(f"Invalid {label}: action must be 'add' or 'remove'.")
        _check_entry(operation, label)
        if (operation["store"], operation["thumbprint"]) in seen:
            raise HostError(f"Invalid {label}: the certificate and store are listed more than once.")
        seen.add((operation["store"], operation["thumbprint"]))
        entry = _certificate(operation.get("der"), operation["thumbprint"], label) if action == "add" else None
        plan.append({"action": action, "thumbprint": operation["thumbprint"], "store": operation["store"], "entry": entry})
    return plan


def _apply(call) -> None:
    applied: list = []
    call.result = {"applied": applied}
    plan = _plan(call.parameters.get("Operations") or [])
    if call.check_mode:
        # -WhatIf: ShouldProcess declines every operation.
        return
    state = call.host.state
    for step in plan:
        target = store(state, step["store"])
        # X509Store.Add replaces a certificate that is already there; Remove takes every copy.
        for existing in [t for t in target if t.upper() == step["thumbprint"]]:
            del target[existing]
        if step["action"] == "add":
            target[step["thumbprint"]] = step["entry"]
        applied.append({"action": step["action"], "thumbprint": step["thumbprint"], "store": step["store"]})
        call.changed = True
        call.operation_done()


@payload_model("ca_certificates")
def ca_certificates(call) -> None:
    call.changed = False
    if call.mode == "probe":
        _probe(call)
    else:
        _apply(call)
