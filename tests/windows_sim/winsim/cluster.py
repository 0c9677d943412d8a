"""A Failover Cluster shared by several simulated hosts: one JSON file that every node's state points at.

Schema (documented in ../README.md):

- ``name``: the cluster's name;
- ``nodes``: ``{"name", "state": "Up" | "Down" | "Paused", "id"}``; ``id`` defaults to the node's position from 1;
- ``networks``: ``{"name", "role": "None" | "Cluster" | "Client" | "ClusterAndClient", "address", "address_mask",
  "ipv4_addresses", "ipv4_prefix_lengths" (every IPv4 subnet, where there are more than address and address_mask give), "ipv6_addresses",
  "ipv6_prefix_lengths", "dhcp": bool}``; a client network without DHCP needs a static address
  for each new role, or must be ignored by one of its subnets;
- ``groups``: ``{"name", "group_type", "owner_node", "state", "pending_restore"}``, and ``settles_in`` (seconds) while
  the group is Pending; ``Cluster Group`` and ``Available Storage`` always exist;
- ``resources``: ``{"name", "id", "resource_type", "group", "state", "parameters": {...}, "dependencies": [names],
  "checkpoints": [keys], "checkpoint_data": {key: registry subtree}}``; a seeded disk is
  ``{"name": "Cluster Disk 2", "resource_type": "Physical Disk"}``;
- ``failing_services``: service names whose Generic Service resource fails to come online;
- ``pending_seconds``: how long a group that is started stays Pending before it settles (2 by default);
- ``credential_delegation``: true when the nodes' sessions may reach the other nodes (CredSSP or Kerberos
  delegation); otherwise only a task run with become can change the cluster.

What Windows does that the model keeps:
- a group's state follows its resources' states as CLUSTER_GROUP_STATE (clusapi.h) defines it: Failed when a
  resource has failed, Pending when one is pending and none failed, Online when all are online, PartialOnline when
  some are online and none pending or failed, Offline otherwise;
- starting a group returns at once and leaves it Pending until its resources have come online or failed;
- a Pending group cannot be moved;
- resource names are unique in the whole cluster ("A resource name must be unique within the cluster", the
  resource Name property) and compared without regard to case;
- a dependency joins two resources of one group; one that exists already fails with
  ERROR_DEPENDENCY_ALREADY_EXISTS (5003), one that would close a circle with ERROR_CIRCULAR_DEPENDENCY, one on the
  resource itself with ERROR_INVALID_PARAMETER (AddClusterResourceDependency; MS-CMRP ApiAddResourceDependency);
- a resource moves to another group only when both groups are owned by the same node, and takes the resources
  it is joined to by dependencies with it (ChangeClusterResourceGroup);
- Get-ClusterResource -Name matches PowerShell wildcards.
"""

from __future__ import annotations

import contextlib
import copy
import re
import uuid

from . import state as state_file
from .errors import HostError

AVAILABLE_STORAGE = "Available Storage"
CORE_GROUP = "Cluster Group"
PENDING_SECONDS = 2
PENDING_STATES = ("Pending", "OnlinePending", "OfflinePending")

# What Windows answers when the WinRM session's credentials cannot reach the other nodes.
ACCESS_DENIED = ("Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))",
                 "System.UnauthorizedAccessException")
_WIN32 = "System.ComponentModel.Win32Exception"
ERROR_INVALID_PARAMETER = "The parameter is incorrect. (Exception from HRESULT: 0x80070057 (E_INVALIDARG))"
ERROR_CIRCULAR_DEPENDENCY = "Circular service dependency was specified. (Exception from HRESULT: 0x80070423)"
ERROR_DEPENDENCY_ALREADY_EXISTS = ("The cluster resource cannot be made dependent on the specified resource because it "
                                   "is already dependent. (Exception from HRESULT: 0x8007138B)")
ERROR_INVALID_STATE = ("The group or resource is not in the correct state to perform the requested operation. "
                       "(Exception from HRESULT: 0x8007139F)")
ERROR_OBJECT_ALREADY_EXISTS = "The object already exists. (Exception from HRESULT: 0x80071392)"


