"""Where secrets may go: every secret option is no_log, and secrets reach a payload only as sensitive_parameters.

Three static checks, the unit half of the secrets scan (the end-to-end half is in tests/e2e/conftest.py):

- every option of every module's argument spec whose name says it holds a secret is ``no_log: True``, and every
  option Ansible would suspect by its name but that holds none (``key_access``, a registry ``key``) says so;
- every role variable named ``*password*`` or ``*pfx_content*`` is ``no_log: true``;
- each action plugin, run with known secrets through a probe and an apply, sends them to the host only on the
  runner's secrets line, for ``[SecureString]`` or ``[PSCredential]`` parameters of its payload: never on the
  command line, in the runner, the payload or its parameters, never in the result or the diff.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import inspect
import json
import pathlib
import re
import typing as t

import pytest
import yaml
from cryptography.hazmat.primitives import hashes

import pki_fixtures
from ansible_collections.pkiops.keyfactor_command.plugins.action.iis_app_pools import ActionModule as IisAppPools
from ansible_collections.pkiops.keyfactor_command.plugins.action.pfx_import import ActionModule as PfxImport
from ansible_collections.pkiops.keyfactor_command.plugins.action.readiness_info import ActionModule as ReadinessInfo
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import Definition, definition_of
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import RUNNER, payload_source
from reliability import scan_for_secrets
from secret_scan import pfx_forms, strings_in
from winsim.powershell import script_parameters
from winsim.transport import command_script, decode_input
from winsim.win_powershell import _SECURE_TYPES  # pylint: disable=protected-access

REPO = pathlib.Path(__file__).resolve().parents[2]


def _load_action_test_helpers():
    """tests/unit/plugins/action/conftest.py, whose fixtures build action plugins as the task executor does."""
    path = pathlib.Path(__file__).resolve().parent / "plugins" / "action" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_secret_flow_action_helpers", path)
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    return helpers


_HELPERS = _load_action_test_helpers()
# The fixtures make_action (with sleeps, which it uses) and ps_ok, shared with the action plugins' own tests.
make_action, sleeps, fixture_ps_ok = _HELPERS.make_action, _HELPERS.sleeps, _HELPERS.fixture_ps_ok
PLUGINS = REPO / "plugins"
SPEC_FILES = sorted((PLUGINS / "module_utils").glob("_*_spec.py"))
ROLE_SPECS = sorted((REPO / "roles").glob("*/meta/argument_specs.yml"))
MODULES = sorted(path.stem for path in (PLUGINS / "action").glob("*.py") if path.stem != "__init__")

# A name that says the option holds a secret: a password or passphrase, a secret, a token or credential, key
# material, or a PFX's bytes. A path to a PFX (src) is not a secret; neither is a registry key, nor key_access,
# which names who may use a key.
_SECRET_WORDS = re.compile(r"pass(word|wd|phrase)?($|_)|password|secret|token|credential|key_material|private_key($|_)")
_PFX_BYTES = re.compile(r"(^|_)(pfx|pkcs12|p12)($|_(content|data|base64|bytes)$)")
# validate-modules' no-log-needed check: an option whose name matches must declare no_log either way.
_ANSIBLE_SUSPECTS = re.compile(r"pass(?!ive)|secret|token|key", re.IGNORECASE)


def _is_secret_option(module: str, name: str) -> bool:
    name = name.lower()
    if _SECRET_WORDS.search(name) or _PFX_BYTES.search(name):
        return True
    # The inline PFX of a module that imports one.
    return name in ("content", "data") and "pfx" in module


class Option(t.NamedTuple):
    """An option or suboption of a module's argument spec."""

    label: str  # the spec file and the constant that holds it
    module: str
    path: tuple
    definition: dict

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def _spec_options() -> list[Option]:
    """Every option and suboption of every argument spec file."""
    found = []

    def walk(label, module, options, path):
        for name, definition in options.items():
            found.append(Option(label, module, path + (name,), definition))
            if isinstance(definition.get("options"), dict):
                walk(label, module, definition["options"], path + (name,))

    for spec_file in SPEC_FILES:
        spec = importlib.import_module(f"ansible_collections.pkiops.keyfactor_command.plugins.module_utils.{spec_file.stem}")
        module = spec_file.stem.removeprefix("_").removesuffix("_spec")
        for constant, value in vars(spec).items():
            # ARGUMENT_SPEC, and the suboption dicts (POOL_OPTIONS, KEY_ACCESS_OPTIONS, ...) defined beside it.
            if (constant.isupper() and isinstance(value, dict) and value
                    and all(isinstance(d, dict) and "type" in d for d in value.values())):
                walk(f"{spec_file.name}:{constant}", module, value, ())
    return found


