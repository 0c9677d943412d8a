# pkiops-payload: cluster_generic_service_role
#
# Reads or changes a Failover Cluster Generic Service role (a cluster group
# whose name is also its client access point name) on the local cluster. The
# payload runs on a cluster node, so no cmdlet below is given -Cluster.
#
# probe: read only. Reports the cluster (this node, the nodes, the networks
#        with their subnets), the services named in -Services as installed
#        on this node only, the cluster disks in -Disks, every resource's
#        name and role, and the role -Name with its resources, their
#        dependency expressions (with resource ids) and registry
#        checkpoints. Safe under -WhatIf: nothing in this mode is gated by
#        ShouldProcess or writes.
# apply: performs exactly the operations in -Operations, in order, and
#        nothing else. Deciding what to change is the controller's job. Every
#        operation is validated before the first change.
#
# Add-ClusterGenericServiceRole "cannot be run remotely without Credential
# Security Service Provider (CredSSP) authentication on the server
# computer" (its Learn page): the cluster then acts for the caller on other
# computers, a second hop that a plain WinRM logon's credentials cannot
# make. The task needs become (runas) or CredSSP.
#
# API reference: the FailoverClusters module on Microsoft Learn (Get-Cluster,
# Get-ClusterNode, Get-ClusterNetwork, Get-ClusterGroup, Get-ClusterResource,
# Get-ClusterParameter, Set-ClusterParameter, Get-ClusterResourceDependency,
# Add-ClusterResourceDependency, Remove-ClusterResourceDependency,
# Add-ClusterGenericServiceRole, Add-ClusterResource, Add-ClusterCheckpoint,
# Get-ClusterCheckpoint, Remove-ClusterCheckpoint, Move-ClusterGroup,
# Move-ClusterResource, Start-ClusterGroup, Stop-ClusterGroup,
# Remove-ClusterGroup); ChangeClusterResourceGroup, MoveClusterGroup,
# AddClusterResourceDependency, GetClusterNodeId, CLUSTER_GROUP_STATE and
# CLUSGROUP_TYPE in clusapi.h; System.ServiceProcess.ServiceController.
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('probe', 'apply')]
    [string]$Mode,

    [string]$Name,

    [string[]]$Services = @(),

    [string[]]$Disks = @(),

    [object[]]$Operations = @()
)

$ErrorActionPreference = 'Stop'

# win_powershell starts every run with Changed = $true. Clear it before any
# work so that a failure before the first mutation does not report a change.
$Ansible.Changed = $false

# The controller replaces these lines with the shared fragments: error
# wrapping, and reading the cluster, its resources and this node's services.
# pkiops-include: _errors.ps1
# pkiops-include: _cluster_read.ps1

# The fields each action must carry: non-empty strings, lists (possibly
# empty) of non-empty strings, and a whole number of seconds, 0 or more.
$script:StringFields = @{
    create_role = @('name', 'service_name')
    add_checkpoint = @('resource', 'key')
    remove_checkpoint = @('resource', 'key')
    add_service_resource = @('resource', 'group', 'service_name')
    add_dependency = @('resource', 'provider')
    add_disk = @('disk', 'group')
    start_role = @('name')
    move_role = @('name', 'node')
    wait_online = @('name')
    stop_role = @('name')
    remove_dependency = @('resource', 'provider')
    release_disk = @('disk', 'name')
    remove_role = @('name')
}
$script:ListFields = @{
    create_role = @('static_addresses', 'ignore_networks', 'storage')
}
$script:TimeoutActions = @('start_role', 'move_role', 'wait_online')
# The keys directly under HKEY_LOCAL_MACHINE. A registry checkpoint's key is
# relative to HKEY_LOCAL_MACHINE (Add-ClusterCheckpoint -RegistryCheckpoint)
# and lies below one of them.
$script:HiveRoots = @('HARDWARE', 'SAM', 'SECURITY', 'SOFTWARE', 'SYSTEM', 'BCD00000000')
# How long a role that is Failed, or Offline again after it had started,
# must stay so before Wait-RoleOnline gives up before its timeout. A failed
# resource is restarted after its RestartDelay (500 ms by default) and its
# role may then fail over to another node (RestartAction 2, the default;
# the RestartAction and RestartDelay resource common properties), which one
# reading would not see.
$script:SettledSeconds = 10

