"""ca_certificates: what its action plugin reads on the controller, sends to the payload and returns."""

from __future__ import annotations

import base64
import datetime
import json

import pytest
from ansible.errors import AnsibleError
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, pkcs7

import pki_fixtures
from ansible_collections.pkiops.keyfactor_command.plugins.action.ca_certificates import ActionModule as CaCertificates
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import RUNNER
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source

FQCN = "pkiops.keyfactor_command.ca_certificates"


thumbprint_of = pki_fixtures.thumbprint


def pem(*issued) -> str:
    return "".join(i.cert.public_bytes(Encoding.PEM).decode("ascii") for i in issued)


def der_base64(issued) -> str:
    return base64.b64encode(issued.cert.public_bytes(Encoding.DER)).decode("ascii")


@pytest.fixture(scope="module", name="pki")
def fixture_pki() -> dict:
    """A root, an issuing CA under it and a leaf under that, made once for this module."""
    root, issuing = pki_fixtures.chain()
    return {"root": root, "issuing": issuing, "leaf": pki_fixtures.issue("web.contoso.com", issuer=issuing),
            "root_thumbprint": thumbprint_of(root), "issuing_thumbprint": thumbprint_of(issuing)}


@pytest.fixture(name="ca_certificates")
def fixture_ca_certificates(make_action, pki):
    """ca_certificates(check_mode=False, diff=False, **options) -> (action, replay); by default the chain as one PEM bundle."""

    def factory(*, check_mode: bool = False, diff: bool = False, **options):
        args = {"certificates": [{"content": pem(pki["issuing"], pki["root"])}]}
        args.update(options)
        return make_action(CaCertificates, args, check_mode=check_mode, diff=diff)

    return factory


def probe(*entries: tuple) -> dict:
    """(thumbprint, store, present[, in_default_store[, other_physical_stores]]); by default a present one is in .Default alone."""
    return {"certificates": [{"thumbprint": e[0], "store": e[1], "present": e[2], "in_default_store": e[3] if len(e) > 3 else e[2],
                              "other_physical_stores": list(e[4]) if len(e) > 4 else []}
                             for e in entries]}


def chain_probe(pki: dict, *, issuing: bool, root: bool) -> dict:
    return probe((pki["issuing_thumbprint"], "CA", issuing), (pki["root_thumbprint"], "Root", root))


def applied(*operations: dict) -> dict:
    return {"applied": [{k: op[k] for k in ("action", "thumbprint", "store")} for op in operations]}


def add(issued, store: str) -> dict:
    return {"action": "add", "thumbprint": thumbprint_of(issued), "store": store, "der": der_base64(issued)}


def remove(issued, store: str) -> dict:
    return {"action": "remove", "thumbprint": thumbprint_of(issued), "store": store}


# --- the probe ----------------------------------------------------------------------------------------------------------------


