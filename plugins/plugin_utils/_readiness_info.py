# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkiops.keyfactor_command.readiness_info: its definition, free of Ansible.

The requirements are judged by _readiness.py, which host_snapshot's checks share.
"""

from __future__ import annotations

import datetime

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._readiness_info_spec import ARGUMENT_SPEC, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _certificates, _readiness
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import Definition, Plan


def _thumbprint_of_pfx(requirement: dict, where: str, find_file) -> str:
    # Only the thumbprint leaves this function: the PFX and its password never go to the host.
    data = _certificates.read_pfx(requirement.get("pfx_src"), requirement.get("pfx_content"), find_file, prefix=f"{where}.")
    source = f"{where}.pfx_content" if requirement.get("pfx_content") is not None else f"{where}.pfx_src"
    return _certificates.load_pfx(data, requirement.get("pfx_password") or "", source, f"{where}.pfx_password").thumbprint


class ReadinessInfo(Definition):
    """Read, in one round trip, whether a server meets each Keyfactor Command preparation requirement."""

    name = "readiness_info"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES

    def check_params(self, params, context):
        cache: dict = {}

        def thumbprint(requirement, where):
            key = (requirement.get("pfx_src"), requirement.get("pfx_content"), requirement.get("pfx_password"))
            if key not in cache:
                cache[key] = _thumbprint_of_pfx(requirement, where, context.find_file)
            return cache[key]

        return dict(params, requirements=_readiness.normalise(params["requirements"], thumbprint))

    def probe_parameters(self, params):
        return _readiness.probe_parameters(params["requirements"])

    def plan(self, params, current, context):
        results = _readiness.evaluate(params["requirements"], current, datetime.datetime.now(datetime.timezone.utc))
        counts = _readiness.summary(results)
        profiles = sorted({p for r in params["requirements"] for p in r["profiles"]})
        view = {r["id"]: r["status"] for r in results}
        return Plan(before=view, after=view,
                    result={"requirements": results, "summary": counts, "ready": counts["fail"] == 0, "profiles": profiles})


DEFINITION = ReadinessInfo()
