"""The stock ansible.windows stand-ins, driven through run_stock as the connection plugin drives them."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.serialization import Encoding

import pki_fixtures
from stock_harness import COMPUTER, assert_failed, new_host, run, snapshot
from winsim import models
from winsim.certificates import certificate_entry, store as certificate_store
from winsim.host import Host
from winsim.stock import installed_source, module_kind_and_check_mode
from winsim.stock.win_acl import FILE_SYSTEM_RIGHTS

PASSWORD = "Kf!Service-Pa55"
OTHER_PASSWORD = "Other#Pa55word9"

SYSTEM, ADMINISTRATORS, USERS, CREATOR_OWNER, IIS_IUSRS = "S-1-5-18", "S-1-5-32-544", "S-1-5-32-545", "S-1-3-0", "S-1-5-32-568"
FULL_CONTROL, SYNCHRONIZE = FILE_SYSTEM_RIGHTS["FullControl"], FILE_SYSTEM_RIGHTS["Synchronize"]


def test_every_stand_in_is_registered():
    for module in ("setup", "win_feature", "win_file", "win_acl", "win_group_membership", "win_user",
                   "win_certificate_store"):
        assert f"ansible.windows.{module}" in models.STOCK_MODULES


def test_check_mode_support_is_read_from_each_installed_module():
    legacy_with_check_mode = {"ansible.windows.win_feature", "ansible.windows.win_file",
                              "ansible.windows.win_group_membership"}
    for fqcn in models.STOCK_MODULES:
        kind, supported = module_kind_and_check_mode(installed_source(fqcn))
        if fqcn == "ansible.windows.win_acl":
            assert (kind, supported) == ("legacy", False)
        elif fqcn in legacy_with_check_mode:
            assert (kind, supported) == ("legacy", True), fqcn
        else:
            assert (kind, supported) == ("basic", True), fqcn


def test_an_ansible_basic_module_without_check_mode_support_is_skipped_after_its_options_are_checked():
    source = installed_source("ansible.windows.win_user").replace("supports_check_mode = $true", "")
    host = new_host()
    before = snapshot(host)
    skipped = run(host, "ansible.windows.win_user", check=True, module_source=source, name="svc", _ansible_module_name="win_user")
    assert skipped == {"skipped": True, "changed": False, "msg": "remote module (win_user) does not support check mode"}
    refused = run(host, "ansible.windows.win_user", check=True, module_source=source, name="svc", colour="blue")
    assert refused["failed"] is True and "colour" in refused["msg"]
    assert snapshot(host) == before


class TestSetup:
    """ansible.windows.setup"""

    def test_facts_come_from_the_host_and_domain_state(self):
        host = new_host()
        result = run(host, "ansible.windows.setup")
        facts = result["ansible_facts"]
        assert result["changed"] is False
        assert facts["module_setup"] is True
        assert facts["gather_subset"] == ["all"]
        assert facts["ansible_hostname"] == facts["ansible_netbios_name"] == COMPUTER
        assert facts["ansible_fqdn"] == "KF01.contoso.com"
        assert facts["ansible_os_family"] == "Windows"
        assert facts["ansible_system"] == "Win32NT"
        assert facts["ansible_distribution"] == facts["ansible_os_name"] == "Microsoft Windows Server 2022 Datacenter"
        assert facts["ansible_distribution_version"] == "10.0.20348.0"
        assert facts["ansible_windows_domain"] == "contoso.com"
        assert facts["ansible_windows_domain_member"] is True
        assert facts["ansible_windows_domain_role"] == "Member server"
        assert facts["ansible_powershell_version"] == 5
        assert facts["ansible_architecture"] == "64-bit"
        assert facts["ansible_machine_id"] == host.state["host"]["machine_sid"]

    def test_gather_subset_limits_the_facts(self):
        facts = run(new_host(), "ansible.windows.setup", gather_subset=["!all", "!min", "windows_domain"])["ansible_facts"]
        assert set(facts) == {"gather_subset", "module_setup", "ansible_windows_domain", "ansible_windows_domain_member",
                              "ansible_windows_domain_role"}

    def test_not_all_keeps_the_minimum_subset(self):
        facts = run(new_host(), "ansible.windows.setup", gather_subset=["!all"])["ansible_facts"]
        assert "ansible_distribution" in facts and "ansible_powershell_version" in facts
        assert "ansible_windows_domain" not in facts

    def test_an_unknown_subset_warns(self):
        result = run(new_host(), "ansible.windows.setup", gather_subset=["min", "gpu"])
        assert result["warnings"] == ["invalid value gpu specified in gather_subset"]

    def test_a_workgroup_host(self):
        facts = run(new_host({"domain": {"dns_name": "", "netbios_name": ""}}), "ansible.windows.setup")["ansible_facts"]
        assert facts["ansible_windows_domain"] == "WORKGROUP"
        assert facts["ansible_windows_domain_member"] is False
        assert facts["ansible_windows_domain_role"] == "Stand-alone server"
        assert facts["ansible_fqdn"] == COMPUTER


class TestWinFeature:
    """ansible.windows.win_feature"""

    @staticmethod
    def installed(host: Host) -> set[str]:
        """The names the state records as installed."""
        return {name for name, entry in host.state["features"].items() if entry["installed"]}

    def test_install_then_nothing_to_do(self):
        host = new_host()
        first = run(host, "ansible.windows.win_feature", name=["Web-Server"])
        assert first["changed"] is True
        assert first["exitcode"] == "Success"
        assert first["success"] is True and first["reboot_required"] is False
        names = [entry["display_name"] for entry in first["feature_result"]]
        assert names[0] == "Web Server (IIS)"
        assert {"Default Document", "Static Content", "HTTP Errors", "Request Filtering", "HTTP Logging"} <= set(names)
        assert set(first["feature_result"][0]) == {"id", "display_name", "message", "reboot_required", "skip_reason",
                                                   "success"}
        assert {"Web-Server", "Web-WebServer", "Web-Default-Doc", "Web-Filtering"} <= self.installed(host)
        # Only the role services Server Manager preselects come with the role.
        assert not {"Web-Basic-Auth", "Web-Windows-Auth", "Web-Mgmt-Console"} & self.installed(host)

        second = run(host, "ansible.windows.win_feature", name=["web-server"])
        assert second["changed"] is False
        assert second["exitcode"] == "NoChangeNeeded"
        assert second["feature_result"] == []

    def test_check_mode_reports_but_changes_nothing(self):
        host = new_host()
        before = snapshot(host)
        result = run(host, "ansible.windows.win_feature", check=True, name=["Web-Server", "Web-Windows-Auth"])
        assert result["changed"] is True
        assert "Windows Authentication" in [entry["display_name"] for entry in result["feature_result"]]
        assert snapshot(host) == before

    def test_web_server_grants_iis_iusrs_its_rights_once(self):
        host = new_host()
        del host.state["user_rights"]["SeImpersonatePrivilege"]
        run(host, "ansible.windows.win_feature", name=["Web-Server"])
        run(host, "ansible.windows.win_feature", name=["Web-Server"], include_sub_features=True)
        assert host.state["user_rights"]["SeImpersonatePrivilege"] == [IIS_IUSRS]
        assert host.state["user_rights"]["SeBatchLogonRight"].count(IIS_IUSRS) == 1

    def test_sub_features_and_management_tools(self):
        host = new_host()
        run(host, "ansible.windows.win_feature", name=["Web-Server"], include_sub_features=True, include_management_tools=True)
        assert {"Web-Basic-Auth", "Web-Windows-Auth", "Web-Asp-Net45", "Web-Mgmt-Console", "Web-Scripting-Tools",
                "NET-Framework-45-ASPNET"} <= self.installed(host)

    def test_management_tools_of_a_feature(self):
        host = new_host()
        run(host, "ansible.windows.win_feature", name=["Failover-Clustering"], include_management_tools=True)
        assert {"Failover-Clustering", "RSAT-Clustering-Mgmt", "RSAT-Clustering-PowerShell"} <= self.installed(host)

    def test_a_role_service_brings_its_parents_and_requirements(self):
        host = new_host()
        run(host, "ansible.windows.win_feature", name=["Web-Asp-Net45"])
        assert {"Web-Server", "Web-WebServer", "Web-App-Dev", "Web-Asp-Net45", "Web-Net-Ext45", "Web-ISAPI-Ext",
                "Web-ISAPI-Filter", "NET-Framework-45-ASPNET"} <= self.installed(host)

    def test_features_of_a_fresh_server_are_already_installed(self):
        result = run(new_host(), "ansible.windows.win_feature", name=["NET-Framework-45-Core"])
        assert result["changed"] is False

    def test_uninstall_takes_sub_features_and_dependents(self):
        host = new_host()
        run(host, "ansible.windows.win_feature", name=["Web-Server", "Web-Asp-Net45"])
        result = run(host, "ansible.windows.win_feature", name=["NET-Framework-45-ASPNET"], state="absent")
        assert result["changed"] is True
        assert not {"Web-Asp-Net45", "Web-Net-Ext45", "NET-Framework-45-ASPNET"} & self.installed(host)
        assert "Web-ISAPI-Ext" in self.installed(host)
        run(host, "ansible.windows.win_feature", name=["Web-Server"], state="absent")
        assert not {n for n in self.installed(host) if n.startswith("Web-")}
        again = run(host, "ansible.windows.win_feature", name=["Web-Server"], state="absent")
        assert again["changed"] is False and again["exitcode"] == "NoChangeNeeded"

    def test_an_unknown_feature_fails_and_installs_nothing(self):
        host = new_host()
        before = snapshot(host)
        result = run(host, "ansible.windows.win_feature", name=["Web-Server", "Web-Sever"])
        assert_failed(result, "Failed to install Windows Feature: ArgumentNotValid: The role, role service, or feature name "
                              "is not valid: 'Web-Sever'. The name was not found.")
        assert snapshot(host) == before

    def test_a_missing_source_fails(self):
        result = run(new_host(), "ansible.windows.win_feature", name=["Web-Server"], source="D:\\sources\\sxs")
        assert_failed(result, "Failed to find source path D:\\sources\\sxs for feature install")


class TestWinFeatureCatalogue:
    """ansible.windows.win_feature's catalogue, as its integration tests (tests/integration/targets/win_feature) and
    Microsoft's lists of Windows Server 2016-2022 features have it."""

    def test_telnet_client_as_the_modules_integration_tests_install_it(self):
        host = new_host()
        assert run(host, "ansible.windows.win_feature", name=["Telnet-Client"], state="absent")["changed"] is False
        installed = run(host, "ansible.windows.win_feature", name=["Telnet-Client"], include_sub_features=True,
                        include_management_tools=True)
        assert (installed["changed"], installed["exitcode"]) == (True, "Success")
        assert [entry["display_name"] for entry in installed["feature_result"]] == ["Telnet Client"]
        again = run(host, "ansible.windows.win_feature", name=["Telnet-Client"], include_sub_features=True,
                    include_management_tools=True)
        assert (again["changed"], again["exitcode"], again["feature_result"]) == (False, "NoChangeNeeded", [])
        removed = run(host, "ansible.windows.win_feature", name=["Telnet-Client"], state="absent")
        assert removed["changed"] is True and len(removed["feature_result"]) == 1
        bob = run(host, "ansible.windows.win_feature", name=["Microsoft-Bob"])
        assert bob["failed"] is True and "The name was not found" in bob["msg"]

    def test_features_of_every_version_are_known(self):
        host = new_host()
        names = ["Windows-Server-Backup", "XPS-Viewer", "SNMP-Service", "RSAT-AD-PowerShell", "FS-DFS-Replication",
                 "Hyper-V-PowerShell", "Storage-Replica", "Windows-Internal-Database", "TFTP-Client", "SMS-Proxy"]
        result = run(host, "ansible.windows.win_feature", name=names)
        assert result["changed"] is True, result
        installed = {name for name, entry in host.state["features"].items() if entry["installed"]}
        # A role service or tool brings the features above it.
        assert set(names) | {"RSAT", "RSAT-Role-Tools", "RSAT-AD-Tools", "File-Services", "RSAT-Hyper-V-Tools"} <= installed

    def test_features_that_only_some_versions_have(self):
        for os_version, present, absent in (
                ("10.0.14393.0", ("Print-Scan-Server", "ISNS", "Windows-Defender-Gui"), ("SMS", "System-Insights")),
                ("10.0.17763.0", ("ISNS", "SMS", "System-Insights"), ("Print-Scan-Server", "Windows-Defender-Gui")),
                ("10.0.20348.0", ("SMS", "System-Insights", "Windows-Defender"), ("ISNS", "Print-Scan-Server"))):
            for name in present:
                result = run(new_host({"host": {"os_version": os_version}}), "ansible.windows.win_feature", name=[name])
                assert result.get("failed") is not True, (os_version, name, result)
            for name in absent:
                result = run(new_host({"host": {"os_version": os_version}}), "ansible.windows.win_feature", name=[name])
                assert_failed(result, f"Failed to install Windows Feature: ArgumentNotValid: The role, role service, or "
                                      f"feature name is not valid: '{name}'. The name was not found.")


