# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkiops.keyfactor_command.cluster_generic_service_role: its definition, the controller-side checks, and the
operations that make a Failover Cluster Generic Service role what the task asks, from what the probe found.

Operations run in an order that keeps every prefix of them a role the next run can finish: the role is
created first (Add-ClusterGenericServiceRole creates the group, its client access point, addresses,
disks and the service resource in one step), then everything that refines it. A run that fails part way
leaves a role whose missing pieces the next probe sees and the next plan adds.
"""

from __future__ import annotations

import ipaddress
import re
import string

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._cluster_generic_service_role_spec import (
    ARGUMENT_SPEC,
    SPEC_RULES,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    Definition,
    Plan,
    PlanError,
    TaskInputError,
    UnexpectedProbeResult,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._registry_paths import local_machine_subkey

# The client access point registers a NetBIOS name and a DNS host name, so its name must be valid as both:
# letters, digits and hyphens (RFC 1123), which also avoids every character Microsoft's "Naming conventions
# in Active Directory for computers, domains, sites, and OUs" forbids in either.
_NETBIOS_ALLOWED = frozenset(string.ascii_letters + string.digits + "-")
NETBIOS_MAX = 15
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
# The group of the cluster's unused disks, by its type: its name may be localised.
AVAILABLE_STORAGE_TYPE = "AvailableStorage"
GENERIC_SERVICE = "Generic Service"
# Cluster networks that carry client traffic: a client access point's address must be on one of them.
_CLIENT_NETWORK_ROLES = ("Client", "ClusterAndClient")
# A dependency expression joins its resources with these words (SetClusterResourceDependencyExpression).
_EXPRESSION_WORD = re.compile(r"(?:and|or)(?=[\s(\[]|$)", re.IGNORECASE)
# Characters a resource name the module hands the cluster by name must not hold. A dependency expression writes a
# resource as [name]; neither SetClusterResourceDependencyExpression's grammar nor Set-ClusterResourceDependency's
# page says how a name holding [ or ] would be written. And Get-ClusterResource -Name, documented as taking no
# wildcards, reads [ ] as one; Add-ClusterResourceDependency -Provider, documented alike, may too, and then such a
# name would name another resource.
_UNNAMEABLE = "[]*?"
# Windows' messages for the failures a task can explain.
_ACCESS_DENIED = re.compile(r"access is denied|administrative privileges|0x80070005|unauthorizedaccess", re.IGNORECASE)
_NO_MODULE = re.compile(r"FailoverClusters", re.IGNORECASE)
_NOT_A_NODE = re.compile(r"cluster service is not running|not a member of a cluster|no cluster", re.IGNORECASE)


def check_role_name(name: str, option: str = "name") -> str:
    """The role's name, or TaskInputError naming option when Windows could not register it as a client access point."""
    name = name.strip()
    problems = []
    if not name:
        problems.append("it is empty")
    if len(name) > NETBIOS_MAX:
        problems.append(f"it has {len(name)} characters and a NetBIOS name has at most {NETBIOS_MAX}")
    invalid = sorted(set(name) - _NETBIOS_ALLOWED)
    if invalid:
        problems.append("it contains " + " ".join(repr(c) for c in invalid))
    if name.isdigit():
        problems.append("it is all digits")
    if name.startswith("-") or name.endswith("-"):
        problems.append("it starts or ends with a hyphen")
    if problems:
        raise TaskInputError(
            f"{option}: {name!r} cannot be a role's client access point name: {'; '.join(problems)}. Give 1 to "
            f"{NETBIOS_MAX} letters, digits and hyphens, not all digits, such as CloudGateway"
        )
    return name


def _check_names(values: list, option: str, resource_names: bool = False) -> list[str]:
    names, seen = [], set()
    for index, value in enumerate(values):
        text = (value or "").strip()
        if not text:
            raise TaskInputError(f"{option}[{index}]: give a name, not an empty string")
        if resource_names and any(c in text for c in _UNNAMEABLE):
            raise TaskInputError(f"{option}[{index}]: {text!r} holds one of {' '.join(_UNNAMEABLE)}. The cluster writes a "
                                 "resource in a dependency expression as [name] and documents no way to write these "
                                 "characters there, and its cmdlets may read them as wildcards; rename the resource in "
                                 "Failover Cluster Manager")
        if text.lower() in seen:
            raise TaskInputError(f"{option}: {text!r} is listed more than once")
        seen.add(text.lower())
        names.append(text)
    return names


