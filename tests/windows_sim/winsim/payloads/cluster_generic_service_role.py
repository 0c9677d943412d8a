"""Model of plugins/plugin_utils/_powershell/cluster_generic_service_role.ps1 (see ../cluster.py).

What Windows does that the model keeps:
- the FailoverClusters module exists only with the RSAT-Clustering-PowerShell feature;
- only a node of a cluster, with its cluster service running, can query or change it;
- a change reaches the other nodes, so it needs credentials that can leave the host: a task run with become, or
  a cluster whose nodes' sessions may delegate (``credential_delegation``); otherwise access is denied;
- Add-ClusterGenericServiceRole is all or nothing and names the service resource after the service's display
  name; a resource added with Add-ClusterResource is offline until the group is started.
"""

from __future__ import annotations

import copy
import ipaddress

from .. import cluster as model
from ..errors import HostError
from ..registry import payload_model
from ..stock.win_feature import is_installed

_FIELDS = {
    "create_role": ("name", "service_name", "static_addresses", "ignore_networks", "storage"),
    "add_checkpoint": ("resource", "key"),
    "remove_checkpoint": ("resource", "key"),
    "add_service_resource": ("resource", "group", "service_name"),
    "add_dependency": ("resource", "provider"),
    "add_disk": ("disk", "group"),
    "start_role": ("name",),
    "move_role": ("name", "node"),
    "remove_role": ("name", "keep_disks"),
    "wait_online": ("name", "timeout_seconds"),
}


def _cluster_of(call) -> dict:
    if not is_installed(call.host.state, "RSAT-Clustering-PowerShell"):
        raise HostError("Cannot load the FailoverClusters PowerShell module (install the RSAT-Clustering-PowerShell "
                        "feature): The specified module 'FailoverClusters' was not loaded because no valid module file "
                        "was found in any module directory.", "System.InvalidOperationException")
    cluster = call.host.cluster
    node = model.find_node(cluster, call.host.computer_name) if cluster else None
    if node is None or node["state"] != "Up" or not is_installed(call.host.state, "Failover-Clustering"):
        raise HostError("Cannot read the cluster: The cluster service is not running.  Make sure that the service is "
                        "running on all nodes in the cluster.", "System.InvalidOperationException")
    return cluster


def _find_service(services: dict, query: str) -> str | None:
    """The service whose name, or else whose display name, is query; no wildcards."""
    by_name = [n for n in services if n.lower() == query.lower()]
    by_display_name = [n for n in services if str(services[n].get("display_name", n)).lower() == query.lower()]
    return (by_name or by_display_name or [None])[0]


def _service_report(services: dict, query: str) -> dict:
    name = _find_service(services, query)
    return {"query": query, "found": name is not None, "name": name,
            "display_name": services[name].get("display_name", name) if name else None}


def _disk_report(cluster: dict, name: str) -> dict:
    resource = model.find_resource(cluster, name)
    return {"name": name, "found": resource is not None,
            "resource_type": resource["resource_type"] if resource else None,
            "owner_group": resource["group"] if resource else None,
            "owner_group_type": model.require_group(cluster, resource["group"])["group_type"] if resource else None,
            "state": resource["state"] if resource else None}


def _dependency_expression(resource: dict) -> str:
    return " and ".join(f"[{name}]" for name in resource["dependencies"])


def _group_report(cluster: dict, name: str) -> dict | None:
    group = model.find_group(cluster, name)
    if group is None:
        return None
    return {
        "name": group["name"], "group_type": group["group_type"], "state": group["state"],
        "owner_node": group["owner_node"],
        "resources": [{
            "name": r["name"], "resource_type": r["resource_type"], "state": r["state"],
            "service_name": r["parameters"].get("ServiceName") if r["resource_type"] == "Generic Service" else None,
            "address": r["parameters"].get("Address") if r["resource_type"] == "IP Address" else None,
            "enable_dhcp": r["parameters"].get("EnableDhcp") == 1 if r["resource_type"] == "IP Address" else None,
            "dependency_expression": _dependency_expression(r),
            "checkpoints": list(r["checkpoints"]),
        } for r in model.group_resources(cluster, group["name"])],
    }


def _probe(call) -> None:
    cluster = _cluster_of(call)
    services = call.host.state.get("services", {})
    call.result = {
        "cluster": {
            "name": cluster["name"],
            "local_node": call.host.computer_name,
            "nodes": [{"name": n["name"], "state": n["state"]} for n in cluster["nodes"]],
            "networks": [{k: n.get(k) for k in ("name", "role", "address", "address_mask")} for n in cluster["networks"]],
        },
        "services": [_service_report(services, q) for q in call.parameters.get("Services") or []],
        "disks": [_disk_report(cluster, d) for d in call.parameters.get("Disks") or []],
        "group": _group_report(cluster, call.parameters.get("Name") or ""),
    }


