# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of pkiops.keyfactor_command.pfx_import: the one definition its docs stub and action plugin share."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._key_access_spec import KEY_ACCESS_OPTIONS, KEY_STORES
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._snapshot_spec import SNAPSHOT_OPTION

ARGUMENT_SPEC = {
    "src": {"type": "path"},
    "content": {"type": "str", "no_log": True},
    "password": {"type": "str", "no_log": True, "default": ""},
    "store_name": {"type": "str", "choices": KEY_STORES, "default": "My"},
    "exportable": {"type": "bool", "default": False},
    "chain": {"type": "str", "choices": ["skip", "install"], "default": "skip"},
    "require_rsa": {"type": "bool", "default": False},
    "require_encipherment": {"type": "bool", "default": False},
    "allow_expired": {"type": "bool", "default": False},
    "expiry_warning_days": {"type": "int", "default": 30},
    # Who may use the private key: names, not key material.
    "key_access": {"type": "list", "elements": "dict", "default": [], "options": KEY_ACCESS_OPTIONS, "no_log": False},
    **SNAPSHOT_OPTION,
}

SPEC_RULES: dict = {
    "mutually_exclusive": [["src", "content"]],
    "required_one_of": [["src", "content"]],
}
