# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of pkiops.keyfactor_command.host_snapshot: the one definition its docs stub and action plugin share."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._snapshot_spec import READABLE_MODULES

# A task named to the snapshot: read for (reads), or only checked (validate).
_TASK_OPTIONS = {
    "module": {"type": "str", "required": True, "choices": READABLE_MODULES},
    "options": {"type": "dict", "required": True},
    # The inventory's words for the task and its options, which a refusal is told in.
    "about": {"type": "str", "default": ""},
    "names": {"type": "dict", "default": {}},
}

ARGUMENT_SPEC = {
    "reads": {"type": "list", "elements": "dict", "default": [], "options": _TASK_OPTIONS},
    "validate": {"type": "list", "elements": "dict", "default": [], "options": _TASK_OPTIONS},
    "checks": {"type": "dict", "default": {}},
}

SPEC_RULES: dict = {}
