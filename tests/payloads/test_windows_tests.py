"""tests/windows: the Pester tests that run the payloads on real Windows, and the GitHub workflow that runs them.

Nothing here can run PowerShell; these tests hold the Pester files to what can be
checked without it: they parse, every payload has one, they run their payload
through the shared harness, the harness builds a payload as the controller does,
and the workflow runs them under Windows PowerShell 5.1 on windows-2022.
"""

from __future__ import annotations

import pathlib
import re

import pytest
import yaml

from winsim import powershell

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _payloads
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import Definition, definition_of

REPO = pathlib.Path(__file__).resolve().parents[2]
WINDOWS = REPO / "tests" / "windows"
HARNESS = WINDOWS / "_harness.ps1"
WORKFLOW = REPO / ".github" / "workflows" / "windows.yml"
SCRIPTS = sorted([*WINDOWS.glob("*.ps1"), *WINDOWS.glob("*.psm1")])
PAYLOADS = sorted(path.stem for path in pathlib.Path(_payloads.PAYLOAD_DIR).glob("[!_]*.ps1"))
# Pester 5's own commands, which are not Verb-Noun.
PESTER_DSL = {"describe", "context", "it", "beforeall", "afterall", "beforeeach", "aftereach", "beforediscovery",
              "should", "mock", "inmodulescope"}


def _text(path: pathlib.Path) -> str:
    return path.read_text(encoding="utf-8")


def _ids(paths):
    return [path.name for path in paths]


def _nodes(node, kind: str):
    if node.type == kind:
        yield node
    for child in node.children:
        yield from _nodes(child, kind)


def test_there_are_windows_tests_and_their_harness():
    assert HARNESS in SCRIPTS
    assert len(SCRIPTS) > len(PAYLOADS)


@pytest.mark.parametrize("path", SCRIPTS, ids=_ids(SCRIPTS))
def test_windows_script_parses_without_error_or_missing_nodes(path):
    assert powershell.syntax_problems(_text(path)) == []


def test_the_parse_check_sees_a_broken_pester_file():
    broken = "Describe 'x' {\n    It 'y' {\n        $run.Result['a' | Should -Be 1\n    }\n"
    assert powershell.syntax_problems(broken)


def test_every_payload_has_its_pester_file_and_every_pester_file_a_payload():
    # transport.Tests.ps1 runs the loader and the runner, which carry every payload.
    pester_files = sorted(path.name[: -len(".Tests.ps1")] for path in WINDOWS.glob("*.Tests.ps1"))
    assert pester_files == sorted([*PAYLOADS, "transport"])


@pytest.mark.parametrize("payload", PAYLOADS)
def test_pester_file_runs_its_payload_through_the_harness_and_cleans_up(payload):
    text = _text(WINDOWS / f"{payload}.Tests.ps1")
    assert ". (Join-Path $PSScriptRoot '_harness.ps1')" in text
    assert f"Invoke-Payload -Name '{payload}'" in text
    assert f"Get-PayloadParseError -Name '{payload}'" in text
    assert "Assert-PayloadTestHost" in text
    assert re.search(r"AfterAll \{[^{}]*Invoke-TestCleanup -List \$script:Cleanup\s+\}", text)


def _defined_functions() -> set[str]:
    names = set()
    for path in SCRIPTS:
        for node in _nodes(powershell.parse(_text(path)).root_node, "function_name"):
            names.add(node.text.decode().lower())
    return names


@pytest.mark.parametrize("path", SCRIPTS, ids=_ids(SCRIPTS))
def test_windows_script_calls_commands_by_their_full_names(path):
    # A command name without a dash is an alias (%, ?, gci, select...) unless it is Pester's or one of these files'.
    known = PESTER_DSL | _defined_functions()
    names = {node.text.decode() for node in _nodes(powershell.parse(_text(path)).root_node, "command_name")}
    aliases = sorted(name for name in names if "-" not in name and name.lower() not in known)
    assert aliases == []


def test_the_alias_check_sees_an_alias():
    names = {node.text.decode() for node in _nodes(powershell.parse("gci | % { $_ }").root_node, "command_name")}
    assert {name for name in names if "-" not in name} == {"gci", "%"}


def test_harness_inlines_fragments_with_the_controllers_pattern():
    patterns = re.findall(r"Regex\]::new\(\s*'([^']+)'", _text(HARNESS))
    assert patterns == [_payloads._INCLUDE.pattern]  # pylint: disable=protected-access


