"""Controller-side validation and planning of pkiops.keyfactor_command.iis_app_pools."""

from __future__ import annotations

import json

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._iis_app_pools_spec import POOL_OPTIONS
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._iis_app_pools import (
    PASSWORD_CHANGED,
    PASSWORD_KEPT,
    normalise_pools,
    probe_parameters,
    passwords_secret,
    plan,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    PlanError,
    Secret,
    TaskInputError,
    UnexpectedProbeResult,
)

PASSWORD = "Sup3r-Secret!Pa55"
OTHER_PASSWORD = "An0ther-Secret!Pa55"
SVC = "CONTOSO\\svc_keyfactor"
GMSA = "CONTOSO\\gmsa_keyfactor$"
BUILT_IN_IDENTITIES = ["ApplicationPoolIdentity", "NetworkService", "LocalService", "LocalSystem"]
DOMAIN_SID = "S-1-5-21-1004336348-1177238915-682003330"
# What the host resolves each account name of these tests to; names differing only in case are the same account.
SIDS = {SVC: f"{DOMAIN_SID}-1105", GMSA: f"{DOMAIN_SID}-1106", "CONTOSO\\svc_old": f"{DOMAIN_SID}-1107"}
# What a new pool gets when the task gives only its name.
DEFAULT_SETTINGS = {
    "managed_runtime_version": "v4.0",
    "pipeline_mode": "Integrated",
    "load_user_profile": True,
    "start_mode": "OnDemand",
    "auto_start": True,
    "enable_32bit": False,
}


def sid_of(name: str) -> str | None:
    return next((sid for known, sid in SIDS.items() if known.lower() == name.lower()), None) if name else None


def pool(name: str = "KeyfactorPortal", **options) -> dict:
    """One entry of ``pools`` as the argument spec returns it: every option present, defaults filled in."""
    entry = {key: spec.get("default") for key, spec in POOL_OPTIONS.items()}
    entry.update(name=name, **options)
    return entry


def service_account_pool(name: str = "KeyfactorPortal", **options) -> dict:
    return pool(name, identity_type="SpecificUser", username=SVC, **options)


def existing(name: str = "KeyfactorPortal", **overrides) -> dict:
    """The probe's report of a pool that exists and matches the defaults, as the payload promises it."""
    info = {
        "exists": True,
        "name": name,
        "state": "Started",
        "managed_runtime_version": "v4.0",
        "pipeline_mode": "Integrated",
        "identity_type": "ApplicationPoolIdentity",
        "username": "",
        "password_set": False,
        "password_matches": None,
        "load_user_profile": True,
        "start_mode": "OnDemand",
        "auto_start": True,
        "enable_32bit": False,
        "idle_timeout_minutes": 20,
        "periodic_restart_minutes": 1740,
        "disallow_rotation_on_config_change": False,
    }
    info.update(overrides)
    info.setdefault("sid", sid_of(info["username"]))
    return info


def service_account_existing(name: str = "KeyfactorPortal", **overrides) -> dict:
    return existing(name, **dict({"identity_type": "SpecificUser", "username": SVC, "password_set": True, "password_matches": True}, **overrides))


def missing() -> dict:
    return {"exists": False}


def resolved(*names: str) -> list[dict]:
    """The probe's resolution of account names, as Resolve-PrincipalList reports it."""
    entries = []
    for name in names:
        sid = sid_of(name)
        entries.append({"input": name, "sid": sid, "name": name if sid else None,
                        "error": None if sid else "Some or all identity references could not be translated."})
    return entries


ACCOUNTS = resolved(*SIDS)


def probe(pools: dict, accounts: list | None = None) -> dict:
    return {"iis_installed": True, "pools": pools, "accounts": ACCOUNTS if accounts is None else accounts}


NOT_INSTALLED = {
    "iis_installed": False,
    "error": "Could not load file or assembly 'Microsoft.Web.Administration, Version=7.0.0.0' or one of its dependencies.",
    "pools": {},
}


def only_operation(result) -> dict:
    assert len(result.operations) == 1
    return result.operations[0]


# --- normalise_pools --------------------------------------------------------------------------


def test_normalise_pools_returns_valid_pools_unchanged():
    pools = [pool("KeyfactorPortal"), service_account_pool("KeyfactorApi", password=PASSWORD), pool("DefaultAppPool", state="absent")]
    assert normalise_pools(pools) == pools


def test_normalise_pools_rejects_names_differing_only_in_case_naming_both_indexes():
    with pytest.raises(TaskInputError) as raised:
        normalise_pools([pool("KeyfactorPortal"), pool("KeyfactorApi"), pool("keyfactorportal")])
    assert str(raised.value) == (
        "pools[2] ('keyfactorportal'): the name is also listed as pools[0] (IIS pool names are not case-sensitive)"
    )


