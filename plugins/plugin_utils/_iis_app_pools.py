# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation and planning for pkiops.keyfactor_command.iis_app_pools, free of Ansible so it can be unit-tested."""

from __future__ import annotations

import json

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._iis_app_pools_spec import CREATE_DEFAULTS
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._principals import principal_problem
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import (
    Plan,
    PlanError,
    Secret,
    TaskInputError,
    UnexpectedProbeResult,
)

# What the diff shows for a password: whether there is one and whether it changes, never its value.
PASSWORD_KEPT = "(hidden, unchanged)"
PASSWORD_CHANGED = "(hidden, changed)"
PASSWORD_NONE = "(none)"

# Option name -> how IIS reports it in the probe. Options left unset (None) are not managed.
_SETTINGS = (
    "managed_runtime_version",
    "pipeline_mode",
    "load_user_profile",
    "start_mode",
    "auto_start",
    "enable_32bit",
    "idle_timeout_minutes",
    "periodic_restart_minutes",
)
# The most IIS accepts: an idle timeout of 30 days (IIS Manager's limit); a
# restart interval as long as a 32-bit count of minutes, which IIS stores as a time span.
_MINUTES_RANGE = {"idle_timeout_minutes": 43200, "periodic_restart_minutes": 2**31 - 1}
# IIS stores "no managed code" as an empty managedRuntimeVersion.
_RUNTIME_TO_IIS = {"v4.0": "v4.0", "v2.0": "v2.0", "no_managed_code": ""}
_RUNTIME_FROM_IIS = {v: k for k, v in _RUNTIME_TO_IIS.items()}


def is_gmsa(username: str | None) -> bool:
    """A group managed service account: DOMAIN\\name$ or name$@domain."""
    return bool(username) and username.strip().split("@", 1)[0].endswith("$")


def _label(index: int, pool: dict) -> str:
    return f"pools[{index}] ({pool['name']!r})"


def normalise_pools(pools: list[dict]) -> list[dict]:
    """Controller-side checks the argument spec cannot express; returns the pools unchanged when they pass."""
    seen: dict[str, int] = {}
    for index, pool in enumerate(pools):
        label = _label(index, pool)
        name = pool["name"]
        if not name or name != name.strip() or any(ord(c) < 32 for c in name):
            raise TaskInputError(f"{label}: name must be non-empty, without leading or trailing spaces or control characters")
        if name.lower() in seen:
            raise TaskInputError(f"{label}: the name is also listed as pools[{seen[name.lower()]}] (IIS pool names are not case-sensitive)")
        seen[name.lower()] = index
        if pool["state"] == "absent":
            continue
        specific = pool["identity_type"] == "SpecificUser"
        identity = pool["identity_type"] or "left out"
        if not specific and pool.get("username"):
            raise TaskInputError(f"{label}: username is only used with identity_type SpecificUser, not {identity}")
        if not specific and pool.get("password") is not None:
            raise TaskInputError(f"{label}: password is only used with identity_type SpecificUser, not {identity}")
        if specific and principal_problem(pool["username"]):
            raise TaskInputError(f"{label}: username {pool['username']!r} {principal_problem(pool['username'])}")
        if specific and is_gmsa(pool["username"]) and pool.get("password") is not None:
            raise TaskInputError(
                f"{label}: {pool['username']} is a group managed service account, which has no password; remove password"
            )
        if specific and pool.get("password") == "":
            raise TaskInputError(f"{label}: password is empty; give the account's password, or leave password out to keep "
                                 "the one the pool has")
        for option, most in _MINUTES_RANGE.items():
            if pool.get(option) is not None and not 0 <= pool[option] <= most:
                raise TaskInputError(f"{label}: {option} must be between 0 (off) and {most} minutes, not {pool[option]}")
    return pools


def passwords_secret(pools: list[dict]) -> dict[str, Secret]:
    """The desired passwords, as one sensitive parameter: a JSON map of pool name to password."""
    passwords = {p["name"]: p["password"] for p in pools if p["state"] == "present" and p.get("password") is not None}
    return {"Passwords": Secret(value=json.dumps(passwords))} if passwords else {}


def _desired_settings(pool: dict, creating: bool) -> dict:
    """The settings to enforce, in IIS's terms: those the task gives, and for a new pool the documented defaults too."""
    given = {key: pool.get(key) for key in _SETTINGS if pool.get(key) is not None}
    if creating:
        given = dict({k: v for k, v in CREATE_DEFAULTS.items() if k in _SETTINGS}, **given)
    if "managed_runtime_version" in given:
        given["managed_runtime_version"] = _RUNTIME_TO_IIS[given["managed_runtime_version"]]
    return given


def _view(info: dict, password: str | None) -> dict:
    """A pool as the user sees it in the diff and the result."""
    view = {
        "state": str(info.get("state", "")).lower(),
        "identity_type": info.get("identity_type"),
        "managed_runtime_version": _RUNTIME_FROM_IIS.get(info.get("managed_runtime_version"), info.get("managed_runtime_version")),
    }
    if info.get("identity_type") == "SpecificUser":
        view["username"] = info.get("username")
    for key in _SETTINGS[1:]:
        if key in info:
            view[key] = info[key]
    if password is not None:
        view["password"] = password
    return view


