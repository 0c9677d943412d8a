"""Model of plugins/plugin_utils/_powershell/cert_serial_registry.ps1 (see ../certificates.py)."""

from __future__ import annotations

import re

from ..certificates import create_registry_key, find_certificate, registry_key, registry_report, serial_number
from ..errors import HostError
from ..models import payload_model
from ._key_acl import key_report
from .pfx_import import _target

# Assert-Serial's pattern; \Z is .NET's \z, and $ in both would also match before a final newline.
_SERIAL = re.compile(r"^(?:[0-9A-F]{2})+\Z")


def _check_input(call) -> tuple[str, str, str, str]:
    """Assert-Input: the store, thumbprint, key path and value name the controller sent, held to exactly."""
    store_name, thumbprint = _target(call)
    key, name = call.parameters.get("Key"), call.parameters.get("ValueName")
    if not isinstance(key, str) or not key.strip() or key.startswith("\\") or key.endswith("\\") or "\\\\" in key:
        raise HostError(f"Invalid Key '{key or ''}': give a key path below HKEY_LOCAL_MACHINE such as SOFTWARE\\Vendor\\Product, "
                        "without the hive.")
    if any(len(part) > 255 for part in key.split("\\")):
        raise HostError(f"Invalid Key '{key}': a key name has at most 255 characters.")
    if not isinstance(name, str) or not name or len(name) > 16383:
        raise HostError("Invalid ValueName: give the name of the registry value, of at most 16,383 characters.")
    return store_name, thumbprint, key, name


@payload_model("cert_serial_registry")
def cert_serial_registry(call) -> None:
    call.changed = False
    if call.mode == "apply":
        call.result = {"key_created": False, "written": False}
    store_name, thumbprint, key, name = _check_input(call)
    if call.mode == "probe":
        certificate = find_certificate(call.host.state, store_name, thumbprint)
        report = key_report(call.host, certificate, store_name, thumbprint, open_only=True)
        call.result = {
            "certificate": {
                "found": report["found"],
                "has_private_key": report["has_private_key"],
                "key_error": report.get("key_error"),
                "key_state": report.get("key_state"),
                "serial_number": serial_number(certificate) if certificate else None,
            },
            "registry": registry_report(call.host.state, key, name),
        }
        return
    serial = call.parameters.get("Serial")
    if not isinstance(serial, str) or not _SERIAL.match(serial):
        raise HostError(f"Invalid Serial '{serial or ''}': give the serial number as X509Certificate2.SerialNumber shows it, "
                        "uppercase hexadecimal, two digits a byte.")
    if call.check_mode:
        return
    # OpenSubKey first: CreateSubKey creating the key (and its parents) is a change of its own, one step before the
    # value is set, so a fault can land between the two.
    existed = registry_key(call.host.state, key) is not None
    target = create_registry_key(call.host.state, key)
    if not existed:
        call.result["key_created"] = True
        call.changed = True
        call.operation_done()
    for existing in [n for n in target if n.lower() == name.lower()]:
        del target[existing]
    target[name] = {"kind": "String", "data": serial}
    call.changed = True
    call.result["written"] = True
    call.operation_done()
