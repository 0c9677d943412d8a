"""Stand-in for ansible.windows.win_regedit, which only the bench's stock-module baselines use.

Keys below ``HKLM:\\`` in ``state["registry"]`` (see ../certificates.py); other hives are not simulated.
As win_regedit.ps1: a missing key is created with its parents; a value whose kind or data differs is
written; ``absent`` removes the value, or the key when ``name`` is not given; check mode reports only.
"""

from __future__ import annotations

from ..certificates import create_registry_key, registry_key
from ..errors import HostError
from ..registry import stock_module

_KINDS = {"none": "None", "binary": "Binary", "dword": "DWord", "expandstring": "ExpandString",
          "multistring": "MultiString", "string": "String", "qword": "QWord"}
_HKLM = ("HKLM:\\", "HKEY_LOCAL_MACHINE\\", "REGISTRY::HKEY_LOCAL_MACHINE\\")


def _below_hklm(path: str) -> str:
    for prefix in _HKLM:
        if path.upper().startswith(prefix.upper()):
            return path[len(prefix):].strip("\\")
    raise HostError(f"windows_sim models win_regedit below HKLM:\\ only, not '{path}'")


def _data(kind: str, data):
    if kind in ("DWord", "QWord"):
        return int(data or 0)
    if kind == "MultiString":
        return [str(v) for v in (data if isinstance(data, list) else [data] if data is not None else [])]
    return "" if data is None else str(data)


@stock_module("ansible.windows.win_regedit")
def win_regedit(host, params: dict, check_mode: bool, _diff_mode: bool) -> dict:
    if params.get("hive"):
        raise HostError("windows_sim does not load registry hives from files")
    path = _below_hklm(params["path"])
    name = params.get("name")
    key = registry_key(host.state, path)
    value_name = next((n for n in key or {} if name is not None and n.lower() == name.lower()), None)
    result = {"changed": False, "data_changed": False, "data_type_changed": False}
    if params["state"] == "absent":
        if key is not None and (name is None or value_name is not None):
            result["changed"] = True
            if not check_mode:
                if name is None:
                    del host.state["registry"][next(k for k in host.state["registry"] if k.lower() == path.lower())]
                else:
                    del key[value_name]
        return result
    kind = _KINDS[params["type"]]
    wanted = _data(kind, params.get("data"))
    if key is None:
        result["changed"] = True
    if name is not None:
        current = (key or {}).get(value_name) if value_name else None
        if current is None or current["kind"] != kind or current["data"] != wanted:
            result.update(changed=True, data_changed=current is not None and current["data"] != wanted,
                          data_type_changed=current is not None and current["kind"] != kind)
    if result["changed"] and not check_mode:
        key = create_registry_key(host.state, path)
        if name is not None:
            for existing in [n for n in key if n.lower() == name.lower()]:
                del key[existing]
            key[name] = {"kind": kind, "data": wanted}
    return result
