# pkiops-payload: iis_app_pools
#
# Reads or changes IIS application pools through Microsoft.Web.Administration
# (the managed API over applicationHost.config and the Windows Process
# Activation Service, WAS).
#
# probe: read only. Reports each pool in -Names, or that IIS is not installed.
#        Safe under -WhatIf: nothing in this mode is gated by ShouldProcess
#        or writes.
# apply: performs exactly the operations in -Operations and nothing else.
#        Deciding what to change is the controller's job.
#
# -Passwords holds the desired pool passwords as one SecureString whose text
# is a JSON object of pool name to password. No password, and nothing derived
# from one except a true/false comparison, ever leaves this script: not in
# $Ansible.Result, not in a stream, not in an exception message.
#
# API reference for every IIS call below: the Microsoft.Web.Administration
# namespace (ServerManager, ApplicationPoolCollection, ApplicationPool,
# ApplicationPoolProcessModel, ApplicationPoolRecycling,
# ApplicationPoolPeriodicRestart, and the enums ProcessModelIdentityType,
# ManagedPipelineMode, StartMode and ObjectState).
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('probe', 'apply')]
    [string]$Mode,

    [string[]]$Names = @(),

    [System.Security.SecureString]$Passwords,

    [object[]]$Operations = @()
)

$ErrorActionPreference = 'Stop'

# win_powershell starts every run with Changed = $true. Clear it before any
# work so that a failure before the first mutation does not report a change.
$Ansible.Changed = $false

# The controller replaces these lines with the shared fragments: error
# wrapping, and loading and reading IIS's configuration.
# pkiops-include: _errors.ps1
# pkiops-include: _iis.ps1

# The values the contract allows, compared case-sensitively: a differently
# spelt value means the controller and this payload disagree, and PowerShell's
# own enum conversion would silently accept it (and numbers too).
$script:IdentityTypes = @('ApplicationPoolIdentity', 'NetworkService', 'LocalService', 'LocalSystem', 'SpecificUser')
$script:PipelineModes = @('Integrated', 'Classic')
$script:StartModes = @('OnDemand', 'AlwaysRunning')
$script:PasswordActions = @('keep', 'set', 'clear')
$script:RunStates = @('start', 'stop')
# Every key an operation's settings may hold, in the order they are applied.
$script:SettingNames = @(
    'managed_runtime_version',
    'pipeline_mode',
    'load_user_profile',
    'start_mode',
    'auto_start',
    'enable_32bit',
    'idle_timeout_minutes',
    'periodic_restart_minutes'
)

# How long a runtime action waits for WAS to settle a pool (see
# Wait-PoolStateSettled), and how often it looks.
$script:SettleTimeoutSeconds = 10
$script:SettlePollMilliseconds = 250

