"""Stand-in for ansible.windows.win_regedit, which only the bench's stock-module baselines use.

Keys below ``HKLM:\\`` in ``state["registry"]`` (see winsim/certificates.py); the other hives and ``hive`` files are
not simulated. As win_regedit.ps1 of ansible.windows 3.3.0 and its integration tests have it:

- ``path`` must match ``^HK(CC|CR|CU|LM|U):\\``; anything else (``HKEY_LOCAL_MACHINE\\...``, ``ABCD:\\efg``) fails
  with ``path: <path> is not a valid powershell path, see module documentation for examples.``;
- ``name`` omitted or empty is the key's (Default) value, kept here under the value name ``""``; it can only be
  a string, so any other ``type`` is changed to ``string`` with the module's warning. ``(Default)`` as a name is
  an ordinary value of that name;
- data is converted as the module converts it: ``binary`` and ``none`` from a ``hex:`` string, a number up to
  255 or a list of bytes; ``dword`` and ``qword`` from a whole number (a decimal with a remainder fails, as does
  one larger than 0xffffffff or 0xffffffffffffffff) or a decimal or ``0x`` string; ``multistring`` from a list or
  a single value; ``string`` and ``expandstring`` as text. Without ``data`` a value is created empty (0 for a
  number), except the (Default) value, which is then left alone;
- a DWORD and a QWORD are kept as the unsigned number ``reg query`` shows; the module writes the same bits as a
  signed Int32 or Int64, so ``-1`` and ``0xffffffff`` are the same DWORD;
- an existing value is compared as PowerShell compares it: a string case-sensitively (``-cne``, the other side
  converted to a string), a list element by element without regard to case (``Compare-Object``); a changed type
  is rewritten whether or not the data differ;
- ``state: absent`` removes the value, or, with ``delete_key`` (the default) and no ``name``, the key with all
  its subkeys; with ``delete_key: false`` and no ``name`` it removes the (Default) value;
- ``data_changed`` and ``data_type_changed`` are always returned, and the diff has the module's layout; check
  mode reports without changing.
"""

from __future__ import annotations

import re

from winsim.certificates import create_registry_key, registry_key
from winsim.errors import HostError
from winsim.models import stock_module

_KINDS = {"none": "None", "binary": "Binary", "dword": "DWord", "expandstring": "ExpandString",
          "multistring": "MultiString", "string": "String", "qword": "QWord"}
_POWERSHELL_PATH = re.compile(r"^HK(CC|CR|CU|LM|U):\\", re.IGNORECASE)
_UINT32_MAX, _UINT64_MAX = 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF
_INT32_MIN, _INT64_MIN = -(1 << 31), -(1 << 63)
_DEFAULT_TYPE_WARNING = ("the data type when name is not specified can only be 'string', the type has automatically "
                         "been converted")


def _unhandled(message: str, type_name: str = "System.Management.Automation.RuntimeException") -> HostError:
    return HostError(f"Unhandled exception while executing module: {message}", type_name)


def _key_below_hklm(path: str) -> str:
    if not _POWERSHELL_PATH.match(path):
        raise HostError(f"path: {path} is not a valid powershell path, see module documentation for examples.")
    if not path.upper().startswith("HKLM:"):
        raise HostError(f"windows_sim models win_regedit below HKLM:\\ only, not '{path}'")
    # Split-Path -NoQualifier, then the leading backslash dropped; RegistryKey collapses repeated backslashes and
    # ignores a trailing one.
    below = "\\".join(part for part in path[len("HKLM:\\"):].split("\\") if part)
    if not below:
        raise HostError("windows_sim does not model values at the root of HKLM:\\")
    return below


def _uint64_from_text(text: str) -> int:
    """[UInt64]$text: decimal or 0x hexadecimal digits, as PowerShell converts a string to a number."""
    stripped = text.strip()
    try:
        if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", stripped):
            value = int(stripped, 16)
        elif re.fullmatch(r"[+-]?\d+", stripped):
            value = int(stripped)
        else:
            raise ValueError
    except ValueError:
        raise _unhandled(f'Cannot convert value "{text}" to type "System.UInt64". Error: "Input string was not in a '
                         'correct format."', "System.Management.Automation.PSInvalidCastException") from None
    if not 0 <= value <= _UINT64_MAX:
        raise _unhandled(f'Cannot convert value "{text}" to type "System.UInt64". Error: "Value was either too large '
                         'or too small for a UInt64."', "System.Management.Automation.PSInvalidCastException")
    return value


