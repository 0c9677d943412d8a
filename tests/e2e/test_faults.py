"""Faults and concurrency end to end (issue 7, sections 3 to 5): a run cut short converges when run again.

1. Fault injection. For every module whose apply has more than one step (a step is one call of
   ``call.operation_done()`` in its payload model), a scenario with several operations fails after each
   step k in turn; run again without the fault, it must reach the clean run's final state, and a third run
   must change nothing. private_key_acl is covered too, although its apply is one step (the payload writes
   the key's security descriptor once, however many principals change); cert_serial_registry, also one
   step where its registry key exists, is covered by the rotation (a failure between creating the key and
   writing the value, by the model's tests). Also the gateway certificate rotation, failing at each
   host-changing step on each node.
2. Transport faults: a probe that loses the connection is retried a bounded number of times; an apply that
   loses it is never repeated.
3. Concurrency: forks never create the cluster role twice, and never let one host's state bleed into another's.

Each injected fault is recorded in the reliability ledger; a final state that differs from the clean run's
is recorded as lost, and fails the test.

Fault matrices put every step on a host of its own in one lab: the clean reference, then one host per step,
each with its own state file (and its own cluster file), seeded alike and with the same computer name. A host's
state file is all the simulator knows of it, so each host is a fresh machine, as a fresh lab would give; one
ansible-playbook run then covers every step, which keeps the suite fast. test_profiles_in_parallel_never_bleed
below is what shows that hosts of one run do not see each other's state.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pathlib

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import pki_fixtures as pki
from conftest import PLAYBOOKS, TEST_PLAYBOOKS, SimLab
from reliability import record
from test_gateway_cluster import CLUSTER_SEED, GATEWAY_KEY, NODE_SEED, NODES, Cluster, _pointed_at, _thumbprint
from test_gateway_cluster import PASSWORD as GATEWAY_PFX_PASSWORD
from test_profiles import COMMON_VARS, PROFILE_VARS
from test_profiles import PASSWORD as PROFILE_PASSWORD
from test_profiles import SEED as PROFILE_SEED
from winsim.certificates import certificate_entry
from winsim.cluster import complete as complete_cluster
from winsim.iis import POOL_DEFAULTS
from winsim.passwords import password_matches
from winsim.state import complete as complete_state

SITE = PLAYBOOKS / "site.yml"
ROTATE = PLAYBOOKS / "rotate_gateway_certificate.yml"
COLLECTION = "pkiops.keyfactor_command"
FAULT = "The RPC server is unavailable."
DROP = "connection reset by peer (simulated WinRM drop)"
PFX_PASSWORD = "Pfx!Fault-Injection-Tests"
SERVICE_PASSWORD = "Svc!Fault-Injection-Tests-1"
REFERENCE = "reference"

# Fields whose value a correct re-run may legitimately leave different from the clean run's:
# - a private key's "container": Windows names each imported key's container with a fresh GUID (the
#   simulator a fresh uuid4), so two imports of the same PFX never share it, faulted or not;
# - "orphaned_keys": an import that fails after it wrote the key to the machine key store and before the store
#   held the certificate leaves that key there, referred to by nothing, as Windows does; the re-run imports the
#   PFX again with a key of its own (tests/unit/windows_sim/test_certificate_models.py shows both);
# - an app pool's "recycles": a counter of recycles, not configuration. A run that fails after committing a
#   pool's new identity but before recycling it leaves the counter one short; IIS recycles a pool on that
#   configuration change by itself, and the re-run finds nothing left to change, as it should.
# Fields compared by meaning rather than by bytes:
# - an app pool's "password_sha256" is salted afresh at every write, so it is compared as which of the tests'
#   passwords it was made from;
# - a host's "registry" absent and empty are the same registry (the simulator creates the key when a cluster
#   restores checkpoints on the node, even with nothing to restore);
# - a cluster file is compared after the simulator's own completion (winsim.cluster.complete), which fills the
#   defaults a resource created in the last run has not been given yet, such as an empty checkpoint_data;
# - a resource's "checkpoint_data" entry that holds nothing: the cluster captures a checkpointed key from the node
#   that owns the role at the end of a run, and that node had no such key. Whether an empty capture or none is
#   there depends only on which node owned the role when a faulted run stopped (the clean run moves the role to
#   its owner node before any capture); neither holds registry data.
IGNORED = "<differs legitimately>"
KNOWN_PASSWORDS = {SERVICE_PASSWORD: "SERVICE_PASSWORD", PROFILE_PASSWORD: "test_profiles.PASSWORD"}


def _password_label(digest: str) -> str:
    if not digest:
        return ""
    return next((label for password, label in KNOWN_PASSWORDS.items() if password_matches(digest, password)),
                "<a password the test did not give>")


def _normalised(state: dict) -> dict:
    state = copy.deepcopy(state)
    for store in (state.get("certificates") or {}).values():
        for certificate in store.values():
            if certificate.get("private_key"):
                certificate["private_key"]["container"] = IGNORED
    for pool in ((state.get("iis") or {}).get("app_pools") or {}).values():
        pool["recycles"] = IGNORED
        pool["password_sha256"] = _password_label(pool.get("password_sha256"))
    if not state.get("registry"):
        state.pop("registry", None)
    return state


def _without_orphaned_keys(comparable: dict) -> dict:
    """A comparable state less the keys failed imports left behind, which no re-run removes (see above)."""
    return dict(comparable, host={k: v for k, v in comparable["host"].items() if k != "orphaned_keys"})


def _normalised_cluster(cluster: dict) -> dict:
    cluster = complete_cluster(copy.deepcopy(cluster))
    for resource in cluster["resources"]:
        resource["checkpoint_data"] = {key: data for key, data in resource["checkpoint_data"].items() if data}
    return cluster


def _differences(expected, actual, path: str = "") -> list[str]:
    """Where two JSON documents differ, as paths, for the failure message and the ledger."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual), key=str):
            if key not in actual:
                found.append(f"{path}/{key}: missing")
            elif key not in expected:
                found.append(f"{path}/{key}: unexpected")
            else:
                found += _differences(expected[key], actual[key], f"{path}/{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [d for index, (e, a) in enumerate(zip(expected, actual)) for d in _differences(e, a, f"{path}[{index}]")]
    if expected != actual:
        return [f"{path}: expected {json.dumps(expected)[:200]}, got {json.dumps(actual)[:200]}"]
    return []


def _write_state(lab: SimLab, name: str, state: dict) -> None:
    (lab.root / f"{name}.json").write_text(json.dumps(state, indent=2, sort_keys=True))


def _clear_faults(lab: SimLab, name: str) -> None:
    state = lab.state(name)
    state["_sim"]["faults"] = []
    _write_state(lab, name, state)


def _calls(lab: SimLab, name: str, since: int = 0) -> list[dict]:
    return lab.state(name)["_sim"]["log"][since:]


def _applies(lab: SimLab, name: str, payload: str, since: int = 0) -> list[dict]:
    return [e for e in _calls(lab, name, since) if e.get("payload") == payload and e.get("mode") == "apply"]


# --- 1. fault injection at every apply step -----------------------------------------------------------------


@dataclasses.dataclass
class Matrix:
    """A scenario for one module whose apply performs ``steps`` operations, and how to run it."""

    module: str
    steps: int
    playbook: pathlib.Path
    seed: dict
    extra_vars: dict
    computer_name: str = "KF-APP01"
    cluster_seed: dict | None = None


def _cluster_path(lab: SimLab, name: str) -> pathlib.Path:
    return lab.root / f"{name}.cluster.json"


def _comparable(lab: SimLab, name: str, matrix: Matrix) -> dict:
    state = {"host": _normalised(lab.windows_state(name))}
    if matrix.cluster_seed is not None:
        state["cluster"] = _normalised_cluster(json.loads(_cluster_path(lab, name).read_text()))
    return state


def _step_host(k: int) -> str:
    return f"fail-after-{k}"


def run_matrix(lab: SimLab, matrix: Matrix) -> None:
    """The clean run, and a failure after each step k; every faulted host must converge to the clean state.

    k = 0 fails inside the apply before its first change, k = 1..steps after that many operations (k = steps:
    all done, then the failure), and k = steps + 1 must never be reached: it proves ``steps`` is the whole apply.
    """
    label = f"{COLLECTION}.{matrix.module}"
    ks = range(matrix.steps + 2)
    hosts = [REFERENCE, *(_step_host(k) for k in ks)]
    for name in hosts:
        seed = copy.deepcopy(matrix.seed)
        seed.setdefault("host", {})["computer_name"] = matrix.computer_name
        host_vars = {}
        if matrix.cluster_seed is not None:
            _cluster_path(lab, name).write_text(json.dumps(complete_cluster(copy.deepcopy(matrix.cluster_seed))))
            host_vars["windows_sim_cluster_state_file"] = str(_cluster_path(lab, name))
        lab.add_host(name, seed=seed, **host_vars)
    initial = _comparable(lab, REFERENCE, matrix)
    for k in ks:
        fault = {"match": {"payload": matrix.module, "mode": "apply"}, "error": FAULT}
        if k:
            fault["after_operations"] = k
        lab.inject_fault(_step_host(k), fault)
    forks = ("--forks", str(len(hosts)))

    first = lab.run(matrix.playbook, *forks, extra_vars=matrix.extra_vars)
    assert first.failures(REFERENCE) == 0, first.failure_messages(REFERENCE) or first.stdout[-3000:]
    assert first.changed(REFERENCE) >= 1
    assert len(_applies(lab, REFERENCE, matrix.module)) == 1
    for k in ks:
        name = _step_host(k)
        assert len(_applies(lab, name, matrix.module)) == 1, f"step {k}: the apply ran once, and was not repeated"
        _clear_faults(lab, name)
        if k > matrix.steps:
            # The simulator counts the fault as fired when it picks the call; the payload ends before reaching it.
            assert first.failures(name) == 0, (
                f"the {matrix.module} scenario's apply has more than {matrix.steps} steps; cover them all")
            continue
        assert first.failures(name) == 1
        assert any(f"{label}: apply failed on the host: {FAULT.rstrip('.')}" in m for m in first.failure_messages(name)), (
            k, first.failure_messages(name))
        record("fault", module=matrix.module, step=k)
        partial = _comparable(lab, name, matrix)
        if k == 0:
            assert partial == initial, "a failure before the first change changes nothing"
        else:
            assert partial != initial, f"step {k}: the fault landed after a change"

    second = lab.run(matrix.playbook, *forks, extra_vars=matrix.extra_vars)
    reference = _without_orphaned_keys(_comparable(lab, REFERENCE, matrix))
    assert not lab.state(REFERENCE).get("orphaned_keys"), "a clean run leaves no key behind"
    lost = {}
    for k in ks:
        name = _step_host(k)
        assert second.failures(name) == 0, (k, second.failure_messages(name))
        assert len(lab.state(name).get("orphaned_keys") or []) <= 1, f"step {k}: only the key of the failed import stays behind"
        differences = _differences(reference, _without_orphaned_keys(_comparable(lab, name, matrix)))
        if differences:
            record("lost", module=matrix.module, step=k, differences=differences[:20])
            lost[k] = differences
    assert not lost, f"{matrix.module}: after a failure at these steps the re-run did not reach the clean state: {lost}"

    third = lab.run(matrix.playbook, *forks, extra_vars=matrix.extra_vars)
    assert {name: third.changed(name) for name in hosts} == dict.fromkeys(hosts, 0)
    assert all(third.failures(name) == 0 for name in hosts)


@pytest.fixture(scope="module", name="leaf")
def fixture_leaf(ca):
    return pki.issue("kf-app01.contoso.com", issuer=ca[1])


ACCOUNTS = {"domain": {"accounts": [{"name": "svc_keyfactor", "type": "user"}, {"name": "svc_sync", "type": "user"}]}}


def _user_rights(_lab, _ca, _leaf) -> Matrix:
    # set: SeServiceLogonRight gains two accounts and loses NT SERVICE\ALL SERVICES; SeBatchLogonRight gains
    # one and loses Performance Log Users.
    rights = {"SeServiceLogonRight": ["CONTOSO\\svc_keyfactor", "CONTOSO\\svc_sync"],
              "SeBatchLogonRight": ["BUILTIN\\Administrators", "BUILTIN\\Backup Operators", "CONTOSO\\svc_keyfactor"]}
    return Matrix("user_rights", 5, TEST_PLAYBOOKS / "user_rights.yml", ACCOUNTS,
                  {"test_rights": rights, "test_action": "set"})


def _iis_app_pools(_lab, _ca, _leaf) -> Matrix:
    # IIS setup grants IIS_IUSRS batch logon, which the pool's account logs on with before the commit.
    rights = complete_state({}, "KF-APP01")["user_rights"]
    rights["SeBatchLogonRight"].append("S-1-5-32-568")
    seed = dict(copy.deepcopy(ACCOUNTS), features={"Web-Server": {"installed": True}}, user_rights=rights, iis={"app_pools": {
        "DefaultAppPool": dict(POOL_DEFAULTS, name="DefaultAppPool"),
        "LegacyPool": dict(POOL_DEFAULTS, name="LegacyPool"),
    }})
    pools = [
        {"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": "CONTOSO\\svc_keyfactor",
         "password": SERVICE_PASSWORD, "start_mode": "AlwaysRunning"},
        {"name": "KeyfactorStatic", "managed_runtime_version": "no_managed_code", "started": False},
        {"name": "DefaultAppPool", "identity_type": "NetworkService"},  # a started pool: WAS restarts it on the change
        {"name": "LegacyPool", "state": "absent"},
    ]
    # Steps: the commit, then the start or stop of each of the three pools that stay; step 1 is a failure between
    # the commit and every start and stop.
    return Matrix("iis_app_pools", 4, TEST_PLAYBOOKS / "iis_app_pools.yml", seed, {"test_pools": pools})


def _pfx_import(lab, ca, leaf) -> Matrix:
    path = lab.root / "leaf.pfx"
    path.write_bytes(pki.pfx(leaf, PFX_PASSWORD, extra=ca))
    # The leaf's key into the machine key store, the leaf into the store, the root into Root, the issuing CA into CA,
    # then the key's ACL.
    pfx = {"src": str(path), "password": PFX_PASSWORD, "chain": "install",
           "key_access": [{"principal": "NT AUTHORITY\\NETWORK SERVICE"}, {"principal": "CONTOSO\\svc_keyfactor"}]}
    return Matrix("pfx_import", 5, TEST_PLAYBOOKS / "certificates.yml", ACCOUNTS, {"test_pfx": pfx})


def _private_key_acl(_lab, _ca, leaf) -> Matrix:
    thumbprint, entry = certificate_entry(leaf.cert, leaf.key)
    seed = dict(copy.deepcopy(ACCOUNTS), certificates={"My": {thumbprint: entry}})
    # The payload edits one security descriptor in memory and writes it back once: a single step, however many
    # principals change.
    acl = {"thumbprint": thumbprint, "key_access": [
        {"principal": "NT AUTHORITY\\NETWORK SERVICE"}, {"principal": "CONTOSO\\svc_keyfactor", "access": "full_control"},
        {"principal": "BUILTIN\\Administrators", "access": "read"}]}
    return Matrix("private_key_acl", 1, TEST_PLAYBOOKS / "certificates.yml", seed, {"test_acl": acl})


def _ca_certificates(lab, ca, _leaf) -> Matrix:
    root, issuing = ca
    other = pki.issue("Fabrikam Root CA", ca=True)
    files = {}
    for name, issued in (("root.cer", root), ("issuing.pem", issuing), ("fabrikam.pem", other)):
        files[name] = lab.root / name
        files[name].write_bytes(issued.cert.public_bytes(Encoding.DER if name.endswith(".cer") else Encoding.PEM))
    return Matrix("ca_certificates", 3, TEST_PLAYBOOKS / "ca_certificates.yml", {},
                  {"test_ca_certificates": [{"src": str(p)} for p in files.values()]})


def _ca_certificates_absent(lab, ca, _leaf) -> Matrix:
    root, issuing = ca
    certificates = {}
    for issued, store in ((root, "Root"), (issuing, "CA")):
        thumbprint, entry = certificate_entry(issued.cert)
        certificates.setdefault(store, {})[thumbprint] = entry
    files = []
    for name, issued in (("root.cer", root), ("issuing.cer", issuing)):
        files.append(lab.root / name)
        files[-1].write_bytes(issued.cert.public_bytes(Encoding.DER))
    return Matrix("ca_certificates", 2, TEST_PLAYBOOKS / "ca_certificates.yml", {"certificates": certificates},
                  {"test_ca_certificates": [{"src": str(p)} for p in files], "test_ca_state": "absent"})


SYNC_KEY = "SOFTWARE\\Keyfactor\\Keyfactor CA Sync"


def _cluster_generic_service_role(_lab, _ca, _leaf) -> Matrix:
    # credential_delegation: the nodes' sessions may reach the cluster, so no become is needed.
    cluster_seed = dict(copy.deepcopy(CLUSTER_SEED), credential_delegation=True)
    role = {
        "name": "CloudGateway", "service": "CAGateway", "static_addresses": ["10.20.0.50"], "storage": ["Cluster Disk 2"],
        "registry_checkpoints": [GATEWAY_KEY], "owner_node": "KF-GW02",
        "additional_services": [{"service": "CASync", "registry_checkpoints": [SYNC_KEY],
                                 "depends_on": ["Keyfactor Managed CA Gateway"]}],
    }
    # create_role, add_checkpoint, add_service_resource (two: Add-ClusterResource, then its ServiceName),
    # add_dependency, add_checkpoint, move_role, start_role.
    return Matrix("cluster_generic_service_role", 8, TEST_PLAYBOOKS / "fault_cluster_role.yml", NODE_SEED,
                  {"test_role": role}, computer_name="KF-GW01", cluster_seed=cluster_seed)


SCENARIOS = {
    "user_rights": _user_rights,
    "iis_app_pools": _iis_app_pools,
    "pfx_import": _pfx_import,
    "private_key_acl": _private_key_acl,
    "ca_certificates": _ca_certificates,
    "ca_certificates_absent": _ca_certificates_absent,
    "cluster_generic_service_role": _cluster_generic_service_role,
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_failure_after_every_apply_step_converges_on_the_next_run(lab, ca, leaf, scenario):
    run_matrix(lab, SCENARIOS[scenario](lab, ca, leaf))


# --- 1b. the gateway certificate rotation, failing at each host-changing step on each node ---------------------


@dataclasses.dataclass
class RotationBase:
    """Two gateway nodes converged by site.yml, a renewed certificate, and the clean rotation's final state."""

    ca: tuple
    gateway_cert: pki.Issued
    renewed: pki.Issued
    nodes: dict
    cluster: dict
    site_calls: dict
    role_groups: list
    reference: dict | None = None


def _rotation_lab(lab: SimLab, base: RotationBase) -> tuple[Cluster, dict]:
    """A lab whose two nodes and cluster are in the state site.yml left, with the renewed PFX beside it."""
    cluster = Cluster(lab, base.gateway_cert, base.ca)
    for node, state in base.nodes.items():
        _write_state(lab, node, copy.deepcopy(state))
    cluster.path.write_text(json.dumps(base.cluster))
    renewed = lab.root / "gateway-renewed.pfx"
    renewed.write_bytes(pki.pfx(base.renewed, GATEWAY_PFX_PASSWORD))
    return cluster, {"rotate_gateway_pfx_src": str(renewed), "rotate_gateway_pfx_password": GATEWAY_PFX_PASSWORD,
                     "rotate_gateway_previous_thumbprint": cluster.thumbprint}


def _rotation_state(lab: SimLab, cluster: Cluster) -> dict:
    """Each node's state less the keys failed imports left behind (see _normalised), and the cluster's."""
    return {"nodes": {node: {k: v for k, v in _normalised(lab.windows_state(node)).items() if k != "orphaned_keys"}
                      for node in NODES},
            "cluster": _normalised_cluster(cluster.state())}


@pytest.fixture(scope="module", name="rotation_base")
def fixture_rotation_base(tmp_path_factory, ca):
    gateway_cert = pki.issue("gateway-encryption.contoso.com", issuer=ca[1])
    lab = SimLab(tmp_path_factory.mktemp("gateway-site"))
    cluster = Cluster(lab, gateway_cert, ca)
    # Both nodes in one play, two forks: they run each task at the same time.
    site = lab.run(SITE, "--forks", "2")
    assert site.returncode == 0, site.stdout[-4000:]
    nodes = {}
    for node in NODES:
        state = lab.state(node)
        state["_sim"] = {"round_trips": 0, "log": [], "faults": []}
        nodes[node] = state
    base = RotationBase(ca, gateway_cert, pki.issue("gateway-encryption.contoso.com", issuer=ca[1]), nodes,
                        cluster.state(), {n: _calls(lab, n) for n in NODES}, [g["name"] for g in cluster.state()["groups"]])

    clean = SimLab(tmp_path_factory.mktemp("rotation-clean"))
    clean_cluster, rotation = _rotation_lab(clean, base)
    run = clean.run(ROTATE, extra_vars=rotation)
    assert run.returncode == 0, run.stdout[-4000:]
    base.reference = _rotation_state(clean, clean_cluster)
    # The clean rotation's state is steady. Each action plugin plans from the state it probes, so a faulted
    # rotation whose re-run reaches this same state is steady too; its own third run is left out, for time.
    again = clean.run(ROTATE, extra_vars=rotation)
    assert [again.changed(n) for n in NODES] == [0, 0]
    return base


def test_two_nodes_with_two_forks_create_the_cluster_role_exactly_once(rotation_base):
    applies = [(node, entry["n"]) for node, calls in rotation_base.site_calls.items() for entry in calls
               if entry.get("payload") == "cluster_generic_service_role" and entry.get("mode") == "apply"]
    assert len(applies) == 1, f"the cluster payload's apply ran {applies}"
    assert rotation_base.role_groups.count("CloudGateway") == 1
    gateway = [r for r in rotation_base.cluster["resources"] if r["resource_type"] == "Generic Service"
               and r["parameters"].get("ServiceName") == "CAGateway"]
    assert len(gateway) == 1


# The rotation's host-changing steps on a node: the import (three operations: the key into the machine key store,
# the certificate into the store, then the key's ACL), the serial write, the removal of the old certificate. By
# what has happened on the failing node when it fails: (match, after_operations). A failure before the import or
# before the serial write, on the second node, is test_gateway_cluster.py's
# test_rotation_never_leaves_a_node_pointing_at_a_missing_certificate.
ROTATION_STEPS = {
    "import: key written, certificate not yet in the store": ({"payload": "pfx_import", "mode": "apply"}, 1),
    "import: certificate in, key not yet granted": ({"payload": "pfx_import", "mode": "apply"}, 2),
    "import: certificate in and key granted": ({"payload": "pfx_import", "mode": "apply"}, 3),
    "serial: written": ({"payload": "cert_serial_registry", "mode": "apply"}, 1),
    "old certificate: before removing it": ({"module": "ansible.windows.win_certificate_store"}, 0),
}


def _check_rotation_invariants(lab: SimLab, old: str, new: str, when: str) -> dict:
    """No node points at a certificate it cannot use; the old one goes only once every node uses the new one."""
    try:
        pointed = {node: _pointed_at(lab, node)["thumbprint"] for node in NODES}
        assert set(pointed.values()) <= {old, new}, pointed
        removed = [node for node in NODES if old not in lab.state(node)["certificates"]["My"]]
        if removed:
            assert set(pointed.values()) == {new}, (
                f"{when}: the old certificate is gone from {removed} while the nodes point at {pointed}")
    except AssertionError as error:
        record("lost", module="rotate_gateway_certificate", when=when, error=str(error)[:300])
        raise
    return pointed


@pytest.mark.parametrize("node", NODES)
@pytest.mark.parametrize("step", list(ROTATION_STEPS))
def test_rotation_failing_at_each_step_on_each_node_keeps_every_node_usable_and_converges(
        tmp_path, rotation_base, step, node):
    lab = SimLab(tmp_path)
    cluster, rotation = _rotation_lab(lab, rotation_base)
    old, new = cluster.thumbprint, _thumbprint(rotation_base.renewed)
    match, after = ROTATION_STEPS[step]
    fault = {"match": match, "error": FAULT}
    if after:
        fault["after_operations"] = after
    lab.inject_fault(node, fault)

    failed = lab.run(ROTATE, extra_vars=rotation)
    assert failed.returncode != 0
    assert lab.state(node)["_sim"]["faults"][0].get("fired") == 1, f"{step}: the fault did not fire on {node}"
    assert any(FAULT.rstrip(".") in m for m in failed.failure_messages(node)), failed.failure_messages(node)
    record("fault", module="rotate_gateway_certificate", step=step, node=node)
    pointed = _check_rotation_invariants(lab, old, new, f"after a failure at '{step}' on {node}")
    if match.get("payload") == "pfx_import":
        assert set(pointed.values()) == {old}, "no node moves to the new certificate before every node has it"
    for other in NODES:
        assert len(_applies(lab, other, match.get("payload", ""))) <= 1, "no apply is repeated"
    _clear_faults(lab, node)

    rerun = lab.run(ROTATE, extra_vars=rotation)
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    _check_rotation_invariants(lab, old, new, f"after the re-run that followed '{step}' on {node}")
    left_behind = len(lab.state(node).get("orphaned_keys") or [])
    assert left_behind == (1 if after == 1 and match.get("payload") == "pfx_import" else 0), (
        f"'{step}' on {node} left {left_behind} keys behind; only a failure between the key and the store leaves one")
    differences = _differences(rotation_base.reference, _rotation_state(lab, cluster))
    if differences:
        record("lost", module="rotate_gateway_certificate", step=step, node=node, differences=differences[:20])
    assert not differences, f"the re-run after '{step}' on {node} did not reach the clean rotation's state: {differences}"


# --- 2. transport faults ------------------------------------------------------------------------------------

UR_PLAYBOOK = TEST_PLAYBOOKS / "user_rights.yml"
UR_HOST = "kf01.contoso.com"
UR_WANTED = {"test_rights": {"SeServiceLogonRight": ["CONTOSO\\svc_keyfactor"], "SeBatchLogonRight": ["CONTOSO\\svc_sync"]}}


def _drop(mode: str, times: int = 1) -> dict:
    return {"match": {"payload": "user_rights", "mode": mode}, "kind": "connection", "times": times, "error": DROP}


def test_a_probe_that_loses_the_connection_is_retried_and_the_task_succeeds(lab):
    lab.add_host(UR_HOST, seed=ACCOUNTS)
    lab.inject_fault(UR_HOST, _drop("probe", times=2))
    run = lab.run(UR_PLAYBOOK, extra_vars=UR_WANTED)
    assert run.failures(UR_HOST) == 0, run.failure_messages(UR_HOST)
    assert run.changed(UR_HOST) == 1
    calls = [(e["mode"], "connection_failure" in e.get("result", {})) for e in _calls(lab, UR_HOST)]
    assert calls == [("probe", True), ("probe", True), ("probe", False), ("apply", False)]
    assert lab.round_trips(UR_HOST) == 4, "two lost probes, the third attempt, one apply"
    record("fault", module="user_rights", transport="probe connection lost twice")


def test_a_probe_that_loses_the_connection_on_every_attempt_fails_clearly_after_three(lab):
    lab.add_host(UR_HOST, seed=ACCOUNTS)
    before = lab.windows_state(UR_HOST)
    lab.inject_fault(UR_HOST, _drop("probe", times=10))
    run = lab.run(UR_PLAYBOOK, extra_vars=UR_WANTED)
    assert run.returncode != 0
    assert run.stats[UR_HOST]["unreachable"] == 1, "Ansible's own verdict on a lost connection"
    (message,) = run.failure_messages(UR_HOST)
    assert DROP in message, "the message keeps the transport's own account of the loss"
    assert "the connection was lost on all 3 attempts to read the host's state; nothing was changed" in message
    assert lab.round_trips(UR_HOST) == 3, "the probe is tried three times, no more"
    assert [e["mode"] for e in _calls(lab, UR_HOST)] == ["probe"] * 3
    assert lab.windows_state(UR_HOST) == before
    record("fault", module="user_rights", transport="probe connection lost on every attempt")


@pytest.mark.parametrize("scenario", ["user_rights", "pfx_import"])
def test_an_apply_that_loses_the_connection_is_never_repeated_and_a_rerun_converges(lab, ca, leaf, scenario):
    matrix = SCENARIOS[scenario](lab, ca, leaf)
    faulted = "dropped-apply"
    for name in (REFERENCE, faulted):
        lab.add_host(name, seed=dict(copy.deepcopy(matrix.seed), host={"computer_name": matrix.computer_name}))
    before = lab.windows_state(faulted)
    lab.inject_fault(faulted, {"match": {"payload": matrix.module, "mode": "apply"}, "kind": "connection", "error": DROP})

    first = lab.run(matrix.playbook, extra_vars=matrix.extra_vars)
    assert first.failures(REFERENCE) == 0
    assert first.stats[faulted]["unreachable"] == 1
    assert any(DROP in m and "it is not repeated, and running the task again converges" in m
               for m in first.failure_messages(faulted))
    assert [e["mode"] for e in _calls(lab, faulted) if e.get("payload") == matrix.module] == ["probe", "apply"], (
        "exactly one apply round trip: the apply is not retried")
    assert lab.round_trips(faulted) == 2
    assert lab.windows_state(faulted) == before, "the host never saw the apply"
    record("fault", module=matrix.module, transport="apply connection lost")

    second = lab.run(matrix.playbook, extra_vars=matrix.extra_vars)
    assert second.failures(faulted) == 0 and second.changed(faulted) == 1
    differences = _differences(_normalised(lab.windows_state(REFERENCE)), _normalised(lab.windows_state(faulted)))
    if differences:
        record("lost", module=matrix.module, transport="apply connection lost", differences=differences[:20])
    assert not differences
    third = lab.run(matrix.playbook, extra_vars=matrix.extra_vars)
    assert (third.changed(REFERENCE), third.changed(faulted)) == (0, 0)


@pytest.mark.parametrize("scenario", ["user_rights", "pfx_import"])
def test_an_apply_whose_reply_is_lost_is_never_repeated_and_a_rerun_finds_it_done(lab, ca, leaf, scenario):
    # The host made the change; only the reply was lost. The task must not claim that nothing changed,
    # and the next run must read the change and leave it alone.
    matrix = SCENARIOS[scenario](lab, ca, leaf)
    faulted = "lost-reply"
    for name in (REFERENCE, faulted):
        lab.add_host(name, seed=dict(copy.deepcopy(matrix.seed), host={"computer_name": matrix.computer_name}))
    lab.inject_fault(faulted, {"match": {"payload": matrix.module, "mode": "apply"}, "kind": "reply_lost", "error": DROP})

    first = lab.run(matrix.playbook, extra_vars=matrix.extra_vars)
    assert first.failures(REFERENCE) == 0
    assert first.stats[faulted]["unreachable"] == 1
    assert any(DROP in m and "the host may have made all, part or none of it" in m for m in first.failure_messages(faulted))
    assert [e["mode"] for e in _calls(lab, faulted) if e.get("payload") == matrix.module] == ["probe", "apply"]
    record("fault", module=matrix.module, transport="apply reply lost")

    second = lab.run(matrix.playbook, extra_vars=matrix.extra_vars)
    assert second.failures(faulted) == 0
    assert second.changed(faulted) == 0, "the change the lost reply did not report was made, so nothing is left to do"
    differences = _differences(_normalised(lab.windows_state(REFERENCE)), _normalised(lab.windows_state(faulted)))
    if differences:
        record("lost", module=matrix.module, transport="apply reply lost", differences=differences[:20])
    assert not differences


# --- 3. concurrency -----------------------------------------------------------------------------------------

PARALLEL_PROFILES = {
    "kf-portal01.contoso.com": "keyfactor_portal",
    "kf-svc01.contoso.com": "keyfactor_services",
    "kf-orch01.contoso.com": "keyfactor_orchestrator_api",
    "kf-cac01.contoso.com": "keyfactor_ca_connector",
}


def _add_profile_host(lab: SimLab, host: str, profile: str) -> None:
    lab.add_host(host, groups=(profile,), seed=PROFILE_SEED, **COMMON_VARS, **PROFILE_VARS[profile])


def _calls_made(lab: SimLab, host: str) -> list[tuple]:
    return [(e["module"], e.get("payload"), e.get("mode")) for e in _calls(lab, host)]


def test_profiles_in_parallel_never_bleed_into_each_other(tmp_path):
    (tmp_path / "together").mkdir()
    together = SimLab(tmp_path / "together")
    for host, profile in PARALLEL_PROFILES.items():
        _add_profile_host(together, host, profile)
    run = together.run(SITE, "--forks", "4")
    assert run.returncode == 0, run.stdout[-4000:]

    for host, profile in PARALLEL_PROFILES.items():
        root = tmp_path / f"alone-{profile}"
        root.mkdir()
        alone = SimLab(root)
        _add_profile_host(alone, host, profile)
        assert alone.run(SITE).returncode == 0
        differences = _differences(_normalised(alone.windows_state(host)), _normalised(together.windows_state(host)))
        assert not differences, f"{host} ({profile}) ended differently next to the others: {differences}"
        assert _calls_made(together, host) == _calls_made(alone, host), f"{host} ran the same calls alone and together"
