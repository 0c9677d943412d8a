"""Lint PowerShell files from the command line.

    PYTHONPATH=tests .venv/bin/python -m pslint plugins/plugin_utils/_powershell/pfx_import.ps1

A payload (a .ps1 under plugins/plugin_utils/_powershell/ whose name does not start with '_') is linted as it
reaches the host, with its fragments inlined, and each finding names the payload or fragment file and line it comes
from; any other file is linted as it is. Exits 1 when there is a finding.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from . import RULES, Catalogue, lint, payloads, skipped_rules
from .reflection import REPO

PAYLOAD_DIR = REPO / "plugins" / "plugin_utils" / "_powershell"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pslint", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("files", nargs="+", type=pathlib.Path)
    parser.add_argument("--rules", help=f"comma-separated subset of: {', '.join(RULES)}")
    parser.add_argument("--catalogue", type=pathlib.Path, help="a directory with cmdlets.json and types.json")
    options = parser.parse_args(argv)
    catalogue = Catalogue.load(options.catalogue) if options.catalogue else None
    rules = options.rules.split(",") if options.rules else None
    for rule, reason in sorted(skipped_rules(catalogue).items()):
        print(f"skipped {rule}: {reason}", file=sys.stderr)
    found = False
    for path in options.files:
        resolved = path.resolve()
        payload = resolved.parent == PAYLOAD_DIR and not resolved.name.startswith("_")
        source = payloads.source(resolved.stem) if payload else resolved.read_text(encoding="utf-8")
        for finding in lint(source, name=str(path), catalogue=catalogue, rules=rules):
            found = True
            where = (
                f"{path.parent}/{payloads.origin(resolved.stem, finding.line)}" if payload else f"{path}:{finding.line}"
            )
            print(f"{where}:{finding.column}: {finding.rule}: {finding.message}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
