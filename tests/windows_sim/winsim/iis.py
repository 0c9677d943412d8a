"""IIS configuration of a simulated host: ``state["iis"]["app_pools"]``, keyed by pool name.

A pool is ``{"name", "state", "managed_runtime_version", "pipeline_mode", "identity_type", "username",
"password_sha256", "load_user_profile", "start_mode", "auto_start", "enable_32bit", "idle_timeout_minutes",
"periodic_restart_minutes", "disallow_rotation_on_config_change", "manual_group_membership", "logon_type",
"recycles"}``; the password is kept only as a salted digest.

``state`` is the run state WAS reports: ``Started`` or ``Stopped``, or on the way there ``Starting`` or
``Stopping``. A pool on its way settles after ``settle_reads`` more reads of its state (default none), as WAS
finishes a start or stop while the caller polls, and in any case by the next round trip after the one that began
it (``since_round_trip``): WAS finishes in the background between two runs. ``recycles`` counts the worker process restarts of a running
pool: an explicit recycle, and the rotation WAS makes on a configuration change unless
``disallow_rotation_on_config_change``.
"""

from __future__ import annotations

import hashlib
import struct

from .errors import HostError

# applicationPoolDefaults of IIS 10 on Windows Server 2016 and later.
POOL_DEFAULTS = {
    "state": "Started",
    "managed_runtime_version": "v4.0",
    "pipeline_mode": "Integrated",
    "identity_type": "ApplicationPoolIdentity",
    "username": "",
    "password_sha256": "",
    "load_user_profile": True,
    "start_mode": "OnDemand",
    "auto_start": True,
    "enable_32bit": False,
    "idle_timeout_minutes": 20,
    "periodic_restart_minutes": 1740,
    "disallow_rotation_on_config_change": False,
    "manual_group_membership": False,
    "logon_type": "LogonBatch",
    "recycles": 0,
}
# The pools IIS setup creates: with the web server, and with ASP.NET 4.x.
SETUP_POOLS = {
    "Web-Server": {"DefaultAppPool": {}},
    "Web-Asp-Net45": {".NET v4.5": {}, ".NET v4.5 Classic": {"pipeline_mode": "Classic"}},
}

# ApplicationPoolCollection.InvalidApplicationPoolNameCharacters(): the configuration refuses a pool name with any.
INVALID_NAME_CHARACTERS = '\\/"|<>:*?][+=;,@&'
# WAS ignores a pool with a longer name (event 5050), and does not know it at run time.
MAX_WAS_NAME_LENGTH = 64
# How many reads of State a start or stop takes in the simulator before it is done: the payload must poll.
SETTLE_READS = 2
_SETTLED = {"Starting": "Started", "Stopping": "Stopped"}
_RUN_STATES = ("Started", "Stopped", "Starting", "Stopping")

_NOT_KNOWN_TO_WAS = ("The object identifier does not represent a valid object. (Exception from HRESULT: 0x800710D8)",
                     "System.Runtime.InteropServices.COMException")
_IN_TRANSITION = ("The service cannot accept control messages at this time. (Exception from HRESULT: 0x80070425)",
                  "System.Runtime.InteropServices.COMException")
_ALREADY_RUNNING = ("An instance of the service is already running. (Exception from HRESULT: 0x80070420)",
                    "System.Runtime.InteropServices.COMException")
_NOT_ACTIVE = ("The service has not been started. (Exception from HRESULT: 0x80070426)",
               "System.Runtime.InteropServices.COMException")


def setting(pool: dict, key: str):
    """A pool's setting; a pool seeded without it has IIS's default."""
    return pool.get(key, POOL_DEFAULTS[key])


def app_pools(state: dict) -> dict:
    return state.setdefault("iis", {}).setdefault("app_pools", {})


def find_pool(state: dict, name: str) -> dict | None:
    """IIS looks pools up without regard to case. Only reads."""
    pools = (state.get("iis") or {}).get("app_pools") or {}
    return next((pool for key, pool in pools.items() if key.lower() == name.lower()), None)


def check_configuration_name(name: str) -> None:
    """The configuration system's validation of a pool name, as ApplicationPoolCollection.Add applies it."""
    if not name or any(c in INVALID_NAME_CHARACTERS for c in name):
        raise HostError(f"Invalid application pool name\r\nParameter name: name ('{name}')", "System.ArgumentException")


def known_to_was(pool: dict) -> bool:
    """WAS ignores a pool whose name is too long (event 5050): it never runs and has no run state."""
    return 0 < len(pool["name"]) <= MAX_WAS_NAME_LENGTH


