# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot: what pkiops.keyfactor_command.host_snapshot read, and when a task may use it.

A snapshot holds, for each task it was asked to read for, exactly what that
task's own probe would have returned, keyed by the module, the probe's
parameters and the identity the probe runs as. A task given the snapshot plans
on that instead of probing again.

A snapshot goes stale when something changes the part of the host it read.
Every apply of this collection's modules marks its change in the host fact
``keyfactor_command_changes``: for each area of Windows the module reads and
changes (its definition's ``areas``), a value no change has had before. A
snapshot remembers those marks as they were when it read, and a read whose
areas have been marked since is not used. Marks rather than counts, so that no
sequence of changes, on this host or copied from another by ``run_once``, can
bring back the value a snapshot remembers. The marks are facts so that they
reach every later task on the host; the snapshot itself is a registered result,
so that it never outlives the run in a fact cache, and it names its host, so
that one host's snapshot is never used on another.
"""

from __future__ import annotations

import hashlib
import json
import uuid

# The host fact that marks this collection's changes on a host, by area of Windows.
CHANGES_FACT = "keyfactor_command_changes"


class SnapshotError(Exception):
    """The value given as a snapshot is not one pkiops.keyfactor_command.host_snapshot returned."""


def identity(play_context) -> dict:
    """Who a probe runs as: the connection's user, or the become user. The same read as another user may differ."""
    if play_context.become:
        return {"become": True, "method": play_context.become_method, "user": play_context.become_user}
    return {"become": False}


def read_key(module_name: str, probe_parameters: dict, runs_as: dict) -> str:
    """The key of a read: the module, its probe's parameters and who runs it, which decide what the probe returns."""
    text = json.dumps({"module": module_name, "probe": probe_parameters, "as": runs_as},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def change_marks(task_vars: dict) -> dict:
    facts = task_vars.get("ansible_facts") or {}
    marks = facts.get(CHANGES_FACT)
    return dict(marks) if isinstance(marks, dict) else {}


def marked_change(task_vars: dict, areas) -> dict:
    """The facts an apply returns: the change marks, with a new mark on each of the areas its module changes."""
    marks = change_marks(task_vars)
    mark = uuid.uuid4().hex
    for area in areas:
        marks[area] = mark
    return {CHANGES_FACT: marks}


def snapshot_of(value) -> dict | None:
    """The snapshot inside a registered host_snapshot result; None for a result of a skipped task."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SnapshotError("must be the registered result of pkiops.keyfactor_command.host_snapshot, "
                            f"not a {type(value).__name__}")
    if value.get("skipped"):
        return None
    snapshot = value.get("snapshot")
    if not (isinstance(snapshot, dict) and isinstance(snapshot.get("reads"), dict)
            and isinstance(snapshot.get("changes"), dict) and isinstance(snapshot.get("host"), str)):
        raise SnapshotError("must be the registered result of pkiops.keyfactor_command.host_snapshot; this one has no "
                            "'snapshot' with 'host', 'reads' and 'changes'")
    return snapshot


def lookup(snapshot: dict | None, task_vars: dict, module_name: str, probe_parameters: dict, runs_as: dict,
           areas) -> dict | None:
    """What the snapshot read for this probe, or None when it did not read it, read another host, or is stale: a
    change marked since in any of the areas the module reads."""
    if snapshot is None or snapshot["host"] != task_vars.get("inventory_hostname"):
        return None
    read = snapshot["reads"].get(read_key(module_name, probe_parameters, runs_as))
    if not isinstance(read, dict) or read.get("module") != module_name or not isinstance(read.get("current"), dict):
        return None
    now = change_marks(task_vars)
    then = snapshot["changes"]
    if any(now.get(area) != then.get(area) for area in areas):
        return None
    return read["current"]
