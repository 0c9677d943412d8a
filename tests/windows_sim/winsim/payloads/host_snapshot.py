"""Model of plugins/plugin_utils/_powershell/host_snapshot.ps1: several payloads' probes in one run.

Each read runs the sent script's own model in probe mode, bound as PowerShell
would bind the script's parameters, so a read answers exactly what the payload
answers when it runs on its own. Every script is decoded and compiled before
the first read, as the payload does, so one that does not decode or parse
fails the whole run; a read that fails (no script sent, no model, a binding or
a host error) fails alone, as the payload's try/catch does.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib

from .. import powershell
from ..errors import HostError
from ..models import PAYLOAD_MODELS, payload_model


def _read(call, scripts: dict, read: dict) -> dict:
    # pylint: disable-next=import-outside-toplevel
    from ..win_powershell import PayloadCall, _bind  # the module that dispatches to this one

    module = str(read.get("module"))
    script = scripts.get(module)
    if script is None:
        raise HostError(f"No script was sent for the payload '{module}'.", "System.Management.Automation.RuntimeException")
    tag = powershell.payload_tag(script)
    model = PAYLOAD_MODELS.get(tag or "")
    if model is None or tag != module:
        raise HostError(f"windows_sim has no model for the script sent as '{module}' (tag {tag!r})",
                        "System.Management.Automation.RuntimeException")
    parameters = _bind(script, {"parameters": {**(read.get("parameters") or {}), "Mode": "probe"}})
    probe = PayloadCall(host=call.host, parameters=parameters, check_mode=call.check_mode, become=call.become)
    model(probe)
    return probe.result


def _method_error(method: str, arguments: int, message: str) -> HostError:
    """A .NET method's exception as PowerShell reports it: wrapped in a MethodInvocationException."""
    return HostError(f'Exception calling "{method}" with "{arguments}" argument(s): "{message}"',
                     "System.Management.Automation.MethodInvocationException")


def _decompress(encoded: str) -> str:
    """ConvertFrom-CompressedScript: Convert.FromBase64String, then GZipStream read to the end."""
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise _method_error("FromBase64String", 1, "The input is not a valid Base-64 string as it contains a non-base 64 "
                            "character, more than two padding characters, or an illegal character among the padding "
                            "characters. ") from error
    if data[:2] != b"\x1f\x8b":
        raise _method_error("ReadToEnd", 0, "The magic number in GZip header is not correct. Make sure you are passing "
                            "in a GZip stream.")
    try:
        return gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise _method_error("ReadToEnd", 0, "Found invalid data while decoding.") from error


@payload_model("host_snapshot")
def host_snapshot(call) -> None:
    if call.mode != "probe":
        raise HostError("Cannot validate argument on parameter 'Mode'.",
                        "System.Management.Automation.ParameterBindingValidationException")
    scripts = {}
    for name, encoded in (call.parameters.get("Scripts") or {}).items():
        scripts[name] = _decompress(str(encoded))
        problems = powershell.syntax_problems(scripts[name])
        if problems:
            raise _method_error("Create", 1, "The script does not parse: " + "; ".join(problems[:5]))
    results = []
    for read in call.parameters.get("Reads") or []:
        try:
            results.append({"result": _read(call, scripts, read), "error": None})
        except HostError as error:
            results.append({"result": None, "error": error.message})
    call.changed = False
    call.result = {"reads": results}