function ConvertFrom-PasswordParameter {
    # Returns the pool name -> password map, keyed case-insensitively because
    # IIS pool names are. The JSON text exists only in local variables here.
    #
    # It is parsed with JavaScriptSerializer (the parser Windows PowerShell's
    # own ConvertFrom-Json uses) rather than with the ConvertFrom-Json cmdlet:
    # PowerShell module logging, where a policy enables it, records the
    # parameter values of every cmdlet call in the event log, whereas a .NET
    # method call is not recorded. The same holds for the NetworkCredential
    # conversion, which is why no cmdlet ever receives the text or a password
    # as an argument. Script functions receive the resulting dictionary, which
    # module logging would record only as its type name.
    param(
        [AllowNull()]
        [System.Security.SecureString]$Secure
    )

    $map = [System.Collections.Generic.Dictionary[string, string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    # win_powershell passes an empty SecureString for an empty value, and the
    # controller leaves the parameter out when there are no passwords.
    if ($null -eq $Secure -or $Secure.Length -eq 0) {
        return $map
    }

    # Loaded outside the try below so that a failure to load it keeps
    # Windows' message; it is part of the .NET Framework 4 that Windows
    # PowerShell 5.1 runs on.
    Add-Type -AssemblyName 'System.Web.Extensions, Version=4.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35'

    $text = $null
    $parsed = $null
    try {
        try {
            $text = [System.Net.NetworkCredential]::new('', $Secure).Password
            $parsed = [System.Web.Script.Serialization.JavaScriptSerializer]::new().DeserializeObject($text)
        }
        catch {
            # Deliberately neither Windows' message nor the inner exception:
            # the JSON reader quotes the text it could not parse, and that
            # text is the secret.
            throw [System.ArgumentException]::new('The Passwords parameter could not be read as JSON. Its content is not shown because it holds passwords.')
        }

        # DeserializeObject returns a Dictionary[string, object] for a JSON
        # object, and a string, number, array or $null for anything else.
        if ($parsed -isnot [System.Collections.IDictionary]) {
            throw [System.ArgumentException]::new('The Passwords parameter must be a JSON object of application pool name to password.')
        }
        foreach ($entry in $parsed.GetEnumerator()) {
            $poolName = [string]$entry.Key
            # Pool names are not secret; the messages name the pool only.
            if ($entry.Value -isnot [string]) {
                throw [System.ArgumentException]::new("The password for application pool '$poolName' in the Passwords parameter is not a JSON string.")
            }
            if ($map.ContainsKey($poolName)) {
                throw [System.ArgumentException]::new("The Passwords parameter lists application pool '$poolName' more than once (IIS pool names are not case-sensitive).")
            }
            $map.Add($poolName, $entry.Value)
        }
    }
    finally {
        # Strings cannot be wiped, but dropping the references lets the
        # garbage collector reclaim the plaintext as early as possible.
        $text = $null
        $parsed = $null
    }
    $map
}

function Wait-PoolStateSettled {
    # Start() on a pool that is already starting or started, and Stop() on
    # one already stopping or stopped, can fail; Recycle() fails unless the
    # pool is started. A
    # pool created by this run's commit is unknown to WAS until WAS has read
    # the changed configuration, and one with autoStart is then started by
    # WAS on its own. So wait, within a bound, for Started or Stopped before
    # deciding; after the bound, return whatever was last seen and let the
    # action itself report Windows' error if it still fails.
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ApplicationPool]$Pool
    )

    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $state = Get-PoolState -Pool $Pool
        if ($state -ceq 'Started' -or $state -ceq 'Stopped') {
            return $state
        }
        if ($clock.Elapsed.TotalSeconds -ge $script:SettleTimeoutSeconds) {
            return $state
        }
        Start-Sleep -Milliseconds $script:SettlePollMilliseconds
    }
}

function Get-PoolInfo {
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ApplicationPool]$Pool,

        # The name as the caller gave it; the password map is keyed by it.
        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string]$RequestedName,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.Dictionary[string, string]]$PasswordMap
    )

    $processModel = $Pool.ProcessModel

    # The getter returns the decrypted password. It is only measured and
    # compared here; neither it nor the desired one leaves this function.
    $storedPassword = [string]$processModel.Password
    $passwordSet = $storedPassword.Length -gt 0
    $passwordMatches = $null
    if ($PasswordMap.ContainsKey($RequestedName)) {
        # Passwords are case-sensitive, and an ordinal comparison is the only
        # one that compares exactly the characters IIS will use to log on.
        $passwordMatches = [string]::Equals($storedPassword, $PasswordMap[$RequestedName], [System.StringComparison]::Ordinal)
    }
    $storedPassword = $null

    # Enums are returned as their names: win_powershell would otherwise turn
    # each one into a dictionary of type, name and number.
    @{
        exists = $true
        name = [string]$Pool.Name
        state = Get-PoolState -Pool $Pool
        # '' is how IIS stores "No Managed Code".
        managed_runtime_version = [string]$Pool.ManagedRuntimeVersion
        pipeline_mode = [string]$Pool.ManagedPipelineMode
        identity_type = [string]$processModel.IdentityType
        username = [string]$processModel.UserName
        password_set = $passwordSet
        password_matches = $passwordMatches
        load_user_profile = [bool]$processModel.LoadUserProfile
        start_mode = [string]$Pool.StartMode
        auto_start = [bool]$Pool.AutoStart
        enable_32bit = [bool]$Pool.Enable32BitAppOnWin64
        # Truncate before [int]: PowerShell's [int] rounds (half to even),
        # and the contract reports whole minutes, dropping any seconds.
        idle_timeout_minutes = [int][System.Math]::Truncate($processModel.IdleTimeout.TotalMinutes)
        periodic_restart_minutes = [int][System.Math]::Truncate($Pool.Recycling.PeriodicRestart.Time.TotalMinutes)
    }
}

