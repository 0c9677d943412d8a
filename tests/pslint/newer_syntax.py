"""``newer-syntax``: nothing that Windows PowerShell 5.1 does not have; and ``syntax-error`` for anything else that
does not parse.

tree-sitter-powershell parses some PowerShell 7 syntax to its own nodes (``&&``/``||`` to ``pipeline_chain_tail``,
``foreach -parallel`` to ``foreach_parameter``), some to ERROR nodes (``? :``, ``??``, ``??=``, ``?.``, ``?[]``,
``clean { }`` after other named blocks, a background ``&``), and some to ordinary nodes with another meaning (a lone
``clean { }`` is a call of a command named clean; ``1..3 | ...`` a command named ``1..3``; an escape inside a
string is text). Each is reported by name. The sources, on Microsoft Learn (PowerShell 7.5 documentation unless
said otherwise):

- ``? :`` PowerShell 7.0, about_If ("PowerShell 7.0 introduced a new syntax using the ternary operator");
- ``??``, ``??=``, ``?.``, ``?[]``: about_Operators; listed under "Language changes" in "Differences between
  Windows PowerShell 5.1 and PowerShell 7.x" (``?.``/``?[]`` mainstream in 7.1);
- ``&&``, ``||``: about_Pipeline_Chain_Operators, "Beginning in PowerShell 7";
- background ``&``: about_Operators, "Background operator"; Differences..., "Added & operator for job control";
- ``ForEach-Object -Parallel`` (and -ThrottleLimit, -TimeoutSeconds, -AsJob, -UseNewRunspace): ForEach-Object,
  "Beginning with PowerShell 7.0, a third parameter set";
- ``clean { }``: about_Functions_Advanced_Methods, "The clean block was added in PowerShell 7.3";
- ```u{x}`` and ```e``: about_Special_Characters, "added in PowerShell 6";
- numeric suffixes ``y uy s us u ul`` (6.2) and ``n`` (7.0), binary ``0b`` literals: about_Numeric_Literals;
- ``'a'..'z'``: about_Operators, "Support for character ranges was added in PowerShell 6";
- ``-replace`` with a script block substitution: about_Comparison_Operators, "In PowerShell 6 and later";
- ``ErrorMessage =`` on validation attributes: about_Functions_Advanced_Parameters, "Starting in PowerShell 6";
  ``[ValidateRange('Positive')]`` and the other ValidateRangeKind values, ``[ArgumentCompletions()]`` (6.0), the
  same page (the 5.1 page documents none of them);
- ``-ProgressAction`` / ``-proga``: about_CommonParameters, "added in PowerShell 7.4";
- ``$IsWindows``, ``$IsLinux``, ``$IsMacOS``, ``$IsCoreCLR``, ``$PSStyle``, ``$EnabledExperimentalFeatures``,
  ``$PSNativeCommand...``: about_Automatic_Variables and about_Preference_Variables of 7.x (not in 5.1's);
- ``foreach -parallel`` is Windows PowerShell workflow syntax, refused outside a workflow.
"""

from __future__ import annotations

import dataclasses
import re

from .scopes import NEWER_AUTOMATIC_VARIABLES, command_parameters
from .syntax import (
    Node,
    NodeIndex,
    ancestors,
    child_of_type,
    children_of_type,
    core,
    string_value,
    text,
    type_spec_text,
    variable_path,
    walk,
)

_NUMERIC_SUFFIX = re.compile(r"^(?:uy|us|ul|u|y|s|n)$", re.IGNORECASE)
_NUMBER_WITH_NEW_SUFFIX = re.compile(r"^(?:0b[01]+|(?:0x[0-9a-f]+|[0-9]+)(?:uy|us|ul|u|y|s|n))$", re.IGNORECASE)
_PARALLEL_PARAMETERS = ("parallel", "throttlelimit", "timeoutseconds", "asjob", "usenewrunspace")
# ForEach-Object's parameters in Windows PowerShell 5.1, with the common ones a prefix could also mean.
_FOREACH_OBJECT_51 = (
    "begin",
    "process",
    "end",
    "remainingscripts",
    "inputobject",
    "membername",
    "argumentlist",
    "pipelinevariable",
    "whatif",
    "confirm",
)
_VALIDATE_RANGE_KINDS = frozenset({"positive", "negative", "nonpositive", "nonnegative"})


