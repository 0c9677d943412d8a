"""pkiops.keyfactor_command.ca_certificates end to end, with a CA chain made for the tests."""

from __future__ import annotations

import datetime
import json

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

import pki_fixtures as pki
from ansible_collections.pkiops.keyfactor_command.plugins.modules.ca_certificates import EXAMPLES
from conftest import TEST_PLAYBOOKS
from winsim.certificates import certificate_entry

PLAYBOOK = TEST_PLAYBOOKS / "ca_certificates.yml"
HOST = "kf-gw01.contoso.com"
TASK = "Manage the CA certificates"


def _thumbprint(issued) -> str:
    return issued.cert.fingerprint(hashes.SHA1()).hex().upper()


def _pem(*issued) -> str:
    return "".join(i.cert.public_bytes(Encoding.PEM).decode("ascii") for i in issued)


def _write(lab, name: str, data: bytes) -> str:
    path = lab.root / name
    path.write_bytes(data)
    return str(path)


def _stores(lab, host: str = HOST) -> dict:
    return lab.state(host).get("certificates", {})


def _result(run, host: str = HOST) -> dict:
    return next(result for name, result in run.task_results(host) if name == TASK)


def _root_without_extensions(common_name: str) -> pki.Issued:
    """A self-signed certificate without a basic constraints extension, as a version 1 root has none."""
    key = pki.new_key("ec")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(pki.NOW - datetime.timedelta(days=1))
            .not_valid_after(pki.NOW + datetime.timedelta(days=3650)).sign(key, hashes.SHA256()))
    return pki.Issued(cert, key)


def _seed_with(*issued_in_stores) -> dict:
    """A host whose stores already hold these (issued, store) certificates."""
    certificates: dict = {}
    for issued, store in issued_in_stores:
        thumbprint, entry = certificate_entry(issued.cert)
        certificates.setdefault(store, {})[thumbprint] = entry
    return {"certificates": certificates}


def test_check_then_install_root_and_intermediate_then_steady_state_then_absent(lab, ca):
    root, issuing = ca
    other_root = pki.issue("Fabrikam Root CA", ca=True)
    lab.add_host(HOST, groups=("gateway",), seed=_seed_with((other_root, "Root")))
    wanted = {"test_ca_certificates": [{"src": _write(lab, "root.cer", root.cert.public_bytes(Encoding.DER))},
                                       {"src": _write(lab, "issuing.pem", _pem(issuing).encode())}]}
    before = lab.windows_state(HOST)

    check = lab.run(PLAYBOOK, check=True, diff=True, extra_vars=wanted)
    assert check.returncode == 0, check.stdout[-3000:]
    assert check.changed(HOST) == 1
    assert _result(check)["installed"] == [_thumbprint(root), _thumbprint(issuing)]
    assert lab.windows_state(HOST) == before
    assert lab.round_trips(HOST) == 1

    run = lab.run(PLAYBOOK, diff=True, extra_vars=wanted)
    assert run.returncode == 0, run.stdout[-3000:]
    result = _result(run)
    assert result["diff"] == {"before": {"CA": [], "Root": []},
                              "after": {"CA": [_thumbprint(issuing)], "Root": [_thumbprint(root)]}}
    assert [(c["thumbprint"], c["store"], c["changed"]) for c in result["certificates"]] == [
        (_thumbprint(root), "Root", True), (_thumbprint(issuing), "CA", True)]
    stores = _stores(lab)
    assert set(stores["Root"]) == {_thumbprint(root), _thumbprint(other_root)}
    assert set(stores["CA"]) == {_thumbprint(issuing)}
    assert stores["Root"][_thumbprint(root)]["private_key"] is None
    assert lab.round_trips(HOST) == 1 + 2

    again = lab.run(PLAYBOOK, extra_vars=wanted)
    assert again.changed(HOST) == 0
    assert lab.round_trips(HOST) == 1 + 2 + 1, "a steady-state task costs one round trip"

    removed = lab.run(PLAYBOOK, diff=True, extra_vars=dict(wanted, test_ca_state="absent"))
    assert removed.changed(HOST) == 1
    assert _result(removed)["removed"] == [_thumbprint(root), _thumbprint(issuing)]
    stores = _stores(lab)
    assert set(stores["Root"]) == {_thumbprint(other_root)}, "only the certificates named are removed"
    assert stores["CA"] == {}
    assert lab.run(PLAYBOOK, extra_vars=dict(wanted, test_ca_state="absent")).changed(HOST) == 0


