"""Model of plugins/plugin_utils/_powershell/user_rights.ps1 against the host's LSA policy.

State: ``user_rights`` maps a right constant to the SIDs that hold it.
"""

from __future__ import annotations

from ..accounts import resolution_report
from ..errors import HostError
from ..registry import payload_model

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


def _apply(call) -> None:
    policy = call.host.state["user_rights"]
    applied = []
    for operation in call.parameters.get("Operations") or []:
        right = _lsa_right(operation["right"])
        sid = call.host.directory.resolve(operation["sid"]).sid
        if call.check_mode:
            continue  # -WhatIf: ShouldProcess declines every change
        holders = policy.setdefault(right, [])
        if operation["action"] == "add" and sid not in holders:
            holders.append(sid)
        elif operation["action"] == "remove" and sid in holders:
            holders.remove(sid)
        applied.append({"right": right, "action": operation["action"], "sid": sid})
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
