"""pkiops.keyfactor_command.user_rights end to end: ansible-playbook, the action plugin, the payload model."""

from __future__ import annotations

from conftest import TEST_PLAYBOOKS

PLAYBOOK = TEST_PLAYBOOKS / "user_rights.yml"
SEED = {"domain": {"accounts": [{"name": "svc_keyfactor", "type": "user"}]}}
HOST = "kf01.contoso.com"


def _rights(lab):
    return lab.state(HOST)["user_rights"]


def _sid(lab, name):
    return next(a["sid"] for a in lab.state(HOST)["domain"]["accounts"] if a["name"] == name)


def test_check_mode_then_converge_then_steady_state(lab):
    lab.add_host(HOST, seed=SEED)
    wanted = {"test_rights": {"SeServiceLogonRight": ["CONTOSO\\svc_keyfactor"], "SeBatchLogonRight": ["svc_keyfactor@contoso.com"]}}
    before = lab.windows_state(HOST)

    check = lab.run(PLAYBOOK, check=True, diff=True, extra_vars=wanted)
    assert check.returncode == 0, check.stdout
    assert check.changed(HOST) == 1
    assert lab.windows_state(HOST) == before
    assert lab.round_trips(HOST) == 1

    converge = lab.run(PLAYBOOK, extra_vars=wanted)
    assert converge.changed(HOST) == 1
    svc = _sid(lab, "svc_keyfactor")
    assert svc in _rights(lab)["SeServiceLogonRight"]
    assert svc in _rights(lab)["SeBatchLogonRight"]
    assert lab.round_trips(HOST) == 1 + 2

    again = lab.run(PLAYBOOK, extra_vars=wanted)
    assert again.changed(HOST) == 0
    assert lab.round_trips(HOST) == 1 + 2 + 1, "a steady-state task must cost exactly one round trip"


def test_spelling_and_case_of_an_account_never_cause_a_change(lab):
    lab.add_host(HOST, seed=SEED)
    lab.run(PLAYBOOK, extra_vars={"test_rights": {"SeServiceLogonRight": ["CONTOSO\\svc_keyfactor"]}})
    svc = _sid(lab, "svc_keyfactor")
    for spelling in ("contoso\\SVC_KEYFACTOR", "svc_keyfactor@CONTOSO.COM", svc.lower()):
        run = lab.run(PLAYBOOK, extra_vars={"test_rights": {"seservicelogonright": [spelling]}})
        assert run.changed(HOST) == 0, spelling


def test_set_removes_every_other_holder_and_reports_names_and_sids(lab):
    lab.add_host(HOST, seed=SEED)
    run = lab.run(PLAYBOOK, diff=True, extra_vars={"test_rights": {"SeServiceLogonRight": ["CONTOSO\\svc_keyfactor"]}, "test_action": "set"})
    ((task_name, result),) = run.task_results(HOST)
    assert task_name == "Apply the requested user rights"
    changes = result["changes"]["SeServiceLogonRight"]
    assert changes["added"] == [{"name": "CONTOSO\\svc_keyfactor", "sid": _sid(lab, "svc_keyfactor")}]
    assert changes["removed"] == [{"name": "NT SERVICE\\ALL SERVICES", "sid": "S-1-5-80-0"}]
    assert result["diff"]["before"] == {"SeServiceLogonRight": ["NT SERVICE\\ALL SERVICES"]}
    assert result["diff"]["after"] == {"SeServiceLogonRight": ["CONTOSO\\svc_keyfactor"]}
    assert _rights(lab)["SeServiceLogonRight"] == [_sid(lab, "svc_keyfactor")]


def test_remove_revokes_only_the_listed_accounts(lab):
    lab.add_host(HOST, seed=SEED)
    run = lab.run(PLAYBOOK, extra_vars={"test_rights": {"SeBackupPrivilege": ["BUILTIN\\Backup Operators"]}, "test_action": "remove"})
    assert run.changed(HOST) == 1
    assert _rights(lab)["SeBackupPrivilege"] == ["S-1-5-32-544"]


