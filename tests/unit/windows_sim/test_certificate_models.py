"""The simulator's models of the pfx_import, private_key_acl and cert_serial_registry payloads, driven as the actions drive them."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, pkcs12

import pki_fixtures
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import Secret
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source
from winsim import models, win_powershell
from winsim.certificates import (
    DEFAULT_KEY_ACL,
    certificate_entry,
    create_registry_key,
    find_certificate,
    orphaned_keys,
    registry_key,
    serial_as_windows_shows_it,
    serial_number,
    store,
)
from winsim.host import Host
from winsim.manifest import ModuleInvocation
from winsim.state import complete

models.load_all()

PASSWORD = "Pfx-Sup3r-Secret!Pa55"
NS = "NT AUTHORITY\\NETWORK SERVICE"
NS_SID = "S-1-5-20"
SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"
SVC = "CONTOSO\\svc_keyfactor"
SVC_SID = "S-1-5-21-1004336348-1177238915-682003330-1105"
READ = 0x80120089 - (1 << 32)
FULL_CONTROL = 0xD01F01FF - (1 << 32)
GATEWAY_SUBKEY = "SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters"
WRONG_PASSWORD = "The specified network password is not correct."


thumbprint_of = pki_fixtures.thumbprint


@pytest.fixture(scope="module", name="pki")
def fixture_pki() -> dict:
    """An RSA leaf under an issuing CA under a root, an EC leaf, and their PFX files, made once for this module."""
    root, issuing = pki_fixtures.chain()
    leaf = pki_fixtures.issue("gateway-encryption.contoso.com", issuer=issuing)
    ec_leaf = pki_fixtures.issue("ec.contoso.com", issuer=issuing, key=pki_fixtures.new_key("ec"))
    return {
        "root": root, "issuing": issuing, "leaf": leaf, "ec_leaf": ec_leaf,
        "pfx": base64.b64encode(pki_fixtures.pfx(leaf, PASSWORD, extra=(issuing, root))).decode("ascii"),
        "legacy_pfx": base64.b64encode(pki_fixtures.pfx(leaf, PASSWORD, extra=(issuing, root), legacy=True)).decode("ascii"),
        "ec_pfx": base64.b64encode(pki_fixtures.pfx(ec_leaf, PASSWORD)).decode("ascii"),
        "thumbprint": thumbprint_of(leaf), "ec_thumbprint": thumbprint_of(ec_leaf),
        "issuing_thumbprint": thumbprint_of(issuing), "root_thumbprint": thumbprint_of(root),
    }


def make_host() -> Host:
    """A fresh domain-joined server with CONTOSO\\svc_keyfactor and nothing in its certificate stores."""
    state: dict = {"domain": {"accounts": [{"name": "svc_keyfactor", "type": "user", "sid": SVC_SID}]}}
    complete(state, "KF01")
    return Host(state)


def run_payload(host: Host, name: str, parameters: dict, *, secrets: dict | None = None, check_mode: bool = False) -> dict:
    """One win_powershell run of the composed payload text, with the arguments the action plugin sends."""
    args: dict = {"script": payload_source(name), "parameters": parameters, "depth": 8, "error_action": "stop",
                  "_ansible_check_mode": check_mode}
    if secrets:
        args["sensitive_parameters"] = [Secret(value=value).as_sensitive_parameter(key) for key, value in secrets.items()]
    invocation = ModuleInvocation(name="ansible.windows.win_powershell", args=args, script="", become=False)
    return win_powershell.run(host, invocation, None)


def snapshot(host: Host) -> str:
    return json.dumps(host.state, sort_keys=True)


def message_of(result: dict) -> str:
    return result["error"][0]["exception"]["message"]


def seed(host: Host, issued, *, with_key: bool = True, store_name: str = "My", exportable: bool = False) -> str:
    thumbprint, entry = certificate_entry(issued.cert, issued.key if with_key else None, exportable)
    store(host.state, store_name)[thumbprint] = entry
    return thumbprint


# --- pfx_import ---------------------------------------------------------------------------------------------------------------------


def pfx_probe(host: Host, thumbprint: str, *, chain: list | None = None, principals: list | None = None, store_name: str = "My") -> dict:
    return run_payload(host, "pfx_import", {"Mode": "probe", "StoreName": store_name, "Thumbprint": thumbprint, "Chain": chain or [],
                                            "Principals": principals or []})


def pfx_apply(host: Host, pki: dict, *, pfx: str | None = None, password: str | None = PASSWORD, thumbprint: str | None = None,
              import_leaf: bool = True, install_chain: list | None = None, operations: list | None = None, exportable: bool = False,
              check_mode: bool = False) -> dict:
    """The apply as the action sends it: the PFX and its password only to import the leaf, each CA certificate as its DER."""
    secrets = {}
    if import_leaf:
        secrets["Pfx"] = pfx or pki["pfx"]
        if password:
            secrets["PfxPassword"] = password
    parameters = {
        "Mode": "apply", "StoreName": "My", "Thumbprint": thumbprint or pki["thumbprint"], "Exportable": exportable,
        "ImportLeaf": import_leaf, "InstallChain": [chain_entry(pki, t) for t in install_chain or []], "Operations": operations or [],
    }
    return run_payload(host, "pfx_import", parameters, secrets=secrets, check_mode=check_mode)


def chain_of(pki: dict) -> list[dict]:
    return [{"thumbprint": pki["issuing_thumbprint"], "store": "CA"}, {"thumbprint": pki["root_thumbprint"], "store": "Root"}]


def chain_entry(pki: dict, thumbprint: str) -> dict:
    issued, store_name = {pki["issuing_thumbprint"]: (pki["issuing"], "CA"), pki["root_thumbprint"]: (pki["root"], "Root")}[thumbprint]
    return {"thumbprint": thumbprint, "store": store_name,
            "der": base64.b64encode(issued.cert.public_bytes(Encoding.DER)).decode("ascii")}


@pytest.mark.parametrize("legacy", [False, True], ids=["AES-256", "3DES legacy"])
def test_pfx_import_stores_the_rsa_leaf_with_a_capi_key_not_exportable(pki, legacy):
    host = make_host()
    result = pfx_apply(host, pki, pfx=pki["legacy_pfx"] if legacy else pki["pfx"])
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["result"] == {"key_written": True, "imported": True, "archived_restored": False, "chain_installed": [],
                                "acl_applied": []}
    entry = find_certificate(host.state, "My", pki["thumbprint"])
    assert serial_number(entry) == serial_as_windows_shows_it(pki["leaf"].cert)
    assert entry["subject"] == "O=Contoso,CN=gateway-encryption.contoso.com"
    key = entry["private_key"]
    assert key["provider"] == "capi"
    assert key["provider_name"] == "Microsoft Enhanced RSA and AES Cryptographic Provider"
    assert key["exportable"] is False
    assert key["acl"] == [
        {"sid": SYSTEM_SID, "type": "allow", "rights": FULL_CONTROL, "inherited": False},
        {"sid": ADMINISTRATORS_SID, "type": "allow", "rights": FULL_CONTROL, "inherited": False},
    ]
    assert key["acl"] == [dict(ace) for ace in DEFAULT_KEY_ACL]


def test_pfx_import_stores_an_ec_leaf_with_a_cng_key(pki):
    host = make_host()
    result = pfx_apply(host, pki, pfx=pki["ec_pfx"], thumbprint=pki["ec_thumbprint"])
    assert not result.get("failed"), result
    key = find_certificate(host.state, "My", pki["ec_thumbprint"])["private_key"]
    assert key["provider"] == "cng"
    assert key["provider_name"] == "Microsoft Software Key Storage Provider"
    assert key["exportable"] is False


def test_pfx_import_marks_the_key_exportable_only_when_asked(pki):
    host = make_host()
    pfx_apply(host, pki, exportable=True)
    assert find_certificate(host.state, "My", pki["thumbprint"])["private_key"]["exportable"] is True


def test_pfx_import_without_the_leaf_stores_no_leaf(pki):
    host = make_host()
    result = pfx_apply(host, pki, import_leaf=False, install_chain=[pki["issuing_thumbprint"]])
    assert result["result"]["imported"] is False
    assert find_certificate(host.state, "My", pki["thumbprint"]) is None
    assert find_certificate(host.state, "CA", pki["issuing_thumbprint"]) is not None


def test_pfx_import_stores_the_chain_without_keys_in_ca_and_root(pki):
    host = make_host()
    result = pfx_apply(host, pki, install_chain=[pki["issuing_thumbprint"], pki["root_thumbprint"]])
    assert result["result"]["chain_installed"] == [pki["issuing_thumbprint"], pki["root_thumbprint"]]
    issuing = find_certificate(host.state, "CA", pki["issuing_thumbprint"])
    root = find_certificate(host.state, "Root", pki["root_thumbprint"])
    assert issuing["private_key"] is None
    assert root["private_key"] is None
    assert issuing["subject"] == "O=Contoso,CN=Contoso Test Issuing CA"
    assert root["subject"] == root["issuer"] == "O=Contoso,CN=Contoso Test Root CA"
    assert find_certificate(host.state, "Root", pki["issuing_thumbprint"]) is None
    assert find_certificate(host.state, "CA", pki["root_thumbprint"]) is None


def test_pfx_import_adds_only_the_chain_it_is_told_to(pki):
    host = make_host()
    pfx_apply(host, pki, install_chain=[pki["root_thumbprint"]])
    assert find_certificate(host.state, "CA", pki["issuing_thumbprint"]) is None
    assert find_certificate(host.state, "Root", pki["root_thumbprint"]) is not None


@pytest.mark.parametrize("password", ["wrong", None], ids=["wrong", "none"])
def test_pfx_import_with_a_wrong_password_fails_as_windows_does_and_changes_nothing(pki, password):
    host = make_host()
    before = snapshot(host)
    result = pfx_apply(host, pki, password=password)
    assert result["failed"] is True
    assert message_of(result) == f"Cannot open the PFX (X509Certificate2Collection.Import): {WRONG_PASSWORD}"
    assert snapshot(host) == before
    assert PASSWORD not in json.dumps(result)


def test_pfx_import_in_check_mode_changes_nothing(pki):
    host = make_host()
    before = snapshot(host)
    result = pfx_apply(host, pki, install_chain=[pki["issuing_thumbprint"]], check_mode=True,
                       operations=[{"sid": NS_SID, "action": "set", "rights": READ}])
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["result"] == {"key_written": False, "imported": False, "archived_restored": False, "chain_installed": [],
                                "acl_applied": []}
    assert snapshot(host) == before


def test_pfx_import_applies_the_key_acl_to_the_key_it_imported(pki):
    host = make_host()
    result = pfx_apply(host, pki, operations=[{"sid": NS_SID, "action": "set", "rights": READ}])
    assert result["result"]["acl_applied"] == [{"sid": NS_SID, "action": "set", "rights": READ}]
    acl = find_certificate(host.state, "My", pki["thumbprint"])["private_key"]["acl"]
    assert acl[-1] == {"sid": NS_SID, "type": "allow", "rights": READ, "inherited": False}
    assert len(acl) == 3


def test_pfx_import_probe_reports_the_key_the_chain_and_the_principals(pki):
    host = make_host()
    pfx_apply(host, pki, install_chain=[pki["root_thumbprint"]])
    result = pfx_probe(host, pki["thumbprint"], chain=chain_of(pki), principals=[NS, "CONTOSO\\svc_gone"])
    assert result["changed"] is False
    report = result["result"]
    assert report["certificate"]["found"] is True
    assert report["certificate"]["has_private_key"] is True
    assert report["certificate"]["key"]["provider"] == "capi"
    assert report["certificate"]["key"]["exportable"] is False
    assert [ace["name"] for ace in report["certificate"]["acl"]] == ["NT AUTHORITY\\SYSTEM", "BUILTIN\\Administrators"]
    assert report["chain"] == [
        {"thumbprint": pki["issuing_thumbprint"], "store": "CA", "present": False},
        {"thumbprint": pki["root_thumbprint"], "store": "Root", "present": True},
    ]
    assert report["principals"][0] == {"input": NS, "sid": NS_SID, "name": NS, "error": None}
    assert report["principals"][1]["sid"] is None
    assert report["principals"][1]["error"]


def test_pfx_import_probe_of_an_empty_host_reports_not_found(pki):
    report = pfx_probe(make_host(), pki["thumbprint"])["result"]
    assert report["certificate"] == {"found": False, "has_private_key": False, "key": None, "acl": []}


# --- private_key_acl ---------------------------------------------------------------------------------------------------------------


def acl_apply(host: Host, thumbprint: str, *operations: dict, check_mode: bool = False) -> dict:
    return run_payload(host, "private_key_acl", {"Mode": "apply", "StoreName": "My", "Thumbprint": thumbprint, "Operations": list(operations)},
                       check_mode=check_mode)


def acl_probe(host: Host, thumbprint: str, *principals: str) -> dict:
    return run_payload(host, "private_key_acl", {"Mode": "probe", "StoreName": "My", "Thumbprint": thumbprint, "Principals": list(principals)})


def key_acl(host: Host, thumbprint: str) -> list[dict]:
    return find_certificate(host.state, "My", thumbprint)["private_key"]["acl"]


def test_key_acl_set_adds_an_explicit_allow_entry(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    result = acl_apply(host, thumbprint, {"sid": NS_SID, "action": "set", "rights": READ})
    assert result["changed"] is True
    assert result["result"] == {"applied": [{"sid": NS_SID, "action": "set", "rights": READ}]}
    assert key_acl(host, thumbprint)[-1] == {"sid": NS_SID, "type": "allow", "rights": READ, "inherited": False}


def test_key_acl_set_replaces_every_explicit_allow_of_the_principal_and_keeps_deny_and_inherited(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    key_acl(host, thumbprint).extend([
        {"sid": NS_SID, "type": "allow", "rights": FULL_CONTROL, "inherited": False},
        {"sid": NS_SID, "type": "allow", "rights": 0x120089, "inherited": False},
        {"sid": NS_SID, "type": "deny", "rights": 0x40000, "inherited": False},
        {"sid": NS_SID, "type": "allow", "rights": READ, "inherited": True},
    ])
    acl_apply(host, thumbprint, {"sid": NS_SID, "action": "set", "rights": READ})
    entries = [ace for ace in key_acl(host, thumbprint) if ace["sid"] == NS_SID]
    assert sorted(entries, key=json.dumps) == sorted([
        {"sid": NS_SID, "type": "deny", "rights": 0x40000, "inherited": False},
        {"sid": NS_SID, "type": "allow", "rights": READ, "inherited": True},
        {"sid": NS_SID, "type": "allow", "rights": READ, "inherited": False},
    ], key=json.dumps)


def test_key_acl_remove_takes_only_the_explicit_allow_entries(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    deny = {"sid": NS_SID, "type": "deny", "rights": READ, "inherited": False}
    inherited = {"sid": NS_SID, "type": "allow", "rights": READ, "inherited": True}
    key_acl(host, thumbprint).extend([{"sid": NS_SID, "type": "allow", "rights": READ, "inherited": False}, deny, inherited])
    result = acl_apply(host, thumbprint, {"sid": NS_SID, "action": "remove"})
    assert result["result"] == {"applied": [{"sid": NS_SID, "action": "remove"}]}
    assert key_acl(host, thumbprint) == [dict(ace) for ace in DEFAULT_KEY_ACL] + [deny, inherited]


def test_key_acl_operations_resolve_a_sid_case_insensitively(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    acl_apply(host, thumbprint, {"sid": SVC_SID.lower(), "action": "set", "rights": READ})
    acl_apply(host, thumbprint, {"sid": SVC_SID, "action": "set", "rights": FULL_CONTROL})
    assert [ace for ace in key_acl(host, thumbprint) if ace["sid"].upper() == SVC_SID.upper()] == [
        {"sid": SVC_SID, "type": "allow", "rights": FULL_CONTROL, "inherited": False},
    ]


def test_key_acl_operations_are_one_write_so_a_bad_one_changes_nothing(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    before = snapshot(host)
    result = acl_apply(host, thumbprint, {"sid": NS_SID, "action": "set", "rights": READ}, {"sid": ADMINISTRATORS_SID, "action": "grant"})
    assert result["failed"] is True
    assert message_of(result) == ("Invalid key ACL operation #1 (sid 'S-1-5-32-544', action 'grant'): action must be 'set' or "
                                  "'remove'.")
    assert snapshot(host) == before


def test_key_acl_operations_land_together(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    acl_apply(host, thumbprint, {"sid": ADMINISTRATORS_SID, "action": "remove"}, {"sid": ADMINISTRATORS_SID, "action": "set", "rights": READ},
              {"sid": NS_SID, "action": "set", "rights": READ})
    assert key_acl(host, thumbprint) == [
        {"sid": SYSTEM_SID, "type": "allow", "rights": FULL_CONTROL, "inherited": False},
        {"sid": ADMINISTRATORS_SID, "type": "allow", "rights": READ, "inherited": False},
        {"sid": NS_SID, "type": "allow", "rights": READ, "inherited": False},
    ]


def test_key_acl_in_check_mode_reports_but_changes_nothing(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    before = snapshot(host)
    result = acl_apply(host, thumbprint, {"sid": NS_SID, "action": "set", "rights": READ}, check_mode=True)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert snapshot(host) == before


@pytest.mark.parametrize("with_key", [False, None], ids=["no key", "missing"])
def test_key_acl_apply_without_a_key_fails(pki, with_key):
    host = make_host()
    thumbprint = seed(host, pki["leaf"], with_key=False) if with_key is False else pki["thumbprint"]
    before = snapshot(host)
    result = acl_apply(host, thumbprint, {"sid": NS_SID, "action": "set", "rights": READ})
    assert result["failed"] is True
    assert snapshot(host) == before


def test_key_acl_probe_reports_the_key_and_resolves_principals(pki):
    host = make_host()
    thumbprint = seed(host, pki["ec_leaf"], exportable=True)
    report = acl_probe(host, thumbprint, NS, SVC, "S-1-5-20")["result"]
    assert report["certificate"]["key"]["provider"] == "cng"
    assert report["certificate"]["key"]["exportable"] is True
    assert [p["sid"] for p in report["principals"]] == [NS_SID, SVC_SID, NS_SID]


def test_key_acl_probe_of_a_certificate_without_a_key(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"], with_key=False)
    report = acl_probe(host, thumbprint)["result"]
    assert report["certificate"] == {"found": True, "archived": False, "has_private_key": False, "key": None, "acl": []}
    assert report["principals"] == []


# --- cert_serial_registry ------------------------------------------------------------------------------------------------------------


def serial_run(host: Host, mode: str, thumbprint: str, *, key: str = GATEWAY_SUBKEY, value_name: str = "EncryptSerialNumber",
               serial: str | None = None, check_mode: bool = False) -> dict:
    parameters = {"Mode": mode, "StoreName": "My", "Thumbprint": thumbprint, "Key": key, "ValueName": value_name}
    if serial is not None:
        parameters["Serial"] = serial
    return run_payload(host, "cert_serial_registry", parameters, check_mode=check_mode)


def test_serial_apply_writes_a_string_value_creating_every_parent_key(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    result = serial_run(host, "apply", thumbprint, serial="0080AB")
    assert result["changed"] is True
    assert result["result"] == {"key_created": True, "written": True}
    assert host.state["registry"] == {
        "SOFTWARE": {},
        "SOFTWARE\\Keyfactor": {},
        "SOFTWARE\\Keyfactor\\Keyfactor CA Gateway": {},
        GATEWAY_SUBKEY: {"EncryptSerialNumber": {"kind": "String", "data": "0080AB"}},
    }


def test_serial_apply_replaces_a_value_of_another_kind_and_name_case(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    create_registry_key(host.state, GATEWAY_SUBKEY)["encryptserialnumber"] = {"kind": "DWord", "data": 5}
    serial_run(host, "apply", thumbprint, key=GATEWAY_SUBKEY.lower(), serial="0080AB")
    assert registry_key(host.state, GATEWAY_SUBKEY) == {"EncryptSerialNumber": {"kind": "String", "data": "0080AB"}}


def test_serial_apply_keeps_the_other_values_of_the_key(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    create_registry_key(host.state, GATEWAY_SUBKEY)["LogLevel"] = {"kind": "DWord", "data": 3}
    result = serial_run(host, "apply", thumbprint, serial="0080AB")
    assert result["result"] == {"key_created": False, "written": True}
    assert registry_key(host.state, GATEWAY_SUBKEY)["LogLevel"] == {"kind": "DWord", "data": 3}


def test_a_serial_write_that_fails_after_creating_the_key_reports_the_change(pki):
    # CreateSubKey has created the key and its parents; SetValue then fails. The keys stay, and the run changed the host.
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    args = {"script": payload_source("cert_serial_registry"), "depth": 8, "error_action": "stop",
            "parameters": {"Mode": "apply", "StoreName": "My", "Thumbprint": thumbprint, "Key": GATEWAY_SUBKEY,
                           "ValueName": "EncryptSerialNumber", "Serial": "0080AB"}}
    invocation = ModuleInvocation(name="ansible.windows.win_powershell", args=args, script="", become=False)
    result = win_powershell.run(host, invocation, {"after_operations": 1, "error": "Access is denied"})
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["result"] == {"key_created": True, "written": False}
    assert registry_key(host.state, GATEWAY_SUBKEY) == {}


def test_serial_apply_in_check_mode_writes_nothing(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    before = snapshot(host)
    result = serial_run(host, "apply", thumbprint, serial="0080AB", check_mode=True)
    assert result["changed"] is False
    assert result["result"] == {"key_created": False, "written": False}
    assert snapshot(host) == before


def test_serial_probe_reports_the_certificate_as_windows_shows_its_serial(pki):
    host = make_host()
    issued = pki_fixtures.issue("serial.contoso.com", key=pki_fixtures.new_key("ec"), serial=0x80AB)
    thumbprint = seed(host, issued)
    report = serial_run(host, "probe", thumbprint)["result"]
    assert report == {
        "certificate": {"found": True, "has_private_key": True, "key_error": None, "key_state": None, "serial_number": "0080AB"},
        "registry": {"key_exists": False, "value_exists": False, "value_kind": None, "value": None},
    }


@pytest.mark.parametrize("value, kind, shown", [
    ({"kind": "String", "data": "0080AB"}, "String", "0080AB"),
    ({"kind": "ExpandString", "data": "%SERIAL%"}, "ExpandString", "%SERIAL%"),
    ({"kind": "DWord", "data": 32939}, "DWord", None),
], ids=["string", "expand string", "dword"])
def test_serial_probe_reports_the_value_and_its_kind(pki, value, kind, shown):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    create_registry_key(host.state, GATEWAY_SUBKEY)["EncryptSerialNumber"] = value
    registry_report = serial_run(host, "probe", thumbprint, value_name="encryptserialnumber")["result"]["registry"]
    assert registry_report == {"key_exists": True, "value_exists": True, "value_kind": kind, "value": shown}


def test_serial_probe_of_a_missing_or_keyless_certificate(pki):
    host = make_host()
    keyless = seed(host, pki["leaf"], with_key=False)
    assert serial_run(host, "probe", keyless)["result"]["certificate"]["has_private_key"] is False
    missing = serial_run(host, "probe", pki["ec_thumbprint"])["result"]["certificate"]
    assert missing == {"found": False, "has_private_key": False, "key_error": None, "key_state": None, "serial_number": None}


# --- probes only read ------------------------------------------------------------------------------------------------------------


def test_no_probe_changes_the_host(pki):
    host = make_host()
    pfx_apply(host, pki, install_chain=[pki["root_thumbprint"]])
    create_registry_key(host.state, GATEWAY_SUBKEY)["EncryptSerialNumber"] = {"kind": "DWord", "data": 1}
    before = snapshot(host)
    results = [
        pfx_probe(host, pki["thumbprint"], chain=chain_of(pki), principals=[NS, SVC, "CONTOSO\\svc_gone", ".\\Administrator"]),
        pfx_probe(host, pki["ec_thumbprint"], store_name="Remote Desktop", chain=chain_of(pki)),
        acl_probe(host, pki["thumbprint"], NS, "BUILTIN\\Administrators"),
        acl_probe(host, pki["ec_thumbprint"], SVC),
        serial_run(host, "probe", pki["thumbprint"]),
        serial_run(host, "probe", pki["thumbprint"], key="SOFTWARE\\Vendor\\Missing", value_name="Nothing"),
    ]
    assert snapshot(host) == before
    assert all(result["changed"] is False and not result.get("failed") for result in results)


# --- what only Windows would refuse ------------------------------------------------------------------------------------------


def without_administrators(host: Host, thumbprint: str) -> None:
    key = find_certificate(host.state, "My", thumbprint)["private_key"]
    key["acl"] = [ace for ace in key["acl"] if ace["sid"] != ADMINISTRATORS_SID]


def test_a_key_whose_acl_shuts_out_the_connecting_administrator_does_not_open_and_is_not_reported_missing(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    without_administrators(host, thumbprint)
    for result in (pfx_probe(host, thumbprint), acl_probe(host, thumbprint)):
        report = result["result"]["certificate"]
        assert report["found"] is True and report["has_private_key"] is True
        assert report["key"] is None and report["acl"] == []
        assert report["key_state"] == "missing_or_denied"
        assert report["key_error"] == (f"Cannot open the private key of certificate {thumbprint} in LocalMachine\\My: "
                                       "CryptAcquireCertificatePrivateKey failed: Keyset does not exist (0x80090016)")
        assert report["key_error_code"] == 0x80090016 - (1 << 32)


def test_a_key_the_connecting_account_holds_an_entry_for_still_opens_without_administrators(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    without_administrators(host, thumbprint)
    find_certificate(host.state, "My", thumbprint)["private_key"]["acl"].append(
        {"sid": host.state["host"]["machine_sid"] + "-500", "type": "allow", "rights": READ, "inherited": False})
    assert "key_state" not in pfx_probe(host, thumbprint)["result"]["certificate"]


def test_a_key_acl_change_on_a_key_the_administrator_cannot_open_fails_and_changes_nothing(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    without_administrators(host, thumbprint)
    before = snapshot(host)
    result = acl_apply(host, thumbprint, {"sid": NS_SID, "action": "set", "rights": READ})
    assert result["failed"] is True
    assert "Keyset does not exist (0x80090016)" in message_of(result)
    assert snapshot(host) == before


def test_the_probes_report_who_the_payload_runs_as(pki):
    host = make_host()
    identity = pfx_probe(host, pki["thumbprint"])["result"]["identity"]
    assert identity == acl_probe(host, pki["thumbprint"])["result"]["identity"]
    assert identity["sid"] == host.state["host"]["machine_sid"] + "-500"
    assert ADMINISTRATORS_SID in identity["groups"] and "S-1-1-0" in identity["groups"]


@pytest.mark.parametrize("os_version, legacy, imports", [
    ("10.0.14393.0", False, False), ("10.0.14393.0", True, True), ("10.0.17763.0", False, True), ("10.0.20348.0", False, True),
], ids=["AES on 2016", "3DES on 2016", "AES on 2019", "AES on 2022"])
def test_windows_server_2016_cannot_decrypt_an_aes_pfx(pki, os_version, legacy, imports):
    host = make_host()
    host.state["host"].update(os_version=os_version)
    assert pfx_probe(host, pki["thumbprint"])["result"]["os_build"] == int(os_version.split(".")[2])
    before = snapshot(host)
    result = pfx_apply(host, pki, pfx=pki["legacy_pfx"] if legacy else pki["pfx"])
    if imports:
        assert not result.get("failed"), result
        assert find_certificate(host.state, "My", pki["thumbprint"]) is not None
    else:
        assert result["failed"] is True
        assert message_of(result) == f"Cannot open the PFX (X509Certificate2Collection.Import): {WRONG_PASSWORD}"
        assert snapshot(host) == before


def test_the_serial_comes_from_the_certificates_bytes_not_from_a_seeded_field(pki):
    host = make_host()
    issued = pki_fixtures.issue("serial.contoso.com", key=pki_fixtures.new_key("ec"), serial=0x00C0FFEE12)
    thumbprint = seed(host, issued)
    find_certificate(host.state, "My", thumbprint)["serial_number"] = "0BADF00D"
    assert serial_run(host, "probe", thumbprint)["result"]["certificate"]["serial_number"] == "00C0FFEE12"


def test_an_import_writes_the_key_before_the_certificate_so_a_fault_between_leaves_the_key_behind(pki):
    host = make_host()
    args = {"script": payload_source("pfx_import"), "depth": 8, "error_action": "stop",
            "parameters": {"Mode": "apply", "StoreName": "My", "Thumbprint": pki["thumbprint"], "ImportLeaf": True},
            "sensitive_parameters": [Secret(value=pki["pfx"]).as_sensitive_parameter("Pfx"),
                                     Secret(value=PASSWORD).as_sensitive_parameter("PfxPassword")]}
    invocation = ModuleInvocation(name="ansible.windows.win_powershell", args=args, script="", become=False)
    result = win_powershell.run(host, invocation, {"after_operations": 1, "error": "The RPC server is unavailable."})
    assert result["failed"] is True
    assert find_certificate(host.state, "My", pki["thumbprint"]) is None
    (orphan,) = orphaned_keys(host.state)
    assert orphan["provider"] == "capi"

    # The next run finds no certificate, imports again with a key of its own, and converges; the first key stays behind.
    assert not pfx_apply(host, pki).get("failed")
    stored = find_certificate(host.state, "My", pki["thumbprint"])["private_key"]
    assert stored["container"] != orphan["container"]
    assert orphaned_keys(host.state) == [orphan]


def test_importing_over_a_key_that_still_exists_leaves_that_key_behind(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    old = find_certificate(host.state, "My", thumbprint)["private_key"]["container"]
    pfx_apply(host, pki)
    assert [key["container"] for key in orphaned_keys(host.state)] == [old]


def test_importing_over_a_key_whose_file_is_gone_leaves_nothing_behind(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    find_certificate(host.state, "My", thumbprint)["private_key"]["broken"] = True
    pfx_apply(host, pki)
    assert orphaned_keys(host.state) == []


@pytest.mark.parametrize("operation, message", [
    ({"sid": NS, "action": "set", "rights": READ}, "sid must be a SID string such as S-1-5-20."),
    ({"sid": " S-1-5-20", "action": "set", "rights": READ}, "sid must be a SID string such as S-1-5-20."),
    ({"sid": "S-1-5-20 ", "action": "set", "rights": READ}, "Value was invalid."),
    ({"sid": "S-1-5-20\n", "action": "set", "rights": READ}, "Value was invalid."),
    ({"sid": "S-1-5-32-4294967296", "action": "set", "rights": READ}, "Value was invalid."),
    ({"sid": NS_SID, "action": "set", "rights": 0}, "rights must be a non-zero access mask"),
    ({"sid": NS_SID, "action": "set", "rights": 0xD01F01FF}, "rights must be a non-zero access mask"),
    ({"sid": NS_SID, "action": "set", "rights": True}, "rights must be a non-zero access mask"),
    ({"sid": NS_SID, "action": "set", "rights": "-2146303863"}, "rights must be a non-zero access mask"),
    ({"sid": NS_SID, "action": "set"}, "rights must be a non-zero access mask"),
    ({"sid": NS_SID, "action": "remove", "rights": READ}, "a remove takes no rights."),
    ({"sid": NS_SID, "action": "Set", "rights": READ}, "action must be 'set' or 'remove'."),
    ({"sid": NS_SID, "action": "grant", "rights": READ}, "action must be 'set' or 'remove'."),
    ("S-1-5-20", "is not a dictionary with the keys sid, action and rights."),
], ids=["a name", "leading space", "trailing space", "final newline", "sub-authority too large", "zero mask", "unsigned mask", "boolean",
        "string", "no rights", "rights on a remove", "action case", "unknown action", "not a dictionary"])
def test_the_key_acl_model_takes_only_what_the_payload_takes_and_changes_nothing_otherwise(pki, operation, message):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    before = snapshot(host)
    for result in (acl_apply(host, thumbprint, {"sid": SVC_SID, "action": "set", "rights": READ}, operation),
                   pfx_apply(host, pki, import_leaf=False, operations=[{"sid": SVC_SID, "action": "set", "rights": READ}, operation])):
        assert result["failed"] is True, result
        assert message in message_of(result)
        assert snapshot(host) == before


def test_a_sid_is_applied_in_its_canonical_form(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    result = acl_apply(host, thumbprint, {"sid": "S-1-5-32-0568", "action": "set", "rights": READ})
    assert result["result"] == {"applied": [{"sid": "S-1-5-32-568", "action": "set", "rights": READ}]}
    assert key_acl(host, thumbprint)[-1]["sid"] == "S-1-5-32-568"


@pytest.mark.parametrize("parameters, message", [
    ({"Thumbprint": "ab" * 20}, "a certificate thumbprint is 40 uppercase hexadecimal digits."),
    ({"StoreName": " "}, "Invalid StoreName"),
    ({"Chain": [{"thumbprint": "AB" * 20, "store": "CA"}, {"thumbprint": "AB" * 20, "store": "Root"}]}, "listed more than once"),
    ({"Chain": [{"thumbprint": "AB" * 20, "store": "My"}]}, "store must be 'CA'"),
], ids=["lowercase thumbprint", "blank store", "repeated chain entry", "chain store"])
def test_the_pfx_probe_model_refuses_what_the_payload_refuses(pki, parameters, message):
    base = {"Mode": "probe", "StoreName": "My", "Thumbprint": pki["thumbprint"], "Chain": [], "Principals": []}
    result = run_payload(make_host(), "pfx_import", dict(base, **parameters))
    assert result["failed"] is True
    assert message in message_of(result)


def test_the_pfx_apply_model_refuses_a_pfx_sent_without_an_import(pki):
    host = make_host()
    before = snapshot(host)
    parameters = {"Mode": "apply", "StoreName": "My", "Thumbprint": pki["thumbprint"], "ImportLeaf": False,
                  "InstallChain": [chain_entry(pki, pki["root_thumbprint"])]}
    result = run_payload(host, "pfx_import", parameters, secrets={"Pfx": pki["pfx"], "PfxPassword": PASSWORD})
    assert message_of(result) == "Invalid parameters: Pfx and PfxPassword are sent only with ImportLeaf."
    assert snapshot(host) == before


def test_the_pfx_apply_model_checks_each_ca_certificates_bytes_before_any_change(pki):
    host = make_host()
    before = snapshot(host)
    wrong = dict(chain_entry(pki, pki["root_thumbprint"]), der=chain_entry(pki, pki["issuing_thumbprint"])["der"])
    parameters = {"Mode": "apply", "StoreName": "My", "Thumbprint": pki["thumbprint"], "ImportLeaf": True, "InstallChain": [wrong]}
    result = run_payload(host, "pfx_import", parameters, secrets={"Pfx": pki["pfx"], "PfxPassword": PASSWORD})
    assert f"der holds the certificate {pki['issuing_thumbprint']}, not {pki['root_thumbprint']}." in message_of(result)
    assert snapshot(host) == before


@pytest.mark.parametrize("parameters, message", [
    ({"Thumbprint": "ab" * 20}, "a certificate thumbprint is 40 uppercase hexadecimal digits."),
    ({"Key": "\\SOFTWARE\\Vendor"}, "give a key path below HKEY_LOCAL_MACHINE"),
    ({"Key": "SOFTWARE\\\\Vendor"}, "give a key path below HKEY_LOCAL_MACHINE"),
    ({"Key": "SOFTWARE\\" + "k" * 256}, "a key name has at most 255 characters."),
    ({"ValueName": ""}, "Invalid ValueName"),
    ({"ValueName": "v" * 16384}, "Invalid ValueName"),
    ({"Serial": "80ab"}, "Invalid Serial '80ab'"),
    ({"Serial": "0080A"}, "Invalid Serial '0080A'"),
    ({"Serial": ""}, "Invalid Serial ''"),
    ({"Serial": "0080AB\n"}, "Invalid Serial '0080AB\n'"),
], ids=["lowercase thumbprint", "leading backslash", "empty key name", "long key name", "default value", "long value name",
        "lowercase serial", "odd digits", "empty serial", "final newline"])
def test_the_serial_model_refuses_what_the_payload_refuses_before_any_change(pki, parameters, message):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    before = snapshot(host)
    base = {"Mode": "apply", "StoreName": "My", "Thumbprint": thumbprint, "Key": GATEWAY_SUBKEY, "ValueName": "EncryptSerialNumber",
            "Serial": "0080AB"}
    result = run_payload(host, "cert_serial_registry", dict(base, **parameters))
    assert result["failed"] is True
    assert message in message_of(result)
    assert snapshot(host) == before


def test_the_serial_probe_reports_why_a_key_does_not_open(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    without_administrators(host, thumbprint)
    report = serial_run(host, "probe", thumbprint)["result"]["certificate"]
    assert report["key_state"] == "missing_or_denied"
    assert "Keyset does not exist" in report["key_error"]


# --- archived certificates and keys written before a failure -----------------------------------------------------------------


def archive(host: Host, thumbprint: str, store_name: str = "My") -> None:
    find_certificate(host.state, store_name, thumbprint)["archived"] = True


def test_an_archived_certificate_is_hidden_unless_archived_ones_are_asked_for(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    archive(host, thumbprint)
    assert find_certificate(host.state, "My", thumbprint) is None
    assert find_certificate(host.state, "My", thumbprint, include_archived=True)["archived"] is True
    # private_key_acl's probe lists the store as X509Store shows it; pfx_import's leaf probe asks for archived copies.
    assert acl_probe(host, thumbprint)["result"]["certificate"]["found"] is False
    report = pfx_probe(host, thumbprint)["result"]["certificate"]
    assert report["found"] is True and report["archived"] is True and report["key"]["provider"] == "capi"


def test_restoring_an_archived_leaf_writes_no_key(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    archive(host, thumbprint)
    result = run_payload(host, "pfx_import", {"Mode": "apply", "StoreName": "My", "Thumbprint": thumbprint, "ImportLeaf": False,
                                              "RestoreArchived": True})
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["result"]["archived_restored"] is True and result["result"]["key_written"] is False
    assert "archived" not in find_certificate(host.state, "My", thumbprint)
    assert orphaned_keys(host.state) == []
    again = run_payload(host, "pfx_import", {"Mode": "apply", "StoreName": "My", "Thumbprint": thumbprint, "ImportLeaf": False,
                                             "RestoreArchived": True})
    assert again["changed"] is False and again["result"]["archived_restored"] is False


def test_an_import_over_an_archived_copy_keeps_the_copy_gives_it_the_new_key_and_restores_it(pki):
    # X509Store.Add keeps a matching copy (CERT_STORE_ADD_REPLACE_EXISTING_INHERIT_PROPERTIES), which takes the new key and
    # stays archived; the payload restores it.
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    archive(host, thumbprint)
    entry = find_certificate(host.state, "My", thumbprint, include_archived=True)
    old = entry["private_key"]["container"]
    result = pfx_apply(host, pki)
    assert not result.get("failed"), result
    assert result["result"]["archived_restored"] is True
    stored = find_certificate(host.state, "My", thumbprint)
    assert stored is entry
    assert stored["private_key"]["container"] != old
    assert [key["container"] for key in orphaned_keys(host.state)] == [old]


def test_the_restore_and_the_import_are_not_sent_together(pki):
    host = make_host()
    before = snapshot(host)
    parameters = {"Mode": "apply", "StoreName": "My", "Thumbprint": pki["thumbprint"], "ImportLeaf": True, "RestoreArchived": True}
    result = run_payload(host, "pfx_import", parameters, secrets={"Pfx": pki["pfx"], "PfxPassword": PASSWORD})
    assert message_of(result) == "Invalid parameters: RestoreArchived is sent only without ImportLeaf."
    assert snapshot(host) == before


def test_a_chain_certificate_archived_in_its_store_is_added_again_and_restored(pki):
    host = make_host()
    issuing = seed(host, pki["issuing"], with_key=False, store_name="CA")
    archive(host, issuing, "CA")
    chain = pfx_probe(host, pki["thumbprint"], chain=chain_of(pki))["result"]["chain"]
    assert chain[0] == {"thumbprint": issuing, "store": "CA", "present": False}
    pfx_apply(host, pki, import_leaf=False, install_chain=[issuing])
    assert "archived" not in find_certificate(host.state, "CA", issuing)


@pytest.mark.parametrize("thumbprint, message", [
    ("issuing_thumbprint", "the PFX holds certificate {thumbprint} without its private key"),
    ("ec_thumbprint", "the PFX holds no certificate with thumbprint {thumbprint}"),
], ids=["a chain certificate", "another certificate"])
def test_an_import_that_fails_after_opening_the_pfx_reports_the_key_it_wrote(pki, thumbprint, message):
    # X509Certificate2Collection.Import has persisted the PFX's key before the leaf is looked for in it.
    host = make_host()
    result = pfx_apply(host, pki, thumbprint=pki[thumbprint])
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["result"]["key_written"] is True and result["result"]["imported"] is False
    assert message_of(result) == (f"Cannot import: {message.format(thumbprint=pki[thumbprint])}; the PFX's private keys are "
                                  "already in the machine key store, where they stay with no certificate in a store referring to "
                                  "them.")
    (orphan,) = orphaned_keys(host.state)
    assert orphan["provider"] == "capi"
    assert find_certificate(host.state, "My", pki["thumbprint"], include_archived=True) is None


def test_a_local_group_written_in_the_hosts_language_resolves_on_a_german_windows(pki):
    host = make_host()
    host.state["host"]["ui_language"] = "de-DE"
    principals = pfx_probe(host, pki["thumbprint"], principals=[".\\Administratoren"])["result"]["principals"]
    assert principals == [{"input": ".\\Administratoren", "sid": ADMINISTRATORS_SID, "name": "VORDEFINIERT\\Administratoren",
                           "error": None}]


@pytest.mark.parametrize("provider_name, error, state", [
    ("Microsoft Enhanced RSA and AES Cryptographic Provider", "NTE_NOT_FOUND", "missing"),
    ("Microsoft Software Key Storage Provider", "ERROR_FILE_NOT_FOUND", "missing"),
    ("SafeNet Key Storage Provider", "NTE_NOT_FOUND", "unavailable"),
    ("SafeNet Key Storage Provider", "ERROR_FILE_NOT_FOUND", "unavailable"),
    ("Microsoft Platform Crypto Provider", "NTE_NOT_FOUND", "unavailable"),
    ("SafeNet Key Storage Provider", "NTE_NO_KEY", "missing"),
], ids=["CAPI software", "CNG software", "HSM not found", "HSM file not found", "TPM", "HSM no key"])
def test_not_found_means_a_key_is_gone_only_from_a_provider_that_comes_with_windows(pki, provider_name, error, state):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    key = find_certificate(host.state, "My", thumbprint)["private_key"]
    key.update(provider_name=provider_name, broken=error)
    report = pfx_probe(host, thumbprint)["result"]["certificate"]
    assert report["key_state"] == state
    assert report["key_provider_name"] == provider_name


def test_an_import_of_a_pfx_without_any_key_writes_nothing_and_says_so(pki):
    host = make_host()
    without_key = pkcs12.serialize_key_and_certificates(b"leaf", None, pki["leaf"].cert, None, BestAvailableEncryption(PASSWORD.encode()))
    result = pfx_apply(host, pki, pfx=base64.b64encode(without_key).decode("ascii"))
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["result"]["key_written"] is False
    assert message_of(result) == (f"Cannot import: the PFX holds certificate {pki['thumbprint']} without its private key; the PFX "
                                  "holds no private key, so nothing was written to this computer.")
    assert orphaned_keys(host.state) == []