def test_a_pem_bundle_goes_to_every_node_and_only_what_is_missing_is_added(lab, ca):
    root, issuing = ca
    nodes = ("kf-gw01.contoso.com", "kf-gw02.contoso.com")
    lab.add_host(nodes[0], groups=("gateway",))
    lab.add_host(nodes[1], groups=("gateway",), seed=_seed_with((root, "Root")))
    wanted = {"test_ca_certificates": [{"content": _pem(issuing, root)}]}
    run = lab.run(PLAYBOOK, extra_vars=wanted)
    assert run.returncode == 0, run.stdout[-3000:]
    assert _result(run, nodes[0])["installed"] == [_thumbprint(issuing), _thumbprint(root)]
    assert _result(run, nodes[1])["installed"] == [_thumbprint(issuing)]
    for node in nodes:
        assert set(_stores(lab, node)["CA"]) == {_thumbprint(issuing)}
        assert set(_stores(lab, node)["Root"]) == {_thumbprint(root)}
    again = lab.run(PLAYBOOK, extra_vars=wanted)
    assert all(again.changed(node) == 0 for node in nodes)


def test_an_expired_ca_certificate_is_installed_with_a_warning(lab):
    expired = pki.issue("Retired Root CA", ca=True, not_before=pki.NOW - datetime.timedelta(days=400),
                        not_after=pki.NOW - datetime.timedelta(days=1))
    lab.add_host(HOST, groups=("gateway",))
    run = lab.run(PLAYBOOK, extra_vars={"test_ca_certificates": [{"content": _pem(expired)}]})
    assert run.returncode == 0, run.stdout[-3000:]
    result = _result(run)
    assert result["installed"] == [_thumbprint(expired)]
    assert any("expired on" in warning for warning in result["warnings"])
    assert _thumbprint(expired) in _stores(lab)["Root"]


def test_a_root_that_group_policy_provides_is_left_alone_and_cannot_be_removed(lab, ca):
    root, issuing = ca
    seed = _seed_with((root, "Root"))
    seed["certificates"]["Root"][_thumbprint(root)]["physical_stores"] = ["GroupPolicy"]
    lab.add_host(HOST, groups=("gateway",), seed=seed)
    wanted = {"test_ca_certificates": [{"content": _pem(issuing, root)}]}

    run = lab.run(PLAYBOOK, extra_vars=wanted)
    assert run.returncode == 0, run.stdout[-3000:]
    result = _result(run)
    assert result["installed"] == [_thumbprint(issuing)], "only the issuing CA is added; the root is already trusted"
    assert any(f"(thumbprint {_thumbprint(root)}) is trusted in LocalMachine\\Root through Group Policy" in warning
               for warning in result["warnings"])
    assert _stores(lab)["Root"][_thumbprint(root)]["physical_stores"] == ["GroupPolicy"]
    assert lab.run(PLAYBOOK, extra_vars=wanted).changed(HOST) == 0
    trips = lab.round_trips(HOST)
    before = lab.windows_state(HOST)

    removed = lab.run(PLAYBOOK, extra_vars=dict(wanted, test_ca_state="absent"))
    (message,) = removed.failure_messages(HOST)
    assert message.startswith(f"pkiops.keyfactor_command.ca_certificates: cannot remove O=Contoso,CN=Contoso Test Root CA "
                              f"(thumbprint {_thumbprint(root)}) in LocalMachine\\Root: it is not installed in the store itself")
    assert "add it to the Disallowed store" in message
    assert lab.round_trips(HOST) == trips + 1, "refused after the probe, with no apply"
    assert lab.windows_state(HOST) == before, "not even the issuing CA is removed"


def test_a_root_in_the_store_and_from_group_policy_is_not_removed_from_either(lab, ca):
    root, issuing = ca
    seed = _seed_with((root, "Root"), (issuing, "CA"))
    seed["certificates"]["Root"][_thumbprint(root)]["physical_stores"] = ["Default", "GroupPolicy"]
    lab.add_host(HOST, groups=("gateway",), seed=seed)
    before = lab.windows_state(HOST)
    removed = lab.run(PLAYBOOK, extra_vars={"test_ca_certificates": [{"content": _pem(issuing, root)}], "test_ca_state": "absent"})
    (message,) = removed.failure_messages(HOST)
    assert (f"(thumbprint {_thumbprint(root)}) in LocalMachine\\Root (also in .GroupPolicy): besides the store's own copy, Group "
            "Policy, enterprise trust or automatic root update provides it") in message
    assert lab.windows_state(HOST) == before, "neither copy, nor the issuing CA, is removed"


