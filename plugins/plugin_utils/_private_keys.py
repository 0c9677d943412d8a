# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who may use a certificate's private key: the planning shared by private_key_acl and pfx_import."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._principals import principal_problem
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    PlanError,
    TaskInputError,
    UnexpectedProbeResult,
)

# The masks the certificates MMC's "Manage Private Keys" dialog writes, for CNG and CAPI keys alike.
READ = 0x80120089  # GENERIC_READ | FILE_GENERIC_READ
FULL_CONTROL = 0xD01F01FF  # GENERIC_ALL | GENERIC_READ | GENERIC_WRITE | FILE_ALL_ACCESS
_GENERIC_READ = 0x80000000
_GENERIC_EXECUTE = 0x20000000
_GENERIC_ALL = 0x10000000
_FILE_GENERIC_READ = 0x00120089
_FILE_GENERIC_EXECUTE = 0x001200A0
_FILE_ALL_ACCESS = 0x001F01FF
# Read may come with execute and synchronize, which let nobody change or delete the key; anything else is more than read.
_READ_ONLY = _GENERIC_READ | _GENERIC_EXECUTE | _FILE_GENERIC_READ | _FILE_GENERIC_EXECUTE
MASKS = {"read": READ, "full_control": FULL_CONTROL}


def signed(mask: int) -> int:
    """The mask as .NET reports it, a signed 32-bit integer, which is how the payload expects it."""
    mask &= 0xFFFFFFFF
    return mask - (1 << 32) if mask & 0x80000000 else mask


def access_level(mask: int) -> str | None:
    """full_control, read, other or None, whichever spelling of the rights set the mask (MMC, icacls, a script).

    Read with anything that could change or delete the key (write, delete, change permissions) is ``other``, so
    that asking for read takes the extra rights away.
    """
    mask &= 0xFFFFFFFF
    if not mask:
        return None
    if mask & _GENERIC_ALL or mask & _FILE_ALL_ACCESS == _FILE_ALL_ACCESS:
        return "full_control"
    if (mask & _GENERIC_READ or mask & _FILE_GENERIC_READ == _FILE_GENERIC_READ) and not mask & ~_READ_ONLY:
        return "read"
    return "other"


# What the probe says about a key that would not open (the payload's Get-KeyOpenFailure): Windows' error says it is
# gone, says access is denied, or (NTE_BAD_KEYSET, "Keyset does not exist") can mean either; any other error means its
# provider (a smart card, an HSM) is unavailable.
KEY_STATES = ("missing", "denied", "missing_or_denied", "unavailable")

# The access bits that let an account open a key: generic all or read, or FILE_READ_DATA.
_OPENS_KEY = _GENERIC_ALL | _GENERIC_READ | 0x00000001


def cannot_open(report: dict, thumbprint: str, where: str) -> str:
    """Why the key of the certificate in the report cannot be opened, and what to do about it, for a PlanError."""
    error, state = report.get("key_error"), report.get("key_state")
    key = f"the private key of the certificate {thumbprint} in {where}"
    if state == "denied":
        return (f"{key} exists but the account this task runs as cannot open it ({error}); restore that account's access "
                "(or BUILTIN\\Administrators') to the key")
    if state == "missing_or_denied":
        return (f"{key} cannot be opened ({error}). Windows gives this error both for a key whose file is gone and for one "
                "whose ACL shuts this account out, so nothing is written over it: if the key's ACL no longer grants "
                "BUILTIN\\Administrators (or this account) access, restore it; if the key is gone, remove the certificate "
                f"from {where} and run again")
    if state == "missing":
        return f"{key} is gone ({error}); import the certificate with its key again"
    provider = report.get("key_provider_name")
    if provider:
        # NTE_NOT_FOUND or ERROR_FILE_NOT_FOUND from a provider that does not come with Windows may mean its device is
        # out of reach as well as the key gone, so nothing is imported over the key it keeps.
        return (f"{key} cannot be opened ({error}), and its provider, {provider}, does not say that the key is gone; fix "
                "the provider first, or, if the key is gone for good, remove the certificate from the store and run again")
    return f"{key} cannot be opened ({error}), and not because it is missing; fix its provider first"


