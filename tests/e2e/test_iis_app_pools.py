"""pkiops.keyfactor_command.iis_app_pools end to end on simulated hosts."""

from __future__ import annotations

import copy
import json

from conftest import TEST_PLAYBOOKS
from winsim import iis
from winsim.passwords import hash_password
from winsim.state import complete

PLAYBOOK = TEST_PLAYBOOKS / "iis_app_pools.yml"
HOST = "kf-web01.contoso.com"
PASSWORD = "Svc!Keyfactor-2026#a"
NEW_PASSWORD = "Svc!Keyfactor-2026#b"
IIS_IUSRS = "S-1-5-32-568"


def _iis_setup_rights() -> dict:
    """A member server's user rights after IIS setup, which grants IIS_IUSRS batch logon and impersonation."""
    rights = complete({}, "KF-WEB01")["user_rights"]
    for right in ("SeBatchLogonRight", "SeImpersonatePrivilege"):
        rights.setdefault(right, []).append(IIS_IUSRS)
    return rights


SEED = {"features": {"Web-Server": {"installed": True}}, "user_rights": _iis_setup_rights(),
        "domain": {"accounts": [{"name": "svc_keyfactor", "type": "user"}, {"name": "gmsa_kf$", "type": "user"}]}}


def _pools(password=PASSWORD):
    user = {"identity_type": "SpecificUser", "username": "CONTOSO\\svc_keyfactor", "password": password}
    return [
        dict(user, name="KeyfactorPortal"),
        dict(user, name="KeyfactorLogi"),
        dict(user, name="KeyfactorApi", start_mode="AlwaysRunning"),
        {"name": "KeyfactorOrchestratorsApi", "identity_type": "SpecificUser", "username": "CONTOSO\\gmsa_kf$"},
        {"name": "KeyfactorStatic", "managed_runtime_version": "no_managed_code", "started": False},
    ]


def _pool(lab, name):
    return next(p for k, p in lab.state(HOST)["iis"]["app_pools"].items() if k.lower() == name.lower())


def _result(run):
    ((_task, result),) = run.task_results(HOST)
    return result


def test_check_mode_then_converge_then_one_round_trip_for_every_pool(lab):
    lab.add_host(HOST, seed=SEED)
    before = lab.windows_state(HOST)
    check = lab.run(PLAYBOOK, check=True, diff=True, extra_vars={"test_pools": _pools()})
    assert check.returncode == 0, check.stdout
    assert check.changed(HOST) == 1
    assert set(_result(check)["changes"]) == {p["name"] for p in _pools()}
    assert lab.windows_state(HOST) == before

    converge = lab.run(PLAYBOOK, extra_vars={"test_pools": _pools()})
    assert converge.changed(HOST) == 1
    portal = _pool(lab, "KeyfactorPortal")
    assert (portal["identity_type"], portal["username"], portal["state"]) == ("SpecificUser", "CONTOSO\\svc_keyfactor", "Started")
    assert portal["load_user_profile"] is True and portal["managed_runtime_version"] == "v4.0"
    assert _pool(lab, "KeyfactorApi")["start_mode"] == "AlwaysRunning"
    gmsa = _pool(lab, "KeyfactorOrchestratorsApi")
    assert gmsa["username"] == "CONTOSO\\gmsa_kf$" and gmsa["password_sha256"] == ""
    static = _pool(lab, "KeyfactorStatic")
    assert (static["managed_runtime_version"], static["state"]) == ("", "Stopped")

    trips = lab.round_trips(HOST)
    again = lab.run(PLAYBOOK, extra_vars={"test_pools": _pools()})
    assert again.changed(HOST) == 0
    assert lab.round_trips(HOST) - trips == 1, "a steady-state task costs one round trip however many pools it manages"


