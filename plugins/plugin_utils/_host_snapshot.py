# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkiops.keyfactor_command.host_snapshot: its definition, free of Ansible.

The snapshot composes the definitions of the modules it reads for: each read's options are validated with that
module's spec and checked by its definition, exactly as that module's own task would check them; its probe
parameters are the module's, and its answer is judged by the module's plan. _snapshot.py says when a task may use
what it read.
"""

from __future__ import annotations

import datetime
import json
import re

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._host_snapshot_spec import ARGUMENT_SPEC, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _readiness, _snapshot
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    Definition,
    PayloadError,
    Plan,
    PlanError,
    TaskInputError,
    definition_of,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._payloads import compressed_payload


# The option a refusal begins with: pools, pools[1] or pools[1].username.
_LEADING_OPTION = re.compile(r"^(?P<root>[a-z_]+)(?P<index>\[\d+\])?(?:\.(?P<sub>[a-z_]+))?(?=:|\[| \()")


def in_user_terms(message: str, names: dict) -> str:
    """``message`` with the option it begins with named as ``names`` maps it: the inventory variable the option came
    from. ``names`` maps an option (``static_addresses``) or a suboption (``additional_services.depends_on``)."""
    match = _LEADING_OPTION.match(message)
    if not match:
        return message
    root, index, sub = match.group("root"), match.group("index") or "", match.group("sub")
    if sub and f"{root}.{sub}" in names:
        return f"{names[f'{root}.{sub}']}{message[match.end():]}"
    if root in names:
        return f"{names[root]}{message[len(root):]}"
    return message


def _checked(module_name: str, options, where: str, context, names: dict | None = None) -> dict:
    """``options`` validated and checked as a task of ``module_name`` would be; errors say which task they are, in
    the inventory's words when ``names`` gives them."""
    definition = definition_of(module_name)
    try:
        return definition.check_params(context.validate(definition, dict(options)), context)
    except TaskInputError as error:
        raise TaskInputError(f"{where}: {in_user_terms(str(error), names or {})}") from error


def _where(task: dict, option: str, index: int) -> str:
    """How a refusal of the task names it: its ``about``, or where it sits in the options."""
    where = f"{option}[{index}]"
    # A refusal is one line, so that the roles can list one problem per line.
    if "\n" in task["about"] or "\r" in task["about"]:
        raise TaskInputError(f"{where}.about: is more than one line; give one line that names the task")
    bad = sorted(str(key) for key, value in task["names"].items() if not isinstance(value, str) or not value.strip())
    if bad:
        raise TaskInputError(f"{where}.names: {', '.join(bad)} must each name a variable, as a non-empty string")
    return task["about"] or f"{where} ({task['module']})"


def _probes(params: dict) -> list[dict]:
    """The probes to run, once each: those of the reads, then the checks'."""
    probes, seen = [], set()
    for read in params["reads"]:
        if not read["secret"] and read["key"] not in seen:
            seen.add(read["key"])
            probes.append({"module": read["module"], "key": read["key"], "parameters": read["probe"]})
    if params["checks"]:
        probes.append({"module": "readiness_info", "key": "checks", "parameters": params["readiness_probe"]})
    return probes


def _keep(read: dict, read_by_key: dict, kept: dict, hidden: tuple, context) -> dict:
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
    if any(value and str(value) in text for value in hidden):
        return {"module": module, "met": False, "state": "not kept: it holds text equal to a secret of this task"}
    kept[read["key"]] = {"module": module, "current": answer["result"]}
    try:
        met = not definition_of(module).plan(read["params"], answer["result"], context).operations
    except (PlanError, PayloadError) as error:
        return {"module": module, "met": False, "state": f"read; its task cannot run as written: {error}"}
    return {"module": module, "met": met, "state": "read; nothing to change" if met else "read; to change"}


class HostSnapshot(Definition):
    """Read, in one round trip, what several tasks of this collection would each read, and judge named checks."""

    name = "host_snapshot"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES
    # Each probe's result sits three levels below the snapshot's: reads, the list, the entry.
    result_depth = Definition.result_depth + 3

    def check_params(self, params, context):
        """Each read and check validated and checked as its own task would be; params gain, for each read, its
        module's checked options, probe parameters and key, and the values the reads hide (hidden)."""
        # A snapshot is its host's: read through another host, or once for every host, it would be used on the
        # wrong one.
        if context.delegated:
            raise TaskInputError("a snapshot cannot be delegated: its tasks would plan on another host's state")
        if context.run_once:
            raise TaskInputError("a snapshot cannot run once for all hosts: each host must read its own state")
        # Checked first: a task still to come fails the snapshot before the host is read.
        for index, task in enumerate(params["validate"]):
            _checked(task["module"], task["options"], _where(task, "validate", index), context, task["names"])
        reads = []
        for index, read in enumerate(params["reads"]):
            options = _checked(read["module"], read["options"], _where(read, "reads", index), context, read["names"])
            definition = definition_of(read["module"])
            probe = definition.probe_parameters(options)
            reads.append({"module": read["module"], "params": options, "probe": probe,
                          "key": _snapshot.read_key(read["module"], probe, context.runs_as),
                          "secret": bool(definition.probe_secrets(options))})
        checks = {}
        for name, requirements in params["checks"].items():
            if not isinstance(requirements, list):
                raise TaskInputError(f"checks.{name} must be a list of requirements, as readiness_info takes them")
            checks[name] = _checked("readiness_info", {"requirements": requirements}, f"checks.{name}",
                                    context)["requirements"]
        return dict(params, reads=reads, checks=checks,
                    readiness_probe=_readiness.probe_parameters([r for group in checks.values() for r in group]),
                    # Marked before the host is read, so that a change made after this task makes its reads stale.
                    changes_at_read=dict(context.change_marks),
                    hidden=tuple(sorted(context.hidden())))

    def probe_parameters(self, params):
        probes = _probes(params)
        return {
            "Scripts": {name: compressed_payload(name) for name in sorted({p["module"] for p in probes})},
            "Reads": [{"module": p["module"], "parameters": p["parameters"]} for p in probes],
        }

    def plan(self, params, current, context):
        probes = _probes(params)
        answers = current.get("reads")
        if not isinstance(answers, list) or len(answers) != len(probes):
            raise PlanError("the host answered for a different number of reads than it was asked; nothing is kept")
        read_by_key = dict(zip([p["key"] for p in probes], [a if isinstance(a, dict) else {} for a in answers]))

        kept, summary = {}, []
        for read in params["reads"]:
            summary.append(_keep(read, read_by_key, kept, params["hidden"], context))
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
            "snapshot": {"host": context.host, "changes": params["changes_at_read"], "reads": kept},
            "reads": summary,
            "checks": checks,
            "met": all(s["met"] for s in summary) and all(c["met"] for c in checks.values()),
        })


DEFINITION = HostSnapshot()
