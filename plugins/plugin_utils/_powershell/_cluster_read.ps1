# Shared by payloads that read the local Failover Cluster
# (cluster_generic_service_role, readiness_info): the cluster and its nodes
# and networks, a role with its resources, dependencies and registry
# checkpoints, cluster disks, and the services installed on this node.
# Included by the controller in place of a pkiops-include line.
#
# API reference: the FailoverClusters module on Microsoft Learn (Get-Cluster,
# Get-ClusterNode, Get-ClusterNetwork, Get-ClusterGroup, Get-ClusterResource,
# Get-ClusterParameter, Get-ClusterResourceDependency, Get-ClusterCheckpoint);
# System.ServiceProcess.ServiceController.

function Invoke-Step {
    # Runs one step and names it in its error, with Windows' message kept.
    # The body sees the caller's variables; it must not use $Context or $Body.
    param(
        [Parameter(Mandatory)]
        [string]$Context,

        [Parameter(Mandatory)]
        [scriptblock]$Body
    )

    try {
        & $Body
    }
    catch {
        throw (New-ContextException -Context $Context -ErrorRecord $_)
    }
}

function Import-FailoverCluster {
    Invoke-Step -Context 'Cannot load the FailoverClusters PowerShell module (install the RSAT-Clustering-PowerShell feature)' -Body {
        Import-Module -Name FailoverClusters
    }
}

function Find-ByName {
    # An exact, case-insensitive match, as Windows compares cluster object
    # and service names. Get-ClusterResource -Name and Get-Service -Name take
    # wildcards (a name may hold [ ]) and throw for a name they do not find,
    # where the probe must report "not found".
    param(
        [AllowEmptyCollection()]
        [object[]]$Items,

        [AllowEmptyString()]
        [string]$Name,

        [string]$Property = 'Name'
    )

    foreach ($item in $Items) {
        if ([string]::Equals([string]$item.$Property, $Name, [System.StringComparison]::OrdinalIgnoreCase)) {
            return $item
        }
    }
    $null
}

function Get-ClusterReport {
    try {
        $cluster = Get-Cluster
        $nodes = Get-ClusterNode
        $networks = Get-ClusterNetwork
    }
    catch {
        throw (New-ContextException -Context 'Cannot read the local failover cluster; is this computer a cluster node?' -ErrorRecord $_)
    }

    # Enums become their names: win_powershell would otherwise turn them
    # into dictionaries.
    $nodeReport = [System.Collections.Generic.List[object]]::new()
    foreach ($node in $nodes) {
        $nodeReport.Add(@{ name = [string]$node.Name; state = [string]$node.State })
    }
    $networkReport = [System.Collections.Generic.List[object]]::new()
    foreach ($network in $networks) {
        # Role is a ClusterNetworkRole enum on Windows Server 2016 and later
        # but a UInt32 on 2012 R2 and earlier, where [string] would give '3'.
        # Both hold the CLUSTER_NETWORK_ROLE value; the names are the enum's.
        $role = [int]$network.Role
        $networkReport.Add(@{
                name = [string]$network.Name
                role = if ($role -ge 0 -and $role -le 3) { @('None', 'Cluster', 'Client', 'ClusterAndClient')[$role] } else { [string]$network.Role }
                address = [string]$network.Address
                address_mask = [string]$network.AddressMask
            })
    }
    @{
        name = [string]$cluster.Name
        local_node = $env:COMPUTERNAME
        nodes = $nodeReport
        networks = $networkReport
    }
}

function Get-ServiceReport {
    param(
        [AllowEmptyCollection()]
        [string[]]$Queries
    )

    $report = [System.Collections.Generic.List[object]]::new()
    # This computer's services, device drivers excepted.
    $installed = Invoke-Step -Context 'Cannot list the services installed on this node' -Body {
        Add-Type -AssemblyName System.ServiceProcess
        [System.ServiceProcess.ServiceController]::GetServices()
    }
    try {
        foreach ($query in $Queries) {
            # The service name first: one service's display name can be
            # another's service name, and the cluster's ServiceName property
            # holds a service name.
            $match = Find-ByName -Items $installed -Name $query -Property 'ServiceName'
            if ($null -eq $match) {
                $match = Find-ByName -Items $installed -Name $query -Property 'DisplayName'
            }
            $report.Add(@{
                    query = $query
                    found = $null -ne $match
                    name = if ($null -ne $match) { $match.ServiceName } else { $null }
                    display_name = if ($null -ne $match) { $match.DisplayName } else { $null }
                })
        }
    }
    finally {
        foreach ($service in $installed) {
            $service.Dispose()
        }
    }
    , $report
}