function Invoke-Probe {
    param(
        [AllowEmptyString()]
        [string]$RoleName,

        [AllowEmptyCollection()]
        [string[]]$ServiceQueries,

        [AllowEmptyCollection()]
        [string[]]$DiskQueries
    )

    if ([string]::IsNullOrWhiteSpace($RoleName)) {
        throw 'Invalid Name: give the name of the cluster role.'
    }
    Import-FailoverCluster

    $cluster = Get-ClusterReport
    $serviceReport = Get-ServiceReport -Queries $ServiceQueries
    # Read once: the disks and the role's members are both found in it.
    $resources = Invoke-Step -Context 'Cannot list the cluster resources' -Body { Get-ClusterResource }

    # Every resource with its role: a resource's name is unique in the
    # whole cluster, so the controller checks the names it would create.
    $resourceList = [System.Collections.Generic.List[object]]::new()
    foreach ($resource in @($resources)) {
        $resourceList.Add(@{ name = [string]$resource.Name; group = [string]$resource.OwnerGroup.Name })
    }

    $Ansible.Result = @{
        cluster = $cluster
        services = $serviceReport
        disks = Get-DiskReport -Queries $DiskQueries -Resources $resources
        group = Get-GroupReport -RoleName $RoleName -Resources $resources
        resources = $resourceList
    }
    $Ansible.Changed = $false
}

