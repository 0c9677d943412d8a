# HKEY_LOCAL_MACHINE and the LocalMachine certificate stores, opened the way
# the payloads need them, and archived certificates brought back into view.
#
# Functions only; the controller inlines this fragment where a payload names
# it in a pkiops-include line (cert_serial_registry, ca_certificates,
# pfx_import, readiness_info). It uses New-ContextException from _errors.ps1.

function Open-LocalMachine64 {
    # HKEY_LOCAL_MACHINE in the 64-bit view (RegistryKey.OpenBaseKey with
    # RegistryView.Registry64): 64-bit services read that view, whereas a
    # 32-bit PowerShell host would by default be redirected to
    # HKLM\SOFTWARE\WOW6432Node. On a 32-bit Windows the 64-bit view is the
    # 32-bit one. The caller disposes it.
    try {
        [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, [Microsoft.Win32.RegistryView]::Registry64)
    }
    catch {
        throw (New-ContextException -Context 'Cannot open HKEY_LOCAL_MACHINE (64-bit view)' -ErrorRecord $_)
    }
}

function Open-LocalMachineStore {
    # LocalMachine\<Name>, read-only or with -ForWrite for writing. The
    # caller closes it. OpenExistingOnly unless -CreateMissing: without it,
    # opening a store name that does not exist creates that store, which a
    # read must never do and a write only may when the task names a store to
    # import into. -IncludeArchived (OpenFlags.IncludeArchived, which .NET
    # passes to CertOpenStore as CERT_STORE_ENUM_ARCHIVED_FLAG): without it,
    # "an enumeration of all certificates in the store will ignore any
    # certificate with the CERT_ARCHIVED_PROP_ID property set", such as one
    # automatic enrollment archived when it renewed it.
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [switch]$ForWrite,

        [switch]$CreateMissing,

        [switch]$IncludeArchived
    )

    $openFlags = [System.Security.Cryptography.X509Certificates.OpenFlags]::ReadOnly
    $context = "Cannot open the certificate store LocalMachine\$Name"
    if ($ForWrite) {
        $openFlags = [System.Security.Cryptography.X509Certificates.OpenFlags]::ReadWrite
        $context = "$context for writing"
    }
    if (-not $CreateMissing) {
        $openFlags = $openFlags -bor [System.Security.Cryptography.X509Certificates.OpenFlags]::OpenExistingOnly
    }
    if ($IncludeArchived) {
        $openFlags = $openFlags -bor [System.Security.Cryptography.X509Certificates.OpenFlags]::IncludeArchived
    }
    $store = [System.Security.Cryptography.X509Certificates.X509Store]::new(
        $Name, [System.Security.Cryptography.X509Certificates.StoreLocation]::LocalMachine)
    try {
        $store.Open($openFlags)
    }
    catch {
        $store.Close()
        throw (New-ContextException -Context $context -ErrorRecord $_)
    }
    $store
}

function Restore-ArchivedCertificate {
    # Clears the archived property of every copy of the certificate in the
    # store, which the caller opened with -ForWrite -IncludeArchived, and
    # returns how many it restored. X509Certificate2.Archived = $false
    # removes CERT_ARCHIVED_PROP_ID (CertSetCertificateContextProperty) from
    # the context the store enumerated: "If the property is set on a
    # certificate retrieved from a store, the value is persisted
    # immediately" (X509Certificate2.Archived).
    #
    # Needed after X509Store.Add, which calls CertAddCertificateContextToStore
    # with CERT_STORE_ADD_REPLACE_EXISTING_INHERIT_PROPERTIES: "If a matching
    # certificate exists in the store, the existing context is not replaced.
    # The existing context inherits properties from the new certificate."
    # The new certificate has no archived property to pass on, so an archived
    # copy stays archived, and hidden from whoever lists the store, however
    # often it is added again.
    param(
        [Parameter(Mandatory)]
        [System.Security.Cryptography.X509Certificates.X509Store]$Store,

        [Parameter(Mandatory)]
        [string]$Thumbprint
    )

    $restored = 0
    # Every read of X509Store.Certificates creates a new object for each
    # certificate in the store; each is released here.
    foreach ($candidate in $Store.Certificates) {
        try {
            if ($candidate.Archived -and [string]::Equals($candidate.Thumbprint, $Thumbprint, [System.StringComparison]::OrdinalIgnoreCase)) {
                try {
                    $candidate.Archived = $false
                }
                catch {
                    throw (New-ContextException -Context "Cannot restore the archived certificate $Thumbprint in LocalMachine\$($Store.Name)" -ErrorRecord $_)
                }
                $restored++
            }
        }
        finally {
            $candidate.Reset()
        }
    }
    $restored
}

function Get-RegistryReport {
    # A value below HKEY_LOCAL_MACHINE (64-bit view), read only: whether its key
    # and the value exist, its kind, and the data of a string value.
    param(
        [Parameter(Mandatory)]
        [string]$SubKey,

        [Parameter(Mandatory)]
        [string]$Name
    )

    $report = @{
        key_exists = $false
        value_exists = $false
        value_kind = $null
        value = $null
    }
    $where = "HKEY_LOCAL_MACHINE\$SubKey"

    $base = Open-LocalMachine64
    try {
        $opened = $null
        try {
            # Read access only: the probe must not need, or use, more.
            $opened = $base.OpenSubKey($SubKey, $false)
        }
        catch {
            throw (New-ContextException -Context "Cannot open $where" -ErrorRecord $_)
        }
        # OpenSubKey returns null when the key does not exist.
        if ($null -eq $opened) {
            return $report
        }
        try {
            $report['key_exists'] = $true
            try {
                # Value names are case-insensitive in the registry, as -contains
                # is. GetValue alone cannot tell a missing value from one whose
                # data is empty, and GetValueKind throws for a missing value.
                if (-not ($opened.GetValueNames() -contains $Name)) {
                    return $report
                }
                $kind = $opened.GetValueKind($Name)
                $report['value_exists'] = $true
                # The enum's name (String, ExpandString, DWord, ...):
                # win_powershell would otherwise turn it into a dictionary.
                $report['value_kind'] = [string]$kind
                if ($kind -eq [Microsoft.Win32.RegistryValueKind]::String -or $kind -eq [Microsoft.Win32.RegistryValueKind]::ExpandString) {
                    # The data as stored: for REG_EXPAND_SZ, without expanding
                    # %variables%, so the comparison is with what is written.
                    $report['value'] = [string]$opened.GetValue($Name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
                }
            }
            catch {
                throw (New-ContextException -Context "Cannot read value '$Name' of $where" -ErrorRecord $_)
            }
        }
        finally {
            $opened.Dispose()
        }
    }
    finally {
        $base.Dispose()
    }
    $report
}
