"""Planning a Failover Cluster Generic Service role: the controller's checks and the operations from a probe."""

from __future__ import annotations

import copy
import uuid

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._cluster_generic_service_role_spec import (
    ARGUMENT_SPEC,
    SPEC_RULES,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._cluster_generic_service_role import (
    check_params,
    check_role_name,
    dependency_ids,
    plan_role,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    PlanError,
    TaskInputError,
    UnexpectedProbeResult,
)
from plugins.plugin_utils.spec_options import validated

CHECKPOINT = "SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters"
SYNC_CHECKPOINT = "SOFTWARE\\Keyfactor\\Keyfactor CA Sync\\Parameters"
GATEWAY = "Keyfactor Managed CA Gateway"
SYNC = "Keyfactor Managed CA Sync Service"


def params(**options) -> dict:
    args = {"name": "CloudGateway", "service": GATEWAY, "cluster": "GWCLUSTER", "static_addresses": ["10.0.0.50"],
            "storage": ["Cluster Disk 2"], "registry_checkpoints": [CHECKPOINT], **options}
    return check_params(validated(ARGUMENT_SPEC, args, SPEC_RULES))


def service(query: str, name: str, display_name: str) -> dict:
    return {"query": query, "found": True, "name": name, "display_name": display_name}


def rid(name: str) -> str:
    """A resource's id, as Get-ClusterResource reports it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name.lower()))


def probe(group=None, services=None, disks=None, elsewhere=()) -> dict:
    """What the payload's probe reports; elsewhere: (resource, group) pairs of other roles."""
    disk_group = group["name"] if group else "Available Storage"
    resources = [{"name": r["name"], "group": group["name"]} for r in (group or {}).get("resources", [])]
    if not group:
        resources.append({"name": "Cluster Disk 2", "group": disk_group})
    resources += [{"name": name, "group": owner} for name, owner in elsewhere]
    return {
        "cluster": {
            "name": "GWCLUSTER", "local_node": "GW01",
            "nodes": [{"name": "GW01", "state": "Up", "id": "1"}, {"name": "GW02", "state": "Up", "id": "2"},
                      {"name": "GW03", "state": "Down", "id": "3"}],
            "networks": [
                {"name": "Cluster Network 1", "role": "ClusterAndClient", "address": "10.0.0.0", "address_mask": "255.255.255.0"},
                {"name": "Cluster Network 2", "role": "Cluster", "address": "172.16.0.0", "address_mask": "255.255.0.0"},
            ],
        },
        "services": services if services is not None else [service(GATEWAY, "CAGateway", GATEWAY), service(SYNC, "CASync", SYNC)],
        "disks": disks if disks is not None else [{"name": "Cluster Disk 2", "found": True, "resource_type": "Physical Disk",
                                                   "owner_group": group["name"] if group else "Available Storage",
                                                   "owner_group_type": "GenericService" if group else "AvailableStorage",
                                                   "state": "Online"}],
        "group": group,
        "resources": resources,
    }


def resource(name, resource_type, service_name=None, address=None, depends=(), checkpoints=(), state="Online") -> dict:
    """A resource as the probe reports it; its dependency expression names resources by id (-Guid)."""
    return {"name": name, "id": rid(name), "resource_type": resource_type, "state": state, "service_name": service_name,
            "address": address, "dependency_expression": " and ".join(f"[{rid(d)}]" for d in depends),
            "checkpoints": list(checkpoints)}


def complete_group(**overrides) -> dict:
    group = {
        "name": "CloudGateway", "group_type": "GenericService", "state": "Online", "owner_node": "GW01",
        "resources": [
            resource("IP Address 10.0.0.50", "IP Address", address="10.0.0.50"),
            resource("CloudGateway", "Network Name", depends=["IP Address 10.0.0.50"]),
            resource("Cluster Disk 2", "Physical Disk"),
            resource(GATEWAY, "Generic Service", service_name="CAGateway", depends=["CloudGateway", "Cluster Disk 2"],
                     checkpoints=[CHECKPOINT]),
        ],
    }
    group.update(overrides)
    return group


def actions(plan) -> list[str]:
    return [op["action"] for op in plan.operations]


# --- controller-side checks ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["CloudGateway", "GW-01", "a", "A23456789012345", "1gateway"])
def test_role_names_windows_accepts_pass(name):
    assert check_role_name(name) == name


@pytest.mark.parametrize("name, reason", [
    ("CloudGateway0123", "16 characters"),
    ("Cloud Gateway", "' '"),
    ("gw.contoso", "'.'"),
    ("gw_01", "'_'"),
    ("gw*", "'*'"),
    ("12345", "all digits"),
    ("-gateway", "hyphen"),
    ("", "empty"),
    ("gätewäy", "'ä'"),
])
def test_role_names_windows_rejects_fail_naming_the_option_and_the_rule(name, reason):
    with pytest.raises(TaskInputError) as error:
        check_role_name(name)
    assert str(error.value).startswith("name: ")
    assert reason in str(error.value)
    assert "letters, digits and hyphens" in str(error.value)


@pytest.mark.parametrize("address, message", [
    ("10.0.0.300", "is not an IPv4 address"),
    ("gateway", "is not an IPv4 address"),
    ("2001:db8::5", "is not an IPv4 address"),
    ("0.0.0.0", "cannot be a client access point's address"),
    ("127.0.0.1", "cannot be a client access point's address"),
])
def test_bad_static_addresses_fail_before_the_host(address, message):
    with pytest.raises(TaskInputError, match=r"^static_addresses\[0\]: .*" + message):
        params(static_addresses=[address])


def test_a_duplicate_address_disk_or_service_fails():
    with pytest.raises(TaskInputError, match="static_addresses: '10.0.0.50' is listed more than once"):
        params(static_addresses=["10.0.0.50", "10.0.0.050".replace("050", "50")])
    with pytest.raises(TaskInputError, match="storage: 'cluster disk 2' is listed more than once"):
        params(storage=["Cluster Disk 2", "cluster disk 2"])
    with pytest.raises(TaskInputError, match=r"^additional_services\[0\]\.service: .* is already the role's service"):
        params(additional_services=[{"service": GATEWAY.upper()}])
    with pytest.raises(TaskInputError, match=r"^additional_services\[1\]\.service: 'casync' is already listed as "
                                             r"additional_services\[0\]\.service"):
        params(additional_services=[{"service": "CASync"}, {"service": "casync"}])


def test_checkpoints_accept_every_spelling_of_the_hive_and_reject_other_hives():
    checked = params(registry_checkpoints=["HKLM:\\" + CHECKPOINT],
                     additional_services=[{"service": SYNC, "registry_checkpoints": ["HKEY_LOCAL_MACHINE\\" + SYNC_CHECKPOINT]}])
    assert checked["registry_checkpoints"] == [CHECKPOINT]
    assert checked["additional_services"][0]["registry_checkpoints"] == [SYNC_CHECKPOINT]
    with pytest.raises(TaskInputError, match=r"^additional_services\[0\]\.registry_checkpoints\[0\]: .*HKEY_LOCAL_MACHINE"):
        params(additional_services=[{"service": SYNC, "registry_checkpoints": ["HKCU:\\Software\\x"]}])


def test_online_timeout_is_bounded():
    with pytest.raises(TaskInputError, match="online_timeout: 0 is not between 1 and 3600"):
        params(online_timeout=0)


# --- planning a new role ---------------------------------------------------------------------


def test_a_new_role_is_created_then_checkpointed_then_started_and_waited_for():
    plan = plan_role(params(owner_node="gw02"), probe())
    assert plan.operations == [
        {"action": "create_role", "name": "CloudGateway", "service_name": "CAGateway", "static_addresses": ["10.0.0.50"],
         "ignore_networks": [], "storage": ["Cluster Disk 2"]},
        {"action": "add_checkpoint", "resource": GATEWAY, "key": CHECKPOINT},
        {"action": "move_role", "name": "CloudGateway", "node": "GW02", "timeout_seconds": 120},
        {"action": "start_role", "name": "CloudGateway", "timeout_seconds": 120},
        {"action": "wait_online", "name": "CloudGateway", "timeout_seconds": 120},
    ]
    assert plan.before == {"state": "absent"}
    assert plan.after["state"] == "present" and plan.after["owner_node"] == "GW02" and plan.after["status"] == "Online"
    assert plan.after["resources"][GATEWAY]["checkpoints"] == [CHECKPOINT]
    assert plan.result["created"] is True and plan.result["removed"] is False
    assert [a["action"] for a in plan.result["actions"]] == ["create_role", "add_checkpoint", "move_role", "start_role"]


def test_an_additional_service_gets_its_resource_dependencies_and_checkpoints():
    plan = plan_role(params(additional_services=[{"service": SYNC, "registry_checkpoints": [SYNC_CHECKPOINT],
                                                  "depends_on": ["cloudgateway"]}]), probe())
    assert plan.operations[2:5] == [
        {"action": "add_service_resource", "resource": SYNC, "group": "CloudGateway", "service_name": "CASync"},
        {"action": "add_dependency", "resource": SYNC, "provider": "CloudGateway"},
        {"action": "add_checkpoint", "resource": SYNC, "key": SYNC_CHECKPOINT},
    ]


def test_client_networks_without_an_address_are_ignored_by_subnet_only_when_addresses_are_given():
    # Add-ClusterGenericServiceRole -IgnoreNetwork takes subnets, such as 10.38.1.0/24; a network's name is refused.
    current = probe()
    current["cluster"]["networks"].append(
        {"name": "Cluster Network 3", "role": "Client", "address": "192.168.5.0", "address_mask": "255.255.255.0"})
    assert plan_role(params(), current).operations[0]["ignore_networks"] == ["192.168.5.0/24"]
    assert plan_role(params(static_addresses=["10.0.0.50", "192.168.5.7"]), current).operations[0]["ignore_networks"] == []
    assert plan_role(params(static_addresses=[]), current).operations[0]["ignore_networks"] == []


@pytest.mark.parametrize("address", ["10.0.1.5", "172.16.0.9", "10.0.0.0", "10.0.0.255"])
def test_an_address_outside_the_client_networks_fails_without_a_change(address):
    with pytest.raises(PlanError, match=rf"static_addresses\[0\]: {address} is in none of the cluster's client networks; "
                                        r"they are Cluster Network 1 \(10.0.0.0/24\)"):
        plan_role(params(static_addresses=[address]), probe())


def test_a_service_that_is_not_installed_fails_naming_the_node_it_checked():
    services = [{"query": GATEWAY, "found": False, "name": None, "display_name": None}]
    with pytest.raises(PlanError, match="service: no service named 'Keyfactor Managed CA Gateway' .* is installed on GW01, "
                                        "the node this task runs on; install it on every node the role may run on"):
        plan_role(params(), probe(services=services))


@pytest.mark.parametrize("disk, message", [
    ({"name": "Cluster Disk 2", "found": False}, "the cluster has no disk resource named 'Cluster Disk 2'"),
    ({"name": "Cluster Disk 2", "found": True, "resource_type": "Physical Disk", "owner_group": "FileServer", "owner_group_type": "FileServer"},
     "belongs to the role 'FileServer', so it is not available"),
    ({"name": "Cluster Disk 2", "found": True, "resource_type": "IP Address", "owner_group": "Available Storage"},
     "is a IP Address resource, not a cluster disk"),
])
def test_a_disk_that_is_not_available_fails(disk, message):
    with pytest.raises(PlanError, match=r"storage\[0\]: .*" + message):
        plan_role(params(), probe(disks=[disk]))


def test_owner_node_must_be_an_up_node_of_the_cluster():
    with pytest.raises(PlanError, match="owner_node: 'GW09' is not a node of the cluster 'GWCLUSTER'; its nodes are GW01, GW02, GW03"):
        plan_role(params(owner_node="GW09"), probe())
    with pytest.raises(PlanError, match="owner_node: the node GW03 is Down"):
        plan_role(params(owner_node="gw03"), probe())


def test_another_cluster_fails_and_the_short_or_full_name_matches():
    with pytest.raises(PlanError, match="cluster: this host, GW01, is a node of the cluster 'GWCLUSTER', not of 'OTHER'"):
        plan_role(params(cluster="OTHER"), probe())
    assert plan_role(params(cluster="gwcluster.contoso.com"), probe()).operations


def test_a_role_of_another_kind_with_the_name_is_never_touched():
    group = complete_group(group_type="FileServer")
    with pytest.raises(PlanError, match="already has a role named 'CloudGateway' and it is a FileServer role"):
        plan_role(params(), probe(group=group))
    with pytest.raises(PlanError, match="FileServer role"):
        plan_role(params(state="absent"), probe(group=group))


# --- an existing role --------------------------------------------------------------------------


def test_a_complete_online_role_needs_nothing():
    plan = plan_role(params(owner_node="GW01"), probe(group=complete_group()))
    assert plan.operations == []
    assert plan.before == plan.after
    assert plan.result["created"] is False


def test_a_role_created_before_a_failure_gets_its_checkpoint():
    group = complete_group()
    group["resources"][3]["checkpoints"] = []
    plan = plan_role(params(), probe(group=group))
    assert actions(plan) == ["add_checkpoint", "wait_online"]


def test_checkpoints_compare_case_insensitively_and_extra_ones_stay_unless_exclusive():
    group = complete_group()
    group["resources"][3]["checkpoints"] = [CHECKPOINT.upper(), "SOFTWARE\\Other"]
    assert plan_role(params(), probe(group=group)).operations == []
    plan = plan_role(params(registry_checkpoints_exclusive=True), probe(group=group))
    assert plan.operations[0] == {"action": "remove_checkpoint", "resource": GATEWAY, "key": "SOFTWARE\\Other"}


def test_a_role_without_its_service_resource_is_completed_not_recreated():
    group = complete_group()
    del group["resources"][3]
    group["state"] = "PartialOnline"
    plan = plan_role(params(), probe(group=group))
    assert plan.operations[:4] == [
        {"action": "add_service_resource", "resource": GATEWAY, "group": "CloudGateway", "service_name": "CAGateway"},
        {"action": "add_dependency", "resource": GATEWAY, "provider": "CloudGateway"},
        {"action": "add_dependency", "resource": GATEWAY, "provider": "Cluster Disk 2"},
        {"action": "add_checkpoint", "resource": GATEWAY, "key": CHECKPOINT},
    ]
    assert actions(plan)[4:] == ["start_role", "wait_online"]


def test_a_missing_disk_is_moved_in_and_made_a_dependency():
    group = complete_group()
    disks = [{"name": "Cluster Disk 2", "found": True, "resource_type": "Physical Disk", "owner_group": "CloudGateway", "owner_group_type": "GenericService"},
             {"name": "Cluster Disk 3", "found": True, "resource_type": "Physical Disk", "owner_group": "Available Storage",
              "owner_group_type": "AvailableStorage"}]
    plan = plan_role(params(storage=["Cluster Disk 2", "Cluster Disk 3"]), probe(group=group, disks=disks))
    assert plan.operations[:2] == [{"action": "add_disk", "disk": "Cluster Disk 3", "group": "CloudGateway"},
                                   {"action": "add_dependency", "resource": GATEWAY, "provider": "Cluster Disk 3"}]


def test_a_half_created_service_resource_is_configured_rather_than_blocking():
    group = complete_group()
    group["resources"].append(resource(SYNC, "Generic Service", service_name="", state="Offline"))
    plan = plan_role(params(additional_services=[{"service": SYNC}]), probe(group=group))
    assert plan.operations[0] == {"action": "add_service_resource", "resource": SYNC, "group": "CloudGateway",
                                  "service_name": "CASync"}
    assert plan.after["resources"][SYNC]["service_name"] == "CASync"


def test_an_address_the_role_leases_from_dhcp_is_not_one_of_its_static_addresses():
    group = complete_group()
    group["resources"].append(dict(resource("IP Address 10.0.9.100", "IP Address", address="10.0.9.100"), enable_dhcp=True))
    assert plan_role(params(), probe(group=group)).operations == []


def test_different_addresses_on_an_existing_role_fail_rather_than_re_address_it():
    with pytest.raises(PlanError, match="static_addresses: the role 'CloudGateway' already exists with the addresses 10.0.0.50"):
        plan_role(params(static_addresses=["10.0.0.60"]), probe(group=complete_group()))


def test_a_failed_role_is_started_and_a_role_elsewhere_is_moved():
    plan = plan_role(params(owner_node="GW02"), probe(group=complete_group(state="Failed")))
    assert actions(plan) == ["move_role", "start_role", "wait_online"]
    assert plan.before["status"] == "Failed" and plan.after["status"] == "Online"


def test_depends_on_must_name_a_resource_of_the_role():
    with pytest.raises(PlanError, match=r"additional_services\[0\]\.depends_on\[0\]: the role has no resource named 'Nothing'"):
        plan_role(params(additional_services=[{"service": SYNC, "depends_on": ["Nothing"]}]), probe(group=complete_group()))


def test_two_options_resolving_to_one_service_fail():
    services = [service(GATEWAY, "CAGateway", GATEWAY), service("CAGateway", "CAGateway", GATEWAY)]
    with pytest.raises(PlanError, match="name the same Windows service more than once"):
        plan_role(params(additional_services=[{"service": "CAGateway"}]), probe(services=services))


# --- removal and probe shape -------------------------------------------------------------------


def test_absent_stops_the_role_frees_its_disks_from_their_dependents_returns_them_and_removes_the_role():
    plan = plan_role(params(state="absent"), probe(group=complete_group()))
    assert plan.operations == [
        {"action": "stop_role", "name": "CloudGateway"},
        {"action": "remove_dependency", "resource": GATEWAY, "provider": "Cluster Disk 2"},
        {"action": "release_disk", "disk": "Cluster Disk 2", "name": "CloudGateway"},
        {"action": "remove_role", "name": "CloudGateway"},
    ]
    assert plan.after == {"state": "absent"} and plan.result["removed"] is True
    assert plan_role(params(state="absent"), probe()).operations == []


@pytest.mark.parametrize("broken", [{"cluster": None}, {"services": "x"}, {"disks": None}, {"group": "x"}, {"resources": None}])
def test_a_probe_result_of_the_wrong_shape_is_reported_not_planned_on(broken):
    current = dict(probe(), **broken)
    with pytest.raises(UnexpectedProbeResult):
        plan_role(params(), current)


def test_planning_does_not_modify_the_probe_result():
    current = probe(group=complete_group(state="Failed"))
    snapshot = copy.deepcopy(current)
    plan_role(params(additional_services=[{"service": SYNC, "depends_on": ["CloudGateway"]}]), current)
    assert current == snapshot


# --- networks by subnet ------------------------------------------------------------------------------------------


def test_an_ignored_network_is_given_by_its_ipv4_subnets_and_an_ipv6_only_one_by_its_prefixes():
    # Microsoft documents -IgnoreNetwork's subnets in IPv4 form only (New-Cluster, examples 5 and 6).
    current = probe()
    current["cluster"]["networks"].append(
        {"name": "Backup", "role": "Client", "address": "192.168.5.0", "address_mask": "255.255.255.0",
         "ipv4_addresses": ["192.168.5.0", "172.16.0.0"], "ipv4_prefix_lengths": ["24", "13"],
         "ipv6_addresses": ["fd00:5:0:0::", "2001:db8:5::"], "ipv6_prefix_lengths": ["64", "48"]})
    current["cluster"]["networks"].append(
        {"name": "IPv6 only", "role": "ClusterAndClient", "address": "", "address_mask": "",
         "ipv6_addresses": ["fd00:6::", "fe80::"], "ipv6_prefix_lengths": ["64", "64"]})
    operation = plan_role(params(), current).operations[0]
    assert operation["ignore_networks"] == ["192.168.5.0/24", "172.16.0.0/13", "fd00:6::/64"]


def test_a_static_address_in_a_networks_second_ipv4_subnet_is_in_that_network():
    current = probe()
    current["cluster"]["networks"].append(
        {"name": "Backup", "role": "Client", "address": "192.168.5.0", "address_mask": "255.255.255.0",
         "ipv4_addresses": ["192.168.5.0", "172.16.0.0"], "ipv4_prefix_lengths": ["24", "13"]})
    operation = plan_role(params(static_addresses=["10.0.0.50", "172.16.4.9"]), current).operations[0]
    assert operation["ignore_networks"] == []


def test_a_client_network_without_a_subnet_cannot_be_ignored_and_fails_before_any_change():
    current = probe()
    current["cluster"]["networks"].append({"name": "Odd", "role": "Client", "address": "", "address_mask": ""})
    with pytest.raises(PlanError, match="static_addresses: the cluster's client network 'Odd' has none of the static "
                                        "addresses, and it reports no subnet"):
        plan_role(params(), current)


# --- dependency expressions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("expression, ids", [
    ("", []),
    ("[A]", ["a"]),
    ("[{A}] and [b]", ["a", "b"]),
    ("([a] or [b]) and [c]", ["a", "b", "c"]),
    ("([a] OR [b])AND([c] or [d])", ["a", "b", "c", "d"]),
])
def test_a_dependency_expression_is_read_by_its_grammar(expression, ids):
    assert dependency_ids(expression) == ids


