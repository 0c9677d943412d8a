"""Where each variable is defined, assigned and read, scope by scope; and the two variable rules.

``type-constrained-assignment``: an assignment to a name that matches, ignoring case, a type-constrained (or
validated) parameter or variable of the same scope. PowerShell keeps the constraint on the variable, so
``[string]$Store`` followed by ``$store = [X509Store]...`` turns the store into a string.

``undefined-variable``: a read of a variable that is neither a parameter, an automatic or preference variable, nor
assigned before the read in its scope or a scope it can see. Windows PowerShell under ``Set-StrictMode -Version 2``
fails such a read ("The variable '$x' cannot be retrieved because it has not been set").

PowerShell scopes are dynamic: a function sees the variables of whoever called it. A static reader cannot follow
calls, so this lint decides as follows (docs/payload_checks.md says the same to the payload author):

- The script is one scope: its parameters, everything assigned at its top level (inside ``if``, ``foreach``,
  ``try`` and the like too, which are not scopes), and every ``$script:x`` / ``$global:x`` assignment anywhere.
- A function (or class method) is its own scope. It may read its parameters, what it assigned before the read,
  and every variable of the script scope wherever it is assigned (the function runs after the script has set it
  up; the order of calls is not followed). A variable that only the function's caller defines is a finding: that
  works only by accident of who calls the function.
- A nested function sees the function it is defined in the same way.
- A script block ``{ }`` is a child scope that reads its enclosing scope, in source order, and keeps its own
  assignments (``& { }``, ``Invoke-Command``, a block handed to a function that runs it with ``&``). The blocks of
  ``ForEach-Object``, ``Where-Object``, ``.ForEach()``, ``.Where()``, a dot-sourced ``. { }`` and Pester's
  ``BeforeAll``, ``BeforeEach``, ``AfterAll``, ``AfterEach`` and ``BeforeDiscovery`` run in the enclosing scope, so
  their assignments belong to it.
- In each scope reads and assignments are compared in source order: a read before the first assignment fails
  under strict mode even when a later loop iteration would have assigned the variable.
- ``$_`` / ``$PSItem`` may be read in a script block, a ``process`` block or filter, a ``catch`` or ``trap``
  block, a ``switch`` clause and a ``[ValidateScript()]`` argument; anywhere else it is the caller's ``$_``.
- ``[ref]$x`` needs ``$x`` to exist already (VariableOps.GetVariableAsRef throws NonExistingVariableReference,
  whatever the strict mode), so it is a read; it is also an assignment for the type-constrained rule.
- ``-OutVariable``, ``-ErrorVariable``, ``-WarningVariable``, ``-InformationVariable`` and ``-PipelineVariable``
  (and their documented aliases) assign the variable they name; so do ``Set-Variable`` / ``New-Variable`` with a
  literal ``-Name`` (``-Scope Script`` or ``Global``: the script scope).
- ``@params`` (splatting) reads ``$params``. ``$env:X`` and other drive-qualified names are not variables.
  ``$using:x`` reads ``$x`` of the enclosing scope.
"""

from __future__ import annotations

import dataclasses

from .syntax import (
    WRAPPERS,
    Node,
    child_of_type,
    children_of_type,
    command_name_is_expression,
    core,
    string_value,
    text,
    type_spec_text,
    variable_path,
    variables_in_token,
    VariablePath,
)

# about_Automatic_Variables and about_Preference_Variables for Windows PowerShell 5.1:
# https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_automatic_variables?view=powershell-5.1
# https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_preference_variables?view=powershell-5.1
# ($_ and $PSItem are handled apart: they are set only in some places.)
AUTOMATIC_VARIABLES = frozenset(
    name.lower()
    for name in (
        "$", "?", "^", "args", "ConsoleFileName", "Error", "Event", "EventArgs", "EventSubscriber",
        "ExecutionContext", "false", "foreach", "HOME", "Host", "input", "LASTEXITCODE", "Matches", "MyInvocation",
        "NestedPromptLevel", "null", "PID", "PROFILE", "PSBoundParameters", "PSCmdlet", "PSCommandPath", "PSCulture",
        "PSDebugContext", "PSEdition", "PSHOME", "PSScriptRoot", "PSSenderInfo", "PSUICulture", "PSVersionTable",
        "PWD", "Sender", "ShellId", "StackTrace", "switch", "this", "true",
        # preference variables
        "ConfirmPreference", "DebugPreference", "ErrorActionPreference", "ErrorView", "FormatEnumerationLimit",
        "InformationPreference", "LogCommandHealthEvent", "LogCommandLifecycleEvent", "LogEngineHealthEvent",
        "LogEngineLifecycleEvent", "LogProviderLifecycleEvent", "LogProviderHealthEvent", "MaximumAliasCount",
        "MaximumDriveCount", "MaximumErrorCount", "MaximumFunctionCount", "MaximumHistoryCount",
        "MaximumVariableCount", "OFS", "OutputEncoding", "ProgressPreference", "PSDefaultParameterValues",
        "PSEmailServer", "PSModuleAutoLoadingPreference", "PSSessionApplicationName", "PSSessionConfigurationName",
        "PSSessionOption", "Transcript", "VerbosePreference", "WarningPreference", "WhatIfPreference",
    )
)  # fmt: skip
UNDERBAR_VARIABLES = frozenset({"_", "psitem"})