function Get-DiskReport {
    param(
        [AllowEmptyCollection()]
        [string[]]$Queries,

        [AllowEmptyCollection()]
        [object[]]$Resources
    )

    $report = [System.Collections.Generic.List[object]]::new()
    foreach ($query in $Queries) {
        $entry = @{ name = $query; found = $false; resource_type = $null; owner_group = $null; owner_group_type = $null; state = $null }
        $resource = Find-ByName -Items $Resources -Name $query
        if ($null -ne $resource) {
            # ResourceType is a ClusterResourceType object and OwnerGroup a
            # ClusterGroup; the contract reports their names.
            $entry['found'] = $true
            $entry['resource_type'] = [string]$resource.ResourceType.Name
            $entry['owner_group'] = [string]$resource.OwnerGroup.Name
            # 'AvailableStorage' for the cluster's unused disks, whatever the
            # group is called in the cluster's language.
            $entry['owner_group_type'] = [string]$resource.OwnerGroup.GroupType
            $entry['state'] = [string]$resource.State
        }
        $report.Add($entry)
    }
    , $report
}

function Get-ResourceReport {
    param(
        [Parameter(Mandatory)]
        [Microsoft.FailoverClusters.PowerShell.ClusterResource]$Resource
    )

    $type = [string]$Resource.ResourceType.Name
    $report = @{
        name = [string]$Resource.Name
        resource_type = $type
        state = [string]$Resource.State
        service_name = $null
        address = $null
        enable_dhcp = $null
        dependency_expression = ''
        checkpoints = [System.Collections.Generic.List[object]]::new()
    }
    Invoke-Step -Context "Cannot read cluster resource '$($report['name'])'" -Body {
        # Private properties (Get-ClusterParameter). Resource type names are
        # not localised; their display names are.
        if ($type -eq 'Generic Service') {
            $report['service_name'] = [string](Get-ClusterParameter -InputObject $Resource -Name 'ServiceName').Value
        }
        elseif ($type -eq 'IP Address') {
            $report['address'] = [string](Get-ClusterParameter -InputObject $Resource -Name 'Address').Value
            # A role on a cluster network with DHCP always gets an address
            # from it (EnableDhcp 1), besides the static ones it was given.
            $report['enable_dhcp'] = [int](Get-ClusterParameter -InputObject $Resource -Name 'EnableDhcp').Value -eq 1
        }
        $dependency = Get-ClusterResourceDependency -InputObject $Resource
        if ($null -ne $dependency -and $null -ne $dependency.DependencyExpression) {
            $report['dependency_expression'] = [string]$dependency.DependencyExpression
        }
        # -RegistryCheckpoint leaves out cryptographic checkpoints. A registry
        # checkpoint's Name is its key path, relative to HKEY_LOCAL_MACHINE.
        foreach ($checkpoint in @(Get-ClusterCheckpoint -InputObject $Resource -RegistryCheckpoint)) {
            $report['checkpoints'].Add([string]$checkpoint.Name)
        }
    }
    $report
}

function Get-GroupReport {
    param(
        [Parameter(Mandatory)]
        [string]$RoleName,

        [AllowEmptyCollection()]
        [object[]]$Resources
    )

    $groups = Invoke-Step -Context 'Cannot list the cluster roles' -Body { Get-ClusterGroup }
    $group = Find-ByName -Items $groups -Name $RoleName
    if ($null -eq $group) {
        return $null
    }
    $members = [System.Collections.Generic.List[object]]::new()
    foreach ($resource in $Resources) {
        if ([string]::Equals([string]$resource.OwnerGroup.Name, [string]$group.Name, [System.StringComparison]::OrdinalIgnoreCase)) {
            $members.Add((Get-ResourceReport -Resource $resource))
        }
    }
    @{
        name = [string]$group.Name
        # An enum, an enum and a ClusterNode object.
        group_type = [string]$group.GroupType
        state = [string]$group.State
        owner_node = [string]$group.OwnerNode.Name
        resources = $members
    }
}
