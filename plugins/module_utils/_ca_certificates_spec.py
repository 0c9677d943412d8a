# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of pkiops.keyfactor_command.ca_certificates: the one definition its docs stub and action plugin share."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._snapshot_spec import SNAPSHOT_OPTION

# The LocalMachine system stores for CA certificates, by the names Windows gives
# them: CA is Intermediate Certification Authorities, Root is Trusted Root
# Certification Authorities.
CA_STORES = ["CA", "Root"]

CERTIFICATE_OPTIONS = {
    "src": {"type": "path"},
    # Certificates are public; the controller refuses content that holds a key.
    "content": {"type": "str", "no_log": False},
    "store": {"type": "str", "choices": ["auto", *CA_STORES], "default": "auto"},
}

ARGUMENT_SPEC = {
    "certificates": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": CERTIFICATE_OPTIONS,
        "mutually_exclusive": [["src", "content"]],
        "required_one_of": [["src", "content"]],
    },
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    **SNAPSHOT_OPTION,
}

SPEC_RULES: dict = {}
