# pkiops-payload: ca_certificates
#
# Adds CA certificates to, or removes them from, the LocalMachine
# Intermediate Certification Authorities ('CA') and Trusted Root
# Certification Authorities ('Root') stores.
#
# probe: read only. For each entry of -Certificates (thumbprint and store)
#        reports whether a certificate with that thumbprint is in that store
#        as Windows shows it, and whether it is in the store's own .Default
#        physical store (its registry key exists). Safe under -WhatIf: nothing
#        in this mode is gated by ShouldProcess or writes.
# apply: performs exactly the operations in -Operations, in order: 'add'
#        builds the certificate from its DER bytes (base64, the 'der' key)
#        and adds it to its store; 'remove' removes every certificate with
#        that thumbprint from its store. Which certificates go where, and
#        whether anything must change, is the controller's decision.
#
# Certificates are public: their bytes arrive as ordinary parameters, and are
# added from memory without a temporary file.
#
# A LocalMachine system store is a collection of physical stores ("System
# Store Locations"): Root shows .Default, .AuthRoot, .GroupPolicy,
# .Enterprise and .SmartCard; CA shows .Default, .GroupPolicy and
# .Enterprise. Only .Default is the computer's own; Windows fills and empties
# the others from Group Policy, Active Directory and automatic root update.
# The probe reports both views so that the controller can tell a certificate
# that removal would really remove from one that its source would put back.
#
# API reference: X509Store (constructor X509Store(String, StoreLocation),
# Open, Certificates, Add, Remove, Close), OpenFlags, StoreLocation,
# X509Certificate2 (constructor X509Certificate2(Byte[]), Thumbprint,
# Subject, Reset), X509Certificate2.GetCertContentType(Byte[]),
# X509ContentType, Enum.ToString, Convert.FromBase64String;
# Microsoft.Win32.RegistryKey (OpenBaseKey, OpenSubKey(String, Boolean),
# Dispose), RegistryHive, RegistryView.
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('probe', 'apply')]
    [string]$Mode,

    [object[]]$Certificates = @(),

    [object[]]$Operations = @()
)

$ErrorActionPreference = 'Stop'

# win_powershell starts every run with Changed = $true. Clear it before any
# work so that a failure before the first mutation does not report a change.
$Ansible.Changed = $false

# The controller replaces these lines with the shared fragments: error
# wrapping, and HKEY_LOCAL_MACHINE and the LocalMachine stores.
# pkiops-include: _errors.ps1
# pkiops-include: _local_machine.ps1

# The system store names Windows uses: 'CA' is what X509Store's
# StoreName.CertificateAuthority opens, 'Root' is StoreName.Root.
$script:CaStores = @('CA', 'Root')

function Assert-StoreEntry {
    # Thumbprints arrive as X509Certificate2.Thumbprint spells them (40
    # uppercase hex digits) and stores as one of $script:CaStores, both
    # normalised by the controller. Anything else is a controller bug, which
    # would otherwise surface as "not found" or a write to the wrong store.
    param(
        [AllowNull()]
        [object]$Thumbprint,

        [AllowNull()]
        [object]$Store,

        [Parameter(Mandatory)]
        [string]$Label
    )

    if ($Thumbprint -isnot [string] -or $Thumbprint -cnotmatch '^[0-9A-F]{40}$') {
        throw "Invalid ${Label}: thumbprint must be 40 uppercase hexadecimal digits."
    }
    if ($Store -isnot [string] -or $script:CaStores -cnotcontains $Store) {
        throw "Invalid ${Label}: store must be 'CA' (intermediate certification authorities) or 'Root' (trusted root certification authorities)."
    }
}

function Get-ProbeList {
    # Validates -Certificates; returns its entries as objects with Thumbprint
    # and Store.
    param(
        [AllowEmptyCollection()]
        [object[]]$CertificateList
    )

    $entries = [System.Collections.Generic.List[object]]::new()
    $index = 0
    foreach ($entry in $CertificateList) {
        if ($entry -isnot [System.Collections.IDictionary]) {
            throw "Certificates entry #$index is not a dictionary with the keys thumbprint and store."
        }
        $label = "Certificates entry #$index (thumbprint '$($entry['thumbprint'])', store '$($entry['store'])')"
        Assert-StoreEntry -Thumbprint $entry['thumbprint'] -Store $entry['store'] -Label $label
        $entries.Add([pscustomobject]@{
                Thumbprint = $entry['thumbprint']
                Store = $entry['store']
            })
        $index++
    }
    , $entries
}

