"""Model of plugins/plugin_utils/_powershell/cluster_generic_service_role.ps1 (see ../cluster.py).

What Windows does that the model keeps:
- the FailoverClusters module exists only with the RSAT-Clustering-PowerShell feature;
- only a node of a cluster, with its cluster service running, can query or change it;
- a change reaches the other nodes, so it needs credentials that can leave the host: a task run with become, or
  a cluster whose nodes' sessions may delegate (``credential_delegation``); otherwise access is denied;
- Add-ClusterGenericServiceRole is all or nothing, names the service resource after the service's display name, and
  with -Wait 0 returns while the new role is still Pending; -IgnoreNetwork takes subnets (10.38.1.0/24), not
  network names; a resource added with Add-ClusterResource is offline until the group is started;
- the rules of ../cluster.py: group states, unique resource names, dependencies, moves.

The payload's own waits (for a role to leave Pending, for it to come Online) poll once a second; here each poll
lets a second pass on the cluster.
"""

from __future__ import annotations

import copy
import ipaddress

from .. import cluster as model
from ..errors import HostError
from ..models import payload_model
from ..stock.win_feature import is_installed

_STRING_FIELDS = {
    "create_role": ("name", "service_name"),
    "add_checkpoint": ("resource", "key"),
    "remove_checkpoint": ("resource", "key"),
    "add_service_resource": ("resource", "group", "service_name"),
    "add_dependency": ("resource", "provider"),
    "add_disk": ("disk", "group"),
    "start_role": ("name",),
    "move_role": ("name", "node"),
    "wait_online": ("name",),
    "stop_role": ("name",),
    "remove_dependency": ("resource", "provider"),
    "release_disk": ("disk", "name"),
    "remove_role": ("name",),
}
_LIST_FIELDS = {"create_role": ("static_addresses", "ignore_networks", "storage")}
_TIMEOUT_ACTIONS = ("start_role", "move_role", "wait_online")
# The keys directly under HKEY_LOCAL_MACHINE; a checkpoint's key lies below one of them.
_HIVE_ROOTS = ("HARDWARE", "SAM", "SECURITY", "SOFTWARE", "SYSTEM", "BCD00000000")
# Wait-RoleOnline gives up early on a role that has stayed Failed, or gone back to Offline, this long.
SETTLED_SECONDS = 10
_RUNTIME = "System.Management.Automation.RuntimeException"


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
    # This run started after the last one ended: whatever was Pending then has settled.
    model.settle_all(cluster)
    return cluster


def local_node(call, cluster: dict) -> str:
    """The local node as the cluster names it: the node whose Id is GetClusterNodeId's answer for this host."""
    return model.find_node(cluster, call.host.computer_name)["name"]


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
    resource = model.find_by_name(model.get_cluster_resource(cluster), name)
    return {"name": name, "found": resource is not None,
            "resource_type": resource["resource_type"] if resource else None,
            "owner_group": resource["group"] if resource else None,
            "owner_group_type": model.require_group(cluster, resource["group"])["group_type"] if resource else None,
            "state": resource["state"] if resource else None}


def _dependency_expression(cluster: dict, resource: dict) -> str:
    """Get-ClusterResourceDependency -Guid: the expression with each resource's id in brackets."""
    return " and ".join(f"[{model.require_resource(cluster, name)['id']}]" for name in resource["dependencies"])


def _network_report(network: dict) -> dict:
    report = {k: network.get(k) for k in ("name", "role", "address", "address_mask")}
    report["ipv4_addresses"] = list(network.get("ipv4_addresses") or ([network["address"]] if network.get("address") else []))
    report["ipv4_prefix_lengths"] = [str(n) for n in network.get("ipv4_prefix_lengths") or (
        [ipaddress.IPv4Network(f"0.0.0.0/{network['address_mask']}").prefixlen] if network.get("address") else [])]
    report["ipv6_addresses"] = list(network.get("ipv6_addresses") or [])
    report["ipv6_prefix_lengths"] = [str(n) for n in network.get("ipv6_prefix_lengths") or []]
    return report


def _group_report(cluster: dict, name: str) -> dict | None:
    group = model.find_by_name(cluster["groups"], name)
    if group is None:
        return None
    return {
        "name": group["name"], "group_type": group["group_type"], "state": group["state"],
        "owner_node": group["owner_node"],
        "resources": [{
            "name": r["name"], "id": r["id"], "resource_type": r["resource_type"], "state": r["state"],
            "service_name": r["parameters"].get("ServiceName") if r["resource_type"] == "Generic Service" else None,
            "address": r["parameters"].get("Address") if r["resource_type"] == "IP Address" else None,
            "enable_dhcp": r["parameters"].get("EnableDhcp") == 1 if r["resource_type"] == "IP Address" else None,
            "dependency_expression": _dependency_expression(cluster, r),
            "checkpoints": list(r["checkpoints"]),
        } for r in model.group_resources(cluster, group["name"])],
    }