def _number(kind: str, data) -> int:
    """The dword or qword the module writes for data, as the unsigned number the registry holds."""
    if data is None:
        data = 0
    too_large = False
    if isinstance(data, str):
        data = _uint64_from_text(data)
    elif isinstance(data, float):
        # JSON numbers with a fraction reach PowerShell as [Decimal].
        if data % 1 != 0:
            raise HostError(f"data '{data}' cannot be a decimal or float value with a remainder when type is dword or qword")
        too_large = data > _UINT64_MAX
        data = int(data)
    elif isinstance(data, bool):
        data = int(data)
    elif isinstance(data, int):
        too_large = data > _UINT64_MAX  # beyond Int64, JSON gives PowerShell a [Decimal]
    else:
        raise _unhandled(f'Cannot convert the "System.Object[]" value of type "System.Object[]" to type '
                         f'"System.{"Int32" if kind == "DWord" else "Int64"}".')
    maximum, minimum, bits = (_UINT32_MAX, _INT32_MIN, 32) if kind == "DWord" else (_UINT64_MAX, _INT64_MIN, 64)
    if too_large or data > maximum:
        raise HostError(f"data cannot be larger than 0x{maximum:x} when type is {kind.lower()}")
    if data < minimum:
        name = "Int32" if kind == "DWord" else "Int64"
        raise _unhandled(f'Cannot convert value "{data}" to type "System.{name}". Error: "Value was either too large or '
                         f'too small for an {name}."', "System.Management.Automation.PSInvalidCastException")
    return data & ((1 << bits) - 1)


def _bytes_from_hex(text: str) -> list[int]:
    """Convert-RegExportHexStringToByteArray of win_regedit.ps1."""
    text = re.sub(r"^hex:", "", text.lower())
    text = re.sub(r"[^a-f0-9\\,x\-:]", "", text).replace(",", ":")
    if not text:
        return []
    if len(text) == 1:
        parts = [text]
    elif len(text) % 2 == 0 and ":" not in text:
        parts = [part for part in re.split(r"([a-f0-9]{2})", text) if part]
    elif ":" in text:
        parts = re.split(r":+", text)
    else:
        return []
    result = []
    for part in parts:
        # [Convert]::ToByte($part, 16) accepts an optional 0x prefix.
        digits = part[2:] if part.startswith("0x") else part
        if not digits or not re.fullmatch(r"[0-9a-f]+", digits) or int(digits, 16) > 0xFF:
            raise _unhandled('Exception calling "ToByte" with "2" argument(s): "Could not find any recognizable '
                             'digits."', "System.Management.Automation.MethodInvocationException")
        result.append(int(digits, 16))
    return result


def _byte(value) -> int:
    """[byte]$value for one element of a list."""
    number = value
    if isinstance(value, str):
        number = _uint64_from_text(value) if value.strip() else None
    elif isinstance(value, bool):
        number = int(value)
    if not isinstance(number, int) or not 0 <= number <= 0xFF:
        raise _unhandled(f'Cannot convert value "{value}" to type "System.Byte". Error: "Value was either too large or '
                         f'too small for an unsigned byte."', "System.Management.Automation.PSInvalidCastException")
    return number


def _text(value) -> str:
    """How .NET writes a value as a registry string: Object.ToString() in the invariant culture."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return "System.Object[]"
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    return str(value)


def _data(kind: str, data, name: str | None):
    """The value win_regedit.ps1 writes for data, or None when it writes none (the (Default) value without data)."""
    if kind in ("Binary", "None"):
        if data is None:
            data = ""
        if isinstance(data, str):
            return _bytes_from_hex(data)
        if isinstance(data, list):
            return [_byte(item) for item in data]
        if isinstance(data, int) and not isinstance(data, bool) and abs(data) < (1 << 31):
            if data > 255:
                raise HostError(f"cannot convert binary data '{data}' to byte array, please specify this value as a yaml "
                                "byte array or a comma separated hex value string")
            return [_byte(data)]
        raise HostError(f"failed to create registry property '{name or ''}': The type of the value object did not match "
                        "the specified RegistryValueKind or the object could not be properly converted.")
    if kind in ("DWord", "QWord"):
        return _number(kind, data)
    if kind == "MultiString":
        if data is None:
            return []
        items = data if isinstance(data, list) else [data]
        if any(item is None for item in items):
            raise _unhandled("You cannot call a method on a null-valued expression.")
        return [_text(item) for item in items]
    if data is None:
        return "" if name else None
    return _text(data)


def _dotnet_view(kind: str, data):
    """What RegistryKey.GetValue returns: DWORD and QWORD as signed Int32 and Int64."""
    if kind == "DWord":
        return data - (1 << 32) if data >= 1 << 31 else data
    if kind == "QWord":
        return data - (1 << 64) if data >= 1 << 63 else data
    return data


def _ps_string(value) -> str:
    if isinstance(value, list):
        return " ".join(_ps_string(item) for item in value)  # an array as a string joins with $OFS, a space
    return _text(value)


def _differs(existing_kind: str, existing, new_kind: str, new) -> bool:
    """Compare-RegistryProperty: Compare-Object for a list, -cne (converting the right side) for anything else."""
    current, wanted = _dotnet_view(existing_kind, existing), _dotnet_view(new_kind, new)
    if isinstance(current, list):
        wanted = wanted if isinstance(wanted, list) else [wanted]
        return len(current) != len(wanted) or any(
            _ps_string(a).casefold() != _ps_string(b).casefold() for a, b in zip(current, wanted))
    if isinstance(current, int):
        try:
            other = wanted if isinstance(wanted, int) else int(_ps_string(wanted).strip(), 0)
        except ValueError:
            return True
        return current != other
    return current != _ps_string(wanted)


def _diff_value(kind: str, data) -> dict:
    """Get-DiffValue: the kind's name, bytes as 0x.. strings, numbers as fixed-width hexadecimal."""
    if kind in ("Binary", "None"):
        return {"type": kind, "value": [f"0x{byte:02x}" for byte in data]}
    if kind == "DWord":
        return {"type": kind, "value": f"0x{data:08x}"}
    if kind == "QWord":
        return {"type": kind, "value": f"0x{data:016x}"}
    return {"type": kind, "value": data}