def _validate(operations) -> None:
    for index, operation in enumerate(operations, start=1):
        if not isinstance(operation, dict) or operation.get("action") not in _FIELDS:
            raise HostError(f"Invalid operation #{index}: unknown action.", "System.Management.Automation.RuntimeException")
        missing = [f for f in _FIELDS[operation["action"]] if f not in operation]
        if missing:
            raise HostError(f"Invalid operation #{index}: '{operation['action']}' needs {', '.join(missing)}.",
                            "System.Management.Automation.RuntimeException")


def _fail(context: str, message: str, type_name: str = "System.InvalidOperationException"):
    raise HostError(f"{context}: {message}", type_name)


def _create_role(call, cluster: dict, op: dict) -> None:
    context = f"Cannot create the role '{op['name']}'"
    if model.find_group(cluster, op["name"]) or model.find_resource(cluster, op["name"]):
        _fail(context, f"The cluster already has a group or resource named '{op['name']}'.")
    services = call.host.state.get("services", {})
    service_name = _find_service(services, op["service_name"])
    service = services.get(service_name) if service_name else None
    if service is None:
        _fail(context, f"Cannot find any service with service name '{op['service_name']}'.")
    for disk in op["storage"]:
        resource = model.find_resource(cluster, disk)
        if resource is None or resource["group"] != model.AVAILABLE_STORAGE:
            _fail(context, f"The disk '{disk}' is not available storage.")
    ignored = {n.lower() for n in op["ignore_networks"]}
    dhcp_addresses = []
    for network in cluster["networks"]:
        if network.get("role") not in ("Client", "ClusterAndClient"):
            continue
        if network.get("dhcp"):
            # "Networks with DHCP enabled are always included", even when ignored: the role leases an address there.
            dhcp_addresses.append(str(ipaddress.ip_network(f"{network['address']}/{network['address_mask']}",
                                                           strict=False).network_address + 100))
            continue
        if network["name"].lower() in ignored:
            continue
        subnet = ipaddress.ip_network(f"{network['address']}/{network['address_mask']}", strict=False)
        if not any(ipaddress.ip_address(a) in subnet for a in op["static_addresses"]):
            _fail(context, f"There is no static address for the network '{network['name']}', which has no DHCP; give one "
                  "or ignore the network.")
    owner = call.host.computer_name
    cluster["groups"].append({"name": op["name"], "group_type": "GenericService", "owner_node": owner, "state": "Offline"})
    addresses = []
    for address, dhcp in [(a, 0) for a in op["static_addresses"]] + [(a, 1) for a in dhcp_addresses]:
        addresses.append(f"IP Address {address}")
        cluster["resources"].append({"name": addresses[-1], "resource_type": "IP Address", "group": op["name"],
                                     "state": "Offline", "parameters": {"Address": address, "EnableDhcp": dhcp},
                                     "dependencies": [], "checkpoints": []})
    cluster["resources"].append({"name": op["name"], "resource_type": "Network Name", "group": op["name"],
                                 "state": "Offline", "parameters": {"DnsName": op["name"]}, "dependencies": addresses,
                                 "checkpoints": []})
    for disk in op["storage"]:
        model.find_resource(cluster, disk)["group"] = op["name"]
    cluster["resources"].append({"name": service.get("display_name", op["service_name"]), "resource_type": "Generic Service",
                                 "group": op["name"], "state": "Offline",
                                 "parameters": {"ServiceName": op["service_name"]},
                                 "dependencies": [op["name"]] + list(op["storage"]), "checkpoints": []})
    model.bring_online(cluster, model.find_group(cluster, op["name"]))


