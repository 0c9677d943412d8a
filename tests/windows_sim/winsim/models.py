"""Which Python model answers which module or payload.

Stock modules register with ``@stock_module(fqcn)``; our payloads register with
``@payload_model(tag)``. Anything unregistered fails loudly: the simulator never
pretends a module it does not model succeeded.

A run may bring models of its own, for scripts that are not the collection's
payloads (the bench's stock-module baselines): the environment variable
``WINDOWS_SIM_MODELS`` names their Python files, separated by ``os.pathsep``,
and ``load_all`` loads each once, where they register like any model.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pathlib
import typing as t

STOCK_MODULES: dict[str, "StockModule"] = {}
PAYLOAD_MODELS: dict[str, t.Callable] = {}
# The variable that names a run's own model files.
EXTRA_MODELS_VARIABLE = "WINDOWS_SIM_MODELS"
_LOADED_EXTRA: set[str] = set()


@dataclasses.dataclass(frozen=True)
class StockModule:
    fqcn: str
    run: t.Callable
    # Options whose values are secrets: the log redacts them.
    secret_options: tuple[str, ...] = ()
    # Where the real module accepts more than its documentation says, by option.
    spec_overrides: dict = dataclasses.field(default_factory=dict)
    # The real module's rules between options (required_if, mutually_exclusive, ...), which its documentation
    # does not carry, as ArgumentSpecValidator takes them.
    spec_rules: dict = dataclasses.field(default_factory=dict)


def stock_module(fqcn: str, secret_options: tuple[str, ...] = (), spec_overrides: dict | None = None,
                 spec_rules: dict | None = None):
    def register(function):
        STOCK_MODULES[fqcn] = StockModule(fqcn, function, secret_options, spec_overrides or {}, spec_rules or {})
        return function

    return register


def payload_model(tag: str):
    def register(function):
        PAYLOAD_MODELS[tag] = function
        return function

    return register


def load_all() -> None:
    """Import every model module so that its decorators run, and the run's own model files."""
    # pylint: disable=import-outside-toplevel,unused-import
    from . import payloads, stock  # noqa: F401

    for name in filter(None, os.environ.get(EXTRA_MODELS_VARIABLE, "").split(os.pathsep)):
        path = str(pathlib.Path(name).resolve())
        if path in _LOADED_EXTRA:
            continue
        spec = importlib.util.spec_from_file_location(f"winsim_extra_models_{len(_LOADED_EXTRA)}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"{EXTRA_MODELS_VARIABLE} names {name}, which is not a Python file")
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        _LOADED_EXTRA.add(path)