def cluster_report(call, cluster: dict) -> dict:
    return {
        "name": cluster["name"],
        "local_node": local_node(call, cluster),
        "nodes": [{"name": n["name"], "state": n["state"], "id": n["id"]} for n in cluster["nodes"]],
        "networks": [_network_report(n) for n in cluster["networks"]],
    }


def _string_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _probe(call) -> None:
    parameters = call.parameters
    name = parameters.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise HostError("Invalid Name: give the name of the cluster role.", _RUNTIME)
    cluster = _cluster_of(call)
    services = call.host.state.get("services", {})
    call.result = {
        "cluster": cluster_report(call, cluster),
        "services": [_service_report(services, q) for q in parameters.get("Services") or []],
        "disks": [_disk_report(cluster, d) for d in parameters.get("Disks") or []],
        "group": _group_report(cluster, name),
        "resources": [{"name": r["name"], "group": r["group"]} for r in model.get_cluster_resource(cluster)],
    }


def _text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _checkpoint_key_problem(key: str) -> bool:
    """A key to add must lie below a hive, never be one: Assert-Operation's check."""
    names = key.split("\\")
    return (any(not n for n in names) or "/" in key or ":" in key
            or names[0].upper() not in _HIVE_ROOTS or len(names) < 2)


def _validate(operations) -> None:
    """Assert-Operation: every operation well formed, before the first change."""
    # [object[]]$Operations: a single operation binds as a list of one.
    operations = operations if isinstance(operations, list) else [operations]
    for index, operation in enumerate(operations, start=1):
        if not isinstance(operation, dict):
            raise HostError(f"Invalid operation #{index}: it must be a dictionary with an action.", _RUNTIME)
        action = operation.get("action")
        if not isinstance(action, str) or action not in _STRING_FIELDS:
            raise HostError(f"Invalid operation #{index}: unknown action '{action}'; expected one of "
                            f"{', '.join(sorted(_STRING_FIELDS))}.", _RUNTIME)
        for field in _STRING_FIELDS[action]:
            if not _text(operation.get(field)):
                raise HostError(f"Invalid operation #{index}: {action} needs '{field}' as a non-empty string.", _RUNTIME)
        for field in _LIST_FIELDS.get(action, ()):
            value = operation.get(field)
            if not _string_list(value) or not all(_text(item) for item in value):
                raise HostError(f"Invalid operation #{index}: {action} needs '{field}' as a list, possibly empty, of "
                                "non-empty strings.", _RUNTIME)
        if action in _TIMEOUT_ACTIONS:
            timeout = operation.get("timeout_seconds")
            if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
                raise HostError(f"Invalid operation #{index}: {action} needs 'timeout_seconds' as a whole number of "
                                "seconds, 0 or more.", _RUNTIME)
        if action == "add_checkpoint" and _checkpoint_key_problem(operation["key"]):
            raise HostError(f"Invalid operation #{index}: {action} needs 'key' as a key path below a hive of "
                            "HKEY_LOCAL_MACHINE, such as SOFTWARE\\Vendor\\Product.", _RUNTIME)


def _fail(context: str, message: str, type_name: str = "System.InvalidOperationException"):
    raise HostError(f"{context}: {message}", type_name)


def _subnet(address, prefix) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    except (TypeError, ValueError):
        return None


def network_subnets(network: dict) -> list:
    """A cluster network's subnets: its IPv4 ones (Ipv4Addresses, or Address/AddressMask), and its IPv6 prefixes."""
    subnets = [_subnet(a, p) for a, p in zip(network.get("ipv4_addresses") or [], network.get("ipv4_prefix_lengths") or [])]
    subnets = subnets or [_subnet(network.get("address"), network.get("address_mask"))]
    subnets += [_subnet(a, p) for a, p in zip(network.get("ipv6_addresses") or [], network.get("ipv6_prefix_lengths") or [])]
    return [s for s in subnets if s is not None]


def _ignored_networks(cluster: dict, entries: list[str], context: str) -> set[str]:
    """-IgnoreNetwork: each entry a subnet of a cluster network, as <address>/<prefix length>."""
    ignored = set()
    for entry in entries:
        try:
            subnet = ipaddress.ip_network(entry, strict=True)
        except ValueError:
            _fail(context, f"'{entry}' is not a network to ignore: give a subnet in the form <address>/<prefix "
                  "length>, such as 10.38.1.0/24.", "System.ArgumentException")
        network = next((n for n in cluster["networks"] if subnet in network_subnets(n)), None)
        if network is None:
            _fail(context, f"No cluster network has the subnet {entry}.", "System.ArgumentException")
        ignored.add(network["name"].lower())
    return ignored


