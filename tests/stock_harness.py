"""Driving the simulator's stand-ins of stock modules as the connection plugin does, for their unit tests (the core's
in tests/unit/windows_sim/, the bench's in tests/unit/bench/)."""

from __future__ import annotations

import copy
import json

from winsim import manifest, models, state as state_file
from winsim.host import Host
from winsim.stock import run_stock

COMPUTER = "KF01"


def new_host(seed: dict | None = None) -> Host:
    """A fresh domain-joined KF01, completed from seed."""
    return Host(state_file.complete(copy.deepcopy(seed or {}), COMPUTER))


def run(host: Host, fqcn: str, check: bool = False, diff: bool = False, module_source: str = "", **args) -> dict:
    """Run a stand-in as the connection plugin does, with ansible-core's check and diff flags.

    module_source is the module's PowerShell as the host receives it; empty, the installed collection's is used."""
    invocation = manifest.ModuleInvocation(
        name=fqcn, args={**args, "_ansible_check_mode": check, "_ansible_diff": diff}, script=module_source, become=False)
    return run_stock(host, models.STOCK_MODULES[fqcn], invocation)


def snapshot(host: Host) -> str:
    """The whole host state, for proving a call changed nothing."""
    return json.dumps(host.state, sort_keys=True)


def assert_failed(result: dict, message: str) -> None:
    """The call failed with exactly message and reported no change."""
    assert result.get("failed") is True, result
    assert result["changed"] is False
    assert result["msg"] == message
