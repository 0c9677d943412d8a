# pkiops-payload: pfx_import
#
# Imports a certificate with its private key from a PFX (PKCS #12) into a
# LocalMachine certificate store, optionally adds CA certificates to the
# intermediate (CA) and trusted root (Root) stores, and changes who may use
# the imported key.
#
# probe: read only. Reports the leaf certificate's key and key ACL, and
#        whether the leaf is archived (an archived copy is found too), whether
#        each CA certificate in -Chain is in its store, resolves each
#        principal in -Principals to a SID, and reports who this script runs
#        as and the build of Windows. It receives no PFX, and reads or exports
#        no key material. Safe under -WhatIf: nothing in this mode is gated by
#        ShouldProcess or writes.
# apply: in this order, and only what it is told: imports the leaf from the
#        PFX (-ImportLeaf) and restores an archived copy of it, or only
#        restores the archived leaf (-RestoreArchived), adds the CA
#        certificates in -InstallChain, each built from its own DER bytes,
#        then applies the key ACL operations in -Operations to the leaf's
#        key. Deciding what to change is the controller's job.
#
# -Pfx (the PFX file as base64) and -PfxPassword arrive only as SecureStrings
# (win_powershell sensitive_parameters) and only for an apply that imports
# the leaf: CA certificates never need them. In this script their plain text
# exists only in local variables of Import-LeafFromPfx and is handed only to
# .NET methods: PowerShell module logging, where a policy enables it, records
# the parameter values of command invocations, whereas a .NET method call is
# not recorded. (win_powershell itself makes each sensitive parameter with
# ConvertTo-SecureString, which such a policy records; see the collection's
# documentation on secrets.) Neither secret, nor anything derived from one, is
# ever written to $Ansible.Result, a stream or an exception message.
# The PFX is imported from memory; no temporary file is written.
#
# API reference: X509Certificate2Collection.Import(Byte[], String,
# X509KeyStorageFlags), PFXImportCertStore, X509KeyStorageFlags,
# X509Certificate2, X509Store, NetworkCredential(String, SecureString),
# Convert.FromBase64String, NullString, RegistryKey.OpenSubKey and GetValue;
# for archived certificates, the key ACL and the CA certificates, see the
# included fragments, _local_machine.ps1, _private_key_acl.ps1 and
# _ca_store.ps1.
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

    [bool]$RestoreArchived = $false,

    [object[]]$InstallChain = @(),

    [object[]]$Operations = @()
)

$ErrorActionPreference = 'Stop'

# win_powershell starts every run with Changed = $true. Clear it before any
# work so that a failure before the first mutation does not report a change.
$Ansible.Changed = $false

# The controller replaces these lines with the shared fragments: error
# wrapping, principal resolution, the key helper type, store lookup and key
# ACL operations, opening the LocalMachine stores, and CA certificates from
# DER bytes.
# pkiops-include: _errors.ps1
# pkiops-include: _principals.ps1
# pkiops-include: _private_key_acl.ps1
# pkiops-include: _local_machine.ps1
# pkiops-include: _ca_store.ps1

function Get-ChainPlan {
    # Validates -Chain, the CA certificates the probe looks up; returns its
    # entries as objects with Thumbprint and Store.
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
        $label = "Chain entry #$index (thumbprint '$($entry['thumbprint'])', store '$($entry['store'])')"
        Assert-CaStoreEntry -Thumbprint $entry['thumbprint'] -Store $entry['store'] -Label $label
        if (-not $seen.Add($entry['thumbprint'])) {
            throw "Invalid ${label}: the thumbprint is listed more than once."
        }
        $plan.Add([pscustomobject]@{
                Thumbprint = $entry['thumbprint']
                Store = $entry['store']
            })
        $index++
    }
    , $plan
}

function Get-InstallPlan {
    # Validates -InstallChain and builds each CA certificate from its DER
    # bytes, before the first change. Returns objects with Thumbprint, Store
    # and Certificate; the caller releases the certificates with
    # Clear-InstallPlan.
    param(
        [AllowEmptyCollection()]
        [object[]]$EntryList
    )

    $plan = [System.Collections.Generic.List[object]]::new()
    $seen = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    try {
        $index = 0
        foreach ($entry in $EntryList) {
            if ($entry -isnot [System.Collections.IDictionary]) {
                throw "InstallChain entry #$index is not a dictionary with the keys thumbprint, store and der."
            }
            $label = "InstallChain entry #$index (thumbprint '$($entry['thumbprint'])', store '$($entry['store'])')"
            Assert-CaStoreEntry -Thumbprint $entry['thumbprint'] -Store $entry['store'] -Label $label
            if (-not $seen.Add($entry['thumbprint'])) {
                throw "Invalid ${label}: the thumbprint is listed more than once."
            }
            $certificate = ConvertTo-CaCertificate -Encoded $entry['der'] -Thumbprint $entry['thumbprint'] -Label $label
            $plan.Add([pscustomobject]@{
                    Thumbprint = $entry['thumbprint']
                    Store = $entry['store']
                    Certificate = $certificate
                })
            $index++
        }
    }
    catch {
        Clear-InstallPlan -Plan $plan
        throw
    }
    , $plan
}

