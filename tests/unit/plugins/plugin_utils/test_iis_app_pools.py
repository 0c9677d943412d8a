"""Controller-side validation and planning of pkiops.keyfactor_command.iis_app_pools."""

from __future__ import annotations

import json

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._iis_app_pools_spec import POOL_OPTIONS
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._iis_app_pools import (
    PASSWORD_CHANGED,
    PASSWORD_KEPT,
    normalise_pools,
    passwords_secret,
    plan,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import (
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
# What a new pool gets when the task gives only its name.
DEFAULT_SETTINGS = {
    "managed_runtime_version": "v4.0",
    "pipeline_mode": "Integrated",
    "load_user_profile": True,
    "start_mode": "OnDemand",
    "auto_start": True,
    "enable_32bit": False,
}


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
    }
    info.update(overrides)
    return info


def service_account_existing(name: str = "KeyfactorPortal", **overrides) -> dict:
    return existing(name, **dict({"identity_type": "SpecificUser", "username": SVC, "password_set": True, "password_matches": True}, **overrides))


def missing() -> dict:
    return {"exists": False}


def probe(pools: dict) -> dict:
    return {"iis_installed": True, "pools": pools}


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


def test_normalise_pools_skips_identity_checks_for_an_absent_pool():
    pools = [pool(state="absent", identity_type="NetworkService", username=SVC, password=PASSWORD)]
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


def test_a_changed_password_recycles_a_started_pool():
    current = probe({"KeyfactorPortal": service_account_existing(password_matches=False)})
    operation = only_operation(plan([service_account_pool(password=PASSWORD)], current, False))
    assert operation["recycle"] is True
    assert operation["run_state"] is None


def test_a_changed_password_is_reported_as_password_and_recycled():
    current = probe({"KeyfactorPortal": service_account_existing(password_matches=False)})
    result = plan([service_account_pool(password=PASSWORD)], current, False)
    assert result.result["changes"] == {"KeyfactorPortal": ["password", "recycled"]}


def test_an_omitted_password_keeps_the_configured_one():
    current = probe({"KeyfactorPortal": service_account_existing(password_matches=None)})
    result = plan([service_account_pool(enable_32bit=True)], current, False)
    assert only_operation(result)["identity"] is None


def test_an_identity_type_change_recycles_a_started_pool():
    result = plan([pool(identity_type="NetworkService")], probe({"KeyfactorPortal": existing()}), False)
    operation = only_operation(result)
    assert operation["identity"] == {"type": "NetworkService", "username": None, "password": "keep"}
    assert operation["recycle"] is True
    assert result.result["changes"] == {"KeyfactorPortal": ["identity", "recycled"]}


def test_an_identity_type_change_does_not_recycle_a_stopped_pool():
    result = plan([pool(identity_type="NetworkService", started=False)], probe({"KeyfactorPortal": existing(state="Stopped")}), False)
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
    assert result.result["changes"] == {"KeyfactorPortal": ["identity", "password", "recycled"]}


def test_started_false_stops_a_started_pool():
    result = plan([pool(started=False)], probe({"KeyfactorPortal": existing()}), False)
    assert only_operation(result)["run_state"] == "stop"
    assert result.result["changes"] == {"KeyfactorPortal": ["stopped"]}


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
    assert result.result["changes"] == {"KeyfactorPortal": ["password", "recycled"]}
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
    assert result.result["pools"]["KeyfactorPortal"] == dict(DEFAULT_SETTINGS, state="stopped", identity_type="SpecificUser", username=SVC)


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
