# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkiops.keyfactor_command.pfx_import: its definition, free of Ansible."""

from __future__ import annotations

import base64

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._pfx_import_spec import ARGUMENT_SPEC, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _certificates, _private_keys
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    Definition,
    Plan,
    PlanError,
    Secret,
    TaskInputError,
    UnexpectedProbeResult,
)

# A hundred years: longer than any certificate is valid.
MAX_EXPIRY_WARNING_DAYS = 36500
# SYSTEM and Administrators with full control: what Windows gives a machine key it creates.
NEW_MACHINE_KEY_ACL = [
    {"sid": "S-1-5-18", "type": "allow", "rights": _private_keys.signed(_private_keys.FULL_CONTROL), "inherited": False},
    {"sid": "S-1-5-32-544", "type": "allow", "rights": _private_keys.signed(_private_keys.FULL_CONTROL), "inherited": False},
]


def _chain(params) -> list[dict]:
    return list(params["pfx"].chain) if params["chain"] == "install" else []


def _leaf_report(params, report) -> tuple[bool, list[str]]:
    """Whether the leaf must be imported, and the warnings that go with that."""
    pfx = params["pfx"]
    store = f"LocalMachine\\{params['store_name']}"
    if not report["found"] or not report.get("has_private_key"):
        return True, []
    if not report.get("key_error"):
        return False, []
    # Only a key Windows says is gone is replaced by importing again. One
    # that may still be there (its ACL shutting this account out looks the
    # same to Windows) or whose provider is unavailable is not: an import
    # would leave it behind, with nothing referring to it, on every run.
    if report["key_state"] != "missing":
        raise PlanError(_private_keys.cannot_open(report, pfx.thumbprint, store))
    return True, [f"the private key of {pfx.thumbprint} in the store is gone ({report['key_error']}); importing the PFX "
                  "again"]


def _import_secrets(params) -> dict[str, Secret]:
    """The PFX and its password, which reach the host only for the import of the leaf with its key."""
    secrets = {"Pfx": Secret(value=params["pfx_base64"])}
    if params["password"]:
        secrets["PfxPassword"] = Secret(value=params["password"])
    return secrets


