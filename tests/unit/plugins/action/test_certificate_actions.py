"""pfx_import, private_key_acl and cert_serial_registry: what their action plugins send to the payloads and return."""

from __future__ import annotations

import base64
import copy
import datetime
import json

import pytest
from ansible.errors import AnsibleError
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, pkcs12

import pki_fixtures
from ansible_collections.pkiops.keyfactor_command.plugins.action.cert_serial_registry import ActionModule as CertSerialRegistry
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._registry_paths import local_machine_subkey
from ansible_collections.pkiops.keyfactor_command.plugins.action.pfx_import import ActionModule as PfxImport
from ansible_collections.pkiops.keyfactor_command.plugins.action.private_key_acl import ActionModule as PrivateKeyAcl
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._private_keys import FULL_CONTROL, READ, signed
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import TaskInputError
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source
from winsim import models, transport, win_powershell
from winsim.certificates import certificate_entry, find_certificate, serial_as_windows_shows_it, store
from winsim.host import Host
from winsim.manifest import ModuleInvocation
from winsim.state import complete

models.load_all()

PASSWORD = "Pfx-Sup3r-Secret!Pa55"
NS = "NT AUTHORITY\\NETWORK SERVICE"
NS_SID = "S-1-5-20"
ADMINISTRATORS = "BUILTIN\\Administrators"
ADMINISTRATORS_SID = "S-1-5-32-544"
SVC = "CONTOSO\\svc_keyfactor"
SVC_SID = "S-1-5-21-1004336348-1177238915-682003330-1105"
THUMBPRINT = "9F2C1A7E5B3D4C6A8E0F1B2D3C4E5F60718293A4"
SERIAL = "0080AB"
GATEWAY_SUBKEY = "SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters"
MMC_FULL = signed(FULL_CONTROL)
MMC_READ = signed(READ)
DEFAULT_ACL = [{"sid": "S-1-5-18", "name": "NT AUTHORITY\\SYSTEM", "type": "allow", "rights": MMC_FULL, "inherited": False},
               {"sid": ADMINISTRATORS_SID, "name": ADMINISTRATORS, "type": "allow", "rights": MMC_FULL, "inherited": False}]
RESOLVED = {NS: NS_SID, ADMINISTRATORS: ADMINISTRATORS_SID, SVC: SVC_SID}
# Who the payload runs as: a local administrator, in BUILTIN\Administrators among its groups, on Windows Server 2022.
CONNECTING_ADMIN = {"sid": "S-1-5-21-3623811015-3361044348-30300820-500",
                    "groups": ["S-1-1-0", "S-1-5-2", "S-1-5-11", "S-1-5-15", ADMINISTRATORS_SID, "S-1-5-32-545"]}
SERVER_2022 = 20348
SERVER_2016 = 14393


def der_base64(issued) -> str:
    return base64.b64encode(issued.cert.public_bytes(Encoding.DER)).decode("ascii")


def fqcn(cls) -> str:
    return f"pkiops.keyfactor_command.{cls.definition.name}"


thumbprint_of = pki_fixtures.thumbprint


@pytest.fixture(scope="module", name="pki")
def fixture_pki() -> dict:
    """A leaf under an issuing CA under a root, its PFX with the chain, and the thumbprints, made once for this module."""
    root, issuing = pki_fixtures.chain()
    leaf = pki_fixtures.issue("gateway-encryption.contoso.com", issuer=issuing)
    data = pki_fixtures.pfx(leaf, PASSWORD, extra=(issuing, root))
    return {
        "root": root, "issuing": issuing, "leaf": leaf, "pfx": data, "content": base64.b64encode(data).decode("ascii"),
        "thumbprint": thumbprint_of(leaf), "issuing_thumbprint": thumbprint_of(issuing), "root_thumbprint": thumbprint_of(root),
    }


def key_report(*acl: dict, exportable: bool = False, provider: str = "capi") -> dict:
    """The probe's report on a certificate in the store with its key."""
    names = {"capi": "Microsoft Enhanced RSA and AES Cryptographic Provider", "cng": "Microsoft Software Key Storage Provider"}
    return {"found": True, "has_private_key": True, "acl": [*DEFAULT_ACL, *acl],
            "key": {"provider": provider, "provider_name": names[provider], "container": "te-1234", "exportable": exportable}}


NOT_FOUND = {"found": False, "has_private_key": False, "key": None, "acl": []}
NO_KEY = {"found": True, "has_private_key": False, "key": None, "acl": []}


def allow(sid: str, rights: int) -> dict:
    return {"sid": sid, "name": sid, "type": "allow", "rights": rights, "inherited": False}


def resolved(*references: str) -> list[dict]:
    return [{"input": r, "sid": RESOLVED[r], "name": r, "error": None} for r in references]


def pfx_probe(certificate: dict, *, chain: tuple = (), principals: tuple = (), os_build: int = SERVER_2022) -> dict:
    return {"certificate": certificate, "chain": list(chain), "principals": resolved(*principals), "identity": CONNECTING_ADMIN,
            "os_build": os_build}


def chain_report(pki: dict, *, issuing: bool, root: bool) -> tuple:
    return ({"thumbprint": pki["issuing_thumbprint"], "store": "CA", "present": issuing},
            {"thumbprint": pki["root_thumbprint"], "store": "Root", "present": root})


IMPORTED = {"imported": True, "chain_installed": [], "acl_applied": []}


@pytest.fixture(name="pfx_import")
def fixture_pfx_import(make_action, pki):
    """pfx_import(check_mode=False, diff=False, **options) -> (action, replay); content and password default to the test PFX."""

    def factory(*, check_mode: bool = False, diff: bool = False, **options):
        args = {"content": pki["content"], "password": PASSWORD}
        args.update(options)
        args = {k: v for k, v in args.items() if v is not None}
        return make_action(PfxImport, args, check_mode=check_mode, diff=diff)

    return factory


def sent(call: dict) -> str:
    """Everything of one call that is not a sensitive parameter, as text."""
    module_args = call["module_args"]
    return json.dumps({k: v for k, v in module_args.items() if k != "sensitive_parameters"})


# --- pfx_import: the probe ------------------------------------------------------------------------------------------------


def test_pfx_import_steady_state_is_one_probe_without_any_sensitive_parameter(pfx_import, ps_ok, pki):
    action, replay = pfx_import(key_access=[{"principal": NS}])
    replay.queue(ps_ok(pfx_probe(key_report(allow(NS_SID, MMC_READ)), principals=(NS,))))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert "sensitive_parameters" not in replay.calls[0]["module_args"]
    assert PASSWORD not in json.dumps(replay.calls[0]["module_args"])
    assert pki["content"] not in json.dumps(replay.calls[0]["module_args"])
    assert result["changed"] is False
    assert not result.get("failed")
    assert result["imported"] is False
    assert result["key_access"] == {NS: "read"}
    assert result["key_access_changes"] == {}


def test_pfx_import_probes_by_thumbprint_for_the_principals(pfx_import, ps_ok, pki):
    action, replay = pfx_import(store_name="WebHosting", key_access=[{"principal": NS}, {"principal": SVC, "access": "full_control"}])
    replay.queue(ps_ok(pfx_probe(key_report(allow(NS_SID, MMC_READ), allow(SVC_SID, MMC_FULL)), principals=(NS, SVC))))
    action.run(task_vars={})
    assert replay.calls[0]["module_args"]["parameters"] == {
        "Mode": "probe", "StoreName": "WebHosting", "Thumbprint": pki["thumbprint"], "Chain": [], "Principals": [NS, SVC],
    }
    assert replay.calls[0]["module_args"]["script"] == payload_source("pfx_import")


