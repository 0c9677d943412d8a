"""The PowerShell lint's catalogues: well formed, Windows PowerShell 5.1 only, and complete for the payloads.

tests/pslint/catalogue/cmdlets.json holds the commands the payloads and the Pester tests call, with their parameters
as Microsoft documents them; tests/pslint/catalogue/types.json holds the type accelerators of Windows PowerShell 5.1
and the .NET types that Mono's .NET Framework 4.x reference assemblies lack. These tests hold both files to their
format and check that every command and type the payloads use today is there. The tree-sitter walk below is kept
small and local on purpose: it only has to find command names and type names, not judge them.
"""

from __future__ import annotations

import functools
import json
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest
import tree_sitter
import tree_sitter_powershell

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source

REPO = pathlib.Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "tests" / "pslint" / "catalogue"
PAYLOADS = sorted(p for p in (REPO / "plugins").rglob("*.ps1") if not p.name.startswith("_"))
MONO_API = pathlib.Path("/usr/lib/mono/4.8-api")

COMMON_PARAMETERS = ["Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ErrorVariable",
                     "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable"]
RISK_MITIGATION_PARAMETERS = ["WhatIf", "Confirm"]
# Their pages' SYNTAX shows nothing but [<CommonParameters>] (and WhatIf/Confirm for Reset-IISServerManager).
DOCUMENTED_WITHOUT_PARAMETERS = {"Get-Culture", "Get-Host", "Get-PSCallStack", "New-Guid", "Get-IISServerManager",
                                 "Reset-IISServerManager", "Start-IISCommitDelay"}
# Pester's block and assertion commands are not Verb-Noun.
PESTER_KEYWORDS = {"Describe", "Context", "It", "Should", "BeforeAll", "AfterAll", "BeforeEach", "AfterEach",
                   "BeforeDiscovery", "Mock", "InModuleScope"}
# Parameters that exist only in PowerShell 6 or later; the hosts run Windows PowerShell 5.1. Each is on the
# command's powershell-7.x page and absent from its powershell-5.1 page, except Get-ChildItem -FollowSymlink, which
# the 5.1 page lists while saying "This parameter was introduced in PowerShell 6.0."
POWERSHELL_7_ONLY = {
    "Get-Content": ["AsByteStream"],
    "Set-Content": ["AsByteStream"],
    "Add-Content": ["AsByteStream"],
    "ConvertTo-Json": ["EscapeHandling", "AsArray"],
    "ConvertFrom-Json": ["AsHashtable", "Depth", "NoEnumerate"],
    "ForEach-Object": ["Parallel", "ThrottleLimit", "TimeoutSeconds", "AsJob", "UseNewRunspace"],
    "Start-Sleep": ["Duration"],
    "Get-ChildItem": ["FollowSymlink"],
    "Get-Date": ["AsUTC", "UnixTimeSeconds"],
    "Test-Connection": ["TargetName", "Ping", "TcpPort", "Traceroute"],
    "Join-Path": ["AdditionalChildPath"],
    "Split-Path": ["LeafBase", "Extension"],
    "Sort-Object": ["Top", "Bottom", "Stable"],
    "Import-Module": ["UseWindowsPowerShell", "SkipEditionCheck"],
    "Invoke-WebRequest": ["SkipCertificateCheck", "Authentication", "SslProtocol"],
    "Get-Random": ["Shuffle"],
    "Measure-Object": ["AllStats", "StandardDeviation"],
    "ConvertTo-Csv": ["UseQuotes", "QuoteFields", "IncludeTypeInformation"],
    "Export-Csv": ["UseQuotes", "QuoteFields", "IncludeTypeInformation"],
    "Set-Service": ["SecurityDescriptorSddl"],
    "Where-Object": ["Not"],
    "Get-Culture": ["Name", "ListAvailable", "NoUserOverrides"],
}
CMDLET_KEYS = {"module", "url", "parameters", "aliases", "common_parameters", "supports_should_process",
               "wildcard_name", "note"}
