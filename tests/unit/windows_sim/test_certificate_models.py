"""The simulator's models of the pfx_import, private_key_acl and cert_serial_registry payloads, driven as the actions drive them."""

from __future__ import annotations

import base64
import json

import pytest

import pki_fixtures
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import Secret, payload_source
from winsim import registry, win_powershell
from winsim.certificates import (
    DEFAULT_KEY_ACL,
    certificate_entry,
    create_registry_key,
    find_certificate,
    registry_key,
    serial_as_windows_shows_it,
    store,
)
from winsim.host import Host
from winsim.manifest import ModuleInvocation
from winsim.state import complete

registry.load_all()

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
    secrets = {"Pfx": pfx or pki["pfx"]}
    if password:
        secrets["PfxPassword"] = password
    parameters = {
        "Mode": "apply", "StoreName": "My", "Thumbprint": thumbprint or pki["thumbprint"], "Chain": chain_of(pki),
        "Exportable": exportable, "ImportLeaf": import_leaf, "InstallChain": install_chain or [], "Operations": operations or [],
    }
    return run_payload(host, "pfx_import", parameters, secrets=secrets, check_mode=check_mode)


def chain_of(pki: dict) -> list[dict]:
    return [{"thumbprint": pki["issuing_thumbprint"], "store": "CA"}, {"thumbprint": pki["root_thumbprint"], "store": "Root"}]


@pytest.mark.parametrize("legacy", [False, True], ids=["AES-256", "3DES legacy"])
def test_pfx_import_stores_the_rsa_leaf_with_a_capi_key_not_exportable(pki, legacy):
    host = make_host()
    result = pfx_apply(host, pki, pfx=pki["legacy_pfx"] if legacy else pki["pfx"])
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["result"] == {"imported": True, "chain_installed": [], "acl_applied": []}
    entry = find_certificate(host.state, "My", pki["thumbprint"])
    assert entry["serial_number"] == serial_as_windows_shows_it(pki["leaf"].cert)
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
    assert WRONG_PASSWORD in message_of(result)
    assert snapshot(host) == before
    assert PASSWORD not in json.dumps(result)


def test_pfx_import_in_check_mode_changes_nothing(pki):
    host = make_host()
    before = snapshot(host)
    result = pfx_apply(host, pki, install_chain=[pki["issuing_thumbprint"]], check_mode=True,
                       operations=[{"sid": NS_SID, "action": "set", "rights": READ}])
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["result"] == {"imported": False, "chain_installed": [], "acl_applied": []}
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
    result = pfx_probe(host, pki["thumbprint"].lower(), chain=chain_of(pki), principals=[NS, "CONTOSO\\svc_gone"])
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
    assert "Unknown key ACL action 'grant'" in message_of(result)
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
    assert report["certificate"] == {"found": True, "has_private_key": False, "key": None, "acl": []}
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
    assert result["result"] == {"written": True}
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
    serial_run(host, "apply", thumbprint.lower(), key=GATEWAY_SUBKEY.lower(), serial="0080AB")
    assert registry_key(host.state, GATEWAY_SUBKEY) == {"EncryptSerialNumber": {"kind": "String", "data": "0080AB"}}


def test_serial_apply_keeps_the_other_values_of_the_key(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    create_registry_key(host.state, GATEWAY_SUBKEY)["LogLevel"] = {"kind": "DWord", "data": 3}
    serial_run(host, "apply", thumbprint, serial="0080AB")
    assert registry_key(host.state, GATEWAY_SUBKEY)["LogLevel"] == {"kind": "DWord", "data": 3}


def test_serial_apply_in_check_mode_writes_nothing(pki):
    host = make_host()
    thumbprint = seed(host, pki["leaf"])
    before = snapshot(host)
    result = serial_run(host, "apply", thumbprint, serial="0080AB", check_mode=True)
    assert result["changed"] is False
    assert result["result"] == {"written": False}
    assert snapshot(host) == before


def test_serial_probe_reports_the_certificate_as_windows_shows_its_serial(pki):
    host = make_host()
    issued = pki_fixtures.issue("serial.contoso.com", key=pki_fixtures.new_key("ec"), serial=0x80AB)
    thumbprint = seed(host, issued)
    report = serial_run(host, "probe", thumbprint)["result"]
    assert report == {
        "certificate": {"found": True, "has_private_key": True, "key_error": None, "serial_number": "0080AB"},
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
    assert missing == {"found": False, "has_private_key": False, "key_error": None, "serial_number": None}


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
