"""Honest check mode: where --check cannot tell what a real run would do, it says so and counts the change."""

from __future__ import annotations

import copy

from conftest import PLAYBOOKS
from test_gateway_cluster import NODE_SEED, NODES, Cluster

SITE = PLAYBOOKS / "site.yml"


def test_on_nodes_without_the_cluster_tools_check_mode_counts_what_a_real_run_changes(lab, gateway_cert, ca):
    # A cluster built without the management tools: the cluster cannot be read until a real run installs them.
    node_seed = dict(copy.deepcopy(NODE_SEED), features={"Failover-Clustering": {"installed": True}})
    Cluster(lab, gateway_cert, ca, node_seed=node_seed)
    check = lab.run(SITE, check=True)
    assert check.returncode == 0, check.stdout[-3000:]
    output = " ".join(check.stdout.split())
    assert "Check mode cannot read the cluster" in output and "creates or changes it from this node" in output
    assert "Check mode cannot compare EncryptSerialNumber" in output

    real = lab.run(SITE)
    assert real.returncode == 0, real.stdout[-3000:]
    assert [check.changed(node) for node in NODES] == [real.changed(node) for node in NODES]
    assert lab.run(SITE).changed(NODES[0]) == 0
