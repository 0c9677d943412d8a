# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of pkiops.keyfactor_command.cert_serial_registry: the one definition its docs stub and action plugin share."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._key_access_spec import KEY_STORES
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._snapshot_spec import SNAPSHOT_OPTION

GATEWAY_PARAMETERS_KEY = r"HKLM:\SOFTWARE\Keyfactor\Keyfactor CA Gateway\Parameters"

ARGUMENT_SPEC = {
    "thumbprint": {"type": "str", "required": True},
    "store_name": {"type": "str", "choices": KEY_STORES, "default": "My"},
    # A registry key path, not a cryptographic key.
    "key": {"type": "str", "default": GATEWAY_PARAMETERS_KEY, "no_log": False},
    "value_name": {"type": "str", "default": "EncryptSerialNumber"},
    **SNAPSHOT_OPTION,
}

SPEC_RULES: dict = {}
