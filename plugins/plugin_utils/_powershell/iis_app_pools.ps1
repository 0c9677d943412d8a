# pkiops-payload: iis_app_pools
#
# Reads or changes IIS application pools through Microsoft.Web.Administration
# (the managed API over applicationHost.config and the Windows Process
# Activation Service, WAS).
#
# probe: read only. Reports each pool in -Names, or that IIS is not installed,
#        and the SID of each account in -Accounts. Safe under -WhatIf:
#        nothing in this mode is gated by ShouldProcess or writes.
# apply: performs exactly the operations in -Operations and nothing else.
#        Deciding what to change is the controller's job. Before the first
#        change it checks that every account whose password is to be set can
#        log on with it, as WAS will log it on; under -WhatIf, which declines
#        every change, it logs no account on.
#
# -Passwords holds the desired pool passwords as one SecureString whose text
# is a JSON object of pool name to password. No password, and nothing derived
# from one except a true/false comparison or a Windows error code, ever leaves
# this script: not in $Ansible.Result, not in a stream, not in an exception
# message. Passwords reach .NET methods only, never a cmdlet.
#
# API reference for every IIS call below: the Microsoft.Web.Administration
# namespace (ServerManager, ApplicationPoolCollection, ApplicationPool,
# ApplicationPoolProcessModel, ApplicationPoolRecycling,
# ApplicationPoolPeriodicRestart, ConfigurationElement, and the enums
# ProcessModelIdentityType, ManagedPipelineMode, StartMode and ObjectState).
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('probe', 'apply')]
    [string]$Mode,

    [string[]]$Names = @(),

    # The SpecificUser account names to resolve to SIDs in probe mode.
    [string[]]$Accounts = @(),

    [System.Security.SecureString]$Passwords,

    [object[]]$Operations = @()
)

$ErrorActionPreference = 'Stop'

# win_powershell starts every run with Changed = $true. Clear it before any
# work so that a failure before the first mutation does not report a change.
$Ansible.Changed = $false

# The controller replaces these lines with the shared fragments: error
# wrapping, resolving account names to SIDs, and loading and reading IIS's
# configuration.
# pkiops-include: _errors.ps1
# pkiops-include: _principals.ps1
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

# Checks an account's credentials the way WAS uses them: LogonUser with the
# pool's logon type (processModel.logonType: batch unless set to service).
# WAS only logs the identity on when the pool's first worker process starts,
# which for an OnDemand pool is at its first request (events 5021, 5057), so
# a pool that Start() reports as started proves nothing about its account.
# Compiled only when a password is to be set (see Import-PoolLogonType).
#
# Windows API reference: LogonUserW and CloseHandle (winbase.h, handleapi.h),
# GetTokenInformation with TokenGroups (securitybaseapi.h; TOKEN_GROUPS and
# SID_AND_ATTRIBUTES in winnt.h), LsaOpenPolicy, LsaEnumerateAccountRights,
# LsaFreeMemory, LsaClose and LsaNtStatusToWinError (ntsecapi.h). The
# password is a parameter of TestLogon and GetGroupSids only; the methods
# return an error code, group SIDs or right names.
$script:PoolLogonSource = @'
using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Security.Principal;
using Microsoft.Win32.SafeHandles;

namespace Pkiops.KeyfactorCommand.IisAppPools
{
    // The token LogonUser returns; closed with CloseHandle even if the caller
    // forgets to dispose it. The marshaller creates it through the
    // parameterless constructor.
    internal sealed class SafeLogonTokenHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        private SafeLogonTokenHandle() : base(true) { }

