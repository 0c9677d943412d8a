# pkiops-payload: user_rights
#
# Reads or changes which accounts hold a user right (for example
# SeServiceLogonRight) or privilege (for example SeBackupPrivilege) in the
# local security policy of this computer.
#
# probe: read only. Reports the direct holders of each right in -Rights and
#        resolves each account reference in -Accounts to a SID. Safe under
#        -WhatIf: nothing in this mode is gated by ShouldProcess or writes.
# apply: performs exactly the operations in -Operations, in order, and
#        nothing else. Deciding what to change is the controller's job.
#
# Windows API reference for the native calls: ntsecapi.h (advapi32.dll), in
# the _lsa_policy.ps1 fragment.
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('probe', 'apply')]
    [string]$Mode,

    [string[]]$Rights = @(),

    [string[]]$Accounts = @(),

    [object[]]$Operations = @()
)

$ErrorActionPreference = 'Stop'

# win_powershell starts every run with Changed = $true. Clear it before any
# work so that a failure before the first mutation does not report a change.
$Ansible.Changed = $false

# The controller replaces these lines with the shared fragments: error
# wrapping, resolving account names to SIDs, and the LSA policy calls.
# pkiops-include: _errors.ps1
# pkiops-include: _principals.ps1
# pkiops-include: _lsa_policy.ps1

function Invoke-Probe {
    param(
        [AllowEmptyCollection()]
        [string[]]$RightNames,

        [AllowEmptyCollection()]
        [string[]]$AccountReferences
    )

    # Names are shown in the diff and the result next to each SID.
    $holders = Get-RightHolders -RightNames $RightNames -IncludeNames
    $resolved = Resolve-PrincipalList -References $AccountReferences

    $Ansible.Changed = $false
    $Ansible.Result = @{
        holders = $holders
        accounts = $resolved
    }
}

function Get-OperationPlan {
    # Validates every operation before the first change, so malformed input
    # cannot leave the policy half-updated.
    param(
        [AllowEmptyCollection()]
        [object[]]$OperationList
    )

    $plan = [System.Collections.Generic.List[object]]::new()
    $index = 0
    foreach ($op in $OperationList) {
        if ($op -isnot [System.Collections.IDictionary]) {
            throw "Operation #$index is not a dictionary with the keys right, action and sid."
        }
        $right = [string]$op['right']
        $action = [string]$op['action']
        $sidText = [string]$op['sid']
        $label = "operation #$index (right '$right', action '$action', sid '$sidText')"

        if ([string]::IsNullOrEmpty($right)) {
            throw "Invalid ${label}: right is empty."
        }
        if ($action -cne 'add' -and $action -cne 'remove') {
            throw "Invalid ${label}: action must be 'add' or 'remove'."
        }
        if (-not (Test-SidString -Value $sidText)) {
            throw "Invalid ${label}: sid must be a SID string such as S-1-5-20."
        }
        $sid = $null
        try {
            $sid = [System.Security.Principal.SecurityIdentifier]::new($sidText)
        }
        catch {
            throw (New-ContextException -Context "Invalid $label" -ErrorRecord $_)
        }

        $plan.Add([pscustomobject]@{
                Right = $right
                Action = $action
                SidText = $sidText
                Sid = $sid
                Label = $label
            })
        $index++
    }
    , $plan
}

function Invoke-Apply {
    param(
        [AllowEmptyCollection()]
        [object[]]$OperationList,

        # The script's own PSCmdlet, so that ShouldProcess honours the
        # -WhatIf and -Confirm values the script was invoked with.
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]$Cmdlet
    )

    $applied = [System.Collections.Generic.List[object]]::new()
    # Published before any change, and filled in as operations succeed, so
    # that if one fails the result still shows exactly what was done.
    $Ansible.Changed = $false
    $Ansible.Result = @{
        applied = $applied
    }

    $plan = Get-OperationPlan -OperationList $OperationList

    # LsaAddAccountRights needs POLICY_LOOKUP_NAMES, plus POLICY_CREATE_ACCOUNT
    # when the LSA has no account object for the SID yet (typically because
    # nothing is assigned to it). LsaRemoveAccountRights needs
    # POLICY_LOOKUP_NAMES.
    $access = [Pkiops.KeyfactorCommand.UserRights.PolicyAccess]::POLICY_LOOKUP_NAMES -bor [Pkiops.KeyfactorCommand.UserRights.PolicyAccess]::POLICY_CREATE_ACCOUNT
    $policy = $null
    try {
        foreach ($step in $plan) {
            $verb = if ($step.Action -ceq 'add') { "Grant $($step.Right)" } else { "Revoke $($step.Right)" }
            if (-not $Cmdlet.ShouldProcess($step.SidText, $verb)) {
                continue
            }

            # Opened only once something will really change, so -WhatIf needs
            # no write access to the policy.
            if ($null -eq $policy) {
                $policy = Open-LocalPolicy -Access $access
            }

            try {
                if ($step.Action -ceq 'add') {
                    $policy.AddAccountRight($step.Sid, $step.Right)
                }
                else {
                    $policy.RemoveAccountRight($step.Sid, $step.Right)
                }
            }
            catch {
                $api = if ($step.Action -ceq 'add') { 'LsaAddAccountRights' } else { 'LsaRemoveAccountRights' }
                throw (New-ContextException -Context "Failed $($step.Label) ($api)" -ErrorRecord $_)
            }

            $applied.Add(@{
                    right = $step.Right
                    action = $step.Action
                    sid = $step.SidText
                })
            $Ansible.Changed = $true
        }
    }
    finally {
        if ($null -ne $policy) {
            $policy.Dispose()
        }
    }
}

if ($Mode -eq 'probe') {
    Invoke-Probe -RightNames $Rights -AccountReferences $Accounts
}
else {
    Invoke-Apply -OperationList $Operations -Cmdlet $PSCmdlet
}