def test_pfx_import_returns_what_the_pfx_holds(pfx_import, ps_ok, pki):
    action, replay = pfx_import()
    replay.queue(ps_ok(pfx_probe(key_report())))
    result = action.run(task_vars={})
    leaf = pki["leaf"].cert
    assert result["thumbprint"] == pki["thumbprint"]
    assert result["serial_number"] == serial_as_windows_shows_it(leaf)
    assert result["subject"] == "O=Contoso,CN=gateway-encryption.contoso.com"
    assert result["issuer"] == "O=Contoso,CN=Contoso Test Issuing CA"
    assert result["not_after"] == leaf.not_valid_after_utc.isoformat()
    assert result["key_algorithm"] == "RSA"
    assert result["key_size"] == 2048
    assert result["key_usage"] == ["digital_signature", "key_encipherment"]
    assert result["store"] == "LocalMachine\\My"
    assert result["chain_installed"] == []


# --- pfx_import: the import --------------------------------------------------------------------------------------------------


def test_an_import_sends_the_pfx_and_its_password_only_as_sensitive_parameters(pfx_import, ps_ok, pki):
    action, replay = pfx_import()
    replay.queue(ps_ok(pfx_probe(NOT_FOUND)), ps_ok(IMPORTED, changed=True))
    result = action.run(task_vars={})
    assert replay.modes == ["probe", "apply"]
    apply = replay.calls[1]["module_args"]
    assert apply["sensitive_parameters"] == [{"name": "Pfx", "value": pki["content"]}, {"name": "PfxPassword", "value": PASSWORD}]
    assert apply["parameters"] == {
        "Mode": "apply", "StoreName": "My", "Thumbprint": pki["thumbprint"], "Exportable": False,
        "ImportLeaf": True, "RestoreArchived": False, "InstallChain": [], "Operations": [],
    }
    for call in replay.calls:
        assert PASSWORD not in sent(call)
        assert pki["content"] not in sent(call)
    assert result["changed"] is True
    assert result["imported"] is True
    assert PASSWORD not in json.dumps(result)
    assert pki["content"] not in json.dumps(result)


def test_an_import_without_a_password_sends_no_password_parameter(pfx_import, ps_ok):
    leaf = pki_fixtures.issue("nopassword.contoso.com", key=pki_fixtures.new_key("ec"))
    content = base64.b64encode(pkcs12.serialize_key_and_certificates(b"x", leaf.key, leaf.cert, None, NoEncryption())).decode()
    action, replay = pfx_import(content=content, password=None)
    replay.queue(ps_ok(pfx_probe(NOT_FOUND)), ps_ok(IMPORTED, changed=True))
    action.run(task_vars={})
    assert replay.calls[1]["module_args"]["sensitive_parameters"] == [{"name": "Pfx", "value": content}]


def test_an_import_from_src_sends_the_file_as_base64(pfx_import, ps_ok, pki, tmp_path, monkeypatch):
    path = tmp_path / "gateway-encryption.pfx"
    path.write_bytes(pki["pfx"])
    action, replay = pfx_import(content=None, src="gateway-encryption.pfx")
    looked_up = []
    monkeypatch.setattr(action, "_find_needle", lambda dirname, needle: looked_up.append((dirname, needle)) or str(path))
    replay.queue(ps_ok(pfx_probe(NOT_FOUND)), ps_ok(IMPORTED, changed=True))
    action.run(task_vars={})
    assert looked_up == [("files", "gateway-encryption.pfx")]
    assert replay.calls[1]["module_args"]["sensitive_parameters"][0] == {"name": "Pfx", "value": pki["content"]}


def test_a_missing_src_fails_before_touching_the_host(pfx_import, monkeypatch):
    action, replay = pfx_import(content=None, src="missing.pfx")

    def not_found(dirname, needle):
        raise AnsibleError(f"Could not find or access '{needle}'")

    monkeypatch.setattr(action, "_find_needle", not_found)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["msg"] == f"{fqcn(PfxImport)}: src: Could not find or access 'missing.pfx'"


def test_an_import_with_key_access_sends_every_grant_because_the_new_keys_acl_is_unknown(pfx_import, ps_ok):
    action, replay = pfx_import(key_access=[{"principal": NS}, {"principal": SVC, "state": "absent"}])
    replay.queue(ps_ok(pfx_probe(NOT_FOUND, principals=(NS, SVC))), ps_ok(IMPORTED, changed=True))
    result = action.run(task_vars={})
    apply = replay.calls[1]["module_args"]["parameters"]
    assert apply["ImportLeaf"] is True
    assert apply["Operations"] == [{"sid": NS_SID, "action": "set", "rights": MMC_READ},
                                   {"sid": SVC_SID, "action": "remove"}]
    assert result["key_access"] == {NS: "read", SVC: "none"}
    assert result["key_access_changes"] == {NS: "none -> read"}


def test_an_existing_certificate_without_its_key_is_imported_again(pfx_import, ps_ok):
    action, replay = pfx_import()
    replay.queue(ps_ok(pfx_probe(NO_KEY)), ps_ok(IMPORTED, changed=True))
    action.run(task_vars={})
    assert replay.calls[1]["module_args"]["parameters"]["ImportLeaf"] is True


def test_exportable_is_passed_to_the_import(pfx_import, ps_ok):
    action, replay = pfx_import(exportable=True)
    replay.queue(ps_ok(pfx_probe(NOT_FOUND)), ps_ok(IMPORTED, changed=True))
    action.run(task_vars={})
    assert replay.calls[1]["module_args"]["parameters"]["Exportable"] is True


def test_a_key_access_change_alone_sends_no_pfx(pfx_import, ps_ok):
    action, replay = pfx_import(key_access=[{"principal": NS}])
    replay.queue(ps_ok(pfx_probe(key_report(allow(NS_SID, MMC_FULL)), principals=(NS,))), ps_ok({"acl_applied": []}, changed=True))
    result = action.run(task_vars={})
    apply = replay.calls[1]["module_args"]
    assert "sensitive_parameters" not in apply
    assert apply["parameters"]["ImportLeaf"] is False
    assert apply["parameters"]["InstallChain"] == []
    assert apply["parameters"]["Operations"] == [{"sid": NS_SID, "action": "set", "rights": MMC_READ}]
    assert result["key_access_changes"] == {NS: "full_control -> read"}


def test_an_archived_certificate_whose_key_opens_is_restored_without_an_import(pfx_import, ps_ok, pki):
    # The probe finds an archived copy too; Windows hides it from whoever lists the store, and adding it again would
    # leave it archived (and write a second key), so it is only restored.
    action, replay = pfx_import(diff=True)
    replay.queue(ps_ok(pfx_probe(dict(key_report(), archived=True))),
                 ps_ok({"key_written": False, "imported": False, "archived_restored": True, "chain_installed": [], "acl_applied": []},
                       changed=True))
    result = action.run(task_vars={})
    apply = replay.calls[1]["module_args"]
    assert "sensitive_parameters" not in apply
    assert apply["parameters"]["ImportLeaf"] is False
    assert apply["parameters"]["RestoreArchived"] is True
    assert result["changed"] is True
    assert result["imported"] is False
    assert result["archived_restored"] is True
    assert result["diff"]["before"]["certificate"] == f"{pki['thumbprint']} in LocalMachine\\My (archived)"
    assert result["diff"]["after"]["certificate"] == f"{pki['thumbprint']} in LocalMachine\\My"
    assert any("is archived in LocalMachine\\My" in warning and "restores it" in warning for warning in result["warnings"])


def test_an_archived_certificate_whose_key_is_gone_is_imported_and_the_import_restores_it(pfx_import, ps_ok):
    action, replay = pfx_import()
    gone = {"found": True, "archived": True, "has_private_key": True, "key": None, "acl": [], "key_error": "Key does not exist.",
            "key_error_code": -2146893811, "key_state": "missing"}
    replay.queue(ps_ok(pfx_probe(gone)), ps_ok(dict(IMPORTED, key_written=True, archived_restored=True), changed=True))
    result = action.run(task_vars={})
    apply = replay.calls[1]["module_args"]["parameters"]
    assert apply["ImportLeaf"] is True
    assert apply["RestoreArchived"] is False
    assert result["archived_restored"] is True