@dataclasses.dataclass(frozen=True)
class SyntaxFinding:
    rule: str
    node: Node
    message: str


def _newer(node: Node, what: str, since: str) -> SyntaxFinding:
    return SyntaxFinding("newer-syntax", node, f"{what} is {since} syntax; Windows PowerShell 5.1 does not have it")


def check(nodes: NodeIndex, source: bytes) -> list[SyntaxFinding]:
    findings: list[SyntaxFinding] = []
    for node in nodes.nodes:
        kind = node.type
        if node.is_error and not any(ancestor.is_error for ancestor in ancestors(node)):
            findings.append(_classify_error(node, source))
        elif node.is_missing:
            findings.append(SyntaxFinding("syntax-error", node, f"missing {node.type}: the payload does not parse"))
        elif kind == "pipeline_chain_tail":
            findings.append(_newer(node, f"the pipeline chain operator {text(node)}", "PowerShell 7.0"))
        elif kind == "foreach_parameter":
            findings.append(
                SyntaxFinding("newer-syntax", node, "foreach -parallel is workflow syntax, refused in a script")
            )
        elif kind == "command":
            findings.extend(_command(node))
        elif kind in ("expandable_string_literal", "expandable_here_string_literal"):
            findings.extend(_escapes(node))
        elif kind == "simple_name" and _NUMERIC_SUFFIX.match(text(node)) and _follows_digits(node, source):
            findings.append(_newer(node, f"the numeric literal suffix '{text(node)}'", "PowerShell 6.2/7.0"))
        elif kind == "range_expression":
            findings.extend(_character_range(node))
        elif kind == "comparison_expression":
            findings.extend(_replace_with_script_block(node))
        elif kind == "attribute":
            findings.extend(_attribute(node))
        elif kind == "variable":
            path = variable_path(node)
            if path is not None and path.qualifier is None and path.key in NEWER_AUTOMATIC_VARIABLES:
                findings.append(
                    _newer(node, f"the automatic variable ${path.name}", NEWER_AUTOMATIC_VARIABLES[path.key])
                )
    return [finding for finding in findings if finding is not None]


def _classify_error(node: Node, source: bytes) -> SyntaxFinding:
    raw = text(node)
    after = source[node.end_byte : node.end_byte + 1].decode("utf-8", "replace")
    following = node.next_sibling
    if "??" in raw and (
        "??=" in raw or (following is not None and following.type == "assignement_operator" and text(following) == "=")
    ):
        return _newer(node, "the null-coalescing assignment operator ??=", "PowerShell 7.0")
    if "??" in raw:
        return _newer(node, "the null-coalescing operator ??", "PowerShell 7.0")
    if raw.strip() == "?" and after == ".":
        return _newer(node, "the null-conditional member access ?.", "PowerShell 7.1")
    if raw.strip() == "?" and after == "[":
        return _newer(node, "the null-conditional index ?[]", "PowerShell 7.1")
    if re.search(r"\s\?\s", f" {raw} ") or raw.strip().startswith("?"):
        return _newer(node, "the ternary operator ? :", "PowerShell 7.0")
    names = [text(child).strip().lower() for child in walk(node) if child.type == "simple_name"]
    if "clean" in names:
        return _newer(node, "a clean { } block", "PowerShell 7.3")
    stripped = raw.rstrip()
    if stripped.endswith("&") and not stripped.endswith("&&"):
        return _newer(node, "the background operator &", "PowerShell 6.0")
    for child in walk(node):
        if child.type == "simple_name" and _NUMERIC_SUFFIX.match(text(child)) and _follows_digits(child, source):
            return _newer(child, f"the numeric literal suffix '{text(child)}'", "PowerShell 6.2/7.0")
        if child.type == "command_name" and _NUMBER_WITH_NEW_SUFFIX.match(text(child).strip()):
            return _newer(child, f"the numeric literal {text(child).strip()}", "PowerShell 6.2/7.0")
    snippet = raw.strip().replace("\n", "\\n")[:60]
    return SyntaxFinding("syntax-error", node, f"does not parse: {snippet!r}")


def _follows_digits(name: Node, source: bytes) -> bool:
    """A name written right after a number, as tree-sitter splits '2uy' into 2 and uy."""
    start = name.start_byte
    digits = start
    while digits > 0 and chr(source[digits - 1]).isdigit():
        digits -= 1
    return digits < start and (digits == 0 or not (chr(source[digits - 1]).isalnum() or source[digits - 1] in b"_$."))


