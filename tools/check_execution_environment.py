#!/usr/bin/env python3
"""`make ee`, part of `make test`: the execution environment's build context, made offline, with no container engine.

1. ansible-builder reads this collection's meta/execution-environment.yml, as it does inside an image build, and
   finds the Kerberos-enabled pywinrm and pypsrp and the Kerberos client packages.
2. `ansible-builder create` turns execution-environment.yml into a build context (a Containerfile and its files).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
COLLECTIONS = REPO / ".cache" / "collections"


def run(*command: str) -> str:
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        sys.exit(f"execution environment check: {' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


def main() -> None:
    introspected = run(str(BIN / "ansible-builder"), "introspect", "--sanitize", str(COLLECTIONS))
    wanted = ["pywinrm[kerberos]", "pypsrp[kerberos]", "krb5-workstation [platform:rpm]", "krb5-user [platform:dpkg]"]
    missing = [item for item in wanted if item not in introspected]
    if missing:
        sys.exit(f"execution environment check: ansible-builder does not find {missing} in the collection's "
                 f"meta/execution-environment.yml:\n{introspected}")
    print("execution environment check: ansible-builder reads pywinrm and pypsrp with Kerberos, and the Kerberos "
          "client, from meta/execution-environment.yml", flush=True)
    with tempfile.TemporaryDirectory(prefix="pkiops-ee-") as context:
        run(str(BIN / "ansible-builder"), "create", "--file", "execution-environment.yml", "--context", context,
            "--output-filename", "Containerfile")
        containerfile = pathlib.Path(context) / "Containerfile"
        galaxy = pathlib.Path(context) / "_build" / "requirements.yml"
        if not containerfile.is_file() or "ansible-galaxy" not in containerfile.read_text():
            sys.exit(f"execution environment check: ansible-builder create wrote no usable Containerfile in {context}")
        if not galaxy.is_file() or "pkiops.keyfactor_command" not in galaxy.read_text():
            sys.exit("execution environment check: the build context does not install pkiops.keyfactor_command")
        build = pathlib.Path(context) / "_build"
        python = (build / "requirements.txt").read_text() if (build / "requirements.txt").is_file() else ""
        system = (build / "bindep.txt").read_text() if (build / "bindep.txt").is_file() else ""
        if "pypsrp[kerberos]" not in python or "pywinrm[kerberos]" not in python or "krb5-workstation" not in system:
            sys.exit("execution environment check: the build context lacks pywinrm and pypsrp with Kerberos or the "
                     "Kerberos client")
    print("execution environment check: ansible-builder create writes the build context offline", flush=True)


if __name__ == "__main__":
    main()
