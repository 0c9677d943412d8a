"""The bench's stand-ins of the stock modules and module branches only its baselines use
(tests/bench/windows_sim_stock/), loaded through WINDOWS_SIM_MODELS as tools/bench.py loads them and driven through
run_stock as the connection plugin drives them.

Without that variable the simulator does not know them, as it knows no module it does not model.
"""

from __future__ import annotations

import base64
import json
import pathlib

import pytest
from ansible.executor.powershell import module_manifest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

import pki_fixtures
from stock_harness import COMPUTER, assert_failed, new_host, run, snapshot
from winsim import host as simulated_host
from winsim import models
from winsim.certificates import certificate_entry, store as certificate_store
from winsim.host import Host
from winsim.stock import installed_source, module_kind_and_check_mode

REPO = pathlib.Path(__file__).resolve().parents[3]
BENCH_STOCK = REPO / "tests" / "bench" / "windows_sim_stock"
MODULES = REPO / ".cache" / "collections" / "ansible_collections" / "ansible" / "windows" / "plugins" / "modules"
BENCH_ONLY = ("ansible.windows.win_user_right", "ansible.windows.win_certificate_info", "ansible.windows.win_regedit",
              "ansible.windows.win_service_info", "microsoft.iis.web_app_pool")
USERS = "S-1-5-32-545"


def _load(monkeypatch, bench_stand_ins: bool) -> None:
    """models.load_all() as a simulated run calls it, with or without the bench's stand-ins in WINDOWS_SIM_MODELS."""
    monkeypatch.setattr(models, "_LOADED_EXTRA", set())
    if bench_stand_ins:
        monkeypatch.setenv(models.EXTRA_MODELS_VARIABLE, str(BENCH_STOCK))
    else:
        monkeypatch.delenv(models.EXTRA_MODELS_VARIABLE, raising=False)
    models.load_all()


@pytest.fixture(name="restore_stock_modules")
def fixture_restore_stock_modules():
    """Puts the registered stand-ins back as they were, so that no other test sees the bench's."""
    stock_modules = dict(models.STOCK_MODULES)
    yield
    models.STOCK_MODULES.clear()
    models.STOCK_MODULES.update(stock_modules)


@pytest.fixture(name="with_bench_stand_ins")
def fixture_with_bench_stand_ins(restore_stock_modules, monkeypatch):  # pylint: disable=unused-argument
    """The bench's stand-ins, loaded as tools/bench.py has the simulator load them."""
    _load(monkeypatch, bench_stand_ins=True)


@pytest.fixture(name="without_bench_stand_ins")
def fixture_without_bench_stand_ins(restore_stock_modules, monkeypatch):  # pylint: disable=unused-argument
    """The simulator as every other run has it."""
    _load(monkeypatch, bench_stand_ins=False)


def exec_wrapper_input(module: str, module_args: dict) -> bytes:
    """What ansible-core pipes to a Windows host to run ansible.windows.<module>."""
    source = MODULES / f"{module}.ps1"
    return module_manifest._create_powershell_wrapper(  # pylint: disable=protected-access
        name=f"ansible_collections.ansible.windows.plugins.modules.{module}", module_data=source.read_bytes(),
        module_path=str(source), module_args=module_args, environment={}, async_timeout=0, become_plugin=None,
        substyle="powershell", task_vars={}, profile="legacy")


# === the hook =====================================================================================


@pytest.mark.usefixtures("without_bench_stand_ins")
def test_a_run_without_the_hook_knows_none_of_them():
    assert not set(BENCH_ONLY) & set(models.STOCK_MODULES)
    assert "ansible.windows.win_acl" in models.STOCK_MODULES


@pytest.mark.usefixtures("with_bench_stand_ins")
def test_every_stand_in_is_registered():
    for fqcn in BENCH_ONLY:
        assert fqcn in models.STOCK_MODULES


@pytest.mark.parametrize("hooked", [False, True])
def test_the_host_refuses_a_module_it_does_not_model_unless_the_run_brings_it(hooked, request, tmp_path):
    request.getfixturevalue("with_bench_stand_ins" if hooked else "without_bench_stand_ins")
    state_path = tmp_path / "kf01.json"
    state_path.write_text(json.dumps({"services": {"WinRM": {"display_name": "Windows Remote Management"}}}))
    result = simulated_host.execute(str(state_path), COMPUTER, exec_wrapper_input("win_service_info", {"name": "winrm"}))[0]
    if hooked:
        assert [service["name"] for service in result["services"]] == ["WinRM"]
    else:
        assert result["failed"] is True
        assert result["msg"].startswith("windows_sim does not simulate the module ansible.windows.win_service_info;")


