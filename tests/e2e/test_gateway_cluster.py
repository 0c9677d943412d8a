"""The clustered Keyfactor CA Gateway end to end: the gateway_cluster_node role on a simulated two-node cluster."""

from __future__ import annotations

import copy
import json

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import pki_fixtures as pki
from conftest import PLAYBOOKS, TEST_PLAYBOOKS
from winsim.certificates import serial_number
from winsim.cluster import complete as complete_cluster

SITE = PLAYBOOKS / "site.yml"
MODULE_PLAYBOOK = TEST_PLAYBOOKS / "cluster_generic_service_role.yml"
NODES = ("kf-gw01.contoso.com", "kf-gw02.contoso.com")
PASSWORD = "Pfx!Gateway-Cluster-Tests"
ADMIN_PASSWORD = "Cluster!Admin-Password-For-Tests"
NETWORK_SERVICE = "S-1-5-20"
READ = 0x80120089 - (1 << 32)
GATEWAY_KEY = "SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters"
GATEWAY, SYNC = "Keyfactor Managed CA Gateway", "Keyfactor Managed CA Sync Service"
ROLE_TASK = "Create the gateway's cluster role"

# A node of a cluster built with Failover Cluster Manager: the cluster's PowerShell module is there.
NODE_SEED = {
    "features": {name: {"installed": True} for name in (
        "Failover-Clustering", "RSAT", "RSAT-Feature-Tools", "RSAT-Clustering", "RSAT-Clustering-Mgmt",
        "RSAT-Clustering-PowerShell")},
    "services": {
        "CAGateway": {"display_name": GATEWAY, "state": "stopped", "start_mode": "manual"},
        "CASync": {"display_name": SYNC, "state": "stopped", "start_mode": "manual"},
    },
}
CLUSTER_SEED = {
    "name": "GWCLUSTER",
    "nodes": [{"name": "KF-GW01", "state": "Up"}, {"name": "KF-GW02", "state": "Up"}],
    "networks": [
        {"name": "Cluster Network 1", "role": "ClusterAndClient", "address": "10.20.0.0", "address_mask": "255.255.255.0"},
        {"name": "Cluster Network 2", "role": "Cluster", "address": "10.99.0.0", "address_mask": "255.255.255.0"},
    ],
    "resources": [
        {"name": "Cluster Disk 1", "resource_type": "Physical Disk", "group": "Cluster Group"},
        {"name": "Cluster Disk 2", "resource_type": "Physical Disk"},
    ],
}


_thumbprint = pki.thumbprint


class Cluster:
    """A two-node simulated cluster with the gateway installed on both nodes."""

    def __init__(self, lab, gateway_cert, ca, cluster_seed=None, node_seed=None, **role_vars):
        self.lab = lab
        self.path = lab.root / "gwcluster.json"
        self.path.write_text(json.dumps(complete_cluster(copy.deepcopy(cluster_seed or CLUSTER_SEED))))
        pfx = lab.root / "gateway.pfx"
        pfx.write_bytes(pki.pfx(gateway_cert, PASSWORD))
        root = lab.root / "root.pem"
        root.write_bytes(ca[0].cert.public_bytes(Encoding.PEM))
        issuing = lab.root / "issuing.pem"
        issuing.write_bytes(ca[1].cert.public_bytes(Encoding.DER))
        self.thumbprint = _thumbprint(gateway_cert)
        self.vars = {
            "windows_sim_cluster_state_file": str(self.path),
            "ansible_user": "CONTOSO\\kf_cluster_admin",
            "ansible_password": ADMIN_PASSWORD,
            "gateway_cluster_node_cluster_name": "GWCLUSTER",
            "gateway_cluster_node_role_name": "CloudGateway",
            "gateway_cluster_node_static_addresses": ["10.20.0.50"],
            "gateway_cluster_node_storage": ["Cluster Disk 2"],
            "gateway_cluster_node_sync_service": SYNC,
            "gateway_cluster_node_owner_node": "KF-GW02",
            "gateway_cluster_node_encryption_pfx_src": str(pfx),
            "gateway_cluster_node_encryption_pfx_password": PASSWORD,
            "gateway_cluster_node_chain_certificates": [{"src": str(root)}, {"src": str(issuing)}],
            **role_vars,
        }
        for node in NODES:
            lab.add_host(node, groups=("keyfactor_gateway_cluster",), seed=node_seed or NODE_SEED, **self.vars)

    def state(self) -> dict:
        return json.loads(self.path.read_text())

    def group(self, name="CloudGateway") -> dict | None:
        return next((g for g in self.state()["groups"] if g["name"] == name), None)

    def resources(self, group="CloudGateway") -> dict:
        return {r["name"]: r for r in self.state()["resources"] if r["group"] == group}

    def inject_fault(self, node: str, fault: dict) -> None:
        self.lab.inject_fault(node, fault)


