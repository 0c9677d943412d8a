#!/usr/bin/env python3
"""`make bench`: our roles and the stock-module baselines (tests/bench/baseline) on the same simulated hosts.

Each side gets its own copy of the same seeded hosts (the demo's estate: one server per profile, an all-in-one
server and a two-node gateway cluster) and runs its site playbook twice: the first run converges, the second is
the steady state. The simulator counts every round trip and every byte handed to the exec wrapper exactly.
Controller time is measured on N Management Portal hosts (1, 10, 50) with 10 forks, steady state, alternating
the two sides, as the ratio ours / baseline of the CPU time of the ansible-playbook process tree.

Prints one line per figure:  bench: <profile> <run> <figure> ours=<n> baseline=<n> ratio=<ours/baseline>
tests/e2e/test_bench.py imports this module and asserts the targets on the same figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import resource
import secrets
import shutil
import subprocess
import sys
import time

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
DEMO = REPO / "tests" / "windows_sim" / "demo"
BASELINE = REPO / "tests" / "bench" / "baseline"
CALLBACKS = REPO / "tests" / "bench" / "callback_plugins"
# The simulator's models of the baselines' own scripts, and its stand-ins of the stock modules (and module branches)
# only the baselines use, which it loads for the bench's runs only.
SIMULATOR_MODELS = (REPO / "tests" / "bench" / "windows_sim_models.py", REPO / "tests" / "bench" / "windows_sim_stock")
SIDES = {"ours": REPO / "playbooks" / "site.yml", "baseline": BASELINE / "site.yml"}
PORTAL = {"ours": REPO / "playbooks" / "portal.yml", "baseline": BASELINE / "portal.yml"}
GATEWAY_GROUP = "keyfactor_gateway_cluster"
# The demo host that holds one profile alone, by profile; the gateway profile is both cluster nodes.
PROFILE_HOSTS = {
    "portal": ["kf-portal01.contoso.com"],
    "services": ["kf-services01.contoso.com"],
    "web_api": ["kf-webapi01.contoso.com"],
    "orchestrator_api": ["kf-orchapi01.contoso.com"],
    "ca_connector": ["kf-caconn01.contoso.com"],
    "gateway_cluster_node": ["kf-gw01.contoso.com", "kf-gw02.contoso.com"],
    "all_in_one": ["kf-aio01.contoso.com"],
}
FORKS = 10

sys.path.insert(0, str(REPO / "tests" / "windows_sim"))
from winsim.state import complete, computer_name_for  # noqa: E402  pylint: disable=wrong-import-position


def _write_seed(path: pathlib.Path, host: str, seed: dict) -> None:
    path.write_text(json.dumps(complete(seed, computer_name_for(host))))


def _demo_inventory() -> dict:
    return yaml.safe_load((DEMO / "inventory.yml").read_text())


def site_hosts() -> list[str]:
    groups = _demo_inventory()["all"]["children"]
    return list(dict.fromkeys(host for group in groups.values() for host in group["hosts"]))


def _staged_files(pki: pathlib.Path) -> dict:
    """The certificate files the baseline imports, already on the host (the simulator transfers no files)."""
    import base64  # pylint: disable=import-outside-toplevel

    staging = "C:\\Keyfactor\\staging"
    paths = {staging: {"type": "directory"}}
    for name in ("gateway.pfx", "root.pem", "issuing.pem"):
        paths[f"{staging}\\{name}"] = {"type": "file", "content": base64.b64encode((pki / name).read_bytes()).decode()}
    return paths


@dataclasses.dataclass
class Run:
    """One ansible-playbook run of one side."""

    returncode: int
    stdout: str = dataclasses.field(repr=False)
    cpu: float  # user + system seconds of the ansible-playbook process tree
    wall: float
    trips: dict  # host -> round trips in this run
    bytes: dict  # host -> bytes handed to the exec wrapper in this run
    tasks: list = dataclasses.field(repr=False)  # per task (and loop item) round trips, from the bench_round_trips callback
    log: dict = dataclasses.field(repr=False)  # host -> the simulator log entries of this run


class Side:
    """One side's copy of the simulated estate."""

    def __init__(self, name: str, root: pathlib.Path, hosts: list[str], inventory: pathlib.Path):
        self.name, self.root, self.hosts, self.inventory = name, root.resolve(), hosts, inventory
        self.runs = 0

    def state(self, host: str) -> dict:
        return json.loads((self.root / f"{host}.json").read_text())

    def counts(self) -> dict:
        out = {}
        for host in self.hosts:
            sim = self.state(host)["_sim"]
            out[host] = (sim["round_trips"], sim.get("bytes_received", 0), len(sim["log"]))
        return out

    def run(self, playbook: pathlib.Path, record_tasks: bool = True) -> Run:
        self.runs += 1
        before = self.counts()
        start_file = self.root / f"start-{self.runs}.json"
        start_file.write_text(json.dumps({h: c[0] for h, c in before.items()}))
        trips_file = self.root / f"tasks-{self.runs}.jsonl"
        env = dict(os.environ, PKIOPS_DEMO_STATE_DIR=str(self.root), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
                   ANSIBLE_CONNECTION_PLUGINS=str(REPO / "tests" / "windows_sim" / "connection_plugins"),
                   WINDOWS_SIM_MODELS=os.pathsep.join(map(str, SIMULATOR_MODELS)),
                   ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCAL_TEMP=str(self.root / "tmp"),
                   GATEWAY_TEST_PFX_PASSWORD=(self.root / "pki" / "password").read_text()
                   if (self.root / "pki" / "password").exists() else "")
        if record_tasks:
            env.update(ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS), ANSIBLE_CALLBACKS_ENABLED="bench_round_trips",
                       PKIOPS_BENCH_TRIPS=str(trips_file), PKIOPS_BENCH_START=str(start_file),
                       PKIOPS_BENCH_STATE_DIR=str(self.root))
        command = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), "-f", str(FORKS), str(playbook)]
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall_before = time.perf_counter()
        completed = subprocess.run(command, env=env, cwd=self.root, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - wall_before
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        after = self.counts()
        tasks = [json.loads(line) for line in trips_file.read_text().splitlines()] if trips_file.exists() else []
        log = {h: self.state(h)["_sim"]["log"][before[h][2]:] for h in self.hosts} if record_tasks else {}
        run = Run(completed.returncode, completed.stdout + completed.stderr, cpu, wall,
                  {h: after[h][0] - before[h][0] for h in self.hosts},
                  {h: after[h][1] - before[h][1] for h in self.hosts}, tasks, log)
        if completed.returncode != 0:
            raise RuntimeError(f"bench: {self.name} {playbook.name} failed (exit {completed.returncode}):\n"
                               + run.stdout[-6000:])
        return run


def _write_pki(directory: pathlib.Path) -> str:
    password = secrets.token_urlsafe(18)
    subprocess.run([sys.executable, str(REPO / "tools" / "gateway_test_pki.py"), str(directory)],
                   env=dict(os.environ, GATEWAY_TEST_PFX_PASSWORD=password), check=True, capture_output=True)
    return password


def make_estate(root: pathlib.Path) -> dict[str, Side]:
    """Both sides' copies of the demo's estate, seeded alike, with the same PKI."""
    root = root.resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    pki = root / "pki"
    password = _write_pki(pki)
    staged = _staged_files(pki)
    gateway_nodes = set(_demo_inventory()["all"]["children"][GATEWAY_GROUP]["hosts"])
    sides = {}
    for name in SIDES:
        side_root = root / name
        side_root.mkdir()
        shutil.copytree(pki, side_root / "pki")
        (side_root / "pki" / "password").write_text(password)
        for host in site_hosts():
            if host in gateway_nodes:
                seed = json.loads((DEMO / "gateway_node_seed.json").read_text())
                seed.setdefault("paths", {}).update(staged)
            else:
                seed = json.loads((DEMO / "seed.json").read_text())
            _write_seed(side_root / f"{host}.json", host, seed)
        shutil.copy(DEMO / "gateway_cluster_seed.json", side_root / "gwcluster.json")
        sides[name] = Side(name, side_root, site_hosts(), DEMO / "inventory.yml")
    return sides


def portal_estate(root: pathlib.Path, count: int) -> dict[str, Side]:
    """count Management Portal servers per side, seeded as the demo's, for the controller time."""
    root = root.resolve()
    shutil.rmtree(root, ignore_errors=True)
    inventory = _demo_inventory()
    hosts = [f"kf-t{index:02d}.contoso.com" for index in range(1, count + 1)]
    inventory["all"]["children"] = {"keyfactor_portal": {"hosts": {h: None for h in hosts}}}
    sides = {}
    for name in SIDES:
        side_root = root / name
        side_root.mkdir(parents=True)
        for host in hosts:
            _write_seed(side_root / f"{host}.json", host, json.loads((DEMO / "seed.json").read_text()))
        path = side_root / "inventory.yml"
        path.write_text(yaml.safe_dump(inventory, sort_keys=False))
        sides[name] = Side(name, side_root, hosts, path)
    return sides


def _sum(run: Run, hosts: list[str], what: str) -> int:
    return sum(getattr(run, what)[h] for h in hosts)


def figure(profile: str, run: str, name: str, ours: float, baseline: float, fmt: str = "{}") -> str:
    ratio = ours / baseline if baseline else float("inf")
    return f"bench: {profile} {run} {name} ours={fmt.format(ours)} baseline={fmt.format(baseline)} ratio={ratio:.2f}"


def measure_site(root: pathlib.Path) -> dict:
    """First run and steady state of both sides' site playbooks, alternating sides, on the demo's estate."""
    sides = make_estate(root)
    runs = {}
    for phase in ("first", "steady"):
        for name, side in sides.items():
            runs[(name, phase)] = side.run(SIDES[name])
    return runs


def site_figures(runs: dict) -> tuple[list[str], dict]:
    lines, values = [], {}
    groups = dict(PROFILE_HOSTS, site=site_hosts())
    for profile, hosts in groups.items():
        for phase in ("first", "steady"):
            for what, label in (("trips", "round_trips"), ("bytes", "bytes")):
                ours, base = _sum(runs[("ours", phase)], hosts, what), _sum(runs[("baseline", phase)], hosts, what)
                values[(profile, phase, label)] = (ours, base)
                lines.append(figure(profile, phase, label, ours, base))
    return lines, values


def per_module_bytes(runs: dict) -> dict:
    """Bytes per execution by module, over every run: (executions, mean bytes, min, max)."""
    sizes: dict[str, list[int]] = {}
    for run in runs.values():
        for entries in run.log.values():
            for entry in entries:
                sizes.setdefault(entry["module"] + (f" ({entry['payload']})" if entry.get("payload") else ""),
                                 []).append(entry["bytes"])
    return {module: (len(v), sum(v) / len(v), min(v), max(v)) for module, v in sorted(sizes.items())}


# A module of our own on Ansible.Basic, the second candidate transport: the smallest such module, plus the runner.
_OWN_MODULE = (b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n"
               b"$module = [Ansible.Basic.AnsibleModule]::Create($args, @{ options = @{} })\n$module.ExitJson()\n")


def transport_bytes() -> dict:
    """Bytes of one probe of each payload by each candidate transport, built by ansible-core's own code.

    ``win_powershell``: ansible.windows.win_powershell with the payload as its script, as before the runner.
    ``own_module``: a module of our own on Ansible.Basic carrying the runner, with the payload compressed.
    ``runner``: the loader's command line and its four input lines, as the action plugins send them.
    Each counts the command line (ansible-core's bootstrap command, or the loader) and the standard input.
    """
    # pylint: disable=import-outside-toplevel
    from ansible.executor.powershell import module_manifest
    from ansible.plugins.shell.powershell import ShellModule
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[str(REPO / ".cache" / "collections")])._install()  # pylint: disable=protected-access
    from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _windows_task

    shell = ShellModule()
    bootstrap = len(shell.build_module_command("", "", ""))
    win_powershell = REPO / ".cache" / "collections" / "ansible_collections" / "ansible" / "windows" / "plugins" / \
        "modules" / "win_powershell.ps1"

    def wrapped(name: str, data: bytes, path: str, module_args: dict) -> int:
        return bootstrap + len(module_manifest._create_powershell_wrapper(  # pylint: disable=protected-access
            name=name, module_data=data, module_path=path, module_args=module_args, environment={}, async_timeout=0,
            become_plugin=None, substyle="powershell", task_vars={}, profile="legacy"))

    loader = len(shell._encode_script(_windows_task.loader_script(), as_list=False, strict_mode=False,  # pylint: disable=protected-access
                                      preserve_rc=False))
    runner = _windows_task._read_transport_file("runner.ps1").encode()  # pylint: disable=protected-access
    figures = {}
    for payload in sorted(p.stem for p in pathlib.Path(_windows_task.PAYLOAD_DIR).glob("[!_]*.ps1")):
        script = _windows_task.payload_source(payload)
        args = {"script": script, "parameters": {"Mode": "probe"}, "depth": 8, "error_action": "stop"}
        figures[payload] = {
            "win_powershell": wrapped("ansible_collections.ansible.windows.plugins.modules.win_powershell",
                                      win_powershell.read_bytes(), str(win_powershell), args),
            "own_module": wrapped("ansible_collections.pkiops.keyfactor_command.plugins.modules.runner",
                                  _OWN_MODULE + runner, "runner.ps1",
                                  {"script": _windows_task.compressed_text(script), "parameters": {"Mode": "probe"}}),
            "runner": loader + len(_windows_task.runner_input(args, False)),
        }
    return figures


