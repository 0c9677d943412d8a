"""pfx_import, private_key_acl and cert_serial_registry end to end, with PFX files made for each test."""

from __future__ import annotations

import base64
import datetime
import json

import pytest

import pki_fixtures as pki
from conftest import TEST_PLAYBOOKS
from winsim.certificates import serial_number

PLAYBOOK = TEST_PLAYBOOKS / "certificates.yml"
HOST = "kf-gw01.contoso.com"
PASSWORD = "Pfx!Passw0rd-For-Tests"
NETWORK_SERVICE = "S-1-5-20"
READ, FULL_CONTROL = 0x80120089 - (1 << 32), 0xD01F01FF - (1 << 32)
GATEWAY_KEY = "SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters"


@pytest.fixture(scope="module")
def gateway_cert(ca):
    return pki.issue("gateway-encryption.contoso.com", issuer=ca[1])


def _write_pfx(lab, issued, *, extra=(), legacy=False, name="gateway.pfx"):
    path = lab.root / name
    path.write_bytes(pki.pfx(issued, PASSWORD, extra=extra, legacy=legacy))
    return path


def _my_store(lab):
    return lab.state(HOST).get("certificates", {}).get("My", {})


_thumbprint = pki.thumbprint


def _result(run, task):
    return next(result for name, result in run.task_results(HOST) if name == task)


@pytest.mark.parametrize("legacy", [False, True], ids=["aes", "legacy-3des-rc2"])
def test_check_import_then_steady_state(lab, gateway_cert, ca, legacy):
    lab.add_host(HOST, groups=("gateway",))
    path = _write_pfx(lab, gateway_cert, extra=ca, legacy=legacy)
    wanted = {"test_pfx": {"src": str(path), "password": PASSWORD, "require_rsa": True, "require_encipherment": True,
                           "chain": "install", "key_access": [{"principal": "NT AUTHORITY\\NETWORK SERVICE"}]}}
    before = lab.windows_state(HOST)
    check = lab.run(PLAYBOOK, check=True, diff=True, extra_vars=wanted)
    assert check.returncode == 0, check.stdout[-3000:]
    assert check.changed(HOST) == 1
    assert lab.windows_state(HOST) == before

    run = lab.run(PLAYBOOK, extra_vars=wanted)
    assert run.returncode == 0, run.stdout[-3000:]
    result = _result(run, "Import the PFX")
    thumbprint = _thumbprint(gateway_cert)
    assert (result["imported"], result["thumbprint"]) == (True, thumbprint)
    assert sorted(result["chain_installed"]) == sorted(_thumbprint(c) for c in ca)
    key = _my_store(lab)[thumbprint]["private_key"]
    assert key["exportable"] is False
    assert {"sid": NETWORK_SERVICE, "type": "allow", "rights": READ, "inherited": False} in key["acl"]
    state = lab.state(HOST)["certificates"]
    assert _thumbprint(ca[0]) in state["Root"] and _thumbprint(ca[1]) in state["CA"]

    trips = lab.round_trips(HOST)
    again = lab.run(PLAYBOOK, extra_vars=wanted)
    assert again.changed(HOST) == 0
    assert lab.round_trips(HOST) - trips == 1, "a steady-state import costs one round trip"


def test_read_is_read_equivalent_grants_are_recognised_and_full_control_is_brought_down(lab, gateway_cert):
    lab.add_host(HOST, groups=("gateway",))
    path = _write_pfx(lab, gateway_cert)
    lab.run(PLAYBOOK, extra_vars={"test_pfx": {"src": str(path), "password": PASSWORD}})
    thumbprint = _thumbprint(gateway_cert)
    state = lab.state(HOST)
    acl = state["certificates"]["My"][thumbprint]["private_key"]["acl"]
    # As icacls would leave it: FILE_GENERIC_READ only, a different mask for the same access.
    acl.append({"sid": NETWORK_SERVICE, "type": "allow", "rights": 0x120089, "inherited": False})
    (lab.root / f"{HOST}.json").write_text(json.dumps(state))
    grant = {"test_acl": {"thumbprint": thumbprint, "key_access": [{"principal": "NETWORK SERVICE", "access": "read"}]}}
    assert lab.run(PLAYBOOK, extra_vars=grant).changed(HOST) == 0

    acl = state["certificates"]["My"][thumbprint]["private_key"]["acl"]
    acl[-1]["rights"] = FULL_CONTROL
    (lab.root / f"{HOST}.json").write_text(json.dumps(state))
    run = lab.run(PLAYBOOK, diff=True, extra_vars=grant)
    result = _result(run, "Set access to the private key")
    assert result["changes"] == {"NT AUTHORITY\\NETWORK SERVICE": "full_control -> read"}
    entries = [a for a in _my_store(lab)[thumbprint]["private_key"]["acl"] if a["sid"] == NETWORK_SERVICE]
    assert entries == [{"sid": NETWORK_SERVICE, "type": "allow", "rights": READ, "inherited": False}]