@pytest.mark.usefixtures("with_bench_stand_ins")
def test_check_mode_support_is_read_from_each_installed_module():
    for fqcn in BENCH_ONLY:
        assert module_kind_and_check_mode(installed_source(fqcn)) == ("basic", True), fqcn


# === win_acl on a certificate's private key ==========================================================


class TestWinAclCertificateKey:
    """ansible.windows.win_acl on Cert:\\LocalMachine\\<store>\\<thumbprint>, the branch the bench adds to the
    simulator's own win_acl stand-in."""

    @staticmethod
    def host_with_key() -> tuple[Host, str]:
        host = new_host()
        issued = pki_fixtures.issue("gateway.contoso.com")
        thumbprint, entry = certificate_entry(issued.cert, issued.key)
        certificate_store(host.state, "My")[thumbprint] = entry
        return host, f"Cert:\\LocalMachine\\My\\{thumbprint}"

    @staticmethod
    def key_acl(host: Host) -> list[dict]:
        (entry,) = host.state["certificates"]["My"].values()
        return entry["private_key"]["acl"]

    @pytest.mark.usefixtures("without_bench_stand_ins")
    def test_without_the_hook_the_simulators_stand_in_refuses_the_path(self):
        host, path = self.host_with_key()
        assert_failed(run(host, "ansible.windows.win_acl", path=path, user="Users", rights="Read", type="allow"),
                      f"windows_sim models win_acl on file-system paths only, not '{path}'")

    @pytest.mark.usefixtures("with_bench_stand_ins")
    def test_read_is_granted_once_and_removed(self):
        host, path = self.host_with_key()
        before = snapshot(host)
        skipped = run(host, "ansible.windows.win_acl", check=True, path=path, user="Users", rights="Read", type="allow")
        assert skipped == {"skipped": True, "changed": False, "msg": "remote module does not support check mode"}
        assert snapshot(host) == before
        assert run(host, "ansible.windows.win_acl", path=path, user="Users", rights="Read", type="allow") == {"changed": True}
        assert [ace for ace in self.key_acl(host) if ace["sid"] == USERS] == [
            {"sid": USERS, "type": "allow", "rights": -2146303863, "inherited": False}]
        assert run(host, "ansible.windows.win_acl", path=path, user="BUILTIN\\Users", rights="read", type="allow") == {
            "changed": False}
        assert run(host, "ansible.windows.win_acl", path=path, user="Users", rights="Read", type="allow",
                   state="absent") == {"changed": True}
        assert not [ace for ace in self.key_acl(host) if ace["sid"] == USERS]

    @pytest.mark.usefixtures("with_bench_stand_ins")
    def test_a_missing_certificate_and_a_file_system_path(self):
        host, path = self.host_with_key()
        assert_failed(run(host, "ansible.windows.win_acl", path=path[:-4] + "0000", user="Users", rights="Read",
                          type="allow"),
                      f"Cannot find path '{path[:-4]}0000' because it does not exist.")
        # Any other path is the simulator's own stand-in's.
        assert_failed(run(host, "ansible.windows.win_acl", path="C:\\Missing", user="Users", rights="Read", type="allow"),
                      "C:\\Missing file or directory does not exist on the host")


