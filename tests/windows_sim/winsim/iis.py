"""IIS configuration of a simulated host: ``state["iis"]["app_pools"]``, keyed by pool name.

A pool is ``{"name", "state": "Started" | "Stopped", "managed_runtime_version",
"pipeline_mode", "identity_type", "username", "password_sha256", "load_user_profile",
"start_mode", "auto_start", "enable_32bit", "idle_timeout_minutes",
"periodic_restart_minutes", "recycles"}``; the password is kept only as a salted digest.
"""

from __future__ import annotations

import hashlib
import struct

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
    "recycles": 0,
}
# The pools IIS setup creates: with the web server, and with ASP.NET 4.x.
SETUP_POOLS = {
    "Web-Server": {"DefaultAppPool": {}},
    "Web-Asp-Net45": {".NET v4.5": {}, ".NET v4.5 Classic": {"pipeline_mode": "Classic"}},
}


def app_pools(state: dict) -> dict:
    return state.setdefault("iis", {}).setdefault("app_pools", {})


def find_pool(state: dict, name: str) -> dict | None:
    """IIS looks pools up without regard to case. Only reads."""
    pools = (state.get("iis") or {}).get("app_pools") or {}
    return next((pool for key, pool in pools.items() if key.lower() == name.lower()), None)


def new_pool(host_state: dict, name: str, **settings) -> dict:
    pool = dict(POOL_DEFAULTS, name=name, **settings)
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
