"""The PowerShell lint (tests/pslint) reports nothing on any payload as it reaches the host, fragments inlined.

A payload with findings today is marked xfail(strict=True) with those findings as the reason: the mark must go when
the payload is fixed, because a payload that passes while marked fails the run.
"""

from __future__ import annotations

import pathlib

import pytest

import pslint
from pslint import csharp
from pslint.__main__ import main as pslint_main
from pslint.payloads import line_origins, origin
from pslint.syntax import index

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source

REPO = pathlib.Path(__file__).resolve().parents[2]
POWERSHELL_DIR = REPO / "plugins" / "plugin_utils" / "_powershell"
PAYLOADS = sorted(path.stem for path in POWERSHELL_DIR.glob("*.ps1") if not path.name.startswith("_"))
FRAGMENTS = sorted(path for path in POWERSHELL_DIR.glob("_*.ps1"))

CATALOGUE_FREE_RULES = pslint.VARIABLE_RULES + pslint.SYNTAX_RULES + pslint.CSHARP_RULES + pslint.SECRET_RULES
CATALOGUE_RULES = pslint.COMMAND_RULES + pslint.TYPE_RULES

# Findings of the rules that need no catalogue, on today's payloads (lines of the inlined script).
KNOWN_FINDINGS: dict[str, str] = {}
# Findings of the command and type rules, which read tests/pslint/catalogue/.
KNOWN_CATALOGUE_FINDINGS: dict[str, str] = {}


def _payload_params(known: dict[str, str]) -> list:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=known[name])) if name in known else name
        for name in PAYLOADS
    ]


def _report(payload: str, findings: list[pslint.Finding]) -> str:
    return "\n".join(
        f"{origin(payload, finding.line)}:{finding.column}: {finding.rule}: {finding.message}" for finding in findings
    )


def test_there_are_payloads_to_lint():
    assert len(PAYLOADS) >= 8 and "pfx_import" in PAYLOADS


@pytest.mark.parametrize("payload", _payload_params(KNOWN_FINDINGS))
def test_payload_passes_the_variable_syntax_csharp_and_secret_rules(payload):
    findings = pslint.lint(payload_source(payload), name=payload, rules=CATALOGUE_FREE_RULES)
    assert findings == [], _report(payload, findings)


def test_the_catalogues_are_there_so_no_rule_is_skipped():
    assert not pslint.skipped_rules()


@pytest.mark.parametrize("payload", _payload_params(KNOWN_CATALOGUE_FINDINGS))
def test_payload_passes_the_command_and_type_rules(payload):
    findings = pslint.lint(payload_source(payload), name=payload, rules=CATALOGUE_RULES)
    assert findings == [], _report(payload, findings)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_line_of_a_payload_is_traced_to_its_file(payload):
    lines = payload_source(payload).split("\n")
    origins = line_origins(payload)
    assert len(origins) == len(lines)
    for line, (file_name, number) in zip(lines, origins):
        assert (POWERSHELL_DIR / file_name).read_text(encoding="utf-8").split("\n")[number - 1] == line


def _fragment_blocks() -> list:
    blocks = []
    for path in FRAGMENTS:
        for number, block in enumerate(csharp.add_type_blocks(index(path.read_text(encoding="utf-8"))), start=1):
            blocks.append(pytest.param(block, id=f"{path.name}-{number}"))
    return blocks


FRAGMENT_BLOCKS = _fragment_blocks()


def test_the_fragments_hold_add_type_blocks():
    assert {param.id.split("-")[0] for param in FRAGMENT_BLOCKS} >= {"_lsa_policy.ps1", "_private_key_acl.ps1"}


@pytest.mark.parametrize("block", FRAGMENT_BLOCKS)
def test_fragment_add_type_source_compiles_as_windows_powershell_51_does(block):
    assert block.source is not None, block.problem
    assert csharp.compile_problems(block.source, block.references, block.ignore_warnings) == []


def test_the_command_line_lints_a_payload_with_its_fragments_inlined(capsys):
    status = pslint_main(["--rules", "type-constrained-assignment,undefined-variable", str(POWERSHELL_DIR / "pfx_import.ps1")])
    assert (status, capsys.readouterr().out) == (0, "")


def test_the_command_line_lints_any_file(tmp_path, capsys):
    script = tmp_path / "snippet.ps1"
    script.write_text("function F {\n    Write-Output $undefined\n}\n", encoding="utf-8")
    assert pslint_main(["--rules", "undefined-variable", str(script)]) == 1
    assert f"{script}:2:18: undefined-variable: $undefined" in capsys.readouterr().out


WINDOWS_TESTS = REPO / "tests" / "windows"
HARNESS = WINDOWS_TESTS / "_harness.ps1"
PESTER_FILES = sorted(WINDOWS_TESTS.glob("*.Tests.ps1"))


def test_the_harness_passes_every_rule():
    findings = pslint.lint(HARNESS.read_text(encoding="utf-8"), name=HARNESS.name)
    assert findings == [], "\n".join(f"{HARNESS.name}:{f.line}:{f.column}: {f.rule}: {f.message}" for f in findings)


@pytest.mark.parametrize("path", PESTER_FILES, ids=[path.name for path in PESTER_FILES])
def test_each_windows_test_file_passes_every_rule_with_the_harness_it_dot_sources(path):
    # Each file dot-sources the harness in its first BeforeAll; linted after it, its calls find their functions.
    harness = HARNESS.read_text(encoding="utf-8")
    offset = harness.count("\n") + 1
    assert "(Join-Path $PSScriptRoot '_harness.ps1')" in path.read_text(encoding="utf-8")
    findings = pslint.lint(harness + "\n" + path.read_text(encoding="utf-8"), name=path.name)
    assert findings == [], "\n".join(f"{path.name}:{f.line - offset}:{f.column}: {f.rule}: {f.message}" for f in findings)
