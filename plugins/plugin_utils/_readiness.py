# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness requirements on the controller: what to read from the host, and each requirement judged against what it
read, for readiness_info's definition and for host_snapshot's checks.

The host reports raw state in one run (readiness_info.ps1); every decision about
pass, fail or warn is made here, so it can be tested without Windows.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._readiness_info_spec import CERTIFICATE_KINDS
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._certificates import normalise_thumbprint
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._cluster_generic_service_role import check_role_name
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._principals import principal_problem
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._private_keys import access_level
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._registry_paths import local_machine_subkey
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._user_rights import ALL_RIGHTS
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import TaskInputError, UnexpectedProbeResult

# The order the report groups requirements in.
CATEGORIES = ["co_location", "accounts", "rights", "log_directory", "features", "app_pools", "certificates", "registry", "cluster"]
_CATEGORY = {
    "co_location": "co_location", "account": "accounts", "group_member": "accounts", "user_right": "rights", "directory_access": "log_directory",
    "features": "features", "app_pool": "app_pools", "certificate": "certificates", "key_access": "certificates",
    "registry_serial": "registry", "service_installed": "cluster", "cluster_role": "cluster",
}

# System.Security.AccessControl.FileSystemRights, by name (aliases included).
FILE_SYSTEM_RIGHTS = {
    "ReadData": 0x1, "ListDirectory": 0x1, "WriteData": 0x2, "CreateFiles": 0x2, "AppendData": 0x4,
    "CreateDirectories": 0x4, "ReadExtendedAttributes": 0x8, "WriteExtendedAttributes": 0x10, "ExecuteFile": 0x20,
    "Traverse": 0x20, "DeleteSubdirectoriesAndFiles": 0x40, "ReadAttributes": 0x80, "WriteAttributes": 0x100,
    "Write": 0x116, "Delete": 0x10000, "ReadPermissions": 0x20000, "Read": 0x20089, "ReadAndExecute": 0x200A9,
    "Modify": 0x301BF, "ChangePermissions": 0x40000, "TakeOwnership": 0x80000, "Synchronize": 0x100000,
    "FullControl": 0x1F01FF,
}
_RIGHT_NAMES = {name.lower(): name for name in FILE_SYSTEM_RIGHTS}
# GENERIC_READ, GENERIC_WRITE, GENERIC_EXECUTE and GENERIC_ALL, as the file system maps them: Windows leaves them
# unmapped in inherit-only entries, such as the ones a folder under C:\Program Files inherits.
_GENERIC_FILE_RIGHTS = {0x80000000: 0x120089, 0x40000000: 0x120116, 0x20000000: 0x1200A0, 0x10000000: 0x1F01FF}

# How secpol.msc names the rights this collection grants.
RIGHT_TITLES = {
    "SeBackupPrivilege": "Back up files and directories",
    "SeRestorePrivilege": "Restore files and directories",
    "SeServiceLogonRight": "Log on as a service",
    "SeBatchLogonRight": "Log on as a batch job",
    "SeImpersonatePrivilege": "Impersonate a client after authentication",
}

# A certificate authority, or a SQL Server instance; the Windows Internal Database is neither.
_CONFLICTING_SERVICE = re.compile(r"^(CertSvc|MSSQLSERVER|MSSQL\$(?!MICROSOFT##WID$).+)$", re.IGNORECASE)
_USER_RIGHTS = {name.lower(): name for name in ALL_RIGHTS}
MAX_WARNING_DAYS = 3650
# A directory the host can check: a drive-qualified path; relative to what would depend on the connection.
_ABSOLUTE_LOCAL_PATH = re.compile(r"^[A-Za-z]:[\\/]")


def _fold(value) -> str:
    return str(value or "").strip().lower()


def _check_account(value, option: str) -> str:
    problem = principal_problem(value or "")
    if problem:
        raise TaskInputError(f"{option}: {problem}")
    return value.strip()


