"""A normal site.yml or readiness.yml run names no inventory group it cannot find: an estate need not use them all."""

from __future__ import annotations

import re

from conftest import PLAYBOOKS
from test_profiles import COMMON_VARS, PROFILE_VARS, SEED

HOST = "kf-portal01.contoso.com"


def test_a_site_run_without_every_group_warns_of_no_host_pattern(lab, tmp_path):
    lab.add_host(HOST, groups=("keyfactor_portal",), seed=SEED, **COMMON_VARS, **PROFILE_VARS["keyfactor_portal"])
    for playbook in ("site.yml", "readiness.yml"):
        run = lab.run(PLAYBOOKS / playbook, extra_vars={"keyfactor_readiness_report_dir": str(tmp_path / "reports")})
        assert run.returncode == 0, run.stdout[-3000:]
        output = run.stdout + run.stderr
        assert "Could not match supplied host pattern" not in output, output[-3000:]
        assert run.changed(HOST) >= 0 and HOST in run.stats


def test_no_step_is_announced_once_per_host(lab, tmp_path):
    # Ansible announces a meta task once per host; a role gate written as one used to do that on every run.
    lab.add_host(HOST, groups=("keyfactor_portal",), seed=SEED, **COMMON_VARS, **PROFILE_VARS["keyfactor_portal"])
    lab.add_host("kf-services01.contoso.com", groups=("keyfactor_services",), seed=SEED, **COMMON_VARS,
                 **PROFILE_VARS["keyfactor_services"])
    for playbook in ("site.yml", "readiness.yml"):
        run = lab.run(PLAYBOOKS / playbook, extra_vars={"keyfactor_readiness_report_dir": str(tmp_path / "reports")})
        assert run.returncode == 0, run.stdout[-3000:]
        headers = re.findall(r"^TASK \[(.+?)\] \**$", run.stdout, re.MULTILINE)
        assert headers
        repeated = [first for first, second in zip(headers, headers[1:]) if first == second]
        assert repeated == [], f"{playbook}: announced once per host: {repeated}"
