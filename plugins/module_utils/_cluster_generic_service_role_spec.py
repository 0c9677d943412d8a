# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of pkiops.keyfactor_command.cluster_generic_service_role: the one definition its docs stub and action plugin share."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._snapshot_spec import SNAPSHOT_OPTION

ADDITIONAL_SERVICE_OPTIONS = {
    "service": {"type": "str", "required": True},
    "registry_checkpoints": {"type": "list", "elements": "str", "default": []},
    "depends_on": {"type": "list", "elements": "str", "default": []},
}

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "service": {"type": "str"},
    "cluster": {"type": "str"},
    "static_addresses": {"type": "list", "elements": "str", "default": []},
    "storage": {"type": "list", "elements": "str", "default": []},
    "registry_checkpoints": {"type": "list", "elements": "str", "default": []},
    "registry_checkpoints_exclusive": {"type": "bool", "default": False},
    "additional_services": {"type": "list", "elements": "dict", "default": [], "options": ADDITIONAL_SERVICE_OPTIONS},
    "owner_node": {"type": "str"},
    "online_timeout": {"type": "int", "default": 120},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    **SNAPSHOT_OPTION,
}

SPEC_RULES: dict = {
    "required_if": [["state", "present", ["service"]]],
}
