"""The JSON state file of one simulated host: its Windows state and the ``_sim`` bookkeeping.

The schema is documented in tests/windows_sim/README.md. A missing file, or a
file that seeds only part of the state, is completed with the defaults of a
freshly installed, domain-joined Windows Server.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import tempfile

from .accounts import BUILTIN_LOCAL_USERS, builtin_groups, derived_sid

REDACTED = "********"

# Who holds which right on a fresh member server (Microsoft's documented
# defaults), by SID. Rights absent here have no holders.
_DEFAULT_RIGHTS = {
    "SeAssignPrimaryTokenPrivilege": ["S-1-5-19", "S-1-5-20"],
    "SeBackupPrivilege": ["S-1-5-32-544", "S-1-5-32-551"],
    "SeBatchLogonRight": ["S-1-5-32-544", "S-1-5-32-551", "S-1-5-32-559"],
    "SeChangeNotifyPrivilege": ["S-1-1-0", "S-1-5-19", "S-1-5-20", "S-1-5-32-544", "S-1-5-32-545", "S-1-5-32-551"],
    "SeCreateGlobalPrivilege": ["S-1-5-19", "S-1-5-20", "S-1-5-32-544", "S-1-5-6"],
    "SeDebugPrivilege": ["S-1-5-32-544"],
    "SeImpersonatePrivilege": ["S-1-5-19", "S-1-5-20", "S-1-5-32-544", "S-1-5-6"],
    "SeIncreaseQuotaPrivilege": ["S-1-5-19", "S-1-5-20", "S-1-5-32-544"],
    "SeInteractiveLogonRight": ["S-1-5-32-544", "S-1-5-32-545", "S-1-5-32-551"],
    "SeNetworkLogonRight": ["S-1-1-0", "S-1-5-11", "S-1-5-32-544", "S-1-5-32-545", "S-1-5-32-551"],
    "SeRemoteInteractiveLogonRight": ["S-1-5-32-544", "S-1-5-32-555"],
    "SeRestorePrivilege": ["S-1-5-32-544", "S-1-5-32-551"],
    "SeSecurityPrivilege": ["S-1-5-32-544"],
    "SeServiceLogonRight": ["S-1-5-80-0"],
    "SeShutdownPrivilege": ["S-1-5-32-544", "S-1-5-32-551"],
    "SeTakeOwnershipPrivilege": ["S-1-5-32-544"],
}


def computer_name_for(host: str) -> str:
    """The NetBIOS name Windows would have for an inventory host name."""
    return (host.split(".", 1)[0] or "WINSIM").upper()[:15]


def _default_host(computer_name: str) -> dict:
    return {
        "computer_name": computer_name,
        "machine_sid": derived_sid("machine:" + computer_name),
        "os_name": "Microsoft Windows Server 2022 Datacenter",
        "os_version": "10.0.20348.0",
        "powershell_version": "5.1.20348.2849",
    }


def _default_domain() -> dict:
    return {
        "netbios_name": "CONTOSO",
        "dns_name": "contoso.com",
        "sid": derived_sid("domain:CONTOSO"),
        "accounts": [],
    }


# Groups every domain has, by relative ID.
_DOMAIN_GROUPS = (("Domain Admins", 512), ("Domain Users", 513))


def complete(state: dict, computer_name: str) -> dict:
    """Fill whatever the seed left out: a freshly installed, domain-joined Windows Server.

    Seeded domain accounts without a SID get one under the domain's SID.
    """
    host = state.setdefault("host", {})
    for key, value in _default_host(host.get("computer_name", computer_name)).items():
        host.setdefault(key, value)
    host["computer_name"] = host["computer_name"].upper()
    machine_sid = host["machine_sid"]

    domain = state.setdefault("domain", {})
    for key, value in _default_domain().items():
        domain.setdefault(key, value)
    seeded = {a["name"].lower() for a in domain["accounts"]}
    domain["accounts"][:0] = [{"name": name, "type": "group", "sid": f"{domain['sid']}-{rid}"}
                              for name, rid in _DOMAIN_GROUPS if name.lower() not in seeded]
    prefix = domain["sid"] + "-"
    next_rid = max([1099] + [int(a["sid"][len(prefix):]) for a in domain["accounts"]
                             if a.get("sid", "").startswith(prefix) and a["sid"][len(prefix):].isdigit()]) + 1
    for account in domain["accounts"]:
        if "sid" not in account:
            account["sid"] = f"{domain['sid']}-{next_rid}"
            next_rid += 1

    state.setdefault("local_accounts", [
        {"name": name, "sid": f"{machine_sid}-{rid}", "type": "user"} for name, rid in BUILTIN_LOCAL_USERS
    ])
    # Local group members by group SID: every built-in group of the host's version, these with members.
    members = {
        "S-1-5-32-544": [f"{machine_sid}-500", f"{domain['sid']}-512"],
        "S-1-5-32-545": ["S-1-5-4", "S-1-5-11", f"{domain['sid']}-513"],
        "S-1-5-32-546": [f"{machine_sid}-501"],
    }
    state.setdefault("local_groups", {sid: members.get(sid, []) for _name, sid in builtin_groups(host["os_version"])})
    state.setdefault("user_rights", copy.deepcopy(_DEFAULT_RIGHTS))
    for key in ("features", "paths", "services"):
        state.setdefault(key, {})

    sim = state.setdefault("_sim", {})
    sim.setdefault("round_trips", 0)
    sim.setdefault("log", [])
    sim.setdefault("faults", [])
    return state


@contextlib.contextmanager
def locked_json(path: str):
    """Load, yield and atomically save a JSON document, holding a lock so parallel forks never interleave."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path + ".lock", "a+", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if os.path.exists(path) and os.path.getsize(path):
                with open(path, encoding="utf-8") as handle:
                    document = json.load(handle)
            else:
                document = {}
            try:
                yield document
            finally:
                # Saved even when the call fails: the round trip happened, a
                # fault fired, and a model may have changed something first.
                fd, temp = tempfile.mkstemp(dir=directory, prefix=".winsim-", suffix=".json")
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(document, handle, indent=2, sort_keys=True)
                    handle.write("\n")
                os.replace(temp, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def locked(path: str, computer_name: str):
    """The host's state, completed with the defaults, held under the file's lock."""
    with locked_json(path) as state:
        yield complete(state, computer_name)


def redact(value, secrets: list[str]):
    """A deep copy of value with every secret string replaced, also inside longer strings."""
    secrets = [s for s in secrets if s]
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        return value
    return value


def take_fault(state: dict, facts: dict) -> dict | None:
    """Count this call against every matching fault and return the one that fires now, if any.

    A fault is ``{"match": {...}, "nth": N, "times": T, "kind": "error" | "connection",
    "error": "message"}``: the Nth matching call and the T-1 after it fail.
    """
    fired = None
    for fault in state["_sim"]["faults"]:
        if any(facts.get(key) != expected for key, expected in fault.get("match", {}).items()):
            continue
        fault["seen"] = fault.get("seen", 0) + 1
        first = fault.get("nth", 1)
        if fired is None and first <= fault["seen"] < first + fault.get("times", 1):
            fault["fired"] = fault.get("fired", 0) + 1
            fired = fault
    return fired
