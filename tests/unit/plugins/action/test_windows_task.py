"""The probe → plan → apply cycle every module of the collection runs through WindowsTaskAction, driven by its definition."""

from __future__ import annotations

import base64
import gzip
import json
import pathlib

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.pkiops.keyfactor_command.plugins.action.user_rights import ActionModule
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _payloads
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import Definition, PayloadError, Plan, Secret
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._user_rights import UserRights
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import (
    PAYLOAD_DIR,
    RUNNER,
    WindowsTaskAction,
    payload_source,
    runner_result,
    windows_message,
)

PAYLOAD_DIR_PATH = pathlib.Path(PAYLOAD_DIR)

FQCN = "pkiops.keyfactor_command.user_rights"
NETWORK_SERVICE = {"sid": "S-1-5-20", "name": "NT AUTHORITY\\NETWORK SERVICE"}
ALL_SERVICES = {"sid": "S-1-5-80-0", "name": "NT SERVICE\\ALL SERVICES"}
ARGS = {"rights": {"SeServiceLogonRight": ["NT AUTHORITY\\NETWORK SERVICE"]}}
ACCOUNTS = [{"input": "NT AUTHORITY\\NETWORK SERVICE", "sid": "S-1-5-20", "name": "NT AUTHORITY\\NETWORK SERVICE", "error": None}]
HELD = {"holders": {"SeServiceLogonRight": [ALL_SERVICES, NETWORK_SERVICE]}, "accounts": ACCOUNTS}
NOT_HELD = {"holders": {"SeServiceLogonRight": [ALL_SERVICES]}, "accounts": ACCOUNTS}
APPLIED = {"applied": [{"right": "SeServiceLogonRight", "action": "add", "sid": "S-1-5-20"}]}
PASSWORD = "Sup3r-Secret!Pa55"


@pytest.fixture
def user_rights(make_action):
    """user_rights(args=ARGS, check_mode=False, diff=False) -> (action, replay)."""

    def factory(args=None, **kwargs):
        return make_action(ActionModule, args if args is not None else ARGS, **kwargs)

    return factory


# --- how the payload travels --------------------------------------------------------------


def test_every_run_without_become_goes_through_the_collections_runner(user_rights, ps_ok):
    action, replay = user_rights()
    replay.queue(ps_ok(NOT_HELD), ps_ok(APPLIED, changed=True))
    action.run(task_vars={})
    assert [call["module_name"] for call in replay.calls] == [RUNNER] * 2


def test_a_run_with_become_goes_through_ansible_windows_win_powershell(user_rights, ps_ok):
    action, replay = user_rights()
    action._play_context.become = True  # pylint: disable=protected-access
    replay.queue(ps_ok(NOT_HELD), ps_ok(APPLIED, changed=True))
    action.run(task_vars={"inventory_hostname": "kf01"})
    assert [call["module_name"] for call in replay.calls] == ["ansible.windows.win_powershell"] * 2
    assert replay.calls[0]["task_vars"] == {"inventory_hostname": "kf01"}


def test_the_loader_fits_a_command_line(user_rights, ps_ok):
    action, replay = user_rights()
    replay.queue(ps_ok(HELD))
    action.run(task_vars={})
    # cmd.exe, which runs a WinRM shell's commands, takes at most 8,191 characters.
    assert len(replay.calls[0]["transport"]["command"]) < 8191


def test_the_runner_input_is_ascii_json_after_two_compressed_scripts(user_rights, ps_ok):
    action, replay = user_rights()
    replay.queue(ps_ok(HELD))
    action.run(task_vars={})
    runner, payload, request, secrets = replay.calls[0]["transport"]["input_lines"]
    assert gzip.decompress(base64.b64decode(runner)).decode() == (PAYLOAD_DIR_PATH / "transport" / "runner.ps1").read_text()
    assert gzip.decompress(base64.b64decode(payload)).decode() == payload_source("user_rights")
    assert json.loads(request) == {"Parameters": replay.calls[0]["module_args"]["parameters"], "CheckMode": False,
                                   "Depth": ActionModule.definition.result_depth}
    assert json.loads(secrets) == []


def test_a_runner_answer_without_json_is_a_failure_naming_the_exit_code():
    result = runner_result("", "Exception calling FromBase64String", 1)
    assert result["failed"] is True
    assert "exit code 1" in result["msg"] and "FromBase64String" in result["msg"]
    assert windows_message(result) == result["msg"]