@pytest.mark.usefixtures("with_bench_stand_ins")
class TestWinCertificateStore:
    """ansible.windows.win_certificate_store reading certificate files, the branch the bench adds to the simulator's
    own stand-in, as the module's integration tests (tests/integration/targets/win_certificate_store) drive it."""

    DIR = "C:\\Temp\\certs"

    @staticmethod
    def seed(files: dict[str, bytes]) -> Host:
        """A host with files under DIR, their bytes in content as the simulator keeps them."""
        return new_host({"paths": {f"{TestWinCertificateStore.DIR}\\{name}": {
            "type": "file", "content": base64.b64encode(data).decode()} for name, data in files.items()}})

    def store(self, host: Host, **args) -> dict:
        return run(host, "ansible.windows.win_certificate_store", **args)

    def test_the_required_if_rules_and_an_unknown_location_or_store(self):
        root = pki_fixtures.issue("root.ansible.com", ca=True)
        host = self.seed({"subj-cert.pem": root.cert.public_bytes(Encoding.PEM)})
        path = f"{self.DIR}\\subj-cert.pem"
        assert_failed(self.store(host, state="present"), "state is present but all of the following are missing: path")
        assert_failed(self.store(host, state="exported", thumbprint="ABC"),
                      "state is exported but all of the following are missing: path")
        assert_failed(self.store(host, state="exported", path=self.DIR),
                      "state is exported but all of the following are missing: thumbprint")
        assert_failed(self.store(host, state="absent"),
                      "state is absent but any of the following are missing: path, thumbprint")
        assert_failed(self.store(host, state="present", path=path, store_location="FakeLocation"),
                      "value of store_location must be one of: CurrentUser, LocalMachine. Got no match for: FakeLocation")
        failed = self.store(host, state="present", path=path, store_name="FakeName")
        assert_failed(failed, "unable to find store 'FakeName': (CertOpenStore failed (The system cannot find the file "
                              "specified, Win32ErrorCode 2 - 0x00000002))")
        assert not host.state.get("certificates", {}).get("FakeName")
        assert self.store(host, state="present", path=path, store_name="CertificateAuthority")["changed"] is True
        assert pki_fixtures.thumbprint(root) in host.state["certificates"]["CA"]

    def test_pkcs7_chains_in_pem_and_der_are_imported_whole(self):
        root = pki_fixtures.issue("root.ansible.com", ca=True)
        subject = pki_fixtures.issue("subject.ansible.com", issuer=root)
        bundle = [subject.cert, root.cert]
        host = self.seed({"chain.pem": pkcs7.serialize_certificates(bundle, Encoding.PEM),
                          "chain.p7b": pkcs7.serialize_certificates(bundle, Encoding.DER)})
        expected = {pki_fixtures.thumbprint(subject), pki_fixtures.thumbprint(root)}
        for name, store_name in (("chain.pem", "My"), ("chain.p7b", "CA")):
            path = f"{self.DIR}\\{name}"
            before = snapshot(host)
            check = self.store(host, check=True, path=path, store_name=store_name)
            assert check["changed"] is True and set(check["thumbprints"]) == expected
            assert snapshot(host) == before
            imported = self.store(host, path=path, store_name=store_name)
            assert imported["changed"] is True and set(host.state["certificates"][store_name]) == expected
            assert self.store(host, path=path, store_name=store_name)["changed"] is False

    def test_absent_by_thumbprint_or_by_file(self):
        cert = pki_fixtures.issue("subject.ansible.com")
        thumbprint = pki_fixtures.thumbprint(cert)
        host = self.seed({"subj-cert.cer": cert.cert.public_bytes(Encoding.DER)})
        path = f"{self.DIR}\\subj-cert.cer"
        self.store(host, path=path)
        assert self.store(host, check=True, state="absent", thumbprint=thumbprint) == {
            "changed": True, "thumbprints": [thumbprint]}
        assert self.store(host, state="absent", path=path) == {"changed": True, "thumbprints": [thumbprint]}
        assert thumbprint not in host.state["certificates"]["My"]
        assert self.store(host, state="absent", thumbprint=thumbprint.lower()) == {
            "changed": False, "thumbprints": [thumbprint.lower()]}


