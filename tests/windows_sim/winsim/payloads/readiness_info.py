"""Model of plugins/plugin_utils/_powershell/readiness_info.ps1: one read of everything readiness needs.

It reads the same state the other models change, through their own helpers, so
a requirement the roles meet reads as met here, and one broken by hand reads as
broken.
"""

from __future__ import annotations

import datetime

from .. import iis
from ..accounts import resolution_report, resolve_as_payload
from ..certificates import find_certificate, registry_report, serial_number
from ..errors import HostError
from ..models import payload_model
from ..stock.win_feature import CATALOGUE, is_installed
from ._key_acl import key_report
from .cluster_generic_service_role import _cluster_of, _group_report, _service_report, cluster_report
from .user_rights import _lsa_right

_LOWER_FEATURES = {name.lower(): name for name in CATALOGUE}


def _rights(call) -> dict:
    names = call.parameters.get("Rights") or []
    policy = call.host.state["user_rights"]
    try:
        return {"error": None, "holders": {name: list(policy.get(_lsa_right(name), [])) for name in names}}
    except HostError as error:
        return {"error": error.message, "holders": {}}


def _groups(call) -> dict:
    report = {}
    for reference in call.parameters.get("Groups") or []:
        try:
            sid = resolve_as_payload(call.host.directory, reference).sid
            report[reference] = {"error": None, "members": list(call.host.state["local_groups"].get(sid, []))}
        except HostError as error:
            report[reference] = {"error": error.message, "members": []}
    return report


def _paths(call) -> dict:
    paths = call.host.state["paths"]
    report = {}
    for path in call.parameters.get("Paths") or []:
        entry = next((value for key, value in paths.items() if key.lower() == path.lower()), None)
        if entry is None:
            report[path] = {"exists": False, "is_directory": False, "error": None, "acl": []}
            continue
        report[path] = {
            "exists": True, "is_directory": entry.get("type") == "directory", "error": None,
            "acl": [{k: ace.get(k) for k in ("sid", "type", "rights", "inherit", "propagation", "inherited")}
                    for ace in entry.get("acl", [])],
        }
    return report


def _features(call) -> dict:
    installed = {}
    for name in call.parameters.get("Features") or []:
        canonical = _LOWER_FEATURES.get(name.lower())
        # Get-WindowsFeature -Name leaves out names it does not know.
        if canonical is not None:
            installed[canonical] = is_installed(call.host.state, canonical)
    return {"error": None, "installed": installed}


def _pools(call) -> dict:
    names = call.parameters.get("Pools") or []
    if not names:
        return {"installed": True, "error": None, "pools": {}}
    if not is_installed(call.host.state, "Web-Server"):
        # Microsoft.Web.Administration is missing: the payload reports IIS as absent rather than failing.
        return {"installed": False, "error": None, "pools": {}}
    report = {}
    for name in names:
        pool = iis.find_pool(call.host.state, name)
        if pool is None:
            report[name] = {"exists": False}
            continue
        sid = None
        if pool["username"]:
            sid = resolution_report(call.host.directory, [pool["username"]])[0]["sid"]
        report[name] = {"exists": True, "name": pool["name"], "state": pool["state"], "identity_type": pool["identity_type"],
                        "username": pool["username"], "sid": sid}
    return {"installed": True, "error": None, "pools": report}


def _not_after(certificate: dict) -> str:
    value = datetime.datetime.fromisoformat(certificate["not_after"])
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _certificates(call) -> list:
    report = []
    for request in call.parameters.get("Certificates") or []:
        certificate = find_certificate(call.host.state, request["store"], request["thumbprint"])
        keys = key_report(call.host, certificate, request["store"], request["thumbprint"])
        report.append({
            "store": request["store"], "thumbprint": request["thumbprint"], "error": None,
            "found": keys["found"], "has_private_key": keys["has_private_key"], "key_error": keys.get("key_error"),
            "acl": keys["acl"],
            "not_after": _not_after(certificate) if certificate else None,
            "serial_number": serial_number(certificate) if certificate else None,
        })
    return report


def _registry(call) -> list:
    return [{"key": request["key"], "name": request["name"], "error": None,
             **registry_report(call.host.state, request["key"], request["name"])}
            for request in call.parameters.get("RegistryValues") or []]


def _cluster(call) -> dict:
    report = {"error": None, "cluster": None, "roles": {}, "services": []}
    services = call.host.state.get("services", {})
    report["services"] = [_service_report(services, query) for query in call.parameters.get("Services") or []]
    roles = call.parameters.get("ClusterRoles") or []
    if not roles:
        return report
    try:
        cluster = _cluster_of(call)
    except HostError as error:
        report["error"] = error.message
        return report
    report["cluster"] = cluster_report(call, cluster)
    report["roles"] = {name: _group_report(cluster, name) for name in roles}
    return report


def _co_location(call) -> dict | None:
    if not call.parameters.get("CoLocation"):
        return None
    names = [name for name in call.host.state.get("services", {})
             if name == "CertSvc" or name == "MSSQLSERVER" or name.upper().startswith("MSSQL$")]
    return {"error": None, "services": names}


@payload_model("readiness_info")
def readiness_info(call) -> None:
    call.changed = False
    if call.mode != "probe":
        raise HostError(f"Cannot validate argument on parameter 'Mode'. The argument \"{call.mode}\" does not belong "
                        "to the set \"probe\" specified by the ValidateSet attribute.",
                        "System.Management.Automation.ParameterBindingValidationException")
    call.result = {
        "rights": _rights(call),
        "accounts": resolution_report(call.host.directory, call.parameters.get("Accounts") or []),
        "groups": _groups(call),
        "paths": _paths(call),
        "features": _features(call),
        "iis": _pools(call),
        "certificates": _certificates(call),
        "registry": _registry(call),
        "cluster": _cluster(call),
        "co_location": _co_location(call),
    }
