"""The simulator's model of the iis_app_pools payload, driven through its win_powershell stand-in as the action drives it."""

from __future__ import annotations

import copy
import json
import pathlib

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._iis_app_pools_spec import POOL_OPTIONS
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._iis_app_pools import plan
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import Secret
from winsim import iis, models, win_powershell
from winsim.errors import HostError, IdentityNotMapped
from winsim.host import Host
from winsim.manifest import ModuleInvocation
from winsim.passwords import hash_password, password_matches
from winsim.state import complete

REPO = pathlib.Path(__file__).resolve().parents[3]
PAYLOAD = (REPO / "plugins" / "plugin_utils" / "_powershell" / "iis_app_pools.ps1").read_text(encoding="utf-8")
PASSWORD = "Sup3r-Secret!Pa55"
OTHER_PASSWORD = "An0ther-Secret!Pa55"
SVC = "CONTOSO\\svc_keyfactor"
IIS_IUSRS = "S-1-5-32-568"
DEFAULT_SETTINGS = {"managed_runtime_version": "v4.0", "pipeline_mode": "Integrated", "load_user_profile": True,
                    "start_mode": "OnDemand", "auto_start": True, "enable_32bit": False}

models.load_all()


def make_host(pools: dict | None = None, *, iis_installed: bool = True, accounts: list | None = None) -> Host:
    """A fresh domain-joined server with CONTOSO\\svc_keyfactor, optionally IIS, and the given pools.

    With IIS, BUILTIN\\IIS_IUSRS holds the batch logon right and the impersonation privilege, as IIS setup grants them.
    """
    state: dict = {"domain": {"accounts": accounts or [{"name": "svc_keyfactor", "type": "user"}]}}
    if iis_installed:
        state["features"] = {"Web-Server": {"installed": True}}
    complete(state, "KF01")
    if iis_installed:
        for right in ("SeBatchLogonRight", "SeImpersonatePrivilege"):
            state["user_rights"].setdefault(right, []).append(IIS_IUSRS)
    for name, settings in (pools or {}).items():
        iis.new_pool(state, name, **settings)
    return Host(state)


def run_payload(host: Host, parameters: dict, *, passwords: dict | None = None, check_mode: bool = False, fault: dict | None = None) -> dict:
    """One win_powershell run of the real payload text, with the arguments the action plugin sends."""
    args: dict = {"script": PAYLOAD, "parameters": parameters, "depth": 8, "error_action": "stop", "_ansible_check_mode": check_mode}
    if passwords:
        args["sensitive_parameters"] = [Secret(value=json.dumps(passwords)).as_sensitive_parameter("Passwords")]
    invocation = ModuleInvocation(name="ansible.windows.win_powershell", args=args, script="", become=False)
    return win_powershell.run(host, invocation, fault)


def probe(host: Host, *names: str, passwords: dict | None = None, accounts: list | None = None) -> dict:
    parameters = {"Mode": "probe", "Names": list(names)}
    if accounts:
        parameters["Accounts"] = accounts
    return run_payload(host, parameters, passwords=passwords)


def apply(host: Host, *operations: dict, passwords: dict | None = None, check_mode: bool = False, fault: dict | None = None) -> dict:
    return run_payload(host, {"Mode": "apply", "Operations": list(operations)}, passwords=passwords, check_mode=check_mode, fault=fault)


def operation(pool: str, action: str = "update", *, settings: dict | None = None, identity: dict | None = None,
              run_state: str | None = None, recycle: bool = False) -> dict:
    if action == "remove":
        return {"pool": pool, "action": "remove"}
    return {"pool": pool, "action": action, "settings": settings or {}, "identity": identity, "run_state": run_state, "recycle": recycle}


def plan_pool(name: str, **options) -> dict:
    """One entry of the module's ``pools`` as its argument spec returns it."""
    entry = {key: spec.get("default") for key, spec in POOL_OPTIONS.items()}
    entry.update(name=name, **options)
    return entry


def pools_of(host: Host) -> dict:
    return host.state["iis"]["app_pools"]


def message_of(result: dict) -> str:
    return result["error"][0]["exception"]["message"]


# --- probe ----------------------------------------------------------------------------------------


def test_probe_without_web_server_reports_iis_not_installed():
    result = probe(make_host(iis_installed=False), "KeyfactorPortal")
    assert not result.get("failed")
    assert result["changed"] is False
    assert result["result"]["iis_installed"] is False
    assert result["result"]["pools"] == {}
    assert "Microsoft.Web.Administration" in result["result"]["error"]


def test_probe_with_web_server_reports_an_existing_pool():
    result = probe(make_host({"KeyfactorPortal": {"enable_32bit": True}}), "KeyfactorPortal")
    assert result["changed"] is False
    assert result["result"] == {"iis_installed": True, "accounts": [], "pools": {"KeyfactorPortal": {
        "exists": True, "name": "KeyfactorPortal", "state": "Started", "identity_type": "ApplicationPoolIdentity", "username": "",
        "sid": None, "password_set": False, "password_matches": None, "managed_runtime_version": "v4.0",
        "pipeline_mode": "Integrated", "load_user_profile": True, "start_mode": "OnDemand", "auto_start": True,
        "enable_32bit": True, "idle_timeout_minutes": 20, "periodic_restart_minutes": 1740,
        "disallow_rotation_on_config_change": False,
    }}}