def test_unknown_right_fails_before_touching_the_host(lab):
    lab.add_host(HOST, seed=SEED)
    before = lab.state(HOST)
    run = lab.run(PLAYBOOK, extra_vars={"test_rights": {"SeServiceLogon": ["CONTOSO\\svc_keyfactor"]}})
    assert run.returncode != 0
    (message,) = run.failure_messages(HOST)
    assert message.startswith("pkiops.keyfactor_command.user_rights: rights: 'SeServiceLogon'")
    assert "Did you mean SeServiceLogonRight" in message
    assert lab.state(HOST) == before, "not even a probe may run"


def test_bad_action_fails_naming_the_option_and_choices(lab):
    lab.add_host(HOST, seed=SEED)
    run = lab.run(PLAYBOOK, extra_vars={"test_rights": {"SeServiceLogonRight": []}, "test_action": "replace"})
    (message,) = run.failure_messages(HOST)
    assert "action" in message and "add, remove, set" in message
    assert lab.round_trips(HOST) == 0


def test_unknown_account_fails_with_windows_message_and_changes_nothing(lab):
    lab.add_host(HOST, seed=SEED)
    before = lab.windows_state(HOST)
    run = lab.run(PLAYBOOK, extra_vars={"test_rights": {
        "SeServiceLogonRight": ["CONTOSO\\svc_keyfactor"],
        "SeBatchLogonRight": ["CONTOSO\\no_such_user"],
    }})
    (message,) = run.failure_messages(HOST)
    assert "'CONTOSO\\\\no_such_user'" in message
    assert "Some or all identity references could not be translated." in message
    assert lab.windows_state(HOST) == before
    assert lab.round_trips(HOST) == 1, "only the probe ran"


def test_apply_failing_part_way_converges_on_the_next_run(lab):
    lab.add_host(HOST, seed=SEED)
    lab.inject_fault(HOST, {"match": {"payload": "user_rights", "mode": "apply"}, "after_operations": 1,
                            "error": "Insufficient system resources exist to complete the requested service"})
    wanted = {"test_rights": {"SeServiceLogonRight": ["CONTOSO\\svc_keyfactor"], "SeBatchLogonRight": ["CONTOSO\\svc_keyfactor"]}}
    first = lab.run(PLAYBOOK, extra_vars=wanted)
    (message,) = first.failure_messages(HOST)
    assert message == ("pkiops.keyfactor_command.user_rights: apply failed on the host: "
                       "Insufficient system resources exist to complete the requested service")
    held = [right for right in ("SeServiceLogonRight", "SeBatchLogonRight") if _sid(lab, "svc_keyfactor") in _rights(lab)[right]]
    assert len(held) == 1, "exactly one operation landed before the failure"

    second = lab.run(PLAYBOOK, extra_vars=wanted)
    assert second.changed(HOST) == 1 and second.failures(HOST) == 0
    third = lab.run(PLAYBOOK, extra_vars=wanted)
    assert third.changed(HOST) == 0


def test_probe_is_retried_after_a_connection_failure(lab):
    lab.add_host(HOST, seed=SEED)
    lab.inject_fault(HOST, {"match": {"payload": "user_rights", "mode": "probe"}, "kind": "connection",
                            "error": "connection reset by peer"})
    run = lab.run(PLAYBOOK, extra_vars={"test_rights": {"SeServiceLogonRight": ["NT SERVICE\\ALL SERVICES"]}})
    assert run.failures(HOST) == 0
    assert run.changed(HOST) == 0
    assert lab.round_trips(HOST) == 2


def test_apply_is_not_retried_after_a_connection_failure(lab):
    lab.add_host(HOST, seed=SEED)
    lab.inject_fault(HOST, {"match": {"payload": "user_rights", "mode": "apply"}, "kind": "connection",
                            "error": "connection reset by peer"})
    run = lab.run(PLAYBOOK, extra_vars={"test_rights": {"SeServiceLogonRight": ["CONTOSO\\svc_keyfactor"]}})
    assert run.stats[HOST]["unreachable"] == 1
    assert lab.round_trips(HOST) == 2
    assert _sid(lab, "svc_keyfactor") not in _rights(lab)["SeServiceLogonRight"]