# ansible.windows.win_powershell defines $Ansible for the script it runs (plugins/modules/win_powershell.ps1).
KNOWN_GLOBALS = frozenset({"ansible"})

# Variables that exist only in PowerShell 6 and later (about_Automatic_Variables and about_Preference_Variables,
# 7.x); the newer-syntax rule names them, so the undefined-variable rule leaves them to it.
NEWER_AUTOMATIC_VARIABLES = {
    "enabledexperimentalfeatures": "PowerShell 6.2",
    "iscoreclr": "PowerShell 6.0",
    "islinux": "PowerShell 6.0",
    "ismacos": "PowerShell 6.0",
    "iswindows": "PowerShell 6.0",
    "psnativecommandargumentpassing": "PowerShell 7.3",
    "psnativecommandusererroractionpreference": "PowerShell 7.3",
    "psstyle": "PowerShell 7.2",
}

# Commands whose script blocks run in the caller's scope, as a dot-sourced block does: ForEach-Object and
# Where-Object (useLocalScope: false in PowerShell's InternalCommands.cs), and Pester's setup and teardown blocks,
# which Pester dot-sources into the Describe or Context around them so that It blocks see what they assign
# (Pester's about_BeforeEach_AfterEach).
SAME_SCOPE_BLOCK_COMMANDS = frozenset(
    {"foreach-object", "where-object", "%", "?", "foreach", "where",
     "beforeall", "beforeeach", "afterall", "aftereach", "beforediscovery"}
)  # fmt: skip
SAME_SCOPE_BLOCK_METHODS = frozenset({"foreach", "where"})

# Common parameters that name a variable to assign, with their documented aliases (about_CommonParameters).
VARIABLE_PARAMETERS = frozenset(
    {"outvariable", "ov", "errorvariable", "ev", "warningvariable", "wv", "informationvariable", "iv",
     "pipelinevariable", "pv"}
)  # fmt: skip

# A type constraint that converts nothing.
NO_OP_CONSTRAINTS = frozenset({"object", "system.object"})
# Parameter attributes that neither convert nor validate a later assignment.
NON_CONSTRAINING_ATTRIBUTES = frozenset(
    {"parameter", "alias", "allownull", "allowemptystring", "allowemptycollection", "supportswildcards",
     "psdefaultvalue", "argumentcompleter", "cmdletbinding", "outputtype", "obsolete"}
)  # fmt: skip


@dataclasses.dataclass
class Param:
    name: str
    constraint: str | None  # '[string]', '[ValidateSet(...)]'... as written; None when unconstrained
    node: Node
    aliases: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.name.lower()


@dataclasses.dataclass
class Assignment:
    name: str
    pos: int  # byte offset from which the variable is set
    node: Node
    how: str  # '=', '+=', 'foreach', '[ref]', '-OutVariable', '++', ...
    typed: str | None = None  # '[T]' when the assignment itself declares a type
    ordered: bool = True  # False for $script: assignments made inside a function: they happen when it is called

    @property
    def key(self) -> str:
        return self.name.lower()


@dataclasses.dataclass
class Read:
    path: VariablePath
    pos: int
    node: Node
    underbar_ok: bool
    via: str = ""  # '[ref]' when the read is a [ref] cast, which needs the variable to exist


@dataclasses.dataclass
class FunctionInfo:
    name: str
    node: Node
    params: dict[str, Param]
    advanced: bool  # [CmdletBinding()] or any [Parameter()]: common parameters apply
    supports_should_process: bool
    top_level: bool  # defined directly in the script scope


