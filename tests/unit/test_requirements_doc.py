"""docs/requirements.md traces Keyfactor's procedures to tasks and tests; these tests keep every citation in it true.

A renamed task, a module swapped for another, a role that stops including a shared tasks file or a test that
is renamed would otherwise leave the document claiming coverage that no longer exists.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import re

import ansible
import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "requirements.md"
ROLES = REPO / "roles"
COLLECTION = "pkiops.keyfactor_command"
MODULE_DIRS = {
    COLLECTION: REPO / "plugins" / "modules",
    "ansible.windows": REPO / ".cache" / "collections" / "ansible_collections" / "ansible" / "windows" / "plugins" / "modules",
    "ansible.builtin": pathlib.Path(ansible.__file__).resolve().parent / "modules",
}
TRACED = ("Ref", "Seed asks", "Module", "Role or playbook", "Task", "Proved by")
NOT_AUTOMATED = ("Ref", "Seed asks", "Not automated, because")
SEEDS = ("000", "001", "002")
# Where tasks nest inside a task list or a play.
NESTED = ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers")
FQCN = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$")
CODE = re.compile(r"`([^`]+)`")


@dataclasses.dataclass(frozen=True)
class Row:
    """One table row of the document, with where it stands, so that a failure can name it."""

    ref: str
    seed: str
    section: str
    line: int
    cells: dict

    def __str__(self) -> str:
        return f"docs/requirements.md line {self.line}, row {self.ref} under '{self.section}'"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@functools.lru_cache(maxsize=None)
def _parse() -> tuple[tuple[Row, ...], tuple[str, ...]]:
    """The document's rows, and whatever in its tables cannot be read as one."""
    rows, problems = [], []
    seed, section, header = "", "", None
    lines = DOC.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if line.startswith("## "):
            found = re.match(r"## Seed (\d{3})\b", line)
            seed = found.group(1) if found else ""
            section, header = line[3:].strip(), None
            continue
        if line.startswith("### "):
            section, header = f"{section.split(' / ')[0]} / {line[4:].strip()}", None
            continue
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = tuple(cells)
            if header not in (TRACED, NOT_AUTOMATED):
                problems.append(f"docs/requirements.md line {number}: a table with the unknown header {list(header)}")
            continue
        if all(re.fullmatch(r":?-{3,}:?", cell) for cell in cells):
            continue
        if header not in (TRACED, NOT_AUTOMATED):
            continue
        if len(cells) != len(header):
            problems.append(f"docs/requirements.md line {number}: {len(cells)} cells where the table has {len(header)}")
            continue
        rows.append(Row(cells[0], seed, section, number, dict(zip(header, cells))))
    return tuple(rows), tuple(problems)


def _rows(kind: tuple[str, ...]) -> list[Row]:
    return [row for row in _parse()[0] if tuple(row.cells) == kind]


def _walk(items) -> list[dict]:
    """Every task (and play) in a task list or playbook, at any depth of blocks."""
    found = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            found.append(item)
            for key in NESTED:
                found.extend(_walk(item.get(key)))
    return found


def _named(items) -> list[dict]:
    return [item for item in _walk(items) if "name" in item]


def _module(task: dict) -> str | None:
    modules = [key for key in task if FQCN.match(str(key))]
    return modules[0] if len(modules) == 1 else None


