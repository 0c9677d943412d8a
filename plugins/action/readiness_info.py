# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._readiness_info_spec import ARGUMENT_SPEC, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _certificates, _readiness
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import Plan, WindowsTaskAction


class ActionModule(WindowsTaskAction):
    """Read, in one round trip, whether a server meets each Keyfactor Command preparation requirement."""

    module_name = "readiness_info"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES

    def _thumbprint_of_pfx(self, requirement: dict, where: str) -> str:
        # Only the thumbprint leaves this method: the PFX and its password never go to the host.
        data = _certificates.read_pfx(requirement.get("pfx_src"), requirement.get("pfx_content"),
                                      lambda src: self._find_needle("files", src), prefix=f"{where}.")
        source = f"{where}.pfx_content" if requirement.get("pfx_content") is not None else f"{where}.pfx_src"
        return _certificates.load_pfx(data, requirement.get("pfx_password") or "", source, f"{where}.pfx_password").thumbprint

    def check_params(self, params):
        cache: dict = {}

        def thumbprint(requirement, where):
            key = (requirement.get("pfx_src"), requirement.get("pfx_content"), requirement.get("pfx_password"))
            if key not in cache:
                cache[key] = self._thumbprint_of_pfx(requirement, where)
            return cache[key]

        return dict(params, requirements=_readiness.normalise(params["requirements"], thumbprint))

    def probe_parameters(self, params):
        return _readiness.probe_parameters(params["requirements"])

    def plan(self, params, current):
        results = _readiness.evaluate(params["requirements"], current, datetime.datetime.now(datetime.timezone.utc))
        counts = _readiness.summary(results)
        profiles = sorted({p for r in params["requirements"] for p in r["profiles"]})
        view = {r["id"]: r["status"] for r in results}
        return Plan(before=view, after=view,
                    result={"requirements": results, "summary": counts, "ready": counts["fail"] == 0, "profiles": profiles})
