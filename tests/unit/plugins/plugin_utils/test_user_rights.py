"""Controller-side validation and planning of pkiops.keyfactor_command.user_rights."""

from __future__ import annotations

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _user_rights
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._user_rights import (
    ALL_RIGHTS,
    LOGON_RIGHTS,
    PRIVILEGES,
    accounts_to_resolve,
    canonical_right,
    normalise_rights,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    PlanError,
    TaskInputError,
    UnexpectedProbeResult,
)

NETWORK_SERVICE = {"sid": "S-1-5-20", "name": "NT AUTHORITY\\NETWORK SERVICE"}
LOCAL_SERVICE = {"sid": "S-1-5-19", "name": "NT AUTHORITY\\LOCAL SERVICE"}
ADMINISTRATORS = {"sid": "S-1-5-32-544", "name": "BUILTIN\\Administrators"}
BACKUP_OPERATORS = {"sid": "S-1-5-32-551", "name": "BUILTIN\\Backup Operators"}
SVC_KEYFACTOR = {"sid": "S-1-5-21-1004336348-1177238915-682003330-1105", "name": "CONTOSO\\svc_keyfactor"}

# Privilege Constants (winnt.h) and Account Rights Constants (ntsecapi.h), as Microsoft documents them.
DOCUMENTED_PRIVILEGES = {
    "SeAssignPrimaryTokenPrivilege", "SeAuditPrivilege", "SeBackupPrivilege", "SeChangeNotifyPrivilege",
    "SeCreateGlobalPrivilege", "SeCreatePagefilePrivilege", "SeCreatePermanentPrivilege", "SeCreateSymbolicLinkPrivilege",
    "SeCreateTokenPrivilege", "SeDebugPrivilege", "SeDelegateSessionUserImpersonatePrivilege", "SeEnableDelegationPrivilege",
    "SeImpersonatePrivilege", "SeIncreaseBasePriorityPrivilege", "SeIncreaseQuotaPrivilege", "SeIncreaseWorkingSetPrivilege",
    "SeLoadDriverPrivilege", "SeLockMemoryPrivilege", "SeMachineAccountPrivilege", "SeManageVolumePrivilege",
    "SeProfileSingleProcessPrivilege", "SeRelabelPrivilege", "SeRemoteShutdownPrivilege", "SeRestorePrivilege",
    "SeSecurityPrivilege", "SeShutdownPrivilege", "SeSyncAgentPrivilege", "SeSystemEnvironmentPrivilege",
    "SeSystemProfilePrivilege", "SeSystemtimePrivilege", "SeTakeOwnershipPrivilege", "SeTcbPrivilege",
    "SeTimeZonePrivilege", "SeTrustedCredManAccessPrivilege", "SeUndockPrivilege", "SeUnsolicitedInputPrivilege",
}
DOCUMENTED_LOGON_RIGHTS = {
    "SeBatchLogonRight", "SeDenyBatchLogonRight", "SeDenyInteractiveLogonRight", "SeDenyNetworkLogonRight",
    "SeDenyRemoteInteractiveLogonRight", "SeDenyServiceLogonRight", "SeInteractiveLogonRight", "SeNetworkLogonRight",
    "SeRemoteInteractiveLogonRight", "SeServiceLogonRight",
}


def resolved(reference: str, principal: dict) -> dict:
    """One entry of the probe's ``accounts`` list for a reference that Windows mapped."""
    return {"input": reference, "sid": principal["sid"], "name": principal["name"], "error": None}


def unresolved(reference: str, error: str) -> dict:
    return {"input": reference, "sid": None, "name": None, "error": error}


def probe_result(holders: dict[str, list[dict]], accounts: list[dict]) -> dict:
    return {"holders": {right: [dict(p) for p in principals] for right, principals in holders.items()}, "accounts": accounts}


def principal(p: dict) -> dict:
    return {"name": p["name"], "sid": p["sid"]}


# --- the constants ---------------------------------------------------------------------------


def test_all_rights_has_45_unique_entries():
    assert len(ALL_RIGHTS) == 45
    assert len(set(ALL_RIGHTS)) == 45


