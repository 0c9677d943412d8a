# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import action_module

ActionModule = action_module("iis_app_pools")