@pytest.mark.parametrize("expression", ["[a", "[a] nand [b]", "a and b", "[a] andor [b]"])
def test_an_expression_outside_the_grammar_is_an_unexpected_probe_result(expression):
    with pytest.raises(UnexpectedProbeResult):
        dependency_ids(expression)


def test_resource_names_with_brackets_are_read_by_id_so_a_second_run_changes_nothing():
    # A service whose display name holds brackets: the name-based reading cut "Keyfactor [Sync] Service" at its
    # first "]" and added the dependency again on every run.
    sync = "Keyfactor [Sync] Service"
    group = complete_group()
    group["resources"].append(resource(sync, "Generic Service", service_name="CASync", depends=[GATEWAY, "Cluster Disk 2"]))
    services = [service(GATEWAY, "CAGateway", GATEWAY), service("CASync", "CASync", sync)]
    options = params(additional_services=[{"service": "CASync", "depends_on": [GATEWAY]}])
    plan = plan_role(options, probe(group=group, services=services))
    assert plan.operations == []
    assert plan.after["resources"][sync]["depends_on"] == ["Cluster Disk 2", GATEWAY]


def test_a_dependency_on_a_resource_outside_the_role_is_an_unexpected_probe_result():
    group = complete_group()
    group["resources"][3]["dependency_expression"] += f" and [{rid('Somewhere Else')}]"
    with pytest.raises(UnexpectedProbeResult, match="depends on .* which is no resource of its role"):
        plan_role(params(), probe(group=group))