def test_cng_keys_are_managed_too_and_absent_removes_access(lab, ca):
    issued = pki.issue("cng.contoso.com", issuer=ca[1], key=pki.new_key("ec"))
    lab.add_host(HOST, groups=("gateway",))
    path = _write_pfx(lab, issued)
    run = lab.run(PLAYBOOK, extra_vars={"test_pfx": {"src": str(path), "password": PASSWORD,
                                                     "key_access": [{"principal": "NT AUTHORITY\\NETWORK SERVICE"}]}})
    thumbprint = _thumbprint(issued)
    assert _my_store(lab)[thumbprint]["private_key"]["provider"] == "cng"
    assert run.changed(HOST) == 1
    removed = lab.run(PLAYBOOK, extra_vars={"test_acl": {"thumbprint": thumbprint,
                                                         "key_access": [{"principal": "S-1-5-20", "state": "absent"}]}})
    assert removed.changed(HOST) == 1
    assert all(a["sid"] != NETWORK_SERVICE for a in _my_store(lab)[thumbprint]["private_key"]["acl"])


def test_the_serial_is_written_in_windows_format_and_settles(lab, ca):
    issued = pki.issue("serial.contoso.com", issuer=ca[1], serial=0x00C0FFEE12)  # high bit set: a leading zero byte
    lab.add_host(HOST, groups=("gateway",))
    path = _write_pfx(lab, issued)
    thumbprint = _thumbprint(issued)
    wanted = {"test_pfx": {"src": str(path), "password": PASSWORD}, "test_serial": {"thumbprint": thumbprint}}
    run = lab.run(PLAYBOOK, diff=True, extra_vars=wanted)
    assert run.returncode == 0, run.stdout[-3000:]
    assert _result(run, "Import the PFX")["serial_number"] == "00C0FFEE12"
    registry = lab.state(HOST)["registry"][GATEWAY_KEY]
    assert registry == {"EncryptSerialNumber": {"kind": "String", "data": "00C0FFEE12"}}
    serial = _result(run, "Write the serial number to the registry")
    assert serial["diff"]["before"]["value"] is None and serial["diff"]["after"]["value"] == "00C0FFEE12"
    assert lab.run(PLAYBOOK, extra_vars=wanted).changed(HOST) == 0


def test_serial_of_a_missing_certificate_fails_and_writes_nothing(lab):
    lab.add_host(HOST, groups=("gateway",))
    run = lab.run(PLAYBOOK, extra_vars={"test_serial": {"thumbprint": "AB" * 20}})
    (message,) = run.failure_messages(HOST)
    assert "is not in LocalMachine\\My; import it first" in message
    assert "registry" not in lab.windows_state(HOST) or not lab.state(HOST)["registry"]


@pytest.mark.parametrize("case, expected", [
    ("wrong_password", "the password is wrong"),
    ("ec_key_with_require_rsa", "has a EC (secp256r1) key, not RSA"),
    ("no_encipherment", "it needs key encipherment or data encipherment"),
    ("expired", "expired on"),
    ("no_private_key", "holds a certificate but not its private key"),
    ("not_a_pfx", "not a valid PKCS#12"),
])
def test_bad_pfx_input_fails_with_zero_round_trips(lab, ca, case, expected):
    lab.add_host(HOST, groups=("gateway",))
    issuer = ca[1]
    password = PASSWORD
    if case == "ec_key_with_require_rsa":
        data = pki.pfx(pki.issue("ec", issuer=issuer, key=pki.new_key("ec")), PASSWORD)
    elif case == "no_encipherment":
        data = pki.pfx(pki.issue("sign-only", issuer=issuer, key_usage={"key_encipherment": False}), PASSWORD)
    elif case == "expired":
        data = pki.pfx(pki.issue("old", issuer=issuer, not_before=pki.NOW - datetime.timedelta(days=400),
                                 not_after=pki.NOW - datetime.timedelta(days=1)), PASSWORD)
    elif case == "no_private_key":
        data = pki.pfx(pki.issue("nokey", issuer=issuer), PASSWORD, with_key=False)
    elif case == "not_a_pfx":
        data = b"-----BEGIN CERTIFICATE-----\nnot a pfx\n-----END CERTIFICATE-----\n"
    else:
        data, password = pki.pfx(pki.issue("pw", issuer=issuer), PASSWORD), "Not-The-Password"
    path = lab.root / "bad.pfx"
    path.write_bytes(data)
    run = lab.run(PLAYBOOK, extra_vars={"test_pfx": {"src": str(path), "password": password, "require_rsa": True,
                                                     "require_encipherment": True}})
    (message,) = run.failure_messages(HOST)
    assert message.startswith("pkiops.keyfactor_command.pfx_import: ") and expected in message, message
    assert lab.round_trips(HOST) == 0


