# pkiops-payload: readiness_info
#
# Reads, in one run, everything the controller needs to tell whether this
# server meets Keyfactor Command's preparation requirements: holders of user
# rights, local group members, directory ACLs, Windows features, IIS
# application pools, certificates with their private key ACLs, registry
# values, Failover Cluster roles, and services that share the server with a
# certificate authority or SQL Server. The controller names what to read and
# judges the answer; this payload only reports.
#
# probe: read only, and the only mode. Nothing here is gated by
#        ShouldProcess or writes, so it is safe under -WhatIf. A part that
#        cannot be read is reported in that part's 'error' rather than
#        failing the run, so one unreadable thing does not hide the rest.
#
# API reference: Get-Acl and FileSystemAccessRule (System.Security.AccessControl),
# Get-WindowsFeature (ServerManager module), ADSI WinNT provider group
# members (IADsGroup.Members), System.ServiceProcess.ServiceController; the
# fragments name the rest.
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('probe')]
    [string]$Mode,

    [string[]]$Rights = @(),

    [string[]]$Accounts = @(),

    [string[]]$Groups = @(),

    [string[]]$Paths = @(),

    [string[]]$Features = @(),

    [string[]]$Pools = @(),

    [object[]]$Certificates = @(),

    [object[]]$RegistryValues = @(),

    [string[]]$ClusterRoles = @(),

    [string[]]$Services = @(),

    [bool]$CoLocation = $false
)

$ErrorActionPreference = 'Stop'

# win_powershell starts every run with Changed = $true; a read changes nothing.
$Ansible.Changed = $false

# The controller replaces these lines with the shared fragments.
# pkiops-include: _errors.ps1
# pkiops-include: _principals.ps1
# pkiops-include: _lsa_policy.ps1
# pkiops-include: _private_key_acl.ps1
# pkiops-include: _local_machine.ps1
# pkiops-include: _iis.ps1
# pkiops-include: _cluster_read.ps1

function Get-PartError {
    # The message a part reports instead of failing the whole run.
    param(
        [Parameter(Mandatory)]
        [System.Management.Automation.ErrorRecord]$ErrorRecord
    )

    (Get-UnderlyingException -ErrorRecord $ErrorRecord).Message
}

function Get-RightHolderReport {
    # The direct holders of each right, as SIDs.
    param(
        [AllowEmptyCollection()]
        [string[]]$RightNames
    )

    $report = @{ error = $null; holders = @{} }
    try {
        $byRight = Get-RightHolders -RightNames $RightNames
        foreach ($right in $byRight.Keys) {
            $sids = [System.Collections.Generic.List[object]]::new()
            foreach ($holder in $byRight[$right]) {
                $sids.Add($holder['sid'])
            }
            $report['holders'][$right] = $sids
        }
    }
    catch {
        $report['error'] = Get-PartError -ErrorRecord $_
    }
    $report
}

function Get-GroupMemberReport {
    # Direct members of local groups, as SIDs. The WinNT provider lists
    # members whose SID no longer resolves, where Get-LocalGroupMember fails.
    param(
        [AllowEmptyCollection()]
        [string[]]$GroupReferences
    )

    $report = @{}
    foreach ($reference in $GroupReferences) {
        $entry = @{ error = $null; members = [System.Collections.Generic.List[object]]::new() }
        try {
            $groupSid = ConvertTo-PrincipalSid -Reference $reference
            # The group's name in this computer's language, from its SID.
            $groupName = $groupSid.Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
            $group = [ADSI]"WinNT://$env:COMPUTERNAME/$groupName,group"
            foreach ($member in @($group.Invoke('Members'))) {
                $sidBytes = $member.GetType().InvokeMember('objectSid', 'GetProperty', $null, $member, $null)
                $entry['members'].Add(([System.Security.Principal.SecurityIdentifier]::new([byte[]]$sidBytes, 0)).Value)
            }
        }
        catch {
            $entry['error'] = Get-PartError -ErrorRecord $_
        }
        $report[$reference] = $entry
    }
    $report
}

