# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a module of this collection is: a definition, which the four-step engine in _windows_task.py runs.

A definition says everything about one module: its options (the argument spec its docs stub shares), the areas
of Windows it reads and changes, and the four steps of a task in Python:

1. ``check_params``: the controller's own checks of the validated options; anything later steps need is added to
   the params it returns.
2. ``probe_parameters`` and ``probe_secrets``: how the payload reads the host.
3. ``plan``: desired against current, as a Plan that carries everything the apply needs, its secrets included.
4. ``apply_parameters`` and ``check_applied``: how the payload changes the host, and whether it did what it was
   sent.

Nothing here, and nothing a definition imports, imports Ansible, so definitions are unit-tested without it; the
engine gives a definition what it needs of the task through a Context.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import typing as t

COLLECTION = "pkiops.keyfactor_command"


class TaskInputError(Exception):
    """The task's options are wrong in a way the controller can tell before touching the host."""


class PlanError(Exception):
    """The host's current state makes the task impossible as written; nothing was changed."""


class PayloadError(Exception):
    """The payload failed on the host during ``step`` (probe or apply), or returned something unexpected.

    ``changed`` is what the payload reported before it failed, and ``partial``
    whatever result it had published by then (an apply lists what it did).
    """

    def __init__(self, message: str, step: str, changed: bool = False, partial: dict | None = None):
        super().__init__(message)
        self.step = step
        self.changed = changed
        self.partial = partial or {}


class UnexpectedProbeResult(PayloadError):
    """The probe answered, but not in the shape its payload promises; planning on it would be guesswork."""

    def __init__(self, detail: str):
        super().__init__(f"probe returned an unexpected result: {detail}", "probe")


class ControllerFileError(Exception):
    """A file the task names cannot be found on the controller; the message says so in Ansible's words."""


@dataclasses.dataclass(frozen=True)
class Secret:
    """A value that reaches the host only as a SecureString (value) or PSCredential (username and password)."""

    value: str | None = None
    username: str | None = None
    password: str | None = None

    def as_sensitive_parameter(self, name: str) -> dict:
        if self.username is not None:
            return {"name": name, "username": self.username, "password": self.password or ""}
        return {"name": name, "value": self.value or ""}


@dataclasses.dataclass
class Plan:
    """What the module intends to do: operations for the apply step, and what the user sees.

    ``secrets`` are the apply's, by payload parameter name; they reach the host only if there is an apply.
    """

    operations: list = dataclasses.field(default_factory=list)
    before: dict = dataclasses.field(default_factory=dict)
    after: dict = dataclasses.field(default_factory=dict)
    result: dict = dataclasses.field(default_factory=dict)
    warnings: list = dataclasses.field(default_factory=list)
    secrets: dict = dataclasses.field(default_factory=dict)


def _no_files(src: str) -> str:
    raise ControllerFileError(f"Could not find or access '{src}' on the Ansible Controller.")


def _no_validation(definition: Definition, args: t.Mapping) -> dict:
    raise NotImplementedError(f"this context cannot validate the options of {definition.name}")


@dataclasses.dataclass(frozen=True)
class Context:
    """What a definition may know of, or ask of, the task that runs it. The action plugin supplies it from the task;
    a unit test builds one with what its case needs."""

    # The task runs in check mode: nothing will be applied.
    check_mode: bool = False
    # The task itself sets become (its keyword, not the connection's variables).
    become: bool = False
    # The task is delegated to another host, or runs once for all hosts.
    delegated: bool = False
    run_once: bool = False
    # The inventory host the task runs for.
    host: str | None = None
    # Who a probe runs as on the host (_snapshot.identity), and the host's change marks before this task
    # (_snapshot.change_marks).
    runs_as: dict = dataclasses.field(default_factory=lambda: {"become": False})
    change_marks: dict = dataclasses.field(default_factory=dict)
    # The path of a file the task names, looked up among the task's files as ansible.builtin.copy looks up src;
    # raises ControllerFileError when there is none.
    find_file: t.Callable[[str], str] = _no_files
    # A module's options validated against its argument spec as its own task validates them, with the same
    # messages; raises TaskInputError. Their no_log values are hidden in this task's output from then on, even when
    # they are refused.
    validate: t.Callable[[Definition, t.Mapping], dict] = _no_validation
    # Every value this task hides in its output so far (the no_log options' values, those of validated options
    # included).
    hidden: t.Callable[[], frozenset] = frozenset