def test_probe_reports_a_missing_pool_as_not_existing():
    assert probe(make_host(), "KeyfactorPortal")["result"]["pools"] == {"KeyfactorPortal": {"exists": False}}


def test_probe_finds_a_pool_regardless_of_case_under_the_requested_name():
    pools = probe(make_host({"KeyfactorPortal": {}}), "keyfactorportal")["result"]["pools"]
    assert list(pools) == ["keyfactorportal"]
    assert pools["keyfactorportal"]["name"] == "KeyfactorPortal"


def test_probe_reports_password_matches_true_for_the_configured_password():
    host = make_host({"KeyfactorPortal": {"identity_type": "SpecificUser", "username": SVC, "password_sha256": hash_password(PASSWORD)}})
    info = probe(host, "KeyfactorPortal", passwords={"KeyfactorPortal": PASSWORD})["result"]["pools"]["KeyfactorPortal"]
    assert (info["password_set"], info["password_matches"]) == (True, True)


def test_probe_reports_password_matches_false_for_another_password():
    host = make_host({"KeyfactorPortal": {"identity_type": "SpecificUser", "username": SVC, "password_sha256": hash_password(OTHER_PASSWORD)}})
    info = probe(host, "KeyfactorPortal", passwords={"KeyfactorPortal": PASSWORD})["result"]["pools"]["KeyfactorPortal"]
    assert (info["password_set"], info["password_matches"]) == (True, False)


def test_probe_reports_password_matches_none_without_a_desired_password():
    host = make_host({"KeyfactorPortal": {"identity_type": "SpecificUser", "username": SVC, "password_sha256": hash_password(PASSWORD)}})
    info = probe(host, "KeyfactorPortal")["result"]["pools"]["KeyfactorPortal"]
    assert (info["password_set"], info["password_matches"]) == (True, None)


def test_probe_compares_the_password_of_a_pool_requested_in_another_case():
    host = make_host({"KeyfactorPortal": {"identity_type": "SpecificUser", "username": SVC, "password_sha256": hash_password(PASSWORD)}})
    info = probe(host, "KEYFACTORPORTAL", passwords={"KEYFACTORPORTAL": PASSWORD})["result"]["pools"]["KEYFACTORPORTAL"]
    assert info["password_matches"] is True


def test_probe_never_returns_the_password_or_its_digest():
    digest = hash_password(PASSWORD)
    host = make_host({"KeyfactorPortal": {"identity_type": "SpecificUser", "username": SVC, "password_sha256": digest}})
    result = probe(host, "KeyfactorPortal", passwords={"KeyfactorPortal": PASSWORD})
    assert PASSWORD not in json.dumps(result)
    assert digest not in json.dumps(result)


def test_probe_changes_nothing():
    host = make_host({"KeyfactorPortal": {"state": "Stopped"}})
    before = copy.deepcopy(host.state)
    probe(host, "KeyfactorPortal", "KeyfactorApi", passwords={"KeyfactorApi": PASSWORD})
    assert host.state == before


# --- apply: configuration --------------------------------------------------------------------------


def test_create_adds_the_pool_with_its_settings_and_identity():
    host = make_host()
    result = apply(host, operation("KeyfactorPortal", "create", settings=dict(DEFAULT_SETTINGS, managed_runtime_version=""),
                                   identity={"type": "SpecificUser", "username": SVC, "password": "set"}),
                   passwords={"KeyfactorPortal": PASSWORD})
    assert not result.get("failed")
    assert result["changed"] is True
    created = pools_of(host)["KeyfactorPortal"]
    assert (created["managed_runtime_version"], created["identity_type"], created["username"]) == ("", "SpecificUser", SVC)
    assert password_matches(created["password_sha256"], PASSWORD)


def test_create_of_a_pool_with_auto_start_leaves_it_started():
    host = make_host()
    result = apply(host, operation("KeyfactorPortal", "create", settings=DEFAULT_SETTINGS, run_state="start"))
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Started"
    assert result["result"]["applied"] == [{"pool": "KeyfactorPortal", "action": "create", "runtime": []}]


def test_update_changes_only_the_given_settings():
    host = make_host({"KeyfactorPortal": {"idle_timeout_minutes": 20}})
    before = copy.deepcopy(pools_of(host)["KeyfactorPortal"])
    apply(host, operation("KeyfactorPortal", settings={"enable_32bit": True, "idle_timeout_minutes": 0}))
    # WAS rotates the running pool's worker process on the configuration change: one restart, no other difference.
    assert pools_of(host)["KeyfactorPortal"] == dict(before, enable_32bit=True, idle_timeout_minutes=0, recycles=1)


def test_update_to_a_built_in_identity_clears_username_and_password():
    host = make_host({"KeyfactorPortal": {"identity_type": "SpecificUser", "username": SVC, "password_sha256": hash_password(PASSWORD)}})
    apply(host, operation("KeyfactorPortal", identity={"type": "NetworkService", "username": None, "password": "keep"}))
    updated = pools_of(host)["KeyfactorPortal"]
    assert (updated["identity_type"], updated["username"], updated["password_sha256"]) == ("NetworkService", "", "")


