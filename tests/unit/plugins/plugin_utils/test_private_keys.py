"""Who may use a certificate's private key: access masks and the key ACL plan shared by private_key_acl and pfx_import."""

from __future__ import annotations

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._private_keys import (
    FULL_CONTROL,
    MASKS,
    READ,
    access_level,
    check_grants,
    check_key_report,
    plan_key_acl,
    principals_to_resolve,
    signed,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    PlanError,
    TaskInputError,
    UnexpectedProbeResult,
)

MMC_READ = 0x80120089
ICACLS_READ = 0x120089
ICACLS_READ_EXECUTE = 0x1200A9
ICACLS_MODIFY = 0x1301BF
GENERIC_READ = 0x80000000
GENERIC_WRITE = 0x40000000
GENERIC_ALL = 0x10000000
MMC_FULL = 0xD01F01FF
FILE_ALL_ACCESS = 0x1F01FF
FILE_GENERIC_WRITE = 0x120116
WRITE_DAC = 0x40000

NETWORK_SERVICE = "S-1-5-20"
ADMINISTRATORS = "S-1-5-32-544"
SYSTEM = "S-1-5-18"
SVC = "S-1-5-21-1004336348-1177238915-682003330-1105"
RESOLVED = {
    "NT AUTHORITY\\NETWORK SERVICE": (NETWORK_SERVICE, "NT AUTHORITY\\NETWORK SERVICE"),
    "NETWORK SERVICE": (NETWORK_SERVICE, "NT AUTHORITY\\NETWORK SERVICE"),
    "S-1-5-20": (NETWORK_SERVICE, "NT AUTHORITY\\NETWORK SERVICE"),
    "BUILTIN\\Administrators": (ADMINISTRATORS, "BUILTIN\\Administrators"),
    "CONTOSO\\svc_keyfactor": (SVC, "CONTOSO\\svc_keyfactor"),
}


def grant(principal: str = "NT AUTHORITY\\NETWORK SERVICE", access: str = "read", state: str = "present") -> dict:
    """One key_access entry as the argument spec returns it."""
    return {"principal": principal, "access": access, "state": state}


def ace(sid: str, rights: int, kind: str = "allow", inherited: bool = False) -> dict:
    """One entry of the probe's ACL report; rights as .NET reports them, signed."""
    return {"sid": sid, "name": sid, "type": kind, "rights": signed(rights), "inherited": inherited}


def principals(*grants: dict, unresolved: dict | None = None) -> list[dict]:
    """The probe's resolution of each principal the grants name."""
    report = []
    for reference in principals_to_resolve(list(grants)):
        if reference in (unresolved or {}):
            report.append({"input": reference, "sid": None, "name": None, "error": unresolved[reference]})
        else:
            sid, name = RESOLVED[reference]
            report.append({"input": reference, "sid": sid, "name": name, "error": None})
    return report


def plan(grants: list[dict], acl: list[dict]):
    return plan_key_acl(grants, acl, principals(*grants))


DEFAULT_ACL = [ace(SYSTEM, MMC_FULL), ace(ADMINISTRATORS, MMC_FULL)]


# --- access_level and signed --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask, level", [
    (MMC_READ, "read"),
    (ICACLS_READ, "read"),
    (GENERIC_READ, "read"),
    (ICACLS_READ_EXECUTE, "read"),
    (MMC_FULL, "full_control"),
    (FILE_ALL_ACCESS, "full_control"),
    (GENERIC_ALL, "full_control"),
    (GENERIC_ALL | GENERIC_READ, "full_control"),
    (GENERIC_WRITE, "other"),
    (FILE_GENERIC_WRITE, "other"),
    (WRITE_DAC, "other"),
    (0x1, "other"),
    (0, None),
], ids=["mmc read", "icacls R", "GENERIC_READ", "icacls RX", "mmc full", "FILE_ALL_ACCESS", "GENERIC_ALL", "GENERIC_ALL|READ",
        "GENERIC_WRITE", "FILE_GENERIC_WRITE", "WRITE_DAC", "FILE_READ_DATA only", "zero"])
def test_access_level_reads_every_spelling_of_the_rights(mask, level):
    assert access_level(mask) == level
    assert access_level(signed(mask)) == level


def test_the_masks_are_the_ones_the_certificates_console_writes():
    assert READ == MMC_READ
    assert FULL_CONTROL == MMC_FULL
    assert MASKS == {"read": MMC_READ, "full_control": MMC_FULL}


def test_access_level_ignores_bits_above_32():
    assert access_level(1 << 32) is None
    assert access_level((1 << 32) | ICACLS_READ) == "read"


