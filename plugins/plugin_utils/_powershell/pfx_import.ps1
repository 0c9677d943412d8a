# pkiops-payload: pfx_import
#
# Imports a certificate with its private key from a PFX (PKCS #12) into a
# LocalMachine certificate store, optionally adds the CA certificates the PFX
# carries to the intermediate (CA) and trusted root (Root) stores, and
# changes who may use the imported key.
#
# probe: read only. Reports the leaf certificate's key and key ACL, whether
#        each CA certificate in -Chain is in its store, and resolves each
#        principal in -Principals to a SID. It receives no PFX, and reads or
#        exports no key material. Safe under -WhatIf: nothing in this mode is
#        gated by ShouldProcess or writes.
# apply: in this order, and only what it is told: imports the leaf
#        (-ImportLeaf), adds the CA certificates in -InstallChain, then
#        applies the key ACL operations in -Operations to the leaf's key.
#        Deciding what to change is the controller's job.
#
# -Pfx (the PFX file as base64) and -PfxPassword arrive only as SecureStrings
# (win_powershell sensitive_parameters) and only for an apply that imports.
# In this script their plain text exists only in local variables of
# Import-PfxContent and is handed only to .NET methods: PowerShell module
# logging, where a policy enables it, records the parameter values of command
# invocations, whereas a .NET method call is not recorded. (win_powershell
# itself makes each sensitive parameter with ConvertTo-SecureString, which such
# a policy records; see the collection's documentation on secrets.) Neither
# secret, nor anything derived from one, is ever written to $Ansible.Result, a
# stream or an exception message.
# The PFX is imported from memory; no temporary file is written.
#
# API reference: X509Certificate2Collection.Import(Byte[], String,
# X509KeyStorageFlags), X509KeyStorageFlags, X509Certificate2, X509Store,
# NetworkCredential(String, SecureString), Convert.FromBase64String; for the
# key ACL, see the included fragment, _private_key_acl.ps1.
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('probe', 'apply')]
    [string]$Mode,

    [string]$StoreName = 'My',

    [string]$Thumbprint,

    [object[]]$Chain = @(),

    [string[]]$Principals = @(),

    [System.Security.SecureString]$Pfx,

    [System.Security.SecureString]$PfxPassword,

    [bool]$Exportable = $false,

    [bool]$ImportLeaf = $false,

    [string[]]$InstallChain = @(),

    [object[]]$Operations = @()
)

$ErrorActionPreference = 'Stop'

# win_powershell starts every run with Changed = $true. Clear it before any
# work so that a failure before the first mutation does not report a change.
$Ansible.Changed = $false

# The controller replaces these lines with the shared fragments: error
# wrapping, principal resolution, the key helper type, store lookup and key
# ACL operations, and opening the LocalMachine stores.
# pkiops-include: _errors.ps1
# pkiops-include: _principals.ps1
# pkiops-include: _private_key_acl.ps1
# pkiops-include: _local_machine.ps1

# The two stores a CA certificate can go to, by the system store names
# Windows uses: 'CA' is Intermediate Certification Authorities (what
# X509Store's StoreName.CertificateAuthority opens), 'Root' is Trusted Root
# Certification Authorities (StoreName.Root).
$script:ChainStores = @('CA', 'Root')

function Get-ChainPlan {
    # Validates -Chain; returns its entries as objects with Thumbprint and
    # Store.
    param(
        [AllowEmptyCollection()]
        [object[]]$ChainList
    )

    $plan = [System.Collections.Generic.List[object]]::new()
    $seen = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    $index = 0
    foreach ($entry in $ChainList) {
        if ($entry -isnot [System.Collections.IDictionary]) {
            throw "Chain entry #$index is not a dictionary with the keys thumbprint and store."
        }
        $entryThumbprint = $entry['thumbprint']
        $entryStore = $entry['store']
        $label = "Chain entry #$index (thumbprint '$entryThumbprint', store '$entryStore')"

        if ($entryThumbprint -isnot [string] -or $entryThumbprint -cnotmatch '^[0-9A-F]{40}$') {
            throw "Invalid ${label}: thumbprint must be 40 uppercase hexadecimal digits."
        }
        if ($entryStore -isnot [string] -or $script:ChainStores -cnotcontains $entryStore) {
            throw "Invalid ${label}: store must be 'CA' (intermediate certification authorities) or 'Root' (trusted root certification authorities)."
        }
        if (-not $seen.Add($entryThumbprint)) {
            throw "Invalid ${label}: the thumbprint is listed more than once."
        }
        $plan.Add([pscustomobject]@{
                Thumbprint = $entryThumbprint
                Store = $entryStore
            })
        $index++
    }
    , $plan
}

