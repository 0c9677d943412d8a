"""Model of plugins/plugin_utils/_powershell/iis_app_pools.ps1 against the host's IIS configuration (see ../iis.py)."""

from __future__ import annotations

import copy
import json

from .. import iis
from ..accounts import resolve_as_payload
from ..errors import HostError, IdentityNotMapped
from ..passwords import hash_password, password_matches
from ..registry import payload_model
from ..stock.win_feature import is_installed

_NOT_INSTALLED = ("Could not load file or assembly 'Microsoft.Web.Administration, Version=7.0.0.0, Culture=neutral, "
                  "PublicKeyToken=31bf3856ad364e35' or one of its dependencies. The system cannot find the file specified.")
_SETTINGS = ("managed_runtime_version", "pipeline_mode", "load_user_profile", "start_mode", "auto_start", "enable_32bit",
             "idle_timeout_minutes", "periodic_restart_minutes")


def _passwords(call) -> dict[str, str]:
    """The SecureString's JSON map of pool name to password, keyed case-insensitively as the payload looks it up."""
    text = call.parameters.get("Passwords") or ""
    return {name.lower(): password for name, password in (json.loads(text) if text else {}).items()}


def _probe(call) -> None:
    call.changed = False
    state = call.host.state
    if not is_installed(state, "Web-Server"):
        call.result = {"iis_installed": False, "error": _NOT_INSTALLED, "pools": {}}
        return
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
            "state": pool["state"],
            "identity_type": pool["identity_type"],
            "username": pool["username"],
            "password_set": bool(pool["password_sha256"]),
            "password_matches": None if desired is None else password_matches(pool["password_sha256"], desired),
            **{key: pool[key] for key in _SETTINGS},
        }
    call.result = {"iis_installed": True, "pools": pools}


def _set_identity(pool: dict, identity: dict, passwords: dict[str, str]) -> None:
    pool["identity_type"] = identity["type"]
    if identity["type"] != "SpecificUser":
        pool["username"], pool["password_sha256"] = "", ""
        return
    pool["username"] = identity.get("username") or ""
    if identity.get("password") == "set":
        if pool["name"].lower() not in passwords:
            raise HostError(f"No password was supplied for application pool '{pool['name']}'.", "System.InvalidOperationException")
        pool["password_sha256"] = hash_password(passwords[pool["name"].lower()])
    elif identity.get("password") == "clear":
        pool["password_sha256"] = ""


def _can_start(call, pool: dict) -> bool:
    """WAS starts a pool only if it can log its identity on; otherwise it stops the pool again."""
    if pool["identity_type"] != "SpecificUser":
        return True
    try:
        # LogonUser takes "." for this computer, as the payloads do.
        resolve_as_payload(call.host.directory, pool["username"])
    except IdentityNotMapped:
        return False
    return True


def _configure(call, operation: dict, passwords: dict[str, str]) -> None:
    state = call.host.state
    name = operation["pool"]
    pool = iis.find_pool(state, name)
    action = operation["action"]
    if action == "create":
        if pool is not None:
            raise HostError(f"Cannot add duplicate collection entry of type 'add' with unique key attribute 'name' set to '{name}'",
                            "System.Runtime.InteropServices.COMException")
        pool = iis.new_pool(state, name, state="Stopped")
    elif pool is None:
        raise HostError(f"Application pool '{name}' does not exist.", "System.InvalidOperationException")
    if action == "remove":
        del iis.app_pools(state)[pool["name"]]
        return
    pool.update(operation.get("settings") or {})
    if operation.get("identity"):
        _set_identity(pool, operation["identity"], passwords)


def _run(call, operation: dict) -> list[str]:
    pool = iis.find_pool(call.host.state, operation["pool"])
    done = []
    if operation.get("action") == "create" and pool["auto_start"] and _can_start(call, pool):
        pool["state"] = "Started"  # WAS starts a new pool with autoStart as soon as the configuration is committed
    if operation.get("run_state") == "start" and pool["state"] != "Started":
        done.append("start")
        if not _can_start(call, pool):
            raise HostError(f"Application pool '{pool['name']}' did not start (state Stopped). Its identity may be unable to "
                            "log on; the System event log (WAS events 5021, 5057 and 5059) says why.",
                            "System.Management.Automation.RuntimeException")
        pool["state"] = "Started"
    elif operation.get("run_state") == "stop" and pool["state"] != "Stopped":
        pool["state"] = "Stopped"
        done.append("stop")
    if operation.get("recycle") and pool["state"] == "Started":
        pool["recycles"] += 1
        done.append("recycle")
    return done


def _apply(call) -> None:
    call.changed = False
    applied = []
    call.result = {"applied": applied}
    operations = call.parameters.get("Operations") or []
    if call.check_mode:
        return  # -WhatIf: ShouldProcess declines every change
    passwords = _passwords(call)
    if not is_installed(call.host.state, "Web-Server"):
        raise HostError(_NOT_INSTALLED, "System.IO.FileNotFoundException")
    # Changes are made on one ServerManager and committed together: a failure
    # before CommitChanges() leaves the configuration as it was.
    committed = copy.deepcopy(call.host.state.get("iis"))
    try:
        for operation in operations:
            _configure(call, operation, passwords)
    except HostError:
        call.host.state["iis"] = committed
        raise
    call.changed = bool(operations)
    # Every committed pool is listed right after the commit; runtime actions are added as they happen.
    applied.extend({"pool": op["pool"], "action": op["action"], "runtime": []} for op in operations)
    for operation, entry in zip(operations, applied):
        if operation["action"] != "remove":
            entry["runtime"] = _run(call, operation)
        call.operation_done()


@payload_model("iis_app_pools")
def iis_app_pools(call) -> None:
    if call.mode == "probe":
        _probe(call)
    else:
        _apply(call)