def _role_result(run, node=NODES[0]) -> dict:
    return next(result for name, result in run.task_results(node) if name == ROLE_TASK)


def test_the_gateway_procedure_converges_on_two_nodes_and_a_second_run_changes_nothing(lab, gateway_cert, ca):
    cluster = Cluster(lab, gateway_cert, ca)
    before = (cluster.state(), [lab.windows_state(n) for n in NODES])

    check = lab.run(SITE, check=True, diff=True)
    assert check.returncode == 0, check.stdout[-4000:]
    assert (cluster.state(), [lab.windows_state(n) for n in NODES]) == before, "check mode changed nothing"
    planned = _role_result(check)
    assert planned["changed"] and planned["created"]
    assert planned["diff"]["before"] == {"state": "absent"}
    assert [a["action"] for a in planned["actions"]] == [
        "create_role", "add_checkpoint", "add_service_resource", "move_role", "start_role"]

    logged_before = {n: len(lab.state(n)["_sim"]["log"]) for n in NODES}
    first = lab.run(SITE)
    assert first.returncode == 0, first.stdout[-4000:]
    group = cluster.group()
    assert {k: group[k] for k in ("group_type", "owner_node", "state")} == {
        "group_type": "GenericService", "owner_node": "KF-GW02", "state": "Online"}
    resources = cluster.resources()
    assert resources[GATEWAY]["parameters"] == {"ServiceName": "CAGateway"}
    assert resources[GATEWAY]["checkpoints"] == [GATEWAY_KEY]
    assert set(resources[GATEWAY]["dependencies"]) == {"CloudGateway", "Cluster Disk 2"}
    assert resources[SYNC]["parameters"] == {"ServiceName": "CASync"} and resources[SYNC]["state"] == "Online"
    assert resources["IP Address 10.20.0.50"]["parameters"]["Address"] == "10.20.0.50"
    assert resources["Cluster Disk 2"]["group"] == "CloudGateway"

    for node in NODES:
        state = lab.state(node)
        certificate = state["certificates"]["My"][cluster.thumbprint]
        grants = [ace for ace in certificate["private_key"]["acl"] if ace["sid"] == NETWORK_SERVICE]
        assert grants == [{"sid": NETWORK_SERVICE, "type": "allow", "rights": READ, "inherited": False}], "Read, never Full control"
        assert state["registry"][GATEWAY_KEY]["EncryptSerialNumber"]["data"] == serial_number(certificate)
        assert len(state["certificates"]["Root"]) == 1 and len(state["certificates"]["CA"]) == 1
    # The cluster is changed once, from one node, with become; the snapshots, which run without become, do not
    # read it.
    cluster_calls = [(n, e["payload"], e["mode"]) for n in NODES for e in lab.state(n)["_sim"]["log"][logged_before[n]:]
                     if e.get("payload") == "cluster_generic_service_role"
                     or "cluster_generic_service_role" in e.get("reads", [])]
    # Checked before any node changed, then changed once, from one node.
    assert cluster_calls == [(NODES[0], "cluster_generic_service_role", "probe"),
                             (NODES[0], "cluster_generic_service_role", "probe"),
                             (NODES[0], "cluster_generic_service_role", "apply")]

    second = lab.run(SITE)
    assert second.returncode == 0
    assert [second.changed(n) for n in NODES] == [0, 0]
    assert ROLE_TASK not in second.ran(NODES[0]), "a steady cluster costs one probe"


def test_a_cluster_with_a_second_client_network_gets_its_role_and_a_checkpoint_written_with_slashes(lab, gateway_cert, ca):
    # A client network without DHCP that none of the addresses is in must be left out of the role by its subnet:
    # Add-ClusterGenericServiceRole -IgnoreNetwork refuses a network's name. And a checkpoint written the PowerShell
    # way, with forward slashes, is the key the gateway reads, so it follows the role on a failover.
    seed = copy.deepcopy(CLUSTER_SEED)
    seed["networks"].append({"name": "Cluster Network 3", "role": "ClusterAndClient", "address": "10.30.0.0",
                             "address_mask": "255.255.255.0"})
    cluster = Cluster(lab, gateway_cert, ca, cluster_seed=seed,
                      gateway_cluster_node_registry_checkpoints=["HKLM:/SOFTWARE/Keyfactor/Keyfactor CA Gateway/Parameters"])
    first = lab.run(SITE)
    assert first.returncode == 0, first.stdout[-4000:]
    created = _role_result(first)["actions"][0]
    assert created["action"] == "create_role" and created["ignore_networks"] == ["10.30.0.0/24"]
    assert cluster.group()["state"] == "Online"
    assert cluster.resources()[GATEWAY]["checkpoints"] == [GATEWAY_KEY]
    assert [lab.run(SITE).changed(n) for n in NODES] == [0, 0]