def _identity_operation(index: int, pool: dict, info: dict | None) -> tuple[dict | None, bool, str]:
    """The identity operation for one pool, whether its account changes, and what happens to its password.

    The password action is ``keep``, ``set`` (the desired one) or ``clear`` (a gMSA has none).
    """
    current_type = info.get("identity_type") if info else None
    current_user = (info or {}).get("username") or ""
    wanted_type = pool["identity_type"] or current_type or CREATE_DEFAULTS["identity_type"]
    # An omitted identity keeps the pool's account as it is.
    username = pool.get("username") or (current_user if pool["identity_type"] is None else "")
    account_changes = wanted_type != current_type or (
        wanted_type == "SpecificUser" and username.lower() != current_user.lower()
    )

    password = "keep"
    if wanted_type == "SpecificUser":
        if pool.get("password") is not None:
            if account_changes or not info or info.get("password_matches") is False:
                password = "set"
        elif is_gmsa(username):
            if not info or info.get("password_set"):
                password = "clear"
        elif account_changes:
            verb = "create the pool" if not info else f"change its identity to {username}"
            raise PlanError(f"{_label(index, pool)}: a password is needed to {verb} with a user account (not a gMSA)")

    if not account_changes and password == "keep":
        return None, False, password
    operation = {"type": wanted_type, "username": username if wanted_type == "SpecificUser" else None, "password": password}
    return operation, account_changes, password


def check_probe(pools: list[dict], current: dict) -> None:
    """The probe must say whether IIS is installed and, when it is, report every pool asked for."""
    if not isinstance(current.get("iis_installed"), bool):
        raise UnexpectedProbeResult("no 'iis_installed' flag")
    if not current["iis_installed"]:
        return
    found = current.get("pools")
    if not isinstance(found, dict):
        raise UnexpectedProbeResult("no 'pools' mapping")
    for pool in pools:
        info = found.get(pool["name"])
        if not isinstance(info, dict) or not isinstance(info.get("exists"), bool):
            raise UnexpectedProbeResult(f"no report for the pool {pool['name']!r}")


def _password_markers(info: dict, exists: bool, managed: bool, action: str) -> tuple[str | None, str | None]:
    """What the diff shows for a pool's password before and after: markers, never the value."""
    if not managed and action != "clear":
        return None, None
    before = PASSWORD_KEPT if exists and info.get("password_set") else PASSWORD_NONE
    after = {"set": PASSWORD_CHANGED, "clear": PASSWORD_NONE}.get(action, before)
    return before, after


def plan(pools: list[dict], current: dict, check_mode: bool) -> Plan:
    """Compare each pool with IIS's configuration and plan one create, update or remove per pool."""
    check_probe(pools, current)
    warnings = []
    found = current.get("pools") or {}
    if not current["iis_installed"]:
        reason = current.get("error") or "Microsoft.Web.Administration could not be loaded"
        if not check_mode:
            raise PlanError(f"IIS is not installed on the host; install the Web-Server feature first ({reason})")
        # In check mode IIS may be about to be installed by an earlier task that did not run.
        warnings.append("IIS is not installed yet; in check mode every pool is reported as to be created")
        found = {}

    operations, before, after, changes, result_pools = [], {}, {}, {}, {}
    for index, pool in enumerate(pools):
        name = pool["name"]
        info = found.get(name) or {}
        exists = bool(info.get("exists"))
        if pool["state"] == "absent":
            if exists:
                before[name] = _view(info, None)
                operations.append({"pool": name, "action": "remove"})
                changes[name] = ["removed"]
            continue

        desired = _desired_settings(pool, creating=not exists)
        settings = desired if not exists else {k: v for k, v in desired.items() if info.get(k) != v}
        identity, account_changes, password = _identity_operation(index, pool, info if exists else None)
        password_before, password_after = _password_markers(info, exists, pool.get("password") is not None, password)
        if exists:
            before[name] = _view(info, password_before)
        state = info.get("state") if exists else None
        run_state = None
        if pool["started"] and state != "Started":
            run_state = "start"
        elif not pool["started"] and state != "Stopped":
            run_state = "stop"
        recycle = bool(exists and identity and state == "Started" and pool["started"])

        if exists:
            pool_changes = sorted(settings) + [label for label, happened in (
                ("identity", account_changes), ("password", password != "keep"), ("started", run_state == "start"),
                ("stopped", run_state == "stop"), ("recycled", recycle)) if happened]
        else:
            pool_changes = ["created"]  # stands for the whole pool, its start included
        if not exists or pool_changes:
            operations.append({"pool": name, "action": "update" if exists else "create", "settings": settings,
                               "identity": identity, "run_state": run_state, "recycle": recycle})
            changes[name] = pool_changes

        final = dict(info, exists=True, **desired)
        final["state"] = "Started" if pool["started"] else "Stopped"
        if identity:
            final["identity_type"] = identity["type"]
            final["username"] = identity["username"] or ""
        after[name] = _view(final, password_after)
        result_pools[name] = {k: v for k, v in after[name].items() if k != "password"}

    return Plan(operations=operations, before=before, after=after, warnings=warnings,
                result={"pools": result_pools, "changes": changes})