function Get-PathReport {
    param(
        [AllowEmptyCollection()]
        [string[]]$PathNames
    )

    $report = @{}
    foreach ($path in $PathNames) {
        $entry = @{ exists = $false; is_directory = $false; error = $null; acl = [System.Collections.Generic.List[object]]::new() }
        try {
            if (Test-Path -LiteralPath $path) {
                $entry['exists'] = $true
                $entry['is_directory'] = Test-Path -LiteralPath $path -PathType Container
                $acl = Get-Acl -LiteralPath $path
                foreach ($rule in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
                    # Enums as numbers and names: win_powershell would turn
                    # them into dictionaries.
                    $entry['acl'].Add(@{
                            sid = $rule.IdentityReference.Value
                            type = if ($rule.AccessControlType -eq [System.Security.AccessControl.AccessControlType]::Allow) { 'allow' } else { 'deny' }
                            rights = [int]$rule.FileSystemRights
                            inherit = [string]$rule.InheritanceFlags
                            propagation = [string]$rule.PropagationFlags
                            inherited = $rule.IsInherited
                        })
                }
            }
        }
        catch {
            $entry['error'] = Get-PartError -ErrorRecord $_
        }
        $report[$path] = $entry
    }
    $report
}

function Get-FeatureReport {
    param(
        [AllowEmptyCollection()]
        [string[]]$FeatureNames
    )

    $report = @{ error = $null; installed = @{} }
    if ($FeatureNames.Count -eq 0) {
        return $report
    }
    try {
        Import-Module -Name ServerManager
        foreach ($feature in @(Get-WindowsFeature -Name $FeatureNames)) {
            $report['installed'][[string]$feature.Name] = [bool]$feature.Installed
        }
    }
    catch {
        $report['error'] = Get-PartError -ErrorRecord $_
    }
    $report
}

function Get-PoolReport {
    param(
        [AllowEmptyCollection()]
        [string[]]$PoolNames
    )

    $report = @{ installed = $true; error = $null; pools = @{} }
    if ($PoolNames.Count -eq 0) {
        return $report
    }
    try {
        Import-WebAdministration
        $manager = Open-ServerManager
    }
    catch {
        $cause = Get-UnderlyingException -ErrorRecord $_
        if (Test-IisAbsentError -Exception $cause) {
            $report['installed'] = $false
        }
        else {
            $report['error'] = $cause.Message
        }
        return $report
    }
    try {
        foreach ($name in $PoolNames) {
            $pool = Find-AppPool -Manager $manager -Name $name
            if ($null -eq $pool) {
                $report['pools'][$name] = @{ exists = $false }
                continue
            }
            $username = [string]$pool.ProcessModel.UserName
            $report['pools'][$name] = @{
                exists = $true
                name = [string]$pool.Name
                state = Get-PoolState -Pool $pool
                identity_type = [string]$pool.ProcessModel.IdentityType
                username = $username
                # The account as a SID, so that .\svc, HOST\svc and svc@domain
                # compare as Windows compares them.
                sid = if ($username) { (Resolve-PrincipalReference -Reference $username)['sid'] } else { $null }
            }
        }
    }
    catch {
        $report['error'] = Get-PartError -ErrorRecord $_
    }
    finally {
        $manager.Dispose()
    }
    $report
}