def _check_checkpoints(values: list, option: str) -> list[str]:
    keys = []
    for index, value in enumerate(values):
        key = local_machine_subkey(value, f"{option}[{index}]")
        if "\\" not in key:
            # A registry checkpoint replicates everything below its key, onto every node the role moves to.
            raise TaskInputError(f"{option}[{index}]: {value!r} is the whole {key} hive; a registry checkpoint replicates "
                                 "everything below its key, so give the application's own key, such as "
                                 "HKLM:\\SOFTWARE\\Vendor\\Product")
        keys.append(key)
    return _check_names(keys, option)


def _check_addresses(values: list) -> list[str]:
    addresses = []
    for index, value in enumerate(values):
        try:
            address = ipaddress.IPv4Address((value or "").strip())
        except ValueError:
            raise TaskInputError(f"static_addresses[{index}]: {value!r} is not an IPv4 address such as 192.0.2.10") from None
        # 0.0.0.0/8 is "this network" (RFC 1122); is_reserved is 240.0.0.0/4, with the limited broadcast.
        if address in _THIS_NETWORK or address.is_loopback or address.is_multicast or address.is_link_local or address.is_reserved:
            raise TaskInputError(f"static_addresses[{index}]: {address} cannot be a client access point's address")
        addresses.append(str(address))
    return _check_names(addresses, "static_addresses")


def check_params(params: dict) -> dict:
    """Everything the controller can tell about the options without the host; normalised values."""
    checked = dict(params, name=check_role_name(params["name"]))
    if params["cluster"] is not None:
        checked["cluster"] = params["cluster"].strip()
        if not checked["cluster"]:
            raise TaskInputError("cluster: give the cluster's name, or leave the option out")
    if params["owner_node"] is not None:
        checked["owner_node"] = params["owner_node"].strip()
        if not checked["owner_node"]:
            raise TaskInputError("owner_node: give a node's name, or leave the option out")
    if params["state"] == "absent":
        return checked
    if params["online_timeout"] < 1 or params["online_timeout"] > 3600:
        raise TaskInputError(f"online_timeout: {params['online_timeout']} is not between 1 and 3600 seconds")
    checked["service"] = params["service"].strip()
    if not checked["service"]:
        raise TaskInputError("service: give the Windows service's name or display name")
    checked["static_addresses"] = _check_addresses(params["static_addresses"])
    checked["storage"] = _check_names(params["storage"], "storage", resource_names=True)
    checked["registry_checkpoints"] = _check_checkpoints(params["registry_checkpoints"], "registry_checkpoints")
    additional = []
    for index, entry in enumerate(params["additional_services"]):
        where = f"additional_services[{index}]"
        service = (entry["service"] or "").strip()
        if not service:
            raise TaskInputError(f"{where}.service: give the Windows service's name or display name")
        additional.append({
            "service": service,
            "registry_checkpoints": _check_checkpoints(entry["registry_checkpoints"], f"{where}.registry_checkpoints"),
            "depends_on": _check_names(entry["depends_on"], f"{where}.depends_on", resource_names=True),
        })
    services = {checked["service"].lower(): "the role's service (service)"}
    for index, entry in enumerate(additional):
        where = f"additional_services[{index}].service"
        if entry["service"].lower() in services:
            raise TaskInputError(f"{where}: {entry['service']!r} is already {services[entry['service'].lower()]}; a role "
                                 "runs each service once")
        services[entry["service"].lower()] = f"listed as {where}"
    _check_dependency_circles(additional)
    checked["additional_services"] = additional
    return checked