def test_the_runner_answer_is_its_last_json_line():
    assert runner_result('WARNING: x\r\n{"result": {"a": 1}, "changed": false}\r\n', "", 0)["result"] == {"a": 1}


def test_the_script_is_the_payload_with_its_fragments_inlined(user_rights, ps_ok):
    action, replay = user_rights()
    replay.queue(ps_ok(HELD))
    action.run(task_vars={})
    with open(f"{PAYLOAD_DIR}/user_rights.ps1", encoding="utf-8") as handle:
        payload = handle.read()
    with open(f"{PAYLOAD_DIR}/_principals.ps1", encoding="utf-8") as handle:
        fragment = handle.read()
    script = replay.calls[0]["module_args"]["script"]
    assert script.startswith("# pkiops-payload: user_rights\n")
    assert "# pkiops-include:" not in script
    assert fragment.strip() in script
    assert payload.splitlines()[-1] == script.splitlines()[-1]


def test_module_args_ask_for_stop_on_error_and_the_result_depth(user_rights, ps_ok):
    action, replay = user_rights()
    replay.queue(ps_ok(HELD))
    action.run(task_vars={})
    module_args = replay.calls[0]["module_args"]
    assert module_args["error_action"] == "stop"
    assert module_args["depth"] == ActionModule.definition.result_depth
    assert "sensitive_parameters" not in module_args


def test_probe_then_apply_pass_their_mode(user_rights, ps_ok):
    action, replay = user_rights()
    replay.queue(ps_ok(NOT_HELD), ps_ok(APPLIED, changed=True))
    action.run(task_vars={})
    assert replay.modes == ["probe", "apply"]


# --- the cycle ----------------------------------------------------------------------------------


def test_steady_state_probes_once_and_reports_no_change(user_rights, ps_ok):
    action, replay = user_rights()
    replay.queue(ps_ok(HELD))
    result = action.run(task_vars={})
    assert len(replay.calls) == 1
    assert result["changed"] is False
    assert not result.get("failed")


def test_a_change_probes_then_applies_the_planned_operations(user_rights, ps_ok):
    action, replay = user_rights()
    replay.queue(ps_ok(NOT_HELD), ps_ok(APPLIED, changed=True))
    result = action.run(task_vars={})
    assert len(replay.calls) == 2
    assert replay.calls[1]["module_args"]["parameters"]["Operations"] == [{"right": "SeServiceLogonRight", "action": "add", "sid": "S-1-5-20"}]
    assert result["changed"] is True
    assert not result.get("failed")


def test_check_mode_probes_only_and_reports_the_change(user_rights, ps_ok):
    action, replay = user_rights(check_mode=True)
    replay.queue(ps_ok(NOT_HELD))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is True


def test_check_mode_with_diff_shows_the_planned_difference(user_rights, ps_ok):
    action, replay = user_rights(check_mode=True, diff=True)
    replay.queue(ps_ok(NOT_HELD))
    result = action.run(task_vars={})
    assert result["diff"] == {
        "before": {"SeServiceLogonRight": ["NT SERVICE\\ALL SERVICES"]},
        "after": {"SeServiceLogonRight": ["NT AUTHORITY\\NETWORK SERVICE", "NT SERVICE\\ALL SERVICES"]},
    }


def test_no_diff_is_returned_when_diff_mode_is_off(user_rights, ps_ok):
    action, replay = user_rights(check_mode=True, diff=False)
    replay.queue(ps_ok(NOT_HELD))
    assert "diff" not in action.run(task_vars={})


def test_the_plan_result_is_returned(user_rights, ps_ok):
    action, replay = user_rights()
    replay.queue(ps_ok(HELD))
    result = action.run(task_vars={})
    assert result["holders"] == {"SeServiceLogonRight": [{"name": "NT AUTHORITY\\NETWORK SERVICE", "sid": "S-1-5-20"},
                                                         {"name": "NT SERVICE\\ALL SERVICES", "sid": "S-1-5-80-0"}]}


def test_windows_warnings_of_the_probe_reach_the_task_result(user_rights, ps_ok):
    action, replay = user_rights()
    replay.queue(ps_ok(HELD, warnings=("The domain controller is slow to respond.",)))
    result = action.run(task_vars={})
    assert result["warnings"] == ["The domain controller is slow to respond."]