def test_harness_keeps_the_result_depth_the_controller_asks_for():
    body = re.search(r"function Get-ResultDepth \{(.*?)\n\}", _text(HARNESS), re.DOTALL).group(1)
    assert re.search(r"if \(\$Name -eq 'host_snapshot'\) \{\s+return (\d+)", body).group(1) == str(
        definition_of("host_snapshot").result_depth)
    assert body.rstrip().splitlines()[-1].strip() == str(Definition.result_depth)


def test_harness_recognises_should_process_as_win_powershell_does():
    # win_powershell reads [CmdletBinding(SupportsShouldProcess)] or SupportsShouldProcess = $true from the script's AST.
    body = re.search(r"function Test-SupportsShouldProcess \{(.*?)\n\}", _text(HARNESS), re.DOTALL).group(1)
    assert "'CmdletBinding'" in body
    assert "ExpressionOmitted" in body and "'$true'" in body


# --- the workflow -------------------------------------------------------------------------------------------------------

# The keys GitHub documents in "Workflow syntax for GitHub Actions".
_WORKFLOW_KEYS = {"name", "run-name", "on", "permissions", "env", "defaults", "concurrency", "jobs"}
_JOB_KEYS = {"name", "permissions", "needs", "if", "runs-on", "environment", "concurrency", "outputs", "env", "defaults",
             "steps", "timeout-minutes", "strategy", "continue-on-error", "container", "services", "uses", "with",
             "secrets"}
_STEP_KEYS = {"id", "if", "name", "uses", "run", "working-directory", "shell", "with", "env", "continue-on-error",
              "timeout-minutes"}


@pytest.fixture(name="workflow", scope="module")
def fixture_workflow() -> dict:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key 'on' as the boolean true.
    document["on"] = document.pop(True, document.get("on"))
    return document


def _steps(workflow: dict) -> list[dict]:
    return workflow["jobs"]["pester"]["steps"]


def test_workflow_uses_only_documented_keys(workflow):
    assert set(workflow) <= _WORKFLOW_KEYS
    for job in workflow["jobs"].values():
        assert set(job) <= _JOB_KEYS
        for step in job["steps"]:
            assert set(step) <= _STEP_KEYS
            assert ("uses" in step) != ("run" in step)


def test_workflow_runs_on_windows_2022_under_windows_powershell(workflow):
    assert set(workflow["on"]) == {"push", "pull_request", "workflow_dispatch"}
    job = workflow["jobs"]["pester"]
    assert job["runs-on"] == "windows-2022"
    assert job["defaults"]["run"]["shell"] == "powershell"
    assert all(step.get("shell", "powershell") == "powershell" for step in job["steps"] if "run" in step)


def test_workflow_installs_pester_5_and_fails_on_any_failure(workflow):
    scripts = "\n".join(step.get("run", "") for step in _steps(workflow))
    assert "Install-Module -Name Pester -MinimumVersion 5.5 -Force -SkipPublisherCheck -Scope CurrentUser" in scripts
    assert "$configuration.Run.Path = 'tests/windows'" in scripts
    for count in ("FailedCount", "FailedBlocksCount", "FailedContainersCount"):
        assert f"$result.{count}" in scripts
    assert "exit 1" in scripts


def test_workflow_uploads_the_recordings_when_recording(workflow):
    assert "PKIOPS_RECORD" in workflow["jobs"]["pester"]["env"]
    assert "inputs.record" in workflow["jobs"]["pester"]["env"]["PKIOPS_RECORD"]
    assert workflow["on"]["workflow_dispatch"]["inputs"]["record"]["type"] == "boolean"
    uploads = [step for step in _steps(workflow) if step.get("uses", "").startswith("actions/upload-artifact@")]
    recorded = [step for step in uploads if step["with"]["path"] == "tests/windows/recorded/"]
    assert len(recorded) == 1
    assert "env.PKIOPS_RECORD == '1'" in recorded[0]["if"]
    assert all(step.get("if", "").startswith("always()") for step in uploads)


def test_readme_documents_the_recording_format():
    # pylint: disable-next=import-outside-toplevel
    import recordings

    readme = _text(WINDOWS / "README.md")
    for key in recordings._REQUIRED:  # pylint: disable=protected-access
        assert f"`{key}`" in readme
    assert "PKIOPS_RECORD=1" in readme
