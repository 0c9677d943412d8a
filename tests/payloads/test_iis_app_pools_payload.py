"""The iis_app_pools payload's own text: what the simulator, a model of what the payload means, cannot see.

Each test reads the payload as it reaches the host (fragments inlined) through tree-sitter, and checks one call the
payload must make as Windows documents it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from winsim import powershell

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source

SOURCE = payload_source("iis_app_pools")


def _nodes(node, kind: str):
    if node.type == kind:
        yield node
    for child in node.children:
        yield from _nodes(child, kind)


def _functions(source: str) -> dict[str, str]:
    """Each function the script defines, by name, as its text."""
    root = powershell.parse(source).root_node
    found = {}
    for function in _nodes(root, "function_statement"):
        name = next(c for c in function.children if c.type == "function_name").text.decode()
        found[name] = function.text.decode()
    return found


FUNCTIONS = _functions(SOURCE)


def _enclosing_if_conditions(source: str, needle: str) -> list[str]:
    """For each occurrence of needle, the condition of the innermost if statement around it ('' when none)."""
    root = powershell.parse(source).root_node
    data = source.encode()
    conditions = []
    for match in re.finditer(re.escape(needle.encode()), data):
        innermost = ""
        for statement in _nodes(root, "if_statement"):
            block = next((c for c in statement.children if c.type == "statement_block"), None)
            if block is not None and block.start_byte <= match.start() < block.end_byte:
                pipeline = next(c for c in statement.children if c.type == "pipeline")
                innermost = pipeline.text.decode()
        conditions.append(innermost)
    return conditions


def test_iis_is_reported_as_not_installed_only_when_test_iis_absent_error_says_so():
    conditions = _enclosing_if_conditions(FUNCTIONS["Invoke-Probe"], "iis_installed = $false")
    assert conditions and all(c.startswith("Test-IisAbsentError") for c in conditions), conditions


def test_microsoft_web_administration_is_loaded_with_assembly_load_whose_not_found_error_is_documented():
    body = FUNCTIONS["Import-WebAdministration"]
    assert "[System.Reflection.Assembly]::Load($script:WebAdministrationAssembly)" in body
    assert "Add-Type" not in body


def test_the_wait_for_a_settled_state_reads_the_pool_afresh_each_time():
    wait = FUNCTIONS["Wait-PoolStateSettled"]
    assert re.search(r"\[string\]\$PoolName", wait) and "ApplicationPool]$Pool" not in wait
    assert "Get-CurrentPoolState -PoolName $PoolName" in wait
    fresh = FUNCTIONS["Get-CurrentPoolState"]
    assert "$manager = Open-ServerManager" in fresh and "$manager.Dispose()" in fresh


def test_every_wait_is_called_with_the_pool_name():
    calls = re.findall(r"Wait-PoolStateSettled\s+(-\w+)", SOURCE)
    assert calls and set(calls) == {"-PoolName"}, calls


def test_the_logon_check_runs_before_the_first_configuration_change():
    apply = FUNCTIONS["Invoke-Apply"]
    assert apply.index("Assert-PoolLogon -Manager $manager") < apply.index("Invoke-ConfigurationStep") < apply.index(
        "$manager.CommitChanges()")


def test_a_logon_without_a_domain_passes_null_not_an_empty_string():
    # PowerShell turns $null into '' for a .NET string parameter; LogonUser wants NULL as the domain of a UPN.
    calls = re.findall(r"::TestLogon\(([^\n]*)\)", FUNCTIONS["Assert-PoolLogon"])
    assert len(calls) == 2
    assert any("[NullString]::Value" in call for call in calls)
    assert not any("$null" in call for call in calls)


def test_the_password_reaches_only_the_dotnet_method():
    check = FUNCTIONS["Assert-PoolLogon"]
    uses = re.findall(r"[^\n]*\$PasswordMap\[[^\n]*", check)
    assert uses and all("::TestLogon(" in line for line in uses), uses


def _logon_source() -> str:
    found = re.search(r"\$script:PoolLogonSource = @'\n(.*?)\n'@", SOURCE, re.S)
    assert found, "the payload defines its LogonUser helper in $script:PoolLogonSource"
    return found.group(1)


def test_the_logon_helper_uses_batch_and_service_logons_as_winbase_h_defines_them():
    source = _logon_source()
    assert "LOGON32_LOGON_BATCH = 4;" in source and "LOGON32_LOGON_SERVICE = 5;" in source
    assert "LOGON32_PROVIDER_DEFAULT = 0;" in source
    assert re.search(r"token\.Dispose\(\)", source), "the token LogonUser returns is closed"


@pytest.mark.skipif(shutil.which("mcs") is None, reason="Mono's C# compiler (mono-mcs) is not installed")
def test_the_logon_helper_compiles_as_csharp_5(tmp_path):
    (tmp_path / "PoolLogon.cs").write_text(_logon_source(), encoding="utf-8")
    compiled = subprocess.run(["mcs", "-langversion:5", "-target:library", "-out:" + str(tmp_path / "PoolLogon.dll"),
                               str(tmp_path / "PoolLogon.cs")], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