function Invoke-Probe {
    param(
        [AllowEmptyCollection()]
        [string[]]$PoolNames,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.Dictionary[string, string]]$PasswordMap
    )

    $Ansible.Changed = $false

    # Without IIS there is nothing to read, and that is an answer, not a
    # failure: in check mode the controller may be looking at a host whose
    # IIS an earlier, skipped task would have installed.
    try {
        Import-WebAdministration
    }
    catch {
        $Ansible.Result = @{
            iis_installed = $false
            error = (Get-UnderlyingException -ErrorRecord $_).Message
            pools = @{}
        }
        return
    }

    $manager = $null
    try {
        $manager = Open-ServerManager
    }
    catch {
        $cause = Get-UnderlyingException -ErrorRecord $_
        if (Test-IisAbsentError -Exception $cause) {
            $Ansible.Result = @{
                iis_installed = $false
                error = $cause.Message
                pools = @{}
            }
            return
        }
        throw (New-ContextException -Context 'Cannot open the IIS configuration (ServerManager)' -ErrorRecord $_)
    }

    try {
        $pools = @{}
        foreach ($name in $PoolNames) {
            $pool = Find-AppPool -Manager $manager -Name $name
            if ($null -eq $pool) {
                $pools[$name] = @{ exists = $false }
                continue
            }
            try {
                $pools[$name] = Get-PoolInfo -Pool $pool -RequestedName $name -PasswordMap $PasswordMap
            }
            catch {
                throw (New-ContextException -Context "Cannot read application pool '$name'" -ErrorRecord $_)
            }
        }
    }
    finally {
        $manager.Dispose()
    }

    $Ansible.Result = @{
        iis_installed = $true
        pools = $pools
    }
}

function Test-Integer {
    # JSON numbers reach the script as Int32 or Int64. [bool], [double] and
    # numeric strings are refused rather than converted, so that a
    # controller bug cannot turn into a silently different setting.
    param(
        [AllowNull()]
        [object]$Value
    )

    ($Value -is [int] -or $Value -is [long]) -and $Value -ge 0 -and $Value -le [int]::MaxValue
}

function Get-SettingPlan {
    # Validates an operation's settings; returns them as a list of
    # name/value pairs in the order they will be applied.
    param(
        [AllowNull()]
        [object]$Settings,

        [Parameter(Mandatory)]
        [string]$Label
    )

    $result = [System.Collections.Generic.List[object]]::new()
    if ($null -eq $Settings) {
        return , $result
    }
    if ($Settings -isnot [System.Collections.IDictionary]) {
        throw "Invalid ${Label}: settings must be a dictionary."
    }
    foreach ($key in @($Settings.Keys)) {
        if ($script:SettingNames -cnotcontains [string]$key) {
            throw "Invalid ${Label}: unknown setting '$key'; the settings are $($script:SettingNames -join ', ')."
        }
    }

    foreach ($name in $script:SettingNames) {
        if (-not $Settings.Contains($name)) {
            continue
        }
        $value = $Settings[$name]
        $valid = switch -CaseSensitive ($name) {
            'managed_runtime_version' { $value -is [string] }
            'pipeline_mode' { $value -is [string] -and $script:PipelineModes -ccontains $value }
            'start_mode' { $value -is [string] -and $script:StartModes -ccontains $value }
            'idle_timeout_minutes' { Test-Integer -Value $value }
            'periodic_restart_minutes' { Test-Integer -Value $value }
            default { $value -is [bool] }
        }
        if (-not $valid) {
            $expected = switch -CaseSensitive ($name) {
                'managed_runtime_version' { "a string ('' for no managed code)" }
                'pipeline_mode' { "one of $($script:PipelineModes -join ', ')" }
                'start_mode' { "one of $($script:StartModes -join ', ')" }
                'idle_timeout_minutes' { 'a whole number of minutes, 0 or more' }
                'periodic_restart_minutes' { 'a whole number of minutes, 0 or more' }
                default { 'true or false' }
            }
            throw "Invalid ${Label}: setting $name is '$value'; it must be $expected."
        }
        $result.Add([pscustomobject]@{
                Name = $name
                Value = $value
            })
    }
    , $result
}

