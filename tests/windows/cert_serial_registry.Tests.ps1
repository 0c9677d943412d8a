# Pester 5 tests of the cert_serial_registry payload on a real Windows host
# (plugins/plugin_utils/_powershell/cert_serial_registry.ps1); README.md in
# this folder says how to run them and what they change.
#
# What this file depends on, each in one helper of BeforeAll:
#   probe   parameters StoreName, Thumbprint, Key (a path below
#           HKEY_LOCAL_MACHINE, without the hive, each key name at most 255
#           characters) and ValueName (at most 16,383 characters); result
#           {certificate: {found, has_private_key, key_error, key_state (null
#           when the key opens, else missing | denied | missing_or_denied |
#           unavailable), serial_number}, registry: {key_exists,
#           value_exists, value_kind, value}}. The probe only opens the key,
#           reading nothing from it.
#   apply   the same parameters and Serial (uppercase hexadecimal, two
#           digits a byte, as X509Certificate2.SerialNumber gives it);
#           result {key_created, written}, published before the first
#           change. Thumbprint and Serial are matched to the end of the text
#           (\z): one followed by a newline is refused.

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
                [string]$ValueName = $script:ValueName,
                [string]$Record
            )

            Invoke-Payload -Name 'cert_serial_registry' -Mode 'probe' -Record $Record -Parameters @{
                StoreName = $Store
                Thumbprint = $Thumbprint
                Key = $Key
                ValueName = $ValueName
            }
        }

        function Invoke-SerialApply {
            param(
                [string]$Thumbprint,
                [string]$Serial,
                [string]$Key = $script:SubKey,
                [string]$ValueName = $script:ValueName,
                [switch]$CheckMode
            )

            Invoke-Payload -Name 'cert_serial_registry' -Mode 'apply' -CheckMode:$CheckMode -Parameters @{
                StoreName = 'My'
                Thumbprint = $Thumbprint
                Key = $Key
                ValueName = $ValueName
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
        # A certificate whose key file is deleted below: it still refers to a
        # key, which no longer opens.
        $script:KeyGone = New-TestCertificate -Subject "$prefix key gone" -Cleanup $script:Cleanup
        $script:KeyGoneFile = (Get-PrivateKeyInfo -Certificate $script:KeyGone).File
        # Registered after the certificate, so it runs first: the
        # certificate without -DeleteKey, which has no key left to delete.
        Register-TestCleanup -List $script:Cleanup -Description "certificate $($script:KeyGone.Thumbprint) without its key" -ArgumentList @($script:KeyGone.Thumbprint) -Action {
            param($Thumbprint)
            $path = "Cert:\LocalMachine\My\$Thumbprint"
            if (Test-Path -LiteralPath $path) {
                Remove-Item -LiteralPath $path
            }
        }
        Remove-Item -LiteralPath $script:KeyGoneFile -Force
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
        $run.Result['certificate'].ContainsKey('key_state') | Should -BeTrue
        $run.Result['certificate']['key_state'] | Should -BeNullOrEmpty -Because 'the key opens'
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
        $run.Result['certificate']['key_error'] | Should -BeNullOrEmpty
        $run.Result['certificate']['key_state'] | Should -BeNullOrEmpty -Because 'the key opens'
        $run.Result['certificate']['serial_number'] | Should -BeExactly (Get-DerSerialNumber -Der $script:Capi.RawData)
    }

    It 'probe of a certificate whose key file is gone reports why the key does not open, without failing, and still reads the serial' {
        $run = Invoke-SerialProbe -Thumbprint $script:KeyGone.Thumbprint -Record 'key-file-gone'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $certificate = $run.Result['certificate']
        $certificate['found'] | Should -BeTrue
        $certificate['has_private_key'] | Should -BeTrue -Because 'the certificate still refers to a key'
        $certificate['key_error'] | Should -Not -BeNullOrEmpty
        $certificate['key_state'] | Should -BeIn @('missing', 'missing_or_denied') -Because "Windows said: $($certificate['key_error'])"
        $certificate['serial_number'] | Should -BeExactly $script:KeyGone.SerialNumber
        Test-Path -LiteralPath $script:KeyGoneFile | Should -BeFalse
    }

    It 'probe reports a certificate in the store without its key' {
        $run = Invoke-SerialProbe -Store 'CA' -Thumbprint $script:PublicOnly.Thumbprint

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['certificate']['found'] | Should -BeTrue
        $run.Result['certificate']['has_private_key'] | Should -BeFalse
        $run.Result['certificate']['key_state'] | Should -BeNullOrEmpty -Because 'no key is opened for a certificate without one'
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

    It 'probe and apply refuse a key name longer than 255 characters and a value name longer than 16,383' {
        $longKey = "SOFTWARE\$($script:Root)\" + ('k' * 256)
        $longValue = 'v' * 16384
        $runs = @(
            (Invoke-SerialProbe -Thumbprint $script:Cng.Thumbprint -Key $longKey),
            (Invoke-SerialApply -Thumbprint $script:Cng.Thumbprint -Serial $script:Cng.SerialNumber -Key $longKey),
            (Invoke-SerialProbe -Thumbprint $script:Cng.Thumbprint -ValueName $longValue),
            (Invoke-SerialApply -Thumbprint $script:Cng.Thumbprint -Serial $script:Cng.SerialNumber -ValueName $longValue)
        )

        foreach ($run in $runs) {
            $run.Failed | Should -BeTrue
            $run.Changed | Should -BeFalse
        }
        $runs[0].ErrorText | Should -Match 'Invalid Key .*at most 255 characters'
        $runs[1].ErrorText | Should -Match 'Invalid Key .*at most 255 characters'
        $runs[2].ErrorText | Should -Match 'Invalid ValueName'
        $runs[3].ErrorText | Should -Match 'Invalid ValueName'
        Test-Path -LiteralPath (Get-RegistryPath -SubKey "SOFTWARE\$($script:Root)") | Should -BeFalse
    }

    It 'apply refuses a serial that is not uppercase hexadecimal, two digits a byte, and writes nothing' {
        # Each element in parentheses: the comma binds before +.
        foreach ($serial in @('ABC', ($script:Cng.SerialNumber.ToLowerInvariant() + 'ab'), '0x1F', ($script:Cng.SerialNumber + ' '))) {
            $run = Invoke-SerialApply -Thumbprint $script:Cng.Thumbprint -Serial $serial

            $run.Failed | Should -BeTrue -Because "'$serial' is not a serial as X509Certificate2.SerialNumber gives it"
            $run.Changed | Should -BeFalse
            $run.Result['written'] | Should -BeFalse
            $run.ErrorText | Should -Match 'Invalid Serial'
        }
        Test-Path -LiteralPath (Get-RegistryPath -SubKey "SOFTWARE\$($script:Root)") | Should -BeFalse
    }

    It 'probe and apply refuse a thumbprint, and apply a serial, followed by a newline, and write nothing' {
        # .NET's $ also matches before a final newline; the payload's
        # patterns end in \z, which does not.
        $thumbprint = $script:Cng.Thumbprint + "`n"
        $serial = $script:Cng.SerialNumber + "`n"
        $probe = Invoke-SerialProbe -Thumbprint $thumbprint
        $applies = @(
            (Invoke-SerialApply -Thumbprint $thumbprint -Serial $script:Cng.SerialNumber),
            (Invoke-SerialApply -Thumbprint $script:Cng.Thumbprint -Serial $serial)
        )

        $probe.Failed | Should -BeTrue
        $probe.Changed | Should -BeFalse
        $probe.ErrorText | Should -Match 'Invalid Thumbprint'
        foreach ($run in $applies) {
            $run.Failed | Should -BeTrue
            $run.Changed | Should -BeFalse
            $run.Result['written'] | Should -BeFalse
            $run.Result['key_created'] | Should -BeFalse
        }
        $applies[0].ErrorText | Should -Match 'Invalid Thumbprint'
        $applies[1].ErrorText | Should -Match 'Invalid Serial'
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