@pytest.mark.parametrize("mask, expected", [
    (MMC_READ, -2146303863),
    (MMC_FULL, -803274241),
    (ICACLS_READ, ICACLS_READ),
    (0x7FFFFFFF, 0x7FFFFFFF),
    (0x80000000, -(1 << 31)),
    (0xFFFFFFFF, -1),
    (0, 0),
])
def test_signed_is_the_mask_as_dotnet_reports_it(mask, expected):
    assert signed(mask) == expected
    assert -(1 << 31) <= signed(mask) < (1 << 31)
    assert signed(mask) & 0xFFFFFFFF == mask
    assert signed(signed(mask)) == signed(mask)


# --- plan_key_acl --------------------------------------------------------------------------------------------------------


def test_read_for_a_principal_without_access_sets_read_signed():
    operations, before, after, changes = plan([grant()], DEFAULT_ACL)
    assert operations == [{"sid": NETWORK_SERVICE, "action": "set", "rights": -2146303863}]
    assert before == {"NT AUTHORITY\\NETWORK SERVICE": "none"}
    assert after == {"NT AUTHORITY\\NETWORK SERVICE": "read"}
    assert changes == {"NT AUTHORITY\\NETWORK SERVICE": "none -> read"}


@pytest.mark.parametrize("mask", [MMC_READ, ICACLS_READ, GENERIC_READ, ICACLS_READ_EXECUTE],
                         ids=["mmc read", "icacls R", "GENERIC_READ", "icacls RX"])
def test_read_that_is_already_there_in_any_spelling_is_no_operation(mask):
    operations, before, after, changes = plan([grant()], DEFAULT_ACL + [ace(NETWORK_SERVICE, mask)])
    assert operations == []
    assert before == after == {"NT AUTHORITY\\NETWORK SERVICE": "read"}
    assert changes == {}


@pytest.mark.parametrize("mask", [MMC_FULL, FILE_ALL_ACCESS, GENERIC_ALL], ids=["mmc full", "FILE_ALL_ACCESS", "GENERIC_ALL"])
def test_read_for_a_principal_with_full_control_brings_it_down_to_read(mask):
    operations, before, after, changes = plan([grant()], [ace(NETWORK_SERVICE, mask)])
    assert operations == [{"sid": NETWORK_SERVICE, "action": "set", "rights": signed(READ)}]
    assert before == {"NT AUTHORITY\\NETWORK SERVICE": "full_control"}
    assert after == {"NT AUTHORITY\\NETWORK SERVICE": "read"}
    assert changes == {"NT AUTHORITY\\NETWORK SERVICE": "full_control -> read"}


def test_full_control_for_a_principal_with_read_sets_full_control():
    operations, before, after, changes = plan([grant(access="full_control")], [ace(NETWORK_SERVICE, MMC_READ)])
    assert operations == [{"sid": NETWORK_SERVICE, "action": "set", "rights": signed(FULL_CONTROL)}]
    assert operations[0]["rights"] == -803274241
    assert before == {"NT AUTHORITY\\NETWORK SERVICE": "read"}
    assert after == {"NT AUTHORITY\\NETWORK SERVICE": "full_control"}
    assert changes == {"NT AUTHORITY\\NETWORK SERVICE": "read -> full_control"}


def test_full_control_already_there_is_no_operation():
    assert plan([grant(access="full_control")], [ace(NETWORK_SERVICE, GENERIC_ALL)])[0] == []


def test_read_for_a_principal_with_other_rights_sets_read():
    operations, before, _after, changes = plan([grant()], [ace(NETWORK_SERVICE, GENERIC_WRITE)])
    assert operations == [{"sid": NETWORK_SERVICE, "action": "set", "rights": signed(READ)}]
    assert before == {"NT AUTHORITY\\NETWORK SERVICE": "other"}
    assert changes == {"NT AUTHORITY\\NETWORK SERVICE": "other -> read"}


def test_explicit_allow_entries_of_one_principal_add_up():
    operations, before, _after, _changes = plan([grant()], [ace(NETWORK_SERVICE, ICACLS_READ), ace(NETWORK_SERVICE, GENERIC_ALL)])
    assert before == {"NT AUTHORITY\\NETWORK SERVICE": "full_control"}
    assert operations == [{"sid": NETWORK_SERVICE, "action": "set", "rights": signed(READ)}]


@pytest.mark.parametrize("mask", [ICACLS_MODIFY, MMC_READ | WRITE_DAC, MMC_READ | GENERIC_WRITE],
                         ids=["icacls M", "read and WRITE_DAC", "read and GENERIC_WRITE"])
def test_read_brings_a_principal_with_more_than_read_down_to_read(mask):
    operations = plan([grant()], [ace(NETWORK_SERVICE, mask)])[0]
    assert operations == [{"sid": NETWORK_SERVICE, "action": "set", "rights": signed(READ)}]


