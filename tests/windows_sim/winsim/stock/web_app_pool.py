"""Stand-in for microsoft.iis.web_app_pool, which only the bench's stock-module baselines use.

Follows web_app_pool.ps1 against ``state["iis"]["app_pools"]`` (see ../iis.py): the WebAdministration module
needs IIS (the ``Web-Server`` feature); a missing pool is created (``New-WebAppPool``, Started); each attribute
is compared with the pool's current value and set only when it differs; then ``started``/``stopped`` bring the
pool to that state, ``restarted`` always recycles it, and ``absent`` removes it. ``processModel.password`` is
compared as IIS compares it, with the password the pool holds (kept here only as a salted digest). Check mode
reports without changing. Attributes the simulator does not keep fail, naming the attribute.
"""

from __future__ import annotations

from .. import iis
from ..errors import HostError
from ..passwords import hash_password, password_matches
from ..registry import stock_module
from .win_feature import is_installed

_ENUMS = {
    "managed_pipeline_mode": ("Integrated", "Classic"),
    "start_mode": ("OnDemand", "AlwaysRunning"),
    "identity_type": ("LocalSystem", "LocalService", "NetworkService", "SpecificUser", "ApplicationPoolIdentity"),
}
# Attribute name (as IIS spells it, compared without case) to the simulated pool's key and how the value converts.
_ATTRIBUTES = {
    "managedruntimeversion": ("managed_runtime_version", str),
    "managedpipelinemode": ("pipeline_mode", "managed_pipeline_mode"),
    "startmode": ("start_mode", "start_mode"),
    "autostart": ("auto_start", bool),
    "enable32bitapponwin64": ("enable_32bit", bool),
    "processmodel.identitytype": ("identity_type", "identity_type"),
    "processmodel.username": ("username", str),
    "processmodel.loaduserprofile": ("load_user_profile", bool),
    "processmodel.password": ("password_sha256", "password"),
}


def _convert(name: str, kind, value):
    if kind is bool:
        if isinstance(value, str):
            if value.lower() not in ("true", "false"):
                raise HostError(f"Failed to set attribute to Web App Pool. Attribute: {name}, Value: {value}")
            return value.lower() == "true"
        return bool(value)
    if kind in _ENUMS:
        choices = _ENUMS[kind]
        if isinstance(value, int) and 0 <= value < len(choices):
            return choices[value]
        found = next((c for c in choices if c.lower() == str(value).lower()), None)
        if found is None:
            raise HostError(f"Failed to set attribute to Web App Pool. Attribute: {name}, Value: {value}")
        return found
    return "" if value is None else str(value)


@stock_module("microsoft.iis.web_app_pool")
def web_app_pool(host, params: dict, check_mode: bool, _diff_mode: bool) -> dict:
    state = host.state
    if not is_installed(state, "Web-Server"):
        raise HostError("The specified module 'WebAdministration' was not loaded because no valid module file was found "
                        "in any module directory.", "System.IO.FileNotFoundException")
    name, wanted_state = params["name"], params["state"]
    pool = iis.find_pool(state, name)
    changed = False
    if wanted_state == "absent":
        if pool is not None:
            changed = True
            if not check_mode:
                del iis.app_pools(state)[pool["name"]]
        return {"changed": changed}
    if pool is None:
        changed = True
        if check_mode:
            return {"changed": True}
        pool = iis.new_pool(state, name)
    updates = {}
    for attribute, raw in (params["attributes"] or {}).items():
        known = _ATTRIBUTES.get(attribute.lower())
        if known is None:
            raise HostError(f"windows_sim does not model the application pool attribute '{attribute}'")
        key, kind = known
        if kind == "password":
            if not password_matches(pool.get(key), "" if raw is None else str(raw)):
                updates[key] = hash_password(str(raw)) if raw else ""
            continue
        value = _convert(attribute, kind, raw)
        if pool.get(key) != value:
            updates[key] = value
    if updates:
        changed = True
        if not check_mode:
            pool.update(updates)
    running = pool["state"] == "Started"
    if (wanted_state in ("started", "restarted") and not running) or (wanted_state == "stopped" and running):
        changed = True
        if not check_mode:
            pool["state"] = "Stopped" if wanted_state == "stopped" else "Started"
    elif wanted_state == "restarted":
        changed = True
        if not check_mode:
            pool["recycles"] = pool.get("recycles", 0) + 1
    return {"changed": changed}