def _named(mapping, name: str, what: str):
    """The report of mapping for name, which the payload keys as it was sent: Windows compares these names without case."""
    for key, value in (mapping or {}).items():
        if _fold(key) == _fold(name):
            return value
    raise UnexpectedProbeResult(f"no report on {what} {name}")


def _listed(reports, what: str, **fields):
    """The report in a list whose fields match, as the payload sent them back: names compared without case."""
    for report in reports or []:
        if all(_fold(report.get(field)) == _fold(value) for field, value in fields.items()):
            return report
    raise UnexpectedProbeResult(f"no report on {what}")


def normalise(requirements: list[dict], load_pfx) -> list[dict]:
    """Each requirement checked and completed: certificates identified by thumbprint, keys and rights spelt as Windows does.

    load_pfx(requirement, where) returns the thumbprint of the PFX a requirement names by file or content.
    """
    normalised = []
    for index, requirement in enumerate(requirements):
        where = f"requirements[{index}]"
        entry = dict(requirement)
        kind = entry["kind"]
        for option in ("account", "group"):
            if entry.get(option) is not None:
                entry[option] = _check_account(entry[option], f"{where}.{option}")
        for option in ("pool", "service", "role", "store", "value_name"):
            if isinstance(entry.get(option), str) and not entry[option].strip():
                raise TaskInputError(f"{where}.{option}: is empty; give a name")
        if kind == "user_right":
            if _fold(entry["right"]) not in _USER_RIGHTS:
                raise TaskInputError(f"{where}.right: {entry['right']!r} is not a Windows logon right or privilege constant, "
                                     "such as SeServiceLogonRight or SeBackupPrivilege")
            entry["right"] = _USER_RIGHTS[_fold(entry["right"])]
        if kind == "directory_access":
            if not (entry["path"] or "").strip():
                raise TaskInputError(f"{where}.path: give the directory's path")
            if not _ABSOLUTE_LOCAL_PATH.match(entry["path"]):
                raise TaskInputError(f"{where}.path: {entry['path']!r} is not an absolute path; give the directory with "
                                     "its drive, such as C:\\Keyfactor\\logs")
            if not entry["file_rights"]:
                raise TaskInputError(f"{where}.file_rights: give at least one FileSystemRights name")
            unknown = [r for r in entry["file_rights"] if r.strip().lower() not in _RIGHT_NAMES]
            if unknown:
                raise TaskInputError(f"{where}.file_rights: {', '.join(unknown)} is not a FileSystemRights name; use names "
                                     "such as CreateFiles, AppendData, Modify or FullControl")
            entry["file_rights"] = [_RIGHT_NAMES[r.strip().lower()] for r in entry["file_rights"]]
        if kind == "features" and not [f for f in entry["features"] if str(f).strip()]:
            raise TaskInputError(f"{where}.features: give at least one feature name")
        if kind == "app_pool" and entry["identity_type"] == "SpecificUser":
            if not (entry.get("username") or "").strip():
                raise TaskInputError(f"{where}.username: required when identity_type is SpecificUser")
            entry["username"] = _check_account(entry["username"], f"{where}.username")
        if kind in CERTIFICATE_KINDS:
            if entry.get("thumbprint"):
                entry["thumbprint"] = normalise_thumbprint(entry["thumbprint"], f"{where}.thumbprint")
            else:
                entry["thumbprint"] = load_pfx(entry, where)
            if not 0 <= entry["expiry_warning_days"] <= MAX_WARNING_DAYS:
                raise TaskInputError(f"{where}.expiry_warning_days: give a number of days from 0 to {MAX_WARNING_DAYS}")
        if kind == "registry_serial":
            entry["registry_key"] = local_machine_subkey(entry["registry_key"], f"{where}.registry_key")
        if entry["allow"] is not None and kind != "co_location":
            raise TaskInputError(f"{where}.allow: applies only to kind co_location, not {kind}; remove it")
        entry["allow"] = bool(entry["allow"])
        if kind == "cluster_role":
            entry["role"] = check_role_name(entry["role"], f"{where}.role")
            for position, service in enumerate(entry["services"]):
                if not service.strip():
                    raise TaskInputError(f"{where}.services[{position}]: is empty; give a service name")
            entry["checkpoints"] = [local_machine_subkey(c, f"{where}.checkpoints[{i}]") for i, c in enumerate(entry["checkpoints"])]
        for option in ("pfx_src", "pfx_content", "pfx_password"):
            entry.pop(option, None)
        normalised.append(entry)
    return _merge(normalised)


