"""The simulator's model of Windows' own logs: what each round trip leaves in 4104, 4103, the Ansible event log and
transcription, by transport."""

from __future__ import annotations

import json

from ansible.plugins.shell.powershell import ShellModule

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _windows_task
from test_core import PROBE, exec_wrapper_input, user_rights_input  # pylint: disable=wrong-import-order
from winsim import host as simulated_host, windows_logs

SECRET = "Log-Secret!2026#x"
LOADER = ShellModule()._encode_script(_windows_task.loader_script(), as_list=False, strict_mode=False,  # pylint: disable=protected-access
                                      preserve_rc=False)


def _texts(state_path) -> dict[str, str]:
    return windows_logs.texts_by_log(windows_logs.read(state_path))


def _runner_input(parameters: dict, secrets: list | None = None) -> bytes:
    args = {"script": _windows_task.payload_source("user_rights"), "parameters": parameters, "depth": 8}
    if secrets:
        args["sensitive_parameters"] = secrets
    return _windows_task.runner_input(args, False)


def test_win_powershell_sensitive_parameters_land_in_module_logging(tmp_path):
    # What the collection sent before its runner: win_powershell's ConvertTo-SecureString records the value.
    state = tmp_path / "kf01.json"
    simulated_host.execute(str(state), "KF01", user_rights_input(PROBE, sensitive=[{"name": "Unused", "value": SECRET}]))
    texts = _texts(state)
    assert f'ParameterBinding(ConvertTo-SecureString): name="String"; value="{SECRET}"' in texts["module"]
    # Ansible.Basic hides the no_log value in its event and its output's invocation.
    assert "Invoked with" in texts["ansible"] and SECRET not in texts["ansible"]
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in texts["ansible"]
    assert SECRET not in texts["transcript"] and '"invocation"' in texts["transcript"]


def test_a_no_log_module_run_writes_no_ansible_event(tmp_path):
    state = tmp_path / "kf01.json"
    args = {"script": "# pkiops-payload: user_rights\n", "parameters": {}, "_ansible_no_log": True}
    simulated_host.execute(str(state), "KF01", exec_wrapper_input(args))
    assert _texts(state)["ansible"] == ""


def test_a_script_that_is_not_the_repositorys_is_kept_whole_in_the_script_block_log(tmp_path):
    state = tmp_path / "kf01.json"
    script = f"# pkiops-payload: user_rights\n$password = '{SECRET}'\n"
    simulated_host.execute(str(state), "KF01", exec_wrapper_input({"script": script, "parameters": {}}))
    assert SECRET in _texts(state)["script_block"]


def test_the_runner_leaves_no_secret_and_no_ansible_event(tmp_path):
    state = tmp_path / "kf01.json"
    result, output = simulated_host.execute(str(state), "KF01", _runner_input(PROBE), command=LOADER)
    assert not result["failed"] and json.loads(output)["result"] == result["result"]
    texts = _texts(state)
    assert "transport/runner.ps1" in texts["script_block"] and "user_rights.ps1" in texts["script_block"]
    assert "transport/loader.ps1 as its command line" in texts["script_block"]
    assert texts["ansible"] == "" and "ConvertTo-SecureString" not in texts["module"]
    assert texts["transcript"] == output


def test_a_secret_sent_to_the_runner_reaches_the_payload_and_no_log(tmp_path):
    # user_rights takes no secret, so the binding fails, as PowerShell would; the secret is still in no log.
    state = tmp_path / "kf01.json"
    result, _output = simulated_host.execute(str(state), "KF01", _runner_input(PROBE, [{"name": "Nope", "value": SECRET}]),
                                             command=LOADER)
    assert result["failed"] and "A parameter cannot be found that matches parameter name 'Nope'" in \
        result["error"][0]["exception"]["message"]
    assert not any(SECRET in text for text in _texts(state).values())


def test_a_module_logging_event_too_large_for_etw_is_not_written():
    assert windows_logs.binding("Out-Default", {"InputObject": "x" * windows_logs.EVENT_CHARACTERS}, "test") is None
    assert windows_logs.binding("Out-Default", {"InputObject": "x" * 1000}, "test")["command"] == "Out-Default"


def test_the_become_password_is_recorded_as_the_exec_wrappers():
    records = windows_logs.exec_wrapper_run(_invocation_with_become(), {"changed": False}, [])
    (become,) = [r for r in records if r.get("source") == windows_logs.EXEC_WRAPPER_BECOME]
    assert become["parameters"]["String"] == SECRET


def _invocation_with_become():
    # pylint: disable-next=import-outside-toplevel
    from winsim.manifest import ModuleInvocation

    return ModuleInvocation(name="ansible.windows.win_powershell", args={"script": "", "parameters": {}}, script="",
                            become=True, become_secure_values=(SECRET,), exec_manifest_characters=300_000)