function Get-IdentityPlan {
    # Validates an operation's identity; returns $null when the identity is
    # not to be touched.
    param(
        [AllowNull()]
        [object]$Identity,

        [Parameter(Mandatory)]
        [string]$PoolName,

        [Parameter(Mandatory)]
        [string]$Label,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.Dictionary[string, string]]$PasswordMap
    )

    if ($null -eq $Identity) {
        return $null
    }
    if ($Identity -isnot [System.Collections.IDictionary]) {
        throw "Invalid ${Label}: identity must be a dictionary with the keys type, username and password."
    }

    $type = $Identity['type']
    $userName = $Identity['username']
    $password = $Identity['password']

    if ($type -isnot [string] -or $script:IdentityTypes -cnotcontains $type) {
        throw "Invalid ${Label}: identity type '$type' must be one of $($script:IdentityTypes -join ', ')."
    }
    if ($password -isnot [string] -or $script:PasswordActions -cnotcontains $password) {
        # The value is not quoted: were a controller bug ever to put a real
        # password here, the message would publish it.
        throw "Invalid ${Label}: identity password must be one of $($script:PasswordActions -join ', ') (the password itself travels in the Passwords parameter)."
    }
    if ($null -ne $userName -and $userName -isnot [string]) {
        throw "Invalid ${Label}: identity username must be a string or null."
    }

    if ($type -ceq 'SpecificUser') {
        if ([string]::IsNullOrWhiteSpace($userName)) {
            throw "Invalid ${Label}: identity type SpecificUser needs a username."
        }
        # Checked before the first change so that a missing password cannot
        # leave the configuration half-updated. The message says only that
        # the entry is missing.
        if ($password -ceq 'set' -and -not $PasswordMap.ContainsKey($PoolName)) {
            throw "Invalid ${Label}: identity password is 'set' but the Passwords parameter holds no password for application pool '$PoolName'."
        }
    }
    else {
        # A built-in identity has no account name or password of its own;
        # both are cleared whatever 'password' says, so a username or 'set'
        # here means the controller meant something else.
        if (-not [string]::IsNullOrEmpty($userName)) {
            throw "Invalid ${Label}: identity type $type takes no username."
        }
        if ($password -ceq 'set') {
            throw "Invalid ${Label}: identity type $type takes no password."
        }
    }

    [pscustomobject]@{
        Type = $type
        UserName = if ($type -ceq 'SpecificUser') { $userName } else { '' }
        Password = if ($type -ceq 'SpecificUser') { $password } else { 'clear' }
    }
}

