"""A Failover Cluster shared by several simulated hosts: one JSON file that every node's state points at.

Schema (documented in ../README.md):

- ``name``: the cluster's name;
- ``nodes``: ``{"name", "state": "Up" | "Down" | "Paused"}``;
- ``networks``: ``{"name", "role": "None" | "Cluster" | "Client" | "ClusterAndClient", "address", "address_mask",
  "dhcp": bool}``; a client network without DHCP needs a static address for each new role, or must be ignored;
- ``groups``: ``{"name", "group_type", "owner_node", "state", "pending_restore"}``; ``Cluster Group`` and
  ``Available Storage`` always exist;
- ``resources``: ``{"name", "resource_type", "group", "state", "parameters": {...}, "dependencies": [names],
  "checkpoints": [keys], "checkpoint_data": {key: registry subtree}}``; a seeded disk is
  ``{"name": "Cluster Disk 2", "resource_type": "Physical Disk"}``;
- ``failing_services``: service names whose Generic Service resource fails to come online;
- ``credential_delegation``: true when the nodes' WinRM sessions may reach the other nodes (CredSSP or Kerberos
  delegation); otherwise only a task run with become can change the cluster.
"""

from __future__ import annotations

import contextlib
import copy

from . import state as state_file
from .errors import HostError

AVAILABLE_STORAGE = "Available Storage"
CORE_GROUP = "Cluster Group"

# What Windows answers when the WinRM session's credentials cannot reach the other nodes.
ACCESS_DENIED = ("Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))",
                 "System.UnauthorizedAccessException")


def complete(cluster: dict) -> dict:
    cluster.setdefault("name", "CLUSTER")
    cluster.setdefault("nodes", [])
    cluster.setdefault("networks", [])
    cluster.setdefault("groups", [])
    cluster.setdefault("resources", [])
    cluster.setdefault("failing_services", [])
    cluster.setdefault("credential_delegation", False)
    first_node = cluster["nodes"][0]["name"] if cluster["nodes"] else None
    for name, group_type in ((CORE_GROUP, "Cluster"), (AVAILABLE_STORAGE, "AvailableStorage")):
        if find_group(cluster, name) is None:
            cluster["groups"].append({"name": name, "group_type": group_type, "owner_node": first_node, "state": "Online"})
    for group in cluster["groups"]:
        group.setdefault("pending_restore", None)
    for resource in cluster["resources"]:
        resource.setdefault("checkpoint_data", {})
        resource.setdefault("group", AVAILABLE_STORAGE)
        resource.setdefault("state", "Online")
        resource.setdefault("parameters", {})
        resource.setdefault("dependencies", [])
        resource.setdefault("checkpoints", [])
    return cluster


@contextlib.contextmanager
def locked(path: str):
    """The cluster's state, held under the file's lock; taken after the node's own lock, never before."""
    with state_file.locked_json(path) as cluster:
        yield complete(cluster)


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
        raise HostError(f"The cluster group '{name}' was not found.", "System.ComponentModel.Win32Exception")
    return group


def require_resource(cluster: dict, name: str) -> dict:
    resource = find_resource(cluster, name)
    if resource is None:
        raise HostError(f"The cluster resource '{name}' could not be found.", "System.ComponentModel.Win32Exception")
    return resource


def bring_online(cluster: dict, group: dict) -> None:
    """Start-ClusterGroup: every resource comes online, unless its service fails; the group's state follows."""
    failing = {s.lower() for s in cluster["failing_services"]}
    resources = group_resources(cluster, group["name"])
    for resource in resources:
        service = str(resource["parameters"].get("ServiceName", "")).lower()
        resource["state"] = "Failed" if service and service in failing else "Online"
    states = {r["state"] for r in resources}
    group["state"] = "Online" if states <= {"Online"} else ("Failed" if states == {"Failed"} else "PartialOnline")
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
