"""The simulator's model of the ca_certificates payload, driven as the action plugin drives it."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, pkcs7, pkcs12

import pki_fixtures
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source
from winsim import models, win_powershell
from winsim.certificates import certificate_entry, find_certificate, store
from winsim.host import Host
from winsim.manifest import ModuleInvocation
from winsim.state import complete

models.load_all()


thumbprint_of = pki_fixtures.thumbprint


def der_base64(issued) -> str:
    return base64.b64encode(issued.cert.public_bytes(Encoding.DER)).decode("ascii")


@pytest.fixture(scope="module", name="pki")
def fixture_pki() -> dict:
    root, issuing = pki_fixtures.chain()
    leaf = pki_fixtures.issue("web.contoso.com", issuer=issuing)
    return {"root": root, "issuing": issuing, "leaf": leaf,
            "root_thumbprint": thumbprint_of(root), "issuing_thumbprint": thumbprint_of(issuing)}


def make_host() -> Host:
    state: dict = {}
    complete(state, "KF01")
    return Host(state)


def run_payload(host: Host, parameters: dict, *, check_mode: bool = False) -> dict:
    """One win_powershell run of the payload text, with the arguments the action plugin sends."""
    args = {"script": payload_source("ca_certificates"), "parameters": parameters, "depth": 8, "error_action": "stop",
            "_ansible_check_mode": check_mode}
    invocation = ModuleInvocation(name="ansible.windows.win_powershell", args=args, script="", become=False)
    return win_powershell.run(host, invocation, None)


def probe(host: Host, *entries: tuple[str, str]) -> dict:
    return run_payload(host, {"Mode": "probe", "Certificates": [{"thumbprint": t, "store": s} for t, s in entries]})


def apply(host: Host, *operations: dict, check_mode: bool = False) -> dict:
    return run_payload(host, {"Mode": "apply", "Operations": list(operations)}, check_mode=check_mode)


def add(issued, store_name: str) -> dict:
    return {"action": "add", "thumbprint": thumbprint_of(issued), "store": store_name, "der": der_base64(issued)}


def remove(issued, store_name: str) -> dict:
    return {"action": "remove", "thumbprint": thumbprint_of(issued), "store": store_name}


def snapshot(host: Host) -> str:
    return json.dumps(host.state, sort_keys=True)


def message_of(result: dict) -> str:
    return result["error"][0]["exception"]["message"]


def test_the_probe_reports_presence_per_store(pki):
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert)
    store(host.state, "root")[thumbprint.lower()] = entry
    result = probe(host, (pki["root_thumbprint"], "Root"), (pki["root_thumbprint"], "CA"), (pki["issuing_thumbprint"], "CA"))
    assert result["changed"] is False
    assert result["result"] == {"certificates": [
        {"thumbprint": pki["root_thumbprint"], "store": "Root", "present": True, "in_default_store": True, "other_physical_stores": []},
        {"thumbprint": pki["root_thumbprint"], "store": "CA", "present": False, "in_default_store": False, "other_physical_stores": []},
        {"thumbprint": pki["issuing_thumbprint"], "store": "CA", "present": False, "in_default_store": False,
         "other_physical_stores": []},
    ]}


@pytest.mark.parametrize("store_name, physical, reported", [
    ("Root", "AuthRoot", [".AuthRoot"]), ("Root", "GroupPolicy", [".GroupPolicy"]), ("Root", "Enterprise", [".Enterprise"]),
    ("Root", "SmartCard", []), ("CA", "GroupPolicy", [".GroupPolicy"]), ("CA", "Enterprise", [".Enterprise"]),
])
def test_a_certificate_from_another_physical_store_is_present_but_not_in_the_default_store(pki, store_name, physical, reported):
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert)
    store(host.state, store_name)[thumbprint] = dict(entry, physical_stores=[physical])
    result = probe(host, (thumbprint, store_name))
    # .SmartCard is not read: the payload leaves the smart card service alone.
    assert result["result"] == {"certificates": [
        {"thumbprint": thumbprint, "store": store_name, "present": True, "in_default_store": False, "other_physical_stores": reported}]}


def test_a_certificate_in_default_and_from_group_policy_is_reported_in_both(pki):
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert)
    store(host.state, "Root")[thumbprint] = dict(entry, physical_stores=["Default", "GroupPolicy"])
    assert probe(host, (thumbprint, "Root"))["result"]["certificates"] == [
        {"thumbprint": thumbprint, "store": "Root", "present": True, "in_default_store": True, "other_physical_stores": [".GroupPolicy"]}]


@pytest.mark.parametrize("store_name, physical", [("CA", ["AuthRoot"]), ("Root", [".Default"]), ("Root", ["grouppolicy"]), ("Root", [])])
def test_a_seeded_physical_store_the_logical_store_does_not_show_fails_loudly(pki, store_name, physical):
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert)
    store(host.state, store_name)[thumbprint] = dict(entry, physical_stores=physical)
    with pytest.raises(ValueError, match="has physical_stores"):
        probe(host, (thumbprint, store_name))


def test_the_probe_of_nothing_reports_nothing():
    assert probe(make_host())["result"] == {"certificates": []}


def test_apply_adds_public_certificates_to_their_stores(pki):
    host = make_host()
    result = apply(host, add(pki["issuing"], "CA"), add(pki["root"], "Root"))
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["result"] == {"applied": [
        {"action": "add", "thumbprint": pki["issuing_thumbprint"], "store": "CA"},
        {"action": "add", "thumbprint": pki["root_thumbprint"], "store": "Root"},
    ]}
    issuing = find_certificate(host.state, "CA", pki["issuing_thumbprint"])
    assert issuing["subject"] == "O=Contoso,CN=Contoso Test Issuing CA"
    assert issuing["private_key"] is None
    assert issuing["der"] == der_base64(pki["issuing"])
    assert find_certificate(host.state, "Root", pki["root_thumbprint"])["private_key"] is None
    assert find_certificate(host.state, "Root", pki["issuing_thumbprint"]) is None


def test_apply_removes_every_copy_and_only_from_the_store_named(pki):
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert)
    store(host.state, "Root")[thumbprint] = entry
    store(host.state, "Root")[thumbprint.lower()] = dict(entry)
    store(host.state, "CA")[thumbprint] = dict(entry)
    result = apply(host, remove(pki["root"], "Root"))
    assert result["result"] == {"applied": [{"action": "remove", "thumbprint": thumbprint, "store": "Root", "removed": 2}]}
    assert find_certificate(host.state, "Root", thumbprint) is None
    assert find_certificate(host.state, "CA", thumbprint) is not None


@pytest.mark.parametrize("store_name, others", [
    ("Root", ["GroupPolicy"]), ("Root", ["AuthRoot", "Enterprise"]), ("Root", ["SmartCard"]), ("CA", ["GroupPolicy", "Enterprise"]),
])
def test_remove_deletes_only_the_default_physical_stores_copy(pki, store_name, others):
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert)
    store(host.state, store_name)[thumbprint] = dict(entry, physical_stores=["Default", *others])
    result = apply(host, remove(pki["root"], store_name))
    assert not result.get("failed"), result
    kept = find_certificate(host.state, store_name, thumbprint)
    assert kept is not None and kept["physical_stores"] == others
    assert probe(host, (thumbprint, store_name))["result"]["certificates"][0]["in_default_store"] is False


def test_remove_leaves_a_copy_only_another_physical_store_holds(pki):
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert)
    store(host.state, "Root")[thumbprint] = dict(entry, physical_stores=["GroupPolicy"])
    before = snapshot(host)
    result = apply(host, remove(pki["root"], "Root"))
    assert not result.get("failed"), result
    assert snapshot(host) == before


def test_adding_a_certificate_group_policy_provides_adds_the_default_copy(pki):
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert)
    store(host.state, "Root")[thumbprint] = dict(entry, physical_stores=["GroupPolicy"])
    apply(host, add(pki["root"], "Root"))
    assert find_certificate(host.state, "Root", thumbprint)["physical_stores"] == ["Default", "GroupPolicy"]


def test_adding_a_certificate_that_is_there_keeps_the_entry_and_its_private_key(pki):
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert, private_key=pki["root"].key)
    store(host.state, "Root")[thumbprint] = entry
    kept = json.loads(json.dumps(entry))
    result = apply(host, add(pki["root"], "Root"))
    assert result["result"] == {"applied": [{"action": "add", "thumbprint": thumbprint, "store": "Root"}]}
    assert find_certificate(host.state, "Root", thumbprint) == kept
    assert kept["private_key"] is not None


def test_der_base64_may_hold_whitespace_as_convert_frombase64string_allows(pki):
    root, issuing = der_base64(pki["root"]), der_base64(pki["issuing"])
    wrapped = "\r\n".join(root[i:i + 64] for i in range(0, len(root), 64)) + "\n"
    spaced = " \t".join(issuing[i:i + 4] for i in range(0, len(issuing), 4))
    host = make_host()
    result = apply(host, dict(add(pki["root"], "Root"), der=wrapped), dict(add(pki["issuing"], "CA"), der=spaced))
    assert not result.get("failed"), result
    assert find_certificate(host.state, "Root", pki["root_thumbprint"])["der"] == root
    assert find_certificate(host.state, "CA", pki["issuing_thumbprint"])["der"] == issuing


def test_removing_a_certificate_that_is_not_there_succeeds_without_a_change(pki):
    # RemoveCertificate returns how many copies it deleted; none is not an error, and not a change either.
    result = apply(make_host(), remove(pki["root"], "Root"))
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["result"] == {"applied": [dict(remove(pki["root"], "Root"), removed=0)]}


def test_removing_a_certificate_only_another_physical_store_holds_deletes_nothing(pki):
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert)
    store(host.state, "Root")[thumbprint] = dict(entry, physical_stores=["GroupPolicy"])
    result = apply(host, remove(pki["root"], "Root"))
    assert result["changed"] is False
    assert result["result"]["applied"][0]["removed"] == 0
    assert find_certificate(host.state, "Root", thumbprint) is not None


def test_apply_in_check_mode_changes_nothing(pki):
    host = make_host()
    before = snapshot(host)
    result = apply(host, add(pki["root"], "Root"), check_mode=True)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["result"] == {"applied": []}
    assert snapshot(host) == before


@pytest.mark.parametrize("operation, message", [
    ({"action": "import"}, "action must be 'add' or 'remove'."),
    ({"thumbprint": "ab" * 20}, "thumbprint must be 40 uppercase hexadecimal digits."),
    ({"thumbprint": "AB" * 20 + "\n"}, "thumbprint must be 40 uppercase hexadecimal digits."),
    ({"store": "My"}, "store must be 'CA' (intermediate certification authorities) or 'Root' (trusted root certification authorities)."),
    ({"store": "root"}, "store must be 'CA'"),
    ({"der": None}, "der must hold the certificate's DER bytes as base64."),
    ({"der": "not base64!"}, "der is not valid base64."),
    ({"der": base64.b64encode(b"not a certificate").decode()}, "der is not a single certificate"),
    ({"thumbprint": "AB" * 20}, f"der holds the certificate {{root}}, not {'AB' * 20}."),
], ids=["action", "lowercase thumbprint", "final newline", "store", "store case", "no der", "not base64", "not a certificate", "other certificate"])
def test_a_bad_operation_fails_before_any_change(pki, operation, message):
    host = make_host()
    before = snapshot(host)
    result = apply(host, add(pki["issuing"], "CA"), dict(add(pki["root"], "Root"), **operation))
    assert result["failed"] is True
    assert message.format(root=pki["root_thumbprint"]) in message_of(result)
    assert message_of(result).startswith("Invalid operation #1 (action '")
    assert result["changed"] is False
    assert snapshot(host) == before


def content_of_each_type(pki) -> dict:
    """Bytes of each kind X509Certificate2.GetCertContentType tells apart, by the name the payload gives it."""
    der = pki["root"].cert.public_bytes(Encoding.DER)
    return {
        "Pkcs7": pkcs7.serialize_certificates([pki["root"].cert], Encoding.DER),
        "Pkcs12": pkcs12.serialize_key_and_certificates(b"root", pki["root"].key, pki["root"].cert, None,
                                                        BestAvailableEncryption(b"Sup3r-Secret!")),
        # CertSerializeCertificateStoreElement: property elements (id, encoding, length, bytes), the certificate as id 32.
        "SerializedCert": struct.pack("<III", 11, 1, 8) + "Root".encode("utf-16-le") + struct.pack("<III", 32, 1, len(der)) + der,
        # A CERT_STORE_FILE_HEADER (version 0, "CERT") followed by the end element.
        "SerializedStore": struct.pack("<II", 0, 0x54524543) + struct.pack("<III", 0, 0, 0),
        "Unknown": b"not a certificate",
    }


@pytest.mark.parametrize("kind", ["Pkcs7", "Pkcs12", "SerializedCert", "SerializedStore", "Unknown"])
def test_anything_but_a_lone_certificate_is_named_as_windows_names_it(pki, kind):
    host = make_host()
    encoded = base64.b64encode(content_of_each_type(pki)[kind]).decode("ascii")
    result = apply(host, dict(add(pki["root"], "Root"), der=encoded))
    assert result["failed"] is True
    assert message_of(result) == (f"Invalid operation #0 (action 'add', thumbprint '{pki['root_thumbprint']}', store 'Root'): "
                                  f"der is not a single certificate (Windows identifies it as '{kind}').")
    assert find_certificate(host.state, "Root", pki["root_thumbprint"]) is None


def test_the_same_certificate_and_store_twice_fails_before_any_change(pki):
    host = make_host()
    before = snapshot(host)
    result = apply(host, add(pki["root"], "Root"), remove(pki["root"], "Root"))
    assert "the certificate and store are listed more than once." in message_of(result)
    assert snapshot(host) == before


def test_a_bad_probe_entry_fails(pki):
    result = probe(make_host(), (pki["root_thumbprint"].lower(), "Root"))
    assert result["failed"] is True
    assert "thumbprint must be 40 uppercase hexadecimal digits." in message_of(result)


def test_an_injected_fault_lands_after_the_first_operation(pki):
    host = make_host()
    args = {"script": payload_source("ca_certificates"), "parameters": {"Mode": "apply", "Operations": [
        add(pki["issuing"], "CA"), add(pki["root"], "Root")]}, "depth": 8, "error_action": "stop"}
    invocation = ModuleInvocation(name="ansible.windows.win_powershell", args=args, script="", become=False)
    result = win_powershell.run(host, invocation, {"after_operations": 1, "error": "Access is denied"})
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["result"] == {"applied": [{"action": "add", "thumbprint": pki["issuing_thumbprint"], "store": "CA"}]}
    assert find_certificate(host.state, "CA", pki["issuing_thumbprint"]) is not None
    assert find_certificate(host.state, "Root", pki["root_thumbprint"]) is None


def test_an_archived_copy_is_absent_to_the_probe_and_an_add_restores_it(pki):
    # Enumerations skip a certificate with CERT_ARCHIVED_PROP_ID, and X509Store.Add keeps the copy that is there, archived:
    # the payload restores it after the Add, so that the next probe finds it.
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert)
    store(host.state, "Root")[thumbprint] = dict(entry, archived=True)
    assert probe(host, (thumbprint, "Root"))["result"]["certificates"][0]["present"] is False
    result = apply(host, add(pki["root"], "Root"))
    assert not result.get("failed"), result
    assert "archived" not in store(host.state, "Root")[thumbprint]
    assert probe(host, (thumbprint, "Root"))["result"]["certificates"][0] == {
        "thumbprint": thumbprint, "store": "Root", "present": True, "in_default_store": True, "other_physical_stores": []}


def test_an_archived_copy_in_default_is_reported_as_the_computers_own_and_removed(pki):
    # The physical stores are read with CERT_STORE_ENUM_ARCHIVED_FLAG: the logical store hides the archived copy, but
    # .Default still holds it, so state=absent must see it and take it away.
    host = make_host()
    thumbprint, entry = certificate_entry(pki["root"].cert)
    store(host.state, "Root")[thumbprint] = dict(entry, archived=True)
    assert probe(host, (thumbprint, "Root"))["result"]["certificates"][0] == {
        "thumbprint": thumbprint, "store": "Root", "present": False, "in_default_store": True, "other_physical_stores": []}
    result = apply(host, {"action": "remove", "thumbprint": thumbprint, "store": "Root"})
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert find_certificate(host.state, "Root", thumbprint, include_archived=True) is None