function Get-StoreThumbprintSet {
    # The thumbprints of the certificates in LocalMachine\<Name>, as Windows
    # shows the store: its logical view, which includes certificates that
    # Group Policy or enterprise trust put there.
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    $thumbprints = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    # CA and Root exist on every Windows installation; a missing one is an
    # error to report.
    $store = Open-LocalMachineStore -Name $Name
    try {
        # Every read of X509Store.Certificates creates a new object for each
        # certificate in the store: read it once, and release each object.
        #
        # Reset() rather than Dispose() throughout: X509Certificate.Dispose
        # and X509Store.Dispose exist only from .NET Framework 4.6, and
        # Windows PowerShell 5.1 also runs on 4.5.2. Reset() and Close()
        # exist in every version and release the same native handles.
        foreach ($certificate in $store.Certificates) {
            [void]$thumbprints.Add($certificate.Thumbprint)
            $certificate.Reset()
        }
    }
    finally {
        $store.Close()
    }
    , $thumbprints
}

function Test-DefaultStoreEntry {
    # Whether the certificate is in the store's .Default physical store: the
    # LocalMachine system stores live under
    # HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates, one key per
    # certificate below <store>\Certificates, named by its thumbprint.
    param(
        [Parameter(Mandatory)]
        [Microsoft.Win32.RegistryKey]$LocalMachine,

        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [string]$Thumbprint
    )

    $path = "SOFTWARE\Microsoft\SystemCertificates\$Store\Certificates\$Thumbprint"
    $key = $null
    try {
        # Read access only: the probe must not need, or use, more.
        $key = $LocalMachine.OpenSubKey($path, $false)
    }
    catch {
        throw (New-ContextException -Context "Cannot open HKEY_LOCAL_MACHINE\$path" -ErrorRecord $_)
    }
    # OpenSubKey returns null when the key does not exist.
    if ($null -eq $key) {
        return $false
    }
    $key.Dispose()
    $true
}

function Invoke-Probe {
    param(
        [AllowEmptyCollection()]
        [object[]]$CertificateList
    )

    $entries = Get-ProbeList -CertificateList $CertificateList

    # Each store is read once, however many certificates are asked about.
    $storeContents = @{}
    $report = [System.Collections.Generic.List[object]]::new()
    $localMachine = Open-LocalMachine64
    try {
        foreach ($entry in $entries) {
            if (-not $storeContents.ContainsKey($entry.Store)) {
                $storeContents[$entry.Store] = Get-StoreThumbprintSet -Name $entry.Store
            }
            $inDefaultStore = Test-DefaultStoreEntry -LocalMachine $localMachine -Store $entry.Store -Thumbprint $entry.Thumbprint
            $report.Add(@{
                    thumbprint = $entry.Thumbprint
                    store = $entry.Store
                    present = $storeContents[$entry.Store].Contains($entry.Thumbprint)
                    in_default_store = $inDefaultStore
                })
        }
    }
    finally {
        $localMachine.Dispose()
    }

    $Ansible.Changed = $false
    $Ansible.Result = @{
        certificates = $report
    }
}

function ConvertTo-CaCertificate {
    # The certificate in an 'add' operation, built from its DER bytes. The
    # caller releases it with Reset().
    param(
        [AllowNull()]
        [object]$Encoded,

        [Parameter(Mandatory)]
        [string]$Thumbprint,

        [Parameter(Mandatory)]
        [string]$Label
    )

    if ($Encoded -isnot [string] -or $Encoded.Length -eq 0) {
        throw "Invalid ${Label}: der must hold the certificate's DER bytes as base64."
    }
    try {
        $bytes = [System.Convert]::FromBase64String($Encoded)
    }
    catch {
        throw "Invalid ${Label}: der is not valid base64."
    }

    # Only a lone certificate is accepted. X509Certificate2(Byte[]) would also
    # open a PFX, and writing a private key to this computer is not this
    # payload's business.
    $contentType = [System.Security.Cryptography.X509Certificates.X509ContentType]::Unknown
    try {
        $contentType = [System.Security.Cryptography.X509Certificates.X509Certificate2]::GetCertContentType($bytes)
    }
    catch {
        # GetCertContentType throws for bytes it cannot identify at all.
        $contentType = [System.Security.Cryptography.X509Certificates.X509ContentType]::Unknown
    }
    if ($contentType -ne [System.Security.Cryptography.X509Certificates.X509ContentType]::Cert) {
        # Pfx and Pkcs12 are one value of X509ContentType, and Enum.ToString
        # does not promise which of two such names it returns: name it here,
        # so that the message is the same on every .NET version.
        $contentName = [string]$contentType
        if ($contentType -eq [System.Security.Cryptography.X509Certificates.X509ContentType]::Pkcs12) {
            $contentName = 'Pkcs12'
        }
        throw "Invalid ${Label}: der is not a single certificate (Windows identifies it as '$contentName')."
    }

    try {
        $certificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($bytes)
    }
    catch {
        throw (New-ContextException -Context "Invalid ${Label}: der cannot be read as a certificate" -ErrorRecord $_)
    }
    # The controller named the certificate by the SHA-1 of these bytes;
    # Windows must agree, or the probe and this apply are about different
    # certificates.
    if (-not [string]::Equals($certificate.Thumbprint, $Thumbprint, [System.StringComparison]::OrdinalIgnoreCase)) {
        $actual = $certificate.Thumbprint
        $certificate.Reset()
        throw "Invalid ${Label}: der holds the certificate $actual, not $Thumbprint."
    }
    $certificate
}

