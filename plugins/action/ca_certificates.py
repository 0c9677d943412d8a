# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._ca_certificates_spec import ARGUMENT_SPEC, CA_STORES, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _ca_certificates, _certificates
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import (
    PayloadError,
    Plan,
    PlanError,
    UnexpectedProbeResult,
    WindowsTaskAction,
)


def _describe(operation: dict) -> str:
    verb, preposition = ("add", "to") if operation["action"] == "add" else ("remove", "from")
    return f"{verb} {operation['thumbprint']} {preposition} {operation['store']}"


class ActionModule(WindowsTaskAction):
    """Install CA certificates from the controller into the LocalMachine CA and Root stores, or remove them."""

    module_name = "ca_certificates"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES

    def check_params(self, params):
        sources = []
        for index, entry in enumerate(params["certificates"]):
            if entry.get("src") is not None:
                label = f"certificates[{index}].src"
                certificates = _ca_certificates.load_certificates(
                    _certificates.read_controller_file(entry["src"], label, lambda src: self._find_needle("files", src)),
                    label, base64_der=False)
            else:
                label = f"certificates[{index}].content"
                certificates = _ca_certificates.load_certificates(entry["content"].encode("utf-8"), label, base64_der=True)
            sources.append((label, certificates, entry["store"]))
        return dict(params, wanted=_ca_certificates.collect(sources))

    def probe_parameters(self, params):
        return {"Certificates": [{"thumbprint": c.thumbprint, "store": c.store} for c in params["wanted"]]}

    def _execute_payload(self, step, parameters, secrets):
        # A probe about no certificates has a known answer; asking the host
        # would cost a round trip and tell nothing.
        if step == "probe" and not parameters["Certificates"]:
            return {"certificates": []}
        return super()._execute_payload(step, parameters, secrets)

    def plan(self, params, current):
        report = current.get("certificates")
        if not isinstance(report, list) or not all(isinstance(entry, dict) for entry in report):
            raise UnexpectedProbeResult("no 'certificates' list")
        reported = {(entry.get("thumbprint"), entry.get("store")): entry for entry in report}
        installing = params["state"] == "present"

        operations, entries, warnings, held_elsewhere, provided_too = [], [], [], [], []
        before: dict[str, list] = {store: [] for store in CA_STORES}
        after: dict[str, list] = {store: [] for store in CA_STORES}
        for certificate in params["wanted"]:
            entry = reported.get((certificate.thumbprint, certificate.store)) or {}
            found, in_default_store = entry.get("present"), entry.get("in_default_store")
            elsewhere = entry.get("other_physical_stores")
            if not isinstance(found, bool) or not isinstance(in_default_store, bool) or not isinstance(elsewhere, list):
                raise UnexpectedProbeResult(f"no presence report for {certificate.thumbprint} in {certificate.store}")
            if found and not in_default_store:
                # Visible in the logical store only through another physical
                # store (Group Policy, enterprise trust, automatic root update,
                # smart card), which Windows fills and empties by itself.
                held_elsewhere.append(certificate)
            elif in_default_store and elsewhere:
                # The store's own copy, and another that such a source provides.
                provided_too.append((certificate, elsewhere))
            if installing and not found:
                operations.append({"action": "add", "thumbprint": certificate.thumbprint, "store": certificate.store,
                                   "der": base64.b64encode(certificate.der).decode("ascii")})
            elif not installing and in_default_store:
                # Removed from the store's .Default physical store only, the
                # computer's own copy.
                operations.append({"action": "remove", "thumbprint": certificate.thumbprint, "store": certificate.store})
            if found:
                before[certificate.store].append(certificate.thumbprint)
            if installing:
                after[certificate.store].append(certificate.thumbprint)
            entries.append({"thumbprint": certificate.thumbprint, "subject": certificate.subject, "store": certificate.store,
                            "not_after": certificate.not_after.isoformat(),
                            "changed": any(op["thumbprint"] == certificate.thumbprint for op in operations)})

        if (held_elsewhere or provided_too) and not installing:
            # Refused for all, before any change: removing the others and not
            # these would leave the task half done for a reason known now.
            # Only the store's own copy is ever removed; the others would stay
            # trusted whatever this task did.
            reasons = []
            if held_elsewhere:
                names = "; ".join(f"{c.describe()} in LocalMachine\\{c.store}" for c in held_elsewhere)
                it, it_is = ("it", "it is") if len(held_elsewhere) == 1 else ("them", "they are")
                reasons.append(f"{names}: {it_is} not installed in the store itself but trusted through Group Policy, "
                               f"enterprise trust or automatic root update, so removing {it} would not last, as that source "
                               f"puts {it} back")
            if provided_too:
                names = "; ".join(f"{c.describe()} in LocalMachine\\{c.store} (also in {', '.join(stores)})"
                                  for c, stores in provided_too)
                it = "it" if len(provided_too) == 1 else "them"
                reasons.append(f"{names}: besides the store's own copy, Group Policy, enterprise trust or automatic root "
                               f"update provides {it}, and removing the store's copy would leave {it} trusted")
            raise PlanError(f"cannot remove {'; and '.join(reasons)}; to distrust a certificate, add it to the Disallowed "
                            "store or change the policy that provides it")
        for certificate in held_elsewhere:
            warnings.append(f"the CA certificate {certificate.describe()} is trusted in LocalMachine\\{certificate.store} "
                            "through Group Policy, enterprise trust or automatic root update, not installed in the store "
                            "directly; it is treated as present, and may disappear when that source no longer provides it")
        if installing:
            warnings.extend(_ca_certificates.validity_warnings(params["wanted"]))

        changed = [op["thumbprint"] for op in operations]
        return Plan(
            operations=operations,
            before={store: sorted(thumbprints) for store, thumbprints in before.items()},
            after={store: sorted(thumbprints) for store, thumbprints in after.items()},
            warnings=warnings,
            result={"certificates": entries, "installed": changed if installing else [],
                    "removed": [] if installing else changed},
        )

    def check_applied(self, params, plan, applied_result):
        applied = applied_result.get("applied")
        if not isinstance(applied, list) or not all(isinstance(op, dict) for op in applied):
            # Whether anything changed is unknown, so it is not denied.
            raise PayloadError("apply returned an unexpected result: no 'applied' list", "apply", changed=True)
        sent = [{key: op[key] for key in ("action", "thumbprint", "store")} for op in plan.operations]
        done = [{key: op.get(key) for key in ("action", "thumbprint", "store")} for op in applied]
        if done != sent:
            # The payload skips an operation when ShouldProcess declines it;
            # reporting success then would claim a change that did not happen.
            missing = [_describe(op) for op in sent if op not in done]
            unexpected = [_describe(op) for op in done if op not in sent]
            detail = []
            if missing:
                detail.append(f"not done: {', '.join(missing)}")
            if unexpected:
                detail.append(f"done but not planned: {', '.join(unexpected)}")
            raise PayloadError("apply did not perform the planned operations (" + "; ".join(detail or ["in another order"]) + ")",
                               "apply", changed=bool(done), partial={"applied": applied})
        # A removal that found no copy left in the store's own store (it went between the probe and the apply) is done
        # but changed nothing; the payload says how many copies each removal deleted.
        stale = {(op["thumbprint"], op["store"]) for op in applied if op.get("action") == "remove" and op.get("removed") == 0}
        if not stale:
            return None
        for thumbprint, store in sorted(stale):
            plan.warnings.append(f"the CA certificate {thumbprint} was no longer in LocalMachine\\{store} when the change ran; "
                                 "nothing was removed")
        entries = [dict(entry, changed=entry["changed"] and (entry["thumbprint"], entry["store"]) not in stale)
                   for entry in plan.result["certificates"]]
        removed = [op["thumbprint"] for op in plan.operations
                   if op["action"] == "remove" and (op["thumbprint"], op["store"]) not in stale]
        return {"certificates": entries, "removed": removed,
                "changed": any(op["action"] == "add" for op in plan.operations) or bool(removed)}
