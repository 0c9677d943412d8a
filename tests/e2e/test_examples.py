"""The example inventories in docs/examples run as written, on simulated hosts, and converge to changed=0.

Each example is used unmodified. A second inventory source adds only what a real estate has and this
machine does not: the simulator connection for each host, the vault's values and the controller's files.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest
import yaml
from cryptography.hazmat.primitives.serialization import Encoding

import pki_fixtures as pki
from conftest import BIN, PLAYBOOKS, REPO, SimLab
from winsim.cluster import complete as complete_cluster
from winsim.state import complete, computer_name_for

EXAMPLES = REPO / "docs" / "examples"
PASSWORD = "Example!Pfx-Password-1"
VAULT = {
    "vault_kf_installer_password": "Example!Installer-1",
    "vault_svc_keyfactor_password": "Example!Service-Account-1",
    "vault_svc_kfportal_password": "Example!Portal-Account-1",
    "vault_encryption_pfx_password": PASSWORD,
    "vault_gateway_pfx_password": PASSWORD,
    "vault_enrollment_agent_pfx_password": "Example!Agent-Pfx-Password-2",
    "vault_kf_cluster_admin_password": "Example!Cluster-Admin-1",
}
ACCOUNTS = ["kf_installer", "svc_keyfactor", "svc_kfportal", "svc_kfservices", "gmsa_kforch$", "kf_cluster_admin"]
GATEWAY_NODE = {
    "features": {"Failover-Clustering": {"installed": True}},
    "services": {"CAGateway": {"display_name": "Keyfactor Managed CA Gateway"},
                 "CASync": {"display_name": "Keyfactor Managed CA Sync Service"}},
}


def _hosts(inventory: dict) -> list[str]:
    found = []

    def walk(group: dict) -> None:
        found.extend((group.get("hosts") or {}).keys())
        for child in (group.get("children") or {}).values():
            walk(child or {})

    walk(inventory["all"])
    return list(dict.fromkeys(found))


def _overlay(lab: SimLab, example: pathlib.Path) -> tuple[pathlib.Path, dict]:
    """The simulator inventory for the example's hosts, and the extra vars standing in for the vault and files."""
    inventory = yaml.safe_load(example.read_text())
    gateway = "keyfactor_gateway_cluster" in inventory["all"].get("children", {})
    extra = dict(VAULT)
    hosts = {}
    for host in _hosts(inventory):
        seed = {"domain": {"accounts": [{"name": name, "type": "user"} for name in ACCOUNTS]}}
        if gateway:
            seed.update(GATEWAY_NODE)
        path = lab.root / f"{host}.json"
        path.write_text(json.dumps(complete(seed, computer_name_for(host))))
        hosts[host] = {"ansible_connection": "windows_sim", "windows_sim_state_file": str(path)}
    # The controller's files, in files/ next to the inventory, where the examples say they are.
    files = lab.root / "files"
    files.mkdir()
    root, issuing = pki.chain()
    leaf = pki.issue("keyfactor-encryption.contoso.com", issuer=issuing)
    for name in ("keyfactor-encryption.pfx", "gateway-encryption.pfx"):
        (files / name).write_bytes(pki.pfx(leaf, PASSWORD))
    agent = pki.issue("keyfactor-enrollment-agent.contoso.com", issuer=issuing)
    (files / "enrollment-agent.pfx").write_bytes(pki.pfx(agent, VAULT["vault_enrollment_agent_pfx_password"]))
    (files / "managed-forest-root.cer").write_bytes(root.cert.public_bytes(Encoding.DER))
    (files / "managed-forest-issuing.cer").write_bytes(issuing.cert.public_bytes(Encoding.DER))
    if gateway:
        cluster = lab.root / "cluster.json"
        cluster.write_text(json.dumps(complete_cluster({
            "name": "GWCLUSTER",
            "nodes": [{"name": computer_name_for(h), "state": "Up"} for h in hosts],
            "networks": [{"name": "Cluster Network 1", "role": "ClusterAndClient", "address": "192.0.2.0",
                          "address_mask": "255.255.255.0"}],
            "resources": [{"name": "Cluster Disk 2", "resource_type": "Physical Disk"}],
        })))
        for host_vars in hosts.values():
            host_vars["windows_sim_cluster_state_file"] = str(cluster)
    overlay = lab.root / "simulated.yml"
    overlay.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return overlay, extra


