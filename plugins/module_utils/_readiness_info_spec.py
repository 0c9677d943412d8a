# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of pkiops.keyfactor_command.readiness_info: the one definition its docs stub and action plugin share."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._cert_serial_registry_spec import GATEWAY_PARAMETERS_KEY
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._iis_app_pools_spec import IDENTITY_TYPES

# Each kind of requirement, with the options it needs.
KIND_OPTIONS = {
    "co_location": [],
    "account": ["account"],
    "group_member": ["group", "account"],
    "user_right": ["right", "account"],
    "directory_access": ["path"],
    "features": ["features"],
    "app_pool": ["pool", "identity_type"],
    "certificate": [],
    "key_access": ["account"],
    "registry_serial": [],
    "service_installed": ["service"],
    "cluster_role": ["role"],
}
# Kinds that name a certificate, by thumbprint or by the PFX file it came from.
CERTIFICATE_KINDS = ["certificate", "key_access", "registry_serial"]

# The profiles requirements can be attributed to: the roles of this collection.
PROFILES = ["common", "portal", "services", "web_api", "orchestrator_api", "ca_connector", "gateway_cluster_node"]

REQUIREMENT_OPTIONS = {
    "kind": {"type": "str", "required": True, "choices": list(KIND_OPTIONS)},
    "profile": {"type": "str", "choices": PROFILES, "default": "common"},
    "source": {"type": "str", "default": ""},
    "fix": {"type": "str", "default": ""},
    "account": {"type": "str"},
    "group": {"type": "str"},
    "right": {"type": "str"},
    "path": {"type": "str"},
    "file_rights": {"type": "list", "elements": "str", "default": ["CreateFiles", "AppendData"]},
    "features": {"type": "list", "elements": "str"},
    "pool": {"type": "str"},
    "identity_type": {"type": "str", "choices": IDENTITY_TYPES},
    "username": {"type": "str"},
    "store": {"type": "str", "default": "My"},
    "thumbprint": {"type": "str"},
    "pfx_src": {"type": "path"},
    "pfx_content": {"type": "str", "no_log": True},
    "pfx_password": {"type": "str", "no_log": True, "default": ""},
    "require_key": {"type": "bool", "default": True, "no_log": False},
    "expiry_warning_days": {"type": "int", "default": 30},
    "access": {"type": "str", "choices": ["read", "full_control"], "default": "read"},
    # A registry key path, not a cryptographic key.
    "registry_key": {"type": "str", "default": GATEWAY_PARAMETERS_KEY, "no_log": False},
    "value_name": {"type": "str", "default": "EncryptSerialNumber"},
    "service": {"type": "str"},
    "role": {"type": "str"},
    "services": {"type": "list", "elements": "str", "default": []},
    "checkpoints": {"type": "list", "elements": "str", "default": []},
    # Unset rather than false by default, so that giving it to a kind it does not apply to can be refused.
    "allow": {"type": "bool"},
}

ARGUMENT_SPEC = {
    "requirements": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": REQUIREMENT_OPTIONS,
        "mutually_exclusive": [["thumbprint", "pfx_src", "pfx_content"]],
        "required_if": [["kind", kind, options] for kind, options in KIND_OPTIONS.items() if options]
        + [["kind", kind, ["thumbprint", "pfx_src", "pfx_content"], True] for kind in CERTIFICATE_KINDS],
    },
}

SPEC_RULES: dict = {}
