# Pester 5 tests of the cluster_generic_service_role payload on a real
# failover cluster node (plugins/plugin_utils/_powershell/
# cluster_generic_service_role.ps1); README.md in this folder says how to run
# them and what they change.
#
# They run only on a node of a running cluster, and only when the operator
# sets PKIOPS_CLUSTER_TESTS=1, PKIOPS_CLUSTER_SERVICE (a service installed on
# every node) and PKIOPS_CLUSTER_ADDRESS (a free static IPv4 address on a
# client network): they create, start, move and remove a Generic Service role.
# Anywhere else the whole file is skipped, with the reason in its name.
#
# What this file depends on, each in one helper of BeforeAll:
#   probe   parameters Name, Services and Disks; result {cluster: {name,
#           local_node (the node whose id GetClusterNodeId gives), nodes:
#           [{name, state, id}], networks: [{name, role, address,
#           address_mask, ipv6_addresses: [address], ipv6_prefix_lengths:
#           [length]}]}, services: [{query, found, name, display_name}],
#           disks: [...], group: null or {name, group_type, state,
#           owner_node, resources: [{name, id, resource_type, state,
#           service_name, address, enable_dhcp, dependency_expression (with
#           resource ids, Get-ClusterResourceDependency -Guid), checkpoints}]},
#           resources: [{name, group}] (every resource of the cluster)}
#   apply   parameters Name and Operations, in the controller's order:
#           create_role {name, service_name, static_addresses,
#           ignore_networks (the subnets, <address>/<prefix length>, of the
#           client networks none of the addresses is in), storage},
#           add_checkpoint {resource, key}, move_role {name, node,
#           timeout_seconds} (waits while the role is Pending), start_role
#           {name, timeout_seconds} (the same wait), wait_online {name,
#           timeout_seconds}; for a removal
#           stop_role {name}, remove_dependency {resource, provider} and
#           release_disk {disk, name} for each disk, then remove_role
#           {name}. Resources and roles are found by exact name. Result
#           {applied: [operation]}

BeforeDiscovery {
    . (Join-Path $PSScriptRoot '_harness.ps1')
    $script:ClusterSkipReason = Get-ClusterTestSkipReason
    $script:ClusterDescribeName = 'cluster_generic_service_role payload'
    if ($null -ne $script:ClusterSkipReason) {
        $script:ClusterDescribeName = "cluster_generic_service_role payload (skipped: $($script:ClusterSkipReason))"
        Write-Host "cluster_generic_service_role tests skipped: $($script:ClusterSkipReason)"
    }
}