def test_privileges_are_the_35_assignable_documented_privilege_constants():
    assert len(PRIVILEGES) == 35
    assert set(PRIVILEGES) == DOCUMENTED_PRIVILEGES - {"SeUnsolicitedInputPrivilege"}


def test_the_unassignable_unsolicited_input_privilege_is_refused_on_the_controller():
    with pytest.raises(TaskInputError, match="'SeUnsolicitedInputPrivilege' is not a Windows logon right or privilege constant"):
        _user_rights.canonical_right("SeUnsolicitedInputPrivilege")


def test_logon_rights_are_the_10_documented_account_rights_constants():
    assert len(LOGON_RIGHTS) == 10
    assert set(LOGON_RIGHTS) == DOCUMENTED_LOGON_RIGHTS


def test_no_two_constants_differ_only_in_case():
    assert len({r.lower() for r in ALL_RIGHTS}) == len(ALL_RIGHTS)


# --- canonical_right -------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["SeServiceLogonRight", "seservicelogonright", "SESERVICELOGONRIGHT", "sEsErViCeLoGoNrIgHt"])
def test_canonical_right_ignores_case(spelling):
    assert canonical_right(spelling) == "SeServiceLogonRight"


def test_canonical_right_keeps_the_documented_lower_case_t_of_systemtime():
    assert canonical_right("SeSystemTimePrivilege") == "SeSystemtimePrivilege"


def test_canonical_right_rejects_an_unknown_name_and_names_it():
    with pytest.raises(TaskInputError, match=r"'SeServiceLogon' is not a Windows logon right or privilege constant"):
        canonical_right("SeServiceLogon")


def test_canonical_right_suggests_close_matches_for_an_unknown_name():
    with pytest.raises(TaskInputError) as raised:
        canonical_right("SeServiceLogon")
    assert "Did you mean SeServiceLogonRight" in str(raised.value)


def test_canonical_right_suggests_the_documented_spelling_of_a_case_mangled_typo():
    with pytest.raises(TaskInputError) as raised:
        canonical_right("sebackupprivilig")
    assert "Did you mean SeBackupPrivilege" in str(raised.value)


def test_canonical_right_gives_no_suggestion_when_nothing_is_close():
    with pytest.raises(TaskInputError) as raised:
        canonical_right("Bogus")
    assert "Did you mean" not in str(raised.value)
    assert "'Bogus'" in str(raised.value)


# --- normalise_rights ------------------------------------------------------------------------


def test_normalise_rights_turns_a_single_account_string_into_a_list_of_one():
    assert normalise_rights({"SeServiceLogonRight": "CONTOSO\\svc_keyfactor"}) == {"SeServiceLogonRight": ["CONTOSO\\svc_keyfactor"]}


def test_normalise_rights_keys_by_the_canonical_right_name():
    assert normalise_rights({"sebatchlogonright": ["BUILTIN\\Administrators"]}) == {"SeBatchLogonRight": ["BUILTIN\\Administrators"]}


def test_normalise_rights_strips_whitespace_around_accounts():
    assert normalise_rights({"SeBatchLogonRight": ["  S-1-5-20 "]}) == {"SeBatchLogonRight": ["S-1-5-20"]}


def test_normalise_rights_keeps_an_empty_list():
    assert normalise_rights({"SeBatchLogonRight": []}) == {"SeBatchLogonRight": []}


def test_normalise_rights_rejects_keys_that_differ_only_in_case():
    with pytest.raises(TaskInputError, match="SeServiceLogonRight is listed more than once"):
        normalise_rights({"SeServiceLogonRight": ["S-1-5-20"], "seservicelogonright": ["S-1-5-19"]})


def test_normalise_rights_rejects_an_unknown_right():
    with pytest.raises(TaskInputError, match="'SeServiceLogon'"):
        normalise_rights({"SeServiceLogon": ["S-1-5-20"]})


@pytest.mark.parametrize("account", ["", "   "])
def test_normalise_rights_rejects_an_empty_account(account):
    with pytest.raises(TaskInputError, match="SeServiceLogonRight lists an empty account name"):
        normalise_rights({"SeServiceLogonRight": ["S-1-5-20", account]})