SPEC_OPTIONS = _spec_options()
SECRET_OPTIONS = [o for o in SPEC_OPTIONS if _is_secret_option(o.module, o.path[-1])]


def _option_id(option: Option) -> str:
    return f"{option.label}.{option.dotted}"


def test_the_spec_files_are_found_and_name_the_known_secrets():
    assert SPEC_FILES and SPEC_OPTIONS
    assert {(o.module, o.dotted) for o in SECRET_OPTIONS} >= {
        ("pfx_import", "content"), ("pfx_import", "password"), ("iis_app_pools", "pools.password")}


@pytest.mark.parametrize("option", SECRET_OPTIONS, ids=_option_id)
def test_every_secret_option_is_no_log(option):
    assert option.definition.get("no_log") is True, f"{option.label} option {option.dotted} holds a secret but is not no_log: True"


@pytest.mark.parametrize("option", [o for o in SPEC_OPTIONS if _ANSIBLE_SUSPECTS.search(o.path[-1]) and o not in SECRET_OPTIONS],
                         ids=_option_id)
def test_an_option_only_named_like_a_secret_says_it_is_none(option):
    assert option.definition.get("no_log") is False, (
        f"{option.label} option {option.dotted} is named like a secret; declare no_log: False if it holds none, True if it does")


class RoleOption(t.NamedTuple):
    """A variable of a role's argument spec."""

    label: str  # role:entry point, and the parent options of a suboption
    name: str
    definition: dict


def _role_options() -> list[RoleOption]:
    found = []

    def walk(label, options):
        for name, definition in (options or {}).items():
            found.append(RoleOption(label, name, definition or {}))
            walk(f"{label}.{name}", (definition or {}).get("options"))

    for spec_file in ROLE_SPECS:
        role = spec_file.parents[1].name
        for entry_point, spec in (yaml.safe_load(spec_file.read_text()) or {}).get("argument_specs", {}).items():
            walk(f"{role}:{entry_point}", spec.get("options"))
    return found


def _names_a_variable(option: RoleOption) -> bool:
    """An option that holds the name of the caller's variable, for messages, and not its value."""
    return option.name.endswith("_option") and " ".join(option.definition.get("description") or []).startswith("The caller's variable")


ROLE_SECRETS = [o for o in _role_options()
                if ("password" in o.name.lower() or "pfx_content" in o.name.lower()) and not _names_a_variable(o)]


def test_the_role_specs_are_found_and_name_their_secrets():
    assert ROLE_SPECS
    names = {o.name for o in ROLE_SECRETS}
    assert {"portal_app_pool_password", "common_installer_account_password", "portal_encryption_pfx_content",
            "portal_encryption_pfx_password", "gateway_cluster_node_encryption_pfx_password"} <= names


def _tasks(items):
    for item in items or []:
        yield item
        for key in ("block", "rescue", "always"):
            yield from _tasks(item.get(key))


