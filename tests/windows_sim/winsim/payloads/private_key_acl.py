"""Model of plugins/plugin_utils/_powershell/private_key_acl.ps1 (see ../certificates.py for the store)."""

from __future__ import annotations

from ..accounts import resolution_report
from ..certificates import find_certificate
from ..errors import HostError
from ..registry import payload_model
from ._key_acl import apply_operations, key_report


@payload_model("private_key_acl")
def private_key_acl(call) -> None:
    call.changed = False
    parameters = call.parameters
    certificate = find_certificate(call.host.state, parameters.get("StoreName") or "My", parameters.get("Thumbprint") or "")
    if call.mode == "probe":
        call.result = {"certificate": key_report(call.host.directory, certificate),
                       "principals": resolution_report(call.host.directory, parameters.get("Principals") or [])}
        return
    if certificate is None:
        raise HostError(f"Cannot find the certificate with thumbprint {parameters.get('Thumbprint')} in "
                        f"LocalMachine\\{parameters.get('StoreName')}.", "System.InvalidOperationException")
    applied = apply_operations(call, certificate, parameters.get("Operations") or [])
    call.result = {"applied": applied}
    if applied:
        call.operation_done()
