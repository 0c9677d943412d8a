# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine every module of this collection runs on, driven by the module's definition (_definition.py).

A task runs in four steps:

1. validate: the options against the module's argument spec, then the
   definition's own controller-side checks. Nothing has touched the host yet.
2. probe: the module's PowerShell payload runs in probe mode and returns the
   current state. It only reads.
3. plan: the definition compares desired with current and produces the
   operations, the diff and the documented return values.
4. apply: only when there are operations and this is not check mode, the
   payload runs again in apply mode with exactly those operations.

How a payload reaches the host lives in ``_execute_payload`` and ``_deliver``.
Each action plugin is ``ActionModule = action_module("<module>")``.
"""

from __future__ import annotations

import functools
import json
import os
import time

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _snapshot
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._arguments import spec_errors, text_errors
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    COLLECTION,
    Context,
    ControllerFileError,
    Definition,
    PayloadError,
    Plan,
    PlanError,
    Secret,
    TaskInputError,
    definition_of,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._payloads import (
    PAYLOAD_DIR,
    compressed_text,
    payload_source,
)

TRANSPORT_DIR = os.path.join(PAYLOAD_DIR, "transport")
# What a payload run through the collection's runner is called where a module name would stand: in the
# simulator's log and in the unit tests' record of calls.
RUNNER = "runner"


def _read_transport_file(file_name: str) -> str:
    with open(os.path.join(TRANSPORT_DIR, file_name), encoding="utf-8") as handle:
        return handle.read()


def command_script(text: str) -> str:
    """A script without its comment lines and blank lines: what the loader is as a command line, where every
    character counts."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


@functools.lru_cache(maxsize=1)
def loader_script() -> str:
    return command_script(_read_transport_file("loader.ps1"))


@functools.lru_cache(maxsize=1)
def compressed_runner() -> str:
    return compressed_text(_read_transport_file("runner.ps1"))


