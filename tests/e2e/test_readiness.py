"""playbooks/readiness.yml on the demo estate: every profile and the gateway cluster, before and after site.yml.

Before converging, every server fails requirements; after, every one passes.
Broken by hand afterwards (a right removed, a key ACL widened to Full
control, a serial overwritten), exactly those requirements fail. The HTML page
is opened in headless Chromium. Reading never changes a server.
"""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

from chromium import Browser, png_info

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import demo  # noqa: E402  pylint: disable=wrong-import-position

READINESS = REPO / "playbooks" / "readiness.yml"
SITE = REPO / "playbooks" / "site.yml"
INVENTORY = demo.DEMO / "inventory.yml"
TASK = "Read the server and judge each requirement"
PFX_PASSWORD = "Readiness-Test!Pfx-2026"
FULL_CONTROL = 0x1F01FF
SERVICES = "kf-services01.contoso.com"
HOSTS = sorted(demo.hosts())
GATEWAY_NODES = tuple(sorted(demo.groups()[demo.GATEWAY_GROUP]["hosts"]))


@pytest.fixture(name="estate")
def fixture_estate(lab, monkeypatch):
    """The demo inventory's hosts, seeded as make demo seeds them, with their state files in the lab."""
    demo.seed_estate(lab.root, PFX_PASSWORD)
    monkeypatch.setenv("PKIOPS_DEMO_STATE_DIR", str(lab.root))
    monkeypatch.setenv("GATEWAY_TEST_PFX_PASSWORD", PFX_PASSWORD)
    return lab


def _write(lab, host: str, state: dict) -> None:
    (lab.root / f"{host}.json").write_text(json.dumps(state, indent=2, sort_keys=True))


def _read(lab, *args, check=False) -> tuple[dict, pathlib.Path]:
    """Run the readiness playbook; each host's readiness_info result, and the report directory."""
    report = lab.root / f"report-{lab.runs}"
    run = lab.run(READINESS, *args, check=check, extra_vars={"keyfactor_readiness_report_dir": str(report)},
                  inventories=[INVENTORY])
    assert run.returncode == 0, run.stdout[-3000:]
    for host in HOSTS:
        assert run.changed(host) == 0, f"{host}: reading changed something"
    assert f"Readiness report: {report}/readiness.html" in run.stdout
    results = {}
    for host in HOSTS:
        found = [result for task, result in run.task_results(host) if task == TASK]
        assert len(found) == 1, host
        assert not found[0].get("failed"), found[0].get("msg")
        results[host] = found[0]
    return results, report


def _failing(results: dict) -> dict[str, list[str]]:
    return {host: sorted(r["id"] for r in result["requirements"] if r["status"] != "pass") for host, result in results.items()}


