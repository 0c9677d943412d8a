# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The variables this collection's roles know, and the ones an inventory gives them that none knows.

A misspelled variable is otherwise ignored without a word: ``portal_identity_provder: oauth`` leaves the portal on
Active Directory. Every variable whose name starts with a role's prefix must be one a role documents in its
argument specs, sets in its defaults or vars, or sets itself while it runs (a registered result or a fact).
"""

from __future__ import annotations

import difflib
import functools
import os

import yaml

ROLES = ("common", "portal", "services", "web_api", "orchestrator_api", "ca_connector", "gateway_cluster_node")
PREFIXES = tuple(f"{role}_" for role in ROLES)
# The variable that turns an unknown variable from a failure into a warning.
MODE_VARIABLE = "common_unknown_variables"
MODES = ("fail", "warn")
_COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


# libyaml's parser where PyYAML has it: this runs in a task's process on every host, and the pure-Python parser takes
# ten times as long over the roles' files.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(path: str):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_LOADER)  # nosec B506 - a safe loader, C or Python


def _set_by_tasks(items, found: set) -> None:
    """Names tasks define for the host: registered results, facts, and the vars of tasks, blocks and plays."""
    if isinstance(items, dict):
        items = [items]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("register"), str):
            found.add(item["register"])
        for key in ("vars", "ansible.builtin.set_fact", "set_fact"):
            if isinstance(item.get(key), dict):
                found.update(str(name) for name in item[key])
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            _set_by_tasks(item.get(key), found)


@functools.lru_cache(maxsize=None)
def documented(root: str = _COLLECTION_ROOT) -> frozenset:
    """Every variable a role's argument specs document, in any entry point."""
    found: set = set()
    for role in ROLES:
        path = os.path.join(root, "roles", role, "meta", "argument_specs.yml")
        if os.path.isfile(path):
            for spec in ((_load(path) or {}).get("argument_specs") or {}).values():
                found.update((spec or {}).get("options") or {})
    return frozenset(found)


@functools.lru_cache(maxsize=None)
def main_options(role: str, root: str = _COLLECTION_ROOT) -> dict:
    """The options of a role's main entry point, as its argument specification states them."""
    path = os.path.join(root, "roles", role, "meta", "argument_specs.yml")
    return dict(((((_load(path) or {}).get("argument_specs") or {}).get("main") or {}).get("options")) or {})


@functools.lru_cache(maxsize=None)
def known(root: str = _COLLECTION_ROOT) -> frozenset:
    """Every variable the roles and playbooks of the collection document, default, set or register."""
    found = set(documented(root))
    for role in ROLES:
        for folder in ("defaults", "vars"):
            path = os.path.join(root, "roles", role, folder, "main.yml")
            if os.path.isfile(path):
                found.update(_load(path) or {})
        for directory, _folders, files in os.walk(os.path.join(root, "roles", role, "tasks")):
            for name in files:
                if name.endswith((".yml", ".yaml")):
                    _set_by_tasks(_load(os.path.join(directory, name)), found)
    playbooks = os.path.join(root, "playbooks")
    if os.path.isdir(playbooks):
        for name in sorted(os.listdir(playbooks)):
            if name.endswith((".yml", ".yaml")):
                _set_by_tasks(_load(os.path.join(playbooks, name)), found)
    return frozenset(found)


def unknown(names, root: str = _COLLECTION_ROOT) -> list[dict]:
    """The names with a role's prefix that no role knows, each with the closest documented names."""
    known_names, documented_names = known(root), sorted(documented(root))
    found = []
    for name in sorted({str(name) for name in names}):
        if name.startswith(PREFIXES) and name not in known_names:
            # The role a prefix names is the likelier one; the longest prefix, as portal_ is not web_api_.
            prefix = max((p for p in PREFIXES if name.startswith(p)), key=len)
            candidates = [known_name for known_name in documented_names if known_name.startswith(prefix)] or documented_names
            found.append({"name": name, "suggestions": difflib.get_close_matches(name, candidates, n=2, cutoff=0.75)})
    return found


def message(entries: list[dict]) -> str:
    """One sentence per unknown variable, then how to go on."""
    sentences = []
    for entry in entries:
        hint = ""
        if entry["suggestions"]:
            hint = " Did you mean " + " or ".join(entry["suggestions"]) + "?"
        sentences.append(f"{entry['name']} is not a variable of any role of pkiops.keyfactor_command, so it would be "
                         f"ignored.{hint}")
    sentences.append(f"Correct the name, or set {MODE_VARIABLE}=warn to go on with a warning.")
    return " ".join(sentences)


_MISSING = "missing required arguments: "


def argument_error_lines(results) -> list[str]:
    """Argument errors of roles (``argument_errors`` by role, as ``item``), one line per problem: each missing
    variable on a line of its own, instead of the role's whole specification. A result without argument errors that
    did not fail has none."""
    lines = []
    for result in results:
        errors = result.get("argument_errors") or ([result.get("msg") or "its variables could not be checked"]
                                                   if result.get("failed") else [])
        role = f"role pkiops.keyfactor_command.{result['item']}"
        for error in errors:
            error = str(error)
            if error.startswith(_MISSING):
                names = error[len(_MISSING):].split(" found in ")[0]
                lines += [f"{name.strip()} is not set, and {role} needs it." for name in names.split(",") if name.strip()]
            else:
                lines.append(f"{role}: {error}")
    return lines
