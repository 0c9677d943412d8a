"""pkiops.keyfactor_command.iis_app_pools: what its action plugin sends to the payload and returns."""

from __future__ import annotations

import json

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.action.iis_app_pools import ActionModule
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source
from winsim.win_powershell import failure_result

FQCN = "pkiops.keyfactor_command.iis_app_pools"
PASSWORD = "Sup3r-Secret!Pa55"
SVC = "CONTOSO\\svc_keyfactor"
SVC_SID = "S-1-5-21-1004336348-1177238915-682003330-1105"
SVC_RESOLVED = [{"input": SVC, "sid": SVC_SID, "name": SVC, "error": None}]
PORTAL = {"name": "KeyfactorPortal"}
PORTAL_AS_SVC = {"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": SVC, "password": PASSWORD}


def existing(**overrides) -> dict:
    """The probe's report of KeyfactorPortal as the defaults want it."""
    info = {
        "exists": True, "name": "KeyfactorPortal", "state": "Started", "managed_runtime_version": "v4.0", "pipeline_mode": "Integrated",
        "identity_type": "ApplicationPoolIdentity", "username": "", "password_set": False, "password_matches": None,
        "load_user_profile": True, "start_mode": "OnDemand", "auto_start": True, "enable_32bit": False,
        "idle_timeout_minutes": 20, "periodic_restart_minutes": 1740, "sid": None,
        "disallow_rotation_on_config_change": False,
    }
    info.update(overrides)
    return info


def probed(accounts=None, **pools) -> dict:
    return {"iis_installed": True, "pools": pools, "accounts": accounts or []}


STEADY = probed(KeyfactorPortal=existing())
MISSING = probed(KeyfactorPortal={"exists": False})
MISSING_SVC = probed(SVC_RESOLVED, KeyfactorPortal={"exists": False})
SVC_PASSWORD_DIFFERS = probed(SVC_RESOLVED, KeyfactorPortal=existing(identity_type="SpecificUser", username=SVC, sid=SVC_SID,
                                                                     password_set=True, password_matches=False,
                                                                     disallow_rotation_on_config_change=True))
NOT_INSTALLED = {"iis_installed": False, "error": "Could not load file or assembly 'Microsoft.Web.Administration'", "pools": {}}
APPLIED = {"applied": [{"pool": "KeyfactorPortal", "action": "update", "runtime": ["recycle"]}]}


@pytest.fixture
def iis_app_pools(make_action):
    """iis_app_pools(*pools, check_mode=False, diff=False) -> (action, replay)."""

    def factory(*pools, **kwargs):
        return make_action(ActionModule, {"pools": [dict(p) for p in pools]}, **kwargs)

    return factory


# --- what travels to the host ---------------------------------------------------------------


def test_the_script_is_the_iis_app_pools_payload(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL)
    replay.queue(ps_ok(STEADY))
    action.run(task_vars={})
    script = replay.calls[0]["module_args"]["script"]
    assert script == payload_source("iis_app_pools")
    assert script.startswith("# pkiops-payload: iis_app_pools\n") and "# pkiops-include:" not in script


def test_the_probe_asks_for_every_listed_pool_by_name(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL, {"name": "DefaultAppPool", "state": "absent"})
    replay.queue(ps_ok(probed(KeyfactorPortal=existing(), DefaultAppPool={"exists": False})))
    action.run(task_vars={})
    assert replay.calls[0]["module_args"]["parameters"] == {"Mode": "probe", "Names": ["KeyfactorPortal", "DefaultAppPool"]}


def test_steady_state_runs_win_powershell_once(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL)
    replay.queue(ps_ok(STEADY))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is False
    assert not result.get("failed")