def test_normalise_pools_rejects_a_duplicate_name_even_when_one_entry_is_absent():
    with pytest.raises(TaskInputError, match=r"pools\[1\] \('KEYFACTORPORTAL'\): the name is also listed as pools\[0\]"):
        normalise_pools([pool("KeyfactorPortal"), pool("KEYFACTORPORTAL", state="absent")])


@pytest.mark.parametrize("name", ["", " KeyfactorPortal", "KeyfactorPortal ", "   "])
def test_normalise_pools_rejects_an_empty_or_space_padded_name(name):
    with pytest.raises(TaskInputError, match=r"pools\[0\] .*: name must be non-empty, without leading or trailing spaces"):
        normalise_pools([pool(name)])


def test_normalise_pools_rejects_a_name_with_a_control_character():
    with pytest.raises(TaskInputError, match="control characters"):
        normalise_pools([pool("Keyfactor\tPortal")])


@pytest.mark.parametrize("identity_type", BUILT_IN_IDENTITIES)
def test_normalise_pools_rejects_a_username_with_a_built_in_identity(identity_type):
    with pytest.raises(TaskInputError, match=f"username is only used with identity_type SpecificUser, not {identity_type}"):
        normalise_pools([pool(identity_type=identity_type, username=SVC)])


@pytest.mark.parametrize("identity_type", BUILT_IN_IDENTITIES)
def test_normalise_pools_rejects_a_password_with_a_built_in_identity(identity_type):
    with pytest.raises(TaskInputError, match=f"password is only used with identity_type SpecificUser, not {identity_type}"):
        normalise_pools([pool(identity_type=identity_type, password=PASSWORD)])


def test_normalise_pools_rejects_an_empty_password_with_a_built_in_identity():
    with pytest.raises(TaskInputError, match="password is only used with identity_type SpecificUser"):
        normalise_pools([pool(identity_type="NetworkService", password="")])


def test_normalise_pools_rejects_a_password_for_a_gmsa_and_names_the_account():
    with pytest.raises(TaskInputError) as raised:
        normalise_pools([pool(identity_type="SpecificUser", username=GMSA, password=PASSWORD)])
    assert str(raised.value) == (
        "pools[0] ('KeyfactorPortal'): CONTOSO\\gmsa_keyfactor$ is a group managed service account, which has no password; remove password"
    )


def test_normalise_pools_accepts_a_gmsa_without_password():
    pools = [pool(identity_type="SpecificUser", username=GMSA)]
    assert normalise_pools(pools) == pools


def test_normalise_pools_accepts_a_user_account_with_password():
    pools = [service_account_pool(password=PASSWORD)]
    assert normalise_pools(pools) == pools


@pytest.mark.parametrize("option", ["idle_timeout_minutes", "periodic_restart_minutes"])
def test_normalise_pools_rejects_negative_minutes(option):
    with pytest.raises(TaskInputError, match=f"pools\\[0\\] \\('KeyfactorPortal'\\): {option} must be between 0 \\(off\\) and"):
        normalise_pools([pool(**{option: -1})])


@pytest.mark.parametrize("option", ["idle_timeout_minutes", "periodic_restart_minutes"])
def test_normalise_pools_accepts_zero_minutes(option):
    pools = [pool(**{option: 0})]
    assert normalise_pools(pools) == pools


@pytest.mark.parametrize("options, named", [
    ({"identity_type": "NetworkService", "username": SVC, "password": PASSWORD}, "identity_type, username, password"),
    ({"username": ""}, "username"),
    ({"idle_timeout_minutes": -1}, "idle_timeout_minutes"),
    ({"enable_32bit": True, "auto_start": False}, "auto_start, enable_32bit"),
], ids=["identity", "empty username", "negative minutes", "settings"])
def test_normalise_pools_refuses_options_of_a_present_pool_on_an_absent_one(options, named):
    with pytest.raises(TaskInputError) as raised:
        normalise_pools([pool(state="absent", **options)])
    assert str(raised.value) == (f"pools[0] ('KeyfactorPortal'): state is absent, which removes the pool; remove {named} "
                                 "(they describe a pool that is present)")


def test_normalise_pools_accepts_an_absent_pool_with_only_its_name():
    pools = [pool(state="absent")]
    assert normalise_pools(pools) == pools


# --- passwords_secret -------------------------------------------------------------------------


def test_passwords_secret_sends_only_present_pools_with_a_password_as_one_json_map():
    secrets = passwords_secret([
        service_account_pool("KeyfactorPortal", password=PASSWORD),
        service_account_pool("KeyfactorApi"),
        service_account_pool("KeyfactorOld", state="absent", password=OTHER_PASSWORD),
        service_account_pool("KeyfactorLogi", password=OTHER_PASSWORD),
    ])
    assert list(secrets) == ["Passwords"]
    assert json.loads(secrets["Passwords"].value) == {"KeyfactorPortal": PASSWORD, "KeyfactorLogi": OTHER_PASSWORD}


