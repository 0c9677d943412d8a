# Pester 5 tests of the pfx_import payload on a real Windows host
# (plugins/plugin_utils/_powershell/pfx_import.ps1); README.md in this folder
# says how to run them and what they change.
#
# What this file depends on, each in one helper of BeforeAll:
#   probe   parameters StoreName, Thumbprint, Chain ([{thumbprint, store: CA
#           | Root}]) and Principals (account references); result
#           {certificate: {found, has_private_key, key: {provider: cng | capi,
#           provider_name, container, exportable}, acl: [{sid, name, type,
#           rights, inherited}], and when the key does not open key_error,
#           key_error_code and key_state: missing | denied |
#           missing_or_denied | unavailable}, chain: [{thumbprint, store,
#           present}], principals: [{input, sid, name, error}], identity:
#           {sid, groups: [sid]} (the connecting token), os_build (the
#           Windows build number)}
#   apply   parameters StoreName, Thumbprint, Exportable, ImportLeaf,
#           InstallChain ([{thumbprint, store: CA | Root, der: the
#           certificate's DER bytes as base64}]) and Operations (key ACL
#           operations {sid, action: set | remove, rights}); the sensitive
#           parameters Pfx (the PFX as base64) and PfxPassword only with
#           ImportLeaf true, as the controller sends them (PfxPassword left
#           out for a PFX without a password), and RestoreArchived (restore
#           an archived leaf whose key opens, without an import); result
#           {key_written (opening the PFX wrote its private keys), imported,
#           archived_restored, chain_installed: [thumbprint], acl_applied:
#           [{sid, action, rights}]}
#   probe   the certificate report also says archived when the leaf is
#           found, and, for a key that does not open, key_provider_name
#           (the provider the certificate names, read without opening the
#           key)
#   chain only: ImportLeaf false, InstallChain with the DER of each CA
#           certificate, and neither Pfx nor PfxPassword; a Pfx sent with
#           ImportLeaf false is refused before any change.

