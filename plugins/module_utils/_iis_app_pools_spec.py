# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of pkiops.keyfactor_command.iis_app_pools: the one definition its docs stub and action plugin share."""

from __future__ import annotations

IDENTITY_TYPES = ["ApplicationPoolIdentity", "NetworkService", "LocalService", "LocalSystem", "SpecificUser"]

POOL_OPTIONS = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "started": {"type": "bool", "default": True},
    "identity_type": {"type": "str", "choices": IDENTITY_TYPES, "default": "ApplicationPoolIdentity"},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "managed_runtime_version": {"type": "str", "choices": ["v4.0", "v2.0", "no_managed_code"], "default": "v4.0"},
    "pipeline_mode": {"type": "str", "choices": ["Integrated", "Classic"], "default": "Integrated"},
    "load_user_profile": {"type": "bool", "default": True},
    "start_mode": {"type": "str", "choices": ["OnDemand", "AlwaysRunning"], "default": "OnDemand"},
    "auto_start": {"type": "bool", "default": True},
    "enable_32bit": {"type": "bool", "default": False},
    "idle_timeout_minutes": {"type": "int"},
    "periodic_restart_minutes": {"type": "int"},
}

ARGUMENT_SPEC = {
    "pools": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": POOL_OPTIONS,
        "required_if": [["identity_type", "SpecificUser", ["username"]]],
    },
}

SPEC_RULES: dict = {}
