"""The reliability figure's ledger: tests record what they tried, `make reliability` adds it up.

Each test process appends JSON lines to its own file under RELIABILITY_DIR, so parallel workers never
interleave. `tools/reliability_report.py` prints

    reliability: <N> bad inputs tried, <M> faults injected, <K> secrets scanned in <L> texts (<W> of them Windows'
    logs), 0 leaked, 0 lost

and fails when anything leaked or was lost. A test records a leak or a loss as well as failing, so the
figure can never read 0 while a test saw one.
"""

from __future__ import annotations

import json
import os
import pathlib

RELIABILITY_DIR = pathlib.Path(os.environ.get("PKIOPS_RELIABILITY_DIR", pathlib.Path(__file__).resolve().parents[1]
                                              / ".cache" / "reliability"))
KINDS = ("bad_input", "fault", "secret_scanned", "log_scanned", "leaked", "lost", "exposed_by_ansible_core",
         "mutant_caught")


def record(kind: str, count: int = 1, **detail) -> None:
    """Add count to kind; detail says what, for the report's reader."""
    if kind not in KINDS:
        raise ValueError(f"unknown reliability kind {kind!r}; expected one of {KINDS}")
    RELIABILITY_DIR.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"kind": kind, "count": count, **detail}, sort_keys=True, default=str)
    with open(RELIABILITY_DIR / f"{os.getpid()}.jsonl", "a", encoding="utf-8") as ledger:
        ledger.write(line + "\n")


def scan_for_secrets(texts: dict[str, str], secrets: dict[str, str], where: str, mutant: bool = False) -> list[str]:
    """Look for every secret in every text; record each scan and each leak; return the leaks found.

    texts maps a label (for example "stdout -vvv") to its content; secrets maps a label to the secret. A run of a
    deliberately broken copy of the collection (``mutant``) records what the scan caught as a mutant caught, not a
    leak: its test fails unless the scan catches it.
    """
    leaks = []
    windows_logs = sum(1 for label in texts if "(event 41" in label or "Ansible event log" in label
                       or "transcription" in label)
    record("log_scanned", len(texts), where=where, windows_logs=windows_logs)
    for secret_label, secret in secrets.items():
        if not secret:
            continue
        record("secret_scanned", where=where, secret=secret_label)
        for text_label, text in texts.items():
            if secret in text:
                leaks.append(f"{secret_label} in {text_label}")
    if leaks:
        record("mutant_caught" if mutant else "leaked", len(leaks), where=where, leaks=leaks)
    return leaks
