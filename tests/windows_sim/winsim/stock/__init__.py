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

_DOC_TYPES = {"str", "list", "dict", "bool", "int", "float", "path", "raw", "sid"}


def _spec_from_options(options: dict) -> dict:
    spec = {}
    for name, doc in (options or {}).items():
        entry = {"type": doc.get("type", "str")}
        if entry["type"] not in _DOC_TYPES:
            entry["type"] = "raw"
        if entry["type"] == "sid":
            entry["type"] = "str"
        for key in ("choices", "default", "elements", "aliases", "required", "no_log"):
            if key in doc:
                entry[key] = doc[key]
        if entry.get("elements") == "sid":
            entry["elements"] = "str"
        if "suboptions" in doc:
            entry["options"] = _spec_from_options(doc["suboptions"])
        spec[name] = entry
    return spec


@functools.lru_cache(maxsize=None)
def documented_spec(fqcn: str) -> dict:
    """The argument spec the real module documents, from its .py or .yml documentation."""
    namespace, collection, module = fqcn.split(".")
    package = f"ansible_collections.{namespace}.{collection}.plugins.modules"
    try:
        document = yaml.safe_load(importlib.import_module(f"{package}.{module}").DOCUMENTATION)
    except ImportError:
        document = yaml.safe_load(pkgutil.get_data(package, f"{module}.yml"))["DOCUMENTATION"]
    return _spec_from_options(document.get("options"))


def validate(fqcn: str, args: dict) -> dict:
    validator = ArgumentSpecValidator(documented_spec(fqcn))
    result = validator.validate(args)
    if result.error_messages:
        raise ModuleArgumentError("; ".join(result.error_messages))
    return result.validated_parameters


def run_stock(host, module, invocation) -> dict:
    try:
        params = validate(module.fqcn, invocation.public_args())
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