@pytest.mark.parametrize("sid", ["S-1-5-x", "S-1-", "s-1-5-20-", "S-1-5--20"])
def test_normalise_rights_rejects_a_malformed_sid(sid):
    with pytest.raises(TaskInputError, match="not a valid SID string"):
        normalise_rights({"SeServiceLogonRight": [sid]})


def test_normalise_rights_accepts_a_lower_case_sid():
    assert normalise_rights({"SeServiceLogonRight": ["s-1-5-20"]}) == {"SeServiceLogonRight": ["s-1-5-20"]}


@pytest.mark.parametrize("value", [{"account": "S-1-5-20"}, 5, None, ("S-1-5-20",)])
def test_normalise_rights_rejects_a_value_that_is_not_a_list(value):
    with pytest.raises(TaskInputError, match="the value of SeServiceLogonRight must be a list of account names or SIDs"):
        normalise_rights({"SeServiceLogonRight": value})


def test_normalise_rights_rejects_a_list_with_a_non_string_item():
    with pytest.raises(TaskInputError, match="must be a list of account names or SIDs"):
        normalise_rights({"SeServiceLogonRight": ["S-1-5-20", 500]})


# --- accounts_to_resolve ---------------------------------------------------------------------


def test_accounts_to_resolve_lists_each_reference_once_in_first_seen_order():
    rights = {"SeServiceLogonRight": ["b", "a", "b"], "SeBatchLogonRight": ["c", "a"]}
    assert accounts_to_resolve(rights) == ["b", "a", "c"]


# --- plan: add ---------------------------------------------------------------------------------


def test_plan_add_grants_an_account_that_does_not_hold_the_right():
    current = probe_result({"SeServiceLogonRight": [LOCAL_SERVICE]}, [resolved("NETWORK SERVICE", NETWORK_SERVICE)])
    plan = _user_rights.plan({"SeServiceLogonRight": ["NETWORK SERVICE"]}, "add", current)
    assert plan.operations == [{"right": "SeServiceLogonRight", "action": "add", "sid": "S-1-5-20"}]


def test_plan_add_of_two_spellings_of_one_account_adds_it_once():
    current = probe_result(
        {"SeServiceLogonRight": []},
        [resolved("NT AUTHORITY\\NETWORK SERVICE", NETWORK_SERVICE), resolved("s-1-5-20", {"sid": "s-1-5-20", "name": "NT AUTHORITY\\NETWORK SERVICE"})],
    )
    plan = _user_rights.plan({"SeServiceLogonRight": ["NT AUTHORITY\\NETWORK SERVICE", "s-1-5-20"]}, "add", current)
    assert plan.operations == [{"right": "SeServiceLogonRight", "action": "add", "sid": "S-1-5-20"}]


def test_plan_add_changes_nothing_when_the_account_already_holds_the_right():
    current = probe_result({"SeServiceLogonRight": [NETWORK_SERVICE]}, [resolved("network service", NETWORK_SERVICE)])
    plan = _user_rights.plan({"SeServiceLogonRight": ["network service"]}, "add", current)
    assert plan.operations == []
    assert plan.result["changes"] == {"SeServiceLogonRight": {"added": [], "removed": []}}


def test_plan_compares_sids_without_regard_to_case():
    current = probe_result({"SeServiceLogonRight": [{"sid": "s-1-5-21-1-2-3-1105", "name": "CONTOSO\\svc"}]},
                           [resolved("S-1-5-21-1-2-3-1105", {"sid": "S-1-5-21-1-2-3-1105", "name": "CONTOSO\\svc"})])
    plan = _user_rights.plan({"SeServiceLogonRight": ["S-1-5-21-1-2-3-1105"]}, "set", current)
    assert plan.operations == []


def test_plan_add_keeps_the_other_holders():
    current = probe_result({"SeServiceLogonRight": [LOCAL_SERVICE]}, [resolved("NETWORK SERVICE", NETWORK_SERVICE)])
    plan = _user_rights.plan({"SeServiceLogonRight": ["NETWORK SERVICE"]}, "add", current)
    assert plan.result["holders"]["SeServiceLogonRight"] == [principal(LOCAL_SERVICE), principal(NETWORK_SERVICE)]