function Get-OperationPlan {
    # Validates every operation before the first change, so malformed input
    # cannot leave the configuration half-updated.
    param(
        [AllowEmptyCollection()]
        [object[]]$OperationList,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.Dictionary[string, string]]$PasswordMap
    )

    $plan = [System.Collections.Generic.List[object]]::new()
    $seen = [System.Collections.Generic.Dictionary[string, int]]::new([System.StringComparer]::OrdinalIgnoreCase)
    $index = 0
    foreach ($op in $OperationList) {
        if ($op -isnot [System.Collections.IDictionary]) {
            throw "Operation #$index is not a dictionary with the keys pool, action, settings, identity, run_state and recycle."
        }
        $poolName = $op['pool']
        $action = $op['action']
        $label = "operation #$index (pool '$poolName', action '$action')"

        if ($poolName -isnot [string] -or [string]::IsNullOrEmpty($poolName)) {
            throw "Invalid ${label}: pool must be a non-empty string."
        }
        if ($action -isnot [string] -or @('create', 'update', 'remove') -cnotcontains $action) {
            throw "Invalid ${label}: action must be 'create', 'update' or 'remove'."
        }
        # One operation per pool: two would make the result depend on their
        # order (for example remove then create) in ways the controller never
        # plans, and 'applied' could not say which of them ran.
        if ($seen.ContainsKey($poolName)) {
            throw "Invalid ${label}: application pool '$poolName' is also the target of operation #$($seen[$poolName]) (IIS pool names are not case-sensitive)."
        }
        $seen.Add($poolName, $index)

        $settings = Get-SettingPlan -Settings $op['settings'] -Label $label
        $identity = Get-IdentityPlan -Identity $op['identity'] -PoolName $poolName -Label $label -PasswordMap $PasswordMap

        $runState = $op['run_state']
        if ($null -ne $runState -and ($runState -isnot [string] -or $script:RunStates -cnotcontains $runState)) {
            throw "Invalid ${label}: run_state must be 'start', 'stop' or null."
        }
        $recycle = $op['recycle']
        if ($null -eq $recycle) {
            $recycle = $false
        }
        if ($recycle -isnot [bool]) {
            throw "Invalid ${label}: recycle must be true or false."
        }

        if ($action -ceq 'remove' -and ($settings.Count -gt 0 -or $null -ne $identity -or $null -ne $runState -or $recycle)) {
            throw "Invalid ${label}: a removal takes no settings, identity, run_state or recycle."
        }

        $plan.Add([pscustomobject]@{
                Pool = $poolName
                Action = $action
                Settings = $settings
                Identity = $identity
                RunState = $runState
                Recycle = $recycle
                Label = $label
                # Set while applying: whether ShouldProcess declined the
                # configuration change, and the step's entry in 'applied'.
                Declined = $false
                Entry = $null
            })
        $index++
    }
    , $plan
}

function Set-PoolSetting {
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ApplicationPool]$Pool,

        [Parameter(Mandatory)]
        [string]$Name,

        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [object]$Value
    )

    # The values were validated against the contract's names, so the enum
    # conversions below cannot fall back to PowerShell's lenient parsing.
    switch -CaseSensitive ($Name) {
        'managed_runtime_version' { $Pool.ManagedRuntimeVersion = [string]$Value }
        'pipeline_mode' { $Pool.ManagedPipelineMode = [Microsoft.Web.Administration.ManagedPipelineMode]$Value }
        'load_user_profile' { $Pool.ProcessModel.LoadUserProfile = [bool]$Value }
        'start_mode' { $Pool.StartMode = [Microsoft.Web.Administration.StartMode]$Value }
        'auto_start' { $Pool.AutoStart = [bool]$Value }
        'enable_32bit' { $Pool.Enable32BitAppOnWin64 = [bool]$Value }
        # IIS validates the range (and a granularity for some attributes)
        # when the value is set; its message then names the limits.
        'idle_timeout_minutes' { $Pool.ProcessModel.IdleTimeout = [System.TimeSpan]::FromMinutes($Value) }
        'periodic_restart_minutes' { $Pool.Recycling.PeriodicRestart.Time = [System.TimeSpan]::FromMinutes($Value) }
        default { throw "Unknown setting '$Name'." }
    }
}

