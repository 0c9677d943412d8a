"""``secret-taint``: a secret reaches .NET method calls only, never a command's arguments or text that leaves.

Where a policy enables it, PowerShell module logging (event 4103) records the parameter bindings of every command
invocation, each value as its ``.ToString()``, and script block logging (event 4104) records script text; process
creation auditing (event 4688) records a program's command line. A .NET method call is not recorded. So a payload
hands a secret, and anything computed from one, to .NET methods only.

Sources: every parameter (of the script, a function, a script block or a class method) typed ``[SecureString]`` or
``[PSCredential]`` (with or without their namespaces, arrays too), and every variable a ``# pslint-secret: $Name``
comment names in the scope (function or script) where the comment stands.

Propagation, flow-insensitive within a scope (scopes.py's), to a fixpoint:

- an assignment of any form (``=``, ``+=``, typed, several targets, ``foreach ($x in ...)``, a parameter's default,
  ``Set-Variable -Value``, ``-OutVariable``) whose value holds a tainted variable anywhere: member access, indexing,
  method calls, casts, operators, sub-expressions, pipelines, script blocks;
- ``$x.Member = <tainted>`` and ``$x[...] = <tainted>`` taint ``$x``; so does a method that keeps its arguments
  (``STORING_METHODS``: ``$list.Add($secret)``, ``$builder.Append(...)``, ``$secure.AppendChar(...)``); ``[ref]$x``
  handed to a method with a tainted argument or receiver taints ``$x``;
- ``$_`` is what it iterates over: the pipeline input of the command whose script block it is in
  (``ForEach-Object``, ``Where-Object``...), the receiver of ``.ForEach()``/``.Where()``, a ``switch``'s condition,
  a function's pipeline input; in a ``catch`` or ``trap`` block it is the error, which is not followed;
- a command's output carries its pipeline input and what its script blocks output (``ForEach-Object { }``,
  ``& { }``), not its other arguments: those are a finding already;
- a call of a function the script defines binds each argument to the parameter it names (``-Name``, ``-Name:``, an
  ``[Alias()]``, a unique prefix), then the positional ones to the non-switch parameters left, in declared order,
  and pipeline input to the ``ValueFromPipeline`` parameters; an argument the lint cannot place (a splat, an unknown
  name, a positional past the last parameter) taints every parameter. ``$PSBoundParameters`` holds them all;
- a function whose output (an emitting statement, or ``return``) is tainted makes the result of every call of it
  tainted, whatever that call passes: the lint does not tell the calls apart.

What stops taint:

- a value that can only be true or false: ``-and``, ``-or``, ``-xor``, ``-not``/``!``, ``-is``, ``-contains``,
  ``-in`` and their negations, a comparison whose left operand is a literal (``$null -eq $Secure``), the methods of
  ``BOOLEAN_METHODS`` (``Equals``, ``ContainsKey``...). Another comparison passes its operands on: on a collection,
  ``-eq`` and the like return elements rather than a boolean;
- a type that holds no text (``TEXTLESS_SCALARS``, ``TEXTLESS_ELEMENTS``): a cast to it, and a parameter or
  variable declared with it, which converts whatever it is given (``[int]$ErrorCode``); and a static method of the
  payload's own Add-Type C# whose every overload of that name is declared to return such a type (an error code, a
  boolean, SIDs);
- the members of ``NAME_MEMBERS``, which name a secret rather than hold one: a dictionary entry's ``.Key``, a
  dictionary's ``.Keys``, a credential's ``.UserName``;
- a method call standing alone as a statement adds nothing to its function's output when its method is one of
  ``SILENT_METHODS`` (``Import``, ``Dispose``...), nor does a command of ``SILENT_COMMANDS`` (``Write-Verbose``...).

Sinks, at most one finding each, at the first tainted value in it:

- the arguments (bare words included) and pipeline input of a command that is not a function of the script: a
  cmdlet, a program, ``&`` or ``.`` of anything; and ``throw``. A script block literal given as an argument is not a
  value (its text is logged as written, and its own commands are sinks themselves);
- an expandable string (``"...$x..."``, ``"$($x.Y)"``, ``@"..."@``) and the operands of ``-f``: they build text;
  one inside another sink is that sink's;
- an assignment to ``$Ansible.<anything>``, a method call on it, and what the script itself outputs: all go back to
  the controller.

docs/payload_checks.md says the same to the payload author, and what the rule cannot see.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import typing as t

from . import csharp
from .commands import command_name
from .scopes import Model, Param, Scope, VARIABLE_PARAMETERS
from .syntax import (
    WRAPPERS,
    Node,
    NodeIndex,
    ancestors,
    child_of_type,
    command_name_is_expression,
    core,
    string_value,
    text,
    type_spec_text,
    variable_path,
    variables_in_token,
)

RULE = "secret-taint"

SECRET_TYPES = frozenset(
    {"securestring", "system.security.securestring", "pscredential", "system.management.automation.pscredential"}
)
# Whatever they are called on, their result is true or false.
BOOLEAN_METHODS = frozenset(
    {"equals", "containskey", "containsvalue", "contains", "startswith", "endswith", "isnullorempty",
     "isnullorwhitespace", "trygetvalue", "tryparse"}
)  # fmt: skip
# Members that name a secret: the keys of a name -> secret map, a credential's user.
NAME_MEMBERS = frozenset({"key", "keys", "username"})
# Methods that keep their arguments in the object they are called on.
STORING_METHODS = frozenset(
    {"add", "addrange", "insert", "insertrange", "push", "enqueue", "append", "appendline", "appendformat",
     "appendchar", "insertat", "setat", "setvalue", "set_item", "tryadd"}
)  # fmt: skip
# Commands that output nothing: a statement that ends in one adds nothing to its function's output.
SILENT_COMMANDS = frozenset(
    {"write-verbose", "write-warning", "write-debug", "write-host", "write-information", "write-progress",
     "write-error", "out-null", "out-host", "set-variable", "remove-variable", "add-type", "import-module"}
)  # fmt: skip
# Methods that return nothing, or nothing of the text they are given, called on their own as a statement: they add
# nothing to the output of the function around them. StringBuilder.Append (which returns the builder) and the string
# methods are not among them.
SILENT_METHODS = frozenset(
    {"add", "addrange", "appendchar", "clear", "close", "copyto", "dispose", "import", "insertat", "makereadonly",
     "removeat", "reset", "setat", "setvalue", "enqueue", "push"}
)  # fmt: skip
# Types whose values hold no text: PowerShell converts what a variable or parameter of such a type is given, and
# what a cast produces, so the secret's text cannot be in it. Not char or byte, which text is made of; arrays only of
# the types that cannot be assembled from characters (an [int[]] can hold a password's character codes).
TEXTLESS_SCALARS = frozenset(
    {"void", "bool", "boolean", "switch", "switchparameter", "sbyte", "int16", "short", "uint16", "ushort", "int",
     "int32", "uint32", "uint", "long", "int64", "uint64", "ulong", "single", "float", "double", "decimal"}
)  # fmt: skip
TEXTLESS_ELEMENTS = frozenset({"bool", "boolean", "securityidentifier"})
BOOLEAN_COMPARISONS = re.compile(r"^-[ci]?(?:not)?(?:contains|in)$|^-is(?:not)?$", re.IGNORECASE)
STRING_TYPES = frozenset(
    {"verbatim_string_characters", "expandable_string_literal", "verbatim_here_string_characters",
     "expandable_here_string_literal"}
)  # fmt: skip
LITERAL_TYPES = frozenset({"integer_literal", "real_literal", "decimal_integer_literal", "hexadecimal_integer_literal"})
NOT_VALUES = frozenset(
    {"comment", "type_literal", "command_parameter", "function_statement", "class_statement", "enum_statement",
     "attribute_list", "attribute", "param_block", "redirection"}
)  # fmt: skip
# Statements in these sit where their output is the output of the function or script around them.
STATEMENT_CONTAINERS = frozenset(
    {"program", "statement_list", "statement_block", "if_statement", "elseif_clauses", "elseif_clause", "else_clause",
     "foreach_statement", "for_statement", "while_statement", "do_statement", "try_statement", "catch_clauses",
     "catch_clause", "finally_clause", "switch_statement", "switch_body", "switch_clauses", "switch_clause",
     "script_block", "script_block_body", "named_block_list", "named_block", "trap_statement", "labeled_statement",
     "function_statement"}
)  # fmt: skip
_SECRET_COMMENT = re.compile(r"^#\s*pslint-secret\s*:\s*(.+?)\s*$", re.IGNORECASE)
_NATIVE = re.compile(r"[\\/]|\.(exe|com|cmd|bat)$", re.IGNORECASE)

# A variable of a scope, by lower-cased name; ('out', n) is the output of the function whose scope is n.
Key = tuple[int | str, str | int]


@dataclasses.dataclass(frozen=True)
class TaintFinding:
    node: Node
    message: str


@dataclasses.dataclass(frozen=True)
class _Atom:
    """One tainted-if-its-variable-is use inside a value: ``key`` as written at ``node``."""

    key: Key
    node: Node
    shown: str


@dataclasses.dataclass
class _Sink:
    node: Node
    kind: str  # 'command', 'native', 'input', 'throw', 'text', 'result', 'output'
    what: str
    atoms: tuple[_Atom, ...]


def check(nodes: NodeIndex, model: Model) -> list[TaintFinding]:
    return _Analysis(nodes, model).run()


def _is_secret_type(spec: str) -> bool:
    return spec.lower().rstrip("[]").strip() in SECRET_TYPES


def _textless(type_name: str, enums: frozenset[str] = frozenset()) -> bool:
    """Whether a value of the PowerShell or C# type ``type_name`` holds no text."""
    name = re.sub(r"\s+", "", type_name).lower()
    generic = re.match(
        r"^(?:[\w.]*\.)?(?:list|ilist|icollection|ienumerable|ireadonlylist)(?:`1)?[\[<](.+)[\]>]$", name
    )
    element = generic.group(1) if generic else name[:-2] if name.endswith("[]") else None
    if element is not None:
        bare = element.rpartition(".")[2]
        return bare in TEXTLESS_ELEMENTS or bare in enums
    bare = name.rpartition(".")[2]
    return bare in TEXTLESS_SCALARS or bare in TEXTLESS_ELEMENTS or bare in enums