def test_readiness_fails_before_converge_passes_after_and_names_exactly_what_was_broken(estate):
    lab = estate
    # Check mode reads too, and still writes the report on the controller.
    checked, checked_report = _read(lab, check=True)
    assert (checked_report / "readiness.md").read_text().count("NOT READY") == len(HOSTS)
    states = {host: lab.windows_state(host) for host in HOSTS}
    trips = {host: lab.state(host)["_sim"]["round_trips"] for host in HOSTS}

    before = _read(lab)[0]
    for host in HOSTS:
        assert lab.windows_state(host) == states[host], f"{host}: reading changed the server"
        assert lab.state(host)["_sim"]["round_trips"] == trips[host] + 1, f"{host}: one round trip to read"
        assert not before[host]["ready"] and before[host]["summary"]["fail"] > 0, host
        assert before[host]["requirements"] == checked[host]["requirements"], f"{host}: check mode reads the same"

    converge = lab.run(SITE, inventories=[INVENTORY])
    assert converge.returncode == 0, converge.stdout[-3000:]

    after, after_report = _read(lab)
    assert _failing(after) == {host: [] for host in HOSTS}, "every requirement passes once site.yml has run"
    for host in HOSTS:
        assert after[host]["ready"] and after[host]["summary"]["pass"] == len(after[host]["requirements"]) > 0
    # What each profile asks shows up where it runs.
    kinds = {host: {r["kind"] for r in after[host]["requirements"]} for host in HOSTS}
    assert {"co_location", "group_member", "user_right", "directory_access", "features", "app_pool"} <= kinds["kf-aio01.contoso.com"]
    for node in GATEWAY_NODES:
        assert {"certificate", "key_access", "registry_serial", "cluster_role", "service_installed"} <= kinds[node]
    assert {r["id"] for r in before["kf-portal01.contoso.com"]["requirements"]} == {
        r["id"] for r in after["kf-portal01.contoso.com"]["requirements"]}

    # The page, in Chromium: one cell per server and requirement, all passing, no console errors.
    union = {r["id"] for result in after.values() for r in result["requirements"]}
    with Browser() as browser:
        browser.open(after_report / "readiness.html")
        matrix = browser.matrix()
        assert matrix.hosts == HOSTS
        assert matrix.rows == len(union)
        assert matrix.total == len(HOSTS) * len(union)
        applicable = sum(len(result["requirements"]) for result in after.values())
        assert matrix.cells["pass"] == applicable
        assert matrix.cells["na"] == matrix.total - applicable
        assert matrix.cells["fail"] == matrix.cells["warn"] == matrix.cells["error"] == 0
        screenshot = lab.root / "readiness.png"
        browser.screenshot(screenshot)
        assert browser.console() == []
    assert png_info(screenshot).colours > 50

    # Broken by hand: a right removed, a key ACL widened to Full control, a serial overwritten.
    services = lab.state(SERVICES)
    account_sid = next(r for r in after[SERVICES]["requirements"] if r["id"].startswith("user_right/SeServiceLogonRight/"))
    services["user_rights"]["SeServiceLogonRight"] = ["S-1-5-80-0"]
    _write(lab, SERVICES, services)

    node1 = lab.state(GATEWAY_NODES[0])
    for certificate in node1["certificates"]["My"].values():
        for ace in certificate["private_key"]["acl"]:
            if ace["sid"] == "S-1-5-20":
                ace["rights"] = FULL_CONTROL
    _write(lab, GATEWAY_NODES[0], node1)

    node2 = lab.state(GATEWAY_NODES[1])
    key = next(k for k in node2["registry"] if k.lower().endswith("keyfactor ca gateway\\parameters"))
    node2["registry"][key]["EncryptSerialNumber"]["data"] = "00DEADBEEF"
    _write(lab, GATEWAY_NODES[1], node2)

    broken, broken_report = _read(lab)
    failing = _failing(broken)
    assert failing[SERVICES] == [account_sid["id"]]
    assert [r["id"].split("/")[0] for r in broken[GATEWAY_NODES[0]]["requirements"] if r["status"] == "fail"] == ["key_access"]
    assert next(r for r in broken[GATEWAY_NODES[0]]["requirements"] if r["status"] == "fail")["observed"] == "Full control"
    assert [r["id"].split("/")[0] for r in broken[GATEWAY_NODES[1]]["requirements"] if r["status"] == "fail"] == ["registry_serial"]
    assert "holds 00DEADBEEF" in next(r for r in broken[GATEWAY_NODES[1]]["requirements"] if r["status"] == "fail")["observed"]
    for host in set(HOSTS) - {SERVICES, *GATEWAY_NODES}:
        assert failing[host] == [], host

    with Browser() as browser:
        browser.open(broken_report / "readiness.html")
        matrix = browser.matrix()
        assert matrix.cells["fail"] == 3
        detail = browser.open_detail("fail", host=GATEWAY_NODES[0])
        assert detail.visible and "Full control" in detail.text and "gateway_cluster_node" in detail.text
        assert browser.console() == []
    markdown = (broken_report / "readiness.md").read_text()
    assert markdown.count("NOT READY") == 3

    # --limit leaves the other servers out of the report, rather than showing them as errors.
    limited_report = lab.root / "report-limited"
    limited = lab.run(READINESS, "--limit", SERVICES, extra_vars={"keyfactor_readiness_report_dir": str(limited_report)},
                      inventories=[INVENTORY])
    assert limited.returncode == 0, limited.stdout[-3000:]
    assert "0 of 1 servers ready" in limited.stdout
    assert [line for line in (limited_report / "readiness.md").read_text().splitlines() if line.startswith("- **")] == [
        f"- **{SERVICES}**: NOT READY (6 pass, 1 fail, 0 warn)"]
