"""Stand-in for ansible.windows.win_powershell that runs a Python model of our payloads.

It keeps the module's observable contract:
- in check mode a script without ``[CmdletBinding(SupportsShouldProcess)]`` is
  skipped and reported as changed; one with it runs with ``-WhatIf``;
- parameters bind by name, case-insensitively, and a name the script does not
  declare fails as PowerShell fails;
- ``sensitive_parameters`` arrive as SecureString or PSCredential, so the
  parameter they bind to must be typed for that;
- ``$Ansible.Result`` and ``$Ansible.Diff`` are flattened to ``depth`` as
  win_powershell's Convert-OutputObject does;
- a terminating error sets ``failed`` and lands in ``error`` with its
  exception's type and message.
The script's first line, ``# pkiops-payload: <tag>``, selects the model.
"""

from __future__ import annotations

import dataclasses
import typing as t

from . import powershell
from .errors import HostError, ModuleArgumentError
from .models import PAYLOAD_MODELS, StockModule
from .stock import validate

_SECURE_TYPES = {"securestring", "system.security.securestring", "pscredential",
                 "system.management.automation.pscredential"}


class _InjectedFault(HostError):
    pass


@dataclasses.dataclass(frozen=True)
class Credential:
    """A PSCredential as the script receives it."""

    username: str
    password: str


@dataclasses.dataclass
class PayloadCall:
    """One run of a payload script: its bound parameters and the $Ansible variable it may set."""

    host: t.Any
    parameters: dict[str, t.Any]  # by the name the script declares
    check_mode: bool
    result: dict = dataclasses.field(default_factory=dict)
    diff: dict = dataclasses.field(default_factory=dict)
    changed: bool = True  # win_powershell's default until the script says otherwise
    warnings: list = dataclasses.field(default_factory=list)
    fault: dict | None = None  # an injected fault with after_operations >= 1
    operations_done: int = 0
    become: bool = False  # the module ran under become (runas), with a logon of its own

    @property
    def mode(self) -> str | None:
        return self.parameters.get("Mode")

    def operation_done(self) -> None:
        """Models call this after each change so an injected fault can land part way through an apply."""
        self.operations_done += 1
        if self.fault and self.operations_done >= self.fault["after_operations"]:
            raise _InjectedFault(self.fault.get("error", "simulated failure"),
                                 self.fault.get("type", "System.ComponentModel.Win32Exception"))


def to_output(value, depth: int):
    """Convert-OutputObject: containers deeper than ``depth`` become their .NET string form."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Credential):
        return {"UserName": value.username, "Password": "System.Security.SecureString"}
    if depth < 0:
        if isinstance(value, dict):
            return "System.Collections.Hashtable"
        return " ".join("System.Collections.Hashtable" if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [to_output(v, depth - 1) for v in value]
    if isinstance(value, dict):
        return {str(k): to_output(v, depth - 1) for k, v in value.items()}
    raise TypeError(f"models may only return JSON-like values, not {type(value).__name__}")


def _error_record(message: str, type_name: str) -> dict:
    return {
        "output": message,
        "error_details": None,
        "exception": {"message": message, "type": type_name, "help_link": None, "source": None,
                      "hresult": -2146233087, "inner_exception": None},
        "target_object": None,
        "category_info": {"category": "NotSpecified", "category_id": 0, "activity": "", "reason": type_name.rsplit(".", 1)[-1],
                          "target_name": "", "target_type": ""},
        "fully_qualified_error_id": type_name.rsplit(".", 1)[-1],
        "script_stack_trace": "at <ScriptBlock>, <No file>",
        "pipeline_iteration_info": [],
    }


def failure_result(message: str, type_name: str, changed: bool = True, result=None) -> dict:
    """A script that threw: win_powershell still reports whatever $Ansible.Changed and $Ansible.Result held."""
    return result_shape(changed=changed, failed=True, result=result, errors=[_error_record(message, type_name)])


def result_shape(*, changed: bool, failed: bool = False, result=None, errors=(), warnings=(), diff=None, msg=None) -> dict:
    """The keys win_powershell always returns, and the ones it returns only sometimes."""
    shaped = {
        "changed": changed,
        "result": {} if result is None else result,
        "host_out": "",
        "host_err": "",
        "output": [],
        "error": list(errors),
        "warning": list(warnings),
        "verbose": [],
        "debug": [],
        "information": [],
    }
    if failed:
        shaped["failed"] = True
    if diff:
        shaped["diff"] = diff
    if msg:
        shaped["msg"] = msg
    return shaped


def _bind(script: str, args: dict, runner: bool = False) -> dict:
    """Bind parameters and sensitive_parameters to the script's param() block as PowerShell would."""
    declared = powershell.script_parameters(script)
    bound: dict[str, t.Any] = {}
    supplied = list((args.get("parameters") or {}).items())
    for sensitive in args.get("sensitive_parameters") or []:
        secret = sensitive.get("password") if sensitive.get("username") is not None else sensitive.get("value")
        if secret and len(secret) > 65536 and runner:
            # The runner builds each SecureString with NetworkCredential, which appends the text character by character.
            raise HostError('Exception calling ".ctor" with "2" argument(s): "Length of the secure string cannot exceed '
                            '65536 characters.\r\nParameter name: length"',
                            "System.Management.Automation.MethodInvocationException")
        if secret and len(secret) > 65536:
            # win_powershell converts each value with ConvertTo-SecureString, and a SecureString holds 65,536 characters.
            raise HostError("Cannot process argument because the value of argument \"input\" exceeds the maximum length of "
                            "65536 characters for a SecureString.", "System.ArgumentOutOfRangeException")
        if sensitive.get("username") is not None:
            value = Credential(sensitive["username"], sensitive.get("password") or "")
        else:
            value = sensitive.get("value") or ""
        name = sensitive["name"]
        parameter = declared.get(name.lower())
        if parameter and parameter.type_name.lower() not in _SECURE_TYPES:
            raise HostError(
                f"Cannot bind sensitive parameter '{parameter.name}': it arrives as a SecureString or "
                f"PSCredential but the script types it as [{parameter.type_name or 'object'}], which would "
                "silently turn it into the text 'System.Security.SecureString'.",
                "System.Management.Automation.ParameterBindingException",
            )
        supplied.append((name, value))
    sensitive_names = {s["name"].lower() for s in args.get("sensitive_parameters") or []}
    for name, value in supplied:
        parameter = declared.get(name.lower())
        if parameter is None:
            raise HostError(f"A parameter cannot be found that matches parameter name '{name}'.",
                            "System.Management.Automation.ParameterBindingException")
        if parameter.type_name.lower() in _SECURE_TYPES and name.lower() not in sensitive_names and isinstance(value, str):
            # A plain string does not convert to a SecureString or PSCredential.
            raise HostError(f"Cannot process argument transformation on parameter '{parameter.name}'. Cannot convert the "
                            f"value of type \"System.String\" to type \"{parameter.type_name}\".",
                            "System.Management.Automation.ParameterBindingArgumentTransformationException")
        bound[parameter.name] = value
    missing = [p.name for p in declared.values() if p.mandatory and p.name not in bound]
    if missing:
        raise HostError(
            f"Cannot process command because of one or more missing mandatory parameters: {' '.join(missing)}.",
            "System.Management.Automation.ParameterBindingException",
        )
    return bound