function Set-PoolIdentity {
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ApplicationPool]$Pool,

        [Parameter(Mandatory)]
        [pscustomobject]$Identity,

        [Parameter(Mandatory)]
        [string]$PoolName,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.Dictionary[string, string]]$PasswordMap
    )

    $processModel = $Pool.ProcessModel
    try {
        $processModel.IdentityType = [Microsoft.Web.Administration.ProcessModelIdentityType]$Identity.Type
        $processModel.UserName = $Identity.UserName
    }
    catch {
        throw (New-ContextException -Context "Cannot set the identity of application pool '$PoolName' to $($Identity.Type)" -ErrorRecord $_)
    }

    if ($Identity.Password -ceq 'keep') {
        return
    }
    try {
        if ($Identity.Password -ceq 'set') {
            # Read from the map at the point of use, so that the password is
            # never a function argument. IIS encrypts it when the
            # configuration is committed.
            $processModel.Password = $PasswordMap[$PoolName]
        }
        else {
            # '' is what a group managed service account and the built-in
            # identities need: WAS then logs on without a password.
            $processModel.Password = ''
        }
    }
    catch {
        # Windows' message is left out on purpose, and so is the inner
        # exception: a validation message could quote the rejected value.
        # The exception type and HRESULT are enough to look the cause up.
        $cause = Get-UnderlyingException -ErrorRecord $_
        throw [System.InvalidOperationException]::new(
            ("Cannot set the password of application pool '{0}' ({1}, HRESULT {2}). Windows' message is not shown because it could contain the password." -f $PoolName, $cause.GetType().FullName, (Format-HResult -Exception $cause)))
    }
}

function Invoke-ConfigurationStep {
    # Makes one operation's configuration change on the shared ServerManager
    # (in memory only; nothing is saved until CommitChanges). Returns $true
    # when something is now waiting to be committed.
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ServerManager]$Manager,

        [Parameter(Mandatory)]
        [pscustomobject]$Step,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.Dictionary[string, string]]$PasswordMap,

        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]$Cmdlet
    )

    $target = "IIS application pool '$($Step.Pool)'"
    $existing = Find-AppPool -Manager $Manager -Name $Step.Pool

    if ($Step.Action -ceq 'create') {
        if ($null -ne $existing) {
            throw "Cannot create application pool '$($Step.Pool)': IIS already has a pool named '$($existing.Name)'."
        }
    }
    elseif ($null -eq $existing) {
        throw "Cannot $($Step.Action) application pool '$($Step.Pool)': IIS has no pool of that name."
    }

    if ($Step.Action -ceq 'remove') {
        if (-not $Cmdlet.ShouldProcess($target, 'Remove')) {
            $Step.Declined = $true
            return $false
        }
        try {
            $Manager.ApplicationPools.Remove($existing)
        }
        catch {
            throw (New-ContextException -Context "Cannot remove application pool '$($Step.Pool)'" -ErrorRecord $_)
        }
        return $true
    }

    # An update with neither settings nor identity only carries runtime
    # actions; it changes no configuration and needs no commit.
    if ($Step.Action -ceq 'update' -and $Step.Settings.Count -eq 0 -and $null -eq $Step.Identity) {
        return $false
    }

    $parts = [System.Collections.Generic.List[string]]::new()
    foreach ($setting in $Step.Settings) {
        $parts.Add($setting.Name)
    }
    if ($null -ne $Step.Identity) {
        $parts.Add("identity $($Step.Identity.Type)")
    }
    $verb = if ($Step.Action -ceq 'create') { 'Create' } else { 'Update' }
    if ($parts.Count -gt 0) {
        $verb = '{0} ({1})' -f $verb, ($parts -join ', ')
    }
    if (-not $Cmdlet.ShouldProcess($target, $verb)) {
        $Step.Declined = $true
        return $false
    }

    $pool = $existing
    if ($Step.Action -ceq 'create') {
        try {
            # A new pool starts from applicationPoolDefaults; only the
            # settings in the operation are then set on it.
            $pool = $Manager.ApplicationPools.Add($Step.Pool)
        }
        catch {
            throw (New-ContextException -Context "Cannot create application pool '$($Step.Pool)'" -ErrorRecord $_)
        }
    }

    foreach ($setting in $Step.Settings) {
        try {
            Set-PoolSetting -Pool $pool -Name $setting.Name -Value $setting.Value
        }
        catch {
            throw (New-ContextException -Context "Cannot set $($setting.Name) of application pool '$($Step.Pool)' to '$($setting.Value)'" -ErrorRecord $_)
        }
    }
    if ($null -ne $Step.Identity) {
        Set-PoolIdentity -Pool $pool -Identity $Step.Identity -PoolName $Step.Pool -PasswordMap $PasswordMap
    }
    $true
}

