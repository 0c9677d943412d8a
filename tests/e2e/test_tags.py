"""Tags run exactly their steps: rights, iis, certificates, cluster and readiness (README, "Tags")."""

from __future__ import annotations

import copy

import pytest

import pki_fixtures as pki
from conftest import PLAYBOOKS
from test_gateway_cluster import NODE_SEED, NODES, Cluster
from test_profiles import COMMON_VARS, PROFILE_VARS, SEED

SITE = PLAYBOOKS / "site.yml"
HOST = "kf-aio01.contoso.com"
PFX_PASSWORD = "Pfx!Tags-Encryption-1"

# The checks every tag runs first, which change nothing: the variables, the profile's steps and the snapshot.
ALWAYS = {
    "Check the variables of every role this host takes",
    "Prepare what every Keyfactor Command server needs",
    "Prepare the server for the Management Portal",
    "Prepare the server for the Keyfactor Command Service",
    "Derive every step from the profile of the common preparation",
    "Derive every step from the profile of the Management Portal",
    "Derive every step from the profile of the Keyfactor Command Service",
    "Check the variables of the common preparation",
    "Check the variables of the Management Portal",
    "Check the variables of the Keyfactor Command Service",
    "Read in one run what is needed for the common preparation",
    "Read in one run what is needed for the Management Portal",
    "Read in one run what is needed for the Keyfactor Command Service",
    "Refuse a host that is a certificate authority or a SQL Server, or lacks an account the variables name",
    "Check that the play holds the nodes of one cluster",
    "Prepare the node",
    "Derive every step from the profile of the gateway cluster node",
    "Check the variables of the gateway cluster node",
    "Read in one run what is needed for the gateway cluster node",
}
# What each tag may run besides, on the all-in-one server and on the gateway's nodes.
STEPS = {
    "rights": {"Grant the user rights for the common preparation", "Grant the user rights for the Management Portal",
               "Grant the user rights for the Keyfactor Command Service"},
    "iis": {"Install IIS and its role services", "Create and configure the application pools for the Management Portal"},
    "certificates": {"Import the certificates", "Import the certificates and let their accounts use the keys",
                     "Install the chain certificates", "Point the gateway at its encryption certificate"},
    "cluster": {"Install Failover Clustering and its management tools", "Check the node and its cluster role before changing the node",
                "Stop when a service is missing that is needed for the gateway cluster node",
                "Stop when the features need a restart first", "Check the cluster role before changing any node",
                "Stop when a node of the cluster is not in the play", "Create the gateway's cluster role"},
    "readiness": {"Start from nothing", "List what every Keyfactor Command server must meet",
                  "Load the role every profile role depends on, without preparing anything",
                  "List what the Management Portal asks", "List what the Keyfactor Command Service asks",
                  "List what a gateway cluster node must meet", "List what the Management Portal asks of the server",
                  "List what the Keyfactor Command Service asks of the server",
                  "Read the server and judge each requirement", "Create the report directory",
                  "Write the Markdown report", "Write the HTML report", "Say where the report is"},
}


@pytest.fixture(name="estate")
def fixture_estate(lab, gateway_cert, ca):
    pfx = lab.root / "encryption.pfx"
    pfx.write_bytes(pki.pfx(pki.issue("kf-encryption.contoso.com", issuer=ca[1]), PFX_PASSWORD))
    lab.add_host(HOST, groups=("keyfactor_portal", "keyfactor_services"), seed=SEED, **COMMON_VARS,
                 **PROFILE_VARS["keyfactor_portal"], **PROFILE_VARS["keyfactor_services"],
                 services_encryption_pfx_src=str(pfx), services_encryption_pfx_password=PFX_PASSWORD)
    node_seed = dict(copy.deepcopy(NODE_SEED), features={"Failover-Clustering": {"installed": True}})
    return Cluster(lab, gateway_cert, ca, node_seed=node_seed)


# A step each tag must run, by host (None: every host).
MUST = {
    "rights": {HOST: "Grant the user rights for the common preparation"},
    "iis": {HOST: "Create and configure the application pools for the Management Portal"},
    "certificates": {HOST: "Import the certificates and let their accounts use the keys",
                     NODES[0]: "Point the gateway at its encryption certificate"},
    "cluster": {NODES[0]: "Create the gateway's cluster role"},
    "readiness": {None: "Read the server and judge each requirement"},
}


def _what_changed(lab, estate) -> dict:
    """What each part of the estate holds that a tag would change."""
    aio = lab.state(HOST)
    nodes = [lab.state(node) for node in NODES]
    return {
        "rights": sorted(aio["user_rights"].get("SeBackupPrivilege") or []),
        "iis": sorted(name for name, feature in (aio.get("features") or {}).items() if feature.get("installed")),
        "pools": sorted((aio.get("iis") or {}).get("app_pools") or {}),
        "certificates": [sorted((state.get("certificates") or {}).get("My") or {}) for state in [aio, *nodes]],
        "cluster": estate.group() is not None,
    }


@pytest.mark.parametrize("tag", sorted(STEPS))
def test_each_tag_runs_exactly_its_steps(lab, estate, tag):
    before = _what_changed(lab, estate)
    report = lab.root / "report"
    run = lab.run(SITE, "--tags", tag, extra_vars={"keyfactor_readiness_report_dir": str(report)})
    assert run.returncode == 0, run.stdout[-3000:]
    for host in (HOST, *NODES):
        # Ansible checks each role's variables as it starts the role, whatever the tags.
        ran = {name for name in run.ran(host) if not name.startswith("Validating arguments against arg spec")}
        assert ran - ALWAYS <= STEPS[tag], f"{tag} on {host} ran {sorted(ran - ALWAYS - STEPS[tag])}"
        must = MUST[tag].get(host, MUST[tag].get(None))
        assert must is None or must in ran, f"{tag} on {host} did not run {must}"
    after = _what_changed(lab, estate)
    changed = {part for part in after if after[part] != before[part]}
    expected = {"rights": {"rights"}, "iis": {"iis", "pools"}, "certificates": {"certificates"}, "cluster": {"cluster"},
                "readiness": set()}
    assert changed == expected[tag], (tag, changed)
    if tag == "readiness":
        assert (report / "readiness.html").is_file()


def test_skipping_the_cluster_tag_still_installs_iis(lab, estate):
    # A task with both tags would be skipped by either; each tag has its own install.
    run = lab.run(SITE, "--skip-tags", "cluster")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Install IIS and its role services" in run.ran(HOST)
    assert lab.state(HOST)["features"]["Web-Server"]["installed"]
    assert estate.group() is None


def test_the_readiness_tag_reads_a_server_the_preparation_would_refuse(lab, tmp_path):
    # A certificate authority: site.yml would stop before preparing it; the readiness report still reads it.
    seed = dict(SEED, services={"CertSvc": {"display_name": "Active Directory Certificate Services", "state": "running"}})
    lab.add_host(HOST, groups=("keyfactor_services",), seed=seed, **COMMON_VARS, **PROFILE_VARS["keyfactor_services"])
    before = lab.windows_state(HOST)
    run = lab.run(SITE, "--tags", "readiness", extra_vars={"keyfactor_readiness_report_dir": str(tmp_path / "report")})
    assert run.returncode == 0, run.stdout[-3000:]
    (judged,) = [result for name, result in run.task_results(HOST) if name == "Read the server and judge each requirement"]
    assert not judged.get("failed") and judged["ready"] is False
    assert [r["status"] for r in judged["requirements"] if r["kind"] == "co_location"] == ["fail"]
    assert lab.windows_state(HOST) == before