def test_a_certificate_that_is_not_archived_is_not_restored(pfx_import, ps_ok):
    action, replay = pfx_import(key_access=[{"principal": NS}])
    replay.queue(ps_ok(pfx_probe(dict(key_report(), archived=False), principals=(NS,))), ps_ok({"acl_applied": []}, changed=True))
    result = action.run(task_vars={})
    assert replay.calls[1]["module_args"]["parameters"]["RestoreArchived"] is False
    assert result["archived_restored"] is False


def test_an_archived_flag_that_is_not_a_boolean_is_an_unexpected_result(pfx_import, ps_ok):
    action, replay = pfx_import()
    replay.queue(ps_ok(pfx_probe(dict(key_report(), archived="True"))))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["msg"].startswith(f"{fqcn(PfxImport)}: probe returned an unexpected result: the report on the certificate says "
                                    "archived is 'True'")


def test_a_failed_import_says_that_it_wrote_the_pfxs_keys(pfx_import, ps_ok, ps_failed, pki):
    # X509Certificate2Collection.Import has persisted the keys before the leaf was looked for: the host has changed.
    action, replay = pfx_import()
    failure = ps_failed(f"Cannot import: the PFX holds no certificate with thumbprint {pki['thumbprint']}; the PFX's private keys "
                        "are already in the machine key store, where they stay with no certificate in a store referring to them.")
    failure["result"] = {"key_written": True, "imported": False, "archived_restored": False, "chain_installed": [], "acl_applied": []}
    replay.queue(ps_ok(pfx_probe(NOT_FOUND)), failure)
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["key_written"] is True
    assert result["imported"] is False
    assert result["chain_installed"] == [] and result["acl_applied"] == []
    assert "where they stay with no certificate in a store referring to them" in result["msg"]


# --- pfx_import: the chain -----------------------------------------------------------------------------------------------


def test_the_chain_is_skipped_by_default(pfx_import, ps_ok):
    action, replay = pfx_import()
    replay.queue(ps_ok(pfx_probe(NOT_FOUND)), ps_ok(IMPORTED, changed=True))
    action.run(task_vars={})
    assert replay.calls[0]["module_args"]["parameters"]["Chain"] == []
    assert replay.calls[1]["module_args"]["parameters"]["InstallChain"] == []


def test_chain_install_probes_for_each_ca_certificate_in_its_store(pfx_import, ps_ok, pki):
    action, replay = pfx_import(chain="install")
    replay.queue(ps_ok(pfx_probe(key_report(), chain=chain_report(pki, issuing=True, root=True))))
    result = action.run(task_vars={})
    assert replay.calls[0]["module_args"]["parameters"]["Chain"] == [
        {"thumbprint": pki["issuing_thumbprint"], "store": "CA"}, {"thumbprint": pki["root_thumbprint"], "store": "Root"},
    ]
    assert replay.modes == ["probe"]
    assert result["changed"] is False


def test_chain_install_adds_only_the_missing_ca_certificates(pfx_import, ps_ok, pki):
    action, replay = pfx_import(chain="install", diff=True)
    replay.queue(ps_ok(pfx_probe(key_report(), chain=chain_report(pki, issuing=True, root=False))),
                 ps_ok({"imported": False, "chain_installed": [pki["root_thumbprint"]], "acl_applied": []}, changed=True))
    result = action.run(task_vars={})
    apply = replay.calls[1]["module_args"]
    assert apply["parameters"]["ImportLeaf"] is False
    # Each CA certificate travels as its own public DER bytes; the PFX and its password stay on the controller.
    assert apply["parameters"]["InstallChain"] == [{"thumbprint": pki["root_thumbprint"], "store": "Root", "der": der_base64(pki["root"])}]
    assert "sensitive_parameters" not in apply
    assert PASSWORD not in json.dumps(apply) and pki["content"] not in json.dumps(apply)
    assert result["imported"] is False
    assert result["chain_installed"] == [pki["root_thumbprint"]]
    assert result["diff"]["before"]["chain"] == [pki["issuing_thumbprint"]]
    assert result["diff"]["after"]["chain"] == sorted([pki["issuing_thumbprint"], pki["root_thumbprint"]])


def test_chain_install_with_the_leaf_missing_imports_both(pfx_import, ps_ok, pki):
    action, replay = pfx_import(chain="install")
    replay.queue(ps_ok(pfx_probe(NOT_FOUND, chain=chain_report(pki, issuing=False, root=False))), ps_ok(IMPORTED, changed=True))
    action.run(task_vars={})
    apply = replay.calls[1]["module_args"]["parameters"]
    assert apply["ImportLeaf"] is True
    assert apply["InstallChain"] == [{"thumbprint": pki["issuing_thumbprint"], "store": "CA", "der": der_base64(pki["issuing"])},
                                     {"thumbprint": pki["root_thumbprint"], "store": "Root", "der": der_base64(pki["root"])}]
    assert [p["name"] for p in replay.calls[1]["module_args"]["sensitive_parameters"]] == ["Pfx", "PfxPassword"]


def test_a_probe_without_the_chain_list_is_an_unexpected_result(pfx_import, ps_ok):
    action, replay = pfx_import()
    replay.queue(ps_ok({"certificate": key_report(), "principals": []}))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert result["msg"] == f"{fqcn(PfxImport)}: probe returned an unexpected result: no 'chain' list"


# --- pfx_import: secrets in failures ------------------------------------------------------------------------------------------


def test_the_password_in_a_failed_probe_message_is_scrubbed(pfx_import, ps_failed):
    action, replay = pfx_import()
    replay.queue(ps_failed(f"Cannot open the store: unexpected token '{PASSWORD}'", changed=False))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert PASSWORD not in json.dumps(result)
    assert result["msg"] == f"{fqcn(PfxImport)}: probe failed on the host: Cannot open the store: unexpected token '********'"


def test_the_pfx_read_from_src_is_scrubbed_from_a_failed_import(pfx_import, ps_ok, ps_failed, pki, tmp_path, monkeypatch):
    path = tmp_path / "gateway-encryption.pfx"
    path.write_bytes(pki["pfx"])
    action, replay = pfx_import(content=None, src=str(path))
    monkeypatch.setattr(action, "_find_needle", lambda dirname, needle: needle)
    replay.queue(ps_ok(pfx_probe(NOT_FOUND)), ps_failed(f"Cannot import {pki['content']} with {PASSWORD}"))
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert pki["content"] not in json.dumps(result)
    assert PASSWORD not in json.dumps(result)


def test_a_wrong_password_fails_without_touching_the_host(pfx_import):
    action, replay = pfx_import(password="not-the-password")
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == (f"{fqcn(PfxImport)}: password: does not open the PFX given in content: the password is wrong, or "
                             "the file is damaged")


@pytest.mark.parametrize("content", ["not base64!", "QUJD*", "QUJDRA=x"], ids=["words", "symbol", "bad padding"])
def test_content_that_is_not_base64_fails_without_touching_the_host(pfx_import, content):
    action, replay = pfx_import(content=content)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["msg"] == f"{fqcn(PfxImport)}: content: is not base64; give the PFX file's bytes encoded as base64"


def test_base64_that_is_not_a_pfx_fails_without_touching_the_host(pfx_import):
    action, replay = pfx_import(content=base64.b64encode(b"just some bytes").decode())
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["msg"].startswith(f"{fqcn(PfxImport)}: content: is not a valid PKCS#12 (PFX) archive")


def test_content_wrapped_into_lines_is_accepted(pfx_import, ps_ok, pki):
    wrapped = "\n".join(pki["content"][i:i + 76] for i in range(0, len(pki["content"]), 76)) + "\n"
    action, replay = pfx_import(content=wrapped)
    replay.queue(ps_ok(pfx_probe(key_report())))
    result = action.run(task_vars={})
    assert not result.get("failed"), result.get("msg")
    assert replay.modes == ["probe"]