def check_identity(identity) -> dict:
    """The probe's report on who the payload runs as: its user SID and the SIDs of its groups."""
    if not isinstance(identity, dict) or not isinstance(identity.get("sid"), str) or not isinstance(identity.get("groups"), list) \
            or not all(isinstance(group, str) for group in identity["groups"]):
        raise UnexpectedProbeResult("no 'identity' with the sid and groups of the account the payload runs as")
    return identity


def _opens(sids: set[str], acl: list[dict]) -> bool:
    """Whether an access check of the key's DACL lets a token with these SIDs open the key.

    Deny entries win over allow entries, in Windows' canonical order; an entry counts when it names one of the
    token's SIDs and holds a bit that reads the key.
    """
    matching = [ace for ace in acl if ace["sid"].upper() in sids and ace["rights"] & _OPENS_KEY]
    if any(ace.get("type") == "deny" for ace in matching):
        return False
    return any(ace.get("type") == "allow" for ace in matching)


def acl_after(acl: list[dict], operations: list[dict]) -> list[dict]:
    """The DACL once the operations are applied as the payload applies them (Edit-KeyDacl)."""
    result = [dict(ace) for ace in acl]
    for operation in operations:
        sid = operation["sid"].upper()
        result = [ace for ace in result
                  if not (ace.get("type") == "allow" and not ace.get("inherited") and ace["sid"].upper() == sid)]
        if operation["action"] == "set":
            result.append({"sid": operation["sid"], "type": "allow", "rights": operation["rights"], "inherited": False})
    return result


def check_keeps_access(identity: dict, acl: list[dict], operations: list[dict], principals) -> None:
    """Refuse operations that would leave the account the payload runs as unable to open the key.

    Such a key cannot be read or changed by any later run (the account cannot read its DACL), and Windows reports it
    with the same error as a key that is gone. The identity is the one the probe read from its own token, so the check
    is on exactly the account that runs these tasks, whichever groups give it access; a key it could not open before
    (through privileges or ownership this check does not see) is left to Windows.
    """
    sids = {identity["sid"].upper(), *(group.upper() for group in identity["groups"])}
    if not operations or not _opens(sids, acl) or _opens(sids, acl_after(acl, operations)):
        return
    names = {p.get("sid", "").upper(): p.get("name") or p.get("sid") for p in principals or [] if isinstance(p, dict) and p.get("sid")}
    losing = [names.get(op["sid"].upper(), op["sid"]) for op in operations if op["sid"].upper() in sids]
    raise PlanError(f"key_access: the change would leave the account this task runs as on the host ({identity['sid']}) unable "
                    f"to open the private key{' (through ' + ', '.join(losing) + ')' if losing else ''}: no later run could "
                    "read or change the key, and Windows would report it as if it were gone. Keep BUILTIN\\Administrators' "
                    "access, or grant the account itself access in the same task")


def principals_to_resolve(grants: list[dict]) -> list[str]:
    return list(dict.fromkeys(g["principal"] for g in grants))


def check_key_report(report, what: str) -> None:
    if not isinstance(report, dict) or not isinstance(report.get("found"), bool):
        raise UnexpectedProbeResult(f"no report on the {what}")
    if not isinstance(report.get("archived", False), bool):
        raise UnexpectedProbeResult(f"the report on the {what} says archived is {report['archived']!r}, not true or false")
    if report["found"] and report.get("has_private_key"):
        if report.get("key_error"):
            if report.get("key_state") not in KEY_STATES:
                raise UnexpectedProbeResult(f"the key of the {what} does not open, and the report does not say why "
                                            f"(key_state {report.get('key_state')!r})")
        elif not isinstance(report.get("key"), dict) or not isinstance(report.get("acl"), list):
            raise UnexpectedProbeResult(f"no key or ACL in the report on the {what}")


