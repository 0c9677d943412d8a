# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of pkiops.keyfactor_command.private_key_acl: the one definition its docs stub and action plugin share."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._key_access_spec import KEY_ACCESS_OPTIONS, KEY_STORES
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._snapshot_spec import SNAPSHOT_OPTION

ARGUMENT_SPEC = {
    "thumbprint": {"type": "str", "required": True},
    "store_name": {"type": "str", "choices": KEY_STORES, "default": "My"},
    # Who may use the private key: names, not key material.
    "key_access": {"type": "list", "elements": "dict", "required": True, "options": KEY_ACCESS_OPTIONS, "no_log": False},
    **SNAPSHOT_OPTION,
}

SPEC_RULES: dict = {}
