"""The simulator's model of the cluster_generic_service_role payload, driven with the plans the controller makes."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._cluster import check_params, plan_role
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source
from winsim import cluster as model, registry, win_powershell
from winsim.cluster import complete as complete_cluster
from winsim.host import Host
from winsim.manifest import ModuleInvocation
from winsim.state import complete

registry.load_all()

GATEWAY, SYNC = "Keyfactor Managed CA Gateway", "Keyfactor Managed CA Sync Service"
CHECKPOINT = "SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters"
FEATURES = ("Failover-Clustering", "RSAT-Clustering-PowerShell")


def make_cluster(**overrides) -> dict:
    cluster = {
        "name": "GWCLUSTER",
        "nodes": [{"name": "GW01", "state": "Up"}, {"name": "GW02", "state": "Up"}],
        "networks": [{"name": "Cluster Network 1", "role": "ClusterAndClient", "address": "10.20.0.0",
                      "address_mask": "255.255.255.0"}],
        "resources": [{"name": "Cluster Disk 1", "resource_type": "Physical Disk", "group": "Cluster Group"},
                      {"name": "Cluster Disk 2", "resource_type": "Physical Disk"}],
        **overrides,
    }
    return complete_cluster(cluster)


def make_node(cluster: dict | None, name: str = "GW01", features=FEATURES) -> Host:
    state = {"features": {f: {"installed": True} for f in features},
             "services": {"CAGateway": {"display_name": GATEWAY}, "CASync": {"display_name": SYNC}}}
    complete(state, name)
    return Host(state, cluster)


def run_payload(host: Host, parameters: dict, *, check_mode=False, become=True, fault=None) -> dict:
    args = {"script": payload_source("cluster_generic_service_role"), "parameters": parameters, "depth": 8,
            "error_action": "stop", "_ansible_check_mode": check_mode}
    invocation = ModuleInvocation(name="ansible.windows.win_powershell", args=args, script="", become=become)
    return win_powershell.run(host, invocation, fault)


def options(**overrides) -> dict:
    params = {"name": "CloudGateway", "service": GATEWAY, "cluster": None, "static_addresses": ["10.20.0.50"],
              "storage": ["Cluster Disk 2"], "registry_checkpoints": [CHECKPOINT], "registry_checkpoints_exclusive": False,
              "additional_services": [{"service": SYNC, "registry_checkpoints": [], "depends_on": []}],
              "owner_node": None, "online_timeout": 120, "state": "present", **overrides}
    return check_params(params)


def converge(host: Host, params: dict, **kwargs) -> tuple[dict, object]:
    """Probe, plan and apply once, as the action plugin does; the apply's result and the plan."""
    probe = run_payload(host, {"Mode": "probe", "Name": params["name"],
                               "Services": [params["service"]] + [a["service"] for a in params["additional_services"]],
                               "Disks": params["storage"]})
    assert not probe.get("failed"), probe
    plan = plan_role(params, probe["result"])
    if not plan.operations:
        return {"changed": False}, plan
    return run_payload(host, {"Mode": "apply", "Name": params["name"], "Operations": plan.operations}, **kwargs), plan


def message_of(result: dict) -> str:
    return result["error"][0]["exception"]["message"]


def test_create_then_nothing_more_to_do():
    cluster = make_cluster()
    host = make_node(cluster)
    applied, plan = converge(host, options(owner_node="GW02"))
    assert applied["changed"] and not applied.get("failed"), applied
    assert [a["action"] for a in applied["result"]["applied"]] == [op["action"] for op in plan.operations[:-1]]
    group = next(g for g in cluster["groups"] if g["name"] == "CloudGateway")
    assert group == {"name": "CloudGateway", "group_type": "GenericService", "owner_node": "GW02", "state": "Online",
                     "pending_restore": "GW02"}
    assert next(r for r in cluster["resources"] if r["name"] == "Cluster Disk 2")["group"] == "CloudGateway"
    again, plan = converge(host, options(owner_node="GW02"))
    assert again == {"changed": False} and plan.operations == []