def test_passwords_secret_is_a_plain_value_secret():
    secret = passwords_secret([service_account_pool(password=PASSWORD)])["Passwords"]
    assert secret == Secret(value=json.dumps({"KeyfactorPortal": PASSWORD}))


def test_passwords_secret_is_empty_without_passwords():
    assert not passwords_secret([pool("KeyfactorPortal"), service_account_pool("KeyfactorApi")])


def test_passwords_secret_is_empty_for_an_empty_list():
    assert not passwords_secret([])


# --- plan: a new pool -------------------------------------------------------------------------


def test_a_new_pool_is_one_create_with_every_default_setting_and_started():
    result = plan([pool()], probe({"KeyfactorPortal": missing()}), check_mode=False)
    assert result.operations == [{
        "pool": "KeyfactorPortal",
        "action": "create",
        "settings": DEFAULT_SETTINGS,
        "identity": {"type": "ApplicationPoolIdentity", "username": None, "password": "keep"},
        "run_state": "start",
        "recycle": False,
    }]


def test_no_managed_code_is_sent_as_the_empty_runtime_version():
    operation = only_operation(plan([pool(managed_runtime_version="no_managed_code")], probe({"KeyfactorPortal": missing()}), False))
    assert operation["settings"]["managed_runtime_version"] == ""


def test_a_new_pool_with_minutes_given_creates_it_with_them():
    operation = only_operation(plan([pool(idle_timeout_minutes=0, periodic_restart_minutes=0)], probe({"KeyfactorPortal": missing()}), False))
    assert operation["settings"] == dict(DEFAULT_SETTINGS, idle_timeout_minutes=0, periodic_restart_minutes=0)


def test_a_new_pool_with_a_user_account_sets_its_password():
    operation = only_operation(plan([service_account_pool(password=PASSWORD)], probe({"KeyfactorPortal": missing()}), False))
    assert operation["identity"] == {"type": "SpecificUser", "username": SVC, "password": "set"}


def test_a_new_pool_that_should_be_stopped_is_created_then_stopped():
    operation = only_operation(plan([pool(started=False)], probe({"KeyfactorPortal": missing()}), False))
    assert (operation["action"], operation["run_state"], operation["recycle"]) == ("create", "stop", False)


def test_a_new_pool_is_reported_as_created_only():
    result = plan([pool()], probe({"KeyfactorPortal": missing()}), False)
    assert result.result["changes"] == {"KeyfactorPortal": ["created"]}


def test_a_new_pool_appears_only_after_in_the_diff():
    result = plan([pool()], probe({"KeyfactorPortal": missing()}), False)
    assert result.before == {}
    assert result.after == {"KeyfactorPortal": dict(DEFAULT_SETTINGS, state="started", identity_type="ApplicationPoolIdentity")}


# --- plan: steady state ----------------------------------------------------------------------


def test_a_pool_as_wanted_needs_no_operation():
    result = plan([pool()], probe({"KeyfactorPortal": existing()}), False)
    assert result.operations == []
    assert result.result["changes"] == {}


def test_a_pool_as_wanted_has_equal_before_and_after():
    result = plan([pool()], probe({"KeyfactorPortal": existing()}), False)
    assert result.before == result.after
    assert "KeyfactorPortal" in result.before


def test_a_user_account_pool_with_a_matching_password_needs_no_operation():
    result = plan([service_account_pool(password=PASSWORD)], probe({"KeyfactorPortal": service_account_existing()}), False)
    assert result.operations == []
    assert result.before == result.after


def test_a_no_managed_code_pool_reported_with_an_empty_runtime_version_needs_no_operation():
    result = plan([pool(managed_runtime_version="no_managed_code")], probe({"KeyfactorPortal": existing(managed_runtime_version="")}), False)
    assert result.operations == []


def test_an_empty_runtime_version_is_shown_as_no_managed_code():
    result = plan([pool(managed_runtime_version="no_managed_code")], probe({"KeyfactorPortal": existing(managed_runtime_version="")}), False)
    assert result.result["pools"]["KeyfactorPortal"]["managed_runtime_version"] == "no_managed_code"


def test_a_username_differing_only_in_case_is_the_same_account():
    result = plan([service_account_pool()], probe({"KeyfactorPortal": service_account_existing(username=SVC.upper())}), False)
    assert result.operations == []


def test_minutes_left_unset_are_not_managed():
    result = plan([pool()], probe({"KeyfactorPortal": existing(idle_timeout_minutes=5, periodic_restart_minutes=0)}), False)
    assert result.operations == []


