"""``unknown-command`` and ``unknown-parameter``: every command a payload runs exists, with the parameters it is given.

A command is a function the payload defines (anywhere in it, fragments included) or a cmdlet in
``catalogue/cmdlets.json``. Aliases (``%``, ``?``, ``select``, ``sc``...) are not catalogued: a payload spells
cmdlets out. Each ``-Name`` (or ``-Name:value``) must be a parameter or a documented alias of one, matched ignoring
case; a function's parameters come from its ``param()`` block and ``[Alias()]`` attributes. The common parameters
(and their documented aliases) are allowed where the command is advanced: a cmdlet whose catalogue entry says
``common_parameters``, a function with ``[CmdletBinding()]`` or a ``[Parameter()]`` attribute. ``-WhatIf`` and
``-Confirm`` need ``SupportsShouldProcess``.

PowerShell also binds a unique prefix of a parameter name (``-Comp`` for ``-ComputerName``). A payload does not
rely on that: the prefix breaks when a later version adds a parameter with the same start, and a reader checks
names against the documentation. An abbreviation is an ``unknown-parameter`` finding that names the full parameter.

Splatting: when ``@params`` splats a variable assigned a hashtable literal in the scope (and keys added with
``$params['Key'] =`` / ``$params.Key =``), each literal key must be a parameter too.

What is not checked: a native program (a name with a path separator or an extension such as ``sc.exe``; a program
without its extension would be found only as an unknown command, which is the intent: ``sc`` is Set-Content's
alias), and ``& $scriptBlock`` / ``& $name``, whose target is known only at run time. ``& 'Name'`` and ``. 'Name'``
with a literal name are checked like a plain command. A payload function called at the script's top level before
its definition is an ``unknown-command`` finding: PowerShell defines a function only when it runs that statement.
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from .catalogue import Catalogue
from .scopes import FunctionInfo, Model, Scope, command_arguments, command_parameters
from .syntax import Node, NodeIndex, child_of_type, command_name_is_expression, core, string_value, text, variable_path

_NATIVE = re.compile(r"[\\/]|\.(exe|com|cmd|bat)$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class CommandFinding:
    rule: str
    node: Node
    message: str


@dataclasses.dataclass(frozen=True)
class _Signature:
    label: str  # 'function Foo' or 'Get-Item'
    names: dict[str, str]  # lower-cased parameter or alias -> parameter name
    url: str = ""


def command_name(command: Node) -> tuple[str | None, Node | None]:
    """The literal name a command node runs and the node that holds it; (None, None) when only run time knows."""
    name_node = child_of_type(command, "command_name")
    if name_node is not None:
        return text(name_node).strip(), name_node
    expression = child_of_type(command, "command_name_expr")
    if expression is None or expression.named_child_count != 1:
        return None, None
    inner = expression.named_children[0]
    if inner.type == "command_name":
        return text(inner).strip(), inner
    value = string_value(inner) if core(inner).type in ("string_literal",) else None
    return (value, inner) if value else (None, None)


def check(nodes: NodeIndex, model: Model, catalogue: Catalogue) -> list[CommandFinding]:
    if catalogue.cmdlets is None:
        return []
    findings: list[CommandFinding] = []
    for node in nodes.of_type("command"):
        findings.extend(_check_command(node, model, catalogue))
    for duplicate in model.duplicate_functions:
        findings.append(
            CommandFinding(
                "unknown-command",
                duplicate.node,
                f"function {duplicate.name} is defined twice; the later definition replaces the earlier one "
                "when it runs",
            )
        )
    return findings


def _check_command(node: Node, model: Model, catalogue: Catalogue) -> list[CommandFinding]:
    name, name_node = command_name(node)
    if name is None or name_node is None:
        return []
    lowered = name.lower()
    if command_name_is_expression(name) or _NATIVE.search(name):
        return []
    if lowered == "using":  # using namespace / using assembly / using module
        return []
    findings: list[CommandFinding] = []
    function = model.functions.get(lowered)
    cmdlet = catalogue.cmdlets.get(lowered) if catalogue.cmdlets is not None else None
    if function is not None:
        signature = _function_signature(function, catalogue)
        if function.top_level and _runs_at_top_level(node, model) and function.node.start_byte > node.start_byte:
            line = function.node.start_point[0] + 1
            findings.append(
                CommandFinding(
                    "unknown-command",
                    name_node,
                    f"{name} is called before its definition (line {line}); PowerShell defines a function only "
                    "when it runs the function statement",
                )
            )
    elif cmdlet is not None:
        names = {parameter.lower(): parameter for parameter in cmdlet.parameters}
        names.update({alias.lower(): parameter for alias, parameter in cmdlet.aliases.items()})
        names.update(_common_names(catalogue, cmdlet.common_parameters, cmdlet.supports_should_process))
        signature = _Signature(cmdlet.name, names, cmdlet.url)
    else:
        known = list(model.functions) + list(catalogue.cmdlets or {})
        close = difflib.get_close_matches(lowered, known, n=1, cutoff=0.8)
        hint = ""
        if close:
            match = model.functions.get(close[0]) or (catalogue.cmdlets or {}).get(close[0])
            hint = f" (did you mean {match.name}?)"
        return [
            CommandFinding(
                "unknown-command",
                name_node,
                f"{name} is neither a function of this payload nor a cmdlet in tests/pslint/catalogue/cmdlets.json"
                f"{hint}; aliases are not allowed, and a native program is called with its extension (name.exe)",
            )
        ]
    elements = child_of_type(node, "command_elements")
    if elements is None:
        return findings
    for parameter in command_parameters(elements):
        message = _parameter_problem(text(parameter).lstrip("-"), signature)
        if message:
            findings.append(CommandFinding("unknown-parameter", parameter, message))
    for key, key_node in _splatted_keys(node, elements, model):
        message = _parameter_problem(key, signature, splatted=True)
        if message:
            findings.append(CommandFinding("unknown-parameter", key_node, message))
    return findings


def _function_signature(function: FunctionInfo, catalogue: Catalogue) -> _Signature:
    names: dict[str, str] = {}
    for param in function.params.values():
        names[param.key] = param.name
        names.update({alias.lower(): param.name for alias in param.aliases})
    names.update(_common_names(catalogue, function.advanced, function.advanced and function.supports_should_process))
    return _Signature(f"function {function.name}", names)


def _common_names(catalogue: Catalogue, common: bool, should_process: bool) -> dict[str, str]:
    """The common parameters (and -WhatIf, -Confirm) a command takes, by lower-cased name or alias."""
    allowed = (catalogue.common_parameters if common else ()) + (
        catalogue.risk_mitigation_parameters if should_process else ()
    )
    names = {parameter.lower(): parameter for parameter in allowed}
    names.update(
        {
            alias: parameter
            for alias, parameter in catalogue.common_parameter_aliases.items()
            if parameter.lower() in names
        }
    )
    return names


def _parameter_problem(given: str, signature: _Signature, splatted: bool = False) -> str | None:
    if not given:
        return None
    lowered = given.lower()
    if lowered in signature.names:
        return None
    written = f"key '{given}' of the splatted hashtable" if splatted else f"-{given}"
    matches = sorted({parameter for name, parameter in signature.names.items() if name.startswith(lowered)})
    if len(matches) == 1:
        return (
            f"{written} abbreviates -{matches[0]} of {signature.label}; write the full name (a prefix binds only "
            "while no other parameter starts the same way)"
        )
    if matches:
        return f"{written} is ambiguous for {signature.label}: it starts {', '.join('-' + m for m in matches)}"
    where = f" ({signature.url})" if signature.url else ""
    return f"{signature.label} has no parameter {written}{where}"


def _runs_at_top_level(node: Node, model: Model) -> bool:
    scope: Scope | None = model.scope_of_node.get(node.id)
    while scope is not None and scope.kind == "block":
        scope = scope.parent
    return scope is model.script


def _splatted_keys(command: Node, elements: Node, model: Model) -> list[tuple[str, Node]]:
    keys: list[tuple[str, Node]] = []
    for parameter, value in command_arguments(elements):
        if value is None or core(value).type != "variable":
            continue
        path = variable_path(core(value))
        if path is None or not path.splat:
            continue
        scope: Scope | None = model.scope_of_node.get(command.id)
        while scope is not None:
            if path.key in scope.hashtable_keys:
                keys.extend(scope.hashtable_keys[path.key] or [])
                break
            scope = scope.parent if scope.kind == "block" else None
    return keys
