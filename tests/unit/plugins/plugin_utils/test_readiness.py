"""pkiops.keyfactor_command.readiness_info on the controller: each kind of requirement judged against a probe's answer."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._readiness_info_spec import ARGUMENT_SPEC, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import UnexpectedProbeResult
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._readiness import (
    CATEGORIES,
    evaluate,
    normalise,
    probe_parameters,
    summary,
)
from plugins.plugin_utils.spec_options import validated

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
THUMBPRINT = "9F2C1A7E5B3D4C6A8E0F1B2D3C4E5F60718293A4"
PFX_THUMBPRINT = "0123456789ABCDEF0123456789ABCDEF01234567"
SERIAL = "00A1B2C3D4E5F6"
NS, NS_SID = "NT AUTHORITY\\NETWORK SERVICE", "S-1-5-20"
SVC, SVC_SID = "CONTOSO\\svc_keyfactor", "S-1-5-21-1004336348-1177238915-682003330-1105"
LOCAL_SVC_SID = "S-1-5-21-3623811015-3361044348-30300820-1013"
USERS, USERS_SID = "BUILTIN\\Users", "S-1-5-32-545"
LOGS = "C:\\Keyfactor\\logs"
GATEWAY = "Keyfactor Managed CA Gateway"
CHECKPOINT = "SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters"
# FileSystemRights: CreateFiles | AppendData, what a log directory needs by default.
WRITE_LOGS = 0x2 | 0x4
CI_OI = "ContainerInherit, ObjectInherit"
FULL_KEY, READ_KEY = 0xD01F01FF, 0x80120089


def requirements(*entries: dict) -> list[dict]:
    """Requirements as the action plugin hands them to evaluate: validated by the spec, then normalised."""
    options = validated(ARGUMENT_SPEC, {"requirements": [dict(e) for e in entries]}, SPEC_RULES)
    return normalise(options["requirements"], lambda entry, where: PFX_THUMBPRINT)


def account(reference: str, sid: str | None, error: str | None = None) -> dict:
    return {"input": reference, "sid": sid, "name": reference if sid else None, "error": error}


ACCOUNTS = [account(NS, NS_SID), account(SVC, SVC_SID), account(USERS, USERS_SID), account(".\\svc", LOCAL_SVC_SID),
            account("WEB01\\svc", LOCAL_SVC_SID), account("CONTOSO\\gone", None, "Some or all identity references could not be translated.")]


def probe(**parts) -> dict:
    """What readiness_info.ps1 returns when nothing was asked of a part; parts replace whole reports."""
    current = {
        "rights": {"error": None, "holders": {}},
        "accounts": ACCOUNTS,
        "groups": {},
        "paths": {},
        "features": {"error": None, "installed": {}},
        "iis": {"installed": True, "error": None, "pools": {}},
        "certificates": [],
        "registry": [],
        "cluster": {"error": None, "cluster": None, "roles": {}, "services": []},
        "co_location": None,
    }
    current.update(parts)
    return current


def judge(entry: dict, current: dict) -> dict:
    """The one result of one requirement."""
    results = evaluate(requirements(entry), current, NOW)
    assert len(results) == 1
    return results[0]


def verdict(result: dict) -> tuple[str, str]:
    return result["status"], result["observed"]


# --- co_location -----------------------------------------------------------------------------------------------------------


def co_located(*services: str, error: str | None = None) -> dict:
    return probe(co_location={"error": error, "services": list(services)})


def test_a_server_without_a_ca_or_sql_server_passes():
    result = judge({"kind": "co_location"}, co_located())
    assert verdict(result) == ("pass", "none")
    assert result["category"] == "co_location" and result["title"] == "Not a certificate authority or SQL Server"


@pytest.mark.parametrize("services, observed", [
    (["CertSvc"], "CertSvc"),
    (["MSSQLSERVER"], "MSSQLSERVER"),
    (["MSSQL$SQLEXPRESS", "CertSvc"], "CertSvc, MSSQL$SQLEXPRESS"),
    (["mssql$keyfactor"], "mssql$keyfactor"),
])
def test_a_ca_or_a_sql_server_instance_fails(services, observed):
    assert verdict(judge({"kind": "co_location"}, co_located(*services))) == ("fail", observed)


@pytest.mark.parametrize("wid", ["MSSQL$MICROSOFT##WID", "mssql$microsoft##wid"])
def test_the_windows_internal_database_is_not_a_sql_server(wid):
    assert verdict(judge({"kind": "co_location"}, co_located(wid))) == ("pass", "none")


def test_an_instance_that_only_starts_like_the_internal_database_counts():
    assert judge({"kind": "co_location"}, co_located("MSSQL$MICROSOFT##WIDGETS"))["status"] == "fail"


def test_co_location_allowed_for_a_server_is_a_warning():
    result = judge({"kind": "co_location", "allow": True}, co_located("MSSQLSERVER", "MSSQL$MICROSOFT##WID"))
    assert verdict(result) == ("warn", "MSSQLSERVER (allowed for this server)")
    assert "Keyfactor advises against both" in result["expected"]


def test_services_that_cannot_be_listed_fail_co_location_with_windows_message():
    result = judge({"kind": "co_location", "allow": True}, co_located(error="Access is denied"))
    assert verdict(result) == ("fail", "the services could not be read: Access is denied")


def test_no_co_location_report_when_one_was_asked_for_is_unexpected():
    with pytest.raises(UnexpectedProbeResult, match="co_location"):
        judge({"kind": "co_location"}, probe())


# --- group_member --------------------------------------------------------------------------------------------------------


def in_group(*members: str, error: str | None = None, name: str = "Administrators") -> dict:
    return probe(groups={name: {"error": error, "members": list(members)}})


def test_a_direct_member_passes():
    result = judge({"kind": "group_member", "group": "Administrators", "account": SVC}, in_group("S-1-5-32-544-500", SVC_SID))
    assert verdict(result) == ("pass", "member")
    assert result["expected"] == f"{SVC} is a direct member of Administrators"
    assert result["id"] == "group_member/administrators/contoso\\svc_keyfactor" and result["category"] == "accounts"


def test_an_account_taken_out_of_the_group_fails():
    result = judge({"kind": "group_member", "group": "Administrators", "account": SVC}, in_group("S-1-5-21-1-2-3-500"))
    assert verdict(result) == ("fail", "not a member (1 direct members)")


def test_an_account_that_does_not_resolve_fails_with_windows_message():
    result = judge({"kind": "group_member", "group": "Administrators", "account": "CONTOSO\\gone"}, in_group(SVC_SID))
    assert verdict(result) == ("fail", "CONTOSO\\gone does not resolve to an account on this server (Some or all identity "
                                       "references could not be translated.)")


def test_a_group_that_cannot_be_read_fails():
    result = judge({"kind": "group_member", "group": "Administrators", "account": SVC}, in_group(error="The group name could not be found."))
    assert verdict(result) == ("fail", "the group could not be read: The group name could not be found.")


def test_two_spellings_of_one_group_read_the_one_report():
    """probe_parameters sends a group once, in the first spelling; the second spelling finds that report."""
    reqs = requirements({"kind": "group_member", "group": "Administrators", "account": SVC},
                        {"kind": "group_member", "group": "administrators", "account": NS})
    assert probe_parameters(reqs)["Groups"] == ["Administrators"]
    results = evaluate(reqs, in_group(SVC_SID, NS_SID), NOW)
    assert [r["status"] for r in results] == ["pass", "pass"]


# --- user_right ----------------------------------------------------------------------------------------------------------


def holders(**by_right) -> dict:
    return probe(rights={"error": None, "holders": by_right})


def test_a_granted_right_passes():
    result = judge({"kind": "user_right", "right": "SeServiceLogonRight", "account": SVC},
                   holders(SeServiceLogonRight=[NS_SID, SVC_SID]))
    assert verdict(result) == ("pass", "granted")
    assert result["title"] == f"{SVC} holds Log on as a service (SeServiceLogonRight)"
    assert result["category"] == "rights"


def test_a_right_removed_by_hand_fails():
    result = judge({"kind": "user_right", "right": "SeServiceLogonRight", "account": SVC}, holders(SeServiceLogonRight=[NS_SID]))
    assert verdict(result) == ("fail", "not granted; 1 account(s) hold it")
    assert result["expected"] == f"{SVC} holds SeServiceLogonRight"


def test_a_right_is_spelt_as_windows_documents_it():
    reqs = requirements({"kind": "user_right", "right": "sebackupprivilege", "account": SVC})
    assert reqs[0]["right"] == "SeBackupPrivilege" and reqs[0]["id"] == "user_right/SeBackupPrivilege/contoso\\svc_keyfactor"
    assert probe_parameters(reqs)["Rights"] == ["SeBackupPrivilege"]
    assert evaluate(reqs, holders(SeBackupPrivilege=[SVC_SID]), NOW)[0]["status"] == "pass"


def test_an_unreadable_policy_fails_the_right():
    result = judge({"kind": "user_right", "right": "SeServiceLogonRight", "account": SVC},
                   probe(rights={"error": "Access is denied", "holders": {}}))
    assert verdict(result) == ("fail", "the local security policy could not be read: Access is denied")


def test_a_right_the_probe_did_not_report_is_unexpected():
    with pytest.raises(UnexpectedProbeResult, match="SeServiceLogonRight"):
        judge({"kind": "user_right", "right": "SeServiceLogonRight", "account": SVC}, holders(SeBatchLogonRight=[SVC_SID]))


# --- directory_access ----------------------------------------------------------------------------------------------------


def ace(sid: str, rights: int, *, kind: str = "allow", inherit: str = CI_OI, propagation: str = "None", inherited: bool = False) -> dict:
    return {"sid": sid, "type": kind, "rights": rights, "inherit": inherit, "propagation": propagation, "inherited": inherited}


def directory(*acl: dict, exists: bool = True, is_directory: bool = True, error: str | None = None, path: str = LOGS) -> dict:
    return probe(paths={path: {"exists": exists, "is_directory": is_directory, "error": error, "acl": list(acl)}})


LOG_WRITERS = {"kind": "directory_access", "path": LOGS, "account": USERS}


def test_a_grant_inherited_by_files_and_folders_passes():
    result = judge(LOG_WRITERS, directory(ace(USERS_SID, 0x1200A9), ace(USERS_SID, WRITE_LOGS)))
    assert verdict(result) == ("pass", "granted and inherited")
    assert result["expected"] == f"{USERS} may CreateFiles, AppendData, inherited by files and folders created in it"
    assert result["category"] == "log_directory" and result["title"] == f"{USERS} can write to {LOGS}"


def test_a_grant_on_the_directory_alone_fails():
    result = judge(LOG_WRITERS, directory(ace(USERS_SID, WRITE_LOGS, inherit="None")))
    assert verdict(result) == ("fail", "granted on the directory, but not inherited by the files and folders in it")


def test_a_grant_inherited_by_folders_only_fails():
    result = judge(LOG_WRITERS, directory(ace(USERS_SID, WRITE_LOGS, inherit="ContainerInherit")))
    assert verdict(result) == ("fail", "granted on the directory, but not inherited by the files and folders in it")


def test_an_inherit_only_grant_does_not_grant_on_the_directory_itself():
    result = judge(LOG_WRITERS, directory(ace(USERS_SID, WRITE_LOGS, propagation="InheritOnly")))
    assert verdict(result) == ("fail", "granted only 0x0")


def test_an_inherit_only_grant_with_one_for_the_directory_passes():
    result = judge(LOG_WRITERS, directory(ace(USERS_SID, WRITE_LOGS, inherit="None"),
                                          ace(USERS_SID, WRITE_LOGS, propagation="InheritOnly")))
    assert verdict(result) == ("pass", "granted and inherited")


def test_generic_rights_in_an_inherit_only_entry_count_as_the_rights_they_map_to():
    """What a folder under C:\\Program Files inherits: Full control here, GENERIC_ALL for what is created in it."""
    acl = (ace(USERS_SID, 0x1F01FF, inherit="None", inherited=True),
           ace(USERS_SID, 0x10000000, propagation="InheritOnly", inherited=True))
    assert verdict(judge(LOG_WRITERS, directory(*acl))) == ("pass", "granted and inherited")


def test_too_few_rights_fail_with_what_was_granted():
    result = judge(dict(LOG_WRITERS, file_rights=["Modify"]), directory(ace(USERS_SID, 0x1200A9 | WRITE_LOGS)))
    assert verdict(result) == ("fail", "granted only 0x1200AF")


def test_a_deny_entry_on_the_directory_fails():
    result = judge(LOG_WRITERS, directory(ace(USERS_SID, 0x1F01FF), ace(USERS_SID, 0x4, kind="deny", inherit="None")))
    assert verdict(result) == ("fail", "a deny entry takes some of these rights away")


def test_a_deny_entry_of_other_rights_leaves_the_grant():
    result = judge(LOG_WRITERS, directory(ace(USERS_SID, WRITE_LOGS), ace(USERS_SID, 0x10000, kind="deny")))
    assert verdict(result) == ("pass", "granted and inherited")


def test_a_grant_to_another_account_does_not_count():
    result = judge(LOG_WRITERS, directory(ace(NS_SID, 0x1F01FF)))
    assert verdict(result) == ("fail", "not granted")


@pytest.mark.parametrize("exists, is_directory, observed", [(False, False, "missing"), (True, False, "a file")])
def test_a_missing_directory_or_a_file_fails(exists, is_directory, observed):
    result = judge(LOG_WRITERS, directory(exists=exists, is_directory=is_directory))
    assert verdict(result) == ("fail", observed)
    assert result["expected"] == f"{LOGS} exists as a directory"


def test_a_directory_without_an_account_only_has_to_exist():
    result = judge({"kind": "directory_access", "path": LOGS}, directory())
    assert verdict(result) == ("pass", "exists")
    assert result["title"] == f"Directory {LOGS} exists" and result["id"] == "directory/c:\\keyfactor\\logs"


def test_a_directory_that_cannot_be_read_fails():
    result = judge(LOG_WRITERS, directory(error="Access to the path is denied."))
    assert verdict(result) == ("fail", "it could not be read: Access to the path is denied.")


def test_a_path_the_probe_did_not_report_is_unexpected():
    with pytest.raises(UnexpectedProbeResult, match="path"):
        judge(LOG_WRITERS, directory(path="D:\\elsewhere"))


def test_file_rights_are_spelt_as_dotnet_names_them():
    assert requirements(dict(LOG_WRITERS, file_rights=["modify", " createfiles "]))[0]["file_rights"] == ["Modify", "CreateFiles"]


# --- features ------------------------------------------------------------------------------------------------------------


def features(error: str | None = None, **installed) -> dict:
    return probe(features={"error": error, "installed": installed})


WEB = {"kind": "features", "features": ["Web-Server", "web-asp-net45"]}


def test_installed_features_pass_whatever_their_case():
    result = judge(WEB, features(**{"Web-Server": True, "Web-Asp-Net45": True}))
    assert verdict(result) == ("pass", "all 2 installed")
    assert result["title"] == "Windows features Web-Server, web-asp-net45"


def test_a_feature_not_installed_fails():
    result = judge(WEB, features(**{"Web-Server": True, "Web-Asp-Net45": False}))
    assert verdict(result) == ("fail", "not installed: web-asp-net45")


def test_a_feature_name_windows_does_not_know_fails():
    result = judge({"kind": "features", "features": ["Web-Server", "Web-Nonsense", "NET-Framework-45-Core"]},
                   features(**{"Web-Server": False, "NET-Framework-45-Core": True}))
    assert verdict(result) == ("fail", "not installed: Web-Server; not features of this Windows: Web-Nonsense")
    assert result["title"] == "Windows features Web-Server, Web-Nonsense and 1 more"


def test_features_that_cannot_be_read_fail():
    assert verdict(judge(WEB, features(error="The term 'Get-WindowsFeature' is not recognized"))) == (
        "fail", "the features could not be read: The term 'Get-WindowsFeature' is not recognized")


def test_one_list_of_features_in_any_order_is_one_requirement():
    reqs = requirements(WEB, {"kind": "features", "features": ["WEB-ASP-NET45", "Web-Server"], "profile": "portal"})
    assert len(reqs) == 1 and reqs[0]["profiles"] == ["common", "portal"]


# --- app_pool ------------------------------------------------------------------------------------------------------------


def pool(state: str = "Started", identity_type: str = "ApplicationPoolIdentity", username: str = "", sid: str | None = None) -> dict:
    return {"exists": True, "name": "KeyfactorPortal", "state": state, "identity_type": identity_type, "username": username, "sid": sid}


def pools(**by_name) -> dict:
    return probe(iis={"installed": True, "error": None, "pools": by_name})


PORTAL = {"kind": "app_pool", "pool": "KeyfactorPortal", "identity_type": "ApplicationPoolIdentity"}
PORTAL_AS_SVC = {"kind": "app_pool", "pool": "KeyfactorPortal", "identity_type": "SpecificUser", "username": ".\\svc"}


def test_a_started_pool_with_the_identity_passes():
    result = judge(PORTAL, pools(KeyfactorPortal=pool()))
    assert verdict(result) == ("pass", "runs as ApplicationPoolIdentity, Started")
    assert result["expected"] == "pool KeyfactorPortal exists and runs as ApplicationPoolIdentity"


def test_a_stopped_pool_is_a_warning():
    assert verdict(judge(PORTAL, pools(KeyfactorPortal=pool(state="Stopped")))) == ("warn", "runs as ApplicationPoolIdentity, Stopped")


def test_a_pool_with_another_identity_fails():
    assert verdict(judge(PORTAL, pools(KeyfactorPortal=pool(identity_type="NetworkService")))) == (
        "fail", "runs as NetworkService, Started")


def test_a_pool_account_is_compared_by_sid():
    """.\\svc in the task and WEB01\\svc in IIS are one account."""
    result = judge(PORTAL_AS_SVC, pools(KeyfactorPortal=pool(identity_type="SpecificUser", username="WEB01\\svc", sid=LOCAL_SVC_SID)))
    assert verdict(result) == ("pass", "runs as WEB01\\svc, Started")
    assert result["expected"] == "pool KeyfactorPortal exists and runs as .\\svc"


def test_a_pool_running_as_another_account_fails():
    result = judge(PORTAL_AS_SVC, pools(KeyfactorPortal=pool(identity_type="SpecificUser", username=SVC, sid=SVC_SID)))
    assert verdict(result) == ("fail", f"runs as {SVC}, Started")


def test_a_pool_account_that_does_not_resolve_fails():
    result = judge(dict(PORTAL_AS_SVC, username="CONTOSO\\gone"),
                   pools(KeyfactorPortal=pool(identity_type="SpecificUser", username="CONTOSO\\gone", sid=None)))
    assert result["status"] == "fail" and result["observed"].startswith("CONTOSO\\gone does not resolve")


def test_a_missing_pool_fails():
    assert verdict(judge(PORTAL, pools(KeyfactorPortal={"exists": False}))) == ("fail", "no such pool")


def test_a_pool_reported_in_other_case_is_found():
    assert judge(dict(PORTAL, pool="keyfactorportal"), pools(KeyfactorPortal=pool()))["status"] == "pass"


def test_a_server_without_iis_fails_every_pool():
    result = judge(PORTAL, probe(iis={"installed": False, "error": None, "pools": {}}))
    assert verdict(result) == ("fail", "IIS is not installed")


def test_iis_that_cannot_be_read_fails():
    result = judge(PORTAL, probe(iis={"installed": True, "error": "The configuration file is invalid", "pools": {}}))
    assert verdict(result) == ("fail", "IIS could not be read: The configuration file is invalid")


def test_only_a_specific_user_pool_account_is_resolved():
    reqs = requirements(dict(PORTAL, username="CONTOSO\\ignored"), dict(PORTAL_AS_SVC, pool="KeyfactorApi"))
    assert probe_parameters(reqs)["Accounts"] == [".\\svc"]


# --- certificate ---------------------------------------------------------------------------------------------------------


def certificate(*, found: bool = True, has_private_key: bool = True, key_error: str | None = None, acl=(), error=None,
                not_after: str = "2027-03-01T08:30:00.0000000Z", store: str = "My", thumbprint: str = THUMBPRINT) -> dict:
    return {"store": store, "thumbprint": thumbprint, "error": error, "found": found, "has_private_key": has_private_key,
            "key_error": key_error, "acl": list(acl), "not_after": not_after if found else None,
            "serial_number": SERIAL if found else None}


def certificates(*reports: dict, **parts) -> dict:
    return probe(certificates=list(reports), **parts)


CERTIFICATE = {"kind": "certificate", "thumbprint": THUMBPRINT.lower()}


def test_a_valid_certificate_with_its_key_passes():
    result = judge(CERTIFICATE, certificates(certificate()))
    assert verdict(result) == ("pass", "present, expires 2027-03-01 08:30 UTC")
    assert result["expected"] == "in LocalMachine\\My with its private key, valid for more than 30 days"
    assert result["id"] == f"certificate/My/{THUMBPRINT}" and result["category"] == "certificates"


def test_an_expired_certificate_fails():
    result = judge(CERTIFICATE, certificates(certificate(not_after="2026-05-31T12:00:00.0000000Z")))
    assert verdict(result) == ("fail", "present, expired 2026-05-31 12:00 UTC")


def test_a_certificate_expiring_within_the_warning_window_is_a_warning():
    result = judge(CERTIFICATE, certificates(certificate(not_after="2026-06-11T13:00:00.0000000Z")))
    assert verdict(result) == ("warn", "present, expires 2026-06-11 13:00 UTC, in 10 days")


def test_the_warning_window_is_the_requirement_s():
    report = certificates(certificate(not_after="2026-06-11T13:00:00.0000000Z"))
    assert judge(dict(CERTIFICATE, expiry_warning_days=7), report)["status"] == "pass"
    assert judge(dict(CERTIFICATE, expiry_warning_days=0), report)["status"] == "pass"


@pytest.mark.parametrize("report, observed", [
    (certificate(found=False), "not in LocalMachine\\My"),
    (certificate(has_private_key=False), "present, but without its private key"),
    (certificate(key_error="Keyset does not exist"), "its private key cannot be opened: Keyset does not exist"),
    (certificate(error="The system cannot find the file specified."), "the store could not be read: The system cannot find the file specified."),
])
def test_a_missing_certificate_or_key_fails(report, observed):
    assert verdict(judge(CERTIFICATE, certificates(report))) == ("fail", observed)


def test_a_certificate_without_its_key_passes_when_the_key_is_not_required():
    result = judge(dict(CERTIFICATE, require_key=False), certificates(certificate(has_private_key=False)))
    assert result["status"] == "pass" and result["expected"] == "in LocalMachine\\My, valid for more than 30 days"


def test_a_certificate_named_by_its_pfx_is_read_by_the_pfx_thumbprint():
    reqs = requirements({"kind": "certificate", "pfx_content": "AAAA", "pfx_password": "x"})
    assert reqs[0]["thumbprint"] == PFX_THUMBPRINT and not {"pfx_src", "pfx_content", "pfx_password"} & set(reqs[0])
    assert probe_parameters(reqs)["Certificates"] == [{"store": "My", "thumbprint": PFX_THUMBPRINT}]


def test_a_not_after_that_is_no_date_is_unexpected():
    with pytest.raises(UnexpectedProbeResult, match="not_after"):
        judge(CERTIFICATE, certificates(certificate(not_after="next spring")))


def test_a_certificate_the_probe_did_not_report_is_unexpected():
    with pytest.raises(UnexpectedProbeResult, match=THUMBPRINT):
        judge(CERTIFICATE, certificates(certificate(store="WebHosting")))


# --- key_access ----------------------------------------------------------------------------------------------------------


def key_ace(sid: str, rights: int, kind: str = "allow") -> dict:
    return {"sid": sid, "name": None, "type": kind, "rights": rights - (1 << 32) if rights & 0x80000000 else rights, "inherited": False}


SYSTEM_FULL = key_ace("S-1-5-18", FULL_KEY)
NS_READS = {"kind": "key_access", "thumbprint": THUMBPRINT, "account": NS}


def test_read_access_to_the_key_passes():
    result = judge(NS_READS, certificates(certificate(acl=[SYSTEM_FULL, key_ace(NS_SID, READ_KEY)])))
    assert verdict(result) == ("pass", "Read")
    assert result["expected"] == f"{NS} has Read, and not Full control on the private key"
    assert result["title"] == f"{NS} can read the private key of 9F2C1A7E"


def test_full_control_when_read_is_required_fails():
    result = judge(NS_READS, certificates(certificate(acl=[SYSTEM_FULL, key_ace(NS_SID, FULL_KEY)])))
    assert verdict(result) == ("fail", "Full control")


def test_full_control_when_it_is_required_passes():
    result = judge(dict(NS_READS, access="full_control"), certificates(certificate(acl=[key_ace(NS_SID, 0x1F01FF)])))
    assert verdict(result) == ("pass", "Full control")
    assert result["title"] == f"{NS} can fully control the private key of 9F2C1A7E"


def test_a_deny_entry_on_the_key_fails():
    result = judge(NS_READS, certificates(certificate(acl=[key_ace(NS_SID, READ_KEY), key_ace(NS_SID, 0x10000, kind="deny")])))
    assert verdict(result) == ("fail", "a deny entry shuts the account out")


def test_no_entry_for_the_account_fails():
    assert verdict(judge(NS_READS, certificates(certificate(acl=[SYSTEM_FULL])))) == ("fail", "no access")


def test_read_with_write_is_neither_read_nor_full_control():
    result = judge(NS_READS, certificates(certificate(acl=[key_ace(NS_SID, 0x120089 | 0x2)])))
    assert verdict(result) == ("fail", "rights 0x12008B")


def test_key_access_needs_the_key_even_without_require_key():
    result = judge(dict(NS_READS, require_key=False), certificates(certificate(has_private_key=False)))
    assert verdict(result) == ("fail", "present, but without its private key")


# --- registry_serial -----------------------------------------------------------------------------------------------------


def value(kind: str | None = "String", data=SERIAL, key_exists: bool = True, error: str | None = None) -> dict:
    return {"key": CHECKPOINT, "name": "EncryptSerialNumber", "error": error, "key_exists": key_exists,
            "value_exists": kind is not None, "value_kind": kind, "value": data if kind in ("String", "ExpandString") else None}


SERIAL_VALUE = {"kind": "registry_serial", "thumbprint": THUMBPRINT}
SERIAL_PATH = f"HKLM\\{CHECKPOINT}\\EncryptSerialNumber"


def test_the_serial_in_the_registry_passes_whatever_its_case():
    result = judge(SERIAL_VALUE, certificates(certificate(), registry=[value(data=SERIAL.lower())]))
    assert verdict(result) == ("pass", f"holds {SERIAL.lower()}")
    assert result["expected"] == f"{SERIAL_PATH} is the string {SERIAL}" and result["category"] == "registry"


def test_a_serial_that_does_not_match_fails():
    result = judge(SERIAL_VALUE, certificates(certificate(), registry=[value(data="0BADC0FFEE")]))
    assert verdict(result) == ("fail", "holds 0BADC0FFEE")


def test_a_dword_value_fails():
    assert verdict(judge(SERIAL_VALUE, certificates(certificate(), registry=[value(kind="DWord", data=1)]))) == ("fail", "a DWord value")


@pytest.mark.parametrize("report, observed", [
    (value(kind=None, key_exists=False), "the key is missing"),
    (value(kind=None), "the value is missing"),
    (value(error="Requested registry access is not allowed."), "the value could not be read: Requested registry access is not allowed."),
])
def test_a_missing_or_unreadable_value_fails(report, observed):
    assert verdict(judge(SERIAL_VALUE, certificates(certificate(), registry=[report]))) == ("fail", observed)


def test_a_missing_certificate_fails_the_serial_before_the_registry_is_looked_at():
    result = judge(SERIAL_VALUE, certificates(certificate(found=False)))
    assert verdict(result) == ("fail", "the certificate: not in LocalMachine\\My")
    assert result["expected"] == f"{SERIAL_PATH} holds the certificate's serial number"


def test_a_registry_key_in_any_spelling_reads_the_one_value():
    reqs = requirements(dict(SERIAL_VALUE, registry_key="HKEY_LOCAL_MACHINE\\" + CHECKPOINT.lower()), SERIAL_VALUE)
    assert len(reqs) == 1
    assert probe_parameters(reqs)["RegistryValues"] == [{"key": CHECKPOINT.lower(), "name": "EncryptSerialNumber"}]


def test_a_value_the_probe_did_not_report_is_unexpected():
    with pytest.raises(UnexpectedProbeResult, match="EncryptSerialNumber"):
        judge(SERIAL_VALUE, certificates(certificate()))


# --- service_installed and cluster_role ----------------------------------------------------------------------------------


def service(query: str, name: str | None = "CAGateway") -> dict:
    return {"query": query, "found": name is not None, "name": name, "display_name": query if name else None}


def role(state: str = "Online", services=("CAGateway",), checkpoints=(CHECKPOINT,)) -> dict:
    resources = [{"name": "CloudGateway", "resource_type": "Network Name", "service_name": None, "checkpoints": []}]
    resources += [{"name": s, "resource_type": "Generic Service", "service_name": s, "checkpoints": list(checkpoints)} for s in services]
    return {"name": "CloudGateway", "group_type": "GenericService", "state": state, "owner_node": "GW01", "resources": resources}


def cluster(roles=None, services=(), error: str | None = None) -> dict:
    return probe(cluster={"error": error, "cluster": None, "roles": roles or {}, "services": list(services)})


ROLE = {"kind": "cluster_role", "role": "CloudGateway", "services": [GATEWAY], "checkpoints": ["HKLM:\\" + CHECKPOINT]}


def test_an_installed_service_passes():
    result = judge({"kind": "service_installed", "service": GATEWAY}, cluster(services=[service(GATEWAY)]))
    assert verdict(result) == ("pass", "installed as CAGateway")
    assert result["category"] == "cluster"


def test_a_service_not_installed_fails():
    result = judge({"kind": "service_installed", "service": GATEWAY}, cluster(services=[service(GATEWAY, None)]))
    assert verdict(result) == ("fail", "not installed")


def test_a_service_the_probe_did_not_report_is_unexpected():
    with pytest.raises(UnexpectedProbeResult, match="service"):
        judge({"kind": "service_installed", "service": GATEWAY}, cluster())


def test_an_online_role_running_the_service_and_replicating_the_checkpoint_passes():
    result = judge(ROLE, cluster(roles={"CloudGateway": role()}, services=[service(GATEWAY)]))
    assert verdict(result) == ("pass", "Online on GW01")
    assert result["expected"] == f"cluster role CloudGateway is Online, runs {GATEWAY}, replicates {CHECKPOINT}"


def test_an_offline_role_fails():
    result = judge(ROLE, cluster(roles={"CloudGateway": role(state="Failed")}, services=[service(GATEWAY)]))
    assert verdict(result) == ("fail", "the role is Failed")


def test_a_role_without_the_service_resource_fails():
    result = judge(ROLE, cluster(roles={"CloudGateway": role(services=("CASync",))}, services=[service(GATEWAY)]))
    assert verdict(result) == ("fail", f"no resource runs {GATEWAY}")


def test_a_role_without_the_checkpoint_fails():
    result = judge(ROLE, cluster(roles={"CloudGateway": role(checkpoints=())}, services=[service(GATEWAY)]))
    assert verdict(result) == ("fail", f"{CHECKPOINT} is not replicated")


def test_a_missing_role_fails():
    assert verdict(judge(ROLE, cluster(roles={"CloudGateway": None}, services=[service(GATEWAY)]))) == ("fail", "no such role")


def test_a_cluster_that_cannot_be_read_carries_windows_message():
    result = judge(ROLE, cluster(error="The cluster service is not running on this node", services=[service(GATEWAY)]))
    assert verdict(result) == ("fail", "the cluster could not be read: The cluster service is not running on this node")


def test_role_services_are_probed_with_the_installed_services():
    reqs = requirements(ROLE, {"kind": "service_installed", "service": GATEWAY.upper()})
    assert probe_parameters(reqs)["Services"] == [GATEWAY.upper()]
    assert probe_parameters(reqs)["ClusterRoles"] == ["CloudGateway"]


# --- merging, order, summary ---------------------------------------------------------------------------------------------


def test_one_requirement_from_two_profiles_is_one_row_with_both():
    reqs = requirements(
        {"kind": "user_right", "right": "SeServiceLogonRight", "account": SVC, "profile": "services", "source": "001-07"},
        {"kind": "user_right", "right": "SeServiceLogonRight", "account": SVC.upper(), "profile": "web_api", "source": "003-02"},
        {"kind": "user_right", "right": "SeServiceLogonRight", "account": SVC, "profile": "services", "source": "001-07"},
    )
    assert len(reqs) == 1
    result = evaluate(reqs, holders(SeServiceLogonRight=[SVC_SID]), NOW)[0]
    assert result["profiles"] == ["services", "web_api"] and result["source"] == "001-07, 003-02"
    assert result["fix"] == "role pkiops.keyfactor_command.services; role pkiops.keyfactor_command.web_api"


def test_a_given_fix_replaces_the_role():
    reqs = requirements(dict(LOG_WRITERS, fix="role pkiops.keyfactor_command.common, variable log_directory"),
                        dict(LOG_WRITERS, profile="portal"))
    assert evaluate(reqs, directory(ace(USERS_SID, WRITE_LOGS)), NOW)[0]["fix"] == (
        "role pkiops.keyfactor_command.common, variable log_directory")


def test_one_id_with_different_expectations_stays_two_rows():
    reqs = requirements(LOG_WRITERS, dict(LOG_WRITERS, file_rights=["Modify"], profile="portal"), dict(LOG_WRITERS, profile="services"))
    assert [r["id"] for r in reqs] == ["directory/c:\\keyfactor\\logs/builtin\\users", "directory/c:\\keyfactor\\logs/builtin\\users#2"]
    assert [r["profiles"] for r in reqs] == [["common", "services"], ["portal"]]
    results = evaluate(reqs, directory(ace(USERS_SID, WRITE_LOGS)), NOW)
    assert [(r["id"][-2:], r["status"]) for r in results] == [("rs", "pass"), ("#2", "fail")]


def test_results_are_in_category_order_then_by_id():
    reqs = requirements(
        ROLE, SERIAL_VALUE, CERTIFICATE, PORTAL, WEB, LOG_WRITERS,
        {"kind": "user_right", "right": "SeServiceLogonRight", "account": SVC},
        {"kind": "group_member", "group": "Administrators", "account": SVC}, {"kind": "co_location"},
        {"kind": "user_right", "right": "SeBatchLogonRight", "account": SVC},
    )
    current = probe(
        co_location={"error": None, "services": []}, groups={"Administrators": {"error": None, "members": []}},
        rights={"error": None, "holders": {"SeServiceLogonRight": [], "SeBatchLogonRight": [SVC_SID]}},
        paths=directory(ace(USERS_SID, WRITE_LOGS))["paths"], features={"error": None, "installed": {"Web-Server": True}},
        iis={"installed": False, "error": None, "pools": {}}, certificates=[certificate()], registry=[value()],
        cluster={"error": None, "cluster": None, "roles": {"CloudGateway": role()}, "services": [service(GATEWAY)]},
    )
    results = evaluate(reqs, current, NOW)
    assert [r["category"] for r in results] == sorted((r["category"] for r in results), key=CATEGORIES.index)
    assert [r["category"] for r in results] == ["co_location", "accounts", "rights", "rights", "log_directory", "features",
                                                "app_pools", "certificates", "registry", "cluster"]
    assert [r["id"] for r in results if r["category"] == "rights"] == [
        "user_right/SeBatchLogonRight/contoso\\svc_keyfactor", "user_right/SeServiceLogonRight/contoso\\svc_keyfactor"]
    assert summary(results) == {"pass": 6, "fail": 4, "warn": 0}


def test_summary_counts_each_status():
    results = [{"status": s} for s in ("pass", "warn", "pass", "fail", "warn", "warn")]
    assert summary(results) == {"pass": 2, "fail": 1, "warn": 3}
    assert summary([]) == {"pass": 0, "fail": 0, "warn": 0}


@pytest.mark.parametrize("part", ["rights", "accounts", "groups", "paths", "features", "iis", "certificates", "registry", "cluster"])
def test_a_probe_without_a_part_is_unexpected(part):
    current = probe()
    del current[part]
    with pytest.raises(UnexpectedProbeResult, match=f"no '{part}' report"):
        evaluate(requirements({"kind": "co_location"}), current, NOW)


def test_probe_parameters_name_each_thing_once_whatever_its_case():
    reqs = requirements(
        {"kind": "user_right", "right": "SeServiceLogonRight", "account": NS},
        {"kind": "user_right", "right": "SeBatchLogonRight", "account": NS.lower()},
        {"kind": "directory_access", "path": LOGS, "account": USERS},
        {"kind": "directory_access", "path": LOGS.upper()},
        {"kind": "features", "features": ["Web-Server", "WEB-SERVER", "Web-Mgmt-Console"]},
        {"kind": "features", "features": ["web-server"]},
        {"kind": "key_access", "thumbprint": THUMBPRINT, "account": NS, "store": "My"},
        {"kind": "certificate", "thumbprint": THUMBPRINT.lower(), "store": "my"},
        {"kind": "app_pool", "pool": "KeyfactorPortal", "identity_type": "NetworkService"},
        {"kind": "app_pool", "pool": "keyfactorportal", "identity_type": "NetworkService", "profile": "portal"},
    )
    assert probe_parameters(reqs) == {
        "Rights": ["SeServiceLogonRight", "SeBatchLogonRight"],
        "Accounts": [NS, USERS],
        "Groups": [],
        "Paths": [LOGS],
        "Features": ["Web-Server", "Web-Mgmt-Console"],
        "Pools": ["KeyfactorPortal"],
        "Certificates": [{"store": "My", "thumbprint": THUMBPRINT}],
        "RegistryValues": [],
        "ClusterRoles": [],
        "Services": [],
        "CoLocation": False,
    }


def test_two_spellings_of_one_path_read_the_one_report():
    reqs = requirements(LOG_WRITERS, {"kind": "directory_access", "path": LOGS.lower(), "account": NS, "file_rights": ["Read"]})
    results = evaluate(reqs, directory(ace(USERS_SID, WRITE_LOGS), ace(NS_SID, 0x1200A9)), NOW)
    assert [r["status"] for r in results] == ["pass", "pass"]
