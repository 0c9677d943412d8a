"""Model of plugins/plugin_utils/_powershell/pfx_import.ps1 (see ../certificates.py for the stores).

An import is two changes, as on Windows: X509Certificate2Collection.Import with PersistKeySet writes the key to
the machine key store (``orphaned_keys`` until a certificate refers to it) before anything else is checked, then
X509Store.Add records the certificate with it. Add keeps a copy already in the store, which takes the new key
(CERT_STORE_ADD_REPLACE_EXISTING_INHERIT_PROPERTIES), so the copy's old key, when that still exists, stays behind,
and an archived copy stays archived until the payload restores it.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.serialization import pkcs12

from ..accounts import resolution_report
from ..certificates import certificate_entry, find_certificate, orphaned_keys, os_build, restore_archived, store
from ..errors import HostError
from ..models import payload_model
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
    # The leaf with IncludeArchived, the chain as Windows shows the stores.
    certificate = find_certificate(call.host.state, store_name, thumbprint, include_archived=True)
    call.result = {
        "certificate": key_report(call.host, certificate, store_name, thumbprint),
        "chain": [{"thumbprint": c["thumbprint"], "store": c["store"],
                   "present": find_certificate(call.host.state, c["store"], c["thumbprint"]) is not None}
                  for c in chain],
        "principals": resolution_report(call.host.directory, parameters.get("Principals") or []),
        "identity": identity_report(call.host),
        "os_build": os_build(call.host.state),
    }


_KEYS_LEFT = ("the PFX's private keys are already in the machine key store, where they stay with no certificate in a store "
              "referring to them")
_NO_KEY_WRITTEN = "the PFX holds no private key, so nothing was written to this computer"


def _open_pfx(call) -> tuple:
    """X509Certificate2Collection.Import(byte[], string, MachineKeySet | PersistKeySet [| Exportable]): the certificates
    it holds, as (thumbprint, entry) with the entry of the one that has the key first. Nothing is written yet.

    No password opens a PFX made with either spelling of it (null or ""), as the payload tries "" when Windows refuses
    null.
    """
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
        key, leaf, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    except ValueError:
        raise HostError(f"Cannot open the PFX (X509Certificate2Collection.Import): {_WRONG_PASSWORD}",
                        "System.InvalidOperationException") from None
    exportable = bool(call.parameters.get("Exportable"))
    return ([certificate_entry(leaf, key, exportable)] if leaf is not None else []) + [certificate_entry(c) for c in extra]


def _import_leaf(call, store_name: str, thumbprint: str) -> None:
    """Import-LeafFromPfx: the PFX's key to the machine key store, then the leaf, if the PFX holds it with its key, to
    the store, then an archived copy of it restored."""
    state = call.host.state
    certificates = _open_pfx(call)
    # Import has persisted the PFX's key: the host has changed, whatever fails next.
    orphans = orphaned_keys(state)
    for _thumbprint, held in certificates:
        key = held["private_key"]
        if key:
            orphans.append({"container": key["container"], "provider": key["provider"], "provider_name": key["provider_name"]})
            call.changed = True
            call.result["key_written"] = True
    keys_left = _KEYS_LEFT if call.changed else _NO_KEY_WRITTEN
    if call.changed:
        call.operation_done()
    entry = next((held for actual, held in certificates if actual == thumbprint), None)
    if entry is None:
        raise HostError(f"Cannot import: the PFX holds no certificate with thumbprint {thumbprint}; {keys_left}.")
    key = entry["private_key"]
    if not key:
        raise HostError(f"Cannot import: the PFX holds certificate {thumbprint} without its private key; {keys_left}.")

    target = store(state, store_name)
    existing = next((t for t in target if t.upper() == thumbprint), None)
    if existing is None:
        target[thumbprint] = entry
    else:
        # X509Store.Add keeps the copy that is there, which takes the new certificate's properties: the reference to the
        # new key. The key the copy referred to, unless gone, stays in the machine key store.
        old_key = target[existing].get("private_key")
        if old_key and old_key.get("broken") is not True:
            orphans.append({"container": old_key["container"], "provider": old_key["provider"],
                            "provider_name": old_key["provider_name"]})
        target[existing]["private_key"] = key
    orphans.remove({"container": key["container"], "provider": key["provider"], "provider_name": key["provider_name"]})
    if restore_archived(state, store_name, thumbprint):
        call.result["archived_restored"] = True
    call.operation_done()


def _apply(call) -> None:
    parameters = call.parameters
    result = {"key_written": False, "imported": False, "archived_restored": False, "chain_installed": [], "acl_applied": []}
    call.result = result
    # Every input is checked before the first change, as Invoke-Apply does.
    store_name, thumbprint = _target(call)
    import_leaf = bool(parameters.get("ImportLeaf"))
    restore = bool(parameters.get("RestoreArchived"))
    if not import_leaf and ("Pfx" in parameters or "PfxPassword" in parameters):
        raise HostError("Invalid parameters: Pfx and PfxPassword are sent only with ImportLeaf.")
    if import_leaf and restore:
        raise HostError("Invalid parameters: RestoreArchived is sent only without ImportLeaf.")
    acl_plan = check_operations(parameters.get("Operations") or [])
    install = [(c["thumbprint"], c["store"], ca_certificate(c.get("der"), c["thumbprint"], label))
               for c, label in _install_plan(parameters.get("InstallChain"))]
    if call.check_mode:
        # -WhatIf: ShouldProcess declines the import, the restore and every CA certificate; the key ACL, for a key
        # already there, is previewed, which opens the key.
        if acl_plan and not import_leaf:
            apply_operations(call, find_certificate(call.host.state, store_name, thumbprint, include_archived=True), acl_plan,
                             store_name, thumbprint)
        return
    if import_leaf:
        if not parameters.get("Pfx"):
            raise HostError("Cannot import: the Pfx parameter is empty; it must hold the PFX file encoded as base64.")
        _import_leaf(call, store_name, thumbprint)
        result["imported"] = True
        call.changed = True
    elif restore:
        # Open-LocalMachineStore without -CreateMissing: the store must be there.
        if not any(name.lower() == store_name.lower() for name in call.host.state.get("certificates") or {}):
            raise HostError(f"Cannot open the certificate store LocalMachine\\{store_name} for writing: The system cannot find "
                            "the file specified.", "System.Security.Cryptography.CryptographicException")
        if restore_archived(call.host.state, store_name, thumbprint):
            result["archived_restored"] = True
            call.changed = True
            call.operation_done()
    for ca_thumbprint, ca_store, entry in install:
        add_to_default(call.host.state, ca_store, ca_thumbprint, entry)
        result["chain_installed"].append(ca_thumbprint)
        call.changed = True
        call.operation_done()
    if acl_plan:
        leaf = find_certificate(call.host.state, store_name, thumbprint, include_archived=True)
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
