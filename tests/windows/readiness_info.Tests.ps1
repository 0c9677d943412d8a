# Pester 5 tests of the readiness_info payload on a real Windows host
# (plugins/plugin_utils/_powershell/readiness_info.ps1); README.md in this
# folder says how to run them and what they change.
#
# What this file depends on, in New-ReadinessParameter and the assertions:
#   probe   parameters Rights, Accounts, Groups, Paths, Features, Pools,
#           Certificates ([{store, thumbprint}]), RegistryValues ([{key,
#           name}]), ClusterRoles, Services and CoLocation; result {rights:
#           {error, holders: {<right>: [sid]}}, accounts: [{input, sid, name,
#           error}], groups: {<reference>: {error, members: [sid]}}, paths:
#           {<path>: {exists, is_directory, error, acl: [{sid, type, rights,
#           inherit, propagation, inherited}]}}, features: {error, installed:
#           {<name>: bool}}, iis: {installed, error, pools: {<name>: {exists,
#           name, state, identity_type, username, sid}}}, certificates:
#           [{store, thumbprint, error, found, has_private_key, key_error, acl,
#           not_after, serial_number}], registry: [{key, name, error,
#           key_exists, value_exists, value_kind, value}], cluster: {error,
#           cluster, roles, services: [{query, found, name, display_name}]},
#           co_location: {error, services: [name]} or null}. The
#           holders of a right are SIDs only: readiness_info calls the
#           shared LSA fragment's Get-RightHolders without -IncludeNames,
#           so no name is looked up. A pool's sid is its username's SID, or
#           null. The certificates part keeps found, has_private_key,
#           key_error and acl of the shared key report (no key_state).

