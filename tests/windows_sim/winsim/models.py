"""Which Python model answers which module or payload.

Stock modules register with ``@stock_module(fqcn)``; our payloads register with
``@payload_model(tag)``. Anything unregistered fails loudly: the simulator never
pretends a module it does not model succeeded.

A run may bring models of its own, for what the collection itself never runs
(the bench's stock-module baselines: their cluster role script, and the stock
modules and module branches only they use): the environment variable
``WINDOWS_SIM_MODELS`` names their Python files, or folders whose ``.py`` files
are all loaded in name order, separated by ``os.pathsep``. ``load_all`` loads
each file once, after the simulator's own models, and they register like any
model; a run without them refuses what they model as it refuses anything else.
``@extends_stock_module(fqcn)`` adds such a branch to one of the simulator's
own stand-ins.
"""

from __future__ import annotations

import dataclasses
import functools
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


def extends_stock_module(fqcn: str):
    """Add a branch to the stand-in registered for fqcn, keeping its options, rules and secrets.

    The function is called as ``function(base, host, params, check_mode, diff_mode)``, ``base`` being the stand-in's
    own run, which it calls for whatever the branch does not handle.
    """

    def register(function):
        # pylint: disable-next=import-outside-toplevel,unused-import,cyclic-import
        from . import stock  # noqa: F401  (the stand-in to extend)

        base = STOCK_MODULES[fqcn]
        STOCK_MODULES[fqcn] = dataclasses.replace(base, run=functools.partial(function, base.run))
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
        named = pathlib.Path(name).resolve()
        for path in sorted(named.glob("*.py")) if named.is_dir() else [named]:
            _load_extra(name, str(path))


def _load_extra(name: str, path: str) -> None:
    if path in _LOADED_EXTRA:
        return
    spec = importlib.util.spec_from_file_location(f"winsim_extra_models_{len(_LOADED_EXTRA)}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{EXTRA_MODELS_VARIABLE} names {name}, which is neither a Python file nor a folder")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    _LOADED_EXTRA.add(path)