@dataclasses.dataclass
class Scope:
    kind: str  # 'script', 'function', 'block' or 'method'
    label: str
    node: Node
    parent: Scope | None
    params: dict[str, Param] = dataclasses.field(default_factory=dict)
    assignments: list[Assignment] = dataclasses.field(default_factory=list)
    reads: list[Read] = dataclasses.field(default_factory=list)
    # Literal keys a hashtable variable is given (for splatting), by variable; None once the variable is given
    # anything but a hashtable literal.
    hashtable_keys: dict[str, list[tuple[str, Node]] | None] = dataclasses.field(default_factory=dict)

    def assignments_of(self, key: str) -> list[Assignment]:
        return [assignment for assignment in self.assignments if assignment.key == key]


@dataclasses.dataclass
class Model:
    script: Scope
    scopes: list[Scope]
    functions: dict[str, FunctionInfo]  # by lower-cased name; the first definition wins
    duplicate_functions: list[FunctionInfo]
    scope_of_node: dict[int, Scope]  # node id of a command -> the scope it runs in


def _attribute_name(attribute: Node) -> str | None:
    name = child_of_type(attribute, "attribute_name")
    return type_spec_text(name) if name is not None else None


def _attribute_string_arguments(attribute: Node) -> list[str]:
    arguments = child_of_type(attribute, "attribute_arguments")
    values = []
    for argument in children_of_type(arguments, "attribute_argument") if arguments else []:
        for node in _flatten_array(argument):
            value = string_value(node)
            if value is not None:
                values.append(value)
    return values


def _flatten_array(node: Node) -> list[Node]:
    node = core(node)
    if node.type == "attribute_argument" and node.named_child_count == 1:
        node = core(node.named_children[0])
    if node.type == "array_literal_expression":
        return [core(child) for child in node.named_children]
    return [node]


def parameters_of(parameter_list: Node | None) -> dict[str, Param]:
    found: dict[str, Param] = {}
    for parameter in children_of_type(parameter_list, "script_parameter") if parameter_list else []:
        variable = child_of_type(parameter, "variable")
        path = variable_path(variable) if variable is not None else None
        if path is None:
            continue
        constraint = None
        aliases: list[str] = []
        attributes = child_of_type(parameter, "attribute_list")
        for attribute in children_of_type(attributes, "attribute") if attributes else []:
            name = _attribute_name(attribute)
            if name is None:
                literal = child_of_type(attribute, "type_literal")
                spec = type_spec_text(child_of_type(literal, "type_spec")) if literal is not None else ""
                if spec and spec.lower() not in NO_OP_CONSTRAINTS:
                    constraint = f"[{spec}]"
            elif name.lower() == "alias":
                aliases.extend(_attribute_string_arguments(attribute))
            elif name.lower() not in NON_CONSTRAINING_ATTRIBUTES and constraint is None:
                constraint = f"[{name}()]"
        found[path.key] = Param(path.name, constraint, variable, tuple(aliases))
    return found


def _cmdletbinding(param_block: Node | None) -> tuple[bool, bool]:
    """(has [CmdletBinding()], SupportsShouldProcess) of a param block."""
    attributes = child_of_type(param_block, "attribute_list") if param_block is not None else None
    for attribute in children_of_type(attributes, "attribute") if attributes else []:
        name = _attribute_name(attribute)
        if name is None or name.lower() not in ("cmdletbinding", "cmdletbindingattribute"):
            continue
        should_process = False
        arguments = child_of_type(attribute, "attribute_arguments")
        for argument in children_of_type(arguments, "attribute_argument") if arguments else []:
            key = argument.children[0]
            if text(key).lower() == "supportsshouldprocess":
                value = text(argument.children[-1]).lower() if argument.child_count > 1 else "$true"
                should_process = value == "$true"
        return True, should_process
    return False, False


def _has_parameter_attribute(parameter_list: Node | None) -> bool:
    for parameter in children_of_type(parameter_list, "script_parameter") if parameter_list else []:
        attributes = child_of_type(parameter, "attribute_list")
        for attribute in children_of_type(attributes, "attribute") if attributes else []:
            if (_attribute_name(attribute) or "").lower() in ("parameter", "parameterattribute"):
                return True
    return False