class TestWinFile:
    """ansible.windows.win_file"""

    def test_directory_with_parents_then_unchanged_in_any_spelling(self):
        host = new_host()
        assert run(host, "ansible.windows.win_file", path="C:\\ProgramData\\Keyfactor\\Logs", state="directory")["changed"]
        assert {"C:\\ProgramData", "C:\\ProgramData\\Keyfactor", "C:\\ProgramData\\Keyfactor\\Logs"} <= set(host.state["paths"])
        for spelling in ("C:\\ProgramData\\Keyfactor\\Logs", "c:/programdata/keyfactor/logs/", "C:\\PROGRAMDATA\\.\\Keyfactor\\Logs"):
            result = run(host, "ansible.windows.win_file", path=spelling, state="directory")
            assert result == {"changed": False}, spelling

    def test_a_new_directory_inherits_from_the_drive_root(self):
        host = new_host()
        run(host, "ansible.windows.win_file", path="C:\\Keyfactor", state="directory")
        acl = host.state["paths"]["C:\\Keyfactor"]["acl"]
        assert all(ace["inherited"] for ace in acl)
        by_principal = {(ace["sid"], ace["rights"], ace["propagation"]) for ace in acl}
        assert (SYSTEM, FULL_CONTROL, "None") in by_principal
        assert (ADMINISTRATORS, FULL_CONTROL, "None") in by_principal
        assert (USERS, FILE_SYSTEM_RIGHTS["ReadAndExecute"] | SYNCHRONIZE, "None") in by_principal
        assert (CREATOR_OWNER, FULL_CONTROL, "InheritOnly") in by_principal

    def test_check_mode_changes_nothing(self):
        host = new_host()
        before = snapshot(host)
        assert run(host, "ansible.windows.win_file", check=True, path="C:\\Keyfactor", state="directory")["changed"]
        assert run(host, "ansible.windows.win_file", check=True, path="C:\\Keyfactor\\a.txt", state="touch")["changed"]
        assert snapshot(host) == before

    def test_state_file_never_creates(self):
        result = run(new_host(), "ansible.windows.win_file", path="C:\\Keyfactor\\a.txt", state="file")
        assert_failed(result, "path C:\\Keyfactor\\a.txt will not be created")

    def test_type_mismatches_fail(self):
        host = new_host({"paths": {"C:\\Keyfactor": {"type": "directory"}, "C:\\Keyfactor\\a.txt": {"type": "file"}}})
        assert_failed(run(host, "ansible.windows.win_file", path="C:\\Keyfactor\\a.txt", state="directory"),
                      "path C:\\Keyfactor\\a.txt is not a directory")
        assert_failed(run(host, "ansible.windows.win_file", path="C:\\Keyfactor", state="file"), "path C:\\Keyfactor is not a file")
        assert run(host, "ansible.windows.win_file", path="c:\\keyfactor\\A.TXT", state="file") == {"changed": False}

    def test_touch_creates_a_file_that_inherits_object_aces(self):
        host = new_host()
        run(host, "ansible.windows.win_file", path="C:\\Keyfactor", state="directory")
        assert run(host, "ansible.windows.win_file", path="C:\\Keyfactor\\a.txt", state="touch")["changed"]
        entry = host.state["paths"]["C:\\Keyfactor\\a.txt"]
        assert entry["type"] == "file"
        assert {ace["inherit"] for ace in entry["acl"]} == {"None"}
        assert CREATOR_OWNER not in {ace["sid"] for ace in entry["acl"]}
        # touch always reports a change: it updates the timestamps.
        assert run(host, "ansible.windows.win_file", path="C:\\Keyfactor\\a.txt", state="touch")["changed"]

    def test_touch_under_a_missing_directory_fails(self):
        result = run(new_host(), "ansible.windows.win_file", path="C:\\Nope\\a.txt", state="touch")
        assert result["failed"] and "Could not find a part of the path 'C:\\Nope\\a.txt'." in result["msg"]

    def test_absent_removes_everything_below(self):
        host = new_host()
        run(host, "ansible.windows.win_file", path="C:\\Keyfactor\\Logs", state="directory")
        assert run(host, "ansible.windows.win_file", path="c:/keyfactor", state="absent")["changed"]
        assert not [p for p in host.state["paths"] if p.lower().startswith("c:\\keyfactor")]
        assert run(host, "ansible.windows.win_file", path="C:\\Keyfactor", state="absent") == {"changed": False}

    def test_a_missing_drive_fails(self):
        result = run(new_host(), "ansible.windows.win_file", path="Q:\\data", state="directory")
        assert_failed(result, "Cannot find drive. A drive with the name 'Q' does not exist.")