def test_bad_input_fails_clearly_and_leaves_no_partial_state(lab, gateway_cert, ca):
    cluster = Cluster(lab, gateway_cert, ca)
    cases = {
        "a 16-character role name": ({"gateway_cluster_node_role_name": "CloudGateway0123"},
                                     "name: 'CloudGateway0123' cannot be a role's client access point name: it has 16 characters"),
        "an address outside the cluster networks": ({"gateway_cluster_node_static_addresses": ["10.99.0.50"]},
                                                    "static_addresses[0]: 10.99.0.50 is in none of the cluster's client networks"),
        "a service that is not installed": ({"gateway_cluster_node_sync_service": "Keyfactor Missing Service"},
                                            "Keyfactor Missing Service is not installed on kf-gw01.contoso.com"),
        "a disk that is not available": ({"gateway_cluster_node_storage": ["Cluster Disk 1"]},
                                         "storage[0]: the disk 'Cluster Disk 1' belongs to the role 'Cluster Group'"),
    }
    for case, (overrides, message) in cases.items():
        before = (cluster.state(), [lab.windows_state(n) for n in NODES])
        run = lab.run(SITE, extra_vars=overrides)
        assert run.returncode != 0, case
        assert any(message in m for m in run.failure_messages(NODES[0])), (case, run.failure_messages(NODES[0]))
        assert (cluster.state(), [lab.windows_state(n) for n in NODES]) == before, f"{case}: nothing changed anywhere"
        assert cluster.group() is None


def test_a_failure_after_creating_the_role_converges_on_the_next_run(lab, gateway_cert, ca):
    # A cluster built without the PowerShell module: the role installs it.
    node_seed = dict(NODE_SEED, features={"Failover-Clustering": {"installed": True}})
    cluster = Cluster(lab, gateway_cert, ca, node_seed=node_seed)
    cluster.inject_fault(NODES[0], {"match": {"payload": "cluster_generic_service_role", "mode": "apply"},
                                    "after_operations": 1, "error": "The RPC server is unavailable."})
    failed = lab.run(SITE)
    assert failed.returncode != 0
    result = _role_result(failed)
    assert "apply failed on the host: The RPC server is unavailable" in result["msg"]
    assert [a["action"] for a in result["applied"]] == ["create_role"]
    assert cluster.resources()[GATEWAY]["checkpoints"] == [], "the role exists without its checkpoint"

    rerun = lab.run(SITE)
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert [a["action"] for a in _role_result(rerun)["actions"]] == [
        "add_checkpoint", "add_service_resource", "move_role", "start_role"]
    assert cluster.resources()[GATEWAY]["checkpoints"] == [GATEWAY_KEY]
    assert cluster.group()["state"] == "Online"
    assert all(lab.state(n)["features"]["RSAT-Clustering-PowerShell"]["installed"] for n in NODES)
    assert [lab.run(SITE).changed(n) for n in NODES] == [0, 0]


def test_without_become_the_double_hop_is_explained_and_nothing_changes(lab, gateway_cert, ca):
    cluster = Cluster(lab, gateway_cert, ca, gateway_cluster_node_become=False)
    run = lab.run(SITE)
    assert run.returncode != 0
    message = _role_result(run)["msg"]
    assert "Access is denied" in message and "double hop" in message and "become" in message
    assert cluster.group() is None


def test_a_service_that_does_not_start_fails_with_the_state_of_each_resource(lab, gateway_cert, ca):
    seed = dict(CLUSTER_SEED, failing_services=["CASync"])
    Cluster(lab, gateway_cert, ca, cluster_seed=seed)
    run = lab.run(SITE)
    assert run.returncode != 0
    message = _role_result(run)["msg"]
    # A failed resource fails its group (CLUSTER_GROUP_STATE), and the wait ends once the role has stayed Failed.
    assert "The role 'CloudGateway' is Failed and has stayed so for 10 seconds, so it will not come Online by itself" in message
    assert f"{SYNC} (Failed)" in message


