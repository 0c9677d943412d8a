# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base class every module of this collection is built on.

A task runs in four steps:

1. validate: the options against the module's argument spec, then the
   module's own controller-side checks. Nothing has touched the host yet.
2. probe: the module's PowerShell payload runs in probe mode and returns the
   current state. It only reads.
3. plan: Python compares desired with current and produces the operations,
   the diff and the documented return values.
4. apply: only when there are operations and this is not check mode, the
   payload runs again in apply mode with exactly those operations.

How a payload reaches the host lives in ``_execute_payload`` and ``_deliver``.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import gzip
import json
import os
import re
import time

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _snapshot
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._arguments import spec_errors, text_errors

COLLECTION = "pkiops.keyfactor_command"
PAYLOAD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_powershell")
TRANSPORT_DIR = os.path.join(PAYLOAD_DIR, "transport")
# What a payload run through the collection's runner is called where a module name would stand: in the
# simulator's log and in the unit tests' record of calls.
RUNNER = "runner"


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


@dataclasses.dataclass
class Plan:
    """What the module intends to do: operations for the apply step, and what the user sees."""

    operations: list = dataclasses.field(default_factory=list)
    before: dict = dataclasses.field(default_factory=dict)
    after: dict = dataclasses.field(default_factory=dict)
    result: dict = dataclasses.field(default_factory=dict)
    warnings: list = dataclasses.field(default_factory=list)


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


# A payload line "# pkiops-include: _fragment.ps1" is replaced by that file, so
# that two payloads share one copy of code such as the private key ACL helpers.
_INCLUDE = re.compile(r"^# pkiops-include: (_[a-z0-9_]+\.ps1)[ \t]*\r?$", re.MULTILINE)


def _read_payload_file(file_name: str) -> str:
    with open(os.path.join(PAYLOAD_DIR, file_name), encoding="utf-8") as handle:
        return handle.read()


@functools.lru_cache(maxsize=None)
def payload_source(name: str) -> str:
    """The script that runs on the host for a module: its payload with every included fragment inlined."""
    return _INCLUDE.sub(lambda match: _read_payload_file(match.group(1)).rstrip("\n"), _read_payload_file(f"{name}.ps1"))


@functools.lru_cache(maxsize=32)
def compressed_text(text: str) -> str:
    """Text as the runner and host_snapshot.ps1 take a script: gzip (no timestamp, so always the same bytes), then
    base64."""
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