def _create_role(call, cluster: dict, op: dict) -> None:
    """Add-ClusterGenericServiceRole ... -Wait 0."""
    context = f"Cannot create the role '{op['name']}'"
    if model.find_group(cluster, op["name"]) or model.find_resource(cluster, op["name"]):
        _fail(context, f"The cluster already has a group or resource named '{op['name']}'.")
    services = call.host.state.get("services", {})
    service_name = _find_service(services, op["service_name"])
    service = services.get(service_name) if service_name else None
    if service is None:
        _fail(context, f"Cannot find any service with service name '{op['service_name']}'.")
    storage_group = model.require_group(cluster, model.AVAILABLE_STORAGE)
    for disk in op["storage"]:
        resource = model.find_resource(cluster, disk)
        if resource is None or resource["group"] != model.AVAILABLE_STORAGE:
            _fail(context, f"The disk '{disk}' is not available storage.")
    ignored = _ignored_networks(cluster, op["ignore_networks"], context)
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
        if not any(ipaddress.ip_address(a) in s for a in op["static_addresses"] for s in network_subnets(network)
                   if s.version == 4):
            _fail(context, f"There is no static address for the network '{network['name']}', which has no DHCP; give one "
                  "or ignore the network.")
    names = ([op["name"], service.get("display_name", op["service_name"])]
             + [f"IP Address {a}" for a in op["static_addresses"] + dhcp_addresses])
    taken = [n for n in names if model.find_resource(cluster, n)]
    if taken:
        _fail(context, f"The cluster already has a resource named '{taken[0]}'. {model.ERROR_OBJECT_ALREADY_EXISTS}")
    owner = local_node(call, cluster)
    if op["storage"] and str(storage_group["owner_node"]).lower() != owner.lower():
        # The disks join the new group, which the same-node rule allows only from the node that has them.
        model.move_group(cluster, storage_group, owner)
    group = {"name": op["name"], "group_type": "GenericService", "owner_node": owner, "state": "Offline",
             "pending_restore": None}
    cluster["groups"].append(group)
    addresses = []
    for address, dhcp in [(a, 0) for a in op["static_addresses"]] + [(a, 1) for a in dhcp_addresses]:
        addresses.append(model.add_resource(cluster, {"name": f"IP Address {address}", "resource_type": "IP Address",
                                                      "group": op["name"],
                                                      "parameters": {"Address": address, "EnableDhcp": dhcp}})["name"])
    model.add_resource(cluster, {"name": op["name"], "resource_type": "Network Name", "group": op["name"],
                                 "parameters": {"DnsName": op["name"]}, "dependencies": addresses})
    for disk in op["storage"]:
        model.change_resource_group(cluster, model.find_resource(cluster, disk), group)
    model.add_resource(cluster, {"name": service.get("display_name", op["service_name"]), "resource_type": "Generic Service",
                                 "group": op["name"], "parameters": {"ServiceName": op["service_name"]},
                                 "dependencies": [op["name"]] + [model.find_resource(cluster, d)["name"]
                                                                 for d in op["storage"]]})
    model.start_group(cluster, group)


def _exact_resource(cluster: dict, name: str) -> dict:
    """The payload's lookup: every resource, then Find-ByName; never Get-ClusterResource -Name."""
    resource = model.find_by_name(model.get_cluster_resource(cluster), name)
    if resource is None:
        raise HostError(f"the cluster has no resource named '{name}'.", _RUNTIME)
    return resource


def _exact_group(cluster: dict, name: str) -> dict:
    group = model.find_by_name(cluster["groups"], name)
    if group is None:
        raise HostError(f"the cluster has no role named '{name}'.", _RUNTIME)
    return group


def _wait_not_pending(cluster: dict, group: dict, timeout: int, purpose: str) -> None:
    """Wait-RoleNotPending: poll once a second until the group is no longer Pending, for at most timeout seconds."""
    elapsed = 0
    while group["state"] == "Pending":
        if elapsed >= timeout:
            raise HostError(f"The role '{group['name']}' is still Pending after {timeout} seconds, so it cannot be "
                            f"{purpose} yet; resources: {_resource_states(cluster, group)}", "System.TimeoutException")
        model.elapse(cluster, 1)
        elapsed += 1


def _resource_states(cluster: dict, group: dict) -> str:
    return ", ".join(f"{r['name']} ({r['state']})" for r in model.group_resources(cluster, group["name"]))