# --- self and circular dependencies -------------------------------------------------------------------------------

THIRD = "Keyfactor Third Service"


def third_services() -> list[dict]:
    return [service(GATEWAY, "CAGateway", GATEWAY), service("CASync", "CASync", SYNC), service("CAThird", "CAThird", THIRD)]


def test_a_service_that_depends_on_its_own_resource_fails_on_the_controller():
    # Given by service name, the entry's own resource is known by its display name only after the probe.
    with pytest.raises(PlanError, match=r"^additional_services\[0\]\.depends_on\[0\]: 'Keyfactor Managed CA Sync Service' "
                                        r"is the resource of this service itself"):
        plan_role(params(additional_services=[{"service": "CASync", "depends_on": [SYNC]}]), probe(services=third_services()))


def test_services_that_depend_on_each_other_fail_on_the_controller_naming_the_option():
    entries = [{"service": "CASync", "depends_on": [THIRD]}, {"service": "CAThird", "depends_on": [SYNC]}]
    with pytest.raises(PlanError, match=r"^additional_services\[1\]\.depends_on\[0\]: 'Keyfactor Managed CA Sync Service' "
                                        r"depends on 'Keyfactor Third Service' already \(Keyfactor Managed CA Sync Service -> "
                                        r"Keyfactor Third Service\), so this dependency would make a circle"):
        plan_role(params(additional_services=entries), probe(services=third_services()))


