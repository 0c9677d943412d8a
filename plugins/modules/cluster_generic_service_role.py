#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_generic_service_role
short_description: Make a Windows service highly available as a Failover Cluster Generic Service role
version_added: 0.1.0
description:
  - Creates a Failover Cluster role for a Windows service, as the High Availability Wizard's Generic Service
    choice does, with its client access point, static addresses, disks and registry checkpoints. This is how the
    Keyfactor CA Gateway runs on a cluster.
  - Adds further Generic Service resources to the same role, each with its own registry checkpoints and
    dependencies, as Failover Cluster Manager's B(Add Resource > Generic Service) does (for example the Keyfactor
    Managed CA Sync Service).
  - Optionally moves the role to a given node, so that the node where a configuration wizard will run is the active one.
  - Waits, for at most O(online_timeout) seconds, for the role to come online, and fails with the state of each resource
    if it does not. A role that stays C(Failed), or goes back to C(Offline) after it had started, for 10 seconds will not
    come online by itself, and the wait ends there.
  - Idempotent. A role that a failed run left incomplete (for example created, but without its registry checkpoint) is
    completed by the next run; it never blocks it.
  - The role's static addresses are set when the module creates the role. The module does not change the addresses of an
    existing role; it fails, changing nothing, when they differ from O(static_addresses).
  - The C(pkiops.keyfactor_command.gateway_cluster_node) role uses this module for the Keyfactor CA Gateway.
  - Run the task on one node of the cluster (for example with C(run_once)). It uses the C(FailoverClusters) PowerShell
    module, which the C(RSAT-Clustering-PowerShell) feature installs.
options:
  name:
    description:
      - The role's name, which is also its client access point (network name) registered in DNS and Active Directory.
      - 1 to 15 letters, digits and hyphens, not all digits, and neither starting nor ending with a hyphen.
      - A new role's name must not be the name of the cluster or of one of its nodes, compared without regard to case.
    type: str
    required: true
  service:
    description:
      - The Windows service the role runs, by service name or display name, for example C(Keyfactor Managed CA Gateway).
      - It must be installed on every node the role may fail over to. The module checks the node the task runs on only;
        reaching the other nodes' services would need credentials a WinRM logon cannot pass on (the double hop). The
        C(pkiops.keyfactor_command.gateway_cluster_node) role checks every node of its play.
      - Required when O(state=present).
    type: str
  cluster:
    description:
      - The name of the cluster the task expects to run on. When given, the task fails, changing nothing, on a host that is a
        node of another cluster.
    type: str
  static_addresses:
    description:
      - IPv4 addresses for the client access point. Each must lie in a cluster network that carries client traffic.
      - A client network none of the addresses is in is left out of the role, unless it has DHCP; Windows always gives the
        role an address on a network with DHCP, and the module does not count such an address among these. The module
        names such a network to Windows by its subnets (for example C(192.0.2.0/24)), IPv6 prefixes included.
      - Leave empty when every client network has DHCP.
    type: list
    elements: str
    default: []
  storage:
    description:
      - Cluster disk resources the role owns, for example C(Cluster Disk 2). Each must be in the cluster's Available Storage
        or already in this role. A disk listed here that an existing role lacks is moved into it.
      - A name must not hold C([), C(]), C(*) or C(?). The cluster writes a resource in a dependency expression between
        brackets, with no documented way to write a bracket inside one, and its cmdlets may read these characters as
        wildcards.
    type: list
    elements: str
    default: []
  registry_checkpoints:
    description:
      - Registry keys, relative to C(HKEY_LOCAL_MACHINE), that the cluster replicates to the node the service runs on, for
        example C(SOFTWARE\Keyfactor\Keyfactor CA Gateway\Parameters). C(HKLM:\...), C(HKLM:/...),
        C(HKEY_LOCAL_MACHINE\...) and C(Registry::HKEY_LOCAL_MACHINE\...) are accepted too.
      - A forward slash separates key names, as in PowerShell; a key whose own name holds one cannot be given.
      - The path starts with one of the keys Windows has directly under C(HKEY_LOCAL_MACHINE) (C(SOFTWARE), C(SYSTEM),
        C(HARDWARE), C(SAM), C(SECURITY), C(BCD00000000)); no other key can be created at that level. Empty key names,
        names over 255 characters and control characters are refused.
      - Missing checkpoints are added to the main service's resource.
    type: list
    elements: str
    default: []
  registry_checkpoints_exclusive:
    description:
      - Also remove registry checkpoints that are not listed, from the main service's resource and from each resource in
        O(additional_services).
    type: bool
    default: false
  additional_services:
    description:
      - Further Windows services that run in the same role, each as a Generic Service resource named after the service's
        display name.
    type: list
    elements: dict
    default: []
    suboptions:
      service:
        description:
          - The service, by service name or display name.
        type: str
        required: true
      registry_checkpoints:
        description:
          - Registry keys, relative to C(HKEY_LOCAL_MACHINE), replicated for this service.
        type: list
        elements: str
        default: []
      depends_on:
        description:
          - Resources of the role this service's resource depends on, by resource name. The client access point's resource
            is named O(name); a Generic Service resource is named after its service's display name, also for the services
            of other entries, listed before or after this one.
          - A resource cannot depend on itself, directly or through others; the task fails, changing nothing, when it would.
          - A name must not hold C([), C(]), C(*) or C(?), as for O(storage).
        type: list
        elements: str
        default: []
  owner_node:
    description:
      - The node that should own (run) the role. The role is moved there when another node owns it.
      - A role that is coming online cannot move; the module waits for at most O(online_timeout) seconds until it can.
    type: str
  online_timeout:
    description:
      - How many seconds to wait, after a change, for the role to come online (1 to 3600), and at most as long, before
        moving it, for a role that is still coming online.
    type: int
    default: 120
  state:
    description:
      - V(present) creates or completes the role and makes sure it is online.
      - V(absent) stops and removes the role. Its disks go back to the cluster's Available Storage, offline; they are not
        removed from the cluster. The dependencies of the role's other resources on them are removed first, since a disk
        that moves to another group takes every resource that depends on it along.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - pkiops.keyfactor_command.windows_task
  - pkiops.keyfactor_command.snapshot
