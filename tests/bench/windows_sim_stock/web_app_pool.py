"""Stand-in for microsoft.iis.web_app_pool, which only the bench's stock-module baselines use.

Follows web_app_pool.ps1 against ``state["iis"]["app_pools"]`` (see winsim/iis.py): the WebAdministration module
needs IIS (the ``Web-Server`` feature); a missing pool is created (``New-WebAppPool``, Started); each attribute
is compared with the pool's current value and set only when it differs; then ``started``/``stopped`` bring the
pool to that state, ``restarted`` always recycles it, and ``absent`` removes it. ``processModel.password`` is
compared as IIS compares it, with the password the pool holds (kept here only as a salted digest). Check mode
reports without changing. Attributes the simulator does not keep fail, naming the attribute.

Besides the pool keys of winsim/iis.py the stand-in keeps, with IIS 10's defaults when a pool lacks them,
``cpu.limit`` (``cpu_limit``, 0 to 100000, default 0), ``queueLength`` (``queue_length``, 10 to 65535, default
1000) and ``recycling.periodicRestart.schedule`` (``periodic_restart_schedule``, the times of day as
TimeSpan.ToString() writes them, default none). As web_app_pool.ps1 converts them: a number, or its text, for the
first two; for the schedule a list, or a comma-separated string whose entries are trimmed. A schedule entry is
compared as given with what IIS holds, so ``0:10:00`` differs from the ``00:10:00`` IIS keeps, as it does on
Windows. A value IIS refuses fails as the module reports a failed Set-ItemProperty; the exception text after
"Exception:" is the simulator's wording.
"""

from __future__ import annotations

import re

from winsim import iis
from winsim.errors import HostError
from winsim.passwords import hash_password, password_matches
from winsim.models import stock_module
from winsim.stock.win_feature import is_installed

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
    "cpu.limit": ("cpu_limit", "uint"),
    "queuelength": ("queue_length", "uint"),
    "recycling.periodicrestart.schedule": ("periodic_restart_schedule", "timespans"),
}
# IIS 10's schema for the attributes the pools of winsim/iis.py do not carry: default and accepted range.
_EXTRA_DEFAULTS = {"cpu_limit": 0, "queue_length": 1000, "periodic_restart_schedule": []}
_RANGES = {"cpu.limit": (0, 100000), "queuelength": (10, 65535)}
_TIMESPAN = re.compile(r"^\s*(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?\s*$")


def _set_failed(pool_name: str, name: str, value, exception: str) -> HostError:
    return HostError(f"Failed to set attribute to Web App Pool {pool_name}. Attribute: {name}, Value: {value}, "
                     f"Exception: {exception}")


def _uint(pool_name: str, name: str, value) -> int:
    """The value cast to the attribute's unsigned integer type, then checked against IIS's range."""
    number = None
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    low, high = _RANGES[name.lower()]
    if number is None or not low <= number <= high:
        raise _set_failed(pool_name, name, value, f"Value must be between {low} and {high}")
    return number


def _timespan_text(pool_name: str, name: str, entry: str) -> str:
    """TimeSpan.Parse, then TimeSpan.ToString() as IIS gives the value back: [d.]hh:mm:ss[.fffffff]."""
    match = _TIMESPAN.match(entry)
    if not match:
        raise HostError(f"Failed to add new attribute to Web App Pool {pool_name}. Attribute: {name}, Value: {entry}, "
                        f"Exception: String was not recognized as a valid TimeSpan.")
    days, hours, minutes, seconds, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        raise HostError(f"Failed to add new attribute to Web App Pool {pool_name}. Attribute: {name}, Value: {entry}, "
                        f"Exception: The TimeSpan could not be parsed because at least one of the numeric components is "
                        f"out of range or contains too many digits.")
    text = f"{int(hours):02d}:{int(minutes):02d}:{int(seconds or 0):02d}"
    if days and int(days):
        text = f"{int(days)}.{text}"
    if fraction and int(fraction):
        text += "." + fraction.ljust(7, "0")
    return text


def _collection(value) -> list[str]:
    """Convert-CollectionToList: a string split on commas and trimmed, a list as it is, anything else alone."""
    if isinstance(value, str):
        return [entry.strip() for entry in value.split(",")]
    if isinstance(value, list):
        return [str(entry) for entry in value]
    return [str(value)]


def _convert(pool_name: str, name: str, kind, value):
    if kind is bool:
        if isinstance(value, str):
            if value.lower() not in ("true", "false"):
                raise _set_failed(pool_name, name, value, f"'{value}' is not a valid value for {name}")
            return value.lower() == "true"
        return bool(value)
    if kind in _ENUMS:
        choices = _ENUMS[kind]
        if isinstance(value, int) and 0 <= value < len(choices):
            return choices[value]
        found = next((c for c in choices if c.lower() == str(value).lower()), None)
        if found is None:
            raise _set_failed(pool_name, name, value, f"'{value}' is not a valid value for {name}")
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
        current = pool.get(key, _EXTRA_DEFAULTS.get(key))
        if kind == "password":
            if not password_matches(current, "" if raw is None else str(raw)):
                updates[key] = hash_password(str(raw)) if raw else ""
            continue
        if kind == "timespans":
            wanted = _collection(raw)
            # Compare-Value: element by element, the given text against what IIS holds.
            if [entry.lower() for entry in wanted] != [entry.lower() for entry in current]:
                updates[key] = [_timespan_text(pool["name"], attribute, entry) for entry in wanted]
            continue
        value = _uint(pool["name"], attribute, raw) if kind == "uint" else _convert(pool["name"], attribute, kind, raw)
        if current != value:
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