def steady_task_costs(run: Run) -> list[dict]:
    """Every task (or loop item) of a run that cost round trips, with its cost."""
    return [t for t in run.tasks if (t["round_trips"] or 0) > 0]


def measure_time(root: pathlib.Path, counts=(1, 10, 50), repeats: dict | None = None) -> dict:
    """Controller time, ours / baseline, on N portal servers with 10 forks, steady state, alternating sides.

    Both sides converge first (not measured); then each repetition runs ours and baseline one after the other,
    the order swapped every repetition. Returns, per N, the summed CPU and wall seconds of each side.
    """
    repeats = repeats or {}
    results = {}
    for count in counts:
        sides = portal_estate(root / f"time-{count}", count)
        for name, side in sides.items():
            side.run(PORTAL[name], record_tasks=False)
        cpu = {name: 0.0 for name in sides}
        wall = {name: 0.0 for name in sides}
        for repetition in range(repeats.get(count, 1)):
            order = list(sides) if repetition % 2 == 0 else list(reversed(list(sides)))
            for name in order:
                run = sides[name].run(PORTAL[name], record_tasks=False)
                if any(run.trips[h] == 0 for h in sides[name].hosts):
                    raise RuntimeError(f"bench: {name} made no round trip on a host")
                cpu[name] += run.cpu
                wall[name] += run.wall
        results[count] = {"cpu": cpu, "wall": wall, "repeats": repeats.get(count, 1)}
    return results