        [DllImport("kernel32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool CloseHandle(IntPtr handle);

        protected override bool ReleaseHandle()
        {
            return CloseHandle(handle);
        }
    }

    public static class PoolLogon
    {
        // dwLogonType values of LogonUser (winbase.h).
        public const int LOGON32_LOGON_BATCH = 4;
        public const int LOGON32_LOGON_SERVICE = 5;
        private const int LOGON32_LOGON_NETWORK = 3;
        private const int LOGON32_PROVIDER_DEFAULT = 0;

        // TOKEN_INFORMATION_CLASS.TokenGroups (winnt.h).
        private const int TokenGroups = 2;
        // SID_AND_ATTRIBUTES.Attributes of the logon SID, which names the
        // logon session rather than a group (winnt.h).
        private const uint SE_GROUP_LOGON_ID = 0xC0000000;
        private const int ERROR_INSUFFICIENT_BUFFER = 122;
        private const int ERROR_LOGON_TYPE_NOT_GRANTED = 1385;

        // LsaOpenPolicy access: LsaEnumerateAccountRights needs POLICY_LOOKUP_NAMES.
        private const uint POLICY_LOOKUP_NAMES = 0x00000800;
        // LsaEnumerateAccountRights returns this for an account that holds no right.
        private const int STATUS_OBJECT_NAME_NOT_FOUND = unchecked((int)0xC0000034);

        [StructLayout(LayoutKind.Sequential)]
        private struct LSA_OBJECT_ATTRIBUTES
        {
            public uint Length;
            public IntPtr RootDirectory;
            public IntPtr ObjectName;
            public uint Attributes;
            public IntPtr SecurityDescriptor;
            public IntPtr SecurityQualityOfService;
        }

        // LSA_UNICODE_STRING as the LSA returns it; Length is in bytes.
        [StructLayout(LayoutKind.Sequential)]
        private struct LSA_UNICODE_STRING
        {
            public ushort Length;
            public ushort MaximumLength;
            public IntPtr Buffer;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct SID_AND_ATTRIBUTES
        {
            public IntPtr Sid;
            public uint Attributes;
        }

        // TOKEN_GROUPS with the first entry of its array, so that
        // Marshal.OffsetOf tells where the array starts on this platform.
        [StructLayout(LayoutKind.Sequential)]
        private struct TOKEN_GROUPS
        {
            public uint GroupCount;
            public SID_AND_ATTRIBUTES Groups;
        }

        [DllImport("advapi32.dll", EntryPoint = "LogonUserW", CharSet = CharSet.Unicode, ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool LogonUser(string lpszUsername, string lpszDomain, string lpszPassword,
            int dwLogonType, int dwLogonProvider, out SafeLogonTokenHandle phToken);

        [DllImport("advapi32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool GetTokenInformation(SafeLogonTokenHandle TokenHandle, int TokenInformationClass,
            IntPtr TokenInformation, int TokenInformationLength, out int ReturnLength);

        [DllImport("advapi32.dll", ExactSpelling = true)]
        private static extern int LsaOpenPolicy(IntPtr SystemName, ref LSA_OBJECT_ATTRIBUTES ObjectAttributes,
            uint DesiredAccess, out IntPtr PolicyHandle);

        [DllImport("advapi32.dll", ExactSpelling = true)]
        private static extern int LsaEnumerateAccountRights(IntPtr PolicyHandle, byte[] AccountSid,
            out IntPtr UserRights, out uint CountOfRights);

        [DllImport("advapi32.dll", ExactSpelling = true)]
        private static extern int LsaFreeMemory(IntPtr Buffer);

        [DllImport("advapi32.dll", ExactSpelling = true)]
        private static extern int LsaClose(IntPtr ObjectHandle);

        [DllImport("advapi32.dll", ExactSpelling = true)]
        private static extern int LsaNtStatusToWinError(int Status);

        // 0 when the account logs on with this password and logon type,
        // otherwise the Win32 error code (for example 1326 for a wrong user
        // name or password, 1385 for a logon type the account is not
        // granted). The token is closed at once; nothing else is kept.
        // domain may be null, for a user name in UPN form.
        public static int TestLogon(string userName, string domain, string password, int logonType)
        {
            if (userName == null)
            {
                throw new ArgumentNullException("userName");
            }
            if (password == null)
            {
                throw new ArgumentNullException("password");
            }
            if (logonType != LOGON32_LOGON_BATCH && logonType != LOGON32_LOGON_SERVICE)
            {
                throw new ArgumentOutOfRangeException("logonType");
            }

            SafeLogonTokenHandle token;
            bool loggedOn = LogonUser(userName, domain, password, logonType, LOGON32_PROVIDER_DEFAULT, out token);
            int error = loggedOn ? 0 : Marshal.GetLastWin32Error();
            if (token != null)
            {
                token.Dispose();
            }
            return error;
        }

        // The groups in the token Windows gives the account (the SIDs of its
        // TokenGroups but the logon SID): its domain and local groups and the
        // well-known groups of the logon. Read from a network logon, the one
        // that needs the least ("Access this computer from the network"), as
        // the logon that the pool's logon type needs may be refused. null
        // when that network logon is refused with ERROR_LOGON_TYPE_NOT_GRANTED;
        // any other failure throws a Win32Exception with Windows' code. The
        // token is closed at once. domain may be null, for a name in UPN form.
        public static SecurityIdentifier[] GetGroupSids(string userName, string domain, string password)
        {
            if (userName == null)
            {
                throw new ArgumentNullException("userName");
            }
            if (password == null)
            {
                throw new ArgumentNullException("password");
            }

            SafeLogonTokenHandle token;
            bool loggedOn = LogonUser(userName, domain, password, LOGON32_LOGON_NETWORK, LOGON32_PROVIDER_DEFAULT, out token);
            int error = loggedOn ? 0 : Marshal.GetLastWin32Error();
            using (token)
            {
                // The network logon only serves to read the groups; it is
                // policed on its own (a network logon may be denied, or
                // restricted, where a batch or service logon is not), so
                // any refusal leaves the groups unread, never the pool.
                if (error != 0)
                {
                    return null;
                }
                return ReadGroupSids(token);
            }
        }

        private static SecurityIdentifier[] ReadGroupSids(SafeLogonTokenHandle token)
        {
            // The first call only asks for the size of the buffer.
            int length;
            if (!GetTokenInformation(token, TokenGroups, IntPtr.Zero, 0, out length))
            {
                int error = Marshal.GetLastWin32Error();
                if (error != ERROR_INSUFFICIENT_BUFFER)
                {
                    throw new Win32Exception(error);
                }
            }
            IntPtr buffer = Marshal.AllocHGlobal(length);
            try
            {
                if (!GetTokenInformation(token, TokenGroups, buffer, length, out length))
                {
                    throw new Win32Exception(Marshal.GetLastWin32Error());
                }
                int count = Marshal.ReadInt32(buffer);
                IntPtr first = IntPtr.Add(buffer, Marshal.OffsetOf(typeof(TOKEN_GROUPS), "Groups").ToInt32());
                int entrySize = Marshal.SizeOf(typeof(SID_AND_ATTRIBUTES));
                List<SecurityIdentifier> groups = new List<SecurityIdentifier>();
                for (int i = 0; i < count; i++)
                {
                    SID_AND_ATTRIBUTES entry = (SID_AND_ATTRIBUTES)Marshal.PtrToStructure(
                        IntPtr.Add(first, i * entrySize), typeof(SID_AND_ATTRIBUTES));
                    if ((entry.Attributes & SE_GROUP_LOGON_ID) == SE_GROUP_LOGON_ID)
                    {
                        continue;
                    }
                    // The constructor copies the SID out of the buffer.
                    groups.Add(new SecurityIdentifier(entry.Sid));
                }
                return groups.ToArray();
            }
            finally
            {
                Marshal.FreeHGlobal(buffer);
            }
        }

        // The rights and privileges assigned to the account itself (not
        // through its groups), as LsaEnumerateAccountRights lists them.
        public static string[] GetAccountRights(SecurityIdentifier sid)
        {
            if (sid == null)
            {
                throw new ArgumentNullException("sid");
            }
            byte[] binarySid = new byte[sid.BinaryLength];
            sid.GetBinaryForm(binarySid, 0);

            LSA_OBJECT_ATTRIBUTES attributes = new LSA_OBJECT_ATTRIBUTES();
            IntPtr policy;
            int status = LsaOpenPolicy(IntPtr.Zero, ref attributes, POLICY_LOOKUP_NAMES, out policy);
            if (status != 0)
            {
                throw new Win32Exception(LsaNtStatusToWinError(status));
            }
            IntPtr buffer = IntPtr.Zero;
            try
            {
                uint count;
                status = LsaEnumerateAccountRights(policy, binarySid, out buffer, out count);
                if (status == STATUS_OBJECT_NAME_NOT_FOUND)
                {
                    return new string[0];
                }
                if (status != 0)
                {
                    throw new Win32Exception(LsaNtStatusToWinError(status));
                }
                int entrySize = Marshal.SizeOf(typeof(LSA_UNICODE_STRING));
                string[] rights = new string[count];
                for (int i = 0; i < rights.Length; i++)
                {
                    LSA_UNICODE_STRING entry = (LSA_UNICODE_STRING)Marshal.PtrToStructure(
                        IntPtr.Add(buffer, i * entrySize), typeof(LSA_UNICODE_STRING));
                    rights[i] = Marshal.PtrToStringUni(entry.Buffer, entry.Length / 2);
                }
                return rights;
            }
            finally
            {
                if (buffer != IntPtr.Zero)
                {
                    LsaFreeMemory(buffer);
                }
                LsaClose(policy);
            }
        }
    }
}
'@

# BUILTIN\IIS_IUSRS: unless a pool's processModel.manualGroupMembership is
# true, WAS adds this group to the token it logs the pool identity on with,
# so a logon right the group holds is the identity's too, and so is a denial
# of that logon held by the group.
$script:IisUsersSid = 'S-1-5-32-568'
# NT AUTHORITY\NETWORK, the group of a network logon's token, which the
# token WAS logs the identity on with does not have.
$script:NetworkLogonSid = 'S-1-5-2'
# Windows' message when the last look at a pool's state could not read the
# configuration (Get-CurrentPoolState).
$script:LastPoolStateError = $null

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

function Get-CurrentPoolState {
    # The pool's run state as WAS reports it now, read through a ServerManager
    # of its own: Microsoft.Web.Administration documents State as the pool's
    # runtime state but not whether an ApplicationPool object refreshes it, so
    # each look starts from a fresh object. 'Unknown' when the configuration
    # cannot be read at that moment (it is polled right after this apply's
    # commit), when the pool is not in it (any more), or when WAS cannot
    # report the state; the caller keeps polling within its bound.
    param(
        [Parameter(Mandatory)]
        [string]$PoolName
    )

    $manager = $null
    try {
        $manager = Open-ServerManager
    }
    catch {
        # Kept for the message of a pool that never settles.
        $script:LastPoolStateError = (Get-UnderlyingException -ErrorRecord $_).Message
        return 'Unknown'
    }
    try {
        $pool = Find-AppPool -Manager $manager -Name $PoolName
        if ($null -eq $pool) {
            return 'Unknown'
        }
        Get-PoolState -Pool $pool
    }
    finally {
        $manager.Dispose()
    }
}

function Wait-PoolStateSettled {
    # Start() on a pool that is already starting or started, and Stop() on
    # one already stopping or stopped, can fail; Recycle() fails unless the
    # pool is started. A pool created by this run's commit is unknown to WAS
    # until WAS has read the changed configuration, and one with autoStart is
    # then started by WAS on its own. So wait, within a bound, for Started or
    # Stopped before deciding; after the bound, return whatever was last seen
    # and let the action itself report Windows' error if it still fails.
    param(
        [Parameter(Mandatory)]
        [string]$PoolName
    )

    $script:LastPoolStateError = $null
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $state = Get-CurrentPoolState -PoolName $PoolName
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

    # The configured account as a SID, so that .\svc, HOST\svc and
    # svc@domain compare as Windows compares them; $null when there is none
    # or it no longer resolves.
    $userName = [string]$processModel.UserName
    $sid = $null
    if ($userName.Length -gt 0) {
        $sid = (Resolve-PrincipalReference -Reference $userName)['sid']
    }

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
        username = $userName
        sid = $sid
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
        # When true, WAS does not rotate the worker process on a
        # configuration change, and a new identity needs an explicit recycle.
        disallow_rotation_on_config_change = [bool]$Pool.Recycling.DisallowRotationOnConfigChange
    }
}

function Invoke-Probe {
    param(
        [AllowEmptyCollection()]
        [string[]]$PoolNames,

        [AllowEmptyCollection()]
        [string[]]$AccountReferences,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.Dictionary[string, string]]$PasswordMap
    )

    $Ansible.Changed = $false

    # Accounts resolve whether or not IIS is there; an account that does not
    # resolve is reported with Windows' message, and the controller refuses
    # the task before any pool is created.
    $resolved = Resolve-PrincipalList -References $AccountReferences

    # Without IIS there is nothing to read, and that is an answer, not a
    # failure: in check mode the controller may be looking at a host whose
    # IIS an earlier, skipped task would have installed. Any other failure to
    # load or open IIS (access denied, a damaged applicationHost.config)
    # stays a failure.
    $manager = $null
    try {
        Import-WebAdministration
        $manager = Open-ServerManager
    }
    catch {
        $cause = Get-UnderlyingException -ErrorRecord $_
        if (Test-IisAbsentError -Exception $cause) {
            $Ansible.Result = @{
                iis_installed = $false
                error = $cause.Message
                pools = @{}
                accounts = $resolved
            }
            return
        }
        throw (New-ContextException -Context 'Cannot load or open the IIS configuration (Microsoft.Web.Administration.ServerManager)' -ErrorRecord $_)
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
        accounts = $resolved
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
                # Set while applying (see Confirm-ConfigurationStep): whether
                # ShouldProcess approved or declined the configuration
                # change, and the step's entry in 'applied'.
                Approved = $false
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

function Confirm-ConfigurationStep {
    # Before any change: checks that the operation's pool exists, or not, as
    # its action needs, and asks ShouldProcess about its configuration change.
    # Sets $Step.Approved when there is a change to make and ShouldProcess
    # agreed, $Step.Declined when it did not (always under -WhatIf). Deciding
    # every step first lets the logon check skip the steps that will change
    # nothing.
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ServerManager]$Manager,

        [Parameter(Mandatory)]
        [pscustomobject]$Step,

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
        $verb = 'Remove'
    }
    elseif ($Step.Action -ceq 'update' -and $Step.Settings.Count -eq 0 -and $null -eq $Step.Identity) {
        # An update with neither settings nor identity only carries runtime
        # actions; it changes no configuration and needs no commit.
        return
    }
    else {
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
    }
    if ($Cmdlet.ShouldProcess($target, $verb)) {
        $Step.Approved = $true
    }
    else {
        $Step.Declined = $true
    }
}

function Invoke-ConfigurationStep {
    # Makes one approved operation's configuration change on the shared
    # ServerManager (in memory only; nothing is saved until CommitChanges).
    # Returns $true when something is now waiting to be committed.
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ServerManager]$Manager,

        [Parameter(Mandatory)]
        [pscustomobject]$Step,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.Dictionary[string, string]]$PasswordMap
    )