function Clear-InstallPlan {
    param(
        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$Plan
    )

    foreach ($step in $Plan) {
        $step.Certificate.Reset()
    }
}

function Get-WindowsBuild {
    # The build number of Windows (14393 is Windows Server 2016, 17763
    # Windows Server 2019): CurrentBuildNumber under
    # HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion, the build winver
    # shows. Read from the registry rather than from Environment.OSVersion,
    # which reports 6.2 to a process whose manifest does not declare
    # Windows 10. The controller compares it with the first build that
    # imports AES-encrypted PFX files.
    $subKey = 'SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    $base = Open-LocalMachine64
    try {
        $opened = $null
        try {
            # Read access only: the probe must not need, or use, more.
            $opened = $base.OpenSubKey($subKey, $false)
            $build = $opened.GetValue('CurrentBuildNumber')
        }
        catch {
            throw (New-ContextException -Context "Cannot read CurrentBuildNumber of HKEY_LOCAL_MACHINE\$subKey" -ErrorRecord $_)
        }
        finally {
            if ($null -ne $opened) {
                $opened.Dispose()
            }
        }
    }
    finally {
        $base.Dispose()
    }
    [int]$build
}

function Invoke-Probe {
    param(
        # Not Mandatory: an empty or missing value is reported by the
        # Assert-* checks below rather than by PowerShell's binder.
        [string]$TargetStoreName,

        [string]$LeafThumbprint,

        [AllowEmptyCollection()]
        [object[]]$ChainList,

        [AllowEmptyCollection()]
        [string[]]$PrincipalReferences
    )

    Assert-StoreName -Value $TargetStoreName
    Assert-Thumbprint -Value $LeafThumbprint -Name 'Thumbprint'
    $chainPlan = Get-ChainPlan -ChainList $ChainList

    # An archived copy is found too and reported as such: it needs no second
    # import when its key opens, only to be restored (IncludeArchived; see
    # Find-LocalMachineCertificate).
    $report = Get-CertificateKeyReport -StoreName $TargetStoreName -Thumbprint $LeafThumbprint -IncludeArchived

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
        identity = Get-CurrentIdentityReport
        os_build = Get-WindowsBuild
    }
}

