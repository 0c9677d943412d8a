"""Preflight: every check the controller can make, for every role a host takes, runs before anything changes.

Each test reproduces a mistake that used to be found only after the host had changed: a pool clash between two
groups, a later role's PFX password, a misspelled account, a missing variable, a bad cluster role name or address,
and a --limit that leaves a node of the cluster out. Each now stops with zero changes on every host.
"""

from __future__ import annotations

import copy

import pytest

import pki_fixtures as pki
from conftest import PLAYBOOKS
from test_gateway_cluster import CLUSTER_SEED, NODE_SEED, NODES, Cluster
from test_profiles import COMMON_VARS, PROFILE_VARS, SEED

SITE = PLAYBOOKS / "site.yml"
HOST = "kf-aio01.contoso.com"
OTHER = "kf-services01.contoso.com"
PFX_PASSWORD = "Pfx!Preflight-Encryption-1"


@pytest.fixture(scope="module", name="encryption_pfx")
def fixture_encryption_pfx(ca):
    return pki.pfx(pki.issue("kf-encryption.contoso.com", issuer=ca[1]), PFX_PASSWORD)


def _aio(lab, **overrides):
    """A server with the portal, the services and the Orchestrators API, as the README's HA example has them."""
    host_vars = {**COMMON_VARS, **PROFILE_VARS["keyfactor_portal"], **PROFILE_VARS["keyfactor_services"],
                 **PROFILE_VARS["keyfactor_orchestrator_api"], **overrides}
    lab.add_host(HOST, groups=("keyfactor_portal", "keyfactor_services", "keyfactor_orchestrator_api"), seed=SEED,
                 **{k: v for k, v in host_vars.items() if v is not None})


def _stops_unchanged(lab, hosts, *args, check_too=True, extra_vars=None):
    """Runs site.yml (in check mode too): each run fails, and no host changes. Returns the failure messages of the last
    run, by host."""
    before = {host: lab.windows_state(host) for host in hosts}
    for check in ((True, False) if check_too else (False,)):
        run = lab.run(SITE, *args, check=check, extra_vars=extra_vars)
        assert run.returncode != 0, run.stdout[-3000:]
        for host in hosts:
            assert lab.windows_state(host) == before[host], f"{host} changed (check={check})"
    return run


def test_a_pool_clash_between_two_groups_stops_the_host_before_any_change(lab):
    _aio(lab, orchestrator_api_app_pool="KeyfactorAPI")
    run = _stops_unchanged(lab, [HOST])
    (message,) = run.failure_messages(HOST)
    assert message == ("the Orchestrators API would use the application pool(s) keyfactorapi, which the "
                       "Management Portal on this server already uses. Give each profile pools of its own."), message
    assert lab.round_trips(HOST) == 0


@pytest.mark.parametrize("password, expected", [
    ("Not-The-Password-1", "services_encryption_pfx_password: does not open the PFX given in src"),
    (None, "services_encryption_pfx_password: is missing, and the PFX given in src does not open without a password"),
])
def test_a_later_roles_pfx_is_checked_before_the_first_role_changes_anything(lab, encryption_pfx, password, expected):
    pfx = lab.root / "encryption.pfx"
    pfx.write_bytes(encryption_pfx)
    _aio(lab, services_encryption_pfx_src=str(pfx), services_encryption_pfx_password=password)
    run = _stops_unchanged(lab, [HOST])
    (message,) = run.failure_messages(HOST)
    assert f"services_encryption_pfx_src ({pfx}): {expected}" in message, message
    assert "reads[" not in message and "validate[" not in message
    assert lab.round_trips(HOST) == 0


def test_an_account_the_inventory_spells_wrongly_is_named_by_its_variable_before_any_change(lab):
    _aio(lab, services_account="CONTOSO\\svc_keyfactr")
    run = _stops_unchanged(lab, [HOST])
    (message,) = run.failure_messages(HOST)
    assert message.startswith("CONTOSO\\svc_keyfactr does not resolve to an account on this server"), message
    # services_encryption_key_access names the account too, by default.
    assert message.endswith(": correct services_account; correct services_encryption_key_access."), message