@pytest.mark.usefixtures("with_bench_stand_ins")
class TestWinRegedit:
    """ansible.windows.win_regedit, as its integration tests (tests/integration/targets/win_regedit) drive it."""

    PATH = "HKLM:\\Software\\Moo []{}!@#$%^&*()-_=+/key'\"?<>"
    BELOW = PATH[len("HKLM:\\"):]
    # type, data1, data2, what the registry holds for no data, data1 and data2
    TYPES = (
        ("dword", 1337, 0xFFFFFFFF, 0, 1337, 4294967295),
        ("qword", 18446744073709551615, 0x1FFFFFFFF, 0, 18446744073709551615, 8589934591),
        ("string", "hello world", "new hello world", "", "hello world", "new hello world"),
        ("expandstring", "%windir%\\test", "%AppData%\\local", "", "%windir%\\test", "%AppData%\\local"),
        ("multistring", "entry1", ["entry1", 2], [], ["entry1"], ["entry1", "2"]),
        ("binary", "hex:00,01,ee,ff", [0xFF, 0xEE, 0x01, 0x00], [], [0x00, 0x01, 0xEE, 0xFF], [0xFF, 0xEE, 0x01, 0x00]),
        ("none", "aa,bb,be,ef", [0x01, 0x02], [], [0xAA, 0xBB, 0xBE, 0xEF], [0x01, 0x02]),
    )

    def regedit(self, host: Host, **args) -> dict:
        return run(host, "ansible.windows.win_regedit", **{"path": self.PATH, **args})

    def values(self, host: Host, below: str | None = None) -> dict | None:
        return (host.state.get("registry") or {}).get(below or self.BELOW)

    def test_each_type_is_created_empty_then_with_data_then_changed(self):
        host = new_host()
        for kind, data1, data2, empty, held1, held2 in self.TYPES:
            for name, data, held in ((f"empty_{kind}", None, empty), (f"data_{kind}", data1, held1)):
                extra = {} if data is None else {"data": data}
                before = snapshot(host)
                check = self.regedit(host, check=True, name=name, type=kind, **extra)
                assert (check["changed"], check["data_changed"], check["data_type_changed"]) == (True, False, False), kind
                assert snapshot(host) == before
                created = self.regedit(host, name=name, type=kind, **extra)
                assert (created["changed"], created["data_changed"], created["data_type_changed"]) == (True, False, False)
                assert self.values(host)[name]["data"] == held, (kind, self.values(host)[name])
                assert self.regedit(host, name=name, type=kind, **extra)["changed"] is False, kind
            changed = self.regedit(host, name=f"data_{kind}", type=kind, data=data2)
            assert (changed["changed"], changed["data_changed"], changed["data_type_changed"]) == (True, True, False)
            assert self.values(host)[f"data_{kind}"]["data"] == held2, kind
            assert self.regedit(host, name=f"data_{kind}", type=kind, data=data2)["changed"] is False, kind

    def test_numbers_and_paths_are_refused_as_the_module_refuses_them(self):
        host = new_host()
        assert_failed(self.regedit(host, name="test", data=0xFFFFFFFF1, type="dword"),
                      "data cannot be larger than 0xffffffff when type is dword")
        assert_failed(self.regedit(host, name="test", data=0xFFFFFFFFFFFFFFFF1, type="qword"),
                      "data cannot be larger than 0xffffffffffffffff when type is qword")
        assert_failed(self.regedit(host, name="test", data=1.1, type="dword"),
                      "data '1.1' cannot be a decimal or float value with a remainder when type is dword or qword")
        assert_failed(run(host, "ansible.windows.win_regedit", path="ABCD:\\efg"),
                      "path: ABCD:\\efg is not a valid powershell path, see module documentation for examples.")
        assert_failed(run(host, "ansible.windows.win_regedit", path="HKEY_LOCAL_MACHINE\\SOFTWARE\\Keyfactor", name="a",
                          data="b"),
                      "path: HKEY_LOCAL_MACHINE\\SOFTWARE\\Keyfactor is not a valid powershell path, see module "
                      "documentation for examples.")
        assert "registry" not in host.state or not host.state["registry"]
        # Whole numbers written as decimals, hexadecimal strings and -1 are DWORDs too.
        assert self.regedit(host, name="n", data=2.0, type="dword")["changed"] is True
        assert self.values(host)["n"] == {"kind": "DWord", "data": 2}
        self.regedit(host, name="n", data="0xffffffff", type="dword")
        assert self.values(host)["n"]["data"] == 0xFFFFFFFF
        assert self.regedit(host, name="n", data=-1, type="dword")["changed"] is False

    def test_a_changed_type_is_written_and_reported(self):
        host = new_host()
        self.regedit(host, name="data_string", data="new hello world")
        check = self.regedit(host, check=True, name="data_string", data="hex:00,01", type="binary")
        assert (check["changed"], check["data_changed"], check["data_type_changed"]) == (True, True, True)
        assert self.values(host)["data_string"] == {"kind": "String", "data": "new hello world"}
        self.regedit(host, name="data_string", data="hex:00,01", type="binary")
        assert self.values(host)["data_string"] == {"kind": "Binary", "data": [0, 1]}

    def test_the_default_value_and_a_value_named_default(self):
        host = new_host()
        self.regedit(host, state="present")
        check = self.regedit(host, check=True, data="default value")
        assert check["changed"] is True and "" not in self.values(host)
        assert self.regedit(host, data="default value")["changed"] is True
        assert self.values(host)[""] == {"kind": "String", "data": "default value"}
        assert self.regedit(host, name="", data="default value")["changed"] is False
        self.regedit(host, name="(Default)", data="custom default value", type="expandstring")
        assert self.values(host)["(Default)"] == {"kind": "ExpandString", "data": "custom default value"}
        assert self.values(host)[""]["data"] == "default value"

        warned = self.regedit(host, data=1, type="dword")
        assert warned["warnings"] == ["the data type when name is not specified can only be 'string', the type has "
                                      "automatically been converted"]
        assert self.values(host)[""] == {"kind": "String", "data": "1"}

        check = self.regedit(host, check=True, state="absent", delete_key=False)
        assert check["changed"] is True and "" in self.values(host)
        assert self.regedit(host, state="absent", delete_key=False)["changed"] is True
        assert "" not in self.values(host) and "(Default)" in self.values(host)
        self.regedit(host, data="default value")
        assert self.regedit(host, name="(Default)", state="absent", delete_key=False)["changed"] is True
        assert set(self.values(host)) == {""}

    def test_a_key_is_deleted_with_its_subkeys(self):
        host = new_host()
        for sub in ("nest1", "nest2", "nest1\\nested"):
            self.regedit(host, path=f"{self.PATH}\\{sub}", state="present")
        before = snapshot(host)
        assert self.regedit(host, check=True, state="absent", delete_key=True)["changed"] is True
        assert snapshot(host) == before
        assert self.regedit(host, state="absent", delete_key=True)["changed"] is True
        assert not [k for k in host.state["registry"] if k.lower().startswith(self.BELOW.lower())]
        assert self.regedit(host, state="absent", delete_key=True)["changed"] is False

    def test_a_new_key_without_a_value_and_the_diff(self):
        host = new_host()
        created = self.regedit(host, path=f"{self.PATH}\\new", diff=True)
        assert (created["changed"], created["data_changed"], created["data_type_changed"]) == (True, False, False)
        assert created["diff"] == {"before": {}, "after": {f"{self.PATH}\\new": {}}}
        assert self.values(host, f"{self.BELOW}\\new") == {}
        changed = self.regedit(host, path=f"{self.PATH}\\new", name="level", data=7, type="dword", diff=True)
        assert changed["diff"] == {"before": {f"{self.PATH}\\new": {}},
                                   "after": {f"{self.PATH}\\new": {"level": {"type": "DWord", "value": "0x00000007"}}}}