function Assert-Operation {
    # A malformed operation is a controller bug. It fails here, before the
    # first change, rather than half way through the list.
    param(
        [AllowNull()]
        [object]$Operation,

        [Parameter(Mandatory)]
        [int]$Index
    )

    if ($Operation -isnot [System.Collections.IDictionary]) {
        throw "Invalid operation #${Index}: it must be a dictionary with an action."
    }
    $keys = @($Operation.Keys)
    $action = $Operation['action']
    # -ccontains: a PowerShell hashtable's own lookups ignore case, and a
    # differently spelt action would then match no case of Invoke-Operation.
    if ($action -isnot [string] -or @($script:StringFields.Keys) -cnotcontains $action) {
        throw "Invalid operation #${Index}: unknown action '$action'; expected one of $((@($script:StringFields.Keys) | Sort-Object) -join ', ')."
    }
    foreach ($field in $script:StringFields[$action]) {
        $value = $Operation[$field]
        if ($keys -cnotcontains $field -or $value -isnot [string] -or [string]::IsNullOrWhiteSpace($value)) {
            throw "Invalid operation #${Index}: $action needs '$field' as a non-empty string."
        }
    }
    # foreach over $null (an action without list fields) runs no iteration.
    foreach ($field in $script:ListFields[$action]) {
        $value = $Operation[$field]
        $valid = $keys -ccontains $field -and $value -is [System.Collections.IList]
        if ($valid) {
            foreach ($item in $value) {
                $valid = $valid -and $item -is [string] -and -not [string]::IsNullOrWhiteSpace($item)
            }
        }
        if (-not $valid) {
            throw "Invalid operation #${Index}: $action needs '$field' as a list, possibly empty, of non-empty strings."
        }
    }
    if ($script:TimeoutActions -ccontains $action) {
        $timeout = $Operation['timeout_seconds']
        if (($timeout -isnot [int] -and $timeout -isnot [long]) -or $timeout -lt 0) {
            throw "Invalid operation #${Index}: $action needs 'timeout_seconds' as a whole number of seconds, 0 or more."
        }
    }
    if ($action -ceq 'add_checkpoint') {
        # Separated by backslashes only, with no empty name, below a hive and
        # not a whole hive: the cluster would otherwise replicate another key
        # than the one the controller named, or everything in the hive. A key
        # to remove is the cluster's own spelling, read by the probe, and is
        # matched as such.
        $keyNames = $Operation['key'].Split([char]'\')
        $keyValid = $Operation['key'].IndexOf([char]'/') -lt 0 -and $Operation['key'].IndexOf([char]':') -lt 0 -and
            $script:HiveRoots -contains $keyNames[0] -and $keyNames.Count -ge 2
        foreach ($keyName in $keyNames) {
            $keyValid = $keyValid -and $keyName.Length -gt 0
        }
        if (-not $keyValid) {
            throw "Invalid operation #${Index}: $action needs 'key' as a key path below a hive of HKEY_LOCAL_MACHINE, such as SOFTWARE\Vendor\Product."
        }
    }
}

function Get-ResourceByName {
    # Every resource, matched by Find-ByName: Get-ClusterResource -Name reads
    # [ ] as a wildcard set, so "Disk [1]" would find "Disk 1" and never the
    # resource itself. "Resource names are not case sensitive" (the resource
    # Name property), as Find-ByName compares them.
    param(
        [Parameter(Mandatory)]
        [string]$ResourceName
    )

    $match = Find-ByName -Items @(Get-ClusterResource) -Name $ResourceName
    if ($null -eq $match) {
        throw "the cluster has no resource named '$ResourceName'."
    }
    $match
}

function Get-GroupByName {
    param(
        [Parameter(Mandatory)]
        [string]$GroupName
    )

    $match = Find-ByName -Items @(Get-ClusterGroup) -Name $GroupName
    if ($null -eq $match) {
        throw "the cluster has no role named '$GroupName'."
    }
    $match
}

function New-ClusterRole {
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary]$Operation
    )

    $parameters = @{
        Name = $Operation['name']
        ServiceName = $Operation['service_name']
        # Per Learn, without -Wait the cmdlet waits for the role to come
        # online, and with "-Wait 0" the call is initiated and the cmdlet
        # returns without waiting: the new role is then still Pending.
        # Waiting is the job of move_role and wait_online.
        Wait = 0
    }
    # Each only when given, as the StringCollection the cmdlet declares.
    if ($Operation['static_addresses'].Count -gt 0) {
        $parameters['StaticAddress'] = [System.Collections.Specialized.StringCollection]::new()
        $parameters['StaticAddress'].AddRange([string[]]$Operation['static_addresses'])
    }
    # Every client network without DHCP needs a static address or must be
    # ignored (Learn, Add-ClusterGenericServiceRole -IgnoreNetwork). A
    # network is named by its subnet, <address>/<prefix length>, as in the
    # same parameter's example on New-Cluster's Learn page, "-IgnoreNetwork
    # 2.0.0.0/8"; the controller sends the subnets of the client networks
    # none of the addresses is in.
    if ($Operation['ignore_networks'].Count -gt 0) {
        $parameters['IgnoreNetwork'] = [System.Collections.Specialized.StringCollection]::new()
        $parameters['IgnoreNetwork'].AddRange([string[]]$Operation['ignore_networks'])
    }
    if ($Operation['storage'].Count -gt 0) {
        $parameters['Storage'] = [System.Collections.Specialized.StringCollection]::new()
        $parameters['Storage'].AddRange([string[]]$Operation['storage'])
    }
    # No -CheckpointKey: checkpoints are add_checkpoint operations, so that a
    # failure between creating the role and checkpointing is visible in
    # 'applied' and the next run converges.
    Invoke-Step -Context "Cannot create the role '$($Operation['name'])'" -Body {
        $null = Add-ClusterGenericServiceRole @parameters
    }
}

function Add-ServiceResource {
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary]$Operation
    )

    $resourceName = $Operation['resource']
    $groupName = $Operation['group']
    $resource = Invoke-Step -Context "Cannot create Generic Service resource '$resourceName' in the role '$groupName'" -Body {
        # A Generic Service resource already in this group is one an earlier
        # run created and then failed to configure (creating it and setting
        # ServiceName are two calls): configuring it is what converges.
        $existing = Find-ByName -Items @(Get-ClusterResource) -Name $resourceName
        if ($null -ne $existing -and [string]$existing.ResourceType.Name -eq 'Generic Service' -and
            [string]::Equals([string]$existing.OwnerGroup.Name, $groupName, [System.StringComparison]::OrdinalIgnoreCase)) {
            return $existing
        }
        Add-ClusterResource -Name $resourceName -ResourceType 'Generic Service' -Group $groupName
    }
    # ServiceName is the Generic Service resource type's required private
    # property.
    Invoke-Step -Context "Cannot set ServiceName '$($Operation['service_name'])' on cluster resource '$resourceName'" -Body {
        Set-ClusterParameter -InputObject $resource -Name 'ServiceName' -Value $Operation['service_name']
    }
}