    if (-not $Step.Approved) {
        return $false
    }
    $existing = Find-AppPool -Manager $Manager -Name $Step.Pool

    if ($Step.Action -ceq 'remove') {
        try {
            $Manager.ApplicationPools.Remove($existing)
        }
        catch {
            throw (New-ContextException -Context "Cannot remove application pool '$($Step.Pool)'" -ErrorRecord $_)
        }
        return $true
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
        $state = Wait-PoolStateSettled -PoolName $Step.Pool
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

            # Start() returns once WAS has the request, with the pool
            # Starting. A pool WAS cannot run (for example one WAS ignores,
            # or one rapid-fail protection stops) does not reach Started.
            # That an OnDemand pool reached Started does not show that its
            # identity can log on: WAS logs it on at the first request, which
            # is why the apply checks the credentials before the commit.
            # Stop() likewise leaves the pool Stopping; the wait lets it settle
            # before the next step, but a pool still draining requests after
            # the bound is not a failure.
            $settled = Wait-PoolStateSettled -PoolName $Step.Pool
            if ($Step.RunState -ceq 'start' -and $settled -cne 'Started') {
                $readError = if ($settled -ceq 'Unknown' -and $null -ne $script:LastPoolStateError) { "; the configuration could not be read: $script:LastPoolStateError" } else { '' }
                throw "Application pool '$($Step.Pool)' did not start (state $settled after ApplicationPool.Start); the System event log (source WAS) says why$readError."
            }
        }
    }

    if ($Step.Recycle) {
        # Planned only for a pool whose recycling.disallowRotationOnConfigChange
        # is true: WAS then keeps the old worker process after the commit, and
        # recycling makes it run with the committed identity. A pool that is
        # not started has none to restart, and Recycle() on it throws.
        $state = Wait-PoolStateSettled -PoolName $Step.Pool
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

function Import-PoolLogonType {
    # Add-Type cannot redefine a type already loaded in this process (a second
    # payload run in the same PowerShell host), so compile only when missing.
    if (-not ([System.Management.Automation.PSTypeName]'Pkiops.KeyfactorCommand.IisAppPools.PoolLogon').Type) {
        Add-Type -TypeDefinition $script:PoolLogonSource
    }
}

function Get-PoolLogonSetting {
    # How WAS will log the pool's identity on: processModel.logonType
    # (LogonBatch = 0, the default, or LogonService = 1) and
    # processModel.manualGroupMembership. A pool this apply creates inherits
    # them from applicationPoolDefaults. Read through
    # ConfigurationElement.GetAttributeValue, by the attribute names of the
    # IIS configuration schema, which has both from IIS 7.5 on: a failure to
    # read them is a failure, not a reason to assume a batch logon.
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ServerManager]$Manager,

        [Parameter(Mandatory)]
        [string]$PoolName
    )

    $logonType = $null
    $manual = $null
    try {
        $pool = Find-AppPool -Manager $Manager -Name $PoolName
        $processModel = if ($null -ne $pool) { $pool.ProcessModel } else { $Manager.ApplicationPoolDefaults.ProcessModel }
        $logonType = $processModel.GetAttributeValue('logonType')
        $manual = $processModel.GetAttributeValue('manualGroupMembership')
    }
    catch {
        throw (New-ContextException -Context "Application pool '$PoolName': cannot read processModel.logonType and processModel.manualGroupMembership" -ErrorRecord $_)
    }
    # An enum attribute's value is its number; its name is accepted too.
    $service = if ($logonType -is [string]) { $logonType -eq 'LogonService' } else { [int]$logonType -eq 1 }

    if ($service) {
        return [pscustomobject]@{
            LogonType = [Pkiops.KeyfactorCommand.IisAppPools.PoolLogon]::LOGON32_LOGON_SERVICE
            # NT AUTHORITY\SERVICE, the group of a service logon's token.
            LogonTypeSid = 'S-1-5-6'
            Right = 'SeServiceLogonRight'
            DenyRight = 'SeDenyServiceLogonRight'
            ManualGroupMembership = [bool]$manual
        }
    }
    [pscustomobject]@{
        LogonType = [Pkiops.KeyfactorCommand.IisAppPools.PoolLogon]::LOGON32_LOGON_BATCH
        # NT AUTHORITY\BATCH, the group of a batch logon's token.
        LogonTypeSid = 'S-1-5-3'
        Right = 'SeBatchLogonRight'
        DenyRight = 'SeDenyBatchLogonRight'
        ManualGroupMembership = [bool]$manual
    }
}

