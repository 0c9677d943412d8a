"""The simulator's models of the bench's own scripts, which are not payloads of the collection: tools/bench.py names
this file in WINDOWS_SIM_MODELS (tests/windows_sim/winsim/models.py) for its runs.

bench_baseline_cluster_role: the cluster role script in tests/bench/baseline/tasks/gateway_cluster_node.yml.

No stock module manages a Failover Cluster role, so the bench's stock-module baseline runs one
win_powershell script: it creates the Generic Service role with its addresses, disks and registry
checkpoints when the role is missing, adds the checkpoints and the sync service resource it lacks, moves
the role to its owner node and starts it. Each Windows change goes through the same cluster model as
cluster_generic_service_role's, so both leave the cluster alike; the script reports changed only when it
changed something, and under -WhatIf (check mode) changes nothing.
"""

from __future__ import annotations

from winsim import cluster as model
from winsim.models import payload_model
from winsim.payloads.cluster_generic_service_role import _apply_one, _cluster_of, _fail


def _operations(cluster: dict, parameters: dict, service_display_name) -> list[dict]:
    name = parameters["Name"]
    operations = []
    group = model.find_group(cluster, name)
    if group is None:
        operations.append({"action": "create_role", "name": name, "service_name": parameters["Service"],
                           "static_addresses": list(parameters.get("StaticAddresses") or []), "ignore_networks": [],
                           "storage": list(parameters.get("Storage") or [])})
        service_resource = service_display_name(parameters["Service"])
    else:
        service_resource = next((r["name"] for r in model.group_resources(cluster, group["name"])
                                 if r["resource_type"] == "Generic Service"
                                 and r["parameters"].get("ServiceName", "").lower() in
                                 (parameters["Service"].lower(), service_display_name(parameters["Service"]).lower())),
                                service_display_name(parameters["Service"]))
    resource = model.find_resource(cluster, service_resource)
    present = {k.lower() for k in (resource or {}).get("checkpoints", [])}
    operations += [{"action": "add_checkpoint", "resource": service_resource, "key": key}
                   for key in parameters.get("Checkpoints") or [] if key.lower() not in present]
    sync = parameters.get("SyncService") or ""
    if sync:
        sync_resource = service_display_name(sync)
        existing = model.find_resource(cluster, sync_resource)
        if existing is None:
            operations.append({"action": "add_service_resource", "resource": sync_resource, "group": name,
                               "service_name": sync})
        sync_present = {k.lower() for k in (existing or {}).get("checkpoints", [])}
        operations += [{"action": "add_checkpoint", "resource": sync_resource, "key": key}
                       for key in parameters.get("SyncCheckpoints") or [] if key.lower() not in sync_present]
    owner = parameters.get("OwnerNode") or ""
    if owner and (group is None or group["owner_node"].lower() != owner.lower()):
        operations.append({"action": "move_role", "name": name, "node": owner, "timeout_seconds": 0})
    if group is None or group["state"] != "Online" or operations:
        operations.append({"action": "start_role", "name": name, "timeout_seconds": 0})
    return operations


@payload_model("bench_baseline_cluster_role")
def bench_baseline_cluster_role(call) -> None:
    call.changed = False
    cluster = _cluster_of(call)
    services = call.host.state.get("services", {})

    def display_name(query: str) -> str:
        found = next((n for n in services if n.lower() == query.lower()
                      or str(services[n].get("display_name", n)).lower() == query.lower()), None)
        if found is None:
            _fail(f"Cannot find the service '{query}'", "No service with this name or display name is installed.")
        return services[found].get("display_name", found)

    operations = _operations(cluster, call.parameters, display_name)
    call.result = {"operations": [op["action"] for op in operations]}
    if call.check_mode or not operations:
        return
    if not call.become and not cluster["credential_delegation"]:
        message, type_name = model.ACCESS_DENIED
        _fail(f"Cannot change the cluster '{cluster['name']}'", message, type_name)
    for operation in operations:
        _apply_one(call, cluster, operation)
        # The script calls each cmdlet without -Wait, so each returns once its change has completed.
        model.settle_all(cluster)
        call.changed = True
        call.operation_done()
