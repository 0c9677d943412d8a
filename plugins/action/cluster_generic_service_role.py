# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import re

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._cluster_generic_service_role_spec import (
    ARGUMENT_SPEC,
    SPEC_RULES,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._cluster import check_params, plan_role
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import WindowsTaskAction

_ACCESS_DENIED = re.compile(r"access is denied|administrative privileges|0x80070005|unauthorizedaccess", re.IGNORECASE)
_NO_MODULE = re.compile(r"FailoverClusters", re.IGNORECASE)
_NOT_A_NODE = re.compile(r"cluster service is not running|not a member of a cluster|no cluster", re.IGNORECASE)


class ActionModule(WindowsTaskAction):
    """Create, complete or remove a Failover Cluster Generic Service role."""

    module_name = "cluster_generic_service_role"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES

    def check_params(self, params):
        return check_params(params)

    def probe_parameters(self, params):
        services = [] if params["state"] == "absent" else (
            [params["service"]] + [entry["service"] for entry in params["additional_services"]])
        return {"Name": params["name"], "Services": services,
                "Disks": [] if params["state"] == "absent" else params["storage"]}

    def plan(self, params, current):
        return plan_role(params, current)

    def apply_parameters(self, params, plan):
        return {"Name": params["name"], "Operations": plan.operations}

    def explain_failure(self, step, message):
        message = message.rstrip(". ")
        if _NO_MODULE.search(message) and "module" in message.lower():
            return (f"{message}. The host needs the Failover Clustering PowerShell module: install the Failover-Clustering "
                    "feature with its management tools (RSAT-Clustering-PowerShell)")
        if _NOT_A_NODE.search(message):
            return f"{message}. Run this task on a node of the cluster, with its cluster service running"
        if _ACCESS_DENIED.search(message):
            how = ("the task ran with become, so the account it became needs to be an administrator of the cluster and "
                   "of every node" if self._task.become else
                   "a WinRM logon cannot pass its credentials on to the other nodes (the double hop). Run the task "
                   "with become: true, become_method: ansible.builtin.runas and become_user set to a cluster "
                   "administrator, or use CredSSP or Kerberos delegation")
            return f"{message}. Cluster changes reach every node of the cluster, and {how}"
        return message
