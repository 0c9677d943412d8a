# pkiops-payload: private_key_acl
#
# Reads or changes who may use the private key of a certificate in a
# LocalMachine certificate store, whether a CNG key storage provider or a
# legacy CryptoAPI provider keeps the key.
#
# probe: read only. Reports the certificate's key (provider, container,
#        exportability) and the key's DACL, resolves each principal in
#        -Principals to a SID, and reports who this script runs as. Safe
#        under -WhatIf: nothing in this mode is gated by ShouldProcess or
#        writes.
# apply: performs exactly the key ACL operations in -Operations, and nothing
#        else, with one read and one write of the key's DACL. Deciding what
#        to change is the controller's job.
#
# API reference: see the included fragment, _private_key_acl.ps1.
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('probe', 'apply')]
    [string]$Mode,

    [string]$StoreName = 'My',

    [string]$Thumbprint,

    [string[]]$Principals = @(),

    [object[]]$Operations = @()
)

$ErrorActionPreference = 'Stop'

# win_powershell starts every run with Changed = $true. Clear it before any
# work so that a failure before the first mutation does not report a change.
$Ansible.Changed = $false

# The controller replaces these lines with the shared fragments: error
# wrapping, principal resolution, and the key helper type, store lookup and
# key ACL operations.
# pkiops-include: _errors.ps1
# pkiops-include: _principals.ps1
# pkiops-include: _private_key_acl.ps1

function Invoke-Probe {
    param(
        # Not Mandatory: an empty or missing value is reported by the
        # Assert-* checks below rather than by PowerShell's binder.
        [string]$Store,

        [string]$CertificateThumbprint,

        [AllowEmptyCollection()]
        [string[]]$PrincipalReferences
    )

    Assert-StoreName -Value $Store
    Assert-Thumbprint -Value $CertificateThumbprint -Name 'Thumbprint'

    $report = Get-CertificateKeyReport -StoreName $Store -Thumbprint $CertificateThumbprint
    $resolved = Resolve-PrincipalList -References $PrincipalReferences

    $Ansible.Changed = $false
    $Ansible.Result = @{
        certificate = $report
        principals = $resolved
        identity = Get-CurrentIdentityReport
    }
}

function Invoke-Apply {
    param(
        # Not Mandatory: an empty or missing value is reported by the
        # Assert-* checks below rather than by PowerShell's binder.
        [string]$Store,

        [string]$CertificateThumbprint,

        [AllowEmptyCollection()]
        [object[]]$OperationList,

        # The script's own PSCmdlet, so that ShouldProcess honours the
        # -WhatIf and -Confirm values the script was invoked with.
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]$Cmdlet
    )

    $applied = [System.Collections.Generic.List[object]]::new()
    # Published before any change, and filled in once the ACL is written, so
    # that if something fails the result still shows exactly what was done.
    $Ansible.Changed = $false
    $Ansible.Result = @{
        applied = $applied
    }

    Assert-StoreName -Value $Store
    Assert-Thumbprint -Value $CertificateThumbprint -Name 'Thumbprint'
    $plan = Get-KeyAclPlan -OperationList $OperationList
    if ($plan.Count -eq 0) {
        return
    }

    Set-StoredCertificateKeyAcl -StoreName $Store -Thumbprint $CertificateThumbprint -Plan $plan -Applied $applied -Cmdlet $Cmdlet
}

if ($Mode -eq 'probe') {
    Invoke-Probe -Store $StoreName -CertificateThumbprint $Thumbprint -PrincipalReferences $Principals
}
else {
    Invoke-Apply -Store $StoreName -CertificateThumbprint $Thumbprint -OperationList $Operations -Cmdlet $PSCmdlet
}