_CSHARP_TYPE = re.compile(r"\b(?:class|struct|interface|enum)\s+(\w+)")
_CSHARP_ENUM = re.compile(r"\benum\s+(\w+)")
_CSHARP_STATIC_METHOD = re.compile(r"\bstatic\s+(?:extern\s+|unsafe\s+)*([\w.]+(?:<[^<>()]*>)?(?:\[\])*)\s+(\w+)\s*\(")


def _textless_static_methods(nodes: NodeIndex) -> set[tuple[str, str]]:
    """(type, method), lower-cased, of the static methods of the payload's own Add-Type C# that return a type that
    holds no text, in every overload of every type of that source that declares the name: what TestLogon's error
    code or GetGroupSids' SIDs carry is not the password the method was given."""
    found: set[tuple[str, str]] = set()
    for block in csharp.add_type_blocks(nodes):
        source = block.source or ""
        enums = frozenset(match.group(1).lower() for match in _CSHARP_ENUM.finditer(source))
        types = {match.group(1).lower() for match in _CSHARP_TYPE.finditer(source)}
        returns: dict[str, list[str]] = {}
        for match in _CSHARP_STATIC_METHOD.finditer(source):
            returns.setdefault(match.group(2).lower(), []).append(match.group(1))
        for method, names in returns.items():
            if all(_textless(name, enums) for name in names):
                found.update((owner, method) for owner in types)
    return found