@pytest.mark.parametrize("args, fragment", [
    ({"src": "gateway.pfx"}, "mutually exclusive"),
    ({"content": None}, "one of the following is required"),
    ({"chain": "all"}, "chain"),
    ({"key_access": [{"principal": NS, "access": "write"}]}, "access"),
], ids=["src and content", "neither", "bad chain", "bad access"])
def test_the_argument_spec_fails_before_touching_the_host(pfx_import, args, fragment):
    action, replay = pfx_import(**args)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert fragment in result["msg"]
    assert PASSWORD not in json.dumps(result)


def test_an_empty_principal_fails_before_touching_the_host(pfx_import):
    action, replay = pfx_import(key_access=[{"principal": " "}])
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["msg"] == f"{fqcn(PfxImport)}: key_access[0]: principal is empty"


# --- pfx_import: requirements and warnings -------------------------------------------------------------------------------------


def test_require_rsa_refuses_an_ec_pfx_without_touching_the_host(pfx_import):
    leaf = pki_fixtures.issue("ec.contoso.com", key=pki_fixtures.new_key("ec"))
    action, replay = pfx_import(content=base64.b64encode(pki_fixtures.pfx(leaf, PASSWORD)).decode(), require_rsa=True)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["msg"].startswith(f"{fqcn(PfxImport)}: require_rsa: the certificate ")


def test_require_encipherment_refuses_a_signature_only_pfx_without_touching_the_host(pfx_import):
    leaf = pki_fixtures.issue("signing.contoso.com", key=pki_fixtures.new_key("ec"), key_usage={"key_encipherment": False})
    action, replay = pfx_import(content=base64.b64encode(pki_fixtures.pfx(leaf, PASSWORD)).decode(), require_encipherment=True)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert "require_encipherment" in result["msg"]


def test_an_expired_pfx_is_refused_unless_allowed(pfx_import, ps_ok):
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = pki_fixtures.issue("expired.contoso.com", key=pki_fixtures.new_key("ec"), not_before=now - datetime.timedelta(days=400),
                              not_after=now - datetime.timedelta(days=1))
    content = base64.b64encode(pki_fixtures.pfx(leaf, PASSWORD)).decode()
    action, replay = pfx_import(content=content)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert "set allow_expired to import it anyway" in result["msg"]
    action, replay = pfx_import(content=content, allow_expired=True)
    replay.queue(ps_ok(pfx_probe(key_report())))
    assert not action.run(task_vars={}).get("failed")


def test_a_pfx_expiring_soon_warns(pfx_import, ps_ok):
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = pki_fixtures.issue("soon.contoso.com", key=pki_fixtures.new_key("ec"), not_after=now + datetime.timedelta(days=10))
    action, replay = pfx_import(content=base64.b64encode(pki_fixtures.pfx(leaf, PASSWORD)).decode())
    replay.queue(ps_ok(pfx_probe(key_report())))
    result = action.run(task_vars={})
    assert len(result["warnings"]) == 1
    assert "expires in 9 days" in result["warnings"][0]


@pytest.mark.parametrize("existing, wanted, word", [(True, False, "exportable"), (False, True, "not exportable")])
def test_an_existing_key_with_other_exportability_warns(pfx_import, ps_ok, pki, existing, wanted, word):
    action, replay = pfx_import(exportable=wanted)
    replay.queue(ps_ok(pfx_probe(key_report(exportable=existing))))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is False
    assert result["warnings"] == [
        f"the certificate {pki['thumbprint']} is already in the store with a key that is {word}; exportable={wanted} applies "
        "only to an import, so remove the certificate first to change it"
    ]


def test_an_existing_key_with_the_asked_exportability_does_not_warn(pfx_import, ps_ok):
    action, replay = pfx_import(exportable=True)
    replay.queue(ps_ok(pfx_probe(key_report(exportable=True))))
    assert "warnings" not in action.run(task_vars={})


def test_an_import_does_not_warn_about_exportability(pfx_import, ps_ok):
    action, replay = pfx_import(exportable=True)
    replay.queue(ps_ok(pfx_probe(NO_KEY)), ps_ok(IMPORTED, changed=True))
    assert "warnings" not in action.run(task_vars={})


def test_an_unresolved_principal_fails_after_the_probe_only(pfx_import, ps_ok):
    action, replay = pfx_import(key_access=[{"principal": "CONTOSO\\svc_gone"}])
    probe = pfx_probe(NOT_FOUND)
    probe["principals"] = [{"input": "CONTOSO\\svc_gone", "sid": None, "name": None, "error": "Some or all identity references could not be translated."}]
    replay.queue(ps_ok(probe))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert "CONTOSO\\\\svc_gone" in result["msg"]


# --- pfx_import: check mode and diff ---------------------------------------------------------------------------------------------


def test_check_mode_probes_only_and_reports_the_import(pfx_import, ps_ok, pki):
    action, replay = pfx_import(check_mode=True, diff=True, key_access=[{"principal": NS}])
    replay.queue(ps_ok(pfx_probe(NOT_FOUND, principals=(NS,))))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is True
    assert result["imported"] is True
    assert result["diff"] == {
        "before": {"certificate": None, "chain": [], "key_access": {NS: "none"}},
        "after": {"certificate": f"{pki['thumbprint']} in LocalMachine\\My", "chain": [], "key_access": {NS: "read"}},
    }


# --- pfx_import, private_key_acl and cert_serial_registry against the simulated host --------------------------------------------


class SimulatedWinPowerShell:
    """Stands in for ActionBase._execute_module: runs win_powershell on a simulated host."""

    def __init__(self, host: Host, check_mode: bool = False):
        self.host = host
        self.check_mode = check_mode
        self.calls: list[dict] = []

    def __call__(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        args = dict(copy.deepcopy(module_args), _ansible_check_mode=self.check_mode)
        self.calls.append(args)
        return win_powershell.run(self.host, ModuleInvocation(name=module_name, args=args, script="", become=False), None)

    def low_level(self, cmd, sudoable=True, in_data=None, **kwargs):
        """Stands in for ActionBase._low_level_execute_command: the collection's runner on the simulated host."""
        assert transport.is_loader_command(cmd)
        run = transport.decode_input(in_data)
        self.calls.append(dict(run.win_powershell_args(), _ansible_check_mode=run.check_mode))
        return {"rc": 0, "stdout": json.dumps(transport.run(self.host, run, None)), "stderr": ""}

    @property
    def modes(self) -> list[str]:
        return [call["parameters"]["Mode"] for call in self.calls]


def make_host() -> Host:
    state: dict = {"domain": {"accounts": [{"name": "svc_keyfactor", "type": "user", "sid": SVC_SID}]}}
    complete(state, "KF01")
    return Host(state)


@pytest.fixture(name="on_host")
def fixture_on_host(make_action, monkeypatch):
    """on_host(cls, args, host) -> (result, simulated win_powershell): one task run against the simulated host."""

    def run(cls, args: dict, host: Host, *, check_mode: bool = False):
        action = make_action(cls, copy.deepcopy(args), check_mode=check_mode)[0]
        simulated = SimulatedWinPowerShell(host, check_mode)
        monkeypatch.setattr(action, "_execute_module", simulated)
        monkeypatch.setattr(action, "_low_level_execute_command", simulated.low_level)
        return action.run(task_vars={}), simulated

    return run


def test_pfx_import_converges_on_the_simulated_host_in_one_run(on_host, pki):
    host = make_host()
    args = {"content": pki["content"], "password": PASSWORD, "chain": "install", "key_access": [{"principal": NS}]}
    first, simulated = on_host(PfxImport, args, host)
    assert not first.get("failed"), first.get("msg")
    assert simulated.modes == ["probe", "apply"]
    assert first["changed"] is True
    key = find_certificate(host.state, "My", pki["thumbprint"])["private_key"]
    assert {"sid": NS_SID, "type": "allow", "rights": MMC_READ, "inherited": False} in key["acl"]
    assert find_certificate(host.state, "CA", pki["issuing_thumbprint"]) is not None
    assert find_certificate(host.state, "Root", pki["root_thumbprint"]) is not None
    second, simulated = on_host(PfxImport, args, host)
    assert simulated.modes == ["probe"]
    assert second["changed"] is False
    assert PASSWORD not in json.dumps(host.state)


@pytest.mark.parametrize("key", ["opens", "gone"])
def test_pfx_import_brings_an_archived_certificate_back_into_view_and_converges(on_host, pki, key):
    # Automatic enrollment archives a certificate it renews; the store then hides it from whoever lists it. Whether its key
    # opens decides between a restore alone and an import, which restores it too; the second run changes nothing.
    host = make_host()
    thumbprint, entry = certificate_entry(pki["leaf"].cert, pki["leaf"].key)
    if key == "gone":
        entry["private_key"]["broken"] = "NTE_NO_KEY"
    store(host.state, "My")[thumbprint] = dict(entry, archived=True)
    args = {"content": pki["content"], "password": PASSWORD, "key_access": [{"principal": NS}]}
    first, simulated = on_host(PfxImport, args, host)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] is True
    assert first["archived_restored"] is True
    assert first["imported"] is (key == "gone")
    apply = simulated.calls[1]
    assert apply["parameters"]["RestoreArchived"] is (key == "opens")
    assert ("sensitive_parameters" in apply) is (key == "gone")
    stored = find_certificate(host.state, "My", thumbprint)
    assert stored is not None and "archived" not in stored
    assert {"sid": NS_SID, "type": "allow", "rights": MMC_READ, "inherited": False} in stored["private_key"]["acl"]
    # A restore writes no key; an import's key replaces one whose container (NTE_NO_KEY: there, without the key) stays.
    assert len(host.state.get("orphaned_keys", [])) == (1 if key == "gone" else 0)
    second, simulated = on_host(PfxImport, args, host)
    assert simulated.modes == ["probe"]
    assert second["changed"] is False


