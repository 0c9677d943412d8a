"""Model of plugins/plugin_utils/_powershell/ca_certificates.ps1 (see ../certificates.py for the stores).

A certificate entry in ``CA`` or ``Root`` may carry ``"physical_stores"``: the physical stores of the logical
store that hold a copy of it, by name without the dot (``Default``, ``GroupPolicy``, ``Enterprise``, and for Root
also ``AuthRoot`` and ``SmartCard``). Without the key, the copy is in ``Default`` alone, the computer's own store.
The logical store shows the certificate while any physical store holds it; X509Store.Add writes to ``Default``,
and the payload removes from ``Default`` only.
"""

from __future__ import annotations

from ..certificates import find_certificate, restore_archived, store
from ..errors import HostError
from ..models import payload_model
from ._ca_store import ca_certificate, check_entry

# The physical stores each logical store shows ("System Store Locations").
PHYSICAL_STORES = {"CA": ("Default", "GroupPolicy", "Enterprise"),
                   "Root": ("Default", "AuthRoot", "GroupPolicy", "Enterprise", "SmartCard")}
# Those the payload reads besides .Default; .SmartCard it leaves alone.
_READ_ELSEWHERE = {"CA": ("GroupPolicy", "Enterprise"), "Root": ("AuthRoot", "GroupPolicy", "Enterprise")}


def physical_stores(found: dict, store_name: str, thumbprint: str) -> list[str]:
    """The physical stores that hold the certificate; a seed naming one the logical store does not show fails."""
    held = found.get("physical_stores", ["Default"])
    unknown = [name for name in held if name not in PHYSICAL_STORES[store_name]]
    if unknown or not held:
        # A mistake in a test's seed, not something Windows could report.
        raise ValueError(f"windows_sim state: certificates {store_name}\\{thumbprint} has physical_stores {held!r}; "
                         f"LocalMachine\\{store_name} shows {', '.join(PHYSICAL_STORES[store_name])}")
    return held


def _probe(call) -> None:
    report = []
    for index, entry in enumerate(call.parameters.get("Certificates") or []):
        if not isinstance(entry, dict):
            raise HostError(f"Certificates entry #{index} is not a dictionary with the keys thumbprint and store.")
        check_entry(entry, f"Certificates entry #{index} (thumbprint '{entry.get('thumbprint')}', store '{entry.get('store')}')")
        found = find_certificate(call.host.state, entry["store"], entry["thumbprint"])
        # The physical stores are read with CERT_STORE_ENUM_ARCHIVED_FLAG, the logical one without.
        copy = find_certificate(call.host.state, entry["store"], entry["thumbprint"], include_archived=True)
        held = physical_stores(copy, entry["store"], entry["thumbprint"]) if copy else []
        report.append({"thumbprint": entry["thumbprint"], "store": entry["store"], "present": found is not None,
                       "in_default_store": "Default" in held,
                       "other_physical_stores": [f".{name}" for name in _READ_ELSEWHERE[entry["store"]] if name in held]})
    call.result = {"certificates": report}


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
        check_entry(operation, label)
        if (operation["store"], operation["thumbprint"]) in seen:
            raise HostError(f"Invalid {label}: the certificate and store are listed more than once.")
        seen.add((operation["store"], operation["thumbprint"]))
        entry = ca_certificate(operation.get("der"), operation["thumbprint"], label) if action == "add" else None
        plan.append({"action": action, "thumbprint": operation["thumbprint"], "store": operation["store"], "entry": entry})
    return plan


def add_to_default(state: dict, store_name: str, thumbprint: str, entry: dict) -> None:
    """Add-CaCertificate: X509Store.Add on the logical store, which writes to its .Default physical store, then an archived
    copy restored. A copy already there stays, with its properties, such as the link to a private key, and archived if it
    was (CERT_STORE_ADD_REPLACE_EXISTING_INHERIT_PROPERTIES)."""
    target = store(state, store_name)
    existing = next((t for t in target if t.upper() == thumbprint), None)
    if existing is None:
        target[thumbprint] = entry
        return
    held = physical_stores(target[existing], store_name, thumbprint)
    if "Default" not in held:
        target[existing]["physical_stores"] = ["Default", *held]
    restore_archived(state, store_name, thumbprint)


def remove_from_default(state: dict, store_name: str, thumbprint: str) -> int:
    """PhysicalStore.RemoveCertificate(store, '.Default', thumbprint): every copy in .Default, and nothing else; how many."""
    target = store(state, store_name)
    removed = 0
    for existing in [t for t in target if t.upper() == thumbprint]:
        held = physical_stores(target[existing], store_name, thumbprint)
        if "Default" not in held:
            continue
        removed += 1
        others = [name for name in held if name != "Default"]
        if others:
            target[existing]["physical_stores"] = others
        else:
            del target[existing]
    return removed


def _apply(call) -> None:
    applied: list = []
    call.result = {"applied": applied}
    plan = _plan(call.parameters.get("Operations") or [])
    if call.check_mode:
        # -WhatIf: ShouldProcess declines every operation.
        return
    state = call.host.state
    for step in plan:
        done = {"action": step["action"], "thumbprint": step["thumbprint"], "store": step["store"]}
        if step["action"] == "remove":
            # Only a deletion is a change: the certificate may have left .Default since the probe.
            done["removed"] = remove_from_default(state, step["store"], step["thumbprint"])
            call.changed = call.changed or done["removed"] > 0
        else:
            add_to_default(state, step["store"], step["thumbprint"], step["entry"])
            call.changed = True
        applied.append(done)
        call.operation_done()


@payload_model("ca_certificates")
def ca_certificates(call) -> None:
    call.changed = False
    if call.mode == "probe":
        _probe(call)
    else:
        _apply(call)
