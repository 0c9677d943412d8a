"""Windows' own logs on a simulated host, as Windows writes them, for the secrets scan.

A hardened host may keep four logs of what Ansible runs on it. Each round trip appends its records, one JSON
object a line, to ``<state file>.windows-logs.jsonl``, with the round trip's number ``n`` and the ``log``:

``script_block``
    PowerShell Script Block Logging, event 4104: the text of every script block compiled. That is the exec
    wrapper's scripts, the module and its PowerShell utilities, a win_powershell ``script``, our loader, runner and
    payload, and each script a payload compiles with ``[scriptblock]::Create`` (host_snapshot's probes). A text
    that is a file of ansible-core, an installed collection or this repository is kept as its name, length and
    sha256; any other text is kept whole, since it is what a secret put into a script would be found in.
``module``
    PowerShell Module Logging, event 4103: the parameter bindings of the cmdlet calls made on the way to and in
    the module, each value as Windows PowerShell 5.1 writes it, its ``ToString()``: a string whole, a hashtable
    as ``System.Collections.Hashtable``. The calls modelled are those that can carry what the controller sent:
    the bootstrap and exec wrappers' ``ConvertFrom-Json``, the exec wrapper's ``ConvertTo-SecureString`` of the
    become action's secure parameters, module_wrapper's ``Set-Variable`` of ``complex_args``, win_powershell's
    ``ConvertTo-SecureString`` of each sensitive parameter, the runner's ``Add-Type``, and ``Out-Default`` of the
    output. What a stock module or a payload calls inside is not modelled; the payloads are held to it by the
    static taint check of ``tests/pslint`` instead. An event is one ETW event, at most 64 KB: a longer one is not
    written (EventWrite fails and PowerShell ignores it). The model keeps one of up to 32,768 characters, the
    most 64 KB of UTF-16 holds, so it never drops an event Windows would write.
``ansible``
    The Application event log, source Ansible: for a module built on Ansible.Basic, "Invoked with" and its
    arguments, a ``no_log`` option's value written as ``VALUE_SPECIFIED_IN_NO_LOG_PARAMETER`` (and as
    ``********`` inside a longer text); nothing when the run is ``_ansible_no_log``.
``transcript``
    PowerShell transcription: the output, as the module wrote it, ``invocation`` included.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pathlib
import re

from . import manifest
from .transport import loader_command_text, transport_text

LOGS = ("script_block", "module", "ansible", "transcript")
LOG_TITLES = {
    "script_block": "Script Block Logging (event 4104)",
    "module": "Module Logging (event 4103)",
    "ansible": "the Ansible event log",
    "transcript": "transcription",
}
EVENT_CHARACTERS = 32_768
NO_LOG_MARK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
# The become password the exec wrapper converts is ansible-core's doing, not this collection's: the scan names it.
EXEC_WRAPPER_BECOME = "ansible-core exec_wrapper.ps1, the become action's secure parameters"

_REPO = pathlib.Path(__file__).resolve().parents[3]
_PAYLOAD_DIR = _REPO / "plugins" / "plugin_utils" / "_powershell"
_INCLUDE = re.compile(r"^# pkiops-include: (_[a-z0-9_]+\.ps1)[ \t]*\r?$", re.MULTILINE)


def logs_path(state_path: str) -> pathlib.Path:
    return pathlib.Path(f"{state_path}.windows-logs.jsonl")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def repository_scripts() -> dict[str, str]:
    """sha256 -> name of every script of this repository that may reach a host: each payload as its file and as
    it travels (fragments inlined), the loader and the runner."""
    def inline(match: re.Match) -> str:
        return (_PAYLOAD_DIR / match.group(1)).read_text(encoding="utf-8").rstrip("\n")

    known = {}
    for path in _PAYLOAD_DIR.glob("[!_]*.ps1"):
        source = path.read_text(encoding="utf-8")
        known[sha256(source)] = path.name
        known[sha256(_INCLUDE.sub(inline, source))] = path.name
    for name in ("loader.ps1", "runner.ps1"):
        known[sha256(transport_text(name))] = f"transport/{name}"
    known[sha256(loader_command_text())] = "transport/loader.ps1 as its command line"
    return known


def script_block(name: str, text: str) -> dict:
    """A 4104 record: a repository script by its digest, anything else whole."""
    digest = sha256(text)
    known = repository_scripts().get(digest)
    if known:
        return {"log": "script_block", "name": known, "characters": len(text), "sha256": digest}
    return {"log": "script_block", "name": name, "characters": len(text), "text": text}


def known_file(name: str) -> dict:
    """A 4104 record of a file ansible-core or an installed collection ships, which holds nothing from the run."""
    return {"log": "script_block", "name": name, "file": True}


def binding(command: str, parameters: dict, source: str) -> dict | None:
    """A 4103 record, or None when the event would be too large for ETW to write."""
    text = "".join(f'ParameterBinding({command}): name="{name}"; value="{value}"\n' for name, value in parameters.items())
    if len(text) > EVENT_CHARACTERS:
        return None
    return {"log": "module", "command": command, "parameters": dict(parameters), "source": source}


def _masked(value, no_log_values: list[str]):
    """Ansible.Basic's RemoveNoLogValues: a value equal to a no_log value is marked, one containing it is starred."""
    if isinstance(value, dict):
        return {key: _masked(item, no_log_values) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, no_log_values) for item in value]
    if isinstance(value, str):
        if value in no_log_values:
            return NO_LOG_MARK
        for secret in sorted(no_log_values, key=len, reverse=True):
            value = value.replace(secret, "********")
    return value


