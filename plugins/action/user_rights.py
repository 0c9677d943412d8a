# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._user_rights_spec import ARGUMENT_SPEC, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _user_rights
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import WindowsTaskAction


class ActionModule(WindowsTaskAction):
    """Grant or revoke Windows logon rights and privileges through LSA."""

    module_name = "user_rights"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES

    def check_params(self, params):
        return dict(params, rights=_user_rights.normalise_rights(params["rights"]))

    def probe_parameters(self, params):
        return {
            "Rights": list(params["rights"]),
            "Accounts": _user_rights.accounts_to_resolve(params["rights"]),
        }

    def plan(self, params, current):
        return _user_rights.plan(params["rights"], params["action"], current)