# --- plan: set ---------------------------------------------------------------------------------


def test_plan_set_adds_missing_accounts_and_removes_every_other_holder():
    current = probe_result({"SeBackupPrivilege": [ADMINISTRATORS, BACKUP_OPERATORS, LOCAL_SERVICE]},
                           [resolved("BUILTIN\\Administrators", ADMINISTRATORS), resolved("CONTOSO\\svc_keyfactor", SVC_KEYFACTOR)])
    plan = _user_rights.plan({"SeBackupPrivilege": ["BUILTIN\\Administrators", "CONTOSO\\svc_keyfactor"]}, "set", current)
    assert plan.operations == [
        {"right": "SeBackupPrivilege", "action": "add", "sid": SVC_KEYFACTOR["sid"]},
        {"right": "SeBackupPrivilege", "action": "remove", "sid": "S-1-5-19"},
        {"right": "SeBackupPrivilege", "action": "remove", "sid": "S-1-5-32-551"},
    ]


def test_plan_set_with_an_empty_list_removes_every_holder():
    current = probe_result({"SeDebugPrivilege": [ADMINISTRATORS]}, [])
    plan = _user_rights.plan({"SeDebugPrivilege": []}, "set", current)
    assert plan.operations == [{"right": "SeDebugPrivilege", "action": "remove", "sid": "S-1-5-32-544"}]
    assert plan.after == {"SeDebugPrivilege": []}


def test_plan_set_changes_nothing_when_the_holders_already_match():
    current = probe_result({"SeDebugPrivilege": [ADMINISTRATORS]}, [resolved("Administrators", ADMINISTRATORS)])
    plan = _user_rights.plan({"SeDebugPrivilege": ["Administrators"]}, "set", current)
    assert plan.operations == []


# --- plan: remove ------------------------------------------------------------------------------


def test_plan_remove_revokes_a_current_holder():
    current = probe_result({"SeServiceLogonRight": [NETWORK_SERVICE, LOCAL_SERVICE]}, [resolved("S-1-5-20", NETWORK_SERVICE)])
    plan = _user_rights.plan({"SeServiceLogonRight": ["S-1-5-20"]}, "remove", current)
    assert plan.operations == [{"right": "SeServiceLogonRight", "action": "remove", "sid": "S-1-5-20"}]


def test_plan_remove_only_removes_accounts_that_hold_the_right():
    current = probe_result({"SeServiceLogonRight": [LOCAL_SERVICE]}, [resolved("S-1-5-20", NETWORK_SERVICE)])
    plan = _user_rights.plan({"SeServiceLogonRight": ["S-1-5-20"]}, "remove", current)
    assert plan.operations == []
    assert plan.result["holders"] == {"SeServiceLogonRight": [principal(LOCAL_SERVICE)]}


def test_plan_remove_never_adds():
    current = probe_result({"SeServiceLogonRight": []}, [resolved("S-1-5-20", NETWORK_SERVICE)])
    plan = _user_rights.plan({"SeServiceLogonRight": ["S-1-5-20"]}, "remove", current)
    assert [op for op in plan.operations if op["action"] == "add"] == []


# --- plan: scope, errors, shapes --------------------------------------------------------------


@pytest.mark.parametrize("action", ["add", "remove", "set"])
def test_plan_leaves_rights_that_are_not_listed_untouched(action):
    current = probe_result({"SeServiceLogonRight": [LOCAL_SERVICE], "SeBatchLogonRight": [ADMINISTRATORS]},
                           [resolved("S-1-5-20", NETWORK_SERVICE)])
    plan = _user_rights.plan({"SeServiceLogonRight": ["S-1-5-20"]}, action, current)
    assert {op["right"] for op in plan.operations} <= {"SeServiceLogonRight"}
    assert set(plan.before) == set(plan.after) == set(plan.result["changes"]) == set(plan.result["holders"]) == {"SeServiceLogonRight"}


