# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of pkiops.keyfactor_command.iis_app_pools: the one definition its docs stub and action plugin share."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._snapshot_spec import SNAPSHOT_OPTION

IDENTITY_TYPES = ["ApplicationPoolIdentity", "NetworkService", "LocalService", "LocalSystem", "SpecificUser"]

# Settings left out of a task keep an existing pool's value; a new pool gets CREATE_DEFAULTS.
POOL_OPTIONS = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "started": {"type": "bool", "default": True},
    "identity_type": {"type": "str", "choices": IDENTITY_TYPES},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "managed_runtime_version": {"type": "str", "choices": ["v4.0", "v2.0", "no_managed_code"]},
    "pipeline_mode": {"type": "str", "choices": ["Integrated", "Classic"]},
    "load_user_profile": {"type": "bool"},
    "start_mode": {"type": "str", "choices": ["OnDemand", "AlwaysRunning"]},
    "auto_start": {"type": "bool"},
    "enable_32bit": {"type": "bool"},
    "idle_timeout_minutes": {"type": "int"},
    "periodic_restart_minutes": {"type": "int"},
}

CREATE_DEFAULTS = {
    "identity_type": "ApplicationPoolIdentity",
    "managed_runtime_version": "v4.0",
    "pipeline_mode": "Integrated",
    "load_user_profile": True,
    "start_mode": "OnDemand",
    "auto_start": True,
    "enable_32bit": False,
}

ARGUMENT_SPEC = {
    "pools": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": POOL_OPTIONS,
        "required_if": [["identity_type", "SpecificUser", ["username"]]],
    },
    **SNAPSHOT_OPTION,
}

SPEC_RULES: dict = {}