def requirement_id(entry: dict) -> str:
    kind = entry["kind"]
    if kind == "co_location":
        return "co_location"
    if kind == "account":
        return f"account/{_fold(entry['account'])}"
    if kind == "group_member":
        return f"group_member/{_fold(entry['group'])}/{_fold(entry['account'])}"
    if kind == "user_right":
        return f"user_right/{entry['right']}/{_fold(entry['account'])}"
    if kind == "directory_access":
        return f"directory/{_fold(entry['path'])}" + (f"/{_fold(entry['account'])}" if entry.get("account") else "")
    if kind == "features":
        names = sorted({_fold(f) for f in entry["features"] if str(f).strip()})
        return "features/" + hashlib.sha1(",".join(names).encode()).hexdigest()[:10]
    if kind == "app_pool":
        return f"app_pool/{_fold(entry['pool'])}"
    if kind == "certificate":
        return f"certificate/{entry['store']}/{entry['thumbprint']}"
    if kind == "key_access":
        return f"key_access/{entry['thumbprint']}/{_fold(entry['account'])}"
    if kind == "registry_serial":
        return f"registry_serial/{_fold(entry['registry_key'])}/{_fold(entry['value_name'])}"
    if kind == "service_installed":
        return f"service/{_fold(entry['service'])}"
    return f"cluster_role/{_fold(entry['role'])}"


def _canonical(value):
    """A value as Windows compares it: names without regard to case, lists without regard to order or repeats."""
    if isinstance(value, str):
        return _fold(value)
    if isinstance(value, list):
        return sorted({_canonical(v) for v in value if str(v).strip()})
    return value


def _expectation(entry: dict) -> str:
    return json.dumps({k: _canonical(v) for k, v in entry.items() if k not in ("profile", "source", "fix")}, sort_keys=True, default=str)


def _merge(entries: list[dict]) -> list[dict]:
    """One requirement per id: two profiles asking the same thing on one server is one row, attributed to both."""
    merged: dict[str, dict] = {}
    for entry in entries:
        base = requirement_id(entry)
        key, suffix = base, 2
        while key in merged and merged[key]["expectation"] != _expectation(entry):
            key, suffix = f"{base}#{suffix}", suffix + 1
        if key in merged:
            existing = merged[key]
            for field, value in (("profiles", entry["profile"]), ("sources", entry["source"]), ("fixes", entry["fix"])):
                if value and value not in existing[field]:
                    existing[field].append(value)
            continue
        merged[key] = dict(entry, id=key, expectation=_expectation(entry), profiles=[entry["profile"]],
                           sources=[entry["source"]] if entry["source"] else [], fixes=[entry["fix"]] if entry["fix"] else [])
    return list(merged.values())


def probe_parameters(requirements: list[dict]) -> dict:
    """What the payload reads: only what the requirements name."""
    def unique(values):
        seen, out = set(), []
        for value in values:
            if value and _fold(value) not in seen:
                seen.add(_fold(value))
                out.append(value)
        return out

    of = requirements
    certificates = unique(f"{r['store']}|{r['thumbprint']}" for r in of if r["kind"] in CERTIFICATE_KINDS)
    registry = unique(f"{r['registry_key']}|{r['value_name']}" for r in of if r["kind"] == "registry_serial")
    return {
        "Rights": unique(r["right"] for r in of if r["kind"] == "user_right"),
        "Accounts": unique([r.get("account") for r in of] + [r["username"] for r in of if r["kind"] == "app_pool" and r["identity_type"] == "SpecificUser"]),
        "Groups": unique(r["group"] for r in of if r["kind"] == "group_member"),
        "Paths": unique(r["path"] for r in of if r["kind"] == "directory_access"),
        "Features": unique(f for r in of if r["kind"] == "features" for f in r["features"]),
        "Pools": unique(r["pool"] for r in of if r["kind"] == "app_pool"),
        "Certificates": [dict(zip(("store", "thumbprint"), c.split("|", 1))) for c in certificates],
        "RegistryValues": [dict(zip(("key", "name"), v.split("|", 1))) for v in registry],
        "ClusterRoles": unique(r["role"] for r in of if r["kind"] == "cluster_role"),
        "Services": unique([r["service"] for r in of if r["kind"] == "service_installed"]
                           + [s for r in of if r["kind"] == "cluster_role" for s in r["services"]]),
        "CoLocation": any(r["kind"] == "co_location" for r in of),
    }


