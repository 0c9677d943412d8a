"""One simulated Windows host: decode a pipelined module run, dispatch it, record it."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import pathlib
import re

from . import cluster as cluster_file, manifest, registry, state as state_file
from .accounts import Directory


# error: the call fails on the host; connection: the connection drops before the host sees the call;
# reply_lost: the host runs the call, then the connection drops before its reply arrives.
FAULT_KINDS = ("error", "connection", "reply_lost")


class SimulatedConnectionFailure(Exception):
    """An injected transport failure: the host never saw the command, or its reply never came back."""


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
        if facts["payload"] == "host_snapshot":
            facts["reads"] = [str(read.get("module")) for read in (invocation.args.get("parameters") or {}).get("Reads") or []
                              if isinstance(read, dict)]
    return facts


def _secrets(invocation: manifest.ModuleInvocation) -> list[str]:
    """Values a result must not carry, nor a stock module's log entry: sensitive parameters, a stand-in's secret
    options, and any *password* option."""
    args = invocation.args
    found = []
    for parameter in args.get("sensitive_parameters") or []:
        found += [parameter.get("value"), parameter.get("password")]
    module = registry.STOCK_MODULES.get(invocation.name)
    for option in module.secret_options if module else ():
        found.append(args.get(option))
    found += [value for option, value in args.items() if "password" in option.lower()]
    return [s for s in found if isinstance(s, str) and s]


_PAYLOAD_DIR = pathlib.Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils" / "_powershell"
_INCLUDE = re.compile(r"^# pkiops-include: (_[a-z0-9_]+\.ps1)[ \t]*\r?$", re.MULTILINE)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=None)
def _repository_payloads() -> frozenset:
    """The sha256 of every payload in the repository, as its file and as it reaches the host (fragments inlined)."""
    def inline(match: re.Match) -> str:
        return (_PAYLOAD_DIR / match.group(1)).read_text(encoding="utf-8").rstrip("\n")

    sources = [path.read_text(encoding="utf-8") for path in _PAYLOAD_DIR.glob("[!_]*.ps1")]
    return frozenset(_sha256(text) for source in sources for text in (source, _INCLUDE.sub(inline, source)))


def _script_block_log(invocation: manifest.ModuleInvocation) -> dict:
    """What a real host's PowerShell ScriptBlock log sees of a win_powershell run.

    The script text: kept as its length and sha256 when it is one of the repository's payloads, and in full
    otherwise, so that anything put into a script (a secret, above all) is in the log. The parameters verbatim,
    whatever Ansible's no_log says: the host never hears of it, and a secret wrongly passed as a plain parameter
    must show up here for the secrets scan to catch it. Of sensitive_parameters only the names: their values
    arrive as SecureString or PSCredential, which the log does not see.
    """
    logged = invocation.public_args()
    script = logged.get("script")
    if isinstance(script, str):
        logged["script"] = f"<{len(script)} characters>"
        logged["script_sha256"] = _sha256(script)
        if logged["script_sha256"] not in _repository_payloads():
            logged["script_text"] = script
    if isinstance(logged.get("sensitive_parameters"), list):
        logged["sensitive_parameters"] = [
            {key: (value if key == "name" else state_file.REDACTED) for key, value in parameter.items()}
            if isinstance(parameter, dict) else state_file.REDACTED
            for parameter in logged["sensitive_parameters"]]
    return logged


def _logged_args(invocation: manifest.ModuleInvocation, secrets: list[str]):
    if invocation.name == "ansible.windows.win_powershell":
        return _script_block_log(invocation)
    # A stock module's options arrive as data on stdin, which ScriptBlock logging does not record.
    if invocation.args.get("_ansible_no_log"):
        # A no_log task may carry secrets in any option: keep only their names.
        return sorted(invocation.public_args())
    return state_file.redact(invocation.public_args(), secrets)


def _runner_facts(run_request, check_mode: bool) -> dict:
    # pylint: disable-next=import-outside-toplevel
    from .powershell import payload_tag

    facts = {"module": "runner", "check_mode": check_mode, "payload": payload_tag(run_request.script),
             "mode": (run_request.parameters or {}).get("Mode")}
    if facts["payload"] == "host_snapshot":
        facts["reads"] = [str(read.get("module")) for read in (run_request.parameters or {}).get("Reads") or []
                          if isinstance(read, dict)]
    return facts


def _runner_logged_args(run_request) -> dict:
    """The simulator's own log of a runner call: as for win_powershell, the payload by its digest and the
    secrets by name only."""
    logged = {"parameters": run_request.parameters, "check_mode": run_request.check_mode, "depth": run_request.depth}
    logged["script"] = f"<{len(run_request.script)} characters>"
    logged["script_sha256"] = _sha256(run_request.script)
    if logged["script_sha256"] not in _repository_payloads():
        logged["script_text"] = run_request.script
    logged["secrets"] = [{key: (value if key == "name" else state_file.REDACTED) for key, value in secret.items()}
                         for secret in run_request.secrets]
    return logged


def execute(path: str, computer_name: str, in_data: bytes, cluster_path: str | None = None,
            command: str = "") -> tuple[dict, str]:
    """Run one exec_command's worth of work against the state file at path.

    ``command`` is the command line and ``in_data`` its standard input: a pipelined module for ansible-core's exec
    wrapper, or a payload for the collection's loader. cluster_path is the state file of the cluster the host is
    a node of, if any. Returns the result and the output as the host wrote it (what a winrm or psrp connection
    shows at -vvvvv).
    """
    # pylint: disable=import-outside-toplevel
    from . import transport, windows_logs

    registry.load_all()
    if manifest.SEPARATOR in in_data:
        invocation = manifest.decode(in_data)
        run_request = None
        facts = _call_facts(invocation)
        secrets = _secrets(invocation)
        logged_args = _logged_args(invocation, secrets)
    elif transport.is_loader_command(command):
        try:
            run_request = transport.decode_input(in_data)
        except transport.TransportError as error:
            raise manifest.ManifestError(f"the collection's loader was sent input its runner cannot read: {error}") \
                from error
        invocation = None
        facts = _runner_facts(run_request, run_request.check_mode)
        secrets = [s for secret in run_request.secrets for s in (secret.get("value"), secret.get("password"))
                   if isinstance(s, str) and s]
        logged_args = _runner_logged_args(run_request)
    else:
        raise manifest.ManifestError(
            "windows_sim runs pipelined modules and the collection's payload loader only, and this command is "
            f"neither: {command[:120]!r}. A feature that needs a remote temp directory or file transfer is not simulated.")

    with state_file.locked(path, computer_name) as current, \
            (cluster_file.locked(cluster_path) if cluster_path else contextlib.nullcontext()) as cluster:
        sim = current["_sim"]
        sim["round_trips"] += 1
        # Exactly what this round trip sent to the host: the command line and its standard input.
        sim["bytes_received"] = sim.get("bytes_received", 0) + len(command) + len(in_data)
        entry = {"n": sim["round_trips"], **facts, "bytes": len(command) + len(in_data), "args": logged_args}
        sim["log"].append(entry)

        fault = state_file.take_fault(current, facts)
        fault_kind = fault.get("kind", "error") if fault else None
        if fault_kind not in (None, *FAULT_KINDS):
            raise ValueError(f"unknown fault kind {fault_kind!r}; the simulator knows {', '.join(FAULT_KINDS)}")
        if fault_kind == "connection":
            entry["result"] = {"connection_failure": fault.get("error", "")}
            raise SimulatedConnectionFailure(fault.get("error", "simulated connection failure"))
        # The host runs a reply_lost call in full; only then is the connection lost, with the reply.
        model_fault = fault if fault_kind == "error" else None

        host = Host(current, cluster)
        if cluster is not None:
            cluster_file.restore_checkpoints(cluster, current, host.computer_name)
        if run_request is not None:
            result = transport.run(host, run_request, model_fault)
        elif invocation.name == "ansible.windows.win_powershell":
            # pylint: disable-next=import-outside-toplevel
            from .win_powershell import run as run_win_powershell

            result = run_win_powershell(host, invocation, model_fault)
        elif model_fault:
            result = {"failed": True, "changed": False, "msg": model_fault.get("error", "simulated failure")}
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
        if run_request is not None:
            # The runner's output is what the real runner writes, secrets and all: it must hold none, so it is not
            # scrubbed here, and the scan reads it as the host wrote it.
            output_text = json.dumps(result, separators=(",", ":"))
            records = windows_logs.runner_run(transport.command_script(command), run_request, output_text)
        else:
            records = windows_logs.exec_wrapper_run(invocation, result, secrets)
            output_text = next(r["text"] for r in records if r["log"] == "transcript")
            result = state_file.redact(result, secrets)
        windows_logs.append(path, sim["round_trips"], records)
        entry["result"] = {k: result.get(k) for k in ("changed", "failed", "msg") if k in result}
        if fault_kind == "reply_lost":
            entry["result"]["reply_lost"] = fault.get("error", "")
            raise SimulatedConnectionFailure(fault.get("error", "simulated connection failure after the host ran the call"))
        return result, output_text