def test_the_secrets_never_reach_the_output_or_the_hosts_logs(lab, gateway_cert, ca):
    Cluster(lab, gateway_cert, ca)
    run = lab.run(SITE, "-vvv", diff=True)
    assert run.returncode == 0
    for text in (run.stdout, run.stderr, json.dumps(run.report), *(json.dumps(lab.state(n)["_sim"]["log"]) for n in NODES)):
        assert PASSWORD not in text and ADMIN_PASSWORD not in text


ROTATE = PLAYBOOKS / "rotate_gateway_certificate.yml"


def _pointed_at(lab, node) -> dict:
    """The certificate node's EncryptSerialNumber names; it must be in LocalMachine\\My with a key NETWORK SERVICE can read."""
    state = lab.state(node)
    serial = state["registry"][GATEWAY_KEY]["EncryptSerialNumber"]["data"]
    matches = [(t, c) for t, c in state["certificates"]["My"].items() if serial_number(c) == serial]
    assert len(matches) == 1, f"{node} points at serial {serial}, which no certificate in LocalMachine\\My has"
    thumbprint, certificate = matches[0]
    key = certificate["private_key"]
    assert key and not key.get("broken"), f"{node} points at a certificate without a usable key"
    assert any(a["sid"] == NETWORK_SERVICE and a["type"] == "allow" and a["rights"] == READ for a in key["acl"])
    return {"thumbprint": thumbprint, "serial": serial}


@pytest.mark.parametrize("failing_step", ["pfx_import", "cert_serial_registry"])
def test_rotation_never_leaves_a_node_pointing_at_a_missing_certificate(lab, gateway_cert, ca, failing_step):
    cluster = Cluster(lab, gateway_cert, ca)
    assert lab.run(SITE).returncode == 0
    old = cluster.thumbprint
    renewed = pki.issue("gateway-encryption.contoso.com", issuer=ca[1])
    new_pfx = lab.root / "gateway-renewed.pfx"
    new_pfx.write_bytes(pki.pfx(renewed, PASSWORD))
    new = _thumbprint(renewed)
    rotation = {"rotate_gateway_pfx_src": str(new_pfx), "rotate_gateway_pfx_password": PASSWORD,
                "rotate_gateway_previous_thumbprint": old}

    lab.inject_fault(NODES[1], {"match": {"payload": failing_step, "mode": "apply"}, "error": "The RPC server is unavailable."})
    failed = lab.run(ROTATE, extra_vars=rotation)
    assert failed.returncode != 0
    pointed = {node: _pointed_at(lab, node)["thumbprint"] for node in NODES}
    if failing_step == "pfx_import":
        assert pointed == {NODES[0]: old, NODES[1]: old}, "no node moves before every node has the new certificate"
    else:
        assert pointed == {NODES[0]: new, NODES[1]: old}
    assert all(old in lab.state(node)["certificates"]["My"] for node in NODES), "the old certificate stays until the end"

    finished = lab.run(ROTATE, extra_vars=rotation)
    assert finished.returncode == 0, finished.stdout[-4000:]
    for node in NODES:
        assert _pointed_at(lab, node)["thumbprint"] == new
        assert old not in lab.state(node)["certificates"]["My"]
    again = lab.run(ROTATE, extra_vars=rotation)
    assert [again.changed(node) for node in NODES] == [0, 0]


def test_rotation_refuses_to_remove_the_new_certificate(lab, gateway_cert, ca):
    cluster = Cluster(lab, gateway_cert, ca)
    assert lab.run(SITE).returncode == 0
    pfx = lab.root / "gateway.pfx"
    run = lab.run(ROTATE, extra_vars={"rotate_gateway_pfx_src": str(pfx), "rotate_gateway_pfx_password": PASSWORD,
                                      "rotate_gateway_previous_thumbprint": cluster.thumbprint.lower()})
    assert run.returncode != 0
    assert any("is the new certificate's thumbprint" in m for m in run.failure_messages(NODES[0]))
    assert all(cluster.thumbprint in lab.state(node)["certificates"]["My"] for node in NODES)


def _set_cluster(cluster: Cluster, change) -> None:
    state = cluster.state()
    change(state)
    cluster.path.write_text(json.dumps(state))


