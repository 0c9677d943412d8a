"""Stand-in for ansible.windows.win_service_info, which only the bench's stock-module baselines use.

State: ``state["services"]`` maps a service name to at least ``display_name``,
``state`` (``running`` or ``stopped``, or any value the module itself reports,
such as ``paused``), ``start_mode``, ``path``, ``username``, ``description`` and
``dependencies``. Any other key the module returns may be seeded too; the rest
get the values an ordinary Win32 service has.

Lookup follows win_service_info.ps1: an exact, case-insensitive service name
first; otherwise Get-Service -Name, which takes PowerShell wildcards (matched on
the service name only) or an exact display name. No name lists every service,
sorted by name as Get-Service sorts them.

The result keys are the ones the real module returns, which differ from its
documentation in two places: ``win32_exit_code`` and
``failure_actions_on_non_crash_failure``.
"""

from __future__ import annotations

import hashlib
import re

from winsim.models import stock_module

_WILDCARD = re.compile(r"[*?\[]")
# SCM's name for the account it reports as NT AUTHORITY\SYSTEM.
_LOCAL_SYSTEM = "LocalSystem"
_ERROR_SERVICE_NEVER_STARTED = 1077


def _wildcard_regex(pattern: str) -> re.Pattern:
    """A PowerShell wildcard pattern (*, ?, [set]) as a case-insensitive regular expression."""
    parts, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char == "[" and "]" in pattern[index + 1:]:
            end = pattern.index("]", index + 1)
            parts.append("[" + pattern[index + 1:end].replace("\\", "\\\\") + "]")
            index = end
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def find_services(services: dict, name: str | None) -> list[str]:
    """The names of the services the module reports for name."""
    names = sorted(services, key=str.lower)
    if name is None:
        return names
    exact = [n for n in names if n.lower() == name.lower()]
    if exact:
        return exact
    if _WILDCARD.search(name):
        pattern = _wildcard_regex(name)
        return [n for n in names if pattern.match(n)]
    return [n for n in names if str(services[n].get("display_name", n)).lower() == name.lower()]


def _process_id(name: str) -> int:
    """A stable, plausible PID for a running service."""
    return 1000 + int.from_bytes(hashlib.sha256(name.lower().encode()).digest()[:2], "big") * 4 % 60000


def describe(services: dict, name: str) -> dict:
    """One entry of the module's ``services`` list."""
    seed = services[name]
    state = seed.get("state", "stopped")
    state = "started" if state == "running" else state
    running = state == "started"
    username = seed.get("username", _LOCAL_SYSTEM)
    dependency_of = sorted((other for other, info in services.items()
                            if name.lower() in (d.lower() for d in info.get("dependencies", []))), key=str.lower)
    described = {
        "checkpoint": 0,
        "controls_accepted": ["stop", "shutdown"] if running else [],
        "dependencies": list(seed.get("dependencies", [])),
        "dependency_of": dependency_of,
        "description": seed.get("description", ""),
        "desktop_interact": False,
        "display_name": seed.get("display_name", name),
        "error_control": "normal",
        "failure_actions": [],
        "failure_actions_on_non_crash_failure": False,
        "failure_command": None,
        "failure_reboot_msg": None,
        "failure_reset_period_sec": 0,
        "launch_protection": "none",
        "load_order_group": "",
        "name": name,
        "path": seed.get("path", ""),
        "pre_shutdown_timeout_ms": 10000,
        "preferred_node": None,
        "process_id": _process_id(name) if running else 0,
        "required_privileges": [],
        "service_exit_code": 0,
        "service_flags": [],
        "service_type": "win32_own_process",
        "sid_info": "none",
        "start_mode": seed.get("start_mode", "manual"),
        "state": state,
        "triggers": [],
        "username": "NT AUTHORITY\\SYSTEM" if username == _LOCAL_SYSTEM else username,
        "wait_hint_ms": 0,
        "win32_exit_code": 0 if running else _ERROR_SERVICE_NEVER_STARTED,
    }
    for key, value in seed.items():
        if key in described and key not in ("state", "username", "dependency_of"):
            described[key] = value
    return described


@stock_module("ansible.windows.win_service_info")
def win_service_info(host, params: dict, _check_mode: bool, _diff_mode: bool) -> dict:
    """Read-only: the services name selects, described."""
    services = host.state.get("services", {})
    found = [describe(services, name) for name in find_services(services, params["name"])]
    return {"changed": False, "exists": bool(found), "services": found}