def _check_dependency_circles(additional: list[dict]) -> None:
    """Refuse an additional service that depends on itself, or a circle of them, as the options name them.

    A resource is named after its service's display name, known only from the host: the plan checks again with
    the names Windows will use. Windows refuses both (ERROR_INVALID_PARAMETER, ERROR_CIRCULAR_DEPENDENCY).
    """
    by_service = {entry["service"].lower(): index for index, entry in enumerate(additional)}
    for index, entry in enumerate(additional):
        for position, provider in enumerate(entry["depends_on"]):
            if provider.lower() == entry["service"].lower():
                raise TaskInputError(f"additional_services[{index}].depends_on[{position}]: {provider!r} is this "
                                     "entry's own service; a resource cannot depend on itself")
    for start in range(len(additional)):
        path = _circle_from(additional, by_service, start, [start])
        if path:
            where = " -> ".join(f"additional_services[{i}] ({additional[i]['service']})" for i in path)
            raise TaskInputError(f"additional_services[{start}].depends_on: the services depend on each other in a "
                                 f"circle, {where}; a resource cannot depend, even through others, on itself")


def _circle_from(additional: list[dict], by_service: dict, start: int, path: list[int]) -> list[int] | None:
    for provider in additional[path[-1]]["depends_on"]:
        following = by_service.get(provider.lower())
        if following is None:
            continue
        if following == start:
            return path + [start]
        if following not in path:
            found = _circle_from(additional, by_service, start, path + [following])
            if found:
                return found
    return None


def _fold(value) -> str:
    return str(value or "").lower()


def _require(current: dict, key: str, kind: type):
    value = current.get(key)
    if not isinstance(value, kind):
        raise UnexpectedProbeResult(f"no {key!r} {kind.__name__}")
    return value


def dependency_ids(expression: str) -> list[str]:
    """The resource ids a dependency expression holds, in the form Get-ClusterResourceDependency -Guid gives it.

    SetClusterResourceDependencyExpression's grammar (clusapi.h; MS-CMRP 3.1.4.2.109): resources in brackets,
    [resourceID] or [resourceName], joined by "and" and "or", with parentheses around "or" groups. An id is a GUID,
    so it never holds a bracket, which a name might: the expression is read with ids and never with names.
    """
    text, index, ids = expression or "", 0, []
    while index < len(text):
        char = text[index]
        if char.isspace() or char in "()":
            index += 1
        elif char == "[":
            end = text.find("]", index + 1)
            if end == -1:
                raise UnexpectedProbeResult(f"an unclosed [ in the dependency expression {expression!r}")
            ids.append(text[index + 1:end].strip().strip("{}").lower())
            index = end + 1
        elif _EXPRESSION_WORD.match(text, index):
            index = _EXPRESSION_WORD.match(text, index).end()
        else:
            raise UnexpectedProbeResult(f"the dependency expression {expression!r} is not of the form [id] and ([id] or [id])")
    return ids


def _resource_view(resource: dict, names_by_id: dict) -> dict:
    providers = []
    for resource_id in dependency_ids(resource.get("dependency_expression")):
        if resource_id not in names_by_id:
            raise UnexpectedProbeResult(f"the resource {resource.get('name')!r} depends on {resource_id}, which is no "
                                        "resource of its role")
        providers.append(names_by_id[resource_id])
    return {
        "type": resource.get("resource_type"),
        # The payload reports an unset ServiceName as ''.
        "service_name": resource.get("service_name") or None,
        "address": resource.get("address") or None,
        "dhcp": bool(resource.get("enable_dhcp")),
        "checkpoints": sorted(resource.get("checkpoints") or [], key=str.lower),
        "depends_on": sorted(providers, key=str.lower),
    }


def role_view(group: dict | None) -> dict:
    """What the diff and the result show of a role."""
    if group is None:
        return {"state": "absent"}
    members = [r for r in group.get("resources") or [] if isinstance(r, dict)]
    # A resource can depend only on resources of its own group (AddClusterResourceDependency).
    names_by_id = {str(r.get("id") or "").strip("{}").lower(): r.get("name") for r in members}
    resources = {r["name"]: _resource_view(r, names_by_id) for r in members}
    return {
        "state": "present",
        "name": group.get("name"),
        "status": group.get("state"),
        "owner_node": group.get("owner_node"),
        "resources": resources,
    }


