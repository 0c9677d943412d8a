"""cluster_generic_service_role's action: what it sends to the host, and how it explains Windows' failures."""

from __future__ import annotations

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.pkiops.keyfactor_command.plugins.action.cluster_generic_service_role import ActionModule
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._cluster_generic_service_role_spec import (
    ARGUMENT_SPEC,
    SPEC_RULES,
)

GATEWAY = "Keyfactor Managed CA Gateway"
ARGS = {"name": "CloudGateway", "service": GATEWAY, "static_addresses": ["10.0.0.50"], "storage": ["Cluster Disk 2"]}
PROBE = {
    "cluster": {"name": "GWCLUSTER", "local_node": "GW01", "nodes": [{"name": "GW01", "state": "Up"}],
                "networks": [{"name": "Cluster Network 1", "role": "ClusterAndClient", "address": "10.0.0.0",
                              "address_mask": "255.255.255.0"}]},
    "services": [{"query": GATEWAY, "found": True, "name": "CAGateway", "display_name": GATEWAY}],
    "disks": [{"name": "Cluster Disk 2", "found": True, "resource_type": "Physical Disk", "owner_group": "Available Storage",
               "owner_group_type": "AvailableStorage", "state": "Online"}],
    "group": None,
    "resources": [{"name": "Cluster Disk 2", "group": "Available Storage"}],
}


def test_present_needs_a_service_and_absent_does_not():
    result = ArgumentSpecValidator(ARGUMENT_SPEC, **SPEC_RULES).validate({"name": "CloudGateway"})
    assert any("service" in m for m in result.error_messages)
    result = ArgumentSpecValidator(ARGUMENT_SPEC, **SPEC_RULES).validate({"name": "CloudGateway", "state": "absent"})
    assert not result.error_messages


def test_bad_input_fails_with_no_round_trip(make_action):
    action, replay = make_action(ActionModule, dict(ARGS, name="CloudGateway0123"))
    result = action.run(task_vars={})
    assert result["failed"] and result["changed"] is False
    assert result["msg"].startswith("pkiops.keyfactor_command.cluster_generic_service_role: name: 'CloudGateway0123'")
    assert replay.calls == []


def test_probe_asks_for_the_services_and_disks_and_apply_sends_the_plan(make_action, ps_ok):
    action, replay = make_action(ActionModule, dict(ARGS, additional_services=[{"service": "CASync"}]))
    probe = dict(PROBE, services=PROBE["services"] + [{"query": "CASync", "found": True, "name": "CASync",
                                                       "display_name": "Keyfactor Managed CA Sync Service"}])
    replay.queue(ps_ok(probe), ps_ok({"applied": []}, changed=True))
    result = action.run(task_vars={})
    assert not result.get("failed"), result
    assert replay.modes == ["probe", "apply"]
    assert replay.calls[0]["module_args"]["parameters"] == {"Mode": "probe", "Name": "CloudGateway",
                                                            "Services": [GATEWAY, "CASync"], "Disks": ["Cluster Disk 2"]}
    operations = replay.calls[1]["module_args"]["parameters"]["Operations"]
    assert operations[0]["action"] == "create_role" and operations[-1]["action"] == "wait_online"
    assert result["changed"] and result["created"]


def test_absent_probes_for_the_role_only(make_action, ps_ok):
    action, replay = make_action(ActionModule, {"name": "CloudGateway", "state": "absent"})
    replay.queue(ps_ok(dict(PROBE, services=[], disks=[])))
    result = action.run(task_vars={})
    assert replay.calls[0]["module_args"]["parameters"] == {"Mode": "probe", "Name": "CloudGateway", "Services": [], "Disks": []}
    assert result["changed"] is False and result["role"] == {"state": "absent"}


@pytest.mark.parametrize("become, advice", [
    (False, "the double hop). Run the task with become: true"),
    (True, "the task ran with become, so the account it became needs to be an administrator of the cluster"),
])
def test_access_denied_is_explained_with_or_without_become(make_action, ps_ok, ps_failed, become, advice):
    action, replay = make_action(ActionModule, ARGS)
    action._task.become = become  # pylint: disable=protected-access
    replay.queue(ps_ok(PROBE),
                 ps_failed("Cannot create the role 'CloudGateway': Access is denied.",
                           type_name="System.InvalidOperationException", changed=False))
    result = action.run(task_vars={})
    assert result["failed"]
    assert "apply failed on the host: Cannot create the role 'CloudGateway': Access is denied. Cluster changes reach" in result["msg"]
    assert advice in result["msg"]


@pytest.mark.parametrize("message, advice", [
    ("Cannot load the FailoverClusters PowerShell module (install the RSAT-Clustering-PowerShell feature): The specified "
     "module 'FailoverClusters' was not loaded because no valid module file was found in any module directory.",
     "install the Failover-Clustering feature with its management tools"),
    ("Cannot read the cluster: The cluster service is not running.", "Run this task on a node of the cluster"),
])
def test_a_probe_that_cannot_reach_the_cluster_says_what_to_do(make_action, ps_failed, message, advice):
    action, replay = make_action(ActionModule, ARGS)
    replay.queue(ps_failed(message, changed=False))
    result = action.run(task_vars={})
    assert result["failed"] and advice in result["msg"] and replay.modes == ["probe"]