def complete(cluster: dict) -> dict:
    cluster.setdefault("name", "CLUSTER")
    cluster.setdefault("nodes", [])
    cluster.setdefault("networks", [])
    cluster.setdefault("groups", [])
    cluster.setdefault("resources", [])
    cluster.setdefault("failing_services", [])
    cluster.setdefault("pending_seconds", PENDING_SECONDS)
    cluster.setdefault("credential_delegation", False)
    for position, node in enumerate(cluster["nodes"], start=1):
        node.setdefault("id", str(position))
    first_node = cluster["nodes"][0]["name"] if cluster["nodes"] else None
    for name, group_type in ((CORE_GROUP, "Cluster"), (AVAILABLE_STORAGE, "AvailableStorage")):
        if find_group(cluster, name) is None:
            cluster["groups"].append({"name": name, "group_type": group_type, "owner_node": first_node, "state": "Online"})
    for group in cluster["groups"]:
        group.setdefault("pending_restore", None)
    for resource in cluster["resources"]:
        resource.setdefault("id", resource_id(resource["name"]))
        resource.setdefault("checkpoint_data", {})
        resource.setdefault("group", AVAILABLE_STORAGE)
        resource.setdefault("state", "Online")
        resource.setdefault("parameters", {})
        resource.setdefault("dependencies", [])
        resource.setdefault("checkpoints", [])
    return cluster


@contextlib.contextmanager
def locked(path: str):
    """The cluster's state, held under the file's lock; taken after the node's own lock, never before.

    Runs are seconds apart, so a group left Pending by one run has settled by the next.
    """
    with state_file.locked_json(path) as cluster:
        settle_all(complete(cluster))
        yield cluster