def test_update_with_password_clear_removes_the_stored_password():
    gmsa = "CONTOSO\\gmsa_keyfactor$"
    host = make_host({"KeyfactorPortal": {"identity_type": "SpecificUser", "username": gmsa, "password_sha256": hash_password(PASSWORD)}})
    apply(host, operation("KeyfactorPortal", identity={"type": "SpecificUser", "username": gmsa, "password": "clear"}))
    assert pools_of(host)["KeyfactorPortal"]["password_sha256"] == ""


def test_update_with_password_keep_keeps_the_stored_password():
    digest = hash_password(PASSWORD)
    host = make_host({"KeyfactorPortal": {"identity_type": "SpecificUser", "username": "CONTOSO\\svc_old", "password_sha256": digest}})
    apply(host, operation("KeyfactorPortal", identity={"type": "SpecificUser", "username": SVC, "password": "keep"}))
    assert (pools_of(host)["KeyfactorPortal"]["username"], pools_of(host)["KeyfactorPortal"]["password_sha256"]) == (SVC, digest)


def test_remove_deletes_the_pool():
    host = make_host({"KeyfactorPortal": {}, "DefaultAppPool": {}})
    result = apply(host, operation("defaultapppool", "remove"))
    assert list(pools_of(host)) == ["KeyfactorPortal"]
    assert result["result"]["applied"] == [{"pool": "defaultapppool", "action": "remove", "runtime": []}]


def test_create_of_an_existing_pool_fails_naming_it():
    result = apply(make_host({"KeyfactorPortal": {}}), operation("KeyfactorPortal", "create", settings=DEFAULT_SETTINGS))
    assert result["failed"] is True
    assert "'KeyfactorPortal'" in message_of(result)


def test_create_of_an_existing_pool_leaves_the_configuration_unchanged():
    host = make_host({"KeyfactorPortal": {}})
    before = copy.deepcopy(host.state)
    result = apply(host,
                   operation("KeyfactorApi", "create", settings=DEFAULT_SETTINGS),
                   operation("DefaultAppPool", "create", settings=DEFAULT_SETTINGS),
                   operation("keyfactorportal", "create", settings=DEFAULT_SETTINGS))
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["result"] == {"applied": []}
    assert host.state == before


def test_an_update_of_a_missing_pool_fails_and_changes_nothing():
    host = make_host({"KeyfactorPortal": {}})
    before = copy.deepcopy(host.state)
    result = apply(host, operation("KeyfactorPortal", settings={"enable_32bit": True}), operation("KeyfactorApi", settings={"enable_32bit": True}))
    assert result["failed"] is True
    assert "'KeyfactorApi'" in message_of(result)
    assert host.state == before


def test_apply_without_web_server_fails_saying_iis_is_not_installed():
    result = apply(make_host(iis_installed=False), operation("KeyfactorPortal", "create", settings=DEFAULT_SETTINGS))
    assert result["failed"] is True
    assert message_of(result).startswith("IIS (the Web-Server feature) is not installed: Microsoft.Web.Administration cannot "
                                         "be loaded: Could not load file or assembly 'Microsoft.Web.Administration")


# --- apply: runtime ---------------------------------------------------------------------------------


def test_stop_stops_a_started_pool():
    host = make_host({"KeyfactorPortal": {"state": "Started"}})
    result = apply(host, operation("KeyfactorPortal", run_state="stop"))
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Stopped"
    assert result["result"]["applied"] == [{"pool": "KeyfactorPortal", "action": "update", "runtime": ["stop"]}]


def test_start_starts_a_stopped_pool():
    host = make_host({"KeyfactorPortal": {"state": "Stopped"}})
    result = apply(host, operation("KeyfactorPortal", run_state="start"))
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Started"
    assert result["result"]["applied"][0]["runtime"] == ["start"]


def test_start_of_a_started_pool_does_nothing():
    host = make_host({"KeyfactorPortal": {"state": "Started"}})
    result = apply(host, operation("KeyfactorPortal", run_state="start"))
    assert result["result"]["applied"][0]["runtime"] == []


def test_recycle_recycles_a_started_pool():
    host = make_host({"KeyfactorPortal": {"state": "Started"}})
    result = apply(host, operation("KeyfactorPortal", recycle=True))
    assert pools_of(host)["KeyfactorPortal"]["recycles"] == 1
    assert result["result"]["applied"][0]["runtime"] == ["recycle"]


def test_recycle_skips_a_stopped_pool():
    host = make_host({"KeyfactorPortal": {"state": "Stopped"}})
    result = apply(host, operation("KeyfactorPortal", recycle=True))
    assert pools_of(host)["KeyfactorPortal"]["recycles"] == 0
    assert result["result"]["applied"][0]["runtime"] == []


def test_recycle_after_a_stop_in_the_same_operation_is_skipped():
    host = make_host({"KeyfactorPortal": {"state": "Started"}})
    result = apply(host, operation("KeyfactorPortal", run_state="stop", recycle=True))
    assert pools_of(host)["KeyfactorPortal"]["recycles"] == 0
    assert result["result"]["applied"][0]["runtime"] == ["stop"]


# --- check mode ----------------------------------------------------------------------------------


def test_check_mode_apply_changes_nothing():
    host = make_host({"KeyfactorPortal": {"state": "Started"}, "DefaultAppPool": {}})
    before = copy.deepcopy(host.state)
    result = apply(host,
                   operation("KeyfactorApi", "create", settings=DEFAULT_SETTINGS, run_state="start"),
                   operation("KeyfactorPortal", settings={"enable_32bit": True}, run_state="stop", recycle=True),
                   operation("DefaultAppPool", "remove"),
                   check_mode=True)
    assert not result.get("failed")
    assert result["changed"] is False
    assert host.state == before


