"""Run real ansible-playbook processes against simulated Windows hosts."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from winsim.state import complete, computer_name_for

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
PLAYBOOKS = REPO / "playbooks"
TEST_PLAYBOOKS = pathlib.Path(__file__).resolve().parent / "playbooks"


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
            ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
            ANSIBLE_CONNECTION_PLUGINS=str(REPO / "tests" / "windows_sim" / "connection_plugins"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_RETRY_FILES_ENABLED="0",
            ANSIBLE_LOCAL_TEMP=str(self.root / "tmp"),
            ANSIBLE_HOME=str(self.root / "ansible-home"),
        )
        completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=self.root, check=False)
        return PlaybookRun(completed.returncode, completed.stdout, completed.stderr, record)


@pytest.fixture
def lab(tmp_path) -> SimLab:
    return SimLab(tmp_path)
