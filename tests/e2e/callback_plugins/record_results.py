# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback plugin that records every task result and the final stats as JSON, for the end-to-end tests."""

from __future__ import annotations


import json
import os

from ansible.plugins.callback import CallbackBase


DOCUMENTATION = """
name: record_results
type: aggregate
short_description: Record task results and stats to a JSON file
description:
  - Writes one JSON document with each task's name, host and result, and the play recap, to the file named by
    the environment variable E(PKIOPS_TEST_RECORD). Used by the end-to-end tests; the normal output is unchanged.
options: {}
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._results = []

    def _record(self, result, status):
        self._results.append({
            "host": result._host.get_name(),  # pylint: disable=protected-access
            "task": result.task_name,
            "status": status,
            "result": self._convert_result(result),
        })

    @staticmethod
    def _convert_result(result):
        return json.loads(json.dumps(result._result, default=str))  # pylint: disable=protected-access

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed)
        summary = {h: stats.summarize(h) for h in hosts}
        with open(os.environ["PKIOPS_TEST_RECORD"], "w", encoding="utf-8") as handle:
            json.dump({"results": self._results, "stats": summary}, handle, indent=2)