def test_check_mode_apply_reports_nothing_applied():
    result = apply(make_host(), operation("KeyfactorApi", "create", settings=DEFAULT_SETTINGS), check_mode=True)
    assert result["result"] == {"applied": []}


# --- the password -------------------------------------------------------------------------------


def test_a_set_password_is_stored_only_as_a_digest():
    host = make_host()
    apply(host, operation("KeyfactorPortal", "create", settings=DEFAULT_SETTINGS, identity={"type": "SpecificUser", "username": SVC, "password": "set"}),
          passwords={"KeyfactorPortal": PASSWORD})
    assert PASSWORD not in json.dumps(host.state)
    assert password_matches(pools_of(host)["KeyfactorPortal"]["password_sha256"], PASSWORD)


def test_a_set_password_is_not_in_the_result():
    host = make_host({"KeyfactorPortal": {"identity_type": "SpecificUser", "username": SVC, "password_sha256": hash_password(OTHER_PASSWORD)}})
    result = apply(host, operation("KeyfactorPortal", identity={"type": "SpecificUser", "username": SVC, "password": "set"}, recycle=True),
                   passwords={"KeyfactorPortal": PASSWORD})
    assert not result.get("failed")
    assert PASSWORD not in json.dumps(result)


def test_password_set_without_a_supplied_password_fails_and_changes_nothing():
    host = make_host({"KeyfactorPortal": {}})
    before = copy.deepcopy(host.state)
    result = apply(host, operation("KeyfactorPortal", identity={"type": "SpecificUser", "username": SVC, "password": "set"}),
                   passwords={"KeyfactorApi": PASSWORD})
    assert result["failed"] is True
    assert "'KeyfactorPortal'" in message_of(result)
    assert host.state == before


# --- an apply that fails part way ---------------------------------------------------------------

# The commit is the first step of an apply, and each pool's runtime actions one more: two steps is the commit and
# the first pool's stop.
FAULT_AFTER_FIRST = {"after_operations": 2, "error": "The object identifier does not represent a valid object. (Exception from HRESULT: 0x800710D8)",
                     "type": "System.Runtime.InteropServices.COMException"}
TWO_STOPS = (operation("KeyfactorPortal", settings={"enable_32bit": True}, run_state="stop"),
             operation("KeyfactorApi", settings={"enable_32bit": True}, run_state="stop"))


def two_started_pools() -> Host:
    return make_host({"KeyfactorPortal": {"state": "Started"}, "KeyfactorApi": {"state": "Started"}})


def test_a_fault_after_the_first_operation_fails_the_apply_with_its_message():
    result = apply(two_started_pools(), *TWO_STOPS, fault=FAULT_AFTER_FIRST)
    assert result["failed"] is True
    assert result["changed"] is True
    assert message_of(result) == FAULT_AFTER_FIRST["error"]


def test_a_fault_after_the_first_operation_keeps_both_committed_configurations():
    host = two_started_pools()
    apply(host, *TWO_STOPS, fault=FAULT_AFTER_FIRST)
    assert [pools_of(host)[name]["enable_32bit"] for name in ("KeyfactorPortal", "KeyfactorApi")] == [True, True]


def test_a_fault_after_the_first_operation_performs_only_the_first_runtime_action():
    host = two_started_pools()
    apply(host, *TWO_STOPS, fault=FAULT_AFTER_FIRST)
    assert [pools_of(host)[name]["state"] for name in ("KeyfactorPortal", "KeyfactorApi")] == ["Stopped", "Started"]


def test_a_fault_after_the_first_operation_reports_its_runtime_action_as_applied():
    result = apply(two_started_pools(), *TWO_STOPS, fault=FAULT_AFTER_FIRST)
    assert result["result"]["applied"][0] == {"pool": "KeyfactorPortal", "action": "update", "runtime": ["stop"]}


def test_a_fault_after_the_first_operation_still_reports_the_second_committed_pool():
    result = apply(two_started_pools(), *TWO_STOPS, fault=FAULT_AFTER_FIRST)
    assert result["result"]["applied"] == [
        {"pool": "KeyfactorPortal", "action": "update", "runtime": ["stop"]},
        {"pool": "KeyfactorApi", "action": "update", "runtime": []},
    ]


# --- the commit, then the runtime: a fault between them -------------------------------------------------------------


def test_a_fault_right_after_the_commit_keeps_the_configuration_and_skips_every_start_and_stop():
    host = two_started_pools()
    result = apply(host, *TWO_STOPS, fault=dict(FAULT_AFTER_FIRST, after_operations=1))
    assert result["failed"] is True
    assert [(pools_of(host)[name]["enable_32bit"], pools_of(host)[name]["state"]) for name in ("KeyfactorPortal", "KeyfactorApi")] == [
        (True, "Started"), (True, "Started")]
    assert result["result"]["applied"] == [{"pool": "KeyfactorPortal", "action": "update", "runtime": []},
                                           {"pool": "KeyfactorApi", "action": "update", "runtime": []}]


