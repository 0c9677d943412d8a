# Shared by payloads that read the local Failover Cluster
# (cluster_generic_service_role, readiness_info): the cluster and its nodes
# and networks, a role with its resources, dependencies and registry
# checkpoints, cluster disks, and the services installed on this node.
# Included by the controller in place of a pkiops-include line.
#
# API reference: the FailoverClusters module on Microsoft Learn (Get-Cluster,
# Get-ClusterNode, Get-ClusterNetwork, Get-ClusterGroup, Get-ClusterResource,
# Get-ClusterParameter, Get-ClusterResourceDependency, Get-ClusterCheckpoint);
# GetClusterNodeId in clusapi.h; the network common properties (Address,
# AddressMask, IPv6Addresses, IPv6PrefixLengths);
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

function ConvertTo-StringList {
    # A property that may be missing, one value, or a collection, as a list
    # of strings; a missing one is an empty list rather than a list holding
    # one empty string.
    param(
        [AllowNull()]
        [object]$Value
    )

    $list = [System.Collections.Generic.List[string]]::new()
    if ($null -ne $Value) {
        foreach ($item in $Value) {
            if ($null -ne $item) {
                $list.Add([string]$item)
            }
        }
    }
    , $list
}

function Get-LocalClusterNodeId {
    # GetClusterNodeId with a NULL node handle returns "the node identifier
    # for the node on which the application is running" (clusapi.h); it is
    # the identifier Get-ClusterNode reports as each node's Id. The computer
    # name is no substitute: $env:COMPUTERNAME is the NetBIOS name, upper
    # case, where the cluster keeps each node's name as it was added.
    # Add-Type cannot redefine a loaded type, so it compiles only once per
    # process, and only when a cluster is read.
    if (-not ([System.Management.Automation.PSTypeName]'Pkiops.KeyfactorCommand.Cluster.LocalNode').Type) {
        Add-Type -TypeDefinition @'
using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;

namespace Pkiops.KeyfactorCommand.Cluster
{
    public static class LocalNode
    {
        private const int ErrorSuccess = 0;
        private const int ErrorMoreData = 234;

        [DllImport("clusapi.dll", CharSet = CharSet.Unicode)]
        private static extern int GetClusterNodeId(IntPtr hNode, StringBuilder lpszNodeId, ref int lpcchName);

        public static string GetId()
        {
            // On input the buffer's size in characters, NULL included; on
            // ERROR_MORE_DATA the length the identifier needs.
            int length = 64;
            StringBuilder id = new StringBuilder(length);
            int status = GetClusterNodeId(IntPtr.Zero, id, ref length);
            if (status == ErrorMoreData)
            {
                length = length + 1;
                id = new StringBuilder(length);
                status = GetClusterNodeId(IntPtr.Zero, id, ref length);
            }
            if (status != ErrorSuccess)
            {
                throw new Win32Exception(status);
            }
            return id.ToString();
        }
    }
}
'@
    }
    [Pkiops.KeyfactorCommand.Cluster.LocalNode]::GetId()
}

function Get-ClusterReport {
    try {
        $cluster = Get-Cluster
        $nodes = @(Get-ClusterNode)
        $networks = Get-ClusterNetwork
        $localId = Get-LocalClusterNodeId
    }
    catch {
        throw (New-ContextException -Context 'Cannot read the local failover cluster; is this computer a cluster node?' -ErrorRecord $_)
    }
    $localNode = Find-ByName -Items $nodes -Name $localId -Property 'Id'
    if ($null -eq $localNode) {
        throw "Cannot read the local failover cluster: no node of the cluster has this computer's node id '$localId'."
    }

    # Enums become their names: win_powershell would otherwise turn them
    # into dictionaries.
    $nodeReport = [System.Collections.Generic.List[object]]::new()
    foreach ($node in $nodes) {
        $nodeReport.Add(@{ name = [string]$node.Name; state = [string]$node.State; id = [string]$node.Id })
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
                # Each IPv4 subnet (Address and AddressMask hold one of them),
                # and each IPv6 prefix: the controller builds
                # from them the <address>/<prefix length> subnets that
                # Add-ClusterGenericServiceRole -IgnoreNetwork takes.
                address = [string]$network.Address
                address_mask = [string]$network.AddressMask
                ipv4_addresses = ConvertTo-StringList -Value $network.Ipv4Addresses
                ipv4_prefix_lengths = ConvertTo-StringList -Value $network.Ipv4PrefixLengths
                ipv6_addresses = ConvertTo-StringList -Value $network.Ipv6Addresses
                ipv6_prefix_lengths = ConvertTo-StringList -Value $network.Ipv6PrefixLengths
            })
    }
    @{
        name = [string]$cluster.Name
        local_node = [string]$localNode.Name
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
        id = [string]$Resource.Id
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
        # -Guid: "the generated dependency expression [has] the resource
        # GUIDs instead of the resource names". A GUID holds no bracket,
        # which a resource name may, so the expression reads without doubt.
        $dependency = Get-ClusterResourceDependency -InputObject $Resource -Guid
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