def test_check_mode_changes_nothing():
    cluster = make_cluster()
    before = copy.deepcopy(cluster)
    applied, plan = converge(make_node(cluster), options(), check_mode=True)
    assert plan.operations and applied["changed"] is False and applied["result"]["applied"] == []
    assert cluster == before


def test_without_become_or_delegation_access_is_denied_before_any_change():
    cluster = make_cluster()
    before = copy.deepcopy(cluster)
    applied, _plan = converge(make_node(cluster), options(), become=False)
    assert applied["failed"] and "Access is denied" in message_of(applied)
    assert applied["changed"] is False and cluster == before
    delegating = make_cluster(credential_delegation=True)
    applied, _plan = converge(make_node(delegating), options(), become=False)
    assert not applied.get("failed")


def test_a_fault_after_creation_leaves_a_role_the_next_run_completes():
    cluster = make_cluster()
    host = make_node(cluster)
    fault = {"after_operations": 1, "error": "The RPC server is unavailable."}
    applied, _plan = converge(host, options(), fault=fault)
    assert applied["failed"] and applied["changed"]
    assert [a["action"] for a in applied["result"]["applied"]] == ["create_role"]
    applied, plan = converge(host, options())
    assert [op["action"] for op in plan.operations] == ["add_checkpoint", "add_service_resource", "start_role", "wait_online"]
    assert not applied.get("failed")
    assert converge(host, options())[1].operations == []


def test_a_fault_between_creating_a_service_resource_and_configuring_it_converges():
    cluster = make_cluster()
    host = make_node(cluster)
    # create_role, add_checkpoint, then Add-ClusterResource succeeds and Set-ClusterParameter does not happen.
    applied, _plan = converge(host, options(), fault={"after_operations": 3, "error": "The RPC server is unavailable."})
    assert applied["failed"]
    assert [r["parameters"] for r in cluster["resources"] if r["name"] == SYNC] == [{}]
    applied, plan = converge(host, options())
    assert plan.operations[0] == {"action": "add_service_resource", "resource": SYNC, "group": "CloudGateway",
                                  "service_name": "CASync"}
    assert not applied.get("failed"), applied
    assert [r["parameters"] for r in cluster["resources"] if r["name"] == SYNC] == [{"ServiceName": "CASync"}]
    assert converge(host, options())[1].operations == []


def test_a_dhcp_client_network_gives_the_role_an_address_and_a_second_run_accepts_it():
    cluster = make_cluster()
    cluster["networks"].append({"name": "Cluster Network 3", "role": "Client", "address": "192.168.5.0",
                                "address_mask": "255.255.255.0", "dhcp": True})
    host = make_node(cluster)
    applied, _plan = converge(host, options())
    assert not applied.get("failed"), applied
    leased = [r for r in cluster["resources"] if r["resource_type"] == "IP Address" and r["parameters"]["EnableDhcp"] == 1]
    assert [r["parameters"]["Address"] for r in leased] == ["192.168.5.100"]
    assert converge(host, options())[1].operations == []


def test_removal_gives_the_disks_back_to_available_storage():
    cluster = make_cluster()
    host = make_node(cluster)
    converge(host, options())
    applied, plan = converge(host, options(state="absent"))
    assert plan.operations == [{"action": "remove_role", "name": "CloudGateway", "keep_disks": ["Cluster Disk 2"]}]
    assert not applied.get("failed")
    assert [g["name"] for g in cluster["groups"]] == ["Cluster Group", "Available Storage"]
    assert [(r["name"], r["group"], r["dependencies"]) for r in cluster["resources"]] == [
        ("Cluster Disk 1", "Cluster Group", []), ("Cluster Disk 2", "Available Storage", [])]


def test_a_client_network_without_dhcp_needs_an_address_or_to_be_ignored():
    cluster = make_cluster()
    cluster["networks"].append({"name": "Cluster Network 3", "role": "Client", "address": "192.168.5.0",
                                "address_mask": "255.255.255.0"})
    create = {"action": "create_role", "name": "CloudGateway", "service_name": "CAGateway", "static_addresses": ["10.20.0.50"],
              "ignore_networks": [], "storage": []}
    refused = run_payload(make_node(cluster), {"Mode": "apply", "Name": "CloudGateway", "Operations": [create]})
    assert "There is no static address for the network 'Cluster Network 3'" in message_of(refused)
    applied, _plan = converge(make_node(cluster), options(additional_services=[]))
    assert not applied.get("failed"), applied