_SCRIPT_BLOCK_CREATE = re.compile(r"\A\[(?:system\.management\.automation\.)?scriptblock\]::create\(", re.IGNORECASE)


def _compiled_script_blocks(nodes: NodeIndex) -> set[str]:
    """``$name`` (lower case) of each variable that every assignment in the script sets to ``[scriptblock]::Create()``."""
    assigned: dict[str, set[bool]] = {}
    for node in nodes.of_type("assignment_expression"):
        targets = _plain_targets(core(node.children[0]))
        if not targets or len(targets) != 1:
            continue
        value = text(node.children[-1]).strip()
        assigned.setdefault(text(targets[0]).strip().lower(), set()).add(bool(_SCRIPT_BLOCK_CREATE.match(value)))
    return {name for name, kinds in assigned.items() if kinds == {True}}


def _param_types(param: Param) -> list[str]:
    holder = param.node.parent
    if holder is None:
        return []
    literals = [child for child in holder.children if child.type == "type_literal"]
    attributes = child_of_type(holder, "attribute_list")
    for attribute in attributes.children if attributes is not None else []:
        literals.extend(child for child in attribute.children if child.type == "type_literal")
    return [type_spec_text(spec) for spec in (child_of_type(literal, "type_spec") for literal in literals) if spec]


def _root_variable(node: Node) -> Node | None:
    """The variable a member, element or method chain starts from: ``$x`` of ``$x.A['b'].C()``."""
    node = core(node)
    while node.type in ("member_access", "element_access", "invokation_expression") and node.children:
        node = core(node.children[0])
    return node if node.type == "variable" else None


def _is_literal(node: Node) -> bool:
    node = core(node)
    if node.type == "variable":
        return text(node).lower() in ("$null", "$true", "$false")
    if node.type in LITERAL_TYPES:
        return True
    return node.type in STRING_TYPES and string_value(node) is not None