def test_minutes_left_unset_keep_the_host_value_in_the_result():
    result = plan([pool()], probe({"KeyfactorPortal": existing(idle_timeout_minutes=5, periodic_restart_minutes=0)}), False)
    assert result.result["pools"]["KeyfactorPortal"]["idle_timeout_minutes"] == 5
    assert result.result["pools"]["KeyfactorPortal"]["periodic_restart_minutes"] == 0


# --- plan: updates ----------------------------------------------------------------------------


def test_a_setting_difference_updates_only_that_setting():
    operation = only_operation(plan([pool(enable_32bit=True)], probe({"KeyfactorPortal": existing()}), False))
    assert operation == {"pool": "KeyfactorPortal", "action": "update", "settings": {"enable_32bit": True},
                         "identity": None, "run_state": None, "recycle": False}


def test_a_setting_difference_is_reported_by_option_name():
    result = plan([pool(enable_32bit=True)], probe({"KeyfactorPortal": existing()}), False)
    assert result.result["changes"] == {"KeyfactorPortal": ["enable_32bit"]}


def test_a_minutes_difference_updates_only_that_setting():
    operation = only_operation(plan([pool(idle_timeout_minutes=0)], probe({"KeyfactorPortal": existing()}), False))
    assert operation["settings"] == {"idle_timeout_minutes": 0}


def test_a_changed_password_sets_it():
    current = probe({"KeyfactorPortal": service_account_existing(password_matches=False)})
    operation = only_operation(plan([service_account_pool(password=PASSWORD)], current, False))
    assert operation["identity"] == {"type": "SpecificUser", "username": SVC, "password": "set"}


def test_a_changed_password_leaves_the_restart_of_the_worker_process_to_was():
    # WAS rotates a running pool's worker process on a configuration change by itself; recycling it too would
    # restart it twice.
    current = probe({"KeyfactorPortal": service_account_existing(password_matches=False)})
    operation = only_operation(plan([service_account_pool(password=PASSWORD)], current, False))
    assert operation["recycle"] is False
    assert operation["run_state"] is None


def test_a_changed_password_is_reported_as_password():
    current = probe({"KeyfactorPortal": service_account_existing(password_matches=False)})
    result = plan([service_account_pool(password=PASSWORD)], current, False)
    assert result.result["changes"] == {"KeyfactorPortal": ["password"]}


def test_a_changed_password_recycles_a_started_pool_that_was_does_not_rotate():
    current = probe({"KeyfactorPortal": service_account_existing(password_matches=False, disallow_rotation_on_config_change=True)})
    result = plan([service_account_pool(password=PASSWORD)], current, False)
    assert (only_operation(result)["recycle"], only_operation(result)["run_state"]) == (True, None)
    assert result.result["changes"] == {"KeyfactorPortal": ["password", "recycled"]}


def test_an_omitted_password_keeps_the_configured_one():
    current = probe({"KeyfactorPortal": service_account_existing(password_matches=None)})
    result = plan([service_account_pool(enable_32bit=True)], current, False)
    assert only_operation(result)["identity"] is None


def test_an_identity_type_change_recycles_a_started_pool_only_when_was_does_not_rotate_it():
    for rotates, recycled in ((True, []), (False, ["recycled"])):
        result = plan([pool(identity_type="NetworkService")],
                      probe({"KeyfactorPortal": existing(disallow_rotation_on_config_change=not rotates)}), False)
        operation = only_operation(result)
        assert operation["identity"] == {"type": "NetworkService", "username": None, "password": "keep"}
        assert operation["recycle"] is not rotates
        assert result.result["changes"] == {"KeyfactorPortal": ["identity", *recycled]}


def test_an_identity_type_change_does_not_recycle_a_stopped_pool():
    result = plan([pool(identity_type="NetworkService", started=False)],
                  probe({"KeyfactorPortal": existing(state="Stopped", auto_start=False, disallow_rotation_on_config_change=True)}),
                  False)
    operation = only_operation(result)
    assert operation["recycle"] is False
    assert operation["run_state"] is None
    assert result.result["changes"] == {"KeyfactorPortal": ["identity"]}


def test_an_identity_change_on_a_pool_being_stopped_does_not_recycle_it():
    operation = only_operation(plan([pool(identity_type="NetworkService", started=False)], probe({"KeyfactorPortal": existing()}), False))
    assert (operation["run_state"], operation["recycle"]) == ("stop", False)


def test_switching_to_another_account_with_its_password_sets_both():
    current = probe({"KeyfactorPortal": service_account_existing(username="CONTOSO\\svc_old", password_matches=False)})
    result = plan([service_account_pool(password=PASSWORD)], current, False)
    assert only_operation(result)["identity"] == {"type": "SpecificUser", "username": SVC, "password": "set"}
    assert result.result["changes"] == {"KeyfactorPortal": ["identity", "password"]}