class TestWinAcl:
    """ansible.windows.win_acl"""

    PATH = "C:\\ProgramData\\Keyfactor"

    def host_with_service_account(self) -> tuple[Host, str]:
        """A host with a local svc account and C:\\ProgramData\\Keyfactor\\Logs."""
        host = new_host()
        sid = host.directory.add_local(host.state, "svc", "user").sid
        run(host, "ansible.windows.win_file", path=self.PATH + "\\Logs", state="directory")
        return host, sid

    def acl(self, host: Host, path: str | None = None) -> list[dict]:
        """The stored ACL of path, PATH by default."""
        return host.state["paths"][path or self.PATH]["acl"]

    def test_add_then_unchanged_for_every_spelling_of_the_same_rule(self):
        host, sid = self.host_with_service_account()
        first = run(host, "ansible.windows.win_acl", path=self.PATH, user=".\\svc", rights="Modify", type="allow")
        assert first == {"changed": True}
        explicit = [ace for ace in self.acl(host) if not ace["inherited"]]
        assert explicit == [{"sid": sid, "type": "allow", "rights": FILE_SYSTEM_RIGHTS["Modify"] | SYNCHRONIZE,
                             "inherit": "ContainerInherit, ObjectInherit", "propagation": "None", "inherited": False}]
        for user, rights, path in (("KF01\\svc", "Modify", self.PATH), ("svc", "modify, synchronize", self.PATH.lower()),
                                   (sid, "Modify", self.PATH.replace("\\", "/") + "/")):
            again = run(host, "ansible.windows.win_acl", path=path, user=user, rights=rights, type="allow")
            assert again == {"changed": False}, (user, rights, path)

    def test_inherit_takes_a_combination_of_flags_as_the_real_module_does(self):
        host, sid = self.host_with_service_account()
        result = run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="Read", type="allow",
                     inherit="ContainerInherit, ObjectInherit")
        assert result == {"changed": True}
        assert [ace["inherit"] for ace in self.acl(host) if ace["sid"] == sid] == ["ContainerInherit, ObjectInherit"]

    def test_rights_aliases_are_the_same_rule(self):
        host = self.host_with_service_account()[0]
        assert run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="CreateFiles,AppendData", type="allow")["changed"]
        again = run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="WriteData, CreateDirectories", type="allow")
        assert again["changed"] is False

    def test_an_inheritable_rule_reaches_existing_children(self):
        host, sid = self.host_with_service_account()
        run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="Modify", type="allow")
        child = [ace for ace in self.acl(host, self.PATH + "\\Logs") if ace["sid"] == sid]
        assert child == [{"sid": sid, "type": "allow", "rights": FILE_SYSTEM_RIGHTS["Modify"] | SYNCHRONIZE,
                          "inherit": "ContainerInherit, ObjectInherit", "propagation": "None", "inherited": True}]
        run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="Modify", type="allow", state="absent")
        assert sid not in {ace["sid"] for ace in self.acl(host, self.PATH + "\\Logs")}

    def test_check_mode_is_skipped_by_the_installed_3_3_0_module(self):
        # win_acl.ps1 of ansible.windows 3.3.0 calls Parse-Args without -supports_check_mode: the host skips it
        # before reading any option, so even a missing path is not reported.
        assert "$params = Parse-Args $args\n" in installed_source("ansible.windows.win_acl")
        host = self.host_with_service_account()[0]
        before = snapshot(host)
        for path in (self.PATH, "C:\\Nope"):
            result = run(host, "ansible.windows.win_acl", check=True, path=path, user="svc", rights="FullControl", type="allow")
            assert result == {"skipped": True, "changed": False, "msg": "remote module does not support check mode"}
        assert snapshot(host) == before

    def test_a_version_with_check_mode_support_reports_the_change_and_makes_none(self):
        # From ansible.windows#912 the module declares the support; the stand-in follows the source it is sent.
        source = installed_source("ansible.windows.win_acl").replace(
            "$params = Parse-Args $args\n", "$params = Parse-Args $args -supports_check_mode $true\n")
        host = self.host_with_service_account()[0]
        before = snapshot(host)
        result = run(host, "ansible.windows.win_acl", check=True, module_source=source, path=self.PATH, user="svc",
                     rights="FullControl", type="allow")
        assert result == {"changed": True}
        assert snapshot(host) == before

    def test_an_inherited_ace_does_not_satisfy_the_rule(self):
        host = self.host_with_service_account()[0]
        # Users already inherit ReadAndExecute from C:\, but win_acl only looks at explicit rules.
        assert run(host, "ansible.windows.win_acl", path=self.PATH, user="Users", rights="ReadAndExecute", type="allow")["changed"]

    def test_a_narrower_request_than_an_explicit_ace_changes_every_time(self):
        host = self.host_with_service_account()[0]
        run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="FullControl", type="allow")
        for _attempt in range(2):
            assert run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="Modify", type="allow")["changed"]
        assert [ace["rights"] for ace in self.acl(host) if not ace["inherited"]] == [FULL_CONTROL]

    def test_files_default_to_no_inheritance(self):
        host, sid = self.host_with_service_account()
        run(host, "ansible.windows.win_file", path=self.PATH + "\\app.config", state="touch")
        run(host, "ansible.windows.win_acl", path=self.PATH + "\\app.config", user="svc", rights="Read", type="allow")
        explicit = [ace for ace in self.acl(host, self.PATH + "\\app.config") if not ace["inherited"]]
        assert explicit == [{"sid": sid, "type": "allow", "rights": FILE_SYSTEM_RIGHTS["Read"] | SYNCHRONIZE,
                             "inherit": "None", "propagation": "None", "inherited": False}]

    def test_deny_rules_drop_synchronize_and_come_first(self):
        host, sid = self.host_with_service_account()
        run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="Read", type="allow")
        run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="Delete", type="deny")
        first = self.acl(host)[0]
        assert (first["sid"], first["type"], first["rights"]) == (sid, "deny", FILE_SYSTEM_RIGHTS["Delete"])

    def test_absent(self):
        host = self.host_with_service_account()[0]
        run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="Modify", type="allow")
        assert run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="Modify", type="allow", state="absent")["changed"]
        again = run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="Modify", type="allow", state="absent")
        assert again == {"changed": False}

    def test_an_unknown_principal_fails(self):
        host = self.host_with_service_account()[0]
        result = run(host, "ansible.windows.win_acl", path=self.PATH, user="CONTOSO\\nobody", rights="Read", type="allow")
        assert_failed(result, "account_name CONTOSO\\nobody is not a valid account, cannot get SID: Some or all identity "
                              "references could not be translated.")

    def test_a_missing_path_fails(self):
        host = self.host_with_service_account()[0]
        result = run(host, "ansible.windows.win_acl", path="C:\\Nope", user="svc", rights="Read", type="allow")
        assert_failed(result, "C:\\Nope file or directory does not exist on the host")

    def test_an_unknown_right_fails_as_the_cast_does(self):
        host = self.host_with_service_account()[0]
        result = run(host, "ansible.windows.win_acl", path=self.PATH, user="svc", rights="Read,Wrtie", type="allow")
        assert result["failed"] is True
        assert result["msg"].startswith(f"an error occurred when attempting to present Read,Wrtie permission(s) on {self.PATH} "
                                        'for svc - Cannot convert value "Read,Wrtie" to type '
                                        '"System.Security.AccessControl.FileSystemRights".')