def new_pool(host_state: dict, name: str, **settings) -> dict:
    check_configuration_name(name)
    pool = dict(POOL_DEFAULTS, name=name, **settings)
    if pool["state"] not in _RUN_STATES:
        raise ValueError(f"a seeded pool's state is one of {', '.join(_RUN_STATES)}, not {pool['state']!r}")
    app_pools(host_state)[name] = pool
    return pool


def feature_installed(state: dict, feature: str) -> None:
    """What IIS setup adds to the configuration when a feature is installed."""
    for name, settings in SETUP_POOLS.get(feature, {}).items():
        if find_pool(state, name) is None:
            new_pool(state, name, **settings)


def app_pool_identity_sid(pool_name: str) -> str:
    """The virtual account SID of IIS APPPOOL\\<pool>: S-1-5-82 and the SHA-1 of the pool name, as five integers."""
    digest = hashlib.sha1(pool_name.lower().encode("utf-16-le")).digest()
    return "S-1-5-82-" + "-".join(str(part) for part in struct.unpack("<5I", digest))


def round_trip(state: dict) -> int | None:
    """The simulator's count of round trips to the host: the clock WAS finishes its work by."""
    return (state.get("_sim") or {}).get("round_trips")


def read_state(pool: dict, now: int | None = None) -> str:
    """One read of ApplicationPool.State in round trip ``now``: WAS finishes a start or stop after the pool's pending
    reads, or once a later round trip than the one that began it has come."""
    if not known_to_was(pool):
        return "Unknown"
    state = pool["state"]
    if state in _SETTLED:
        pending = pool.get("settle_reads", 0)
        since = pool.get("since_round_trip")
        if pending > 0 and not (since is not None and now is not None and now > since):
            pool["settle_reads"] = pending - 1
            return state
        pool["state"] = _SETTLED[state]
        pool.pop("settle_reads", None)
        pool.pop("since_round_trip", None)
    return pool["state"]


def _begin(pool: dict, transition: str, now: int | None) -> None:
    pool["state"] = transition
    pool["settle_reads"] = SETTLE_READS
    if now is not None:
        pool["since_round_trip"] = now


def start(pool: dict, now: int | None = None) -> str:
    """ApplicationPool.Start(): WAS takes the request and the pool is Starting. WAS does not log the identity on
    here; for an OnDemand pool it does so at the first request, so a wrong password does not stop this."""
    if not known_to_was(pool):
        raise HostError(*_NOT_KNOWN_TO_WAS)
    if pool["state"] in _SETTLED:
        raise HostError(*_IN_TRANSITION)
    if pool["state"] == "Started":
        raise HostError(*_ALREADY_RUNNING)
    _begin(pool, "Starting", now)
    return pool["state"]


def stop(pool: dict, now: int | None = None) -> str:
    """ApplicationPool.Stop(): the pool is Stopping. autoStart is configuration and stays as it is."""
    if not known_to_was(pool):
        raise HostError(*_NOT_KNOWN_TO_WAS)
    if pool["state"] in _SETTLED:
        raise HostError(*_IN_TRANSITION)
    if pool["state"] == "Stopped":
        raise HostError(*_NOT_ACTIVE)
    _begin(pool, "Stopping", now)
    return pool["state"]


def recycle(pool: dict) -> None:
    """ApplicationPool.Recycle(): only a started pool has worker processes to restart."""
    if not known_to_was(pool):
        raise HostError(*_NOT_KNOWN_TO_WAS)
    if pool["state"] != "Started":
        raise HostError(*_NOT_ACTIVE)
    pool["recycles"] = setting(pool, "recycles") + 1


def configuration_committed(pool: dict, created: bool, now: int | None = None) -> None:
    """What WAS does when it reads a committed change to this pool: it starts a new pool with autoStart, and
    rotates the worker process of a running one unless recycling.disallowRotationOnConfigChange is true."""
    if not known_to_was(pool):
        return
    if created:
        if setting(pool, "auto_start"):
            _begin(pool, "Starting", now)
    elif pool["state"] in ("Started", "Starting") and not setting(pool, "disallow_rotation_on_config_change"):
        pool["recycles"] = setting(pool, "recycles") + 1


def restart_was(state: dict) -> None:
    """IISRESET, a restart of WAS, or a reboot: WAS starts each pool with autoStart and leaves the others stopped,
    whatever state they were in before."""
    for pool in ((state.get("iis") or {}).get("app_pools") or {}).values():
        pool.pop("settle_reads", None)
        pool.pop("since_round_trip", None)
        pool["state"] = "Started" if setting(pool, "auto_start") and known_to_was(pool) else "Stopped"