def time_figures(results: dict) -> list[str]:
    lines = []
    for count, result in results.items():
        per_host = count * result["repeats"]
        for clock in ("cpu", "wall"):
            ours, base = result[clock]["ours"] / per_host, result[clock]["baseline"] / per_host
            lines.append(figure(f"portal_x{count}", "steady", f"controller_{clock}_seconds_per_host", ours, base,
                                "{:.3f}"))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", default="1,10,50", help="host counts for the controller time (default 1,10,50)")
    parser.add_argument("--work", default=str(REPO / ".cache" / "bench"), help="where the simulated hosts live")
    args = parser.parse_args()
    root = pathlib.Path(args.work)
    started = time.perf_counter()

    runs = measure_site(root / "site")
    lines, _values = site_figures(runs)
    for line in lines:
        print(line, flush=True)
    for module, (executions, mean, low, high) in per_module_bytes(runs).items():
        print(f"bench: bytes_per_execution {module} executions={executions} mean={mean:.0f} min={low} max={high}")
    for name in SIDES:
        by_action: dict[str, int] = {}
        for task in steady_task_costs(runs[(name, "steady")]):
            by_action[task["action"]] = by_action.get(task["action"], 0) + task["round_trips"]
        print(f"bench: site steady round_trips_by_module {name} "
              + " ".join(f"{action}={count}" for action, count in sorted(by_action.items())))

    for payload, sizes in transport_bytes().items():
        print(f"bench: transport_bytes_per_probe {payload} win_powershell={sizes['win_powershell']} "
              f"own_module={sizes['own_module']} runner={sizes['runner']} "
              f"ratio={sizes['runner'] / sizes['win_powershell']:.3f}")

    counts = [int(c) for c in args.hosts.split(",") if c]
    repeats = {1: 4, 10: 2}
    for line in time_figures(measure_time(root, counts, repeats)):
        print(line, flush=True)
    print(f"bench: took {time.perf_counter() - started:.0f} s; controller time is the CPU time (user + system) of the "
          "ansible-playbook process tree, wall time alongside")


if __name__ == "__main__":
    main()