def _resolve(grants: list[dict], principals) -> dict[str, dict]:
    if not isinstance(principals, list):
        raise UnexpectedProbeResult("no 'principals' list")
    by_input = {p.get("input"): p for p in principals if isinstance(p, dict)}
    missing = [g["principal"] for g in grants if g["principal"] not in by_input]
    if missing:
        raise UnexpectedProbeResult(f"no resolution for {', '.join(missing)}")
    failures, seen = [], set()
    for index, grant in enumerate(grants):
        principal = by_input[grant["principal"]]
        if not principal.get("sid") and grant["principal"] not in seen:
            seen.add(grant["principal"])
            failures.append(f"key_access[{index}].principal: {grant['principal']!r} could not be resolved to a SID on the host "
                            f"({principal.get('error') or 'not found'})")
    if failures:
        raise PlanError("; ".join(failures))
    return by_input


def plan_key_acl(grants: list[dict], acl: list[dict], principals, unconditional: bool = False) -> tuple[list[dict], dict, dict, dict]:
    """Operations that give each principal exactly the access asked for, and the before/after/changes for the user.

    Only explicit allow entries count and change; inherited entries are Windows' business, and an explicit deny for
    a principal that should have access fails the plan. A principal with more than asked for is brought down: Read
    means read, never full control. With unconditional (a key being imported now, whose ACL cannot be read yet),
    every grant becomes an operation; the payload writes only what differs.
    """
    resolved = _resolve(grants, principals)
    explicit: dict[str, int] = {}
    denied: set[str] = set()
    for ace in acl:
        if ace.get("inherited"):
            continue
        if ace.get("type") == "allow":
            sid = ace["sid"].upper()
            explicit[sid] = explicit.get(sid, 0) | (ace["rights"] & 0xFFFFFFFF)
        elif ace.get("type") == "deny":
            denied.add(ace["sid"].upper())

    wanted: dict[str, tuple[str, dict]] = {}
    for grant in grants:
        principal = resolved[grant["principal"]]
        sid = principal["sid"].upper()
        want = grant["access"] if grant["state"] == "present" else None
        if sid in wanted and wanted[sid][0] != want:
            raise PlanError(f"key_access: {grant['principal']} and another entry name the same account {principal.get('name') or sid} "
                            "with different access")
        wanted[sid] = (want, principal)

    operations, before, after, changes = [], {}, {}, {}
    for sid, (want, principal) in wanted.items():
        name = principal.get("name") or sid
        if want and sid in denied:
            raise PlanError(f"key_access: {name} has an explicit deny entry on the key, which overrides any access granted; "
                            "remove the deny entry first")
        current = access_level(explicit.get(sid, 0))
        before[name] = current or "none"
        if want is None:
            if current or unconditional:
                operations.append({"sid": sid, "action": "remove"})
            if current:
                changes[name] = "removed"
            after[name] = "none"
        else:
            if current != want or unconditional:
                operations.append({"sid": sid, "action": "set", "rights": signed(MASKS[want])})
            if current != want:
                changes[name] = f"{current or 'none'} -> {want}"
            after[name] = want
    return operations, before, after, changes


def check_grants(grants: list[dict]) -> list[dict]:
    wanted: dict[str, tuple[int, str | None]] = {}
    for index, grant in enumerate(grants):
        if not grant["principal"].strip():
            raise TaskInputError(f"key_access[{index}]: principal is empty")
        problem = principal_problem(grant["principal"])
        if problem:
            raise TaskInputError(f"key_access[{index}].principal: {grant['principal']!r} {problem}")
        # The same reference twice with different access is a contradiction the controller can see; two
        # references to one account (a name and its SID) only the host can match.
        key = grant["principal"].strip().lower()
        want = grant["access"] if grant["state"] == "present" else None
        if key in wanted and wanted[key][1] != want:
            raise TaskInputError(f"key_access[{index}].principal: {grant['principal']!r} is also listed as "
                                 f"key_access[{wanted[key][0]}] with different access; list each account once")
        wanted.setdefault(key, (index, want))
    return grants
