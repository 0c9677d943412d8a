# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._iis_app_pools_spec import ARGUMENT_SPEC, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _iis_app_pools
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import WindowsTaskAction


class ActionModule(WindowsTaskAction):
    """Create, configure and remove IIS application pools with Microsoft.Web.Administration."""

    module_name = "iis_app_pools"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES

    def check_params(self, params):
        return dict(params, pools=_iis_app_pools.normalise_pools(params["pools"]))

    def probe_parameters(self, params):
        return _iis_app_pools.probe_parameters(params["pools"])

    def secrets(self, params, step):
        return _iis_app_pools.passwords_secret(params["pools"])

    def plan(self, params, current):
        return _iis_app_pools.plan(params["pools"], current, self._play_context.check_mode)
