"""The shared read: host_snapshot's one run, and a task that plans on it instead of reading the host."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.action.host_snapshot import ActionModule as HostSnapshot
from ansible_collections.pkiops.keyfactor_command.plugins.action.iis_app_pools import ActionModule as IisAppPools
from ansible_collections.pkiops.keyfactor_command.plugins.action.user_rights import ActionModule as UserRights
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _snapshot
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source

SERVICE_ACCOUNT = "CONTOSO\\svc_keyfactor"
SERVICE_SID = "S-1-5-21-1004336348-1177238915-682003330-1105"
RIGHTS = {"rights": {"SeServiceLogonRight": [SERVICE_ACCOUNT]}}
PROBE = {"Rights": ["SeServiceLogonRight"], "Accounts": [SERVICE_ACCOUNT]}
ACCOUNT = {"input": SERVICE_ACCOUNT, "sid": SERVICE_SID, "name": SERVICE_ACCOUNT, "error": None}
GRANTED = {"holders": {"SeServiceLogonRight": [{"sid": SERVICE_SID, "name": SERVICE_ACCOUNT}]}, "accounts": [ACCOUNT]}
NOT_GRANTED = {"holders": {"SeServiceLogonRight": []}, "accounts": [ACCOUNT]}


def registered(current: dict, changes: dict | None = None, module: str = "user_rights", probe: dict | None = None) -> dict:
    """A registered host_snapshot result that read ``current`` for the probe."""
    key = _snapshot.read_key(module, PROBE if probe is None else probe)
    return {"changed": False, "snapshot": {"changes": changes or {}, "reads": {key: {"module": module, "current": current}}},
            "reads": [], "checks": {}}


# --- a task given a snapshot ---------------------------------------------------------------------------------------------


def test_a_met_task_plans_on_the_snapshot_and_makes_no_round_trip(make_action):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(GRANTED)})
    result = action.run(task_vars={})
    assert result["changed"] is False, result
    assert replay.calls == []
    assert "ansible_facts" not in result


def test_a_task_to_change_applies_on_the_snapshot_and_counts_its_change(make_action, ps_ok):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(NOT_GRANTED, {"iis": 2, "user_rights": 4})})
    replay.queue(ps_ok({"applied": [{"right": "SeServiceLogonRight", "action": "add", "sid": SERVICE_SID}]}, changed=True))
    result = action.run(task_vars={"ansible_facts": {_snapshot.CHANGES_FACT: {"iis": 2, "user_rights": 4}}})
    assert result["changed"] is True, result
    assert replay.modes == ["apply"], "one round trip for a change"
    assert result["ansible_facts"] == {_snapshot.CHANGES_FACT: {"iis": 2, "user_rights": 5}}


@pytest.mark.parametrize("why, args, task_vars", [
    ("a change to user rights since the snapshot", {**RIGHTS, "snapshot": registered(GRANTED)},
     {"ansible_facts": {_snapshot.CHANGES_FACT: {"user_rights": 1}}}),
    ("another read than this task's", {"rights": {"SeBatchLogonRight": [SERVICE_ACCOUNT]}, "snapshot": registered(GRANTED)}, {}),
    ("another module's read", {**RIGHTS, "snapshot": registered(GRANTED, module="iis_app_pools")}, {}),
    ("a skipped snapshot task", {**RIGHTS, "snapshot": {"changed": False, "skipped": True}}, {}),
])
def test_the_host_is_read_when_the_snapshot_cannot_answer(make_action, ps_ok, why, args, task_vars):
    del why
    action, replay = make_action(UserRights, args)
    replay.queue(ps_ok(GRANTED if "SeServiceLogonRight" in args["rights"] else
                       {"holders": {"SeBatchLogonRight": [{"sid": SERVICE_SID, "name": SERVICE_ACCOUNT}]}, "accounts": [ACCOUNT]}))
    result = action.run(task_vars=task_vars)
    assert result["changed"] is False, result
    assert replay.modes == ["probe"]


def test_a_change_in_another_domain_leaves_the_read_fresh(make_action):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(GRANTED, {"iis": 1})})
    result = action.run(task_vars={"ansible_facts": {_snapshot.CHANGES_FACT: {"iis": 3, "certificates": 1}}})
    assert result["changed"] is False and replay.calls == []


@pytest.mark.parametrize("attribute, value", [("loop", ["one", "two"]), ("loop_with", "items"),
                                              ("delegate_to", "kf-other.contoso.com")])
def test_a_loop_item_or_a_delegated_task_reads_the_host_itself(make_action, ps_ok, attribute, value):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(GRANTED)})
    setattr(action._task, attribute, value)  # pylint: disable=protected-access
    replay.queue(ps_ok(GRANTED))
    action.run(task_vars={})
    assert replay.modes == ["probe"]


def test_an_apply_that_fails_part_way_still_counts_its_change(make_action, ps_ok, ps_failed):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(NOT_GRANTED)})
    replay.queue(ps_failed("Access is denied"))
    result = action.run(task_vars={})
    assert result["failed"] is True and replay.modes == ["apply"]
    assert result["ansible_facts"] == {_snapshot.CHANGES_FACT: {"user_rights": 1}}


def test_check_mode_counts_nothing(make_action):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(NOT_GRANTED)}, check_mode=True)
    result = action.run(task_vars={})
    assert result["changed"] is True and replay.calls == []
    assert "ansible_facts" not in result


def test_a_plan_the_snapshot_makes_impossible_is_made_again_on_a_fresh_read(make_action, ps_ok):
    unresolved = {"holders": {"SeServiceLogonRight": []},
                  "accounts": [{"input": SERVICE_ACCOUNT, "sid": None, "name": None, "error": "not found"}]}
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": registered(unresolved)})
    # The account was created after the snapshot: the fresh read resolves it.
    replay.queue(ps_ok(GRANTED))
    result = action.run(task_vars={})
    assert result["changed"] is False, result
    assert replay.modes == ["probe"]


def test_a_probe_that_compares_a_secret_never_uses_a_snapshot(make_action, ps_ok):
    pools = {"pools": [{"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": SERVICE_ACCOUNT,
                        "password": "Pool-Pa55word!"}]}
    action, replay = make_action(IisAppPools, {**pools, "snapshot": registered({}, module="iis_app_pools")})
    replay.queue(ps_ok({"iis_installed": False}))
    action.run(task_vars={})
    assert replay.modes == ["probe"]


@pytest.mark.parametrize("value, fragment", [
    ({"changed": False}, "has no 'snapshot'"),
    ({"snapshot": {"reads": []}}, "has no 'snapshot'"),
    ({"snapshot": {"reads": {}, "changes": "none"}}, "has no 'snapshot'"),
])
def test_a_value_that_is_not_a_snapshot_fails_before_the_host_is_read(make_action, value, fragment):
    action, replay = make_action(UserRights, {**RIGHTS, "snapshot": value})
    result = action.run(task_vars={})
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
    result = action.run(task_vars={"ansible_facts": {_snapshot.CHANGES_FACT: {"user_rights": 7}}})
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
    assert result["snapshot"]["changes"] == {"user_rights": 7}
    assert set(result["snapshot"]["reads"]) == {_snapshot.read_key("user_rights", PROBE),
                                                _snapshot.read_key("user_rights", {"Rights": ["SeBatchLogonRight"],
                                                                                   "Accounts": [SERVICE_ACCOUNT]})}


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
    assert list(result["snapshot"]["reads"]) == [_snapshot.read_key("user_rights", PROBE)]


def test_a_read_that_failed_on_the_host_is_not_kept(make_action, ps_ok):
    action, replay = make_action(HostSnapshot, {"reads": [{"module": "user_rights", "options": RIGHTS}]})
    replay.queue(ps_ok({"reads": [{"result": None, "error": "Access is denied"}]}))
    result = action.run(task_vars={})
    assert result["reads"] == [{"module": "user_rights", "met": False, "state": "not read: Access is denied"}]
    assert result["met"] is False
    assert result["snapshot"]["reads"] == {}


def test_a_reading_holding_a_secret_text_is_not_kept(make_action, ps_ok, monkeypatch):
    action, replay = make_action(HostSnapshot, {"reads": [{"module": "user_rights", "options": RIGHTS}]})
    original = action.check_params

    def keep_the_secret(params):
        checked = original(params)
        action._no_log_values.add("1105")  # pylint: disable=protected-access
        return checked

    monkeypatch.setattr(action, "check_params", keep_the_secret)
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


def test_every_module_that_changes_the_host_has_domains():
    assert sorted(_snapshot.DOMAINS) == sorted(_snapshot.READABLE_MODULES)
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._snapshot_spec import READABLE_MODULES
    assert sorted(READABLE_MODULES) == sorted(_snapshot.DOMAINS)


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