def test_a_change_probes_then_applies_the_planned_operations(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(dict(PORTAL, enable_32bit=True))
    replay.queue(ps_ok(STEADY), ps_ok({"applied": [{"pool": "KeyfactorPortal", "action": "update", "runtime": []}]}, changed=True))
    result = action.run(task_vars={})
    assert replay.modes == ["probe", "apply"]
    assert replay.calls[1]["module_args"]["parameters"] == {"Mode": "apply", "Operations": [{
        "pool": "KeyfactorPortal", "action": "update", "settings": {"enable_32bit": True}, "identity": None, "run_state": None, "recycle": False,
    }]}
    assert result["changed"] is True


def test_the_result_carries_the_pools_and_their_changes(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(dict(PORTAL, started=False))
    replay.queue(ps_ok(STEADY), ps_ok({"applied": []}, changed=True))
    result = action.run(task_vars={})
    assert result["changes"] == {"KeyfactorPortal": ["auto_start", "stopped"]}
    assert result["pools"]["KeyfactorPortal"]["state"] == "stopped"


def test_no_sensitive_parameters_are_sent_without_a_password(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL)
    replay.queue(ps_ok(STEADY))
    action.run(task_vars={})
    assert "sensitive_parameters" not in replay.calls[0]["module_args"]


# --- the password --------------------------------------------------------------------------------


def test_the_password_travels_only_as_the_passwords_sensitive_parameter(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL_AS_SVC)
    replay.queue(ps_ok(SVC_PASSWORD_DIFFERS), ps_ok(APPLIED, changed=True))
    action.run(task_vars={})
    assert len(replay.calls) == 2
    for call in replay.calls:
        module_args = call["module_args"]
        assert module_args["sensitive_parameters"] == [{"name": "Passwords", "value": json.dumps({"KeyfactorPortal": PASSWORD})}]
        assert PASSWORD not in json.dumps(module_args["parameters"])
        assert PASSWORD not in module_args["script"]


def test_the_apply_asks_the_host_to_set_the_password_by_marker(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL_AS_SVC)
    replay.queue(ps_ok(SVC_PASSWORD_DIFFERS), ps_ok(APPLIED, changed=True))
    action.run(task_vars={})
    operation = replay.calls[1]["module_args"]["parameters"]["Operations"][0]
    assert operation["identity"] == {"type": "SpecificUser", "username": SVC, "password": "set"}
    assert operation["recycle"] is True


def test_the_password_is_not_in_the_result_or_the_diff(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL_AS_SVC, diff=True)
    replay.queue(ps_ok(SVC_PASSWORD_DIFFERS), ps_ok(APPLIED, changed=True))
    result = action.run(task_vars={})
    assert result["diff"]["after"]["KeyfactorPortal"]["password"] == "(hidden, changed)"
    assert PASSWORD not in json.dumps(result)


def test_the_password_in_the_hosts_error_message_is_scrubbed(iis_app_pools, ps_ok, ps_failed):
    action, replay = iis_app_pools(PORTAL_AS_SVC, diff=True)
    replay.queue(ps_ok(SVC_PASSWORD_DIFFERS), ps_failed(f"The password '{PASSWORD}' does not meet the password policy requirements"))
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert PASSWORD not in json.dumps(result)
    assert result["msg"] == f"{FQCN}: apply failed on the host: The password '********' does not meet the password policy requirements"


def test_the_password_in_a_failed_probe_message_is_scrubbed(iis_app_pools, ps_failed):
    action, replay = iis_app_pools(PORTAL_AS_SVC)
    replay.queue(ps_failed(f"Cannot read application pool 'KeyfactorPortal': bad value {PASSWORD}", changed=False))
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert PASSWORD not in json.dumps(result)


def test_the_password_in_the_hosts_partial_result_is_scrubbed(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL_AS_SVC)
    partial = {"applied": [{"pool": "KeyfactorPortal", "action": "update", "runtime": [], "note": PASSWORD}]}
    replay.queue(ps_ok(SVC_PASSWORD_DIFFERS), failure_result("Access is denied", "System.UnauthorizedAccessException", result=partial))
    result = action.run(task_vars={})
    assert result["applied"][0]["pool"] == "KeyfactorPortal"
    assert PASSWORD not in json.dumps(result)


# --- failures before and during the run ---------------------------------------------------


@pytest.mark.parametrize("pool", [
    {"name": "KeyfactorPortal", "identity_type": "NetworkService", "password": PASSWORD},
    {"name": "KeyfactorPortal", "identity_type": "LocalSystem", "username": SVC},
    {"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": "CONTOSO\\gmsa_keyfactor$", "password": PASSWORD},
    {"name": "KeyfactorPortal", "idle_timeout_minutes": -5},
], ids=["password with built-in identity", "username with built-in identity", "password with gmsa", "negative minutes"])
def test_a_bad_combination_fails_before_touching_the_host(iis_app_pools, pool):
    action, replay = iis_app_pools(pool)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"].startswith(f"{FQCN}: pools[0] ('KeyfactorPortal'): ")
    assert PASSWORD not in json.dumps(result)


def test_duplicate_pool_names_fail_before_touching_the_host(iis_app_pools):
    action, replay = iis_app_pools(PORTAL, {"name": "keyfactorportal"})
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["msg"].startswith(f"{FQCN}: pools[1] ('keyfactorportal'): the name is also listed as pools[0]")


def test_a_user_account_without_username_fails_the_argument_spec(iis_app_pools):
    action, replay = iis_app_pools({"name": "KeyfactorPortal", "identity_type": "SpecificUser"})
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["msg"].startswith(f"{FQCN}: ")
    assert "username" in result["msg"]


def test_a_plan_error_fails_after_the_probe_only(iis_app_pools, ps_ok):
    action, replay = iis_app_pools({"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": SVC})
    replay.queue(ps_ok(MISSING_SVC))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == f"{FQCN}: pools[0] ('KeyfactorPortal'): a password is needed to create the pool with a user account (not a gMSA)"


def test_iis_not_installed_fails_outside_check_mode(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL)
    replay.queue(ps_ok(NOT_INSTALLED))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert result["msg"].startswith(f"{FQCN}: IIS is not installed on the host; install the Web-Server feature first")


def test_a_failed_apply_returns_what_the_host_reported_as_applied(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL_AS_SVC)
    replay.queue(ps_ok(SVC_PASSWORD_DIFFERS), failure_result("Cannot recycle application pool 'KeyfactorPortal'", "System.InvalidOperationException",
                                                             result={"applied": [{"pool": "KeyfactorPortal", "action": "update", "runtime": []}]}))
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["applied"] == [{"pool": "KeyfactorPortal", "action": "update", "runtime": []}]


# --- check mode ----------------------------------------------------------------------------------


def test_check_mode_probes_only_and_reports_the_change(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL, check_mode=True)
    replay.queue(ps_ok(MISSING))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is True
    assert result["changes"]["KeyfactorPortal"][0] == "created"


def test_check_mode_without_iis_warns_and_reports_the_pools_as_created(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL, check_mode=True)
    replay.queue(ps_ok(NOT_INSTALLED))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert not result.get("failed")
    assert result["warnings"] == ["IIS is not installed yet; in check mode every pool is reported as to be created"]
    assert result["changed"] is True


def test_check_mode_with_diff_shows_the_new_pool(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL, check_mode=True, diff=True)
    replay.queue(ps_ok(MISSING))
    result = action.run(task_vars={})
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["KeyfactorPortal"]["state"] == "started"


# --- accounts, names and bounds ----------------------------------------------------------------------------------


def test_the_probe_resolves_the_usernames_of_the_pools(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL_AS_SVC)
    replay.queue(ps_ok(SVC_PASSWORD_DIFFERS), ps_ok(APPLIED, changed=True))
    action.run(task_vars={})
    assert replay.calls[0]["module_args"]["parameters"] == {"Mode": "probe", "Names": ["KeyfactorPortal"], "Accounts": [SVC]}


def test_a_username_that_does_not_resolve_fails_after_the_probe_without_an_apply(iis_app_pools, ps_ok):
    action, replay = iis_app_pools(PORTAL_AS_SVC)
    replay.queue(ps_ok(probed([{"input": SVC, "sid": None, "name": None,
                                "error": "Some or all identity references could not be translated."}],
                              KeyfactorPortal={"exists": False})))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert (result["failed"], result["changed"]) == (True, False)
    assert result["msg"] == (f"{FQCN}: pools[0] ('KeyfactorPortal'): username 'CONTOSO\\\\svc_keyfactor' does not resolve to an "
                             "account on the host (Some or all identity references could not be translated.); no "
                             "application pool was changed")


@pytest.mark.parametrize("pool", [
    {"name": "Keyfactor/Portal"},
    {"name": "K" * 65},
    {"name": "KeyfactorPortal", "periodic_restart_minutes": 71583},
    {"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": "S-1-5-20"},
    {"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": "NT AUTHORITY\\NETWORK SERVICE"},
    {"name": "KeyfactorPortal", "started": False, "auto_start": True},
    {"name": "KeyfactorPortal", "state": "absent", "identity_type": "NetworkService", "password": PASSWORD},
], ids=["name with a slash", "name too long", "restart interval too long", "SID as username", "built-in account as username",
        "auto_start against started", "identity of an absent pool"])
def test_what_iis_or_windows_refuses_fails_before_touching_the_host(iis_app_pools, pool):
    action, replay = iis_app_pools(pool)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert (result["failed"], result["changed"]) == (True, False)
    assert result["msg"].startswith(f"{FQCN}: pools[0] (")
    assert PASSWORD not in json.dumps(result)