def test_absent_removes_the_stores_own_copy_and_leaves_the_smart_card_one(lab, ca):
    root, _issuing = ca
    seed = _seed_with((root, "Root"))
    seed["certificates"]["Root"][_thumbprint(root)]["physical_stores"] = ["Default", "SmartCard"]
    lab.add_host(HOST, groups=("gateway",), seed=seed)
    wanted = {"test_ca_certificates": [{"content": _pem(root)}], "test_ca_state": "absent"}
    run = lab.run(PLAYBOOK, extra_vars=wanted)
    assert run.returncode == 0, run.stdout[-3000:]
    assert _result(run)["removed"] == [_thumbprint(root)]
    assert _stores(lab)["Root"][_thumbprint(root)]["physical_stores"] == ["SmartCard"]
    again = lab.run(PLAYBOOK, extra_vars=wanted)
    (message,) = again.failure_messages(HOST)
    assert "it is not installed in the store itself" in message


def test_an_empty_list_costs_no_round_trip(lab):
    lab.add_host(HOST, groups=("gateway",))
    run = lab.run(PLAYBOOK, extra_vars={"test_ca_certificates": []})
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.changed(HOST) == 0
    assert lab.round_trips(HOST) == 0


@pytest.mark.parametrize("case, expected", [
    ("private_key", "certificates[1].content: line 20 begins a private key (PRIVATE KEY)"),
    ("private_key_without_end", "certificates[0].content: line 1 begins a private key (PRIVATE KEY)"),
    ("request", "certificates[0].content: PEM block 1 is a CERTIFICATE REQUEST, not a certificate"),
    ("not_a_certificate", "certificates[0].src: is not a certificate"),
    ("leaf_with_auto", "is not a CA certificate"),
    ("two_stores", "certificates[1].content: O=Contoso,CN=Contoso Test Root CA"),
    ("missing_file", "certificates[0].src: Could not find or access"),
    ("src_and_content", "parameters are mutually exclusive: src|content"),
])
def test_bad_input_fails_with_zero_round_trips(lab, ca, case, expected):
    root, issuing = ca
    lab.add_host(HOST, groups=("gateway",))
    key_pem = root.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    certificates = {
        "private_key": [{"content": _pem(issuing)}, {"content": _pem(root) + key_pem}],
        "private_key_without_end": [{"content": key_pem.replace("-----END PRIVATE KEY-----", "") + _pem(root)}],
        "request": [{"content": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}],
        "not_a_certificate": [{"src": _write(lab, "readme.txt", b"The root CA certificate is on the wiki.\n")}],
        "leaf_with_auto": [{"content": _pem(pki.issue("web.contoso.com", issuer=issuing))}],
        "two_stores": [{"content": _pem(root)}, {"content": _pem(root), "store": "CA"}],
        "missing_file": [{"src": str(lab.root / "missing.cer")}],
        "src_and_content": [{"src": "root.cer", "content": _pem(root)}],
    }[case]
    run = lab.run(PLAYBOOK, "-vvv", extra_vars={"test_ca_certificates": certificates})
    (message,) = run.failure_messages(HOST)
    assert message.startswith("pkiops.keyfactor_command.ca_certificates: ") and expected in message, message
    assert lab.round_trips(HOST) == 0
    assert "certificates" not in lab.windows_state(HOST) or not any(lab.windows_state(HOST)["certificates"].values())
    if case.startswith("private_key"):
        key_line = key_pem.splitlines()[1]
        for where, text in (("stdout", run.stdout), ("stderr", run.stderr), ("results", json.dumps(run.report))):
            assert key_line not in text, f"the private key reached {where}"


def test_the_documented_examples_run(lab, ca):
    """EXAMPLES, as written, against files laid out as they name them."""
    root, issuing = ca
    retired = pki.issue("Retired Issuing CA", issuer=root, ca=True)
    lab.add_host(HOST, groups=("gateway",), seed=_seed_with((retired, "CA")),
                 managed_forest_ca_chain_pem=_pem(issuing, root))
    files = lab.root / "files"
    files.mkdir()
    (files / "managed-forest-root-ca.cer").write_bytes(root.cert.public_bytes(Encoding.DER))
    (files / "managed-forest-issuing-ca.pem").write_text(_pem(issuing))
    (files / "retired-issuing-ca.cer").write_bytes(retired.cert.public_bytes(Encoding.PEM))
    legacy = _root_without_extensions("Legacy Root CA")
    (files / "legacy-root-v1.cer").write_bytes(legacy.cert.public_bytes(Encoding.DER))
    playbook = lab.root / "examples.yml"
    playbook.write_text(yaml.safe_dump([{"name": "The ca_certificates examples", "hosts": "all", "gather_facts": False,
                                         "tasks": yaml.safe_load(EXAMPLES)}], sort_keys=False))

    run = lab.run(playbook)
    assert run.returncode == 0, run.stdout[-3000:]
    stores = _stores(lab)
    assert set(stores["Root"]) == {_thumbprint(root), _thumbprint(legacy)}
    assert set(stores["CA"]) == {_thumbprint(issuing)}, "the retired issuing CA is removed"
    assert lab.run(playbook).changed(HOST) == 0