def test_every_task_that_reads_a_whole_profile_is_no_log():
    # A profile carries the passwords and PFX contents of its role's variables. The engine's entry point has no
    # argument specification to mark it no_log, so each task that takes it whole (not just its title) hides its result.
    handed_on = ("common_profile_to_apply", "common_later_profiles")
    whole_profile = re.compile(r"common_(profile_to_apply|later_profiles)(?!\.title\b)")
    readers = []
    for path in sorted((REPO / "roles").glob("*/tasks/**/*.yml")):
        for task in _tasks(yaml.safe_load(path.read_text()) or []):
            # Handing the profile on to the engine, as a variable of the include, shows nothing.
            task_vars = {key: value for key, value in (task.get("vars") or {}).items() if key not in handed_on}
            arguments = {key: value for key, value in task.items() if key not in ("name", "block", "rescue", "always", "vars")}
            if whole_profile.search(json.dumps([arguments, task_vars])):
                readers.append((str(path.relative_to(REPO)), task.get("name"), task.get("no_log")))
    assert len(readers) >= 2, "the engine derives its steps from the profile, and again after creating accounts"
    assert [reader for reader in readers if reader[2] is not True] == []


@pytest.mark.parametrize("option", ROLE_SECRETS, ids=lambda o: f"{o.label}.{o.name}")
def test_every_role_password_and_pfx_content_is_no_log(option):
    assert option.definition.get("no_log") is True, (
        f"role variable {option.name} ({option.label}) holds a secret but is not no_log: true")


# --- the secrets' way to the host ----------------------------------------------------------------------------------------

PFX_PASSWORD = 'Pfx-Flow!"Secret\\Pa55'
POOL_PASSWORDS = {"KeyfactorPortal": 'Pool-Flow!Pa55"one', "KeyfactorAPI": "Pool-Flow\\Pa55-two"}
SVC = "CONTOSO\\svc_keyfactor"
NS = "NT AUTHORITY\\NETWORK SERVICE"
NS_SID = "S-1-5-20"


def _pool(name: str, **settings) -> dict:
    info = {"exists": True, "name": name, "state": "Started", "managed_runtime_version": "v4.0", "pipeline_mode": "Integrated",
            "identity_type": "SpecificUser", "username": SVC, "password_set": True, "password_matches": False,
            "load_user_profile": True, "start_mode": "OnDemand", "auto_start": True, "enable_32bit": False,
            "idle_timeout_minutes": 20, "periodic_restart_minutes": 1740}
    info.update(settings)
    return info


@pytest.fixture(scope="module", name="pfx")
def fixture_pfx() -> dict:
    root, issuing = pki_fixtures.chain()
    leaf = pki_fixtures.issue("flow.contoso.com", issuer=issuing)
    data = pki_fixtures.pfx(leaf, PFX_PASSWORD, extra=(issuing, root))
    return {"data": data, "content": base64.b64encode(data).decode("ascii"),
            "chain": [c.cert.fingerprint(hashes.SHA1()).hex().upper() for c in (issuing, root)],
            "thumbprint": pki_fixtures.thumbprint(leaf)}


def _pfx_probe_not_found(pfx: dict) -> dict:
    """The probe's report when neither the certificate nor its chain is in the store: everything is imported."""
    return {"certificate": {"found": False, "has_private_key": False, "key": None, "acl": []},
            "chain": [{"thumbprint": t, "store": s, "present": False} for t, s in zip(pfx["chain"], ("CA", "Root"))],
            "principals": [{"input": NS, "sid": NS_SID, "name": NS, "error": None}],
            "identity": {"sid": "S-1-5-21-1-2-3-500", "groups": ["S-1-5-32-544"]}, "os_build": 20348}


def _iis_case(_pfx):
    pools = [{"name": name, "identity_type": "SpecificUser", "username": SVC, "password": password}
             for name, password in POOL_PASSWORDS.items()]
    svc_sid = "S-1-5-21-1004336348-1177238915-682003330-1105"
    probe = {"iis_installed": True, "pools": {"KeyfactorPortal": _pool("KeyfactorPortal", sid=svc_sid), "KeyfactorAPI": {"exists": False}},
             "accounts": [{"input": SVC, "sid": svc_sid, "name": SVC, "error": None}]}
    applied = {"applied": [{"pool": "KeyfactorPortal", "action": "update", "runtime": ["recycle"]},
                           {"pool": "KeyfactorAPI", "action": "create", "runtime": []}]}
    secrets = {f"pools[{name}].password": password for name, password in POOL_PASSWORDS.items()}
    return IisAppPools, {"pools": pools}, [probe, applied], secrets, None


