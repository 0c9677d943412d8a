# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkiops.keyfactor_command.cert_serial_registry: its definition, free of Ansible."""

from __future__ import annotations

import re

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._cert_serial_registry_spec import ARGUMENT_SPEC, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._certificates import normalise_thumbprint
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    Definition,
    Plan,
    PlanError,
    TaskInputError,
    UnexpectedProbeResult,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._private_keys import KEY_STATES, cannot_open
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._registry_paths import local_machine_subkey

# Registry element size limits (Microsoft): a value name has at most 16,383 characters.
MAX_VALUE_NAME = 16383
# X509Certificate2.SerialNumber: the serial's bytes as uppercase hex, two digits a byte.
_SERIAL = re.compile(r"^(?:[0-9A-F]{2})+\Z")  # \Z: $ would also match before a final newline


class CertSerialRegistry(Definition):
    """Write the serial number of a certificate in a LocalMachine store to a registry value."""

    name = "cert_serial_registry"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES
    # It changes the registry, and reads the certificate store to find the serial.
    areas = ("certificates", "registry")
    failure_result_keys = ("key_created", "written")

    def check_params(self, params, context):
        if not params["value_name"]:
            raise TaskInputError("value_name: give the name of the registry value; the default value of a key is not supported")
        if len(params["value_name"]) > MAX_VALUE_NAME:
            raise TaskInputError(f"value_name: has {len(params['value_name'])} characters; a registry value's name has at most "
                                 f"{MAX_VALUE_NAME}")
        return dict(params, thumbprint=normalise_thumbprint(params["thumbprint"]), key=local_machine_subkey(params["key"]))

    def probe_parameters(self, params):
        return {"StoreName": params["store_name"], "Thumbprint": params["thumbprint"], "Key": params["key"],
                "ValueName": params["value_name"]}

    def plan(self, params, current, context):
        certificate, registry = current.get("certificate"), current.get("registry")
        if not isinstance(certificate, dict) or not isinstance(registry, dict):
            raise UnexpectedProbeResult("no 'certificate' and 'registry' reports")
        where = f"LocalMachine\\{params['store_name']}"
        if not certificate.get("found"):
            raise PlanError(f"thumbprint: the certificate {params['thumbprint']} is not in {where}; import it first")
        if not certificate.get("has_private_key"):
            raise PlanError(f"the certificate {params['thumbprint']} in {where} has no private key, so the service could not "
                            "decrypt with it; import it with its key")
        if certificate.get("key_error"):
            if certificate.get("key_state") not in KEY_STATES:
                raise UnexpectedProbeResult(f"the key does not open, and the report does not say why (key_state "
                                            f"{certificate.get('key_state')!r})")
            raise PlanError(f"the service could not decrypt with the certificate: {cannot_open(certificate, params['thumbprint'], where)}")
        serial = certificate.get("serial_number")
        if not isinstance(serial, str) or not _SERIAL.match(serial):
            raise UnexpectedProbeResult(f"no serial number for the certificate as X509Certificate2.SerialNumber gives it ({serial!r})")
        current_value = registry.get("value") if registry.get("value_exists") else None
        up_to_date = registry.get("value_kind") == "String" and current_value == serial
        path = f"HKLM:\\{params['key']}"
        return Plan(
            operations=[] if up_to_date else [{"serial": serial}],
            before={"key": path, "value_name": params["value_name"], "value": current_value,
                    "value_kind": registry.get("value_kind") if registry.get("value_exists") else None},
            after={"key": path, "value_name": params["value_name"], "value": serial, "value_kind": "String"},
            result={"serial_number": serial, "previous_value": current_value, "key": path, "value_name": params["value_name"]},
        )

    def apply_parameters(self, params, plan):
        return dict(self.probe_parameters(params), Serial=plan.operations[0]["serial"])


DEFINITION = CertSerialRegistry()