def test_a_circle_through_what_the_role_already_has_fails_too():
    # The gateway's resource already depends on the sync service's; the sync service may not depend on it.
    group = complete_group()
    group["resources"].append(resource(SYNC, "Generic Service", service_name="CASync"))
    group["resources"][3]["dependency_expression"] += f" and [{rid(SYNC)}]"
    with pytest.raises(PlanError, match=r"additional_services\[0\]\.depends_on\[0\]: .*would make a circle"):
        plan_role(params(additional_services=[{"service": SYNC, "depends_on": [GATEWAY]}]), probe(group=group))


def test_options_that_name_their_own_service_or_a_circle_fail_before_the_host():
    with pytest.raises(TaskInputError, match=r"^additional_services\[0\]\.depends_on\[1\]: 'casync' is this entry's own service"):
        params(additional_services=[{"service": "CASync", "depends_on": ["CloudGateway", "casync"]}])
    entries = [{"service": "A"}, {"service": "B", "depends_on": ["C"]}, {"service": "C", "depends_on": ["b"]}]
    with pytest.raises(TaskInputError, match=r"^additional_services\[1\]\.depends_on: the services depend on each other in a "
                                             r"circle, additional_services\[1\] \(B\) -> additional_services\[2\] \(C\) -> "
                                             r"additional_services\[1\] \(B\)"):
        params(additional_services=entries)


