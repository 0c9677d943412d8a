# Pester 5 tests of the ca_certificates payload on a real Windows host
# (plugins/plugin_utils/_powershell/ca_certificates.ps1); README.md in this
# folder says how to run them and what they change.
#
# What this file depends on, each in one helper of BeforeAll:
#   probe   parameter Certificates ([{thumbprint, store: CA | Root}]); result
#           {certificates: [{thumbprint, store, present (the store as
#           Windows shows it), in_default_store (its .Default physical
#           store), other_physical_stores: [.AuthRoot | .GroupPolicy |
#           .Enterprise, the other physical stores that hold it]}]}
#   apply   parameter Operations, each {action: add, thumbprint, store, der
#           (base64)} or {action: remove, thumbprint, store}; result
#           {applied: [{action, thumbprint, store, and for a remove removed:
#           how many copies it deleted}]}; a remove that deleted none is no
#           change. An add restores an archived copy of the certificate,
#           which the probe's present does not see. A remove deletes the
#           certificate from the store's .Default physical store only
#           (CertOpenStore on <store>\.Default). The controller sends one
#           only for a certificate in .Default, and refuses it when another
#           physical store holds the certificate too; the test of the
#           .Enterprise copy sends it anyway, to show what the payload
#           deletes and what it leaves.

