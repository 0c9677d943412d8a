"""LogonUser on a simulated host: whether an account logs on with a password and a logon type, as a Win32 code.

What the host can tell: a local account's password (``password_sha256`` in ``local_accounts``), whether it is
disabled or locked out (``account_disabled``, ``account_locked``), and the logon rights in ``user_rights``,
held by the account or by a group its token has. A domain account's password is known only when its seed gives
``password_sha256``; without it, any password is taken as the right one, as the simulator cannot know better.

The token of a logon holds the account, Everyone, Authenticated Users, the logon type's own SID (NETWORK, BATCH or
SERVICE), Domain Users and the domain groups its seed lists in ``member_of`` for a domain account, "Local account"
(and "Local account and member of Administrators group" for a member of Administrators) for a local one, and every
local group that holds any of those, directly or through another local group. Denying a logon type, to any SID of
the token, wins over granting it ("Account Rights Constants": "The SE_DENY rights override the corresponding account
rights").
"""

from __future__ import annotations

from .accounts import Directory
from .errors import HostError
from .passwords import password_matches

ERROR_LOGON_FAILURE = 1326
ERROR_ACCOUNT_DISABLED = 1331
ERROR_LOGON_TYPE_NOT_GRANTED = 1385
ERROR_ACCOUNT_LOCKED_OUT = 1909
# Windows' text for each code LogonUser fails with here (Win32Exception.Message).
_MESSAGES = {
    ERROR_LOGON_FAILURE: "The user name or password is incorrect.",
    ERROR_ACCOUNT_DISABLED: "This user can't sign in because this account is currently disabled.",
    ERROR_LOGON_TYPE_NOT_GRANTED: "Logon failure: the user has not been granted the requested logon type at this computer.",
    ERROR_ACCOUNT_LOCKED_OUT: "The referenced account is currently locked out and may not be logged on to.",
}

# dwLogonType of LogonUser -> the SID the logon adds to the token, the right it needs and the right that denies it.
LOGON32_LOGON_NETWORK = 3
LOGON32_LOGON_BATCH = 4
LOGON32_LOGON_SERVICE = 5
LOGON_TYPES = {
    LOGON32_LOGON_NETWORK: ("S-1-5-2", "SeNetworkLogonRight", "SeDenyNetworkLogonRight"),
    LOGON32_LOGON_BATCH: ("S-1-5-3", "SeBatchLogonRight", "SeDenyBatchLogonRight"),
    LOGON32_LOGON_SERVICE: ("S-1-5-6", "SeServiceLogonRight", "SeDenyServiceLogonRight"),
}
_EVERYONE, _AUTHENTICATED_USERS = "S-1-1-0", "S-1-5-11"
# "Local account" and "Local account and member of Administrators group", which Windows adds to a local account's
# token so that policies can name local accounts whatever they are called.
LOCAL_ACCOUNT, LOCAL_ADMINISTRATOR = "S-1-5-113", "S-1-5-114"
_ADMINISTRATORS = "S-1-5-32-544"


def _account(state: dict, sid: str) -> tuple[dict | None, bool]:
    """The account's record and whether it is local."""
    for account in state.get("local_accounts", []):
        if account["sid"].upper() == sid.upper():
            return account, True
    for account in (state.get("domain") or {}).get("accounts", []):
        if account.get("sid", "").upper() == sid.upper():
            return account, False
    return None, False


def _domain_groups(state: dict, account: dict) -> set[str]:
    """Domain Users and the domain groups a domain account's seed names in ``member_of``."""
    domain = state.get("domain") or {}
    groups = {f"{domain['sid']}-513".upper()}
    by_name = {a["name"].lower(): a for a in domain.get("accounts", []) if a.get("type") == "group"}
    for name in account.get("member_of", []):
        group = by_name.get(name.lower())
        if group is None:
            raise ValueError(f"the seed makes {account['name']!r} a member of {name!r}, which is no group of the domain")
        groups.add(group["sid"].upper())
    return groups


def token_sids(state: dict, sid: str, logon_type: int) -> set[str]:
    """The SIDs of the token a logon of this account gets."""
    sids = {sid.upper(), _EVERYONE, _AUTHENTICATED_USERS, LOGON_TYPES[logon_type][0]}
    account, local = _account(state, sid)
    if local:
        sids.add(LOCAL_ACCOUNT)
    elif account is not None:
        sids |= _domain_groups(state, account)
    groups = {group.upper(): {m.upper() for m in members} for group, members in (state.get("local_groups") or {}).items()}
    while True:
        more = {group for group, members in groups.items() if members & sids} - sids
        if not more:
            break
        sids |= more
    if local and _ADMINISTRATORS in sids:
        sids.add(LOCAL_ADMINISTRATOR)
    return sids


def holders(state: dict, right: str) -> set[str]:
    return {s.upper() for s in (state.get("user_rights") or {}).get(right, [])}


def logon_user(state: dict, directory: Directory, domain: str | None, user: str, password: str, logon_type: int) -> int:
    """LogonUserW(user, domain, password, logon_type): 0, or the Win32 error code it fails with."""
    if logon_type not in LOGON_TYPES:
        raise HostError("Specified argument was out of the range of valid values.\r\nParameter name: logonType",
                        "System.ArgumentOutOfRangeException")
    try:
        principal = directory.resolve(f"{domain}\\{user}" if domain else user)
    except HostError:
        return ERROR_LOGON_FAILURE
    account, local = _account(state, principal.sid)
    if account is None or principal.kind != "user":
        return ERROR_LOGON_FAILURE
    stored = account.get("password_sha256")
    if (local or stored is not None) and not password_matches(stored, password):
        return ERROR_LOGON_FAILURE
    if account.get("account_disabled"):
        return ERROR_ACCOUNT_DISABLED
    if account.get("account_locked"):
        return ERROR_ACCOUNT_LOCKED_OUT
    _sid, right, deny = LOGON_TYPES[logon_type]
    token = token_sids(state, principal.sid, logon_type)
    if token & holders(state, deny) or not token & holders(state, right):
        return ERROR_LOGON_TYPE_NOT_GRANTED
    return 0


def account_rights(state: dict, sid: str) -> set[str]:
    """LsaEnumerateAccountRights: the rights assigned to the SID itself."""
    return {right for right, sids in (state.get("user_rights") or {}).items() if sid.upper() in {s.upper() for s in sids}}


def group_sids(state: dict, directory: Directory, domain: str | None, user: str, password: str) -> set[str] | None:
    """The payload's GetGroupSids: the group SIDs of a network logon's token (the account's own SID is TokenUser,
    not a group, and the simulator has no logon SID), or None when that logon is refused with
    ERROR_LOGON_TYPE_NOT_GRANTED. Any other failure is Windows' Win32Exception."""
    code = logon_user(state, directory, domain, user, password, LOGON32_LOGON_NETWORK)
    if code == ERROR_LOGON_TYPE_NOT_GRANTED:
        return None
    if code:
        raise HostError(_MESSAGES[code], "System.ComponentModel.Win32Exception")
    sid = directory.resolve(f"{domain}\\{user}" if domain else user).sid.upper()
    return token_sids(state, sid, LOGON32_LOGON_NETWORK) - {sid}
