"""The simulator's model of the iis_app_pools payload, driven through its win_powershell stand-in as the action drives it."""

from __future__ import annotations

import copy
import json
import pathlib

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import Secret
from winsim import iis, registry, win_powershell
from winsim.host import Host
from winsim.manifest import ModuleInvocation
from winsim.passwords import hash_password, password_matches
from winsim.state import complete

REPO = pathlib.Path(__file__).resolve().parents[3]
PAYLOAD = (REPO / "plugins" / "plugin_utils" / "_powershell" / "iis_app_pools.ps1").read_text(encoding="utf-8")
PASSWORD = "Sup3r-Secret!Pa55"
OTHER_PASSWORD = "An0ther-Secret!Pa55"
SVC = "CONTOSO\\svc_keyfactor"
DEFAULT_SETTINGS = {"managed_runtime_version": "v4.0", "pipeline_mode": "Integrated", "load_user_profile": True,
                    "start_mode": "OnDemand", "auto_start": True, "enable_32bit": False}

registry.load_all()


def make_host(pools: dict | None = None, *, iis_installed: bool = True) -> Host:
    """A fresh domain-joined server with CONTOSO\\svc_keyfactor, optionally IIS, and the given pools."""
    state: dict = {"domain": {"accounts": [{"name": "svc_keyfactor", "type": "user"}]}}
    if iis_installed:
        state["features"] = {"Web-Server": {"installed": True}}
    complete(state, "KF01")
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


def probe(host: Host, *names: str, passwords: dict | None = None) -> dict:
    return run_payload(host, {"Mode": "probe", "Names": list(names)}, passwords=passwords)


def apply(host: Host, *operations: dict, passwords: dict | None = None, check_mode: bool = False, fault: dict | None = None) -> dict:
    return run_payload(host, {"Mode": "apply", "Operations": list(operations)}, passwords=passwords, check_mode=check_mode, fault=fault)


def operation(pool: str, action: str = "update", *, settings: dict | None = None, identity: dict | None = None,
              run_state: str | None = None, recycle: bool = False) -> dict:
    if action == "remove":
        return {"pool": pool, "action": "remove"}
    return {"pool": pool, "action": action, "settings": settings or {}, "identity": identity, "run_state": run_state, "recycle": recycle}


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
    assert result["result"] == {"iis_installed": True, "pools": {"KeyfactorPortal": {
        "exists": True, "name": "KeyfactorPortal", "state": "Started", "identity_type": "ApplicationPoolIdentity", "username": "",
        "password_set": False, "password_matches": None, "managed_runtime_version": "v4.0", "pipeline_mode": "Integrated",
        "load_user_profile": True, "start_mode": "OnDemand", "auto_start": True, "enable_32bit": True,
        "idle_timeout_minutes": 20, "periodic_restart_minutes": 1740,
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
    assert pools_of(host)["KeyfactorPortal"] == dict(before, enable_32bit=True, idle_timeout_minutes=0)


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


def test_apply_without_web_server_fails_as_a_missing_assembly():
    result = apply(make_host(iis_installed=False), operation("KeyfactorPortal", "create", settings=DEFAULT_SETTINGS))
    assert result["failed"] is True
    assert result["error"][0]["exception"]["type"] == "System.IO.FileNotFoundException"


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

FAULT_AFTER_FIRST = {"after_operations": 1, "error": "The object identifier does not represent a valid object. (Exception from HRESULT: 0x800710D8)",
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
