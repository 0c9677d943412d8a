# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of pkiops.keyfactor_command.user_rights: the one definition its docs stub and action plugin share."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._snapshot_spec import SNAPSHOT_OPTION

ARGUMENT_SPEC = {
    "rights": {"type": "dict", "required": True},
    "action": {"type": "str", "choices": ["add", "remove", "set"], "default": "add"},
    **SNAPSHOT_OPTION,
}

SPEC_RULES: dict = {}