TYPE_KEYS = {"assembly", "url", "kind", "constructors", "static_members", "instance_members", "note"}
ARRAY_RANK = re.compile(r"\[,*\]\Z")
IDENTIFIER = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
FULL_TYPE_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\Z")
LEARN_MODULE_URL = re.compile(r"\Ahttps://learn\.microsoft\.com/en-us/powershell/module/(?P<module>[a-z0-9.-]+)/"
                              r"(?P<name>[a-z0-9-]+)\?view=(powershell-5\.1|windowsserver2022-ps)\Z")
PESTER_URL = re.compile(r"\Ahttps://pester\.dev/docs/v5/commands/(?P<name>[A-Za-z-]+)\Z")
LEARN_API_URL = re.compile(r"\Ahttps://learn\.microsoft\.com/en-us/dotnet/api/(?P<name>[a-z0-9.]+)"
                           r"\?view=(powershellsdk-1\.1\.0|iis-dotnet)\Z")


@functools.lru_cache(maxsize=1)
def _cmdlet_catalogue() -> dict:
    return json.loads((CATALOGUE / "cmdlets.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _type_catalogue() -> dict:
    return json.loads((CATALOGUE / "types.json").read_text(encoding="utf-8"))


def _cmdlets() -> dict:
    return _cmdlet_catalogue()["cmdlets"]


# ---------------------------------------------------------------------------------------------------------------------
# A small walk of the tree-sitter parse: command names, function names, type names and static member uses.


@functools.lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def _nodes(source: str):
    stack = [_parser().parse(source.encode("utf-8")).root_node]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def _child(node: tree_sitter.Node, kind: str) -> tree_sitter.Node | None:
    return next((c for c in node.children if c.type == kind), None)


def _command_name(command: tree_sitter.Node) -> str | None:
    """The name a command statement calls; None for '& $scriptBlock' and other computed commands."""
    name = _child(command, "command_name")
    if name is None:
        expression = _child(command, "command_name_expr")
        name = _child(expression, "command_name") if expression is not None else None
    return name.text.decode() if name is not None else None


def commands_called(source: str) -> set[str]:
    return {name for node in _nodes(source) if node.type == "command" and (name := _command_name(node))}


def functions_defined(source: str) -> set[str]:
    return {_child(node, "function_name").text.decode().lower()
            for node in _nodes(source) if node.type == "function_statement"}


def uncatalogued_commands(source: str) -> set[str]:
    """Commands that are neither a function of the script nor in cmdlets.json (names ignore case)."""
    known = {name.lower() for name in _cmdlets()} | functions_defined(source)
    return {name for name in commands_called(source) if name.lower() not in known}


def type_names(source: str) -> set[str]:
    """Type names as written in type literals ([string[]], [Foo]::Bar, -is [Foo]) and attributes ([Parameter()])."""
    found = set()
    for node in _nodes(source):
        if node.type == "type_literal":
            found.add(_child(node, "type_spec").text.decode())
        elif node.type == "attribute_name":
            found.add(node.text.decode() + "@attribute")
    return found


def static_uses(source: str) -> set[tuple[str, str, int | None]]:
    """([Type] as written, member, argument count for a call or None for a property) for every [Type]::Member."""
    found = set()
    for node in _nodes(source):
        if node.type not in ("invokation_expression", "member_access") or len(node.children) < 3:
            continue
        literal, operator, member = node.children[:3]
        if literal.type != "type_literal" or operator.type != "::":
            continue
        arguments = _child(node, "argument_list")
        arity = None
        if arguments is not None:
            expressions = _child(arguments, "argument_expression_list")
            arity = 0 if expressions is None else sum(c.type == "argument_expression" for c in expressions.children)
        found.add((_child(literal, "type_spec").text.decode(), member.text.decode(), arity))
    return found


def split_type_name(written: str) -> list[tuple[str, int]]:
    """'List[Dictionary[string, int]][]' -> [('List', 1), ('Dictionary', 2), ('string', 0), ('int', 0)]."""
    written = written.replace(" ", "")
    while ARRAY_RANK.search(written):  # array ranks: string[], int[,], byte[][]
        written = ARRAY_RANK.sub("", written)
    if "[" not in written:
        return [(written, 0)]
    head, inner = written[: written.index("[")], written[written.index("[") + 1: -1]
    arguments, depth, start = [], 0, 0
    for index, char in enumerate(inner):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            arguments.append(inner[start:index])
            start = index + 1
    arguments.append(inner[start:])
    parts = [(head, len(arguments))]
    for argument in arguments:
        parts.extend(split_type_name(argument))
    return parts


def types_defined_by_add_type(source: str) -> set[str]:
    """Types that a C# block handed to Add-Type declares: 'Namespace.Type' for every namespace and type name seen."""
    namespaces = set(re.findall(r"^\s*namespace\s+([\w.]+)", source, re.M))
    names = set(re.findall(r"\b(?:class|struct|enum|interface)\s+(\w+)", source))
    return {f"{namespace}.{name}" for namespace in namespaces for name in names}


# ---------------------------------------------------------------------------------------------------------------------
# Mono's .NET Framework 4.x reference assemblies: the public types they define, read by reflection.

TYPE_LISTER = """
using System;
using System.IO;
using System.Reflection;

static class TypeLister {
    static void Main(string[] arguments) {
        string directory = arguments[0];
        // Reflection-only loading resolves nothing by itself: a type whose base is in another assembly needs it.
        AppDomain.CurrentDomain.ReflectionOnlyAssemblyResolve += (sender, request) => {
            string file = new AssemblyName(request.Name).Name + ".dll";
            foreach (string folder in new[] { directory, Path.Combine(directory, "Facades") }) {
                if (File.Exists(Path.Combine(folder, file))) {
                    return Assembly.ReflectionOnlyLoadFrom(Path.Combine(folder, file));
                }
            }
            return Assembly.ReflectionOnlyLoad(request.Name);
        };
        foreach (string path in Directory.GetFiles(directory, "*.dll")) {
            Type[] types;
            try {
                types = Assembly.ReflectionOnlyLoadFrom(path).GetExportedTypes();
            }
            catch (ReflectionTypeLoadException partial) {
                types = partial.Types;
            }
            foreach (Type type in types) {
                if (type != null) {
                    Console.WriteLine(type.FullName);
                }
            }
        }
    }
}
"""


@functools.lru_cache(maxsize=1)
def mono_types() -> dict[str, str]:
    """Every public type of /usr/lib/mono/4.8-api, lower-cased full name (List`1 for generics) -> full name."""
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    assert mcs and mono, "mcs or mono is missing: install Debian's mono-mcs and mono-devel (tools/bootstrap does)"
    assert list(MONO_API.glob("*.dll")), f"no reference assemblies under {MONO_API}: install Debian's mono-devel"
    with tempfile.TemporaryDirectory() as scratch:
        source, program = pathlib.Path(scratch) / "lister.cs", pathlib.Path(scratch) / "lister.exe"
        source.write_text(TYPE_LISTER, encoding="utf-8")
        subprocess.run([mcs, f"-out:{program}", str(source)], check=True, capture_output=True, text=True)
        listing = subprocess.run([mono, str(program), str(MONO_API)], check=True, capture_output=True,
                                 text=True).stdout
    names = {line.strip().lower(): line.strip() for line in listing.splitlines() if line.strip()}
    assert "system.string" in names and "system.collections.generic.list`1" in names, "the listing looks wrong"
    return names


def in_mono(name: str, generic_arity: int = 0) -> bool:
    """Whether Mono's reference assemblies define the type; names ignore case, as PowerShell's lookup does."""
    return (f"{name}`{generic_arity}" if generic_arity else name).lower() in mono_types()


# ---------------------------------------------------------------------------------------------------------------------
# cmdlets.json


def test_cmdlet_catalogue_lists_the_common_and_risk_mitigation_parameters():
    catalogue = _cmdlet_catalogue()
    assert catalogue["common_parameters"] == COMMON_PARAMETERS
    assert catalogue["risk_mitigation_parameters"] == RISK_MITIGATION_PARAMETERS
    aliases = catalogue["common_parameter_aliases"]
    assert set(aliases.values()) == set(COMMON_PARAMETERS + RISK_MITIGATION_PARAMETERS)
    assert all(alias == alias.lower() for alias in aliases)


@pytest.mark.parametrize("name", sorted(_cmdlets()))
def test_cmdlet_entry_is_well_formed(name):
    entry = _cmdlets()[name]
    assert set(entry) <= CMDLET_KEYS and {"module", "url", "parameters", "aliases", "common_parameters",
                                          "supports_should_process"} <= set(entry)
    assert isinstance(entry["module"], str) and entry["module"]
    if entry["module"] == "Pester":
        url = PESTER_URL.match(entry["url"])
        assert url and url.group("name") == name
    else:
        url = LEARN_MODULE_URL.match(entry["url"])
        assert url, entry["url"]
        assert (url.group("module"), url.group("name")) == (entry["module"].lower(), name.lower())
    parameters = entry["parameters"]
    assert isinstance(parameters, list) and all(isinstance(p, str) and IDENTIFIER.match(p) for p in parameters)
    assert parameters or name in DOCUMENTED_WITHOUT_PARAMETERS
    lowered = [p.lower() for p in parameters]
    assert len(set(lowered)) == len(lowered), "a parameter is listed twice"
    universal = {p.lower() for p in COMMON_PARAMETERS + RISK_MITIGATION_PARAMETERS}
    assert not set(lowered) & universal, "common and risk mitigation parameters are listed once, at the top"
    assert isinstance(entry["aliases"], dict)
    for alias, parameter in entry["aliases"].items():
        assert IDENTIFIER.match(alias) and parameter in parameters
        assert alias.lower() not in set(lowered) | universal
    assert isinstance(entry["common_parameters"], bool) and isinstance(entry["supports_should_process"], bool)
    if "wildcard_name" in entry:
        assert entry["wildcard_name"] is True and "name" in lowered


def test_command_names_are_full_names_not_aliases():
    for name in _cmdlets():
        assert re.match(r"\A[A-Z][A-Za-z]+-[A-Z][A-Za-z0-9]+\Z", name) or name in PESTER_KEYWORDS, name


def test_no_command_is_listed_twice_ignoring_case():
    names = [name.lower() for name in _cmdlets()]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", sorted(POWERSHELL_7_ONLY))
def test_no_parameter_that_only_powershell_7_has(name):
    entry = _cmdlets()[name]
    known = {p.lower() for p in entry["parameters"]} | {a.lower() for a in entry["aliases"]}
    assert not known & {p.lower() for p in POWERSHELL_7_ONLY[name]}


def test_the_wildcard_names_the_payloads_rely_on_are_recorded():
    # Get-ClusterResource -Name and Get-Service -Name match patterns, so a name with [ ] matches other things.
    assert _cmdlets()["Get-ClusterResource"].get("wildcard_name") is True
    assert _cmdlets()["Get-Service"].get("wildcard_name") is True
    assert "wildcard_name" not in _cmdlets()["Add-ClusterResource"]


# ---------------------------------------------------------------------------------------------------------------------
# types.json


def test_accelerators_are_lower_cased_and_name_full_types():
    accelerators = _type_catalogue()["accelerators"]
    assert len(accelerators) == 94  # the rows of about_Type_Accelerators for Windows PowerShell 5.1
    for accelerator, target in accelerators.items():
        assert accelerator == accelerator.lower() and IDENTIFIER.match(accelerator)
        assert FULL_TYPE_NAME.match(target), target
    assert accelerators["pscustomobject"] == "System.Management.Automation.PSObject"
    assert accelerators["nullstring"] == "System.Management.Automation.Language.NullString"
    for newer in ("ordered", "semver", "pspropertyexpression", "short", "ushort", "uint", "ulong",
                  "validatenotnullorwhitespace", "argumentcompletions", "norunspaceaffinity", "experimental"):
        assert newer not in accelerators, f"[{newer}] is newer than Windows PowerShell 5.1"


@pytest.mark.parametrize("name", sorted(_type_catalogue()["types"]))
def test_type_entry_is_well_formed(name):
    entry = _type_catalogue()["types"][name]
    assert FULL_TYPE_NAME.match(name)
    assert set(entry) <= TYPE_KEYS and TYPE_KEYS - {"note"} <= set(entry)
    assert isinstance(entry["assembly"], str) and entry["assembly"]
    url = LEARN_API_URL.match(entry["url"])
    if url:
        assert url.group("name") == name.lower()
    else:
        # A type with no .NET API page is grounded on the cmdlet page that documents it, and says so.
        assert LEARN_MODULE_URL.match(entry["url"]) and entry.get("note"), entry["url"]
    assert entry["kind"] in ("class", "struct", "enum", "interface")
    constructors = entry["constructors"]
    assert isinstance(constructors, list)
    assert all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in constructors)
    assert constructors == sorted(set(constructors))
    if entry["kind"] in ("enum", "interface"):
        assert constructors == []
    for key in ("static_members", "instance_members"):
        members = entry[key]
        assert isinstance(members, list) and all(isinstance(m, str) and IDENTIFIER.match(m) for m in members)
        assert len({m.lower() for m in members}) == len(members), f"{key} lists a member twice"


def test_every_accelerator_target_is_catalogued_or_in_mono():
    targets = set(_type_catalogue()["accelerators"].values()) - set(_type_catalogue()["types"])
    assert sorted(t for t in targets if not in_mono(t)) == []


def test_catalogued_types_are_ones_mono_lacks():
    assert sorted(name for name in _type_catalogue()["types"] if in_mono(name)) == []


def test_the_mono_listing_tells_present_from_absent():
    assert in_mono("System.String") and in_mono("system.object") and in_mono("System.Collections.Generic.List", 1)
    assert not in_mono("System.Collections.Generic.List") and not in_mono("System.Management.Automation.PSObject")
    assert not in_mono("Microsoft.Web.Administration.ServerManager")


# ---------------------------------------------------------------------------------------------------------------------
# The payloads, as they reach the host


def resolve_type(written: str, generic_arity: int, source: str, attribute: bool = False) -> tuple[str, str]:
    """Where a type name resolves, as PowerShell looks it up: ('accelerator' | 'catalogue' | 'mono' | 'payload' |
    'missing', full name). PowerShell ignores case, tries the name as written and with 'System.' in front, and for an
    attribute also with 'Attribute' appended; a type a payload compiles with Add-Type is its own."""
    accelerators = _type_catalogue()["accelerators"]
    catalogued = {name.lower(): name for name in _type_catalogue()["types"]}
    names = [written, "System." + written]
    if attribute:
        names = [name + suffix for name in names for suffix in ("Attribute", "")]
    for name in names:
        if not generic_arity and name.lower() in accelerators:
            target = accelerators[name.lower()]
            return ("catalogue" if target in catalogued.values() else "accelerator"), target
        if not generic_arity and name.lower() in catalogued:
            return "catalogue", catalogued[name.lower()]
        if in_mono(name, generic_arity):
            return "mono", name
    if written in types_defined_by_add_type(source):
        return "payload", written
    return "missing", written


@pytest.mark.parametrize("path", PAYLOADS, ids=[p.name for p in PAYLOADS])
def test_every_command_the_payload_calls_is_its_own_function_or_catalogued(path):
    source = payload_source(path.stem)
    assert commands_called(source), "the walk found no command at all"
    assert uncatalogued_commands(source) == set()


@pytest.mark.parametrize("path", PAYLOADS, ids=[p.name for p in PAYLOADS])
def test_every_type_the_payload_names_resolves_in_the_catalogue_mono_or_the_payload(path):
    source = payload_source(path.stem)
    missing = set()
    for written in type_names(source):
        attribute = written.endswith("@attribute")
        for index, (name, arity) in enumerate(split_type_name(written.removesuffix("@attribute"))):
            if resolve_type(name, arity, source, attribute=attribute and index == 0)[0] == "missing":
                missing.add(written)
    assert missing == set()


@pytest.mark.parametrize("path", PAYLOADS, ids=[p.name for p in PAYLOADS])
def test_static_members_and_constructors_the_payload_uses_are_catalogued(path):
    source = payload_source(path.stem)
    problems = []
    for written, member, arity in static_uses(source):
        if ARRAY_RANK.search(written.replace(" ", "")):
            continue  # [byte[]]::new(16) is an array's constructor
        where, name = resolve_type(*split_type_name(written)[0], source)
        if where != "catalogue":
            continue  # Mono's own or the payload's: the lint asks reflection about those
        problems.extend(static_use_problems(name, written, member, arity))
    assert problems == []


def static_use_problems(name: str, written: str, member: str, arity: int | None) -> list[str]:
    entry = _type_catalogue()["types"][name]
    if member.lower() == "new":
        return [] if arity in entry["constructors"] else [f"[{written}]::new with {arity} arguments"]
    return [] if member.lower() in {m.lower() for m in entry["static_members"]} else [f"[{written}]::{member}"]


def test_the_command_walk_finds_commands_and_leaves_out_functions():
    snippet = ("function Get-Thing {\n    param([string]$Name)\n"
               "    Get-Service -Name $Name | Where-Object { $_.Status }\n}\n"
               "Get-Thing -Name x\n& $block\nInvoke-Nothing -Now\n")
    assert commands_called(snippet) == {"Get-Thing", "Get-Service", "Where-Object", "Invoke-Nothing"}
    assert uncatalogued_commands(snippet) == {"Invoke-Nothing"}


def test_the_alias_of_a_cmdlet_is_not_catalogued():
    assert uncatalogued_commands("Get-ChildItem | % { $_ } | ? { $_ } | select -First 1") == {"%", "?", "select"}


def test_the_type_walk_finds_literals_attributes_and_static_uses():
    snippet = ("[CmdletBinding()] param([Parameter(Mandatory)][string[]]$Names)\n"
               "$list = [System.Collections.Generic.List[object]]::new()\n"
               "if ($x -is [System.IO.FileNotFoundException]) { [int]::MaxValue }\n")
    assert type_names(snippet) == {"CmdletBinding@attribute", "Parameter@attribute", "string[]",
                                   "System.Collections.Generic.List[object]", "System.IO.FileNotFoundException",
                                   "int"}
    assert static_uses(snippet) == {("System.Collections.Generic.List[object]", "new", 0), ("int", "MaxValue", None)}
    assert split_type_name("System.Collections.Generic.Dictionary[string, int[]][]") == [
        ("System.Collections.Generic.Dictionary", 2), ("string", 0), ("int", 0)]


def test_a_static_member_or_constructor_the_catalogue_lacks_is_reported():
    snippet = ("[Microsoft.Web.Administration.ServerManager]::OpenLocal()\n[scriptblock]::Create('1')\n"
               "[System.Management.Automation.PSCredential]::new('u', $p, 3)\n"
               "[System.Management.Automation.ActionPreference]::Stop\n")
    problems = []
    for written, member, arity in static_uses(snippet):
        where, name = resolve_type(written, 0, snippet)
        assert where == "catalogue"
        problems.extend(static_use_problems(name, written, member, arity))
    assert sorted(problems) == ["[Microsoft.Web.Administration.ServerManager]::OpenLocal",
                                "[System.Management.Automation.PSCredential]::new with 3 arguments"]


def test_type_resolution_follows_powershell():
    snippet = "namespace Pkiops.Sample { public sealed class Thing { } }"
    assert resolve_type("Parameter", 0, snippet, attribute=True) == (
        "catalogue", "System.Management.Automation.ParameterAttribute")
    assert resolve_type("object", 0, snippet) == ("mono", "System.object")
    assert resolve_type("IO.FileInfo", 0, snippet) == ("mono", "System.IO.FileInfo")
    assert resolve_type("adsi", 0, snippet) == ("accelerator", "System.DirectoryServices.DirectoryEntry")
    assert resolve_type("Pkiops.Sample.Thing", 0, snippet) == ("payload", "Pkiops.Sample.Thing")
    assert resolve_type("Microsoft.Web.Administration.Site", 0, snippet) == (
        "missing", "Microsoft.Web.Administration.Site")