def test_started_false_stops_a_started_pool_and_turns_its_auto_start_off():
    result = plan([pool(started=False)], probe({"KeyfactorPortal": existing()}), False)
    assert (only_operation(result)["run_state"], only_operation(result)["settings"]) == ("stop", {"auto_start": False})
    assert result.result["changes"] == {"KeyfactorPortal": ["auto_start", "stopped"]}
    assert (result.before["KeyfactorPortal"]["auto_start"], result.after["KeyfactorPortal"]["auto_start"]) == (True, False)


def test_started_true_starts_a_stopped_pool():
    result = plan([pool()], probe({"KeyfactorPortal": existing(state="Stopped")}), False)
    assert only_operation(result)["run_state"] == "start"
    assert result.result["changes"] == {"KeyfactorPortal": ["started"]}


def test_a_gmsa_on_a_pool_with_a_stored_password_clears_it():
    current = probe({"KeyfactorPortal": existing(identity_type="SpecificUser", username=GMSA, password_set=True)})
    operation = only_operation(plan([pool(identity_type="SpecificUser", username=GMSA)], current, False))
    assert operation["identity"] == {"type": "SpecificUser", "username": GMSA, "password": "clear"}


def test_clearing_a_gmsa_pools_stored_password_is_reported_and_shown_as_markers():
    current = probe({"KeyfactorPortal": existing(identity_type="SpecificUser", username=GMSA, password_set=True)})
    result = plan([pool(identity_type="SpecificUser", username=GMSA)], current, False)
    assert result.result["changes"] == {"KeyfactorPortal": ["password"]}
    assert result.before["KeyfactorPortal"]["password"] == "(hidden, unchanged)"
    assert result.after["KeyfactorPortal"]["password"] == "(none)"


def test_a_gmsa_without_a_stored_password_needs_no_operation():
    current = probe({"KeyfactorPortal": existing(identity_type="SpecificUser", username=GMSA, password_set=False)})
    assert plan([pool(identity_type="SpecificUser", username=GMSA)], current, False).operations == []


def test_a_new_gmsa_pool_is_created_without_a_password():
    operation = only_operation(plan([pool(identity_type="SpecificUser", username=GMSA)], probe({"KeyfactorPortal": missing()}), False))
    assert operation["identity"] == {"type": "SpecificUser", "username": GMSA, "password": "clear"}


def test_creating_a_user_account_pool_without_password_is_a_plan_error():
    with pytest.raises(PlanError) as raised:
        plan([service_account_pool()], probe({"KeyfactorPortal": missing()}), False)
    assert str(raised.value) == "pools[0] ('KeyfactorPortal'): a password is needed to create the pool with a user account (not a gMSA)"


def test_switching_username_without_password_is_a_plan_error():
    current = probe({"KeyfactorPortal": service_account_existing(username="CONTOSO\\svc_old", password_matches=None)})
    with pytest.raises(PlanError, match=r"a password is needed to change its identity to CONTOSO\\svc_keyfactor"):
        plan([service_account_pool()], current, False)


def test_switching_from_a_built_in_identity_to_a_user_account_without_password_is_a_plan_error():
    with pytest.raises(PlanError, match="a password is needed to change its identity"):
        plan([service_account_pool()], probe({"KeyfactorPortal": existing()}), False)


# --- plan: removal ------------------------------------------------------------------------------


def test_an_absent_pool_that_exists_is_removed():
    result = plan([pool(state="absent")], probe({"KeyfactorPortal": existing()}), False)
    assert result.operations == [{"pool": "KeyfactorPortal", "action": "remove"}]
    assert result.result["changes"] == {"KeyfactorPortal": ["removed"]}


def test_a_removed_pool_appears_only_before_in_the_diff():
    result = plan([pool(state="absent")], probe({"KeyfactorPortal": existing()}), False)
    assert set(result.before) == {"KeyfactorPortal"}
    assert result.after == {}


def test_an_absent_pool_that_is_missing_needs_nothing():
    result = plan([pool(state="absent")], probe({"KeyfactorPortal": missing()}), False)
    assert result.operations == []
    assert result.result == {"pools": {}, "changes": {}}


def test_the_result_lists_only_present_pools():
    result = plan([pool("KeyfactorPortal"), pool("DefaultAppPool", state="absent")],
                  probe({"KeyfactorPortal": existing(), "DefaultAppPool": existing("DefaultAppPool")}), False)
    assert list(result.result["pools"]) == ["KeyfactorPortal"]


# --- plan: IIS not installed -----------------------------------------------------------------