def test_a_changed_password_is_detected_shown_as_a_marker_and_then_settles(lab):
    lab.add_host(HOST, seed=SEED)
    lab.run(PLAYBOOK, extra_vars={"test_pools": _pools()})
    recycles = _pool(lab, "KeyfactorPortal")["recycles"]

    changed = lab.run(PLAYBOOK, "-vvvv", diff=True, extra_vars={"test_pools": _pools(NEW_PASSWORD)})
    result = _result(changed)
    assert result["changed"] is True
    # WAS restarts the worker process on the configuration change; the module does not recycle it a second time.
    assert result["changes"]["KeyfactorPortal"] == ["password"]
    assert result["diff"]["before"]["KeyfactorPortal"]["password"] == "(hidden, unchanged)"
    assert result["diff"]["after"]["KeyfactorPortal"]["password"] == "(hidden, changed)"
    assert _pool(lab, "KeyfactorPortal")["recycles"] == recycles + 1

    settled = lab.run(PLAYBOOK, extra_vars={"test_pools": _pools(NEW_PASSWORD)})
    assert settled.changed(HOST) == 0
    for text in (changed.stdout, changed.stderr, json.dumps(changed.report), json.dumps(lab.state(HOST))):
        assert PASSWORD not in text and NEW_PASSWORD not in text


def test_changing_a_running_pools_identity_restarts_its_worker_process_once(lab):
    lab.add_host(HOST, seed=SEED)
    lab.run(PLAYBOOK, extra_vars={"test_pools": [{"name": "KeyfactorPortal"}]})
    assert _pool(lab, "KeyfactorPortal")["recycles"] == 0
    run = lab.run(PLAYBOOK, extra_vars={"test_pools": [{"name": "KeyfactorPortal", "identity_type": "NetworkService"}]})
    # WAS rotates the worker process on the configuration change; the module adds no recycle of its own.
    assert _result(run)["changes"] == {"KeyfactorPortal": ["identity"]}
    assert _pool(lab, "KeyfactorPortal")["recycles"] == 1


def test_a_pool_that_does_not_rotate_on_a_change_is_recycled_once(lab):
    seed = dict(SEED, iis={"app_pools": {"KeyfactorPortal": dict(iis.POOL_DEFAULTS, name="KeyfactorPortal",
                                                                 disallow_rotation_on_config_change=True)}})
    lab.add_host(HOST, seed=seed)
    run = lab.run(PLAYBOOK, extra_vars={"test_pools": [{"name": "KeyfactorPortal", "identity_type": "NetworkService"}]})
    assert _result(run)["changes"] == {"KeyfactorPortal": ["identity", "recycled"]}
    assert _pool(lab, "KeyfactorPortal")["recycles"] == 1


def test_absent_removes_only_the_listed_pool(lab):
    lab.add_host(HOST, seed=SEED)
    lab.run(PLAYBOOK, extra_vars={"test_pools": [{"name": "A"}, {"name": "B"}]})
    run = lab.run(PLAYBOOK, extra_vars={"test_pools": [{"name": "a", "state": "absent"}]})
    assert _result(run)["changes"] == {"a": ["removed"]}
    assert set(lab.state(HOST)["iis"]["app_pools"]) == {"B"}


def test_bad_combinations_fail_before_touching_the_host(lab):
    lab.add_host(HOST, seed=SEED)
    cases = [
        ([{"name": "P", "identity_type": "SpecificUser"}], "username"),
        ([{"name": "P", "identity_type": "NetworkService", "password": PASSWORD}], "password is only used with identity_type SpecificUser"),
        ([{"name": "P", "identity_type": "SpecificUser", "username": "CONTOSO\\gmsa_kf$", "password": PASSWORD}],
         "group managed service account, which has no password"),
        ([{"name": "P"}, {"name": "p"}], "also listed as pools[0]"),
        ([{"name": "P", "pipeline_mode": "integrated-ish"}], "pipeline_mode"),
    ]
    for pools, expected in cases:
        run = lab.run(PLAYBOOK, extra_vars={"test_pools": pools})
        (message,) = run.failure_messages(HOST)
        assert message.startswith("pkiops.keyfactor_command.iis_app_pools: ") and expected in message, message
        assert PASSWORD not in run.stdout + run.stderr
    assert lab.round_trips(HOST) == 0