function Get-InstallPlan {
    # The -Chain entries named by -InstallChain, in the order given. The
    # store of each comes from -Chain only, so the two cannot disagree.
    param(
        [AllowEmptyCollection()]
        [string[]]$Thumbprints,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$ChainPlan
    )

    $plan = [System.Collections.Generic.List[object]]::new()
    foreach ($wanted in $Thumbprints) {
        $entry = $null
        foreach ($candidate in $ChainPlan) {
            if ($candidate.Thumbprint -ceq $wanted) {
                $entry = $candidate
                break
            }
        }
        if ($null -eq $entry) {
            throw "Invalid InstallChain entry '$wanted': it is not in Chain, which says which store each CA certificate goes to."
        }
        if ($plan.Contains($entry)) {
            throw "Invalid InstallChain entry '$wanted': it is listed more than once."
        }
        $plan.Add($entry)
    }
    , $plan
}

function Invoke-Probe {
    param(
        # Not Mandatory: an empty or missing value is reported by the
        # Assert-* checks below rather than by PowerShell's binder.
        [string]$Store,

        [string]$LeafThumbprint,

        [AllowEmptyCollection()]
        [object[]]$ChainList,

        [AllowEmptyCollection()]
        [string[]]$PrincipalReferences
    )

    Assert-StoreName -Value $Store
    Assert-Thumbprint -Value $LeafThumbprint -Name 'Thumbprint'
    $chainPlan = Get-ChainPlan -ChainList $ChainList

    $report = Get-CertificateKeyReport -StoreName $Store -Thumbprint $LeafThumbprint

    $chainReport = [System.Collections.Generic.List[object]]::new()
    foreach ($entry in $chainPlan) {
        # Looked up by thumbprint in the store's whole logical view, which
        # includes certificates that Group Policy or enterprise trust put
        # there: such a certificate needs no second copy.
        $found = Find-LocalMachineCertificate -StoreName $entry.Store -Thumbprint $entry.Thumbprint
        $present = $null -ne $found
        if ($present) {
            $found.Reset()
        }
        $chainReport.Add(@{
                thumbprint = $entry.Thumbprint
                store = $entry.Store
                present = $present
            })
    }

    $resolved = Resolve-PrincipalList -References $PrincipalReferences

    $Ansible.Changed = $false
    $Ansible.Result = @{
        certificate = $report
        chain = $chainReport
        principals = $resolved
    }
}