def test_the_sid_of_an_acl_entry_compares_without_regard_to_case():
    svc = grant("CONTOSO\\svc_keyfactor")
    assert plan([svc], [ace(SVC.lower(), MMC_READ)])[0] == []


def test_absent_removes_an_explicit_allow_entry():
    operations, before, after, changes = plan([grant(state="absent")], DEFAULT_ACL + [ace(NETWORK_SERVICE, MMC_READ)])
    assert operations == [{"sid": NETWORK_SERVICE, "action": "remove"}]
    assert before == {"NT AUTHORITY\\NETWORK SERVICE": "read"}
    assert after == {"NT AUTHORITY\\NETWORK SERVICE": "none"}
    assert changes == {"NT AUTHORITY\\NETWORK SERVICE": "removed"}


@pytest.mark.parametrize("entries", [
    [],
    [ace(NETWORK_SERVICE, MMC_READ, kind="deny")],
    [ace(NETWORK_SERVICE, MMC_READ, inherited=True)],
    [ace(NETWORK_SERVICE, MMC_FULL, kind="deny"), ace(NETWORK_SERVICE, MMC_FULL, inherited=True)],
], ids=["nothing", "deny", "inherited allow", "deny and inherited"])
def test_absent_ignores_deny_and_inherited_entries(entries):
    operations, before, after, changes = plan([grant(state="absent")], DEFAULT_ACL + entries)
    assert operations == []
    assert before == after == {"NT AUTHORITY\\NETWORK SERVICE": "none"}
    assert changes == {}


def test_an_inherited_read_does_not_count_as_read():
    operations = plan([grant()], [ace(NETWORK_SERVICE, MMC_READ, inherited=True)])[0]
    assert operations == [{"sid": NETWORK_SERVICE, "action": "set", "rights": signed(READ)}]


def test_an_explicit_deny_for_a_principal_that_should_read_fails_the_plan():
    with pytest.raises(PlanError, match="has an explicit deny entry on the key"):
        plan([grant()], [ace(NETWORK_SERVICE, MMC_READ), ace(NETWORK_SERVICE, MMC_READ, kind="deny")])


def test_an_explicit_deny_does_not_stop_removing_access():
    operations = plan([grant(state="absent")], [ace(NETWORK_SERVICE, MMC_READ), ace(NETWORK_SERVICE, MMC_READ, kind="deny")])[0]
    assert operations == [{"sid": NETWORK_SERVICE, "action": "remove"}]


def test_principals_not_listed_are_left_alone():
    operations = plan([grant()], DEFAULT_ACL + [ace(SVC, MMC_FULL)])[0]
    assert [op["sid"] for op in operations] == [NETWORK_SERVICE]


def test_several_principals_are_planned_in_the_order_given():
    grants = [grant("CONTOSO\\svc_keyfactor", "full_control"), grant(), grant("BUILTIN\\Administrators", state="absent")]
    operations, before, after, changes = plan(grants, DEFAULT_ACL + [ace(SVC, MMC_READ)])
    assert operations == [
        {"sid": SVC, "action": "set", "rights": signed(FULL_CONTROL)},
        {"sid": NETWORK_SERVICE, "action": "set", "rights": signed(READ)},
        {"sid": ADMINISTRATORS, "action": "remove"},
    ]
    assert before == {"CONTOSO\\svc_keyfactor": "read", "NT AUTHORITY\\NETWORK SERVICE": "none", "BUILTIN\\Administrators": "full_control"}
    assert after == {"CONTOSO\\svc_keyfactor": "full_control", "NT AUTHORITY\\NETWORK SERVICE": "read", "BUILTIN\\Administrators": "none"}
    assert changes == {"CONTOSO\\svc_keyfactor": "read -> full_control", "NT AUTHORITY\\NETWORK SERVICE": "none -> read",
                       "BUILTIN\\Administrators": "removed"}


def test_two_spellings_of_one_principal_with_the_same_access_are_one_operation():
    grants = [grant("NT AUTHORITY\\NETWORK SERVICE"), grant("S-1-5-20")]
    operations = plan(grants, [])[0]
    assert operations == [{"sid": NETWORK_SERVICE, "action": "set", "rights": signed(READ)}]


@pytest.mark.parametrize("second", [grant("S-1-5-20", "full_control"), grant("NETWORK SERVICE", state="absent")],
                         ids=["full control", "absent"])
def test_two_spellings_of_one_principal_with_different_access_is_a_plan_error(second):
    with pytest.raises(PlanError) as caught:
        plan([grant(), second], [])
    assert str(caught.value) == (f"key_access: {second['principal']} and another entry name the same account "
                                 "NT AUTHORITY\\NETWORK SERVICE with different access")


