"""``unknown-type``, ``unknown-member``, ``constructor-arity`` and ``assembly-not-loaded``.

Every .NET type a payload names must exist where Windows PowerShell 5.1 looks for it. Its type resolver
(TypeResolver.cs in PowerShell/PowerShell at commit 60b3b304f2, the Windows PowerShell source imported in 2016)
tries, in order: the built-in type accelerators (``[string]``, ``[pscustomobject]``, ``[Parameter]``...), the name
as written in every assembly loaded in the process (``Assembly.GetType(name, false, true)``: ignoring case, public
types only), then the name under each ``using namespace``, including the implicit ``System``. An attribute
``[Foo()]`` is ``FooAttribute`` or ``Foo``. A generic ``[List[string]]`` is ``List`1`` resolved the same way, so it
needs its namespace (or ``using namespace System.Collections.Generic``); an array ``[string[]]`` is its element type.

Here a name resolves in: the types the payload defines (its Add-Type C#, built by csharp.py, and PowerShell
``class``/``enum``), the accelerators and types of ``catalogue/types.json`` (PowerShell's own, IIS's, ...), and
Mono's .NET Framework 4.6.2 reference assemblies (reflection.py). Then:

- ``[Type]::Member`` must be a public static method, property, field, event or nested type of the type or its
  bases (enum values are static fields); ``new`` is PowerShell's constructor call;
- ``[Type]::new(a, b)`` must match the number of arguments of a public constructor, counting optional parameters
  and ``params`` arrays; a value type may also be built with no argument;
- a named argument of an attribute (``[Parameter(Mandatory)]``) must be a settable property of the attribute type;
- ``assembly-not-loaded``: the type's assembly must be loaded when the payload runs. PowerShell only searches the
  assemblies already in the process (ClrFacade.GetAssemblies: ``AppDomain.CurrentDomain.GetAssemblies()``), and
  .NET loads an assembly only when something first uses it, so which are loaded depends on the process. What
  Windows PowerShell 5.1 itself guarantees before a script's first type literal is resolved is
  :data:`DEFAULT_LOADED_ASSEMBLIES`: the engine, and the assemblies of the built-in type accelerators, whose table
  (TypeAccelerators' static constructor over CoreTypes.Items) is built with ``typeof()`` of ``XmlDocument``,
  ``DirectoryEntry``, ``ManagementObject``, ``BigInteger``, ``CimInstance``, ``Regex``... on the first type
  resolution. Expression trees (System.Linq.Expressions, in System.Core) compile every script block. A type from
  any other assembly (System.Security, System.ServiceProcess, Microsoft.Web.Administration...) needs
  ``Add-Type -AssemblyName`` (or ``[System.Reflection.Assembly]::Load*``) somewhere in the payload first.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing as t

from . import csharp, reflection
from .catalogue import Catalogue, CatalogueType
from .scopes import command_arguments
from .syntax import Node, NodeIndex, child_of_type, children_of_type, core, string_value, text, variable_path

# The assemblies Windows PowerShell 5.1 has loaded before a script resolves its first type (see the module docstring).
DEFAULT_LOADED_ASSEMBLIES = frozenset(
    name.lower()
    for name in (
        "mscorlib",
        "System",  # Regex, Uri, IPAddress, MailAddress accelerators
        "System.Core",  # System.Linq.Expressions, which compiles every script block
        "System.Management.Automation",
        "System.Xml",  # [xml]
        "System.Numerics",  # [bigint]
        "System.DirectoryServices",  # [adsi], [adsisearcher]
        "System.Management",  # [wmi], [wmiclass], [wmisearcher]
        "Microsoft.Management.Infrastructure",  # [ciminstance], [cimclass], [cimtype], [cimconverter]
    )
)


# The assembly that implements a module's cmdlets, which PowerShell loads when it imports the module (explicitly,
# or by autoloading it for the first of its cmdlets the payload calls). Microsoft's help for each cmdlet names its
# help file after that assembly ("external help file: Microsoft.FailoverClusters.PowerShell.dll-Help.xml" on
# every FailoverClusters cmdlet page, MicrosoftDocs/windows-powershell-docs).
MODULE_ASSEMBLIES = {
    "failoverclusters": ("Microsoft.FailoverClusters.PowerShell",),
}


@dataclasses.dataclass(frozen=True)
class TypeFinding:
    rule: str
    node: Node
    message: str


@dataclasses.dataclass(frozen=True)
class Spec:
    name: str  # dotted name as written
    arguments: tuple[Spec, ...] = ()
    array: bool = False

    def __str__(self) -> str:
        generic = f"[{','.join(str(argument) for argument in self.arguments)}]" if self.arguments else ""
        return f"{self.name}{generic}{'[]' if self.array else ''}"


@dataclasses.dataclass(frozen=True)
class Resolved:
    """What a type name stands for: information from Mono or the catalogue, or a payload's own opaque type."""

    full_name: str
    assembly: str
    mono: reflection.TypeInfo | None = None
    catalogued: CatalogueType | None = None
    payload_defined: bool = False
    enum_members: frozenset[str] | None = None  # a PowerShell enum's values (and System.Enum's statics)


