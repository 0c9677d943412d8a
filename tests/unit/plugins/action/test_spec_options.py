"""The planners' tests complete options with tests/unit/plugins/plugin_utils/spec_options.py instead of Ansible: it must
agree with ansible-core's ArgumentSpecValidator, on every input of the bad input matrix and on the options the planners'
tests give."""

from __future__ import annotations

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import definition_of
from plugins.plugin_utils.spec_options import SpecError, validated
from test_bad_inputs import CASES, fixture_pki, resolve  # noqa: F401  pylint: disable=unused-import

GATEWAY = "Keyfactor Managed CA Gateway"
CHECKPOINT = "SOFTWARE\\Keyfactor\\Keyfactor CA Gateway\\Parameters"
# Options as the planners' tests give them.
VALID = [
    ("cluster_generic_service_role", {"name": "CloudGateway", "service": GATEWAY, "cluster": "GWCLUSTER",
                                      "static_addresses": ["10.0.0.50"], "storage": ["Cluster Disk 2"],
                                      "registry_checkpoints": [CHECKPOINT],
                                      "additional_services": [{"service": "CASync", "depends_on": ["Cluster Disk 2"]}]}),
    ("cluster_generic_service_role", {"name": "CloudGateway", "state": "absent"}),
    ("readiness_info", {"requirements": [
        {"kind": "co_location"},
        {"kind": "user_right", "right": "SeServiceLogonRight", "account": "CONTOSO\\svc", "profile": "services"},
        {"kind": "directory_access", "path": "C:\\Keyfactor\\logs", "account": "NT AUTHORITY\\NETWORK SERVICE",
         "file_rights": ["Read"]},
        {"kind": "certificate", "thumbprint": "9F2C1A7E5B3D4C6A8E0F1B2D3C4E5F60718293A4", "store": "CA"},
        {"kind": "key_access", "pfx_src": "gateway.pfx", "pfx_password": "x", "account": "NT AUTHORITY\\NETWORK SERVICE"},
        {"kind": "app_pool", "pool": "KeyfactorPortal", "identity_type": "SpecificUser", "username": "CONTOSO\\svc"},
        {"kind": "cluster_role", "role": "CloudGateway", "services": ["CAGateway"], "checkpoints": [CHECKPOINT]},
    ]}),
    ("iis_app_pools", {"pools": [{"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": "CONTOSO\\svc",
                                  "password": "P@ss"}, {"name": "Old", "state": "absent"}]}),
]


def _ansible(module: str, args: dict):
    definition = definition_of(module)
    return ArgumentSpecValidator(definition.argument_spec, **definition.spec_rules).validate(args)


def _ours(module: str, args: dict):
    definition = definition_of(module)
    return validated(definition.argument_spec, args, definition.spec_rules)


@pytest.mark.parametrize("module, args", VALID, ids=[f"{module} {index}" for index, (module, _args) in enumerate(VALID)])
def test_the_planners_options_are_completed_as_ansible_completes_them(module, args):
    outcome = _ansible(module, args)
    assert not outcome.error_messages, outcome.error_messages
    assert _ours(module, args) == outcome.validated_parameters


def test_every_bad_input_is_refused_or_completed_as_ansible_does(pki):
    compared = refused = 0
    for case in CASES:
        args = resolve(case.args, pki)
        outcome = _ansible(case.module, args)
        try:
            ours = _ours(case.module, args)
        except SpecError:
            refused += 1
            continue
        assert not outcome.error_messages, f"{case.module}: {case.id}: accepted here, refused by Ansible: {outcome.error_messages}"
        assert ours == outcome.validated_parameters, f"{case.module}: {case.id}"
        compared += 1
    assert compared >= 200 and refused >= 150, (compared, refused)


def test_what_ansible_refuses_is_refused(pki):
    for case in CASES:
        args = resolve(case.args, pki)
        if _ansible(case.module, args).error_messages:
            with pytest.raises(SpecError):
                _ours(case.module, args)