def _playbook(example: pathlib.Path) -> str:
    """The playbook the example's own header tells the user to run, by the name the user types."""
    name = next(line.split("pkiops.keyfactor_command.", 1)[1].split()[0] for line in example.read_text().splitlines()
                if "ansible-playbook" in line)
    assert (PLAYBOOKS / f"{name}.yml").is_file()
    return f"pkiops.keyfactor_command.{name}"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yml")), ids=lambda p: p.stem)
def test_the_example_inventory_converges_as_written(lab, example):
    listed = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(example), "--list"], capture_output=True, text=True,
                            check=False)
    assert listed.returncode == 0, listed.stderr
    overlay, extra = _overlay(lab, example)
    playbook = _playbook(example)
    copy = lab.root / example.name  # unmodified, so that inventory_dir is where its files/ are
    copy.write_text(example.read_text())
    for run in ("first", "second"):
        completed = lab.run(playbook, extra_vars=extra, inventories=[copy, overlay])
        hosts = _hosts(yaml.safe_load(example.read_text()))
        assert completed.returncode == 0, (run, [completed.failure_messages(host) for host in hosts])
    assert all(completed.changed(host) == 0 for host in hosts), completed.stdout[-3000:]
    for host in hosts:
        EXPECTED.get(example.stem, lambda _state: None)(_state(lab, host))


def _state(lab: SimLab, host: str) -> dict:
    return json.loads((lab.root / f"{host}.json").read_text())


def _oauth_estate(state: dict) -> None:
    pools = state["iis"]["app_pools"]
    if state["host"]["computer_name"].startswith("KF-APP"):
        # OAuth adds the claims proxy's pool; the Orchestrators API runs as the gMSA, with no password given.
        assert {"KeyfactorClaimsProxy", "KeyfactorOrchestratorsAPI"} <= set(pools)
        assert pools["KeyfactorOrchestratorsAPI"]["username"] == "CONTOSO\\gmsa_kforch$"
    else:
        assert "KeyfactorCAConnectorAPI" in pools and "KeyfactorClaimsProxy" not in pools


def _gateway_enrollment_agent(state: dict) -> None:
    # The encryption and the enrollment agent certificates, each with Read for NETWORK SERVICE.
    store = state["certificates"]["My"]
    assert len(store) == 2
    for certificate in store.values():
        assert [ace["sid"] for ace in certificate["private_key"]["acl"] if ace["sid"] == "S-1-5-20"] == ["S-1-5-20"]


EXPECTED = {"oauth_estate": _oauth_estate, "gateway_enrollment_agent": _gateway_enrollment_agent}


PROFILE_VARS = {
    "portal": {"portal_app_pool_account": "CONTOSO\\svc_keyfactor", "portal_app_pool_password": "Example!Service-Account-1"},
    "services": {"services_account": "CONTOSO\\svc_keyfactor"},
    "web_api": {"web_api_app_pool_account": "CONTOSO\\svc_keyfactor", "web_api_app_pool_password": "Example!Service-Account-1"},
    "orchestrator_api": {"orchestrator_api_app_pool_account": "CONTOSO\\gmsa_kforch$"},
    "ca_connector": {"ca_connector_app_pool_account": "CONTOSO\\svc_keyfactor",
                     "ca_connector_app_pool_password": "Example!Service-Account-1",
                     "ca_connector_oauth_authority": "https://idp.contoso.com/realms/Keyfactor"},
}


@pytest.mark.parametrize("profile", sorted(PROFILE_VARS))
def test_each_profile_has_its_own_playbook(lab, profile):
    host = f"kf-{profile.replace('_', '')}01.contoso.com"
    seed = {"domain": {"accounts": [{"name": name, "type": "user"} for name in ACCOUNTS]}}
    lab.add_host(host, groups=(f"keyfactor_{profile}",), seed=seed, common_installer_account="CONTOSO\\kf_installer",
                 **PROFILE_VARS[profile])
    playbook = f"pkiops.keyfactor_command.{profile}"
    first = lab.run(playbook)
    assert first.returncode == 0, first.stdout[-3000:]
    validated = [task for task in first.ran(host) if task.startswith("Validating arguments against arg spec 'main'")]
    assert len(validated) == 2, "the common role and the profile's role ran"
    assert lab.run(playbook).changed(host) == 0


