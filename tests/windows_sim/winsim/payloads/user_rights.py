"""Model of plugins/plugin_utils/_powershell/user_rights.ps1 against the host's LSA policy.

State: ``user_rights`` maps a right constant to the SIDs that hold it.
"""

from __future__ import annotations

from ..accounts import canonical_sid, resolution_report
from ..errors import HostError
from ..models import payload_model

# The rights LSA can assign, kept apart from the collection's own list on
# purpose: the model must be able to disagree with the controller.
_LSA_RIGHTS = """
SeAssignPrimaryTokenPrivilege SeAuditPrivilege SeBackupPrivilege SeChangeNotifyPrivilege SeCreateGlobalPrivilege
SeCreatePagefilePrivilege SeCreatePermanentPrivilege SeCreateSymbolicLinkPrivilege SeCreateTokenPrivilege
SeDebugPrivilege SeDelegateSessionUserImpersonatePrivilege SeEnableDelegationPrivilege SeImpersonatePrivilege
SeIncreaseBasePriorityPrivilege SeIncreaseQuotaPrivilege SeIncreaseWorkingSetPrivilege SeLoadDriverPrivilege
SeLockMemoryPrivilege SeMachineAccountPrivilege SeManageVolumePrivilege SeProfileSingleProcessPrivilege
SeRelabelPrivilege SeRemoteShutdownPrivilege SeRestorePrivilege SeSecurityPrivilege SeShutdownPrivilege
SeSyncAgentPrivilege SeSystemEnvironmentPrivilege SeSystemProfilePrivilege SeSystemtimePrivilege
SeTakeOwnershipPrivilege SeTcbPrivilege SeTimeZonePrivilege SeTrustedCredManAccessPrivilege SeUndockPrivilege
SeBatchLogonRight SeDenyBatchLogonRight SeDenyInteractiveLogonRight SeDenyNetworkLogonRight
SeDenyRemoteInteractiveLogonRight SeDenyServiceLogonRight SeInteractiveLogonRight SeNetworkLogonRight
SeRemoteInteractiveLogonRight SeServiceLogonRight
""".split()
_KNOWN_RIGHTS = {r.lower(): r for r in _LSA_RIGHTS}


def _lsa_right(name: str) -> str:
    right = _KNOWN_RIGHTS.get(name.lower())
    if right is None:
        # STATUS_NO_SUCH_PRIVILEGE through LsaNtStatusToWinError
        raise HostError("A specified privilege does not exist", "System.ComponentModel.Win32Exception")
    return right


def _probe(call) -> None:
    directory = call.host.directory
    policy = call.host.state["user_rights"]
    holders = {}
    for name in call.parameters.get("Rights") or []:
        right = _lsa_right(name)
        holders[name] = [{"sid": sid, "name": directory.name_of(sid)} for sid in policy.get(right, [])]
    accounts = resolution_report(directory, call.parameters.get("Accounts") or [])
    call.changed = False
    call.result = {"holders": holders, "accounts": accounts}


def _operation_plan(operations: list) -> list[tuple[str, str, str]]:
    """As the payload's Get-OperationPlan: every operation checked before the first change."""
    plan = []
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise HostError(f"Operation #{index} is not a dictionary with the keys right, action and sid.",
                            "System.Management.Automation.RuntimeException")
        right, action, sid = (str(operation.get(key) or "") for key in ("right", "action", "sid"))
        label = f"operation #{index} (right '{right}', action '{action}', sid '{sid}')"
        if not right:
            raise HostError(f"Invalid {label}: right is empty.", "System.Management.Automation.RuntimeException")
        if action not in ("add", "remove"):
            raise HostError(f"Invalid {label}: action must be 'add' or 'remove'.",
                            "System.Management.Automation.RuntimeException")
        # Test-SidString: the LSA calls take a SID, never a name to look up.
        if not sid.upper().startswith("S-1-"):
            raise HostError(f"Invalid {label}: sid must be a SID string such as S-1-5-20.",
                            "System.Management.Automation.RuntimeException")
        try:
            plan.append((right, action, canonical_sid(sid)))
        except HostError as error:
            raise HostError(f"Invalid {label}: {error.message}", error.type_name) from None
    return plan


def _apply(call) -> None:
    policy = call.host.state["user_rights"]
    applied = []
    for right_name, action, sid in _operation_plan(call.parameters.get("Operations") or []):
        # The right is checked by LSA itself, when the operation runs.
        right = _lsa_right(right_name)
        if call.check_mode:
            continue  # -WhatIf: ShouldProcess declines every change
        holders = policy.setdefault(right, [])
        held = next((h for h in holders if h.upper() == sid.upper()), None)
        if action == "add" and held is None:
            holders.append(sid)
        elif action == "remove" and held is not None:
            holders.remove(held)
        applied.append({"right": right, "action": action, "sid": sid})
        call.changed = True
        call.result = {"applied": applied}
        call.operation_done()
    call.result = {"applied": applied}


@payload_model("user_rights")
def user_rights(call) -> None:
    call.changed = False  # the payload clears it before any work
    if call.mode == "probe":
        _probe(call)
    elif call.mode == "apply":
        _apply(call)
    else:
        raise HostError(f"Cannot validate argument on parameter 'Mode'. The argument \"{call.mode}\" does not belong "
                        "to the set \"probe,apply\" specified by the ValidateSet attribute.",
                        "System.Management.Automation.ParameterBindingValidationException")