@pytest.mark.parametrize("provider_name, imports", [
    ("Microsoft Enhanced RSA and AES Cryptographic Provider", True),
    ("SafeNet Key Storage Provider", False),
], ids=["Windows' provider", "an HSM's provider"])
def test_pfx_import_imports_over_a_key_not_found_only_when_a_windows_provider_says_so(on_host, pki, provider_name, imports):
    # An HSM's provider may say "not found" for a device it cannot reach; importing then would give the certificate a
    # copy of its key in software.
    host = make_host()
    thumbprint, entry = certificate_entry(pki["leaf"].cert, pki["leaf"].key)
    entry["private_key"].update(provider_name=provider_name, broken="NTE_NOT_FOUND")
    store(host.state, "My")[thumbprint] = entry
    before = json.dumps(host.state, sort_keys=True)
    result, simulated = on_host(PfxImport, {"content": pki["content"], "password": PASSWORD}, host)
    if imports:
        assert not result.get("failed"), result.get("msg")
        assert result["imported"] is True
        assert simulated.modes == ["probe", "apply"]
    else:
        assert result["failed"] is True and result["changed"] is False
        assert simulated.modes == ["probe"]
        assert f"its provider, {provider_name}, does not say that the key is gone" in result["msg"]
        assert json.dumps(host.state, sort_keys=True) == before


def test_pfx_import_in_check_mode_leaves_the_simulated_host_alone(on_host, pki):
    host = make_host()
    before = json.dumps(host.state, sort_keys=True)
    result, simulated = on_host(PfxImport, {"content": pki["content"], "password": PASSWORD, "chain": "install"}, host, check_mode=True)
    assert simulated.modes == ["probe"]
    assert result["changed"] is True
    assert json.dumps(host.state, sort_keys=True) == before


def test_pfx_import_will_not_take_the_connecting_administrators_access_off_a_key_it_imports(on_host, pki):
    host = make_host()
    args = {"content": pki["content"], "password": PASSWORD, "key_access": [{"principal": ADMINISTRATORS, "state": "absent"}]}
    before = json.dumps(host.state, sort_keys=True)
    first, simulated = on_host(PfxImport, args, host)
    assert first["failed"] is True
    assert "unable to open the private key" in first["msg"]
    assert simulated.modes == ["probe"]
    assert json.dumps(host.state, sort_keys=True) == before


def test_pfx_import_removes_a_default_entry_when_the_connecting_account_keeps_access(on_host, pki):
    host = make_host()
    args = {"content": pki["content"], "password": PASSWORD,
            "key_access": [{"principal": ADMINISTRATORS, "state": "absent"}, {"principal": ".\\Administrator", "access": "full_control"}]}
    first = on_host(PfxImport, args, host)[0]
    assert not first.get("failed"), first.get("msg")
    acl = find_certificate(host.state, "My", pki["thumbprint"])["private_key"]["acl"]
    assert [ace for ace in acl if ace["sid"] == ADMINISTRATORS_SID and ace["type"] == "allow"] == []
    second = on_host(PfxImport, args, host)[0]
    assert not second.get("failed"), second.get("msg")
    assert second["changed"] is False


def seed_certificate(host: Host, issued, *, with_key: bool = True, store_name: str = "My") -> str:
    thumbprint, entry = certificate_entry(issued.cert, issued.key if with_key else None)
    store(host.state, store_name)[thumbprint] = entry
    return thumbprint


def test_private_key_acl_converges_on_the_simulated_host(on_host):
    host = make_host()
    thumbprint = seed_certificate(host, pki_fixtures.issue("gateway.contoso.com", key=pki_fixtures.new_key("ec")))
    args = {"thumbprint": thumbprint.lower(), "key_access": [{"principal": NS}, {"principal": ADMINISTRATORS, "access": "read"}]}
    first, simulated = on_host(PrivateKeyAcl, args, host)
    assert simulated.modes == ["probe", "apply"]
    assert first["changes"] == {NS: "none -> read", ADMINISTRATORS: "full_control -> read"}
    assert first["key_provider"] == "cng"
    second, simulated = on_host(PrivateKeyAcl, args, host)
    assert simulated.modes == ["probe"]
    assert second["changed"] is False
    assert second["key_access"] == {NS: "read", ADMINISTRATORS: "read"}


def test_cert_serial_registry_converges_on_the_simulated_host(on_host):
    host = make_host()
    issued = pki_fixtures.issue("gateway.contoso.com", key=pki_fixtures.new_key("ec"), serial=0x80AB)
    thumbprint = seed_certificate(host, issued)
    first, simulated = on_host(CertSerialRegistry, {"thumbprint": thumbprint}, host)
    assert simulated.modes == ["probe", "apply"]
    assert first["serial_number"] == SERIAL
    assert host.state["registry"][GATEWAY_SUBKEY] == {"EncryptSerialNumber": {"kind": "String", "data": SERIAL}}
    second, simulated = on_host(CertSerialRegistry, {"thumbprint": thumbprint}, host)
    assert simulated.modes == ["probe"]
    assert second["changed"] is False


# --- private_key_acl ------------------------------------------------------------------------------------------------------------


@pytest.fixture(name="private_key_acl")
def fixture_private_key_acl(make_action):
    """private_key_acl(key_access=[NS read], thumbprint=THUMBPRINT, check_mode=False, diff=False, **options)."""

    def factory(*, check_mode: bool = False, diff: bool = False, **options):
        args = {"thumbprint": THUMBPRINT, "key_access": [{"principal": NS}]}
        args.update(options)
        return make_action(PrivateKeyAcl, args, check_mode=check_mode, diff=diff)

    return factory


def acl_probe(certificate: dict, *principals: str) -> dict:
    return {"certificate": certificate, "principals": resolved(*(principals or (NS,))), "identity": CONNECTING_ADMIN}


def test_private_key_acl_steady_state_is_one_probe(private_key_acl, ps_ok):
    action, replay = private_key_acl()
    replay.queue(ps_ok(acl_probe(key_report(allow(NS_SID, MMC_READ)))))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert replay.calls[0]["module_args"]["parameters"] == {"Mode": "probe", "StoreName": "My", "Thumbprint": THUMBPRINT,
                                                            "Principals": [NS]}
    assert replay.calls[0]["module_args"]["script"] == payload_source("private_key_acl")
    assert "sensitive_parameters" not in replay.calls[0]["module_args"]
    assert result["changed"] is False
    assert result["key_access"] == {NS: "read"}
    assert result["changes"] == {}


