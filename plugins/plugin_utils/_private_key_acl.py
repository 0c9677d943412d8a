# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkiops.keyfactor_command.private_key_acl: its definition, free of Ansible."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._private_key_acl_spec import ARGUMENT_SPEC, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _private_keys
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._certificates import normalise_thumbprint
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import Definition, Plan, PlanError


def _certificate(params: dict) -> dict:
    return {"StoreName": params["store_name"], "Thumbprint": params["thumbprint"]}


class PrivateKeyAcl(Definition):
    """Grant or revoke access to the private key of a certificate in a LocalMachine store, CNG or CAPI."""

    name = "private_key_acl"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES
    areas = ("certificates",)

    def check_params(self, params, context):
        return dict(params, thumbprint=normalise_thumbprint(params["thumbprint"]),
                    key_access=_private_keys.check_grants(params["key_access"]))

    def probe_parameters(self, params):
        return dict(_certificate(params), Principals=_private_keys.principals_to_resolve(params["key_access"]))

    def plan(self, params, current, context):
        report = current.get("certificate")
        _private_keys.check_key_report(report, "certificate")
        where = f"LocalMachine\\{params['store_name']}"
        if not report["found"]:
            raise PlanError(f"thumbprint: the certificate {params['thumbprint']} is not in {where}")
        if not report.get("has_private_key"):
            raise PlanError(f"the certificate {params['thumbprint']} in {where} has no private key")
        if report.get("key_error"):
            raise PlanError(_private_keys.cannot_open(report, params["thumbprint"], where))
        operations, before, after, changes = _private_keys.plan_key_acl(params["key_access"], report["acl"], current.get("principals"))
        if operations:
            _private_keys.check_keeps_access(_private_keys.check_identity(current.get("identity")), report["acl"], operations,
                                             current.get("principals"))
        key = report["key"]
        return Plan(
            operations=operations,
            before={"key_access": before},
            after={"key_access": after},
            result={"thumbprint": params["thumbprint"], "key_provider": key.get("provider"),
                    "key_provider_name": key.get("provider_name"), "key_access": after, "changes": changes},
        )

    def apply_parameters(self, params, plan):
        return dict(_certificate(params), Operations=plan.operations)


DEFINITION = PrivateKeyAcl()