def test_an_unresolved_principal_is_a_plan_error_naming_it():
    grants = [grant(), grant("CONTOSO\\svc_gone")]
    report = principals(*grants, unresolved={"CONTOSO\\svc_gone": "Some or all identity references could not be translated."})
    with pytest.raises(PlanError) as caught:
        plan_key_acl(grants, [], report)
    assert str(caught.value) == ("key_access[1].principal: 'CONTOSO\\\\svc_gone' could not be resolved to a SID on the host "
                                 "(Some or all identity references could not be translated.)")


def test_an_unresolved_principal_without_an_error_says_not_found():
    grants = [grant("CONTOSO\\svc_gone")]
    with pytest.raises(PlanError) as caught:
        plan_key_acl(grants, [], [{"input": "CONTOSO\\svc_gone", "sid": None, "name": None, "error": None}])
    assert str(caught.value).endswith("'CONTOSO\\\\svc_gone' could not be resolved to a SID on the host (not found)")


def test_a_probe_that_misses_a_principal_is_an_unexpected_result():
    grants = [grant(), grant("CONTOSO\\svc_keyfactor")]
    with pytest.raises(UnexpectedProbeResult) as caught:
        plan_key_acl(grants, [], principals(grant()))
    assert str(caught.value) == "probe returned an unexpected result: no resolution for CONTOSO\\svc_keyfactor"
    assert caught.value.step == "probe"


@pytest.mark.parametrize("report", [None, {}, "principals"], ids=["none", "dict", "string"])
def test_a_probe_without_a_principals_list_is_an_unexpected_result(report):
    with pytest.raises(UnexpectedProbeResult, match="no 'principals' list"):
        plan_key_acl([grant()], [], report)


def test_the_name_falls_back_to_the_sid_when_the_host_gives_none():
    report = [{"input": "S-1-5-21-1-2-3-4000", "sid": "S-1-5-21-1-2-3-4000", "name": None, "error": None}]
    operations, before, _after, _changes = plan_key_acl([grant("S-1-5-21-1-2-3-4000")], [], report)
    assert before == {"S-1-5-21-1-2-3-4000": "none"}
    assert operations == [{"sid": "S-1-5-21-1-2-3-4000", "action": "set", "rights": signed(READ)}]


def test_planning_does_not_change_its_inputs():
    grants = [grant(), grant("BUILTIN\\Administrators", state="absent")]
    acl = DEFAULT_ACL + [ace(NETWORK_SERVICE, MMC_FULL)]
    report = principals(*grants)
    copies = ([dict(g) for g in grants], [dict(a) for a in acl], [dict(p) for p in report])
    plan_key_acl(grants, acl, report)
    assert (grants, acl, report) == copies


# --- the probe's key report, grants and principals ------------------------------------------------------------------------


@pytest.mark.parametrize("report", [
    {"found": False, "has_private_key": False, "key": None, "acl": []},
    {"found": True, "has_private_key": False, "key": None, "acl": []},
    {"found": True, "has_private_key": True, "key": {"provider": "cng"}, "acl": []},
], ids=["not found", "no key", "key"])
def test_a_well_formed_key_report_passes(report):
    check_key_report(report, "certificate")


@pytest.mark.parametrize("report, detail", [
    (None, "no report on the certificate"),
    ("found", "no report on the certificate"),
    ({"found": "yes"}, "no report on the certificate"),
    ({"has_private_key": True}, "no report on the certificate"),
    ({"found": True, "has_private_key": True, "key": None, "acl": []}, "no key or ACL in the report on the certificate"),
    ({"found": True, "has_private_key": True, "key": {}, "acl": "System.Collections.Hashtable"},
     "no key or ACL in the report on the certificate"),
], ids=["none", "string", "found not bool", "no found", "no key", "flattened acl"])
def test_a_malformed_key_report_is_an_unexpected_result(report, detail):
    with pytest.raises(UnexpectedProbeResult) as caught:
        check_key_report(report, "certificate")
    assert str(caught.value) == f"probe returned an unexpected result: {detail}"


def test_check_grants_refuses_an_empty_principal_by_index():
    with pytest.raises(TaskInputError) as caught:
        check_grants([grant(), grant("  ")])
    assert str(caught.value) == "key_access[1]: principal is empty"


def test_check_grants_returns_the_grants():
    grants = [grant(), grant("CONTOSO\\svc_keyfactor", "full_control")]
    assert check_grants(grants) is grants


def test_each_principal_is_resolved_once_in_order():
    grants = [grant("CONTOSO\\svc_keyfactor"), grant(), grant("CONTOSO\\svc_keyfactor", state="absent")]
    assert principals_to_resolve(grants) == ["CONTOSO\\svc_keyfactor", "NT AUTHORITY\\NETWORK SERVICE"]
    assert principals_to_resolve([]) == []
