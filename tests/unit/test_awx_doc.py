"""docs/awx.md's credential types inject every secret the roles and playbooks take, each from a field of its own."""

from __future__ import annotations

import pathlib
import re

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
# The secrets a playbook takes itself, as extra variables with no role behind them.
PLAYBOOK_SECRET = re.compile(r"\b(rotate_gateway_\w*(?:password|pfx_content))\b")


def _credential_types() -> list[dict]:
    text = (REPO / "docs" / "awx.md").read_text()
    blocks = [yaml.safe_load(re.sub(r"^ {4}", "", block, flags=re.MULTILINE))
              for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]
    return [block for block in blocks if isinstance(block, dict) and "extra_vars" in block]


def _role_secrets() -> set[str]:
    secrets = set()
    for path in (REPO / "roles").glob("*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(path.read_text())["argument_specs"].values():
            secrets.update(name for name, option in (entry.get("options") or {}).items() if option.get("no_log"))
    return secrets


def _playbook_secrets() -> set[str]:
    return {match for path in (REPO / "playbooks").glob("*.yml") for match in PLAYBOOK_SECRET.findall(path.read_text())}


def test_every_secret_of_every_role_and_playbook_has_an_injector():
    injected = {name for credential in _credential_types() for name in credential["extra_vars"]}
    wanted = _role_secrets() | _playbook_secrets()
    assert {"portal_app_pool_password", "gateway_cluster_node_become_password", "rotate_gateway_pfx_password",
            "gateway_cluster_node_enrollment_agent_pfx_password", "orchestrator_api_app_pool_password"} <= wanted
    assert wanted - injected == set(), "docs/awx.md injects none of these"
    assert injected - wanted == set(), "docs/awx.md injects variables that are no secret of any role or playbook"


def test_each_secret_comes_from_a_secret_field_of_its_own():
    sources = []
    for credential in _credential_types():
        fields = {field["id"]: field for field in credential["fields"]}
        used = []
        for variable, template in credential["extra_vars"].items():
            (field,) = re.fullmatch(r"\{\{ (\w+) \}\}", template).groups()
            assert field in fields, f"{variable} is injected from {field}, which is not a field"
            assert fields[field].get("secret") is True, f"{field} is not a secret field"
            used.append(field)
        assert sorted(used) == sorted(fields), "every field is injected, once"
        sources += used
    assert len(sources) == len(set(sources)), "two secrets share one field"
