"""Every module and role renders with ansible-doc from the bootstrapped environment."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from conftest import BIN, REPO

MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py"))
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _ansible_doc(*args: str) -> subprocess.CompletedProcess:
    """ansible-doc's output, without the terminal highlighting it adds even with colour off."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"), ANSIBLE_NOCOLOR="1")
    completed = subprocess.run([str(BIN / "ansible-doc"), *args], capture_output=True, text=True, env=env, check=False)
    completed.stdout = ANSI_ESCAPE.sub("", completed.stdout)
    return completed


def test_every_module_and_role_is_found():
    assert MODULES == ["ca_certificates", "cert_serial_registry", "cluster_generic_service_role", "host_snapshot",
                       "iis_app_pools", "pfx_import", "private_key_acl", "readiness_info", "user_rights"]
    assert ROLES == ["ca_connector", "common", "gateway_cluster_node", "orchestrator_api", "portal", "services", "web_api"]


@pytest.mark.parametrize("module", MODULES)
def test_module_renders(module):
    rendered = _ansible_doc(f"pkiops.keyfactor_command.{module}")
    assert rendered.returncode == 0, rendered.stderr
    assert f"pkiops.keyfactor_command.{module}" in rendered.stdout
    assert "EXAMPLES" in rendered.stdout and "RETURN VALUES" in rendered.stdout
    assert "WARNING" not in rendered.stderr


@pytest.mark.parametrize("role", ROLES)
def test_role_renders(role):
    rendered = _ansible_doc("-t", "role", f"pkiops.keyfactor_command.{role}")
    assert rendered.returncode == 0, rendered.stderr
    assert re.search(r"^ENTRY POINT: \*?main\*? - ", rendered.stdout, re.MULTILINE), rendered.stdout[:500]
    assert "WARNING" not in rendered.stderr