class _Role:
    """The role as it will be after the operations planned so far: the diff's 'after' and the plan's memory."""

    def __init__(self, group: dict | None):
        self.view = role_view(group)

    @property
    def resources(self) -> dict:
        return self.view.setdefault("resources", {})

    def resource_named(self, name: str) -> str | None:
        return next((n for n in self.resources if n.lower() == name.lower()), None)

    def service_resource(self, service_name: str) -> str | None:
        return next((n for n, r in self.resources.items()
                     if r["type"] == GENERIC_SERVICE and _fold(r["service_name"]) == service_name.lower()), None)

    def resources_of_type(self, resource_type: str) -> list[str]:
        return [n for n, r in self.resources.items() if r["type"] == resource_type]

    def add_resource(self, name: str, resource_type: str, **fields) -> None:
        self.resources[name] = {"type": resource_type, "service_name": None, "address": None, "dhcp": False,
                                "checkpoints": [], "depends_on": [], **fields}

    def dependency_path(self, start: str, target: str) -> list[str] | None:
        """The resources from start to target along dependencies, when start depends on target at all."""
        paths, seen = [[start]], {start.lower()}
        while paths:
            path = paths.pop(0)
            current = self.resource_named(path[-1])
            for provider in (self.resources[current]["depends_on"] if current else []):
                if provider.lower() == target.lower():
                    return path + [provider]
                if provider.lower() not in seen:
                    seen.add(provider.lower())
                    paths.append(path + [provider])
        return None


def network_subnets(network: dict) -> list:
    """A cluster network's subnets (the network common properties): each IPv4 subnet from its Ipv4Addresses and
    Ipv4PrefixLengths, or from Address and AddressMask when those lists are empty, and each IPv6 prefix from its
    Ipv6Addresses and Ipv6PrefixLengths, link-local ones left out. A value that is not an address is skipped."""
    pairs = list(zip(network.get("ipv4_addresses") or [], network.get("ipv4_prefix_lengths") or []))
    if not pairs:
        pairs = [(network.get("address"), network.get("address_mask"))]
    pairs += list(zip(network.get("ipv6_addresses") or [], network.get("ipv6_prefix_lengths") or []))
    subnets = []
    for address, prefix in pairs:
        if not address or prefix in (None, ""):
            continue
        try:
            subnet = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        except (TypeError, ValueError):
            continue
        if not subnet.is_link_local and subnet not in subnets:
            subnets.append(subnet)
    return subnets