def _wait_online(cluster: dict, op: dict) -> None:
    """Wait-RoleOnline: poll once a second until the group is Online, for at most timeout_seconds; give up early on a
    group that stays Failed, or that has gone back to Offline after it had started, for SETTLED_SECONDS."""
    group = _exact_group(cluster, op["name"])
    timeout, elapsed, settled_since, started = op["timeout_seconds"], 0, None, group["state"] != "Offline"
    while True:
        state = group["state"]
        if state == "Online":
            return
        started = started or state != "Offline"
        final = state == "Failed" or (state == "Offline" and started)
        settled_since = (settled_since if settled_since is not None else elapsed) if final else None
        if settled_since is not None and elapsed - settled_since >= SETTLED_SECONDS:
            raise HostError(f"The role '{op['name']}' is {state} and has stayed so for {elapsed - settled_since} seconds, "
                            f"so it will not come Online by itself; resources: {_resource_states(cluster, group)}",
                            "System.InvalidOperationException")
        if elapsed >= timeout:
            raise HostError(f"The role '{op['name']}' is not Online after {timeout} seconds; its state is {state}; "
                            f"resources: {_resource_states(cluster, group)}", "System.TimeoutException")
        model.elapse(cluster, 1)
        elapsed += 1


def _add_service_resource(call, cluster: dict, op: dict) -> None:
    context = f"Cannot create Generic Service resource '{op['resource']}' in the role '{op['group']}'"
    group = _exact_group(cluster, op["group"])
    existing = model.find_by_name(model.get_cluster_resource(cluster), op["resource"])
    if existing and (existing["resource_type"] != "Generic Service" or existing["group"].lower() != group["name"].lower()):
        _fail(context, model.ERROR_OBJECT_ALREADY_EXISTS)
    if not existing:
        # Add-ClusterResource, then Set-ClusterParameter: two calls, and a failure may land between them.
        existing = model.add_resource(cluster, {"name": op["resource"], "resource_type": "Generic Service",
                                                "group": group["name"]})
        model.refresh(cluster, group)
        call.operation_done()
    existing["parameters"]["ServiceName"] = op["service_name"]


def _add_disk(cluster: dict, op: dict) -> None:
    """Add-RoleDisk: Available Storage moves to the role's node when it is elsewhere, then the disk moves."""
    disk = _exact_resource(cluster, op["disk"])
    target = _exact_group(cluster, op["group"])
    source = model.require_group(cluster, disk["group"])
    if source["group_type"] == "AvailableStorage" and str(source["owner_node"]).lower() != str(target["owner_node"]).lower():
        model.move_group(cluster, source, target["owner_node"])
    model.change_resource_group(cluster, disk, target)


def _release_disk(cluster: dict, op: dict) -> None:
    """Return-RoleDisk: the stopped role moves to Available Storage's node when it is elsewhere, then the disk moves
    to Available Storage, offline as the role left it."""
    disk = _exact_resource(cluster, op["disk"])
    role = _exact_group(cluster, op["name"])
    storage = next(g for g in cluster["groups"] if g["group_type"] == "AvailableStorage")
    if str(role["owner_node"]).lower() != str(storage["owner_node"]).lower():
        model.move_group(cluster, role, storage["owner_node"])
    model.change_resource_group(cluster, disk, storage)


def _apply_one(call, cluster: dict, op: dict) -> None:
    action = op["action"]
    if action == "create_role":
        _create_role(call, cluster, op)
    elif action in ("add_checkpoint", "remove_checkpoint"):
        verb = "add" if action == "add_checkpoint" else "remove"
        context = f"Cannot {verb} registry checkpoint '{op['key']}' of cluster resource '{op['resource']}'"
        resource = _exact_resource(cluster, op["resource"])
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
        _add_service_resource(call, cluster, op)
    elif action == "add_dependency":
        model.add_dependency(cluster, _exact_resource(cluster, op["resource"]), _exact_resource(cluster, op["provider"]))
    elif action == "remove_dependency":
        model.remove_dependency(_exact_resource(cluster, op["resource"]), _exact_resource(cluster, op["provider"]))
    elif action == "add_disk":
        _add_disk(cluster, op)
    elif action == "release_disk":
        _release_disk(cluster, op)
    elif action == "start_role":
        group = _exact_group(cluster, op["name"])
        _wait_not_pending(cluster, group, op["timeout_seconds"], "started")
        model.start_group(cluster, group)
    elif action == "stop_role":
        model.stop_group(cluster, _exact_group(cluster, op["name"]))
    elif action == "move_role":
        group = _exact_group(cluster, op["name"])
        _wait_not_pending(cluster, group, op["timeout_seconds"], f"moved to '{op['node']}'")
        model.move_group(cluster, group, op["node"])
    elif action == "remove_role":
        group = _exact_group(cluster, op["name"])
        cluster["resources"] = [r for r in cluster["resources"] if r["group"].lower() != group["name"].lower()]
        cluster["groups"].remove(group)


def _apply(call) -> None:
    applied: list = []
    call.result = {"applied": applied}
    operations = call.parameters.get("Operations")
    operations = [] if operations is None else operations if isinstance(operations, list) else [operations]
    _validate(operations)
    if not operations:
        return
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
