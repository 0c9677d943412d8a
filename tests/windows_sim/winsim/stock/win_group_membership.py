"""Stand-in for ansible.windows.win_group_membership, and the Ansible.ModuleUtils.SID lookups win_acl shares.

State: ``state["local_groups"]`` maps a local group's SID to its members' SIDs.
The local groups are those keys plus any local account of type ``group``.

As in the real module:
- ``name`` is matched against the bare names of local groups only, so
  ``Administrators`` works and ``BUILTIN\\Administrators`` fails with
  "Could not find local group";
- members are resolved by Convert-ToSID, so ``.\\svc``, ``KF01\\svc``, ``svc``,
  UPNs and SID strings all reach the same account, a name nobody has fails, and
  a well-formed SID nobody can name fails when it is translated back;
- ``added``, ``removed`` and ``members`` carry names as Windows shows them
  (``BUILTIN\\Administrators``, ``KF01\\svc``); a member SID that no longer
  resolves is listed as the SID itself;
- in check mode ``members`` is what the group would hold. There is no diff.
"""

from __future__ import annotations

from ..accounts import SID_PATTERN
from ..errors import HostError
from ..models import stock_module

_NOT_TRANSLATED = "Some or all identity references could not be translated."


def local_group_sids(state: dict) -> list[str]:
    """The SIDs of the groups WinNT://COMPUTER lists: built-in aliases and local groups."""
    sids = list(state.get("local_groups", {}))
    for account in state.get("local_accounts", []):
        if account.get("type") == "group" and account["sid"] not in sids:
            sids.append(account["sid"])
    return sids


def bare_name(qualified: str) -> str:
    """NAME from AUTHORITY\\NAME: how WinNT:// names a local group."""
    return qualified.rsplit("\\", 1)[-1]


def find_local_group(host, name: str) -> str | None:
    """The SID of the local group whose own name (no authority) is name, case-insensitively."""
    directory = host.directory
    for sid in local_group_sids(host.state):
        principal = directory.by_sid(sid)
        if principal is not None and bare_name(principal.name).lower() == name.lower():
            return principal.sid
    return None


def convert_to_sid(directory, account_name: str) -> str:
    """Convert-ToSID from Ansible.ModuleUtils.SID: a SID string, or the account's SID, or the module fails."""
    if SID_PATTERN.match(account_name.strip()):
        return account_name.strip().upper()
    reference = account_name
    if "\\" in account_name:
        domain, _separator, user = account_name.partition("\\")
        if domain == "." or domain.upper() == directory.computer_name:
            domain = directory.computer_name
            # A local group is looked up by its bare name: local groups named with
            # the computer as authority are really BUILTIN\ ones or this computer's.
            group = next((p for p in directory.principals() if p.kind == "group"
                          and bare_name(p.name).lower() == user.lower()
                          and (p.sid.startswith("S-1-5-32-") or p.sid.startswith(directory.machine_sid + "-"))), None)
            if group is not None:
                return group.sid
        reference = f"{domain}\\{user}"
    try:
        return directory.resolve(reference).sid
    except HostError as error:
        raise HostError(f"account_name {account_name} is not a valid account, cannot get SID: {_NOT_TRANSLATED}",
                        error.type_name) from error


def convert_from_sid(directory, sid: str) -> str:
    """Convert-FromSID: the account's down-level name, or the module fails."""
    principal = directory.by_sid(sid)
    if principal is None:
        raise HostError(f"failed to convert sid '{sid}' to a logon name: {_NOT_TRANSLATED}",
                        "System.Security.Principal.IdentityNotMappedException")
    return principal.name


def _input_members(directory, members: list[str]) -> list[tuple[str, str]]:
    """Get-InputMember: (SID, account name) for each distinct member, failing on the first unknown one."""
    targets: list[tuple[str, str]] = []
    for member in members:
        sid = convert_to_sid(directory, member)
        if all(sid.upper() != known.upper() for known, _name in targets):
            targets.append((sid, convert_from_sid(directory, sid)))
    return targets


def _plan(directory, current: list[str], targets: list[tuple[str, str]], wanted: str) -> tuple[list[str], list[str], list[str]]:
    """The members after the change, and the names added and removed."""
    final = list(current)
    added, removed = [], []
    for sid, account_name in targets:
        present = any(s.upper() == sid.upper() for s in final)
        if wanted in ("present", "pure") and not present:
            final.append(sid)
            added.append(account_name)
        elif wanted == "absent" and present:
            final = [s for s in final if s.upper() != sid.upper()]
            removed.append(account_name)
    if wanted == "pure":
        keep = {sid.upper() for sid, _name in targets}
        removed += [directory.name_of(s) for s in final if s.upper() not in keep]
        final = [s for s in final if s.upper() in keep]
    return final, added, removed


@stock_module("ansible.windows.win_group_membership")
def win_group_membership(host, params: dict, check_mode: bool, _diff_mode: bool) -> dict:
    """Follows win_group_membership.ps1: find the group, resolve every member, then add or remove."""
    state, directory = host.state, host.directory
    name, wanted = params["name"], params["state"]
    group_sid = find_local_group(host, name)
    if group_sid is None:
        raise HostError(f"Could not find local group {name}")
    targets = _input_members(directory, params["members"])
    final, added, removed = _plan(directory, state["local_groups"].get(group_sid, []), targets, wanted)

    changed = bool(added or removed)
    if changed and not check_mode:
        state["local_groups"][group_sid] = final
    result = {"changed": changed, "name": name, "members": [directory.name_of(sid) for sid in final]}
    if wanted in ("present", "pure"):
        result["added"] = added
    if wanted in ("absent", "pure"):
        result["removed"] = removed
    return result