class _Planner:
    def __init__(self, params: dict, current: dict):
        self.params = params
        self.cluster = _require(current, "cluster", dict)
        services = _require(current, "services", list)
        disks = _require(current, "disks", list)
        cluster_resources = _require(current, "resources", list)
        group = current.get("group")
        if group is not None and not isinstance(group, dict):
            raise UnexpectedProbeResult("'group' is neither null nor a dictionary")
        self.group = group
        self.services = {_fold(s.get("query")): s for s in services if isinstance(s, dict)}
        self.disks = {_fold(d.get("name")): d for d in disks if isinstance(d, dict)}
        # Every resource of the cluster, with its group: resource names are unique in a cluster.
        self.cluster_resources = {_fold(r.get("name")): r for r in cluster_resources if isinstance(r, dict)}
        self.role = _Role(group)
        self.operations: list[dict] = []

    # --- what must hold before anything changes ---------------------------------------------

    def check_cluster(self) -> None:
        name = self.cluster.get("name")
        expected = self.params.get("cluster")
        # Get-Cluster gives the cluster's NetBIOS name; a user may write its DNS name.
        if expected and _fold(expected).split(".", 1)[0] != _fold(name).split(".", 1)[0]:
            raise PlanError(f"cluster: this host, {self.cluster.get('local_node')}, is a node of the cluster {name!r}, "
                            f"not of {expected!r}")
        if self.group is not None and self.group.get("group_type") != "GenericService":
            raise PlanError(f"name: the cluster already has a role named {self.group.get('name')!r} and it is a "
                            f"{self.group.get('group_type')} role, not a Generic Service role; choose another name")

    def check_name_is_free(self) -> None:
        """A new role's client access point is a computer name: not the cluster's, nor a node's."""
        name = self.params["name"]
        if name.lower() == _fold(self.cluster.get("name")).split(".", 1)[0]:
            raise PlanError(f"name: {name!r} is the name of the cluster itself; a role's client access point needs a "
                            "computer name of its own")
        node = next((n for n in self.cluster.get("nodes") or [] if isinstance(n, dict) and _fold(n.get("name")) == name.lower()),
                    None)
        if node is not None:
            raise PlanError(f"name: {name!r} is the name of the cluster's node {node.get('name')}; a role's client access "
                            "point needs a computer name of its own")

    def check_resource_name_is_free(self, resource: str, option: str) -> None:
        """A resource the plan creates must not exist in another group: names are unique in a whole cluster."""
        existing = self.cluster_resources.get(resource.lower())
        if existing is not None and _fold(existing.get("group")) != self.params["name"].lower():
            raise PlanError(f"{option}: the cluster already has a resource named {existing.get('name')!r}, in the role "
                            f"{existing.get('group')!r}, and a resource's name is unique in a cluster")

    def resolved_service(self, query: str, option: str) -> dict:
        report = self.services.get(query.lower())
        if not isinstance(report, dict):
            raise UnexpectedProbeResult(f"no report for the service {query!r}")
        if not report.get("found"):
            raise PlanError(f"{option}: no service named {query!r} (by service name or display name) is installed on "
                            f"{self.cluster.get('local_node')}, the node this task runs on; install it on every node "
                            "the role may run on")
        return report

    def check_owner_node(self) -> str | None:
        wanted = self.params.get("owner_node")
        if not wanted:
            return None
        nodes = [n for n in self.cluster.get("nodes") or [] if isinstance(n, dict)]
        node = next((n for n in nodes if _fold(n.get("name")) == wanted.lower()), None)
        if node is None:
            raise PlanError(f"owner_node: {wanted!r} is not a node of the cluster {self.cluster.get('name')!r}; its nodes "
                            f"are {', '.join(str(n.get('name')) for n in nodes)}")
        if node.get("state") != "Up":
            raise PlanError(f"owner_node: the node {node['name']} is {node.get('state')}, so the role cannot move to it")
        return node["name"]

    def check_addresses(self) -> list[str]:
        """Fail on an address outside the client networks; return the subnets of the client networks no address is
        in, as Add-ClusterGenericServiceRole -IgnoreNetwork takes them: <address>/<prefix length>."""
        networks = [n for n in self.cluster.get("networks") or [] if isinstance(n, dict)
                    and n.get("role") in _CLIENT_NETWORK_ROLES]
        ipv4 = [(network, subnet) for network in networks for subnet in network_subnets(network) if subnet.version == 4]
        described = ", ".join(f"{n.get('name')} ({s})" for n, s in ipv4) or "none"
        used = set()
        for index, text in enumerate(self.params["static_addresses"]):
            address = ipaddress.IPv4Address(text)
            network = next((n for n, subnet in ipv4 if address in subnet
                            and address not in (subnet.network_address, subnet.broadcast_address)), None)
            if network is None:
                raise PlanError(f"static_addresses[{index}]: {text} is in none of the cluster's client networks; "
                                f"they are {described}")
            used.add(_fold(network.get("name")))
        if not self.params["static_addresses"]:
            return []  # every client network gives the role an address from DHCP
        ignored = []
        for network in networks:
            if _fold(network.get("name")) in used:
                continue
            subnets = network_subnets(network)
            if not subnets:
                raise PlanError(f"static_addresses: the cluster's client network {network.get('name')!r} has none of the "
                                "static addresses, and it reports no subnet (address "
                                f"{network.get('address')!r}, mask {network.get('address_mask')!r}) by which it could be "
                                "left out of the role; give an address in it")
            # Microsoft documents -IgnoreNetwork's subnets in IPv4 form (New-Cluster, examples 5 and 6); a network
            # with an IPv4 subnet is named by those alone, and only an IPv6-only one by its IPv6 prefixes.
            ipv4_subnets = [subnet for subnet in subnets if subnet.version == 4]
            ignored += [subnet.with_prefixlen for subnet in ipv4_subnets or subnets]
        return ignored

    def check_disks(self, allowed_group: str | None) -> list[str]:
        """The disks to bring into the role; each must be a cluster disk that is available or already in the role."""
        to_add = []
        for index, name in enumerate(self.params["storage"]):
            report = self.disks.get(name.lower())
            if not isinstance(report, dict):
                raise UnexpectedProbeResult(f"no report for the disk {name!r}")
            where = f"storage[{index}]"
            if not report.get("found"):
                raise PlanError(f"{where}: the cluster has no disk resource named {name!r}; add the disk to the cluster first")
            if report.get("resource_type") != "Physical Disk":
                raise PlanError(f"{where}: {name!r} is a {report.get('resource_type')} resource, not a cluster disk")
            owner = report.get("owner_group")
            if allowed_group and _fold(owner) == allowed_group.lower():
                continue
            if report.get("owner_group_type") != AVAILABLE_STORAGE_TYPE:
                raise PlanError(f"{where}: the disk {name!r} belongs to the role {owner!r}, so it is not available")
            to_add.append(report["name"])
        return to_add

    # --- operations --------------------------------------------------------------------------

    def add(self, action: str, **fields) -> None:
        self.operations.append({"action": action, **fields})

    def ensure_checkpoints(self, resource: str, wanted: list[str]) -> None:
        present = self.role.resources[resource]["checkpoints"]
        present_folded = {_fold(k).rstrip("\\") for k in present}
        for key in wanted:
            if key.lower() not in present_folded:
                self.add("add_checkpoint", resource=resource, key=key)
                present.append(key)
        if self.params["registry_checkpoints_exclusive"]:
            wanted_folded = {k.lower() for k in wanted}
            for key in list(present):
                if _fold(key).rstrip("\\") not in wanted_folded:
                    self.add("remove_checkpoint", resource=resource, key=key)
                    present.remove(key)
        present.sort(key=str.lower)

    def ensure_dependency(self, resource: str, provider: str, option: str) -> None:
        """resource depends on provider; Windows refuses a resource that depends on itself, even through others."""
        if resource.lower() == provider.lower():
            raise PlanError(f"{option}: {provider!r} is the resource of this service itself; a resource cannot depend "
                            "on itself")
        depends_on = self.role.resources[resource]["depends_on"]
        if provider.lower() in {_fold(p) for p in depends_on}:
            return
        circle = self.role.dependency_path(provider, resource)
        if circle:
            raise PlanError(f"{option}: {provider!r} depends on {resource!r} already ({' -> '.join(circle)}), so this "
                            "dependency would make a circle")
        self.add("add_dependency", resource=resource, provider=provider)
        depends_on.append(provider)
        depends_on.sort(key=str.lower)

    def ensure_service_resource(self, service: dict, providers: list[str], option: str) -> tuple[str, bool]:
        existing = self.role.service_resource(service["name"])
        if existing:
            return existing, False
        # Named as Failover Cluster Manager names a Generic Service resource: after the service's display name.
        resource = service.get("display_name") or service["name"]
        existing = self.role.resource_named(resource)
        if existing and self.role.resources[existing]["type"] == GENERIC_SERVICE and not self.role.resources[existing]["service_name"]:
            # Created by a run that failed before it set the service: the payload configures it.
            resource = existing
        elif existing:
            raise PlanError(f"the role {self.params['name']!r} already has a resource named {resource!r} that does not run "
                            f"the service {service['name']}")
        else:
            self.check_resource_name_is_free(resource, option)
        self.add("add_service_resource", resource=resource, group=self.params["name"], service_name=service["name"])
        if existing:
            self.role.resources[resource]["service_name"] = service["name"]
        else:
            self.role.add_resource(resource, GENERIC_SERVICE, service_name=service["name"])
        for provider in providers:
            self.ensure_dependency(resource, provider, option)
        return resource, True

    def create_role(self, main: dict) -> None:
        """Add-ClusterGenericServiceRole: the group with its network name, addresses, disks and the service."""
        params = self.params
        self.check_name_is_free()
        ignore_networks = self.check_addresses()
        disks = self.check_disks(None)
        main_resource = main.get("display_name") or main["name"]
        self.check_resource_name_is_free(params["name"], "name")
        for address in params["static_addresses"]:
            self.check_resource_name_is_free(f"IP Address {address}", "static_addresses")
        self.check_resource_name_is_free(main_resource, "service")
        self.add("create_role", name=params["name"], service_name=main["name"],
                 static_addresses=list(params["static_addresses"]), ignore_networks=ignore_networks, storage=disks)
        self.role.view = {"state": "present", "name": params["name"], "status": None,
                          "owner_node": self.cluster.get("local_node"), "resources": {}}
        self.role.add_resource(params["name"], "Network Name")
        for address in params["static_addresses"]:
            self.role.add_resource(f"IP Address {address}", "IP Address", address=address)
        for disk in disks:
            self.role.add_resource(disk, "Physical Disk")
        self.role.add_resource(main_resource, GENERIC_SERVICE, service_name=main["name"],
                               depends_on=sorted([params["name"]] + disks, key=str.lower))

    def plan_present(self) -> None:
        params = self.params
        main = self.resolved_service(params["service"], "service")
        additional = [(entry, self.resolved_service(entry["service"], f"additional_services[{i}].service"))
                      for i, entry in enumerate(params["additional_services"])]
        resolved_names = [main["name"].lower()] + [service["name"].lower() for _entry, service in additional]
        if len(set(resolved_names)) != len(resolved_names):
            raise PlanError("service and additional_services name the same Windows service more than once")
        owner_node = self.check_owner_node()
        resources_added = False

        if self.group is None:
            self.create_role(main)
            resources_added = True
        else:
            self.check_existing_addresses()
            network_names = self.role.resources_of_type("Network Name")
            disks_to_add = self.check_disks(params["name"])
            for disk in disks_to_add:
                self.add("add_disk", disk=disk, group=params["name"])
                self.role.add_resource(disk, "Physical Disk")
                resources_added = True
            main_resource, created = self.ensure_service_resource(
                main, network_names + self.role.resources_of_type("Physical Disk"), "service")
            resources_added = resources_added or created
            for disk in disks_to_add:
                self.ensure_dependency(main_resource, disk, "storage")
        main_resource = self.role.service_resource(main["name"])
        self.ensure_checkpoints(main_resource, params["registry_checkpoints"])

        # Every service's resource first, so that depends_on may name any of them, listed before or after.
        resources = []
        for index, (_entry, service) in enumerate(additional):
            resource, created = self.ensure_service_resource(service, [], f"additional_services[{index}].service")
            resources.append(resource)
            resources_added = resources_added or created
        for index, ((entry, _service), resource) in enumerate(zip(additional, resources)):
            where = f"additional_services[{index}]"
            for position, provider in enumerate(entry["depends_on"]):
                provider_name = self.role.resource_named(provider)
                if provider_name is None:
                    raise PlanError(f"{where}.depends_on[{position}]: the role has no resource named {provider!r}; "
                                    f"its resources are {', '.join(sorted(self.role.resources, key=str.lower))}")
                self.ensure_dependency(resource, provider_name, f"{where}.depends_on[{position}]")
            self.ensure_checkpoints(resource, entry["registry_checkpoints"])

        # Moved before it is started. A role that Add-ClusterGenericServiceRole -Wait 0 has just created, or that is
        # starting, is Pending, and a Pending group cannot move: the payload waits, for at most online_timeout, until
        # it is not.
        if owner_node and _fold(self.role.view.get("owner_node")) != owner_node.lower():
            self.add("move_role", name=params["name"], node=owner_node, timeout_seconds=params["online_timeout"])
            self.role.view["owner_node"] = owner_node
        if resources_added or self.role.view.get("status") != "Online":
            # A role just created is Pending for a while; the payload starts it once it is not, within online_timeout.
            self.add("start_role", name=params["name"], timeout_seconds=params["online_timeout"])
        if self.operations:
            self.add("wait_online", name=params["name"], timeout_seconds=params["online_timeout"])
        self.role.view["status"] = "Online"

    def check_existing_addresses(self) -> None:
        wanted = self.params["static_addresses"]
        if not wanted:
            return
        present = sorted(r["address"] for r in self.role.resources.values()
                         if r["type"] == "IP Address" and r["address"] and not r["dhcp"])
        if {a.lower() for a in present} != {a.lower() for a in wanted}:
            raise PlanError(f"static_addresses: the role {self.params['name']!r} already exists with the addresses "
                            f"{', '.join(present) or 'none'}. This module sets a role's addresses only when it creates "
                            "the role; change them in Failover Cluster Manager, or remove the role (state=absent) and "
                            "run again")

    def plan_absent(self) -> None:
        """Stop the role, give its disks back to Available Storage, then remove it with its other resources.

        Remove-ClusterGroup -RemoveResources deletes every resource of the role, and deleting a Physical Disk
        resource takes the disk out of the cluster, so each disk leaves the role first (Move-ClusterResource). A disk
        takes every resource joined to it by dependencies with it (ChangeClusterResourceGroup), so those
        dependencies are removed before it moves.
        """
        if self.group is None:
            return
        name = self.group["name"]
        disks = self.role.resources_of_type("Physical Disk")
        for disk in disks:
            if any(c in disk for c in _UNNAMEABLE):
                raise PlanError(f"the role {name!r} has the disk {disk!r}, whose name holds one of "
                                f"{' '.join(_UNNAMEABLE)}; the module cannot name it to the cluster safely, so it leaves "
                                "the role alone. Rename the disk resource in Failover Cluster Manager and run again")
        self.add("stop_role", name=name)
        for resource, view in sorted(self.role.resources.items(), key=lambda item: item[0].lower()):
            for disk in disks:
                if disk.lower() in {_fold(p) for p in view["depends_on"]}:
                    self.add("remove_dependency", resource=resource, provider=disk)
        for disk in disks:
            self.add("release_disk", disk=disk, name=name)
        self.add("remove_role", name=name)
        self.role.view = {"state": "absent"}


