# Pester 5 tests of the iis_app_pools payload on a real Windows host
# (plugins/plugin_utils/_powershell/iis_app_pools.ps1); README.md in this
# folder says how to run them and what they change.
#
# What this file depends on, each in one helper of BeforeAll:
#   probe   parameters Names (pool names), Accounts (the SpecificUser
#           usernames, sent only when there are any) and the sensitive
#           parameter Passwords (a JSON object of pool name to password);
#           result {iis_installed, pools: {<name>: {exists, name, state,
#           managed_runtime_version, pipeline_mode, identity_type, username,
#           sid (the username's SID, or null), password_set,
#           password_matches, load_user_profile, start_mode, auto_start,
#           enable_32bit, idle_timeout_minutes, periodic_restart_minutes,
#           disallow_rotation_on_config_change}}, accounts: [{input, sid,
#           name, error}]}
#   apply   parameters Operations, each {pool, action: create | update,
#           settings: {<setting>: value}, identity: {type, username (null
#           but for SpecificUser), password: keep | set | clear} or null,
#           run_state: start | stop | null, recycle} or {pool, action:
#           remove}, and Passwords; result {applied: [{pool, action,
#           runtime: [start | stop | recycle]}]}. As the controller plans
#           them: auto_start follows the run state asked for (started:
#           false sends auto_start false with run_state stop), recycle is
#           true only for a running pool whose identity changes and whose
#           disallow_rotation_on_config_change is true, and a pool name
#           holds none of the characters IIS refuses. Before the first
#           change, an apply that sets a SpecificUser password logs the
#           account on (LogonUserW, batch logon) and fails with a
#           Win32Exception naming the pool, never the password. Where
#           LogonUserW refuses the logon type (1385) but BUILTIN\IIS_IUSRS,
#           which WAS adds to the pool's token, holds the right, the account's
#           groups are read from a network logon's token
#           ([Pkiops.KeyfactorCommand.IisAppPools.PoolLogon]::GetGroupSids)
#           and any of them denied the logon type fails the apply with 1385,
#           as does IIS_IUSRS denied it; a refused network logon is a warning
#           naming the pool. Under -WhatIf no account is logged on.

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
                [string[]]$Accounts = @(),
                [System.Collections.IDictionary]$Passwords = @{},
                [string]$Record
            )

            # The controller sends Accounts only when some pool runs as SpecificUser.
            $parameters = @{ Names = $Names }
            if ($Accounts.Count -gt 0) {
                $parameters['Accounts'] = $Accounts
            }
            Invoke-Payload -Name 'iis_app_pools' -Mode 'probe' -Parameters $parameters -Secrets (Get-PasswordSecret -Passwords $Passwords) -Record $Record
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
            # As the controller sends it: a username only for SpecificUser
            # (null otherwise), and 'keep' unless a password is to be set or,
            # for a gMSA, cleared.
            param(
                [Parameter(Mandatory)]
                [string]$Type,

                [AllowNull()]
                [object]$UserName = $null,

                [string]$Password = 'keep'
            )

            @{ type = $Type; username = $UserName; password = $Password }
        }

        function Get-StoppedSettings {
            # The create settings of a pool whose task says started: false:
            # auto_start follows it.
            $settings = @{} + $script:CreateSettings
            $settings['auto_start'] = $false
            $settings
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

        function Get-ConfigFilePoolAttribute {
            # An attribute of the pool's <add> element in applicationHost.config
            # itself, or of one of its child elements (-Element recycling),
            # read as XML: 'false', 'true', or '' when the pool takes
            # applicationPoolDefaults' value.
            param(
                [string]$Name,

                [string]$Attribute,

                [string]$Element = ''
            )

            $document = [System.Xml.XmlDocument]::new()
            $document.Load((Join-Path $env:SystemRoot 'System32\inetsrv\config\applicationHost.config'))
            $pool = $null
            foreach ($candidate in $document.SelectNodes('/configuration/system.applicationHost/applicationPools/add')) {
                if ($candidate.GetAttribute('name') -eq $Name) {
                    $pool = $candidate
                }
            }
            if ($null -eq $pool) {
                throw "applicationHost.config has no application pool named $Name"
            }
            if (-not $Element) {
                return $pool.GetAttribute($Attribute)
            }
            $child = $pool.SelectSingleNode($Element)
            if ($null -eq $child) {
                return ''
            }
            $child.GetAttribute($Attribute)
        }

        function Get-ConfigFileAutoStart {
            param(
                [string]$Name
            )

            Get-ConfigFilePoolAttribute -Name $Name -Attribute 'autoStart'
        }

        function Set-PoolDisallowRotation {
            # recycling.disallowRotationOnConfigChange, set as an administrator
            # would in IIS Manager, through a ServerManager of the test's own.
            param(
                [string]$Name
            )

            $manager = [Microsoft.Web.Administration.ServerManager]::new()
            try {
                foreach ($pool in $manager.ApplicationPools) {
                    if ($pool.Name -eq $Name) {
                        $pool.Recycling.DisallowRotationOnConfigChange = $true
                    }
                }
                $manager.CommitChanges()
            }
            finally {
                $manager.Dispose()
            }
        }

        function Set-TestUserRight {
            # Gives or takes a right through the user_rights payload, as the
            # collection's roles grant a pool account batch logon before the
            # pools are created.
            param(
                [string]$Sid,

                [string]$Right,

                [ValidateSet('add', 'remove')]
                [string]$Action
            )

            $run = Invoke-Payload -Name 'user_rights' -Mode 'apply' -Parameters @{ Operations = @(@{ right = $Right; action = $Action; sid = $Sid }) }
            if ($run.Failed) {
                throw "cannot $Action $Right for ${Sid}: $($run.ErrorText)"
            }
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

        function Get-RightHolderSid {
            # The SIDs that hold a right themselves, upper case, as the
            # user_rights payload reads them from LSA.
            param(
                [string]$Right
            )

            $run = Invoke-Payload -Name 'user_rights' -Mode 'probe' -Parameters @{ Rights = @($Right); Accounts = @() }
            if ($run.Failed) {
                throw "cannot read the holders of ${Right}: $($run.ErrorText)"
            }
            $sids = [System.Collections.Generic.List[string]]::new()
            foreach ($holder in $run.Result['holders'][$Right]) {
                $sids.Add(([string]$holder['sid']).ToUpperInvariant())
            }
            , $sids.ToArray()
        }

        function Add-TemporaryUserRight {
            # Gives the SID the right unless it holds it already, and says
            # whether it did. Remove-TemporaryUserRight takes it back as soon
            # as the test is done; AfterAll does, should the test stop first.
            # Only a right given here is ever taken back.
            param(
                [string]$Sid,

                [string]$Right
            )

            if ((Get-RightHolderSid -Right $Right) -contains $Sid.ToUpperInvariant()) {
                return $false
            }
            Register-TestCleanup -List $script:Cleanup -Description "$Right of $Sid" -ArgumentList @($Sid, $Right) -Action {
                param($HolderSid, $RightName)
                if ((Get-RightHolderSid -Right $RightName) -contains $HolderSid.ToUpperInvariant()) {
                    Set-TestUserRight -Sid $HolderSid -Right $RightName -Action 'remove'
                }
            }
            Set-TestUserRight -Sid $Sid -Right $Right -Action 'add'
            $true
        }

        function Remove-TemporaryUserRight {
            param(
                [string]$Sid,

                [string]$Right,

                [bool]$Added
            )

            if ($Added) {
                Set-TestUserRight -Sid $Sid -Right $Right -Action 'remove'
            }
        }

        function Get-FailedLogonEvent {
            # Security event 4625 ("An account failed to log on") whose
            # TargetUserName is the account's name, through the event log's
            # XPath filter, which selects an EventData field by its Name.
            # Nothing when there is none: Get-WinEvent reports that as the
            # error NoMatchingEventsFound.
            param(
                [string]$UserName
            )

            $query = "*[System[EventID=4625] and EventData[Data[@Name='TargetUserName']='$UserName']]"
            try {
                Get-WinEvent -LogName 'Security' -FilterXPath $query -ErrorAction Stop
            }
            catch {
                if ([string]$_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') {
                    throw
                }
            }
        }

        function Get-PoolLogonType {
            # The payload's own logon helper, [Pkiops.KeyfactorCommand.IisAppPools.PoolLogon]:
            # the type an earlier apply in this process compiled, or else
            # compiled here from the payload's text, its
            # $script:PoolLogonSource statement followed by the Add-Type its
            # Import-PoolLogonType runs, in a runspace of its own as a
            # payload runs. The payload then finds it loaded and uses it.
            $name = 'Pkiops.KeyfactorCommand.IisAppPools.PoolLogon'
            $loaded = ([System.Management.Automation.PSTypeName]$name).Type
            if ($null -ne $loaded) {
                return $loaded
            }
            $text = Read-PayloadFile -Path (Join-Path (Get-PayloadDirectory) 'iis_app_pools.ps1')
            $statement = [System.Text.RegularExpressions.Regex]::Match($text, "(?ms)^\`$script:PoolLogonSource = @'\n.*?\n'@$")
            if (-not $statement.Success) {
                throw 'iis_app_pools.ps1 has no $script:PoolLogonSource here-string to compile.'
            }
            $null = Invoke-IsolatedScript -Script ($statement.Value + "`nAdd-Type -TypeDefinition `$script:PoolLogonSource")
            ([System.Management.Automation.PSTypeName]$name).Type
        }

        # The pool account, given "Log on as a batch job" (taken back before
        # the account is deleted), as the roles prepare one; and an account
        # with no right of its own.
        $script:User = New-TestLocalUser -Cleanup $script:Cleanup
        Set-TestUserRight -Sid $script:User.Sid -Right 'SeBatchLogonRight' -Action 'add'
        Register-TestCleanup -List $script:Cleanup -Description "batch logon right of $($script:User.Name)" -ArgumentList @($script:User.Sid) -Action {
            param($Sid)
            Set-TestUserRight -Sid $Sid -Right 'SeBatchLogonRight' -Action 'remove'
        }
        $script:PlainUser = New-TestLocalUser -Cleanup $script:Cleanup
        $script:Started = New-PoolName
        $script:Specific = New-PoolName
        $script:WrongPassword = New-PoolName
        $script:PlainSpecific = New-PoolName
        $script:StoppedByTask = New-PoolName
        $script:StoppedOnly = New-PoolName
        $script:Invalid = New-PoolName
        $script:Rotation = New-PoolName
        # A name with '@', one of the characters IIS refuses in a pool name.
        $script:Refused = (New-PoolName) + '@x'
        foreach ($name in @($script:Started, $script:Specific, $script:WrongPassword, $script:PlainSpecific, $script:StoppedByTask, $script:StoppedOnly, $script:Invalid, $script:Rotation, $script:Refused)) {
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
        $report['sid'] | Should -BeNullOrEmpty -Because 'a pool identity has no username to resolve'
        $report['password_set'] | Should -BeFalse
        $report['password_matches'] | Should -BeNullOrEmpty
        $report['disallow_rotation_on_config_change'] | Should -BeFalse -Because 'IIS rotates a worker process on a configuration change by default'
        foreach ($setting in $script:CreateSettings.Keys) {
            $report[$setting] | Should -Be $script:CreateSettings[$setting] -Because "$setting is what the create sent"
        }
        Test-IsList -Value $run.Result['accounts'] | Should -BeTrue
        $run.Result['accounts'].Count | Should -Be 0
    }

    It 'IIS refuses a pool name with a character the controller refuses: the controller''s list is InvalidApplicationPoolNameCharacters(), and the payload fails before any commit' {
        # INVALID_NAME_CHARACTERS in plugins/plugin_utils/_iis_app_pools.py.
        $controllerList = '\/"|<>:*?][+=;,@&'
        $windowsList = [Microsoft.Web.Administration.ApplicationPoolCollection]::InvalidApplicationPoolNameCharacters()
        (@($windowsList | Sort-Object) -join '') | Should -BeExactly (@($controllerList.ToCharArray() | Sort-Object) -join '')
        $good = New-PoolOperation -Pool $script:Invalid -Action 'create' -Settings $script:CreateSettings -Identity (New-PoolIdentity -Type 'ApplicationPoolIdentity')
        $refused = New-PoolOperation -Pool $script:Refused -Action 'create' -Settings $script:CreateSettings -Identity (New-PoolIdentity -Type 'ApplicationPoolIdentity')

        $run = Invoke-PoolApply -Operations @($good, $refused)

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match ([regex]::Escape($script:Refused))
        Get-PoolConfiguration -Name $script:Refused | Should -BeNullOrEmpty
        Get-PoolConfiguration -Name $script:Invalid | Should -BeNullOrEmpty -Because 'nothing is committed when one operation fails'
    }

    It 'apply refuses to create a pool that exists under another case' {
        $operation = New-PoolOperation -Pool $script:Started.ToUpperInvariant() -Action 'create' -Settings $script:CreateSettings -Identity (New-PoolIdentity -Type 'ApplicationPoolIdentity')

        $run = Invoke-PoolApply -Operations @($operation)

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match 'already has a pool named'
    }

    It 'apply with a wrong SpecificUser password fails before any pool is created, with a Win32Exception naming the pool and never the password' {
        $wrongPassword = New-TestPassword
        $first = New-PoolOperation -Pool $script:Invalid -Action 'create' -Settings $script:CreateSettings -Identity (New-PoolIdentity -Type 'ApplicationPoolIdentity') -RunState 'start'
        $identity = New-PoolIdentity -Type 'SpecificUser' -UserName $script:User.Account -Password 'set'
        $second = New-PoolOperation -Pool $script:WrongPassword -Action 'create' -Settings (Get-StoppedSettings) -Identity $identity -RunState 'stop'

        $run = Invoke-PoolApply -Operations @($first, $second) -Passwords @{ $script:WrongPassword = $wrongPassword }

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.Result['applied'].Count | Should -Be 0
        $run.Error.Types -contains 'System.ComponentModel.Win32Exception' | Should -BeTrue -Because "the failure is a Win32Exception, not $($run.Error.Types -join ', ')"
        $run.ErrorText | Should -Match ([regex]::Escape("Application pool '$($script:WrongPassword)'"))
        $run.ErrorText | Should -Match 'ERROR_LOGON_FAILURE'
        $run.ErrorText | Should -Match 'Win32 error 1326'
        foreach ($text in @($run.ErrorText, $run.ResultJson, ($run.Warnings -join "`n"))) {
            $text.Contains($wrongPassword) | Should -BeFalse
            $text.Contains($script:User.Password) | Should -BeFalse
        }
        Get-PoolConfiguration -Name $script:Invalid | Should -BeNullOrEmpty -Because 'the logon check runs before the first pool is created'
        Get-PoolConfiguration -Name $script:WrongPassword | Should -BeNullOrEmpty
    }

    It 'apply in check mode (-WhatIf) with a wrong password logs no account on: no error, no pool, and no failed logon (event 4625) for the account' {
        $account = New-TestLocalUser -Cleanup $script:Cleanup
        $pool = New-PoolName
        Register-PoolCleanup -Name $pool
        $wrongPassword = New-TestPassword
        $identity = New-PoolIdentity -Type 'SpecificUser' -UserName $account.Account -Password 'set'
        $operation = New-PoolOperation -Pool $pool -Action 'create' -Settings (Get-StoppedSettings) -Identity $identity -RunState 'stop'

        $checked = Invoke-PoolApply -Operations @($operation) -Passwords @{ $pool = $wrongPassword } -CheckMode
        # The same apply for real logs the account on once, with the wrong
        # password: its event shows that this host audits failed logons and
        # that the query finds them, so that no event before it means no
        # logon, not an audit policy that records none.
        Start-Sleep -Seconds 2
        $controlStart = Get-Date
        $control = Invoke-PoolApply -Operations @($operation) -Passwords @{ $pool = $wrongPassword }

        $checked.Failed | Should -BeFalse -Because "-WhatIf declines the create, and so the logon check: $($checked.ErrorText)"
        $checked.Changed | Should -BeFalse
        $checked.Result['applied'].Count | Should -Be 0
        $control.Failed | Should -BeTrue
        $control.ErrorText | Should -Match 'Win32 error 1326'
        Get-PoolConfiguration -Name $pool | Should -BeNullOrEmpty
        $audited = Wait-Condition -TimeoutSeconds 30 -Condition { @(Get-FailedLogonEvent -UserName $account.Name).Count -gt 0 }
        if (-not $audited) {
            Set-ItResult -Inconclusive -Because "the apply without -WhatIf left no event 4625 for $($account.Name) in the Security log within 30 seconds: this host does not audit failed logons (auditpol, Logon/Logoff, Logon), so the log cannot show that -WhatIf logged nobody on"
            return
        }
        $before = @(Get-FailedLogonEvent -UserName $account.Name | Where-Object { $_.TimeCreated -lt $controlStart })
        $before.Count | Should -Be 0 -Because 'the apply under -WhatIf must not log the account on'
    }

    It 'apply of an account with no batch logon right of its own passes the logon check exactly when IIS setup gave BUILTIN\IIS_IUSRS that right' {
        $iisUsersHoldBatchLogon = (Get-SeceditRightHolder -Rights @('SeBatchLogonRight'))['SeBatchLogonRight'] -contains 'S-1-5-32-568'
        $identity = New-PoolIdentity -Type 'SpecificUser' -UserName $script:PlainUser.Account -Password 'set'
        $operation = New-PoolOperation -Pool $script:PlainSpecific -Action 'create' -Settings (Get-StoppedSettings) -Identity $identity -RunState 'stop'

        $run = Invoke-PoolApply -Operations @($operation) -Passwords @{ $script:PlainSpecific = $script:PlainUser.Password }

        $run.ErrorText.Contains($script:PlainUser.Password) | Should -BeFalse
        if ($iisUsersHoldBatchLogon) {
            $run.Failed | Should -BeFalse -Because "WAS adds IIS_IUSRS to the pool's token, and IIS_IUSRS holds SeBatchLogonRight: $($run.ErrorText)"
            Get-PoolConfiguration -Name $script:PlainSpecific | Should -Not -BeNullOrEmpty
        }
        else {
            $run.Failed | Should -BeTrue -Because 'neither the account nor IIS_IUSRS holds SeBatchLogonRight on this host'
            $run.ErrorText | Should -Match 'Win32 error 1385'
            $run.ErrorText | Should -Match 'SeBatchLogonRight'
            Get-PoolConfiguration -Name $script:PlainSpecific | Should -BeNullOrEmpty
        }
    }

    It 'apply creates a SpecificUser pool with its password, stopped and with autoStart false in applicationHost.config' {
        $identity = New-PoolIdentity -Type 'SpecificUser' -UserName $script:User.Account -Password 'set'
        $operation = New-PoolOperation -Pool $script:Specific -Action 'create' -Settings (Get-StoppedSettings) -Identity $identity -RunState 'stop'

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

    It 'probe compares the password on the host and says only whether it matches, and resolves the account to the pool''s SID' {
        $accounts = @($script:User.Account)
        $right = Invoke-PoolProbe -Names @($script:Specific) -Accounts $accounts -Passwords @{ $script:Specific = $script:User.Password } -Record 'specific-user-password-compared'
        $wrong = Invoke-PoolProbe -Names @($script:Specific) -Accounts $accounts -Passwords @{ $script:Specific = (New-TestPassword) }
        $none = Invoke-PoolProbe -Names @($script:Specific) -Accounts $accounts

        foreach ($run in @($right, $wrong, $none)) {
            $run.Failed | Should -BeFalse -Because $run.ErrorText
            $run.ResultJson.Contains($script:User.Password) | Should -BeFalse
            $run.Result['pools'][$script:Specific]['password_set'] | Should -BeTrue
            $run.Result['pools'][$script:Specific]['identity_type'] | Should -BeExactly 'SpecificUser'
            $run.Result['pools'][$script:Specific]['username'] | Should -Be $script:User.Account
            $run.Result['pools'][$script:Specific]['sid'] | Should -BeExactly $script:User.Sid
            $run.Result['accounts'].Count | Should -Be 1
            $run.Result['accounts'][0]['input'] | Should -BeExactly $script:User.Account
            $run.Result['accounts'][0]['sid'] | Should -BeExactly $script:User.Sid
        }
        $right.Result['pools'][$script:Specific]['password_matches'] | Should -BeTrue
        $wrong.Result['pools'][$script:Specific]['password_matches'] | Should -BeFalse
        $none.Result['pools'][$script:Specific]['password_matches'] | Should -BeNullOrEmpty
    }

    It 'apply of started: false to a running pool, as the controller sends it, clears autoStart and stops the pool' {
        $create = New-PoolOperation -Pool $script:StoppedByTask -Action 'create' -Settings $script:CreateSettings -Identity (New-PoolIdentity -Type 'ApplicationPoolIdentity') -RunState 'start'
        $created = Invoke-PoolApply -Operations @($create)
        $created.Failed | Should -BeFalse -Because $created.ErrorText
        Wait-Condition -Condition { (Get-PoolRunState -Name $script:StoppedByTask) -eq 'Started' } | Should -BeTrue

        $run = Invoke-PoolApply -Operations @(New-PoolOperation -Pool $script:StoppedByTask -Action 'update' -Settings @{ auto_start = $false } -RunState 'stop')

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        @($run.Result['applied'][0]['runtime']) -contains 'stop' | Should -BeTrue
        Get-ConfigFileAutoStart -Name $script:StoppedByTask | Should -BeExactly 'false'
        Wait-Condition -Condition { (Get-PoolRunState -Name $script:StoppedByTask) -eq 'Stopped' } | Should -BeTrue -Because 'WAS reports the pool Stopped'
        $probe = Invoke-PoolProbe -Names @($script:StoppedByTask)
        $probe.Result['pools'][$script:StoppedByTask]['auto_start'] | Should -BeFalse
        $probe.Result['pools'][$script:StoppedByTask]['state'] | Should -BeExactly 'Stopped'
    }

    It 'Windows: a stop sent without auto_start stops the pool with Stop() alone, leaving autoStart true' {
        # The controller sends a stop without auto_start only for a pool
        # whose autoStart is already false; sent for one whose autoStart is
        # true, it shows what the iisreset below then does to such a pool.
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

        It 'the pools stopped with autoStart false, created so or stopped by a task, stay stopped' {
            foreach ($name in @($script:Specific, $script:StoppedByTask)) {
                Get-PoolRunState -Name $name | Should -Be 'Stopped' -Because "$name has autoStart false"
                Get-ConfigFileAutoStart -Name $name | Should -BeExactly 'false'
                $run = Invoke-PoolProbe -Names @($name)
                $run.Result['pools'][$name]['state'] | Should -BeExactly 'Stopped'
                $run.Result['pools'][$name]['auto_start'] | Should -BeFalse
            }
        }

        It 'Windows: the pool stopped with Stop() alone runs again, which is why stopping must also clear autoStart' {
            Wait-Condition -Condition { (Get-PoolRunState -Name $script:StoppedOnly) -eq 'Started' } | Should -BeTrue
        }
    }

    It 'apply updates settings and the identity of a running pool without a recycle, as planned for a pool whose disallowRotationOnConfigChange is false' {
        $settings = @{ idle_timeout_minutes = 30; periodic_restart_minutes = 60 }
        $operation = New-PoolOperation -Pool $script:Started -Action 'update' -Settings $settings -Identity (New-PoolIdentity -Type 'NetworkService')

        $run = Invoke-PoolApply -Operations @($operation)

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['applied'][0]['runtime'].Count | Should -Be 0 -Because 'no run state and no recycle were asked for'
        Wait-Condition -Condition { (Get-PoolRunState -Name $script:Started) -eq 'Started' } | Should -BeTrue -Because 'a configuration change does not stop the pool'
        $pool = Get-PoolConfiguration -Name $script:Started
        $pool.IdleTimeoutMinutes | Should -Be 30
        $pool.PeriodicRestartMinutes | Should -Be 60
        $pool.IdentityType | Should -Be 'NetworkService'
        $probe = Invoke-PoolProbe -Names @($script:Started)
        $probe.Result['pools'][$script:Started]['idle_timeout_minutes'] | Should -Be 30
        $probe.Result['pools'][$script:Started]['periodic_restart_minutes'] | Should -Be 60
        $probe.Result['pools'][$script:Started]['identity_type'] | Should -BeExactly 'NetworkService'
        $probe.Result['pools'][$script:Started]['sid'] | Should -BeNullOrEmpty
    }

    It 'probe reports disallowRotationOnConfigChange as applicationHost.config has it, and apply recycles such a pool when its identity changes' {
        $create = New-PoolOperation -Pool $script:Rotation -Action 'create' -Settings $script:CreateSettings -Identity (New-PoolIdentity -Type 'ApplicationPoolIdentity') -RunState 'start'
        $created = Invoke-PoolApply -Operations @($create)
        $created.Failed | Should -BeFalse -Because $created.ErrorText
        Set-PoolDisallowRotation -Name $script:Rotation
        Get-ConfigFilePoolAttribute -Name $script:Rotation -Element 'recycling' -Attribute 'disallowRotationOnConfigChange' | Should -BeExactly 'true'
        Wait-Condition -Condition { (Get-PoolRunState -Name $script:Rotation) -eq 'Started' } | Should -BeTrue

        $probe = Invoke-PoolProbe -Names @($script:Rotation) -Record 'disallow-rotation'
        $run = Invoke-PoolApply -Operations @(New-PoolOperation -Pool $script:Rotation -Action 'update' -Identity (New-PoolIdentity -Type 'LocalService') -Recycle $true)

        $probe.Failed | Should -BeFalse -Because $probe.ErrorText
        $probe.Result['pools'][$script:Rotation]['disallow_rotation_on_config_change'] | Should -BeTrue
        $probe.Result['pools'][$script:Rotation]['state'] | Should -BeExactly 'Started'
        $run.Failed | Should -BeFalse -Because $run.ErrorText
        @($run.Result['applied'][0]['runtime']) -contains 'recycle' | Should -BeTrue
        (Get-PoolConfiguration -Name $script:Rotation).IdentityType | Should -Be 'LocalService'
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

    Context 'the logon check against the deny-logon rights WAS meets' {
        BeforeAll {
            # IIS setup grants BUILTIN\IIS_IUSRS "Log on as a batch job"; on a
            # host where it did not, it is granted for these tests and taken
            # back after them.
            $script:IisUsersSid = 'S-1-5-32-568'
            $script:IisUsersBatchAdded = Add-TemporaryUserRight -Sid $script:IisUsersSid -Right 'SeBatchLogonRight'
            $script:PoolLogon = Get-PoolLogonType
        }

        AfterAll {
            Remove-TemporaryUserRight -Sid $script:IisUsersSid -Right 'SeBatchLogonRight' -Added $script:IisUsersBatchAdded
        }

        It 'Windows: GetGroupSids reads the groups of a network logon''s token, BUILTIN\Users among them and no logon SID' {
            $account = New-TestLocalUser -Cleanup $script:Cleanup

            $groups = $script:PoolLogon::GetGroupSids($account.Name, $env:COMPUTERNAME, $account.Password)

            ($null -ne $groups -and $groups.Count -gt 0) | Should -BeTrue -Because 'a local user may log on from the network (Everyone and BUILTIN\Users hold SeNetworkLogonRight on a server)'
            $values = @(foreach ($group in $groups) {
                    $group.Value
                })
            $values -contains 'S-1-5-32-545' | Should -BeTrue -Because "BUILTIN\Users holds NT AUTHORITY\Authenticated Users, which the token of every such logon has; the token had $($values -join ', ')"
            $values -contains 'S-1-5-2' | Should -BeTrue -Because 'a network logon''s token has NT AUTHORITY\NETWORK, which the payload leaves out of the SIDs it checks'
            @($values | Where-Object { $_ -like 'S-1-5-5-*' }).Count | Should -Be 0 -Because 'the logon SID (SE_GROUP_LOGON_ID) names the logon session, not a group'
        }

        It 'apply fails with Win32 error 1385 and creates no pool for an account whose group (Guests) is denied batch logon, although BUILTIN\IIS_IUSRS holds the right' {
            $account = New-TestLocalUser -Cleanup $script:Cleanup
            # BUILTIN\Guests, by its SID; the account by DOMAIN\name, which
            # cannot be taken for a domain account of the same name.
            Add-LocalGroupMember -SID 'S-1-5-32-546' -Member $account.Account
            $pool = New-PoolName
            Register-PoolCleanup -Name $pool
            $identity = New-PoolIdentity -Type 'SpecificUser' -UserName $account.Account -Password 'set'
            $operation = New-PoolOperation -Pool $pool -Action 'create' -Settings (Get-StoppedSettings) -Identity $identity -RunState 'stop'
            (Get-RightHolderSid -Right 'SeBatchLogonRight') -contains $script:IisUsersSid | Should -BeTrue

            $added = Add-TemporaryUserRight -Sid 'S-1-5-32-546' -Right 'SeDenyBatchLogonRight'
            try {
                $run = Invoke-PoolApply -Operations @($operation) -Passwords @{ $pool = $account.Password }
            }
            finally {
                Remove-TemporaryUserRight -Sid 'S-1-5-32-546' -Right 'SeDenyBatchLogonRight' -Added $added
            }

            $run.Failed | Should -BeTrue -Because 'WAS would meet the denial through the account''s group'
            $run.Changed | Should -BeFalse
            $run.Result['applied'].Count | Should -Be 0
            $run.Error.Types -contains 'System.ComponentModel.Win32Exception' | Should -BeTrue -Because "the failure is a Win32Exception, not $($run.Error.Types -join ', ')"
            $run.ErrorText | Should -Match 'Win32 error 1385'
            $run.ErrorText | Should -Match 'SeDenyBatchLogonRight'
            $run.ErrorText | Should -Match ([regex]::Escape("Application pool '$pool'"))
            $run.ErrorText.Contains($account.Password) | Should -BeFalse
            Get-PoolConfiguration -Name $pool | Should -BeNullOrEmpty
        }

        It 'apply fails with Win32 error 1385 and creates no pool when BUILTIN\IIS_IUSRS is denied batch logon, although the account holds the right itself' {
            $account = New-TestLocalUser -Cleanup $script:Cleanup
            $accountBatchAdded = Add-TemporaryUserRight -Sid $account.Sid -Right 'SeBatchLogonRight'
            $pool = New-PoolName
            Register-PoolCleanup -Name $pool
            $identity = New-PoolIdentity -Type 'SpecificUser' -UserName $account.Account -Password 'set'
            $operation = New-PoolOperation -Pool $pool -Action 'create' -Settings (Get-StoppedSettings) -Identity $identity -RunState 'stop'
            # LogonUserW's own token lacks IIS_IUSRS, so the batch logon
            # itself succeeds; only WAS's token, with IIS_IUSRS, is refused.
            $script:PoolLogon::TestLogon($account.Name, $env:COMPUTERNAME, $account.Password, $script:PoolLogon::LOGON32_LOGON_BATCH) | Should -Be 0

            # Denying IIS_IUSRS stops every pool WAS starts meanwhile, so the
            # denial lasts for this one apply only.
            $added = Add-TemporaryUserRight -Sid $script:IisUsersSid -Right 'SeDenyBatchLogonRight'
            try {
                $run = Invoke-PoolApply -Operations @($operation) -Passwords @{ $pool = $account.Password }
            }
            finally {
                Remove-TemporaryUserRight -Sid $script:IisUsersSid -Right 'SeDenyBatchLogonRight' -Added $added
                Remove-TemporaryUserRight -Sid $account.Sid -Right 'SeBatchLogonRight' -Added $accountBatchAdded
            }

            $run.Failed | Should -BeTrue -Because 'WAS adds IIS_IUSRS to the pool''s token, and its denial overrides the account''s grant'
            $run.Changed | Should -BeFalse
            $run.Result['applied'].Count | Should -Be 0
            $run.Error.Types -contains 'System.ComponentModel.Win32Exception' | Should -BeTrue -Because "the failure is a Win32Exception, not $($run.Error.Types -join ', ')"
            $run.ErrorText | Should -Match 'Win32 error 1385'
            $run.ErrorText | Should -Match 'BUILTIN\\IIS_IUSRS'
            $run.ErrorText | Should -Match ([regex]::Escape("Application pool '$pool'"))
            $run.ErrorText.Contains($account.Password) | Should -BeFalse
            Get-PoolConfiguration -Name $pool | Should -BeNullOrEmpty
        }

        It 'apply passes, with a warning naming the pool, when the account''s groups cannot be read because local accounts (S-1-5-113) are denied network logon, and BUILTIN\IIS_IUSRS grants batch logon' {
            $account = New-TestLocalUser -Cleanup $script:Cleanup
            $pool = New-PoolName
            Register-PoolCleanup -Name $pool
            $identity = New-PoolIdentity -Type 'SpecificUser' -UserName $account.Account -Password 'set'
            $operation = New-PoolOperation -Pool $pool -Action 'create' -Settings (Get-StoppedSettings) -Identity $identity -RunState 'stop'
            # The account has no batch logon right of its own or through its
            # groups: only IIS_IUSRS, in WAS's token, lets WAS log it on, and
            # the payload goes on to read its groups.
            $script:PoolLogon::TestLogon($account.Name, $env:COMPUTERNAME, $account.Password, $script:PoolLogon::LOGON32_LOGON_BATCH) | Should -Be 1385

            # "Deny access to this computer from the network" for every local
            # account, this host's own administrators included, for this one
            # apply only.
            $added = Add-TemporaryUserRight -Sid 'S-1-5-113' -Right 'SeDenyNetworkLogonRight'
            try {
                $groups = $script:PoolLogon::GetGroupSids($account.Name, $env:COMPUTERNAME, $account.Password)
                $run = Invoke-PoolApply -Operations @($operation) -Passwords @{ $pool = $account.Password }
            }
            finally {
                Remove-TemporaryUserRight -Sid 'S-1-5-113' -Right 'SeDenyNetworkLogonRight' -Added $added
            }

            $null -eq $groups | Should -BeTrue -Because 'GetGroupSids answers null when the network logon is refused with ERROR_LOGON_TYPE_NOT_GRANTED'
            $run.Failed | Should -BeFalse -Because $run.ErrorText
            $run.Changed | Should -BeTrue
            $warnings = @($run.Warnings | Where-Object { $_.Contains("Application pool '$pool'") -and $_.Contains('could not log on from the network') })
            $warnings.Count | Should -Be 1 -Because "the warning stream held: $($run.Warnings -join ' | ')"
            $warnings[0].Contains($account.Password) | Should -BeFalse
            (Get-PoolConfiguration -Name $pool).UserName | Should -Be $account.Account
        }
    }
}