# win_powershell is dispatched here rather than through the stock stand-ins, but
# its arguments are checked against its documented options all the same.
_MODULE = StockModule("ansible.windows.win_powershell", run=None)


def run(host, invocation, fault: dict | None = None) -> dict:
    try:
        args = validate(_MODULE, invocation.public_args())
    except ModuleArgumentError as error:
        return {"failed": True, "changed": False, "msg": str(error)}
    script = args.get("script")
    if not script:
        return {"failed": True, "msg": "windows_sim runs win_powershell only with an inline script"}
    return run_payload(host, script, args, check_mode=invocation.check_mode, diff_mode=invocation.diff_mode,
                       become=invocation.become, fault=fault, depth=args["depth"], runner=False)


def run_payload(host, script: str, args: dict, *, check_mode: bool, diff_mode: bool, become: bool,
                fault: dict | None, depth: int, runner: bool) -> dict:
    """One run of a payload script with win_powershell's parameters and sensitive_parameters in ``args``: what
    win_powershell and the collection's runner (``runner``) share.

    In check mode win_powershell skips a script without ``SupportsShouldProcess`` and reports it changed; the
    runner always binds ``-Confirm:$false`` and ``-WhatIf``, which such a script does not have.
    """
    problems = powershell.syntax_problems(script)
    if problems:
        return failure_result("The script does not parse: " + "; ".join(problems[:5]),
                              "System.Management.Automation.ParseException")
    tag = powershell.payload_tag(script)
    model = PAYLOAD_MODELS.get(tag or "")
    if model is None:
        return {"failed": True, "msg": f"windows_sim has no model for this script (tag {tag!r}); "
                "only scripts that start with '# pkiops-payload: <tag>' and have a model can run"}
    if runner and not powershell.supports_should_process(script):
        # The runner always binds -Confirm:$false and -WhatIf, which only such a script has.
        return failure_result("A parameter cannot be found that matches parameter name 'Confirm'.",
                              "System.Management.Automation.ParameterBindingException")
    if check_mode and not powershell.supports_should_process(script):
        return result_shape(changed=True, msg="skipped, running in check mode")
    try:
        parameters = _bind(script, args, runner)
    except HostError as error:
        return failure_result(error.message, error.type_name)
    if fault and not fault.get("after_operations"):
        # Lands inside the payload before its first change, after it cleared $Ansible.Changed.
        return failure_result(fault.get("error", "simulated failure"),
                              fault.get("type", "System.ComponentModel.Win32Exception"), changed=False)
    call = PayloadCall(host=host, parameters=parameters, check_mode=check_mode, fault=fault, become=become)
    try:
        model(call)
    except HostError as error:
        return failure_result(error.message, error.type_name, changed=call.changed, result=to_output(call.result, depth))
    return result_shape(
        changed=call.changed,
        result=to_output(call.result, depth),
        warnings=call.warnings,
        diff={k: to_output(v, depth) for k, v in call.diff.items()} if diff_mode else None,
    )
