# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkiops.keyfactor_command.user_rights: its definition, with the validation and planning it runs, free of Ansible."""

from __future__ import annotations

import difflib

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._user_rights_spec import ARGUMENT_SPEC, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    Definition,
    Plan,
    PlanError,
    TaskInputError,
    UnexpectedProbeResult,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._principals import principal_problem

# Every privilege constant in winnt.h and every account right constant in
# ntsecapi.h ("Privilege Constants" and "Account Rights Constants" in
# Microsoft's documentation) that LSA can assign. SeUnsolicitedInputPrivilege
# is defined too, but Microsoft lists it as not applicable and LSA knows no
# such privilege, so it is left out.
PRIVILEGES = (
    "SeAssignPrimaryTokenPrivilege",
    "SeAuditPrivilege",
    "SeBackupPrivilege",
    "SeChangeNotifyPrivilege",
    "SeCreateGlobalPrivilege",
    "SeCreatePagefilePrivilege",
    "SeCreatePermanentPrivilege",
    "SeCreateSymbolicLinkPrivilege",
    "SeCreateTokenPrivilege",
    "SeDebugPrivilege",
    "SeDelegateSessionUserImpersonatePrivilege",
    "SeEnableDelegationPrivilege",
    "SeImpersonatePrivilege",
    "SeIncreaseBasePriorityPrivilege",
    "SeIncreaseQuotaPrivilege",
    "SeIncreaseWorkingSetPrivilege",
    "SeLoadDriverPrivilege",
    "SeLockMemoryPrivilege",
    "SeMachineAccountPrivilege",
    "SeManageVolumePrivilege",
    "SeProfileSingleProcessPrivilege",
    "SeRelabelPrivilege",
    "SeRemoteShutdownPrivilege",
    "SeRestorePrivilege",
    "SeSecurityPrivilege",
    "SeShutdownPrivilege",
    "SeSyncAgentPrivilege",
    "SeSystemEnvironmentPrivilege",
    "SeSystemProfilePrivilege",
    "SeSystemtimePrivilege",
    "SeTakeOwnershipPrivilege",
    "SeTcbPrivilege",
    "SeTimeZonePrivilege",
    "SeTrustedCredManAccessPrivilege",
    "SeUndockPrivilege",
)
LOGON_RIGHTS = (
    "SeBatchLogonRight",
    "SeDenyBatchLogonRight",
    "SeDenyInteractiveLogonRight",
    "SeDenyNetworkLogonRight",
    "SeDenyRemoteInteractiveLogonRight",
    "SeDenyServiceLogonRight",
    "SeInteractiveLogonRight",
    "SeNetworkLogonRight",
    "SeRemoteInteractiveLogonRight",
    "SeServiceLogonRight",
)
ALL_RIGHTS = PRIVILEGES + LOGON_RIGHTS
_CANONICAL = {name.lower(): name for name in ALL_RIGHTS}


def canonical_right(name: str) -> str:
    """The documented spelling of a right; LSA compares right names without regard to case."""
    try:
        return _CANONICAL[name.lower()]
    except KeyError:
        close = difflib.get_close_matches(name.lower(), list(_CANONICAL), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(_CANONICAL[c] for c in close)}?" if close else ""
        raise TaskInputError(
            f"rights: {name!r} is not a Windows logon right or privilege constant.{hint} "
            "Accepted names are the constants Microsoft documents under 'Privilege Constants' and "
            "'Account Rights Constants', for example SeServiceLogonRight or SeBackupPrivilege."
        ) from None


def normalise_rights(rights: dict) -> dict[str, list[str]]:
    """Check the rights option and return it keyed by canonical right, each with a list of account strings."""
    normalised: dict[str, list[str]] = {}
    for name, accounts in rights.items():
        right = canonical_right(str(name))
        if right in normalised:
            raise TaskInputError(f"rights: {right} is listed more than once (names are not case-sensitive)")
        if isinstance(accounts, str):
            accounts = [accounts]
        if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
            raise TaskInputError(f"rights: the value of {right} must be a list of account names or SIDs")
        cleaned = [a.strip() for a in accounts]
        for account in cleaned:
            if not account:
                raise TaskInputError(f"rights: {right} lists an empty account name")
            problem = principal_problem(account)
            if problem:
                raise TaskInputError(f"rights: {right} lists {account!r}, which {problem}")
        normalised[right] = cleaned
    return normalised