class TestWinGroupMembership:
    """ansible.windows.win_group_membership"""

    def host_with_service_account(self) -> tuple[Host, str]:
        """A host with a local svc account, and its SID."""
        host = new_host()
        return host, host.directory.add_local(host.state, "svc", "user").sid

    def test_add_then_unchanged_for_every_spelling(self):
        host, sid = self.host_with_service_account()
        result = run(host, "ansible.windows.win_group_membership", name="Administrators", members=[".\\svc"])
        assert result["changed"] is True
        assert result["name"] == "Administrators"
        assert result["added"] == ["KF01\\svc"]
        assert result["members"] == ["KF01\\Administrator", "CONTOSO\\Domain Admins", "KF01\\svc"]
        assert sid in host.state["local_groups"][ADMINISTRATORS]
        for spelling in ("KF01\\svc", "svc", "kf01\\SVC", sid):
            again = run(host, "ansible.windows.win_group_membership", name="administrators", members=[spelling])
            assert again["changed"] is False and again["added"] == [], spelling

    def test_check_mode_shows_the_result_without_changing_it(self):
        host = self.host_with_service_account()[0]
        before = snapshot(host)
        result = run(host, "ansible.windows.win_group_membership", check=True, name="Administrators", members=["svc"])
        assert result["changed"] is True and "KF01\\svc" in result["members"]
        assert snapshot(host) == before

    def test_absent_and_pure(self):
        host, sid = self.host_with_service_account()
        run(host, "ansible.windows.win_group_membership", name="Administrators", members=["svc"])
        absent = run(host, "ansible.windows.win_group_membership", name="Administrators", members=["KF01\\svc"], state="absent")
        assert absent["removed"] == ["KF01\\svc"] and "added" not in absent
        pure = run(host, "ansible.windows.win_group_membership", name="Administrators",
                   members=["Administrator", "svc"], state="pure")
        assert pure["added"] == ["KF01\\svc"]
        assert pure["removed"] == ["CONTOSO\\Domain Admins"]
        assert host.state["local_groups"][ADMINISTRATORS] == [f"{host.state['host']['machine_sid']}-500", sid]

    def test_an_unknown_member_fails_and_changes_nothing(self):
        host = self.host_with_service_account()[0]
        before = snapshot(host)
        result = run(host, "ansible.windows.win_group_membership", name="Administrators", members=["svc", "CONTOSO\\ghost"])
        assert_failed(result, "account_name CONTOSO\\ghost is not a valid account, cannot get SID: Some or all identity "
                              "references could not be translated.")
        assert snapshot(host) == before

    def test_an_unresolvable_sid_fails(self):
        result = run(new_host(), "ansible.windows.win_group_membership", name="Users", members=["S-1-5-21-1-2-3-4242"])
        assert_failed(result, "failed to convert sid 'S-1-5-21-1-2-3-4242' to a logon name: Some or all identity references "
                              "could not be translated.")

    def test_the_group_is_found_by_its_bare_name_only(self):
        result = run(new_host(), "ansible.windows.win_group_membership", name="BUILTIN\\Administrators", members=["Administrator"])
        assert_failed(result, "Could not find local group BUILTIN\\Administrators")

    def test_a_local_group(self):
        host, sid = self.host_with_service_account()
        group = host.directory.add_local(host.state, "Keyfactor Operators", "group").sid
        result = run(host, "ansible.windows.win_group_membership", name="keyfactor operators", members=["svc"])
        assert result["changed"] is True
        assert host.state["local_groups"][group] == [sid]


