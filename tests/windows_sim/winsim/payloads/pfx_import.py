"""Model of plugins/plugin_utils/_powershell/pfx_import.ps1 (see ../certificates.py for the stores).

An import is two changes, as on Windows: X509Certificate2Collection.Import with PersistKeySet writes the key to
the machine key store (``orphaned_keys`` until a certificate refers to it), then X509Store.Add records the
certificate with it. A certificate replaced in the store leaves its old key, when that still exists, behind.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.serialization import pkcs12

from ..accounts import resolution_report
from ..certificates import certificate_entry, find_certificate, orphaned_keys, os_build, store
from ..errors import HostError
from ..registry import payload_model
from ._ca_store import ca_certificate, check_entry
from ._key_acl import apply_operations, check_operations, identity_report, key_report
from .ca_certificates import add_to_default

_WRONG_PASSWORD = "The specified network password is not correct."
# The DER encoding of the PBES2 object identifier (1.2.840.113549.1.5.13): AES with PBKDF2.
_PBES2_OID = bytes.fromhex("06092a864886f70d01050d")
# Windows Server 2019: the first build whose PFXImportCertStore decrypts PBES2.
_FIRST_BUILD_WITH_PBES2 = 17763


def _target(call) -> tuple[str, str]:
    """Assert-StoreName and Assert-Thumbprint: the store name and thumbprint the controller sent, held to exactly."""
    parameters = call.parameters
    store_name = parameters.get("StoreName", "My")
    thumbprint = parameters.get("Thumbprint")
    if not isinstance(store_name, str) or not store_name.strip():
        raise HostError("Invalid StoreName: give the name of a LocalMachine certificate store such as My.")
    if not isinstance(thumbprint, str) or len(thumbprint) != 40 or any(c not in "0123456789ABCDEF" for c in thumbprint):
        raise HostError(f"Invalid Thumbprint '{thumbprint or ''}': a certificate thumbprint is 40 uppercase hexadecimal digits.")
    return store_name, thumbprint


def _entries(items, name: str, keys: str) -> list[dict]:
    """Get-ChainPlan and Get-InstallPlan's checks common to both: dictionaries, each thumbprint once."""
    seen = set()
    for index, entry in enumerate(items or []):
        if not isinstance(entry, dict):
            raise HostError(f"{name} entry #{index} is not a dictionary with the keys {keys}.")
        label = f"{name} entry #{index} (thumbprint '{entry.get('thumbprint')}', store '{entry.get('store')}')"
        check_entry(entry, label)
        if entry["thumbprint"] in seen:
            raise HostError(f"Invalid {label}: the thumbprint is listed more than once.")
        seen.add(entry["thumbprint"])
    return list(items or [])


def _probe(call) -> None:
    parameters = call.parameters
    store_name, thumbprint = _target(call)
    chain = _entries(parameters.get("Chain"), "Chain", "thumbprint and store")
    certificate = find_certificate(call.host.state, store_name, thumbprint)
    call.result = {
        "certificate": key_report(call.host, certificate, store_name, thumbprint),
        "chain": [{"thumbprint": c["thumbprint"], "store": c["store"],
                   "present": find_certificate(call.host.state, c["store"], c["thumbprint"]) is not None}
                  for c in chain],
        "principals": resolution_report(call.host.directory, parameters.get("Principals") or []),
        "identity": identity_report(call.host),
        "os_build": os_build(call.host.state),
    }