def test_a_new_user_account_pool_needs_a_password(lab):
    lab.add_host(HOST, seed=SEED)
    run = lab.run(PLAYBOOK, extra_vars={"test_pools": [{"name": "P", "identity_type": "SpecificUser", "username": "CONTOSO\\svc_keyfactor"}]})
    (message,) = run.failure_messages(HOST)
    assert "a password is needed to create the pool" in message
    assert "iis" not in lab.windows_state(HOST) or not lab.state(HOST)["iis"]["app_pools"]


def test_without_iis_it_fails_clearly_but_check_mode_predicts(lab):
    lab.add_host(HOST, seed={})
    check = lab.run(PLAYBOOK, check=True, extra_vars={"test_pools": [{"name": "P"}]})
    result = _result(check)
    assert result["changed"] is True
    assert any("IIS is not installed yet" in w for w in result.get("warnings", []))
    run = lab.run(PLAYBOOK, extra_vars={"test_pools": [{"name": "P"}]})
    (message,) = run.failure_messages(HOST)
    assert "IIS is not installed on the host; install the Web-Server feature first" in message


def _iisreset(lab, host: str) -> None:
    """IISRESET (or a reboot) on the simulated host, between two runs."""
    path = lab.root / f"{host}.json"
    state = json.loads(path.read_text())
    iis.restart_was(state)
    path.write_text(json.dumps(state, indent=2, sort_keys=True))


def test_a_stopped_pool_stays_stopped_after_iisreset_and_the_next_run_changes_nothing(lab):
    lab.add_host(HOST, seed=SEED)
    pools = [{"name": "KeyfactorStatic", "started": False}, {"name": "KeyfactorPortal"}]
    first = lab.run(PLAYBOOK, diff=True, extra_vars={"test_pools": pools})
    assert first.changed(HOST) == 1
    assert _pool(lab, "KeyfactorStatic")["auto_start"] is False

    _iisreset(lab, HOST)
    assert (_pool(lab, "KeyfactorStatic")["state"], _pool(lab, "KeyfactorPortal")["state"]) == ("Stopped", "Started")
    again = lab.run(PLAYBOOK, extra_vars={"test_pools": pools})
    assert again.changed(HOST) == 0


def test_stopping_a_running_pool_turns_its_auto_start_off_and_shows_it(lab):
    lab.add_host(HOST, seed=SEED)
    lab.run(PLAYBOOK, extra_vars={"test_pools": [{"name": "KeyfactorPortal"}]})
    run = lab.run(PLAYBOOK, diff=True, extra_vars={"test_pools": [{"name": "KeyfactorPortal", "started": False}]})
    result = _result(run)
    assert result["changes"] == {"KeyfactorPortal": ["auto_start", "stopped"]}
    assert (result["diff"]["before"]["KeyfactorPortal"]["auto_start"], result["diff"]["after"]["KeyfactorPortal"]["auto_start"]) == (
        True, False)
    _iisreset(lab, HOST)
    assert lab.run(PLAYBOOK, extra_vars={"test_pools": [{"name": "KeyfactorPortal", "started": False}]}).changed(HOST) == 0


def test_a_misspelt_username_fails_before_any_pool_is_created(lab):
    lab.add_host(HOST, seed=SEED)
    pools = _pools()
    pools[1] = dict(pools[1], username="CONTOSO\\svc_keyfactr")
    run = lab.run(PLAYBOOK, extra_vars={"test_pools": pools})
    (message,) = run.failure_messages(HOST)
    assert message == ("pkiops.keyfactor_command.iis_app_pools: pools[1] ('KeyfactorLogi'): username 'CONTOSO\\\\svc_keyfactr' "
                       "does not resolve to an account on the host (Some or all identity references could not be "
                       "translated.); no application pool was changed")
    assert not (lab.state(HOST).get("iis") or {}).get("app_pools")


