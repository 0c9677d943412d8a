# pkiops-payload: cluster_generic_service_role
#
# Reads or changes a Failover Cluster Generic Service role (a cluster group
# whose name is also its client access point name) on the local cluster. The
# payload runs on a cluster node, so no cmdlet below is given -Cluster.
#
# probe: read only. Reports the cluster (nodes, networks), the services named
#        in -Services as installed on this node, the cluster disks in -Disks,
#        and the role -Name with its resources, their dependency expressions
#        and registry checkpoints. Safe under -WhatIf: nothing in this mode is
#        gated by ShouldProcess or writes.
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
# Remove-ClusterGroup); ChangeClusterResourceGroup and CLUSGROUP_TYPE in
# clusapi.h; System.ServiceProcess.ServiceController.
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

# The fields each action must carry: non-empty strings, and lists (possibly
# empty) of non-empty strings. wait_online's timeout_seconds is checked on
# its own.
$script:StringFields = @{
    create_role = @('name', 'service_name')
    add_checkpoint = @('resource', 'key')
    remove_checkpoint = @('resource', 'key')
    add_service_resource = @('resource', 'group', 'service_name')
    add_dependency = @('resource', 'provider')
    add_disk = @('disk', 'group')
    start_role = @('name')
    move_role = @('name', 'node')
    remove_role = @('name')
    wait_online = @('name')
}
$script:ListFields = @{
    create_role = @('static_addresses', 'ignore_networks', 'storage')
    remove_role = @('keep_disks')
}

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

    $Ansible.Result = @{
        cluster = $cluster
        services = $serviceReport
        disks = Get-DiskReport -Queries $DiskQueries -Resources $resources
        group = Get-GroupReport -RoleName $RoleName -Resources $resources
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
    if ($action -ceq 'wait_online') {
        $timeout = $Operation['timeout_seconds']
        if (($timeout -isnot [int] -and $timeout -isnot [long]) -or $timeout -lt 0) {
            throw "Invalid operation #${Index}: $action needs 'timeout_seconds' as a whole number of seconds, 0 or more."
        }
    }
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
        # returns without waiting. Waiting is the wait_online operation.
        Wait = 0
    }
    # Each only when given, as the StringCollection the cmdlet declares.
    if ($Operation['static_addresses'].Count -gt 0) {
        $parameters['StaticAddress'] = [System.Collections.Specialized.StringCollection]::new()
        $parameters['StaticAddress'].AddRange([string[]]$Operation['static_addresses'])
    }
    # Every client network without DHCP needs a static address or must be
    # ignored (Learn, Add-ClusterGenericServiceRole -IgnoreNetwork); the
    # controller ignores the client networks none of the addresses is in.
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
        $source = (Get-ClusterResource -Name $Operation['disk']).OwnerGroup
        $targetNode = [string](Get-ClusterGroup -Name $Operation['group']).OwnerNode.Name
        # Moving a resource to another group is ChangeClusterResourceGroup,
        # which needs both groups "owned by the same node regardless of the
        # resource's state" (clusapi.h). Available Storage holds only unused
        # disks, so it is the group that moves; a disk held by another role
        # is left to Windows' error.
        if ([string]$source.GroupType -eq 'AvailableStorage' -and [string]$source.OwnerNode.Name -ne $targetNode) {
            $null = Move-ClusterGroup -Name ([string]$source.Name) -Node $targetNode
        }
        $null = Move-ClusterResource -Name $Operation['disk'] -Group $Operation['group']
    }
}

