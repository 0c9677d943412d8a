# Pester 5 tests of the cert_serial_registry payload on a real Windows host
# (plugins/plugin_utils/_powershell/cert_serial_registry.ps1); README.md in
# this folder says how to run them and what they change.
#
# What this file depends on, each in one helper of BeforeAll:
#   probe   parameters StoreName, Thumbprint, Key (a path below
#           HKEY_LOCAL_MACHINE, without the hive) and ValueName; result
#           {certificate: {found, has_private_key, key_error, serial_number},
#           registry: {key_exists, value_exists, value_kind, value}}
#   apply   the same parameters and Serial; result {written}

Describe 'cert_serial_registry payload' {
    BeforeAll {
        . (Join-Path $PSScriptRoot '_harness.ps1')
        Assert-PayloadTestHost

        $script:Cleanup = New-CleanupList

        function Invoke-SerialProbe {
            param(
                [string]$Store = 'My',
                [string]$Thumbprint,
                [string]$Key = $script:SubKey,
                [string]$Record
            )

            Invoke-Payload -Name 'cert_serial_registry' -Mode 'probe' -Record $Record -Parameters @{
                StoreName = $Store
                Thumbprint = $Thumbprint
                Key = $Key
                ValueName = $script:ValueName
            }
        }

        function Invoke-SerialApply {
            param(
                [string]$Thumbprint,
                [string]$Serial,
                [string]$Key = $script:SubKey,
                [switch]$CheckMode
            )

            Invoke-Payload -Name 'cert_serial_registry' -Mode 'apply' -CheckMode:$CheckMode -Parameters @{
                StoreName = 'My'
                Thumbprint = $Thumbprint
                Key = $Key
                ValueName = $script:ValueName
                Serial = $Serial
            }
        }

        function Get-DerSerialNumber {
            # The serialNumber INTEGER of a DER certificate (RFC 5280:
            # Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version
            # OPTIONAL, serialNumber INTEGER, ... } }), its content bytes in
            # upper-case hex as they are encoded: what X509Certificate2
            # .SerialNumber is documented to show, worked out independently.
            param(
                [byte[]]$Der
            )

            $offset = Skip-DerHeader -Der $Der -Offset 0 -Tag 0x30
            $offset = Skip-DerHeader -Der $Der -Offset $offset -Tag 0x30
            if ($Der[$offset] -eq 0xA0) {
                $versionStart = Skip-DerHeader -Der $Der -Offset $offset -Tag 0xA0
                $offset = $versionStart + (Get-DerLength -Der $Der -Offset ($offset + 1)).Length
            }
            $length = Get-DerLength -Der $Der -Offset ($offset + 1)
            if ($Der[$offset] -ne 0x02) {
                throw 'no serialNumber INTEGER where RFC 5280 puts it'
            }
            $builder = [System.Text.StringBuilder]::new()
            for ($index = 0; $index -lt $length.Length; $index++) {
                $null = $builder.Append($Der[$length.Start + $index].ToString('X2'))
            }
            $builder.ToString()
        }

        function Get-DerLength {
            # The length octets at Offset: the length and where the content starts.
            param(
                [byte[]]$Der,
                [int]$Offset
            )

            $first = [int]$Der[$Offset]
            if ($first -lt 0x80) {
                return [pscustomobject]@{ Length = $first; Start = $Offset + 1 }
            }
            $count = $first -band 0x7F
            $length = 0
            for ($index = 1; $index -le $count; $index++) {
                $length = ($length * 256) + [int]$Der[$Offset + $index]
            }
            [pscustomobject]@{ Length = $length; Start = $Offset + 1 + $count }
        }

        function Skip-DerHeader {
            # Where the content of the element at Offset starts; its tag must be Tag.
            param(
                [byte[]]$Der,
                [int]$Offset,
                [int]$Tag
            )

            if ([int]$Der[$Offset] -ne $Tag) {
                throw ('expected DER tag 0x{0:X2} at offset {1}, found 0x{2:X2}' -f $Tag, $Offset, [int]$Der[$Offset])
            }
            (Get-DerLength -Der $Der -Offset ($Offset + 1)).Start
        }

        function Get-RegistryPath {
            param(
                [string]$SubKey
            )

            "Registry::HKEY_LOCAL_MACHINE\$SubKey"
        }

        $script:Root = New-TestName -Prefix 'pkiops-test-'
        $script:SubKey = "SOFTWARE\$($script:Root)\Keyfactor CA Gateway\Parameters"
        $script:ValueName = 'EncryptSerialNumber'
        Register-TestCleanup -List $script:Cleanup -Description "registry key HKLM\SOFTWARE\$($script:Root)" -ArgumentList @($script:Root) -Action {
            param($Root)
            foreach ($path in @("Registry::HKEY_LOCAL_MACHINE\SOFTWARE\$Root", "Registry::HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\$Root")) {
                if (Test-Path -LiteralPath $path) {
                    Remove-Item -LiteralPath $path -Recurse -Force
                }
            }
        }
        $prefix = New-TestName -Prefix 'pkiops-serial-'
        $script:Cng = New-TestCertificate -Subject "$prefix cng" -Cleanup $script:Cleanup
        $script:Capi = New-TestCertificate -Subject "$prefix capi" -Provider 'capi' -Cleanup $script:Cleanup
        # A certificate without its key, in LocalMachine\CA.
        $script:PublicOnly = New-TestCertificate -Subject "$prefix public" -Cleanup $script:Cleanup
        $store = [System.Security.Cryptography.X509Certificates.X509Store]::new('CA', [System.Security.Cryptography.X509Certificates.StoreLocation]::LocalMachine)
        $store.Open([System.Security.Cryptography.X509Certificates.OpenFlags]::ReadWrite)
        try {
            $store.Add([System.Security.Cryptography.X509Certificates.X509Certificate2]::new($script:PublicOnly.RawData))
        }
        finally {
            $store.Close()
        }
    }

    AfterAll {
        Invoke-TestCleanup -List $script:Cleanup
    }

    It 'parses with Windows PowerShell''s own parser' {
        $errors = Get-PayloadParseError -Name 'cert_serial_registry'
        $errors.Count | Should -Be 0 -Because ($errors -join "`n")
    }

    It 'the test process reads the 64-bit registry, as the gateway does' {
        [System.Environment]::Is64BitProcess | Should -BeTrue
    }

    It 'probe reports the serial number as X509Certificate2.SerialNumber shows it and the DER encodes it, and no value yet' {
        $run = Invoke-SerialProbe -Thumbprint $script:Cng.Thumbprint -Record 'no-value-yet'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        $run.Result['certificate']['found'] | Should -BeTrue
        $run.Result['certificate']['has_private_key'] | Should -BeTrue
        $run.Result['certificate']['key_error'] | Should -BeNullOrEmpty
        $run.Result['certificate']['serial_number'] | Should -BeExactly $script:Cng.SerialNumber
        $run.Result['certificate']['serial_number'] | Should -BeExactly (Get-DerSerialNumber -Der $script:Cng.RawData)
        $run.Result['registry']['key_exists'] | Should -BeFalse
        $run.Result['registry']['value_exists'] | Should -BeFalse
        $run.Result['registry']['value_kind'] | Should -BeNullOrEmpty
        $run.Result['registry']['value'] | Should -BeNullOrEmpty
    }

    It 'probe reads a CryptoAPI certificate''s serial number the same way' {
        $run = Invoke-SerialProbe -Thumbprint $script:Capi.Thumbprint

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['certificate']['has_private_key'] | Should -BeTrue
        $run.Result['certificate']['serial_number'] | Should -BeExactly (Get-DerSerialNumber -Der $script:Capi.RawData)
    }

    It 'probe reports a certificate in the store without its key' {
        $run = Invoke-SerialProbe -Store 'CA' -Thumbprint $script:PublicOnly.Thumbprint

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['certificate']['found'] | Should -BeTrue
        $run.Result['certificate']['has_private_key'] | Should -BeFalse
        $run.Result['certificate']['serial_number'] | Should -BeExactly $script:PublicOnly.SerialNumber
    }

    It 'probe and apply refuse a key path that starts with a backslash' {
        $probe = Invoke-SerialProbe -Thumbprint $script:Cng.Thumbprint -Key "\$($script:SubKey)"
        $apply = Invoke-SerialApply -Thumbprint $script:Cng.Thumbprint -Serial $script:Cng.SerialNumber -Key "\$($script:SubKey)"

        foreach ($run in @($probe, $apply)) {
            $run.Failed | Should -BeTrue
            $run.Changed | Should -BeFalse
            $run.ErrorText | Should -Match 'Invalid Key'
        }
        Test-Path -LiteralPath (Get-RegistryPath -SubKey "SOFTWARE\$($script:Root)") | Should -BeFalse
    }

    It 'apply in check mode (-WhatIf) writes nothing' {
        $run = Invoke-SerialApply -Thumbprint $script:Cng.Thumbprint -Serial $script:Cng.SerialNumber -CheckMode

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        $run.Result['written'] | Should -BeFalse
        Test-Path -LiteralPath (Get-RegistryPath -SubKey "SOFTWARE\$($script:Root)") | Should -BeFalse
    }

    It 'apply creates the key with its parents and writes the serial as REG_SZ in the 64-bit view' {
        $run = Invoke-SerialApply -Thumbprint $script:Cng.Thumbprint -Serial $script:Cng.SerialNumber

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['written'] | Should -BeTrue
        $path = Get-RegistryPath -SubKey $script:SubKey
        (Get-ItemProperty -LiteralPath $path -Name $script:ValueName).$($script:ValueName) | Should -BeExactly $script:Cng.SerialNumber
        (Get-Item -LiteralPath $path).GetValueKind($script:ValueName) | Should -Be ([Microsoft.Win32.RegistryValueKind]::String)
        Test-Path -LiteralPath "Registry::HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\$($script:Root)" | Should -BeFalse
    }

    It 'probe after the write reports the value the controller compares with: nothing is left to change' {
        $run = Invoke-SerialProbe -Thumbprint $script:Cng.Thumbprint -Record 'value-written'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['registry']['key_exists'] | Should -BeTrue
        $run.Result['registry']['value_exists'] | Should -BeTrue
        $run.Result['registry']['value_kind'] | Should -BeExactly 'String'
        $run.Result['registry']['value'] | Should -BeExactly $run.Result['certificate']['serial_number']
    }

    It 'probe reports a value of another kind without its data, and apply replaces it with REG_SZ' {
        $path = Get-RegistryPath -SubKey $script:SubKey
        $null = New-ItemProperty -LiteralPath $path -Name $script:ValueName -PropertyType DWord -Value 7 -Force

        $probe = Invoke-SerialProbe -Thumbprint $script:Cng.Thumbprint -Record 'dword-value'
        $apply = Invoke-SerialApply -Thumbprint $script:Cng.Thumbprint -Serial $script:Cng.SerialNumber

        $probe.Failed | Should -BeFalse -Because $probe.ErrorText
        $probe.Result['registry']['value_exists'] | Should -BeTrue
        $probe.Result['registry']['value_kind'] | Should -BeExactly 'DWord'
        $probe.Result['registry']['value'] | Should -BeNullOrEmpty
        $apply.Failed | Should -BeFalse -Because $apply.ErrorText
        (Get-Item -LiteralPath $path).GetValueKind($script:ValueName) | Should -Be ([Microsoft.Win32.RegistryValueKind]::String)
    }

    It 'probe reports a REG_EXPAND_SZ value as stored, without expanding it' {
        $path = Get-RegistryPath -SubKey $script:SubKey
        $null = New-ItemProperty -LiteralPath $path -Name $script:ValueName -PropertyType ExpandString -Value '%SystemRoot%\pkiops' -Force

        $run = Invoke-SerialProbe -Thumbprint $script:Cng.Thumbprint

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['registry']['value_kind'] | Should -BeExactly 'ExpandString'
        $run.Result['registry']['value'] | Should -BeExactly '%SystemRoot%\pkiops'
    }
}