def test_a_service_that_fails_to_start_times_out_with_each_resource_state():
    cluster = make_cluster(failing_services=["CASync"])
    applied, _plan = converge(make_node(cluster), options())
    assert applied["failed"]
    assert message_of(applied).startswith("The role 'CloudGateway' is not Online after 120 seconds; its state is PartialOnline")
    assert f"{SYNC} (Failed)" in message_of(applied)


@pytest.mark.parametrize("cluster, features, message", [
    (None, FEATURES, "The cluster service is not running"),
    ("cluster", ("Failover-Clustering",), "The specified module 'FailoverClusters' was not loaded"),
])
def test_a_host_that_cannot_reach_the_cluster_fails_the_probe(cluster, features, message):
    host = make_node(make_cluster() if cluster else None, features=features)
    result = run_payload(host, {"Mode": "probe", "Name": "CloudGateway", "Services": [], "Disks": []})
    assert result["failed"] and message in message_of(result)


def test_a_node_that_is_not_in_the_cluster_cannot_read_it():
    result = run_payload(make_node(make_cluster(), name="KF-OTHER"), {"Mode": "probe", "Name": "x", "Services": [], "Disks": []})
    assert "The cluster service is not running" in message_of(result)


def test_a_malformed_operation_fails_before_any_change():
    cluster = make_cluster()
    before = copy.deepcopy(cluster)
    operations = [{"action": "start_role", "name": "Cluster Group"}, {"action": "add_checkpoint", "resource": "x"}]
    result = run_payload(make_node(cluster), {"Mode": "apply", "Name": "x", "Operations": operations})
    assert "Invalid operation #2: 'add_checkpoint' needs key." in message_of(result)
    assert cluster == before


def test_checkpoints_follow_the_role_from_the_active_node_to_the_next():
    cluster = make_cluster()
    gw01, gw02 = make_node(cluster, "GW01"), make_node(cluster, "GW02")
    converge(gw01, options(owner_node="GW01"))
    model.restore_checkpoints(cluster, gw01.state, "GW01")
    gw01.state["registry"] = {CHECKPOINT: {"EncryptSerialNumber": {"kind": "String", "data": "01NEW"}}}
    gw02.state["registry"] = {CHECKPOINT: {"EncryptSerialNumber": {"kind": "String", "data": "00OLD"}}}
    model.capture_checkpoints(cluster, gw02.state, "GW02")  # a passive node's value is never captured
    model.capture_checkpoints(cluster, gw01.state, "GW01")
    converge(gw01, options(owner_node="GW02"))
    model.restore_checkpoints(cluster, gw02.state, "GW02")
    assert gw02.state["registry"][CHECKPOINT]["EncryptSerialNumber"]["data"] == "01NEW"
    assert [g["pending_restore"] for g in cluster["groups"] if g["name"] == "CloudGateway"] == [None]


def test_a_change_while_the_role_is_offline_is_not_captured():
    cluster = make_cluster()
    gw01 = make_node(cluster, "GW01")
    converge(gw01, options(owner_node="GW01"))
    model.restore_checkpoints(cluster, gw01.state, "GW01")
    gw01.state["registry"] = {CHECKPOINT: {"EncryptSerialNumber": {"kind": "String", "data": "00OLD"}}}
    model.capture_checkpoints(cluster, gw01.state, "GW01")
    next(g for g in cluster["groups"] if g["name"] == "CloudGateway")["state"] = "Offline"
    gw01.state["registry"][CHECKPOINT]["EncryptSerialNumber"]["data"] = "01NEW"
    model.capture_checkpoints(cluster, gw01.state, "GW01")
    converge(gw01, options(owner_node="GW01"))  # starts the role again, which restores what was captured
    model.restore_checkpoints(cluster, gw01.state, "GW01")
    assert gw01.state["registry"][CHECKPOINT]["EncryptSerialNumber"]["data"] == "00OLD"