def parse_spec(spec: Node) -> Spec:
    array_name = child_of_type(spec, "array_type_name")
    if array_name is not None:
        return Spec(_dotted(child_of_type(array_name, "type_name")), array=True)
    generic_name = child_of_type(spec, "generic_type_name")
    if generic_name is not None:
        arguments = child_of_type(spec, "generic_type_arguments")
        return Spec(
            _dotted(child_of_type(generic_name, "type_name")),
            tuple(parse_spec(argument) for argument in children_of_type(arguments, "type_spec")) if arguments else (),
        )
    return Spec(_dotted(child_of_type(spec, "type_name")))


def _dotted(node: Node | None) -> str:
    return re.sub(r"\s+", "", text(node)) if node is not None else ""


_STRING_TYPE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?:\[(.*)\])?\s*$")


def parse_type_string(value: str) -> Spec | None:
    """A type name as New-Object takes it: 'System.Text.StringBuilder', 'System.Collections.Generic.List[string]'."""
    match = _STRING_TYPE.match(value)
    if match is None:
        return None
    name, inner = match.groups()
    if inner is None:
        return Spec(name)
    if inner.strip() == "":
        return Spec(name, array=True)
    parts = [parse_type_string(part) for part in _split_generic_arguments(inner)]
    if any(part is None for part in parts):
        return None
    return Spec(name, tuple(part for part in parts if part is not None))