def _find_value(key: dict | None, name: str) -> str | None:
    return next((existing for existing in key or {} if existing.lower() == name.lower()), None)


def _absent(host, params: dict, below: str, name: str, check_mode: bool, result: dict) -> None:
    state, path = host.state, params["path"]
    key = registry_key(state, below)
    if key is None:
        return
    if params["delete_key"] and not name:
        # RegistryKey.DeleteSubKeyTree: the key and everything below it.
        if not check_mode:
            folded = below.lower()
            for stored in [k for k in state["registry"] if k.lower() == folded or k.lower().startswith(folded + "\\")]:
                del state["registry"][stored]
        result["changed"] = True
        result["diff"] = {"before": {path: {}}, "after": {}}
        return
    found = _find_value(key, name)
    if found is None:
        return
    value = key[found]
    if not check_mode:
        del key[found]
    result["changed"] = True
    result["diff"] = {"before": {path: {name: _diff_value(value["kind"], value["data"])}}, "after": {path: {}}}


def _present(host, params: dict, below: str, name: str, kind: str, check_mode: bool, result: dict) -> None:
    state, path = host.state, params["path"]
    data = _data(kind, params.get("data"), name)
    key = registry_key(state, below)
    if key is None:
        if not check_mode:
            try:
                key = create_registry_key(state, below)
            except HostError as error:
                raise HostError(f"failed to create registry key at {path}: {error.message}", error.type_name) from error
        result["changed"] = True
        result["diff"] = {"before": {}, "after": {path: {}}}
    else:
        result["diff"] = {"before": {path: {}}, "after": {path: {}}}
    if key is None or data is None:
        return
    found = _find_value(key, name)
    new = {"kind": kind, "data": data}
    if found is None:
        if not check_mode:
            key[name] = new
        result["changed"] = True
        result["diff"]["after"][path][name] = _diff_value(kind, data)
        return
    current = key[found]
    change = False
    if current["kind"] != kind:
        change = result["data_type_changed"] = True
        result["data_changed"] = _differs(current["kind"], current["data"], kind, data)
    elif _differs(current["kind"], current["data"], kind, data):
        change = result["data_changed"] = True
    result["diff"]["before"][path][name] = _diff_value(current["kind"], current["data"])
    result["diff"]["after"][path][name] = _diff_value(kind, data) if change else result["diff"]["before"][path][name]
    if change:
        result["changed"] = True
        if not check_mode:
            # RegistryKey.SetValue keeps the name's existing spelling.
            key[found] = new


@stock_module("ansible.windows.win_regedit")
def win_regedit(host, params: dict, check_mode: bool, diff_mode: bool) -> dict:
    result: dict = {"changed": False, "data_changed": False, "data_type_changed": False}
    name = params.get("name")
    kind = _KINDS[params["type"]]
    if name is None and kind != "String":
        result["warnings"] = [_DEFAULT_TYPE_WARNING]
        kind = "String"
    below = _key_below_hklm(params["path"])
    if params.get("hive"):
        raise HostError("windows_sim does not load registry hives from files")
    value_name = name or ""
    if params["state"] == "absent":
        _absent(host, params, below, value_name, check_mode, result)
    else:
        _present(host, params, below, value_name, kind, check_mode, result)
    diff = result.pop("diff", {"before": "", "after": ""})
    if diff_mode:
        result["diff"] = diff
    return result