function Get-AvailableStorageGroup {
    # By its type (ClusGroupTypeAvailableStorage) rather than its name,
    # 'Available Storage', so that the name's spelling cannot matter.
    $groups = @(Get-ClusterGroup | Where-Object { [string]$_.GroupType -eq 'AvailableStorage' })
    if ($groups.Count -ne 1) {
        throw "the cluster has $($groups.Count) Available Storage groups; expected one."
    }
    $groups[0]
}

function Add-RoleDisk {
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary]$Operation
    )

    Invoke-Step -Context "Cannot add disk '$($Operation['disk'])' to the role '$($Operation['group'])'" -Body {
        $disk = Get-ResourceByName -ResourceName $Operation['disk']
        $source = $disk.OwnerGroup
        $target = Get-GroupByName -GroupName $Operation['group']
        $targetNode = [string]$target.OwnerNode.Name
        # Moving a resource to another group is ChangeClusterResourceGroup,
        # which needs both groups "owned by the same node regardless of the
        # resource's state" (clusapi.h). Available Storage holds only unused
        # disks, so it is the group that moves; a disk held by another role
        # is left to Windows' error.
        if ([string]$source.GroupType -eq 'AvailableStorage' -and [string]$source.OwnerNode.Name -ne $targetNode) {
            $null = Move-ClusterGroup -InputObject $source -Node $targetNode
        }
        $null = Move-ClusterResource -InputObject $disk -Group ([string]$target.Name)
    }
}

function Move-DiskToAvailableStorage {
    # Remove-ClusterGroup -RemoveResources "delete[s] all resources in the
    # clustered role before removing the clustered role" (Learn); for a
    # Physical Disk resource that takes the disk out of the cluster. So each
    # disk to keep leaves the stopped role for Available Storage first. The
    # controller has removed the dependencies on it: ChangeClusterResourceGroup
    # moves a resource's whole dependency tree.
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary]$Operation
    )

    Invoke-Step -Context "Cannot return disk '$($Operation['disk'])' of the role '$($Operation['name'])' to Available Storage" -Body {
        $disk = Get-ResourceByName -ResourceName $Operation['disk']
        $role = Get-GroupByName -GroupName $Operation['name']
        $storage = Get-AvailableStorageGroup
        # Both groups need one owner (see Add-RoleDisk). Here the stopped
        # role moves: "the cluster always attempts to return the group to
        # the state it was before the move" (MoveClusterGroup), so it stays
        # offline, whereas moving Available Storage would take its other
        # disks offline and online again.
        if ([string]$role.OwnerNode.Name -ne [string]$storage.OwnerNode.Name) {
            $null = Move-ClusterGroup -InputObject $role -Node ([string]$storage.OwnerNode.Name)
        }
        $null = Move-ClusterResource -InputObject $disk -Group ([string]$storage.Name)
    }
}

function Get-ResourceStateList {
    param(
        [Parameter(Mandatory)]
        [object]$Group
    )

    $states = Invoke-Step -Context "Cannot read the resources of the role '$($Group.Name)'" -Body {
        @(Get-ClusterResource -InputObject $Group | ForEach-Object { '{0} ({1})' -f $_.Name, $_.State })
    }
    @($states) -join ', '
}