def test_plan_rejects_unresolved_accounts_listing_each_input_and_windows_error():
    not_mapped = "Some or all identity references could not be translated."
    current = probe_result({"SeServiceLogonRight": []}, [
        unresolved("CONTOSO\\nobody", not_mapped),
        resolved("S-1-5-20", NETWORK_SERVICE),
        unresolved("ghost@contoso.com", "The trust relationship between this workstation and the primary domain failed."),
    ])
    with pytest.raises(PlanError) as raised:
        _user_rights.plan({"SeServiceLogonRight": ["CONTOSO\\nobody", "S-1-5-20", "ghost@contoso.com"]}, "add", current)
    message = str(raised.value)
    assert "could not be resolved to a SID" in message
    assert f"'CONTOSO\\\\nobody' ({not_mapped})" in message
    assert "'ghost@contoso.com' (The trust relationship between this workstation and the primary domain failed.)" in message
    assert "S-1-5-20" not in message


def test_plan_reports_an_unresolved_account_without_an_error_text_as_not_found():
    current = probe_result({"SeServiceLogonRight": []}, [{"input": "nobody", "sid": None, "name": None, "error": None}])
    with pytest.raises(PlanError, match=r"'nobody' \(not found\)"):
        _user_rights.plan({"SeServiceLogonRight": ["nobody"]}, "add", current)


def test_plan_diff_lists_sorted_holder_names_before_and_after():
    current = probe_result({"SeBackupPrivilege": [BACKUP_OPERATORS, ADMINISTRATORS]},
                           [resolved("svc", SVC_KEYFACTOR), resolved("network service", NETWORK_SERVICE)])
    plan = _user_rights.plan({"SeBackupPrivilege": ["svc", "network service"]}, "add", current)
    assert plan.before == {"SeBackupPrivilege": ["BUILTIN\\Administrators", "BUILTIN\\Backup Operators"]}
    assert plan.after == {"SeBackupPrivilege": [
        "BUILTIN\\Administrators", "BUILTIN\\Backup Operators", "CONTOSO\\svc_keyfactor", "NT AUTHORITY\\NETWORK SERVICE",
    ]}


def test_plan_diff_sorts_names_without_regard_to_case():
    lower = {"sid": "S-1-5-21-1-2-3-1001", "name": "KF01\\alice"}
    upper = {"sid": "S-1-5-21-1-2-3-1002", "name": "KF01\\Bob"}
    current = probe_result({"SeBatchLogonRight": [upper, lower]}, [])
    plan = _user_rights.plan({"SeBatchLogonRight": []}, "add", current)
    assert plan.before == {"SeBatchLogonRight": ["KF01\\alice", "KF01\\Bob"]}


def test_plan_result_changes_shape():
    accounts = [resolved("Administrators", ADMINISTRATORS), resolved("svc", SVC_KEYFACTOR)]
    current = probe_result({"SeBackupPrivilege": [ADMINISTRATORS, LOCAL_SERVICE]}, accounts)
    plan = _user_rights.plan({"SeBackupPrivilege": ["Administrators", "svc"]}, "set", current)
    assert plan.result["changes"] == {
        "SeBackupPrivilege": {"added": [principal(SVC_KEYFACTOR)], "removed": [principal(LOCAL_SERVICE)]},
    }


def test_plan_result_holders_are_the_final_holders_sorted_by_name():
    accounts = [resolved("Administrators", ADMINISTRATORS), resolved("svc", SVC_KEYFACTOR)]
    current = probe_result({"SeBackupPrivilege": [LOCAL_SERVICE, ADMINISTRATORS]}, accounts)
    plan = _user_rights.plan({"SeBackupPrivilege": ["svc", "Administrators"]}, "set", current)
    assert plan.result["holders"] == {"SeBackupPrivilege": [principal(ADMINISTRATORS), principal(SVC_KEYFACTOR)]}
    assert set(plan.result) == {"changes", "holders"}


def test_plan_names_a_holder_windows_could_not_translate_by_its_sid():
    orphan = "S-1-5-21-9-9-9-1234"
    current = probe_result({"SeBatchLogonRight": [{"sid": orphan}]}, [])
    plan = _user_rights.plan({"SeBatchLogonRight": []}, "set", current)
    assert plan.result["changes"]["SeBatchLogonRight"]["removed"] == [{"name": orphan, "sid": orphan}]


