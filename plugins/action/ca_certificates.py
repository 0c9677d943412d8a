# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64

from ansible.errors import AnsibleError
from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._ca_certificates_spec import ARGUMENT_SPEC, CA_STORES, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _ca_certificates
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import (
    Plan,
    TaskInputError,
    UnexpectedProbeResult,
    WindowsTaskAction,
)


class ActionModule(WindowsTaskAction):
    """Install CA certificates from the controller into the LocalMachine CA and Root stores, or remove them."""

    module_name = "ca_certificates"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES

    def _read_src(self, src: str, label: str) -> bytes:
        try:
            path = self._find_needle("files", src)
        except AnsibleError as error:
            raise TaskInputError(f"{label}: {error.message}") from None
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError as error:
            raise TaskInputError(f"{label}: cannot read {path}: {error.strerror}") from None

    def check_params(self, params):
        sources = []
        for index, entry in enumerate(params["certificates"]):
            if entry.get("src") is not None:
                label = f"certificates[{index}].src"
                certificates = _ca_certificates.load_certificates(self._read_src(entry["src"], label), label, base64_der=False)
            else:
                label = f"certificates[{index}].content"
                certificates = _ca_certificates.load_certificates(entry["content"].encode("utf-8"), label, base64_der=True)
            sources.append((label, certificates, entry["store"]))
        return dict(params, wanted=_ca_certificates.collect(sources))

    def probe_parameters(self, params):
        return {"Certificates": [{"thumbprint": c.thumbprint, "store": c.store} for c in params["wanted"]]}

    def plan(self, params, current):
        report = current.get("certificates")
        if not isinstance(report, list) or not all(isinstance(entry, dict) for entry in report):
            raise UnexpectedProbeResult("no 'certificates' list")
        present = {(entry.get("thumbprint"), entry.get("store")): entry.get("present") for entry in report}
        installing = params["state"] == "present"

        operations, entries = [], []
        before: dict[str, list] = {store: [] for store in CA_STORES}
        after: dict[str, list] = {store: [] for store in CA_STORES}
        for certificate in params["wanted"]:
            found = present.get((certificate.thumbprint, certificate.store))
            if not isinstance(found, bool):
                raise UnexpectedProbeResult(f"no presence report for {certificate.thumbprint} in {certificate.store}")
            changes = found != installing
            if changes and installing:
                operations.append({"action": "add", "thumbprint": certificate.thumbprint, "store": certificate.store,
                                   "der": base64.b64encode(certificate.der).decode("ascii")})
            elif changes:
                operations.append({"action": "remove", "thumbprint": certificate.thumbprint, "store": certificate.store})
            if found:
                before[certificate.store].append(certificate.thumbprint)
            if installing:
                after[certificate.store].append(certificate.thumbprint)
            entries.append({"thumbprint": certificate.thumbprint, "subject": certificate.subject, "store": certificate.store,
                            "not_after": certificate.not_after.isoformat(), "changed": changes})

        changed = [op["thumbprint"] for op in operations]
        return Plan(
            operations=operations,
            before={store: sorted(thumbprints) for store, thumbprints in before.items()},
            after={store: sorted(thumbprints) for store, thumbprints in after.items()},
            warnings=_ca_certificates.validity_warnings(params["wanted"]) if installing else [],
            result={"certificates": entries, "installed": changed if installing else [],
                    "removed": [] if installing else changed},
        )