def test_each_missing_variable_is_one_line_and_no_argument_spec_is_dumped(lab):
    lab.add_host("kf-caconn01.contoso.com", groups=("keyfactor_ca_connector",), seed=SEED, **COMMON_VARS)
    run = _stops_unchanged(lab, ["kf-caconn01.contoso.com"], check_too=False)
    (message,) = run.failure_messages("kf-caconn01.contoso.com")
    assert message.splitlines() == [
        "ca_connector_app_pool_account is not set, and role pkiops.keyfactor_command.ca_connector needs it.",
        "ca_connector_oauth_authority is not set, and role pkiops.keyfactor_command.ca_connector needs it."]
    assert "argument_spec_data" not in run.stdout
    assert lab.round_trips("kf-caconn01.contoso.com") == 0


def test_a_host_that_fails_preflight_is_not_touched_while_the_others_converge(lab):
    _aio(lab, services_account="CONTOSO\\svc_keyfactr")
    lab.add_host(OTHER, groups=("keyfactor_services",), seed=SEED, **COMMON_VARS, **PROFILE_VARS["keyfactor_services"])
    before = lab.windows_state(HOST)
    run = lab.run(SITE)
    assert run.returncode != 0
    assert lab.windows_state(HOST) == before
    assert run.failures(OTHER) == 0 and run.changed(OTHER) > 0


@pytest.mark.parametrize("overrides, expected", [
    ({"gateway_cluster_node_role_name": "CloudGateway0123"},
     "gateway_cluster_node_role_name: 'CloudGateway0123' cannot be a role's client access point name: it has 16 characters"),
    ({"gateway_cluster_node_static_addresses": ["kf-gw.contoso.com"]},
     "gateway_cluster_node_static_addresses[0]: 'kf-gw.contoso.com' is not an IPv4 address"),
])
def test_a_bad_cluster_role_stops_every_node_before_the_features_are_installed(lab, gateway_cert, ca, overrides, expected):
    # A cluster built without the management tools: the role would install them first.
    node_seed = dict(copy.deepcopy(NODE_SEED), features={"Failover-Clustering": {"installed": True}})
    cluster = Cluster(lab, gateway_cert, ca, node_seed=node_seed, **overrides)
    before = cluster.state()
    run = _stops_unchanged(lab, NODES)
    assert cluster.state() == before
    messages = run.failure_messages(NODES[0])
    assert any(expected in message for message in messages), messages
    assert all(lab.round_trips(node) == 0 for node in NODES)


def test_limit_to_one_node_creates_no_cluster_role_and_changes_nothing(lab, gateway_cert, ca):
    cluster = Cluster(lab, gateway_cert, ca)
    before = cluster.state()
    run = _stops_unchanged(lab, NODES, "--limit", NODES[1])
    assert cluster.state() == before and cluster.group() is None
    (message,) = run.failure_messages(NODES[1])
    assert message.startswith(f"{NODES[0]} is in the cluster GWCLUSTER (gateway_cluster_node_cluster_name) too, but not "
                              "in this play."), message
    assert "without --limit" in message


def test_a_cluster_node_the_inventory_lacks_stops_the_role_before_any_node_changes_its_certificates(lab, gateway_cert, ca):
    cluster_seed = copy.deepcopy(CLUSTER_SEED)
    cluster_seed["nodes"].append({"name": "KF-GW03", "state": "Up"})
    cluster = Cluster(lab, gateway_cert, ca, cluster_seed=cluster_seed)
    before = cluster.state()
    run = _stops_unchanged(lab, NODES)
    assert cluster.state() == before and cluster.group() is None
    messages = run.failure_messages(NODES[0])
    assert any("also has the node(s) KF-GW03, which this play does not prepare" in m for m in messages), messages


def test_one_node_failing_only_the_variable_check_stops_every_node(lab, gateway_cert, ca):
    node_seed = dict(copy.deepcopy(NODE_SEED), features={"Failover-Clustering": {"installed": True}})
    cluster = Cluster(lab, gateway_cert, ca, node_seed=node_seed)
    # One node's own variable is wrong; the other node's are fine.
    lab.hosts[NODES[1]]["vars"]["gateway_cluster_node_online_timeout"] = "soon"
    before = cluster.state()
    run = _stops_unchanged(lab, NODES, check_too=False)
    assert cluster.state() == before
    assert any("gateway_cluster_node_online_timeout" in message for message in run.failure_messages(NODES[1]))
