"""One simulated Windows host: decode a pipelined module run, dispatch it, record it."""

from __future__ import annotations

import contextlib
import dataclasses

from . import cluster as cluster_file, manifest, registry, state as state_file
from .accounts import Directory


class SimulatedConnectionFailure(Exception):
    """An injected transport failure: the host never saw the command."""


@dataclasses.dataclass
class Host:
    """What a model sees: the mutable state and the principals it can resolve."""

    state: dict
    # The Failover Cluster this host is a node of, shared with the other nodes; None when it is not one.
    cluster: dict | None = None

    @property
    def directory(self) -> Directory:
        # Rebuilt on each access because models may add accounts.
        return Directory(self.state)

    @property
    def computer_name(self) -> str:
        return self.state["host"]["computer_name"]


def _call_facts(invocation: manifest.ModuleInvocation) -> dict:
    """The keys fault matching and the log use to describe a call."""
    facts = {"module": invocation.name, "check_mode": invocation.check_mode}
    if invocation.name == "ansible.windows.win_powershell":
        # pylint: disable-next=import-outside-toplevel
        from .powershell import payload_tag

        facts["payload"] = payload_tag(invocation.args.get("script") or "")
        facts["mode"] = (invocation.args.get("parameters") or {}).get("Mode")
    return facts


def _secrets(invocation: manifest.ModuleInvocation) -> list[str]:
    """Values the log must not keep: sensitive parameters, a stand-in's secret options, and any *password* option."""
    args = invocation.args
    found = []
    for parameter in args.get("sensitive_parameters") or []:
        found += [parameter.get("value"), parameter.get("password")]
    module = registry.STOCK_MODULES.get(invocation.name)
    for option in module.secret_options if module else ():
        found.append(args.get(option))
    found += [value for option, value in args.items() if "password" in option.lower()]
    return [s for s in found if isinstance(s, str) and s]


def _logged_args(invocation: manifest.ModuleInvocation, secrets: list[str]):
    if invocation.args.get("_ansible_no_log"):
        # A no_log task may carry secrets in any option: keep only their names.
        return sorted(invocation.public_args())
    logged = invocation.public_args()
    if isinstance(logged.get("script"), str):
        # The payload is in the repository; its size is what is worth keeping here.
        logged["script"] = f"<{len(logged['script'])} characters>"
    return state_file.redact(logged, secrets)


def execute(path: str, computer_name: str, in_data: bytes, cluster_path: str | None = None) -> dict:
    """Run one exec_command's worth of work against the state file at path and return the module result.

    cluster_path is the state file of the cluster the host is a node of, if any.
    """
    registry.load_all()
    with state_file.locked(path, computer_name) as current, \
            (cluster_file.locked(cluster_path) if cluster_path else contextlib.nullcontext()) as cluster:
        sim = current["_sim"]
        sim["round_trips"] += 1
        invocation = manifest.decode(in_data)
        facts = _call_facts(invocation)
        secrets = _secrets(invocation)
        entry = {"n": sim["round_trips"], **facts, "args": _logged_args(invocation, secrets)}
        sim["log"].append(entry)

        fault = state_file.take_fault(current, facts)
        if fault and fault.get("kind", "error") == "connection":
            entry["result"] = {"connection_failure": fault.get("error", "")}
            raise SimulatedConnectionFailure(fault.get("error", "simulated connection failure"))

        host = Host(current, cluster)
        if cluster is not None:
            cluster_file.restore_checkpoints(cluster, current, host.computer_name)
        if invocation.name == "ansible.windows.win_powershell":
            # pylint: disable-next=import-outside-toplevel
            from .win_powershell import run as run_win_powershell

            result = run_win_powershell(host, invocation, fault)
        elif fault:
            result = {"failed": True, "changed": False, "msg": fault.get("error", "simulated failure")}
        elif invocation.name in registry.STOCK_MODULES:
            # pylint: disable-next=import-outside-toplevel
            from .stock import run_stock

            result = run_stock(host, registry.STOCK_MODULES[invocation.name], invocation)
        else:
            result = {
                "failed": True,
                "msg": f"windows_sim does not simulate the module {invocation.name}; add a stand-in "
                "under tests/windows_sim/winsim/stock/ before using it in a simulated run",
            }
        if cluster is not None:
            cluster_file.capture_checkpoints(cluster, current, host.computer_name)
        result = state_file.redact(result, secrets)
        entry["result"] = {k: result.get(k) for k in ("changed", "failed", "msg") if k in result}
        return result