def test_iis_not_installed_is_a_plan_error_outside_check_mode():
    with pytest.raises(PlanError) as raised:
        plan([pool()], NOT_INSTALLED, check_mode=False)
    assert str(raised.value).startswith("IIS is not installed on the host; install the Web-Server feature first (Could not load file")


def test_iis_not_installed_is_a_warning_in_check_mode():
    result = plan([pool()], NOT_INSTALLED, check_mode=True)
    assert result.warnings == ["IIS is not installed yet; in check mode every pool is reported as to be created"]


def test_iis_not_installed_in_check_mode_reports_every_present_pool_as_created():
    result = plan([pool("KeyfactorPortal"), pool("KeyfactorApi"), pool("DefaultAppPool", state="absent")], NOT_INSTALLED, check_mode=True)
    assert [(op["pool"], op["action"]) for op in result.operations] == [("KeyfactorPortal", "create"), ("KeyfactorApi", "create")]


# --- plan: passwords never in the plan -------------------------------------------------------

PASSWORD_SCENARIOS = {
    "new pool": probe({"KeyfactorPortal": missing()}),
    "password differs": probe({"KeyfactorPortal": service_account_existing(password_matches=False)}),
    "password matches": probe({"KeyfactorPortal": service_account_existing(password_matches=True)}),
    "account changes": probe({"KeyfactorPortal": service_account_existing(username="CONTOSO\\svc_old", password_matches=False)}),
}


@pytest.mark.parametrize("current", PASSWORD_SCENARIOS.values(), ids=PASSWORD_SCENARIOS.keys())
def test_the_password_is_nowhere_in_the_plan(current):
    result = plan([service_account_pool(password=PASSWORD)], current, False)
    assert PASSWORD not in json.dumps([result.operations, result.before, result.after, result.result, result.warnings])


def test_a_changed_password_is_shown_as_markers_in_the_diff():
    result = plan([service_account_pool(password=PASSWORD)], probe({"KeyfactorPortal": service_account_existing(password_matches=False)}), False)
    assert result.before["KeyfactorPortal"]["password"] == PASSWORD_KEPT == "(hidden, unchanged)"
    assert result.after["KeyfactorPortal"]["password"] == PASSWORD_CHANGED == "(hidden, changed)"


def test_a_matching_password_is_shown_as_unchanged_on_both_sides_of_the_diff():
    result = plan([service_account_pool(password=PASSWORD)], probe({"KeyfactorPortal": service_account_existing(password_matches=True)}), False)
    assert result.before["KeyfactorPortal"]["password"] == "(hidden, unchanged)"
    assert result.after["KeyfactorPortal"]["password"] == "(hidden, unchanged)"


def test_the_password_of_a_new_pool_is_shown_as_changed():
    result = plan([service_account_pool(password=PASSWORD)], probe({"KeyfactorPortal": missing()}), False)
    assert result.after["KeyfactorPortal"]["password"] == "(hidden, changed)"


def test_a_pool_without_a_password_option_has_no_password_in_the_diff():
    result = plan([service_account_pool()], probe({"KeyfactorPortal": service_account_existing()}), False)
    assert "password" not in result.before["KeyfactorPortal"]
    assert "password" not in result.after["KeyfactorPortal"]


def test_the_result_pools_exclude_the_password_marker():
    result = plan([service_account_pool(password=PASSWORD)], probe({"KeyfactorPortal": service_account_existing(password_matches=False)}), False)
    assert "password" in result.after["KeyfactorPortal"]
    assert "password" not in result.result["pools"]["KeyfactorPortal"]


def test_the_result_pools_show_the_pool_as_it_will_be():
    result = plan([service_account_pool(password=PASSWORD, started=False)], probe({"KeyfactorPortal": missing()}), False)
    assert result.result["pools"]["KeyfactorPortal"] == dict(DEFAULT_SETTINGS, auto_start=False, state="stopped",
                                                             identity_type="SpecificUser", username=SVC)


# --- plan: the probe's promise ----------------------------------------------------------------


def test_a_probe_that_leaves_out_a_requested_pool_is_unexpected():
    with pytest.raises(UnexpectedProbeResult):
        plan([pool("KeyfactorPortal"), pool("DefaultAppPool", state="absent")], probe({}), False)


def test_normalise_pools_rejects_an_idle_timeout_longer_than_iis_allows():
    with pytest.raises(TaskInputError, match="idle_timeout_minutes must be between 0 \\(off\\) and 43200 minutes, not 43201"):
        normalise_pools([pool(idle_timeout_minutes=43201)])


def test_normalise_pools_rejects_an_empty_password_for_a_user_account():
    with pytest.raises(TaskInputError, match="password is empty"):
        normalise_pools([service_account_pool(password="")])