function Import-LeafFromPfx {
    # Decodes and opens the PFX, adds its leaf to the store, and releases
    # everything it opened. The only function that sees the PFX or its
    # password in plain text; see the header for why they go to .NET methods
    # only.
    param(
        [AllowNull()]
        [System.Security.SecureString]$PfxContent,

        [AllowNull()]
        [System.Security.SecureString]$PfxPasswordContent,

        [Parameter(Mandatory)]
        [string]$TargetStoreName,

        [Parameter(Mandatory)]
        [string]$LeafThumbprint,

        [bool]$MakeExportable
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
    # the stored certificate pointing at a key that no longer exists.
    # PersistKeySet applies to every private key in the PFX, not only the
    # leaf's; a PFX that also carried other keys would leave them in the
    # machine key store with no certificate in a store referring to them.
    #
    # Import writes the key to the machine key store; the store's Add then
    # records the certificate with a reference to it. These are two steps:
    # should the second fail, or the connection drop between them, the key
    # stays in the machine key store with nothing referring to it, and the
    # next run, finding no certificate, imports again with a key of its own.
    #
    # Exportable only when asked for: a non-exportable key cannot be taken
    # off this computer again (the provider refuses to export it, in a PFX
    # or otherwise), so an administrator session on this host cannot copy it
    # elsewhere. Exporting is an opt-in for those who need to move or back up
    # the key from here.
    $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::MachineKeySet -bor
        [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::PersistKeySet
    if ($MakeExportable) {
        $flags = $flags -bor [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::Exportable
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

        # No PfxPassword parameter means no password, which Import must
        # receive as null: $null passed to a .NET string parameter arrives
        # as "", so NullString stands for it. An empty SecureString is the
        # empty password, "".
        #
        # PKCS #12 has two spellings of "no password", which derive different
        # keys, and PFXImportCertStore needs the one the PFX was made with:
        # the password, "whether set to a string of length greater than zero
        # or set to an empty string or to NULL, ... must be exactly the same
        # as the value that was used to encrypt the packet". OpenSSL writes
        # "" (pkcs12 -export -passout pass:); an export on Windows writes
        # whichever of null and "" the exporting program passed. The
        # controller has opened this PFX without a password, which accepts
        # either, so when Windows refuses null as the wrong password
        # (ERROR_INVALID_PASSWORD, 86, "The specified network password is not
        # correct.", which .NET reports as is or as the HRESULT 0x80070056),
        # "" is the one. With a password given there is nothing to retry.
        $password = [NullString]::Value
        try {
            if ($null -ne $PfxPasswordContent) {
                $password = [System.Net.NetworkCredential]::new('', $PfxPasswordContent).Password
            }
            try {
                $collection.Import($pfxBytes, $password, $flags)
            }
            catch {
                $cause = Get-UnderlyingException -ErrorRecord $_
                $wrongPassword = $cause.HResult -eq 86 -or $cause.HResult -eq -2147024810
                if ($null -ne $PfxPasswordContent -or -not $wrongPassword) {
                    throw
                }
                $collection.Import($pfxBytes, [string]::Empty, $flags)
            }
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

        # The import has written the PFX's private keys to the machine key
        # store: PFXImportCertStore persists them unless it is given
        # PKCS12_NO_PERSIST_KEY, which PersistKeySet leaves out. When the PFX
        # held one, the host has changed, whatever fails from here on, and
        # the messages below say that the keys stay there.
        $keysLeft = 'the PFX holds no private key, so nothing was written to this computer'
        foreach ($element in $collection) {
            if ($element.HasPrivateKey) {
                $Ansible.Changed = $true
                $Ansible.Result['key_written'] = $true
                $keysLeft = "the PFX's private keys are already in the machine key store, where they stay with no certificate in a store referring to them"
            }
        }

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
            throw "Cannot import: the PFX holds no certificate with thumbprint $LeafThumbprint; $keysLeft."
        }
        if (-not $leaf.HasPrivateKey) {
            throw "Cannot import: the PFX holds certificate $LeafThumbprint without its private key; $keysLeft."
        }

        # Created when missing: the task names the store to import into.
        # IncludeArchived, so that Restore-ArchivedCertificate below sees an
        # archived copy of the leaf.
        try {
            $leafStore = Open-LocalMachineStore -Name $TargetStoreName -ForWrite -CreateMissing -IncludeArchived
        }
        catch {
            throw (New-ContextException -Context "Cannot import certificate $LeafThumbprint ($keysLeft)" -ErrorRecord $_)
        }
        try {
            try {
                # A copy already in the store (for example one whose key was
                # lost) is kept, and takes this one's properties, among them
                # the reference to the key just imported.
                $leafStore.Add($leaf)
            }
            catch {
                throw (New-ContextException -Context "Cannot add certificate $LeafThumbprint to LocalMachine\$TargetStoreName ($keysLeft)" -ErrorRecord $_)
            }
            # In the store from here on, whatever the restore below does.
            $Ansible.Result['imported'] = $true
            $Ansible.Changed = $true
            # ... but stays archived if it was: restored, so that it is seen.
            if ((Restore-ArchivedCertificate -Store $leafStore -Thumbprint $LeafThumbprint) -gt 0) {
                $Ansible.Result['archived_restored'] = $true
            }
        }
        finally {
            $leafStore.Close()
        }
    }
    finally {
        if ($null -ne $pfxBytes) {
            [System.Array]::Clear($pfxBytes, 0, $pfxBytes.Length)
        }
        $pfxBytes = $null
        # The store holds its own copy. Releasing the imported objects also
        # lets .NET delete any key this import did not persist.
        foreach ($element in $collection) {
            $element.Reset()
        }
    }
}

function Invoke-Apply {
    param(
        # Not Mandatory: an empty or missing value is reported by the
        # Assert-* checks below rather than by PowerShell's binder.
        [string]$TargetStoreName,

        [string]$LeafThumbprint,

        [AllowNull()]
        [System.Security.SecureString]$PfxContent,

        [AllowNull()]
        [System.Security.SecureString]$PfxPasswordContent,

        [bool]$MakeExportable,

        [bool]$ImportLeafCertificate,

        [bool]$RestoreArchivedLeaf,

        [AllowEmptyCollection()]
        [object[]]$ChainToInstall,

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
        key_written = $false
        imported = $false
        archived_restored = $false
        chain_installed = $chainInstalled
        acl_applied = $aclApplied
    }
    # Published before any change, and filled in as steps succeed, so that
    # if one fails the result still shows exactly what was done.
    $Ansible.Changed = $false
    $Ansible.Result = $result

    # Every input is checked before the first change.
    Assert-StoreName -Value $TargetStoreName
    Assert-Thumbprint -Value $LeafThumbprint -Name 'Thumbprint'
    # The PFX travels only for an import of the leaf; one sent otherwise is
    # a controller bug that must not go unnoticed, as it exposes a secret for
    # nothing.
    if (-not $ImportLeafCertificate -and ($null -ne $PfxContent -or $null -ne $PfxPasswordContent)) {
        throw 'Invalid parameters: Pfx and PfxPassword are sent only with ImportLeaf.'
    }
    # An import restores an archived copy of the leaf itself; RestoreArchived
    # is for an archived leaf whose key opens, which needs no import.
    if ($ImportLeafCertificate -and $RestoreArchivedLeaf) {
        throw 'Invalid parameters: RestoreArchived is sent only without ImportLeaf.'
    }
    $aclPlan = Get-KeyAclPlan -OperationList $OperationList
    $installPlan = Get-InstallPlan -EntryList $ChainToInstall
    try {
        # ShouldProcess is asked before the PFX is opened, because opening it
        # is already a change: the import writes the private key to the
        # machine key store.
        $importLeafNow = $false
        if ($ImportLeafCertificate) {
            $keyNote = if ($MakeExportable) { 'exportable' } else { 'not exportable' }
            $importLeafNow = $Cmdlet.ShouldProcess("LocalMachine\$TargetStoreName", "Import certificate $LeafThumbprint with its private key ($keyNote)")
        }
        if ($importLeafNow) {
            Import-LeafFromPfx -PfxContent $PfxContent -PfxPasswordContent $PfxPasswordContent -TargetStoreName $TargetStoreName `
                -LeafThumbprint $LeafThumbprint -MakeExportable $MakeExportable
            $result['imported'] = $true
            $Ansible.Changed = $true
        }
        elseif ($RestoreArchivedLeaf -and $Cmdlet.ShouldProcess("LocalMachine\$TargetStoreName", "Restore archived certificate $LeafThumbprint")) {
            # Not created when missing: the probe found the certificate in
            # this store.
            $leafStore = Open-LocalMachineStore -Name $TargetStoreName -ForWrite -IncludeArchived
            try {
                if ((Restore-ArchivedCertificate -Store $leafStore -Thumbprint $LeafThumbprint) -gt 0) {
                    $result['archived_restored'] = $true
                    $Ansible.Changed = $true
                }
            }
            finally {
                $leafStore.Close()
            }
        }

        foreach ($step in $installPlan) {
            if (-not $Cmdlet.ShouldProcess("LocalMachine\$($step.Store)", "Add CA certificate $($step.Thumbprint)")) {
                continue
            }
            Add-CaCertificate -Store $step.Store -Certificate $step.Certificate
            $chainInstalled.Add($step.Thumbprint)
            $Ansible.Changed = $true
        }
    }
    finally {
        Clear-InstallPlan -Plan $installPlan
    }

    if ($aclPlan.Count -eq 0) {
        return
    }
    # The operations are for the key the declined import would have
    # brought; there is no key yet to apply them to or to preview them on.
    if ($ImportLeafCertificate -and -not $importLeafNow) {
        return
    }

    Set-StoredCertificateKeyAcl -StoreName $TargetStoreName -Thumbprint $LeafThumbprint -Plan $aclPlan -Applied $aclApplied -Cmdlet $Cmdlet
}

if ($Mode -eq 'probe') {
    Invoke-Probe -TargetStoreName $StoreName -LeafThumbprint $Thumbprint -ChainList $Chain -PrincipalReferences $Principals
}
else {
    Invoke-Apply -TargetStoreName $StoreName -LeafThumbprint $Thumbprint -PfxContent $Pfx -PfxPasswordContent $PfxPassword `
        -MakeExportable $Exportable -ImportLeafCertificate $ImportLeaf -RestoreArchivedLeaf $RestoreArchived `
        -ChainToInstall $InstallChain -OperationList $Operations -Cmdlet $PSCmdlet
}