class _Analysis:
    def __init__(self, nodes: NodeIndex, model: Model):
        self.nodes = nodes
        self.model = model
        self.scope_at = {scope.node.id: scope for scope in model.scopes}
        self.number = {id(scope): number for number, scope in enumerate(model.scopes)}
        self.script = model.script
        self.defined: list[set[str]] = [
            set(scope.params) | {assignment.key for assignment in scope.assignments} for scope in model.scopes
        ]
        self.sources: dict[Key, str] = {}
        self.edges: list[tuple[Key, tuple[_Atom, ...]]] = []
        self.sinks: list[_Sink] = []
        self.memo: dict[int, tuple[_Atom, ...]] = {}
        self.textless: set[Key] = set()
        self.textless_methods = _textless_static_methods(nodes)
        self.compiled_blocks = _compiled_script_blocks(nodes)
        # Where a value can come from: variables, bare words that expand one, calls of the script's own functions.
        self.carriers = sorted(
            [node.start_byte for node in nodes.of_type("variable")]
            + [node.start_byte for node in nodes.of_type("generic_token") if b"$" in node.text]
            + [node.start_byte for node in nodes.of_type("command") if self._function_called(node) is not None]
        )

    # --- scopes and variables ---------------------------------------------------------------------------

    def _key(self, scope: Scope, name: str) -> Key:
        return (self.number[id(scope)], name)

    def _resolve(self, scope: Scope, name: str) -> Key:
        """The variable a read of ``name`` in ``scope`` finds: the nearest scope that defines it."""
        current: Scope | None = scope
        while current is not None:
            if name in self.defined[self.number[id(current)]]:
                return self._key(current, name)
            if current.kind == "method":
                return self._key(current, name)
            current = current.parent
        return self._key(self.script, name)

    def _target(self, scope: Scope, variable: Node) -> Key | None:
        """The variable a plain assignment to ``variable`` sets."""
        path = variable_path(variable)
        if path is None or path.is_drive:
            return None
        if path.qualifier in ("script", "global"):
            return self._key(self.script, path.key)
        return self._key(scope, path.key)

    def _function_scope(self, scope: Scope) -> Scope | None:
        while scope is not None and scope.kind == "block":
            scope = scope.parent
        return scope if scope is not None and scope.kind == "function" else None

    def _scope_of(self, node: Node) -> Scope:
        for ancestor in ancestors(node):
            if ancestor.id in self.scope_at:
                return self.scope_at[ancestor.id]
        return self.script

    # --- the values a node is made of ------------------------------------------------------------------

    def deps(self, node: Node, scope: Scope) -> tuple[_Atom, ...]:
        """The variables (and function outputs) whose taint ``node``'s value carries."""
        while node.type in WRAPPERS and node.child_count == 1:
            node = node.children[0]
        cached = self.memo.get(node.id)
        if cached is not None:
            return cached
        # Most of a script holds no variable and calls no function of its own: nothing to follow there.
        first = bisect.bisect_left(self.carriers, node.start_byte)
        if first == len(self.carriers) or self.carriers[first] >= node.end_byte:
            self.memo[node.id] = ()
            return ()
        if node.id in self.scope_at and node.type != "program":
            scope = self.scope_at[node.id]
        found = self._deps(node, scope)
        self.memo[node.id] = found
        return found

    def _union(self, nodes, scope: Scope) -> tuple[_Atom, ...]:
        found: list[_Atom] = []
        for child in nodes:
            found.extend(self.deps(child, scope))
        return tuple(found)

    def _deps(self, node: Node, scope: Scope) -> tuple[_Atom, ...]:
        kind = node.type
        if kind in NOT_VALUES or not node.is_named:
            return ()
        if kind == "variable":
            return self._variable(node, scope)
        if kind == "generic_token":
            # A bare word argument expands its variables: /pass:$secret.
            return tuple(
                _Atom(self._resolve(scope, path.key), node, text(node))
                for path in variables_in_token(text(node))
                if not path.is_drive
            )
        if kind == "comparison_expression" and node.child_count == 3:
            operator = text(node.children[1]).strip()
            if BOOLEAN_COMPARISONS.match(operator) or _is_literal(node.children[0]):
                return ()
        elif kind == "logical_expression" and node.child_count == 3:
            return ()
        elif kind == "expression_with_unary_operator" and text(node.children[0]).lower() in ("-not", "!"):
            return ()
        elif kind == "cast_expression":
            literal = child_of_type(node, "type_literal")
            spec = child_of_type(literal, "type_spec") if literal is not None else None
            if spec is not None and _textless(type_spec_text(spec)):
                return ()
        elif kind == "invokation_expression":
            member = child_of_type(node, "member_name")
            method = text(member).strip().lower() if member is not None else ""
            if method in BOOLEAN_METHODS:
                return ()
            receiver = core(node.children[0])
            spec = child_of_type(receiver, "type_spec") if receiver.type == "type_literal" else None
            if spec is not None and (type_spec_text(spec).rpartition(".")[2].lower(), method) in self.textless_methods:
                return ()
        elif kind == "member_access":
            member = child_of_type(node, "member_name")
            if member is not None and text(member).strip().lower() in NAME_MEMBERS:
                return ()
        elif kind == "command":
            return self._command_value(node, scope)
        elif kind == "pipeline_chain":
            return self._pipeline_value(node, scope, len(node.children))
        elif kind == "assignment_expression":
            return self._union(node.children[2:], scope)
        elif kind == "hash_entry":
            return self._union(
                [child for child in node.children if child.type != "key_expression" or not _simple_key(child)], scope
            )
        return self._union(node.children, scope)

    def _variable(self, node: Node, scope: Scope) -> tuple[_Atom, ...]:
        path = variable_path(node)
        if path is None or path.is_drive:
            return ()
        name = path.key
        if name in ("true", "false", "null"):
            return ()
        if name in ("_", "psitem"):
            return self._underbar(node, scope)
        if name in ("input", "args", "psboundparameters"):
            function = self._function_scope(scope)
            if function is None:
                return ()
            names = {"input": ["_"], "args": ["args"]}.get(name, ["args", *function.params])
            return tuple(_Atom(self._key(function, each), node, text(node)) for each in names)
        if path.qualifier in ("script", "global"):
            key = self._key(self.script, name)
        elif path.qualifier == "using" and scope.parent is not None:
            key = self._resolve(scope.parent, name)
        else:
            key = self._resolve(scope, name)
        return (_Atom(key, node, text(node)),)

    def _underbar(self, node: Node, scope: Scope) -> tuple[_Atom, ...]:
        child = node
        for ancestor in ancestors(node):
            kind = ancestor.type
            if kind == "script_block_expression":
                return self._block_input(ancestor)
            if kind == "switch_statement" and child.type == "switch_body":
                condition = child_of_type(ancestor, "switch_condition")
                return self.deps(condition, scope) if condition is not None else ()
            if kind in ("catch_clause", "trap_statement", "attribute", "class_method_definition"):
                return ()
            if kind == "function_statement":
                function = self.scope_at.get(ancestor.id)
                return (_Atom(self._key(function, "_"), node, text(node)),) if function is not None else ()
            child = ancestor
        return ()

    def _block_input(self, block: Node) -> tuple[_Atom, ...]:
        """What ``$_`` iterates over in a script block: its command's pipeline input, or .ForEach()'s receiver."""
        outer = self._scope_of(block)
        current = block
        for ancestor in ancestors(block):
            if ancestor.type in WRAPPERS or ancestor.type in ("argument_expression_list", "argument_list"):
                current = ancestor
                continue
            if ancestor.type == "invokation_expression" and current.type == "argument_list":
                return self.deps(ancestor.children[0], outer)
            if ancestor.type == "command_elements" and ancestor.parent is not None:
                return self._pipeline_input(ancestor.parent, outer)
            return ()
        return ()

    def _pipeline_input(self, command: Node, scope: Scope) -> tuple[_Atom, ...]:
        chain = command.parent
        if chain is None or chain.type != "pipeline_chain":
            return ()
        position = next(number for number, child in enumerate(chain.children) if child.id == command.id)
        return self._pipeline_value(chain, scope, position)

    def _pipeline_value(self, chain: Node, scope: Scope, end: int) -> tuple[_Atom, ...]:
        """The value of the pipeline's elements before ``end``: each command's output carries its input, except a
        script function's, which is that function's output."""
        value: tuple[_Atom, ...] = ()
        for child in chain.children[:end]:
            if not child.is_named:
                continue
            if child.type == "command" and self._function_called(child) is not None:
                value = self._command_value(child, scope)
            elif child.type == "command" and (command_name(child)[0] or "").lower() in SILENT_COMMANDS:
                value = ()
            else:
                value = value + self.deps(child, scope)
        return value

    def _function_called(self, command: Node):
        name, _node = command_name(command)
        if name is None or command_name_is_expression(name):
            return None
        return self.model.functions.get(name.lower())

    def _command_value(self, command: Node, scope: Scope) -> tuple[_Atom, ...]:
        """What a command outputs, besides its pipeline input: a script function's output; the output of the script
        blocks a command is given or runs (ForEach-Object { }, & { }). Its other arguments are a sink, reported
        there, and not followed into its output."""
        function = self._function_called(command)
        if function is not None:
            number = self.number[id(self.scope_at[function.node.id])]
            return (_Atom(("out", number), command, f"the output of {function.name}"),)
        blocks = [
            child
            for part in command.children
            if part.type in ("command_elements", "command_name_expr")
            for child in part.children
            if core(child).type == "script_block_expression"
        ]
        return self._union(blocks, scope)

    # --- the walk -----------------------------------------------------------------------------------------

    def run(self) -> list[TaintFinding]:
        self._sources()
        if not self.sources:
            return []
        handlers = {
            "assignment_expression": self._visit_assignment,
            "foreach_statement": self._visit_foreach,
            "invokation_expression": self._visit_method_call,
            "expandable_string_literal": self._visit_expandable_string,
            "expandable_here_string_literal": self._visit_expandable_string,
            "format_expression": self._visit_format,
            "command": self._visit_command,
            "flow_control_statement": self._visit_flow_control,
        }
        for node, scope in self._in_scopes(self.nodes.of_type(*handlers)):
            handlers[node.type](node, scope)
        self._statements(self.nodes.root, self.script, "script")
        for scope in self.model.scopes:
            if scope.kind == "function":
                self._statements(scope.node, scope, ("out", self.number[id(scope)]))
        return self._findings()

    def _in_scopes(self, found: list[Node]) -> t.Iterator[tuple[Node, Scope]]:
        """Each of ``found`` (in source order) with the scope it is in: one sweep along the nested scope spans."""
        events = sorted(
            [(scope.node.start_byte, -scope.node.end_byte, 0, number) for number, scope in enumerate(self.model.scopes)]
            + [(node.start_byte, -node.end_byte, 1, number) for number, node in enumerate(found)]
        )
        open_scopes: list[tuple[int, Scope]] = []
        for start, negative_end, kind, number in events:
            while open_scopes and open_scopes[-1][0] <= start:
                open_scopes.pop()
            if kind == 0:
                open_scopes.append((-negative_end, self.model.scopes[number]))
            else:
                yield found[number], open_scopes[-1][1] if open_scopes else self.script

    def _statements(self, node: Node, scope: Scope, output) -> None:
        """The statements whose output is the output of the function (or script) ``node``."""
        stack = [node]
        while stack:
            current = stack.pop()
            for child in current.children:
                if child.type == "pipeline" and current.type == "statement_list":
                    self._output(child, scope, output)
                elif child.type in STATEMENT_CONTAINERS and child.type != "function_statement":
                    stack.append(child)

    def _sources(self) -> None:
        for scope in self.model.scopes:
            for param in scope.params.values():
                types = _param_types(param)
                secret = next((spec for spec in types if _is_secret_type(spec)), None)
                if secret is not None:
                    self.sources[self._key(scope, param.key)] = f"a [{secret}] parameter"
                elif any(_textless(spec) for spec in types):
                    self.textless.add(self._key(scope, param.key))
            for assignment in scope.assignments:
                if assignment.typed is not None and _textless(assignment.typed[1:-1]):
                    self.textless.add(self._key(scope, assignment.key))
        for comment in self.nodes.of_type("comment"):
            match = _SECRET_COMMENT.match(text(comment))
            if match is None:
                continue
            scope = self._scope_of(comment)
            for name in match.group(1).split(","):
                name = name.strip().lstrip("$").lower()
                if name:
                    self.defined[self.number[id(scope)]].add(name)
                    self.sources[self._key(scope, name)] = "declared by # pslint-secret"
        for scope in self.model.scopes:
            for param in scope.params.values():
                default = child_of_type(param.node.parent, "script_parameter_default") if param.node.parent else None
                if default is not None:
                    self.edges.append((self._key(scope, param.key), self.deps(default, scope)))

    def _output(self, pipeline: Node, scope: Scope, output) -> None:
        statement = core(pipeline)
        if statement.type == "assignment_expression":
            return
        member = child_of_type(statement, "member_name") if statement.type == "invokation_expression" else None
        if member is not None and text(member).strip().lower() in SILENT_METHODS:
            return
        atoms = self.deps(pipeline, scope)
        if output == "script":
            self.sinks.append(_Sink(pipeline, "output", "", atoms))
        else:
            self.edges.append((output, atoms))

    def _visit_flow_control(self, node: Node, scope: Scope) -> None:
        keyword = text(node.children[0]).lower() if node.children else ""
        value = child_of_type(node, "pipeline")
        if value is None:
            return
        if keyword == "throw":
            self.sinks.append(_Sink(node, "throw", "", self.deps(value, scope)))
        elif keyword == "return":
            function = self._function_scope(scope)
            if function is not None and self._returns_from(node, function):
                self.edges.append((("out", self.number[id(function)]), self.deps(value, scope)))
            elif function is None and scope is self.script:
                self.sinks.append(_Sink(node, "output", "", self.deps(value, scope)))

    def _returns_from(self, node: Node, function: Scope) -> bool:
        for ancestor in ancestors(node):
            if ancestor.type == "script_block_expression":
                return False
            if ancestor.id == function.node.id:
                return True
        return False

    def _visit_assignment(self, node: Node, scope: Scope) -> None:
        value = self._union(node.children[2:], scope)
        left = core(node.children[0])
        targets = _plain_targets(left)
        if targets is not None:
            for variable in targets:
                key = self._target(scope, variable)
                if key is not None:
                    self.edges.append((key, value))
            return
        root = _root_variable(left)
        if root is None:
            return
        path = variable_path(root)
        if path is None or path.is_drive:
            return
        # $h[$secret] = 1 keeps the secret in $h too.
        indexes = self._union([child for child in _chain(left) if child.type not in ("member_name",)], scope)
        if path.key == "ansible":
            self.sinks.append(_Sink(node, "result", text(left), value))
            return
        self.edges.append((self._resolve(scope, path.key), value + indexes))

    def _visit_foreach(self, node: Node, scope: Scope) -> None:
        variable = child_of_type(node, "variable")
        collection = child_of_type(node, "pipeline")
        if variable is not None and collection is not None:
            key = self._target(scope, variable)
            if key is not None:
                self.edges.append((key, self.deps(collection, scope)))

    def _visit_method_call(self, node: Node, scope: Scope) -> None:
        member = child_of_type(node, "member_name")
        arguments = child_of_type(node, "argument_list")
        if member is None or arguments is None:
            return
        listed = child_of_type(arguments, "argument_expression_list")
        values = [child for child in listed.children if child.is_named] if listed is not None else []
        method = text(member).strip().lower()
        receiver = node.children[0]
        atoms = self._union(values, scope)
        root = _root_variable(receiver)
        path = variable_path(root) if root is not None else None
        if path is not None and path.key == "ansible" and not path.is_drive:
            self.sinks.append(_Sink(node, "result", f"{text(receiver)}.{text(member).strip()}()", atoms))
        elif path is not None and not path.is_drive and method in STORING_METHODS:
            self.edges.append((self._resolve(scope, path.key), atoms))
        references = [value for value in values if _ref_variable(value) is not None]
        if references:
            everything = atoms + self.deps(receiver, scope)
            for value in references:
                variable = _ref_variable(value)
                ref_path = variable_path(variable)
                if ref_path is not None and not ref_path.is_drive:
                    self.edges.append((self._resolve(scope, ref_path.key), everything))

    def _visit_expandable_string(self, node: Node, scope: Scope) -> None:
        self.sinks.append(_Sink(node, "text", "an expandable string", self._union(node.children, scope)))

    def _visit_format(self, node: Node, scope: Scope) -> None:
        if child_of_type(node, "format_operator") is not None:
            self.sinks.append(_Sink(node, "text", "an operand of -f", self._union(node.children, scope)))

    def _visit_command(self, node: Node, scope: Scope) -> None:
        name, name_node = command_name(node)
        if name is not None and command_name_is_expression(name):
            return
        elements = child_of_type(node, "command_elements")
        function = self._function_called(node)
        if function is not None:
            self._call(node, function, elements, scope)
            return
        operator = child_of_type(node, "command_invokation_operator")
        expression = child_of_type(node, "command_name_expr")
        if operator is not None and expression is not None and text(expression).strip().lower() in self.compiled_blocks:
            # A script block the script compiled itself is neither a cmdlet nor a function of a module, the only
            # commands whose parameter bindings module logging records (MshCommandRuntime's
            # InitShouldLogPipelineExecutionDetail); its text is in the script block log, and what it does with
            # the values is that script's own business, linted where it is a payload.
            return
        shown = name if name is not None else text(child_of_type(node, "command_name_expr") or node).strip()
        if operator is not None and name is None:
            shown = f"{text(operator)} {shown}"
        arguments: list[_Atom] = []
        expression = child_of_type(node, "command_name_expr")
        if expression is not None and name_node is None:
            arguments.extend(
                self._union([child for child in expression.children if child.type != "script_block_expression"], scope)
            )
        for child in elements.children if elements is not None else []:
            if core(child).type != "script_block_expression":
                arguments.extend(self.deps(child, scope))
        native = name is not None and _NATIVE.search(name) is not None
        self.sinks.append(_Sink(node, "native" if native else "command", shown, tuple(arguments)))
        self.sinks.append(_Sink(node, "input", shown, self._pipeline_input(node, scope)))
        lowered = (name or "").lower()
        pairs = _arguments(elements, set()) if elements is not None else []
        if lowered in ("set-variable", "new-variable"):
            self._set_variable(pairs, scope)
        for parameter, value in pairs:
            if parameter is not None and value is not None and parameter.lower() in VARIABLE_PARAMETERS:
                variable_name = string_value(value)
                if variable_name and parameter.lower() in ("outvariable", "ov", "pipelinevariable", "pv"):
                    target = self._named_target(scope, variable_name.lstrip("+"))
                    if target is not None:
                        value = self._command_value(node, scope) + self._pipeline_input(node, scope)
                        self.edges.append((target, value))

    def _named_target(self, scope: Scope, name: str) -> Key | None:
        qualifier, _colon, bare = name.rpartition(":") if ":" in name else ("", "", name)
        if qualifier.lower() in ("script", "global"):
            return self._key(self.script, bare.lower())
        if qualifier:
            return None
        return self._key(scope, bare.lower())

    def _set_variable(self, pairs, scope: Scope) -> None:
        named = {parameter.lower(): value for parameter, value in pairs if parameter is not None and value is not None}
        positional = [value for parameter, value in pairs if parameter is None]
        name_node = named.get("name", positional[0] if positional else None)
        value = named.get("value", positional[1] if len(positional) > 1 else None)
        name = string_value(name_node) if name_node is not None else None
        if not name or value is None:
            return
        scope_name = string_value(named["scope"]) if "scope" in named else None
        target_scope = self.script if (scope_name or "").lower() in ("script", "global") else scope
        self.edges.append((self._key(target_scope, name.lower()), self.deps(value, scope)))

    def _call(self, node: Node, function, elements: Node | None, scope: Scope) -> None:
        """Bind a script function's arguments to its parameters."""
        callee = self.scope_at[function.node.id]
        params = list(function.params.values())
        switches = {param.key for param in params if (param.constraint or "").lower() in ("[switch]",)}
        everything = [self._key(callee, param.key) for param in params] + [self._key(callee, "args")]
        pairs = _arguments(elements, switches | _switch_aliases(params)) if elements else []
        named = {getattr(_parameter_named(params, parameter), "key", None) for parameter, _value in pairs if parameter}
        # PowerShell binds the named arguments first, then the positional ones to the parameters left, in order.
        positional = [param for param in params if param.key not in switches and param.key not in named]
        index = 0
        for parameter, value in pairs:
            if value is None:
                continue
            atoms = self.deps(value, scope)
            if parameter is None:
                splat = core(value).type == "variable" and text(core(value)).startswith("@")
                if splat or index >= len(positional):
                    targets = everything
                else:
                    targets = [self._key(callee, positional[index].key)]
                index += 0 if splat else 1
            else:
                param = _parameter_named(params, parameter)
                targets = [self._key(callee, param.key)] if param is not None else everything
            if atoms:
                self.edges.extend((target, atoms) for target in targets)
        piped = self._pipeline_input(node, scope)
        if piped:
            by_pipeline = [param for param in params if _takes_pipeline(param)]
            targets = [self._key(callee, param.key) for param in by_pipeline] or everything
            for target in targets + [self._key(callee, "_")]:
                self.edges.append((target, piped))

    # --- the fixpoint and the findings ---------------------------------------------------------------------

    def _taint(self) -> dict[Key, str]:
        origin: dict[Key, str] = {key: "" for key in self.sources}
        users: dict[Key, list[int]] = {}
        for number, (_target, atoms) in enumerate(self.edges):
            for atom in atoms:
                users.setdefault(atom.key, []).append(number)
        work = list(origin)
        while work:
            key = work.pop()
            for number in users.get(key, ()):
                target, atoms = self.edges[number]
                if target in origin or target in self.textless:
                    continue
                atom = next(atom for atom in atoms if atom.key in origin)
                origin[target] = origin[atom.key] or atom.shown
                work.append(target)
        return origin

    def _findings(self) -> list[TaintFinding]:
        origin = self._taint()
        findings: list[TaintFinding] = []
        reported: list[tuple[int, int]] = []
        # Commands first, so that a string or a pipeline input inside one is that command's finding; the script's
        # output last, for it holds the others.
        order = {"command": 0, "native": 0, "throw": 0, "result": 0, "input": 1, "text": 2, "output": 3}
        for sink in sorted(self.sinks, key=lambda s: (order[s.kind], s.node.start_byte, -s.node.end_byte)):
            atom = next(
                (atom for atom in sorted(sink.atoms, key=lambda a: a.node.start_byte) if atom.key in origin), None
            )
            if atom is None:
                continue
            span = (sink.node.start_byte, sink.node.end_byte)
            if order[sink.kind] and any(start <= span[0] and span[1] <= end for start, end in reported):
                continue
            # The script's output of what is already a finding inside it says nothing more.
            if sink.kind == "output" and any(span[0] <= start and end <= span[1] for start, end in reported):
                continue
            reported.append(span)
            findings.append(TaintFinding(atom.node, f"{self._described(atom, origin)} {_reaches(sink)}"))
        return findings

    def _described(self, atom: _Atom, origin: dict[Key, str]) -> str:
        source = origin[atom.key]
        if not source:
            return f"{atom.shown} (secret: {self.sources[atom.key]})"
        return f"{atom.shown} (derived from {source})"