@pytest.mark.parametrize("name", ["Cluster Disk [2]", "Disk]", "Disk*", "Disk?"])
def test_names_the_cluster_cannot_be_given_safely_are_refused_before_the_host(name):
    with pytest.raises(TaskInputError, match=r"^storage\[0\]: .* holds one of \[ \] \* \?"):
        params(storage=[name])
    with pytest.raises(TaskInputError, match=r"^additional_services\[0\]\.depends_on\[0\]: "):
        params(additional_services=[{"service": SYNC, "depends_on": [name]}])


def test_a_role_whose_disk_has_such_a_name_is_not_removed():
    group = complete_group()
    group["resources"][2] = resource("Cluster Disk [2]", "Physical Disk")
    group["resources"][3] = resource(GATEWAY, "Generic Service", service_name="CAGateway",
                                     depends=["CloudGateway", "Cluster Disk [2]"], checkpoints=[CHECKPOINT])
    with pytest.raises(PlanError, match="has the disk 'Cluster Disk \\[2\\]', whose name holds one of"):
        plan_role(params(state="absent"), probe(group=group))


# --- names the cluster already uses -------------------------------------------------------------------------------


@pytest.mark.parametrize("name, message", [
    ("GW02", "'GW02' is the name of the cluster's node GW02"),
    ("gw03", "'gw03' is the name of the cluster's node GW03"),
    ("GwCluster", "'GwCluster' is the name of the cluster itself"),
])
def test_a_new_role_cannot_take_the_name_of_a_node_or_of_the_cluster(name, message):
    with pytest.raises(PlanError, match=f"^name: {message}; a role's client access point needs a computer name of its own"):
        plan_role(params(name=name), probe())