def _command(node: Node) -> list[SyntaxFinding]:
    findings: list[SyntaxFinding] = []
    name_node = child_of_type(node, "command_name")
    name = text(name_node).strip().lower() if name_node is not None else ""
    elements = child_of_type(node, "command_elements")
    if name_node is not None and _NUMBER_WITH_NEW_SUFFIX.match(name):
        findings.append(_newer(name_node, f"the numeric literal {text(name_node).strip()}", "PowerShell 6.2/7.0"))
    if name == "clean" and elements is not None:
        first = next((child for child in elements.children if child.type != "command_argument_sep"), None)
        if first is not None and core(first).type == "script_block_expression":
            findings.append(_newer(node, "a clean { } block", "PowerShell 7.3"))
    if elements is None:
        return findings
    for parameter in command_parameters(elements):
        given = text(parameter).lstrip("-").lower()
        if (
            name in ("foreach-object", "%", "foreach")
            and any(full.startswith(given) for full in _PARALLEL_PARAMETERS)
            and not any(full.startswith(given) for full in _FOREACH_OBJECT_51)
        ):
            findings.append(_newer(parameter, f"ForEach-Object -{text(parameter).lstrip('-')}", "PowerShell 7.0"))
        elif given in ("progressaction", "proga"):
            findings.append(_newer(parameter, "the common parameter -ProgressAction", "PowerShell 7.4"))
    return findings


def _escapes(node: Node) -> list[SyntaxFinding]:
    raw = (
        "".join(
            text(child) if child.type not in ("variable", "sub_expression") else " " * len(text(child))
            for child in node.children
        )
        if node.child_count
        else text(node)
    )
    findings = []
    index = 0
    while index < len(raw) - 1:
        if raw[index] == "`":
            escaped = raw[index + 1]
            if escaped == "u" and raw[index + 2 : index + 3] == "{":
                findings.append(_newer(node, "the Unicode escape `u{...}", "PowerShell 6.0"))
            elif escaped == "e":
                findings.append(_newer(node, "the escape `e (ESC)", "PowerShell 6.0"))
            index += 2
            continue
        index += 1
    return findings


def _character_range(node: Node) -> list[SyntaxFinding]:
    if node.child_count != 3 or node.children[1].type != "..":
        return []
    values = [string_value(node.children[0]), string_value(node.children[2])]
    quoted = all(
        core(child).type in ("verbatim_string_characters", "expandable_string_literal")
        for child in (node.children[0], node.children[2])
    )
    if quoted and all(value is not None and len(value) == 1 for value in values):
        return [_newer(node, "a character range 'a'..'z'", "PowerShell 6.0")]
    return []


def _replace_with_script_block(node: Node) -> list[SyntaxFinding]:
    operator = child_of_type(node, "comparison_operator")
    if operator is None or text(operator).lower() not in ("-replace", "-ireplace", "-creplace"):
        return []
    right = core(node.children[-1])
    items = right.named_children if right.type == "array_literal_expression" else [right]
    if any(core(item).type == "script_block_expression" for item in items[1:]):
        return [_newer(node, "-replace with a script block substitution", "PowerShell 6.1")]
    return []


def _attribute(node: Node) -> list[SyntaxFinding]:
    name_node = child_of_type(node, "attribute_name")
    if name_node is None:
        return []
    name = type_spec_text(name_node).lower().removesuffix("attribute")
    findings = []
    if name == "argumentcompletions":
        findings.append(_newer(node, "the [ArgumentCompletions()] attribute", "PowerShell 6.0"))
    arguments = child_of_type(node, "attribute_arguments")
    for argument in children_of_type(arguments, "attribute_argument") if arguments else []:
        first = argument.children[0]
        if first.type == "simple_name" and text(first).lower() == "errormessage" and name.startswith("validate"):
            findings.append(_newer(argument, f"ErrorMessage on [{type_spec_text(name_node)}()]", "PowerShell 6.0"))
        value = string_value(argument.children[0]) if argument.child_count == 1 else None
        if name == "validaterange" and (value or "").lower() in _VALIDATE_RANGE_KINDS:
            findings.append(_newer(argument, "a ValidateRangeKind argument of [ValidateRange()]", "PowerShell 6.1"))
    return findings