function Remove-ClusterRole {
    # Remove-ClusterGroup -RemoveResources "delete[s] all resources in the
    # clustered role before removing the clustered role" (Learn). For a
    # Physical Disk resource that takes the disk out of the cluster, so each
    # disk to keep is first returned to Available Storage.
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary]$Operation
    )

    $roleName = $Operation['name']
    # Without -Wait, Stop-ClusterGroup returns once the role is offline.
    Invoke-Step -Context "Cannot stop the role '$roleName'" -Body { $null = Stop-ClusterGroup -Name $roleName }

    foreach ($diskName in $Operation['keep_disks']) {
        Invoke-Step -Context "Cannot return disk '$diskName' of the role '$roleName' to Available Storage" -Body {
            $members = @(Get-ClusterResource -InputObject (Get-ClusterGroup -Name $roleName))
            $disk = Find-ByName -Items $members -Name $diskName
            # A disk outside the role is out of -RemoveResources' reach.
            if ($null -eq $disk) {
                return
            }
            foreach ($member in $members) {
                if ($member.Name -eq $disk.Name) {
                    continue
                }
                # ChangeClusterResourceGroup moves a resource's whole
                # dependency tree: a resource still depending on the disk
                # would follow it into Available Storage. An expression names
                # each provider in brackets, e.g. "([Cluster Disk 2])".
                $expression = [string](Get-ClusterResourceDependency -InputObject $member).DependencyExpression
                if ($expression.IndexOf("[$($disk.Name)]", [System.StringComparison]::OrdinalIgnoreCase) -ge 0) {
                    $null = Remove-ClusterResourceDependency -Resource ([string]$member.Name) -Provider ([string]$disk.Name) -Confirm:$false
                }
            }
            # Both groups need one owner (see Add-RoleDisk). Here the stopped
            # role moves: "the cluster always attempts to return the group to
            # the state it was before the move" (MoveClusterGroup), so it
            # stays offline, whereas moving Available Storage would take its
            # other disks offline and online again.
            $storage = Get-AvailableStorageGroup
            if ([string](Get-ClusterGroup -Name $roleName).OwnerNode.Name -ne [string]$storage.OwnerNode.Name) {
                $null = Move-ClusterGroup -Name $roleName -Node ([string]$storage.OwnerNode.Name)
            }
            $null = Move-ClusterResource -Name ([string]$disk.Name) -Group ([string]$storage.Name)
        }
    }

    Invoke-Step -Context "Cannot remove the role '$roleName'" -Body {
        $null = Remove-ClusterGroup -Name $roleName -RemoveResources -Force
    }
}

function Wait-RoleOnline {
    param(
        [Parameter(Mandatory)]
        [string]$RoleName,

        [Parameter(Mandatory)]
        [long]$TimeoutSeconds
    )

    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $group = Invoke-Step -Context "Cannot read the state of the role '$RoleName'" -Body { Get-ClusterGroup -Name $RoleName }
        $state = [string]$group.State
        if ($state -eq 'Online') {
            return
        }
        if ($watch.Elapsed.TotalSeconds -ge $TimeoutSeconds) {
            break
        }
        Start-Sleep -Seconds 1
    }
    $resources = Invoke-Step -Context "Cannot read the resources of the role '$RoleName'" -Body {
        @(Get-ClusterResource -InputObject $group | ForEach-Object { '{0} ({1})' -f $_.Name, $_.State })
    }
    throw "The role '$RoleName' is not Online after $TimeoutSeconds seconds; its state is $state; resources: $(@($resources) -join ', ')"
}

function Invoke-Operation {
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary]$Operation
    )

    $resource = $Operation['resource']
    $key = $Operation['key']
    $name = $Operation['name']
    switch -CaseSensitive ($Operation['action']) {
        'create_role' { New-ClusterRole -Operation $Operation }
        'add_checkpoint' {
            Invoke-Step -Context "Cannot add registry checkpoint '$key' to cluster resource '$resource'" -Body {
                $null = Add-ClusterCheckpoint -ResourceName $resource -RegistryCheckpoint $key
            }
        }
        'remove_checkpoint' {
            # Unlike Add-ClusterCheckpoint's, Remove-ClusterCheckpoint's
            # -RegistryCheckpoint is a switch (registry checkpoints only); the
            # key is given as -CheckpointName.
            Invoke-Step -Context "Cannot remove registry checkpoint '$key' from cluster resource '$resource'" -Body {
                $null = Remove-ClusterCheckpoint -ResourceName $resource -CheckpointName $key -RegistryCheckpoint -Force
            }
        }
        'add_service_resource' { Add-ServiceResource -Operation $Operation }
        'add_dependency' {
            Invoke-Step -Context "Cannot make cluster resource '$resource' depend on '$($Operation['provider'])'" -Body {
                $null = Add-ClusterResourceDependency -Resource $resource -Provider $Operation['provider']
            }
        }
        'add_disk' { Add-RoleDisk -Operation $Operation }
        'start_role' {
            # "-Wait 0": the start is initiated and the cmdlet returns.
            Invoke-Step -Context "Cannot start the role '$name'" -Body { $null = Start-ClusterGroup -Name $name -Wait 0 }
        }
        'move_role' {
            # Without -Wait the cmdlet returns once the move has completed.
            Invoke-Step -Context "Cannot move the role '$name' to node '$($Operation['node'])'" -Body {
                $null = Move-ClusterGroup -Name $name -Node $Operation['node']
            }
        }
        'remove_role' { Remove-ClusterRole -Operation $Operation }
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
