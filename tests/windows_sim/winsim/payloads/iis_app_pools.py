"""Model of plugins/plugin_utils/_powershell/iis_app_pools.ps1 against the host's IIS configuration (see ../iis.py).

Probe: each pool in Names, and each account in Accounts resolved to a SID. Apply, in the payload's order: every
operation is validated as Get-OperationPlan validates it (also under -WhatIf, which then declines every change);
each account whose password is set must log on with it as WAS will (Assert-PoolLogon); the configuration changes
are committed at once, and WAS reacts to the commit (it starts a new pool with autoStart, and rotates a running
pool's worker process unless disallowRotationOnConfigChange); then each pool's start, stop or recycle runs, each
after waiting for the pool's state to settle.

For ``after_operations`` faults the commit is one step, and each created or updated pool's runtime actions
another, so a fault can land between the commit and a start or recycle.
"""

from __future__ import annotations

import copy
import json

from .. import iis
from ..accounts import resolution_report, resolve_as_payload
from ..errors import HostError
from ..logon import (
    ERROR_LOGON_TYPE_NOT_GRANTED,
    LOGON32_LOGON_BATCH,
    LOGON32_LOGON_NETWORK,
    LOGON32_LOGON_SERVICE,
    LOGON_TYPES,
    account_rights,
    group_sids,
    logon_user,
)
from ..passwords import hash_password, password_matches
from ..models import payload_model
from ..stock.win_feature import is_installed

_NOT_INSTALLED = ("Could not load file or assembly 'Microsoft.Web.Administration, Version=7.0.0.0, Culture=neutral, "
                  "PublicKeyToken=31bf3856ad364e35' or one of its dependencies. The system cannot find the file specified.")
_SETTINGS = ("managed_runtime_version", "pipeline_mode", "load_user_profile", "start_mode", "auto_start", "enable_32bit",
             "idle_timeout_minutes", "periodic_restart_minutes")
_IDENTITY_TYPES = ("ApplicationPoolIdentity", "NetworkService", "LocalService", "LocalSystem", "SpecificUser")
_PASSWORD_ACTIONS = ("keep", "set", "clear")
_INVALID = "System.Management.Automation.RuntimeException"
_IIS_USERS = "S-1-5-32-568"
# What Wait-PoolStateSettled amounts to: 10 seconds of reads 250 ms apart.
_SETTLE_POLLS = 40
# The messages of New-PoolLogonError, by Win32 code.
_LOGON_REASONS = {
    1326: "the user name or password is incorrect (ERROR_LOGON_FAILURE)",
    1331: "the account is disabled (ERROR_ACCOUNT_DISABLED)",
    1909: "the account is locked out (ERROR_ACCOUNT_LOCKED_OUT)",
}


def _passwords(call) -> dict[str, str]:
    """The SecureString's JSON map of pool name to password, keyed case-insensitively as the payload looks it up."""
    text = call.parameters.get("Passwords") or ""
    return {name.lower(): password for name, password in (json.loads(text) if text else {}).items()}


def _pool_sid(call, username: str) -> str | None:
    if not username:
        return None
    try:
        return resolve_as_payload(call.host.directory, username).sid
    except HostError:
        return None


def _check_configuration(state: dict, context: str) -> None:
    """IIS is there but its configuration cannot be opened (``iis.configuration_error`` seeds Windows' message, for
    example of a malformed applicationHost.config or a denied access): a failure, never "not installed"."""
    error = (state.get("iis") or {}).get("configuration_error")
    if error:
        raise HostError(f"{context}: {error}", "System.InvalidOperationException")


