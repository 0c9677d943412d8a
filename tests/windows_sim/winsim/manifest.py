"""Decode what ansible-core sends to a Windows host over a pipelining connection.

The format is private to ansible-core. Each ansible-core release line this
project tests is listed in SUPPORTED_CORE; anything else, or any input that does
not look exactly as expected, raises ManifestError instead of guessing.

ansible-core 2.19 sends, as the stdin of ``bootstrap_wrapper.ps1``::

    {bootstrap manifest: exec_wrapper.ps1 and its params}
    \\n\\0\\0\\0\\0\\n
    {exec manifest: scripts (base64, by name) and actions}

The last action is ``module_wrapper.ps1``. Its ``Script`` parameter names the
module file, for example
``ansible_collections.ansible.windows.plugins.modules.win_powershell.ps1``, and
its ``Variables`` carry ``complex_args``: the module arguments.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re

SUPPORTED_CORE = ("2.19",)
SEPARATOR = b"\n\0\0\0\0\n"
_COLLECTION_MODULE = re.compile(r"^ansible_collections\.(\w+)\.(\w+)\.plugins\.modules\.(\w+)\.ps1$")
_BUILTIN_MODULE = re.compile(r"^ansible\.modules\.(\w+)\.ps1$")


class ManifestError(Exception):
    """The input is not an exec-wrapper manifest this simulator understands."""


@dataclasses.dataclass(frozen=True)
class ModuleInvocation:
    """One module run, as the host would see it."""

    name: str  # fully qualified, for example ansible.windows.win_powershell
    args: dict
    script: str  # the module's own PowerShell source
    become: bool
    # What else the host compiles or reads for this run, for the model of Windows' logs: every script of the
    # exec manifest by name, the exec manifest's length as one line of JSON, and the values the become action
    # receives as secure parameters (its password).
    manifest_scripts: tuple = ()
    exec_manifest_characters: int = 0
    become_secure_values: tuple = ()
    utilities: tuple = ()  # the PowerShell and C# module utilities the module requires

    @property
    def check_mode(self) -> bool:
        return bool(self.args.get("_ansible_check_mode", False))

    @property
    def diff_mode(self) -> bool:
        return bool(self.args.get("_ansible_diff", False))

    def public_args(self) -> dict:
        """The module options, without ansible-core's internal ``_ansible_*`` keys."""
        return {k: v for k, v in self.args.items() if not k.startswith("_ansible_")}


def check_core_version(version: str) -> None:
    if not any(version == v or version.startswith(v + ".") for v in SUPPORTED_CORE):
        raise ManifestError(
            f"windows_sim decodes the exec-wrapper format of ansible-core {', '.join(SUPPORTED_CORE)} only; "
            f"this is ansible-core {version}. Extend winsim/manifest.py for it before trusting any result."
        )


def _module_name(script_name: str) -> str:
    match = _COLLECTION_MODULE.match(script_name)
    if match:
        return ".".join(match.groups())
    match = _BUILTIN_MODULE.match(script_name)
    if match:
        return "ansible.builtin." + match.group(1)
    raise ManifestError(f"unrecognised module script name {script_name!r}")


def decode(in_data: bytes) -> ModuleInvocation:
    """Return the module invocation carried by one pipelined exec_command."""
    if in_data.count(SEPARATOR) != 1:
        raise ManifestError("expected exactly one bootstrap/exec manifest separator in the input")
    bootstrap_raw, exec_raw = in_data.split(SEPARATOR)
    try:
        bootstrap = json.loads(bootstrap_raw)
        manifest = json.loads(exec_raw)
    except ValueError as error:
        raise ManifestError(f"manifest is not JSON: {error}") from error

    if bootstrap.get("name") != "exec_wrapper" or "script" not in bootstrap:
        raise ManifestError("bootstrap manifest does not run exec_wrapper")
    if set(manifest) != {"scripts", "actions", "signed_hashlist"}:
        raise ManifestError(f"unexpected exec manifest keys {sorted(manifest)}")

    actions = manifest["actions"]
    if not actions or actions[-1].get("name") != "module_wrapper.ps1":
        raise ManifestError("the last action is not module_wrapper.ps1")
    known_actions = {"module_wrapper.ps1", "become_wrapper.ps1"}
    unknown = [a.get("name") for a in actions if a.get("name") not in known_actions]
    if unknown:
        raise ManifestError(f"unsupported exec-wrapper actions {unknown} (async and coverage are not simulated)")

    params = actions[-1]["params"]
    script_name = params.get("Script")
    if not params.get("ForModule") or not script_name:
        raise ManifestError("module_wrapper.ps1 is not running a module")
    variables = {v["Name"]: v["Value"] for v in params.get("Variables", [])}
    if "complex_args" not in variables:
        raise ManifestError("module_wrapper.ps1 carries no complex_args")
    script_info = manifest["scripts"].get(script_name)
    if script_info is None:
        raise ManifestError(f"module script {script_name!r} is not in the manifest")

    return ModuleInvocation(
        name=_module_name(script_name),
        args=variables["complex_args"],
        script=base64.b64decode(script_info["script"]).decode("utf-8-sig"),
        become=any(a["name"] == "become_wrapper.ps1" for a in actions),
        manifest_scripts=tuple(sorted(manifest["scripts"])),
        exec_manifest_characters=len(exec_raw.decode("utf-8", errors="replace")),
        become_secure_values=tuple(str(value) for action in actions
                                   for value in (action.get("secure_params") or {}).values() if value),
        utilities=tuple(params.get("PowerShellModules") or ()) + tuple(params.get("CSharpModules") or ()),
    )