@pytest.mark.usefixtures("with_bench_stand_ins")
class TestWebAppPool:
    """microsoft.iis.web_app_pool, as its integration tests (tests/integration/targets/web_app_pool) drive it."""

    NAME = "ansible_test_pool"

    @staticmethod
    def iis_host() -> Host:
        host = new_host()
        run(host, "ansible.windows.win_feature", name=["Web-Server"])
        return host

    def pool(self, host: Host, **args) -> dict:
        return run(host, "microsoft.iis.web_app_pool", name=self.NAME, **args)

    def test_attributes_of_the_modules_integration_tests(self):
        host = self.iis_host()
        assert self.pool(host, state="present")["changed"] is True
        first = {"managedPipelineMode": 1, "cpu.limit": 95, "processModel.identityType": "LocalSystem",
                 "processModel.loadUserProfile": True}
        before = snapshot(host)
        assert self.pool(host, check=True, state="present", attributes=first)["changed"] is True
        assert snapshot(host) == before
        assert self.pool(host, state="present", attributes=first)["changed"] is True
        pool = host.state["iis"]["app_pools"][self.NAME]
        assert (pool["pipeline_mode"], pool["cpu_limit"], pool["identity_type"]) == ("Classic", 95, "LocalSystem")
        assert self.pool(host, state="present", attributes=first)["changed"] is False

        assert self.pool(host, state="present", attributes={"queueLength": 500})["changed"] is True
        assert host.state["iis"]["app_pools"][self.NAME]["queue_length"] == 500
        assert self.pool(host, state="present", attributes={"queueLength": "500"})["changed"] is False

        schedule = {"recycling.periodicRestart.schedule": "00:10:00,10:10:00"}
        before = snapshot(host)
        assert self.pool(host, check=True, state="present", attributes=schedule)["changed"] is True
        assert snapshot(host) == before
        assert self.pool(host, state="present", attributes=schedule)["changed"] is True
        assert host.state["iis"]["app_pools"][self.NAME]["periodic_restart_schedule"] == ["00:10:00", "10:10:00"]
        again = {"recycling.periodicRestart.schedule": ["00:10:00", "10:10:00"]}
        assert self.pool(host, state="present", attributes=again)["changed"] is False

    def test_values_iis_refuses_and_unknown_attributes_fail_naming_them(self):
        host = self.iis_host()
        self.pool(host, state="present")
        assert_failed(self.pool(host, attributes={"queueLength": 5}),
                      f"Failed to set attribute to Web App Pool {self.NAME}. Attribute: queueLength, Value: 5, "
                      "Exception: Value must be between 10 and 65535")
        assert_failed(self.pool(host, attributes={"cpu.limit": 100001}),
                      f"Failed to set attribute to Web App Pool {self.NAME}. Attribute: cpu.limit, Value: 100001, "
                      "Exception: Value must be between 0 and 100000")
        failed = self.pool(host, attributes={"recycling.periodicRestart.schedule": "25:00:00"})
        assert failed["failed"] is True and "Attribute: recycling.periodicRestart.schedule, Value: 25:00:00" in failed["msg"]
        assert_failed(self.pool(host, attributes={"cpu.action": "KillW3wp"}),
                      "windows_sim does not model the application pool attribute 'cpu.action'")