Describe 'ca_certificates payload' {
    BeforeAll {
        . (Join-Path $PSScriptRoot '_harness.ps1')
        Assert-PayloadTestHost

        $script:Cleanup = New-CleanupList

        function Invoke-CaProbe {
            param(
                [object[]]$Certificates,
                [string]$Record
            )

            Invoke-Payload -Name 'ca_certificates' -Mode 'probe' -Parameters @{ Certificates = $Certificates } -Record $Record
        }

        function Invoke-CaApply {
            param(
                [object[]]$Operations,
                [switch]$CheckMode
            )

            Invoke-Payload -Name 'ca_certificates' -Mode 'apply' -Parameters @{ Operations = $Operations } -CheckMode:$CheckMode
        }

        function New-CaEntry {
            param(
                [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate,
                [string]$Store
            )

            @{ thumbprint = $Certificate.Thumbprint; store = $Store }
        }

        function New-AddOperation {
            param(
                [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate,
                [string]$Store,
                [byte[]]$Der = $Certificate.RawData
            )

            @{ action = 'add'; thumbprint = $Certificate.Thumbprint; store = $Store; der = [System.Convert]::ToBase64String($Der) }
        }

        function New-RemoveOperation {
            param(
                [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate,
                [string]$Store
            )

            @{ action = 'remove'; thumbprint = $Certificate.Thumbprint; store = $Store }
        }

        function Test-DefaultStoreKey {
            # The certificate's own registry key in the store's .Default
            # physical store (System Store Locations:
            # HKLM\SOFTWARE\Microsoft\SystemCertificates\<store>\Certificates).
            param(
                [string]$Store,
                [string]$Thumbprint
            )

            Test-Path -LiteralPath "Registry::HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates\$Store\Certificates\$Thumbprint"
        }

        function Test-EnterpriseStoreKey {
            # The certificate in the store's .Enterprise physical store
            # (CERT_SYSTEM_STORE_LOCAL_MACHINE_ENTERPRISE:
            # HKLM\SOFTWARE\Microsoft\EnterpriseCertificates).
            param(
                [string]$Store,
                [string]$Thumbprint
            )

            Test-Path -LiteralPath "Registry::HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\EnterpriseCertificates\$Store\Certificates\$Thumbprint"
        }

        function Add-EnterpriseCopy {
            # certutil -enterprise -addstore: "Use local machine Enterprise
            # registry certificate store".
            param(
                [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate,
                [string]$Store
            )

            Register-TestCleanup -List $script:Cleanup -Description "enterprise copy of $($Certificate.Thumbprint)" -ArgumentList @($Store, $Certificate.Thumbprint) -Action {
                param($StoreName, $Thumbprint)
                $path = "Registry::HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\EnterpriseCertificates\$StoreName\Certificates\$Thumbprint"
                if (Test-Path -LiteralPath $path) {
                    $certutil = Join-Path $env:SystemRoot 'System32\certutil.exe'
                    $null = Invoke-NativeCommand -FilePath $certutil -Arguments ('-enterprise -delstore {0} {1}' -f $StoreName, $Thumbprint)
                }
                if (Test-Path -LiteralPath $path) {
                    Remove-Item -LiteralPath $path -Recurse -Force
                }
            }
            $file = Join-Path ([System.IO.Path]::GetTempPath()) ($Certificate.Thumbprint + '.cer')
            [System.IO.File]::WriteAllBytes($file, $Certificate.RawData)
            try {
                $certutil = Join-Path $env:SystemRoot 'System32\certutil.exe'
                $run = Invoke-NativeCommand -FilePath $certutil -Arguments ('-enterprise -addstore {0} "{1}"' -f $Store, $file)
                if ($run.ExitCode -ne 0) {
                    throw "certutil -enterprise -addstore failed with exit code $($run.ExitCode): $($run.Output)"
                }
            }
            finally {
                Remove-Item -LiteralPath $file -Force
            }
        }

        $prefix = New-TestName -Prefix 'pkiops-ca-'
        $script:Root = New-TestCertificate -Subject "$prefix root" -CertificateAuthority -Cleanup $script:Cleanup
        $script:Issuing = New-TestCertificate -Subject "$prefix issuing" -CertificateAuthority -Signer $script:Root -Cleanup $script:Cleanup
        # From here on only their public halves are used, and no store holds them.
        foreach ($certificate in @($script:Root, $script:Issuing)) {
            Remove-TestCertificate -Thumbprint $certificate.Thumbprint
        }
        $script:Entries = @((New-CaEntry -Certificate $script:Root -Store 'Root'), (New-CaEntry -Certificate $script:Issuing -Store 'CA'))
    }

    AfterAll {
        Invoke-TestCleanup -List $script:Cleanup
    }

    It 'parses with Windows PowerShell''s own parser' {
        $errors = Get-PayloadParseError -Name 'ca_certificates'
        $errors.Count | Should -Be 0 -Because ($errors -join "`n")
    }

    It 'probe reports certificates that are in neither view of the store' {
        $run = Invoke-CaProbe -Certificates $script:Entries -Record 'absent'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        Test-IsList -Value $run.Result['certificates'] | Should -BeTrue
        $run.Result['certificates'].Count | Should -Be 2
        foreach ($entry in $run.Result['certificates']) {
            $entry['present'] | Should -BeFalse
            $entry['in_default_store'] | Should -BeFalse
            Test-IsList -Value $entry['other_physical_stores'] | Should -BeTrue
            $entry['other_physical_stores'].Count | Should -Be 0
        }
        $run.Result['certificates'][0]['thumbprint'] | Should -BeExactly $script:Root.Thumbprint
        $run.Result['certificates'][0]['store'] | Should -BeExactly 'Root'
    }

    It 'apply in check mode (-WhatIf) adds nothing' {
        $run = Invoke-CaApply -Operations @((New-AddOperation -Certificate $script:Root -Store 'Root'), (New-AddOperation -Certificate $script:Issuing -Store 'CA')) -CheckMode

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        $run.Result['applied'].Count | Should -Be 0
        Get-StoreCertificate -Store 'Root' -Thumbprint $script:Root.Thumbprint | Should -BeNullOrEmpty
        Get-StoreCertificate -Store 'CA' -Thumbprint $script:Issuing.Thumbprint | Should -BeNullOrEmpty
    }

    It 'apply refuses DER bytes of another certificate than the thumbprint names, before any change' {
        $operations = @(
            (New-AddOperation -Certificate $script:Issuing -Store 'CA'),
            (New-AddOperation -Certificate $script:Root -Store 'Root' -Der $script:Issuing.RawData)
        )

        $run = Invoke-CaApply -Operations $operations

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match "der holds the certificate $($script:Issuing.Thumbprint), not $($script:Root.Thumbprint)"
        Get-StoreCertificate -Store 'CA' -Thumbprint $script:Issuing.Thumbprint | Should -BeNullOrEmpty
    }

    It 'apply refuses a PFX where a lone certificate belongs' {
        $collection = [System.Security.Cryptography.X509Certificates.X509Certificate2Collection]::new()
        $null = $collection.Add([System.Security.Cryptography.X509Certificates.X509Certificate2]::new($script:Root.RawData))
        $pfx = $collection.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pfx, (New-TestPassword))

        $run = Invoke-CaApply -Operations @(New-AddOperation -Certificate $script:Root -Store 'Root' -Der $pfx)

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match "der is not a single certificate \(Windows identifies it as 'Pkcs12'\)"
        Get-StoreCertificate -Store 'Root' -Thumbprint $script:Root.Thumbprint | Should -BeNullOrEmpty
    }

    It 'apply adds each certificate, without a key, to its store''s .Default physical store' {
        $run = Invoke-CaApply -Operations @((New-AddOperation -Certificate $script:Root -Store 'Root'), (New-AddOperation -Certificate $script:Issuing -Store 'CA'))

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['applied'].Count | Should -Be 2
        $run.Result['applied'][0]['action'] | Should -BeExactly 'add'
        $run.Result['applied'][0]['thumbprint'] | Should -BeExactly $script:Root.Thumbprint
        $run.Result['applied'][1]['store'] | Should -BeExactly 'CA'
        (Get-StoreCertificate -Store 'Root' -Thumbprint $script:Root.Thumbprint).HasPrivateKey | Should -BeFalse
        (Get-StoreCertificate -Store 'CA' -Thumbprint $script:Issuing.Thumbprint).HasPrivateKey | Should -BeFalse
        Test-DefaultStoreKey -Store 'Root' -Thumbprint $script:Root.Thumbprint | Should -BeTrue
        Test-DefaultStoreKey -Store 'CA' -Thumbprint $script:Issuing.Thumbprint | Should -BeTrue
    }

    It 'probe after the add reports both present in the .Default store: nothing is left to add' {
        $run = Invoke-CaProbe -Certificates $script:Entries -Record 'installed'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        foreach ($entry in $run.Result['certificates']) {
            $entry['present'] | Should -BeTrue
            $entry['in_default_store'] | Should -BeTrue
            $entry['other_physical_stores'].Count | Should -Be 0 -Because 'no other physical store holds a certificate made for this test'
        }
    }

    It 'probe reports a certificate in both the .Default and the .Enterprise store, which the controller then refuses to remove' {
        Add-EnterpriseCopy -Certificate $script:Root -Store 'Root'
        Test-EnterpriseStoreKey -Store 'Root' -Thumbprint $script:Root.Thumbprint | Should -BeTrue
        Test-DefaultStoreKey -Store 'Root' -Thumbprint $script:Root.Thumbprint | Should -BeTrue

        $run = Invoke-CaProbe -Certificates @(New-CaEntry -Certificate $script:Root -Store 'Root') -Record 'default-and-enterprise'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $entry = $run.Result['certificates'][0]
        $entry['present'] | Should -BeTrue
        $entry['in_default_store'] | Should -BeTrue
        Test-IsList -Value $entry['other_physical_stores'] | Should -BeTrue
        ($entry['other_physical_stores'] -join ',') | Should -BeExactly '.Enterprise'
    }

    It 'apply removes only the .Default copy, and leaves the .Enterprise copy that Windows maintains' {
        $run = Invoke-CaApply -Operations @(New-RemoveOperation -Certificate $script:Root -Store 'Root')

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['applied'].Count | Should -Be 1
        Test-DefaultStoreKey -Store 'Root' -Thumbprint $script:Root.Thumbprint | Should -BeFalse
        Test-EnterpriseStoreKey -Store 'Root' -Thumbprint $script:Root.Thumbprint | Should -BeTrue
        # certutil reads the .Enterprise store through its own API.
        $certutil = Invoke-NativeCommand -FilePath (Join-Path $env:SystemRoot 'System32\certutil.exe') -Arguments ('-enterprise -store Root {0}' -f $script:Root.Thumbprint)
        $certutil.ExitCode | Should -Be 0 -Because "certutil -enterprise -store Root finds the copy: $($certutil.Output)"
    }

    It 'probe then sees the certificate through the .Enterprise store only' {
        $run = Invoke-CaProbe -Certificates @(New-CaEntry -Certificate $script:Root -Store 'Root') -Record 'enterprise-copy-only'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['certificates'][0]['present'] | Should -BeTrue
        $run.Result['certificates'][0]['in_default_store'] | Should -BeFalse
        ($run.Result['certificates'][0]['other_physical_stores'] -join ',') | Should -BeExactly '.Enterprise'
    }

    It 'apply of a remove of a certificate that only the .Enterprise store holds deletes nothing: removed 0 and no change' {
        $run = Invoke-CaApply -Operations @(New-RemoveOperation -Certificate $script:Root -Store 'Root')

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        $run.Result['applied'].Count | Should -Be 1
        $run.Result['applied'][0]['action'] | Should -BeExactly 'remove'
        $run.Result['applied'][0]['removed'] | Should -Be 0
        Test-EnterpriseStoreKey -Store 'Root' -Thumbprint $script:Root.Thumbprint | Should -BeTrue -Because 'the .Enterprise copy is not the payload''s to delete'
        $probe = Invoke-CaProbe -Certificates @(New-CaEntry -Certificate $script:Root -Store 'Root')
        $probe.Result['certificates'][0]['present'] | Should -BeTrue
        $probe.Result['certificates'][0]['in_default_store'] | Should -BeFalse
    }

    It 'apply removes a certificate from CA, and removing one that is not there is no error' {
        $run = Invoke-CaApply -Operations @((New-RemoveOperation -Certificate $script:Issuing -Store 'CA'), (New-RemoveOperation -Certificate $script:Issuing -Store 'Root'))

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        Get-StoreCertificate -Store 'CA' -Thumbprint $script:Issuing.Thumbprint | Should -BeNullOrEmpty
        Test-DefaultStoreKey -Store 'CA' -Thumbprint $script:Issuing.Thumbprint | Should -BeFalse
        $probe = Invoke-CaProbe -Certificates @(New-CaEntry -Certificate $script:Issuing -Store 'CA')
        $probe.Result['certificates'][0]['present'] | Should -BeFalse
        $probe.Result['certificates'][0]['in_default_store'] | Should -BeFalse
    }

    It 'probe reports an archived CA certificate absent, and an add restores it: listed in LocalMachine\CA again and no longer archived' {
        $thumbprint = $script:Issuing.Thumbprint
        $store = [System.Security.Cryptography.X509Certificates.X509Store]::new('CA', [System.Security.Cryptography.X509Certificates.StoreLocation]::LocalMachine)
        $store.Open([System.Security.Cryptography.X509Certificates.OpenFlags]::ReadWrite)
        try {
            $store.Add([System.Security.Cryptography.X509Certificates.X509Certificate2]::new($script:Issuing.RawData))
        }
        finally {
            $store.Close()
        }
        Register-ArchivedCertificateCleanup -Cleanup $script:Cleanup -Store 'CA' -Thumbprint $thumbprint
        Set-CertificateArchived -Store 'CA' -Thumbprint $thumbprint -Archived $true | Should -Be 1
        Test-CertificateListed -Store 'CA' -Thumbprint $thumbprint | Should -BeFalse -Because 'an enumeration of the store skips an archived certificate'

        $probe = Invoke-CaProbe -Certificates @(New-CaEntry -Certificate $script:Issuing -Store 'CA')
        $run = Invoke-CaApply -Operations @(New-AddOperation -Certificate $script:Issuing -Store 'CA')
        $after = Invoke-CaProbe -Certificates @(New-CaEntry -Certificate $script:Issuing -Store 'CA')

        $probe.Failed | Should -BeFalse -Because $probe.ErrorText
        $probe.Result['certificates'][0]['present'] | Should -BeFalse -Because 'Windows shows no archived certificate in the store, so the controller adds it'
        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['applied'].Count | Should -Be 1
        Test-CertificateListed -Store 'CA' -Thumbprint $thumbprint | Should -BeTrue -Because 'Get-ChildItem Cert:\LocalMachine\CA lists it again'
        Get-CertificateArchived -Store 'CA' -Thumbprint $thumbprint | Should -BeFalse
        $after.Result['certificates'][0]['present'] | Should -BeTrue
        $after.Result['certificates'][0]['in_default_store'] | Should -BeTrue
    }
}
