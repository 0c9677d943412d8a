"""Which Python model answers which module or payload.

Stock modules register with ``@stock_module(fqcn)``; our payloads register with
``@payload_model(tag)``. Anything unregistered fails loudly: the simulator never
pretends a module it does not model succeeded.
"""

from __future__ import annotations

import dataclasses
import typing as t

STOCK_MODULES: dict[str, "StockModule"] = {}
# Scripts of the bench's stock-module baselines (tests/bench/baseline), tagged ``bench_baseline_<name>``. They are
# not the collection's payloads, so the contract "every payload has a model and every model a payload" does not
# list them, but win_powershell finds them like any payload model.
BASELINE_PREFIX = "bench_baseline_"
BASELINE_MODELS: dict[str, t.Callable] = {}


class _PayloadModels(dict):
    """The collection's payload models by tag; a lookup also finds the baselines' script models."""

    def get(self, key, default=None):
        if isinstance(key, str) and key.startswith(BASELINE_PREFIX):
            return BASELINE_MODELS.get(key, default)
        return super().get(key, default)


PAYLOAD_MODELS: dict[str, t.Callable] = _PayloadModels()


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
        (BASELINE_MODELS if tag.startswith(BASELINE_PREFIX) else PAYLOAD_MODELS)[tag] = function
        return function

    return register


def load_all() -> None:
    """Import every model module so that its decorators run."""
    # pylint: disable=import-outside-toplevel,unused-import
    from . import payloads, stock  # noqa: F401
    from .payloads import bench_baseline_cluster_role  # noqa: F401