def test_a_wrong_password_fails_before_any_pool_is_created_and_names_the_pool(lab):
    seed = copy.deepcopy(SEED)
    seed["domain"]["accounts"][0]["password_sha256"] = hash_password(PASSWORD)
    lab.add_host(HOST, seed=seed)
    run = lab.run(PLAYBOOK, extra_vars={"test_pools": _pools(NEW_PASSWORD)})
    (message,) = run.failure_messages(HOST)
    assert message.startswith("pkiops.keyfactor_command.iis_app_pools: apply failed on the host: Application pool "
                              "'KeyfactorPortal': the account 'CONTOSO\\svc_keyfactor' given as its username cannot log on "
                              "with the password given for it")
    assert "(Win32 error 1326). No application pool was changed." in message
    assert not (lab.state(HOST).get("iis") or {}).get("app_pools")
    assert lab.run(PLAYBOOK, extra_vars={"test_pools": _pools(PASSWORD)}).changed(HOST) == 1


def test_without_batch_logon_anywhere_the_pool_is_not_created(lab):
    seed = copy.deepcopy(SEED)
    seed["user_rights"]["SeBatchLogonRight"].remove(IIS_IUSRS)
    lab.add_host(HOST, seed=seed)
    run = lab.run(PLAYBOOK, extra_vars={"test_pools": _pools()[:1]})
    (message,) = run.failure_messages(HOST)
    assert ("it is not granted 'SeBatchLogonRight' (itself, through its groups or through BUILTIN\\IIS_IUSRS), or it, one "
            "of its groups or BUILTIN\\IIS_IUSRS is denied that logon ('SeDenyBatchLogonRight')") in message
    assert "(Win32 error 1385)" in message
    assert not (lab.state(HOST).get("iis") or {}).get("app_pools")


def test_an_account_whose_group_is_denied_batch_logon_is_refused_although_iis_iusrs_grants_it(lab):
    # Security baselines deny batch logon to Domain Admins; the denial beats IIS_IUSRS's grant when WAS logs on.
    seed = copy.deepcopy(SEED)
    seed["domain"]["accounts"][0]["member_of"] = ["Domain Admins"]
    domain_admins = complete({}, "KF-WEB01")["domain"]["sid"] + "-512"
    seed["user_rights"]["SeDenyBatchLogonRight"] = [domain_admins]
    lab.add_host(HOST, seed=seed)
    run = lab.run(PLAYBOOK, extra_vars={"test_pools": _pools()[:1]})
    (message,) = run.failure_messages(HOST)
    assert "'CONTOSO\\svc_keyfactor' given as its username cannot log on" in message
    assert "(Win32 error 1385)" in message
    assert not (lab.state(HOST).get("iis") or {}).get("app_pools")


def test_a_fault_between_the_commit_and_the_start_converges_on_the_next_run(lab):
    lab.add_host(HOST, seed=SEED)
    pools = [{"name": "KeyfactorPortal", "started": False}]
    lab.run(PLAYBOOK, extra_vars={"test_pools": pools})
    lab.inject_fault(HOST, {"match": {"payload": "iis_app_pools", "mode": "apply"}, "after_operations": 1,
                            "error": "The RPC server is unavailable."})
    pools = [{"name": "KeyfactorPortal", "enable_32bit": True}]
    failed = lab.run(PLAYBOOK, extra_vars={"test_pools": pools})
    assert failed.failures(HOST) == 1
    portal = _pool(lab, "KeyfactorPortal")
    assert (portal["enable_32bit"], portal["auto_start"], portal["state"]) == (True, True, "Stopped")

    again = lab.run(PLAYBOOK, extra_vars={"test_pools": pools})
    assert _result(again)["changes"] == {"KeyfactorPortal": ["started"]}
    assert _pool(lab, "KeyfactorPortal")["state"] == "Started"
    assert lab.run(PLAYBOOK, extra_vars={"test_pools": pools}).changed(HOST) == 0
