# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime
import importlib
import json

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._host_snapshot_spec import ARGUMENT_SPEC, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _readiness, _snapshot
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import (
    COLLECTION,
    PayloadError,
    Plan,
    PlanError,
    TaskInputError,
    WindowsTaskAction,
    compressed_payload,
)


class ActionModule(WindowsTaskAction):
    """Read, in one round trip, what several tasks of this collection would each read, and judge named checks."""

    module_name = "host_snapshot"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES
    # Each probe's result sits three levels below the snapshot's: reads, the list, the entry.
    result_depth = WindowsTaskAction.result_depth + 3

    def _module_action(self, module_name: str, options, where: str) -> tuple[WindowsTaskAction, dict]:
        """The action of ``module_name`` on ``options``, validated as its own task would be, and its checked options."""
        task = self._task.copy(exclude_tasks=True)
        task.args = dict(options)
        module = importlib.import_module(f"ansible_collections.{COLLECTION}.plugins.action.{module_name}")
        action = module.ActionModule(task, self._connection, self._play_context, self._loader, self._templar,
                                     self._shared_loader_obj)
        # The same task's files: a PFX named by src is found where this task finds it.
        action._find_needle = self._find_needle  # pylint: disable=protected-access
        action._task_vars = self._task_vars  # pylint: disable=protected-access
        action._host_warnings = []  # pylint: disable=protected-access
        action._no_log_values = set()  # pylint: disable=protected-access
        try:
            # pylint: disable-next=protected-access
            params = action.check_params(action._validate())
        except TaskInputError as error:
            raise TaskInputError(f"{where} ({module_name}): {error}") from error
        finally:
            # pylint: disable-next=protected-access
            self._no_log_values.update(action._no_log_values)
        return action, params

    def check_params(self, params):
        # A snapshot is its host's: read through another host, or once for every host, it would be used on the
        # wrong one.
        if self._task.delegate_to:
            raise TaskInputError("a shared read cannot be delegated: its tasks would plan on another host's state")
        if self._task.run_once:
            raise TaskInputError("a shared read cannot run once for all hosts: each host must read its own state")
        runs_as = _snapshot.identity(self._play_context)
        reads = []
        for index, read in enumerate(params["reads"]):
            action, options = self._module_action(read["module"], read["options"], f"reads[{index}]")
            probe = action.probe_parameters(options)
            reads.append({"module": read["module"], "action": action, "params": options, "probe": probe,
                          "key": _snapshot.read_key(read["module"], probe, runs_as),
                          "secret": bool(action.secrets(options, "probe"))})
        checks = {}
        for name, requirements in params["checks"].items():
            if not isinstance(requirements, list):
                raise TaskInputError(f"checks.{name} must be a list of requirements, as readiness_info takes them")
            action, options = self._module_action("readiness_info", {"requirements": requirements}, f"checks.{name}")
            checks[name] = options["requirements"]
        return dict(params, reads=reads, checks=checks,
                    readiness_probe=_readiness.probe_parameters([r for group in checks.values() for r in group]),
                    # Marked before the host is read, so that a change made after this task makes its reads stale.
                    changes_at_read=_snapshot.change_marks(self._task_vars))

    def _probes(self, params) -> list[dict]:
        """The probes to run, once each: those of the reads, then the checks'."""
        probes, seen = [], set()
        for read in params["reads"]:
            if not read["secret"] and read["key"] not in seen:
                seen.add(read["key"])
                probes.append({"module": read["module"], "key": read["key"], "parameters": read["probe"]})
        if params["checks"]:
            probes.append({"module": "readiness_info", "key": "checks", "parameters": params["readiness_probe"]})
        return probes

    def probe_parameters(self, params):
        probes = self._probes(params)
        return {
            "Scripts": {name: compressed_payload(name) for name in sorted({p["module"] for p in probes})},
            "Reads": [{"module": p["module"], "parameters": p["parameters"]} for p in probes],
        }

    def plan(self, params, current):
        probes = self._probes(params)
        answers = current.get("reads")
        if not isinstance(answers, list) or len(answers) != len(probes):
            raise PlanError("the host answered for a different number of reads than it was asked; nothing is kept")
        read_by_key = dict(zip([p["key"] for p in probes], [a if isinstance(a, dict) else {} for a in answers]))

        kept, summary = {}, []
        for read in params["reads"]:
            summary.append(self._keep(read, read_by_key, kept))
        checks = {}
        if params["checks"]:
            answer = read_by_key["checks"]
            if answer.get("error") is not None or not isinstance(answer.get("result"), dict):
                raise PlanError(f"the checks could not be read: {answer.get('error') or 'no result'}")
            now = datetime.datetime.now(datetime.timezone.utc)
            for name, requirements in params["checks"].items():
                results = _readiness.evaluate(requirements, answer["result"], now)
                checks[name] = {"met": all(r["status"] != "fail" for r in results), "requirements": results}

        view = {"reads": {f"{i}: {s['module']}": s["state"] for i, s in enumerate(summary)},
                "checks": {name: "met" if c["met"] else "not met" for name, c in checks.items()}}
        return Plan(before=view, after=view, result={
            "snapshot": {"host": self._task_vars.get("inventory_hostname"), "changes": params["changes_at_read"],
                         "reads": kept},
            "reads": summary,
            "checks": checks,
            "met": all(s["met"] for s in summary) and all(c["met"] for c in checks.values()),
        })

    def _keep(self, read: dict, read_by_key: dict, kept: dict) -> dict:
        """Keeps a read's answer in the snapshot, and says what became of it."""
        module = read["module"]
        if read["secret"]:
            return {"module": module, "met": False, "state": "not read: its probe compares a secret on the host"}
        answer = read_by_key.get(read["key"], {})
        if answer.get("error") is not None or not isinstance(answer.get("result"), dict):
            return {"module": module, "met": False, "state": f"not read: {answer.get('error') or 'no result'}"}
        # The result is masked wherever a secret's text occurs, so a reading that holds such text (a short
        # password inside a thumbprint or a SID) would reach the task garbled; its task reads the host itself.
        text = json.dumps(answer["result"], sort_keys=True)
        if any(value and str(value) in text for value in self._no_log_values):
            return {"module": module, "met": False, "state": "not kept: it holds text equal to a secret of this task"}
        kept[read["key"]] = {"module": module, "current": answer["result"]}
        try:
            met = not read["action"].plan(read["params"], answer["result"]).operations
        except (PlanError, PayloadError) as error:
            return {"module": module, "met": False, "state": f"read; its task cannot run as written: {error}"}
        return {"module": module, "met": met, "state": "read; nothing to change" if met else "read; to change"}
