"""The collection's own payload transport, as a Windows host receives it (plugins/plugin_utils/_powershell/transport).

A run arrives as a command line, ``PowerShell ... -EncodedCommand <loader>``, with four lines on standard input:
the runner and the payload, each gzip-compressed and base64-encoded, the request as JSON, and the secrets as JSON.
The simulator accepts only the repository's own loader and runner, byte for byte, so a change to either is run
here only as what it is on disk; it answers with the one line of JSON the runner writes.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import gzip
import json
import pathlib

TRANSPORT_DIR = pathlib.Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils" / "_powershell" / "transport"
# What the PowerShell shell plugin puts before every encoded script (ansible.plugins.shell.powershell._common_args).
COMMAND_PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "


class TransportError(Exception):
    """What arrived is not a run of the collection's loader and runner as the repository holds them."""


@dataclasses.dataclass(frozen=True)
class RunnerRun:
    """One payload run, as the runner reads it from its standard input."""

    script: str
    parameters: dict
    check_mode: bool
    depth: int
    secrets: list

    def win_powershell_args(self) -> dict:
        """The same run described with win_powershell's options, which the payload models bind."""
        args = {"script": self.script, "parameters": self.parameters, "depth": self.depth}
        if self.secrets:
            args["sensitive_parameters"] = self.secrets
        return args


@functools.lru_cache(maxsize=None)
def transport_text(name: str) -> str:
    return (TRANSPORT_DIR / name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def loader_command_text() -> str:
    """The loader as its command line carries it: comment and blank lines dropped, each line stripped."""
    lines = (line.strip() for line in transport_text("loader.ps1").splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("#"))


def command_script(cmd: str) -> str | None:
    """The script of an encoded PowerShell command line, or None when the command is not one."""
    if not cmd.startswith(COMMAND_PREFIX):
        return None
    try:
        return base64.b64decode(cmd[len(COMMAND_PREFIX):].strip(), validate=True).decode("utf-16-le")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def is_loader_command(cmd: str) -> bool:
    return command_script(cmd) == loader_command_text()


def _decompress(line: str, what: str) -> str:
    try:
        return gzip.decompress(base64.b64decode(line, validate=True)).decode("utf-8")
    except (binascii.Error, EOFError, OSError, ValueError, UnicodeDecodeError) as error:
        raise TransportError(f"the {what} line is not gzip-compressed base64 text: {error}") from error


def _json_line(line: str, what: str):
    if not line.isascii():
        raise TransportError(f"the {what} line is not ASCII; the host's code page could change its characters")
    try:
        return json.loads(line)
    except ValueError as error:
        raise TransportError(f"the {what} line is not JSON: {error}") from error


def decode_input(in_data: bytes) -> RunnerRun:
    """The run that the loader's standard input carries; TransportError when it is not the repository's runner."""
    lines = in_data.decode("ascii", errors="replace").splitlines()
    if len(lines) != 4:
        raise TransportError(f"the loader's input has {len(lines)} lines; the runner reads exactly 4")
    if _decompress(lines[0], "runner") != transport_text("runner.ps1"):
        raise TransportError("the runner sent is not the repository's transport/runner.ps1")
    request = _json_line(lines[2], "request")
    secrets = _json_line(lines[3], "secrets")
    if not isinstance(request, dict) or set(request) != {"Parameters", "CheckMode", "Depth"}:
        raise TransportError(f"the request must hold exactly Parameters, CheckMode and Depth, not {request!r:.200}")
    if not isinstance(secrets, list) or not all(isinstance(s, dict) and "name" in s for s in secrets):
        raise TransportError("the secrets line must be a JSON list of objects with a name")
    return RunnerRun(script=_decompress(lines[1], "payload"), parameters=request["Parameters"] or {},
                     check_mode=bool(request["CheckMode"]), depth=int(request["Depth"]), secrets=secrets)


def runner_output(result: dict) -> dict:
    """What the runner writes, from the win_powershell-shaped result of the payload's model."""
    errors = []
    for record in result.get("error") or []:
        exception = record.get("exception") or {}
        errors.append({"output": record.get("output", ""),
                       "exception": {"message": exception.get("message", ""), "type": exception.get("type", "")}})
    if result.get("failed") and not errors:
        # The simulator could not run the payload at all (no model); the real runner would have thrown.
        errors.append({"output": result.get("msg", ""),
                       "exception": {"message": result.get("msg", ""), "type": "System.Management.Automation.RuntimeException"}})
    return {
        "changed": bool(result.get("changed")),
        "failed": bool(result.get("failed")),
        "result": result.get("result") if isinstance(result.get("result"), dict) else {},
        "warning": list(result.get("warning") or []),
        "error": errors,
    }


def run(host, run_request: RunnerRun, fault: dict | None, become: bool = False) -> dict:
    # pylint: disable-next=import-outside-toplevel
    from .win_powershell import run_payload

    result = run_payload(host, run_request.script, run_request.win_powershell_args(), check_mode=run_request.check_mode,
                         diff_mode=False, become=become, fault=fault, depth=run_request.depth, runner=True)
    return runner_output(result)