def plan_role(params: dict, current: dict) -> Plan:
    planner = _Planner(params, current)
    planner.check_cluster()
    before = role_view(planner.group)
    if params["state"] == "present":
        planner.plan_present()
    else:
        planner.plan_absent()
    after = planner.role.view
    actions = [op["action"] for op in planner.operations]
    return Plan(
        operations=planner.operations,
        before=before,
        after=after,
        result={
            "cluster": planner.cluster.get("name"),
            "nodes": [{"name": n.get("name"), "state": n.get("state")} for n in planner.cluster.get("nodes") or []
                      if isinstance(n, dict)],
            "name": params["name"],
            "role": after,
            "created": "create_role" in actions,
            "removed": "remove_role" in actions,
            "actions": [op for op in planner.operations if op["action"] != "wait_online"],
        },
    )


class ClusterGenericServiceRole(Definition):
    """Create, complete or remove a Failover Cluster Generic Service role."""

    name = "cluster_generic_service_role"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES
    areas = ("cluster",)

    def check_params(self, params, context):
        return check_params(params)

    def probe_parameters(self, params):
        services = [] if params["state"] == "absent" else (
            [params["service"]] + [entry["service"] for entry in params["additional_services"]])
        return {"Name": params["name"], "Services": services,
                "Disks": [] if params["state"] == "absent" else params["storage"]}

    def plan(self, params, current, context):
        return plan_role(params, current)

    def apply_parameters(self, params, plan):
        return {"Name": params["name"], "Operations": plan.operations}

    def explain_failure(self, params, step, message, context):
        message = message.rstrip(". ")
        if _NO_MODULE.search(message) and "module" in message.lower():
            return (f"{message}. The host needs the Failover Clustering PowerShell module: install the Failover-Clustering "
                    "feature with its management tools (RSAT-Clustering-PowerShell)")
        if _NOT_A_NODE.search(message):
            return f"{message}. Run this task on a node of the cluster, with its cluster service running"
        if _ACCESS_DENIED.search(message):
            how = ("the task ran with become, so the account it became needs to be an administrator of the cluster and "
                   "of every node" if context.become else
                   "a WinRM logon cannot pass its credentials on to the other nodes (the double hop). Run the task "
                   "with become: true, become_method: ansible.builtin.runas and become_user set to a cluster "
                   "administrator, or use CredSSP or Kerberos delegation")
            return f"{message}. Cluster changes reach every node of the cluster, and {how}"
        return message


DEFINITION = ClusterGenericServiceRole()
