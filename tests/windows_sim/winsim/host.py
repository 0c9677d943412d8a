"""One simulated Windows host: decode a pipelined module run, dispatch it, record it."""

from __future__ import annotations

import contextlib
import dataclasses
import json

from . import cluster as cluster_file, manifest, models, state as state_file, transport, windows_logs
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


def _payload_facts(script: str, parameters) -> dict:
    """What describes a payload run, by win_powershell or the runner: its tag and mode, and for a snapshot the
    payloads it read."""
    # pylint: disable-next=import-outside-toplevel
    from .powershell import payload_tag

    parameters = parameters if isinstance(parameters, dict) else {}
    facts = {"payload": payload_tag(script or ""), "mode": parameters.get("Mode")}
    if facts["payload"] == "host_snapshot":
        facts["reads"] = [str(read.get("module")) for read in parameters.get("Reads") or [] if isinstance(read, dict)]
    return facts


def _call_facts(invocation: manifest.ModuleInvocation) -> dict:
    """The keys fault matching and the log use to describe a call."""
    facts = {"module": invocation.name, "check_mode": invocation.check_mode}
    if invocation.name == "ansible.windows.win_powershell":
        facts.update(_payload_facts(invocation.args.get("script"), invocation.args.get("parameters")))
    return facts


def _secrets(invocation: manifest.ModuleInvocation) -> list[str]:
    """Values a result must not carry, nor a stock module's log entry: sensitive parameters, a stand-in's secret
    options, and any *password* option."""
    args = invocation.args
    found = []
    for parameter in args.get("sensitive_parameters") or []:
        found += [parameter.get("value"), parameter.get("password")]
    module = models.STOCK_MODULES.get(invocation.name)
    for option in module.secret_options if module else ():
        found.append(args.get(option))
    found += [value for option, value in args.items() if "password" in option.lower()]
    return [s for s in found if isinstance(s, str) and s]


def _logged_script(script: str) -> dict:
    """A script as the simulator's own log keeps it: its length and sha256, and its text too unless it is one of
    the repository's scripts, so that anything put into a script (a secret, above all) is in the log."""
    digest = windows_logs.sha256(script)
    logged = {"script": f"<{len(script)} characters>", "script_sha256": digest}
    if digest not in windows_logs.repository_scripts():
        logged["script_text"] = script
    return logged


def _names_only(secrets: list) -> list:
    """Secrets as the log keeps them: their name, every other field starred."""
    return [{key: (value if key == "name" else state_file.REDACTED) for key, value in secret.items()}
            if isinstance(secret, dict) else state_file.REDACTED for secret in secrets]


def _script_block_log(invocation: manifest.ModuleInvocation) -> dict:
    """What a real host's PowerShell ScriptBlock log sees of a win_powershell run.

    The script text: kept as its length and sha256 when it is one of the repository's payloads, and in full
    otherwise, so that anything put into a script (a secret, above all) is in the log. The parameters verbatim,
    whatever Ansible's no_log says: the host never hears of it, and a secret wrongly passed as a plain parameter
    must show up here for the secrets scan to catch it. Of sensitive_parameters only the names: their values
    arrive as SecureString or PSCredential, which the log does not see.
    """
    logged = invocation.public_args()
    if isinstance(logged.get("script"), str):
        logged.update(_logged_script(logged["script"]))
    if isinstance(logged.get("sensitive_parameters"), list):
        logged["sensitive_parameters"] = _names_only(logged["sensitive_parameters"])
    return logged


def _logged_args(invocation: manifest.ModuleInvocation, secrets: list[str]):
    if invocation.name == "ansible.windows.win_powershell":
        return _script_block_log(invocation)
    # A stock module's options arrive as data on stdin, which ScriptBlock logging does not record.
    if invocation.args.get("_ansible_no_log"):
        # A no_log task may carry secrets in any option: keep only their names.
        return sorted(invocation.public_args())
    return state_file.redact(invocation.public_args(), secrets)


def _runner_logged_args(run_request) -> dict:
    """The simulator's own log of a runner call: as for win_powershell, the payload by its digest and the
    secrets by name only."""
    return {"parameters": run_request.parameters, "check_mode": run_request.check_mode, "depth": run_request.depth,
            **_logged_script(run_request.script), "secrets": _names_only(run_request.secrets)}


def execute(path: str, computer_name: str, in_data: bytes, cluster_path: str | None = None,
            command: str = "") -> tuple[dict, str]:
    """Run one exec_command's worth of work against the state file at path.

    ``command`` is the command line and ``in_data`` its standard input: a pipelined module for ansible-core's exec
    wrapper, or a payload for the collection's loader. cluster_path is the state file of the cluster the host is
    a node of, if any. Returns the result and the output as the host wrote it (what a winrm or psrp connection
    shows at -vvvvv).
    """
    models.load_all()
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
        facts = {"module": "runner", "check_mode": run_request.check_mode,
                 **_payload_facts(run_request.script, run_request.parameters)}
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
        elif invocation.name in models.STOCK_MODULES:
            # pylint: disable-next=import-outside-toplevel
            from .stock import run_stock

            result = run_stock(host, models.STOCK_MODULES[invocation.name], invocation)
        else:
            result = {
                "failed": True,
                "msg": f"windows_sim does not simulate the module {invocation.name}; add a stand-in "
                "under tests/windows_sim/winsim/stock/ (or, for one kind of run only, in a file that run names in "
                "WINDOWS_SIM_MODELS) before using it in a simulated run",
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