@functools.lru_cache(maxsize=None)
def compressed_payload(name: str) -> str:
    return compressed_text(payload_source(name))


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
    """Subclass this, set the class attributes and implement ``plan``."""

    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False

    module_name: str = ""
    argument_spec: dict = {}
    spec_rules: dict = {}
    # win_powershell flattens $Ansible.Result below this depth into strings.
    result_depth = 8
    probe_attempts = 3
    probe_retry_delay = 2.0
    # The keys of a failed apply's $Ansible.Result that say what it did before it failed, which the task's result
    # then carries (documented in the module's RETURN as returned on failure during a change).
    failure_result_keys: tuple = ("applied",)

    # --- hooks for subclasses --------------------------------------------------------------

    def check_params(self, params: dict) -> dict:
        """Controller-side checks beyond the spec; raise TaskInputError. May return normalised params."""
        return params

    def probe_parameters(self, params: dict) -> dict:
        """Parameters of the probe run."""
        return {}

    def secrets(self, params: dict, step: str) -> dict[str, Secret]:
        """Values that go to the host as sensitive_parameters for a step (probe or apply), by payload parameter name."""
        return {}

    def plan(self, params: dict, current: dict) -> Plan:
        raise NotImplementedError

    def apply_parameters(self, params: dict, plan: Plan) -> dict:
        """Parameters of the apply run; by default just the planned operations."""
        return {"Operations": plan.operations}

    def check_applied(self, params: dict, plan: Plan, applied_result: dict) -> dict | None:
        """Called after an apply the host reported as successful, with its ``$Ansible.Result``.

        A payload can succeed without doing everything it was sent (ShouldProcess
        may decline an operation); a module whose result says what was done can
        compare it with ``plan.operations`` here and raise PayloadError. It may
        return values that replace the planned ones in the task's result, such as
        ``changed`` when an operation found nothing left to do.
        """
        return None

    def explain_failure(self, step: str, message: str) -> str:
        """Windows' message for a failed step, with what the module knows about its likely cause."""
        return message

    # --- the task ------------------------------------------------------------------------------

    @property
    def fqcn(self) -> str:
        return f"{COLLECTION}.{self.module_name}"

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
                result.update({key: error.partial[key] for key in self.failure_result_keys if key in error.partial})
        if self._host_warnings:
            result.setdefault("warnings", []).extend(self._host_warnings)
        if self._marked_change is not None:
            result["ansible_facts"] = self._marked_change
        side_channels = masking_warnings(self.fqcn, no_log_values(self.argument_spec, self._task.args), result)
        if side_channels:
            result.setdefault("warnings", []).extend(side_channels)
        return remove_values(result, self._no_log_values)

    def _converge(self) -> dict:
        params = self.check_params(self._validate())
        probe_parameters = self.probe_parameters(params)
        probe_secrets = self.secrets(params, "probe")
        plan = self._plan_on_snapshot(params, probe_parameters, probe_secrets)
        if plan is None:
            plan = self.plan(params, self._execute_payload("probe", probe_parameters, probe_secrets))
        outcome = dict(plan.result, changed=bool(plan.operations))
        if plan.operations and not self._play_context.check_mode:
            # Marked before the apply runs, so that one failing part way reports it too. Ansible keeps no facts
            # from a failed task, though: docs/shared-read.md says what that means under ignore_errors or rescue.
            self._marked_change = _snapshot.marked_change(self._task_vars, self.module_name)
            applied_result = self._execute_payload("apply", self.apply_parameters(params, plan), self.secrets(params, "apply"))
            outcome.update(self.check_applied(params, plan, applied_result) or {})
        if plan.warnings:
            outcome["warnings"] = list(plan.warnings)
        if self._play_context.diff:
            outcome["diff"] = {"before": plan.before, "after": plan.after}
        return outcome

    def _plan_on_snapshot(self, params: dict, probe_parameters: dict, probe_secrets: dict) -> Plan | None:
        """The plan made on the shared read given in the snapshot option, or None when the host must be read.

        A probe that compares a secret on the host is never in a snapshot. A
        delegated task does not consult it: the snapshot and the change marks
        are the inventory host's. A plan the snapshot makes impossible is made
        again on a fresh read, which either fails the same way or finds the host
        changed.
        """
        if "snapshot" not in self.argument_spec:
            return None
        try:
            snapshot = _snapshot.snapshot_of(params.get("snapshot"))
        except _snapshot.SnapshotError as error:
            raise TaskInputError(f"snapshot {error}") from error
        if snapshot is None or probe_secrets or self._task.delegate_to:
            return None
        current = _snapshot.lookup(snapshot, self._task_vars, self.module_name, probe_parameters,
                                   _snapshot.identity(self._play_context))
        if current is None:
            return None
        try:
            plan = self.plan(params, current)
        except (PlanError, PayloadError):
            return None
        self._display.vvv(f"{self.fqcn}: planned on the snapshot; the host was not read again")
        return plan

    def _validate(self) -> dict:
        args = self._task.args
        validation = ArgumentSpecValidator(self.argument_spec, **self.spec_rules).validate(args)
        # Collected before any error is raised: a message about a bad value may quote a secret.
        # pylint: disable-next=protected-access
        self._no_log_values = set(validation._no_log_values)
        if validation.error_messages or text_errors(self.argument_spec, args):
            # Told again option by option, so that each message names its option, parent[index].sub for a
            # suboption; the validator's own messages stand if that finds nothing.
            messages = spec_errors(self.argument_spec, self.spec_rules, args) or validation.error_messages
            raise TaskInputError("; ".join(messages))
        return validation.validated_parameters

    def _execute_payload(self, step: str, parameters: dict, secrets: dict[str, Secret]) -> dict:
        """Run the payload once on the host and return its ``$Ansible.Result``.

        ``module_args`` describes the run with the options of ansible.windows.win_powershell, which is how it
        travels under become; ``_deliver`` says how it travels otherwise. Secrets are sensitive_parameters, so
        they reach the script as SecureString or PSCredential and never appear in its text.
        """
        module_args = {
            "script": payload_source(self.module_name),
            "parameters": {"Mode": step, **parameters},
            "depth": self.result_depth,
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
            message = self.explain_failure(step, windows_message(module_result))
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