class _Builder:
    def __init__(self, root: Node):
        self.root = root
        self.script = Scope("script", "the script", root, None)
        self.scopes = [self.script]
        self.functions: dict[str, FunctionInfo] = {}
        self.duplicates: list[FunctionInfo] = []
        self.scope_of_node: dict[int, Scope] = {}

    # --- scopes -----------------------------------------------------------------------------------

    def _new_scope(self, kind: str, label: str, node: Node, parent: Scope) -> Scope:
        scope = Scope(kind, label, node, parent)
        self.scopes.append(scope)
        return scope

    def _function_of(self, scope: Scope) -> Scope | None:
        while scope is not None and scope.kind == "block":
            scope = scope.parent
        return scope if scope is not None and scope.kind in ("function", "method") else None

    def _assign(self, scope: Scope, path: VariablePath, pos: int, node: Node, how: str, typed: str | None = None):
        if path.is_drive:
            return
        if path.qualifier in ("script", "global"):
            inside_function = self._function_of(scope) is not None
            self.script.assignments.append(Assignment(path.name, pos, node, how, typed, ordered=not inside_function))
        else:
            scope.assignments.append(Assignment(path.name, pos, node, how, typed))

    def _read(self, scope: Scope, path: VariablePath, node: Node, underbar: bool, via: str = ""):
        scope.reads.append(Read(path, node.start_byte, node, underbar, via))

    # --- the walk ---------------------------------------------------------------------------------

    def build(self) -> Model:
        block = child_of_type(self.root, "param_block")
        if block is not None:
            self._param_block(block, self.script)
        for child in self.root.children:
            if child.type != "param_block":
                self.visit(child, self.script, False)
        return Model(self.script, self.scopes, self.functions, self.duplicates, self.scope_of_node)

    def _param_block(self, block: Node, scope: Scope):
        parameter_list = child_of_type(block, "parameter_list")
        scope.params.update(parameters_of(parameter_list))
        self._parameter_defaults_and_attributes(parameter_list, scope)
        attributes = child_of_type(block, "attribute_list")
        if attributes is not None:
            self.visit(attributes, scope, False)

    def _parameter_defaults_and_attributes(self, parameter_list: Node | None, scope: Scope):
        for parameter in children_of_type(parameter_list, "script_parameter") if parameter_list else []:
            for child in parameter.children:
                if child.type == "attribute_list":
                    # [ValidateScript({ $_ ... })] sees $_.
                    self.visit(child, scope, True)
                elif child.type == "script_parameter_default":
                    self.visit(child, scope, False)

    def visit(self, node: Node, scope: Scope, underbar: bool):
        handler = getattr(self, f"_visit_{node.type}", None)
        if handler is not None:
            handler(node, scope, underbar)
            return
        for child in node.children:
            self.visit(child, scope, underbar)

    def _visit_variable(self, node: Node, scope: Scope, underbar: bool):
        path = variable_path(node)
        if path is not None:
            self._read(scope, path, node, underbar)

    def _visit_function_statement(self, node: Node, scope: Scope, underbar: bool):
        name_node = child_of_type(node, "function_name")
        name = text(name_node).strip() if name_node is not None else "<function>"
        # function script:Name defines Name in the script scope; callers use the bare name.
        qualifier, _colon, bare = name.partition(":")
        if bare and qualifier.lower() in ("global", "script", "local", "private"):
            name = bare
        is_filter = node.children[0].type.lower() == "filter"
        function_scope = self._new_scope("function", f"function {name}", node, scope)
        declaration = child_of_type(node, "function_parameter_declaration")
        script_block = child_of_type(node, "script_block")
        param_block = child_of_type(script_block, "param_block") if script_block is not None else None
        parameter_list = (
            child_of_type(declaration, "parameter_list")
            if declaration is not None
            else child_of_type(param_block, "parameter_list") if param_block is not None else None
        )
        function_scope.params.update(parameters_of(parameter_list))
        advanced, should_process = _cmdletbinding(param_block)
        info = FunctionInfo(
            name=name,
            node=node,
            params=dict(function_scope.params),
            advanced=advanced or _has_parameter_attribute(parameter_list),
            supports_should_process=should_process,
            top_level=scope is self.script,
        )
        if name.lower() in self.functions:
            self.duplicates.append(info)
        else:
            self.functions[name.lower()] = info
        self._parameter_defaults_and_attributes(parameter_list, function_scope)
        if param_block is not None:
            attributes = child_of_type(param_block, "attribute_list")
            if attributes is not None:
                self.visit(attributes, function_scope, False)
        if script_block is not None:
            body = child_of_type(script_block, "script_block_body")
            if body is not None:
                self._body(body, function_scope, is_filter)

    def _body(self, body: Node, scope: Scope, underbar: bool):
        named_blocks = child_of_type(body, "named_block_list")
        if named_blocks is None:
            self.visit(body, scope, underbar)
            return
        for named_block in children_of_type(named_blocks, "named_block"):
            block_name = text(child_of_type(named_block, "block_name")).lower()
            self.visit(child_of_type(named_block, "statement_block"), scope, block_name == "process")

    def _visit_script_block_expression(self, node: Node, scope: Scope, underbar: bool):
        script_block = child_of_type(node, "script_block")
        param_block = child_of_type(node, "param_block") or (
            child_of_type(script_block, "param_block") if script_block is not None else None
        )
        if self._runs_in_enclosing_scope(node):
            target = scope
            for key, param in parameters_of(
                child_of_type(param_block, "parameter_list") if param_block else None
            ).items():
                target.assignments.append(Assignment(param.name, node.start_byte, param.node, "param"))
        else:
            target = self._new_scope("block", "a script block", node, scope)
            if param_block is not None:
                target.params.update(parameters_of(child_of_type(param_block, "parameter_list")))
        if param_block is not None:
            self._parameter_defaults_and_attributes(child_of_type(param_block, "parameter_list"), target)
        if script_block is not None:
            body = child_of_type(script_block, "script_block_body")
            if body is not None:
                self._body(body, target, True)

    def _runs_in_enclosing_scope(self, block: Node) -> bool:
        parent = block.parent
        # . { ... }: dot-sourced.
        if parent is not None and parent.type == "command_name_expr":
            command = parent.parent
            operator = child_of_type(command, "command_invokation_operator") if command is not None else None
            return operator is not None and text(operator) == "."
        if parent is not None and parent.type == "invokation_foreach_expression":
            return True
        # ForEach-Object { ... } / Where-Object { ... }
        node = block
        while node.parent is not None and node.parent.type in WRAPPERS:
            node = node.parent
        elements = node.parent
        if elements is not None and elements.type == "command_elements" and elements.parent is not None:
            name = child_of_type(elements.parent, "command_name")
            return name is not None and text(name).strip().lower() in SAME_SCOPE_BLOCK_COMMANDS
        # $collection.ForEach({ ... }) / .Where({ ... })
        for ancestor in _ancestors_up_to(block, "invokation_expression", limit=24):
            member = child_of_type(ancestor, "member_name")
            return member is not None and text(member).strip().lower() in SAME_SCOPE_BLOCK_METHODS
        return False

    def _visit_catch_clause(self, node: Node, scope: Scope, underbar: bool):
        for child in node.children:
            self.visit(child, scope, child.type == "statement_block" or underbar)

    def _visit_trap_statement(self, node: Node, scope: Scope, underbar: bool):
        for child in node.children:
            self.visit(child, scope, child.type == "statement_block" or underbar)

    def _visit_switch_statement(self, node: Node, scope: Scope, underbar: bool):
        for child in node.children:
            self.visit(child, scope, child.type == "switch_body" or underbar)

    def _visit_foreach_statement(self, node: Node, scope: Scope, underbar: bool):
        variable = child_of_type(node, "variable")
        body = child_of_type(node, "statement_block")
        for child in node.children:
            if child == variable or child == body:
                continue
            self.visit(child, scope, underbar)
        path = variable_path(variable) if variable is not None else None
        if path is not None:
            self._assign(scope, path, body.start_byte if body is not None else node.end_byte, variable, "foreach")
        if body is not None:
            self.visit(body, scope, underbar)

    def _visit_assignment_expression(self, node: Node, scope: Scope, underbar: bool):
        left = node.children[0]
        operator = child_of_type(node, "assignement_operator")
        how = text(operator) if operator is not None else "="
        for child in node.children[2:]:
            self.visit(child, scope, underbar)
        targets = _assignment_targets(left)
        if targets is None:
            self._member_assignment(left, scope)
            self.visit(left, scope, underbar)
            return
        value = core(node.children[2]) if len(node.children) > 2 else None
        for variable, _typed in targets:
            path = variable_path(variable)
            if path is None or path.qualifier is not None:
                continue
            if how == "=" and len(targets) == 1 and value is not None and value.type == "hash_literal_expression":
                scope.hashtable_keys[path.key] = _hash_literal_keys(value)
            else:
                scope.hashtable_keys[path.key] = None
        for variable, typed in targets:
            path = variable_path(variable)
            if path is None:
                continue
            if how != "=":
                self._read(scope, path, variable, underbar)
            self._assign(scope, path, node.end_byte, variable, how, typed)
        # The variables of type arguments, e.g. [ValidateScript({...})] in a cast, are not worth following.

    def _member_assignment(self, left: Node, scope: Scope):
        """$h['Key'] = ... and $h.Key = ... add a key to a hashtable that a command may later splat."""
        node = core(left)
        if node.type not in ("element_access", "member_access") or node.child_count < 3:
            return
        target = core(node.children[0])
        path = variable_path(target) if target.type == "variable" else None
        if path is None or path.qualifier is not None:
            return
        keys = scope.hashtable_keys.get(path.key)
        if keys is None:
            return
        key_node = node.children[2]
        key = string_value(key_node) if node.type == "element_access" else text(key_node).strip()
        if node.type == "member_access" and child_of_type(key_node, "simple_name") is None:
            key = None
        if key is not None:
            keys.append((key, key_node))

    def _increment(self, node: Node, scope: Scope, underbar: bool, how: str):
        operand = next((core(child) for child in node.named_children), None)
        if operand is not None and operand.type == "variable":
            path = variable_path(operand)
            if path is not None:
                self._read(scope, path, operand, underbar)
                self._assign(scope, path, node.end_byte, operand, how)
                return
        for child in node.children:
            self.visit(child, scope, underbar)

    def _visit_post_increment_expression(self, node, scope, underbar):
        self._increment(node, scope, underbar, "++")

    def _visit_post_decrement_expression(self, node, scope, underbar):
        self._increment(node, scope, underbar, "--")

    def _visit_pre_increment_expression(self, node, scope, underbar):
        self._increment(node, scope, underbar, "++")

    def _visit_pre_decrement_expression(self, node, scope, underbar):
        self._increment(node, scope, underbar, "--")

    def _visit_cast_expression(self, node: Node, scope: Scope, underbar: bool):
        literal = child_of_type(node, "type_literal")
        operand = next((core(child) for child in node.children if child != literal), None)
        spec = child_of_type(literal, "type_spec") if literal is not None else None
        if (
            spec is not None
            and type_spec_text(spec).lower() == "ref"
            and operand is not None
            and operand.type == "variable"
        ):
            path = variable_path(operand)
            if path is not None:
                self._read(scope, path, operand, underbar, via="[ref]")
                self._assign(scope, path, node.end_byte, operand, "[ref]")
                return
        for child in node.children:
            self.visit(child, scope, underbar)

    def _visit_hash_entry(self, node: Node, scope: Scope, underbar: bool):
        for child in node.children:
            if child.type == "key_expression" and child_of_type(child, "simple_name") is not None:
                continue
            self.visit(child, scope, underbar)

    def _visit_command(self, node: Node, scope: Scope, underbar: bool):
        self.scope_of_node[node.id] = scope
        name_node = child_of_type(node, "command_name")
        if name_node is not None and command_name_is_expression(text(name_node).strip()):
            for path in variables_in_token(text(name_node)):
                self._read(scope, path, name_node, underbar)
        for child in node.children:
            if child != name_node:
                self.visit(child, scope, underbar)
        elements = child_of_type(node, "command_elements")
        if elements is None:
            return
        arguments = command_arguments(elements)
        for parameter, value in arguments:
            if parameter is None or value is None:
                continue
            if parameter.lower() in VARIABLE_PARAMETERS:
                name = string_value(value)
                if name:
                    self._assign(scope, _path_from_name(name.lstrip("+")), node.end_byte, value, f"-{parameter}")
        command_name = text(name_node).strip().lower() if name_node is not None else ""
        if command_name in ("set-variable", "new-variable"):
            self._set_variable(arguments, node, scope)

    def _set_variable(self, arguments, node: Node, scope: Scope):
        name = scope_name = None
        positional = [value for parameter, value in arguments if parameter is None]
        for parameter, value in arguments:
            if parameter is not None and value is not None and parameter.lower() == "name":
                name = string_value(value)
            elif parameter is not None and value is not None and parameter.lower() == "scope":
                scope_name = (string_value(value) or "").lower()
        if name is None and positional:
            name = string_value(positional[0])
        if not name:
            return
        qualifier = "script" if scope_name in ("script", "global") else None
        self._assign(scope, VariablePath(name, qualifier, False), node.end_byte, node, "Set-Variable")

    def _visit_class_statement(self, node: Node, scope: Scope, underbar: bool):
        class_name = text(child_of_type(node, "simple_name"))
        for child in node.children:
            if child.type == "class_method_definition":
                method = self._new_scope(
                    "method", f"method {class_name}.{text(child_of_type(child, 'simple_name'))}", child, scope
                )
                parameters = child_of_type(child, "class_method_parameter_list")
                for parameter in children_of_type(parameters, "class_method_parameter") if parameters else []:
                    variable = child_of_type(parameter, "variable")
                    path = variable_path(variable) if variable is not None else None
                    if path is not None:
                        literal = child_of_type(parameter, "type_literal")
                        constraint = f"[{type_spec_text(child_of_type(literal, 'type_spec'))}]" if literal else None
                        method.params[path.key] = Param(path.name, constraint, variable)
                script_block = child_of_type(child, "script_block")
                if script_block is not None:
                    self.visit(script_block, method, False)
            elif child.type == "class_property_definition":
                for part in child.children:
                    if part.type not in ("variable", "type_literal", "attribute", "class_attribute"):
                        self.visit(part, scope, False)

    def _visit_enum_statement(self, node: Node, scope: Scope, underbar: bool):
        return


