# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of pkiops.keyfactor_command.user_rights: the one definition its docs stub and action plugin share."""

from __future__ import annotations

ARGUMENT_SPEC = {
    "rights": {"type": "dict", "required": True},
    "action": {"type": "str", "choices": ["add", "remove", "set"], "default": "add"},
}

SPEC_RULES: dict = {}
