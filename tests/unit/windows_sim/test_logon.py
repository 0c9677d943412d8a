"""The simulator's LogonUser: the token a logon gets, and the groups a network logon's token shows."""

from __future__ import annotations

import pytest

from winsim.accounts import Directory
from winsim.errors import HostError
from winsim.logon import (
    LOGON32_LOGON_BATCH,
    LOGON32_LOGON_NETWORK,
    group_sids,
    logon_user,
    token_sids,
)
from winsim.passwords import hash_password
from winsim.state import complete

PASSWORD = "Sup3r-Secret!Pa55"
ADMINISTRATORS, GUESTS, NETWORK, BATCH = "S-1-5-32-544", "S-1-5-32-546", "S-1-5-2", "S-1-5-3"
LOCAL_ACCOUNT, LOCAL_ADMINISTRATOR = "S-1-5-113", "S-1-5-114"


def _host(*domain_accounts: dict) -> dict:
    """A member server with the local user kfpool (RID 1001) and the given domain accounts."""
    state = complete({"domain": {"accounts": list(domain_accounts)}}, "KF01")
    state["local_accounts"].append({"name": "kfpool", "type": "user", "sid": _local_sid(state),
                                    "password_sha256": hash_password(PASSWORD)})
    return state


def _local_sid(state: dict) -> str:
    return f"{state['host']['machine_sid']}-1001"


def _domain_sid(state: dict, rid: int) -> str:
    return f"{state['domain']['sid']}-{rid}".upper()


def test_a_local_accounts_token_says_it_is_a_local_account():
    state = _host()
    token = token_sids(state, _local_sid(state), LOGON32_LOGON_BATCH)
    assert LOCAL_ACCOUNT in token and LOCAL_ADMINISTRATOR not in token


def test_a_local_administrators_token_says_so_too():
    state = _host()
    state["local_groups"][ADMINISTRATORS].append(_local_sid(state))
    assert {LOCAL_ACCOUNT, LOCAL_ADMINISTRATOR} <= token_sids(state, _local_sid(state), LOGON32_LOGON_BATCH)


def test_a_domain_accounts_token_holds_the_domain_groups_its_seed_names():
    state = _host({"name": "svc_keyfactor", "type": "user", "member_of": ["Domain Admins"]})
    sid = next(a["sid"] for a in state["domain"]["accounts"] if a["name"] == "svc_keyfactor")
    token = token_sids(state, sid, LOGON32_LOGON_BATCH)
    # Domain Users always; Domain Admins from the seed, and through it the local Administrators group.
    assert {_domain_sid(state, 513), _domain_sid(state, 512), ADMINISTRATORS} <= token
    assert LOCAL_ACCOUNT not in token


def test_a_seed_naming_a_domain_group_that_does_not_exist_is_refused():
    state = _host({"name": "svc_keyfactor", "type": "user", "member_of": ["Domain Admns"]})
    sid = next(a["sid"] for a in state["domain"]["accounts"] if a["name"] == "svc_keyfactor")
    with pytest.raises(ValueError, match="'Domain Admns', which is no group of the domain"):
        token_sids(state, sid, LOGON32_LOGON_BATCH)


def test_a_deny_held_by_a_group_of_the_token_refuses_the_logon_type():
    state = _host()
    state["user_rights"]["SeBatchLogonRight"].append(_local_sid(state))
    assert logon_user(state, Directory(state), "KF01", "kfpool", PASSWORD, LOGON32_LOGON_BATCH) == 0
    state["local_groups"][GUESTS].append(_local_sid(state))
    state["user_rights"]["SeDenyBatchLogonRight"] = [GUESTS]
    assert logon_user(state, Directory(state), "KF01", "kfpool", PASSWORD, LOGON32_LOGON_BATCH) == 1385


def test_the_groups_of_a_network_logon_are_every_sid_of_its_token_but_the_account():
    state = _host()
    state["local_groups"][GUESTS].append(_local_sid(state))
    groups = group_sids(state, Directory(state), "KF01", "kfpool", PASSWORD)
    assert groups == token_sids(state, _local_sid(state), LOGON32_LOGON_NETWORK) - {_local_sid(state).upper()}
    assert {GUESTS, NETWORK, LOCAL_ACCOUNT} <= groups and BATCH not in groups


def test_no_groups_when_the_network_logon_is_refused():
    state = _host()
    state["user_rights"]["SeDenyNetworkLogonRight"] = [LOCAL_ACCOUNT]
    assert group_sids(state, Directory(state), "KF01", "kfpool", PASSWORD) is None


def test_reading_the_groups_with_a_wrong_password_fails_with_windows_message():
    state = _host()
    with pytest.raises(HostError, match="^The user name or password is incorrect.$") as failure:
        group_sids(state, Directory(state), "KF01", "kfpool", "wrong")
    assert failure.value.type_name == "System.ComponentModel.Win32Exception"
