"""The certificate branch of ansible.windows.win_acl, which only the bench's stock-module baselines use.

The simulator's own stand-in (winsim/stock/win_acl.py) models file-system paths; this adds a certificate's
private key, ``Cert:\\LocalMachine\\<store>\\<thumbprint>``, as the module's certificate branch has it: ``rights``
are CertAccessRights (``Read``, ``FullControl``), a rule is present when an explicit ACE of the key has exactly
its SID, type and access mask, and adding merges into an explicit ACE of the same SID and type. Everything else,
check mode included, is the stand-in's.
"""

from __future__ import annotations

from winsim.certificates import find_certificate
from winsim.errors import HostError
from winsim.models import extends_stock_module
from winsim.stock.win_acl import resolve_user

# [Ansible.Windows._CertAclHelper.CertAccessRights], as signed 32-bit masks.
_CERT_ACCESS_RIGHTS = {"read": -2146303863, "fullcontrol": -803274241}


@extends_stock_module("ansible.windows.win_acl")
def win_acl(base, host, params: dict, check_mode: bool, diff_mode: bool) -> dict:
    if not params["path"].upper().startswith("CERT:\\"):
        return base(host, params, check_mode, diff_mode)
    return _certificate_key_acl(host, params, check_mode)


def _certificate_key_acl(host, params: dict, check_mode: bool) -> dict:
    parts = params["path"].split("\\")
    if len(parts) != 4 or parts[1].lower() != "localmachine":
        raise HostError(f"windows_sim models win_acl on Cert:\\LocalMachine\\<store>\\<thumbprint> only, not '{params['path']}'")
    certificate = find_certificate(host.state, parts[2], parts[3])
    if certificate is None:
        raise HostError(f"Cannot find path '{params['path']}' because it does not exist.",
                        "System.Management.Automation.ItemNotFoundException")
    key = certificate.get("private_key")
    if not key or key.get("broken"):
        raise HostError("Keyset does not exist", "System.Security.Cryptography.CryptographicException")
    mask = 0
    for name in params["rights"].split(","):
        value = _CERT_ACCESS_RIGHTS.get(name.strip().lower())
        if value is None:
            raise HostError(f'Cannot convert value "{params["rights"]}" to type "Ansible.Windows._CertAclHelper.CertAccessRights".',
                            "System.Management.Automation.PSInvalidCastException")
        mask |= value & 0xFFFFFFFF
    mask = mask - (1 << 32) if mask & 0x80000000 else mask
    sid = resolve_user(host, params["user"])
    same = [ace for ace in key["acl"] if not ace.get("inherited") and ace["sid"].upper() == sid.upper()
            and ace["type"] == params["type"]]
    match = next((ace for ace in same if ace["rights"] == mask), None)
    acl = [dict(ace) for ace in key["acl"]]
    if params["state"] == "present" and match is None:
        if same:
            merged = (same[0]["rights"] | mask) & 0xFFFFFFFF
            acl[key["acl"].index(same[0])]["rights"] = merged - (1 << 32) if merged & 0x80000000 else merged
        else:
            acl.append({"sid": sid, "type": params["type"], "rights": mask, "inherited": False})
    elif params["state"] == "absent" and match is not None:
        acl.pop(key["acl"].index(match))
    else:
        return {"changed": False}
    if not check_mode:
        key["acl"] = acl
    return {"changed": True}
