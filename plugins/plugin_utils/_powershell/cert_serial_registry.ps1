# pkiops-payload: cert_serial_registry
#
# Reads or writes a registry value under HKEY_LOCAL_MACHINE that holds the
# serial number of a certificate in a LocalMachine certificate store (for
# example the certificate the Keyfactor CA Gateway service signs with).
#
# probe: read only. Reports whether the certificate is in the store, whether
#        it has a private key and its serial number, and the registry value
#        as it is now. Safe under -WhatIf: nothing in this mode is gated by
#        ShouldProcess or writes.
# apply: writes -Serial to the value as REG_SZ, creating the key (and any
#        missing parent keys) if needed, and nothing else; reports whether it
#        created the key and whether it wrote the value. The controller has
#        checked the certificate and decided that the value must change.
#
# The 64-bit registry view is opened explicitly (RegistryKey.OpenBaseKey
# with RegistryView.Registry64): the gateway is a 64-bit service and reads
# the 64-bit view, whereas a 32-bit PowerShell host would by default be
# redirected to HKLM\SOFTWARE\WOW6432Node and read or write a value the
# service never sees. On a 32-bit Windows the 64-bit view is the 32-bit one.
#
# API reference: Microsoft.Win32.RegistryKey (OpenBaseKey, OpenSubKey,
# CreateSubKey, GetValueNames, GetValueKind, GetValue, SetValue),
# RegistryHive, RegistryView, RegistryValueKind, RegistryValueOptions,
# RegistryKeyPermissionCheck; X509Store and X509Certificate2.
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('probe', 'apply')]
    [string]$Mode,

    [string]$StoreName = 'My',

    [string]$Thumbprint,

    [string]$Key,

    [string]$ValueName,

    [string]$Serial
)

$ErrorActionPreference = 'Stop'

# win_powershell starts every run with Changed = $true. Clear it before any
# work so that a failure before the first mutation does not report a change.
$Ansible.Changed = $false

# The controller replaces these lines with the shared fragments: error
# wrapping, principal names, the certificate store lookup and key report, and
# HKEY_LOCAL_MACHINE's 64-bit view.
# pkiops-include: _errors.ps1
# pkiops-include: _principals.ps1
# pkiops-include: _private_key_acl.ps1
# pkiops-include: _local_machine.ps1