def test_a_fault_right_after_the_commit_converges_when_the_plan_runs_again():
    host = make_host({"KeyfactorPortal": {"state": "Stopped", "auto_start": False}})
    pools = [plan_pool("KeyfactorPortal", enable_32bit=True)]
    first = plan(pools, probe(host, "KeyfactorPortal")["result"], check_mode=False)
    assert first.operations[0]["run_state"] == "start"
    failed = apply(host, *first.operations, fault=dict(FAULT_AFTER_FIRST, after_operations=1))
    assert failed["failed"] is True
    assert (pools_of(host)["KeyfactorPortal"]["enable_32bit"], pools_of(host)["KeyfactorPortal"]["state"]) == (True, "Stopped")

    second = plan(pools, probe(host, "KeyfactorPortal")["result"], check_mode=False)
    assert [(op["settings"], op["run_state"]) for op in second.operations] == [({}, "start")]
    assert not apply(host, *second.operations).get("failed")
    assert plan(pools, probe(host, "KeyfactorPortal")["result"], check_mode=False).operations == []
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Started"


# --- WAS: autoStart, IISRESET, Starting and Stopping -------------------------------------------------------------


def test_a_pool_stopped_with_auto_start_off_stays_stopped_after_iisreset():
    host = make_host({"KeyfactorPortal": {}})
    apply(host, operation("KeyfactorPortal", settings={"auto_start": False}, run_state="stop"))
    iis.restart_was(host.state)
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Stopped"


def test_a_pool_stopped_with_auto_start_on_runs_again_after_iisreset():
    host = make_host({"KeyfactorPortal": {}})
    apply(host, operation("KeyfactorPortal", run_state="stop"))
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Stopped"
    iis.restart_was(host.state)
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Started"


def test_start_leaves_the_pool_starting_until_was_has_started_it():
    pool = iis.new_pool(make_host().state, "KeyfactorPortal", state="Stopped")
    assert iis.start(pool) == "Starting"
    assert [iis.read_state(pool) for _read in range(iis.SETTLE_READS + 1)] == ["Starting"] * iis.SETTLE_READS + ["Started"]


def test_probe_reports_a_pool_on_its_way_and_then_where_it_arrived():
    host = make_host({"KeyfactorPortal": {"state": "Starting", "settle_reads": 1}})
    assert probe(host, "KeyfactorPortal")["result"]["pools"]["KeyfactorPortal"]["state"] == "Starting"
    assert probe(host, "KeyfactorPortal")["result"]["pools"]["KeyfactorPortal"]["state"] == "Started"


def test_start_of_a_starting_pool_waits_for_it_and_does_not_start_it_again():
    host = make_host({"KeyfactorPortal": {"state": "Starting", "settle_reads": 3}})
    result = apply(host, operation("KeyfactorPortal", run_state="start"))
    assert not result.get("failed"), message_of(result)
    assert result["result"]["applied"] == [{"pool": "KeyfactorPortal", "action": "update", "runtime": []}]
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Started"


def test_stop_of_a_stopping_pool_waits_for_it_and_does_not_stop_it_again():
    host = make_host({"KeyfactorPortal": {"state": "Stopping", "settle_reads": 3}})
    result = apply(host, operation("KeyfactorPortal", run_state="stop"))
    assert result["result"]["applied"] == [{"pool": "KeyfactorPortal", "action": "update", "runtime": []}]
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Stopped"


def test_start_of_a_stopping_pool_waits_until_it_has_stopped_then_starts_it():
    host = make_host({"KeyfactorPortal": {"state": "Stopping", "settle_reads": 3}})
    result = apply(host, operation("KeyfactorPortal", run_state="start"))
    assert not result.get("failed"), message_of(result)
    assert result["result"]["applied"][0]["runtime"] == ["start"]
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Started"


def test_windows_refuses_to_start_a_pool_that_is_still_stopping():
    pool = iis.new_pool(make_host().state, "KeyfactorPortal", state="Stopping", settle_reads=1)
    with pytest.raises(HostError, match="0x80070425"):
        iis.start(pool)


def test_start_does_not_log_the_identity_on():
    # WAS logs a SpecificUser identity on when the first worker process starts, for an OnDemand pool at the first
    # request: an account that no longer exists does not stop Start().
    host = make_host({"KeyfactorPortal": {"state": "Stopped", "identity_type": "SpecificUser", "username": "CONTOSO\\gone",
                                          "password_sha256": hash_password(PASSWORD)}})
    result = apply(host, operation("KeyfactorPortal", run_state="start"))
    assert not result.get("failed"), message_of(result)
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Started"


def test_a_configuration_change_rotates_a_running_pools_worker_process_once():
    host = make_host({"KeyfactorPortal": {}})
    apply(host, operation("KeyfactorPortal", identity={"type": "NetworkService", "username": None, "password": "keep"}))
    assert pools_of(host)["KeyfactorPortal"]["recycles"] == 1


def test_no_rotation_on_a_configuration_change_when_iis_is_told_not_to():
    host = make_host({"KeyfactorPortal": {"disallow_rotation_on_config_change": True}})
    apply(host, operation("KeyfactorPortal", identity={"type": "NetworkService", "username": None, "password": "keep"}))
    assert pools_of(host)["KeyfactorPortal"]["recycles"] == 0


