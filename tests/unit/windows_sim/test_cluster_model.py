"""The simulator's model of the cluster_generic_service_role payload, driven with the plans the controller makes."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._cluster_generic_service_role import check_params, plan_role
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source
from winsim import cluster as model, models, win_powershell
from winsim.certificates import create_registry_key
from winsim.cluster import complete as complete_cluster
from winsim.errors import HostError
from winsim.host import Host
from winsim.manifest import ModuleInvocation
from winsim.state import complete

models.load_all()

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


def test_removal_gives_the_disks_back_to_available_storage_offline():
    cluster = make_cluster()
    host = make_node(cluster)
    converge(host, options())
    applied, plan = converge(host, options(state="absent"))
    assert [op["action"] for op in plan.operations] == ["stop_role", "remove_dependency", "release_disk", "remove_role"]
    assert not applied.get("failed"), applied
    assert [g["name"] for g in cluster["groups"]] == ["Cluster Group", "Available Storage"]
    # Stop-ClusterGroup took the disk offline, and it stays so in Available Storage.
    assert [(r["name"], r["group"], r["dependencies"], r["state"]) for r in cluster["resources"]] == [
        ("Cluster Disk 1", "Cluster Group", [], "Online"), ("Cluster Disk 2", "Available Storage", [], "Offline")]


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


def test_a_service_that_fails_to_start_fails_the_role_and_the_wait_stops_early_with_each_resource_state():
    # "ClusterGroupFailed: at least one resource in the group has failed" (CLUSTER_GROUP_STATE): not PartialOnline.
    cluster = make_cluster(failing_services=["CASync"])
    applied, _plan = converge(make_node(cluster), options())
    assert applied["failed"]
    assert message_of(applied).startswith("The role 'CloudGateway' is Failed and has stayed so for 10 seconds, so it will "
                                          "not come Online by itself; resources: ")
    assert f"{SYNC} (Failed)" in message_of(applied) and f"{GATEWAY} (Online)" in message_of(applied)
    assert model.find_group(cluster, "CloudGateway")["state"] == "Failed"


def test_a_short_timeout_ends_the_wait_before_a_failed_role_has_settled():
    cluster = make_cluster(failing_services=["CASync"])
    applied, _plan = converge(make_node(cluster), options(online_timeout=5))
    assert message_of(applied).startswith("The role 'CloudGateway' is not Online after 5 seconds; its state is Failed")


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
    operations = [{"action": "start_role", "name": "Cluster Group", "timeout_seconds": 0},
                  {"action": "add_checkpoint", "resource": "x"}]
    result = run_payload(make_node(cluster), {"Mode": "apply", "Name": "x", "Operations": operations})
    assert "Invalid operation #2: add_checkpoint needs 'key' as a non-empty string." in message_of(result)
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


# --- a model as strict as Windows ---------------------------------------------------------------------------------

CREATE = {"action": "create_role", "name": "CloudGateway", "service_name": "CAGateway", "static_addresses": ["10.20.0.50"],
          "ignore_networks": [], "storage": ["Cluster Disk 2"]}


def apply(host: Host, *operations) -> dict:
    return run_payload(host, {"Mode": "apply", "Name": "CloudGateway", "Operations": list(operations)})


def test_a_new_role_is_pending_until_it_has_come_online():
    cluster = make_cluster()
    result = apply(make_node(cluster), CREATE)
    assert not result.get("failed"), result
    group = model.find_group(cluster, "CloudGateway")
    assert group["state"] == "Pending"
    assert {r["name"]: r["state"] for r in model.group_resources(cluster, "CloudGateway")} == {
        "IP Address 10.20.0.50": "OnlinePending", "CloudGateway": "OnlinePending", "Cluster Disk 2": "Online",
        GATEWAY: "OnlinePending"}
    model.elapse(cluster, 2)
    assert group["state"] == "Online"


def test_a_pending_role_cannot_be_moved_and_move_role_waits_until_it_is_not():
    cluster = make_cluster()
    host = make_node(cluster)
    apply(host, CREATE)
    with pytest.raises(model.HostError, match="not in the correct state"):
        model.move_group(cluster, model.find_group(cluster, "CloudGateway"), "GW02")

    cluster = make_cluster()
    refused = apply(make_node(cluster), CREATE,
                    {"action": "move_role", "name": "CloudGateway", "node": "GW02", "timeout_seconds": 0})
    assert message_of(refused).startswith("The role 'CloudGateway' is still Pending after 0 seconds, so it cannot be moved "
                                          "to 'GW02' yet; resources: ")
    cluster = make_cluster()
    moved = apply(make_node(cluster), CREATE,
                  {"action": "move_role", "name": "CloudGateway", "node": "GW02", "timeout_seconds": 120})
    assert not moved.get("failed"), moved
    assert model.find_group(cluster, "CloudGateway")["owner_node"] == "GW02"


def test_a_dependency_that_exists_fails_with_error_5003_and_a_circle_or_itself_are_refused():
    cluster = make_cluster()
    host = make_node(cluster)
    assert not apply(host, CREATE).get("failed")
    again = apply(host, {"action": "add_dependency", "resource": GATEWAY, "provider": "CloudGateway"})
    assert "already dependent. (Exception from HRESULT: 0x8007138B)" in message_of(again)
    circle = apply(host, {"action": "add_dependency", "resource": "CloudGateway", "provider": GATEWAY})
    assert "Circular service dependency was specified" in message_of(circle)
    itself = apply(host, {"action": "add_dependency", "resource": GATEWAY, "provider": GATEWAY})
    assert "The parameter is incorrect" in message_of(itself)
    assert model.find_resource(cluster, GATEWAY)["dependencies"] == ["CloudGateway", "Cluster Disk 2"]


def test_resource_names_are_unique_in_the_whole_cluster():
    cluster = make_cluster()
    cluster["resources"].append(model.complete({"resources": [{"name": GATEWAY.upper(), "resource_type": "Generic Service",
                                                               "group": "Cluster Group"}]})["resources"][0])
    before = copy.deepcopy(cluster)
    refused = apply(make_node(cluster), CREATE)
    assert "The cluster already has a resource named 'Keyfactor Managed CA Gateway'" in message_of(refused)
    assert cluster == before


def test_ignore_network_takes_subnets_and_refuses_a_network_name():
    cluster = make_cluster()
    cluster["networks"].append({"name": "Cluster Network 3", "role": "Client", "address": "192.168.5.0",
                                "address_mask": "255.255.255.0"})
    by_name = apply(make_node(cluster), dict(CREATE, ignore_networks=["Cluster Network 3"]))
    assert "'Cluster Network 3' is not a network to ignore: give a subnet in the form <address>/<prefix length>" in \
        message_of(by_name)
    assert model.find_group(cluster, "CloudGateway") is None
    unknown = apply(make_node(cluster), dict(CREATE, ignore_networks=["192.168.99.0/24"]))
    assert "No cluster network has the subnet 192.168.99.0/24" in message_of(unknown)
    by_subnet = apply(make_node(cluster), dict(CREATE, ignore_networks=["192.168.5.0/24"]))
    assert not by_subnet.get("failed"), by_subnet


def test_the_plan_ignores_a_second_client_network_by_its_subnet_and_the_role_comes_online():
    cluster = make_cluster()
    cluster["networks"].append({"name": "Cluster Network 3", "role": "Client", "address": "192.168.5.0",
                                "address_mask": "255.255.255.0", "ipv6_addresses": ["fd00:5::"], "ipv6_prefix_lengths": [64]})
    host = make_node(cluster)
    applied, plan = converge(host, options())
    # Named by its IPv4 subnet alone, the form Microsoft documents for -IgnoreNetwork.
    assert plan.operations[0]["ignore_networks"] == ["192.168.5.0/24"]
    assert not applied.get("failed"), applied
    assert converge(host, options())[1].operations == []


def test_get_cluster_resource_name_applies_wildcards_so_the_payload_compares_names_itself():
    cluster = make_cluster()
    cluster["resources"] += model.complete({"resources": [{"name": "Disk 1", "resource_type": "Physical Disk"},
                                                          {"name": "Disk [1]", "resource_type": "Physical Disk"}]})["resources"]
    assert [r["name"] for r in model.get_cluster_resource(cluster, "Cluster Disk [12]")] == ["Cluster Disk 1", "Cluster Disk 2"]
    assert [r["name"] for r in model.get_cluster_resource(cluster, "Disk [1]")] == ["Disk 1"]
    assert [r["name"] for r in model.get_cluster_resource(cluster, "Disk `[1`]")] == ["Disk [1]"]
    host = make_node(cluster)
    assert not apply(host, dict(CREATE, storage=[])).get("failed")
    model.settle_all(cluster)
    added = apply(host, {"action": "add_disk", "disk": "Disk [1]", "group": "CloudGateway"})
    assert not added.get("failed"), added
    assert model.find_resource(cluster, "Disk [1]")["group"] == "CloudGateway"
    assert model.find_resource(cluster, "Disk 1")["group"] == "Available Storage"


def test_a_disk_joins_a_group_only_from_the_node_that_owns_both():
    cluster = make_cluster()
    storage = model.find_group(cluster, "Available Storage")
    storage["owner_node"] = "GW02"
    host = make_node(cluster)
    assert not apply(host, dict(CREATE, storage=[])).get("failed")
    model.settle_all(cluster)
    role = model.find_group(cluster, "CloudGateway")
    with pytest.raises(model.HostError, match="are not owned by the same node"):
        model.change_resource_group(cluster, model.find_resource(cluster, "Cluster Disk 2"), role)
    # add_disk moves Available Storage to the role's node first, as the payload does.
    added = apply(host, {"action": "add_disk", "disk": "Cluster Disk 2", "group": "CloudGateway"})
    assert not added.get("failed"), added
    assert storage["owner_node"] == "GW01" and model.find_resource(cluster, "Cluster Disk 2")["group"] == "CloudGateway"


def test_a_disk_moved_out_takes_the_resources_that_still_depend_on_it():
    # ChangeClusterResourceGroup moves a resource's whole dependency tree: the plan removes the dependency first.
    cluster = make_cluster()
    host = make_node(cluster)
    converge(host, options(additional_services=[]))
    released = apply(host, {"action": "stop_role", "name": "CloudGateway"},
                     {"action": "release_disk", "disk": "Cluster Disk 2", "name": "CloudGateway"})
    assert not released.get("failed"), released
    assert model.find_resource(cluster, GATEWAY)["group"] == "Available Storage"


def test_the_local_node_is_named_as_the_cluster_names_it():
    cluster = make_cluster(nodes=[{"name": "gw01", "state": "Up"}, {"name": "gw02", "state": "Up"}])
    result = run_payload(make_node(cluster, "GW01"), {"Mode": "probe", "Name": "CloudGateway", "Services": [], "Disks": []})
    assert result["result"]["cluster"]["local_node"] == "gw01"
    assert [n["id"] for n in result["result"]["cluster"]["nodes"]] == ["1", "2"]


@pytest.mark.parametrize("operation, message", [
    ({"action": "start_role", "name": ""}, "start_role needs 'name' as a non-empty string"),
    ({"action": "start_role", "name": 7}, "start_role needs 'name' as a non-empty string"),
    (dict(CREATE, storage=["Cluster Disk 2", ""]), "create_role needs 'storage' as a list, possibly empty, of non-empty strings"),
    (dict(CREATE, storage="Cluster Disk 2"), "create_role needs 'storage' as a list"),
    ({"action": "wait_online", "name": "CloudGateway", "timeout_seconds": True}, "needs 'timeout_seconds' as a whole number"),
    ({"action": "move_role", "name": "CloudGateway", "node": "GW02"}, "move_role needs 'timeout_seconds'"),
    ({"action": "add_checkpoint", "resource": GATEWAY, "key": "HKLM:\\SOFTWARE\\Keyfactor"}, "needs 'key' as a key path"),
    ({"action": "add_checkpoint", "resource": GATEWAY, "key": "Keyfactor\\Parameters"}, "needs 'key' as a key path"),
    ({"action": "add_checkpoint", "resource": GATEWAY, "key": "SOFTWARE/Keyfactor"}, "needs 'key' as a key path"),
    ({"action": "Start_Role", "name": "CloudGateway"}, "unknown action 'Start_Role'"),
    ({"action": "delete_role", "name": "CloudGateway"}, "unknown action 'delete_role'"),
])
def test_the_model_validates_every_operation_as_the_payload_does_before_any_change(operation, message):
    cluster = make_cluster()
    before = copy.deepcopy(cluster)
    result = apply(make_node(cluster), CREATE, operation)
    assert result["failed"] and message in message_of(result), message_of(result)
    assert result["result"]["applied"] == [] and cluster == before


def test_a_probe_without_a_role_name_fails_as_the_payload_does():
    result = run_payload(make_node(make_cluster()), {"Mode": "probe", "Name": " ", "Services": [], "Disks": []})
    assert "Invalid Name: give the name of the cluster role." in message_of(result)


def test_a_registry_key_directly_under_hklm_cannot_be_created():
    state = {}
    with pytest.raises(HostError, match=r"Access to the registry key 'HKEY_LOCAL_MACHINE\\Keyfactor' is denied"):
        create_registry_key(state, "Keyfactor\\Parameters")
    assert state.get("registry", {}) == {}
    create_registry_key(state, "software\\Keyfactor\\Parameters")
    assert "software\\Keyfactor\\Parameters" in state["registry"]


def test_a_checkpoint_of_a_whole_hive_is_refused_but_a_key_the_cluster_spells_its_own_way_can_be_removed():
    cluster = make_cluster()
    node = make_node(cluster)
    hive = [{"action": "add_checkpoint", "resource": "Cluster Disk 2", "key": "SOFTWARE"}]
    result = run_payload(node, {"Mode": "apply", "Name": "x", "Operations": hive})
    assert "add_checkpoint needs 'key' as a key path below a hive of HKEY_LOCAL_MACHINE" in message_of(result)
    removal = [{"action": "remove_checkpoint", "resource": "Cluster Disk 2", "key": "SOFTWARE\\Vendor\\"}]
    result = run_payload(node, {"Mode": "apply", "Name": "x", "Operations": removal})
    assert "needs 'key'" not in message_of(result)
    assert "The specified checkpoint was not found." in message_of(result)


def test_start_role_waits_while_a_new_role_is_pending_for_at_most_its_timeout():
    cluster = make_cluster()
    refused = apply(make_node(cluster), CREATE, {"action": "start_role", "name": "CloudGateway", "timeout_seconds": 0})
    assert message_of(refused).startswith("The role 'CloudGateway' is still Pending after 0 seconds, so it cannot be started "
                                          "yet; resources: ")
    cluster = make_cluster()
    started = apply(make_node(cluster), CREATE, {"action": "start_role", "name": "CloudGateway", "timeout_seconds": 120})
    assert not started.get("failed"), started
