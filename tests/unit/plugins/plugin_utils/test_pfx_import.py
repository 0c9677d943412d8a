"""pfx_import's definition, without Ansible: what check_params adds to the params, and what the plan carries to the
apply, its secrets included."""

from __future__ import annotations

import base64
import dataclasses

import pytest

import pki_fixtures
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    Context,
    ControllerFileError,
    PlanError,
    TaskInputError,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._pfx_import import DEFINITION
from plugins.plugin_utils.spec_options import validated

PASSWORD = "Pfx-Definition-S3cret!"
ADMINISTRATORS_SID = "S-1-5-32-544"
IDENTITY = {"sid": "S-1-5-21-3623811015-3361044348-30300820-500", "groups": [ADMINISTRATORS_SID]}
FULL = -805306369  # FULL_CONTROL as a signed 32-bit access mask, as the probe reports it


@pytest.fixture(scope="module", name="pki")
def fixture_pki() -> dict:
    root, issuing = pki_fixtures.chain()
    leaf = pki_fixtures.issue("gateway-encryption.contoso.com", issuer=issuing)
    data = pki_fixtures.pfx(leaf, PASSWORD, extra=(issuing, root))
    return {"data": data, "thumbprint": pki_fixtures.thumbprint(leaf)}


def checked(pki: dict, context: Context | None = None, **options) -> dict:
    args = {"content": base64.b64encode(pki["data"]).decode("ascii"), "password": PASSWORD, **options}
    args = {name: value for name, value in args.items() if value is not None}
    return DEFINITION.check_params(validated(DEFINITION.argument_spec, args, DEFINITION.spec_rules), context or Context())


def probe(certificate: dict) -> dict:
    return {"certificate": certificate, "chain": [], "principals": [], "identity": IDENTITY, "os_build": 20348}


NOT_FOUND = {"found": False, "has_private_key": False, "key": None, "acl": []}
IN_STORE = {"found": True, "has_private_key": True, "key": {"provider": "cng", "exportable": False},
            "acl": [{"sid": ADMINISTRATORS_SID, "name": "BUILTIN\\Administrators", "type": "allow", "rights": FULL,
                     "inherited": False}]}


def test_check_params_adds_the_parsed_pfx_its_base64_and_its_warnings(pki):
    params = checked(pki, expiry_warning_days=36500)
    assert params["pfx"].thumbprint == pki["thumbprint"]
    assert base64.b64decode(params["pfx_base64"]) == pki["data"]
    assert [w for w in params["requirement_warnings"] if "expires in" in w]


def test_a_pfx_named_by_src_is_looked_up_through_the_context(pki, tmp_path):
    (tmp_path / "gateway.pfx").write_bytes(pki["data"])
    looked_up = []
    context = Context(find_file=lambda src: looked_up.append(src) or str(tmp_path / src))
    params = checked(pki, context, content=None, src="gateway.pfx")
    assert looked_up == ["gateway.pfx"] and params["pfx"].thumbprint == pki["thumbprint"]


def test_a_src_the_context_cannot_find_fails_naming_the_option(pki):
    def missing(src):
        raise ControllerFileError(f"Could not find or access '{src}'")

    with pytest.raises(TaskInputError, match=r"^src: Could not find or access 'missing.pfx'$"):
        checked(pki, Context(find_file=missing), content=None, src="missing.pfx")


def test_the_warnings_of_check_params_reach_the_plan(pki):
    params = dict(checked(pki), requirement_warnings=["a warning of check_params"])
    assert DEFINITION.plan(params, probe(IN_STORE), Context()).warnings[0] == "a warning of check_params"


def test_an_import_plans_the_pfx_and_its_password_as_the_applys_secrets(pki):
    params = checked(pki)
    plan = DEFINITION.plan(params, probe(NOT_FOUND), Context())
    assert plan.result["imported"] is True
    assert {name: secret.value for name, secret in plan.secrets.items()} == {"Pfx": params["pfx_base64"],
                                                                             "PfxPassword": PASSWORD}
    assert DEFINITION.probe_secrets(params) == {}


def test_no_import_plans_no_secret(pki):
    plan = DEFINITION.plan(checked(pki), probe(IN_STORE), Context())
    assert plan.result["imported"] is False and plan.secrets == {}


def test_a_key_that_may_still_be_there_is_not_imported_over(pki):
    gone = dict(IN_STORE, key_error="Keyset does not exist", key_state="missing_or_denied")
    with pytest.raises(PlanError):
        DEFINITION.plan(checked(pki), probe(gone), Context())


def test_a_failed_import_is_explained_from_the_pfx_in_the_params(pki):
    params = checked(pki)
    message = "The specified network password is not correct."
    aes = dict(params, pfx=dataclasses.replace(params["pfx"], uses_pbes2=True))
    explained = DEFINITION.explain_failure(aes, "apply", message, Context())
    assert explained.startswith(message) and "PBES2" in explained
    assert DEFINITION.explain_failure(params, "probe", message, Context()) == message