class Definition:
    """One module of the collection. Subclass it, set the attributes, implement ``plan``; the defaults suit a module
    whose apply takes just the planned operations."""

    # The module's name, which is also its payload's (_powershell/<name>.ps1) and its action plugin's.
    name: str = ""
    # From plugins/module_utils/_<name>_spec.py, which the docs stub in plugins/modules builds AnsibleModule from.
    argument_spec: dict = {}
    spec_rules: dict = {}
    # The areas of Windows the module reads and changes. An apply marks a change in each (the host fact
    # keyfactor_command_changes), and a snapshot of the module's probe is stale after a change in any of them.
    # A module that changes nothing has none, and its reads are not kept in a snapshot.
    areas: tuple = ()
    # win_powershell flattens $Ansible.Result below this depth into strings.
    result_depth: int = 8
    # The keys of a failed apply's $Ansible.Result that say what it did before it failed, which the task's result
    # then carries (documented in the module's RETURN as returned on failure during a change).
    failure_result_keys: tuple = ("applied",)

    def check_params(self, params: dict, context: Context) -> dict:
        """Controller-side checks beyond the spec; raise TaskInputError. Returns the params, normalised, with
        whatever later steps need added."""
        del context
        return params

    def probe_parameters(self, params: dict) -> dict:
        """Parameters of the probe run."""
        del params
        return {}

    def probe_secrets(self, params: dict) -> dict[str, Secret]:
        """Values the probe needs on the host as secrets, by payload parameter name. A probe with secrets is never
        answered from a snapshot."""
        del params
        return {}

    def known_current(self, probe_parameters: dict) -> dict | None:
        """The probe's answer when the controller knows it without asking the host, or None to ask."""
        del probe_parameters
        return None

    def plan(self, params: dict, current: dict, context: Context) -> Plan:
        """Compare desired (params) with the probe's answer (current); raise PlanError when the task cannot run as
        written, UnexpectedProbeResult when the answer is not what the payload promises."""
        raise NotImplementedError

    def apply_parameters(self, params: dict, plan: Plan) -> dict:
        """Parameters of the apply run; by default just the planned operations."""
        del params
        return {"Operations": plan.operations}

    def check_applied(self, params: dict, plan: Plan, applied_result: dict) -> dict | None:
        """Called after an apply the host reported as successful, with its ``$Ansible.Result``.

        A payload can succeed without doing everything it was sent (ShouldProcess
        may decline an operation); a module whose result says what was done can
        compare it with ``plan.operations`` here and raise PayloadError. It may
        return values that replace the planned ones in the task's result, such as
        ``changed`` when an operation found nothing left to do, and may add to
        ``plan.warnings``.
        """
        del params, plan, applied_result
        return None

    def explain_failure(self, params: dict, step: str, message: str, context: Context) -> str:
        """Windows' message for a failed step, with what the module knows about its likely cause."""
        del params, step, context
        return message


_NAME = re.compile(r"^[a-z][a-z0-9_]*\Z")


def definition_of(name: str) -> Definition:
    """The definition of a module of this collection: ``DEFINITION`` in plugin_utils/_<name>.py."""
    if not _NAME.match(name or ""):
        raise ValueError(f"{name!r} is not the name of a module of {COLLECTION}")
    definition = importlib.import_module(f"{__package__}._{name}").DEFINITION
    if definition.name != name:
        raise ValueError(f"plugin_utils/_{name}.py defines {definition.name!r}, not {name!r}")
    return definition