def test_private_key_acl_brings_full_control_down_to_read(private_key_acl, ps_ok):
    action, replay = private_key_acl(diff=True)
    replay.queue(ps_ok(acl_probe(key_report(allow(NS_SID, MMC_FULL), provider="cng"))),
                 ps_ok({"applied": [{"sid": NS_SID, "action": "set", "rights": MMC_READ}]}, changed=True))
    result = action.run(task_vars={})
    assert replay.calls[1]["module_args"]["parameters"] == {
        "Mode": "apply", "StoreName": "My", "Thumbprint": THUMBPRINT, "Operations": [{"sid": NS_SID, "action": "set", "rights": MMC_READ}],
    }
    assert result["changed"] is True
    assert result["thumbprint"] == THUMBPRINT
    assert result["key_provider"] == "cng"
    assert result["key_provider_name"] == "Microsoft Software Key Storage Provider"
    assert result["changes"] == {NS: "full_control -> read"}
    assert result["diff"] == {"before": {"key_access": {NS: "full_control"}}, "after": {"key_access": {NS: "read"}}}


def test_private_key_acl_normalises_the_thumbprint_the_console_copies(private_key_acl, ps_ok):
    copied = "\u200e" + " ".join(THUMBPRINT[i:i + 2] for i in range(0, 40, 2)).lower()
    action, replay = private_key_acl(thumbprint=copied, store_name="WebHosting")
    replay.queue(ps_ok(acl_probe(key_report(allow(NS_SID, MMC_READ)))))
    result = action.run(task_vars={})
    assert replay.calls[0]["module_args"]["parameters"]["Thumbprint"] == THUMBPRINT
    assert replay.calls[0]["module_args"]["parameters"]["StoreName"] == "WebHosting"
    assert result["thumbprint"] == THUMBPRINT


def test_private_key_acl_with_a_bad_thumbprint_fails_without_touching_the_host(private_key_acl):
    action, replay = private_key_acl(thumbprint="9F2C1A7E")
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["msg"].startswith(f"{fqcn(PrivateKeyAcl)}: thumbprint: '9F2C1A7E' is not a certificate thumbprint")