# --- failures -----------------------------------------------------------------------------------


def test_bad_input_fails_before_touching_the_host(user_rights):
    action, replay = user_rights(args={"rights": {"SeServiceLogon": ["S-1-5-20"]}})
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"].startswith(f"{FQCN}: ")
    assert "SeServiceLogonRight" in result["msg"]


def test_an_option_outside_the_argument_spec_fails_before_touching_the_host(user_rights):
    action, replay = user_rights(args={"rights": {"SeServiceLogonRight": []}, "action": "grant"})
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["msg"].startswith(f"{FQCN}: ")
    assert "grant" in result["msg"]


def test_a_failed_probe_reports_the_step_and_windows_message(user_rights, ps_failed):
    action, replay = user_rights()
    replay.queue(ps_failed("Cannot open the local security policy (LsaOpenPolicy, access 2049): Access is denied (NTSTATUS 0xC0000022)",
                           changed=False))
    result = action.run(task_vars={})
    assert len(replay.calls) == 1
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == (f"{FQCN}: probe failed on the host: "
                             "Cannot open the local security policy (LsaOpenPolicy, access 2049): Access is denied (NTSTATUS 0xC0000022)")


def test_a_failed_apply_reports_a_possible_change(user_rights, ps_ok, ps_failed):
    action, replay = user_rights()
    replay.queue(ps_ok(NOT_HELD), ps_failed("Cannot add 'SeServiceLogonRight' (LsaAddAccountRights): Insufficient system resources"))
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["msg"].startswith(f"{FQCN}: apply failed on the host: Cannot add 'SeServiceLogonRight'")


def test_an_unreachable_module_result_is_a_failure(user_rights):
    action, replay = user_rights()
    action._play_context.become = True  # pylint: disable=protected-access
    replay.queue({"unreachable": True, "msg": "ntlm: the specified credentials were rejected by the server"})
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["msg"] == f"{FQCN}: probe failed on the host: ntlm: the specified credentials were rejected by the server"


# --- connection failures -----------------------------------------------------------------------


def test_a_probe_that_loses_the_connection_is_retried_after_a_reset(user_rights, ps_ok, sleeps):
    action, replay = user_rights()
    replay.queue(AnsibleConnectionFailure("winrm: connection reset by peer"), ps_ok(HELD))
    result = action.run(task_vars={})
    assert replay.modes == ["probe", "probe"]
    action._connection.reset.assert_called_once_with()  # pylint: disable=protected-access
    assert sleeps == [ActionModule.probe_retry_delay]
    assert result["changed"] is False
    assert not result.get("failed")


def test_the_probe_gives_up_after_probe_attempts_and_says_so(user_rights, sleeps):
    action, replay = user_rights()
    failures = [AnsibleConnectionFailure(f"winrm: connection reset ({n})") for n in range(ActionModule.probe_attempts)]
    replay.queue(*failures)
    with pytest.raises(AnsibleConnectionFailure) as raised:
        action.run(task_vars={})
    assert raised.value.__cause__ is failures[-1]
    assert str(raised.value).startswith("pkiops.keyfactor_command.user_rights: the connection was lost on all 3 attempts "
                                        "to read the host's state; nothing was changed: winrm: connection reset (2)")
    assert len(replay.calls) == ActionModule.probe_attempts == 3
    assert action._connection.reset.call_count == 2  # pylint: disable=protected-access
    assert sleeps == [2.0, 4.0]


def test_an_apply_that_loses_the_connection_is_not_retried(user_rights, ps_ok, sleeps):
    action, replay = user_rights()
    replay.queue(ps_ok(NOT_HELD), AnsibleConnectionFailure("winrm: connection reset by peer"))
    with pytest.raises(AnsibleConnectionFailure) as raised:
        action.run(task_vars={})
    assert "lost during the change" in str(raised.value) and "winrm: connection reset by peer" in str(raised.value)
    assert replay.modes == ["probe", "apply"]
    action._connection.reset.assert_not_called()  # pylint: disable=protected-access
    assert sleeps == []


# --- what the apply reports ------------------------------------------------------------------