WINDOWS_SCENARIO = REPO / "extensions" / "molecule" / "windows"


def test_the_windows_molecule_scenario_converges_and_verifies_on_its_example_inventory(lab, monkeypatch):
    """Molecule's own sequence for the scenario, on simulated hosts: converge, idempotence, verify."""
    example = WINDOWS_SCENARIO / "inventory.yml"
    overlay, extra = _overlay(lab, example)
    extra["keyfactor_readiness_report_dir"] = str(lab.root / "report")
    # The example reads its credentials from the environment, as the scenario's users set them.
    monkeypatch.setenv("KF_WINRM_USER", "kf_installer@CONTOSO.COM")
    monkeypatch.setenv("KF_WINRM_PASSWORD", VAULT["vault_kf_installer_password"])
    monkeypatch.setenv("KF_SERVICE_PASSWORD", VAULT["vault_svc_keyfactor_password"])
    env_inventories = [example, overlay]
    converge = lab.run(WINDOWS_SCENARIO / "converge.yml", extra_vars=extra, inventories=env_inventories)
    assert converge.returncode == 0, [converge.failure_messages(h) for h in _hosts(yaml.safe_load(example.read_text()))]
    idempotence = lab.run(WINDOWS_SCENARIO / "converge.yml", extra_vars=extra, inventories=env_inventories)
    assert all(count == 0 for count in (idempotence.changed(h) for h in _hosts(yaml.safe_load(example.read_text()))))
    verify = lab.run(WINDOWS_SCENARIO / "verify.yml", extra_vars=extra, inventories=env_inventories)
    assert verify.returncode == 0, verify.stdout[-3000:]
    host = "kf-test01.contoso.com"
    assert "Check that every requirement is met" in verify.ran(host)
    (judged,) = [result for name, result in verify.task_results(host) if name == "Read the server and judge each requirement"]
    kinds = {requirement["kind"] for requirement in judged["requirements"]}
    assert {"user_right", "group_member", "directory_access", "features", "app_pool"} <= kinds

    # A pool whose identity drifted fails verify, which changes nothing.
    state_file = lab.root / f"{host}.json"
    state = json.loads(state_file.read_text())
    state["iis"]["app_pools"]["KeyfactorManagementPortal"]["identity_type"] = "ApplicationPoolIdentity"
    state_file.write_text(json.dumps(state))
    before = lab.windows_state(host) if host in lab.hosts else _state(lab, host)
    drifted = lab.run(WINDOWS_SCENARIO / "verify.yml", extra_vars=extra, inventories=env_inventories)
    assert drifted.returncode != 0
    assert any("Application pool KeyfactorManagementPortal" in m for m in drifted.failure_messages(host)), \
        drifted.failure_messages(host)
    assert _state(lab, host)["iis"] == before["iis"]


def test_the_windows_molecule_verify_judges_the_gateways_certificates_serial_and_cluster_role(lab):
    example = EXAMPLES / "gateway_enrollment_agent.yml"
    overlay, extra = _overlay(lab, example)
    extra["keyfactor_readiness_report_dir"] = str(lab.root / "report")
    copy = lab.root / example.name
    copy.write_text(example.read_text())
    inventories = [copy, overlay]
    assert lab.run("pkiops.keyfactor_command.gateway_cluster", extra_vars=extra, inventories=inventories).returncode == 0
    verify = lab.run(WINDOWS_SCENARIO / "verify.yml", extra_vars=extra, inventories=inventories)
    assert verify.returncode == 0, verify.stdout[-3000:]
    node = "gw02.contoso.com"
    (judged,) = [result for name, result in verify.task_results(node) if name == "Read the server and judge each requirement"]
    assert {"certificate", "key_access", "registry_serial", "cluster_role"} <= {r["kind"] for r in judged["requirements"]}

    # A node whose EncryptSerialNumber was lost fails verify, which writes nothing back.
    state_file = lab.root / f"{node}.json"
    state = json.loads(state_file.read_text())
    (key,) = [key for key, values in state["registry"].items() if "EncryptSerialNumber" in values]
    del state["registry"][key]["EncryptSerialNumber"]
    state_file.write_text(json.dumps(state))
    lost = lab.run(WINDOWS_SCENARIO / "verify.yml", extra_vars=extra, inventories=inventories)
    assert lost.returncode != 0
    assert any("EncryptSerialNumber" in message for message in lost.failure_messages(node)), lost.failure_messages(node)
    assert "EncryptSerialNumber" not in _state(lab, node)["registry"][key]


