# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkiops.keyfactor_command.iis_app_pools: its definition, with the validation and planning it runs, free of Ansible."""

from __future__ import annotations

import json

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._iis_app_pools_spec import (
    ARGUMENT_SPEC,
    CREATE_DEFAULTS,
    SPEC_RULES,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    Definition,
    Plan,
    PlanError,
    Secret,
    TaskInputError,
    UnexpectedProbeResult,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._principals import SID, principal_problem

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
# The options that describe a present pool; a pool to remove takes none of them.
_PRESENT_ONLY = ("identity_type", "username", "password") + _SETTINGS
# The most IIS accepts: an idle timeout of 30 days (IIS Manager's limit); a restart interval of 71,582 minutes,
# which is the upper bound Microsoft documents for PeriodicRestartTime (IIS 6.0 SDK, "PeriodicRestartTime": "The
# maximum supported value for this property is 71,582"): WAS keeps the interval as a 32-bit count of milliseconds.
_MINUTES_RANGE = {"idle_timeout_minutes": 43200, "periodic_restart_minutes": 71582}
# IIS stores "no managed code" as an empty managedRuntimeVersion.
_RUNTIME_TO_IIS = {"v4.0": "v4.0", "v2.0": "v2.0", "no_managed_code": ""}
_RUNTIME_FROM_IIS = {v: k for k, v in _RUNTIME_TO_IIS.items()}

# The characters ApplicationPoolCollection.InvalidApplicationPoolNameCharacters() returns: IIS refuses a pool name
# that holds any of them.
INVALID_NAME_CHARACTERS = '\\/"|<>:*?][+=;,@&'
# WAS ignores a pool whose name is longer than this (event 5050, "The application pool id '%1' exceeds length
# limits. It is '%2' characters and cannot be more than '%3' characters"), and one whose name is empty (event 5051).
MAX_NAME_LENGTH = 64

# A run state on its way to another: WAS settles a Starting pool as Started and a Stopping one as Stopped.
_SETTLED = {"Starting": "Started", "Stopping": "Stopped"}

# Accounts with an identity_type of their own, by SID, and the names people write for them.
_BUILT_IN_SIDS = {"S-1-5-18": "LocalSystem", "S-1-5-19": "LocalService", "S-1-5-20": "NetworkService"}
_BUILT_IN_NAMES = {
    "system": "LocalSystem", "localsystem": "LocalSystem", "local system": "LocalSystem",
    "local service": "LocalService", "localservice": "LocalService",
    "network service": "NetworkService", "networkservice": "NetworkService",
}
# Authorities whose accounts are never an account to log on with a password: the virtual accounts of pools and
# services, the well-known identities and the built-in groups.
_NOT_USER_AUTHORITIES = {"iis apppool": "ApplicationPoolIdentity", "nt authority": None, "nt service": None,
                         "builtin": None, "nt virtual machine": None, "window manager": None, "font driver host": None}
# The SID prefix of the accounts of a domain or of this computer's account database: the only accounts a pool
# can run as with SpecificUser.
_ACCOUNT_DOMAIN_SID = "S-1-5-21-"
_APP_POOL_IDENTITY_SID = "S-1-5-82-"


def is_gmsa(username: str | None) -> bool:
    """A group managed service account: DOMAIN\\name$ or name$@domain."""
    return bool(username) and username.strip().split("@", 1)[0].endswith("$")


def _label(index: int, pool: dict) -> str:
    return f"pools[{index}] ({pool['name']!r})"


def _use_identity_type(identity_type: str | None) -> str:
    if identity_type:
        return f"; use identity_type {identity_type} (without username) instead"
    return "; a pool runs as a user account or a group managed service account"


def built_in_username_problem(username: str) -> str | None:
    """Why username names no account a pool can run as with SpecificUser, as far as the spelling tells; else None."""
    text = username.strip()
    if SID.match(text):
        identity_type = _BUILT_IN_SIDS.get(text.upper())
        if identity_type is None and text.upper().startswith(_APP_POOL_IDENTITY_SID):
            identity_type = "ApplicationPoolIdentity"
        return "is a SID; give the account's name (DOMAIN\\name, .\\name or name@domain)" + (
            _use_identity_type(identity_type) if identity_type else "")
    authority, _separator, name = text.rpartition("\\")
    if authority.lower() in _NOT_USER_AUTHORITIES:
        identity_type = _NOT_USER_AUTHORITIES[authority.lower()] or _BUILT_IN_NAMES.get(name.lower())
        return f"is a built-in account or group of Windows, not a user account{_use_identity_type(identity_type)}"
    if not authority and name.lower() in _BUILT_IN_NAMES:
        return f"is a built-in account of Windows{_use_identity_type(_BUILT_IN_NAMES[name.lower()])}"
    return None


def built_in_sid_problem(sid: str) -> str | None:
    """Why the account with this SID cannot be a SpecificUser pool's, or None when it can be one."""
    sid = sid.upper()
    if sid.startswith(_ACCOUNT_DOMAIN_SID):
        return None
    identity_type = _BUILT_IN_SIDS.get(sid) or ("ApplicationPoolIdentity" if sid.startswith(_APP_POOL_IDENTITY_SID) else None)
    return f"is the built-in account or group {sid}, not a user account{_use_identity_type(identity_type)}"


def name_problem(name: str) -> str | None:
    """Why IIS would refuse or ignore a pool of this name; None when it takes it."""
    if not name or name != name.strip():
        return "must be non-empty, without leading or trailing spaces"
    if any(ord(c) < 32 for c in name):
        return "must not hold control characters"
    invalid = sorted({c for c in name if c in INVALID_NAME_CHARACTERS})
    if invalid:
        return (f"holds {' '.join(repr(c) for c in invalid)}, which IIS refuses in a pool name (it refuses any of "
                f"{' '.join(INVALID_NAME_CHARACTERS)})")
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; IIS takes at most {MAX_NAME_LENGTH}"
    return None


def _check_present_pool(label: str, pool: dict) -> None:
    specific = pool["identity_type"] == "SpecificUser"
    identity = pool["identity_type"] or "left out"
    if not specific and pool.get("username") is not None:
        raise TaskInputError(f"{label}: username is only used with identity_type SpecificUser, not {identity}")
    if not specific and pool.get("password") is not None:
        raise TaskInputError(f"{label}: password is only used with identity_type SpecificUser, not {identity}")
    if specific:
        username = pool["username"]
        problem = principal_problem(username) or built_in_username_problem(username)
        if problem:
            raise TaskInputError(f"{label}: username {username!r} {problem}")
        if is_gmsa(username) and pool.get("password") is not None:
            raise TaskInputError(f"{label}: {username} is a group managed service account, which has no password; "
                                 "remove password")
        if pool.get("password") == "":
            raise TaskInputError(f"{label}: password is empty; give the account's password, or leave password out to "
                                 "keep the one the pool has")
    for option, most in _MINUTES_RANGE.items():
        if pool.get(option) is not None and not 0 <= pool[option] <= most:
            raise TaskInputError(f"{label}: {option} must be between 0 (off) and {most} minutes, not {pool[option]}")
    if pool.get("auto_start") is not None and pool["auto_start"] != pool["started"]:
        raise TaskInputError(
            f"{label}: auto_start is {pool['auto_start']} but started is {pool['started']}; IIS starts a pool with "
            "auto_start whenever WAS starts (IISRESET, a restart of the service or of the server), so they must "
            "agree: leave auto_start out, and it follows started")


def normalise_pools(pools: list[dict]) -> list[dict]:
    """Controller-side checks the argument spec cannot express; returns the pools unchanged when they pass."""
    seen: dict[str, int] = {}
    for index, pool in enumerate(pools):
        label = _label(index, pool)
        name = pool["name"]
        problem = name_problem(name)
        if problem:
            raise TaskInputError(f"{label}: name {problem}")
        if name.lower() in seen:
            raise TaskInputError(f"{label}: the name is also listed as pools[{seen[name.lower()]}] (IIS pool names are not case-sensitive)")
        seen[name.lower()] = index
        if pool["state"] == "absent":
            given = [option for option in _PRESENT_ONLY if pool.get(option) is not None]
            if given:
                raise TaskInputError(f"{label}: state is absent, which removes the pool; remove {', '.join(given)} "
                                     "(they describe a pool that is present)")
            continue
        _check_present_pool(label, pool)
    return pools


def accounts_to_resolve(pools: list[dict]) -> list[str]:
    """Each SpecificUser username of a present pool once, in first-seen order, for the probe to resolve to a SID."""
    return list(dict.fromkeys(p["username"] for p in pools
                              if p["state"] == "present" and p["identity_type"] == "SpecificUser" and p.get("username")))


def probe_parameters(pools: list[dict]) -> dict:
    parameters = {"Names": [pool["name"] for pool in pools]}
    accounts = accounts_to_resolve(pools)
    if accounts:
        parameters["Accounts"] = accounts
    return parameters


def passwords_secret(pools: list[dict]) -> dict[str, Secret]:
    """The desired passwords, as one sensitive parameter: a JSON map of pool name to password."""
    passwords = {p["name"]: p["password"] for p in pools if p["state"] == "present" and p.get("password") is not None}
    return {"Passwords": Secret(value=json.dumps(passwords))} if passwords else {}


def _desired_settings(pool: dict, creating: bool) -> dict:
    """The settings to enforce, in IIS's terms: those the task gives, and for a new pool the documented defaults too.

    auto_start always follows started: a stopped pool with autoStart runs again after IISRESET, a restart of WAS
    or of the server, and a started one without it stays stopped after them.
    """
    given = {key: pool.get(key) for key in _SETTINGS if pool.get(key) is not None}
    given["auto_start"] = pool["started"]
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


def _identity_operation(index: int, pool: dict, info: dict | None, wanted_sid: str | None) -> tuple[dict | None, bool, str]:
    """The identity operation for one pool, whether its account changes, and what happens to its password.

    The account is compared by SID: ``wanted_sid`` is what the host resolved the task's username to (None when it
    could not, in check mode), and the probe reports the SID of the pool's configured account.
    The password action is ``keep``, ``set`` (the desired one) or ``clear`` (a gMSA has none).
    """
    current_type = info.get("identity_type") if info else None
    current_user = (info or {}).get("username") or ""
    wanted_type = pool["identity_type"] or current_type or CREATE_DEFAULTS["identity_type"]
    # An omitted identity keeps the pool's account as it is.
    username = pool.get("username") or (current_user if pool["identity_type"] is None else "")
    account_changes = wanted_type != current_type
    if wanted_type == "SpecificUser" and pool["identity_type"] == "SpecificUser":
        current_sid = (info or {}).get("sid")
        account_changes = account_changes or wanted_sid is None or current_sid is None or (
            wanted_sid.upper() != current_sid.upper())

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


def _is_account_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(a, dict) and isinstance(a.get("input"), str) for a in value)


