"""Variables with a role's prefix that no role knows: found, with the closest documented names, before anything runs."""

from __future__ import annotations

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _profiles, _variables

PROFILE = {"name": "services", "title": "the Keyfactor Command Service"}


def test_what_the_roles_document_default_set_and_register_is_known():
    known = _variables.known()
    # Documented, defaulted, a role var, a fact the engine sets, a registered result, a play's own variable.
    for name in ("portal_identity_provider", "common_log_directory", "portal_profile", "common_steps", "common_snapshot",
                 "portal_readiness_requirements", "common_readiness_only", "common_unknown_variables"):
        assert name in known, name
    assert "portal_identity_provider" in _variables.documented()
    assert "common_steps" not in _variables.documented()


def test_a_misspelled_variable_is_found_with_the_name_it_was_meant_to_be():
    found = _variables.unknown(["portal_identity_provder", "portal_app_pool_pasword", "portal_identity_provider",
                                "ansible_user", "keyfactor_readiness_report_dir", "inventory_hostname"])
    assert found == [
        {"name": "portal_app_pool_pasword", "suggestions": ["portal_app_pool_password", "portal_app_pool_account"]},
        {"name": "portal_identity_provder", "suggestions": ["portal_identity_provider"]},
    ]


def test_the_message_names_each_variable_its_closest_names_and_the_way_on():
    text = _variables.message(_variables.unknown(["portal_identity_provder", "services_zzz_nothing_like_it"]))
    assert text == (
        "portal_identity_provder is not a variable of any role of pkiops.keyfactor_command, so it would be ignored. "
        "Did you mean portal_identity_provider? "
        "services_zzz_nothing_like_it is not a variable of any role of pkiops.keyfactor_command, so it would be ignored. "
        "Correct the name, or set common_unknown_variables=warn to go on with a warning.")


def test_an_unknown_variable_is_a_problem_or_with_warn_a_warning():
    names = ["portal_identity_provder", "common_log_directory"]
    failing = _profiles.steps(PROFILE, variables=names)
    assert len(failing["problems"]) == 1 and failing["problems"][0].startswith("portal_identity_provder is not")
    assert failing["warnings"] == []
    warning = _profiles.steps(PROFILE, variables=names, unknown_variables="warn")
    assert warning["problems"] == [] and warning["warnings"] == failing["problems"]


def test_without_the_host_s_variables_nothing_is_checked_and_a_bad_mode_is_refused():
    assert _profiles.steps(PROFILE)["problems"] == []
    assert _profiles.steps(PROFILE, variables=[], unknown_variables="ignore")["problems"] == [
        "common_unknown_variables must be one of fail, warn, not 'ignore'."]


def test_each_missing_variable_of_each_role_gets_a_line_of_its_own():
    results = [
        {"item": "portal", "failed": True, "argument_errors": ["missing required arguments: portal_app_pool_account"]},
        {"item": "ca_connector", "failed": True,
         "argument_errors": ["missing required arguments: ca_connector_app_pool_account, ca_connector_oauth_authority",
                             "argument 'ca_connector_log_access' is of type int and we were unable to convert to str"]},
        {"item": "services", "failed": True, "msg": "the file lookup failed"},
    ]
    assert _variables.argument_error_lines(results) == [
        "portal_app_pool_account is not set, and role pkiops.keyfactor_command.portal needs it.",
        "ca_connector_app_pool_account is not set, and role pkiops.keyfactor_command.ca_connector needs it.",
        "ca_connector_oauth_authority is not set, and role pkiops.keyfactor_command.ca_connector needs it.",
        "role pkiops.keyfactor_command.ca_connector: argument 'ca_connector_log_access' is of type int and we were "
        "unable to convert to str",
        "role pkiops.keyfactor_command.services: the file lookup failed",
    ]


def test_a_role_whose_variables_pass_gets_no_line():
    assert _variables.argument_error_lines([{"item": "portal", "failed": False, "argument_errors": []},
                                            {"item": "common", "failed": False, "msg": "The arg spec validation passed"}]) == []