@pytest.mark.parametrize("problem", ["role offline", "node outside the play"])
def test_rotation_refuses_what_the_registry_checkpoint_would_undo(lab, gateway_cert, ca, problem):
    cluster = Cluster(lab, gateway_cert, ca)
    assert lab.run(SITE).returncode == 0
    if problem == "role offline":
        _set_cluster(cluster, lambda s: next(g for g in s["groups"] if g["name"] == "CloudGateway").update(state="Offline"))
    else:
        _set_cluster(cluster, lambda s: s["nodes"].append({"name": "KF-GW03", "state": "Up"}))
    renewed = pki.issue("gateway-encryption.contoso.com", issuer=ca[1])
    new_pfx = lab.root / "gateway-renewed.pfx"
    new_pfx.write_bytes(pki.pfx(renewed, PASSWORD))
    before = [lab.windows_state(n) for n in NODES]
    run = lab.run(ROTATE, extra_vars={"rotate_gateway_pfx_src": str(new_pfx), "rotate_gateway_pfx_password": PASSWORD,
                                      "rotate_gateway_previous_thumbprint": cluster.thumbprint})
    assert run.returncode != 0
    assert any("must exist and be online" in m and "must be in this play" in m for m in run.failure_messages(NODES[0]))
    assert [lab.windows_state(n) for n in NODES] == before, "no node changed"


def test_after_rotation_a_failover_brings_the_new_serial_with_it(lab, gateway_cert, ca):
    cluster = Cluster(lab, gateway_cert, ca)
    assert lab.run(SITE).returncode == 0
    renewed = pki.issue("gateway-encryption.contoso.com", issuer=ca[1])
    new_pfx = lab.root / "gateway-renewed.pfx"
    new_pfx.write_bytes(pki.pfx(renewed, PASSWORD))
    rotation = {"rotate_gateway_pfx_src": str(new_pfx), "rotate_gateway_pfx_password": PASSWORD,
                "rotate_gateway_previous_thumbprint": cluster.thumbprint}
    assert lab.run(ROTATE, extra_vars=rotation).returncode == 0
    assert cluster.group()["owner_node"] == "KF-GW02"
    # A stale value on the passive node, which the cluster overwrites when the role comes online there.
    passive = lab.state(NODES[0])
    passive["registry"][GATEWAY_KEY]["EncryptSerialNumber"]["data"] = "00STALE"
    (lab.root / f"{NODES[0]}.json").write_text(json.dumps(passive))

    move = {"test_role": {"name": "CloudGateway", "service": GATEWAY, "owner_node": "KF-GW01"}}
    moved = lab.run(MODULE_PLAYBOOK, extra_vars=move)
    assert moved.returncode == 0, moved.stdout[-3000:]
    assert cluster.group()["owner_node"] == "KF-GW01"
    assert lab.run(MODULE_PLAYBOOK, extra_vars=move).changed(NODES[0]) == 0
    assert _pointed_at(lab, NODES[0])["thumbprint"] == _thumbprint(renewed), "the checkpoint carried the new serial"


def test_removing_the_role_gives_its_disk_back_and_a_second_removal_changes_nothing(lab, gateway_cert, ca):
    cluster = Cluster(lab, gateway_cert, ca)
    assert lab.run(SITE).returncode == 0
    remove = {"test_role": {"name": "CloudGateway", "state": "absent"}}
    check = lab.run(MODULE_PLAYBOOK, check=True, diff=True, extra_vars=remove)
    assert check.changed(NODES[0]) == 1 and cluster.group() is not None
    removed = lab.run(MODULE_PLAYBOOK, extra_vars=remove)
    assert removed.returncode == 0, removed.stdout[-3000:]
    assert cluster.group() is None and cluster.resources() == {}
    assert cluster.resources("Available Storage")["Cluster Disk 2"]["dependencies"] == []
    assert lab.run(MODULE_PLAYBOOK, extra_vars=remove).changed(NODES[0]) == 0


def test_an_enrollment_agent_certificate_is_imported_on_every_node_with_read_for_the_gateway(lab, gateway_cert, ca):
    # An enrollment agent signs; it needs no key encipherment, unlike the encryption certificate.
    agent = pki.issue("gateway-enrollment-agent.contoso.com", issuer=ca[1], key_usage={"key_encipherment": False})
    agent_pfx = lab.root / "agent.pfx"
    agent_pfx.write_bytes(pki.pfx(agent, PASSWORD))
    Cluster(lab, gateway_cert, ca, gateway_cluster_node_enrollment_agent_pfx_src=str(agent_pfx),
            gateway_cluster_node_enrollment_agent_pfx_password=PASSWORD)
    first = lab.run(SITE)
    assert first.returncode == 0, first.stdout[-3000:]
    for node in NODES:
        key = lab.state(node)["certificates"]["My"][_thumbprint(agent)]["private_key"]
        assert [a["rights"] for a in key["acl"] if a["sid"] == NETWORK_SERVICE] == [READ]
    assert [lab.run(SITE).changed(n) for n in NODES] == [0, 0]