class _Host:
    """The probe's answer, with lookups that fail loudly when it is not in the promised shape."""

    def __init__(self, current: dict, now: datetime.datetime):
        self.now = now
        for part in ("rights", "accounts", "groups", "paths", "features", "iis", "certificates", "registry", "cluster"):
            if part not in current:
                raise UnexpectedProbeResult(f"no '{part}' report")
        self.current = current
        self.sids = {_fold(a.get("input")): a.get("sid") for a in current["accounts"] or []}
        self.account_errors = {_fold(a.get("input")): a.get("error") for a in current["accounts"] or []}

    def sid(self, account: str) -> str | None:
        return self.sids.get(_fold(account))

    def unresolved(self, account: str) -> str:
        return f"{account} does not resolve to an account on this server ({self.account_errors.get(_fold(account)) or 'not found'})"

    def certificate(self, entry: dict) -> dict:
        return _listed(self.current["certificates"], f"certificate {entry['thumbprint']}",
                       store=entry["store"], thumbprint=entry["thumbprint"])

    def registry(self, entry: dict) -> dict:
        return _listed(self.current["registry"], f"registry value {entry['value_name']}",
                       key=entry["registry_key"], name=entry["value_name"])

    def service(self, query: str) -> dict:
        return _listed((self.current["cluster"] or {}).get("services"), f"service {query}", query=query)


def _judge_co_location(entry, host):
    report = host.current.get("co_location")
    if not isinstance(report, dict):
        raise UnexpectedProbeResult("no 'co_location' report")
    if report.get("error"):
        return ("fail", "no certificate authority or SQL Server service", f"the services could not be read: {report['error']}")
    conflicting = [s for s in report.get("services") or [] if _CONFLICTING_SERVICE.match(s)]
    if not conflicting:
        return ("pass", "no certificate authority or SQL Server service", "none")
    status = "warn" if entry["allow"] else "fail"
    return (status, "no certificate authority or SQL Server service (Keyfactor advises against both in production)",
            ", ".join(sorted(conflicting)) + (" (allowed for this server)" if entry["allow"] else ""))


def _judge_account(entry, host):
    expected = f"{entry['account']} is an account of this server or its domain"
    sid = host.sid(entry["account"])
    if sid is None:
        return ("fail", expected, host.unresolved(entry["account"]))
    return ("pass", expected, sid)


def _judge_group_member(entry, host):
    expected = f"{entry['account']} is a direct member of {entry['group']}"
    report = _named(host.current["groups"], entry["group"], "group")
    sid = host.sid(entry["account"])
    if sid is None:
        return ("fail", expected, host.unresolved(entry["account"]))
    if report.get("error"):
        return ("fail", expected, f"the group could not be read: {report['error']}")
    members = report.get("members") or []
    return ("pass" if sid in members else "fail", expected,
            "member" if sid in members else f"not a member ({len(members)} direct members)")


def _judge_user_right(entry, host):
    expected = f"{entry['account']} holds {entry['right']}"
    rights = host.current["rights"] or {}
    sid = host.sid(entry["account"])
    if sid is None:
        return ("fail", expected, host.unresolved(entry["account"]))
    if rights.get("error"):
        return ("fail", expected, f"the local security policy could not be read: {rights['error']}")
    holders = _named(rights.get("holders"), entry["right"], "user right") or []
    if sid in holders:
        return ("pass", expected, "granted")
    return ("fail", expected, f"not granted; {len(holders)} account(s) hold it")