@pytest.mark.usefixtures("with_bench_stand_ins")
class TestWinServiceInfo:
    """ansible.windows.win_service_info"""

    SEED = {"services": {
        "WinRM": {"display_name": "Windows Remote Management (WS-Management)", "state": "running", "start_mode": "auto",
                  "path": "C:\\Windows\\System32\\svchost.exe -k NetworkService -p", "username": "NT AUTHORITY\\NetworkService",
                  "dependencies": ["RPCSS", "HTTP"]},
        "HTTP": {"display_name": "HTTP Service", "state": "running", "start_mode": "manual"},
        "KeyfactorCommandService": {"display_name": "Keyfactor Command Service", "state": "stopped", "start_mode": "auto",
                                    "username": "CONTOSO\\svc-kf$", "description": "Keyfactor Command"},
        "winmgmt": {"display_name": "Windows Management Instrumentation", "state": "running", "start_mode": "auto"},
    }}

    def test_by_name_case_insensitively(self):
        result = run(new_host(self.SEED), "ansible.windows.win_service_info", name="winrm")
        assert result["changed"] is False and result["exists"] is True
        (service,) = result["services"]
        assert service["name"] == "WinRM"
        assert service["state"] == "started"
        assert service["start_mode"] == "auto"
        assert service["username"] == "NT AUTHORITY\\NetworkService"
        assert service["dependencies"] == ["RPCSS", "HTTP"]
        assert {"checkpoint", "controls_accepted", "dependency_of", "description", "desktop_interact", "display_name",
                "error_control", "failure_actions", "launch_protection", "path", "process_id", "service_type", "sid_info",
                "triggers", "wait_hint_ms", "win32_exit_code"} <= set(service)

    def test_by_display_name_and_defaults(self):
        (service,) = run(new_host(self.SEED), "ansible.windows.win_service_info", name="HTTP Service")["services"]
        assert service["name"] == "HTTP"
        assert service["username"] == "NT AUTHORITY\\SYSTEM"
        assert service["dependency_of"] == ["WinRM"]
        assert service["description"] == ""

    def test_wildcards_match_names_and_no_name_lists_all(self):
        host = new_host(self.SEED)
        assert [s["name"] for s in run(host, "ansible.windows.win_service_info", name="win*")["services"]] == ["winmgmt", "WinRM"]
        assert [s["name"] for s in run(host, "ansible.windows.win_service_info")["services"]] == [
            "HTTP", "KeyfactorCommandService", "winmgmt", "WinRM"]
        stopped = run(host, "ansible.windows.win_service_info", name="Keyfactor*")["services"][0]
        assert (stopped["state"], stopped["process_id"], stopped["username"]) == ("stopped", 0, "CONTOSO\\svc-kf$")

    def test_a_missing_service(self):
        assert run(new_host(self.SEED), "ansible.windows.win_service_info", name="W3SVC") == {
            "changed": False, "exists": False, "services": []}