def _ancestors_up_to(node: Node, node_type: str, limit: int):
    """The first ancestor of ``node_type`` within ``limit`` levels that holds ``node`` in its argument list."""
    current = node
    for _level in range(limit):
        parent = current.parent
        if parent is None:
            return
        if parent.type == node_type:
            if current.type == "argument_list":
                yield parent
            return
        current = parent


def _hash_literal_keys(node: Node) -> list[tuple[str, Node]] | None:
    keys = []
    body = child_of_type(node, "hash_literal_body")
    for entry in children_of_type(body, "hash_entry") if body else []:
        key_expression = child_of_type(entry, "key_expression")
        simple = child_of_type(key_expression, "simple_name") if key_expression else None
        key = (
            text(simple) if simple is not None else string_value(key_expression.children[0]) if key_expression else None
        )
        if key is None:
            return None
        keys.append((key, key_expression))
    return keys


def _path_from_name(name: str) -> VariablePath:
    qualifier, _colon, bare = name.rpartition(":") if ":" in name else ("", "", name)
    return VariablePath(bare, qualifier.lower() or None, False)


def _assignment_targets(left: Node) -> list[tuple[Node, str | None]] | None:
    """The variables an assignment's left side sets, each with the type it declares; None when it sets a member."""
    node = core(left)
    if node.type == "variable":
        return [(node, None)]
    if node.type == "cast_expression":
        literal = child_of_type(node, "type_literal")
        operand = next((core(child) for child in node.children if child != literal), None)
        if operand is not None and operand.type == "variable" and literal is not None:
            return [(operand, f"[{type_spec_text(child_of_type(literal, 'type_spec'))}]")]
        if operand is not None and operand.type == "cast_expression":
            inner = _assignment_targets(operand)
            return inner
        return None
    if node.type == "array_literal_expression":
        targets: list[tuple[Node, str | None]] = []
        for child in node.named_children:
            inner = _assignment_targets(child)
            if inner is None:
                return None
            targets.extend(inner)
        return targets
    return None