# --- names ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Keyfactor/Portal", "Keyfactor&Api", "[Portal]", "a@b", ""])
def test_create_of_a_pool_whose_name_iis_refuses_fails_and_changes_nothing(name):
    host = make_host()
    before = copy.deepcopy(host.state)
    result = apply(host, operation(name or "x", "create", settings=DEFAULT_SETTINGS) if name else
                   {"pool": "", "action": "create", "settings": DEFAULT_SETTINGS, "identity": None, "run_state": None,
                    "recycle": False})
    assert result["failed"] is True
    assert host.state == before


def test_a_pool_with_a_name_longer_than_was_takes_is_never_started():
    host = make_host()
    name = "K" * (iis.MAX_WAS_NAME_LENGTH + 1)
    result = apply(host, operation(name, "create", settings=DEFAULT_SETTINGS, run_state="start"))
    assert result["failed"] is True
    assert "0x800710D8" in message_of(result)
    assert pools_of(host)[name]["state"] == "Stopped"


# --- what the payload refuses, the model refuses -------------------------------------------------------------------


@pytest.mark.parametrize("bad", [
    {"pool": "KeyfactorPortal", "action": "rename", "settings": {}, "identity": None, "run_state": None, "recycle": False},
    {"pool": "KeyfactorPortal", "action": "update", "settings": {"queue_length": 10}, "identity": None, "run_state": None,
     "recycle": False},
    {"pool": "KeyfactorPortal", "action": "update", "settings": {"idle_timeout_minutes": "5"}, "identity": None,
     "run_state": None, "recycle": False},
    {"pool": "KeyfactorPortal", "action": "update", "settings": {}, "identity": None, "run_state": "restart", "recycle": False},
    {"pool": "KeyfactorPortal", "action": "update", "settings": {},
     "identity": {"type": "NetworkService", "username": SVC, "password": "keep"}, "run_state": None,
     "recycle": False},
    {"pool": "KeyfactorPortal", "action": "remove", "settings": {"enable_32bit": True}},
], ids=["unknown action", "unknown setting", "minutes as text", "unknown run state", "username for a built-in identity",
        "removal with settings"])
def test_an_operation_the_payload_refuses_fails_before_any_change(bad):
    host = make_host({"KeyfactorPortal": {}})
    before = copy.deepcopy(host.state)
    result = apply(host, operation("KeyfactorApi", "create", settings=DEFAULT_SETTINGS), bad)
    assert result["failed"] is True
    assert message_of(result).startswith("Invalid operation #1 ")
    assert host.state == before


def test_check_mode_refuses_an_invalid_operation_before_it_declines_the_rest():
    result = apply(make_host({"KeyfactorPortal": {}}), {"pool": "KeyfactorPortal", "action": "rename"}, check_mode=True)
    assert result["failed"] is True
    assert "action must be 'create', 'update' or 'remove'" in message_of(result)


def test_check_mode_refuses_to_create_a_pool_that_exists():
    result = apply(make_host({"KeyfactorPortal": {}}), operation("keyfactorportal", "create", settings=DEFAULT_SETTINGS),
                   check_mode=True)
    assert result["failed"] is True
    assert "IIS already has a pool named 'KeyfactorPortal'" in message_of(result)


def test_an_account_that_does_not_resolve_fails_before_any_change():
    host = make_host()
    before = copy.deepcopy(host.state)
    result = apply(host, operation("KeyfactorPortal", "create", settings=DEFAULT_SETTINGS,
                                   identity={"type": "SpecificUser", "username": "CONTOSO\\svc_typo", "password": "set"}),
                   passwords={"KeyfactorPortal": PASSWORD})
    assert result["failed"] is True
    assert "'CONTOSO\\svc_typo' given as its username does not resolve" in message_of(result)
    assert host.state == before


# --- the logon check before the commit ------------------------------------------------------------------------------

LOCAL_SVC = {"name": "kfpool", "type": "user"}


def local_account_host(password: str = PASSWORD, **account) -> Host:
    host = make_host()
    host.state["local_accounts"].append(dict(LOCAL_SVC, sid=f"{host.state['host']['machine_sid']}-1001",
                                             password_sha256=hash_password(password), **account))
    return host


def create_as(username: str) -> dict:
    return operation("KeyfactorPortal", "create", settings=DEFAULT_SETTINGS, run_state="start",
                     identity={"type": "SpecificUser", "username": username, "password": "set"})


def test_a_wrong_password_fails_before_the_commit_naming_the_pool_and_the_account():
    host = local_account_host(OTHER_PASSWORD)
    before = copy.deepcopy(host.state)
    result = apply(host, create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD})
    assert result["failed"] is True
    assert result["error"][0]["exception"]["type"] == "System.ComponentModel.Win32Exception"
    assert message_of(result) == (
        "Application pool 'KeyfactorPortal': the account 'KF01\\kfpool' given as its username cannot log on with the "
        "password given for it, as WAS would log it on: the user name or password is incorrect (ERROR_LOGON_FAILURE) "
        "(Win32 error 1326). No application pool was changed.")
    assert PASSWORD not in json.dumps(result) and OTHER_PASSWORD not in json.dumps(result)
    assert host.state == before


def test_a_disabled_account_fails_before_the_commit():
    result = apply(local_account_host(account_disabled=True), create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD})
    assert "(Win32 error 1331)" in message_of(result)


def test_the_right_password_and_iis_iusrs_batch_logon_pass():
    host = local_account_host()
    result = apply(host, create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD})
    assert not result.get("failed"), message_of(result)
    assert pools_of(host)["KeyfactorPortal"]["state"] == "Started"


