#!/usr/bin/env python3
"""`make release`: the release build a user would install, checked from the outside.

1. `ansible-galaxy collection build` yields a tarball that installs offline, without dependencies, into an empty path.
2. From that install, `ansible-doc -l` lists every module and `ansible-doc -t role -l` every role.
3. antsibull-changelog generates the changelog for the version in galaxy.yml, naming every module, from a copy of the
   tracked sources, so the working tree is left alone.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
COLLECTION = "pkiops.keyfactor_command"


def run(*command: str, cwd: pathlib.Path = REPO, env: dict | None = None) -> str:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        sys.exit(f"release check: {' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


def listed(output: str) -> set[str]:
    """The short names ansible-doc -l prints for this collection."""
    names = set()
    for line in output.splitlines():
        match = re.match(rf"^{re.escape(COLLECTION)}\.(\w+)(?::|\s)", line)
        if match:
            names.add(match.group(1))
    return names


def compare(what: str, found: set[str], expected: set[str]) -> None:
    if found != expected:
        sys.exit(f"release check: ansible-doc lists the {what} {sorted(found)}, expected {sorted(expected)}")
    print(f"release check: ansible-doc lists all {len(found)} {what}", flush=True)


def main() -> None:
    modules = {p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__"}
    roles = {p.name for p in (REPO / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file()}
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    with tempfile.TemporaryDirectory(prefix="pkiops-release-") as temp:
        root = pathlib.Path(temp)
        run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(root / "build"))
        (tarball,) = (root / "build").glob("*.tar.gz")
        empty = root / "collections"
        empty.mkdir()
        # Only the empty path is searched, or ansible-galaxy would find the working tree's copy already installed.
        isolated = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(empty))
        run(str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "-p", str(empty), str(tarball),
            env=isolated)
        installed = empty / "ansible_collections" / "pkiops" / "keyfactor_command"
        if not (installed / "MANIFEST.json").is_file():
            sys.exit(f"release check: {tarball.name} did not install into {empty}")
        print(f"release check: {tarball.name} installs offline into an empty path", flush=True)

        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(empty), ANSIBLE_NOCOLOR="1")
        compare("modules", listed(run(str(BIN / "ansible-doc"), "-l", COLLECTION, env=env)), modules)
        compare("roles", listed(run(str(BIN / "ansible-doc"), "-t", "role", "-l", COLLECTION, env=env)), roles)

        source = root / "source"
        for name in run("git", "ls-files", "-z").split("\0"):
            path = REPO / name
            if name and path.is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, source / name)
        # antsibull-changelog lists the new modules with ansible-doc, which it looks for on PATH.
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1")
        run(str(BIN / "antsibull-changelog"), "release", "--version", str(version), cwd=source, env=env)
        changelog = (source / "CHANGELOG.rst").read_text()
        missing = sorted(m for m in modules if f"{COLLECTION}.{m} - " not in changelog)
        if missing:
            sys.exit(f"release check: the generated changelog does not name the modules {missing}")
        print(f"release check: antsibull-changelog generates CHANGELOG.rst for {version}, naming all {len(modules)} modules")


if __name__ == "__main__":
    main()
