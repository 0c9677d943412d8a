# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option every module that can consult a pkiops.keyfactor_command.host_snapshot shares."""

from __future__ import annotations

SNAPSHOT_OPTION = {
    "snapshot": {"type": "dict"},
}

# The modules whose reads a snapshot can hold: every module of this collection
# that changes the host.
READABLE_MODULES = [
    "ca_certificates",
    "cert_serial_registry",
    "cluster_generic_service_role",
    "iis_app_pools",
    "pfx_import",
    "private_key_acl",
    "user_rights",
]