def _apply_one(call, cluster: dict, op: dict) -> None:
    action = op["action"]
    if action == "create_role":
        _create_role(call, cluster, op)
    elif action in ("add_checkpoint", "remove_checkpoint"):
        verb = "add" if action == "add_checkpoint" else "remove"
        context = f"Cannot {verb} the registry checkpoint '{op['key']}' of '{op['resource']}'"
        resource = model.find_resource(cluster, op["resource"])
        if resource is None:
            _fail(context, f"The cluster resource '{op['resource']}' could not be found.")
        present = [k for k in resource["checkpoints"] if k.lower() == op["key"].lower()]
        if verb == "add":
            if present:
                _fail(context, "The specified checkpoint already exists.")
            resource["checkpoints"].append(op["key"])
        else:
            if not present:
                _fail(context, "The specified checkpoint was not found.")
            resource["checkpoints"].remove(present[0])
    elif action == "add_service_resource":
        context = f"Cannot create Generic Service resource '{op['resource']}' in the role '{op['group']}'"
        model.require_group(cluster, op["group"])
        existing = model.find_resource(cluster, op["resource"])
        if existing and (existing["resource_type"] != "Generic Service" or existing["group"].lower() != op["group"].lower()):
            _fail(context, "A cluster resource with this name already exists.")
        if not existing:
            # Add-ClusterResource, then Set-ClusterParameter: two calls, and a failure may land between them.
            existing = {"name": op["resource"], "resource_type": "Generic Service", "group": op["group"],
                        "state": "Offline", "parameters": {}, "dependencies": [], "checkpoints": []}
            cluster["resources"].append(existing)
            # An offline resource in an online group: Windows reports the group PartialOnline until it is started.
            group = model.find_group(cluster, op["group"])
            if group["state"] == "Online":
                group["state"] = "PartialOnline"
            call.operation_done()
        existing["parameters"]["ServiceName"] = op["service_name"]
    elif action == "add_dependency":
        resource = model.require_resource(cluster, op["resource"])
        provider = model.require_resource(cluster, op["provider"])
        if provider["group"].lower() != resource["group"].lower():
            _fail(f"Cannot make '{op['resource']}' depend on '{op['provider']}'",
                  "A resource can depend only on resources in its own group.")
        if provider["name"] not in resource["dependencies"]:
            resource["dependencies"].append(provider["name"])
    elif action == "add_disk":
        disk = model.require_resource(cluster, op["disk"])
        model.require_group(cluster, op["group"])
        if disk["group"] != model.AVAILABLE_STORAGE:
            _fail(f"Cannot move the disk '{op['disk']}' to '{op['group']}'", "The disk is not available storage.")
        disk["group"] = op["group"]
    elif action == "start_role":
        model.bring_online(cluster, model.require_group(cluster, op["name"]))
    elif action == "move_role":
        group = model.require_group(cluster, op["name"])
        node = model.find_node(cluster, op["node"])
        if node is None or node["state"] != "Up":
            _fail(f"Cannot move the role '{op['name']}' to '{op['node']}'", "The node is not available.")
        group["owner_node"] = node["name"]
        model.came_online(group)
    elif action == "remove_role":
        group = model.require_group(cluster, op["name"])
        for disk_name in op["keep_disks"]:
            disk = model.find_resource(cluster, disk_name)
            if disk is None or disk["group"].lower() != group["name"].lower():
                continue  # not the role's, so removing the role cannot delete it
            for resource in model.group_resources(cluster, group["name"]):
                resource["dependencies"] = [d for d in resource["dependencies"] if d.lower() != disk_name.lower()]
            disk["group"] = model.AVAILABLE_STORAGE
        cluster["resources"] = [r for r in cluster["resources"] if r["group"].lower() != group["name"].lower()]
        cluster["groups"].remove(group)


def _wait_online(cluster: dict, op: dict) -> None:
    group = model.require_group(cluster, op["name"])
    if group["state"] != "Online":
        resources = ", ".join(f"{r['name']} ({r['state']})" for r in model.group_resources(cluster, group["name"]))
        raise HostError(f"The role '{op['name']}' is not Online after {op['timeout_seconds']} seconds; its state is "
                        f"{group['state']}; resources: {resources}", "System.TimeoutException")


def _apply(call) -> None:
    applied: list = []
    call.result = {"applied": applied}
    operations = call.parameters.get("Operations") or []
    _validate(operations)
    cluster = _cluster_of(call)
    if call.check_mode:
        return
    for operation in operations:
        if operation["action"] == "wait_online":
            _wait_online(cluster, operation)
            continue
        if not call.become and not cluster["credential_delegation"]:
            message, type_name = model.ACCESS_DENIED
            _fail(f"Cannot {operation['action'].replace('_', ' ')} on the cluster '{cluster['name']}'", message, type_name)
        _apply_one(call, cluster, operation)
        applied.append(copy.deepcopy(operation))
        call.changed = True
        call.operation_done()


@payload_model("cluster_generic_service_role")
def cluster_generic_service_role(call) -> None:
    call.changed = False
    if call.mode == "probe":
        _probe(call)
    else:
        _apply(call)