def _pfx_case(source: str):
    def case(pfx):
        args = {"password": PFX_PASSWORD, "chain": "install", "key_access": [{"principal": NS}]}
        args.update({"content": pfx["content"]} if source == "content" else {"src": "flow.pfx"})
        secrets = {"password": PFX_PASSWORD, **pfx_forms(f"PFX from {source}", pfx["data"])}
        applied = {"imported": True, "chain_installed": pfx["chain"], "acl_applied": []}
        return PfxImport, args, [_pfx_probe_not_found(pfx), applied], secrets, source
    return case


# Every module that takes a secret, with a task that sends it through a probe and an apply.
FLOW_CASES = {
    "iis_app_pools": _iis_case,
    "pfx_import from content": _pfx_case("content"),
    "pfx_import from src": _pfx_case("src"),
}


def _readiness_case(pfx):
    args = {"requirements": [{"kind": "key_access", "pfx_content": pfx["content"], "pfx_password": PFX_PASSWORD, "account": NS},
                             {"kind": "certificate", "pfx_src": "flow.pfx", "pfx_password": PFX_PASSWORD}]}
    secrets = {"pfx_password": PFX_PASSWORD, **pfx_forms("PFX of a requirement", pfx["data"])}
    return ReadinessInfo, args, secrets


# Modules whose secrets are used on the controller only: nothing of them reaches the host, not even as a
# sensitive parameter.
CONTROLLER_ONLY_CASES = {"readiness_info": _readiness_case}


def test_secrets_used_on_the_controller_never_reach_the_host(pfx, make_action, ps_ok, tmp_path, monkeypatch):
    cls, args, secrets = CONTROLLER_ONLY_CASES["readiness_info"](pfx)
    action, replay = make_action(cls, args, diff=True)
    (tmp_path / "flow.pfx").write_bytes(pfx["data"])
    monkeypatch.setattr(action, "_find_needle", lambda dirname, needle: str(tmp_path / needle))
    empty = {"rights": {"holders": {}}, "accounts": [{"input": NS, "sid": NS_SID, "name": NS, "error": None}], "groups": {},
             "paths": {}, "features": {"installed": {}}, "iis": {"installed": True, "pools": {}},
             "certificates": [{"store": "My", "thumbprint": pfx["thumbprint"], "found": False}],
             "registry": [], "cluster": {"services": []}, "co_location": None}
    replay.queue(ps_ok(empty, changed=False))
    result = action.run(task_vars={})
    assert not result.get("failed"), result.get("msg")
    assert replay.modes == ["probe"]
    call = replay.calls[0]
    assert "sensitive_parameters" not in call["module_args"]
    texts = {"the task's result and diff": json.dumps(result), "probe module options": json.dumps(call["module_args"])}
    leaks = scan_for_secrets(texts, secrets, where="tests/unit/test_secret_flow.py readiness_info")
    assert not leaks, f"secrets reached the host or the result: {leaks}"
    assert [r["status"] for r in result["requirements"]] == ["fail", "fail"]


def test_every_module_with_a_secret_option_has_a_flow_case_and_the_others_send_no_secret():
    covered = {name.split()[0] for name in FLOW_CASES} | set(CONTROLLER_ONLY_CASES)
    with_secrets = {o.module for o in SECRET_OPTIONS if o.module in MODULES}
    assert with_secrets == covered
    for module in set(MODULES) - covered:
        definition = type(definition_of(module))
        assert definition.probe_secrets is Definition.probe_secrets, f"{module} sends secrets but has no flow case here"
        # A secret, for the probe or the apply, reaches the host only as a Secret.
        assert "Secret(" not in inspect.getsource(inspect.getmodule(definition)), (
            f"{module} makes secrets but has no flow case here")