def test_plan_upper_cases_sids_in_operations():
    current = probe_result({"SeBatchLogonRight": []}, [resolved("s-1-5-21-1-2-3-1105", {"sid": "s-1-5-21-1-2-3-1105", "name": None})])
    plan = _user_rights.plan({"SeBatchLogonRight": ["s-1-5-21-1-2-3-1105"]}, "add", current)
    assert plan.operations == [{"right": "SeBatchLogonRight", "action": "add", "sid": "S-1-5-21-1-2-3-1105"}]


def test_plan_operations_are_sorted_by_sid_within_a_right_whatever_the_input_order():
    accounts = [resolved("svc", SVC_KEYFACTOR), resolved("NETWORK SERVICE", NETWORK_SERVICE), resolved("LOCAL SERVICE", LOCAL_SERVICE)]
    current = probe_result({"SeServiceLogonRight": []}, accounts)
    plan = _user_rights.plan({"SeServiceLogonRight": ["svc", "NETWORK SERVICE", "LOCAL SERVICE"]}, "add", current)
    assert [op["sid"] for op in plan.operations] == ["S-1-5-19", "S-1-5-20", SVC_KEYFACTOR["sid"]]


def test_plan_operations_put_additions_before_removals_for_each_right():
    current = probe_result({"SeServiceLogonRight": [LOCAL_SERVICE]}, [resolved("NETWORK SERVICE", NETWORK_SERVICE)])
    plan = _user_rights.plan({"SeServiceLogonRight": ["NETWORK SERVICE"]}, "set", current)
    assert [op["action"] for op in plan.operations] == ["add", "remove"]


def test_plan_is_deterministic_for_reordered_accounts_and_holders():
    accounts = [resolved("svc", SVC_KEYFACTOR), resolved("NETWORK SERVICE", NETWORK_SERVICE)]
    first = _user_rights.plan({"SeServiceLogonRight": ["svc", "NETWORK SERVICE"]}, "set",
                              probe_result({"SeServiceLogonRight": [LOCAL_SERVICE, ADMINISTRATORS]}, accounts))
    second = _user_rights.plan({"SeServiceLogonRight": ["NETWORK SERVICE", "svc"]}, "set",
                               probe_result({"SeServiceLogonRight": [ADMINISTRATORS, LOCAL_SERVICE]}, list(reversed(accounts))))
    assert first == second


def test_plan_plans_each_listed_right_independently():
    current = probe_result({"SeServiceLogonRight": [], "SeBatchLogonRight": [NETWORK_SERVICE]}, [resolved("S-1-5-20", NETWORK_SERVICE)])
    plan = _user_rights.plan({"SeServiceLogonRight": ["S-1-5-20"], "SeBatchLogonRight": ["S-1-5-20"]}, "add", current)
    assert plan.operations == [{"right": "SeServiceLogonRight", "action": "add", "sid": "S-1-5-20"}]
    assert plan.result["changes"]["SeBatchLogonRight"] == {"added": [], "removed": []}


def test_plan_refuses_a_probe_that_left_out_a_right():
    current = probe_result({}, [resolved("S-1-5-20", NETWORK_SERVICE)])
    with pytest.raises(UnexpectedProbeResult, match="the holders of SeServiceLogonRight are missing"):
        _user_rights.plan({"SeServiceLogonRight": ["S-1-5-20"]}, "add", current)


def test_plan_refuses_holders_flattened_to_text_by_win_powershell_depth():
    current = probe_result({}, [resolved("S-1-5-20", NETWORK_SERVICE)])
    current["holders"]["SeServiceLogonRight"] = "System.Collections.Hashtable"
    with pytest.raises(UnexpectedProbeResult, match="not a list of SIDs"):
        _user_rights.plan({"SeServiceLogonRight": ["S-1-5-20"]}, "add", current)


def test_plan_refuses_a_probe_that_did_not_resolve_every_account():
    current = probe_result({"SeServiceLogonRight": []}, [])
    with pytest.raises(UnexpectedProbeResult, match="no resolution for S-1-5-20"):
        _user_rights.plan({"SeServiceLogonRight": ["S-1-5-20"]}, "add", current)
