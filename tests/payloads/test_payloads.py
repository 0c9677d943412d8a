"""Every PowerShell payload parses, follows the payload conventions, and has a simulator model."""

from __future__ import annotations

import pathlib

import pytest

from winsim import powershell, registry

REPO = pathlib.Path(__file__).resolve().parents[2]
PAYLOADS = sorted((REPO / "plugins").rglob("*.ps1"))
ACTION_PLUGINS = sorted((REPO / "plugins" / "action").glob("*.py"))


def _ids(paths):
    return [p.name for p in paths]


def test_there_are_payloads_to_check():
    assert PAYLOADS, "no .ps1 payloads found under plugins/"


@pytest.mark.parametrize("path", PAYLOADS, ids=_ids(PAYLOADS))
def test_payload_parses_without_error_or_missing_nodes(path):
    assert powershell.syntax_problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", PAYLOADS, ids=_ids(PAYLOADS))
def test_payload_starts_with_the_tag_of_its_file_name(path):
    assert powershell.payload_tag(path.read_text(encoding="utf-8")) == path.stem


@pytest.mark.parametrize("path", PAYLOADS, ids=_ids(PAYLOADS))
def test_payload_supports_should_process_so_it_probes_in_check_mode(path):
    assert powershell.supports_should_process(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", PAYLOADS, ids=_ids(PAYLOADS))
def test_payload_takes_a_mandatory_mode(path):
    mode = powershell.script_parameters(path.read_text(encoding="utf-8")).get("mode")
    assert mode is not None and mode.mandatory and mode.type_name == "string"


@pytest.mark.parametrize("path", PAYLOADS, ids=_ids(PAYLOADS))
def test_payload_stops_on_the_first_error(path):
    tree = powershell.parse(path.read_text(encoding="utf-8"))
    statements = next(c for c in tree.root_node.children if c.type == "statement_list")
    first = statements.named_children[0].text.decode()
    assert first.replace(" ", "") == "$ErrorActionPreference='Stop'"


def test_the_parse_check_can_fail():
    assert powershell.syntax_problems("if ($x { Write-Output 1 ") != []


def test_every_payload_has_a_model_and_every_model_a_payload():
    registry.load_all()
    assert set(registry.PAYLOAD_MODELS) == {p.stem for p in PAYLOADS}


@pytest.mark.parametrize("path", ACTION_PLUGINS, ids=_ids(ACTION_PLUGINS))
def test_every_action_plugin_has_its_payload_and_docs(path):
    assert (REPO / "plugins" / "plugin_utils" / "_powershell" / path.name.replace(".py", ".ps1")).is_file()
    assert (REPO / "plugins" / "modules" / path.name).is_file()