Describe $script:ClusterDescribeName -Skip:($null -ne $script:ClusterSkipReason) {
    BeforeAll {
        . (Join-Path $PSScriptRoot '_harness.ps1')
        Assert-PayloadTestHost
        Import-Module -Name FailoverClusters

        $script:Cleanup = New-CleanupList

        function Invoke-RoleProbe {
            param(
                [string[]]$Services = @($script:Service),
                [string]$Record
            )

            Invoke-Payload -Name 'cluster_generic_service_role' -Mode 'probe' -Parameters @{ Name = $script:RoleName; Services = $Services; Disks = @() } -Record $Record
        }

        function Invoke-RoleApply {
            param(
                [object[]]$Operations,
                [switch]$CheckMode
            )

            Invoke-Payload -Name 'cluster_generic_service_role' -Mode 'apply' -Parameters @{ Name = $script:RoleName; Operations = $Operations } -CheckMode:$CheckMode
        }

        function New-CreateRoleOperation {
            @{
                action = 'create_role'
                name = $script:RoleName
                service_name = $script:Service
                static_addresses = @($script:Address)
                ignore_networks = Get-IgnoreNetworkList -Address $script:Address
                storage = @()
            }
        }

        function Get-SubnetText {
            # <network address>/<prefix length>, the host bits cleared, as
            # the controller writes a subnet (Python's ip_network(...,
            # strict=False).with_prefixlen).
            param(
                [string]$Address,

                [int]$PrefixLength
            )

            $bytes = [System.Net.IPAddress]::Parse($Address).GetAddressBytes()
            for ($index = 0; $index -lt $bytes.Length; $index++) {
                $kept = [System.Math]::Max(0, [System.Math]::Min(8, $PrefixLength - (8 * $index)))
                $bytes[$index] = [byte]($bytes[$index] -band ((255 -shl (8 - $kept)) -band 255))
            }
            '{0}/{1}' -f [System.Net.IPAddress]::new($bytes), $PrefixLength
        }

        function Get-IgnoreNetworkList {
            # The subnets of the client networks none of the role's addresses
            # is in, as the controller sends them and
            # Add-ClusterGenericServiceRole -IgnoreNetwork takes them:
            # <address>/<prefix length>: the IPv4 subnet (Address,
            # AddressMask), or, for a network without one, each IPv6
            # prefix (IPv6Addresses, IPv6PrefixLengths) that is not
            # link-local. ClusterNetworkRole: 2 Client, 3 ClusterAndClient.
            param(
                [string]$Address
            )

            $ignore = [System.Collections.Generic.List[string]]::new()
            $addressBytes = [System.Net.IPAddress]::Parse($Address).GetAddressBytes()
            foreach ($network in Get-ClusterNetwork) {
                $role = [int]$network.Role
                if ($role -ne 2 -and $role -ne 3) {
                    continue
                }
                $subnets = [System.Collections.Generic.List[string]]::new()
                $inside = $false
                $networkAddress = $null
                $mask = $null
                if ([System.Net.IPAddress]::TryParse([string]$network.Address, [ref]$networkAddress) -and
                    [System.Net.IPAddress]::TryParse([string]$network.AddressMask, [ref]$mask) -and
                    $networkAddress.AddressFamily -eq [System.Net.Sockets.AddressFamily]::InterNetwork) {
                    $networkBytes = $networkAddress.GetAddressBytes()
                    $maskBytes = $mask.GetAddressBytes()
                    $inside = $true
                    $prefix = 0
                    for ($index = 0; $index -lt 4; $index++) {
                        if (($addressBytes[$index] -band $maskBytes[$index]) -ne ($networkBytes[$index] -band $maskBytes[$index])) {
                            $inside = $false
                        }
                        for ($bit = 0; $bit -lt 8; $bit++) {
                            if (($maskBytes[$index] -band (1 -shl $bit)) -ne 0) {
                                $prefix++
                            }
                        }
                    }
                    $subnets.Add((Get-SubnetText -Address ([string]$network.Address) -PrefixLength $prefix))
                }
                $ipv6Addresses = @($network.Ipv6Addresses)
                $ipv6Lengths = @($network.Ipv6PrefixLengths)
                $hasIpv4Subnet = $subnets.Count -gt 0
                for ($index = 0; -not $hasIpv4Subnet -and $index -lt [System.Math]::Min($ipv6Addresses.Count, $ipv6Lengths.Count); $index++) {
                    $ipv6Address = $null
                    if ([System.Net.IPAddress]::TryParse([string]$ipv6Addresses[$index], [ref]$ipv6Address) -and
                        -not $ipv6Address.IsIPv6LinkLocal -and "$($ipv6Lengths[$index])" -ne '') {
                        $subnets.Add((Get-SubnetText -Address ([string]$ipv6Addresses[$index]) -PrefixLength ([int]$ipv6Lengths[$index])))
                    }
                }
                if (-not $inside) {
                    $ignore.AddRange($subnets)
                }
            }
            , $ignore.ToArray()
        }

        function Get-OtherUpNode {
            # A node that is Up and does not own the role (or, before it
            # exists, is not this node), or $null.
            param(
                [string]$Owner
            )

            foreach ($node in Get-ClusterNode) {
                if ([string]$node.State -eq 'Up' -and [string]$node.Name -ne $Owner) {
                    return [string]$node.Name
                }
            }
            $null
        }

        function Get-RoleGroup {
            # The role's cluster group, or $null; by exact name, since
            # Get-ClusterGroup -Name fails for a name it does not find.
            foreach ($group in Get-ClusterGroup) {
                if ($group.Name -eq $script:RoleName) {
                    return $group
                }
            }
            $null
        }

        $script:Service = $env:PKIOPS_CLUSTER_SERVICE
        $script:Address = $env:PKIOPS_CLUSTER_ADDRESS
        # Add-ClusterGenericServiceRole names the service's resource after
        # the service's display name, as Failover Cluster Manager does.
        $script:ServiceResource = (Get-Service -Name $script:Service).DisplayName
        # A client access point name: at most 15 letters and digits.
        $script:RoleName = 'PKT' + [guid]::NewGuid().ToString('N').Substring(0, 10).ToUpperInvariant()
        $script:CheckpointKey = 'SOFTWARE\' + (New-TestName -Prefix 'pkiops-test-')
        $null = New-Item -Path "Registry::HKEY_LOCAL_MACHINE\$($script:CheckpointKey)" -Force
        Register-TestCleanup -List $script:Cleanup -Description "registry key HKLM\$($script:CheckpointKey)" -ArgumentList @($script:CheckpointKey) -Action {
            param($Key)
            if (Test-Path -LiteralPath "Registry::HKEY_LOCAL_MACHINE\$Key") {
                Remove-Item -LiteralPath "Registry::HKEY_LOCAL_MACHINE\$Key" -Recurse -Force
            }
        }
        # A second key, below the first, for the checkpoint that a wildcard
        # lookup of the resource would add.
        $script:WildcardKey = "$($script:CheckpointKey)\Wildcard"
        $null = New-Item -Path "Registry::HKEY_LOCAL_MACHINE\$($script:WildcardKey)" -Force
        $script:LocalNode = [string](Get-ClusterNode -Name $env:COMPUTERNAME).Name
        $script:MovedTo = $null
        Register-TestCleanup -List $script:Cleanup -Description "cluster role $($script:RoleName)" -ArgumentList @($script:RoleName) -Action {
            param($Name)
            foreach ($group in Get-ClusterGroup) {
                if ($group.Name -eq $Name) {
                    $null = Stop-ClusterGroup -InputObject $group
                    $null = Remove-ClusterGroup -InputObject $group -RemoveResources -Force
                }
            }
        }
    }

    AfterAll {
        # Loaded again: should Pester run this teardown for a skipped block,
        # BeforeAll's definitions would not exist.
        . (Join-Path $PSScriptRoot '_harness.ps1')
        Invoke-TestCleanup -List $script:Cleanup
    }

    It 'parses with Windows PowerShell''s own parser' {
        $errors = Get-PayloadParseError -Name 'cluster_generic_service_role'
        $errors.Count | Should -Be 0 -Because ($errors -join "`n")
    }

    It 'probe reports the cluster, its nodes and networks, the service on this node, and no role yet' {
        $run = Invoke-RoleProbe -Record 'no-role'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        $cluster = $run.Result['cluster']
        $cluster['name'] | Should -Be (Get-Cluster).Name
        # Named as the cluster names the node, which GetClusterNodeId
        # finds; $env:COMPUTERNAME is the upper-case NetBIOS name.
        $cluster['local_node'] | Should -BeExactly $script:LocalNode
        Test-IsList -Value $cluster['nodes'] | Should -BeTrue
        $reportedNodes = @($cluster['nodes'] | ForEach-Object { '{0}={1}' -f $_['name'], $_['id'] } | Sort-Object)
        $actualNodes = @(Get-ClusterNode | ForEach-Object { '{0}={1}' -f [string]$_.Name, [string]$_.Id } | Sort-Object)
        ($reportedNodes -join ',') | Should -BeExactly ($actualNodes -join ',')
        $local = @($cluster['nodes'] | Where-Object { $_['name'] -ceq $cluster['local_node'] })
        $local.Count | Should -Be 1
        $local[0]['id'] | Should -BeExactly ([string](Get-ClusterNode -Name $env:COMPUTERNAME).Id)
        Test-IsList -Value $cluster['networks'] | Should -BeTrue
        foreach ($network in $cluster['networks']) {
            @('None', 'Cluster', 'Client', 'ClusterAndClient') -ccontains $network['role'] | Should -BeTrue -Because "network $($network['name']) has a role name, not '$($network['role'])'"
            Test-IsList -Value $network['ipv6_addresses'] | Should -BeTrue
            Test-IsList -Value $network['ipv6_prefix_lengths'] | Should -BeTrue
            $network['ipv6_addresses'].Count | Should -Be $network['ipv6_prefix_lengths'].Count -Because "each IPv6 prefix of $($network['name']) has its length"
        }
        Test-IsList -Value $run.Result['resources'] | Should -BeTrue
        $reportedResources = @($run.Result['resources'] | ForEach-Object { '{0}|{1}' -f $_['name'], $_['group'] } | Sort-Object)
        $actualResources = @(Get-ClusterResource | ForEach-Object { '{0}|{1}' -f [string]$_.Name, [string]$_.OwnerGroup.Name } | Sort-Object)
        ($reportedResources -join ',') | Should -BeExactly ($actualResources -join ',')
        $run.Result['services'][0]['found'] | Should -BeTrue
        $run.Result['group'] | Should -BeNullOrEmpty
    }

    It 'apply in check mode (-WhatIf) creates no role' {
        $run = Invoke-RoleApply -Operations @((New-CreateRoleOperation), @{ action = 'wait_online'; name = $script:RoleName; timeout_seconds = 5 }) -CheckMode

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        $run.Result['applied'].Count | Should -Be 0
        Get-RoleGroup | Should -BeNullOrEmpty
    }

    It 'apply creates the role with its address and the subnets it ignores, checkpoints a key, moves it while it is still Pending, starts it and waits until it is Online' {
        # As the controller plans it with owner_node another node: the move
        # comes right after the create, while "-Wait 0" has left the new
        # role Pending, and waits for it to settle.
        $script:MovedTo = Get-OtherUpNode -Owner $script:LocalNode
        $operations = [System.Collections.Generic.List[object]]::new()
        $operations.Add((New-CreateRoleOperation))
        $operations.Add(@{ action = 'add_checkpoint'; resource = $script:ServiceResource; key = $script:CheckpointKey })
        $expected = 'create_role,add_checkpoint,start_role'
        if ($null -ne $script:MovedTo) {
            $operations.Add(@{ action = 'move_role'; name = $script:RoleName; node = $script:MovedTo; timeout_seconds = 300 })
            $expected = 'create_role,add_checkpoint,move_role,start_role'
        }
        $operations.Add(@{ action = 'start_role'; name = $script:RoleName; timeout_seconds = 300 })
        $operations.Add(@{ action = 'wait_online'; name = $script:RoleName; timeout_seconds = 300 })

        $run = Invoke-RoleApply -Operations $operations.ToArray()

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        @($run.Result['applied'] | ForEach-Object { $_['action'] }) -join ',' | Should -Be $expected
        $group = Get-RoleGroup
        [string]$group.State | Should -Be 'Online'
        if ($null -ne $script:MovedTo) {
            [string]$group.OwnerNode.Name | Should -Be $script:MovedTo
        }
        $resources = @(Get-ClusterResource | Where-Object { $_.OwnerGroup.Name -eq $script:RoleName })
        $address = @($resources | Where-Object { [string]$_.ResourceType.Name -eq 'IP Address' })
        $address.Count | Should -Be 1
        [string](Get-ClusterParameter -InputObject $address[0] -Name 'Address').Value | Should -Be $script:Address
        $service = @($resources | Where-Object { [string]$_.ResourceType.Name -eq 'Generic Service' })
        $service.Count | Should -Be 1
        [string](Get-ClusterParameter -InputObject $service[0] -Name 'ServiceName').Value | Should -Be $script:Service
        [string]$service[0].Name | Should -Be $script:ServiceResource
        @(Get-ClusterCheckpoint -InputObject $service[0] -RegistryCheckpoint | ForEach-Object { [string]$_.Name }) -contains $script:CheckpointKey | Should -BeTrue
    }

    It 'probe then reports the role Online with its resources, the service''s dependency and the checkpoint: nothing is left to add' {
        $run = Invoke-RoleProbe -Record 'role-online'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $group = $run.Result['group']
        $group['name'] | Should -Be $script:RoleName
        $group['group_type'] | Should -BeExactly 'GenericService'
        $group['state'] | Should -BeExactly 'Online'
        Test-IsList -Value $group['resources'] | Should -BeTrue
        $service = @($group['resources'] | Where-Object { $_['resource_type'] -eq 'Generic Service' })
        $service.Count | Should -Be 1
        $service[0]['service_name'] | Should -Be $script:Service
        # The dependency on the network name, by the network name
        # resource's id rather than by its name.
        $networkName = @($group['resources'] | Where-Object { $_['resource_type'] -eq 'Network Name' })
        $networkName.Count | Should -Be 1
        $actual = @(Get-ClusterResource | Where-Object { [string]$_.Name -eq $networkName[0]['name'] })
        $actual.Count | Should -Be 1
        $networkName[0]['id'] | Should -BeExactly ([string]$actual[0].Id)
        $service[0]['dependency_expression'] | Should -Match ([regex]::Escape($networkName[0]['id']))
        $service[0]['dependency_expression'] | Should -Not -Match ([regex]::Escape("[$($script:RoleName)]"))
        foreach ($resource in $group['resources']) {
            $resource['id'] | Should -Not -BeNullOrEmpty
            @($run.Result['resources'] | Where-Object { $_['name'] -eq $resource['name'] -and $_['group'] -eq $script:RoleName }).Count | Should -Be 1
        }
        $address = @($group['resources'] | Where-Object { $_['resource_type'] -eq 'IP Address' })
        $address[0]['address'] | Should -Be $script:Address
        $address[0]['enable_dhcp'] | Should -BeFalse
        Test-IsList -Value $service[0]['checkpoints'] | Should -BeTrue
        $service[0]['checkpoints'] -contains $script:CheckpointKey | Should -BeTrue
    }

    It 'apply finds a resource by its exact name: a name with a wildcard matches no other resource' {
        $pattern = $script:ServiceResource.Substring(0, [System.Math]::Min(3, $script:ServiceResource.Length)) + '*'

        $run = Invoke-RoleApply -Operations @(@{ action = 'add_checkpoint'; resource = $pattern; key = $script:WildcardKey })

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match ([regex]::Escape("the cluster has no resource named '$pattern'"))
        $service = @(Get-ClusterResource | Where-Object { $_.OwnerGroup.Name -eq $script:RoleName -and [string]$_.ResourceType.Name -eq 'Generic Service' })
        @(Get-ClusterCheckpoint -InputObject $service[0] -RegistryCheckpoint | ForEach-Object { [string]$_.Name }) -contains $script:WildcardKey | Should -BeFalse
    }

    It 'apply moves the role to another node that is Up' {
        $target = Get-OtherUpNode -Owner ([string](Get-RoleGroup).OwnerNode.Name)
        if ($null -eq $target) {
            Set-ItResult -Skipped -Because 'the cluster has no other node that is Up'
            return
        }

        $run = Invoke-RoleApply -Operations @(@{ action = 'move_role'; name = $script:RoleName; node = $target; timeout_seconds = 300 })

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        [string](Get-RoleGroup).OwnerNode.Name | Should -Be $target
    }

    It 'apply stops and removes the role, as the controller plans state=absent for a role without disks' {
        $operations = @(
            @{ action = 'stop_role'; name = $script:RoleName },
            @{ action = 'remove_role'; name = $script:RoleName }
        )

        $run = Invoke-RoleApply -Operations $operations

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        @($run.Result['applied'] | ForEach-Object { $_['action'] }) -join ',' | Should -Be 'stop_role,remove_role'
        Get-RoleGroup | Should -BeNullOrEmpty
        $probe = Invoke-RoleProbe
        $probe.Result['group'] | Should -BeNullOrEmpty
        @($probe.Result['resources'] | Where-Object { $_['group'] -eq $script:RoleName }).Count | Should -Be 0
    }
}
