"""Every PowerShell payload parses, follows the payload conventions, and has a simulator model."""

from __future__ import annotations

import pathlib

import pytest

from winsim import powershell, models

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source

REPO = pathlib.Path(__file__).resolve().parents[2]
# The transport's loader and runner (plugins/plugin_utils/_powershell/transport) are not payloads; their own tests
# are in tests/payloads/test_transport.py.
ALL_PS1 = sorted(path for path in (REPO / "plugins").rglob("*.ps1") if path.parent.name != "transport")
# Files named _*.ps1 are fragments that payloads include; the rest are payloads.
PAYLOADS = [p for p in ALL_PS1 if not p.name.startswith("_")]
FRAGMENTS = [p for p in ALL_PS1 if p.name.startswith("_")]
ACTION_PLUGINS = sorted((REPO / "plugins" / "action").glob("*.py"))


def _source(path: pathlib.Path) -> str:
    """What reaches the host: the payload with its fragments inlined."""
    return payload_source(path.stem)


def _ids(paths):
    return [p.name for p in paths]


def test_there_are_payloads_to_check():
    assert PAYLOADS, "no .ps1 payloads found under plugins/"


@pytest.mark.parametrize("path", PAYLOADS, ids=_ids(PAYLOADS))
def test_payload_parses_without_error_or_missing_nodes(path):
    assert powershell.syntax_problems(_source(path)) == []


@pytest.mark.parametrize("path", FRAGMENTS, ids=_ids(FRAGMENTS))
def test_fragment_parses_on_its_own(path):
    assert powershell.syntax_problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", FRAGMENTS, ids=_ids(FRAGMENTS))
def test_every_fragment_is_included_somewhere(path):
    assert any(f"# pkiops-include: {path.name}" in p.read_text(encoding="utf-8") for p in PAYLOADS)


@pytest.mark.parametrize("path", PAYLOADS, ids=_ids(PAYLOADS))
def test_payload_starts_with_the_tag_of_its_file_name(path):
    assert powershell.payload_tag(_source(path)) == path.stem


@pytest.mark.parametrize("path", PAYLOADS, ids=_ids(PAYLOADS))
def test_payload_supports_should_process_so_it_probes_in_check_mode(path):
    assert powershell.supports_should_process(_source(path))


@pytest.mark.parametrize("path", PAYLOADS, ids=_ids(PAYLOADS))
def test_payload_takes_a_mandatory_mode(path):
    mode = powershell.script_parameters(_source(path)).get("mode")
    assert mode is not None and mode.mandatory and mode.type_name == "string"


@pytest.mark.parametrize("path", PAYLOADS, ids=_ids(PAYLOADS))
def test_payload_stops_on_the_first_error(path):
    tree = powershell.parse(_source(path))
    statements = next(c for c in tree.root_node.children if c.type == "statement_list")
    first = statements.named_children[0].text.decode()
    assert first.replace(" ", "") == "$ErrorActionPreference='Stop'"


def test_the_parse_check_can_fail():
    assert powershell.syntax_problems("if ($x { Write-Output 1 ") != []


def test_every_payload_has_a_model_and_every_model_a_payload():
    models.load_all()
    assert set(models.PAYLOAD_MODELS) == {p.stem for p in PAYLOADS}


@pytest.mark.parametrize("path", ACTION_PLUGINS, ids=_ids(ACTION_PLUGINS))
def test_every_action_plugin_has_its_payload_and_docs(path):
    assert (REPO / "plugins" / "plugin_utils" / "_powershell" / path.name.replace(".py", ".ps1")).is_file()
    assert (REPO / "plugins" / "modules" / path.name).is_file()


def _commands(node, name: str):
    """Every invocation of the command name under node, case-insensitively, as PowerShell matches names."""
    if node.type == "command":
        command_name = node.child_by_field_name("command_name") or next(
            (c for c in node.children if c.type == "command_name"), None)
        if command_name is not None and command_name.text.decode().lower() == name.lower():
            yield node
    for child in node.children:
        yield from _commands(child, name)


def _parameters(command) -> set[str]:
    elements = next((c for c in command.children if c.type == "command_elements"), None)
    return {c.text.decode().lower() for c in (elements.children if elements else []) if c.type == "command_parameter"}


def _function(tree, name: str):
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "function_statement" and next(c for c in node.children if c.type == "function_name").text.decode() == name:
            return node
        stack.extend(node.children)
    raise AssertionError(f"no function {name}")


def test_rights_holders_are_translated_to_names_only_for_the_payload_that_shows_them():
    # Each translation may be a domain controller round trip; readiness decides on SIDs alone.
    lsa = powershell.parse((REPO / "plugins/plugin_utils/_powershell/_lsa_policy.ps1").read_text(encoding="utf-8"))
    translations = list(_commands(_function(lsa, "Get-RightHolders"), "Get-SidDisplayName"))
    assert translations
    for call in translations:
        guard = call.parent
        while guard is not None and guard.type != "if_statement":
            guard = guard.parent
        assert guard is not None and "$IncludeNames" in guard.text.decode().split("{", 1)[0]
    callers = {name: [_parameters(c) for c in _commands(powershell.parse(payload_source(name)).root_node, "Get-RightHolders")]
               for name in ("user_rights", "readiness_info")}
    assert callers == {"user_rights": [{"-rightnames", "-includenames"}], "readiness_info": [{"-rightnames"}]}
