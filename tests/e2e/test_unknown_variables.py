"""A variable with a role's prefix that no role knows stops the host before anything is read or changed."""

from __future__ import annotations

import re

from conftest import PLAYBOOKS
from test_profiles import COMMON_VARS, PROFILE_VARS, SEED

SITE = PLAYBOOKS / "site.yml"
HOST = "kf-portal01.contoso.com"
MEANT = ("portal_identity_provder is not a variable of any role of pkiops.keyfactor_command, so it would be ignored. "
         "Did you mean portal_identity_provider?")


def test_a_misspelled_variable_fails_naming_the_variable_it_was_meant_to_be_and_changes_nothing(lab):
    lab.add_host(HOST, groups=("keyfactor_portal",), seed=SEED, portal_identity_provder="oauth", **COMMON_VARS,
                 **PROFILE_VARS["keyfactor_portal"])
    before = lab.windows_state(HOST)
    for check in (True, False):
        run = lab.run(SITE, check=check)
        assert run.returncode != 0
        (message,) = run.failure_messages(HOST)
        assert message.startswith(MEANT), message
        assert "common_unknown_variables=warn" in message
        assert lab.round_trips(HOST) == 0
        assert lab.windows_state(HOST) == before


def test_with_warn_the_run_goes_on_and_says_so_once(lab):
    lab.add_host(HOST, groups=("keyfactor_portal",), seed=SEED, portal_identity_provder="oauth",
                 common_unknown_variables="warn", **COMMON_VARS, **PROFILE_VARS["keyfactor_portal"])
    run = lab.run(SITE)
    assert run.returncode == 0, run.stdout[-3000:]
    output = re.sub(r"\s+", " ", run.stdout + run.stderr)
    assert output.count(MEANT) == 1, output[-3000:]


def test_a_bad_mode_is_refused_by_the_role_argument_spec(lab):
    lab.add_host(HOST, groups=("keyfactor_portal",), seed=SEED, common_unknown_variables="ignore", **COMMON_VARS,
                 **PROFILE_VARS["keyfactor_portal"])
    run = lab.run(SITE)
    assert run.returncode != 0
    assert any("common_unknown_variables" in message for message in run.failure_messages(HOST))
    assert lab.round_trips(HOST) == 0