def _format_log_data(value, indent: int) -> str:
    """Ansible.Basic's FormatLogData: YAML-like lines, two more spaces per level."""
    if value is None:
        return "$null"
    if isinstance(value, list):
        return "".join(f"\r\n{' ' * indent}- {_format_log_data(item, indent + 2)}" for item in value)
    if isinstance(value, dict):
        parts = [f"{key}: {_format_log_data(item, indent + 2)}" for key, item in value.items()]
        return f"\r\n{' ' * indent}".join(parts)
    if isinstance(value, bool):
        return str(value)
    return str(value)


def uses_ansible_basic(invocation: manifest.ModuleInvocation) -> bool:
    return any("Ansible.Basic" in utility for utility in invocation.utilities) or \
        "-CSharpUtil Ansible.Basic" in invocation.script


def _inner_scripts(parameters: dict) -> list[tuple[str, str]]:
    """The scripts host_snapshot.ps1 compiles with [scriptblock]::Create: its -Scripts, decompressed."""
    # pylint: disable-next=import-outside-toplevel
    from .transport import TransportError, _decompress

    scripts = []
    for name, encoded in ((parameters or {}).get("Scripts") or {}).items():
        try:
            scripts.append((f"host_snapshot -Scripts {name}", _decompress(str(encoded), "script")))
        except TransportError:
            continue
    return scripts