def test_without_the_batch_logon_right_anywhere_the_create_fails_before_the_commit():
    host = local_account_host()
    host.state["user_rights"]["SeBatchLogonRight"].remove(IIS_IUSRS)
    result = apply(host, create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD})
    assert result["failed"] is True
    assert "(Win32 error 1385)" in message_of(result) and "'SeBatchLogonRight'" in message_of(result)
    assert "KeyfactorPortal" not in (host.state.get("iis") or {}).get("app_pools", {})


def test_the_batch_logon_right_of_the_account_itself_passes():
    host = local_account_host()
    host.state["user_rights"]["SeBatchLogonRight"] = [f"{host.state['host']['machine_sid']}-1001"]
    assert not apply(host, create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD}).get("failed")


def test_iis_iusrs_does_not_count_when_the_pool_manages_its_groups_itself():
    host = local_account_host()
    host.state["iis"] = {"app_pools": {"KeyfactorPortal": dict(iis.POOL_DEFAULTS, name="KeyfactorPortal",
                                                               manual_group_membership=True)}}
    result = apply(host, operation("KeyfactorPortal",
                                   identity={"type": "SpecificUser", "username": ".\\kfpool", "password": "set"}),
                   passwords={"KeyfactorPortal": PASSWORD})
    assert "(Win32 error 1385)" in message_of(result)


def test_a_deny_of_batch_logon_wins_over_iis_iusrs():
    host = local_account_host()
    host.state["user_rights"]["SeDenyBatchLogonRight"] = [f"{host.state['host']['machine_sid']}-1001"]
    assert "(Win32 error 1385)" in message_of(apply(host, create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD}))


def _local_sid(host: Host) -> str:
    return f"{host.state['host']['machine_sid']}-1001"


def test_a_deny_held_by_a_local_group_of_the_account_refuses_it_although_iis_iusrs_grants_the_right():
    # CIS denies batch logon to Guests; a deny right overrides the grant, whichever group of the token holds it.
    host = local_account_host()
    host.state["local_groups"]["S-1-5-32-546"].append(_local_sid(host))
    host.state["user_rights"]["SeDenyBatchLogonRight"] = ["S-1-5-32-546"]
    result = apply(host, create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD})
    assert result["failed"] is True
    assert "(Win32 error 1385)" in message_of(result)
    assert "KeyfactorPortal" not in (host.state.get("iis") or {}).get("app_pools", {})


def test_a_deny_held_by_a_domain_group_of_the_account_refuses_it_although_iis_iusrs_grants_the_right():
    # The DISA STIG denies batch logon to Domain Admins.
    host = make_host(accounts=[{"name": "svc_keyfactor", "type": "user", "member_of": ["Domain Admins"]}])
    host.state["user_rights"]["SeDenyBatchLogonRight"] = [f"{host.state['domain']['sid']}-512"]
    result = apply(host, create_as(SVC), passwords={"KeyfactorPortal": PASSWORD})
    assert result["failed"] is True
    assert "(Win32 error 1385)" in message_of(result)
    assert "KeyfactorPortal" not in (host.state.get("iis") or {}).get("app_pools", {})


def test_a_deny_held_by_iis_iusrs_refuses_an_account_that_holds_the_right_itself():
    # LogonUser succeeds, but WAS adds IIS_IUSRS to the token, and its denial wins.
    host = local_account_host()
    host.state["user_rights"]["SeBatchLogonRight"].append(_local_sid(host))
    host.state["user_rights"]["SeDenyBatchLogonRight"] = [IIS_IUSRS]
    result = apply(host, create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD})
    assert result["failed"] is True
    assert "(Win32 error 1385)" in message_of(result)
    assert "or it, one of its groups or BUILTIN\\IIS_IUSRS is denied that logon ('SeDenyBatchLogonRight')" in message_of(result)


def test_a_deny_held_by_iis_iusrs_does_not_count_when_the_pool_manages_its_groups_itself():
    host = local_account_host()
    host.state["user_rights"]["SeBatchLogonRight"].append(_local_sid(host))
    host.state["user_rights"]["SeDenyBatchLogonRight"] = [IIS_IUSRS]
    host.state["iis"] = {"app_pools": {"KeyfactorPortal": dict(iis.POOL_DEFAULTS, name="KeyfactorPortal",
                                                               manual_group_membership=True)}}
    result = apply(host, operation("KeyfactorPortal",
                                   identity={"type": "SpecificUser", "username": ".\\kfpool", "password": "set"}),
                   passwords={"KeyfactorPortal": PASSWORD})
    assert not result.get("failed"), message_of(result)


def test_the_refusal_of_a_pool_that_manages_its_groups_itself_does_not_count_iis_iusrs():
    host = local_account_host()
    host.state["iis"] = {"app_pools": {"KeyfactorPortal": dict(iis.POOL_DEFAULTS, name="KeyfactorPortal",
                                                               manual_group_membership=True)}}
    result = apply(host, operation("KeyfactorPortal",
                                   identity={"type": "SpecificUser", "username": ".\\kfpool", "password": "set"}),
                   passwords={"KeyfactorPortal": PASSWORD})
    assert ("it is not granted 'SeBatchLogonRight' (itself or through its groups; BUILTIN\\IIS_IUSRS does not count, as "
            "the pool's processModel.manualGroupMembership is true), or it or one of its groups is denied that logon "
            "('SeDenyBatchLogonRight') (ERROR_LOGON_TYPE_NOT_GRANTED)") in message_of(result)


