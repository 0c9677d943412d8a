"""The snapshot: host_snapshot's one run, and a task that plans on it instead of reading the host."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.pkiops.keyfactor_command.plugins.action.host_snapshot import ActionModule as HostSnapshot
from ansible_collections.pkiops.keyfactor_command.plugins.action.iis_app_pools import ActionModule as IisAppPools
from ansible_collections.pkiops.keyfactor_command.plugins.action.user_rights import ActionModule as UserRights
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _host_snapshot, _snapshot
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import Context
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source

SERVICE_ACCOUNT = "CONTOSO\\svc_keyfactor"
SERVICE_SID = "S-1-5-21-1004336348-1177238915-682003330-1105"
RIGHTS = {"rights": {"SeServiceLogonRight": [SERVICE_ACCOUNT]}}
PROBE = {"Rights": ["SeServiceLogonRight"], "Accounts": [SERVICE_ACCOUNT]}
ACCOUNT = {"input": SERVICE_ACCOUNT, "sid": SERVICE_SID, "name": SERVICE_ACCOUNT, "error": None}
GRANTED = {"holders": {"SeServiceLogonRight": [{"sid": SERVICE_SID, "name": SERVICE_ACCOUNT}]}, "accounts": [ACCOUNT]}
NOT_GRANTED = {"holders": {"SeServiceLogonRight": []}, "accounts": [ACCOUNT]}


HOST = "kf01.contoso.com"
AS_CONNECTION_USER = {"become": False}


def registered(current: dict, changes: dict | None = None, module: str = "user_rights", probe: dict | None = None,
               host: str = HOST, runs_as: dict | None = None) -> dict:
    """A registered host_snapshot result that read ``current`` for the probe, on ``host``."""
    key = _snapshot.read_key(module, PROBE if probe is None else probe, runs_as or AS_CONNECTION_USER)
    return {"changed": False, "snapshot": {"host": host, "changes": changes or {},
                                           "reads": {key: {"module": module, "current": current}}},
            "reads": [], "checks": {}, "met": False}


def on_host(**facts) -> dict:
    """task_vars of a task on HOST, with these host facts."""
    return {"inventory_hostname": HOST, "ansible_facts": facts}


# --- a task given a snapshot ---------------------------------------------------------------------------------------------


def test_a_met_task_plans_on_the_snapshot_and_makes_no_round_trip(make_action):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(GRANTED)})
    result = action.run(task_vars=on_host())
    assert result["changed"] is False, result
    assert replay.calls == []
    assert "ansible_facts" not in result


def test_a_task_to_change_applies_on_the_snapshot_and_marks_its_change(make_action, ps_ok):
    marks = {"iis": "a1", "user_rights": "b2"}
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(NOT_GRANTED, marks)})
    replay.queue(ps_ok({"applied": [{"right": "SeServiceLogonRight", "action": "add", "sid": SERVICE_SID}]}, changed=True))
    result = action.run(task_vars=on_host(**{_snapshot.CHANGES_FACT: marks}))
    assert result["changed"] is True, result
    assert replay.modes == ["apply"], "one round trip for a change"
    after = result["ansible_facts"][_snapshot.CHANGES_FACT]
    assert after["iis"] == "a1", "another area's mark is kept"
    assert after["user_rights"] not in ("b2", None), "this area gets a mark it never had"


@pytest.mark.parametrize("why, args, task_vars", [
    ("a change to user rights since the snapshot", {**RIGHTS, "snapshot": registered(GRANTED)},
     on_host(**{_snapshot.CHANGES_FACT: {"user_rights": "c3"}})),
    ("another read than this task's", {"rights": {"SeBatchLogonRight": [SERVICE_ACCOUNT]}, "snapshot": registered(GRANTED)},
     on_host()),
    ("another module's read", {**RIGHTS, "snapshot": registered(GRANTED, module="iis_app_pools")}, on_host()),
    ("a skipped snapshot task", {**RIGHTS, "snapshot": {"changed": False, "skipped": True}}, on_host()),
    ("another host's snapshot", {**RIGHTS, "snapshot": registered(GRANTED, host="kf02.contoso.com")}, on_host()),
    ("a read made as another user", {**RIGHTS, "snapshot": registered(
        GRANTED, runs_as={"become": True, "method": "ansible.builtin.runas", "user": "CONTOSO\\kf_admin"})}, on_host()),
])
def test_the_host_is_read_when_the_snapshot_cannot_answer(make_action, ps_ok, why, args, task_vars):
    del why
    action, replay = make_action(UserRights, args)
    replay.queue(ps_ok(GRANTED if "SeServiceLogonRight" in args["rights"] else
                       {"holders": {"SeBatchLogonRight": [{"sid": SERVICE_SID, "name": SERVICE_ACCOUNT}]}, "accounts": [ACCOUNT]}))
    result = action.run(task_vars=task_vars)
    assert result["changed"] is False, result
    assert replay.modes == ["probe"]


def test_a_change_in_another_area_leaves_the_read_fresh(make_action):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(GRANTED, {"iis": "a1"})})
    result = action.run(task_vars=on_host(**{_snapshot.CHANGES_FACT: {"iis": "d4", "certificates": "e5"}}))
    assert result["changed"] is False and replay.calls == []


def test_no_sequence_of_changes_brings_a_stale_read_back():
    facts = on_host()
    marks = set()
    for _change in range(50):
        facts["ansible_facts"] = _snapshot.marked_change(facts, UserRights.definition.areas)
        marks.add(facts["ansible_facts"][_snapshot.CHANGES_FACT]["user_rights"])
    assert len(marks) == 50


def test_a_delegated_task_reads_the_host_itself(make_action, ps_ok):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(GRANTED)})
    action._task.delegate_to = "kf-other.contoso.com"  # pylint: disable=protected-access
    replay.queue(ps_ok(GRANTED))
    action.run(task_vars=on_host())
    assert replay.modes == ["probe"]


@pytest.mark.parametrize("attribute, value, fragment", [("delegate_to", "kf-other.contoso.com", "cannot be delegated"),
                                                        ("run_once", True, "cannot run once for all hosts")])
def test_a_snapshot_is_refused_delegated_or_once_for_all_hosts(make_action, attribute, value, fragment):
    action, replay = make_action(HostSnapshot, {"reads": [{"module": "user_rights", "options": RIGHTS}]})
    setattr(action._task, attribute, value)  # pylint: disable=protected-access
    result = action.run(task_vars=on_host())
    assert result["failed"] is True and fragment in result["msg"]
    assert replay.calls == []


def test_an_apply_that_fails_part_way_still_reports_its_change_mark(make_action, ps_failed):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(NOT_GRANTED)})
    replay.queue(ps_failed("Access is denied"))
    result = action.run(task_vars=on_host())
    assert result["failed"] is True and replay.modes == ["apply"]
    assert set(result["ansible_facts"][_snapshot.CHANGES_FACT]) == {"user_rights"}


def test_check_mode_counts_nothing(make_action):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(NOT_GRANTED)}, check_mode=True)
    result = action.run(task_vars=on_host())
    assert result["changed"] is True and replay.calls == []
    assert "ansible_facts" not in result


def test_a_plan_the_snapshot_makes_impossible_is_made_again_on_a_fresh_read(make_action, ps_ok):
    unresolved = {"holders": {"SeServiceLogonRight": []},
                  "accounts": [{"input": SERVICE_ACCOUNT, "sid": None, "name": None, "error": "not found"}]}
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(unresolved)})
    # The account was created after the snapshot: the fresh read resolves it.
    replay.queue(ps_ok(GRANTED))
    result = action.run(task_vars=on_host())
    assert result["changed"] is False, result
    assert replay.modes == ["probe"]


def test_a_probe_that_compares_a_secret_never_uses_a_snapshot(make_action, ps_ok):
    pool = {"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": SERVICE_ACCOUNT}
    with_password = {"pools": [{**pool, "password": "Pool-Pa55word!"}]}
    # A snapshot that holds exactly this task's read, under the key its probe parameters give.
    definition = IisAppPools.definition
    validated = ArgumentSpecValidator(definition.argument_spec, **definition.spec_rules).validate(with_password)
    probe = definition.probe_parameters(definition.check_params(validated.validated_parameters, Context()))
    reading = {"iis_installed": True, "pools": {"KeyfactorPortal": {"exists": False}}}
    snapshot = registered(reading, module="iis_app_pools", probe=probe)
    assert _snapshot.lookup(_snapshot.snapshot_of(snapshot), on_host(), "iis_app_pools", probe, AS_CONNECTION_USER,
                            definition.areas) == reading

    action, replay = make_action(IisAppPools, {**with_password, "snapshot": snapshot})
    replay.queue(ps_ok({"iis_installed": False}))
    action.run(task_vars=on_host())
    assert replay.modes == ["probe"], "the password is compared on the host, never taken from a snapshot"


@pytest.mark.parametrize("value, fragment", [
    ({"changed": False}, "has no 'snapshot'"),
    ({"snapshot": {"reads": []}}, "has no 'snapshot'"),
    ({"snapshot": {"reads": {}, "changes": "none", "host": HOST}}, "has no 'snapshot'"),
    ({"snapshot": {"reads": {}, "changes": {}}}, "has no 'snapshot'"),
])
def test_a_value_that_is_not_a_snapshot_fails_before_the_host_is_read(make_action, value, fragment):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": value})
    result = action.run(task_vars=on_host())
    assert result["failed"] is True and fragment in result["msg"] and result["msg"].startswith(
        "pkiops.keyfactor_command.user_rights: snapshot ")
    assert replay.calls == []


# --- host_snapshot ---------------------------------------------------------------------------------------------------------


def test_one_run_reads_every_task_once_with_each_script_sent_once(make_action, ps_ok):
    other = {"rights": {"SeBatchLogonRight": [SERVICE_ACCOUNT]}}
    action, replay = make_action(HostSnapshot, {"reads": [
        {"module": "user_rights", "options": RIGHTS},
        {"module": "user_rights", "options": other},
        {"module": "user_rights", "options": {**RIGHTS, "action": "set"}},  # the same read as the first
    ]})
    batch = {"holders": {"SeBatchLogonRight": []}, "accounts": [ACCOUNT]}
    replay.queue(ps_ok({"reads": [{"result": GRANTED, "error": None}, {"result": batch, "error": None}]}))
    result = action.run(task_vars=on_host(**{_snapshot.CHANGES_FACT: {"user_rights": "f6"}}))
    assert result["changed"] is False, result
    (call,) = replay.calls
    parameters = call["module_args"]["parameters"]
    assert parameters["Mode"] == "probe"
    (encoded,) = parameters["Scripts"].values()
    assert list(parameters["Scripts"]) == ["user_rights"]
    assert gzip.decompress(base64.b64decode(encoded)).decode("utf-8") == payload_source("user_rights")
    assert len(encoded) < len(payload_source("user_rights")) / 2, "the script travels compressed"
    assert parameters["Reads"] == [{"module": "user_rights", "parameters": PROBE},
                                   {"module": "user_rights", "parameters": {"Rights": ["SeBatchLogonRight"], "Accounts": [SERVICE_ACCOUNT]}}]
    assert call["module_args"]["depth"] == 11
    assert [r["state"] for r in result["reads"]] == ["read; nothing to change", "read; to change", "read; nothing to change"]
    assert [r["met"] for r in result["reads"]] == [True, False, True]
    assert result["met"] is False
    assert result["snapshot"]["changes"] == {"user_rights": "f6"}
    assert result["snapshot"]["host"] == HOST
    batch_probe = {"Rights": ["SeBatchLogonRight"], "Accounts": [SERVICE_ACCOUNT]}
    assert set(result["snapshot"]["reads"]) == {_snapshot.read_key("user_rights", PROBE, AS_CONNECTION_USER),
                                                _snapshot.read_key("user_rights", batch_probe, AS_CONNECTION_USER)}


def test_a_read_that_compares_a_secret_is_not_sent_and_not_kept(make_action, ps_ok):
    password = "Pool-Pa55word!"
    pools = {"pools": [{"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": SERVICE_ACCOUNT,
                        "password": password}]}
    reads = [{"module": "iis_app_pools", "options": pools}, {"module": "user_rights", "options": RIGHTS}]
    action, replay = make_action(HostSnapshot, {"reads": reads})
    replay.queue(ps_ok({"reads": [{"result": GRANTED, "error": None}]}))
    result = action.run(task_vars={})
    (call,) = replay.calls
    assert [r["module"] for r in call["module_args"]["parameters"]["Reads"]] == ["user_rights"]
    assert "sensitive_parameters" not in call["module_args"]
    assert password not in json.dumps(call["module_args"]) and password not in json.dumps(result)
    assert result["reads"][0]["state"] == "not read: its probe compares a secret on the host"
    assert list(result["snapshot"]["reads"]) == [_snapshot.read_key("user_rights", PROBE, AS_CONNECTION_USER)]


def test_a_read_that_failed_on_the_host_is_not_kept(make_action, ps_ok):
    action, replay = make_action(HostSnapshot, {"reads": [{"module": "user_rights", "options": RIGHTS}]})
    replay.queue(ps_ok({"reads": [{"result": None, "error": "Access is denied"}]}))
    result = action.run(task_vars={})
    assert result["reads"] == [{"module": "user_rights", "met": False, "state": "not read: Access is denied"}]
    assert result["met"] is False
    assert result["snapshot"]["reads"] == {}


def test_a_reading_holding_a_secret_text_is_not_kept(make_action, ps_ok, monkeypatch):
    action, replay = make_action(HostSnapshot, {"reads": [{"module": "user_rights", "options": RIGHTS}]})
    original = _host_snapshot.HostSnapshot.check_params

    def with_a_secret(definition, params, context):
        # As if a read's options held a secret "1105", which the SID in the reading holds too.
        checked = original(definition, params, context)
        return dict(checked, hidden=checked["hidden"] + ("1105",))

    monkeypatch.setattr(_host_snapshot.HostSnapshot, "check_params", with_a_secret)
    replay.queue(ps_ok({"reads": [{"result": GRANTED, "error": None}]}))
    result = action.run(task_vars={})
    assert result["reads"][0]["state"] == "not kept: it holds text equal to a secret of this task"
    assert result["snapshot"]["reads"] == {}


def test_checks_are_judged_by_name_from_the_same_run(make_action, ps_ok):
    action, replay = make_action(HostSnapshot, {"checks": {
        "services": [{"kind": "service_installed", "service": "CAGateway"}],
        "no_ca": [{"kind": "co_location"}],
    }})
    readiness = {"rights": {"error": None, "holders": {}}, "accounts": [], "groups": {}, "paths": {},
                 "features": {"error": None, "installed": {}}, "iis": {"installed": True, "error": None, "pools": {}},
                 "certificates": [], "registry": [],
                 "cluster": {"error": None, "cluster": None, "roles": {},
                             "services": [{"query": "CAGateway", "found": False}]},
                 "co_location": {"error": None, "services": ["CertSvc"]}}
    replay.queue(ps_ok({"reads": [{"result": readiness, "error": None}]}))
    result = action.run(task_vars={})
    (call,) = replay.calls
    assert call["module_args"]["parameters"]["Reads"][0]["module"] == "readiness_info"
    assert set(call["module_args"]["parameters"]["Scripts"]) == {"readiness_info"}
    assert result["checks"]["services"]["met"] is False
    assert result["checks"]["no_ca"]["met"] is False
    assert result["checks"]["no_ca"]["requirements"][0]["observed"] == "CertSvc"
    assert result["met"] is False


def test_a_bad_read_fails_naming_it_before_the_host_is_read(make_action):
    reads = [{"module": "user_rights", "options": RIGHTS},
             {"module": "user_rights", "options": {"rights": {"SeNoSuchRight": ["x"]}}}]
    action, replay = make_action(HostSnapshot, {"reads": reads})
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["msg"].startswith("pkiops.keyfactor_command.host_snapshot: reads[1] (user_rights): "), result["msg"]
    assert replay.calls == []


def test_every_module_a_snapshot_reads_for_has_areas_and_a_snapshot_option():
    # pylint: disable=import-outside-toplevel
    from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._snapshot_spec import READABLE_MODULES
    from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import definition_of
    for module_name in READABLE_MODULES:
        definition = definition_of(module_name)
        assert definition.areas, module_name
        assert "snapshot" in definition.argument_spec, module_name


def test_met_says_whether_every_read_and_check_needs_nothing(make_action, ps_ok):
    action, replay = make_action(HostSnapshot, {"reads": [{"module": "user_rights", "options": RIGHTS}],
                                                "checks": {"none": []}})
    replay.queue(ps_ok({"reads": [{"result": GRANTED, "error": None},
                                  {"result": {"rights": {}, "accounts": [], "groups": {}, "paths": {}, "features": {},
                                              "iis": {}, "certificates": [], "registry": [], "cluster": {}},
                                   "error": None}]}))
    result = action.run(task_vars={})
    assert result["reads"] == [{"module": "user_rights", "met": True, "state": "read; nothing to change"}]
    assert result["checks"] == {"none": {"met": True, "requirements": []}}
    assert result["met"] is True