function Add-AppliedEntry {
    # The step's entry in 'applied', created on first use: when its
    # configuration change has been committed, when its first runtime action
    # has run, or when it is finished, whichever comes first. A step that
    # ShouldProcess declined never gets one.
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Step,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$Applied
    )

    if ($null -eq $Step.Entry) {
        $Step.Entry = @{
            pool = $Step.Pool
            action = $Step.Action
            runtime = [System.Collections.Generic.List[object]]::new()
        }
        $Applied.Add($Step.Entry)
    }
    $Step.Entry
}

function Invoke-RuntimeStep {
    # Starts, stops or recycles one pool in WAS. Runs after the commit; see
    # Invoke-Apply for why. Returns $false if ShouldProcess declined an
    # action, $true otherwise (including when nothing needed doing).
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ServerManager]$Manager,

        [Parameter(Mandatory)]
        [pscustomobject]$Step,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$Applied,

        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]$Cmdlet
    )

    $pool = Find-AppPool -Manager $Manager -Name $Step.Pool
    if ($null -eq $pool) {
        # Possible only if something else removed the pool after the commit.
        $what = if ($null -ne $Step.RunState) { $Step.RunState } else { 'recycle' }
        throw "Cannot $what application pool '$($Step.Pool)': IIS has no pool of that name."
    }
    $target = "IIS application pool '$($Step.Pool)'"
    $completed = $true

    if ($null -ne $Step.RunState) {
        $state = Wait-PoolStateSettled -Pool $pool
        $needed = if ($Step.RunState -ceq 'start') { $state -cne 'Started' } else { $state -cne 'Stopped' }
        $verb = if ($Step.RunState -ceq 'start') { 'Start' } else { 'Stop' }
        if ($needed -and -not $Cmdlet.ShouldProcess($target, $verb)) {
            $completed = $false
        }
        elseif ($needed) {
            try {
                if ($Step.RunState -ceq 'start') {
                    $null = $pool.Start()
                }
                else {
                    $null = $pool.Stop()
                }
            }
            catch {
                throw (New-ContextException -Context "Cannot $($Step.RunState) application pool '$($Step.Pool)' (ApplicationPool.$verb, state was $state)" -ErrorRecord $_)
            }
            (Add-AppliedEntry -Step $Step -Applied $Applied)['runtime'].Add($Step.RunState)
            $Ansible.Changed = $true

            # Start() returns once WAS has the request; a pool whose identity
            # cannot log on (wrong password, locked account, no batch logon
            # right) is stopped again by WAS. Without this check every run
            # would start it again and report success.
            if ($Step.RunState -ceq 'start') {
                $settled = Wait-PoolStateSettled -Pool $pool
                if ($settled -cne 'Started') {
                    throw "Application pool '$($Step.Pool)' did not start (state $settled). Its identity may be unable to log on; the System event log (WAS events 5021, 5057 and 5059) says why."
                }
            }
        }
    }

    if ($Step.Recycle) {
        # Recycling restarts the worker processes so that they run with the
        # committed identity. A pool that is not started has none to restart,
        # and Recycle() on it throws.
        $state = Wait-PoolStateSettled -Pool $pool
        if ($state -ceq 'Started' -and -not $Cmdlet.ShouldProcess($target, 'Recycle')) {
            $completed = $false
        }
        elseif ($state -ceq 'Started') {
            try {
                $null = $pool.Recycle()
            }
            catch {
                throw (New-ContextException -Context "Cannot recycle application pool '$($Step.Pool)' (ApplicationPool.Recycle)" -ErrorRecord $_)
            }
            (Add-AppliedEntry -Step $Step -Applied $Applied)['runtime'].Add('recycle')
            $Ansible.Changed = $true
        }
    }
    $completed
}