notes:
  - Cluster changes reach every node of the cluster. A WinRM logon cannot pass its credentials on to them (the
    double hop), so the change fails with access denied unless the task runs with C(become)
    (C(become_method=ansible.builtin.runas), C(become_user) an administrator of the cluster), or the connection delegates
    credentials (CredSSP, or Kerberos with delegation).
  - The module does not build the cluster, prepare its storage, or start or stop the role on demand.
  - Add-ClusterGenericServiceRole names the service's resource itself; the module expects the service's display name, as
    Failover Cluster Manager shows it. Should Windows name it otherwise, the first run fails adding the registry checkpoint
    and the next run, which finds the resource by its service, adds it.
seealso:
  - name: Add-ClusterGenericServiceRole
    description: The cmdlet the module creates a role with.
    link: https://learn.microsoft.com/powershell/module/failoverclusters/add-clustergenericservicerole
author:
  - pkiops maintainers (@pkiops)
"""

EXAMPLES = r"""
- name: Make the Keyfactor CA Gateway highly available
  pkiops.keyfactor_command.cluster_generic_service_role:
    name: CloudGateway
    cluster: GWCLUSTER
    service: Keyfactor Managed CA Gateway
    static_addresses:
      - 192.0.2.50
    storage:
      - Cluster Disk 2
    registry_checkpoints:
      - SOFTWARE\Keyfactor\Keyfactor CA Gateway\Parameters
    owner_node: GW01
  become: true
  become_method: ansible.builtin.runas
  become_user: CONTOSO\cluster-admin
  vars:
    ansible_become_password: "{{ vault_cluster_admin_password }}"
  run_once: true

