"""Stand-in for ansible.windows.win_user.

State: a local user is an entry of ``state["local_accounts"]`` with ``"type": "user"``
and, besides ``name`` and ``sid``, the optional keys ``fullname``, ``description``,
``home_directory``, ``login_script``, ``profile``, ``account_disabled``,
``account_locked``, ``account_expires`` (ISO 8601 UTC, absent for never),
``password_expired``, ``password_never_expires``, ``user_cannot_change_password``
and ``password_sha256``: ``"<salt hex>$<sha256(salt + password) hex>"``. The
password itself is never stored or returned. Group membership lives in
``state["local_groups"]``.

As in win_user.ps1:
- with ``update_password: always`` a password is a change only when logging on
  with it would fail, and always when the account is disabled or its password
  expired (the module cannot test the credential then);
- new passwords must satisfy the password policy a domain member gets from the
  Default Domain Policy (at least 7 characters, three of the four character
  classes, not containing the account name), or the module fails as ADSI does;
- ``groups`` names must translate to a local group, else "group 'X' not found";
- in check mode a new user is reported created but returns no account details;
- the diff has the real module's shape, password shown as ``REDACTED``.

Deleting a user also drops it from local groups, as SAM does.
"""

from __future__ import annotations

import datetime
import re

from ..accounts import SID_PATTERN
from ..errors import HostError
from ..passwords import hash_password, password_matches
from ..models import stock_module
from .win_group_membership import bare_name, local_group_sids

_MIN_PASSWORD_LENGTH = 7
_POLICY_MESSAGE = ("The password does not meet the password policy requirements. Check the minimum password length, "
                   "password complexity and password history requirements.")
_DATE_FORMAT_HELP = ("Failed to parse account_expires as datetime string. Expecting datetime in yyyy-MM-dd or "
                     "yyyy-MM-ddTHH:mm:ss.FFFFFFFK format.")

# What a fresh server's built-in accounts look like, by relative ID.
_BUILTIN_DEFAULTS = {
    "500": {"description": "Built-in account for administering the computer/domain"},
    "501": {"description": "Built-in account for guest access to the computer/domain", "account_disabled": True,
            "password_never_expires": True, "user_cannot_change_password": True},
    "503": {"description": "A user account managed by the system.", "account_disabled": True,
            "password_never_expires": True},
    "504": {"description": "A user account managed and used by the system for Windows Defender Application Guard "
                           "scenarios.", "account_disabled": True},
}
_USER_DEFAULTS = {
    "fullname": "", "description": "", "home_directory": "", "login_script": "", "profile": "",
    "account_disabled": False, "account_locked": False, "account_expires": None, "password_expired": False,
    "password_never_expires": False, "user_cannot_change_password": False,
}
# Options that map one to one onto a stored attribute, in the order win_user.ps1 applies them.
_ATTRIBUTE_OPTIONS = ("account_disabled", "account_expires", "account_locked", "fullname", "description", "home_directory",
                      "login_script", "password_expired", "password_never_expires", "profile", "user_cannot_change_password")
# FullName and Description compare case-sensitively (-cne); the rest with PowerShell's -ne.
_CASE_SENSITIVE = {"fullname", "description"}