def test_the_readme_runs_the_windows_scenario_as_written(lab, monkeypatch):
    """make molecule-windows, as the README gives it, through Molecule's whole sequence on simulated hosts."""
    example = WINDOWS_SCENARIO / "inventory.yml"
    overlay, extra = _overlay(lab, example)
    inventory = yaml.safe_load(example.read_text())
    for host, host_vars in yaml.safe_load(overlay.read_text())["all"]["hosts"].items():
        inventory["all"].setdefault("hosts", {})[host] = host_vars
    inventory["all"]["vars"].update(extra)
    mine = lab.root / "my-inventory.yml"
    mine.write_text(yaml.safe_dump(inventory))
    env = dict(os.environ, KF_WINRM_USER="kf_installer@CONTOSO.COM", KF_WINRM_PASSWORD=VAULT["vault_kf_installer_password"],
               KF_SERVICE_PASSWORD=VAULT["vault_svc_keyfactor_password"], HOME=str(lab.root / "home"))
    # Without the virtual environment on PATH, as from a fresh shell.
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(REPO)))
    completed = subprocess.run(["make", "molecule-windows", f"MOLECULE_WINDOWS_INVENTORY={mine}"], cwd=REPO, env=env,
                               capture_output=True, text=True, check=False, timeout=1200)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    assert "Check that every requirement is met" in output and "FileNotFoundError" not in output


def test_the_web_api_playbook_leaves_a_portal_servers_api_to_the_portal(lab):
    host = "kf-app01.contoso.com"
    seed = {"domain": {"accounts": [{"name": name, "type": "user"} for name in ACCOUNTS]}}
    lab.add_host(host, groups=("keyfactor_portal", "keyfactor_web_api"), seed=seed,
                 common_installer_account="CONTOSO\\kf_installer", **PROFILE_VARS["portal"], **PROFILE_VARS["web_api"])
    run = lab.run("pkiops.keyfactor_command.web_api")
    assert run.returncode == 0, run.failure_messages(host)
    # The role's condition covers its dependency too: nothing but the controller's check of the variables runs, and
    # the portal's pools are the portal's business.
    assert run.ran(host) == ["Check the variables of every role this host takes"] and run.changed(host) == 0
    assert lab.round_trips(host) == 0
    assert "KeyfactorAPI" not in lab.state(host).get("iis", {}).get("app_pools", {})


DEFAULT_SCENARIO = REPO / "extensions" / "molecule" / "default"


def test_the_default_molecule_verify_fails_when_local_users_cannot_write_the_log_directory(lab):
    # win_acl in check mode proved nothing: ansible.windows 3.3.0's module does not support check mode, so Ansible
    # skipped it and it never reported a change. The verify reads and judges the access instead.
    host = "kf-app01.contoso.com"
    lab.add_host(host, seed={"domain": {"accounts": [{"name": "kf_installer", "type": "user"}]}},
                 common_installer_account="CONTOSO\\kf_installer")
    assert lab.run(PLAYBOOKS / "site.yml").returncode == 0
    assert lab.run(DEFAULT_SCENARIO / "verify.yml").returncode == 0

    state_path = pathlib.Path(lab.hosts[host]["vars"]["windows_sim_state_file"])
    state = json.loads(state_path.read_text())
    log_dir = next(entry for path, entry in state["paths"].items() if path.lower() == "c:\\keyfactor\\logs")
    log_dir["acl"] = [ace for ace in log_dir["acl"] if ace["inherited"] or ace["sid"] != "S-1-5-32-545"]
    state_path.write_text(json.dumps(state))
    verify = lab.run(DEFAULT_SCENARIO / "verify.yml")
    assert verify.returncode != 0
    assert "Check that local users may write to the log directory" in verify.ran(host)