def check_probe(pools: list[dict], current: dict) -> None:
    """The probe must say whether IIS is installed, resolve every account asked for and report every pool."""
    if not isinstance(current.get("iis_installed"), bool):
        raise UnexpectedProbeResult("no 'iis_installed' flag")
    wanted = accounts_to_resolve(pools)
    if wanted:
        if not _is_account_list(current.get("accounts")):
            raise UnexpectedProbeResult("no 'accounts' list")
        missing = set(wanted) - {a["input"] for a in current["accounts"]}
        if missing:
            raise UnexpectedProbeResult(f"no resolution for {', '.join(sorted(missing))}")
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


def _wanted_sids(pools: list[dict], current: dict, check_mode: bool, warnings: list) -> dict[int, str | None]:
    """The SID each SpecificUser pool's username resolved to on the host, by the pool's index.

    A username the host cannot resolve fails the task before anything changes; in check mode an earlier task that
    did not run may be about to create the account, so it is a warning there. A built-in account or group is no
    account a pool can run as with SpecificUser.
    """
    resolved = {a["input"]: a for a in current.get("accounts") or []}
    sids: dict[int, str | None] = {}
    failures = []
    for index, pool in enumerate(pools):
        if pool["state"] != "present" or pool["identity_type"] != "SpecificUser":
            continue
        entry = resolved.get(pool["username"]) or {}
        sid = entry.get("sid")
        if not sid:
            reason = entry.get("error") or "not found"
            failures.append(f"{_label(index, pool)}: username {pool['username']!r} does not resolve to an account on "
                            f"the host ({reason})")
            sids[index] = None
            continue
        problem = built_in_sid_problem(sid)
        if problem:
            raise PlanError(f"{_label(index, pool)}: username {pool['username']!r} {problem}")
        sids[index] = sid
    if failures and not check_mode:
        raise PlanError("; ".join(failures) + "; no application pool was changed")
    warnings.extend(f"{failure}; in check mode the pool is planned as if an earlier task created the account"
                    for failure in failures)
    return sids


