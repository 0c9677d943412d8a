"""What Mono's .NET Framework 4.x reference assemblies say about a type: found or not, its assembly, constructors
and static members.

``TypeQuery.cs`` is compiled once with ``mcs`` (cached under ``.cache/pslint/`` by the hash of its source) and
answers every question of one lint run in one ``mono`` process.

The reference set is Mono's ``4.6.2-api``: Windows Server 2016, the oldest host the collection supports, ships
.NET Framework 4.6.2 (https://learn.microsoft.com/en-us/dotnet/framework/migration-guide/versions-and-dependencies),
so a payload may use only what 4.6.2 has. Mono's directory also holds assemblies that are not part of the .NET
Framework (Mono's own, and libraries Mono bundles); :data:`NOT_DOTNET_FRAMEWORK` leaves them out.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import typing as t

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE_DIR = REPO / ".cache" / "pslint"
MONO_LIB = pathlib.Path("/usr/lib/mono")
FRAMEWORK_DIR = MONO_LIB / "4.6.2-api"
# mcs.exe carries IKVM.Reflection, the metadata reader TypeQuery uses.
MCS_EXE = MONO_LIB / "4.5" / "mcs.exe"
QUERY_SOURCE = HERE / "TypeQuery.cs"

NOT_DOTNET_FRAMEWORK = re.compile(
    r"^(Mono\.|I18N|Novell\.|IBM\.|RabbitMQ\.|Commons\.|PEAPI$|WebMatrix\.|System\.Reactive\.|System\.Json|"
    r"System\.Web\.Mvc$|System\.Web\.Razor$|System\.Web\.WebPages|System\.Web\.Http|System\.Net\.Http\.Formatting$|"
    r"System\.Numerics\.Vectors$|Microsoft\.Web\.Infrastructure$)"
)


_TYPE_NAME = re.compile(r"^[A-Za-z_][\w.`+]*$")


class ToolchainMissing(RuntimeError):
    """mono, mcs or the reference assemblies are not installed; tools/bootstrap installs them."""


@dataclasses.dataclass(frozen=True)
class TypeInfo:
    full_name: str
    assembly: str
    kind: str  # class, struct, enum, interface, delegate
    abstract: bool
    generic_arity: int
    constructors: tuple[tuple[int, int], ...]  # (required, most; -1 for a params array)
    static_members: frozenset[str]  # lower-cased; enum values, nested types included
    settable_members: frozenset[str]  # lower-cased public settable instance properties and fields

    @property
    def value_type(self) -> bool:
        return self.kind in ("struct", "enum")


def check_toolchain() -> None:
    missing = [tool for tool in ("mono", "mcs") if shutil.which(tool) is None]
    if not (FRAMEWORK_DIR / "mscorlib.dll").is_file():
        missing.append(str(FRAMEWORK_DIR))
    if not MCS_EXE.is_file():
        missing.append(str(MCS_EXE))
    if missing:
        raise ToolchainMissing(
            f"the PowerShell lint needs Debian's mono-mcs and mono-devel ({', '.join(missing)} missing); "
            "run tools/bootstrap"
        )


@functools.lru_cache(maxsize=1)
def framework_assemblies() -> tuple[pathlib.Path, ...]:
    check_toolchain()
    return tuple(path for path in sorted(FRAMEWORK_DIR.glob("*.dll")) if not NOT_DOTNET_FRAMEWORK.match(path.stem))


def _query_program() -> pathlib.Path:
    check_toolchain()
    source = QUERY_SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    program = CACHE_DIR / f"typequery-{digest}.exe"
    if not program.is_file():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        partial = program.with_suffix(f".{os.getpid()}.tmp")
        result = subprocess.run(
            ["mcs", "-nologo", "-optimize+", f"-r:{MCS_EXE}", f"-out:{partial}", str(QUERY_SOURCE)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"mcs could not build {QUERY_SOURCE.name}:\n{result.stdout}{result.stderr}")
        os.replace(partial, program)
    return program


# Answers by (the assemblies searched, lower-cased name), kept in memory and in .cache/pslint/ between runs.
_ANSWERS: dict[tuple[str, str], TypeInfo | None] = {}
_RAW_ANSWERS: dict[tuple[str, str], dict] = {}
_LOADED_CACHES: set[pathlib.Path] = set()


def _cache_file() -> pathlib.Path:
    """Answers stay valid while TypeQuery.cs and the reference assemblies do not change."""
    listing = [(path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in framework_assemblies()]
    digest = hashlib.sha256(json.dumps([QUERY_SOURCE.read_text(encoding="utf-8"), listing]).encode()).hexdigest()
    return CACHE_DIR / f"types-{digest[:16]}.json"


def _load_cache(path: pathlib.Path) -> None:
    if path in _LOADED_CACHES:
        return
    _LOADED_CACHES.add(path)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for searched, name, answer in stored:
        if (searched, name) not in _ANSWERS:
            _RAW_ANSWERS[(searched, name)] = answer
            _ANSWERS[(searched, name)] = _type_info(answer)


def _save_cache(path: pathlib.Path) -> None:
    entries = [[searched, name, answer] for (searched, name), answer in sorted(_RAW_ANSWERS.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(entries), encoding="utf-8")
    os.replace(partial, path)


def _remember(label: str, name: str, answer: dict) -> None:
    _RAW_ANSWERS[(label, name)] = answer
    _ANSWERS[(label, name)] = _type_info(answer)


def _query(names: list[str], extra_assemblies: t.Sequence[pathlib.Path], extra_label: str) -> None:
    """Ask the framework assemblies, then the extra ones, in one mono process.

    A name the framework has is remembered for every payload; one found only in the extra assemblies, or nowhere,
    is remembered as missing from the framework and as what the extra assemblies say.
    """
    framework = framework_assemblies()
    arguments = [
        f"--lib={FRAMEWORK_DIR}",
        *(str(path) for path in framework),
        *(str(path) for path in extra_assemblies),
    ]
    result = subprocess.run(
        ["mono", str(_query_program()), *arguments],
        input="\n".join(names) + "\n",
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MONO_PATH": str(MCS_EXE.parent)},
    )
    if result.returncode != 0:
        raise RuntimeError(f"TypeQuery failed ({result.returncode}):\n{result.stderr}")
    framework_names = {path.stem.lower() for path in framework}
    missing = {"query": "", "found": False}
    for line in result.stdout.splitlines():
        answer = json.loads(line)
        name = answer["query"].lower()
        if answer.get("found") and answer["assembly"].lower() in framework_names:
            _remember("", name, answer)
            continue
        _remember("", name, {**missing, "query": answer["query"]})
        if extra_assemblies:
            _remember(extra_label, name, answer)


def describe(names: t.Iterable[str], extra_assemblies: t.Sequence[pathlib.Path] = ()) -> dict[str, TypeInfo | None]:
    """Each name (a full .NET name such as ``System.Collections.Generic.List`1``), looked up ignoring case in the
    framework assemblies, then in ``extra_assemblies``; the answer is keyed by the lower-cased name.

    One ``mono`` process answers every name not answered before, in this process or, through the cache file, in an
    earlier run.
    """
    cache = _cache_file()
    _load_cache(cache)
    wanted = sorted({name.lower() for name in names if _TYPE_NAME.match(name)})
    extra_label = "|".join(sorted(path.name for path in extra_assemblies))

    def answered(name: str) -> bool:
        if ("", name) not in _ANSWERS:
            return False
        return _ANSWERS[("", name)] is not None or not extra_assemblies or (extra_label, name) in _ANSWERS

    missing = [name for name in wanted if not answered(name)]
    if missing:
        _query(missing, extra_assemblies, extra_label)
        _save_cache(cache)
    answers = {}
    for name in wanted:
        info = _ANSWERS[("", name)]
        if info is None and extra_assemblies:
            info = _ANSWERS.get((extra_label, name))
        answers[name] = info
    return answers


def _type_info(answer: dict) -> TypeInfo | None:
    if not answer.get("found"):
        return None
    return TypeInfo(
        full_name=answer["full_name"],
        assembly=answer["assembly"],
        kind=answer["kind"],
        abstract=answer["abstract"],
        generic_arity=answer["generic_arity"],
        constructors=tuple((required, most) for required, most in answer["constructors"]),
        static_members=frozenset(name.lower() for name in answer["static_members"]),
        settable_members=frozenset(name.lower() for name in answer["settable_members"]),
    )