def _probe(call) -> None:
    call.changed = False
    state = call.host.state
    accounts = resolution_report(call.host.directory, list(call.parameters.get("Accounts") or []))
    if not is_installed(state, "Web-Server"):
        call.result = {"iis_installed": False, "error": _NOT_INSTALLED, "pools": {}, "accounts": accounts}
        return
    _check_configuration(state, "Cannot load or open the IIS configuration (Microsoft.Web.Administration.ServerManager)")
    desired_passwords = _passwords(call)
    pools = {}
    for name in call.parameters.get("Names") or []:
        pool = iis.find_pool(state, name)
        if pool is None:
            pools[name] = {"exists": False}
            continue
        desired = desired_passwords.get(name.lower())
        pools[name] = {
            "exists": True,
            "name": pool["name"],
            "state": iis.read_state(pool, iis.round_trip(state)),
            "identity_type": pool["identity_type"],
            "username": pool["username"],
            "sid": _pool_sid(call, pool["username"]),
            "password_set": bool(pool["password_sha256"]),
            "password_matches": None if desired is None else password_matches(pool["password_sha256"], desired),
            **{key: pool[key] for key in _SETTINGS},
            "disallow_rotation_on_config_change": iis.setting(pool, "disallow_rotation_on_config_change"),
        }
    call.result = {"iis_installed": True, "pools": pools, "accounts": accounts}


# --- Get-OperationPlan ---------------------------------------------------------------------------------------------