function Wait-RoleNotPending {
    # Polls, once a second and for at most TimeoutSeconds, until the role is
    # no longer Pending: "at least one resource in the group is in a pending
    # state" (CLUSTER_GROUP_STATE), and such a group cannot be moved.
    param(
        [Parameter(Mandatory)]
        [string]$RoleName,

        [Parameter(Mandatory)]
        [long]$TimeoutSeconds,

        [Parameter(Mandatory)]
        [string]$Purpose
    )

    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $group = Invoke-Step -Context "Cannot read the state of the role '$RoleName'" -Body { Get-GroupByName -GroupName $RoleName }
        if ([string]$group.State -ne 'Pending') {
            return $group
        }
        if ($watch.Elapsed.TotalSeconds -ge $TimeoutSeconds) {
            throw "The role '$RoleName' is still Pending after $TimeoutSeconds seconds, so it cannot be $Purpose yet; resources: $(Get-ResourceStateList -Group $group)"
        }
        Start-Sleep -Seconds 1
    }
}

function Wait-RoleOnline {
    # Polls, once a second and for at most TimeoutSeconds, until the role is
    # Online. A role that stays Failed, or goes back to Offline after it had
    # started, for SettledSeconds will not come online by itself: the wait
    # ends there, with each resource's state.
    param(
        [Parameter(Mandatory)]
        [string]$RoleName,

        [Parameter(Mandatory)]
        [long]$TimeoutSeconds
    )

    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $started = $false
    $settledSince = -1.0
    while ($true) {
        # Read afresh each time: a ClusterGroup object's State is a snapshot.
        $group = Invoke-Step -Context "Cannot read the state of the role '$RoleName'" -Body { Get-GroupByName -GroupName $RoleName }
        $state = [string]$group.State
        if ($state -eq 'Online') {
            return
        }
        $elapsed = $watch.Elapsed.TotalSeconds
        $started = $started -or $state -ne 'Offline'
        if ($state -eq 'Failed' -or ($state -eq 'Offline' -and $started)) {
            if ($settledSince -lt 0) {
                $settledSince = $elapsed
            }
            elseif ($elapsed - $settledSince -ge $script:SettledSeconds) {
                throw "The role '$RoleName' is $state and has stayed so for $([int]($elapsed - $settledSince)) seconds, so it will not come Online by itself; resources: $(Get-ResourceStateList -Group $group)"
            }
        }
        else {
            $settledSince = -1.0
        }
        if ($elapsed -ge $TimeoutSeconds) {
            throw "The role '$RoleName' is not Online after $TimeoutSeconds seconds; its state is $state; resources: $(Get-ResourceStateList -Group $group)"
        }
        Start-Sleep -Seconds 1
    }
}