function Import-PfxContent {
    # Decodes and opens the PFX, adds the leaf and the approved CA
    # certificates to their stores, and releases everything it opened. The
    # only function that sees the PFX or its password in plain text; see the
    # header for why they go to .NET methods only.
    param(
        [AllowNull()]
        [System.Security.SecureString]$PfxContent,

        [AllowNull()]
        [System.Security.SecureString]$PfxPasswordContent,

        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [string]$LeafThumbprint,

        # Whether to import the leaf; already approved by ShouldProcess.
        [bool]$ImportLeafCertificate,

        [bool]$MakeExportable,

        # The -Chain entries to add; already approved by ShouldProcess.
        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$ChainEntries,

        [Parameter(Mandatory)]
        [hashtable]$Result,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$ChainInstalled
    )

    # win_powershell passes an empty SecureString for an empty value.
    if ($null -eq $PfxContent -or $PfxContent.Length -eq 0) {
        throw 'Cannot import: the Pfx parameter is empty; it must hold the PFX file encoded as base64.'
    }

    # MachineKeySet: the private key goes to the computer's key store
    # (ProgramData\Microsoft\Crypto), not to the profile of the account this
    # script runs as (the Ansible connection user). Only a machine key can be
    # used by the services that need it (running as NETWORK SERVICE, a gMSA
    # or an application pool identity) once its ACL grants them access.
    #
    # PersistKeySet: without it .NET treats the imported key as temporary and
    # deletes it when the certificate object is released, which would leave
    # the stored certificate pointing at a key that no longer exists. It is
    # used only when the leaf is imported: when only CA certificates are
    # wanted, the PFX's private key must not be written to the machine key
    # store for good, where nothing would refer to it or ever delete it.
    # PersistKeySet applies to every private key in the PFX, not only the
    # leaf's; a PFX that also carried other keys would leave them in the
    # machine key store with no certificate in a store referring to them.
    #
    # Exportable only when asked for: a non-exportable key cannot be taken
    # off this computer again (the provider refuses to export it, in a PFX
    # or otherwise), so an administrator session on this host cannot copy it
    # elsewhere. Exporting is an opt-in for those who need to move or back up
    # the key from here.
    $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::MachineKeySet
    if ($ImportLeafCertificate) {
        $flags = $flags -bor [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::PersistKeySet
        if ($MakeExportable) {
            $flags = $flags -bor [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::Exportable
        }
    }

    $collection = [System.Security.Cryptography.X509Certificates.X509Certificate2Collection]::new()
    $pfxBytes = $null
    try {
        $encoded = $null
        try {
            $encoded = [System.Net.NetworkCredential]::new('', $PfxContent).Password
            $pfxBytes = [System.Convert]::FromBase64String($encoded)
        }
        catch {
            # Deliberately neither Windows' message nor the inner exception:
            # the content is the secret, and a parser may quote it.
            throw [System.ArgumentException]::new('The Pfx parameter is not valid base64. Its content is not shown because it holds a private key.')
        }
        finally {
            # Strings cannot be wiped, but dropping the reference lets the
            # garbage collector reclaim the plain text as early as possible.
            $encoded = $null
        }

        $password = $null
        try {
            # No PfxPassword parameter means no password: $null goes to
            # the import as is. An empty SecureString becomes ''.
            if ($null -ne $PfxPasswordContent) {
                $password = [System.Net.NetworkCredential]::new('', $PfxPasswordContent).Password
            }
            $collection.Import($pfxBytes, $password, $flags)
        }
        catch {
            # Windows' message (for example "The specified network password
            # is not correct.") comes from the system message table and
            # describes the error code only; it never quotes the input.
            throw (New-ContextException -Context 'Cannot open the PFX (X509Certificate2Collection.Import)' -ErrorRecord $_)
        }
        finally {
            $password = $null
        }

        if ($ImportLeafCertificate) {
            $leaf = $null
            foreach ($element in $collection) {
                if ([string]::Equals($element.Thumbprint, $LeafThumbprint, [System.StringComparison]::OrdinalIgnoreCase)) {
                    $leaf = $element
                    break
                }
            }
            # Messages name only the thumbprint the controller sent, never
            # anything read from the PFX.
            if ($null -eq $leaf) {
                throw "Cannot import: the PFX holds no certificate with thumbprint $LeafThumbprint."
            }
            if (-not $leaf.HasPrivateKey) {
                throw "Cannot import: the PFX holds certificate $LeafThumbprint without its private key."
            }

            $store = Open-LocalMachineStore -Name $Store -ForWrite -CreateMissing
            try {
                # A copy already in the store (for example one whose key was
                # lost) is replaced by this one, which carries its key.
                $store.Add($leaf)
            }
            catch {
                throw (New-ContextException -Context "Cannot add certificate $LeafThumbprint to LocalMachine\$Store" -ErrorRecord $_)
            }
            finally {
                $store.Close()
            }
            $Result['imported'] = $true
            $Ansible.Changed = $true
        }

        foreach ($entry in $ChainEntries) {
            $caCertificate = $null
            foreach ($element in $collection) {
                if ([string]::Equals($element.Thumbprint, $entry.Thumbprint, [System.StringComparison]::OrdinalIgnoreCase)) {
                    $caCertificate = $element
                    break
                }
            }
            if ($null -eq $caCertificate) {
                throw "Cannot install the chain: the PFX holds no certificate with thumbprint $($entry.Thumbprint)."
            }

            # Added as a copy built from the certificate's DER bytes alone.
            # Should the PFX also carry a key for a CA certificate, that key
            # stays out of the CA and Root stores, and the copy has no
            # reference to the temporary key container of this import.
            $publicOnly = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($caCertificate.RawData)
            try {
                $store = Open-LocalMachineStore -Name $entry.Store -ForWrite -CreateMissing
                try {
                    $store.Add($publicOnly)
                }
                catch {
                    throw (New-ContextException -Context "Cannot add CA certificate $($entry.Thumbprint) to LocalMachine\$($entry.Store)" -ErrorRecord $_)
                }
                finally {
                    $store.Close()
                }
            }
            finally {
                $publicOnly.Reset()
            }
            $ChainInstalled.Add($entry.Thumbprint)
            $Ansible.Changed = $true
        }
    }
    finally {
        if ($null -ne $pfxBytes) {
            [System.Array]::Clear($pfxBytes, 0, $pfxBytes.Length)
        }
        $pfxBytes = $null
        # The stores hold their own copies. Releasing the imported objects
        # also lets .NET delete any key this import did not persist.
        foreach ($element in $collection) {
            $element.Reset()
        }
    }
}

function Invoke-Apply {
    param(
        # Not Mandatory: an empty or missing value is reported by the
        # Assert-* checks below rather than by PowerShell's binder.
        [string]$Store,

        [string]$LeafThumbprint,

        [AllowEmptyCollection()]
        [object[]]$ChainList,

        [AllowNull()]
        [System.Security.SecureString]$PfxContent,

        [AllowNull()]
        [System.Security.SecureString]$PfxPasswordContent,

        [bool]$MakeExportable,

        [bool]$ImportLeafCertificate,

        [AllowEmptyCollection()]
        [string[]]$ChainToInstall,

        [AllowEmptyCollection()]
        [object[]]$OperationList,

        # The script's own PSCmdlet, so that ShouldProcess honours the
        # -WhatIf and -Confirm values the script was invoked with.
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]$Cmdlet
    )

    $chainInstalled = [System.Collections.Generic.List[object]]::new()
    $aclApplied = [System.Collections.Generic.List[object]]::new()
    $result = @{
        imported = $false
        chain_installed = $chainInstalled
        acl_applied = $aclApplied
    }
    # Published before any change, and filled in as steps succeed, so that
    # if one fails the result still shows exactly what was done.
    $Ansible.Changed = $false
    $Ansible.Result = $result

    # Every input is checked before the first change.
    Assert-StoreName -Value $Store
    Assert-Thumbprint -Value $LeafThumbprint -Name 'Thumbprint'
    $chainPlan = Get-ChainPlan -ChainList $ChainList
    $installPlan = Get-InstallPlan -Thumbprints $ChainToInstall -ChainPlan $chainPlan
    $aclPlan = Get-KeyAclPlan -OperationList $OperationList

    # ShouldProcess is asked before the PFX is opened, because opening it is
    # already a change: the import writes the private key to the machine key
    # store.
    $importLeafNow = $false
    if ($ImportLeafCertificate) {
        $keyNote = if ($MakeExportable) { 'exportable' } else { 'not exportable' }
        $importLeafNow = $Cmdlet.ShouldProcess("LocalMachine\$Store", "Import certificate $LeafThumbprint with its private key ($keyNote)")
    }
    $chainNow = [System.Collections.Generic.List[object]]::new()
    foreach ($entry in $installPlan) {
        if ($Cmdlet.ShouldProcess("LocalMachine\$($entry.Store)", "Add CA certificate $($entry.Thumbprint)")) {
            $chainNow.Add($entry)
        }
    }

    if ($importLeafNow -or $chainNow.Count -gt 0) {
        Import-PfxContent -PfxContent $PfxContent -PfxPasswordContent $PfxPasswordContent -Store $Store `
            -LeafThumbprint $LeafThumbprint -ImportLeafCertificate $importLeafNow -MakeExportable $MakeExportable `
            -ChainEntries $chainNow -Result $result -ChainInstalled $chainInstalled
    }

    if ($aclPlan.Count -eq 0) {
        return
    }
    # The operations are for the key the declined import would have
    # brought; there is no key yet to apply them to or to preview them on.
    if ($ImportLeafCertificate -and -not $importLeafNow) {
        return
    }

    Set-StoredCertificateKeyAcl -StoreName $Store -Thumbprint $LeafThumbprint -Plan $aclPlan -Applied $aclApplied -Cmdlet $Cmdlet
}

if ($Mode -eq 'probe') {
    Invoke-Probe -Store $StoreName -LeafThumbprint $Thumbprint -ChainList $Chain -PrincipalReferences $Principals
}
else {
    Invoke-Apply -Store $StoreName -LeafThumbprint $Thumbprint -ChainList $Chain -PfxContent $Pfx `
        -PfxPasswordContent $PfxPassword -MakeExportable $Exportable -ImportLeafCertificate $ImportLeaf `
        -ChainToInstall $InstallChain -OperationList $Operations -Cmdlet $PSCmdlet
}