def test_the_probe_asks_for_each_certificate_in_its_store_and_carries_no_certificate_bytes(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates()
    replay.queue(ps_ok(chain_probe(pki, issuing=True, root=True)))
    action.run(task_vars={})
    call = replay.calls[0]
    assert call["module_name"] == RUNNER
    assert call["module_args"]["script"] == payload_source("ca_certificates")
    assert call["module_args"]["parameters"] == {"Mode": "probe", "Certificates": [
        {"thumbprint": pki["issuing_thumbprint"], "store": "CA"}, {"thumbprint": pki["root_thumbprint"], "store": "Root"},
    ]}
    assert "sensitive_parameters" not in call["module_args"]
    assert der_base64(pki["root"]) not in json.dumps(call["module_args"])


def test_steady_state_is_one_probe(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(diff=True)
    replay.queue(ps_ok(chain_probe(pki, issuing=True, root=True)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is False
    assert not result.get("failed")
    assert result["installed"] == [] and result["removed"] == []
    assert [c["changed"] for c in result["certificates"]] == [False, False]
    assert result["diff"]["before"] == result["diff"]["after"] == {"CA": [pki["issuing_thumbprint"]], "Root": [pki["root_thumbprint"]]}


def test_the_result_describes_every_certificate(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates()
    replay.queue(ps_ok(chain_probe(pki, issuing=True, root=False)), ps_ok(applied(add(pki["root"], "Root")), changed=True))
    result = action.run(task_vars={})
    assert result["certificates"] == [
        {"thumbprint": pki["issuing_thumbprint"], "subject": "O=Contoso,CN=Contoso Test Issuing CA", "store": "CA",
         "not_after": pki["issuing"].cert.not_valid_after_utc.isoformat(), "changed": False},
        {"thumbprint": pki["root_thumbprint"], "subject": "O=Contoso,CN=Contoso Test Root CA", "store": "Root",
         "not_after": pki["root"].cert.not_valid_after_utc.isoformat(), "changed": True},
    ]


# --- installing and removing ---------------------------------------------------------------------------------------------------


def test_missing_certificates_are_added_with_their_der_bytes(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(diff=True)
    operations = [
        {"action": "add", "thumbprint": pki["issuing_thumbprint"], "store": "CA", "der": der_base64(pki["issuing"])},
        {"action": "add", "thumbprint": pki["root_thumbprint"], "store": "Root", "der": der_base64(pki["root"])},
    ]
    replay.queue(ps_ok(chain_probe(pki, issuing=False, root=False)), ps_ok(applied(*operations), changed=True))
    result = action.run(task_vars={})
    assert replay.modes == ["probe", "apply"]
    assert replay.calls[1]["module_args"]["parameters"] == {"Mode": "apply", "Operations": operations}
    assert "sensitive_parameters" not in replay.calls[1]["module_args"]
    assert result["changed"] is True
    assert result["installed"] == [pki["issuing_thumbprint"], pki["root_thumbprint"]]
    assert result["removed"] == []
    assert result["diff"] == {"before": {"CA": [], "Root": []},
                              "after": {"CA": [pki["issuing_thumbprint"]], "Root": [pki["root_thumbprint"]]}}


def test_only_the_missing_certificate_is_added(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates()
    replay.queue(ps_ok(chain_probe(pki, issuing=True, root=False)), ps_ok(applied(add(pki["root"], "Root")), changed=True))
    result = action.run(task_vars={})
    assert [op["thumbprint"] for op in replay.calls[1]["module_args"]["parameters"]["Operations"]] == [pki["root_thumbprint"]]
    assert result["installed"] == [pki["root_thumbprint"]]


def test_check_mode_reports_the_change_with_one_probe(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(check_mode=True, diff=True)
    replay.queue(ps_ok(chain_probe(pki, issuing=False, root=True)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is True
    assert result["installed"] == [pki["issuing_thumbprint"]]
    assert result["diff"]["after"]["CA"] == [pki["issuing_thumbprint"]]


def test_absent_removes_only_the_present_certificates_and_sends_no_bytes(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(state="absent", diff=True)
    replay.queue(ps_ok(chain_probe(pki, issuing=True, root=False)), ps_ok(applied(remove(pki["issuing"], "CA")), changed=True))
    result = action.run(task_vars={})
    assert replay.calls[1]["module_args"]["parameters"]["Operations"] == [
        {"action": "remove", "thumbprint": pki["issuing_thumbprint"], "store": "CA"}]
    assert result["removed"] == [pki["issuing_thumbprint"]]
    assert result["installed"] == []
    assert [c["changed"] for c in result["certificates"]] == [True, False]
    assert result["diff"] == {"before": {"CA": [pki["issuing_thumbprint"]], "Root": []}, "after": {"CA": [], "Root": []}}


def test_a_removal_that_found_the_certificate_gone_reports_no_change(ca_certificates, ps_ok, pki):
    # The certificate left the store's own copy between the probe and the apply: the payload deletes nothing and says so.
    action, replay = ca_certificates(state="absent")
    gone = dict(remove(pki["issuing"], "CA"), removed=0)
    replay.queue(ps_ok(chain_probe(pki, issuing=True, root=False)), ps_ok({"applied": [gone]}))
    result = action.run(task_vars={})
    assert replay.modes == ["probe", "apply"]
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["removed"] == []
    assert [c["changed"] for c in result["certificates"]] == [False, False]
    assert any(f"{pki['issuing_thumbprint']} was no longer in LocalMachine\\CA" in w for w in result["warnings"])


def test_a_removal_reports_what_was_deleted_when_another_found_nothing(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(state="absent")
    replay.queue(ps_ok(chain_probe(pki, issuing=True, root=True)),
                 ps_ok({"applied": [dict(remove(pki["issuing"], "CA"), removed=1), dict(remove(pki["root"], "Root"), removed=0)]},
                       changed=True))
    result = action.run(task_vars={})
    assert result["changed"] is True
    assert result["removed"] == [pki["issuing_thumbprint"]]
    assert [c["changed"] for c in result["certificates"]] == [True, False]


def test_absent_with_nothing_present_changes_nothing(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(state="absent")
    replay.queue(ps_ok(chain_probe(pki, issuing=False, root=False)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is False


def test_an_explicit_store_overrides_auto(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(certificates=[{"content": pem(pki["root"]), "store": "CA"},
                                                   {"content": pem(pki["leaf"]), "store": "Root"}])
    leaf = thumbprint_of(pki["leaf"])
    replay.queue(ps_ok(probe((pki["root_thumbprint"], "CA", True), (leaf, "Root", True))))
    result = action.run(task_vars={})
    assert replay.calls[0]["module_args"]["parameters"]["Certificates"] == [
        {"thumbprint": pki["root_thumbprint"], "store": "CA"}, {"thumbprint": leaf, "store": "Root"}]
    assert result["changed"] is False


def test_a_failed_apply_reports_what_it_had_applied(ca_certificates, ps_ok, ps_failed, pki):
    action, replay = ca_certificates()
    first = {"action": "add", "thumbprint": pki["issuing_thumbprint"], "store": "CA"}
    failure = ps_failed("Cannot add certificate to LocalMachine\\Root: Access is denied")
    failure["result"] = {"applied": [first]}
    replay.queue(ps_ok(chain_probe(pki, issuing=False, root=False)), failure)
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["applied"] == [first]
    assert result["msg"] == f"{FQCN}: apply failed on the host: Cannot add certificate to LocalMachine\\Root: Access is denied"


def test_an_apply_that_did_less_than_planned_fails_naming_what_was_not_done(ca_certificates, ps_ok, pki):
    # What the payload returns when ShouldProcess declines the second operation.
    action, replay = ca_certificates()
    replay.queue(ps_ok(chain_probe(pki, issuing=False, root=False)), ps_ok(applied(add(pki["issuing"], "CA")), changed=True))
    result = action.run(task_vars={})
    assert replay.modes == ["probe", "apply"]
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["applied"] == applied(add(pki["issuing"], "CA"))["applied"]
    assert result["msg"] == (f"{FQCN}: apply did not perform the planned operations (not done: add "
                             f"{pki['root_thumbprint']} to Root)")


def test_an_apply_that_did_nothing_fails_and_reports_no_change(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(state="absent")
    replay.queue(ps_ok(chain_probe(pki, issuing=True, root=True)), ps_ok({"applied": []}))
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["applied"] == []
    assert result["msg"] == (f"{FQCN}: apply did not perform the planned operations (not done: remove "
                             f"{pki['issuing_thumbprint']} from CA, remove {pki['root_thumbprint']} from Root)")


def test_an_apply_that_reports_an_operation_it_was_not_sent_fails(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(certificates=[{"content": pem(pki["root"])}])
    replay.queue(ps_ok(probe((pki["root_thumbprint"], "Root", False))),
                 ps_ok(applied(add(pki["root"], "Root"), add(pki["issuing"], "CA")), changed=True))
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["msg"] == (f"{FQCN}: apply did not perform the planned operations (done but not planned: add "
                             f"{pki['issuing_thumbprint']} to CA)")


@pytest.mark.parametrize("reply", [{}, {"applied": "all"}, {"applied": ["add"]}], ids=["none", "not a list", "not dicts"])
def test_an_apply_result_of_another_shape_fails(ca_certificates, ps_ok, pki, reply):
    action, replay = ca_certificates(certificates=[{"content": pem(pki["root"])}])
    replay.queue(ps_ok(probe((pki["root_thumbprint"], "Root", False))), ps_ok(reply, changed=True))
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["msg"] == f"{FQCN}: apply returned an unexpected result: no 'applied' list"


@pytest.mark.parametrize("reply, detail", [
    ({}, "no 'certificates' list"),
    ({"certificates": ["CA"]}, "no 'certificates' list"),
    ({"certificates": []}, "no presence report for {issuing} in CA"),
    ({"certificates": [{"thumbprint": "{issuing}", "store": "CA", "present": "yes", "in_default_store": True}]},
     "no presence report for {issuing} in CA"),
    ({"certificates": [{"thumbprint": "{issuing}", "store": "CA", "present": True}]}, "no presence report for {issuing} in CA"),
], ids=["no list", "not dicts", "missing entry", "not a boolean", "no default store report"])
def test_a_probe_of_another_shape_is_an_unexpected_result(ca_certificates, ps_ok, pki, reply, detail):
    action, replay = ca_certificates(certificates=[{"content": pem(pki["issuing"])}])
    replay.queue(ps_ok(json.loads(json.dumps(reply).replace("{issuing}", pki["issuing_thumbprint"]))))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert result["msg"] == f"{FQCN}: probe returned an unexpected result: {detail.format(issuing=pki['issuing_thumbprint'])}"


# --- certificates from other physical stores ------------------------------------------------------------------------------


def test_a_certificate_only_policy_provides_is_present_with_a_warning(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(diff=True)
    replay.queue(ps_ok(probe((pki["issuing_thumbprint"], "CA", True), (pki["root_thumbprint"], "Root", True, False))))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["installed"] == []
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["warnings"] == [
        f"the CA certificate O=Contoso,CN=Contoso Test Root CA (thumbprint {pki['root_thumbprint']}) is trusted in "
        "LocalMachine\\Root through Group Policy, enterprise trust or automatic root update, not installed in the store "
        "directly; it is treated as present, and may disappear when that source no longer provides it"]


def test_check_mode_warns_the_same_way(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(check_mode=True)
    replay.queue(ps_ok(probe((pki["issuing_thumbprint"], "CA", True, False), (pki["root_thumbprint"], "Root", False))))
    result = action.run(task_vars={})
    assert result["changed"] is True
    assert result["installed"] == [pki["root_thumbprint"]]
    (warning,) = result["warnings"]
    assert warning.startswith(f"the CA certificate O=Contoso,CN=Contoso Test Issuing CA (thumbprint {pki['issuing_thumbprint']}) "
                              "is trusted in LocalMachine\\CA through Group Policy")


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check mode"])
def test_removing_a_certificate_only_policy_provides_fails_before_any_change(ca_certificates, ps_ok, pki, check_mode):
    action, replay = ca_certificates(state="absent", check_mode=check_mode)
    # The issuing CA could be removed, but the task is refused as a whole.
    replay.queue(ps_ok(probe((pki["issuing_thumbprint"], "CA", True), (pki["root_thumbprint"], "Root", True, False))))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == (
        f"{FQCN}: cannot remove O=Contoso,CN=Contoso Test Root CA (thumbprint {pki['root_thumbprint']}) in LocalMachine\\Root: "
        "it is not installed in the store itself but trusted through Group Policy, enterprise trust or automatic root "
        "update, so removing it would not last, as that source puts it back; to distrust a certificate, add it to the "
        "Disallowed store or change the policy that provides it")


def test_removing_a_certificate_policy_also_provides_fails_before_any_change(ca_certificates, ps_ok, pki):
    # The payload removes the store's own copy only; Group Policy's copy would keep the root trusted.
    action, replay = ca_certificates(state="absent")
    replay.queue(ps_ok(probe((pki["issuing_thumbprint"], "CA", True),
                             (pki["root_thumbprint"], "Root", True, True, [".GroupPolicy", ".AuthRoot"]))))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == (
        f"{FQCN}: cannot remove O=Contoso,CN=Contoso Test Root CA (thumbprint {pki['root_thumbprint']}) in LocalMachine\\Root "
        "(also in .GroupPolicy, .AuthRoot): besides the store's own copy, Group Policy, enterprise trust or automatic root "
        "update provides it, and removing the store's copy would leave it trusted; to distrust a certificate, add it to the "
        "Disallowed store or change the policy that provides it")


def test_present_needs_nothing_for_a_certificate_in_the_store_and_from_policy(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates()
    replay.queue(ps_ok(probe((pki["issuing_thumbprint"], "CA", True, True, [".Enterprise"]), (pki["root_thumbprint"], "Root", True))))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is False and "warnings" not in result


def test_a_probe_without_the_other_physical_stores_is_unexpected(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates()
    report = chain_probe(pki, issuing=True, root=True)
    del report["certificates"][0]["other_physical_stores"]
    replay.queue(ps_ok(report))
    result = action.run(task_vars={})
    assert result["msg"] == f"{FQCN}: probe returned an unexpected result: no presence report for {pki['issuing_thumbprint']} in CA"


def test_removing_several_certificates_policy_provides_names_them_all(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(state="absent")
    replay.queue(ps_ok(probe((pki["issuing_thumbprint"], "CA", True, False), (pki["root_thumbprint"], "Root", True, False))))
    result = action.run(task_vars={})
    assert result["msg"].startswith(
        f"{FQCN}: cannot remove O=Contoso,CN=Contoso Test Issuing CA (thumbprint {pki['issuing_thumbprint']}) in "
        f"LocalMachine\\CA; O=Contoso,CN=Contoso Test Root CA (thumbprint {pki['root_thumbprint']}) in LocalMachine\\Root: "
        "they are not installed in the store itself")
    assert "so removing them would not last, as that source puts them back; " in result["msg"]


def test_absent_with_a_certificate_that_is_not_there_at_all_is_not_refused(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(state="absent")
    replay.queue(ps_ok(chain_probe(pki, issuing=False, root=False)))
    result = action.run(task_vars={})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False


# --- reading the certificates ---------------------------------------------------------------------------------------------------


def test_src_is_looked_up_as_a_file_and_read_as_der(ca_certificates, ps_ok, pki, tmp_path, monkeypatch):
    path = tmp_path / "root.cer"
    path.write_bytes(pki["root"].cert.public_bytes(Encoding.DER))
    action, replay = ca_certificates(certificates=[{"src": "root.cer"}])
    looked_up = []
    monkeypatch.setattr(action, "_find_needle", lambda dirname, needle: looked_up.append((dirname, needle)) or str(path))
    replay.queue(ps_ok(probe((pki["root_thumbprint"], "Root", True))))
    result = action.run(task_vars={})
    assert looked_up == [("files", "root.cer")]
    assert not result.get("failed"), result.get("msg")


def test_a_p7b_file_installs_each_certificate_it_holds(ca_certificates, ps_ok, pki, tmp_path, monkeypatch):
    path = tmp_path / "chain.p7b"
    path.write_bytes(pkcs7.serialize_certificates([pki["root"].cert, pki["issuing"].cert], Encoding.DER))
    action, replay = ca_certificates(certificates=[{"src": str(path)}])
    monkeypatch.setattr(action, "_find_needle", lambda dirname, needle: needle)
    replay.queue(ps_ok(chain_probe(pki, issuing=True, root=True)))
    action.run(task_vars={})
    sent = replay.calls[0]["module_args"]["parameters"]["Certificates"]
    assert sorted(sent, key=json.dumps) == sorted([{"thumbprint": pki["issuing_thumbprint"], "store": "CA"},
                                                   {"thumbprint": pki["root_thumbprint"], "store": "Root"}], key=json.dumps)


def test_base64_der_content_and_a_repeat_in_pem_are_one_certificate(ca_certificates, ps_ok, pki):
    action, replay = ca_certificates(certificates=[{"content": der_base64(pki["root"])}, {"content": pem(pki["issuing"], pki["root"])}])
    replay.queue(ps_ok(probe((pki["root_thumbprint"], "Root", True), (pki["issuing_thumbprint"], "CA", True))))
    result = action.run(task_vars={})
    assert [c["thumbprint"] for c in result["certificates"]] == [pki["root_thumbprint"], pki["issuing_thumbprint"]]


@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check mode"])
def test_an_empty_list_changes_nothing_without_a_round_trip(ca_certificates, state, check_mode):
    action, replay = ca_certificates(certificates=[], state=state, check_mode=check_mode, diff=True)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["certificates"] == result["installed"] == result["removed"] == []
    assert result["diff"] == {"before": {"CA": [], "Root": []}, "after": {"CA": [], "Root": []}}


def test_an_empty_list_is_still_checked_against_the_argument_spec(ca_certificates):
    action, replay = ca_certificates(certificates=[], state="exported")
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert "state" in result["msg"]


# --- warnings ----------------------------------------------------------------------------------------------------------------------


def test_an_expired_ca_certificate_is_installed_with_a_warning(ca_certificates, ps_ok):
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = pki_fixtures.issue("Retired Root CA", ca=True, not_before=now - datetime.timedelta(days=400),
                                 not_after=now - datetime.timedelta(days=1))
    thumbprint = thumbprint_of(expired)
    action, replay = ca_certificates(certificates=[{"content": pem(expired)}])
    replay.queue(ps_ok(probe((thumbprint, "Root", False))), ps_ok(applied(add(expired, "Root")), changed=True))
    result = action.run(task_vars={})
    assert not result.get("failed"), result.get("msg")
    assert result["installed"] == [thumbprint]
    (warning,) = result["warnings"]
    assert warning.startswith(f"the CA certificate O=Contoso,CN=Retired Root CA (thumbprint {thumbprint}) expired on ")


def test_removing_an_expired_ca_certificate_warns_about_nothing(ca_certificates, ps_ok):
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = pki_fixtures.issue("Retired Root CA", ca=True, not_before=now - datetime.timedelta(days=400),
                                 not_after=now - datetime.timedelta(days=1))
    action, replay = ca_certificates(certificates=[{"content": pem(expired)}], state="absent")
    replay.queue(ps_ok(probe((thumbprint_of(expired), "Root", True))), ps_ok(applied(remove(expired, "Root")), changed=True))
    result = action.run(task_vars={})
    assert not result.get("failed"), result.get("msg")
    assert "warnings" not in result


# --- bad input fails before the host is touched ---------------------------------------------------------------------------------


def test_a_private_key_in_the_pem_fails_without_touching_the_host_or_showing_the_key(ca_certificates, pki):
    key = pki["root"].key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    action, replay = ca_certificates(certificates=[{"content": pem(pki["issuing"])}, {"content": pem(pki["root"]) + key}])
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["changed"] is False
    line = pem(pki["root"]).count("\n") + 1
    assert result["msg"].startswith(f"{FQCN}: certificates[1].content: line {line} begins a private key (PRIVATE KEY); ")
    assert key.splitlines()[1] not in json.dumps(result)


def test_a_leaf_with_auto_fails_without_touching_the_host(ca_certificates, pki):
    action, replay = ca_certificates(certificates=[{"content": pem(pki["root"])}, {"content": pem(pki["leaf"])}])
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["msg"].startswith(f"{FQCN}: certificates[1].content: O=Contoso,CN=web.contoso.com (thumbprint ")
    assert "is not a CA certificate" in result["msg"]


def test_one_certificate_for_two_stores_fails_without_touching_the_host(ca_certificates, pki):
    action, replay = ca_certificates(certificates=[{"content": pem(pki["root"])}, {"content": der_base64(pki["root"]), "store": "CA"}])
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["msg"] == (f"{FQCN}: certificates[1].content: O=Contoso,CN=Contoso Test Root CA (thumbprint "
                             f"{pki['root_thumbprint']}) goes to CA here but to Root in certificates[0].content; give each "
                             "certificate one store")


def test_a_file_that_is_not_a_certificate_fails_naming_its_entry(ca_certificates, tmp_path, monkeypatch, pki):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"the root CA is on the wiki")
    action, replay = ca_certificates(certificates=[{"content": pem(pki["root"])}, {"src": str(path)}])
    monkeypatch.setattr(action, "_find_needle", lambda dirname, needle: needle)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["msg"] == (f"{FQCN}: certificates[1].src: is not a certificate; give PEM, DER, or a PKCS#7 (.p7b) bundle "
                             "of certificates")


def test_a_missing_src_fails_without_touching_the_host(ca_certificates, monkeypatch):
    action, replay = ca_certificates(certificates=[{"src": "missing.cer"}])

    def not_found(dirname, needle):
        raise AnsibleError(f"Could not find or access '{needle}'")

    monkeypatch.setattr(action, "_find_needle", not_found)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["msg"] == f"{FQCN}: certificates[0].src: Could not find or access 'missing.cer'"


def test_a_src_that_cannot_be_read_fails_without_touching_the_host(ca_certificates, tmp_path, monkeypatch):
    action, replay = ca_certificates(certificates=[{"src": "certs"}])
    monkeypatch.setattr(action, "_find_needle", lambda dirname, needle: str(tmp_path))
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["msg"] == f"{FQCN}: certificates[0].src: cannot read {tmp_path}: Is a directory"


@pytest.mark.parametrize("args, fragment", [
    ({"certificates": [{"src": "root.cer", "content": "x"}]}, "mutually exclusive: src|content"),
    ({"certificates": [{"store": "Root"}]}, "one of the following is required: src, content"),
    ({"certificates": [{"content": "x", "store": "My"}]}, "store"),
    ({"certificates": [{"content": "x", "path": "root.cer"}]}, "path"),
    ({"state": "exported"}, "state"),
    ({"certificates": None}, "certificates"),
], ids=["src and content", "neither", "bad store", "unknown option", "bad state", "no certificates"])
def test_the_argument_spec_fails_before_touching_the_host(ca_certificates, args, fragment):
    action, replay = ca_certificates(**args)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["msg"].startswith(f"{FQCN}: ")
    assert fragment in result["msg"]