def _split_generic_arguments(inner: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in inner:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += char == "["
        depth -= char == "]"
        current += char
    parts.append(current)
    return parts


@dataclasses.dataclass
class _Use:
    spec: Spec
    node: Node
    attribute: bool = False
    ordered_hashtable: bool = False  # [ordered]@{...}


class _Resolver:
    def __init__(self, nodes: NodeIndex, catalogue: Catalogue):
        self.catalogue = catalogue
        self.namespaces = ["System"] + _using_namespaces(nodes)
        self.powershell_types = _powershell_types(nodes)
        self.powershell_enums = _powershell_enum_members(nodes)
        self.payload_assemblies: list = []
        self.opaque_payload_types: set[str] = set()
        for block in csharp.add_type_blocks(nodes):
            if block.source is None:
                continue
            built = csharp.compile_source(block.source, block.references, ignore_warnings=True).assembly
            if built is not None:
                self.payload_assemblies.append(built)
            else:
                self.opaque_payload_types.update(_csharp_public_types(block.source))
        self.answers: dict[str, reflection.TypeInfo | None] = {}

    def candidates(self, spec: Spec, attribute: bool) -> list[str]:
        arity = f"`{len(spec.arguments)}" if spec.arguments else ""
        names = [f"{spec.name}Attribute", spec.name] if attribute else [spec.name]
        found = []
        for name in names:
            found.append(f"{name}{arity}")
            found.extend(f"{namespace}.{name}{arity}" for namespace in self.namespaces)
        return found

    def prefetch(self, uses: t.Iterable[_Use]) -> None:
        names: set[str] = set()
        for use in uses:
            names.update(self._all_candidates(use.spec, use.attribute))
        for accelerated in (self.catalogue.accelerators or {}).values():
            names.add(accelerated)
        self.answers = reflection.describe(names, self.payload_assemblies)

    def _all_candidates(self, spec: Spec, attribute: bool) -> list[str]:
        found = self.candidates(spec, attribute)
        for argument in spec.arguments:
            found.extend(self._all_candidates(argument, False))
        return found

    def resolve(self, spec: Spec, attribute: bool = False) -> Resolved | None:
        """The type a name (without its generic arguments or array brackets) stands for."""
        lowered = spec.name.lower()
        if not spec.arguments:
            names = [f"{spec.name}Attribute".lower(), lowered] if attribute else [lowered]
            for name in names:
                if name in self.powershell_types:
                    return Resolved(
                        self.powershell_types[name],
                        "",
                        payload_defined=True,
                        enum_members=self.powershell_enums.get(name),
                    )
                accelerated = (self.catalogue.accelerators or {}).get(name)
                if accelerated is not None:
                    return self._by_full_name(accelerated) or Resolved(accelerated, "")
        for candidate in self.candidates(spec, attribute):
            resolved = self._by_full_name(candidate)
            if resolved is not None:
                return resolved
        return None

    def _by_full_name(self, name: str) -> Resolved | None:
        lowered = name.lower()
        if lowered in self.opaque_payload_types:
            return Resolved(name, "", payload_defined=True)
        catalogued = (self.catalogue.types or {}).get(lowered)
        if catalogued is not None:
            return Resolved(catalogued.full_name, catalogued.assembly, catalogued=catalogued)
        info = self.answers.get(lowered)
        if info is None and lowered not in self.answers:
            info = reflection.describe([name], self.payload_assemblies).get(lowered)
            self.answers[lowered] = info
        if info is not None:
            payload_built = info.assembly.lower() not in _framework_assembly_names()
            return Resolved(info.full_name, info.assembly, mono=info, payload_defined=payload_built)
        return None


@functools.lru_cache(maxsize=1)
def _framework_assembly_names() -> frozenset[str]:
    return frozenset(path.stem.lower() for path in reflection.framework_assemblies())


def _using_namespaces(nodes: NodeIndex) -> list[str]:
    """``using namespace X`` statements (tree-sitter-powershell reads them as a command named 'using')."""
    found = []
    for node in nodes.of_type("command"):
        name = child_of_type(node, "command_name")
        elements = child_of_type(node, "command_elements")
        if name is None or text(name).strip().lower() != "using" or elements is None:
            continue
        words = [text(child) for child in elements.children if child.type == "generic_token"]
        if len(words) >= 2 and words[0].lower() == "namespace":
            found.append(words[1])
    return found


def _powershell_types(nodes: NodeIndex) -> dict[str, str]:
    found = {}
    for node in nodes.of_type("class_statement", "enum_statement"):
        name = child_of_type(node, "simple_name")
        if name is not None:
            found[text(name).lower()] = text(name)
    return found


def _powershell_enum_members(nodes: NodeIndex) -> dict[str, frozenset[str]]:
    """The values of each PowerShell enum, with the static methods every enum has from System.Enum."""
    found = {}
    for node in nodes.of_type("enum_statement"):
        name = child_of_type(node, "simple_name")
        if name is None:
            continue
        members = {
            text(child_of_type(member, "simple_name")).lower() for member in children_of_type(node, "enum_member")
        }
        found[text(name).lower()] = frozenset(members | _ENUM_STATICS)
    return found


# System.Enum's public static methods, and System.Object's, which every enum type has.
_ENUM_STATICS = frozenset(
    {"format", "getname", "getnames", "getunderlyingtype", "getvalues", "isdefined", "parse", "toobject", "tryparse",
     "equals", "referenceequals"}
)  # fmt: skip


_CS_NAMESPACE = re.compile(r"\bnamespace\s+([A-Za-z_][\w.]*)")
_CS_PUBLIC_TYPE = re.compile(
    r"\bpublic\s+(?:(?:static|sealed|abstract|partial|unsafe)\s+)*(?:class|struct|enum|interface)\s+([A-Za-z_]\w*)"
)


def _csharp_public_types(source: str) -> set[str]:
    """Public type names of a C# source that did not compile, in its (first) namespace: members unknown."""
    namespace = _CS_NAMESPACE.search(source)
    prefix = f"{namespace.group(1)}." if namespace else ""
    return {f"{prefix}{name}".lower() for name in _CS_PUBLIC_TYPE.findall(source)}


def _uses(nodes: NodeIndex) -> list[_Use]:
    uses = []
    for node in nodes.of_type("type_literal", "attribute", "command"):
        if node.type == "type_literal":
            spec_node = child_of_type(node, "type_spec")
            if spec_node is None:
                continue
            parent = node.parent
            ordered = False
            if parent is not None and parent.type == "cast_expression":
                operand = next((core(child) for child in parent.children if child != node), None)
                ordered = operand is not None and operand.type == "hash_literal_expression"
            uses.append(_Use(parse_spec(spec_node), node, ordered_hashtable=ordered))
        elif node.type == "attribute":
            name = child_of_type(node, "attribute_name")
            spec_node = child_of_type(name, "type_spec") if name is not None else None
            if spec_node is not None:
                uses.append(_Use(parse_spec(spec_node), node, attribute=True))
        elif node.type == "command":
            name = child_of_type(node, "command_name")
            if name is not None and text(name).strip().lower() == "new-object":
                spec, where = _new_object_type(node)
                if spec is not None:
                    uses.append(_Use(spec, where))
    return uses


def _new_object_type(command: Node) -> tuple[Spec | None, Node | None]:
    elements = child_of_type(command, "command_elements")
    if elements is None:
        return None, None
    arguments = command_arguments(elements)
    value = next((value for parameter, value in arguments if parameter and parameter.lower() == "typename"), None)
    if value is None and not any(parameter and parameter.lower() == "comobject" for parameter, _value in arguments):
        value = next((value for parameter, value in arguments if parameter is None), None)
    literal = string_value(value) if value is not None else None
    return (parse_type_string(literal), value) if literal else (None, None)


def _assemblies_loaded_by(nodes: NodeIndex, catalogue: Catalogue) -> set[str]:
    """Simple names of the assemblies a payload loads: Add-Type -AssemblyName, [Reflection.Assembly]::Load*, and
    the cmdlet assemblies of the modules it imports or whose cmdlets it calls."""
    strings = _script_string_variables(nodes)
    loaded: set[str] = set()

    def names_of(node: Node) -> list[str]:
        node = core(node)
        items = node.named_children if node.type == "array_literal_expression" else [node]
        found = []
        for item in items:
            item = core(item)
            value = string_value(item)
            if value is None and item.type == "variable":
                path = variable_path(item)
                value = strings.get(path.key) if path is not None else None
            if value:
                found.append(value.split(",")[0].strip())
        return found

    modules: set[str] = set()
    for node in nodes.of_type("command", "invokation_expression"):
        if node.type == "command":
            name = child_of_type(node, "command_name")
            if name is None:
                continue
            command = text(name).strip().lower()
            cmdlet = (catalogue.cmdlets or {}).get(command)
            if cmdlet is not None and cmdlet.module:
                modules.add(cmdlet.module.lower())
            elements = child_of_type(node, "command_elements")
            if elements is None or command not in ("add-type", "import-module"):
                continue
            arguments = command_arguments(elements)
            if command == "import-module":
                value = next((v for p, v in arguments if p is None or p.lower() == "name"), None)
                modules.update(module.lower() for module in (names_of(value) if value is not None else []))
                continue
            for parameter, value in arguments:
                if parameter is not None and parameter.lower() in ("assemblyname", "an") and value is not None:
                    loaded.update(name.lower() for name in names_of(value))
        elif node.type == "invokation_expression" and node.child_count >= 4 and node.children[1].type == "::":
            target = core(node.children[0])
            member = text(node.children[2]).strip().lower()
            if target.type != "type_literal" or not member.startswith("load"):
                continue
            if type_spec_text_lower(target) not in ("reflection.assembly", "system.reflection.assembly"):
                continue
            argument_list = child_of_type(node, "argument_list")
            expressions = child_of_type(argument_list, "argument_expression_list") if argument_list else None
            for argument in children_of_type(expressions, "argument_expression") if expressions else []:
                loaded.update(name.lower() for name in names_of(argument))
    for module in modules:
        loaded.update(assembly.lower() for assembly in MODULE_ASSEMBLIES.get(module, ()))
    return loaded


def type_spec_text_lower(type_literal: Node) -> str:
    spec = child_of_type(type_literal, "type_spec")
    return re.sub(r"\s+", "", text(spec)).lower() if spec is not None else ""


def _script_string_variables(nodes: NodeIndex) -> dict[str, str]:
    """Variables assigned exactly one literal string anywhere in the payload ($script:Name = '...')."""
    values: dict[str, list[str | None]] = {}
    for node in nodes.of_type("assignment_expression"):
        if len(node.children) < 3:
            continue
        target = core(node.children[0])
        path = variable_path(target) if target.type == "variable" else None
        if path is not None:
            values.setdefault(path.key, []).append(string_value(core(node.children[2])))
    return {key: found[0] for key, found in values.items() if len(found) == 1 and found[0] is not None}


def _static_access(node: Node) -> tuple[Node, str, int | None] | None:
    """(type literal, member name, argument count or None) of ``[T]::Member`` / ``[T]::Member(...)``."""
    if node.type not in ("member_access", "invokation_expression") or node.child_count < 3:
        return None
    if node.children[1].type != "::":
        return None
    target = core(node.children[0])
    if target.type != "type_literal":
        return None
    member = node.children[2]
    simple = child_of_type(member, "simple_name")
    if simple is None:
        return None
    count = None
    if node.type == "invokation_expression":
        argument_list = child_of_type(node, "argument_list")
        expressions = child_of_type(argument_list, "argument_expression_list") if argument_list else None
        count = len(children_of_type(expressions, "argument_expression")) if expressions else 0
    return target, text(simple), count


def check(nodes: NodeIndex, catalogue: Catalogue) -> list[TypeFinding]:
    if catalogue.types is None or catalogue.accelerators is None:
        return []
    resolver = _Resolver(nodes, catalogue)
    uses = _uses(nodes)
    resolver.prefetch(uses)
    loaded = DEFAULT_LOADED_ASSEMBLIES | _assemblies_loaded_by(nodes, catalogue)
    findings: list[TypeFinding] = []
    resolved_literals: dict[int, tuple[Spec, Resolved | None]] = {}
    reported_assemblies: set[tuple[str, int]] = set()

    def check_spec(spec: Spec, use: _Use, attribute: bool = False) -> Resolved | None:
        if use.ordered_hashtable and spec.name.lower() == "ordered" and not spec.arguments:
            return Resolved("System.Collections.Specialized.OrderedDictionary", "System")
        resolved = resolver.resolve(spec, attribute)
        for argument in spec.arguments:
            check_spec(argument, use)
        if resolved is None:
            findings.append(TypeFinding("unknown-type", use.node, _unknown_type_message(spec, attribute, resolver)))
            return None
        if (
            resolved.assembly
            and not resolved.payload_defined
            and resolved.assembly.lower() not in loaded
            and (resolved.assembly.lower(), use.node.start_point[0]) not in reported_assemblies
        ):
            reported_assemblies.add((resolved.assembly.lower(), use.node.start_point[0]))
            findings.append(
                TypeFinding(
                    "assembly-not-loaded",
                    use.node,
                    f"[{resolved.full_name}] is in the assembly {resolved.assembly}, which Windows PowerShell 5.1 "
                    f"does not load by itself; load it first: Add-Type -AssemblyName {resolved.assembly}",
                )
            )
        return resolved

    for use in uses:
        resolved = check_spec(use.spec, use, use.attribute)
        resolved_literals[use.node.id] = (use.spec, resolved)
        if use.attribute and resolved is not None:
            findings.extend(_attribute_arguments(use.node, resolved))

    for node in nodes.of_type("member_access", "invokation_expression"):
        access = _static_access(node)
        if access is None:
            continue
        literal, member, count = access
        spec, resolved = resolved_literals.get(literal.id, (None, None))
        if spec is None or resolved is None:
            continue
        findings.extend(_member_problems(node, spec, resolved, member, count))
    return findings


def _unknown_type_message(spec: Spec, attribute: bool, resolver: _Resolver) -> str:
    written = f"[{spec}({'...' if attribute else ''})]" if attribute else f"[{spec}]"
    message = (
        f"{written} is not a .NET Framework 4.6.2 type, a PowerShell type accelerator, a type in "
        "tests/pslint/catalogue/types.json, nor a type this payload defines"
    )
    if spec.arguments and "." not in spec.name:
        message += "; a generic type needs its namespace (or using namespace)"
    return message


def _attribute_arguments(attribute: Node, resolved: Resolved) -> list[TypeFinding]:
    if resolved.mono is not None:
        settable = resolved.mono.settable_members
    elif resolved.catalogued is not None and resolved.catalogued.instance_members:
        settable = frozenset(name.lower() for name in resolved.catalogued.instance_members)
    else:
        return []
    findings = []
    arguments = child_of_type(attribute, "attribute_arguments")
    for argument in children_of_type(arguments, "attribute_argument") if arguments else []:
        if argument.children[0].type != "simple_name":
            continue
        name = text(argument.children[0])
        if name.lower() not in settable:
            findings.append(
                TypeFinding(
                    "unknown-member",
                    argument.children[0],
                    f"{name} is not a settable property of [{resolved.full_name}]",
                )
            )
    return findings


def _member_problems(node: Node, spec: Spec, resolved: Resolved, member: str, count: int | None) -> list[TypeFinding]:
    lowered = member.lower()
    if resolved.enum_members is not None:
        if lowered in resolved.enum_members:
            return []
        return [
            TypeFinding("unknown-member", node.children[2], f"the enum [{resolved.full_name}] has no value {member}")
        ]
    if resolved.payload_defined and resolved.mono is None:
        return []  # a PowerShell class, or C# that did not compile: its members are not known here
    if spec.array:
        if lowered == "new":
            if count is not None and count != 1:
                return [TypeFinding("constructor-arity", node, f"[{spec}]::new() takes the array's length, 1 argument")]
            return []
        return []
    if lowered == "new":
        if count is None:
            return []
        return _constructor_problems(node, spec, resolved, count)
    if resolved.mono is not None:
        statics = resolved.mono.static_members
    elif resolved.catalogued is not None:
        statics = frozenset(name.lower() for name in resolved.catalogued.static_members)
    else:
        return []
    if lowered in statics:
        return []
    return [
        TypeFinding(
            "unknown-member",
            node.children[2],
            f"[{resolved.full_name}] has no public static member {member}",
        )
    ]


def _constructor_problems(node: Node, spec: Spec, resolved: Resolved, count: int) -> list[TypeFinding]:
    if resolved.mono is not None:
        info = resolved.mono
        if info.value_type and count == 0:
            return []
        ranges = info.constructors
        if any(required <= count and (most == -1 or count <= most) for required, most in ranges):
            return []
        if not ranges:
            what = {"interface": "an interface", "enum": "an enum", "delegate": "a delegate"}.get(
                info.kind, "an abstract or static class" if info.abstract else "a class without one"
            )
            return [
                TypeFinding(
                    "constructor-arity", node, f"[{resolved.full_name}] has no public constructor: it is {what}"
                )
            ]
        accepted = sorted({_arity_text(required, most) for required, most in ranges})
        return [
            TypeFinding(
                "constructor-arity",
                node,
                f"[{resolved.full_name}]::new() is given {count} argument(s); its public constructors take "
                f"{', '.join(accepted)}",
            )
        ]
    if resolved.catalogued is not None:
        arities = resolved.catalogued.constructors
        if count in arities:
            return []
        if not arities:
            return [TypeFinding("constructor-arity", node, f"[{resolved.full_name}] has no public constructor")]
        return [
            TypeFinding(
                "constructor-arity",
                node,
                f"[{resolved.full_name}]::new() is given {count} argument(s); its public constructors take "
                f"{', '.join(str(arity) for arity in sorted(set(arities)))}",
            )
        ]
    return []


def _arity_text(required: int, most: int) -> str:
    if most == -1:
        return f"{required} or more"
    if required == most:
        return str(required)
    return f"{required} to {most}"