Describe 'readiness_info payload' {
    BeforeAll {
        . (Join-Path $PSScriptRoot '_harness.ps1')
        Assert-PayloadTestHost

        $script:Cleanup = New-CleanupList

        function Invoke-ReadinessProbe {
            param(
                [System.Collections.IDictionary]$Parameters,
                [string]$Record,
                [switch]$CheckMode
            )

            Invoke-Payload -Name 'readiness_info' -Mode 'probe' -Parameters $Parameters -Record $Record -CheckMode:$CheckMode
        }

        function New-ReadinessParameter {
            # One read of every part, as the controller's probe_parameters()
            # builds it from requirements.
            @{
                Rights = $script:Rights
                Accounts = @(".\$($script:User.Name)", 'S-1-5-20')
                Groups = @(".\$($script:GroupName)", $script:MissingGroup)
                Paths = @($script:Directory, $script:MissingPath)
                Features = $script:Features
                Pools = @('DefaultAppPool', $script:MissingPool)
                Certificates = @(@{ store = 'My'; thumbprint = $script:Certificate.Thumbprint })
                RegistryValues = @(@{ key = $script:SubKey; name = 'EncryptSerialNumber' }, @{ key = "$($script:SubKey)\Missing"; name = 'EncryptSerialNumber' })
                ClusterRoles = @()
                Services = @('EventLog', $script:MissingService)
                CoLocation = $true
            }
        }

        $script:User = New-TestLocalUser -Cleanup $script:Cleanup
        $script:Rights = @('SeServiceLogonRight', 'SeDenyBatchLogonRight')
        $script:Features = @('Web-Server', 'Telnet-Client')
        $script:MissingGroup = New-TestName -Prefix 'pkmissing'
        $script:MissingPool = New-TestName -Prefix 'pkiops-missing-'
        $script:MissingService = New-TestName -Prefix 'pkiops-missing-'

        $script:GroupName = New-TestName -Prefix 'pkg'
        $group = New-LocalGroup -Name $script:GroupName -Description 'pkiops payload test group'
        $script:GroupSid = $group.SID.Value
        Register-TestCleanup -List $script:Cleanup -Description "local group $($script:GroupName)" -ArgumentList @($script:GroupSid) -Action {
            param($Sid)
            if ($null -ne (Get-LocalGroup -SID $Sid -ErrorAction SilentlyContinue)) {
                Remove-LocalGroup -SID $Sid
            }
        }
        Add-LocalGroupMember -SID $script:GroupSid -Member $script:User.Sid

        $script:Directory = Join-Path ([System.IO.Path]::GetTempPath()) (New-TestName -Prefix 'pkiops-dir-')
        $script:MissingPath = "$($script:Directory)-missing"
        $null = New-Item -ItemType Directory -Path $script:Directory
        Register-TestCleanup -List $script:Cleanup -Description "directory $($script:Directory)" -ArgumentList @($script:Directory) -Action {
            param($Path)
            if (Test-Path -LiteralPath $Path) {
                Remove-Item -LiteralPath $Path -Recurse -Force
            }
        }
        $acl = Get-Acl -LiteralPath $script:Directory
        $rule = [System.Security.AccessControl.FileSystemAccessRule]::new(
            [System.Security.Principal.SecurityIdentifier]::new($script:User.Sid),
            [System.Security.AccessControl.FileSystemRights]::ReadAndExecute,
            [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit',
            [System.Security.AccessControl.PropagationFlags]::None,
            [System.Security.AccessControl.AccessControlType]::Allow)
        $acl.AddAccessRule($rule)
        Set-Acl -LiteralPath $script:Directory -AclObject $acl

        $script:Certificate = New-TestCertificate -Subject (New-TestName -Prefix 'pkiops-ready-') -Cleanup $script:Cleanup

        $registryRoot = New-TestName -Prefix 'pkiops-test-'
        $script:SubKey = "SOFTWARE\$registryRoot\Parameters"
        Register-TestCleanup -List $script:Cleanup -Description "registry key HKLM\SOFTWARE\$registryRoot" -ArgumentList @($registryRoot) -Action {
            param($Root)
            $path = "Registry::HKEY_LOCAL_MACHINE\SOFTWARE\$Root"
            if (Test-Path -LiteralPath $path) {
                Remove-Item -LiteralPath $path -Recurse -Force
            }
        }
        $null = New-Item -Path "Registry::HKEY_LOCAL_MACHINE\$($script:SubKey)" -Force
        $null = New-ItemProperty -LiteralPath "Registry::HKEY_LOCAL_MACHINE\$($script:SubKey)" -Name 'EncryptSerialNumber' -PropertyType String -Value $script:Certificate.SerialNumber

        $script:Read = Invoke-ReadinessProbe -Parameters (New-ReadinessParameter) -Record 'full-read'
    }

    AfterAll {
        Invoke-TestCleanup -List $script:Cleanup
    }

    It 'parses with Windows PowerShell''s own parser' {
        $errors = Get-PayloadParseError -Name 'readiness_info'
        $errors.Count | Should -Be 0 -Because ($errors -join "`n")
    }

    It 'reads every part in one run, changing nothing' {
        $script:Read.Failed | Should -BeFalse -Because $script:Read.ErrorText
        $script:Read.Changed | Should -BeFalse
        foreach ($part in @('rights', 'accounts', 'groups', 'paths', 'features', 'iis', 'certificates', 'registry', 'cluster', 'co_location')) {
            $script:Read.Result.ContainsKey($part) | Should -BeTrue -Because "the result has its '$part' part"
        }
    }

    It 'reads the holders of each right as secedit''s export lists them, as SIDs' {
        $secedit = Get-SeceditRightHolder -Rights $script:Rights

        $script:Read.Result['rights']['error'] | Should -BeNullOrEmpty
        foreach ($right in $script:Rights) {
            Test-IsList -Value $script:Read.Result['rights']['holders'][$right] | Should -BeTrue
            $reported = [System.Collections.Generic.List[string]]::new()
            foreach ($sid in $script:Read.Result['rights']['holders'][$right]) {
                $sid -is [string] | Should -BeTrue -Because 'a holder is its SID, without a name'
                $reported.Add(([string]$sid).ToUpperInvariant())
            }
            $reported.Sort([System.StringComparer]::Ordinal)
            $expected = [System.Collections.Generic.List[string]]::new($secedit[$right])
            $expected.Sort([System.StringComparer]::Ordinal)
            ($reported -join ',') | Should -Be ($expected -join ',')
        }
    }

    It 'resolves the accounts' {
        $script:Read.Result['accounts'][0]['sid'] | Should -Be $script:User.Sid
        $script:Read.Result['accounts'][1]['sid'] | Should -Be 'S-1-5-20'
    }

    It 'reads a local group''s direct members as SIDs, and reports a group that does not exist in that group''s error' {
        $groups = $script:Read.Result['groups']
        $mine = $groups[".\$($script:GroupName)"]
        $mine['error'] | Should -BeNullOrEmpty
        Test-IsList -Value $mine['members'] | Should -BeTrue
        $expected = @(Get-LocalGroupMember -SID $script:GroupSid | ForEach-Object { $_.SID.Value } | Sort-Object)
        (@($mine['members'] | Sort-Object) -join ',') | Should -Be ($expected -join ',')
        $mine['members'] -contains $script:User.Sid | Should -BeTrue
        $groups[$script:MissingGroup]['error'] | Should -Not -BeNullOrEmpty
        $groups[$script:MissingGroup]['members'].Count | Should -Be 0
    }

    It 'reads a directory''s ACL as Get-Acl has it, and reports a path that does not exist' {
        $report = $script:Read.Result['paths'][$script:Directory]
        $report['exists'] | Should -BeTrue
        $report['is_directory'] | Should -BeTrue
        $report['error'] | Should -BeNullOrEmpty
        $rules = @((Get-Acl -LiteralPath $script:Directory).GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier]))
        $report['acl'].Count | Should -Be $rules.Count
        $mine = @($report['acl'] | Where-Object { $_['sid'] -eq $script:User.Sid })
        $mine.Count | Should -Be 1
        $mine[0]['type'] | Should -BeExactly 'allow'
        $mine[0]['rights'] | Should -Be ([int][System.Security.AccessControl.FileSystemRights]::ReadAndExecute)
        $mine[0]['inherit'] | Should -BeExactly 'ContainerInherit, ObjectInherit'
        $mine[0]['propagation'] | Should -BeExactly 'None'
        $mine[0]['inherited'] | Should -BeFalse
        $script:Read.Result['paths'][$script:MissingPath]['exists'] | Should -BeFalse
    }

    It 'reads which features are installed as Get-WindowsFeature does' {
        $script:Read.Result['features']['error'] | Should -BeNullOrEmpty
        foreach ($feature in Get-WindowsFeature -Name $script:Features) {
            $script:Read.Result['features']['installed'][$feature.Name] | Should -Be $feature.Installed -Because "$($feature.Name) is installed: $($feature.Installed)"
        }
    }

    It 'reads IIS''s pools when IIS is installed, and says so when it is not' {
        $iis = $script:Read.Result['iis']
        $webServer = (Get-WindowsFeature -Name 'Web-Server').Installed
        $iis['installed'] | Should -Be $webServer
        if ($webServer) {
            $iis['error'] | Should -BeNullOrEmpty
            $iis['pools'][$script:MissingPool]['exists'] | Should -BeFalse
            $default = $iis['pools']['DefaultAppPool']
            if ($default['exists']) {
                $default.ContainsKey('sid') | Should -BeTrue
                if ($default['username']) {
                    $default['sid'] | Should -BeExactly (([System.Security.Principal.NTAccount]::new($default['username'])).Translate([System.Security.Principal.SecurityIdentifier]).Value)
                }
                else {
                    $default['sid'] | Should -BeNullOrEmpty -Because "the pool runs as $($default['identity_type']), with no username"
                }
            }
        }
    }

    It 'reads the certificate with its key ACL, expiry in UTC and serial number' {
        $report = $script:Read.Result['certificates'][0]
        $report['error'] | Should -BeNullOrEmpty
        $report['found'] | Should -BeTrue
        $report['has_private_key'] | Should -BeTrue
        $report['key_error'] | Should -BeNullOrEmpty
        Test-IsList -Value $report['acl'] | Should -BeTrue
        Get-AclSummary -Reported $report['acl'] | Should -BeExactly (Get-AclSummary -Path (Get-PrivateKeyInfo -Certificate $script:Certificate).File)
        $report['not_after'] | Should -BeExactly ($script:Certificate.NotAfter.ToUniversalTime().ToString('o'))
        $report['serial_number'] | Should -BeExactly $script:Certificate.SerialNumber
    }

    It 'reads a registry value and reports a key that does not exist' {
        $present = $script:Read.Result['registry'][0]
        $present['error'] | Should -BeNullOrEmpty
        $present['key_exists'] | Should -BeTrue
        $present['value_exists'] | Should -BeTrue
        $present['value_kind'] | Should -BeExactly 'String'
        $present['value'] | Should -BeExactly $script:Certificate.SerialNumber
        $script:Read.Result['registry'][1]['key_exists'] | Should -BeFalse
    }

    It 'looks services up by name without a cluster, and reports one that is not installed' {
        $cluster = $script:Read.Result['cluster']
        $cluster['error'] | Should -BeNullOrEmpty
        $cluster['cluster'] | Should -BeNullOrEmpty
        $cluster['services'][0]['found'] | Should -BeTrue
        $cluster['services'][0]['name'] | Should -BeExactly 'EventLog'
        $cluster['services'][0]['display_name'] | Should -BeExactly (Get-Service -Name 'EventLog').DisplayName
        $cluster['services'][1]['found'] | Should -BeFalse
    }

    It 'lists the certificate authority and SQL Server services this server runs' {
        $expected = @(Get-Service | Where-Object { $_.Name -eq 'CertSvc' -or $_.Name -eq 'MSSQLSERVER' -or $_.Name -like 'MSSQL$*' } | ForEach-Object { $_.Name } | Sort-Object)
        $coLocation = $script:Read.Result['co_location']
        $coLocation['error'] | Should -BeNullOrEmpty
        Test-IsList -Value $coLocation['services'] | Should -BeTrue
        (@($coLocation['services'] | Sort-Object) -join ',') | Should -Be ($expected -join ',')
    }

    It 'reads the same under -WhatIf, as the controller''s check mode runs it' {
        $run = Invoke-ReadinessProbe -Parameters (New-ReadinessParameter) -CheckMode

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['registry'][0]['value'] | Should -BeExactly $script:Certificate.SerialNumber
        $run.Result['groups'][".\$($script:GroupName)"]['members'] -contains $script:User.Sid | Should -BeTrue
    }
}
