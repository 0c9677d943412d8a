# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key_access option shared by pfx_import and private_key_acl."""

from __future__ import annotations

KEY_ACCESS_OPTIONS = {
    "principal": {"type": "str", "required": True},
    "access": {"type": "str", "choices": ["read", "full_control"], "default": "read"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}

# LocalMachine stores a certificate with a private key is usually kept in.
KEY_STORES = ["My", "WebHosting", "TrustedPeople", "Remote Desktop"]