@pytest.mark.parametrize("elsewhere, option", [
    ([("CloudGateway", "Other Role")], "name"),
    ([("IP Address 10.0.0.50", "Other Role")], "static_addresses"),
    ([(GATEWAY, "Other Role")], "service"),
])
def test_a_new_role_cannot_create_a_resource_whose_name_another_role_has(elsewhere, option):
    with pytest.raises(PlanError, match=f"^{option}: the cluster already has a resource named .*, in the role 'Other Role', "
                                        "and a resource's name is unique in a cluster"):
        plan_role(params(), probe(elsewhere=elsewhere))


def test_an_additional_service_whose_resource_name_another_role_has_fails_before_any_change():
    with pytest.raises(PlanError, match=r"^additional_services\[0\]\.service: the cluster already has a resource named "
                                        r"'Keyfactor Managed CA Sync Service', in the role 'Other Role'"):
        plan_role(params(additional_services=[{"service": SYNC}]),
                  probe(group=complete_group(), elsewhere=[(SYNC, "Other Role")]))


# --- registry checkpoints as Windows reads them --------------------------------------------------------------------


@pytest.mark.parametrize("written", [
    "HKLM:/SOFTWARE/Keyfactor/Keyfactor CA Gateway/Parameters",
    "HKLM:\\SOFTWARE/Keyfactor\\Keyfactor CA Gateway/Parameters",
    "Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters",
])
def test_a_checkpoint_written_the_powershell_way_is_the_key_windows_replicates(written):
    assert params(registry_checkpoints=[written])["registry_checkpoints"] == [CHECKPOINT]


def test_a_checkpoint_directly_under_hklm_is_refused():
    with pytest.raises(TaskInputError, match=r"^registry_checkpoints\[0\]: 'Keyfactor\\\\Parameters' would be a key directly "
                                             r"under HKEY_LOCAL_MACHINE"):
        params(registry_checkpoints=["Keyfactor\\Parameters"])