def command_arguments(elements: Node) -> list[tuple[str | None, Node | None]]:
    """A command's elements as (parameter name without '-', the element after it) and (None, positional value).

    Without knowing the command, ``-Switch value`` cannot be told from ``-Parameter value``: the element after a
    parameter is given as its value, and the caller decides what a switch means. After ``--`` every element is
    positional.
    """
    items: list[tuple[str | None, Node | None]] = []
    children = [child for child in elements.children if child.type not in ("command_argument_sep", "redirection")]
    index = 0
    after_double_dash = False
    while index < len(children):
        child = children[index]
        if child.type == "stop_parsing":
            break
        if child.type == "command_parameter" and not after_double_dash:
            name = text(child)
            index += 1
            if name == "--":
                after_double_dash = True
                continue
            following = children[index] if index < len(children) else None
            if following is not None and following.type not in ("command_parameter", "stop_parsing"):
                items.append((name.lstrip("-"), following))
                index += 1
            else:
                items.append((name.lstrip("-"), None))
            continue
        items.append((None, child))
        index += 1
    return items


def command_parameters(elements: Node) -> list[Node]:
    """The ``-Name`` tokens of a command, before any ``--``."""
    found = []
    for child in elements.children:
        if child.type == "stop_parsing":
            break
        if child.type == "command_parameter":
            if text(child) == "--":
                break
            found.append(child)
    return found