def resource_id(name: str) -> str:
    """Windows gives each resource a GUID of its own; here it derives from the name, so that two simulated
    clusters that went through the same changes compare equal."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"windows-sim-resource:{name.lower()}"))


def _named(items: list, name: str) -> dict | None:
    return next((item for item in items if item["name"].lower() == str(name).lower()), None)


def find_group(cluster: dict, name: str) -> dict | None:
    return _named(cluster["groups"], name)


def find_resource(cluster: dict, name: str) -> dict | None:
    return _named(cluster["resources"], name)


def find_node(cluster: dict, name: str) -> dict | None:
    return _named(cluster["nodes"], name)


def group_resources(cluster: dict, group: str) -> list[dict]:
    return [r for r in cluster["resources"] if r["group"].lower() == group.lower()]


def require_group(cluster: dict, name: str) -> dict:
    group = find_group(cluster, name)
    if group is None:
        raise HostError(f"The cluster group '{name}' was not found.", _WIN32)
    return group


def require_resource(cluster: dict, name: str) -> dict:
    resource = find_resource(cluster, name)
    if resource is None:
        raise HostError(f"The cluster resource '{name}' could not be found.", _WIN32)
    return resource


# --- Get-ClusterResource -Name ------------------------------------------------------------------------------------


def _wildcard(pattern: str) -> re.Pattern:
    """PowerShell's WildcardPattern, without regard to case: * ? [set] [a-z], and ` quoting the next character."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "`" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                raise HostError(f"The specified wildcard character pattern is not valid: {pattern}",
                                "System.Management.Automation.WildcardPatternException")
            members = pattern[index + 1:end]
            out.append("[" + "".join("-" if c == "-" else re.escape(c) for c in members) + "]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def get_cluster_resource(cluster: dict, name: str | None = None) -> list[dict]:
    """Get-ClusterResource [-Name]: every resource, or those whose name matches the pattern.

    Learn documents -Name as taking no wildcards; the cmdlet nevertheless reads [ ] as a set, so "Disk [1]" finds
    "Disk 1" and never a resource named "Disk [1]". A name without wildcard characters that names nothing fails.
    """
    if name is None:
        return list(cluster["resources"])
    if not any(c in name for c in "*?["):
        return [require_resource(cluster, name)]
    pattern = _wildcard(name)
    return [r for r in cluster["resources"] if pattern.fullmatch(r["name"])]


def find_by_name(items: list[dict], name: str) -> dict | None:
    """The payload's Find-ByName: an exact comparison, without regard to case."""
    return _named(items, name)


# --- resources ----------------------------------------------------------------------------------------------------


def add_resource(cluster: dict, resource: dict) -> dict:
    """A new resource, offline; its name must be free in the whole cluster."""
    if find_resource(cluster, resource["name"]) is not None:
        raise HostError(f"Failed to create the cluster resource '{resource['name']}': {ERROR_OBJECT_ALREADY_EXISTS}",
                        _WIN32)
    resource = {"id": resource_id(resource["name"]), "state": "Offline", "parameters": {}, "dependencies": [], "checkpoints": [],
                "checkpoint_data": {}, **resource}
    cluster["resources"].append(resource)
    return resource


def _reaches(cluster: dict, start: dict, target: dict) -> bool:
    """Whether start depends on target, directly or through other resources."""
    seen, todo = set(), [start]
    while todo:
        resource = todo.pop()
        if resource["name"].lower() == target["name"].lower():
            return True
        if resource["name"].lower() in seen:
            continue
        seen.add(resource["name"].lower())
        todo += [p for p in (find_resource(cluster, d) for d in resource["dependencies"]) if p is not None]
    return False


def add_dependency(cluster: dict, resource: dict, provider: dict) -> None:
    """AddClusterResourceDependency: resource depends on provider from now on."""
    context = f"Failed to add a dependency on '{provider['name']}' to '{resource['name']}'"
    if provider is resource or provider["name"].lower() == resource["name"].lower():
        raise HostError(f"{context}: {ERROR_INVALID_PARAMETER}", _WIN32)
    if provider["group"].lower() != resource["group"].lower():
        raise HostError(f"{context}: {ERROR_INVALID_PARAMETER}", _WIN32)
    if any(d.lower() == provider["name"].lower() for d in resource["dependencies"]):
        raise HostError(f"{context}: {ERROR_DEPENDENCY_ALREADY_EXISTS}", _WIN32)
    if _reaches(cluster, provider, resource):
        raise HostError(f"{context}: {ERROR_CIRCULAR_DEPENDENCY}", _WIN32)
    resource["dependencies"].append(provider["name"])


def remove_dependency(resource: dict, provider: dict) -> None:
    present = [d for d in resource["dependencies"] if d.lower() == provider["name"].lower()]
    if not present:
        raise HostError(f"The cluster resource dependency cannot be found. '{resource['name']}' does not depend on "
                        f"'{provider['name']}'.", _WIN32)
    resource["dependencies"].remove(present[0])


def _dependency_tree(cluster: dict, resource: dict) -> list[dict]:
    """The resources joined to resource by dependencies, either way, itself included."""
    members = group_resources(cluster, resource["group"])
    tree, todo = [], [resource]
    while todo:
        current = todo.pop()
        if any(r is current for r in tree):
            continue
        tree.append(current)
        names = {d.lower() for d in current["dependencies"]}
        todo += [r for r in members if r["name"].lower() in names
                 or current["name"].lower() in {d.lower() for d in r["dependencies"]}]
    return tree


def change_resource_group(cluster: dict, resource: dict, target: dict) -> None:
    """Move-ClusterResource (ChangeClusterResourceGroup): both groups "must be owned by the same node regardless of
    the resource's state", and the resource's whole dependency tree moves with it."""
    source = require_group(cluster, resource["group"])
    if str(source["owner_node"]).lower() != str(target["owner_node"]).lower():
        raise HostError(f"Failed to move the cluster resource '{resource['name']}' to the group '{target['name']}': the "
                        f"groups '{source['name']}' (on {source['owner_node']}) and '{target['name']}' (on "
                        f"{target['owner_node']}) are not owned by the same node. {ERROR_INVALID_STATE}", _WIN32)
    for member in _dependency_tree(cluster, resource):
        member["group"] = target["name"]
    refresh(cluster, source)
    refresh(cluster, target)


# --- group states -------------------------------------------------------------------------------------------------


def group_state(resources: list[dict]) -> str:
    """CLUSTER_GROUP_STATE from the resources' states."""
    states = [r["state"] for r in resources]
    if "Failed" in states:
        return "Failed"
    if any(s in PENDING_STATES for s in states):
        return "Pending"
    if states and all(s == "Online" for s in states):
        return "Online"
    if "Online" in states:
        return "PartialOnline"
    return "Offline"


def refresh(cluster: dict, group: dict) -> None:
    group["state"] = group_state(group_resources(cluster, group["name"]))


def start_group(cluster: dict, group: dict) -> None:
    """Start-ClusterGroup -Wait 0 (and Add-ClusterGenericServiceRole -Wait 0): the resources that are not online start
    coming online, and the group is Pending until they have."""
    for resource in group_resources(cluster, group["name"]):
        if resource["state"] != "Online":
            resource["state"] = "OnlinePending"
    refresh(cluster, group)
    if group["state"] == "Pending":
        group["settles_in"] = cluster["pending_seconds"]
        if group["settles_in"] <= 0:
            settle(cluster, group)
    else:
        came_online(group)


def settle(cluster: dict, group: dict) -> None:
    """The pending resources have come online, or failed when their service does not start."""
    failing = {s.lower() for s in cluster["failing_services"]}
    for resource in group_resources(cluster, group["name"]):
        if resource["state"] in PENDING_STATES:
            service = str(resource["parameters"].get("ServiceName", "")).lower()
            resource["state"] = "Failed" if service and service in failing else "Online"
    group.pop("settles_in", None)
    refresh(cluster, group)
    came_online(group)


def elapse(cluster: dict, seconds: int) -> None:
    """Time passes: a Pending group whose resources have had long enough settles."""
    for group in cluster["groups"]:
        if "settles_in" in group:
            group["settles_in"] -= seconds
            if group["settles_in"] <= 0:
                settle(cluster, group)


def settle_all(cluster: dict) -> None:
    for group in cluster["groups"]:
        if "settles_in" in group:
            settle(cluster, group)


def stop_group(cluster: dict, group: dict) -> None:
    """Stop-ClusterGroup, which returns once the role is offline."""
    for resource in group_resources(cluster, group["name"]):
        resource["state"] = "Offline"
    group.pop("settles_in", None)
    refresh(cluster, group)


def move_group(cluster: dict, group: dict, node_name: str) -> None:
    """Move-ClusterGroup, which returns once the move has completed: the group is taken offline, moved, and brought
    back to the state it had ("the cluster always attempts to return the group to the state it was before the
    move", MoveClusterGroup). A group still coming online or going offline cannot be moved."""
    context = f"Failed to move the group '{group['name']}' to the node '{node_name}'"
    if group["state"] == "Pending":
        raise HostError(f"{context}: {ERROR_INVALID_STATE}", _WIN32)
    node = find_node(cluster, node_name)
    if node is None or node["state"] != "Up":
        raise HostError(f"{context}: the node is not available.", _WIN32)
    if str(group["owner_node"]).lower() == node["name"].lower():
        return
    group["owner_node"] = node["name"]
    failing = {s.lower() for s in cluster["failing_services"]}
    for resource in group_resources(cluster, group["name"]):
        if resource["state"] in ("Online", "Failed"):
            service = str(resource["parameters"].get("ServiceName", "")).lower()
            resource["state"] = "Failed" if service and service in failing else "Online"
    refresh(cluster, group)
    came_online(group)


def came_online(group: dict) -> None:
    """The resources start on the owner node, which first gets the checkpointed registry keys restored."""
    if group["state"] in ("Online", "PartialOnline"):
        group["pending_restore"] = group["owner_node"]


# Registry checkpoints. Windows restores a checkpointed key (with its subkeys) on the node a resource comes online
# on, and captures it again whenever it changes on that node while the resource is online; a write on any other node
# is overwritten at the next failover. A node's registry lives in its own state file, which only that node's runs
# open, so restore happens at the start of the owner's next run and capture at its end: no run can observe a
# difference.


def _in_subtree(path: str, key: str) -> bool:
    return path.lower() == key.lower() or path.lower().startswith(key.lower() + "\\")


def _owned_online(cluster: dict, node: str):
    for group in cluster["groups"]:
        if str(group.get("owner_node")).lower() == node.lower() and group["state"] in ("Online", "PartialOnline"):
            yield group


def restore_checkpoints(cluster: dict, host_state: dict, node: str) -> None:
    for group in _owned_online(cluster, node):
        if str(group.get("pending_restore") or "").lower() != node.lower():
            continue
        registry = host_state.setdefault("registry", {})
        for resource in group_resources(cluster, group["name"]):
            for key, subtree in resource.get("checkpoint_data", {}).items():
                for path in [p for p in registry if _in_subtree(p, key)]:
                    del registry[path]
                registry.update(copy.deepcopy(subtree))
        group["pending_restore"] = None


def capture_checkpoints(cluster: dict, host_state: dict, node: str) -> None:
    registry = host_state.get("registry") or {}
    for group in _owned_online(cluster, node):
        if group.get("pending_restore"):
            continue
        for resource in group_resources(cluster, group["name"]):
            resource["checkpoint_data"] = {
                key: {p: copy.deepcopy(v) for p, v in registry.items() if _in_subtree(p, key)}
                for key in resource["checkpoints"]
            }