function New-PoolLogonError {
    # The failure for an account that cannot log on, naming the pool and the
    # account but never the password. A Win32Exception keeps the code.
    param(
        [Parameter(Mandatory)]
        [string]$PoolName,

        [Parameter(Mandatory)]
        [string]$UserName,

        [Parameter(Mandatory)]
        [int]$ErrorCode,

        [Parameter(Mandatory)]
        [pscustomobject]$Setting
    )

    # Whether WAS adds BUILTIN\IIS_IUSRS to the identity's token, and so
    # whether that group's grant and denial counted.
    $viaIisUsers = -not $Setting.ManualGroupMembership
    $reason = switch ($ErrorCode) {
        1326 { 'the user name or password is incorrect (ERROR_LOGON_FAILURE)' }
        1385 {
            if ($viaIisUsers) {
                "it is not granted '{0}' (itself, through its groups or through BUILTIN\IIS_IUSRS), or it, one of its groups or BUILTIN\IIS_IUSRS is denied that logon ('{1}') (ERROR_LOGON_TYPE_NOT_GRANTED); grant the right and lift the denial before the pool is created, for example with pkiops.keyfactor_command.user_rights" -f $Setting.Right, $Setting.DenyRight
            }
            else {
                "it is not granted '{0}' (itself or through its groups; BUILTIN\IIS_IUSRS does not count, as the pool's processModel.manualGroupMembership is true), or it or one of its groups is denied that logon ('{1}') (ERROR_LOGON_TYPE_NOT_GRANTED); grant the right and lift the denial before the pool is created, for example with pkiops.keyfactor_command.user_rights" -f $Setting.Right, $Setting.DenyRight
            }
        }
        1331 { 'the account is disabled (ERROR_ACCOUNT_DISABLED)' }
        1909 { 'the account is locked out (ERROR_ACCOUNT_LOCKED_OUT)' }
        1793 { 'the account has expired (ERROR_ACCOUNT_EXPIRED)' }
        1330 { "the account's password has expired (ERROR_PASSWORD_EXPIRED)" }
        1907 { "the account's password must be changed first (ERROR_PASSWORD_MUST_CHANGE)" }
        1327 { 'an account restriction prevents this logon (ERROR_ACCOUNT_RESTRICTION)' }
        1328 { 'the account may not log on at this time (ERROR_INVALID_LOGON_HOURS)' }
        1329 { 'the account may not log on to this computer (ERROR_INVALID_WORKSTATION)' }
        default { [System.ComponentModel.Win32Exception]::new($ErrorCode).Message }
    }
    $message = "Application pool '{0}': the account '{1}' given as its username cannot log on with the password given for it, as WAS would log it on: {2} (Win32 error {3}). No application pool was changed." -f $PoolName, $UserName, $reason, $ErrorCode
    [System.ComponentModel.Win32Exception]::new($ErrorCode, $message)
}