def build(root: Node) -> Model:
    return _Builder(root).build()


# --- the rules ------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VariableFinding:
    rule: str
    node: Node
    message: str


def _label(scope: Scope) -> str:
    return scope.label


def type_constrained_assignments(model: Model) -> list[VariableFinding]:
    findings = []
    for scope in model.scopes:
        declared: dict[str, tuple[str, str, str, int]] = {}  # key -> (name as declared, constraint, what, pos)
        for param in scope.params.values():
            if param.constraint is not None:
                declared[param.key] = (param.name, param.constraint, "parameter", -1)
        for assignment in scope.assignments:
            if assignment.typed is not None and assignment.typed.lower() not in ("[object]", "[system.object]"):
                declared.setdefault(assignment.key, (assignment.name, assignment.typed, "variable", assignment.pos))
        for assignment in scope.assignments:
            if assignment.typed is not None or assignment.key not in declared:
                continue
            name, constraint, what, declared_at = declared[assignment.key]
            if assignment.ordered and assignment.pos <= declared_at:
                continue
            case = "" if name == assignment.name else " (variable names ignore case)"
            effect = (
                f"the value must pass {constraint}"
                if constraint.endswith("()]")
                else f"the value is converted to {constraint}"
            )
            findings.append(
                VariableFinding(
                    "type-constrained-assignment",
                    assignment.node,
                    f"${assignment.name} ({assignment.how}) assigns to the {constraint} {what} ${name} of "
                    f"{_label(scope)}{case}: {effect}; use another name",
                )
            )
    return findings