def _inherits_to_children(ace: dict) -> bool:
    flags = _fold(ace.get("inherit"))
    return "containerinherit" in flags and "objectinherit" in flags


def _judge_directory(entry, host):
    report = _named(host.current["paths"], entry["path"], "path")
    if report.get("error"):
        return ("fail", f"{entry['path']} exists", f"it could not be read: {report['error']}")
    if not report.get("exists") or not report.get("is_directory"):
        return ("fail", f"{entry['path']} exists as a directory", "missing" if not report.get("exists") else "a file")
    if not entry.get("account"):
        return ("pass", f"{entry['path']} exists as a directory", "exists")
    wanted = 0
    for name in entry["file_rights"]:
        wanted |= FILE_SYSTEM_RIGHTS[name]
    expected = f"{entry['account']} may {', '.join(entry['file_rights'])}, inherited by files and folders created in it"
    sid = host.sid(entry["account"])
    if sid is None:
        return ("fail", expected, host.unresolved(entry["account"]))
    aces = [a for a in report.get("acl") or [] if a.get("sid") == sid]
    denied = 0
    here = children = 0
    for ace in aces:
        mask = int(ace.get("rights") or 0) & 0xFFFFFFFF
        for generic, specific in _GENERIC_FILE_RIGHTS.items():
            if mask & generic:
                mask |= specific
        if ace.get("type") == "deny":
            denied |= mask
            continue
        if "inheritonly" not in _fold(ace.get("propagation")):
            here |= mask
        if _inherits_to_children(ace):
            children |= mask
    if denied & wanted:
        return ("fail", expected, "a deny entry takes some of these rights away")
    if here & wanted != wanted:
        return ("fail", expected, "not granted" if not aces else f"granted only 0x{here:X}")
    if children & wanted != wanted:
        return ("fail", expected, "granted on the directory, but not inherited by the files and folders in it")
    return ("pass", expected, "granted and inherited")


def _judge_features(entry, host):
    report = host.current["features"] or {}
    names = [str(f).strip() for f in entry["features"] if str(f).strip()]
    expected = f"installed: {', '.join(names)}"
    if report.get("error"):
        return ("fail", expected, f"the features could not be read: {report['error']}")
    installed = {_fold(k): v for k, v in (report.get("installed") or {}).items()}
    unknown = [n for n in names if _fold(n) not in installed]
    missing = [n for n in names if installed.get(_fold(n)) is False]
    if unknown or missing:
        parts = ([f"not installed: {', '.join(missing)}"] if missing else []) + \
            ([f"not features of this Windows: {', '.join(unknown)}"] if unknown else [])
        return ("fail", expected, "; ".join(parts))
    return ("pass", expected, f"all {len(names)} installed")


def _judge_app_pool(entry, host):
    who = entry["username"] if entry["identity_type"] == "SpecificUser" else entry["identity_type"]
    expected = f"pool {entry['pool']} exists and runs as {who}"
    iis = host.current["iis"] or {}
    if not iis.get("installed", True):
        return ("fail", expected, "IIS is not installed")
    if iis.get("error"):
        return ("fail", expected, f"IIS could not be read: {iis['error']}")
    pool = _named(iis.get("pools"), entry["pool"], "application pool")
    if not pool.get("exists"):
        return ("fail", expected, "no such pool")
    observed_who = pool.get("username") if pool.get("identity_type") == "SpecificUser" else pool.get("identity_type")
    observed = f"runs as {observed_who}, {pool.get('state')}"
    if pool.get("identity_type") != entry["identity_type"]:
        return ("fail", expected, observed)
    if entry["identity_type"] == "SpecificUser":
        sid = host.sid(entry["username"])
        if sid is None:
            return ("fail", expected, host.unresolved(entry["username"]))
        if pool.get("sid") != sid:
            return ("fail", expected, observed)
    if pool.get("state") != "Started":
        return ("warn", expected, observed)
    return ("pass", expected, observed)