class TestWinUser:
    """ansible.windows.win_user"""

    def test_create_then_unchanged(self):
        host = new_host()
        first = run(host, "ansible.windows.win_user", name="svc", password=PASSWORD, fullname="Keyfactor service",
                    groups=["Users"], password_never_expires=True)
        assert first["changed"] is True
        assert first["state"] == "present"
        assert first["name"] == "svc"
        assert first["path"] == "WinNT://CONTOSO/KF01/svc"
        assert first["fullname"] == "Keyfactor service"
        assert first["password_never_expires"] is True
        assert first["groups"] == [{"name": "Users", "path": "WinNT://CONTOSO/KF01/Users"}]
        assert first["sid"] == host.directory.resolve("KF01\\svc").sid
        assert first["sid"] in host.state["local_groups"][USERS]

        again = run(host, "ansible.windows.win_user", name="SVC", password=PASSWORD, fullname="Keyfactor service",
                    groups=["users"], password_never_expires=True)
        assert again["changed"] is False

    def test_the_password_is_never_stored_or_returned(self):
        host = new_host()
        results = [
            run(host, "ansible.windows.win_user", diff=True, name="svc", password=PASSWORD),
            run(host, "ansible.windows.win_user", diff=True, name="svc", password=PASSWORD),
            run(host, "ansible.windows.win_user", diff=True, name="svc", password=OTHER_PASSWORD),
            run(host, "ansible.windows.win_user", diff=True, name="svc", state="query"),
            run(host, "ansible.windows.win_user", check=True, diff=True, name="svc2", password=PASSWORD),
        ]
        assert [r["changed"] for r in results] == [True, False, True, False, True]
        assert results[2]["diff"]["after"]["password"] == "CHANGED REDACTED"
        dumped = json.dumps(results) + snapshot(host)
        assert PASSWORD not in dumped and OTHER_PASSWORD not in dumped
        stored = next(a for a in host.state["local_accounts"] if a["name"] == "svc")
        assert "password" not in stored and stored["password_sha256"]

    def test_update_password_on_create_leaves_an_existing_password(self):
        host = new_host()
        run(host, "ansible.windows.win_user", name="svc", password=PASSWORD)
        result = run(host, "ansible.windows.win_user", name="svc", password=OTHER_PASSWORD, update_password="on_create")
        assert result["changed"] is False

    def test_a_disabled_account_always_gets_its_password_set(self):
        host = new_host()
        run(host, "ansible.windows.win_user", name="svc", password=PASSWORD, account_disabled=True)
        assert run(host, "ansible.windows.win_user", name="svc", password=PASSWORD)["changed"] is True

    def test_check_mode_creates_nothing(self):
        host = new_host()
        before = snapshot(host)
        result = run(host, "ansible.windows.win_user", check=True, name="svc", password=PASSWORD, groups=["Administrators"])
        assert result == {"changed": True, "state": "present", "name": "svc"}
        assert snapshot(host) == before

    def test_a_password_the_policy_rejects_fails(self):
        host = new_host()
        before = snapshot(host)
        result = run(host, "ansible.windows.win_user", name="svc", password="svc12345")
        assert result["failed"] is True
        assert "The password does not meet the password policy requirements." in result["msg"]
        assert "svc12345" not in result["msg"]
        assert snapshot(host) == before

    def test_groups_actions(self):
        host = new_host()
        run(host, "ansible.windows.win_user", name="svc", password=PASSWORD, groups=["Users"])
        added = run(host, "ansible.windows.win_user", name="svc", groups=["S-1-5-32-559"], groups_action="add")
        assert added["changed"] is True
        assert {g["name"] for g in added["groups"]} == {"Users", "Performance Log Users"}
        removed = run(host, "ansible.windows.win_user", name="svc", groups=["Users"], groups_action="remove")
        assert [g["name"] for g in removed["groups"]] == ["Performance Log Users"]
        replaced = run(host, "ansible.windows.win_user", name="svc", groups=["Administrators", "Users"])
        assert {g["name"] for g in replaced["groups"]} == {"Administrators", "Users"}
        cleared = run(host, "ansible.windows.win_user", name="svc", groups=[""])
        assert cleared["changed"] is True and cleared["groups"] == []

    def test_an_unknown_group_fails(self):
        host = new_host()
        result = run(host, "ansible.windows.win_user", name="svc", password=PASSWORD, groups=["Userz"])
        assert_failed(result, "group 'Userz' not found")

    def test_a_built_in_group_is_not_found_under_the_computer_name(self):
        host = new_host()
        for spelling in ("KF01\\Administrators", ".\\Administrators"):
            assert_failed(run(host, "ansible.windows.win_user", name="svc", password=PASSWORD, groups=[spelling]),
                          f"group '{spelling}' not found")
        # As on Windows, the account is created before the groups are looked up.
        assert run(host, "ansible.windows.win_user", name="svc", state="query")["state"] == "present"
        assert run(host, "ansible.windows.win_user", name="svc", groups=["BUILTIN\\Administrators"])["changed"] is True
        assert run(host, "ansible.windows.win_user", name="svc", groups=["Administrators"])["changed"] is False

    def test_absent_and_query(self):
        host = new_host()
        sid = run(host, "ansible.windows.win_user", name="svc", password=PASSWORD, groups=["Users"])["sid"]
        removed = run(host, "ansible.windows.win_user", name="svc", state="absent")
        assert removed["changed"] is True and removed["msg"] == "User 'svc' deleted successfully"
        assert sid not in host.state["local_groups"][USERS]
        again = run(host, "ansible.windows.win_user", name="svc", state="absent")
        assert again == {"changed": False, "msg": "User 'svc' was not found", "state": "absent", "name": "svc"}
        query = run(host, "ansible.windows.win_user", name="Administrator", state="query")
        assert query["state"] == "present" and query["sid"].endswith("-500")

    def test_account_locked_can_only_be_cleared(self):
        assert_failed(run(new_host(), "ansible.windows.win_user", name="svc", account_locked=True),
                      "account_locked must be set to 'no' if provided")

    def test_account_expires_in_either_format_then_never(self):
        host = new_host()
        run(host, "ansible.windows.win_user", name="svc", password=PASSWORD, account_expires="2030-01-02")
        assert run(host, "ansible.windows.win_user", name="svc", account_expires="2030-01-02T00:00:00Z")["changed"] is False
        assert run(host, "ansible.windows.win_user", name="svc", account_expires="2030-01-02T01:00:00+0100")["changed"] is False
        assert run(host, "ansible.windows.win_user", name="svc", account_expires="never")["changed"] is True
        assert run(host, "ansible.windows.win_user", name="svc", account_expires="never")["changed"] is False
        assert_failed(run(host, "ansible.windows.win_user", name="svc", account_expires="02/01/2030"),
                      "Failed to parse account_expires as datetime string. Expecting datetime in yyyy-MM-dd or "
                      "yyyy-MM-ddTHH:mm:ss.FFFFFFFK format.")

    def test_fullname_compares_case_sensitively(self):
        host = new_host()
        run(host, "ansible.windows.win_user", name="svc", password=PASSWORD, fullname="Keyfactor service")
        assert run(host, "ansible.windows.win_user", name="svc", fullname="Keyfactor Service")["changed"] is True