def test_no_password_or_pfx_bytes_reach_output_results_or_the_simulator(lab, gateway_cert):
    lab.add_host(HOST, groups=("gateway",))
    data = pki.pfx(gateway_cert, PASSWORD)
    encoded = base64.b64encode(data).decode()
    state_path = lab.root / f"{HOST}.json"
    runs = [lab.run(PLAYBOOK, "-vvvv", diff=check, check=check, extra_vars={"test_pfx": {
        "content": encoded, "password": PASSWORD, "key_access": [{"principal": "NETWORK SERVICE"}]}}) for check in (True, False)]
    wrong = lab.run(PLAYBOOK, "-vvvv", extra_vars={"test_pfx": {"content": encoded, "password": PASSWORD + "x"}})
    assert runs[1].returncode == 0, runs[1].stdout[-3000:]
    assert wrong.returncode != 0
    for run in [*runs, wrong]:
        for where, text in (("stdout", run.stdout), ("stderr", run.stderr), ("results", json.dumps(run.report)),
                            ("simulator", state_path.read_text())):
            assert PASSWORD not in text, f"the PFX password leaked into {where}"
            assert encoded[:64] not in text and encoded[-64:] not in text, f"PFX bytes leaked into {where}"


def test_two_gateway_nodes_get_the_same_certificate_read_only_key_access_and_serial(lab, gateway_cert, ca):
    nodes = ("kf-gw01.contoso.com", "kf-gw02.contoso.com")
    for node in nodes:
        lab.add_host(node, groups=("gateway",))
    path = _write_pfx(lab, gateway_cert, extra=ca)
    thumbprint = _thumbprint(gateway_cert)
    wanted = {"test_pfx": {"src": str(path), "password": PASSWORD, "require_rsa": True, "require_encipherment": True,
                           "chain": "install", "key_access": [{"principal": "NT AUTHORITY\\NETWORK SERVICE", "access": "read"}]},
              "test_serial": {"thumbprint": thumbprint}}
    first = lab.run(PLAYBOOK, extra_vars=wanted)
    assert first.returncode == 0, first.stdout[-3000:]
    for node in nodes:
        state = lab.state(node)
        key = state["certificates"]["My"][thumbprint]["private_key"]
        grants = [ace for ace in key["acl"] if ace["sid"] == NETWORK_SERVICE]
        assert grants == [{"sid": NETWORK_SERVICE, "type": "allow", "rights": READ, "inherited": False}], "Read, never Full control"
        serial = state["registry"][GATEWAY_KEY]["EncryptSerialNumber"]["data"]
        assert serial == serial_number(state["certificates"]["My"][thumbprint])
    second = lab.run(PLAYBOOK, extra_vars=wanted)
    assert all(second.changed(node) == 0 for node in nodes)