@pytest.mark.usefixtures("with_bench_stand_ins")
class TestWinUserRight:
    """ansible.windows.win_user_right, as its integration tests (tests/integration/targets/win_user_right) drive it."""

    RIGHT = "SeRelabelPrivilege"
    ADMIN = f"{COMPUTER}\\Administrator"

    def right(self, host: Host, **args) -> dict:
        return run(host, "ansible.windows.win_user_right", name=self.RIGHT, **args)

    def holders(self, host: Host) -> list[str]:
        return [host.directory.name_of(sid) for sid in host.state["user_rights"].get(self.RIGHT, [])]

    def test_an_unknown_account_fails_with_the_modules_own_message(self):
        host = new_host()
        assert_failed(self.right(host, users=["FakeUser"]), "Failed to translate the account 'FakeUser' to a SID")
        # The users are translated before the right is looked up.
        result = run(host, "ansible.windows.win_user_right", name="FailRight", users=["FakeUser"])
        assert_failed(result, "Failed to translate the account 'FakeUser' to a SID")
        result = run(host, "ansible.windows.win_user_right", name="FailRight", users=["Administrator"])
        assert_failed(result, "the specified right FailRight is not a valid right")

    def test_removed_follows_the_order_the_users_were_given(self):
        host = new_host()
        added = self.right(host, users=["Administrator", "Administrators"], action="add")
        assert added["added"] == [self.ADMIN, "BUILTIN\\Administrators"]
        added = self.right(host, users=["Administrator", "Guests", f"{COMPUTER}\\Users"], action="add")
        assert added["added"] == ["BUILTIN\\Guests", "BUILTIN\\Users"]
        assert self.holders(host) == [self.ADMIN, "BUILTIN\\Administrators", "BUILTIN\\Guests", "BUILTIN\\Users"]

        check = self.right(host, check=True, users=["Guests", "Administrator"], action="remove")
        assert (check["changed"], check["added"], check["removed"]) == (True, [], ["BUILTIN\\Guests", self.ADMIN])
        removed = self.right(host, users=["Guests", "Administrator"], action="remove")
        assert removed["removed"] == ["BUILTIN\\Guests", self.ADMIN]
        assert self.holders(host) == ["BUILTIN\\Administrators", "BUILTIN\\Users"]
        assert self.right(host, users=["Guests", "Administrator"], action="remove") == {
            "changed": False, "added": [], "removed": []}

    def test_set_adds_in_the_users_order_and_removes_the_others(self):
        host = new_host()
        self.right(host, users=["Administrators", "Users"], action="set")
        result = self.right(host, diff=True, users=["Administrators", "SYSTEM", "Backup Operators"], action="set")
        assert result["added"] == ["NT AUTHORITY\\SYSTEM", "BUILTIN\\Backup Operators"]
        assert result["removed"] == ["BUILTIN\\Users"]
        assert result["diff"] == {
            "before": {self.RIGHT: ["BUILTIN\\Administrators", "BUILTIN\\Users"]},
            "after": {self.RIGHT: ["BUILTIN\\Administrators", "NT AUTHORITY\\SYSTEM", "BUILTIN\\Backup Operators"]}}

    def test_an_orphaned_holder_is_removed_by_its_sid(self):
        host = new_host()
        sid = host.directory.add_local(host.state, "test ansible", "user").sid
        self.right(host, users=["test ansible"], action="add")
        run(host, "ansible.windows.win_user", name="test ansible", state="absent")
        result = self.right(host, users=["Administrators"], action="set")
        assert (result["added"], result["removed"]) == (["BUILTIN\\Administrators"], [sid])
