"""Model of plugins/plugin_utils/_powershell/private_key_acl.ps1 (see ../certificates.py for the store)."""

from __future__ import annotations

from ..accounts import resolution_report
from ..certificates import find_certificate
from ..models import payload_model
from ._key_acl import apply_operations, check_operations, identity_report, key_report
from .pfx_import import _target


@payload_model("private_key_acl")
def private_key_acl(call) -> None:
    call.changed = False
    parameters = call.parameters
    if call.mode == "apply":
        call.result = {"applied": []}
    store_name, thumbprint = _target(call)
    # The probe sees the store as X509Store lists it; the apply's Set-StoredCertificateKeyAcl finds an archived copy too.
    certificate = find_certificate(call.host.state, store_name, thumbprint, include_archived=call.mode == "apply")
    if call.mode == "probe":
        call.result = {"certificate": key_report(call.host, certificate, store_name, thumbprint),
                       "principals": resolution_report(call.host.directory, parameters.get("Principals") or []),
                       "identity": identity_report(call.host)}
        return
    plan = check_operations(parameters.get("Operations") or [])
    if not plan:
        return
    applied = apply_operations(call, certificate, plan, store_name, thumbprint)
    call.result = {"applied": applied}
    if applied:
        call.operation_done()