def test_the_profiles_import_the_ha_encryption_certificate_on_every_node(lab, ca):
    issued = pki.issue("keyfactor-encryption.contoso.com", issuer=ca[1])
    path = _write_pfx(lab, issued, name="encryption.pfx")
    seed = {"domain": {"accounts": [{"name": "kf_installer", "type": "user"}, {"name": "svc_keyfactor", "type": "user"}]}}
    host_vars = {"common_installer_account": "CONTOSO\\kf_installer", "services_account": "CONTOSO\\svc_keyfactor",
                 "services_encryption_pfx_src": str(path), "services_encryption_pfx_password": PASSWORD,
                 "portal_app_pool_account": "CONTOSO\\svc_keyfactor", "portal_app_pool_password": "Svc!Keyfactor-Profile-1",
                 "portal_encryption_pfx_src": str(path), "portal_encryption_pfx_password": PASSWORD}
    nodes = ("kf-ha01.contoso.com", "kf-ha02.contoso.com")
    for node in nodes:
        lab.add_host(node, groups=("keyfactor_portal", "keyfactor_services"), seed=seed, **host_vars)
    site = TEST_PLAYBOOKS.parent.parent.parent / "playbooks" / "site.yml"
    first = lab.run(site)
    assert first.returncode == 0, first.stdout[-3000:]
    thumbprint = _thumbprint(issued)
    for node in nodes:
        state = lab.state(node)
        svc = next(a["sid"] for a in state["domain"]["accounts"] if a["name"] == "svc_keyfactor")
        key = state["certificates"]["My"][thumbprint]["private_key"]
        assert [a["rights"] for a in key["acl"] if a["sid"] == svc] == [READ]
    assert all(lab.run(site).changed(node) == 0 for node in nodes)


def _set_key(lab, thumbprint, **changes):
    state = lab.state(HOST)
    state["certificates"]["My"][thumbprint]["private_key"].update(changes)
    (lab.root / f"{HOST}.json").write_text(json.dumps(state))


def test_a_key_windows_says_is_gone_is_repaired_by_importing_again(lab, gateway_cert):
    lab.add_host(HOST, groups=("gateway",))
    wanted = {"test_pfx": {"src": str(_write_pfx(lab, gateway_cert)), "password": PASSWORD}}
    lab.run(PLAYBOOK, extra_vars=wanted)
    thumbprint = _thumbprint(gateway_cert)
    _set_key(lab, thumbprint, broken="NTE_NO_KEY")

    acl = lab.run(PLAYBOOK, extra_vars={"test_acl": {"thumbprint": thumbprint, "key_access": [{"principal": "NETWORK SERVICE"}]}})
    (message,) = acl.failure_messages(HOST)
    assert "is gone (" in message and "Key does not exist." in message and "import the certificate with its key again" in message

    repaired = lab.run(PLAYBOOK, extra_vars=wanted)
    result = _result(repaired, "Import the PFX")
    assert result["imported"] is True and any("importing the PFX again" in w for w in result.get("warnings", []))
    assert "broken" not in lab.state(HOST)["certificates"]["My"][thumbprint]["private_key"]
    assert lab.run(PLAYBOOK, extra_vars=wanted).changed(HOST) == 0


def test_keyset_does_not_exist_is_never_imported_over_and_says_what_to_do(lab, gateway_cert):
    # NTE_BAD_KEYSET: Windows reports a key file that is gone and a key whose ACL shuts the account out alike.
    lab.add_host(HOST, groups=("gateway",))
    wanted = {"test_pfx": {"src": str(_write_pfx(lab, gateway_cert)), "password": PASSWORD}}
    lab.run(PLAYBOOK, extra_vars=wanted)
    thumbprint = _thumbprint(gateway_cert)
    _set_key(lab, thumbprint, broken=True)
    before = lab.windows_state(HOST)

    for variables in (wanted, {"test_acl": {"thumbprint": thumbprint, "key_access": [{"principal": "NETWORK SERVICE"}]}}):
        run = lab.run(PLAYBOOK, extra_vars=variables)
        (message,) = run.failure_messages(HOST)
        assert "cannot be opened (" in message and "Keyset does not exist (0x80090016)" in message
        assert "if the key is gone, remove the certificate from LocalMachine\\My and run again" in message
    assert lab.windows_state(HOST) == before

    # Once the certificate whose key is gone is removed, the import converges.
    state = lab.state(HOST)
    del state["certificates"]["My"][thumbprint]
    (lab.root / f"{HOST}.json").write_text(json.dumps(state))
    assert _result(lab.run(PLAYBOOK, extra_vars=wanted), "Import the PFX")["imported"] is True
    assert lab.run(PLAYBOOK, extra_vars=wanted).changed(HOST) == 0