def _open_pfx(call, thumbprint: str) -> dict:
    """X509Certificate2Collection.Import(byte[], string, MachineKeySet | PersistKeySet [| Exportable]): the leaf's entry."""
    try:
        data = base64.b64decode(call.parameters.get("Pfx") or "", validate=True)
    except (binascii.Error, ValueError):
        raise HostError("The Pfx parameter is not valid base64. Its content is not shown because it holds a private key.",
                        "System.ArgumentException") from None
    # PFXImportCertStore of Windows Server 2016 and older cannot decrypt AES, and says the password is wrong.
    if _PBES2_OID in data and os_build(call.host.state) < _FIRST_BUILD_WITH_PBES2:
        raise HostError(f"Cannot open the PFX (X509Certificate2Collection.Import): {_WRONG_PASSWORD}",
                        "System.InvalidOperationException")
    password = call.parameters.get("PfxPassword")
    try:
        key, leaf, _extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    except ValueError:
        raise HostError(f"Cannot open the PFX (X509Certificate2Collection.Import): {_WRONG_PASSWORD}",
                        "System.InvalidOperationException") from None
    if leaf is None:
        raise HostError(f"Cannot import: the PFX holds no certificate with thumbprint {thumbprint}.")
    actual, entry = certificate_entry(leaf, key, bool(call.parameters.get("Exportable")))
    if actual != thumbprint:
        raise HostError(f"Cannot import: the PFX holds no certificate with thumbprint {thumbprint}.")
    if not entry["private_key"]:
        raise HostError(f"Cannot import: the PFX holds certificate {thumbprint} without its private key.")
    return entry


def _import_leaf(call, store_name: str, thumbprint: str) -> None:
    """Import-LeafFromPfx: the key to the machine key store, then the certificate to the store."""
    state = call.host.state
    entry = _open_pfx(call, thumbprint)
    key = entry["private_key"]
    orphans = orphaned_keys(state)
    orphans.append({"container": key["container"], "provider": key["provider"], "provider_name": key["provider_name"]})
    call.operation_done()

    target = store(state, store_name)
    for existing in [t for t in target if t.upper() == thumbprint]:
        old_key = target.pop(existing).get("private_key")
        # The certificate it replaces referred to a key that, unless gone, stays in the machine key store.
        if old_key and old_key.get("broken") is not True:
            orphans.append({"container": old_key["container"], "provider": old_key["provider"],
                            "provider_name": old_key["provider_name"]})
    target[thumbprint] = entry
    orphans.remove({"container": key["container"], "provider": key["provider"], "provider_name": key["provider_name"]})
    call.operation_done()


def _apply(call) -> None:
    parameters = call.parameters
    result = {"imported": False, "chain_installed": [], "acl_applied": []}
    call.result = result
    # Every input is checked before the first change, as Invoke-Apply does.
    store_name, thumbprint = _target(call)
    import_leaf = bool(parameters.get("ImportLeaf"))
    if not import_leaf and ("Pfx" in parameters or "PfxPassword" in parameters):
        raise HostError("Invalid parameters: Pfx and PfxPassword are sent only with ImportLeaf.")
    acl_plan = check_operations(parameters.get("Operations") or [])
    install = [(c["thumbprint"], c["store"], ca_certificate(c.get("der"), c["thumbprint"], label))
               for c, label in _install_plan(parameters.get("InstallChain"))]
    if call.check_mode:
        # -WhatIf: ShouldProcess declines the import and every CA certificate; the key ACL, for a key already there,
        # is previewed, which opens the key.
        if acl_plan and not import_leaf:
            apply_operations(call, find_certificate(call.host.state, store_name, thumbprint), acl_plan, store_name, thumbprint)
        return
    if import_leaf:
        if not parameters.get("Pfx"):
            raise HostError("Cannot import: the Pfx parameter is empty; it must hold the PFX file encoded as base64.")
        _import_leaf(call, store_name, thumbprint)
        result["imported"] = True
        call.changed = True
    for ca_thumbprint, ca_store, entry in install:
        add_to_default(call.host.state, ca_store, ca_thumbprint, entry)
        result["chain_installed"].append(ca_thumbprint)
        call.changed = True
        call.operation_done()
    if acl_plan:
        leaf = find_certificate(call.host.state, store_name, thumbprint)
        result["acl_applied"] = apply_operations(call, leaf, acl_plan, store_name, thumbprint)
        call.operation_done()


def _install_plan(items) -> list[tuple[dict, str]]:
    entries = _entries(items, "InstallChain", "thumbprint, store and der")
    return [(entry, f"InstallChain entry #{index} (thumbprint '{entry['thumbprint']}', store '{entry['store']}')")
            for index, entry in enumerate(entries)]


@payload_model("pfx_import")
def pfx_import(call) -> None:
    call.changed = False
    if call.mode == "probe":
        _probe(call)
    else:
        _apply(call)
