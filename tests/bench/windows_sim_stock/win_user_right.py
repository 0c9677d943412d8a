"""Stand-in for ansible.windows.win_user_right, which only the bench's stock-module baselines use.

Follows win_user_right.ps1 against ``state["user_rights"]`` (right constant to the SIDs holding it):

- every user is translated to a SID first, before the right is looked at; one that does not translate fails
  with exactly ``Failed to translate the account '<user>' to a SID`` (``FailJson`` keeps the exception out of
  the message);
- then the right's name must be one LSA knows (``the specified right <name> is not a valid right``);
- the SIDs to add and remove are LINQ set operations on SID strings, which keep the order of their first
  sequence: ``add`` is ``Except(users, holders)``, ``remove`` is ``Intersect(users, holders)``, so ``removed``
  follows the order the users were given, and ``set`` adds ``Except(users, holders)`` and removes
  ``Except(holders, users)``, in the order LSA lists the holders;
- ``added`` and ``removed`` name the accounts as ``SecurityIdentifier.Translate`` does, or give the SID of one
  that no longer exists; the diff holds the right's holders before and after, named the same way;
- check mode reports without changing.
"""

from __future__ import annotations

from winsim.errors import HostError
from winsim.payloads.user_rights import _KNOWN_RIGHTS
from winsim.models import stock_module
from winsim.stock.win_group_membership import convert_to_sid


def _distinct_except(first: list[str], second: list[str]) -> list[str]:
    """Enumerable.Except: the distinct members of first that second lacks, in first's order."""
    excluded = {sid.upper() for sid in second}
    result: list[str] = []
    for sid in first:
        if sid.upper() not in excluded and sid.upper() not in (s.upper() for s in result):
            result.append(sid)
    return result


def _distinct_intersect(first: list[str], second: list[str]) -> list[str]:
    """Enumerable.Intersect: the distinct members of first that second has too, in first's order."""
    kept = {sid.upper() for sid in second}
    result: list[str] = []
    for sid in first:
        if sid.upper() in kept and sid.upper() not in (s.upper() for s in result):
            result.append(sid)
    return result


@stock_module("ansible.windows.win_user_right")
def win_user_right(host, params: dict, check_mode: bool, diff_mode: bool) -> dict:
    directory = host.directory
    wanted = []
    for user in params["users"] or []:
        try:
            wanted.append(convert_to_sid(directory, user).upper())
        except HostError as error:
            raise HostError(f"Failed to translate the account '{user}' to a SID", error.type_name) from error
    right = _KNOWN_RIGHTS.get(params["name"].lower())
    if right is None:
        raise HostError(f"the specified right {params['name']} is not a valid right")
    holders = [sid.upper() for sid in host.state["user_rights"].get(right, [])]
    action = params["action"]
    to_add = _distinct_except(wanted, holders) if action in ("add", "set") else []
    if action == "remove":
        to_remove = _distinct_intersect(wanted, holders)
    elif action == "set":
        to_remove = _distinct_except(holders, wanted)
    else:
        to_remove = []
    if not check_mode and (to_add or to_remove):
        removed = {sid.upper() for sid in to_remove}
        host.state["user_rights"][right] = [sid for sid in host.state["user_rights"].get(right, [])
                                            if sid.upper() not in removed] + to_add
    before = [directory.name_of(sid) for sid in holders]
    after = list(before) + [directory.name_of(sid) for sid in to_add]
    for sid in to_remove:
        if directory.name_of(sid) in after:
            after.remove(directory.name_of(sid))
    result = {
        "changed": bool(to_add or to_remove),
        "added": [directory.name_of(sid) for sid in to_add],
        "removed": [directory.name_of(sid) for sid in to_remove],
    }
    if diff_mode:
        result["diff"] = {"before": {params["name"]: before}, "after": {params["name"]: after}}
    return result