def test_a_key_administrators_lost_access_to_is_not_imported_again_on_every_run(lab, gateway_cert):
    lab.add_host(HOST, groups=("gateway",))
    wanted = {"test_pfx": {"src": str(_write_pfx(lab, gateway_cert)), "password": PASSWORD}}
    lab.run(PLAYBOOK, extra_vars=wanted)
    thumbprint = _thumbprint(gateway_cert)
    state = lab.state(HOST)
    key = state["certificates"]["My"][thumbprint]["private_key"]
    key["acl"] = [ace for ace in key["acl"] if ace["sid"] != "S-1-5-32-544"]
    (lab.root / f"{HOST}.json").write_text(json.dumps(state))
    before = lab.windows_state(HOST)
    for _run in range(2):
        run = lab.run(PLAYBOOK, extra_vars=wanted)
        (message,) = run.failure_messages(HOST)
        assert "if the key's ACL no longer grants BUILTIN\\Administrators (or this account) access, restore it" in message
    assert lab.windows_state(HOST) == before
    assert not lab.state(HOST).get("orphaned_keys"), "no key is left behind"


def test_a_key_acl_that_would_shut_out_the_connecting_administrator_is_refused(lab, gateway_cert):
    lab.add_host(HOST, groups=("gateway",))
    path = _write_pfx(lab, gateway_cert)
    refused = {"test_pfx": {"src": str(path), "password": PASSWORD,
                            "key_access": [{"principal": "BUILTIN\\Administrators", "state": "absent"}]}}
    run = lab.run(PLAYBOOK, extra_vars=refused)
    (message,) = run.failure_messages(HOST)
    assert "key_access: the change would leave the account this task runs as on the host" in message
    assert lab.round_trips(HOST) == 1, "refused after the probe, before any change"
    assert not lab.state(HOST).get("certificates", {}).get("My")

    lab.run(PLAYBOOK, extra_vars={"test_pfx": {"src": str(path), "password": PASSWORD}})
    acl = lab.run(PLAYBOOK, extra_vars={"test_acl": {"thumbprint": _thumbprint(gateway_cert),
                                                     "key_access": [{"principal": "Administrators", "state": "absent"}]}})
    (message,) = acl.failure_messages(HOST)
    assert message.startswith("pkiops.keyfactor_command.private_key_acl: key_access: the change would leave the account")


def test_an_aes_pfx_is_refused_for_a_windows_server_2016_host_and_a_legacy_one_imports(lab, gateway_cert):
    server_2016 = {"os_name": "Microsoft Windows Server 2016 Datacenter", "os_version": "10.0.14393.0"}
    lab.add_host(HOST, groups=("gateway",), seed={"host": server_2016})
    run = lab.run(PLAYBOOK, extra_vars={"test_pfx": {"src": str(_write_pfx(lab, gateway_cert)), "password": PASSWORD}})
    (message,) = run.failure_messages(HOST)
    assert "is encrypted with AES (PBES2)" in message and "this host runs Windows build 14393" in message
    assert lab.round_trips(HOST) == 1
    legacy = {"test_pfx": {"src": str(_write_pfx(lab, gateway_cert, legacy=True, name="legacy.pfx")), "password": PASSWORD}}
    assert _result(lab.run(PLAYBOOK, extra_vars=legacy), "Import the PFX")["imported"] is True


def test_the_serial_is_not_written_for_a_key_that_cannot_be_opened(lab, gateway_cert):
    lab.add_host(HOST, groups=("gateway",))
    lab.run(PLAYBOOK, extra_vars={"test_pfx": {"src": str(_write_pfx(lab, gateway_cert)), "password": PASSWORD}})
    thumbprint = _thumbprint(gateway_cert)
    _set_key(lab, thumbprint, broken=True)
    run = lab.run(PLAYBOOK, extra_vars={"test_serial": {"thumbprint": thumbprint}})
    (message,) = run.failure_messages(HOST)
    assert "the service could not decrypt with the certificate" in message and "Keyset does not exist" in message
    assert not lab.state(HOST).get("registry")


def test_a_pfx_too_large_for_a_securestring_fails_with_zero_round_trips(lab, gateway_cert, ca):
    lab.add_host(HOST, groups=("gateway",))
    extra = tuple(pki.issue(f"filler-{n}", issuer=ca[1], key=pki.new_key("ec")) for n in range(80))
    path = lab.root / "large.pfx"
    path.write_bytes(pki.pfx(gateway_cert, PASSWORD, extra=extra))
    run = lab.run(PLAYBOOK, extra_vars={"test_pfx": {"src": str(path), "password": PASSWORD}})
    (message,) = run.failure_messages(HOST)
    assert "holds at most 65,536 characters" in message
    assert lab.round_trips(HOST) == 0
