"""Run real ansible-playbook processes against simulated Windows hosts."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

import pki_fixtures
import reliability
from reliability import scan_for_secrets
from secret_scan import SecretCollector, strings_in
from winsim import windows_logs
from winsim.state import complete, computer_name_for

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
PLAYBOOKS = REPO / "playbooks"
TEST_PLAYBOOKS = pathlib.Path(__file__).resolve().parent / "playbooks"
# Directories of the lab that are Ansible's own, not the test's files.
ANSIBLE_DIRS = ("ansible-home", "tmp")


class SecretLeak(AssertionError):
    """A run's output, results or a simulated host's log holds a secret the run was given."""


def _json_text(raw: str) -> str:
    """A JSON document as written, then its strings unescaped: a secret with a quote or a backslash is found too."""
    try:
        return raw + "\n" + "\n".join(strings_in(json.loads(raw)))
    except ValueError:
        return raw


@dataclasses.dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str
    record_path: pathlib.Path

    @property
    def report(self) -> dict:
        """What the record_results callback wrote: every task result and the recap."""
        return json.loads(self.record_path.read_text())

    @property
    def stats(self) -> dict:
        return self.report["stats"]

    def changed(self, host: str) -> int:
        return self.stats[host]["changed"]

    def failures(self, host: str) -> int:
        return self.stats[host]["failures"] + self.stats[host]["unreachable"]

    def task_results(self, host: str) -> list[tuple[str, dict]]:
        """(task name, result) of every task that ran on host, in order, skipped ones included."""
        return [(r["task"], r["result"]) for r in self.report["results"] if r["host"] == host]

    def ran(self, host: str) -> list[str]:
        """The names of the tasks that ran on host, skipped ones left out."""
        return [r["task"] for r in self.report["results"] if r["host"] == host and r["status"] != "skipped"]

    def failure_messages(self, host: str) -> list[str]:
        """The msg of every failed or unreachable task on host."""
        return [r["result"].get("msg", "") for r in self.report["results"]
                if r["host"] == host and r["status"] in ("failed", "unreachable")]


class SimLab:
    """A temporary inventory of simulated Windows hosts, each with its own state file."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.hosts: dict[str, dict] = {}
        self.runs = 0
        # (host, round trip) of each become password ansible-core's exec wrapper wrote to event 4103, counted once.
        self.exposures: set = set()
        # Where ansible-playbook finds this collection and the ones it depends on; a mutant test points it at a
        # deliberately broken copy, and sets mutant so that what the scan catches counts as caught, not leaked.
        self.collections_path = REPO / ".cache" / "collections"
        self.mutant = False

    def add_host(self, name: str, groups=("keyfactor_command",), seed: dict | None = None, **host_vars) -> pathlib.Path:
        state_path = self.root / f"{name}.json"
        state = complete(copy.deepcopy(seed or {}), computer_name_for(name))
        state_path.write_text(json.dumps(state, indent=2, sort_keys=True))
        self.hosts[name] = {"groups": list(groups), "vars": {
            "ansible_connection": "windows_sim",
            "windows_sim_state_file": str(state_path),
            **host_vars,
        }}
        return state_path

    def state(self, name: str) -> dict:
        return json.loads((self.root / f"{name}.json").read_text())

    def windows_state(self, name: str) -> dict:
        """The host's state without the simulator's bookkeeping."""
        return {k: v for k, v in self.state(name).items() if k != "_sim"}

    def round_trips(self, name: str) -> int:
        return self.state(name)["_sim"]["round_trips"]

    def inject_fault(self, name: str, fault: dict) -> None:
        state = self.state(name)
        state["_sim"]["faults"].append(fault)
        (self.root / f"{name}.json").write_text(json.dumps(state, indent=2, sort_keys=True))

    def _inventory(self) -> pathlib.Path:
        groups: dict[str, dict] = {}
        for name, host in self.hosts.items():
            for group in host["groups"]:
                groups.setdefault(group, {"hosts": {}})["hosts"][name] = host["vars"]
        path = self.root / "inventory.yml"
        path.write_text(yaml.safe_dump({"all": {"children": groups}}, sort_keys=True))
        return path

    def run(self, playbook: str | pathlib.Path, *args: str, check: bool = False, diff: bool = False,
            extra_vars: dict | None = None, inventories: list | None = None) -> PlaybookRun:
        """ansible-playbook on the lab's hosts, or on the given inventory sources instead."""
        sources = [str(source) for source in inventories] if inventories else [str(self._inventory())]
        command = [str(BIN / "ansible-playbook"), *[arg for source in sources for arg in ("-i", source)], str(playbook)]
        if not any(re.fullmatch(r"-v+", arg) for arg in args):
            # The secrets scan reads what a user debugging with -vvv would see.
            command.append("-vvv")
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if extra_vars:
            # From a file: ansible-playbook -vvvv echoes its command line, secrets included.
            self.runs += 1
            vars_file = self.root / f"extra-vars-{self.runs}.json"
            vars_file.write_text(json.dumps(extra_vars))
            command += ["--extra-vars", f"@{vars_file}"]
        command += list(args)
        self.runs += 1
        record = self.root / f"run-{self.runs}.json"
        env = dict(os.environ)
        env.update(
            PKIOPS_TEST_RECORD=str(record),
            ANSIBLE_CALLBACK_PLUGINS=str(pathlib.Path(__file__).resolve().parent / "callback_plugins"),
            ANSIBLE_CALLBACKS_ENABLED="record_results",
            ANSIBLE_COLLECTIONS_PATH=str(self.collections_path),
            ANSIBLE_CONNECTION_PLUGINS=str(REPO / "tests" / "windows_sim" / "connection_plugins"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_RETRY_FILES_ENABLED="0",
            ANSIBLE_LOCAL_TEMP=str(self.root / "tmp"),
            ANSIBLE_HOME=str(self.root / "ansible-home"),
        )
        completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=self.root, check=False)
        run = PlaybookRun(completed.returncode, completed.stdout, completed.stderr, record)
        self.scan(run, playbook, args, extra_vars, inventories)
        return run

    def _state_files(self) -> dict[str, pathlib.Path]:
        """Every simulated host's state file in the lab, by host: the lab's own and those a test wrote itself."""
        paths = {name: pathlib.Path(host["vars"]["windows_sim_state_file"]) for name, host in self.hosts.items()}
        known = set(paths.values())
        for path in sorted(self.root.rglob("*.json")):
            if path in known or any(part in ANSIBLE_DIRS for part in path.relative_to(self.root).parts):
                continue
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(state, dict) and isinstance(state.get("_sim"), dict):
                paths[path.name] = path
        return paths

    def secrets(self, args=(), extra_vars: dict | None = None, inventories: list | None = None) -> dict[str, str]:
        """Every secret a run is given, by a label that names where it was given and never quotes it."""
        collector = SecretCollector(self.root)
        for key, value in (extra_vars or {}).items():
            collector.walk(f"extra var {key}", value, str(key))
        for option, value in zip(args, list(args)[1:]):
            if option in ("-e", "--extra-vars"):
                try:
                    text = pathlib.Path(self.root, value[1:]).read_text() if value.startswith("@") else value
                    given = yaml.safe_load(text)
                except OSError:
                    continue
                except yaml.YAMLError:
                    given = dict(pair.split("=", 1) for pair in text.split() if "=" in pair)
                for key, item in (given if isinstance(given, dict) else {}).items():
                    collector.walk(f"extra var {key}", item, str(key))
        for name, host in self.hosts.items():
            for key, value in host["vars"].items():
                collector.walk(f"host var {key} of {name}", value, str(key))
        for source in inventories or []:
            path = pathlib.Path(source)
            if path.is_file() and path.suffix in (".yml", ".yaml", ".json"):
                try:
                    collector.walk(f"inventory {path.name}", yaml.safe_load(path.read_text()))
                except yaml.YAMLError:
                    pass  # a vaulted inventory: its values are given to the run as extra vars here
        # A templated src ("{{ inventory_dir }}/files/x.pfx") names a file only the run resolves.
        collector.pfx_files_under(self.root, skip=ANSIBLE_DIRS)
        return collector.secrets

    def scan(self, run: PlaybookRun, playbook, args=(), extra_vars: dict | None = None,
             inventories: list | None = None) -> None:
        """Look for every secret of the run in its output, its results and diffs, and every simulated host's log."""
        texts = {"console output (stdout)": run.stdout, "console output (stderr)": run.stderr}
        if run.record_path.is_file():
            texts["callback record (results and diffs)"] = _json_text(run.record_path.read_text())
        for name, path in self._state_files().items():
            try:
                log = json.loads(path.read_text())["_sim"].get("log", [])
            except (OSError, ValueError, KeyError):
                continue
            texts[f"simulator log of {name}"] = _json_text(json.dumps(log))
        test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0] or "e2e"
        where = f"{test} {run.record_path.stem} ({pathlib.Path(str(playbook)).name})"
        for name, path in self._state_files().items():
            records = windows_logs.read(path)
            # ansible-core's exec wrapper converts a become password with ConvertTo-SecureString, which event 4103
            # records; that is ansible-core's, counted apart, and no other record is left out of the scan.
            exposed = {(name, r["n"]) for r in records if r.get("source") == windows_logs.EXEC_WRAPPER_BECOME}
            if exposed - self.exposures:
                reliability.record("exposed_by_ansible_core", len(exposed - self.exposures), where=where, host=name)
                self.exposures |= exposed
            kept = [r for r in records if r.get("source") != windows_logs.EXEC_WRAPPER_BECOME]
            for log, text in windows_logs.texts_by_log(kept).items():
                texts[f"{windows_logs.LOG_TITLES[log]} of {name}"] = text
        leaks = scan_for_secrets(texts, self.secrets(args, extra_vars, inventories), where, mutant=self.mutant)
        if leaks:
            raise SecretLeak(f"{where}: secrets leaked: " + "; ".join(leaks))


@pytest.fixture
def lab(tmp_path) -> SimLab:
    return SimLab(tmp_path)


@pytest.fixture(scope="module")
def ca():
    """A root and an issuing CA under it (pki_fixtures.chain), made once per test module."""
    return pki_fixtures.chain()


@pytest.fixture(scope="module", name="gateway_cert")
def fixture_gateway_cert(ca):  # pylint: disable=redefined-outer-name
    """The gateway's encryption certificate, issued by ca's issuing CA."""
    return pki_fixtures.issue("gateway-encryption.contoso.com", issuer=ca[1])
