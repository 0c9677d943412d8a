"""Stand-in for ansible.windows.win_user_right, which only the bench's stock-module baselines use.

Follows win_user_right.ps1 against ``state["user_rights"]`` (right constant to the SIDs holding it): the
right's name must be one LSA knows (``the specified right <name> is not a valid right``), every user is
translated to a SID first (``Failed to translate the account '<user>' to a SID``), then ``add`` grants the
missing ones, ``remove`` revokes the present ones and ``set`` does both until exactly ``users`` hold it.
``added`` and ``removed`` name the accounts as Windows shows them; check mode reports without changing.
"""

from __future__ import annotations

from ..errors import HostError
from ..payloads.user_rights import _KNOWN_RIGHTS
from ..registry import stock_module
from .win_group_membership import convert_to_sid


@stock_module("ansible.windows.win_user_right")
def win_user_right(host, params: dict, check_mode: bool, _diff_mode: bool) -> dict:
    right = _KNOWN_RIGHTS.get(params["name"].lower())
    if right is None:
        raise HostError(f"the specified right {params['name']} is not a valid right")
    directory = host.directory
    wanted = []
    for user in params["users"] or []:
        try:
            sid = convert_to_sid(directory, user)
        except HostError as error:
            raise HostError(f"Failed to translate the account '{user}' to a SID: {error.message}") from error
        if sid.upper() not in (s.upper() for s in wanted):
            wanted.append(sid)
    holders = host.state["user_rights"].get(right, [])
    held = {sid.upper() for sid in holders}
    wanted_upper = {sid.upper() for sid in wanted}
    action = params["action"]
    to_add = [sid for sid in wanted if sid.upper() not in held] if action in ("add", "set") else []
    to_remove = ([sid for sid in holders if sid.upper() in wanted_upper] if action == "remove"
                 else [sid for sid in holders if sid.upper() not in wanted_upper] if action == "set" else [])
    if not check_mode and (to_add or to_remove):
        host.state["user_rights"][right] = [sid for sid in holders if sid not in to_remove] + to_add
    return {
        "changed": bool(to_add or to_remove),
        "added": [directory.name_of(sid) for sid in to_add],
        "removed": [directory.name_of(sid) for sid in to_remove],
    }
