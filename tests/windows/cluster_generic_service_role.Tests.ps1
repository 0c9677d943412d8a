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
#           local_node, nodes: [{name, state}], networks: [{name, role,
#           address, address_mask}]}, services: [{query, found, name,
#           display_name}], disks: [...], group: null or {name, group_type,
#           state, owner_node, resources: [{name, resource_type, state,
#           service_name, address, enable_dhcp, dependency_expression,
#           checkpoints}]}}
#   apply   parameters Name and Operations: create_role {name, service_name,
#           static_addresses, ignore_networks (<address>/<prefix length>),
#           storage}, add_checkpoint {resource, key}, start_role {name},
#           wait_online {name, timeout_seconds}, move_role {name, node},
#           remove_role {name, keep_disks}; result {applied: [operation]}

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

        function Get-IgnoreNetworkList {
            # The client networks none of the role's addresses is in, as
            # Add-ClusterGenericServiceRole -IgnoreNetwork takes them:
            # <address>/<prefix length>. ClusterNetworkRole: 2 Client,
            # 3 ClusterAndClient.
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
                $networkAddress = $null
                $mask = $null
                if (-not [System.Net.IPAddress]::TryParse([string]$network.Address, [ref]$networkAddress) -or
                    -not [System.Net.IPAddress]::TryParse([string]$network.AddressMask, [ref]$mask) -or
                    $networkAddress.AddressFamily -ne [System.Net.Sockets.AddressFamily]::InterNetwork) {
                    continue
                }
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
                if (-not $inside) {
                    $ignore.Add(('{0}/{1}' -f $network.Address, $prefix))
                }
            }
            , $ignore.ToArray()
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
        $cluster['local_node'] | Should -Be $env:COMPUTERNAME
        Test-IsList -Value $cluster['nodes'] | Should -BeTrue
        $reportedNodes = @($cluster['nodes'] | ForEach-Object { $_['name'] } | Sort-Object)
        $actualNodes = @(Get-ClusterNode | ForEach-Object { [string]$_.Name } | Sort-Object)
        ($reportedNodes -join ',') | Should -Be ($actualNodes -join ',')
        Test-IsList -Value $cluster['networks'] | Should -BeTrue
        foreach ($network in $cluster['networks']) {
            @('None', 'Cluster', 'Client', 'ClusterAndClient') -ccontains $network['role'] | Should -BeTrue -Because "network $($network['name']) has a role name, not '$($network['role'])'"
        }
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

    It 'apply creates the role with its address and the networks it ignores, checkpoints a key, starts it and waits until it is Online' {
        $operations = @(
            (New-CreateRoleOperation),
            @{ action = 'add_checkpoint'; resource = $script:ServiceResource; key = $script:CheckpointKey },
            @{ action = 'start_role'; name = $script:RoleName },
            @{ action = 'wait_online'; name = $script:RoleName; timeout_seconds = 300 }
        )

        $run = Invoke-RoleApply -Operations $operations

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        @($run.Result['applied'] | ForEach-Object { $_['action'] }) -join ',' | Should -Be 'create_role,add_checkpoint,start_role'
        $group = Get-RoleGroup
        [string]$group.State | Should -Be 'Online'
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
        $service[0]['dependency_expression'] | Should -Match ([regex]::Escape("[$($script:RoleName)]"))
        $address = @($group['resources'] | Where-Object { $_['resource_type'] -eq 'IP Address' })
        $address[0]['address'] | Should -Be $script:Address
        $address[0]['enable_dhcp'] | Should -BeFalse
        Test-IsList -Value $service[0]['checkpoints'] | Should -BeTrue
        $service[0]['checkpoints'] -contains $script:CheckpointKey | Should -BeTrue
    }

    It 'apply moves the role to another node that is Up' {
        $target = @(Get-ClusterNode | Where-Object { [string]$_.State -eq 'Up' -and [string]$_.Name -ne [string](Get-RoleGroup).OwnerNode.Name })
        if ($target.Count -eq 0) {
            Set-ItResult -Skipped -Because 'the cluster has no other node that is Up'
            return
        }

        $run = Invoke-RoleApply -Operations @(@{ action = 'move_role'; name = $script:RoleName; node = [string]$target[0].Name })

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        [string](Get-RoleGroup).OwnerNode.Name | Should -Be ([string]$target[0].Name)
    }

    It 'apply removes the role' {
        $run = Invoke-RoleApply -Operations @(@{ action = 'remove_role'; name = $script:RoleName; keep_disks = @() })

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        Get-RoleGroup | Should -BeNullOrEmpty
        (Invoke-RoleProbe).Result['group'] | Should -BeNullOrEmpty
    }
}