class PfxImport(Definition):
    """Import a PFX into a LocalMachine store, optionally its chain, and grant access to its private key."""

    name = "pfx_import"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES
    areas = ("certificates",)
    failure_result_keys = ("key_written", "imported", "archived_restored", "chain_installed", "acl_applied")

    def check_params(self, params, context):
        """The PFX read, parsed and checked; params gain the PFX (pfx, pfx_base64) and the warnings about it
        (requirement_warnings)."""
        source = "content" if params.get("content") is not None else "src"
        data = _certificates.read_pfx(params.get("src"), params.get("content"), context.find_file)
        if len(base64.b64encode(data)) > _certificates.MAX_SECURE_STRING:
            raise TaskInputError(f"{source}: the PFX is {len(data)} bytes; it reaches the host as a SecureString of its base64 "
                                 "text, which holds at most 65,536 characters (a PFX of about 48 KiB). Leave extra "
                                 "certificates out of it")
        if not 0 <= params["expiry_warning_days"] <= MAX_EXPIRY_WARNING_DAYS:
            raise TaskInputError(f"expiry_warning_days: {params['expiry_warning_days']} is not between 0 (no warning) and "
                                 f"{MAX_EXPIRY_WARNING_DAYS} days")
        pfx = _certificates.load_pfx(data, params["password"], source)
        requirement_warnings = ([
            "the PFX password is very short; every occurrence of it in the task's output is masked, which can garble "
            "values such as the thumbprint. Use a longer password"] if 0 < len(params["password"]) < 6 else []) + _certificates.check_requirements(
            pfx, require_rsa=params["require_rsa"], require_encipherment=params["require_encipherment"],
            allow_expired=params["allow_expired"], expiry_warning_days=params["expiry_warning_days"])
        return dict(params, key_access=_private_keys.check_grants(params["key_access"]), pfx=pfx,
                    pfx_base64=base64.b64encode(data).decode("ascii"), requirement_warnings=requirement_warnings)

    def probe_parameters(self, params):
        # The probe looks the certificate up by thumbprint and needs no secret.
        return {"StoreName": params["store_name"], "Thumbprint": params["pfx"].thumbprint,
                "Chain": [{"thumbprint": c["thumbprint"], "store": c["store"]} for c in _chain(params)],
                "Principals": _private_keys.principals_to_resolve(params["key_access"])}

    def plan(self, params, current, context):
        pfx = params["pfx"]
        report = current.get("certificate")
        _private_keys.check_key_report(report, "certificate")
        chain_report = current.get("chain")
        if not isinstance(chain_report, list):
            raise UnexpectedProbeResult("no 'chain' list")
        present_chain = {c.get("thumbprint") for c in chain_report if isinstance(c, dict) and c.get("present")}

        import_leaf, warnings = _leaf_report(params, report)
        # An archived copy (the probe finds one too) is hidden from whoever lists the store; an import restores it, and
        # one whose key opens is only restored.
        archived = report["found"] and report.get("archived") is True
        restore_archived = archived and not import_leaf
        if archived:
            warnings.append(f"the certificate {pfx.thumbprint} is archived in LocalMachine\\{params['store_name']}, which hides it "
                            "from whoever lists the store (automatic enrollment archives a certificate it has renewed); the "
                            "task restores it")
        install_chain = [c for c in _chain(params) if c["thumbprint"] not in present_chain]
        # A key imported now starts with the entries Windows gives every machine key.
        acl = NEW_MACHINE_KEY_ACL if import_leaf else report["acl"]
        acl_operations, access_before, access_after, access_changes = (
            _private_keys.plan_key_acl(params["key_access"], acl, current.get("principals"), unconditional=import_leaf)
            if params["key_access"] else ([], {}, {}, {}))
        if acl_operations:
            _private_keys.check_keeps_access(_private_keys.check_identity(current.get("identity")), acl, acl_operations,
                                             current.get("principals"))
        if import_leaf:
            # Known from the probe, so refused before any change rather than by Windows during the import.
            build = current.get("os_build")
            if not isinstance(build, int) or isinstance(build, bool):
                raise UnexpectedProbeResult("no 'os_build', the build number of Windows")
            problem = _certificates.cannot_import_on(pfx, build)
            if problem:
                raise PlanError(problem)

        warnings = list(params["requirement_warnings"]) + warnings
        exportable = (report.get("key") or {}).get("exportable")
        if not import_leaf and exportable is not None and exportable != params["exportable"]:
            warnings.append(f"the certificate {pfx.thumbprint} is already in the store with a key that is "
                            f"{'' if exportable else 'not '}exportable; exportable={params['exportable']} applies only to an "
                            "import, so remove the certificate first to change it")
        operations = []
        if import_leaf or restore_archived or install_chain:
            operations.append({"import_leaf": import_leaf, "restore_archived": restore_archived,
                               "install_chain": [{"thumbprint": c["thumbprint"], "store": c["store"],
                                                  "der": base64.b64encode(c["der"]).decode("ascii")} for c in install_chain]})
        operations += acl_operations
        store = f"LocalMachine\\{params['store_name']}"
        installed = [c["thumbprint"] for c in install_chain]
        before_certificate = None
        if report["found"] and not import_leaf:
            before_certificate = f"{pfx.thumbprint} in {store}{' (archived)' if archived else ''}"
        return Plan(
            operations=operations,
            before={"certificate": before_certificate, "chain": sorted(present_chain), "key_access": access_before},
            after={"certificate": f"{pfx.thumbprint} in {store}",
                   "chain": sorted(present_chain | set(installed)), "key_access": access_after},
            warnings=warnings,
            # CA certificates travel as their public DER bytes, and an apply that only changes key access needs no
            # PFX: key material leaves the controller only for the import of the leaf with its key.
            secrets=_import_secrets(params) if import_leaf else {},
            result=dict(pfx.summary(), store=store, imported=import_leaf, archived_restored=archived, chain_installed=installed,
                        key_access=access_after, key_access_changes=access_changes),
        )

    def explain_failure(self, params, step, message, context):
        if step == "apply":
            return _certificates.explain_import_failure(params["pfx"], message)
        return message

    def apply_parameters(self, params, plan):
        imports = plan.operations[0] if plan.operations and "import_leaf" in plan.operations[0] else {}
        return {
            "StoreName": params["store_name"],
            "Thumbprint": params["pfx"].thumbprint,
            "Exportable": params["exportable"],
            "ImportLeaf": imports.get("import_leaf", False),
            "RestoreArchived": imports.get("restore_archived", False),
            "InstallChain": imports.get("install_chain", []),
            "Operations": [op for op in plan.operations if "sid" in op],
        }


DEFINITION = PfxImport()