def _meets_policy(password: str, account_name: str) -> bool:
    """Windows' 'Password must meet complexity requirements' plus the default minimum length."""
    if len(password) < _MIN_PASSWORD_LENGTH:
        return False
    if len(account_name) >= 3 and account_name.lower() in password.lower():
        return False
    classes = [any(c.isupper() for c in password), any(c.islower() for c in password),
               any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    return sum(classes) >= 3


def _set_password(account: dict, password: str, operation: str) -> None:
    if not _meets_policy(password, account["name"]):
        # The ADSI call throws outside any try block, so Ansible reports it as unhandled.
        raise HostError(f'Unhandled exception while executing module: Exception calling "{operation}" with '
                        f'"{1 if operation == "SetPassword" else 0}" argument(s): "{_POLICY_MESSAGE}"',
                        "System.Management.Automation.MethodInvocationException")
    account["password_sha256"] = hash_password(password)
    # Setting a password clears "must change password at next logon".
    account["password_expired"] = False


def _parse_expiry(raw: str | None) -> str | None:
    """account_expires as win_user.ps1 parses it: 'never', yyyy-MM-dd, or an ISO 8601 time (UTC if no zone)."""
    if raw is None:
        return None
    if raw == "never":
        return "never"
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", raw)
    # .NET reads up to seven fractional digits, strptime six; the seventh is below a microsecond.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    formats = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f")
    for fmt in formats:
        try:
            moment = datetime.datetime.strptime(text.replace("Z", "+00:00"), fmt)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    raise HostError(_DATE_FORMAT_HELP)


def _find_user(state: dict, name: str) -> dict | None:
    return next((a for a in state["local_accounts"]
                 if a.get("type", "user") == "user" and a["name"].lower() == name.lower()), None)


def _view(account: dict) -> dict:
    """The user as ADSI reports it: stored values over a built-in account's or a new account's defaults."""
    rid = account["sid"].rsplit("-", 1)[-1]
    return {**_USER_DEFAULTS, **_BUILTIN_DEFAULTS.get(rid, {}),
            **{k: v for k, v in account.items() if k in _USER_DEFAULTS}}


def _groups_of(state: dict, sid: str) -> list[str]:
    return [group for group in local_group_sids(state)
            if sid.upper() in (m.upper() for m in state["local_groups"].get(group, []))]


def _ads_path(host, name: str) -> str:
    domain = (host.state.get("domain") or {}).get("netbios_name") or "WORKGROUP"
    return f"WinNT://{domain}/{host.computer_name}/{name}"


def _diff_view(host, account: dict | None):
    if account is None:
        return ""
    view = _view(account)
    return {
        "account_disabled": view["account_disabled"],
        "account_expires": view["account_expires"] or "never",
        "account_locked": view["account_locked"],
        "description": view["description"],
        "fullname": view["fullname"],
        "groups": [host.directory.name_of(sid) for sid in _groups_of(host.state, account["sid"])],
        "home_directory": view["home_directory"],
        "login_script": view["login_script"],
        "name": account["name"],
        "password": "REDACTED",
        "password_expired": view["password_expired"],
        "password_never_expires": view["password_never_expires"],
        "profile": view["profile"],
        "user_cannot_change_password": view["user_cannot_change_password"],
    }


def _desired_groups(host, groups: list[str]) -> list[str]:
    """The SIDs of the groups asked for; each must translate to a local group."""
    local = {sid.upper(): sid for sid in local_group_sids(host.state)}
    desired = []
    for entry in groups:
        if not entry.strip():
            continue
        try:
            sid = entry.upper() if SID_PATTERN.match(entry) else host.directory.resolve(entry).sid
        except HostError as error:
            raise HostError(f"group '{entry}' not found") from error
        authority = entry.rpartition("\\")[0].upper()
        if authority in (".", host.computer_name) and sid.upper().startswith("S-1-5-32-"):
            # win_user calls NTAccount.Translate itself, which finds built-in groups
            # under BUILTIN only, not under the computer's name.
            raise HostError(f"group '{entry}' not found")
        if sid.upper() not in local:
            raise HostError(f"group '{entry}' not found")
        if local[sid.upper()] not in desired:
            desired.append(local[sid.upper()])
    return desired


def _apply_attributes(params: dict, account: dict, after: dict) -> bool:
    """Set every option that differs from the account, recording it in the diff; True if any did."""
    changed = False
    view = _view(account)
    expires = _parse_expiry(params["account_expires"])
    for option in _ATTRIBUTE_OPTIONS:
        wanted = expires if option == "account_expires" else params[option]
        if wanted is None:
            continue
        current = (view[option] or "never") if option == "account_expires" else view[option]
        if option in _CASE_SENSITIVE or not isinstance(wanted, str) or not isinstance(current, str):
            differs = wanted != current
        else:
            differs = wanted.lower() != current.lower()
        if differs:
            # An account that never expires has no expiry date at all.
            account[option] = None if option == "account_expires" and wanted == "never" else wanted
            after[option] = wanted
            changed = True
    return changed


def _apply_groups(host, params: dict, account: dict, after: dict, check_mode: bool) -> bool:
    state = host.state
    desired = _desired_groups(host, params["groups"])
    existing = _groups_of(state, account["sid"])
    action = params["groups_action"]
    to_add = [g for g in desired if g not in existing] if action in ("add", "replace") else []
    if action == "remove":
        to_remove = [g for g in desired if g in existing]
    elif action == "replace":
        to_remove = [g for g in existing if g not in desired]
    else:
        to_remove = []
    for group in to_add:
        if not check_mode:
            state["local_groups"].setdefault(group, []).append(account["sid"])
        # The real module's diff mixes translated names with these bare ones.
        after["groups"].append(bare_name(host.directory.name_of(group)))
    for group in to_remove:
        if not check_mode:
            state["local_groups"][group] = [m for m in state["local_groups"][group] if m.upper() != account["sid"].upper()]
        name = bare_name(host.directory.name_of(group))
        if name in after["groups"]:
            after["groups"].remove(name)
    return bool(to_add or to_remove)


def _present(host, params: dict, check_mode: bool, account: dict | None, diff: dict) -> tuple[bool, dict | None]:
    state, password = host.state, params["password"]
    changed = False
    if account is None:
        diff["after"] = {"name": params["name"]}
        new = {"name": params["name"], "type": "user"}
        if password is not None:
            diff["after"]["password"] = "REDACTED"
        if check_mode:
            return True, None
        _set_password(new, password or "", "SetInfo")
        principal = host.directory.add_local(state, params["name"], "user")
        account = next(a for a in state["local_accounts"] if a["sid"] == principal.sid)
        account.update(new)
        changed = True

    after = _diff_view(host, account)
    diff["after"] = after
    if password is not None and params["update_password"] == "always":
        view = _view(account)
        matches = (not view["account_disabled"] and not view["password_expired"]
                   and password_matches(account.get("password_sha256"), password))
        if not matches:
            if not check_mode:
                _set_password(account, password, "SetPassword")
            after["password"] = "CHANGED REDACTED"
            changed = True

    target = account if not check_mode else dict(account)
    changed = _apply_attributes(params, target, after) or changed
    if params["groups"] is not None:
        changed = _apply_groups(host, params, account, after, check_mode) or changed
    return changed, account


def _result_details(host, account: dict) -> dict:
    view = _view(account)
    return {
        "fullname": view["fullname"],
        "path": _ads_path(host, account["name"]),
        "description": view["description"],
        "password_expired": view["password_expired"],
        "password_never_expires": view["password_never_expires"],
        "user_cannot_change_password": view["user_cannot_change_password"],
        "account_disabled": view["account_disabled"],
        "account_locked": view["account_locked"],
        "sid": account["sid"],
        "groups": [{"name": bare_name(host.directory.name_of(group)),
                    "path": _ads_path(host, bare_name(host.directory.name_of(group)))}
                   for group in _groups_of(host.state, account["sid"])],
    }


@stock_module("ansible.windows.win_user", secret_options=("password",))
def win_user(host, params: dict, check_mode: bool, diff_mode: bool) -> dict:
    """Follows win_user.ps1: present, absent or query, then the details of the user as it now is."""
    state, name, wanted = host.state, params["name"], params["state"]
    if params["account_locked"] is True:
        raise HostError("account_locked must be set to 'no' if provided")
    _parse_expiry(params["account_expires"])

    account = _find_user(state, name)
    diff = {"before": _diff_view(host, account), "after": ""}
    result: dict = {"changed": False}
    if wanted == "present":
        result["changed"], account = _present(host, params, check_mode, account, diff)
        result["state"] = "present"
    elif wanted == "absent":
        if account is not None:
            if not check_mode:
                state["local_accounts"].remove(account)
                for group in state["local_groups"]:
                    state["local_groups"][group] = [m for m in state["local_groups"][group]
                                                    if m.upper() != account["sid"].upper()]
            result.update(changed=True, msg=f"User '{account['name']}' deleted successfully")
        else:
            result["msg"] = f"User '{name}' was not found"
        result["state"] = "absent"
    else:
        result.update(msg=f"Querying user '{name}'", state="present" if account else "absent")
        diff["after"] = diff["before"]

    account = _find_user(state, name)
    result["name"] = name
    if account is not None:
        result.update(_result_details(host, account))
    if diff_mode:
        result["diff"] = diff
    return result