class CheckedUserRights(UserRights):
    """user_rights, recording each check_applied call and raising when told to."""

    def __init__(self):
        self.checked: list = []
        self.refusal: PayloadError | None = None

    def check_applied(self, params, plan, applied_result):
        self.checked.append((params, plan, applied_result))
        if self.refusal is not None:
            raise self.refusal


def action_over(definition: Definition) -> type:
    """An action plugin class over a definition the test made."""
    return type("ActionModule", (WindowsTaskAction,), {"definition": definition})


@pytest.fixture(name="checked")
def fixture_checked(make_action):
    """checked(check_mode=False) -> (definition, action, replay) of user_rights, recording check_applied."""

    def factory(**kwargs):
        definition = CheckedUserRights()
        return (definition, *make_action(action_over(definition), ARGS, **kwargs))

    return factory


def test_check_applied_sees_the_plan_and_the_apply_result(checked, ps_ok):
    definition, action, replay = checked()
    replay.queue(ps_ok(NOT_HELD), ps_ok(APPLIED, changed=True))
    result = action.run(task_vars={})
    assert not result.get("failed"), result.get("msg")
    ((params, plan, applied_result),) = definition.checked
    assert params["rights"] == ARGS["rights"]
    assert plan.operations == replay.calls[1]["module_args"]["parameters"]["Operations"]
    assert applied_result == APPLIED


@pytest.mark.parametrize("check_mode, probe", [(False, HELD), (True, NOT_HELD)], ids=["steady state", "check mode"])
def test_check_applied_is_not_called_without_an_apply(checked, ps_ok, check_mode, probe):
    definition, action, replay = checked(check_mode=check_mode)
    replay.queue(ps_ok(probe))
    action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert definition.checked == []


def test_check_applied_is_not_called_after_a_failed_apply(checked, ps_ok, ps_failed):
    definition, action, replay = checked()
    replay.queue(ps_ok(NOT_HELD), ps_failed("Access is denied"))
    action.run(task_vars={})
    assert definition.checked == []


def test_a_payload_error_from_check_applied_fails_the_task_with_what_was_applied(checked, ps_ok):
    definition, action, replay = checked()
    definition.refusal = PayloadError("apply did less than planned", "apply", changed=True, partial={"applied": ["one"]})
    replay.queue(ps_ok(NOT_HELD), ps_ok(APPLIED, changed=True))
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["applied"] == ["one"]
    assert result["msg"] == f"{FQCN}: apply did less than planned"


def test_the_default_check_applied_accepts_any_result(user_rights, ps_ok):
    action, replay = user_rights()
    replay.queue(ps_ok(NOT_HELD), ps_ok({}, changed=True))
    result = action.run(task_vars={})
    assert not result.get("failed")
    assert result["changed"] is True


# --- secrets --------------------------------------------------------------------------------------


class SecretDefinition(Definition):
    """A module with a no_log password that leaks it everywhere it can."""

    name = "user_rights"
    argument_spec = {
        "password": {"type": "str", "required": True, "no_log": True},
        "change": {"type": "bool", "default": False},
        "pin": {"type": "int", "no_log": True},
    }

    def probe_secrets(self, params):
        return {"Password": Secret(value=params["password"])}

    def plan(self, params, current, context):
        return Plan(
            operations=[{"set": "password"}] if params["change"] else [],
            before={"password": "old"},
            after={"password": params["password"]},
            result={"note": f"the password is {params['password']}", "echo": params["password"]},
            warnings=[f"password {params['password']} expires soon"],
            secrets={"Password": Secret(value=params["password"])},
        )


SecretAction = action_over(SecretDefinition())


@pytest.fixture
def secret_action(make_action):
    def factory(**kwargs):
        return make_action(SecretAction, {"password": PASSWORD, "change": kwargs.pop("change", False)}, **kwargs)

    return factory


def test_a_secret_travels_only_as_a_sensitive_parameter(secret_action, ps_ok):
    action, replay = secret_action(change=True)
    replay.queue(ps_ok({}), ps_ok({}, changed=True))
    action.run(task_vars={})
    for call in replay.calls:
        module_args = call["module_args"]
        assert module_args["sensitive_parameters"] == [{"name": "Password", "value": PASSWORD}]
        assert PASSWORD not in json.dumps(module_args["parameters"])
        assert PASSWORD not in module_args["script"]