def _run_state(pool: dict, state: str | None) -> str | None:
    settled = _SETTLED.get(state, state)
    if pool["started"] and settled != "Started":
        return "start"
    if not pool["started"] and settled != "Stopped":
        return "stop"
    return None


def plan(pools: list[dict], current: dict, check_mode: bool) -> Plan:
    """Compare each pool with IIS's configuration and plan one create, update or remove per pool."""
    check_probe(pools, current)
    warnings: list[str] = []
    found = current.get("pools") or {}
    wanted_sids = _wanted_sids(pools, current, check_mode, warnings)
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
        identity, account_changes, password = _identity_operation(
            index, pool, info if exists else None, wanted_sids.get(index))
        password_before, password_after = _password_markers(info, exists, pool.get("password") is not None, password)
        if exists:
            before[name] = _view(info, password_before)
        state = info.get("state") if exists else None
        run_state = _run_state(pool, state)
        # WAS rotates a running pool's worker process on any change to its configuration, so that the new identity
        # takes effect, unless recycling.disallowRotationOnConfigChange is true; only then is it recycled here.
        recycle = bool(exists and identity and _SETTLED.get(state, state) == "Started" and pool["started"]
                       and info.get("disallow_rotation_on_config_change") is True)

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


class IisAppPools(Definition):
    """Create, configure and remove IIS application pools with Microsoft.Web.Administration."""

    name = "iis_app_pools"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES
    areas = ("iis",)

    def check_params(self, params, context):
        return dict(params, pools=normalise_pools(params["pools"]))

    def probe_parameters(self, params):
        return probe_parameters(params["pools"])

    def probe_secrets(self, params):
        # The probe compares each pool's password on the host, which answers whether it matches.
        return passwords_secret(params["pools"])

    def plan(self, params, current, context):
        planned = plan(params["pools"], current, context.check_mode)
        planned.secrets = passwords_secret(params["pools"])
        return planned


DEFINITION = IisAppPools()
