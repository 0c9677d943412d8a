# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record the round trips each task (each loop item) cost on each simulated host, for make bench (test use only)."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_round_trips
type: aggregate
short_description: Round trips per task and host on simulated Windows hosts
description:
  - After each task result, reads the host's simulator state file and records how many round trips the task
    (or loop item) cost, from the counts before the run in the JSON file named by PKIOPS_BENCH_START.
    Writes them, as JSON lines, to the file named by PKIOPS_BENCH_TRIPS.
requirements:
  - enable in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_round_trips"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._out = os.environ.get("PKIOPS_BENCH_TRIPS")
        # Each host's count before the run, by inventory name, from the file named by PKIOPS_BENCH_START.
        start = os.environ.get("PKIOPS_BENCH_START")
        self._seen: dict[str, int] = {}
        if start and os.path.exists(start):
            with open(start, encoding="utf-8") as handle:
                self._seen = json.load(handle)

    def _record(self, result, status: str, item=None) -> None:
        if not self._out:
            return
        host = result._host.get_name()  # pylint: disable=protected-access
        path = os.path.join(os.environ.get("PKIOPS_BENCH_STATE_DIR", ""), f"{host}.json")
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as handle:
            trips = json.load(handle)["_sim"]["round_trips"]
        cost = trips - self._seen.get(host, 0)
        self._seen[host] = trips
        changed = bool(result._result.get("changed"))  # pylint: disable=protected-access
        entry = {"host": host, "task": result._task.get_name(), "action": result._task.action,  # pylint: disable=protected-access
                 "status": status, "changed": changed, "round_trips": cost, "item": item is not None,
                 "loop": result._task.loop is not None}  # pylint: disable=protected-access
        with open(self._out, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_item_on_ok(self, result):
        self._record(result, "ok", item=True)

    def v2_runner_item_on_failed(self, result):
        self._record(result, "failed", item=True)