@pytest.mark.parametrize("certificate, message", [
    (NOT_FOUND, f"thumbprint: the certificate {THUMBPRINT} is not in LocalMachine\\My"),
    (NO_KEY, f"the certificate {THUMBPRINT} in LocalMachine\\My has no private key"),
], ids=["missing", "no key"])
def test_private_key_acl_without_a_key_to_change_fails_after_the_probe(private_key_acl, ps_ok, certificate, message):
    action, replay = private_key_acl()
    replay.queue(ps_ok(acl_probe(certificate)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == f"{fqcn(PrivateKeyAcl)}: {message}"


def test_private_key_acl_in_check_mode_reports_without_applying(private_key_acl, ps_ok):
    action, replay = private_key_acl(check_mode=True, key_access=[{"principal": SVC, "access": "full_control"}])
    replay.queue(ps_ok(acl_probe(key_report(), SVC)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is True
    assert result["changes"] == {SVC: "none -> full_control"}


def test_private_key_acl_removes_only_what_is_asked(private_key_acl, ps_ok):
    action, replay = private_key_acl(key_access=[{"principal": SVC, "state": "absent"}])
    replay.queue(ps_ok(acl_probe(key_report(allow(SVC_SID, MMC_READ), allow(NS_SID, MMC_READ)), SVC)),
                 ps_ok({"applied": [{"sid": SVC_SID, "action": "remove"}]}, changed=True))
    result = action.run(task_vars={})
    assert replay.calls[1]["module_args"]["parameters"]["Operations"] == [{"sid": SVC_SID, "action": "remove"}]
    assert result["changes"] == {SVC: "removed"}


def test_private_key_acl_with_a_malformed_report_fails_as_unexpected(private_key_acl, ps_ok):
    action, replay = private_key_acl()
    replay.queue(ps_ok({"certificate": {"found": True, "has_private_key": True, "key": None, "acl": []}, "principals": resolved(NS)}))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["msg"] == f"{fqcn(PrivateKeyAcl)}: probe returned an unexpected result: no key or ACL in the report on the certificate"


def test_private_key_acl_needs_key_access(make_action):
    action, replay = make_action(PrivateKeyAcl, {"thumbprint": THUMBPRINT})
    result = action.run(task_vars={})
    assert replay.calls == []
    assert "key_access" in result["msg"]


# --- cert_serial_registry ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [
    "HKLM:\\SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters",
    "HKLM\\SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters",
    "Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters",
    "SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters",
    "hklm:\\SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters",
    "registry::hkey_local_machine\\SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters",
    "  HKLM:\\SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters\\",
    "\\SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters",
], ids=["HKLM:", "HKLM", "HKEY_LOCAL_MACHINE", "Registry::", "bare", "lowercase drive", "lowercase provider", "padded", "leading slash"])
def test_local_machine_subkey_accepts_every_spelling_of_the_hive(key):
    assert local_machine_subkey(key) == GATEWAY_SUBKEY


@pytest.mark.parametrize("key", [
    "HKCU:\\Software\\Keyfactor",
    "HKCU\\Software\\Keyfactor",
    "HKEY_CURRENT_USER\\Software\\Keyfactor",
    "Registry::HKEY_CURRENT_USER\\Software\\Keyfactor",
    "HKU\\S-1-5-20\\Software",
    "HKEY_USERS\\.DEFAULT\\Software",
    "HKCR:\\CLSID",
], ids=["HKCU:", "HKCU", "HKEY_CURRENT_USER", "Registry:: HKCU", "HKU", "HKEY_USERS", "HKCR:"])
def test_local_machine_subkey_rejects_other_hives(key):
    with pytest.raises(TaskInputError) as caught:
        local_machine_subkey(key)
    assert str(caught.value) == f"key: {key!r} is not under HKEY_LOCAL_MACHINE, the only hive a service's settings live in here"


@pytest.mark.parametrize("key", ["", "HKLM:\\", "HKLM:\\SOFTWARE\\\\Keyfactor", "\\\\"], ids=["empty", "hive only", "double slash", "slashes"])
def test_local_machine_subkey_rejects_what_is_not_a_key_path(key):
    with pytest.raises(TaskInputError, match=r"is not a registry key path such as HKLM:"):
        local_machine_subkey(key)


@pytest.mark.parametrize("key", ["HKCU:Software\\Keyfactor", "HKCU:", "HKEY_CURRENT_USER", "Registry::HKEY_USERS"],
                         ids=["HKCU drive without slash", "HKCU drive", "HKEY_CURRENT_USER alone", "Registry:: HKEY_USERS alone"])
def test_local_machine_subkey_rejects_other_hives_without_a_backslash(key):
    with pytest.raises(TaskInputError):
        local_machine_subkey(key)


@pytest.mark.parametrize("key", ["HKLM:", "HKEY_LOCAL_MACHINE", "HKLM:SOFTWARE\\Keyfactor"], ids=["HKLM:", "HKEY_LOCAL_MACHINE", "HKLM:SOFTWARE"])
def test_local_machine_subkey_never_makes_a_key_named_after_the_hive(key):
    try:
        subkey = local_machine_subkey(key)
    except TaskInputError:
        return
    assert subkey == "SOFTWARE\\Keyfactor"


@pytest.fixture(name="cert_serial_registry")
def fixture_cert_serial_registry(make_action):
    """cert_serial_registry(thumbprint=THUMBPRINT, check_mode=False, diff=False, **options) -> (action, replay)."""

    def factory(*, check_mode: bool = False, diff: bool = False, **options):
        args = {"thumbprint": THUMBPRINT}
        args.update(options)
        return make_action(CertSerialRegistry, args, check_mode=check_mode, diff=diff)

    return factory


def serial_probe(*, found: bool = True, has_private_key: bool = True, serial: str | None = SERIAL,
                 value: str | None = None, kind: str | None = "String") -> dict:
    exists = value is not None or kind not in (None, "String", "ExpandString")
    return {
        "certificate": {"found": found, "has_private_key": found and has_private_key, "serial_number": serial if found else None},
        "registry": {"key_exists": exists, "value_exists": exists, "value_kind": kind if exists else None, "value": value},
    }


def test_cert_serial_registry_probes_the_default_gateway_value(cert_serial_registry, ps_ok):
    action, replay = cert_serial_registry()
    replay.queue(ps_ok(serial_probe(value=SERIAL)))
    action.run(task_vars={})
    assert replay.calls[0]["module_args"]["parameters"] == {
        "Mode": "probe", "StoreName": "My", "Thumbprint": THUMBPRINT, "Key": GATEWAY_SUBKEY, "ValueName": "EncryptSerialNumber",
    }
    assert replay.calls[0]["module_args"]["script"] == payload_source("cert_serial_registry")


def test_a_string_value_that_is_the_serial_is_no_operation(cert_serial_registry, ps_ok):
    action, replay = cert_serial_registry()
    replay.queue(ps_ok(serial_probe(value=SERIAL)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is False
    assert result == {**result, "serial_number": SERIAL, "previous_value": SERIAL, "key": f"HKLM:\\{GATEWAY_SUBKEY}",
                      "value_name": "EncryptSerialNumber"}


@pytest.mark.parametrize("value, kind", [
    (None, None),
    (None, "DWord"),
    (SERIAL, "ExpandString"),
    ("4F0000A1B2C3D4E5F6", "String"),
    (SERIAL.lower(), "String"),
    ("80AB", "String"),
    (f" {SERIAL}", "String"),
], ids=["missing", "dword", "expand string", "other serial", "lowercase", "without leading zero", "padded"])
def test_anything_but_the_serial_as_a_string_is_written(cert_serial_registry, ps_ok, value, kind):
    action, replay = cert_serial_registry(key="HKEY_LOCAL_MACHINE\\SOFTWARE\\Vendor", value_name="CertSerial", diff=True)
    replay.queue(ps_ok(serial_probe(value=value, kind=kind)), ps_ok({"written": True}, changed=True))
    result = action.run(task_vars={})
    assert replay.modes == ["probe", "apply"]
    assert replay.calls[1]["module_args"]["parameters"] == {
        "Mode": "apply", "StoreName": "My", "Thumbprint": THUMBPRINT, "Key": "SOFTWARE\\Vendor", "ValueName": "CertSerial", "Serial": SERIAL,
    }
    assert result["changed"] is True
    assert result["previous_value"] == value
    assert result["key"] == "HKLM:\\SOFTWARE\\Vendor"
    assert result["diff"]["after"] == {"key": "HKLM:\\SOFTWARE\\Vendor", "value_name": "CertSerial", "value": SERIAL, "value_kind": "String"}
    assert result["diff"]["before"]["value_kind"] == kind


def test_a_failed_serial_write_says_it_created_the_key(cert_serial_registry, ps_ok, ps_failed):
    # CreateSubKey made the key and its parents, then SetValue failed: the task changed the host and says how.
    action, replay = cert_serial_registry()
    failure = ps_failed("Cannot set value 'EncryptSerialNumber' of HKEY_LOCAL_MACHINE\\SOFTWARE\\Keyfactor: Access is denied")
    failure["result"] = {"key_created": True, "written": False}
    replay.queue(ps_ok(serial_probe()), failure)
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["key_created"] is True
    assert result["written"] is False
    assert "applied" not in result


def test_cert_serial_registry_in_check_mode_does_not_write(cert_serial_registry, ps_ok):
    action, replay = cert_serial_registry(check_mode=True)
    replay.queue(ps_ok(serial_probe()))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is True


def test_a_missing_certificate_fails_saying_to_import_it_first(cert_serial_registry, ps_ok):
    action, replay = cert_serial_registry()
    replay.queue(ps_ok(serial_probe(found=False)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == (f"{fqcn(CertSerialRegistry)}: thumbprint: the certificate {THUMBPRINT} is not in LocalMachine\\My; "
                             "import it first")


def test_a_certificate_without_its_key_fails(cert_serial_registry, ps_ok):
    action, replay = cert_serial_registry()
    replay.queue(ps_ok(serial_probe(has_private_key=False)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert "has no private key, so the service could not decrypt with it" in result["msg"]


@pytest.mark.parametrize("report", [
    {"certificate": {"found": True, "has_private_key": True, "serial_number": ""}, "registry": {}},
    {"certificate": {"found": True, "has_private_key": True, "serial_number": SERIAL}},
    {"certificate": "System.Collections.Hashtable", "registry": {}},
    {"certificate": {"found": True, "has_private_key": True, "serial_number": SERIAL + "\n"}, "registry": {}},
], ids=["empty serial", "no registry", "flattened", "final newline"])
def test_a_malformed_probe_is_an_unexpected_result(cert_serial_registry, ps_ok, report):
    action, replay = cert_serial_registry()
    replay.queue(ps_ok(report))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["msg"].startswith(f"{fqcn(CertSerialRegistry)}: probe returned an unexpected result: ")


@pytest.mark.parametrize("args, fragment", [
    ({"key": "HKCU:\\Software\\Keyfactor"}, "is not under HKEY_LOCAL_MACHINE"),
    ({"value_name": ""}, "value_name: give the name of the registry value"),
    ({"thumbprint": "XYZ"}, "thumbprint: 'XYZ' is not a certificate thumbprint"),
], ids=["hkcu", "default value", "bad thumbprint"])
def test_cert_serial_registry_input_errors_fail_without_touching_the_host(cert_serial_registry, args, fragment):
    action, replay = cert_serial_registry(**args)
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert fragment in result["msg"]


def _unopenable(state, code=-2146893802, error="Keyset does not exist"):
    return {"found": True, "has_private_key": True, "key": None, "acl": [], "key_error": error, "key_error_code": code,
            "key_state": state}


def test_a_key_windows_says_is_gone_is_repaired_by_importing_again(pfx_import, ps_ok):
    action, replay = pfx_import()
    replay.queue(ps_ok(pfx_probe(_unopenable("missing", -2146893811, "Key does not exist."))), ps_ok(IMPORTED, changed=True))
    result = action.run(task_vars={})
    assert result["imported"] is True
    assert replay.calls[1]["module_args"]["parameters"]["ImportLeaf"] is True
    assert any("is gone (Key does not exist.); importing the PFX again" in warning for warning in result["warnings"])


@pytest.mark.parametrize("state, expected", [
    ("missing_or_denied", "Windows gives this error both for a key whose file is gone and for one whose ACL shuts this account out"),
    ("denied", "exists but the account this task runs as cannot open it"),
    ("unavailable", "and not because it is missing; fix its provider first"),
])
def test_a_key_that_may_still_be_there_is_never_imported_over(pfx_import, ps_ok, state, expected):
    # NTE_BAD_KEYSET ("Keyset does not exist") is what Windows reports both for a key file that is gone and for one whose
    # ACL shuts the account out: importing again would leave that key behind, unreferenced, on every run.
    action, replay = pfx_import()
    replay.queue(ps_ok(pfx_probe(_unopenable(state))))
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["changed"] is False
    assert expected in result["msg"]
    assert replay.modes == ["probe"]


def test_a_key_report_that_does_not_say_why_the_key_does_not_open_is_unexpected(pfx_import, ps_ok):
    action, replay = pfx_import()
    replay.queue(ps_ok(pfx_probe(_unopenable(None))))
    result = action.run(task_vars={})
    assert result["msg"].startswith(f"{fqcn(PfxImport)}: probe returned an unexpected result: the key of the certificate does not "
                                    "open")


# --- losing access to the key ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("imported", [True, False], ids=["on import", "on a key in the store"])
def test_pfx_import_refuses_to_take_administrators_off_the_key(pfx_import, ps_ok, imported):
    action, replay = pfx_import(key_access=[{"principal": ADMINISTRATORS, "state": "absent"}])
    replay.queue(ps_ok(pfx_probe(NOT_FOUND if imported else key_report(), principals=(ADMINISTRATORS,))))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert result["msg"].startswith(f"{fqcn(PfxImport)}: key_access: the change would leave the account this task runs as on the "
                                    f"host ({CONNECTING_ADMIN['sid']}) unable to open the private key (through {ADMINISTRATORS})")


def test_administrators_may_go_when_the_connecting_account_keeps_its_own_access(pfx_import, ps_ok):
    me = "KF01\\Administrator"
    RESOLVED[me] = CONNECTING_ADMIN["sid"]
    try:
        action, replay = pfx_import(key_access=[{"principal": ADMINISTRATORS, "state": "absent"}, {"principal": me, "access": "full_control"}])
        replay.queue(ps_ok(pfx_probe(NOT_FOUND, principals=(ADMINISTRATORS, me))), ps_ok(IMPORTED, changed=True))
        result = action.run(task_vars={})
    finally:
        del RESOLVED[me]
    assert not result.get("failed"), result.get("msg")
    assert replay.calls[1]["module_args"]["parameters"]["Operations"] == [
        {"sid": ADMINISTRATORS_SID, "action": "remove"}, {"sid": CONNECTING_ADMIN["sid"], "action": "set", "rights": MMC_FULL}]


def test_reducing_administrators_to_read_keeps_the_key_open_and_is_allowed(private_key_acl, ps_ok):
    action, replay = private_key_acl(key_access=[{"principal": ADMINISTRATORS, "access": "read"}])
    replay.queue(ps_ok(acl_probe(key_report(), ADMINISTRATORS)), ps_ok({"applied": []}, changed=True))
    result = action.run(task_vars={})
    assert not result.get("failed"), result.get("msg")
    assert replay.modes == ["probe", "apply"]


def test_private_key_acl_refuses_to_take_administrators_off_the_key(private_key_acl, ps_ok):
    action, replay = private_key_acl(key_access=[{"principal": ADMINISTRATORS, "state": "absent"}])
    replay.queue(ps_ok(acl_probe(key_report(), ADMINISTRATORS)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert "unable to open the private key (through BUILTIN\\Administrators)" in result["msg"]


def test_a_key_the_account_could_not_open_by_its_acl_is_left_to_windows(private_key_acl, ps_ok):
    # The account opened the key through something the DACL does not show (ownership, a privilege): not refused.
    action, replay = private_key_acl(key_access=[{"principal": NS, "state": "absent"}])
    probe = acl_probe({**key_report(allow(NS_SID, MMC_READ)), "acl": [allow(NS_SID, MMC_READ)]})
    replay.queue(ps_ok(probe), ps_ok({"applied": []}, changed=True))
    assert not action.run(task_vars={}).get("failed")


def test_a_probe_without_the_identity_is_unexpected_when_the_acl_changes(private_key_acl, ps_ok):
    action, replay = private_key_acl()
    probe = acl_probe(key_report())
    del probe["identity"]
    replay.queue(ps_ok(probe))
    result = action.run(task_vars={})
    assert result["msg"] == (f"{fqcn(PrivateKeyAcl)}: probe returned an unexpected result: no 'identity' with the sid and groups "
                             "of the account the payload runs as")


# --- an AES-encrypted PFX and Windows Server 2016 ---------------------------------------------------------------------------------


def test_an_aes_pfx_is_refused_for_windows_server_2016_before_any_change(pfx_import, ps_ok, pki):
    action, replay = pfx_import()
    replay.queue(ps_ok(pfx_probe(NOT_FOUND, os_build=SERVER_2016)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert "is encrypted with AES (PBES2)" in result["msg"] and "this host runs Windows build 14393" in result["msg"]
    assert "openssl pkcs12 -export -legacy" in result["msg"]


@pytest.mark.parametrize("legacy, build", [(True, SERVER_2016), (False, 17763)], ids=["3DES on 2016", "AES on 2019"])
def test_a_pfx_the_host_can_decrypt_is_imported(pfx_import, ps_ok, pki, legacy, build):
    content = base64.b64encode(pki_fixtures.pfx(pki["leaf"], PASSWORD, legacy=legacy)).decode()
    action, replay = pfx_import(content=content)
    replay.queue(ps_ok(pfx_probe(NOT_FOUND, os_build=build)), ps_ok(IMPORTED, changed=True))
    assert not action.run(task_vars={}).get("failed")
    assert replay.modes == ["probe", "apply"]


def test_an_aes_pfx_whose_leaf_is_there_needs_nothing_from_windows_server_2016(pfx_import, ps_ok, pki):
    action, replay = pfx_import(chain="install")
    replay.queue(ps_ok(pfx_probe(key_report(), chain=chain_report(pki, issuing=True, root=False), os_build=SERVER_2016)),
                 ps_ok({"imported": False, "chain_installed": [pki["root_thumbprint"]], "acl_applied": []}, changed=True))
    result = action.run(task_vars={})
    assert not result.get("failed"), result.get("msg")
    assert "sensitive_parameters" not in replay.calls[1]["module_args"]


# --- cert_serial_registry: its inputs and the probe's ----------------------------------------------------------------------------


@pytest.mark.parametrize("serial", ["80ab", "0080A", "00 80 AB", 32939], ids=["lowercase", "odd digits", "spaced", "a number"])
def test_a_serial_not_as_windows_shows_it_is_an_unexpected_result_and_is_not_written(cert_serial_registry, ps_ok, serial):
    action, replay = cert_serial_registry()
    replay.queue(ps_ok(serial_probe(serial=serial)))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["msg"].startswith(f"{fqcn(CertSerialRegistry)}: probe returned an unexpected result: no serial number for the "
                                    "certificate as X509Certificate2.SerialNumber gives it")


@pytest.mark.parametrize("state, fragment", [
    ("missing_or_denied", "Windows gives this error both for a key whose file is gone and for one whose ACL shuts this account out"),
    ("unavailable", "fix its provider first"),
])
def test_a_serial_is_not_written_for_a_key_that_does_not_open(cert_serial_registry, ps_ok, state, fragment):
    action, replay = cert_serial_registry()
    probe = serial_probe()
    probe["certificate"].update(key_error="Keyset does not exist", key_state=state)
    replay.queue(ps_ok(probe))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["msg"].startswith(f"{fqcn(CertSerialRegistry)}: the service could not decrypt with the certificate: the "
                                    f"private key of the certificate {THUMBPRINT} in LocalMachine\\My")
    assert fragment in result["msg"]


# --- the masking side channel ---------------------------------------------------------------------------------------------


def test_a_pfx_password_that_occurs_in_the_subject_is_warned_of_by_option_never_by_value(make_action, ps_ok, pki):
    # Ansible masks a no_log value wherever it occurs: the subject "O=Contoso,..." would come back as "O=********,...",
    # which tells whoever knows the subject that the password is "Contoso".
    content = base64.b64encode(pki_fixtures.pfx(pki["leaf"], "Contoso")).decode("ascii")
    action, replay = make_action(PfxImport, {"content": content, "password": "Contoso"})
    replay.queue(ps_ok(pfx_probe(key_report())))
    result = action.run(task_vars={})
    assert not result.get("failed"), result.get("msg")
    (warning,) = [w for w in result["warnings"] if "occurs in this task's result" in w]
    assert "the value of password occurs in this task's result, in subject" in warning
    assert "Contoso" not in warning
    assert result["subject"] == "O=********,CN=gateway-encryption.contoso.com"


def test_a_password_that_occurs_nowhere_in_the_result_draws_no_warning(pfx_import, ps_ok):
    action, replay = pfx_import()
    replay.queue(ps_ok(pfx_probe(key_report())))
    result = action.run(task_vars={})
    assert not [w for w in result.get("warnings", []) if "occurs in this task's result" in w]
