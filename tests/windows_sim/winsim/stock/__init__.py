"""Stand-ins for the stock ansible.windows modules our roles use.

Each stand-in validates its arguments against the real module's documented
options (read from the installed ansible.windows collection, so they cannot
drift), applies the documented defaults, changes the simulated state and returns
the module's documented fields.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

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


def validate(module, args: dict) -> dict:
    result = ArgumentSpecValidator(module_spec(module)).validate(args)
    if result.error_messages:
        raise ModuleArgumentError("; ".join(result.error_messages))
    return result.validated_parameters


def run_stock(host, module, invocation) -> dict:
    try:
        params = validate(module, invocation.public_args())
    except ModuleArgumentError as error:
        return {"failed": True, "changed": False, "msg": str(error)}
    try:
        return module.run(host, params, invocation.check_mode, invocation.diff_mode)
    except HostError as error:
        return {"failed": True, "changed": False, "msg": error.message}


def load() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


load()