function Get-CertificateReadinessReport {
    param(
        [AllowEmptyCollection()]
        [object[]]$Requests
    )

    $report = [System.Collections.Generic.List[object]]::new()
    foreach ($request in $Requests) {
        $entry = @{ store = [string]$request.store; thumbprint = [string]$request.thumbprint; error = $null; not_after = $null; serial_number = $null }
        try {
            $keyReport = Get-CertificateKeyReport -StoreName $entry['store'] -Thumbprint $entry['thumbprint']
            foreach ($key in @('found', 'has_private_key', 'key_error', 'acl')) {
                $entry[$key] = $keyReport[$key]
            }
            if ($keyReport['found']) {
                $certificate = Find-LocalMachineCertificate -StoreName $entry['store'] -Thumbprint $entry['thumbprint']
                try {
                    # Round-trip format, in UTC, so the controller compares instants.
                    $entry['not_after'] = $certificate.NotAfter.ToUniversalTime().ToString('o')
                    $entry['serial_number'] = $certificate.SerialNumber
                }
                finally {
                    $certificate.Reset()
                }
            }
        }
        catch {
            $entry['error'] = Get-PartError -ErrorRecord $_
        }
        $report.Add($entry)
    }
    , $report
}

function Get-RegistryValueReport {
    param(
        [AllowEmptyCollection()]
        [object[]]$Requests
    )

    $report = [System.Collections.Generic.List[object]]::new()
    foreach ($request in $Requests) {
        $entry = @{ key = [string]$request.key; name = [string]$request.name; error = $null }
        try {
            $values = Get-RegistryReport -SubKey $entry['key'] -Name $entry['name']
            foreach ($field in $values.Keys) {
                $entry[$field] = $values[$field]
            }
        }
        catch {
            $entry['error'] = Get-PartError -ErrorRecord $_
        }
        $report.Add($entry)
    }
    , $report
}

function Get-ClusterRoleReport {
    param(
        [AllowEmptyCollection()]
        [string[]]$RoleNames,

        [AllowEmptyCollection()]
        [string[]]$ServiceQueries
    )

    $report = @{ error = $null; cluster = $null; roles = @{}; services = [System.Collections.Generic.List[object]]::new() }
    try {
        if ($ServiceQueries.Count -gt 0) {
            $report['services'] = Get-ServiceReport -Queries $ServiceQueries
        }
        if ($RoleNames.Count -gt 0) {
            Import-FailoverCluster
            $report['cluster'] = Get-ClusterReport
            $resources = Invoke-Step -Context 'Cannot list the cluster resources' -Body { Get-ClusterResource }
            foreach ($name in $RoleNames) {
                $report['roles'][$name] = Get-GroupReport -RoleName $name -Resources $resources
            }
        }
    }
    catch {
        $report['error'] = Get-PartError -ErrorRecord $_
    }
    $report
}

function Get-CoLocationReport {
    # Names of services that make this server a certificate authority or a
    # SQL Server; the controller decides which of them count.
    $report = @{ error = $null; services = [System.Collections.Generic.List[object]]::new() }
    try {
        Add-Type -AssemblyName System.ServiceProcess
        foreach ($service in [System.ServiceProcess.ServiceController]::GetServices()) {
            try {
                $name = $service.ServiceName
                if ($name -eq 'CertSvc' -or $name -eq 'MSSQLSERVER' -or $name.StartsWith('MSSQL$', [System.StringComparison]::OrdinalIgnoreCase)) {
                    $report['services'].Add($name)
                }
            }
            finally {
                $service.Dispose()
            }
        }
    }
    catch {
        $report['error'] = Get-PartError -ErrorRecord $_
    }
    $report
}

$Ansible.Result = @{
    rights = Get-RightHolderReport -RightNames $Rights
    accounts = Resolve-PrincipalList -References $Accounts
    groups = Get-GroupMemberReport -GroupReferences $Groups
    paths = Get-PathReport -PathNames $Paths
    features = Get-FeatureReport -FeatureNames $Features
    iis = Get-PoolReport -PoolNames $Pools
    certificates = Get-CertificateReadinessReport -Requests $Certificates
    registry = Get-RegistryValueReport -Requests $RegistryValues
    cluster = Get-ClusterRoleReport -RoleNames $ClusterRoles -ServiceQueries $Services
    co_location = if ($CoLocation) { Get-CoLocationReport } else { $null }
}
$Ansible.Changed = $false