def test_an_account_that_may_not_log_on_from_the_network_passes_with_a_warning_that_its_groups_were_not_read():
    # Security baselines deny network logon to local accounts ("Local account", S-1-5-113) on member servers.
    host = local_account_host()
    host.state["user_rights"]["SeDenyNetworkLogonRight"] = ["S-1-5-113"]
    result = apply(host, create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD})
    assert not result.get("failed"), message_of(result)
    assert result["warning"] == [
        "Application pool 'KeyfactorPortal': the account 'KF01\\kfpool' is not allowed to log on from the network, so its "
        "groups could not be read, and whether one of them is denied 'SeDenyBatchLogonRight' was not checked. If one "
        "is, WAS will refuse the account at the pool's first request (events 5021, 5057)."]
    assert PASSWORD not in json.dumps(result)


def test_an_account_whose_groups_cannot_be_read_is_still_refused_for_its_own_denial():
    host = local_account_host()
    host.state["user_rights"]["SeDenyNetworkLogonRight"] = ["S-1-5-113"]
    host.state["user_rights"]["SeDenyBatchLogonRight"] = [_local_sid(host)]
    assert "(Win32 error 1385)" in message_of(apply(host, create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD}))


def test_an_account_whose_groups_are_read_passes_without_a_warning():
    result = apply(local_account_host(), create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD})
    assert not result.get("failed") and result["warning"] == []


def test_check_mode_logs_no_account_on_so_a_wrong_password_is_not_tried():
    # Under -WhatIf ShouldProcess declines every change, and a logon would still be audited and count towards the
    # account's lockout.
    host = local_account_host(OTHER_PASSWORD)
    before = copy.deepcopy(host.state)
    result = apply(host, create_as(".\\kfpool"), passwords={"KeyfactorPortal": PASSWORD}, check_mode=True)
    assert not result.get("failed"), message_of(result)
    assert host.state == before


def test_a_gmsa_is_not_logged_on():
    host = make_host(accounts=[{"name": "gmsa_kf$", "type": "user", "password_sha256": hash_password(OTHER_PASSWORD)}])
    result = apply(host, operation("KeyfactorPortal", "create", settings=DEFAULT_SETTINGS, run_state="start",
                                   identity={"type": "SpecificUser", "username": "CONTOSO\\gmsa_kf$", "password": "clear"}))
    assert not result.get("failed"), message_of(result)


def test_a_domain_account_with_a_known_password_is_checked():
    host = make_host(accounts=[{"name": "svc_keyfactor", "type": "user", "password_sha256": hash_password(OTHER_PASSWORD)}])
    result = apply(host, create_as(SVC), passwords={"KeyfactorPortal": PASSWORD})
    assert "(Win32 error 1326)" in message_of(result)


# --- accounts --------------------------------------------------------------------------------------------------------


def test_probe_resolves_each_account_to_a_sid_or_windows_message():
    host = make_host()
    accounts = probe(host, "KeyfactorPortal", accounts=[SVC, "svc_keyfactor@contoso.com", "CONTOSO\\typo"])["result"]["accounts"]
    sid = host.directory.resolve(SVC).sid
    assert [(a["input"], a["sid"]) for a in accounts] == [(SVC, sid), ("svc_keyfactor@contoso.com", sid), ("CONTOSO\\typo", None)]
    assert accounts[2]["error"] == "Some or all identity references could not be translated."


def test_probe_reports_the_sid_of_the_pools_account():
    host = make_host({"KeyfactorPortal": {"identity_type": "SpecificUser", "username": "svc_keyfactor@contoso.com"}})
    assert probe(host, "KeyfactorPortal")["result"]["pools"]["KeyfactorPortal"]["sid"] == host.directory.resolve(SVC).sid


def test_an_isolated_name_is_not_looked_up_among_the_application_pool_identities():
    host = make_host({"kfpool": {}})
    assert host.directory.resolve("IIS APPPOOL\\kfpool").sid == iis.app_pool_identity_sid("kfpool")
    with pytest.raises(IdentityNotMapped):
        host.directory.resolve("kfpool")


def test_was_finishes_a_start_by_the_next_round_trip_however_few_reads_there_were():
    pool = iis.new_pool(make_host().state, "KeyfactorPortal", state="Stopped")
    iis.start(pool, now=7)
    assert iis.read_state(pool, now=7) == "Starting"
    assert iis.read_state(pool, now=8) == "Started"
    assert "since_round_trip" not in pool and "settle_reads" not in pool


def test_a_configuration_iis_cannot_open_fails_the_probe_and_is_not_reported_as_iis_missing():
    host = make_host({"KeyfactorPortal": {}})
    message = ("Filename: \\\\?\\C:\\Windows\\system32\\inetsrv\\config\\applicationHost.config\r\nLine number: 12\r\n"
               "Error: Configuration file is not well-formed XML")
    host.state["iis"]["configuration_error"] = message
    result = probe(host, "KeyfactorPortal")
    assert result["failed"] is True
    assert message_of(result) == ("Cannot load or open the IIS configuration (Microsoft.Web.Administration.ServerManager): "
                                  + message)
    assert apply(host, operation("KeyfactorPortal", settings={"enable_32bit": True}))["failed"] is True