def runner_input(module_args: dict, check_mode: bool) -> bytes:
    """The loader's standard input for one payload run: the runner, the payload, the request, and the secrets on
    a line of their own (transport/runner.ps1 describes each line). JSON in ASCII, so that no code page on the
    host can change a character."""
    request = {"Parameters": module_args["parameters"], "CheckMode": check_mode, "Depth": module_args["depth"]}
    lines = [
        compressed_runner(),
        compressed_text(module_args["script"]),
        json.dumps(request, ensure_ascii=True, separators=(",", ":")),
        json.dumps(module_args.get("sensitive_parameters") or [], ensure_ascii=True, separators=(",", ":")),
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def runner_result(stdout: str, stderr: str, rc) -> dict:
    """The runner's JSON line, which has the keys of win_powershell's result that the actions read; a failure in
    that shape when there is none."""
    for line in reversed((stdout or "").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if isinstance(parsed, dict) and "result" in parsed:
                return parsed
    detail = (stderr or stdout or "").strip()[:2000] or "no output"
    return {"failed": True, "changed": False,
            "msg": f"the payload runner returned no result (exit code {rc}): {detail}"}


def no_log_values(spec: dict, params, prefix: str = "") -> list[tuple[str, str]]:
    """(option, value) of every no_log option the task was given, suboptions by parent[index].sub."""
    found: list[tuple[str, str]] = []
    if not isinstance(params, dict):
        return found
    for name, option in spec.items():
        value = params.get(name)
        path = f"{prefix}{name}"
        if value is None:
            continue
        if option.get("no_log") and isinstance(value, (str, int, float)) and str(value):
            found.append((path, str(value)))
        if option.get("options"):
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                where = f"{path}[{index}]." if isinstance(value, list) else f"{path}."
                found += no_log_values(option["options"], item, where)
    return found


def _text_paths(value, path: str = "") -> list[tuple[str, str]]:
    """(where, text) of every key and string in a result, where as a.b[0].c."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found.append((where, str(key)))
            found += _text_paths(item, where)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found += _text_paths(item, f"{path}[{index}]")
    elif isinstance(value, str):
        found.append((path, value))
    return found


def masking_warnings(fqcn: str, secrets: list[tuple[str, str]], result: dict) -> list[str]:
    """A warning for each secret option whose value occurs in what the task returns.

    Ansible hides a no_log value wherever it occurs, so a PFX password of "Contoso" turns the subject
    "O=Contoso,CN=gw.contoso.com" into "O=********,...": anyone who knows the subject learns the password. The
    warning names the option and where the value occurs, never the value.
    """
    texts = _text_paths(result)
    warnings = []
    for option, value in secrets:
        where = next((where for where, text in texts if value in text), None)
        if where is not None:
            warnings.append(
                f"{fqcn}: the value of {option} occurs in this task's result, in {where}. Ansible hides a secret "
                "wherever it occurs, so the result shows it masked there, which tells anyone who knows that text "
                f"the secret. Choose a {option.rsplit('.', 1)[-1]} that does not occur in the certificate's subject, "
                "a name or another value the task returns.")
    return warnings


def windows_message(module_result: dict) -> str:
    """The most specific error text a failed win_powershell run carries: Windows' own, when there is one."""
    for record in module_result.get("error") or []:
        exception = record.get("exception") or {}
        if exception.get("message"):
            return exception["message"]
        if record.get("output"):
            return str(record["output"]).strip()
    for key in ("msg", "module_stderr", "module_stdout"):
        if module_result.get(key):
            return str(module_result[key]).strip()
    return "the host reported a failure without a message"


class WindowsTaskAction(ActionBase):
    """The four steps of a task of one module, which ``definition`` states; ``action_module`` makes the class."""

    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False

    definition: Definition = Definition()
    probe_attempts = 3
    probe_retry_delay = 2.0

    @property
    def fqcn(self) -> str:
        return f"{COLLECTION}.{self.definition.name}"

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        self._task_vars = task_vars or {}
        self._host_warnings: list[str] = []
        self._no_log_values: set = set()
        self._marked_change: dict | None = None
        try:
            result.update(self._converge())
        except (TaskInputError, PlanError) as error:
            result.update(failed=True, changed=False, msg=f"{self.fqcn}: {error}")
        except PayloadError as error:
            # An apply that failed part way has changed what it reports in ``failure_result_keys``.
            result.update(failed=True, changed=error.changed, msg=f"{self.fqcn}: {error}")
            if error.step == "apply":
                result.update({key: error.partial[key] for key in self.definition.failure_result_keys
                               if key in error.partial})
        if self._host_warnings:
            result.setdefault("warnings", []).extend(self._host_warnings)
        if self._marked_change is not None:
            result["ansible_facts"] = self._marked_change
        side_channels = masking_warnings(self.fqcn, no_log_values(self.definition.argument_spec, self._task.args), result)
        if side_channels:
            result.setdefault("warnings", []).extend(side_channels)
        return remove_values(result, self._no_log_values)

    def _context(self) -> Context:
        """What the definition may know of this task."""
        return Context(
            check_mode=bool(self._play_context.check_mode),
            become=bool(self._task.become),
            delegated=bool(self._task.delegate_to),
            run_once=bool(self._task.run_once),
            host=self._task_vars.get("inventory_hostname"),
            runs_as=_snapshot.identity(self._play_context),
            change_marks=_snapshot.change_marks(self._task_vars),
            find_file=self._find_file,
            validate=self._validate,
            hidden=lambda: frozenset(self._no_log_values),
        )

    def _find_file(self, src: str) -> str:
        """A file the task names, among its files as ansible.builtin.copy finds src."""
        try:
            return self._find_needle("files", src)
        except AnsibleError as error:
            raise ControllerFileError(error.message) from None

    def _converge(self) -> dict:
        definition = self.definition
        context = self._context()
        params = definition.check_params(self._validate(definition, self._task.args), context)
        probe_parameters = definition.probe_parameters(params)
        probe_secrets = definition.probe_secrets(params)
        plan = self._plan_on_snapshot(params, probe_parameters, probe_secrets, context)
        if plan is None:
            current = definition.known_current(probe_parameters)
            if current is None:
                current = self._execute_payload(params, context, "probe", probe_parameters, probe_secrets)
            plan = definition.plan(params, current, context)
        outcome = dict(plan.result, changed=bool(plan.operations))
        if plan.operations and not context.check_mode:
            # Marked before the apply runs, so that one failing part way reports it too. Ansible keeps no facts
            # from a failed task, though: docs/snapshot.md says what that means under ignore_errors or rescue.
            self._marked_change = _snapshot.marked_change(self._task_vars, definition.areas)
            applied_result = self._execute_payload(params, context, "apply", definition.apply_parameters(params, plan),
                                                   plan.secrets)
            outcome.update(definition.check_applied(params, plan, applied_result) or {})
        if plan.warnings:
            outcome["warnings"] = list(plan.warnings)
        if self._play_context.diff:
            outcome["diff"] = {"before": plan.before, "after": plan.after}
        return outcome

    def _plan_on_snapshot(self, params: dict, probe_parameters: dict, probe_secrets: dict, context: Context) -> Plan | None:
        """The plan made on the snapshot given in the snapshot option, or None when the host must be read.

        A probe that compares a secret on the host is never in a snapshot. A
        delegated task does not consult it: the snapshot and the change marks
        are the inventory host's. A plan the snapshot makes impossible is made
        again on a fresh read, which either fails the same way or finds the host
        changed.
        """
        definition = self.definition
        if "snapshot" not in definition.argument_spec:
            return None
        try:
            snapshot = _snapshot.snapshot_of(params.get("snapshot"))
        except _snapshot.SnapshotError as error:
            raise TaskInputError(f"snapshot {error}") from error
        if snapshot is None or probe_secrets or context.delegated:
            return None
        current = _snapshot.lookup(snapshot, self._task_vars, definition.name, probe_parameters, context.runs_as,
                                   definition.areas)
        if current is None:
            return None
        try:
            plan = definition.plan(params, current, context)
        except (PlanError, PayloadError):
            return None
        self._display.vvv(f"{self.fqcn}: planned on the snapshot; the host was not read again")
        return plan

    def _validate(self, definition: Definition, args) -> dict:
        """args checked against the definition's argument spec; its no_log values are hidden from then on."""
        validation = ArgumentSpecValidator(definition.argument_spec, **definition.spec_rules).validate(args)
        # Collected before any error is raised: a message about a bad value may quote a secret.
        # pylint: disable-next=protected-access
        self._no_log_values.update(validation._no_log_values)
        if validation.error_messages or text_errors(definition.argument_spec, args):
            # Told again option by option, so that each message names its option, parent[index].sub for a
            # suboption; the validator's own messages stand if that finds nothing.
            messages = spec_errors(definition.argument_spec, definition.spec_rules, args) or validation.error_messages
            raise TaskInputError("; ".join(messages))
        return validation.validated_parameters

    def _execute_payload(self, params: dict, context: Context, step: str, parameters: dict,
                         secrets: dict[str, Secret]) -> dict:
        """Run the payload once on the host and return its ``$Ansible.Result``.

        ``module_args`` describes the run with the options of ansible.windows.win_powershell, which is how it
        travels under become; ``_deliver`` says how it travels otherwise. Secrets are sensitive_parameters, so
        they reach the script as SecureString or PSCredential and never appear in its text.
        """
        module_args = {
            "script": payload_source(self.definition.name),
            "parameters": {"Mode": step, **parameters},
            "depth": self.definition.result_depth,
            "error_action": "stop",
        }
        if secrets:
            module_args["sensitive_parameters"] = [s.as_sensitive_parameter(n) for n, s in secrets.items()]
            # Whatever went to the host as a secret is scrubbed from the result,
            # even when it is derived from an option rather than an option itself.
            self._no_log_values.update(v for s in secrets.values() for v in (s.value, s.password) if v)

        attempts = self.probe_attempts if step == "probe" else 1
        for attempt in range(1, attempts + 1):
            try:
                module_result = self._deliver(module_args)
                break
            except AnsibleConnectionFailure as error:
                # A probe only reads, so repeating it is safe. An apply is not
                # repeated: a re-run of the task converges instead.
                if step == "apply":
                    raise AnsibleConnectionFailure(
                        f"{self.fqcn}: the connection was lost during the change, so the host may have made all, part or "
                        f"none of it; it is not repeated, and running the task again converges: {error}") from error
                if attempt == attempts:
                    raise AnsibleConnectionFailure(
                        f"{self.fqcn}: the connection was lost on all {attempts} attempts to read the host's state; "
                        f"nothing was changed: {error}") from error
                self._display.vvv(f"{self.fqcn}: probe attempt {attempt} lost the connection; retrying")
                time.sleep(self.probe_retry_delay * attempt)
                self._connection.reset()

        payload_result = module_result.get("result")
        payload_result = payload_result if isinstance(payload_result, dict) else {}
        if module_result.get("failed") or module_result.get("unreachable"):
            message = self.definition.explain_failure(params, step, windows_message(module_result), context)
            raise PayloadError(f"{step} failed on the host: {message}", step,
                               changed=bool(module_result.get("changed")), partial=payload_result)
        self._host_warnings.extend(str(w) for w in module_result.get("warning") or [])
        return payload_result

    def _deliver(self, module_args: dict) -> dict:
        """One run of the payload on the host, answered with the keys of win_powershell's result.

        Without become it travels through the collection's runner (transport/runner.ps1): a short loader as
        the command line, and on its standard input the runner and the payload compressed, the parameters, and
        the secrets, which no cmdlet, script text or output on the host ever holds (docs/how_modules_work.md,
        "Secrets"). Under become only ansible-core's exec wrapper can run it, so it runs as
        ansible.windows.win_powershell, whose sensitive_parameters pass through ConvertTo-SecureString.
        """
        if self._play_context.become:
            exposed = (f"{self.fqcn} runs with become, so its secrets travel as ansible.windows.win_powershell's "
                       "sensitive_parameters, which it converts with ConvertTo-SecureString: on a host where PowerShell "
                       "Module Logging is on, event 4103 records them. Run this task without become to keep them out.")
            if module_args.get("sensitive_parameters") and exposed not in self._host_warnings:
                self._host_warnings.append(exposed)
            return self._execute_module(module_name="ansible.windows.win_powershell", module_args=module_args,
                                        task_vars=self._task_vars)
        command = self._connection._shell._encode_script(  # pylint: disable=protected-access
            loader_script(), as_list=False, strict_mode=False, preserve_rc=False)
        outcome = self._low_level_execute_command(command, sudoable=False,
                                                  in_data=runner_input(module_args, bool(self._task.check_mode)))
        return runner_result(outcome.get("stdout", ""), outcome.get("stderr", ""), outcome.get("rc"))


def action_module(name: str) -> type:
    """The action plugin class of the module ``name``: the engine over its definition."""
    definition = definition_of(name)

    class ActionModule(WindowsTaskAction):  # pylint: disable=redefined-outer-name
        __doc__ = type(definition).__doc__

    ActionModule.definition = definition
    ActionModule.__module__ = f"ansible_collections.{COLLECTION}.plugins.action.{name}"
    ActionModule.__qualname__ = "ActionModule"
    return ActionModule
