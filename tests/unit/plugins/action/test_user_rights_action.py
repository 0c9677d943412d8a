"""pkiops.keyfactor_command.user_rights: what its action plugin sends to the payload and returns."""

from __future__ import annotations

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.action.user_rights import ActionModule
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._user_rights_spec import ARGUMENT_SPEC

FQCN = "pkiops.keyfactor_command.user_rights"
ADMINISTRATORS = {"sid": "S-1-5-32-544", "name": "BUILTIN\\Administrators"}
BACKUP_OPERATORS = {"sid": "S-1-5-32-551", "name": "BUILTIN\\Backup Operators"}
NETWORK_SERVICE = {"sid": "S-1-5-20", "name": "NT AUTHORITY\\NETWORK SERVICE"}


def account(reference: str, principal: dict | None, error: str | None = None) -> dict:
    if principal is None:
        return {"input": reference, "sid": None, "name": None, "error": error}
    return {"input": reference, **principal, "error": None}


@pytest.fixture
def user_rights(make_action):
    def factory(args, **kwargs):
        return make_action(ActionModule, args, **kwargs)

    return factory


def test_action_defaults_to_add():
    assert ARGUMENT_SPEC["action"]["default"] == "add"
    assert ARGUMENT_SPEC["action"]["choices"] == ["add", "remove", "set"]


def test_the_probe_asks_for_canonical_rights_and_each_account_once(user_rights, ps_ok):
    action, replay = user_rights({"rights": {
        "seservicelogonright": ["NETWORK SERVICE", " BUILTIN\\Administrators "],
        "SEBATCHLOGONRIGHT": "NETWORK SERVICE",
    }})
    replay.queue(ps_ok({
        "holders": {"SeServiceLogonRight": [], "SeBatchLogonRight": [NETWORK_SERVICE]},
        "accounts": [account("NETWORK SERVICE", NETWORK_SERVICE), account("BUILTIN\\Administrators", ADMINISTRATORS)],
    }), ps_ok({}, changed=True))
    action.run(task_vars={})
    assert replay.calls[0]["module_args"]["parameters"] == {
        "Mode": "probe",
        "Rights": ["SeServiceLogonRight", "SeBatchLogonRight"],
        "Accounts": ["NETWORK SERVICE", "BUILTIN\\Administrators"],
    }


def test_the_apply_carries_only_mode_and_operations(user_rights, ps_ok):
    action, replay = user_rights({"rights": {"SeBackupPrivilege": ["BUILTIN\\Administrators"]}, "action": "set"})
    replay.queue(ps_ok({
        "holders": {"SeBackupPrivilege": [ADMINISTRATORS, BACKUP_OPERATORS]},
        "accounts": [account("BUILTIN\\Administrators", ADMINISTRATORS)],
    }), ps_ok({"applied": []}, changed=True))
    action.run(task_vars={})
    assert replay.calls[1]["module_args"]["parameters"] == {
        "Mode": "apply",
        "Operations": [{"right": "SeBackupPrivilege", "action": "remove", "sid": "S-1-5-32-551"}],
    }


def test_a_change_returns_changes_holders_and_diff(user_rights, ps_ok):
    action, replay = user_rights({"rights": {"SeBackupPrivilege": ["BUILTIN\\Administrators"]}, "action": "set"}, diff=True)
    replay.queue(ps_ok({
        "holders": {"SeBackupPrivilege": [ADMINISTRATORS, BACKUP_OPERATORS]},
        "accounts": [account("BUILTIN\\Administrators", ADMINISTRATORS)],
    }), ps_ok({"applied": []}, changed=True))
    result = action.run(task_vars={})
    assert result["changed"] is True
    assert result["changes"] == {"SeBackupPrivilege": {"added": [], "removed": [{"name": "BUILTIN\\Backup Operators", "sid": "S-1-5-32-551"}]}}
    assert result["holders"] == {"SeBackupPrivilege": [{"name": "BUILTIN\\Administrators", "sid": "S-1-5-32-544"}]}
    assert result["diff"] == {
        "before": {"SeBackupPrivilege": ["BUILTIN\\Administrators", "BUILTIN\\Backup Operators"]},
        "after": {"SeBackupPrivilege": ["BUILTIN\\Administrators"]},
    }


def test_an_unknown_right_fails_without_contacting_the_host(user_rights):
    action, replay = user_rights({"rights": {"SeServiceLogon": ["NETWORK SERVICE"]}})
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["msg"].startswith(f"{FQCN}: rights: 'SeServiceLogon' is not a Windows logon right")


def test_missing_rights_fails_without_contacting_the_host(user_rights):
    action, replay = user_rights({})
    result = action.run(task_vars={})
    assert replay.calls == []
    assert result["failed"] is True
    assert result["msg"].startswith(f"{FQCN}: ")
    assert "rights" in result["msg"]


def test_an_unresolved_account_fails_after_the_probe_without_applying(user_rights, ps_ok):
    action, replay = user_rights({"rights": {"SeServiceLogonRight": ["CONTOSO\\nobody", "NETWORK SERVICE"]}})
    replay.queue(ps_ok({
        "holders": {"SeServiceLogonRight": []},
        "accounts": [account("CONTOSO\\nobody", None, "Some or all identity references could not be translated."),
                     account("NETWORK SERVICE", NETWORK_SERVICE)],
    }))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == (f"{FQCN}: rights: these accounts could not be resolved to a SID on the host: "
                             "'CONTOSO\\\\nobody' (Some or all identity references could not be translated.)")


def test_remove_of_an_account_that_holds_nothing_is_not_a_change(user_rights, ps_ok):
    action, replay = user_rights({"rights": {"SeDebugPrivilege": ["NETWORK SERVICE"]}, "action": "remove"})
    replay.queue(ps_ok({"holders": {"SeDebugPrivilege": [ADMINISTRATORS]}, "accounts": [account("NETWORK SERVICE", NETWORK_SERVICE)]}))
    result = action.run(task_vars={})
    assert replay.modes == ["probe"]
    assert result["changed"] is False
