"""A module is its definition: the files each module has, and the lists of modules, are checked against the
definitions, so that adding one without the rest fails here; and the definitions, the libraries they use and their
unit tests import nothing from Ansible."""

from __future__ import annotations

import importlib
import json
import pathlib
import subprocess
import sys

import pytest
import yaml

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._snapshot_spec import READABLE_MODULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import Definition, definition_of

REPO = pathlib.Path(__file__).resolve().parents[3]
PLUGINS = REPO / "plugins"
COLLECTIONS = REPO / ".cache" / "collections"
PACKAGE = "ansible_collections.pkiops.keyfactor_command.plugins"
# The engine, which runs on Ansible; every other module of plugin_utils is a definition or a library of them.
ENGINE = {"_windows_task", "_arguments"}
LIBRARIES = sorted(path.stem for path in (PLUGINS / "plugin_utils").glob("_*.py") if path.stem not in ENGINE)
DEFINED = sorted(name.removeprefix("_") for name in LIBRARIES
                 if hasattr(importlib.import_module(f"{PACKAGE}.plugin_utils.{name}"), "DEFINITION"))
# The areas of Windows each module reads and changes, as the host fact keyfactor_command_changes names them; a
# module's areas are part of what that fact means on a host, so they do not change unnoticed.
AREAS = {
    "user_rights": ("user_rights",),
    "iis_app_pools": ("iis",),
    "pfx_import": ("certificates",),
    "private_key_acl": ("certificates",),
    "ca_certificates": ("certificates",),
    "cert_serial_registry": ("certificates", "registry"),
    "cluster_generic_service_role": ("cluster",),
    "readiness_info": (),
    "host_snapshot": (),
}
ACTION_PLUGIN = '''# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import action_module

ActionModule = action_module("{name}")
'''


def _stems(directory: pathlib.Path, pattern: str) -> list[str]:
    return sorted(path.stem for path in directory.glob(pattern) if path.stem != "__init__")


def test_every_module_is_a_definition_with_its_files():
    assert set(AREAS) <= set(DEFINED), "a module without a definition"
    assert _stems(PLUGINS / "action", "*.py") == DEFINED
    assert _stems(PLUGINS / "modules", "*.py") == DEFINED
    assert _stems(PLUGINS / "plugin_utils" / "_powershell", "[!_]*.ps1") == DEFINED
    specs = {name.removeprefix("_").removesuffix("_spec") for name in _stems(PLUGINS / "module_utils", "_*_spec.py")}
    assert set(DEFINED) <= specs


@pytest.mark.parametrize("name", DEFINED)
def test_the_definition_states_the_module(name):
    definition = definition_of(name)
    assert isinstance(definition, Definition) and definition.name == name
    spec = importlib.import_module(f"{PACKAGE}.module_utils._{name}_spec")
    assert definition.argument_spec is spec.ARGUMENT_SPEC and definition.spec_rules is spec.SPEC_RULES
    # The docs stub builds AnsibleModule from the same spec.
    assert f"plugins.module_utils._{name}_spec import" in (PLUGINS / "modules" / f"{name}.py").read_text()
    assert definition.areas == AREAS.get(name, definition.areas)
    assert all(isinstance(area, str) and area for area in definition.areas), definition.areas


@pytest.mark.parametrize("name", DEFINED)
def test_the_action_plugin_is_one_line_over_the_definition(name):
    assert (PLUGINS / "action" / f"{name}.py").read_text() == ACTION_PLUGIN.format(name=name)
    action = importlib.import_module(f"{PACKAGE}.action.{name}").ActionModule
    assert action.__name__ == "ActionModule"
    assert action.definition is definition_of(name)


def test_the_readable_modules_are_the_definitions_with_areas():
    readable = sorted(name for name in DEFINED if definition_of(name).areas)
    assert READABLE_MODULES == readable
    for name in DEFINED:
        assert ("snapshot" in definition_of(name).argument_spec) == (name in readable), name


def test_the_action_group_is_every_module_that_takes_a_snapshot():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["action_groups"]["keyfactor_command"] == sorted(
        name for name in DEFINED if "snapshot" in definition_of(name).argument_spec)


# --- free of Ansible ---------------------------------------------------------------------------------------------------


def _ansible_modules_after_importing(module: str, *paths: pathlib.Path) -> list[str]:
    """The modules of the ansible package loaded by importing ``module`` alone, in a fresh interpreter."""
    script = (
        "import importlib, json, sys\n"
        f"sys.path[:0] = {json.dumps([str(path) for path in paths])}\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'ansible' or m.startswith('ansible.'))))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=REPO)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.splitlines()[-1])


@pytest.mark.parametrize("name", LIBRARIES)
def test_definitions_and_their_libraries_import_nothing_from_ansible(name):
    assert _ansible_modules_after_importing(f"{PACKAGE}.plugin_utils.{name}", COLLECTIONS) == []


def test_the_engine_is_what_imports_ansible():
    # The check above would pass on a module that cannot see Ansible at all.
    assert "ansible.plugins.action" in _ansible_modules_after_importing(f"{PACKAGE}.plugin_utils._windows_task", COLLECTIONS)


@pytest.mark.parametrize("test_module", _stems(pathlib.Path(__file__).parent / "plugin_utils", "*.py"))
def test_the_planners_unit_tests_import_nothing_from_ansible(test_module):
    paths = (REPO / "tests" / "unit", REPO / "tests", REPO / "tests" / "windows_sim", COLLECTIONS)
    assert _ansible_modules_after_importing(f"plugins.plugin_utils.{test_module}", *paths) == []
