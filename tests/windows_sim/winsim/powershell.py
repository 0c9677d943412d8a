"""Static facts about PowerShell source, read with tree-sitter-powershell.

The simulator cannot run PowerShell, but it can hold a payload to the same
contract PowerShell would: the script must parse, and win_powershell may only
pass parameters that the script's ``param()`` block declares.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import tree_sitter
import tree_sitter_powershell

PAYLOAD_TAG = re.compile(r"\A# pkiops-payload: ([a-z][a-z0-9_]*)\r?\n")


@dataclasses.dataclass(frozen=True)
class Parameter:
    name: str
    type_name: str  # as written, for example 'string[]' or 'System.Security.SecureString'; '' when untyped
    mandatory: bool


@functools.lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


@functools.lru_cache(maxsize=16)
def parse(source: str) -> tree_sitter.Tree:
    """Parsed once per script text: each call checks syntax, ShouldProcess and parameters on the same tree."""
    return _parser().parse(source.encode("utf-8"))


def syntax_problems(source: str) -> list[str]:
    """Every ERROR or MISSING node, as 'line:column: kind text'."""
    problems = []
    stack = [parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            line, column = node.start_point
            kind = "MISSING" if node.is_missing else "ERROR"
            snippet = node.text.decode("utf-8", "replace")[:60].replace("\n", "\\n")
            problems.append(f"{line + 1}:{column + 1}: {kind} {snippet!r}")
        elif node.has_error:
            stack.extend(node.children)
    return sorted(problems)


def payload_tag(source: str) -> str | None:
    match = PAYLOAD_TAG.match(source)
    return match.group(1) if match else None


def supports_should_process(source: str) -> bool:
    """What win_powershell reads from the script's AST: ``[CmdletBinding(SupportsShouldProcess[ = $true])]`` on param()."""
    root = parse(source).root_node
    block = next((c for c in root.children if c.type == "param_block"), None)
    attributes = next((c for c in block.children if c.type == "attribute_list"), None) if block else None
    for attribute in attributes.children if attributes else []:
        name = next((c for c in attribute.children if c.type == "attribute_name"), None)
        if name is None or name.text.decode().lower() != "cmdletbinding":
            continue
        arguments = next((c for c in attribute.children if c.type == "attribute_arguments"), None)
        for argument in arguments.children if arguments else []:
            if argument.type != "attribute_argument" or argument.children[0].text.decode().lower() != "supportsshouldprocess":
                continue
            value = argument.children[-1].text.decode().lower() if len(argument.children) > 1 else "$true"
            return value == "$true"
    return False


def _attribute_type(attribute: tree_sitter.Node) -> str | None:
    literal = next((c for c in attribute.children if c.type == "type_literal"), None)
    if literal is None:
        return None
    spec = next(c for c in literal.children if c.type == "type_spec")
    return spec.text.decode()


def _is_mandatory(attribute: tree_sitter.Node) -> bool:
    name = next((c for c in attribute.children if c.type == "attribute_name"), None)
    if name is None or name.text.decode().lower() != "parameter":
        return False
    arguments = next((c for c in attribute.children if c.type == "attribute_arguments"), None)
    text = arguments.text.decode().lower() if arguments else ""
    return bool(re.search(r"\bmandatory\b(?!\s*=\s*\$false)", text))


def script_parameters(source: str) -> dict[str, Parameter]:
    """The script-level ``param()`` block, by lower-cased name (PowerShell binds names case-insensitively)."""
    root = parse(source).root_node
    block = next((c for c in root.children if c.type == "param_block"), None)
    if block is None:
        return {}
    parameter_list = next((c for c in block.children if c.type == "parameter_list"), None)
    found: dict[str, Parameter] = {}
    for parameter in parameter_list.children if parameter_list else []:
        if parameter.type != "script_parameter":
            continue
        variable = next(c for c in parameter.children if c.type == "variable")
        name = variable.text.decode().lstrip("$")
        type_name = ""
        mandatory = False
        attributes = next((c for c in parameter.children if c.type == "attribute_list"), None)
        for attribute in attributes.children if attributes else []:
            type_name = _attribute_type(attribute) or type_name
            mandatory = mandatory or _is_mandatory(attribute)
        found[name.lower()] = Parameter(name=name, type_name=type_name, mandatory=mandatory)
    return found