function Assert-Input {
    # The controller normalises every value; anything else is a controller
    # bug, which would otherwise surface as "not found" or as a key written
    # in the wrong place.
    param(
        [AllowEmptyString()]
        [AllowNull()]
        [string]$Store,

        [AllowEmptyString()]
        [AllowNull()]
        [string]$CertificateThumbprint,

        [AllowEmptyString()]
        [AllowNull()]
        [string]$SubKey,

        [AllowEmptyString()]
        [AllowNull()]
        [string]$Name
    )

    if ([string]::IsNullOrWhiteSpace($Store)) {
        throw 'Invalid StoreName: give the name of a LocalMachine certificate store such as My.'
    }
    # As X509Certificate2.Thumbprint spells it: 40 uppercase hex digits. The
    # patterns here end in \z, not $: in .NET regular expressions $ also
    # matches before a final newline.
    if ($CertificateThumbprint -cnotmatch '^[0-9A-F]{40}\z') {
        throw "Invalid Thumbprint '$CertificateThumbprint': a certificate thumbprint is 40 uppercase hexadecimal digits."
    }
    # A path below HKEY_LOCAL_MACHINE without the hive. An empty path would
    # make OpenSubKey and CreateSubKey return HKEY_LOCAL_MACHINE itself.
    if ([string]::IsNullOrWhiteSpace($SubKey) -or $SubKey.StartsWith('\') -or $SubKey.EndsWith('\') -or $SubKey.Contains('\\')) {
        throw "Invalid Key '$SubKey': give a key path below HKEY_LOCAL_MACHINE such as SOFTWARE\Vendor\Product, without the hive."
    }
    # Registry element size limits: a key name has at most 255 characters,
    # a value name at most 16,383.
    foreach ($part in $SubKey.Split('\')) {
        if ($part.Length -gt 255) {
            throw "Invalid Key '$SubKey': a key name has at most 255 characters."
        }
    }
    # The empty name is the key's default value, which the contract excludes.
    if ([string]::IsNullOrEmpty($Name) -or $Name.Length -gt 16383) {
        throw 'Invalid ValueName: give the name of the registry value, of at most 16,383 characters.'
    }
}

function Assert-Serial {
    # What X509Certificate2.SerialNumber gives: the serial's bytes as
    # uppercase hex, two digits a byte. Anything else is not a serial the
    # controller read from the certificate.
    param(
        [AllowEmptyString()]
        [AllowNull()]
        [string]$Data
    )

    if ($Data -cnotmatch '^([0-9A-F]{2})+\z') {
        throw "Invalid Serial '$Data': give the serial number as X509Certificate2.SerialNumber shows it, uppercase hexadecimal, two digits a byte."
    }
}

function Get-CertificateReport {
    # Whether the key can be opened, not only whether the certificate refers
    # to one: a service pointed at a certificate whose key it cannot open
    # cannot decrypt, so the controller must not write its serial. The key
    # is opened and nothing more: its ACL and properties are not needed
    # here, and reading them fails on providers (a TPM, an HSM) that do not
    # support them.
    param(
        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [string]$CertificateThumbprint
    )

    $keyReport = Get-CertificateKeyReport -StoreName $Store -Thumbprint $CertificateThumbprint -OpenOnly
    $report = @{
        found = $keyReport['found']
        has_private_key = $keyReport['has_private_key']
        key_error = $keyReport['key_error']
        key_state = $keyReport['key_state']
        serial_number = $null
    }
    if ($keyReport['found']) {
        $certificate = Find-LocalMachineCertificate -StoreName $Store -Thumbprint $CertificateThumbprint
        if ($null -ne $certificate) {
            try {
                # The serial number as Windows shows it: uppercase hex, most
                # significant byte first.
                $report['serial_number'] = $certificate.SerialNumber
            }
            finally {
                $certificate.Reset()
            }
        }
    }
    $report
}

function Invoke-Probe {
    param(
        # Not Mandatory: an empty or missing value is reported by
        # Assert-Input rather than by PowerShell's binder.
        [string]$Store,

        [string]$CertificateThumbprint,

        [string]$SubKey,

        [string]$Name
    )

    Assert-Input -Store $Store -CertificateThumbprint $CertificateThumbprint -SubKey $SubKey -Name $Name

    $certificate = Get-CertificateReport -Store $Store -CertificateThumbprint $CertificateThumbprint
    $registry = Get-RegistryReport -SubKey $SubKey -Name $Name

    $Ansible.Changed = $false
    $Ansible.Result = @{
        certificate = $certificate
        registry = $registry
    }
}

function Invoke-Apply {
    param(
        # Not Mandatory: an empty or missing value is reported by the checks
        # below rather than by PowerShell's binder.
        [string]$Store,

        [string]$CertificateThumbprint,

        [string]$SubKey,

        [string]$Name,

        [string]$Data,

        # The script's own PSCmdlet, so that ShouldProcess honours the
        # -WhatIf and -Confirm values the script was invoked with.
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]$Cmdlet
    )

    $result = @{
        key_created = $false
        written = $false
    }
    # Published before any change, so that a failure still reports one.
    $Ansible.Changed = $false
    $Ansible.Result = $result

    Assert-Input -Store $Store -CertificateThumbprint $CertificateThumbprint -SubKey $SubKey -Name $Name
    Assert-Serial -Data $Data

    $where = "HKEY_LOCAL_MACHINE\$SubKey"
    if (-not $Cmdlet.ShouldProcess("$where (64-bit view)", "Set value '$Name' to '$Data' (REG_SZ)")) {
        return
    }

    $base = Open-LocalMachine64
    try {
        # Whether the key is there already, read-only (OpenSubKey returns null
        # for a missing key): CreateSubKey below creates it and any missing
        # parents, which is a change of its own even should the value then
        # not be written.
        $existing = $null
        try {
            $existing = $base.OpenSubKey($SubKey, $false)
        }
        catch {
            throw (New-ContextException -Context "Cannot open $where" -ErrorRecord $_)
        }
        $keyExisted = $null -ne $existing
        if ($keyExisted) {
            $existing.Dispose()
        }

        $target = $null
        try {
            # Creates the key and any missing parents, or opens the existing
            # key, for read-write access. This overload exists in every .NET
            # Framework 4 version; CreateSubKey(String, Boolean) needs 4.6.
            $target = $base.CreateSubKey($SubKey, [Microsoft.Win32.RegistryKeyPermissionCheck]::ReadWriteSubTree)
        }
        catch {
            throw (New-ContextException -Context "Cannot create or open $where" -ErrorRecord $_)
        }
        # CreateSubKey documents null as its result when it fails.
        if ($null -eq $target) {
            throw "Cannot create or open ${where}: RegistryKey.CreateSubKey returned nothing."
        }
        if (-not $keyExisted) {
            $result['key_created'] = $true
            $Ansible.Changed = $true
        }
        try {
            # RegistryValueKind.String (REG_SZ) replaces a value of any other
            # kind under this name, which is what the controller asks for.
            $target.SetValue($Name, $Data, [Microsoft.Win32.RegistryValueKind]::String)
        }
        catch {
            throw (New-ContextException -Context "Cannot set value '$Name' of $where" -ErrorRecord $_)
        }
        finally {
            $target.Dispose()
        }
    }
    finally {
        $base.Dispose()
    }
    $result['written'] = $true
    $Ansible.Changed = $true
}

if ($Mode -eq 'probe') {
    Invoke-Probe -Store $StoreName -CertificateThumbprint $Thumbprint -SubKey $Key -Name $ValueName
}
else {
    Invoke-Apply -Store $StoreName -CertificateThumbprint $Thumbprint -SubKey $Key -Name $ValueName -Data $Serial -Cmdlet $PSCmdlet
}