class TestWinUserGroups:
    """ansible.windows.win_user's groups, as its integration tests (tests/integration/targets/win_user) drive them."""

    NAME = "test_win_user"

    def user(self, host: Host, **args) -> dict:
        return run(host, "ansible.windows.win_user", name=self.NAME, **args)

    def test_the_group_sequence_of_the_modules_integration_tests(self):
        host = new_host()
        created = self.user(host, password=PASSWORD, fullname="Test User", description="Test user account", groups=["Guests"])
        assert created["changed"] is True and [g["name"] for g in created["groups"]] == ["Guests"]
        assert self.user(host, password=PASSWORD, groups=["guests"])["changed"] is False
        assert self.user(host, groups=[])["groups"] == []
        assert [g["name"] for g in self.user(host, groups=["Users"])["groups"]] == ["Users"]
        added = self.user(host, groups=["S-1-5-32-547"], groups_action="add")
        assert added["changed"] is True
        assert sorted(g["name"] for g in added["groups"]) == ["Power Users", "Users"]
        assert self.user(host, groups=["S-1-5-32-547"], groups_action="add")["changed"] is False
        removed = self.user(host, groups=["Users"], groups_action="remove")
        assert [g["name"] for g in removed["groups"]] == ["Power Users"]
        replaced = self.user(host, groups="Users, Guests", groups_action="replace")
        assert sorted(g["name"] for g in replaced["groups"]) == ["Guests", "Users"]
        assert self.user(host, groups=["Users", "Guests"], groups_action="replace")["changed"] is False
        assert self.user(host, groups="")["groups"] == []
        failed = self.user(host, groups=["Userz"])
        assert failed["failed"] is True and failed["msg"].startswith("group 'Userz' not found")

    def test_a_member_server_has_the_built_in_groups_of_its_version(self):
        for os_version, has_device_owners in (("10.0.14393.0", False), ("10.0.17763.0", True), ("10.0.20348.0", True)):
            host = new_host({"host": {"os_version": os_version}})
            for group in ("Power Users", "Remote Management Users", "Event Log Readers", "Hyper-V Administrators",
                          "Storage Replica Administrators", "Access Control Assistance Operators"):
                result = run(host, "ansible.windows.win_group_membership", name=group, members=["Administrator"])
                assert result["changed"] is True, (os_version, group, result)
            device_owners = run(host, "ansible.windows.win_group_membership", name="Device Owners", members=["Administrator"])
            assert device_owners.get("failed", False) is not has_device_owners, (os_version, device_owners)