def undefined_variables(model: Model) -> list[VariableFinding]:
    script_keys = set(model.script.params) | {assignment.key for assignment in model.script.assignments}
    findings = []
    for scope in model.scopes:
        for read in scope.reads:
            message = _undefined(read, scope, script_keys)
            if message:
                findings.append(VariableFinding("undefined-variable", read.node, message))
    return findings


def _undefined(read: Read, scope: Scope, script_keys: set[str]) -> str | None:
    path = read.path
    key = path.key
    if path.is_drive:
        return None
    if key in UNDERBAR_VARIABLES:
        if read.underbar_ok:
            return None
        return (
            f"${path.name} is set only in a script block, a process block, a catch or trap block and a switch "
            "clause; here it would be whatever the caller's $_ is"
        )
    if key in AUTOMATIC_VARIABLES or key in KNOWN_GLOBALS or key in NEWER_AUTOMATIC_VARIABLES:
        return None
    if path.qualifier in ("script", "global"):
        if key in script_keys:
            return None
        return f"${path.qualifier}:{path.name} is never assigned in the script scope"
    if _visible(scope, key, read.pos):
        return None
    if read.via == "[ref]":
        return (
            f"[ref]${path.name} needs ${path.name} to exist already (PowerShell throws NonExistingVariableReference); "
            f"assign it first, for example ${path.name} = $null"
        )
    later = next(
        (a for a in scope.assignments_of(key) if a.pos >= read.pos and a.node != read.node),
        None,
    )
    if later is not None:
        line = later.node.start_point[0] + 1
        return (
            f"${path.name} is read before its first assignment in {_label(scope)} (line {line}); "
            "under Set-StrictMode -Version 2 this read fails"
        )
    method = scope
    while method is not None and method.kind == "block":
        method = method.parent
    if method is not None and method.kind == "method":
        return (
            f"${path.name} is not assigned in {_label(method)}; a class method sees only its own variables "
            "(and $script: or $global: ones, qualified)"
        )
    return (
        f"${path.name} is not a parameter of {_label(scope)}, not assigned before this read, and not a "
        "script-scope variable; under Set-StrictMode -Version 2 this read fails"
    )


def _visible(scope: Scope, key: str, pos: int) -> bool:
    ordered = True
    current: Scope | None = scope
    while current is not None:
        if key in current.params:
            return True
        for assignment in current.assignments:
            if assignment.key == key and (not ordered or not assignment.ordered or assignment.pos < pos):
                return True
        if current.kind == "method":
            # A class method sees only its own variables ("Variable is not assigned in the method").
            return False
        if current.kind == "function":
            ordered = False
        current = current.parent
    return False