def _reaches(sink: _Sink) -> str:
    if sink.kind == "command":
        return f"reaches the arguments of {sink.what}; module logging (event 4103) would record it"
    if sink.kind == "input":
        return f"reaches the pipeline input of {sink.what}; module logging (event 4103) would record it"
    if sink.kind == "native":
        return f"reaches the command line of {sink.what}; process creation auditing (event 4688) would record it"
    if sink.kind == "throw":
        return "is thrown; the error's message goes to the error stream and the task's result"
    if sink.kind == "result":
        return f"reaches {sink.what}, which goes back to the controller"
    if sink.kind == "output":
        return "is output by the script, which win_powershell returns to the controller"
    return f"reaches {sink.what}, which builds text that can end up in a message, a result or a log"


def _simple_key(key_expression: Node) -> bool:
    return child_of_type(key_expression, "simple_name") is not None


def _chain(node: Node) -> list[Node]:
    """The index and argument parts of a member, element or method chain, for the values they hold."""
    parts = []
    node = core(node)
    while node.type in ("member_access", "element_access", "invokation_expression") and node.children:
        parts.extend(child for child in node.children[1:] if child.is_named)
        node = core(node.children[0])
    return parts


def _plain_targets(left: Node) -> list[Node] | None:
    """The variables an assignment sets; None when it sets a member or an element."""
    node = core(left)
    if node.type == "variable":
        return [node]
    if node.type == "cast_expression":
        literal = child_of_type(node, "type_literal")
        operand = next((core(child) for child in node.children if child != literal), None)
        return _plain_targets(operand) if operand is not None else None
    if node.type == "array_literal_expression":
        found: list[Node] = []
        for child in node.named_children:
            inner = _plain_targets(child)
            if inner is None:
                return None
            found.extend(inner)
        return found
    if node.type == "expression_with_unary_operator" and node.named_child_count == 1:
        return _plain_targets(node.named_children[0])
    return None