def _certificate_problem(entry, report) -> str | None:
    if report.get("error"):
        return f"the store could not be read: {report['error']}"
    if not report.get("found"):
        return f"not in LocalMachine\\{entry['store']}"
    if entry["require_key"] or entry["kind"] != "certificate":
        if not report.get("has_private_key"):
            return "present, but without its private key"
        if report.get("key_error"):
            return f"its private key cannot be opened: {report['key_error']}"
    return None


def _judge_certificate(entry, host):
    now = host.now
    report = host.certificate(entry)
    expected = f"in LocalMachine\\{entry['store']}" + (" with its private key" if entry["require_key"] else "") + \
        f", valid for more than {entry['expiry_warning_days']} days"
    problem = _certificate_problem(entry, report)
    if problem:
        return ("fail", expected, problem)
    try:
        not_after = datetime.datetime.fromisoformat(str(report.get("not_after")).replace("Z", "+00:00"))
    except ValueError as error:
        raise UnexpectedProbeResult(f"not_after {report.get('not_after')!r} is not a date") from error
    if not_after.tzinfo is None:
        not_after = not_after.replace(tzinfo=datetime.timezone.utc)
    observed = f"present, expires {not_after.strftime('%Y-%m-%d %H:%M')} UTC"
    if not_after <= now:
        return ("fail", expected, observed.replace("expires", "expired"))
    if not_after - now <= datetime.timedelta(days=entry["expiry_warning_days"]):
        return ("warn", expected, f"{observed}, in {(not_after - now).days} days")
    return ("pass", expected, observed)


def _judge_key_access(entry, host):
    level = "Read, and not Full control" if entry["access"] == "read" else "Full control"
    expected = f"{entry['account']} has {level} on the private key"
    report = host.certificate(entry)
    problem = _certificate_problem(entry, report)
    if problem:
        return ("fail", expected, problem)
    sid = host.sid(entry["account"])
    if sid is None:
        return ("fail", expected, host.unresolved(entry["account"]))
    aces = [a for a in report.get("acl") or [] if a.get("sid") == sid]
    if any(a.get("type") == "deny" for a in aces):
        return ("fail", expected, "a deny entry shuts the account out")
    mask = 0
    for ace in aces:
        mask |= int(ace.get("rights") or 0)
    observed = {"read": "Read", "full_control": "Full control", "other": f"rights 0x{mask & 0xFFFFFFFF:X}", None: "no access"}[access_level(mask)]
    return ("pass" if access_level(mask) == entry["access"] else "fail", expected, observed)


def _judge_registry_serial(entry, host):
    path = f"HKLM\\{entry['registry_key']}\\{entry['value_name']}"
    expected = f"{path} holds the certificate's serial number"
    report = host.certificate(entry)
    problem = _certificate_problem(entry, report)
    if problem:
        return ("fail", expected, f"the certificate: {problem}")
    serial = report.get("serial_number")
    expected = f"{path} is the string {serial}"
    value = host.registry(entry)
    if value.get("error"):
        return ("fail", expected, f"the value could not be read: {value['error']}")
    if not value.get("value_exists"):
        return ("fail", expected, "the key is missing" if not value.get("key_exists") else "the value is missing")
    if value.get("value_kind") != "String":
        return ("fail", expected, f"a {value.get('value_kind')} value")
    if _fold(value.get("value")) != _fold(serial):
        return ("fail", expected, f"holds {value.get('value')}")
    return ("pass", expected, f"holds {value.get('value')}")


def _judge_service(entry, host):
    report = host.service(entry["service"])
    return ("pass" if report.get("found") else "fail", f"service {entry['service']} is installed",
            f"installed as {report.get('name')}" if report.get("found") else "not installed")


