"""Stand-ins for the stock ansible.windows modules our roles use.

Only what the collection's roles, playbooks and modules run is modelled here. The stand-ins that only the bench's
stock-module baselines use (win_user_right, win_certificate_info, win_regedit, win_service_info,
microsoft.iis.web_app_pool, win_acl's certificate branch and win_certificate_store's certificate file branch) are in
tests/bench/windows_sim_stock/, which tools/bench.py names in WINDOWS_SIM_MODELS (../models.py) for its runs only:
any other run refuses those modules as it refuses every module the simulator does not model, so a role cannot come
to rely on one unnoticed.

Each stand-in validates its arguments against the real module's documented
options (read from the installed ansible.windows collection, so they cannot
drift), applies the documented defaults, changes the simulated state and returns
the module's documented fields.

Whether a module runs in check mode is also read from the module itself, the
source the host is sent (or, without it, the installed collection's ``.ps1``):
a module that does not declare check mode support is skipped on the host, as
Ansible.ModuleUtils.Legacy's ``Parse-Args`` and Ansible.Basic skip it, so a
later collection version that adds the support changes the simulated run too.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ..errors import HostError, ModuleArgumentError

_DOC_TYPES = {"str", "list", "dict", "bool", "int", "float", "raw"}
# Windows modules expand %VARIABLES% in a path, not $HOME or ~ as the controller's 'path' type does.
_AS_STR = {"path", "sid"}


def _option_type(documented: str | None) -> str:
    documented = documented or "str"
    if documented in _AS_STR:
        return "str"
    return documented if documented in _DOC_TYPES else "raw"


def _spec_from_options(options: dict) -> dict:
    spec = {}
    for name, doc in (options or {}).items():
        entry = {"type": _option_type(doc.get("type"))}
        for key in ("choices", "default", "aliases", "required", "no_log"):
            if key in doc:
                entry[key] = doc[key]
        if "elements" in doc:
            entry["elements"] = _option_type(doc["elements"])
        if "suboptions" in doc:
            entry["options"] = _spec_from_options(doc["suboptions"])
        spec[name] = entry
    return spec


@functools.lru_cache(maxsize=None)
def _documented_spec(fqcn: str) -> dict:
    """The argument spec the real module documents, from its .py or .yml documentation."""
    namespace, collection, module = fqcn.split(".")
    package = f"ansible_collections.{namespace}.{collection}.plugins.modules"
    try:
        document = yaml.safe_load(importlib.import_module(f"{package}.{module}").DOCUMENTATION)
    except ImportError:
        document = yaml.safe_load(pkgutil.get_data(package, f"{module}.yml"))["DOCUMENTATION"]
    return _spec_from_options(document.get("options"))


def module_spec(module) -> dict:
    """The documented spec, with the stand-in's corrections where the real module accepts more."""
    spec = dict(_documented_spec(module.fqcn))
    for option, override in module.spec_overrides.items():
        spec[option] = override
    return spec


def _as_ansible_basic_lists(spec: dict, args: dict) -> dict:
    """A string given for a list option, split as Ansible.Basic splits it: at commas, each element trimmed.

    Python's validator splits without trimming, and Windows modules never see that.
    """
    converted = dict(args)
    for name, entry in spec.items():
        for key in (name, *entry.get("aliases", ())):
            if entry.get("type") == "list" and isinstance(converted.get(key), str):
                converted[key] = [element.strip() for element in converted[key].split(",")]
    return converted


def validate(module, args: dict) -> dict:
    spec = module_spec(module)
    result = ArgumentSpecValidator(spec, **module.spec_rules).validate(_as_ansible_basic_lists(spec, args))
    if result.error_messages:
        raise ModuleArgumentError("; ".join(result.error_messages))
    return result.validated_parameters


@functools.lru_cache(maxsize=None)
def installed_source(fqcn: str) -> str:
    """The PowerShell source of the installed module, as ansible-core would send it to the host."""
    namespace, collection, module = fqcn.split(".")
    data = pkgutil.get_data(f"ansible_collections.{namespace}.{collection}.plugins.modules", f"{module}.ps1")
    if data is None:
        raise ModuleArgumentError(f"windows_sim cannot find the source of {fqcn} in the installed collection")
    return data.decode("utf-8-sig")


# Ansible.Basic: the spec's supports_check_mode, default false (Ansible.Basic.cs SetArgumentSpecDefaults).
_BASIC_MODULE = re.compile(r"\[Ansible\.Basic\.AnsibleModule\]::Create\(", re.IGNORECASE)
_BASIC_CHECK_MODE = re.compile(r"^\s*supports_check_mode\s*=\s*\$true\b", re.IGNORECASE | re.MULTILINE)
# Ansible.ModuleUtils.Legacy: Parse-Args declares param ($arguments, $supports_check_mode = $false).
_LEGACY_PARSE_ARGS = re.compile(r"^[^#\n]*\bParse-Args\b(?P<rest>[^\n]*)$", re.IGNORECASE | re.MULTILINE)
_LEGACY_CHECK_MODE = re.compile(r"(-supports_check_mode(\s+|:)|\$args\s+)\$true\b", re.IGNORECASE)


@functools.lru_cache(maxsize=None)
def module_kind_and_check_mode(source: str) -> tuple[str, bool]:
    """("basic" or "legacy", whether the module declares check mode support), read from its source."""
    if _BASIC_MODULE.search(source):
        return "basic", bool(_BASIC_CHECK_MODE.search(source))
    parse_args = _LEGACY_PARSE_ARGS.search(source)
    if parse_args:
        return "legacy", bool(_LEGACY_CHECK_MODE.search(parse_args.group("rest")))
    raise ModuleArgumentError("windows_sim cannot tell from the module's source whether it supports check mode")


def _check_mode_skip(module, invocation) -> tuple[str, dict | None]:
    """The module's kind, and the result the host returns in check mode if the module does not support it."""
    if not invocation.check_mode:
        return "", None
    kind, supported = module_kind_and_check_mode(invocation.script or installed_source(module.fqcn))
    if supported:
        return kind, None
    if kind == "legacy":
        return kind, {"skipped": True, "changed": False, "msg": "remote module does not support check mode"}
    name = invocation.args.get("_ansible_module_name") or module.fqcn
    return kind, {"skipped": True, "changed": False, "msg": f"remote module ({name}) does not support check mode"}


def run_stock(host, module, invocation) -> dict:
    try:
        kind, skipped = _check_mode_skip(module, invocation)
        if skipped is not None and kind == "legacy":
            # Parse-Args exits before any option is read.
            return skipped
        params = validate(module, invocation.public_args())
    except ModuleArgumentError as error:
        return {"failed": True, "changed": False, "msg": str(error)}
    if skipped is not None:
        # Ansible.Basic checks the options it was given before it skips.
        return skipped
    try:
        return module.run(host, params, invocation.check_mode, invocation.diff_mode)
    except HostError as error:
        return {"failed": True, "changed": False, "msg": error.message}


def load() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


load()
