# Pester 5 tests of the iis_app_pools payload on a real Windows host
# (plugins/plugin_utils/_powershell/iis_app_pools.ps1); README.md in this
# folder says how to run them and what they change.
#
# What this file depends on, each in one helper of BeforeAll:
#   probe   parameters Names (pool names) and the sensitive parameter
#           Passwords (a JSON object of pool name to password); result
#           {iis_installed, pools: {<name>: {exists, name, state,
#           managed_runtime_version, pipeline_mode, identity_type, username,
#           password_set, password_matches, load_user_profile, start_mode,
#           auto_start, enable_32bit, idle_timeout_minutes,
#           periodic_restart_minutes}}}
#   apply   parameters Operations, each {pool, action: create | update |
#           remove, settings: {<setting>: value}, identity: {type, username,
#           password: keep | set | clear} or null, run_state: start | stop |
#           null, recycle}, a removal only {pool, action}, and Passwords;
#           result {applied: [{pool, action, runtime: [start | stop | recycle]}]}

Describe 'iis_app_pools payload' {
    BeforeAll {
        . (Join-Path $PSScriptRoot '_harness.ps1')
        Assert-PayloadTestHost

        $script:Cleanup = New-CleanupList
        # Web-Scripting-Tools brings the WebAdministration module, whose
        # Get-WebAppPoolState reads a pool's run state for the checks here.
        $null = Install-TestFeature -Name @('Web-Server', 'Web-Scripting-Tools')
        Import-Module -Name WebAdministration
        Add-Type -AssemblyName 'Microsoft.Web.Administration, Version=7.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35'

        function Invoke-PoolProbe {
            param(
                [string[]]$Names,
                [System.Collections.IDictionary]$Passwords = @{},
                [string]$Record
            )

            Invoke-Payload -Name 'iis_app_pools' -Mode 'probe' -Parameters @{ Names = $Names } -Secrets (Get-PasswordSecret -Passwords $Passwords) -Record $Record
        }

        function Invoke-PoolApply {
            param(
                [object[]]$Operations,
                [System.Collections.IDictionary]$Passwords = @{},
                [switch]$CheckMode
            )

            Invoke-Payload -Name 'iis_app_pools' -Mode 'apply' -Parameters @{ Operations = $Operations } -Secrets (Get-PasswordSecret -Passwords $Passwords) -CheckMode:$CheckMode
        }

        function Get-PasswordSecret {
            # The controller sends no Passwords parameter when it has none.
            param(
                [System.Collections.IDictionary]$Passwords
            )

            if ($Passwords.Count -eq 0) {
                return @{}
            }
            @{ Passwords = (ConvertTo-JsonText -Value $Passwords) }
        }

        function New-PoolOperation {
            param(
                [Parameter(Mandatory)]
                [string]$Pool,

                [Parameter(Mandatory)]
                [ValidateSet('create', 'update', 'remove')]
                [string]$Action,

                [System.Collections.IDictionary]$Settings = @{},

                [AllowNull()]
                [System.Collections.IDictionary]$Identity = $null,

                [AllowNull()]
                [object]$RunState = $null,

                [bool]$Recycle = $false
            )

            if ($Action -eq 'remove') {
                return @{ pool = $Pool; action = $Action }
            }
            @{ pool = $Pool; action = $Action; settings = $Settings; identity = $Identity; run_state = $RunState; recycle = $Recycle }
        }

        function New-PoolIdentity {
            param(
                [Parameter(Mandatory)]
                [string]$Type,

                [AllowNull()]
                [object]$UserName = $null,

                [string]$Password = 'keep'
            )

            @{ type = $Type; username = $UserName; password = $Password }
        }

        function New-PoolName {
            New-TestName -Prefix 'pkiops-'
        }

        function Register-PoolCleanup {
            # Before the pool exists, so that a create that fails half way
            # is undone too.
            param(
                [string]$Name
            )

            Register-TestCleanup -List $script:Cleanup -Description "application pool $Name" -ArgumentList @($Name) -Action {
                param($PoolName)
                $manager = [Microsoft.Web.Administration.ServerManager]::new()
                try {
                    $pool = $null
                    foreach ($candidate in $manager.ApplicationPools) {
                        if ($candidate.Name -eq $PoolName) {
                            $pool = $candidate
                        }
                    }
                    if ($null -ne $pool) {
                        $manager.ApplicationPools.Remove($pool)
                        $manager.CommitChanges()
                    }
                }
                finally {
                    $manager.Dispose()
                }
            }
        }

        function Get-PoolConfiguration {
            # The pool as a new ServerManager reads applicationHost.config, or
            # $null; the same API as the payload, opened separately.
            param(
                [string]$Name
            )

            $manager = [Microsoft.Web.Administration.ServerManager]::new()
            try {
                foreach ($pool in $manager.ApplicationPools) {
                    if ($pool.Name -eq $Name) {
                        return [pscustomobject]@{
                            Name = $pool.Name
                            ManagedRuntimeVersion = $pool.ManagedRuntimeVersion
                            PipelineMode = [string]$pool.ManagedPipelineMode
                            StartMode = [string]$pool.StartMode
                            AutoStart = $pool.AutoStart
                            Enable32Bit = $pool.Enable32BitAppOnWin64
                            IdentityType = [string]$pool.ProcessModel.IdentityType
                            UserName = $pool.ProcessModel.UserName
                            LoadUserProfile = $pool.ProcessModel.LoadUserProfile
                            IdleTimeoutMinutes = [int]$pool.ProcessModel.IdleTimeout.TotalMinutes
                            PeriodicRestartMinutes = [int]$pool.Recycling.PeriodicRestart.Time.TotalMinutes
                        }
                    }
                }
                $null
            }
            finally {
                $manager.Dispose()
            }
        }

        function Get-ConfigFileAutoStart {
            # The autoStart attribute of the pool's <add> element in
            # applicationHost.config itself, read as XML: 'false', 'true', or
            # '' when the pool takes applicationPoolDefaults' value.
            param(
                [string]$Name
            )

            $document = [System.Xml.XmlDocument]::new()
            $document.Load((Join-Path $env:SystemRoot 'System32\inetsrv\config\applicationHost.config'))
            $element = $document.SelectSingleNode("/configuration/system.applicationHost/applicationPools/add[@name='$Name']")
            if ($null -eq $element) {
                throw "applicationHost.config has no application pool named $Name"
            }
            $element.GetAttribute('autoStart')
        }

        function Get-PoolRunState {
            # WAS's run state of the pool (WebAdministration's
            # Get-WebAppPoolState): Started, Stopped, Starting or Stopping;
            # 'Unknown' while WAS cannot say, as when it is restarting.
            param(
                [string]$Name
            )

            try {
                [string](Get-WebAppPoolState -Name $Name).Value
            }
            catch {
                'Unknown'
            }
        }

        function Get-WasProcessId {
            [int](Get-CimInstance -ClassName Win32_Service -Filter "Name='WAS'").ProcessId
        }

        $script:User = New-TestLocalUser -Cleanup $script:Cleanup
        $script:Started = New-PoolName
        $script:Specific = New-PoolName
        $script:StoppedOnly = New-PoolName
        $script:Invalid = New-PoolName
        foreach ($name in @($script:Started, $script:Specific, $script:StoppedOnly, $script:Invalid)) {
            Register-PoolCleanup -Name $name
        }
        # The settings the controller sends for a new pool: its own defaults
        # (CREATE_DEFAULTS) in IIS's terms, and here two explicit timeouts.
        $script:CreateSettings = @{
            managed_runtime_version = ''
            pipeline_mode = 'Integrated'
            load_user_profile = $true
            start_mode = 'OnDemand'
            auto_start = $true
            enable_32bit = $false
            idle_timeout_minutes = 15
            periodic_restart_minutes = 0
        }
    }

    AfterAll {
        Invoke-TestCleanup -List $script:Cleanup
    }

    It 'parses with Windows PowerShell''s own parser' {
        $errors = Get-PayloadParseError -Name 'iis_app_pools'
        $errors.Count | Should -Be 0 -Because ($errors -join "`n")
    }

    It 'probe reports IIS installed and pools that do not exist' {
        $run = Invoke-PoolProbe -Names @($script:Started, $script:Specific) -Record 'absent-pools'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        $run.Result['iis_installed'] | Should -BeTrue
        $run.Result['pools'][$script:Started]['exists'] | Should -BeFalse
        $run.Result['pools'][$script:Specific]['exists'] | Should -BeFalse
    }

    It 'apply in check mode (-WhatIf) creates nothing' {
        $operation = New-PoolOperation -Pool $script:Started -Action 'create' -Settings $script:CreateSettings -Identity (New-PoolIdentity -Type 'ApplicationPoolIdentity') -RunState 'start'

        $run = Invoke-PoolApply -Operations @($operation) -CheckMode

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        $run.Result['applied'].Count | Should -Be 0
        Get-PoolConfiguration -Name $script:Started | Should -BeNullOrEmpty
    }

    It 'apply validates every operation before the first change: a bad one leaves no pool behind' {
        $good = New-PoolOperation -Pool $script:Invalid -Action 'create' -Settings $script:CreateSettings -Identity (New-PoolIdentity -Type 'ApplicationPoolIdentity')
        $bad = New-PoolOperation -Pool $script:Started -Action 'create' -Settings @{ queue_length = 10 }

        $run = Invoke-PoolApply -Operations @($good, $bad)

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match "unknown setting 'queue_length'"
        Get-PoolConfiguration -Name $script:Invalid | Should -BeNullOrEmpty
    }

    It 'apply creates a pool with every setting it was sent, and WAS runs it' {
        $operation = New-PoolOperation -Pool $script:Started -Action 'create' -Settings $script:CreateSettings -Identity (New-PoolIdentity -Type 'ApplicationPoolIdentity') -RunState 'start'

        $run = Invoke-PoolApply -Operations @($operation)

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['applied'].Count | Should -Be 1
        $run.Result['applied'][0]['pool'] | Should -BeExactly $script:Started
        $run.Result['applied'][0]['action'] | Should -BeExactly 'create'
        Test-IsList -Value $run.Result['applied'][0]['runtime'] | Should -BeTrue
        $pool = Get-PoolConfiguration -Name $script:Started
        $pool.ManagedRuntimeVersion | Should -BeExactly ''
        $pool.PipelineMode | Should -Be 'Integrated'
        $pool.StartMode | Should -Be 'OnDemand'
        $pool.AutoStart | Should -BeTrue
        $pool.Enable32Bit | Should -BeFalse
        $pool.IdentityType | Should -Be 'ApplicationPoolIdentity'
        $pool.LoadUserProfile | Should -BeTrue
        $pool.IdleTimeoutMinutes | Should -Be 15
        $pool.PeriodicRestartMinutes | Should -Be 0
        Wait-Condition -Condition { (Get-PoolRunState -Name $script:Started) -eq 'Started' } | Should -BeTrue -Because 'WAS reports the pool Started'
    }

    It 'probe finds the pool by a name spelt in another case and reports exactly what was applied: nothing is left to change' {
        $upper = $script:Started.ToUpperInvariant()

        $run = Invoke-PoolProbe -Names @($upper) -Record 'created-pool'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $report = $run.Result['pools'][$upper]
        $report['exists'] | Should -BeTrue
        $report['name'] | Should -BeExactly $script:Started
        $report['state'] | Should -BeExactly 'Started'
        $report['identity_type'] | Should -BeExactly 'ApplicationPoolIdentity'
        $report['username'] | Should -BeExactly ''
        $report['password_set'] | Should -BeFalse
        $report['password_matches'] | Should -BeNullOrEmpty
        foreach ($setting in $script:CreateSettings.Keys) {
            $report[$setting] | Should -Be $script:CreateSettings[$setting] -Because "$setting is what the create sent"
        }
    }

    It 'apply refuses to create a pool that exists under another case' {
        $operation = New-PoolOperation -Pool $script:Started.ToUpperInvariant() -Action 'create' -Settings $script:CreateSettings -Identity (New-PoolIdentity -Type 'ApplicationPoolIdentity')

        $run = Invoke-PoolApply -Operations @($operation)

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match 'already has a pool named'
    }

    It 'apply creates a SpecificUser pool with its password, stopped and with autoStart false in applicationHost.config' {
        $settings = @{} + $script:CreateSettings
        $settings['auto_start'] = $false
        $identity = New-PoolIdentity -Type 'SpecificUser' -UserName $script:User.Account -Password 'set'
        $operation = New-PoolOperation -Pool $script:Specific -Action 'create' -Settings $settings -Identity $identity -RunState 'stop'

        $run = Invoke-PoolApply -Operations @($operation) -Passwords @{ $script:Specific = $script:User.Password }

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.ResultJson.Contains($script:User.Password) | Should -BeFalse
        $pool = Get-PoolConfiguration -Name $script:Specific
        $pool.IdentityType | Should -Be 'SpecificUser'
        $pool.UserName | Should -Be $script:User.Account
        $pool.AutoStart | Should -BeFalse
        Get-ConfigFileAutoStart -Name $script:Specific | Should -BeExactly 'false'
        Wait-Condition -Condition { (Get-PoolRunState -Name $script:Specific) -eq 'Stopped' } | Should -BeTrue -Because 'WAS reports the pool Stopped'
    }

    It 'probe compares the password on the host and says only whether it matches' {
        $right = Invoke-PoolProbe -Names @($script:Specific) -Passwords @{ $script:Specific = $script:User.Password } -Record 'specific-user-password-compared'
        $wrong = Invoke-PoolProbe -Names @($script:Specific) -Passwords @{ $script:Specific = (New-TestPassword) }
        $none = Invoke-PoolProbe -Names @($script:Specific)

        foreach ($run in @($right, $wrong, $none)) {
            $run.Failed | Should -BeFalse -Because $run.ErrorText
            $run.ResultJson.Contains($script:User.Password) | Should -BeFalse
            $run.Result['pools'][$script:Specific]['password_set'] | Should -BeTrue
            $run.Result['pools'][$script:Specific]['identity_type'] | Should -BeExactly 'SpecificUser'
            $run.Result['pools'][$script:Specific]['username'] | Should -Be $script:User.Account
        }
        $right.Result['pools'][$script:Specific]['password_matches'] | Should -BeTrue
        $wrong.Result['pools'][$script:Specific]['password_matches'] | Should -BeFalse
        $none.Result['pools'][$script:Specific]['password_matches'] | Should -BeNullOrEmpty
    }

    It 'apply stops a running pool with Stop() alone, leaving autoStart true' {
        $create = New-PoolOperation -Pool $script:StoppedOnly -Action 'create' -Settings $script:CreateSettings -Identity (New-PoolIdentity -Type 'ApplicationPoolIdentity') -RunState 'start'
        $created = Invoke-PoolApply -Operations @($create)
        $created.Failed | Should -BeFalse -Because $created.ErrorText
        Wait-Condition -Condition { (Get-PoolRunState -Name $script:StoppedOnly) -eq 'Started' } | Should -BeTrue

        $run = Invoke-PoolApply -Operations @(New-PoolOperation -Pool $script:StoppedOnly -Action 'update' -RunState 'stop')

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        @($run.Result['applied'][0]['runtime']) -contains 'stop' | Should -BeTrue
        Wait-Condition -Condition { (Get-PoolRunState -Name $script:StoppedOnly) -eq 'Stopped' } | Should -BeTrue
        (Get-PoolConfiguration -Name $script:StoppedOnly).AutoStart | Should -BeTrue
    }

    Context 'after iisreset' {
        BeforeAll {
            $script:WasBefore = Get-WasProcessId
            $script:Reset = Invoke-NativeCommand -FilePath (Join-Path $env:SystemRoot 'System32\iisreset.exe') -Arguments '/restart'
            # WAS starts every pool whose autoStart is true when it starts;
            # the created pool, autoStart true and running before, is the
            # sign that it has done so.
            $script:WasStartedPools = Wait-Condition -TimeoutSeconds 90 -Condition { (Get-PoolRunState -Name $script:Started) -eq 'Started' }
        }

        It 'iisreset restarted WAS' {
            $script:Reset.ExitCode | Should -Be 0 -Because "$($script:Reset.Output) $($script:Reset.ErrorOutput)"
            Get-WasProcessId | Should -Not -Be $script:WasBefore
            $script:WasStartedPools | Should -BeTrue -Because 'WAS started the pool whose autoStart is true'
        }

        It 'the pool stopped with autoStart false stays stopped' {
            Get-PoolRunState -Name $script:Specific | Should -Be 'Stopped'
            $run = Invoke-PoolProbe -Names @($script:Specific)
            $run.Result['pools'][$script:Specific]['state'] | Should -BeExactly 'Stopped'
            $run.Result['pools'][$script:Specific]['auto_start'] | Should -BeFalse
        }

        It 'Windows: the pool stopped with Stop() alone runs again, which is why stopping must also clear autoStart' {
            Wait-Condition -Condition { (Get-PoolRunState -Name $script:StoppedOnly) -eq 'Started' } | Should -BeTrue
        }
    }

    It 'apply updates settings and the identity of a running pool, and recycles it' {
        $settings = @{ idle_timeout_minutes = 30; periodic_restart_minutes = 60 }
        $operation = New-PoolOperation -Pool $script:Started -Action 'update' -Settings $settings -Identity (New-PoolIdentity -Type 'NetworkService' -Password 'clear') -Recycle $true

        $run = Invoke-PoolApply -Operations @($operation)

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        @($run.Result['applied'][0]['runtime']) -contains 'recycle' | Should -BeTrue
        $pool = Get-PoolConfiguration -Name $script:Started
        $pool.IdleTimeoutMinutes | Should -Be 30
        $pool.PeriodicRestartMinutes | Should -Be 60
        $pool.IdentityType | Should -Be 'NetworkService'
        $probe = Invoke-PoolProbe -Names @($script:Started)
        $probe.Result['pools'][$script:Started]['idle_timeout_minutes'] | Should -Be 30
        $probe.Result['pools'][$script:Started]['periodic_restart_minutes'] | Should -Be 60
        $probe.Result['pools'][$script:Started]['identity_type'] | Should -BeExactly 'NetworkService'
    }

    It 'apply in check mode (-WhatIf) removes nothing' {
        $run = Invoke-PoolApply -Operations @(New-PoolOperation -Pool $script:Started -Action 'remove') -CheckMode

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        Get-PoolConfiguration -Name $script:Started | Should -Not -BeNullOrEmpty
    }

    It 'apply removes a pool, and the probe then reports it absent' {
        $run = Invoke-PoolApply -Operations @(New-PoolOperation -Pool $script:Started -Action 'remove')

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['applied'][0]['action'] | Should -BeExactly 'remove'
        Get-PoolConfiguration -Name $script:Started | Should -BeNullOrEmpty
        (Invoke-PoolProbe -Names @($script:Started)).Result['pools'][$script:Started]['exists'] | Should -BeFalse
    }
}