function Get-OperationPlan {
    # Validates every operation, and builds every certificate to add, before
    # the first change. Returns objects with Action, Thumbprint, Store and
    # Certificate ($null for 'remove'); the caller releases the certificates.
    param(
        [AllowEmptyCollection()]
        [object[]]$OperationList
    )

    $plan = [System.Collections.Generic.List[object]]::new()
    $seen = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::Ordinal)
    try {
        $index = 0
        foreach ($operation in $OperationList) {
            if ($operation -isnot [System.Collections.IDictionary]) {
                throw "Operation #$index is not a dictionary with the keys action, thumbprint and store."
            }
            $action = $operation['action']
            $label = "operation #$index (action '$action', thumbprint '$($operation['thumbprint'])', store '$($operation['store'])')"
            if ($action -isnot [string] -or @('add', 'remove') -cnotcontains $action) {
                throw "Invalid ${label}: action must be 'add' or 'remove'."
            }
            Assert-StoreEntry -Thumbprint $operation['thumbprint'] -Store $operation['store'] -Label $label
            if (-not $seen.Add("$($operation['store'])\$($operation['thumbprint'])")) {
                throw "Invalid ${label}: the certificate and store are listed more than once."
            }

            $certificate = $null
            if ($action -ceq 'add') {
                $certificate = ConvertTo-CaCertificate -Encoded $operation['der'] -Thumbprint $operation['thumbprint'] -Label $label
            }
            $plan.Add([pscustomobject]@{
                    Action = $action
                    Thumbprint = $operation['thumbprint']
                    Store = $operation['store']
                    Certificate = $certificate
                })
            $index++
        }
    }
    catch {
        Clear-OperationPlan -Plan $plan
        throw
    }
    , $plan
}

function Clear-OperationPlan {
    param(
        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$Plan
    )

    foreach ($step in $Plan) {
        if ($null -ne $step.Certificate) {
            $step.Certificate.Reset()
        }
    }
}

function Add-CaCertificate {
    param(
        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate
    )

    $target = Open-LocalMachineStore -Name $Store -ForWrite
    try {
        $target.Add($Certificate)
    }
    catch {
        throw (New-ContextException -Context "Cannot add certificate $($Certificate.Thumbprint) to LocalMachine\$Store" -ErrorRecord $_)
    }
    finally {
        $target.Close()
    }
}

function Remove-CaCertificate {
    # Removes every certificate with the thumbprint; none is not an error, as
    # the state asked for is reached.
    param(
        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [string]$Thumbprint
    )

    $target = Open-LocalMachineStore -Name $Store -ForWrite
    try {
        # X509Store.Certificates is a copy, so removing from the store while
        # going through it is safe.
        foreach ($candidate in $target.Certificates) {
            try {
                if ([string]::Equals($candidate.Thumbprint, $Thumbprint, [System.StringComparison]::OrdinalIgnoreCase)) {
                    $target.Remove($candidate)
                }
            }
            catch {
                throw (New-ContextException -Context "Cannot remove certificate $Thumbprint from LocalMachine\$Store" -ErrorRecord $_)
            }
            finally {
                $candidate.Reset()
            }
        }
    }
    finally {
        $target.Close()
    }
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
    try {
        foreach ($step in $plan) {
            $where = "LocalMachine\$($step.Store)"
            if ($step.Action -ceq 'add') {
                if (-not $Cmdlet.ShouldProcess($where, "Add CA certificate $($step.Thumbprint) ($($step.Certificate.Subject))")) {
                    continue
                }
                Add-CaCertificate -Store $step.Store -Certificate $step.Certificate
            }
            else {
                if (-not $Cmdlet.ShouldProcess($where, "Remove certificate $($step.Thumbprint)")) {
                    continue
                }
                Remove-CaCertificate -Store $step.Store -Thumbprint $step.Thumbprint
            }
            $applied.Add(@{
                    action = $step.Action
                    thumbprint = $step.Thumbprint
                    store = $step.Store
                })
            $Ansible.Changed = $true
        }
    }
    finally {
        Clear-OperationPlan -Plan $plan
    }
}

if ($Mode -eq 'probe') {
    Invoke-Probe -CertificateList $Certificates
}
else {
    Invoke-Apply -OperationList $Operations -Cmdlet $PSCmdlet
}
