"""LogonUser on a simulated host: whether an account logs on with a password and a logon type, as a Win32 code.

What the host can tell: a local account's password (``password_sha256`` in ``local_accounts``), whether it is
disabled or locked out (``account_disabled``, ``account_locked``), and the logon rights in ``user_rights``,
held by the account or by a group its token has. A domain account's password is known only when its seed gives
``password_sha256``; without it, any password is taken as the right one, as the simulator cannot know better.

The token of a logon holds the account, Everyone, Authenticated Users, the logon type's own SID (BATCH or
SERVICE), Domain Users for a domain account, and every local group that holds any of those, directly or through
another local group. Denying a logon type wins over granting it.
"""

from __future__ import annotations

from .accounts import Directory
from .errors import HostError
from .passwords import password_matches

ERROR_LOGON_FAILURE = 1326
ERROR_ACCOUNT_DISABLED = 1331
ERROR_LOGON_TYPE_NOT_GRANTED = 1385
ERROR_ACCOUNT_LOCKED_OUT = 1909

# dwLogonType of LogonUser -> the SID the logon adds to the token, the right it needs and the right that denies it.
LOGON32_LOGON_BATCH = 4
LOGON32_LOGON_SERVICE = 5
LOGON_TYPES = {
    LOGON32_LOGON_BATCH: ("S-1-5-3", "SeBatchLogonRight", "SeDenyBatchLogonRight"),
    LOGON32_LOGON_SERVICE: ("S-1-5-6", "SeServiceLogonRight", "SeDenyServiceLogonRight"),
}
_EVERYONE, _AUTHENTICATED_USERS = "S-1-1-0", "S-1-5-11"


def _account(state: dict, sid: str) -> tuple[dict | None, bool]:
    """The account's record and whether it is local."""
    for account in state.get("local_accounts", []):
        if account["sid"].upper() == sid.upper():
            return account, True
    for account in (state.get("domain") or {}).get("accounts", []):
        if account.get("sid", "").upper() == sid.upper():
            return account, False
    return None, False


def token_sids(state: dict, sid: str, logon_type: int) -> set[str]:
    """The SIDs of the token a logon of this account gets."""
    sids = {sid.upper(), _EVERYONE, _AUTHENTICATED_USERS, LOGON_TYPES[logon_type][0]}
    domain_sid = (state.get("domain") or {}).get("sid", "")
    if domain_sid and sid.upper().startswith(domain_sid.upper() + "-"):
        sids.add(f"{domain_sid}-513".upper())  # Domain Users
    groups = {group.upper(): {m.upper() for m in members} for group, members in (state.get("local_groups") or {}).items()}
    while True:
        more = {group for group, members in groups.items() if members & sids} - sids
        if not more:
            return sids
        sids |= more


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