def accounts_to_resolve(rights: dict[str, list[str]]) -> list[str]:
    """Each distinct account string once, in first-seen order, for the host to translate."""
    return list(dict.fromkeys(a for accounts in rights.values() for a in accounts))


def _is_principal_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(p, dict) and isinstance(p.get("sid"), str) for p in value)


def check_probe(rights: dict[str, list[str]], current: dict) -> None:
    """The probe must report every right asked for and every account, as the payload promises."""
    holders = current.get("holders")
    if not isinstance(holders, dict):
        raise UnexpectedProbeResult("no 'holders' mapping")
    for right in rights:
        if not _is_principal_list(holders.get(right)):
            raise UnexpectedProbeResult(f"the holders of {right} are missing or not a list of SIDs")
    accounts = current.get("accounts")
    if not isinstance(accounts, list) or not all(isinstance(a, dict) for a in accounts):
        raise UnexpectedProbeResult("no 'accounts' list")
    missing = set(accounts_to_resolve(rights)) - {a.get("input") for a in accounts}
    if missing:
        raise UnexpectedProbeResult(f"no resolution for {', '.join(sorted(missing))}")


def _principal(sid: str, name: str | None) -> dict:
    return {"name": name or sid, "sid": sid}


def plan(rights: dict[str, list[str]], action: str, current: dict) -> Plan:
    """Compare the wanted holders of each right with the host's, by SID, and plan the LSA calls."""
    check_probe(rights, current)
    resolved: dict[str, dict] = {}
    failures = []
    for entry in current["accounts"]:
        if entry.get("sid"):
            resolved[entry["input"]] = entry
        else:
            failures.append(f"{entry.get('input')!r} ({entry.get('error') or 'not found'})")
    if failures:
        raise PlanError(
            "rights: these accounts could not be resolved to a SID on the host: " + ", ".join(failures)
        )

    holders = current["holders"]
    operations: list[dict] = []
    changes: dict[str, dict] = {}
    before: dict[str, list[str]] = {}
    after: dict[str, list[str]] = {}
    result_holders: dict[str, list[dict]] = {}
    for right, accounts in rights.items():
        current_holders = {h["sid"].upper(): _principal(h["sid"].upper(), h.get("name")) for h in holders.get(right) or []}
        wanted = {}
        for account in accounts:
            entry = resolved[account]
            wanted.setdefault(entry["sid"].upper(), _principal(entry["sid"].upper(), entry.get("name")))

        if action == "remove":
            to_add, to_remove = {}, {sid: p for sid, p in current_holders.items() if sid in wanted}
        else:
            to_add = {sid: p for sid, p in wanted.items() if sid not in current_holders}
            to_remove = {sid: p for sid, p in current_holders.items() if sid not in wanted} if action == "set" else {}

        operations += [{"right": right, "action": "add", "sid": sid} for sid in sorted(to_add)]
        operations += [{"right": right, "action": "remove", "sid": sid} for sid in sorted(to_remove)]
        final = {sid: p for sid, p in current_holders.items() if sid not in to_remove}
        final.update(to_add)

        changes[right] = {
            "added": sorted(to_add.values(), key=lambda p: p["name"].lower()),
            "removed": sorted(to_remove.values(), key=lambda p: p["name"].lower()),
        }
        before[right] = sorted((p["name"] for p in current_holders.values()), key=str.lower)
        after[right] = sorted((p["name"] for p in final.values()), key=str.lower)
        result_holders[right] = sorted(final.values(), key=lambda p: p["name"].lower())

    return Plan(
        operations=operations,
        before=before,
        after=after,
        result={"changes": changes, "holders": result_holders},
    )


class UserRights(Definition):
    """Grant or revoke Windows logon rights and privileges through LSA."""

    name = "user_rights"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES
    areas = ("user_rights",)

    def check_params(self, params, context):
        return dict(params, rights=normalise_rights(params["rights"]))

    def probe_parameters(self, params):
        return {
            "Rights": list(params["rights"]),
            "Accounts": accounts_to_resolve(params["rights"]),
        }

    def plan(self, params, current, context):
        return plan(params["rights"], params["action"], current)


DEFINITION = UserRights()