def _judge_cluster_role(entry, host):
    expected = f"cluster role {entry['role']} is Online" + (f", runs {', '.join(entry['services'])}" if entry["services"] else "") + \
        (f", replicates {', '.join(entry['checkpoints'])}" if entry["checkpoints"] else "")
    cluster = host.current["cluster"] or {}
    if cluster.get("error"):
        return ("fail", expected, f"the cluster could not be read: {cluster['error']}")
    role = _named(cluster.get("roles"), entry["role"], "cluster role")
    if not role:
        return ("fail", expected, "no such role")
    resources = role.get("resources") or []
    problems = []
    if role.get("state") != "Online":
        problems.append(f"the role is {role.get('state')}")
    for query in entry["services"]:
        service = host.service(query)
        name = service.get("name") or query
        if not any(_fold(r.get("service_name")) == _fold(name) for r in resources if r.get("resource_type") == "Generic Service"):
            problems.append(f"no resource runs {query}")
    checkpoints = {_fold(c) for r in resources for c in r.get("checkpoints") or []}
    for checkpoint in entry["checkpoints"]:
        if _fold(checkpoint) not in checkpoints:
            problems.append(f"{checkpoint} is not replicated")
    if problems:
        return ("fail", expected, "; ".join(problems))
    return ("pass", expected, f"Online on {role.get('owner_node')}")


_JUDGES = {
    "co_location": _judge_co_location, "account": _judge_account, "group_member": _judge_group_member, "user_right": _judge_user_right,
    "directory_access": _judge_directory, "features": _judge_features, "app_pool": _judge_app_pool,
    "certificate": _judge_certificate, "key_access": _judge_key_access, "registry_serial": _judge_registry_serial,
    "service_installed": _judge_service, "cluster_role": _judge_cluster_role,
}


def title(entry: dict) -> str:
    kind = entry["kind"]
    if kind == "co_location":
        return "Not a certificate authority or SQL Server"
    if kind == "account":
        return f"Account {entry['account']} exists"
    if kind == "group_member":
        return f"{entry['account']} is in the local {entry['group']} group"
    if kind == "user_right":
        return f"{entry['account']} holds {RIGHT_TITLES.get(entry['right'], entry['right'])} ({entry['right']})"
    if kind == "directory_access":
        if not entry.get("account"):
            return f"Directory {entry['path']} exists"
        return f"{entry['account']} can write to {entry['path']}"
    if kind == "features":
        names = [str(f).strip() for f in entry["features"] if str(f).strip()]
        return "Windows features " + ", ".join(names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")
    if kind == "app_pool":
        return f"Application pool {entry['pool']}"
    if kind == "certificate":
        return f"Certificate {entry['thumbprint']} in LocalMachine\\{entry['store']}"
    if kind == "key_access":
        level = "read" if entry["access"] == "read" else "fully control"
        return f"{entry['account']} can {level} the private key of {entry['thumbprint'][:8]}"
    if kind == "registry_serial":
        return f"{entry['value_name']} matches the serial of {entry['thumbprint'][:8]}"
    if kind == "service_installed":
        return f"Service {entry['service']} is installed"
    return f"Cluster role {entry['role']}"


def evaluate(requirements: list[dict], current: dict, now: datetime.datetime) -> list[dict]:
    """Each requirement with its status (pass, fail or warn), what was expected and what the host showed."""
    host = _Host(current, now)
    results = []
    for entry in requirements:
        status, expected, observed = _JUDGES[entry["kind"]](entry, host)
        results.append({
            "id": entry["id"],
            "title": title(entry),
            "category": _CATEGORY[entry["kind"]],
            "kind": entry["kind"],
            "profiles": list(entry["profiles"]),
            "source": ", ".join(entry["sources"]),
            "status": status,
            "expected": expected,
            "observed": observed,
            "fix": "; ".join(entry["fixes"]) or "; ".join(f"role pkiops.keyfactor_command.{p}" for p in entry["profiles"]),
        })
    order = {category: index for index, category in enumerate(CATEGORIES)}
    results.sort(key=lambda r: (order[r["category"]], r["id"]))
    return results


def summary(results: list[dict]) -> dict:
    return {status: sum(1 for r in results if r["status"] == status) for status in ("pass", "fail", "warn")}
