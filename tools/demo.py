#!/usr/bin/env python3
"""`make demo`: converge playbooks/site.yml on simulated Windows hosts, run it again, and summarise.

The second run must report changed=0 on every host; the demo fails otherwise.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import secrets
import shutil
import subprocess
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
DEMO = REPO / "tests" / "windows_sim" / "demo"
STATE_DIR = REPO / ".cache" / "demo"
GATEWAY_GROUP = "keyfactor_gateway_cluster"
# A fresh password for the demo's throwaway PFX, handed to the PKI tool and the playbook through the environment.
PFX_PASSWORD = secrets.token_urlsafe(18)
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def groups() -> dict:
    return yaml.safe_load((DEMO / "inventory.yml").read_text())["all"]["children"]


def hosts() -> list[str]:
    """Every host of the demo inventory, once, in the order it first appears."""
    return list(dict.fromkeys(host for group in groups().values() for host in group["hosts"]))


def seed_estate(state_dir: pathlib.Path, pfx_password: str) -> None:
    """The demo inventory's hosts and cluster as fresh servers, and the gateway's throwaway PKI, in state_dir.

    The inventory finds them through PKIOPS_DEMO_STATE_DIR, and the PFX password through GATEWAY_TEST_PFX_PASSWORD.
    """
    gateway_nodes = set(groups()[GATEWAY_GROUP]["hosts"])
    for host in hosts():
        seed = "gateway_node_seed.json" if host in gateway_nodes else "seed.json"
        shutil.copy(DEMO / seed, state_dir / f"{host}.json")
    shutil.copy(DEMO / "gateway_cluster_seed.json", state_dir / "gwcluster.json")
    subprocess.run([sys.executable, str(REPO / "tools" / "gateway_test_pki.py"), str(state_dir / "pki")],
                   env=dict(os.environ, GATEWAY_TEST_PFX_PASSWORD=pfx_password), check=True)


def round_trips() -> dict[str, int]:
    return {h: json.loads((STATE_DIR / f"{h}.json").read_text())["_sim"]["round_trips"] for h in hosts()}


def playbook(name: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PKIOPS_DEMO_STATE_DIR=str(STATE_DIR), ANSIBLE_NOCOLOR="1", GATEWAY_TEST_PFX_PASSWORD=PFX_PASSWORD)
    return subprocess.run(
        [str(REPO / "tests" / "windows_sim" / "sim-playbook"), "-i", str(DEMO / "inventory.yml"),
         str(REPO / "playbooks" / name), *args],
        env=env, capture_output=True, text=True, check=False,
    )


def converge(label: str) -> dict[str, tuple[int, int]]:
    print(f"\n===== {label}: ansible-playbook playbooks/site.yml =====", flush=True)
    completed = playbook("site.yml")
    print(completed.stdout, end="")
    print(completed.stderr, end="", file=sys.stderr)
    recap = {m[0]: (int(m[2]), int(m[3]) + int(m[4])) for m in RECAP.findall(completed.stdout)}
    if completed.returncode != 0 or set(recap) != set(hosts()):
        sys.exit(f"demo: {label} failed (exit {completed.returncode})")
    return recap


def main() -> None:
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    STATE_DIR.mkdir(parents=True)
    seed_estate(STATE_DIR, PFX_PASSWORD)

    first = converge("first run")
    trips_after_first = round_trips()
    second = converge("second run")
    trips_second = {h: n - trips_after_first[h] for h, n in round_trips().items()}

    print("\n===== summary =====")
    print(f"{'host':<28}{'changed (1st run)':>19}{'changed (2nd run)':>19}{'round trips (2nd run)':>23}")
    for host in hosts():
        print(f"{host:<28}{first[host][0]:>19}{second[host][0]:>19}{trips_second[host]:>23}")
    total_second = sum(changed for changed, _ in second.values())
    print(f"\nsecond run: changed={total_second} across {len(second)} hosts; simulated state in {STATE_DIR.relative_to(REPO)}/")
    if total_second:
        sys.exit("demo: the second run changed something; the collection is not idempotent")

    report_dir = STATE_DIR / "readiness"
    print("\n===== readiness: ansible-playbook playbooks/readiness.yml =====", flush=True)
    completed = playbook("readiness.yml", "-e", f"keyfactor_readiness_report_dir={report_dir}")
    said = ["Readiness report:" + line.split("Readiness report:", 1)[1].rstrip().rstrip('"')
            for line in completed.stdout.splitlines() if "Readiness report:" in line]
    if completed.returncode != 0 or not said:
        print(completed.stdout, end="")
        sys.exit(f"demo: the readiness report failed (exit {completed.returncode})")
    print(said[-1])
    print(f"open {report_dir / 'readiness.html'} in a browser; {report_dir / 'readiness.md'} is the same in Markdown")


if __name__ == "__main__":
    main()
