"""pkiops.keyfactor_command.readiness_info through its action plugin: one read, never an apply, the PFX kept on the
controller."""

from __future__ import annotations

import base64
import datetime
import json

import pytest

import pki_fixtures
from ansible_collections.pkiops.keyfactor_command.plugins.action.readiness_info import ActionModule
from plugins.plugin_utils.test_readiness import NS, NS_SID, READ_KEY, SVC, certificate, key_ace, probe

PASSWORD = "Readiness-Pfx-S3cret!"


@pytest.fixture(scope="module", name="pfx_b64")
def fixture_pfx_b64() -> tuple[str, str]:
    """A PFX as pfx_content, and the thumbprint of its certificate."""
    root, issuing = pki_fixtures.chain()
    leaf = pki_fixtures.issue("gateway-encryption.contoso.com", issuer=issuing)
    return base64.b64encode(pki_fixtures.pfx(leaf, PASSWORD, extra=(issuing, root))).decode("ascii"), pki_fixtures.thumbprint(leaf)


def task_args(pfx: str) -> dict:
    return {"requirements": [
        {"kind": "co_location"},
        {"kind": "user_right", "right": "SeServiceLogonRight", "account": SVC, "profile": "services"},
        {"kind": "key_access", "pfx_content": pfx, "pfx_password": PASSWORD, "account": NS, "profile": "gateway_cluster_node"},
        {"kind": "certificate", "pfx_content": pfx, "pfx_password": PASSWORD, "profile": "gateway_cluster_node"},
    ]}


def host_state(thumbprint: str) -> dict:
    return probe(co_location={"error": None, "services": ["MSSQL$MICROSOFT##WID"]},
                 rights={"error": None, "holders": {"SeServiceLogonRight": []}},
                 certificates=[certificate(thumbprint=thumbprint, acl=[key_ace(NS_SID, READ_KEY)],
                                           not_after=(datetime.datetime.now(datetime.timezone.utc)
                                                      + datetime.timedelta(days=200)).isoformat())])


@pytest.mark.parametrize("check_mode, diff", [(False, False), (True, False), (False, True), (True, True)])
def test_the_action_reads_once_and_never_applies(make_action, ps_ok, pfx_b64, check_mode, diff):
    pfx, thumbprint = pfx_b64
    action, replay = make_action(ActionModule, task_args(pfx), check_mode=check_mode, diff=diff)
    replay.queue(ps_ok(host_state(thumbprint)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert not result.get("failed") and result["changed"] is False
    assert [(r["kind"], r["status"]) for r in result["requirements"]] == [
        ("co_location", "pass"), ("user_right", "fail"), ("certificate", "pass"), ("key_access", "pass")]
    assert result["summary"] == {"pass": 3, "fail": 1, "warn": 0} and result["ready"] is False
    assert result["profiles"] == ["common", "gateway_cluster_node", "services"]
    if diff:
        assert result["diff"]["before"] == result["diff"]["after"] == {r["id"]: r["status"] for r in result["requirements"]}
    else:
        assert "diff" not in result


def test_check_mode_and_diff_give_the_same_results(make_action, ps_ok, pfx_b64):
    pfx, thumbprint = pfx_b64
    outcomes = []
    for check_mode, diff in ((False, False), (True, True)):
        action, replay = make_action(ActionModule, task_args(pfx), check_mode=check_mode, diff=diff)
        replay.queue(ps_ok(host_state(thumbprint)))
        outcomes.append(action.run(task_vars={}))
    assert outcomes[0]["requirements"] == outcomes[1]["requirements"]
    assert outcomes[0]["summary"] == outcomes[1]["summary"]


def test_the_pfx_and_its_password_stay_on_the_controller(make_action, ps_ok, pfx_b64):
    pfx, thumbprint = pfx_b64
    action, replay = make_action(ActionModule, task_args(pfx))
    replay.queue(ps_ok(host_state(thumbprint)))
    result = action.run(task_vars={})
    parameters = replay.calls[0]["module_args"]["parameters"]
    assert parameters["Certificates"] == [{"store": "My", "thumbprint": thumbprint}]
    assert parameters["CoLocation"] is True and parameters["Accounts"] == [SVC, NS]
    sent = json.dumps(replay.calls[0]["module_args"])
    assert PASSWORD not in sent and pfx[:64] not in sent and "sensitive_parameters" not in replay.calls[0]["module_args"]
    assert PASSWORD not in json.dumps(result, default=str)


def test_a_probe_in_an_unexpected_shape_fails_the_task(make_action, ps_ok, pfx_b64):
    pfx = pfx_b64[0]
    action, replay = make_action(ActionModule, task_args(pfx))
    replay.queue(ps_ok({"rights": {}}))
    result = action.run(task_vars={})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "pkiops.keyfactor_command.readiness_info: probe returned an unexpected result: no 'accounts' report"
    assert replay.modes == ["probe"]


def test_a_failed_probe_fails_the_task_without_an_apply(make_action, ps_failed):
    action, replay = make_action(ActionModule, {"requirements": [{"kind": "co_location"}]}, check_mode=True)
    replay.queue(ps_failed("Access is denied", changed=False))
    result = action.run(task_vars={})
    assert result["failed"] is True and result["changed"] is False and "Access is denied" in result["msg"]
    assert replay.modes == ["probe"]
