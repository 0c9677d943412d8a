# Pester 5 tests of the host_snapshot payload on a real Windows host
# (plugins/plugin_utils/_powershell/host_snapshot.ps1); README.md in this
# folder says how to run them and what they change.
#
# What this file depends on, each in one helper of BeforeAll:
#   probe   parameters Scripts (payload name to its script, gzip compressed
#           and base64 encoded, as compressed_payload() in
#           plugins/action/host_snapshot.py makes it) and Reads ([{module,
#           parameters}], each the probe parameters of that payload); result
#           {reads: [{result, error}]}, in the order of Reads
#   the reads: the probe parameters of user_rights, cert_serial_registry,
#           private_key_acl, readiness_info and pfx_import, as the controller
#           builds them (readiness_info's with every one of its parameters,
#           as probe_parameters() in plugins/plugin_utils/_readiness.py
#           always sends them) and as their own tests use them; the results
#           hold what those probes now report, such as the connecting
#           identity and the Windows build.

Describe 'host_snapshot payload' {
    BeforeAll {
        . (Join-Path $PSScriptRoot '_harness.ps1')
        Assert-PayloadTestHost

        $script:Cleanup = New-CleanupList

        function ConvertTo-CompressedPayload {
            # The UTF-8 bytes of payload_source(Name), gzip compressed
            # (GZipStream, RFC 1952), base64 encoded.
            param(
                [string]$Name
            )

            $bytes = [System.Text.UTF8Encoding]::new($false).GetBytes((Get-PayloadSource -Name $Name))
            $buffer = [System.IO.MemoryStream]::new()
            try {
                # leaveOpen: the buffer is read after the gzip stream is
                # closed, which is what writes the gzip trailer.
                $gzip = [System.IO.Compression.GZipStream]::new($buffer, [System.IO.Compression.CompressionMode]::Compress, $true)
                try {
                    $gzip.Write($bytes, 0, $bytes.Length)
                }
                finally {
                    $gzip.Dispose()
                }
                [System.Convert]::ToBase64String($buffer.ToArray())
            }
            finally {
                $buffer.Dispose()
            }
        }

        function Get-ScriptParameter {
            # Scripts for the modules named, as the controller sends them.
            param(
                [string[]]$Modules
            )

            $scripts = @{}
            foreach ($module in $Modules) {
                $scripts[$module] = ConvertTo-CompressedPayload -Name $module
            }
            $scripts
        }

        function Invoke-SnapshotProbe {
            param(
                [System.Collections.IDictionary]$Scripts,
                [object[]]$Reads,
                [string]$Record,
                [switch]$CheckMode
            )

            Invoke-Payload -Name 'host_snapshot' -Mode 'probe' -Parameters @{ Scripts = $Scripts; Reads = $Reads } -Record $Record -CheckMode:$CheckMode
        }

        function New-Read {
            param(
                [string]$Module,
                [System.Collections.IDictionary]$Parameters
            )

            @{ module = $Module; parameters = $Parameters }
        }

        $script:User = New-TestLocalUser -Cleanup $script:Cleanup
        $script:Certificate = New-TestCertificate -Subject (New-TestName -Prefix 'pkiops-snapshot-') -Cleanup $script:Cleanup
        $registryRoot = New-TestName -Prefix 'pkiops-test-'
        Register-TestCleanup -List $script:Cleanup -Description "registry key HKLM\SOFTWARE\$registryRoot" -ArgumentList @($registryRoot) -Action {
            param($Root)
            $path = "Registry::HKEY_LOCAL_MACHINE\SOFTWARE\$Root"
            if (Test-Path -LiteralPath $path) {
                Remove-Item -LiteralPath $path -Recurse -Force
            }
        }
        $subKey = "SOFTWARE\$registryRoot\Parameters"
        $null = New-Item -Path "Registry::HKEY_LOCAL_MACHINE\$subKey" -Force
        $null = New-ItemProperty -LiteralPath "Registry::HKEY_LOCAL_MACHINE\$subKey" -Name 'EncryptSerialNumber' -PropertyType String -Value $script:Certificate.SerialNumber

        $script:Modules = @('user_rights', 'cert_serial_registry', 'private_key_acl', 'readiness_info', 'pfx_import')
        $script:Reads = @(
            (New-Read -Module 'user_rights' -Parameters @{ Rights = @('SeServiceLogonRight'); Accounts = @('S-1-5-20', ".\$($script:User.Name)") }),
            (New-Read -Module 'cert_serial_registry' -Parameters @{ StoreName = 'My'; Thumbprint = $script:Certificate.Thumbprint; Key = $subKey; ValueName = 'EncryptSerialNumber' }),
            (New-Read -Module 'private_key_acl' -Parameters @{ StoreName = 'My'; Thumbprint = $script:Certificate.Thumbprint; Principals = @($script:User.Account) }),
            (New-Read -Module 'readiness_info' -Parameters @{
                    Rights = @('SeBatchLogonRight')
                    Accounts = @($script:User.Sid)
                    Groups = @()
                    Paths = @()
                    Features = @()
                    Pools = @()
                    Certificates = @(@{ store = 'My'; thumbprint = $script:Certificate.Thumbprint })
                    RegistryValues = @(@{ key = $subKey; name = 'EncryptSerialNumber' })
                    ClusterRoles = @()
                    Services = @()
                    CoLocation = $true
                }),
            (New-Read -Module 'pfx_import' -Parameters @{ StoreName = 'My'; Thumbprint = $script:Certificate.Thumbprint; Chain = @(); Principals = @('S-1-5-20') })
        )
        $script:Scripts = Get-ScriptParameter -Modules $script:Modules
    }

    AfterAll {
        Invoke-TestCleanup -List $script:Cleanup
    }

    It 'parses with Windows PowerShell''s own parser' {
        $errors = Get-PayloadParseError -Name 'host_snapshot'
        $errors.Count | Should -Be 0 -Because ($errors -join "`n")
    }

    It 'runs every read in one run and returns what each probe returns when it runs on its own' {
        $run = Invoke-SnapshotProbe -Scripts $script:Scripts -Reads $script:Reads -Record 'five-reads'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        Test-IsList -Value $run.Result['reads'] | Should -BeTrue
        $run.Result['reads'].Count | Should -Be $script:Reads.Count
        for ($index = 0; $index -lt $script:Reads.Count; $index++) {
            $read = $script:Reads[$index]
            $answer = $run.Result['reads'][$index]
            $answer['error'] | Should -BeNullOrEmpty -Because "the $($read['module']) read succeeds"
            $alone = Invoke-Payload -Name $read['module'] -Mode 'probe' -Parameters $read['parameters']
            $alone.Failed | Should -BeFalse -Because $alone.ErrorText
            ConvertTo-JsonText -Value $answer['result'] | Should -BeExactly (ConvertTo-JsonText -Value $alone.Result) -Because "the $($read['module']) read answers as that probe does alone"
        }
    }

    It 'keeps each probe''s answer whole, three levels below its own: no dictionary turned into text' {
        $run = Invoke-SnapshotProbe -Scripts $script:Scripts -Reads $script:Reads

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $acl = $run.Result['reads'][2]['result']['certificate']['acl']
        Test-IsList -Value $acl | Should -BeTrue
        $acl[0] -is [System.Collections.IDictionary] | Should -BeTrue
        $groups = $run.Result['reads'][4]['result']['identity']['groups']
        Test-IsList -Value $groups | Should -BeTrue
        $groups -contains 'S-1-5-32-544' | Should -BeTrue
        $run.Result['reads'][4]['result']['os_build'] -is [int] | Should -BeTrue
        $run.ResultJson.Contains('System.Collections.Hashtable') | Should -BeFalse
    }

    It 'reports a read whose script was not sent in that read''s error, and answers the others' {
        $reads = @($script:Reads[0], (New-Read -Module 'iis_app_pools' -Parameters @{ Names = @('DefaultAppPool') }))

        $run = Invoke-SnapshotProbe -Scripts (Get-ScriptParameter -Modules @('user_rights')) -Reads $reads

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['reads'][0]['error'] | Should -BeNullOrEmpty
        $run.Result['reads'][0]['result']['holders'].ContainsKey('SeServiceLogonRight') | Should -BeTrue
        $run.Result['reads'][1]['error'] | Should -Match "No script was sent for the payload 'iis_app_pools'"
        $run.Result['reads'][1]['result'] | Should -BeNullOrEmpty
    }

    It 'reports a probe that fails with its own message, and answers the others' {
        $reads = @((New-Read -Module 'cert_serial_registry' -Parameters @{ StoreName = 'My'; Thumbprint = 'abc'; Key = 'SOFTWARE\pkiops'; ValueName = 'x' }), $script:Reads[0])

        $run = Invoke-SnapshotProbe -Scripts (Get-ScriptParameter -Modules @('user_rights', 'cert_serial_registry')) -Reads $reads

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['reads'][0]['error'] | Should -Match "Invalid Thumbprint 'abc'"
        $run.Result['reads'][1]['error'] | Should -BeNullOrEmpty
    }

    It 'fails as a whole when a script does not decode' {
        $run = Invoke-SnapshotProbe -Scripts @{ user_rights = 'this is not base64!' } -Reads @($script:Reads[0])

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
    }

    It 'answers the same under -WhatIf, as the controller''s check mode runs it' {
        $run = Invoke-SnapshotProbe -Scripts $script:Scripts -Reads $script:Reads -CheckMode

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        foreach ($answer in $run.Result['reads']) {
            $answer['error'] | Should -BeNullOrEmpty
        }
    }
}
