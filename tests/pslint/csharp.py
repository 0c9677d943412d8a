"""``csharp5``: every ``Add-Type -TypeDefinition`` source compiles as Windows PowerShell 5.1 compiles it.

Windows PowerShell 5.1's Add-Type compiles C# with the CodeDom C# provider of .NET Framework 4.x, the C# 5
compiler. Its FullCLR implementation (AddType.cs in PowerShell/PowerShell at commit 60b3b304f2, the Windows
PowerShell source imported in 2016, lines 1335-1336, 1638 and 1680) references ``System.dll``,
``System.Management.Automation.dll`` and ``System.Core.dll`` by default, adds the ``-ReferencedAssemblies``, and
sets ``TreatWarningsAsErrors`` unless ``-IgnoreWarnings`` is given; Microsoft's Add-Type page names the first two
defaults (https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.utility/add-type?view=powershell-5.1).

Here the same source goes to Mono's ``mcs -langversion:5 -target:library`` with only mscorlib, those references
(from Mono's .NET Framework 4.6.2 reference assemblies, see reflection.py) and warning level 4, warnings reported
as problems unless ``-IgnoreWarnings``. Mono has no System.Management.Automation: a source that uses it cannot be
checked here and is reported as such, so payload C# sticks to .NET Framework types and leaves PowerShell objects to
the PowerShell around it.

The source is the literal given to ``-TypeDefinition`` (or the first positional argument): a string or
here-string, or a variable the payload assigns exactly one literal. Compilations are cached under
``.cache/pslint/csharp/`` by a hash of the source and options; the resulting assembly also lets the type rules see
the payload's own types and their members.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import re
import subprocess
import tempfile
import typing as t

from . import reflection
from .scopes import command_arguments
from .syntax import Node, NodeIndex, child_of_type, core, here_string_first_line, string_value, text, variable_path

CSHARP_CACHE = reflection.CACHE_DIR / "csharp"
DEFAULT_REFERENCES = ("System", "System.Core")
# C# 5, a library, no implicit references but mscorlib and those given, Add-Type's /optimize+, csc's default
# warning level.
MCS_OPTIONS = ("-nologo", "-langversion:5", "-target:library", "-noconfig", "-nostdlib", "-optimize+", "-warn:4")
_SMA = re.compile(r"System\.Management\.Automation|Microsoft\.PowerShell", re.IGNORECASE)
_MCS_LINE = re.compile(
    r"^(?:(?P<file>[^(]+)\((?P<line>\d+),(?P<column>\d+)\): )?"
    r"(?P<severity>error|warning) (?P<code>CS\d+): (?P<message>.*)$"
)


@dataclasses.dataclass(frozen=True)
class CompileProblem:
    line: int  # 1-based line in the C# source; 0 when mcs gives none
    column: int
    severity: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.severity} {self.code}: {self.message}"


@dataclasses.dataclass(frozen=True)
class CompileResult:
    problems: tuple[CompileProblem, ...]  # errors, and warnings unless they were to be ignored
    assembly: pathlib.Path | None  # the built library, when it compiled


@dataclasses.dataclass(frozen=True)
class AddTypeBlock:
    source: str | None  # None when the lint cannot read it; ``problem`` says why
    first_line: int  # payload line of the source's first line
    node: Node  # the Add-Type command
    references: tuple[str, ...]
    ignore_warnings: bool
    problem: str = ""


def reference_path(name: str) -> pathlib.Path | None:
    """A -ReferencedAssemblies entry ('System.Security', 'System.Security.dll' or a full assembly name)."""
    simple = name.split(",")[0].strip()
    if simple.lower().endswith(".dll"):
        simple = simple[:-4]
    for directory in (reflection.FRAMEWORK_DIR, reflection.FRAMEWORK_DIR / "Facades"):
        candidate = directory / f"{simple}.dll"
        if candidate.is_file() and not reflection.NOT_DOTNET_FRAMEWORK.match(simple):
            return candidate
    return None


def compile_source(source: str, references: t.Sequence[str] = (), ignore_warnings: bool = False) -> CompileResult:
    """Compile like Windows PowerShell 5.1's Add-Type, with mcs -langversion:5; cached."""
    reflection.check_toolchain()
    missing = [name for name in references if reference_path(name) is None and not _SMA.search(name)]
    if missing:
        return CompileResult(
            tuple(
                CompileProblem(
                    0,
                    0,
                    "error",
                    "CS0006",
                    f"referenced assembly '{name}' is not a .NET Framework " "assembly known here",
                )
                for name in missing
            ),
            None,
        )
    paths = [reflection.FRAMEWORK_DIR / "mscorlib.dll"] + [
        path for path in (reference_path(name) for name in (*DEFAULT_REFERENCES, *references)) if path is not None
    ]
    # The cached answer holds while the source, the references, the options and the compiler stay the same.
    key = hashlib.sha256(
        json.dumps(
            [source, sorted({str(path) for path in paths}), MCS_OPTIONS, os.stat(reflection.MCS_EXE).st_mtime_ns]
        ).encode()
    ).hexdigest()[:24]
    record = CSHARP_CACHE / f"{key}.json"
    # The file name is the assembly's name: one per source, so that a payload's two Add-Type assemblies differ.
    assembly = CSHARP_CACHE / f"AddType_{key}.dll"
    if record.is_file():
        cached = json.loads(record.read_text(encoding="utf-8"))
        problems = tuple(CompileProblem(**problem) for problem in cached["problems"])
        built = cached["built"] and assembly.is_file()
        return _result(problems, assembly if built else None, ignore_warnings)
    CSHARP_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pslint-") as work:
        source_file = pathlib.Path(work) / "AddType.cs"
        source_file.write_text(source, encoding="utf-8")
        output = pathlib.Path(work) / assembly.name
        command = [
            "mcs", *MCS_OPTIONS,
            *(f"-r:{path}" for path in dict.fromkeys(paths)),
            f"-lib:{reflection.FRAMEWORK_DIR}", f"-lib:{reflection.FRAMEWORK_DIR / 'Facades'}",
            f"-out:{output}", str(source_file),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        problems = []
        for line in (result.stdout + result.stderr).splitlines():
            match = _MCS_LINE.match(line.strip())
            if match is None:
                continue
            problems.append(
                CompileProblem(
                    int(match["line"] or 0),
                    int(match["column"] or 0),
                    match["severity"],
                    match["code"],
                    match["message"],
                )
            )
        if result.returncode != 0 and not any(problem.severity == "error" for problem in problems):
            problems.append(CompileProblem(0, 0, "error", "mcs", (result.stdout + result.stderr).strip()[:500]))
        built = result.returncode == 0 and output.is_file()
        if built:
            os.replace(output, assembly)
    if any(problem.severity == "error" for problem in problems) and _SMA.search(source):
        problems = [
            CompileProblem(
                0, 0, "error", "SMA",
                "the source uses System.Management.Automation, which Mono does not have, so it cannot be checked "
                "here; keep Add-Type C# to .NET Framework types",
            )
        ]  # fmt: skip
    partial = record.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(
        json.dumps({"problems": [dataclasses.asdict(problem) for problem in problems], "built": built}),
        encoding="utf-8",
    )
    os.replace(partial, record)
    return _result(tuple(problems), assembly if built else None, ignore_warnings)


def _result(
    problems: tuple[CompileProblem, ...], assembly: pathlib.Path | None, ignore_warnings: bool
) -> CompileResult:
    if ignore_warnings:
        problems = tuple(problem for problem in problems if problem.severity != "warning")
    return CompileResult(problems, assembly)


def compile_problems(source: str, references: t.Sequence[str] = (), ignore_warnings: bool = False) -> list[str]:
    """What stops ``Add-Type -TypeDefinition source`` from compiling on Windows PowerShell 5.1, as 'line:col: ...'."""
    return [str(problem) for problem in compile_source(source, references, ignore_warnings).problems]


def add_type_blocks(nodes: NodeIndex) -> list[AddTypeBlock]:
    blocks = []
    literal_assignments = _literal_assignments(nodes)
    for node in nodes.of_type("command"):
        name = child_of_type(node, "command_name")
        if name is None or text(name).strip().lower() != "add-type":
            continue
        elements = child_of_type(node, "command_elements")
        arguments = command_arguments(elements) if elements is not None else []
        named = {parameter.lower(): value for parameter, value in arguments if parameter is not None}
        if any(key in named for key in ("assemblyname", "an", "path", "literalpath", "pspath", "memberdefinition")):
            continue
        language = string_value(named["language"]) if named.get("language") is not None else None
        if language is not None and language.lower() not in ("csharp",):
            continue
        value = named.get("typedefinition")
        if value is None:
            value = next((value for parameter, value in arguments if parameter is None), None)
        if value is None:
            continue
        references = tuple(_strings(named.get("referencedassemblies") or named.get("ra")))
        ignore_warnings = "ignorewarnings" in named
        source, first_line, problem = _source_of(value, literal_assignments)
        blocks.append(AddTypeBlock(source, first_line, node, references, ignore_warnings, problem))
    return blocks


def _strings(node: Node | None) -> list[str]:
    if node is None:
        return []
    node = core(node)
    items = node.named_children if node.type == "array_literal_expression" else [node]
    return [value for value in (string_value(item) for item in items) if value is not None]


def _literal_line(node: Node) -> int:
    node = core(node)
    if node.type == "string_literal":
        node = node.children[0]
    if node.type in ("verbatim_here_string_characters", "expandable_here_string_literal"):
        return here_string_first_line(node)
    return node.start_point[0] + 1


def _source_of(value: Node, literal_assignments: dict[str, list[Node | None]]) -> tuple[str | None, int, str]:
    node = core(value)
    literal = string_value(node)
    if literal is not None:
        return literal, _literal_line(node), ""
    if node.type == "variable":
        path = variable_path(node)
        assigned = literal_assignments.get(path.key, []) if path is not None else []
        if len(assigned) == 1 and assigned[0] is not None:
            return string_value(assigned[0]), _literal_line(assigned[0]), ""
        return (
            None,
            node.start_point[0] + 1,
            (
                f"the Add-Type source ${path.name if path else '?'} is not assigned exactly one literal string, so the "
                "lint cannot read it"
            ),
        )
    return None, node.start_point[0] + 1, "the Add-Type source is not a literal string, so the lint cannot read it"


def _literal_assignments(nodes: NodeIndex) -> dict[str, list[Node | None]]:
    """What each variable is assigned: the literal string node, or None for anything else."""
    found: dict[str, list[Node | None]] = {}
    for node in nodes.of_type("assignment_expression"):
        if len(node.children) < 3:
            continue
        target = core(node.children[0])
        path = variable_path(target) if target.type == "variable" else None
        if path is None:
            continue
        value = core(node.children[2])
        found.setdefault(path.key, []).append(value if string_value(value) is not None else None)
    return found


def findings(nodes: NodeIndex) -> list[tuple[str, int, int, str]]:
    """(rule, line, column, message) for each Add-Type block that would not compile on Windows PowerShell 5.1."""
    found = []
    for block in add_type_blocks(nodes):
        line, column = block.node.start_point[0] + 1, block.node.start_point[1] + 1
        if block.source is None:
            found.append(("csharp5", line, column, block.problem))
            continue
        for problem in compile_source(block.source, block.references, block.ignore_warnings).problems:
            where = block.first_line + problem.line - 1 if problem.line else line
            found.append(("csharp5", where, problem.column or column,
                          f"Add-Type C# ({problem.severity} {problem.code}): {problem.message}"))  # fmt: skip
    return found