function Invoke-Apply {
    param(
        [AllowEmptyCollection()]
        [object[]]$OperationList,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.Dictionary[string, string]]$PasswordMap,

        # The script's own PSCmdlet, so that ShouldProcess honours the
        # -WhatIf and -Confirm values the script was invoked with.
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]$Cmdlet
    )

    $applied = [System.Collections.Generic.List[object]]::new()
    # Published before any change, and filled in as work succeeds, so that
    # if a step fails the result still shows exactly what was done.
    $Ansible.Changed = $false
    $Ansible.Result = @{
        applied = $applied
    }

    $plan = Get-OperationPlan -OperationList $OperationList -PasswordMap $PasswordMap
    if ($plan.Count -eq 0) {
        return
    }

    try {
        Import-WebAdministration
    }
    catch {
        throw (New-ContextException -Context "Cannot load Microsoft.Web.Administration; is IIS (the Web-Server feature) installed?" -ErrorRecord $_)
    }

    # Phase 1: every configuration change on one ServerManager, saved by one
    # CommitChanges(). applicationHost.config is then written once, so WAS
    # reacts to one coherent change instead of a sequence of intermediate
    # states (for example a pool briefly running under its new account with
    # its old password), and a failing operation leaves nothing saved at all.
    $manager = $null
    try {
        $manager = Open-ServerManager
    }
    catch {
        throw (New-ContextException -Context 'Cannot open the IIS configuration (ServerManager)' -ErrorRecord $_)
    }
    $pending = [System.Collections.Generic.List[object]]::new()
    try {
        foreach ($step in $plan) {
            if (Invoke-ConfigurationStep -Manager $manager -Step $step -PasswordMap $PasswordMap -Cmdlet $Cmdlet) {
                $pending.Add($step)
            }
        }
        if ($pending.Count -gt 0) {
            try {
                $manager.CommitChanges()
            }
            catch {
                $names = ($pending | ForEach-Object { "'$($_.Pool)'" }) -join ', '
                throw (New-ContextException -Context "Cannot save the IIS configuration for application pools $names (ServerManager.CommitChanges)" -ErrorRecord $_)
            }
            $Ansible.Changed = $true
            foreach ($step in $pending) {
                $null = Add-AppliedEntry -Step $step -Applied $applied
            }
        }
    }
    finally {
        $manager.Dispose()
    }

    # Phase 2: runtime actions, only after the commit. WAS acts on the saved
    # configuration, not on a ServerManager's unsaved objects, so a pool
    # created above does not exist for WAS before the commit, and a pool
    # started or recycled before it would run under the old identity. A new
    # ServerManager is used because Microsoft.Web.Administration makes the
    # objects of a manager that has committed read-only, and a new one reads
    # the configuration exactly as it was saved.
    $manager = $null
    try {
        foreach ($step in $plan) {
            if ($step.Declined -or $step.Action -ceq 'remove') {
                continue
            }
            $completed = $true
            if ($null -ne $step.RunState -or $step.Recycle) {
                # Opened only when some pool needs WAS, so that an apply
                # without runtime actions reads the configuration once.
                if ($null -eq $manager) {
                    try {
                        $manager = Open-ServerManager
                    }
                    catch {
                        throw (New-ContextException -Context 'Cannot open the IIS configuration (ServerManager) to start, stop or recycle application pools' -ErrorRecord $_)
                    }
                }
                $completed = Invoke-RuntimeStep -Manager $manager -Step $step -Applied $applied -Cmdlet $Cmdlet
            }
            if ($completed) {
                $null = Add-AppliedEntry -Step $step -Applied $applied
            }
        }
    }
    finally {
        if ($null -ne $manager) {
            $manager.Dispose()
        }
    }
}

$passwordMap = ConvertFrom-PasswordParameter -Secure $Passwords

if ($Mode -eq 'probe') {
    Invoke-Probe -PoolNames $Names -PasswordMap $passwordMap
}
else {
    Invoke-Apply -OperationList $Operations -PasswordMap $passwordMap -Cmdlet $PSCmdlet
}
