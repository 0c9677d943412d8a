"""Which Python model answers which module or payload.

Stock modules register with ``@stock_module(fqcn)``; our payloads register with
``@payload_model(tag)``. Anything unregistered fails loudly: the simulator never
pretends a module it does not model succeeded.
"""

from __future__ import annotations

import dataclasses
import typing as t

STOCK_MODULES: dict[str, "StockModule"] = {}
PAYLOAD_MODELS: dict[str, t.Callable] = {}


@dataclasses.dataclass(frozen=True)
class StockModule:
    fqcn: str
    run: t.Callable
    # Options whose values are secrets: the log redacts them.
    secret_options: tuple[str, ...] = ()
    # Where the real module accepts more than its documentation says, by option.
    spec_overrides: dict = dataclasses.field(default_factory=dict)


def stock_module(fqcn: str, secret_options: tuple[str, ...] = (), spec_overrides: dict | None = None):
    def register(function):
        STOCK_MODULES[fqcn] = StockModule(fqcn, function, secret_options, spec_overrides or {})
        return function

    return register


def payload_model(tag: str):
    def register(function):
        PAYLOAD_MODELS[tag] = function
        return function

    return register


def load_all() -> None:
    """Import every model module so that its decorators run."""
    # pylint: disable=import-outside-toplevel,unused-import
    from . import payloads, stock  # noqa: F401