class TestWinCertificateStore:
    """ansible.windows.win_certificate_store as the collection's playbooks use it: absent by thumbprint. Reading a
    certificate file is the bench's (tests/unit/bench/test_windows_sim_stock.py)."""

    @staticmethod
    def host_with_certificate() -> tuple[Host, str]:
        host = new_host()
        thumbprint, entry = certificate_entry(pki_fixtures.issue("subject.ansible.com").cert)
        certificate_store(host.state, "My")[thumbprint] = entry
        return host, thumbprint

    def store(self, host: Host, **args) -> dict:
        return run(host, "ansible.windows.win_certificate_store", **args)

    def test_absent_by_thumbprint_in_any_case(self):
        host, thumbprint = self.host_with_certificate()
        assert_failed(self.store(host, state="absent"),
                      "state is absent but any of the following are missing: path, thumbprint")
        assert_failed(self.store(host, state="absent", thumbprint=thumbprint, store_name="FakeName"),
                      "unable to find store 'FakeName': (CertOpenStore failed (The system cannot find the file "
                      "specified, Win32ErrorCode 2 - 0x00000002))")
        before = snapshot(host)
        assert self.store(host, check=True, state="absent", thumbprint=thumbprint.lower()) == {
            "changed": True, "thumbprints": [thumbprint.lower()]}
        assert snapshot(host) == before
        assert self.store(host, state="absent", thumbprint=thumbprint.lower()) == {
            "changed": True, "thumbprints": [thumbprint.lower()]}
        assert thumbprint not in host.state["certificates"]["My"]
        assert self.store(host, state="absent", thumbprint=thumbprint) == {"changed": False, "thumbprints": [thumbprint]}

    def test_a_certificate_file_is_not_read_without_the_benchs_branch(self):
        path = "C:\\Temp\\subj-cert.pem"
        pem = pki_fixtures.issue("subject.ansible.com").cert.public_bytes(Encoding.PEM)
        host = new_host({"paths": {path: {"type": "file", "content": base64.b64encode(pem).decode()}}})
        before = snapshot(host)
        for args in ({"state": "present"}, {"state": "absent"}):
            assert_failed(self.store(host, path=path, **args),
                          "windows_sim does not model reading certificate files with ansible.windows.win_certificate_store")
        assert snapshot(host) == before