def exec_wrapper_run(invocation: manifest.ModuleInvocation, output: dict, no_log_values: list[str]) -> list[dict]:
    """The records of one module run through ansible-core's exec wrapper; ``output`` is the module's result."""
    records = [known_file(name) for name in ("bootstrap_wrapper.ps1", "exec_wrapper.ps1", *invocation.manifest_scripts)]
    args = invocation.public_args()
    parameters = args.get("parameters") if isinstance(args.get("parameters"), dict) else {}
    if invocation.name == "ansible.windows.win_powershell" and isinstance(args.get("script"), str):
        records.append(script_block("win_powershell -script", args["script"]))
        records += [script_block(name, text) for name, text in _inner_scripts(parameters)]

    ansible_basic = uses_ansible_basic(invocation)
    output_text = json.dumps(dict(output, invocation={"module_args": _masked(args, no_log_values)})
                             if ansible_basic else output)
    bindings = [
        binding("ConvertFrom-Json", {"InputObject": "<the bootstrap manifest: exec_wrapper.ps1 and its parameters>"},
                "ansible-core bootstrap_wrapper.ps1"),
    ]
    if invocation.exec_manifest_characters <= EVENT_CHARACTERS:
        # Only a manifest this small could be written whole, and it would hold every module option as sent.
        bindings.append(binding("ConvertFrom-Json", {"InputObject": json.dumps(invocation.args)},
                                "ansible-core exec_wrapper.ps1, the exec manifest"))
    bindings += [binding("ConvertTo-SecureString", {"String": value, "AsPlainText": "True", "Force": "True"},
                         EXEC_WRAPPER_BECOME) for value in invocation.become_secure_values]
    bindings.append(binding("Set-Variable", {"Name": "complex_args", "Value": "System.Collections.Hashtable",
                                             "Scope": "Global"}, "ansible-core module_wrapper.ps1"))
    if invocation.name == "ansible.windows.win_powershell":
        for parameter in args.get("sensitive_parameters") or []:
            if not isinstance(parameter, dict):
                continue
            for key in ("password", "value"):
                if isinstance(parameter.get(key), str):
                    bindings.append(binding("ConvertTo-SecureString",
                                            {"String": parameter[key], "AsPlainText": "True", "Force": "True"},
                                            "ansible.windows win_powershell.ps1, sensitive_parameters"))
    bindings.append(binding("Out-Default", {"InputObject": output_text}, "the module's output"))
    records += [record for record in bindings if record is not None]

    if ansible_basic and not invocation.args.get("_ansible_no_log"):
        message = f"{invocation.name.rsplit('.', 1)[-1]} - Invoked with:\r\n  " \
                  f"{_format_log_data(_masked(args, no_log_values), 2)}"
        records.append({"log": "ansible", "text": message})
    records.append({"log": "transcript", "text": output_text})
    return records


def runner_run(loader_script: str, run_request, output_text: str) -> list[dict]:
    """The records of one payload run through the collection's loader and runner."""
    records = [
        script_block("the command line (-EncodedCommand)", loader_script),
        script_block("the loader's first input line", transport_text("runner.ps1")),
        script_block("the runner's payload", run_request.script),
    ]
    records += [script_block(name, text) for name, text in _inner_scripts(run_request.parameters)]
    bindings = [
        binding("Add-Type", {"AssemblyName": "System.Web.Extensions, Version=4.0.0.0, Culture=neutral, "
                                             "PublicKeyToken=31bf3856ad364e35"}, "transport/runner.ps1"),
        binding("Out-Default", {"InputObject": output_text}, "the runner's output"),
    ]
    records += [record for record in bindings if record is not None]
    records.append({"log": "transcript", "text": output_text})
    return records


def append(state_path: str, round_trip: int, records: list[dict]) -> None:
    with open(logs_path(state_path), "a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps({"n": round_trip, **record}, sort_keys=True) + "\n")


def read(state_path) -> list[dict]:
    path = logs_path(str(state_path))
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def texts_by_log(records: list[dict]) -> dict[str, str]:
    """Each log's text as the secrets scan reads it: every value of every record, one a line."""
    texts = {log: [] for log in LOGS}
    for record in records:
        log = record.get("log")
        if log not in texts:
            continue
        if log == "module":
            texts[log].append(f"CommandInvocation({record['command']}) [{record.get('source', '')}]")
            texts[log] += [f"ParameterBinding({record['command']}): name=\"{name}\"; value=\"{value}\""
                           for name, value in (record.get("parameters") or {}).items()]
        else:
            texts[log].append(str(record.get("text", record.get("name", ""))))
    return {log: "\n".join(lines) for log, lines in texts.items()}