def _ref_variable(value: Node) -> Node | None:
    node = core(value)
    if node.type == "expression_with_unary_operator" and node.named_child_count == 1:
        node = core(node.named_children[0])
    if node.type != "cast_expression":
        return None
    literal = child_of_type(node, "type_literal")
    spec = child_of_type(literal, "type_spec") if literal is not None else None
    operand = next((core(child) for child in node.children if child != literal), None)
    if spec is None or type_spec_text(spec).lower() != "ref" or operand is None or operand.type != "variable":
        return None
    return operand


def _arguments(elements: Node | None, switches: set[str]) -> list[tuple[str | None, Node | None]]:
    """(parameter without '-', value) and (None, positional value) of a command; ``-Name:value`` included, and a
    switch in ``switches`` takes no value but one written with a colon."""
    if elements is None:
        return []
    items: list[tuple[str | None, Node | None]] = []
    children = [child for child in elements.children if child.type != "redirection"]
    index = 0
    while index < len(children):
        child = children[index]
        index += 1
        if child.type == "command_argument_sep":
            continue
        if child.type == "stop_parsing":
            break
        if child.type != "command_parameter":
            items.append((None, child))
            continue
        name = text(child).lstrip("-").rstrip(":")
        if name == "":
            items.extend((None, rest) for rest in children[index:] if rest.type != "command_argument_sep")
            break
        colon = children[index] if index < len(children) else None
        if colon is not None and colon.type == "command_argument_sep" and colon.named_child_count:
            items.append((name, colon.named_children[-1]))
            index += 1
            continue
        if name.lower() in switches:
            items.append((name, None))
            continue
        while index < len(children) and children[index].type == "command_argument_sep":
            index += 1
        following = children[index] if index < len(children) else None
        if following is not None and following.type not in ("command_parameter", "stop_parsing"):
            items.append((name, following))
            index += 1
        else:
            items.append((name, None))
    return items


def _switch_aliases(params: list[Param]) -> set[str]:
    return {
        alias.lower() for param in params if (param.constraint or "").lower() == "[switch]" for alias in param.aliases
    } | {param.key for param in params if (param.constraint or "").lower() == "[switch]"}


def _parameter_named(params: list[Param], given: str) -> Param | None:
    lowered = given.lower()
    for param in params:
        if param.key == lowered or lowered in (alias.lower() for alias in param.aliases):
            return param
    matches = [param for param in params if param.key.startswith(lowered)]
    return matches[0] if len(matches) == 1 else None


def _takes_pipeline(param: Param) -> bool:
    holder = param.node.parent
    return holder is not None and "valuefrompipeline" in text(holder).lower().replace(" ", "")