def test_a_gmsa_written_as_a_upn_is_recognised():
    with pytest.raises(TaskInputError, match="group managed service account"):
        normalise_pools([pool(identity_type="SpecificUser", username="gmsa_keyfactor$@contoso.com", password="x")])


def test_settings_left_out_keep_an_existing_pools_values():
    current = probe({"KeyfactorPortal": existing(identity_type="SpecificUser", username=SVC, password_set=True,
                                                 start_mode="AlwaysRunning", managed_runtime_version="")})
    result = plan([pool()], current, False)
    assert result.operations == []
    assert result.after == result.before


# --- names IIS refuses ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("character", list('\\/"|<>:*?][+=;,@&'))
def test_normalise_pools_refuses_a_name_with_a_character_iis_refuses(character):
    name = f"Keyfactor{character}Portal"
    with pytest.raises(TaskInputError) as raised:
        normalise_pools([pool(name)])
    assert str(raised.value).startswith(f"pools[0] ({name!r}): name holds {character!r}, which IIS "
                                        "refuses in a pool name (it refuses any of \\ / \" | < > : * ? ] [ + = ; , @ &)")


def test_normalise_pools_refuses_a_name_longer_than_iis_takes():
    with pytest.raises(TaskInputError, match=r"pools\[0\] .*: name is 65 characters long; IIS takes at most 64"):
        normalise_pools([pool("P" * 65)])


def test_normalise_pools_accepts_the_longest_name_iis_takes_and_the_characters_it_allows():
    pools = [pool("P" * 64), pool(".NET v4.5 Classic"), pool("Keyfactor_Portal-1 (x)'~#$%")]
    assert normalise_pools(pools) == pools


def test_a_refused_name_of_an_absent_pool_is_refused_too():
    with pytest.raises(TaskInputError, match="which IIS refuses in a pool name"):
        normalise_pools([pool("a/b", state="absent")])


# --- periodic_restart_minutes and auto_start ------------------------------------------------------------------------


def test_normalise_pools_refuses_a_restart_interval_longer_than_was_supports():
    with pytest.raises(TaskInputError, match=r"periodic_restart_minutes must be between 0 \(off\) and 71582 minutes, not 71583"):
        normalise_pools([pool(periodic_restart_minutes=71583)])


def test_normalise_pools_accepts_the_longest_restart_interval_was_supports():
    pools = [pool(periodic_restart_minutes=71582)]
    assert normalise_pools(pools) == pools


@pytest.mark.parametrize("started", [True, False])
def test_normalise_pools_refuses_an_auto_start_that_contradicts_started(started):
    with pytest.raises(TaskInputError) as raised:
        normalise_pools([pool(started=started, auto_start=not started)])
    assert str(raised.value).startswith(f"pools[0] ('KeyfactorPortal'): auto_start is {not started} but started is {started}; ")


def test_a_new_pool_that_should_be_stopped_is_created_without_auto_start():
    operation = only_operation(plan([pool(started=False)], probe({"KeyfactorPortal": missing()}), False))
    assert operation["settings"]["auto_start"] is False


def test_a_started_pool_whose_auto_start_is_off_gets_it_back():
    result = plan([pool()], probe({"KeyfactorPortal": existing(auto_start=False)}), False)
    assert only_operation(result)["settings"] == {"auto_start": True}
    assert result.result["changes"] == {"KeyfactorPortal": ["auto_start"]}


def test_a_stopped_pool_without_auto_start_needs_nothing():
    assert plan([pool(started=False)], probe({"KeyfactorPortal": existing(state="Stopped", auto_start=False)}), False).operations == []


@pytest.mark.parametrize("state, started", [("Starting", True), ("Stopping", False)])
def test_a_pool_on_its_way_to_the_wanted_state_is_not_started_or_stopped_again(state, started):
    current = probe({"KeyfactorPortal": existing(state=state, auto_start=started)})
    assert plan([pool(started=started)], current, False).operations == []


# --- accounts by SID --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username, hint", [
    ("S-1-5-20", "use identity_type NetworkService (without username) instead"),
    ("S-1-5-21-1004336348-1177238915-682003330-1105", "give the account's name"),
    ("NT AUTHORITY\\NETWORK SERVICE", "use identity_type NetworkService"),
    ("nt authority\\local service", "use identity_type LocalService"),
    ("NT AUTHORITY\\SYSTEM", "use identity_type LocalSystem"),
    ("LocalSystem", "use identity_type LocalSystem"),
    ("IIS APPPOOL\\KeyfactorPortal", "use identity_type ApplicationPoolIdentity"),
    ("BUILTIN\\IIS_IUSRS", "a pool runs as a user account or a group managed service account"),
    ("NT SERVICE\\W3SVC", "a pool runs as a user account"),
])
def test_normalise_pools_refuses_a_sid_or_a_built_in_account_as_username(username, hint):
    with pytest.raises(TaskInputError) as raised:
        normalise_pools([pool(identity_type="SpecificUser", username=username, password=PASSWORD)])
    assert str(raised.value).startswith(f"pools[0] ('KeyfactorPortal'): username {username!r} ")
    assert hint in str(raised.value)


