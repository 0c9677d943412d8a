"""The collection's payload transport: the loader and runner the action plugins send instead of win_powershell.

Neither script has ever run here. These tests hold them to what can be checked without PowerShell: they parse,
pass the payload lint as one script (the runner is dot-sourced into the loader's scope), the loader fits a command
line, and the controller, the runner and the simulator's model of it agree on every key they exchange.
"""

from __future__ import annotations

import pathlib
import re

import pytest
from ansible.plugins.shell.powershell import ShellModule

import pslint
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _windows_task
from winsim import powershell, transport

TRANSPORT = pathlib.Path(_windows_task.TRANSPORT_DIR)
LOADER = (TRANSPORT / "loader.ps1").read_text(encoding="utf-8")
RUNNER = (TRANSPORT / "runner.ps1").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["loader.ps1", "runner.ps1"])
def test_each_script_parses(name):
    assert powershell.syntax_problems((TRANSPORT / name).read_text(encoding="utf-8")) == []


def test_the_loader_and_the_runner_pass_the_payload_lint_as_the_host_runs_them():
    # The runner is dot-sourced into the loader's scope, so it reads the loader's $lines.
    findings = pslint.lint(LOADER + "\n" + RUNNER, name="loader + runner")
    assert not findings, "\n".join(map(str, findings))


def test_the_runner_alone_would_read_a_variable_it_never_assigned():
    # Proof that the combined lint above sees the runner's reads: alone, $lines is undefined.
    assert any(f.rule == "undefined-variable" and "$lines" in f.message for f in pslint.lint(RUNNER))


def test_the_loader_fits_a_command_line_with_room_to_spare():
    command = ShellModule()._encode_script(_windows_task.loader_script(), as_list=False, strict_mode=False,
                                           preserve_rc=False)
    # cmd.exe, which runs the commands of a WinRM shell, takes at most 8,191 characters.
    assert len(command) < 4000
    assert transport.is_loader_command(command)


def test_the_controller_and_the_simulator_read_the_loader_the_same_way():
    assert _windows_task.loader_script() == transport.loader_command_text()
    assert not any(line.startswith("#") for line in _windows_task.loader_script().splitlines())


def test_the_simulator_refuses_a_loader_that_is_not_the_repositorys():
    altered = ShellModule()._encode_script(_windows_task.loader_script() + "\n$x = 1", as_list=False,
                                           strict_mode=False, preserve_rc=False)
    assert not transport.is_loader_command(altered)


def test_the_runner_writes_the_keys_the_controller_and_the_model_read():
    written = set(re.findall(r"\$outcome\['(\w+)'\]", RUNNER))
    assert written == {"changed", "failed", "result", "warning", "error"}
    assert set(transport.runner_output({"changed": False, "result": {}})) == written
    # What _execute_payload reads of a run's result: the same keys.
    failed = {"changed": True, "failed": True, "result": {"applied": []}, "warning": ["w"],
              "error": [{"output": "o", "exception": {"message": "Access is denied", "type": "x"}}]}
    assert _windows_task.windows_message(failed) == "Access is denied"


def test_the_runner_reads_the_request_keys_the_controller_sends():
    read = set(re.findall(r"\$request\['(\w+)'\]", RUNNER))
    sent = _windows_task.runner_input({"script": "", "parameters": {}, "depth": 2}, False).decode().splitlines()[2]
    assert read == set(transport._json_line(sent, "request"))  # pylint: disable=protected-access
    assert read == {"Parameters", "CheckMode", "Depth"}


def test_the_runner_reads_the_secret_entry_keys_that_secret_parameters_have():
    read = set(re.findall(r"\$Entry(?:\.ContainsKey\(|\[)'(\w+)'", RUNNER))
    assert read == {"username", "password", "value"}
    as_sent = _windows_task.Secret(username="u", password="p").as_sensitive_parameter("C")
    assert set(as_sent) - {"name"} <= read
    assert set(_windows_task.Secret(value="v").as_sensitive_parameter("S")) - {"name"} <= read


def test_only_the_fourth_input_line_can_carry_a_secret():
    secret = "Pa55-w0rd-only-here"
    lines = _windows_task.runner_input({"script": "# pkiops-payload: user_rights\n", "parameters": {"Mode": "probe"},
                                        "depth": 2, "sensitive_parameters": [{"name": "P", "value": secret}]},
                                       False).decode().splitlines()
    assert [index for index, line in enumerate(lines) if secret in line] == [3]
    assert "# pslint-secret: $secretText" in RUNNER and "$secretText = $lines[3]" in RUNNER


def test_the_runner_runs_the_payload_as_win_powershell_does():
    # A runspace of its own, 'Stop', -Confirm:$false and -WhatIf as in check mode, the same $Ansible members.
    assert "RunspaceFactory]::CreateRunspace()" in RUNNER
    assert "SetVariable('ErrorActionPreference', [System.Management.Automation.ActionPreference]::Stop)" in RUNNER
    assert "$arguments['Confirm'] = $false" in RUNNER and "$arguments['WhatIf'] = $Ansible.CheckMode" in RUNNER
    win_powershell = (pathlib.Path(_windows_task.PAYLOAD_DIR).parents[2] / ".cache" / "collections" / "ansible_collections"
                      / "ansible" / "windows" / "plugins" / "modules" / "win_powershell.ps1").read_text(encoding="utf-8")
    block = re.search(r"SetVariable\('Ansible', \[PSCustomObject\]@\{(.*?)\}\)", win_powershell, re.S).group(1)
    theirs = set(re.findall(r"^\s*(\w+) =", block, re.M)) - {"PSTypeName"}
    ours = set(re.findall(r"^    (\w+) = ", RUNNER[RUNNER.index("$Ansible = [pscustomobject]@{"):], re.M)[:len(theirs)])
    assert ours == theirs


def test_a_script_without_should_process_fails_binding_under_the_runner(tmp_path):
    from winsim import host as simulated_host  # pylint: disable=import-outside-toplevel

    script = "# pkiops-payload: user_rights\nparam([Parameter(Mandatory)][string]$Mode)\n$Ansible.Changed = $false\n"
    command = ShellModule()._encode_script(_windows_task.loader_script(), as_list=False, strict_mode=False,
                                           preserve_rc=False)
    in_data = _windows_task.runner_input({"script": script, "parameters": {"Mode": "probe"}, "depth": 2}, False)
    result, _output = simulated_host.execute(str(tmp_path / "kf01.json"), "KF01", in_data, command=command)
    assert result["failed"] and "matches parameter name 'Confirm'" in result["error"][0]["exception"]["message"]
