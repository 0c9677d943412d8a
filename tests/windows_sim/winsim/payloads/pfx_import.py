"""Model of plugins/plugin_utils/_powershell/pfx_import.ps1 (see ../certificates.py for the stores)."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.serialization import pkcs12

from ..accounts import resolution_report
from ..certificates import certificate_entry, find_certificate, store
from ..errors import HostError
from ..registry import payload_model
from ._key_acl import apply_operations, key_report

_WRONG_PASSWORD = "The specified network password is not correct."


def _probe(call) -> None:
    parameters = call.parameters
    state = call.host.state
    certificate = find_certificate(state, parameters.get("StoreName") or "My", parameters.get("Thumbprint") or "")
    call.result = {
        "certificate": key_report(call.host.directory, certificate),
        "chain": [{"thumbprint": c["thumbprint"], "store": c["store"],
                   "present": find_certificate(state, c["store"], c["thumbprint"]) is not None}
                  for c in parameters.get("Chain") or []],
        "principals": resolution_report(call.host.directory, parameters.get("Principals") or []),
    }


def _open_pfx(call) -> list[tuple[str, dict]]:
    """X509Certificate2Collection.Import(byte[], string, MachineKeySet | PersistKeySet [| Exportable])."""
    try:
        data = base64.b64decode(call.parameters.get("Pfx") or "", validate=True)
    except (binascii.Error, ValueError):
        raise HostError("The PFX data is not valid base64.", "System.FormatException") from None
    password = call.parameters.get("PfxPassword") or ""
    try:
        key, leaf, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    except ValueError:
        raise HostError(_WRONG_PASSWORD, "System.Security.Cryptography.CryptographicException") from None
    exportable = bool(call.parameters.get("Exportable"))
    entries = [certificate_entry(leaf, key, exportable)] if leaf is not None else []
    return entries + [certificate_entry(cert) for cert in extra]


def _apply(call) -> None:
    parameters = call.parameters
    state = call.host.state
    result = {"imported": False, "chain_installed": [], "acl_applied": []}
    call.result = result
    if call.check_mode:
        return
    wanted_chain = [t.upper() for t in parameters.get("InstallChain") or []]
    if parameters.get("ImportLeaf") or wanted_chain:
        entries = dict(_open_pfx(call))
        if parameters.get("ImportLeaf"):
            thumbprint = (parameters.get("Thumbprint") or "").upper()
            entry = entries.get(thumbprint)
            if entry is None or not entry["private_key"]:
                raise HostError(f"The PFX holds no certificate with thumbprint {thumbprint} and a private key.",
                                "System.InvalidOperationException")
            store(state, parameters.get("StoreName") or "My")[thumbprint] = entry
            result["imported"] = True
            call.changed = True
            call.operation_done()
        stores = {c["thumbprint"].upper(): c["store"] for c in parameters.get("Chain") or []}
        for thumbprint in wanted_chain:
            store(state, stores[thumbprint])[thumbprint] = entries[thumbprint]
            result["chain_installed"].append(thumbprint)
            call.changed = True
            call.operation_done()
    if parameters.get("Operations"):
        leaf = find_certificate(state, parameters.get("StoreName") or "My", parameters.get("Thumbprint") or "")
        result["acl_applied"] = apply_operations(call, leaf, parameters["Operations"])
        call.operation_done()


@payload_model("pfx_import")
def pfx_import(call) -> None:
    call.changed = False
    if call.mode == "probe":
        _probe(call)
    else:
        _apply(call)