def _is_whole_minutes(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**31 - 1


def _check_settings(settings, label: str) -> dict:
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise HostError(f"Invalid {label}: settings must be a dictionary.", _INVALID)
    for key in settings:
        if key not in _SETTINGS:
            raise HostError(f"Invalid {label}: unknown setting '{key}'; the settings are {', '.join(_SETTINGS)}.", _INVALID)
    for key, value in settings.items():
        valid = {
            "managed_runtime_version": isinstance(value, str),
            "pipeline_mode": value in ("Integrated", "Classic"),
            "start_mode": value in ("OnDemand", "AlwaysRunning"),
            "idle_timeout_minutes": _is_whole_minutes(value),
            "periodic_restart_minutes": _is_whole_minutes(value),
        }.get(key, isinstance(value, bool))
        if not valid:
            raise HostError(f"Invalid {label}: setting {key} is '{value}'.", _INVALID)
    return settings


def _check_identity(identity, pool: str, label: str, passwords: dict) -> dict | None:
    if identity is None:
        return None
    if not isinstance(identity, dict):
        raise HostError(f"Invalid {label}: identity must be a dictionary with the keys type, username and password.", _INVALID)
    kind, username, password = identity.get("type"), identity.get("username"), identity.get("password")
    if kind not in _IDENTITY_TYPES:
        raise HostError(f"Invalid {label}: identity type '{kind}' must be one of {', '.join(_IDENTITY_TYPES)}.", _INVALID)
    if password not in _PASSWORD_ACTIONS:
        raise HostError(f"Invalid {label}: identity password must be one of {', '.join(_PASSWORD_ACTIONS)} (the password "
                        "itself travels in the Passwords parameter).", _INVALID)
    if username is not None and not isinstance(username, str):
        raise HostError(f"Invalid {label}: identity username must be a string or null.", _INVALID)
    if kind == "SpecificUser":
        if not (username or "").strip():
            raise HostError(f"Invalid {label}: identity type SpecificUser needs a username.", _INVALID)
        if password == "set" and pool.lower() not in passwords:
            raise HostError(f"Invalid {label}: identity password is 'set' but the Passwords parameter holds no password "
                            f"for application pool '{pool}'.", _INVALID)
        return {"type": kind, "username": username, "password": password}
    if username:
        raise HostError(f"Invalid {label}: identity type {kind} takes no username.", _INVALID)
    if password == "set":
        raise HostError(f"Invalid {label}: identity type {kind} takes no password.", _INVALID)
    return {"type": kind, "username": "", "password": "clear"}


def _checked_operations(operations, passwords: dict) -> list[dict]:
    """Get-OperationPlan: every operation is checked before the first change."""
    if not isinstance(operations, list):
        operations = [operations]
    checked, seen = [], {}
    for index, op in enumerate(operations):
        if not isinstance(op, dict):
            raise HostError(f"Operation #{index} is not a dictionary with the keys pool, action, settings, identity, "
                            "run_state and recycle.", _INVALID)
        pool, action = op.get("pool"), op.get("action")
        label = f"operation #{index} (pool '{pool}', action '{action}')"
        if not isinstance(pool, str) or not pool:
            raise HostError(f"Invalid {label}: pool must be a non-empty string.", _INVALID)
        if action not in ("create", "update", "remove"):
            raise HostError(f"Invalid {label}: action must be 'create', 'update' or 'remove'.", _INVALID)
        if pool.lower() in seen:
            raise HostError(f"Invalid {label}: application pool '{pool}' is also the target of operation "
                            f"#{seen[pool.lower()]} (IIS pool names are not case-sensitive).", _INVALID)
        seen[pool.lower()] = index
        settings = _check_settings(op.get("settings"), label)
        identity = _check_identity(op.get("identity"), pool, label, passwords)
        run_state = op.get("run_state")
        if run_state not in (None, "start", "stop"):
            raise HostError(f"Invalid {label}: run_state must be 'start', 'stop' or null.", _INVALID)
        recycle = op.get("recycle")
        recycle = False if recycle is None else recycle
        if not isinstance(recycle, bool):
            raise HostError(f"Invalid {label}: recycle must be true or false.", _INVALID)
        if action == "remove" and (settings or identity or run_state or recycle):
            raise HostError(f"Invalid {label}: a removal takes no settings, identity, run_state or recycle.", _INVALID)
        checked.append({"pool": pool, "action": action, "settings": settings, "identity": identity,
                        "run_state": run_state, "recycle": recycle})
    return checked


# --- Assert-PoolLogon ----------------------------------------------------------------------------------------------


def _not_granted(right: str, deny: str, via_iis_users: bool) -> str:
    """New-PoolLogonError's reason for ERROR_LOGON_TYPE_NOT_GRANTED."""
    if via_iis_users:
        scope = (f"it is not granted '{right}' (itself, through its groups or through BUILTIN\\IIS_IUSRS), or it, one of "
                 f"its groups or BUILTIN\\IIS_IUSRS is denied that logon ('{deny}')")
    else:
        scope = (f"it is not granted '{right}' (itself or through its groups; BUILTIN\\IIS_IUSRS does not count, as the "
                 "pool's processModel.manualGroupMembership is true), or it or one of its groups is denied that logon "
                 f"('{deny}')")
    return (f"{scope} (ERROR_LOGON_TYPE_NOT_GRANTED); grant the right and lift the denial before the pool is created, "
            "for example with pkiops.keyfactor_command.user_rights")


def _was_logon(call, op: dict, principal, password: str, pool: dict) -> tuple[int, str, str, bool]:
    """LogonUser with the pool's logon type, then what WAS's logon, which adds BUILTIN\\IIS_IUSRS to the token
    unless manualGroupMembership, would meet: a denial held by IIS_IUSRS refuses it; IIS_IUSRS's grant admits an
    account LogonUser refused, unless the account, the logon type's group or one of the account's groups (read from a
    network logon) is denied the logon type. Returns the code, the right, the denying right and whether IIS_IUSRS
    counted."""
    state, directory = call.host.state, call.host.directory
    logon_type = LOGON32_LOGON_SERVICE if iis.setting(pool, "logon_type") == "LogonService" else LOGON32_LOGON_BATCH
    type_sid, right, deny = LOGON_TYPES[logon_type]
    via_iis_users = not iis.setting(pool, "manual_group_membership")
    domain, _separator, user = principal.name.rpartition("\\")
    code = logon_user(state, directory, domain or None, user, password, logon_type)
    if not via_iis_users or code not in (0, ERROR_LOGON_TYPE_NOT_GRANTED):
        return code, right, deny, via_iis_users
    iis_users_rights = account_rights(state, _IIS_USERS)
    if deny in iis_users_rights:
        return ERROR_LOGON_TYPE_NOT_GRANTED, right, deny, via_iis_users
    if code == ERROR_LOGON_TYPE_NOT_GRANTED and right in iis_users_rights:
        try:
            groups = group_sids(state, directory, domain or None, user, password)
        except HostError as error:
            raise HostError(f"Application pool '{op['pool']}': cannot read the groups of '{principal.name}' from a network "
                            f"logon (LogonUser, GetTokenInformation): {error.message}", error.type_name) from None
        sids = {principal.sid, type_sid}
        if groups is None:
            call.warnings.append(
                f"Application pool '{op['pool']}': the account '{principal.name}' is not allowed to log on from the "
                f"network, so its groups could not be read, and whether one of them is denied '{deny}' was not checked. "
                "If one is, WAS will refuse the account at the pool's first request (events 5021, 5057).")
        else:
            sids |= groups - {LOGON_TYPES[LOGON32_LOGON_NETWORK][0]}
        if not any(deny in account_rights(state, sid) for sid in sids):
            code = 0
    return code, right, deny, via_iis_users


def _check_logons(call, operations: list[dict], passwords: dict) -> None:
    """Assert-PoolLogon, for the operations ShouldProcess approved: the caller never calls it under -WhatIf, which
    declines them all."""
    state, directory = call.host.state, call.host.directory
    for op in operations:
        identity = op["identity"]
        if not identity or identity["type"] != "SpecificUser" or identity["password"] != "set":
            continue
        try:
            principal = resolve_as_payload(directory, identity["username"])
        except HostError as error:
            raise HostError(f"Application pool '{op['pool']}': the account '{identity['username']}' given as its username "
                            f"does not resolve to an account: {error.message}", "System.InvalidOperationException") from None
        pool = iis.find_pool(state, op["pool"]) or dict(iis.POOL_DEFAULTS)
        code, right, deny, via_iis_users = _was_logon(call, op, principal, passwords[op["pool"].lower()], pool)
        if code:
            reason = _LOGON_REASONS.get(code) or (
                _not_granted(right, deny, via_iis_users) if code == ERROR_LOGON_TYPE_NOT_GRANTED else f"Win32 error {code}")
            raise HostError(f"Application pool '{op['pool']}': the account '{principal.name}' given as its username cannot "
                            f"log on with the password given for it, as WAS would log it on: {reason} (Win32 error {code}). "
                            "No application pool was changed.", "System.ComponentModel.Win32Exception")


# --- the configuration -------------------------------------------------------------------------------------------


def _find_for(state: dict, op: dict) -> dict | None:
    """Invoke-ConfigurationStep's existence checks, which also run under -WhatIf."""
    pool = iis.find_pool(state, op["pool"])
    if op["action"] == "create" and pool is not None:
        raise HostError(f"Cannot create application pool '{op['pool']}': IIS already has a pool named '{pool['name']}'.",
                        _INVALID)
    if op["action"] != "create" and pool is None:
        raise HostError(f"Cannot {op['action']} application pool '{op['pool']}': IIS has no pool of that name.", _INVALID)
    return pool


def _set_identity(pool: dict, identity: dict, passwords: dict[str, str]) -> None:
    pool["identity_type"] = identity["type"]
    pool["username"] = identity["username"] or ""
    if identity["password"] == "set":
        pool["password_sha256"] = hash_password(passwords[pool["name"].lower()])
    elif identity["password"] == "clear":
        pool["password_sha256"] = ""


def _configure(state: dict, op: dict, passwords: dict[str, str]) -> tuple[dict | None, bool]:
    """One operation's change to the configuration; returns the pool and whether it has a change to commit."""
    pool = _find_for(state, op)
    if op["action"] == "remove":
        del iis.app_pools(state)[pool["name"]]
        return None, True
    if op["action"] == "update" and not op["settings"] and op["identity"] is None:
        return pool, False
    if op["action"] == "create":
        pool = iis.new_pool(state, op["pool"], state="Stopped")
    pool.update(op["settings"])
    if op["identity"]:
        _set_identity(pool, op["identity"], passwords)
    return pool, True


# --- the runtime ------------------------------------------------------------------------------------------------


def _settled(pool: dict, now: int | None) -> str:
    """Wait-PoolStateSettled: read the state until it is Started or Stopped, within the bound."""
    state = iis.read_state(pool, now)
    for _poll in range(_SETTLE_POLLS):
        if state in ("Started", "Stopped"):
            break
        state = iis.read_state(pool, now)
    return state


def _run(state: dict, op: dict) -> list[str]:
    now = iis.round_trip(state)
    pool = iis.find_pool(state, op["pool"])
    if pool is None:
        raise HostError(f"Cannot {op['run_state'] or 'recycle'} application pool '{op['pool']}': IIS has no pool of that name.",
                        _INVALID)
    done = []
    if op["run_state"]:
        current = _settled(pool, now)
        wanted = "Started" if op["run_state"] == "start" else "Stopped"
        if current != wanted:
            (iis.start if op["run_state"] == "start" else iis.stop)(pool, now)
            done.append(op["run_state"])
            settled = _settled(pool, now)
            if op["run_state"] == "start" and settled != "Started":
                raise HostError(f"Application pool '{pool['name']}' did not start (state {settled} after "
                                "ApplicationPool.Start); the System event log (source WAS) says why.", _INVALID)
    if op["recycle"] and _settled(pool, now) == "Started":
        iis.recycle(pool)
        done.append("recycle")
    return done


def _apply(call) -> None:
    call.changed = False
    applied = []
    call.result = {"applied": applied}
    passwords = _passwords(call)
    operations = _checked_operations(call.parameters.get("Operations") or [], passwords)
    if not operations:
        return
    state = call.host.state
    if not is_installed(state, "Web-Server"):
        raise HostError("IIS (the Web-Server feature) is not installed: Microsoft.Web.Administration cannot be loaded: "
                        + _NOT_INSTALLED, "System.InvalidOperationException")
    _check_configuration(state, "Cannot open the IIS configuration (ServerManager)")
    if call.check_mode:
        # -WhatIf: the checks above and the existence checks run; ShouldProcess declines every change, so no account
        # is logged on (a logon is audited, and a wrong password counts towards the account's lockout).
        for op in operations:
            _find_for(state, op)
        return
    _check_logons(call, operations, passwords)

    # Changes are made on one ServerManager and committed together: a failure before CommitChanges() leaves the
    # configuration as it was.
    had_iis, committed = "iis" in state, copy.deepcopy(state.get("iis"))
    pending = []
    try:
        for op in operations:
            pool, changed = _configure(state, op, passwords)
            if changed:
                pending.append((op, pool))
    except HostError:
        if had_iis:
            state["iis"] = committed
        else:
            state.pop("iis", None)
        raise
    entries = {}
    if pending:
        call.changed = True
        for op, pool in pending:
            entries[op["pool"]] = {"pool": op["pool"], "action": op["action"], "runtime": []}
            applied.append(entries[op["pool"]])
            if pool is not None:
                iis.configuration_committed(pool, created=op["action"] == "create", now=iis.round_trip(state))
        call.operation_done()  # the commit; a fault here lands before any start, stop or recycle
    for op in operations:
        if op["action"] == "remove":
            continue
        runtime = _run(state, op) if op["run_state"] or op["recycle"] else []
        entry = entries.get(op["pool"])
        if entry is None:
            entry = entries[op["pool"]] = {"pool": op["pool"], "action": op["action"], "runtime": []}
            applied.append(entry)
        entry["runtime"].extend(runtime)
        call.changed = call.changed or bool(runtime)
        call.operation_done()


@payload_model("iis_app_pools")
def iis_app_pools(call) -> None:
    if call.mode == "probe":
        _probe(call)
    else:
        _apply(call)