@functools.lru_cache(maxsize=None)
def _load(path: pathlib.Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _tasks_in(path: pathlib.Path) -> dict[str, str | None]:
    """Task name to the module it runs, for one tasks file or playbook."""
    return {task["name"]: _module(task) for task in _named(_load(path))}


def _included(role: str, tasks_file: str) -> set[tuple[str, str]]:
    """The (role, tasks file) pairs one tasks file includes or imports directly."""
    found = set()
    for task in _walk(_load(ROLES / role / "tasks" / tasks_file)):
        for action in ("include_tasks", "import_tasks"):
            value = task.get(f"ansible.builtin.{action}")
            if value is not None:
                found.add((role, value["file"] if isinstance(value, dict) else value))
        for action in ("include_role", "import_role"):
            value = task.get(f"ansible.builtin.{action}")
            if isinstance(value, dict):
                name = str(value.get("name", "")).removeprefix(f"{COLLECTION}.")
                target = str(value.get("tasks_from", "main"))
                found.add((name, target if target.endswith((".yml", ".yaml")) else f"{target}.yml"))
    return found


@functools.lru_cache(maxsize=None)
def _reachable(role: str) -> frozenset[tuple[str, str]]:
    """Every (role, tasks file) that applying the role runs: its dependencies, its main.yml and what they include."""
    seen: set[tuple[str, str]] = set()
    pending = [(role, "main.yml")]
    meta = _load(ROLES / role / "meta" / "main.yml") or {}
    for dependency in meta.get("dependencies") or []:
        name = dependency.get("role", "") if isinstance(dependency, dict) else str(dependency)
        pending.extend(_reachable(name.removeprefix(f"{COLLECTION}.")))
    while pending:
        current = pending.pop()
        if current in seen or not (ROLES / current[0] / "tasks" / current[1]).is_file():
            continue
        seen.add(current)
        pending.extend(_included(*current))
    return frozenset(seen)


def _check_module(module: str) -> list[str]:
    if not FQCN.match(module):
        return [f"the module {module!r} is not a fully qualified name"]
    namespace, _dot, name = module.rpartition(".")
    folder = MODULE_DIRS.get(namespace)
    if folder is None:
        return [f"the module {module} is from {namespace}, which this test does not know"]
    if not any((folder / f"{name}{suffix}").is_file() for suffix in (".py", ".ps1")):
        return [f"the module {module} does not exist in {folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder}"]
    return []


def _check_task(row: Row, module: str) -> list[str]:
    where = CODE.findall(row.cells["Role or playbook"])
    names = CODE.findall(row.cells["Task"])
    if not where or len(names) != 1:
        return ["the role or playbook and exactly one task name must each be given in backticks"]
    holder, task = where[0], names[0]
    if holder.startswith("playbooks/"):
        path = REPO / holder
        if not path.is_file():
            return [f"the playbook {holder} does not exist"]
        tasks, places = _tasks_in(path), holder
    else:
        folder = ROLES / holder / "tasks"
        if not folder.is_dir():
            return [f"the role {holder} does not exist"]
        files = [name for name in where[1:] if name.endswith(".yml")]
        paths = [folder / name for name in files] if files else sorted(folder.glob("*.yml"))
        missing = [str(path.relative_to(REPO)) for path in paths if not path.is_file()]
        if missing:
            return [f"{', '.join(missing)} does not exist"]
        tasks = {name: used for path in paths for name, used in _tasks_in(path).items()}
        places = ", ".join(str(path.relative_to(REPO)) for path in paths)
    if task not in tasks:
        return [f"no task is named {task!r} in {places}"]
    problems = [] if tasks[task] == module else [f"the task {task!r} runs {tasks[task]}, not {module}"]
    if not holder.startswith("playbooks/"):
        tasks_file = next((name for name in where[1:] if name.endswith(".yml")), None)
        includers = [name for name in where[1:] if not name.endswith(".yml")] or [holder]
        for includer in includers:
            if not (ROLES / includer).is_dir():
                problems.append(f"the role {includer} does not exist")
            elif tasks_file and (holder, tasks_file) not in _reachable(includer):
                problems.append(f"the role {includer} never runs {holder}'s {tasks_file}")
    return problems


def _check_proof(row: Row) -> list[str]:
    citations = [code for code in CODE.findall(row.cells["Proved by"]) if "::" in code]
    if not citations:
        return ["no test is cited as path::name in backticks"]
    problems = []
    for citation in citations:
        relative, _separator, name = citation.partition("::")
        path = REPO / relative
        if not path.is_file():
            problems.append(f"the test file {relative} does not exist")
        elif path.suffix == ".py":
            function = name.split("[", 1)[0]
            if not re.search(rf"^\s*(?:async\s+)?def {re.escape(function)}\(", path.read_text(encoding="utf-8"), re.MULTILINE):
                problems.append(f"{relative} has no def {function}")
        elif path.suffix in (".yml", ".yaml"):
            if name not in _tasks_in(path):
                problems.append(f"{relative} has no task named {name!r}")
        else:
            problems.append(f"{citation} is neither a Python test nor a YAML task")
    return problems


def test_the_tables_are_well_formed_and_cover_every_seed():
    rows, problems = _parse()
    assert not problems, "\n".join(problems)
    refs = [row.ref for row in rows]
    duplicated = sorted({ref for ref in refs if refs.count(ref) > 1})
    assert not duplicated, f"refs used by more than one row: {duplicated}"
    misplaced = [str(row) for row in rows if not re.fullmatch(rf"{row.seed}-\d{{2}}", row.ref)]
    assert not misplaced, "a ref must be NNN-NN with its section's seed number: " + "; ".join(misplaced)
    for seed in SEEDS:
        assert any(row.seed == seed for row in _rows(TRACED)), f"seed {seed} has no row that names a task"
    unexplained = [str(row) for row in _rows(NOT_AUTOMATED) if len(row.cells["Not automated, because"]) < 20]
    assert not unexplained, "a step left out needs its reason: " + "; ".join(unexplained)


@pytest.mark.parametrize("row", _rows(TRACED), ids=lambda row: row.ref)
def test_the_row_cites_a_module_task_and_test_that_exist(row):
    modules = CODE.findall(row.cells["Module"])
    if len(modules) != 1:
        problems = ["exactly one module must be given in backticks"]
    else:
        problems = _check_module(modules[0]) + _check_task(row, modules[0])
    problems += _check_proof(row)
    assert not problems, f"{row} is stale: " + "; ".join(problems)