- name: Add the sync service to the gateway's role
  pkiops.keyfactor_command.cluster_generic_service_role:
    name: CloudGateway
    service: Keyfactor Managed CA Gateway
    additional_services:
      - service: Keyfactor Managed CA Sync Service
        depends_on:
          - CloudGateway
  become: true
  become_method: ansible.builtin.runas
  become_user: CONTOSO\cluster-admin
  vars:
    ansible_become_password: "{{ vault_cluster_admin_password }}"
  run_once: true

- name: Remove the role, leaving its disks in Available Storage
  pkiops.keyfactor_command.cluster_generic_service_role:
    name: CloudGateway
    state: absent
  become: true
  become_method: ansible.builtin.runas
  become_user: CONTOSO\cluster-admin
  vars:
    ansible_become_password: "{{ vault_cluster_admin_password }}"
  run_once: true
"""

RETURN = r"""
cluster:
  description: The name of the cluster the host is a node of.
  returned: success
  type: str
  sample: GWCLUSTER
nodes:
  description: The cluster's nodes and their state, for example to check that a play reaches every node.
  returned: success
  type: list
  elements: dict
  sample:
    - name: GW01
      state: Up
    - name: GW02
      state: Up
name:
  description: The role's name.
  returned: always
  type: str
  sample: CloudGateway
role:
  description:
    - The role as it is after the task (in check mode, as it would be).
    - C(state) is C(present) or C(absent); the other keys are there only when it is present.
  returned: success
  type: dict
  contains:
    state:
      description: Whether the role exists.
      type: str
      sample: present
    name:
      description: The role's name.
      type: str
      sample: CloudGateway
    status:
      description: The role's state, C(Online) after a successful run.
      type: str
      sample: Online
    owner_node:
      description: The node that runs the role.
      type: str
      sample: GW01
    resources:
      description:
        - The role's resources by name, each with its C(type), C(service_name) (Generic Service), C(address) (IP Address),
          C(checkpoints) and C(depends_on).
      type: dict
      sample:
        CloudGateway:
          type: Network Name
          service_name: null
          address: null
          checkpoints: []
          depends_on: [IP Address 192.0.2.50]
        Keyfactor Managed CA Gateway:
          type: Generic Service
          service_name: CAGateway
          address: null
          checkpoints: [SOFTWARE\Keyfactor\Keyfactor CA Gateway\Parameters]
          depends_on: [CloudGateway, Cluster Disk 2]
created:
  description: Whether the task created the role.
  returned: success
  type: bool
  sample: true
removed:
  description: Whether the task removed the role.
  returned: success
  type: bool
  sample: false
actions:
  description:
    - The changes made (in check mode, that would be made), in order, each with its C(action) and what it acted on.
    - C(action) is one of C(create_role), C(add_checkpoint), C(remove_checkpoint), C(add_service_resource),
      C(add_dependency), C(add_disk), C(move_role), C(start_role), and, when the role is removed, C(stop_role),
      C(remove_dependency), C(release_disk) and C(remove_role).
  returned: success
  type: list
  elements: dict
  sample:
    - action: create_role
      name: CloudGateway
      service_name: CAGateway
      static_addresses: [192.0.2.50]
      ignore_networks: [198.51.100.0/24]
      storage: [Cluster Disk 2]
    - action: add_checkpoint
      resource: Keyfactor Managed CA Gateway
      key: SOFTWARE\Keyfactor\Keyfactor CA Gateway\Parameters
    - action: move_role
      name: CloudGateway
      node: GW01
      timeout_seconds: 120
    - action: start_role
      name: CloudGateway
applied:
  description: When a change failed part way, the changes made before it failed; running the task again finishes the rest.
  returned: failure during a change
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._cluster_generic_service_role_spec import (  # noqa: E402  pylint: disable=wrong-import-position
    ARGUMENT_SPEC,
    SPEC_RULES,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SPEC_RULES)
    module.fail_json(msg="pkiops.keyfactor_command.cluster_generic_service_role runs through its action plugin; this file holds its documentation")


if __name__ == "__main__":
    main()