Describe 'pfx_import payload' {
    BeforeAll {
        . (Join-Path $PSScriptRoot '_harness.ps1')
        Assert-PayloadTestHost

        $script:Cleanup = New-CleanupList

        function Invoke-PfxProbe {
            param(
                [string]$Thumbprint,
                [object[]]$Chain = @(),
                [string[]]$Principals = @(),
                [string]$Record
            )

            Invoke-Payload -Name 'pfx_import' -Mode 'probe' -Record $Record -Parameters @{
                StoreName = 'My'
                Thumbprint = $Thumbprint
                Chain = $Chain
                Principals = $Principals
            }
        }

        function Invoke-PfxApply {
            # The apply as the controller sends it. Pfx and PfxPassword are
            # sensitive parameters, sent when -Pfx is given: the controller
            # gives them only with -ImportLeaf, and one test sends them
            # without it to see the payload refuse them.
            param(
                [string]$Thumbprint,
                [switch]$ImportLeaf,
                [byte[]]$Pfx,
                [string]$Password,
                [object[]]$InstallChain = @(),
                [object[]]$Operations = @(),
                [bool]$Exportable = $false,
                [switch]$RestoreArchived,
                [switch]$CheckMode
            )

            $secrets = @{}
            if ($null -ne $Pfx) {
                $secrets['Pfx'] = [System.Convert]::ToBase64String($Pfx)
                # Left out for a PFX without a password, as the controller does.
                if ($Password) {
                    $secrets['PfxPassword'] = $Password
                }
            }
            Invoke-Payload -Name 'pfx_import' -Mode 'apply' -Secrets $secrets -CheckMode:$CheckMode -Parameters @{
                StoreName = 'My'
                Thumbprint = $Thumbprint
                Exportable = $Exportable
                ImportLeaf = [bool]$ImportLeaf
                RestoreArchived = [bool]$RestoreArchived
                InstallChain = $InstallChain
                Operations = $Operations
            }
        }

        function Get-ChainParameter {
            # The probe's Chain: the CA certificates of the PFX, by thumbprint.
            @(
                @{ thumbprint = $script:Intermediate.Thumbprint; store = 'CA' },
                @{ thumbprint = $script:Root.Thumbprint; store = 'Root' }
            )
        }

        function New-InstallChainEntry {
            # One CA certificate as the controller sends it to be added: its
            # public DER bytes, base64 encoded, never the PFX.
            param(
                [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate,
                [string]$Store
            )

            @{ thumbprint = $Certificate.Thumbprint; store = $Store; der = [System.Convert]::ToBase64String($Certificate.RawData) }
        }

        function Get-InstallChainParameter {
            @(
                (New-InstallChainEntry -Certificate $script:Intermediate -Store 'CA'),
                (New-InstallChainEntry -Certificate $script:Root -Store 'Root')
            )
        }

        function Get-MachineKeyFile {
            # Every file of the machine key stores of the Microsoft software
            # providers: CNG's Crypto\Keys and CryptoAPI's Crypto\RSA\MachineKeys.
            $files = [System.Collections.Generic.List[string]]::new()
            foreach ($folder in @('Microsoft\Crypto\Keys', 'Microsoft\Crypto\RSA\MachineKeys')) {
                $path = Join-Path $env:ProgramData $folder
                if (Test-Path -LiteralPath $path) {
                    foreach ($file in Get-ChildItem -LiteralPath $path -File -Force) {
                        $files.Add($file.FullName)
                    }
                }
            }
            , $files
        }

        function Register-KeyFileCleanup {
            # Key files an import left in the machine key stores with no
            # certificate referring to them, deleted in AfterAll.
            param(
                [AllowEmptyCollection()]
                [string[]]$Path
            )

            foreach ($file in $Path) {
                Register-TestCleanup -List $script:Cleanup -Description "key file $file" -ArgumentList @($file) -Action {
                    param($KeyFile)
                    if (Test-Path -LiteralPath $KeyFile) {
                        Remove-Item -LiteralPath $KeyFile -Force
                    }
                }
            }
        }

        $script:User = New-TestLocalUser -Cleanup $script:Cleanup
        $script:NetworkService = 'S-1-5-20'
        # The account these tests run as, which is what the probe must report
        # as the connecting identity.
        $current = [System.Security.Principal.WindowsIdentity]::GetCurrent()
        try {
            $script:ConnectingSid = $current.User.Value
        }
        finally {
            $current.Dispose()
        }
        # The providers .NET Framework's PFX import puts a key in: the one the
        # PFX names, and the legacy RSA CSP or CNG's software KSP otherwise.
        $script:ProviderNames = @{
            cng = 'Microsoft Software Key Storage Provider'
            capi = 'Microsoft Enhanced RSA and AES Cryptographic Provider'
        }
        $script:ImportedProvider = $null
        $script:ImportedProviderName = $null
        $script:PfxPassword = New-TestPassword
        $prefix = New-TestName -Prefix 'pkiops-pfx-'
        $script:Root = New-TestCertificate -Subject "$prefix root" -CertificateAuthority -Cleanup $script:Cleanup
        $script:Intermediate = New-TestCertificate -Subject "$prefix issuing" -CertificateAuthority -Signer $script:Root -Cleanup $script:Cleanup
        $script:CngLeaf = New-TestCertificate -Subject "$prefix cng leaf" -Signer $script:Intermediate -Cleanup $script:Cleanup
        $script:CapiLeaf = New-TestCertificate -Subject "$prefix capi leaf" -Provider 'capi' -Signer $script:Intermediate -Cleanup $script:Cleanup

        # The CNG leaf with its chain: X509Certificate2Collection.Export(Pfx,
        # password), the CA certificates added from their bytes alone so that
        # they travel without keys.
        $collection = [System.Security.Cryptography.X509Certificates.X509Certificate2Collection]::new()
        $null = $collection.Add($script:CngLeaf)
        $null = $collection.Add([System.Security.Cryptography.X509Certificates.X509Certificate2]::new($script:Intermediate.RawData))
        $null = $collection.Add([System.Security.Cryptography.X509Certificates.X509Certificate2]::new($script:Root.RawData))
        $script:CngPfx = $collection.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pfx, $script:PfxPassword)

        # The CAPI leaf alone, as Export-PfxCertificate (pki module) writes it.
        $pfxFile = Join-Path ([System.IO.Path]::GetTempPath()) ("$prefix.pfx")
        # Test-only: Export-PfxCertificate takes the password as a SecureString.
        $securePassword = ConvertTo-SecureString -String $script:PfxPassword -AsPlainText -Force
        $null = Export-PfxCertificate -Cert $script:CapiLeaf -FilePath $pfxFile -Password $securePassword -ChainOption EndEntityCertOnly
        try {
            $script:CapiPfx = [System.IO.File]::ReadAllBytes($pfxFile)
        }
        finally {
            Remove-Item -LiteralPath $pfxFile -Force
        }

        # Only the PFX files keep the keys now: the stores start without any
        # of these certificates, and the cleanup removes whatever the
        # payload puts back.
        foreach ($certificate in @($script:CngLeaf, $script:CapiLeaf, $script:Intermediate, $script:Root)) {
            Remove-TestCertificate -Thumbprint $certificate.Thumbprint
        }
    }

    AfterAll {
        Invoke-TestCleanup -List $script:Cleanup
    }

    It 'parses with Windows PowerShell''s own parser' {
        $errors = Get-PayloadParseError -Name 'pfx_import'
        $errors.Count | Should -Be 0 -Because ($errors -join "`n")
    }

    It 'probe reports a certificate that is not in the store, a chain that is not installed, and resolves the principals' {
        $run = Invoke-PfxProbe -Thumbprint $script:CngLeaf.Thumbprint -Chain (Get-ChainParameter) -Principals @($script:NetworkService, $script:User.Account) -Record 'before-import'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        $run.Result['certificate']['found'] | Should -BeFalse
        $run.Result['certificate']['has_private_key'] | Should -BeFalse
        $run.Result['certificate'].ContainsKey('key_state') | Should -BeFalse
        Test-IsList -Value $run.Result['chain'] | Should -BeTrue
        $run.Result['chain'].Count | Should -Be 2
        $run.Result['chain'][0]['thumbprint'] | Should -BeExactly $script:Intermediate.Thumbprint
        $run.Result['chain'][0]['store'] | Should -BeExactly 'CA'
        $run.Result['chain'][0]['present'] | Should -BeFalse
        $run.Result['chain'][1]['store'] | Should -BeExactly 'Root'
        $run.Result['chain'][1]['present'] | Should -BeFalse
        $run.Result['principals'][0]['sid'] | Should -Be $script:NetworkService
        $run.Result['principals'][1]['sid'] | Should -Be $script:User.Sid
    }

    It 'probe reports the connecting account''s token, Administrators among its groups, and the Windows build as CIM reads it' {
        $run = Invoke-PfxProbe -Thumbprint $script:CngLeaf.Thumbprint

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $identity = $run.Result['identity']
        $identity['sid'] | Should -BeExactly $script:ConnectingSid
        Test-IsList -Value $identity['groups'] | Should -BeTrue
        # An elevated token has BUILTIN\Administrators enabled; a filtered
        # one has it deny-only, which WindowsIdentity.Groups leaves out.
        $identity['groups'] -contains 'S-1-5-32-544' | Should -BeTrue -Because 'these tests run elevated'
        $build = $run.Result['os_build']
        $build -is [int] | Should -BeTrue -Because "os_build is a number, not '$build'"
        $build | Should -Be ([int](Get-CimInstance -ClassName Win32_OperatingSystem).BuildNumber)
    }

    It 'apply in check mode (-WhatIf) imports nothing and leaves no key behind' {
        $operations = @(New-KeyAclOperation -Sid $script:NetworkService -Access 'read')
        $keysBefore = Get-MachineKeyFile

        $run = Invoke-PfxApply -Thumbprint $script:CngLeaf.Thumbprint -ImportLeaf -Pfx $script:CngPfx -Password $script:PfxPassword -InstallChain (Get-InstallChainParameter) -Operations $operations -CheckMode

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        $run.Result['imported'] | Should -BeFalse
        $run.Result['chain_installed'].Count | Should -Be 0
        $run.Result['acl_applied'].Count | Should -Be 0
        Get-StoreCertificate -Store 'My' -Thumbprint $script:CngLeaf.Thumbprint | Should -BeNullOrEmpty
        Get-StoreCertificate -Store 'CA' -Thumbprint $script:Intermediate.Thumbprint | Should -BeNullOrEmpty
        Get-StoreCertificate -Store 'Root' -Thumbprint $script:Root.Thumbprint | Should -BeNullOrEmpty
        $added = @(Get-MachineKeyFile | Where-Object { $keysBefore -notcontains $_ })
        $added.Count | Should -Be 0 -Because "check mode leaves no private key in the machine key stores, found $($added -join ', ')"
    }

    It 'apply with a wrong password fails with Windows'' message, imports nothing and quotes no secret' {
        $wrongPassword = New-TestPassword

        $run = Invoke-PfxApply -Thumbprint $script:CngLeaf.Thumbprint -ImportLeaf -Pfx $script:CngPfx -Password $wrongPassword

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match 'X509Certificate2Collection\.Import'
        $run.ErrorText.Contains($wrongPassword) | Should -BeFalse
        $run.ErrorText.Contains([System.Convert]::ToBase64String($script:CngPfx).Substring(0, 40)) | Should -BeFalse
        $run.Result['imported'] | Should -BeFalse
        Get-StoreCertificate -Store 'My' -Thumbprint $script:CngLeaf.Thumbprint | Should -BeNullOrEmpty
    }

    It 'apply refuses a PFX sent without ImportLeaf before any change, and quotes no secret' {
        $keysBefore = Get-MachineKeyFile

        $run = Invoke-PfxApply -Thumbprint $script:CngLeaf.Thumbprint -Pfx $script:CngPfx -Password $script:PfxPassword -InstallChain (Get-InstallChainParameter)

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match 'Pfx and PfxPassword are sent only with ImportLeaf'
        $run.ErrorText.Contains($script:PfxPassword) | Should -BeFalse
        $run.Result['chain_installed'].Count | Should -Be 0
        Get-StoreCertificate -Store 'CA' -Thumbprint $script:Intermediate.Thumbprint | Should -BeNullOrEmpty
        Get-StoreCertificate -Store 'Root' -Thumbprint $script:Root.Thumbprint | Should -BeNullOrEmpty
        $added = @(Get-MachineKeyFile | Where-Object { $keysBefore -notcontains $_ })
        $added.Count | Should -Be 0 -Because "a refused apply opens no PFX, found $($added -join ', ')"
    }

    It 'apply of a PFX whose certificate with that thumbprint has no key fails, and reports the change: the PFX''s keys are written and stay' {
        # The thumbprint of the issuing CA, whose certificate travels in the
        # PFX without a key, while the leaf's key is in it too.
        $keysBefore = Get-MachineKeyFile

        $run = Invoke-PfxApply -Thumbprint $script:Intermediate.Thumbprint -ImportLeaf -Pfx $script:CngPfx -Password $script:PfxPassword

        $added = @(Get-MachineKeyFile | Where-Object { $keysBefore -notcontains $_ })
        Register-KeyFileCleanup -Path $added
        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeTrue -Because 'opening the PFX wrote the leaf''s private key to the machine key store'
        $run.Result['key_written'] | Should -BeTrue
        $run.Result['imported'] | Should -BeFalse
        $run.ErrorText | Should -Match "holds certificate $($script:Intermediate.Thumbprint) without its private key"
        $run.ErrorText | Should -Match 'already in the machine key store, where they stay'
        $run.ErrorText.Contains($script:PfxPassword) | Should -BeFalse
        $added.Count | Should -BeGreaterThan 0 -Because 'the leaf''s key is a new file in ProgramData\Microsoft\Crypto\Keys or Crypto\RSA\MachineKeys'
        Get-StoreCertificate -Store 'My' -Thumbprint $script:Intermediate.Thumbprint | Should -BeNullOrEmpty
        Get-StoreCertificate -Store 'My' -Thumbprint $script:CngLeaf.Thumbprint | Should -BeNullOrEmpty
    }

    It 'apply of a PFX that holds no key at all fails without a change: nothing was written' {
        $collection = [System.Security.Cryptography.X509Certificates.X509Certificate2Collection]::new()
        $null = $collection.Add([System.Security.Cryptography.X509Certificates.X509Certificate2]::new($script:Intermediate.RawData))
        $keyless = $collection.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pfx, $script:PfxPassword)
        $keysBefore = Get-MachineKeyFile

        $run = Invoke-PfxApply -Thumbprint $script:Intermediate.Thumbprint -ImportLeaf -Pfx $keyless -Password $script:PfxPassword

        $added = @(Get-MachineKeyFile | Where-Object { $keysBefore -notcontains $_ })
        Register-KeyFileCleanup -Path $added
        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.Result['key_written'] | Should -BeFalse
        $run.Result['imported'] | Should -BeFalse
        $run.ErrorText | Should -Match 'the PFX holds no private key, so nothing was written to this computer'
        $added.Count | Should -Be 0 -Because "a PFX without a key writes none, found $($added -join ', ')"
        Get-StoreCertificate -Store 'My' -Thumbprint $script:Intermediate.Thumbprint | Should -BeNullOrEmpty
    }

    It 'apply imports the leaf with its key into LocalMachine\My, adds the chain from its DER and grants key access' {
        $operations = @(
            (New-KeyAclOperation -Sid $script:NetworkService -Access 'read'),
            (New-KeyAclOperation -Sid $script:User.Sid -Access 'read')
        )
        $install = @($script:Intermediate.Thumbprint, $script:Root.Thumbprint)

        $run = Invoke-PfxApply -Thumbprint $script:CngLeaf.Thumbprint -ImportLeaf -Pfx $script:CngPfx -Password $script:PfxPassword -InstallChain (Get-InstallChainParameter) -Operations $operations

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['imported'] | Should -BeTrue
        ($run.Result['chain_installed'] -join ',') | Should -BeExactly ($install -join ',')
        $run.Result['acl_applied'].Count | Should -Be 2
        $leaf = Get-StoreCertificate -Store 'My' -Thumbprint $script:CngLeaf.Thumbprint
        $leaf | Should -Not -BeNullOrEmpty
        $leaf.HasPrivateKey | Should -BeTrue
        $key = Get-PrivateKeyInfo -Certificate $leaf
        $key | Should -Not -BeNullOrEmpty -Because 'the key was persisted with the certificate'
        # Which provider the import chose is recorded for the probe's test below.
        $script:ImportedProvider = $key.Provider
        $key.Exportable | Should -BeFalse
        $key.Signs | Should -BeTrue
        Get-KeyFileAccessLevel -Path $key.File -Sid $script:NetworkService | Should -Be 'read'
        Get-KeyFileAccessLevel -Path $key.File -Sid $script:User.Sid | Should -Be 'read'
        $intermediate = Get-StoreCertificate -Store 'CA' -Thumbprint $script:Intermediate.Thumbprint
        $intermediate | Should -Not -BeNullOrEmpty
        $intermediate.HasPrivateKey | Should -BeFalse
        $root = Get-StoreCertificate -Store 'Root' -Thumbprint $script:Root.Thumbprint
        $root | Should -Not -BeNullOrEmpty
        $root.HasPrivateKey | Should -BeFalse
    }

    It 'probe after the import reports the key, its access and the chain as they are: nothing is left to do' {
        $run = Invoke-PfxProbe -Thumbprint $script:CngLeaf.Thumbprint -Chain (Get-ChainParameter) -Principals @($script:NetworkService, $script:User.Account) -Record 'after-import'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $certificate = $run.Result['certificate']
        $certificate['found'] | Should -BeTrue
        $certificate['has_private_key'] | Should -BeTrue
        $certificate.ContainsKey('key_error') | Should -BeFalse
        $certificate.ContainsKey('key_state') | Should -BeFalse
        $certificate['key']['provider'] | Should -BeExactly $script:ImportedProvider -Because '.NET opens the imported key with that kind of provider'
        $certificate['key']['provider_name'] | Should -Not -BeNullOrEmpty
        # The provider the import put the key in, for the test of a key
        # that no longer opens below.
        $script:ImportedProviderName = $certificate['key']['provider_name']
        if ($script:ImportedProvider -eq 'cng') {
            $certificate['key']['provider_name'] | Should -BeExactly $script:ProviderNames['cng']
        }
        $certificate['key']['container'] | Should -Not -BeNullOrEmpty
        $certificate['key']['exportable'] | Should -BeFalse
        Test-IsList -Value $certificate['acl'] | Should -BeTrue
        Get-ReportedAccessLevel -Acl $certificate['acl'] -Sid $script:NetworkService | Should -Be 'read'
        Get-ReportedAccessLevel -Acl $certificate['acl'] -Sid $script:User.Sid | Should -Be 'read'
        $run.Result['chain'][0]['present'] | Should -BeTrue
        $run.Result['chain'][1]['present'] | Should -BeTrue
    }

    It 'apply of the chain alone, without the PFX, adds the CA certificate from its DER and leaves no key file behind' {
        Remove-Item -LiteralPath "Cert:\LocalMachine\CA\$($script:Intermediate.Thumbprint)"
        $keysBefore = Get-MachineKeyFile

        $run = Invoke-PfxApply -Thumbprint $script:CngLeaf.Thumbprint -InstallChain @(New-InstallChainEntry -Certificate $script:Intermediate -Store 'CA')

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['imported'] | Should -BeFalse
        ($run.Result['chain_installed'] -join ',') | Should -BeExactly $script:Intermediate.Thumbprint
        $intermediate = Get-StoreCertificate -Store 'CA' -Thumbprint $script:Intermediate.Thumbprint
        $intermediate.HasPrivateKey | Should -BeFalse
        [System.Convert]::ToBase64String($intermediate.RawData) | Should -BeExactly ([System.Convert]::ToBase64String($script:Intermediate.RawData)) -Because 'the store holds exactly the DER that was sent'
        (Get-StoreCertificate -Store 'My' -Thumbprint $script:CngLeaf.Thumbprint).HasPrivateKey | Should -BeTrue
        $keysAfter = Get-MachineKeyFile
        $added = @($keysAfter | Where-Object { $keysBefore -notcontains $_ })
        $added.Count | Should -Be 0 -Because "a chain-only import must leave no private key behind, found $($added -join ', ')"
    }

    It 'apply imports a CryptoAPI key as CryptoAPI, exportable when asked' {
        $run = Invoke-PfxApply -Thumbprint $script:CapiLeaf.Thumbprint -ImportLeaf -Pfx $script:CapiPfx -Password $script:PfxPassword -Exportable $true

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['imported'] | Should -BeTrue
        $leaf = Get-StoreCertificate -Store 'My' -Thumbprint $script:CapiLeaf.Thumbprint
        $leaf.HasPrivateKey | Should -BeTrue
        $key = Get-PrivateKeyInfo -Certificate $leaf
        $key.Provider | Should -Be 'capi'
        $key.Exportable | Should -BeTrue
        $key.Signs | Should -BeTrue
        $probe = Invoke-PfxProbe -Thumbprint $script:CapiLeaf.Thumbprint -Record 'capi-exportable'
        $probe.Result['certificate']['key']['provider'] | Should -BeExactly 'capi'
        $probe.Result['certificate']['key']['provider_name'] | Should -BeExactly 'Microsoft Enhanced RSA and AES Cryptographic Provider'
        $probe.Result['certificate']['key']['exportable'] | Should -BeTrue
    }

    It 'probe finds the leaf archived and says so; RestoreArchived, not under -WhatIf, brings it back into the store''s listing' {
        $thumbprint = $script:CapiLeaf.Thumbprint
        Register-ArchivedCertificateCleanup -Cleanup $script:Cleanup -Store 'My' -Thumbprint $thumbprint
        # As automatic enrollment archives a certificate it renewed.
        Set-CertificateArchived -Store 'My' -Thumbprint $thumbprint -Archived $true | Should -Be 1
        Get-CertificateArchived -Store 'My' -Thumbprint $thumbprint | Should -BeTrue
        Test-CertificateListed -Store 'My' -Thumbprint $thumbprint | Should -BeFalse -Because 'an enumeration of the store skips an archived certificate'

        $probe = Invoke-PfxProbe -Thumbprint $thumbprint
        $checked = Invoke-PfxApply -Thumbprint $thumbprint -RestoreArchived -CheckMode
        $stillArchived = Get-CertificateArchived -Store 'My' -Thumbprint $thumbprint
        $run = Invoke-PfxApply -Thumbprint $thumbprint -RestoreArchived
        $after = Invoke-PfxProbe -Thumbprint $thumbprint

        $probe.Failed | Should -BeFalse -Because $probe.ErrorText
        $probe.Result['certificate']['found'] | Should -BeTrue
        $probe.Result['certificate']['archived'] | Should -BeTrue
        $probe.Result['certificate']['has_private_key'] | Should -BeTrue
        $probe.Result['certificate']['key']['provider'] | Should -BeExactly 'capi' -Because 'the archived certificate''s key opens'
        $checked.Failed | Should -BeFalse -Because $checked.ErrorText
        $checked.Changed | Should -BeFalse
        $checked.Result['archived_restored'] | Should -BeFalse
        $stillArchived | Should -BeTrue -Because '-WhatIf restores nothing'
        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['archived_restored'] | Should -BeTrue
        $run.Result['imported'] | Should -BeFalse
        $run.Result['key_written'] | Should -BeFalse
        Test-CertificateListed -Store 'My' -Thumbprint $thumbprint | Should -BeTrue -Because 'Get-ChildItem Cert:\LocalMachine\My lists it again'
        Get-CertificateArchived -Store 'My' -Thumbprint $thumbprint | Should -BeFalse
        $after.Result['certificate']['archived'] | Should -BeFalse
        (Get-StoreCertificate -Store 'My' -Thumbprint $thumbprint).HasPrivateKey | Should -BeTrue
    }

    It 'probe of a leaf whose key file is gone reports the error and a key_state that lets the controller import again only when Windows says missing' {
        $leaf = Get-StoreCertificate -Store 'My' -Thumbprint $script:CngLeaf.Thumbprint
        $keyFile = (Get-PrivateKeyInfo -Certificate $leaf).File
        # Registered last, so it runs first: the certificate without
        # -DeleteKey, which has no key left to delete.
        Register-TestCleanup -List $script:Cleanup -Description "certificate $($script:CngLeaf.Thumbprint) without its key" -ArgumentList @($script:CngLeaf.Thumbprint) -Action {
            param($Thumbprint)
            $path = "Cert:\LocalMachine\My\$Thumbprint"
            if (Test-Path -LiteralPath $path) {
                Remove-Item -LiteralPath $path
            }
        }
        Remove-Item -LiteralPath $keyFile -Force

        $run = Invoke-PfxProbe -Thumbprint $script:CngLeaf.Thumbprint -Record 'key-file-gone'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $certificate = $run.Result['certificate']
        $certificate['found'] | Should -BeTrue
        $certificate['has_private_key'] | Should -BeTrue -Because 'the certificate still refers to a key'
        $certificate['key'] | Should -BeNullOrEmpty
        $certificate['key_error'] | Should -Not -BeNullOrEmpty
        $code = $certificate['key_error_code']
        ($code -is [int] -or $code -is [long]) | Should -BeTrue -Because "key_error_code is a number, not '$code'"
        # NTE_BAD_KEYSET (0x80090016) is missing_or_denied; only a code that
        # means nothing but absence is missing. A key that is gone is never
        # reported as denied, nor its provider as unavailable.
        $certificate['key_state'] | Should -BeIn @('missing', 'missing_or_denied') -Because ('Windows reported 0x{0:X8}: {1}' -f [int]$code, $certificate['key_error'])
        # Read from the certificate's CERT_KEY_PROV_INFO without opening the
        # key: the provider the import put the key in, as the probe read it
        # from the key while it opened.
        $certificate['key_provider_name'] | Should -Not -BeNullOrEmpty
        $certificate['key_provider_name'] | Should -BeExactly $script:ImportedProviderName
    }

    It 'apply imports a PFX without a password, exported with a null password or with an empty one, when no PfxPassword is sent' {
        $prefix = New-TestName -Prefix 'pkiops-pfx-'
        $nullLeaf = New-TestCertificate -Subject "$prefix null password" -Cleanup $script:Cleanup
        $emptyLeaf = New-TestCertificate -Subject "$prefix empty password" -Cleanup $script:Cleanup
        # X509Certificate.Export(X509ContentType) is Export(contentType,
        # null) in .NET's own source; PowerShell would pass $null given for
        # the string password of Export(X509ContentType, String) as ''.
        $pfxFiles = [ordered]@{
            'a null password' = [pscustomobject]@{ Certificate = $nullLeaf; Pfx = $nullLeaf.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pkcs12) }
            'an empty password' = [pscustomobject]@{ Certificate = $emptyLeaf; Pfx = $emptyLeaf.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pkcs12, [string]::Empty) }
        }
        # Only the PFX files keep the keys now.
        foreach ($certificate in @($nullLeaf, $emptyLeaf)) {
            Remove-TestCertificate -Thumbprint $certificate.Thumbprint
        }

        foreach ($spelling in $pfxFiles.Keys) {
            $thumbprint = $pfxFiles[$spelling].Certificate.Thumbprint

            $run = Invoke-PfxApply -Thumbprint $thumbprint -ImportLeaf -Pfx $pfxFiles[$spelling].Pfx

            $run.Failed | Should -BeFalse -Because "the PFX exported with $spelling opens without a PfxPassword: $($run.ErrorText)"
            $run.Changed | Should -BeTrue
            $run.Result['imported'] | Should -BeTrue
            $run.Result['key_written'] | Should -BeTrue
            $leaf = Get-StoreCertificate -Store 'My' -Thumbprint $thumbprint
            $leaf.HasPrivateKey | Should -BeTrue
            (Get-PrivateKeyInfo -Certificate $leaf).Signs | Should -BeTrue -Because "the key of the PFX exported with $spelling was imported with it"
        }
    }
}