@pytest.mark.parametrize("case", sorted(FLOW_CASES))
def test_secrets_reach_the_payload_only_as_secure_sensitive_parameters(case, pfx, make_action, ps_ok, tmp_path, monkeypatch):
    cls, args, replies, secrets, source = FLOW_CASES[case](pfx)
    action, replay = make_action(cls, args, diff=True)
    if source == "src":
        (tmp_path / "flow.pfx").write_bytes(pfx["data"])
        monkeypatch.setattr(action, "_find_needle", lambda dirname, needle: str(tmp_path / needle))
    replay.queue(*(ps_ok(reply, changed=index > 0) for index, reply in enumerate(replies)))
    result = action.run(task_vars={})
    assert not result.get("failed"), result.get("msg")
    assert replay.modes == ["probe", "apply"], "the case exercises a probe and an apply"

    texts = {"the task's result and diff": "\n".join(strings_in(result)) + json.dumps(result)}
    sensitive = []
    for call in replay.calls:
        step = call["module_args"]["parameters"]["Mode"]
        module_args = call["module_args"]
        assert call["module_name"] == RUNNER
        assert module_args["script"] == payload_source(cls.definition.name), "the script is the payload, nothing added"
        texts[f"{step} script"] = module_args["script"]
        command, runner, payload, request, secrets_line = call["transport"]["command"], *call["transport"]["input_lines"]
        texts[f"{step} command line"] = command + "\n" + (command_script(command) or "")
        texts[f"{step} runner and payload lines"] = runner + "\n" + payload + "\n" + json.dumps(decode_input(
            "\r\n".join(call["transport"]["input_lines"]).encode("ascii")).script)
        texts[f"{step} request line"] = request
        texts[f"{step} parameters"] = "\n".join(strings_in(module_args["parameters"])) + json.dumps(module_args["parameters"])
        rest = {k: v for k, v in module_args.items() if k not in ("script", "parameters", "sensitive_parameters")}
        texts[f"{step} other module options"] = "\n".join(strings_in(rest)) + json.dumps(rest)
        declared = script_parameters(module_args["script"])
        for parameter in module_args.get("sensitive_parameters") or []:
            typed = declared[parameter["name"].lower()].type_name
            assert typed.lower() in _SECURE_TYPES, f"{parameter['name']} receives a secret but is typed [{typed}]"
            sensitive += [parameter.get("value") or "", parameter.get("password") or ""]

    leaks = scan_for_secrets(texts, secrets, where=f"tests/unit/test_secret_flow.py {case}")
    assert not leaks, f"secrets outside the secrets line: {leaks}"
    # And they did reach the host, as sensitive parameters: the password itself, or inside the JSON that carries it.
    whole = [label for label in secrets if "base64[" not in label and "hex of" not in label.lower()]
    for label in whole:
        assert any(secrets[label] in value or json.dumps(secrets[label])[1:-1] in value for value in sensitive), (
            f"{label} never reached the host as a sensitive parameter")


@pytest.mark.parametrize("payload", sorted((PLUGINS / "plugin_utils" / "_powershell").glob("[!_]*.ps1")), ids=lambda p: p.stem)
def test_every_payload_parameter_named_like_a_secret_is_typed_secure(payload):
    for parameter in script_parameters(payload_source(payload.stem)).values():
        # PowerShell's PfxPassword is the spec's pfx_password.
        if _is_secret_option(payload.stem, re.sub(r"(?<!^)(?=[A-Z])", "_", parameter.name).lower()):
            assert parameter.type_name.lower() in _SECURE_TYPES, (
                f"{payload.name} parameter ${parameter.name} would hold a secret but is typed [{parameter.type_name}]")
