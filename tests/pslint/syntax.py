"""The tree-sitter-powershell parse, and the few facts about its nodes that every rule needs.

tree-sitter-powershell wraps every expression in one node per precedence level (``logical_expression`` >
``bitwise_expression`` > ... > ``unary_expression``); :func:`core` strips those wrappers so that a rule sees the
node that means something (a variable, a cast, a member access).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing as t

import tree_sitter
import tree_sitter_powershell

Node = tree_sitter.Node

# One child, no meaning of their own: the precedence levels of the grammar.
WRAPPERS = frozenset(
    {
        "pipeline",
        "pipeline_chain",
        "left_assignment_expression",
        "logical_expression",
        "bitwise_expression",
        "comparison_expression",
        "additive_expression",
        "multiplicative_expression",
        "format_expression",
        "range_expression",
        "array_literal_expression",
        "unary_expression",
        "argument_expression",
        "logical_argument_expression",
        "bitwise_argument_expression",
        "comparison_argument_expression",
        "additive_argument_expression",
        "multiplicative_argument_expression",
        "format_argument_expression",
        "range_argument_expression",
        "expression_with_unary_operator",
        "string_literal",
    }
)

# Scope modifiers of a variable path (about_Scopes); any other prefix before ':' is a drive ($env:PATH).
SCOPE_MODIFIERS = frozenset({"global", "local", "private", "script", "using", "workflow"})


@functools.lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


@functools.lru_cache(maxsize=32)
def parse(source: str) -> tree_sitter.Tree:
    return _parser().parse(source.encode("utf-8"))


class NodeIndex:
    """Every node of a tree once, in source order, and by type: the rules look nodes up here instead of each
    walking the whole tree again."""

    def __init__(self, tree: tree_sitter.Tree):
        self.tree = tree
        self.root = tree.root_node
        self.nodes: list[Node] = []
        self.by_type: dict[str, list[Node]] = {}
        cursor = self.root.walk()
        while True:
            node = cursor.node
            self.nodes.append(node)
            self.by_type.setdefault(node.type, []).append(node)
            if cursor.goto_first_child():
                continue
            while not cursor.goto_next_sibling():
                if not cursor.goto_parent():
                    return

    def of_type(self, *types: str) -> list[Node]:
        if len(types) == 1:
            return self.by_type.get(types[0], [])
        found = [node for node_type in types for node in self.by_type.get(node_type, [])]
        return sorted(found, key=lambda node: (node.start_byte, -node.end_byte))


@functools.lru_cache(maxsize=32)
def index(source: str) -> NodeIndex:
    return NodeIndex(parse(source))


def text(node: Node) -> str:
    return node.text.decode("utf-8", "replace")


def position(node: Node) -> tuple[int, int]:
    """1-based line and column, as an editor shows them."""
    line, column = node.start_point
    return line + 1, column + 1


def core(node: Node) -> Node:
    """The node a chain of single-child precedence wrappers stands for."""
    while node.type in WRAPPERS and node.named_child_count == 1 and node.child_count == 1:
        node = node.children[0]
    return node


def walk(node: Node) -> t.Iterator[Node]:
    """Every node below and including ``node``, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def child_of_type(node: Node, *types: str) -> Node | None:
    return next((child for child in node.children if child.type in types), None)


def children_of_type(node: Node, *types: str) -> list[Node]:
    return [child for child in node.children if child.type in types]


def ancestors(node: Node) -> t.Iterator[Node]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


@dataclasses.dataclass(frozen=True)
class VariablePath:
    """A variable reference as PowerShell reads it: ``$script:Name`` is qualifier 'script', name 'Name'."""

    name: str
    qualifier: str | None  # lower-cased scope modifier or drive name, None when unqualified
    splat: bool  # @name

    @property
    def key(self) -> str:
        """Variable names ignore case."""
        return self.name.lower()

    @property
    def is_drive(self) -> bool:
        return self.qualifier is not None and self.qualifier not in SCOPE_MODIFIERS and self.qualifier != "variable"


_PLAIN_VARIABLE = re.compile(r"^([$@])(?:([A-Za-z0-9_]+):)?([A-Za-z0-9_]+|\?)$")


def variable_path(node: Node) -> VariablePath | None:
    """The path a ``variable`` node names; None for a form this lint does not read (never expected)."""
    raw = text(node)
    if raw in ("$$", "$^", "$?", "$_"):
        return VariablePath(raw[1:], None, False)
    braced = child_of_type(node, "braced_variable")
    if braced is not None or raw.startswith("${"):
        inner = raw[2:-1]
        qualifier, _colon, name = inner.rpartition(":") if ":" in inner else ("", "", inner)
        return VariablePath(name, qualifier.lower() or None, False)
    match = _PLAIN_VARIABLE.match(raw)
    if match is None:
        return None
    sigil, qualifier, name = match.groups()
    return VariablePath(name, qualifier.lower() if qualifier else None, sigil == "@")


def type_spec_text(spec: Node) -> str:
    return re.sub(r"\s+", "", text(spec))


# A statement that starts with a number is an expression to PowerShell (1..3 | ...), but tree-sitter-powershell
# reads such a statement as a command whose name is the whole token ("1..3", "1..$n").
_EXPRESSION_AS_COMMAND = re.compile(r"^(?:0x[0-9a-f]+|[0-9]+(?:\.[0-9]+)?)", re.IGNORECASE)


def command_name_is_expression(name: str) -> bool:
    return bool(_EXPRESSION_AS_COMMAND.match(name))


_VARIABLE_IN_TOKEN = re.compile(r"\$(?:\{([^}]+)\}|(?:([A-Za-z0-9_]+):)?([A-Za-z0-9_]+))")


def variables_in_token(token: str) -> list[VariablePath]:
    """Variables inside a token tree-sitter did not split (a mis-read command name such as ``1..$n``)."""
    found = []
    for match in _VARIABLE_IN_TOKEN.finditer(token):
        braced, qualifier, name = match.groups()
        if braced is not None:
            qualifier, _colon, name = braced.rpartition(":") if ":" in braced else ("", "", braced)
        found.append(VariablePath(name, qualifier.lower() if qualifier else None, False))
    return found


def string_value(node: Node) -> str | None:
    """The value of a literal string node (or of a bare word), None when it expands anything."""
    node = core(node)
    if node.type == "string_literal":
        node = node.children[0]
    raw = text(node)
    if node.type == "verbatim_string_characters":
        return raw[1:-1].replace("''", "'")
    if node.type == "verbatim_here_string_characters":
        return _here_string_body(raw)
    if node.type == "expandable_string_literal" and node.named_child_count == 0 and "`" not in raw:
        return raw[1:-1].replace('""', '"')
    if node.type == "expandable_here_string_literal" and node.named_child_count == 0 and "`" not in raw:
        return _here_string_body(raw)
    if node.type == "generic_token":
        return raw
    return None


def _here_string_body(raw: str) -> str:
    """A here-string's text: from the line after its opening @' to the line before its closing '@."""
    first_newline = raw.index("\n")
    body = raw[first_newline + 1 :]
    body = body[: body.rindex("\n")] if "\n" in body else ""
    return body.rstrip("\r")


def here_string_first_line(node: Node) -> int:
    """The 1-based source line of a here-string's first line of text."""
    return node.start_point[0] + 2
