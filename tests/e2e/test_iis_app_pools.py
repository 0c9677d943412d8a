"""pkiops.keyfactor_command.iis_app_pools end to end on simulated hosts."""

from __future__ import annotations

import json

from conftest import TEST_PLAYBOOKS

PLAYBOOK = TEST_PLAYBOOKS / "iis_app_pools.yml"
HOST = "kf-web01.contoso.com"
PASSWORD = "Svc!Keyfactor-2026#a"
NEW_PASSWORD = "Svc!Keyfactor-2026#b"
SEED = {"features": {"Web-Server": {"installed": True}},
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
    assert result["changes"]["KeyfactorPortal"] == ["password", "recycled"]
    assert result["diff"]["before"]["KeyfactorPortal"]["password"] == "(hidden, unchanged)"
    assert result["diff"]["after"]["KeyfactorPortal"]["password"] == "(hidden, changed)"
    assert _pool(lab, "KeyfactorPortal")["recycles"] == recycles + 1

    settled = lab.run(PLAYBOOK, extra_vars={"test_pools": _pools(NEW_PASSWORD)})
    assert settled.changed(HOST) == 0
    for text in (changed.stdout, changed.stderr, json.dumps(changed.report), json.dumps(lab.state(HOST))):
        assert PASSWORD not in text and NEW_PASSWORD not in text


def test_changing_a_running_pools_identity_recycles_it(lab):
    lab.add_host(HOST, seed=SEED)
    lab.run(PLAYBOOK, extra_vars={"test_pools": [{"name": "KeyfactorPortal"}]})
    assert _pool(lab, "KeyfactorPortal")["recycles"] == 0
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
