#!/usr/bin/env python3
"""`make reliability`: add up what the test suite recorded in tests/reliability.py's ledger and print the figure.

Exits non-zero when anything leaked or was lost, or when the suite recorded nothing at all.
"""

from __future__ import annotations

import collections
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

from reliability import RELIABILITY_DIR  # noqa: E402  pylint: disable=wrong-import-position


def main() -> None:
    totals: collections.Counter = collections.Counter()
    windows_logs = 0
    problems = []
    for ledger in sorted(RELIABILITY_DIR.glob("*.jsonl")):
        for line in ledger.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            totals[entry["kind"]] += entry["count"]
            windows_logs += entry.get("windows_logs", 0)
            if entry["kind"] in ("leaked", "lost"):
                problems.append(entry)
    print(f"reliability: {totals['bad_input']} bad inputs tried, {totals['fault']} faults injected, "
          f"{totals['secret_scanned']} secrets scanned in {totals['log_scanned']} texts ({windows_logs} of them "
          f"Windows' logs), {totals['leaked']} leaked, {totals['lost']} lost")
    if totals["mutant_caught"]:
        print(f"reliability: the scan caught {totals['mutant_caught']} leak(s) of a deliberately broken copy of the "
              "collection, as it must (tests/e2e/test_windows_logs.py)")
    if totals["exposed_by_ansible_core"]:
        print(f"reliability: ansible-core's exec wrapper wrote a become password to event 4103 "
              f"{totals['exposed_by_ansible_core']} times (docs/how_modules_work.md, \"Secrets\")")
    for problem in problems:
        print(f"reliability: {json.dumps(problem, sort_keys=True)}")
    if problems:
        sys.exit(1)
    if not totals:
        sys.exit(f"reliability: nothing was recorded in {RELIABILITY_DIR}; run make unit and make e2e first")


if __name__ == "__main__":
    main()