function Get-PrincipalRight {
    # The logon rights and privileges assigned to one SID itself
    # (LsaEnumerateAccountRights), always as an array; a failure names the
    # pool whose check needed them.
    param(
        [Parameter(Mandatory)]
        [string]$PoolName,

        [Parameter(Mandatory)]
        [System.Security.Principal.SecurityIdentifier]$Sid
    )

    try {
        , [Pkiops.KeyfactorCommand.IisAppPools.PoolLogon]::GetAccountRights($Sid)
    }
    catch {
        throw (New-ContextException -Context "Application pool '$PoolName': cannot read the logon rights of '$($Sid.Value)' (LsaEnumerateAccountRights)" -ErrorRecord $_)
    }
}

function Assert-PoolLogon {
    # Before the first change: each account whose password this apply sets
    # must log on with it the way WAS will log the pool's identity on
    # (LogonUser with the pool's logon type). Otherwise WAS would start an
    # OnDemand pool anyway and fail only at its first request (events 5021,
    # 5057). A gMSA has no password to set and is not checked here, and
    # neither is an account whose step ShouldProcess declined (always under
    # -WhatIf): that step changes nothing, while a logon is audited and a
    # wrong password counts towards the account's lockout.
    #
    # WAS adds BUILTIN\IIS_IUSRS to the identity's token unless
    # manualGroupMembership is true, and LogonUser's own token lacks it. An
    # account's rights are those granted to it and to the groups of its
    # token, and a "Deny log on as ..." right overrides the grant, whoever in
    # the token holds it ("Account Rights Constants"). So, with IIS_IUSRS:
    # - IIS_IUSRS denied that logon type: WAS is refused, whatever LogonUser
    #   says here;
    # - LogonUser refused with ERROR_LOGON_TYPE_NOT_GRANTED (reported only
    #   once the password has been accepted) while IIS_IUSRS holds the right
    #   (as IIS setup grants it): WAS logs the identity on unless the refusal
    #   was a denial, held by the account, the logon type's group or one of
    #   the account's groups, which are read from a network logon's token.
    #   Where that network logon is refused too, the groups cannot be read:
    #   the account's own denial is still checked, and a warning says that a
    #   denial through a group was not.
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ServerManager]$Manager,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$Steps,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.Dictionary[string, string]]$PasswordMap
    )

    foreach ($step in $Steps) {
        $identity = $step.Identity
        if (-not $step.Approved -or $null -eq $identity -or $identity.Type -cne 'SpecificUser' -or $identity.Password -cne 'set') {
            continue
        }
        Import-PoolLogonType

        # The account as Windows names it (DOMAIN\name), whatever form the
        # task used: LogonUser takes a domain and a user name, or a UPN.
        $accountSid = $null
        $accountName = $null
        try {
            $accountSid = ConvertTo-PrincipalSid -Reference $identity.UserName
            $accountName = $accountSid.Translate([System.Security.Principal.NTAccount]).Value
        }
        catch {
            throw (New-ContextException -Context "Application pool '$($step.Pool)': the account '$($identity.UserName)' given as its username does not resolve to an account" -ErrorRecord $_)
        }

        $setting = Get-PoolLogonSetting -Manager $Manager -PoolName $step.Pool
        $separator = $accountName.IndexOf('\')
        $code = 0
        try {
            # The password goes from the map straight into the .NET method.
            if ($separator -ge 0) {
                $code = [Pkiops.KeyfactorCommand.IisAppPools.PoolLogon]::TestLogon($accountName.Substring($separator + 1), $accountName.Substring(0, $separator), $PasswordMap[$step.Pool], $setting.LogonType)
            }
            else {
                # No domain part: LogonUser wants NULL, not '', as the domain
                # of a name in UPN form; $null would arrive as ''.
                $code = [Pkiops.KeyfactorCommand.IisAppPools.PoolLogon]::TestLogon($accountName, [NullString]::Value, $PasswordMap[$step.Pool], $setting.LogonType)
            }
        }
        catch {
            # Only argument checks throw here; the password is not in them.
            throw (New-ContextException -Context "Application pool '$($step.Pool)': cannot check the logon of '$accountName'" -ErrorRecord $_)
        }

        if (-not $setting.ManualGroupMembership -and ($code -eq 0 -or $code -eq 1385)) {
            $iisUsersRights = Get-PrincipalRight -PoolName $step.Pool -Sid ([System.Security.Principal.SecurityIdentifier]::new($script:IisUsersSid))
            if ($iisUsersRights -contains $setting.DenyRight) {
                $code = 1385
            }
            elseif ($code -eq 1385 -and $iisUsersRights -contains $setting.Right) {
                $groupSids = $null
                try {
                    if ($separator -ge 0) {
                        $groupSids = [Pkiops.KeyfactorCommand.IisAppPools.PoolLogon]::GetGroupSids($accountName.Substring($separator + 1), $accountName.Substring(0, $separator), $PasswordMap[$step.Pool])
                    }
                    else {
                        $groupSids = [Pkiops.KeyfactorCommand.IisAppPools.PoolLogon]::GetGroupSids($accountName, [NullString]::Value, $PasswordMap[$step.Pool])
                    }
                }
                catch {
                    # A Win32Exception with Windows' code; the password is not in it.
                    throw (New-ContextException -Context "Application pool '$($step.Pool)': cannot read the groups of '$accountName' from a network logon (LogonUser, GetTokenInformation)" -ErrorRecord $_)
                }

                # The SIDs whose denial WAS's logon would meet.
                $tokenSids = [System.Collections.Generic.List[System.Security.Principal.SecurityIdentifier]]::new()
                $tokenSids.Add($accountSid)
                $tokenSids.Add([System.Security.Principal.SecurityIdentifier]::new($setting.LogonTypeSid))
                if ($null -eq $groupSids) {
                    Write-Warning ("Application pool '{0}': the account '{1}' could not log on from the network, so its groups could not be read, and whether one of them is denied '{2}' was not checked. If one is, WAS will refuse the account at the pool's first request (events 5021, 5057)." -f $step.Pool, $accountName, $setting.DenyRight)
                }
                else {
                    foreach ($groupSid in $groupSids) {
                        if ($groupSid.Value -ne $script:NetworkLogonSid) {
                            $tokenSids.Add($groupSid)
                        }
                    }
                }

                $denied = $false
                foreach ($tokenSid in $tokenSids) {
                    if ((Get-PrincipalRight -PoolName $step.Pool -Sid $tokenSid) -contains $setting.DenyRight) {
                        $denied = $true
                    }
                }
                if (-not $denied) {
                    $code = 0
                }
            }
        }
        if ($code -ne 0) {
            throw (New-PoolLogonError -PoolName $step.Pool -UserName $accountName -ErrorCode $code -Setting $setting)
        }
    }
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
        if (Test-IisAbsentError -Exception (Get-UnderlyingException -ErrorRecord $_)) {
            throw (New-ContextException -Context 'IIS (the Web-Server feature) is not installed: Microsoft.Web.Administration cannot be loaded' -ErrorRecord $_)
        }
        throw (New-ContextException -Context 'Cannot load Microsoft.Web.Administration' -ErrorRecord $_)
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
            Confirm-ConfigurationStep -Manager $manager -Step $step -Cmdlet $Cmdlet
        }
        Assert-PoolLogon -Manager $manager -Steps $plan -PasswordMap $PasswordMap
        foreach ($step in $plan) {
            if (Invoke-ConfigurationStep -Manager $manager -Step $step -PasswordMap $PasswordMap) {
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
    Invoke-Probe -PoolNames $Names -AccountReferences $Accounts -PasswordMap $passwordMap
}
else {
    Invoke-Apply -OperationList $Operations -PasswordMap $passwordMap -Cmdlet $PSCmdlet
}