function Invoke-Operation {
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary]$Operation
    )

    $resourceName = $Operation['resource']
    $key = $Operation['key']
    $roleName = $Operation['name']
    $provider = $Operation['provider']
    switch -CaseSensitive ($Operation['action']) {
        'create_role' { New-ClusterRole -Operation $Operation }
        'add_checkpoint' {
            Invoke-Step -Context "Cannot add registry checkpoint '$key' to cluster resource '$resourceName'" -Body {
                $null = Add-ClusterCheckpoint -InputObject (Get-ResourceByName -ResourceName $resourceName) -RegistryCheckpoint $key
            }
        }
        'remove_checkpoint' {
            # Unlike Add-ClusterCheckpoint's, Remove-ClusterCheckpoint's
            # -RegistryCheckpoint is a switch (registry checkpoints only); the
            # key is given as -CheckpointName, which its page documents as
            # taking no wildcards. Its -InputObject takes the resource (its
            # INPUTS: Cluster or ClusterResource).
            Invoke-Step -Context "Cannot remove registry checkpoint '$key' from cluster resource '$resourceName'" -Body {
                $null = Remove-ClusterCheckpoint -InputObject (Get-ResourceByName -ResourceName $resourceName) -CheckpointName $key -RegistryCheckpoint -Force
            }
        }
        'add_service_resource' { Add-ServiceResource -Operation $Operation }
        'add_dependency' {
            # AddClusterResourceDependency: the dependency is added to the
            # resource's expression with "and". The provider is named as the
            # cluster names it; the controller refuses names holding [ ] * ?.
            Invoke-Step -Context "Cannot make cluster resource '$resourceName' depend on '$provider'" -Body {
                $dependent = Get-ResourceByName -ResourceName $resourceName
                $null = Add-ClusterResourceDependency -InputObject $dependent -Provider ([string](Get-ResourceByName -ResourceName $provider).Name)
            }
        }
        'remove_dependency' {
            Invoke-Step -Context "Cannot remove the dependency of cluster resource '$resourceName' on '$provider'" -Body {
                $dependent = Get-ResourceByName -ResourceName $resourceName
                $null = Remove-ClusterResourceDependency -InputObject $dependent -Provider ([string](Get-ResourceByName -ResourceName $provider).Name) -Confirm:$false
            }
        }
        'add_disk' { Add-RoleDisk -Operation $Operation }
        'release_disk' { Move-DiskToAvailableStorage -Operation $Operation }
        'start_role' {
            # A role just created with "-Wait 0" may still be Pending; it is
            # started once it has settled. "-Wait 0": the start is initiated
            # and the cmdlet returns.
            $group = Wait-RoleNotPending -RoleName $roleName -TimeoutSeconds $Operation['timeout_seconds'] -Purpose 'started'
            Invoke-Step -Context "Cannot start the role '$roleName'" -Body {
                $null = Start-ClusterGroup -InputObject $group -Wait 0
            }
        }
        'move_role' {
            # A role just created with "-Wait 0", or starting, is Pending
            # and cannot move yet. Without -Wait, Move-ClusterGroup returns
            # once the move has completed.
            $node = $Operation['node']
            $group = Wait-RoleNotPending -RoleName $roleName -TimeoutSeconds $Operation['timeout_seconds'] -Purpose "moved to '$node'"
            Invoke-Step -Context "Cannot move the role '$roleName' to node '$node'" -Body {
                $null = Move-ClusterGroup -InputObject $group -Node $node
            }
        }
        'stop_role' {
            # Without -Wait, Stop-ClusterGroup returns once the role is offline.
            Invoke-Step -Context "Cannot stop the role '$roleName'" -Body {
                $null = Stop-ClusterGroup -InputObject (Get-GroupByName -GroupName $roleName)
            }
        }
        'remove_role' {
            Invoke-Step -Context "Cannot remove the role '$roleName'" -Body {
                $null = Remove-ClusterGroup -InputObject (Get-GroupByName -GroupName $roleName) -RemoveResources -Force
            }
        }
    }
}

function Invoke-Apply {
    param(
        [AllowEmptyCollection()]
        [object[]]$OperationList,

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

    # Numbered from 1 in messages, as a person counts the list.
    for ($index = 0; $index -lt $OperationList.Count; $index++) {
        Assert-Operation -Operation $OperationList[$index] -Index ($index + 1)
    }
    if ($OperationList.Count -eq 0) {
        return
    }
    Import-FailoverCluster

    foreach ($operation in $OperationList) {
        $action = $operation['action']
        $target = @(foreach ($field in $script:StringFields[$action]) { "$field '$($operation[$field])'" }) -join ', '
        if ($action -ceq 'wait_online') {
            # Gated too: under -WhatIf the role may never have been created.
            # It changes nothing, so it is not 'applied'.
            if ($Cmdlet.ShouldProcess($target, "Wait up to $($operation['timeout_seconds']) seconds for the role to be Online")) {
                Wait-RoleOnline -RoleName $operation['name'] -TimeoutSeconds $operation['timeout_seconds']
            }
            continue
        }
        if (-not $Cmdlet.ShouldProcess($target, $action)) {
            continue
        }
        Invoke-Operation -Operation $operation

        $entry = @{}
        foreach ($field in @($operation.Keys)) {
            $entry[$field] = $operation[$field]
        }
        $applied.Add($entry)
        $Ansible.Changed = $true
    }
}

if ($Mode -eq 'probe') {
    Invoke-Probe -RoleName $Name -ServiceQueries $Services -DiskQueries $Disks
}
else {
    Invoke-Apply -OperationList $Operations -Cmdlet $PSCmdlet
}
