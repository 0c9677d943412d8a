"""host_snapshot's definition, without Ansible: it composes the definitions of the modules it reads for."""

from __future__ import annotations

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _snapshot
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import Context, TaskInputError
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._host_snapshot import DEFINITION, in_user_terms
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._user_rights import DEFINITION as USER_RIGHTS
from plugins.plugin_utils.spec_options import SpecError, validated

SVC = "CONTOSO\\svc_keyfactor"
SVC_SID = "S-1-5-21-1004336348-1177238915-682003330-1105"
RIGHTS = {"rights": {"seservicelogonright": [SVC]}}
POOLS = {"pools": [{"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": SVC, "password": "P@ss-w0rd!"}]}


def _validate(definition, args):
    try:
        return validated(definition.argument_spec, args, definition.spec_rules)
    except SpecError as error:
        raise TaskInputError(str(error)) from None


CONTEXT = Context(host="kf01", validate=_validate, change_marks={"user_rights": "a1"})


def checked(reads: list, checks: dict | None = None, context: Context = CONTEXT) -> dict:
    args = validated(DEFINITION.argument_spec, {"reads": reads, "checks": checks or {}}, DEFINITION.spec_rules)
    return DEFINITION.check_params(args, context)


def test_each_read_is_checked_by_its_modules_definition_and_probed_with_its_parameters():
    params = checked([{"module": "user_rights", "options": RIGHTS}, {"module": "iis_app_pools", "options": POOLS}])
    rights, pools = params["reads"]
    assert rights["params"]["rights"] == {"SeServiceLogonRight": [SVC]}, "user_rights' check_params ran"
    assert rights["probe"] == USER_RIGHTS.probe_parameters(rights["params"])
    assert rights["key"] == _snapshot.read_key("user_rights", rights["probe"], CONTEXT.runs_as)
    assert (rights["secret"], pools["secret"]) == (False, True)
    probe = DEFINITION.probe_parameters(params)
    assert [r["module"] for r in probe["Reads"]] == ["user_rights"], "a probe that compares a secret is not sent"
    assert list(probe["Scripts"]) == ["user_rights"]
    assert params["changes_at_read"] == {"user_rights": "a1"}


def test_a_bad_read_fails_naming_it_and_its_module():
    with pytest.raises(TaskInputError, match=r"^reads\[1\] \(user_rights\): rights: 'SeNoSuchRight' is not"):
        checked([{"module": "user_rights", "options": RIGHTS},
                 {"module": "user_rights", "options": {"rights": {"SeNoSuchRight": ["x"]}}}])


@pytest.mark.parametrize("context, fragment", [(Context(delegated=True), "cannot be delegated"),
                                               (Context(run_once=True), "cannot run once for all hosts")])
def test_a_snapshot_is_its_hosts_own(context, fragment):
    with pytest.raises(TaskInputError, match=fragment):
        checked([], context=context)


def test_each_answer_is_judged_by_its_modules_plan_and_kept_under_its_key():
    params = checked([{"module": "user_rights", "options": RIGHTS}])
    granted = {"holders": {"SeServiceLogonRight": [{"sid": SVC_SID, "name": SVC}]},
               "accounts": [{"input": SVC, "sid": SVC_SID, "name": SVC, "error": None}]}
    plan = DEFINITION.plan(params, {"reads": [{"result": granted, "error": None}]}, CONTEXT)
    assert plan.operations == []
    assert plan.result["reads"] == [{"module": "user_rights", "met": True, "state": "read; nothing to change"}]
    assert plan.result["snapshot"] == {"host": "kf01", "changes": {"user_rights": "a1"},
                                       "reads": {params["reads"][0]["key"]: {"module": "user_rights", "current": granted}}}


def test_an_answer_holding_a_value_the_task_hides_is_not_kept():
    params = dict(checked([{"module": "user_rights", "options": RIGHTS}]), hidden=("1105",))
    granted = {"holders": {"SeServiceLogonRight": []}, "accounts": [{"input": SVC, "sid": SVC_SID, "name": SVC, "error": None}]}
    plan = DEFINITION.plan(params, {"reads": [{"result": granted, "error": None}]}, CONTEXT)
    assert plan.result["reads"][0]["state"] == "not kept: it holds text equal to a secret of this task"
    assert plan.result["snapshot"]["reads"] == {}


@pytest.mark.parametrize("message, expected", [
    ("password: does not open the PFX", "portal_encryption_pfx_password: does not open the PFX"),
    ("static_addresses[0]: 'kf-gw' is not an IPv4 address", "gateway_cluster_node_static_addresses[0]: 'kf-gw' is not an IPv4 address"),
    ("additional_services[0].depends_on[1]: 'X' is this service", "gateway_cluster_node_sync_depends_on[1]: 'X' is this service"),
    ("additional_services[0].service: give a name", "gateway_cluster_node_sync_service: give a name"),
    ("name 'x' is not a role", "name 'x' is not a role"),
    ("pools[1] (KeyfactorAPI): password is empty", "portal_pools[1] (KeyfactorAPI): password is empty"),
    ("the certificate expired", "the certificate expired"),
    ("passwordless: x", "passwordless: x"),
])
def test_a_refusal_names_the_variable_its_option_came_from(message, expected):
    names = {"password": "portal_encryption_pfx_password", "static_addresses": "gateway_cluster_node_static_addresses",
             "additional_services": "gateway_cluster_node_sync_service",
             "additional_services.service": "gateway_cluster_node_sync_service",
             "additional_services.depends_on": "gateway_cluster_node_sync_depends_on", "name": "gateway_cluster_node_role_name",
             "pools": "portal_pools"}
    assert in_user_terms(message, names) == expected


def test_a_task_still_to_come_is_checked_before_any_read_and_refused_in_the_inventorys_words():
    bad = {"module": "user_rights", "options": {"rights": {"SeLogonRight": [SVC]}},
           "about": "the user rights of the Keyfactor API (role pkiops.keyfactor_command.web_api, variable web_api_user_rights_via)"}
    args = validated(DEFINITION.argument_spec, {"reads": [{"module": "user_rights", "options": RIGHTS}], "validate": [bad]},
                     DEFINITION.spec_rules)
    with pytest.raises(TaskInputError) as caught:
        DEFINITION.check_params(args, CONTEXT)
    assert str(caught.value).startswith(
        "the user rights of the Keyfactor API (role pkiops.keyfactor_command.web_api, variable web_api_user_rights_via): "
        "rights: 'SeLogonRight' is not a Windows logon right"), str(caught.value)
    good = dict(bad, options=RIGHTS)
    args = validated(DEFINITION.argument_spec, {"reads": [], "validate": [good]}, DEFINITION.spec_rules)
    # Checked, not read: a task still to come would find its read stale.
    assert DEFINITION.probe_parameters(DEFINITION.check_params(args, CONTEXT))["Reads"] == []