def test_the_probe_is_asked_to_resolve_each_username_of_a_present_pool_once():
    pools = [service_account_pool("A", password=PASSWORD), service_account_pool("B"), pool("C"),
             pool("D", identity_type="SpecificUser", username=GMSA)]
    assert probe_parameters(pools) == {"Names": ["A", "B", "C", "D"], "Accounts": [SVC, GMSA]}


def test_the_probe_gets_no_accounts_when_no_pool_runs_as_a_user():
    assert probe_parameters([pool("A"), pool("B", state="absent")]) == {"Names": ["A", "B"]}


def test_a_username_spelt_otherwise_for_the_same_sid_is_the_same_account():
    upn = "svc_keyfactor@contoso.com"
    current = probe({"KeyfactorPortal": service_account_existing(username=".\\legacy-spelling", sid=SIDS[SVC])},
                    accounts=[{"input": upn, "sid": SIDS[SVC], "name": SVC, "error": None}])
    assert plan([pool(identity_type="SpecificUser", username=upn)], current, False).operations == []


def test_a_username_for_another_sid_is_another_account_even_when_spelt_alike():
    # The account the pool was configured with was deleted and created again: same name, new SID.
    current = probe({"KeyfactorPortal": service_account_existing(sid=f"{DOMAIN_SID}-2001", password_matches=True)})
    operation = only_operation(plan([service_account_pool(password=PASSWORD)], current, False))
    assert operation["identity"] == {"type": "SpecificUser", "username": SVC, "password": "set"}


def test_a_pool_whose_configured_account_no_longer_resolves_is_changed():
    current = probe({"KeyfactorPortal": service_account_existing(sid=None, password_matches=True)})
    assert only_operation(plan([service_account_pool(password=PASSWORD)], current, False))["identity"]["password"] == "set"


def test_a_username_that_does_not_resolve_fails_the_plan_before_any_pool_is_created():
    typo = "CONTOSO\\svc_keyfactr"
    pools = [service_account_pool("A", password=PASSWORD),
             pool("B", identity_type="SpecificUser", username=typo, password=PASSWORD), pool("C")]
    current = probe({"A": missing(), "B": missing(), "C": missing()}, accounts=resolved(SVC, typo))
    with pytest.raises(PlanError) as raised:
        plan(pools, current, False)
    assert str(raised.value) == (
        "pools[1] ('B'): username 'CONTOSO\\\\svc_keyfactr' does not resolve to an account on the host (Some or all "
        "identity references could not be translated.); no application pool was changed")


def test_in_check_mode_a_username_that_does_not_resolve_is_a_warning():
    typo = "CONTOSO\\svc_new"
    current = probe({"A": missing()}, accounts=resolved(typo))
    result = plan([pool("A", identity_type="SpecificUser", username=typo, password=PASSWORD)], current, True)
    assert result.warnings == [
        "pools[0] ('A'): username 'CONTOSO\\\\svc_new' does not resolve to an account on the host (Some or all identity "
        "references could not be translated.); in check mode the pool is planned as if an earlier task created the account"]
    assert result.result["changes"] == {"A": ["created"]}


@pytest.mark.parametrize("sid, hint", [
    ("S-1-5-20", "use identity_type NetworkService"),
    ("S-1-5-82-1-2-3-4-5", "use identity_type ApplicationPoolIdentity"),
    ("S-1-1-0", "a pool runs as a user account or a group managed service account"),
    ("S-1-5-32-568", "a pool runs as a user account"),
])
def test_a_username_that_resolves_to_a_built_in_account_is_refused_in_the_plan(sid, hint):
    localised = "NT-AUTORITÄT\\NETZWERKDIENST"
    current = probe({"KeyfactorPortal": missing()}, accounts=[{"input": localised, "sid": sid, "name": localised, "error": None}])
    with pytest.raises(PlanError) as raised:
        plan([pool(identity_type="SpecificUser", username=localised, password=PASSWORD)], current, False)
    assert str(raised.value).startswith(f"pools[0] ('KeyfactorPortal'): username {localised!r} is the built-in account or "
                                        f"group {sid}, not a user account")
    assert hint in str(raised.value)


def test_a_probe_without_the_accounts_asked_for_is_unexpected():
    with pytest.raises(UnexpectedProbeResult, match="no resolution for CONTOSO"):
        plan([service_account_pool(password=PASSWORD)], probe({"KeyfactorPortal": missing()}, accounts=[]), False)