def test_a_secret_sent_under_become_is_warned_of_once(secret_action, ps_ok):
    action, replay = secret_action(change=True)
    action._play_context.become = True  # pylint: disable=protected-access
    replay.queue(ps_ok({}), ps_ok({}, changed=True))
    result = action.run(task_vars={})
    assert [call["module_name"] for call in replay.calls] == ["ansible.windows.win_powershell"] * 2
    assert len([w for w in result["warnings"] if "runs with become" in w and "event 4103" in w]) == 1


def test_become_without_secrets_draws_no_such_warning(user_rights, ps_ok):
    action, replay = user_rights()
    action._play_context.become = True  # pylint: disable=protected-access
    replay.queue(ps_ok(HELD))
    result = action.run(task_vars={})
    assert not [w for w in result.get("warnings", []) if "runs with become" in w]


def test_a_secret_never_appears_in_the_task_result(secret_action, ps_ok):
    action, replay = secret_action(change=True, diff=True)
    replay.queue(ps_ok({}), ps_ok({}, changed=True))
    result = action.run(task_vars={})
    assert PASSWORD not in json.dumps(result)
    assert result["note"] == "the password is ********"
    assert result["changed"] is True


def test_a_secret_in_windows_error_message_is_scrubbed(secret_action, ps_failed):
    action, replay = secret_action()
    replay.queue(ps_failed(f"Logon failure for password '{PASSWORD}': the user name or password is incorrect"))
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert PASSWORD not in json.dumps(result)
    assert "probe failed on the host: Logon failure for password '********'" in result["msg"]


def test_a_secret_in_a_windows_warning_is_scrubbed(secret_action, ps_ok):
    action, replay = secret_action()
    replay.queue(ps_ok({}, warnings=(f"do not reuse {PASSWORD}",)))
    result = action.run(task_vars={})
    assert PASSWORD not in json.dumps(result)


def test_a_secret_that_fails_validation_is_scrubbed_from_the_message(make_action):
    action, replay = make_action(SecretAction, {"password": "irrelevant", "pin": PASSWORD})
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["msg"].startswith("pkiops.keyfactor_command.user_rights: ")
    assert PASSWORD not in json.dumps(result)


def test_a_credential_secret_becomes_username_and_password():
    assert Secret(username="CONTOSO\\svc", password=PASSWORD).as_sensitive_parameter("Credential") == {
        "name": "Credential", "username": "CONTOSO\\svc", "password": PASSWORD,
    }


def test_an_empty_secret_is_sent_as_an_empty_string():
    assert Secret().as_sensitive_parameter("Password") == {"name": "Password", "value": ""}


# --- windows_message --------------------------------------------------------------------------


def test_windows_message_prefers_the_exception_message(ps_failed):
    assert windows_message(ps_failed("Access is denied")) == "Access is denied"


def test_windows_message_falls_back_to_the_error_record_output():
    assert windows_message({"failed": True, "error": [{"exception": {}, "output": "  Something broke\r\n"}]}) == "Something broke"


def test_windows_message_falls_back_to_msg_then_module_stderr():
    assert windows_message({"failed": True, "msg": "Unsupported parameters for (win_powershell) module: bogus"}) == \
        "Unsupported parameters for (win_powershell) module: bogus"
    assert windows_message({"failed": True, "module_stderr": "exception during bootstrap\n"}) == "exception during bootstrap"


def test_windows_message_without_any_text_says_so():
    assert windows_message({"failed": True}) == "the host reported a failure without a message"


def test_payload_source_inlines_included_fragments(monkeypatch):
    files = {
        "demo.ps1": "# pkiops-payload: demo\nparam()\n$ErrorActionPreference = 'Stop'\n# pkiops-include: _shared.ps1\nInvoke-Main\n",
        "_shared.ps1": "function Invoke-Main { 'shared' }\n",
    }
    monkeypatch.setattr(_payloads, "_read_payload_file", files.__getitem__)
    _payloads.payload_source.cache_clear()
    try:
        assert _payloads.payload_source("demo") == (
            "# pkiops-payload: demo\nparam()\n$ErrorActionPreference = 'Stop'\nfunction Invoke-Main { 'shared' }\nInvoke-Main\n"
        )
    finally:
        _payloads.payload_source.cache_clear()
