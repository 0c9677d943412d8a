"""The Keyfactor Command server profiles through playbooks/site.yml, alone and all on one server."""

from __future__ import annotations

import json

import pytest

from conftest import PLAYBOOKS
from winsim.passwords import hash_password

SITE = PLAYBOOKS / "site.yml"
PASSWORD = "Svc!Keyfactor-Profile-1"
NEW_PASSWORD = "Svc!Keyfactor-Profile-2"
SEED = {"domain": {"accounts": [{"name": "kf_installer", "type": "user"}, {"name": "svc_keyfactor", "type": "user"},
                                {"name": "gmsa_keyfactor$", "type": "user"}]}}
ACCOUNT = "CONTOSO\\svc_keyfactor"
# S-1-5-32-568: BUILTIN\IIS_IUSRS
IIS_IUSRS = "S-1-5-32-568"

PROFILE_VARS = {
    "keyfactor_portal": {"portal_app_pool_account": ACCOUNT, "portal_app_pool_password": PASSWORD},
    "keyfactor_services": {"services_account": ACCOUNT},
    "keyfactor_web_api": {"web_api_app_pool_account": ACCOUNT, "web_api_app_pool_password": PASSWORD},
    "keyfactor_orchestrator_api": {"orchestrator_api_app_pool_account": "CONTOSO\\gmsa_keyfactor$"},
    "keyfactor_ca_connector": {"ca_connector_app_pool_account": ACCOUNT, "ca_connector_app_pool_password": PASSWORD,
                               "ca_connector_oauth_authority": "https://idp.contoso.com/realms/Keyfactor"},
}
PROFILE_POOLS = {
    "keyfactor_portal": {"KeyfactorManagementPortal", "KeyfactorLogiAnalytics", "KeyfactorAPI"},
    "keyfactor_services": set(),
    "keyfactor_web_api": {"KeyfactorAPI"},
    "keyfactor_orchestrator_api": {"KeyfactorOrchestratorsAPI"},
    "keyfactor_ca_connector": {"KeyfactorCAConnectorAPI"},
}
COMMON_VARS = {"common_installer_account": "CONTOSO\\kf_installer"}


def _all_vars():
    merged = dict(COMMON_VARS)
    for profile_vars in PROFILE_VARS.values():
        merged.update(profile_vars)
    return merged


def _pools(lab, host):
    return (lab.state(host).get("iis") or {}).get("app_pools") or {}


def _sid(lab, host, name):
    return next(a["sid"] for a in lab.state(host)["domain"]["accounts"] if a["name"] == name)


@pytest.mark.parametrize("profile", sorted(PROFILE_VARS))
def test_each_profile_alone_checks_converges_and_settles(lab, profile):
    host = "kf-one01.contoso.com"
    lab.add_host(host, groups=(profile,), seed=SEED, **COMMON_VARS, **PROFILE_VARS[profile])
    before = lab.windows_state(host)
    check = lab.run(SITE, check=True)
    assert check.returncode == 0, check.stdout[-3000:]
    assert check.changed(host) > 0
    assert lab.windows_state(host) == before

    converge = lab.run(SITE)
    assert converge.returncode == 0, converge.stdout[-3000:]
    assert set(_pools(lab, host)) - {"DefaultAppPool", ".NET v4.5", ".NET v4.5 Classic"} == PROFILE_POOLS[profile]
    state = lab.state(host)
    installer = _sid(lab, host, "kf_installer")
    assert installer in state["local_groups"]["S-1-5-32-544"] and installer in state["user_rights"]["SeBackupPrivilege"]
    if profile == "keyfactor_services":
        assert _sid(lab, host, "svc_keyfactor") in state["user_rights"]["SeServiceLogonRight"]
        assert not state["features"].get("Web-Server", {}).get("installed"), "a services-only server needs no IIS"
    else:
        assert IIS_IUSRS in state["user_rights"]["SeBatchLogonRight"] and IIS_IUSRS in state["user_rights"]["SeImpersonatePrivilege"]

    again = lab.run(SITE)
    assert again.returncode == 0 and again.changed(host) == 0


def test_the_all_in_one_server_converges_without_conflicts_or_repeated_work(lab):
    host = "kf-aio01.contoso.com"
    lab.add_host(host, groups=tuple(PROFILE_VARS), seed=SEED, **_all_vars())
    before = lab.windows_state(host)
    check = lab.run(SITE, check=True)
    assert check.returncode == 0, check.stdout[-3000:]
    assert lab.windows_state(host) == before

    converge = lab.run(SITE)
    assert converge.returncode == 0, converge.stdout[-3000:]
    names = converge.ran(host)
    assert names.count("Read in one run what is needed for the common preparation") == 1, "common runs once"
    assert names.count("Install IIS and its role services") == 1, "the IIS features are installed once"
    expected = set().union(*PROFILE_POOLS.values())
    assert expected <= set(_pools(lab, host))
    assert _pools(lab, host)["KeyfactorOrchestratorsAPI"]["username"] == "CONTOSO\\gmsa_keyfactor$"

    trips = lab.round_trips(host)
    again = lab.run(SITE)
    assert again.changed(host) == 0
    # One snapshot for common, one per IIS profile (the portal covers the Keyfactor API, so web_api does not
    # run) and one for the services; every task plans on them or is skipped, except the pool tasks of the portal
    # and the CA connector, whose pools run as an account with a password, which a snapshot does not compare.
    assert lab.round_trips(host) - trips == 1 + 3 + 1 + 2


def test_a_changed_pool_password_is_detected_then_settles_without_leaking(lab):
    host = "kf-portal01.contoso.com"
    state_path = lab.add_host(host, groups=("keyfactor_portal",), seed=SEED, **COMMON_VARS, **PROFILE_VARS["keyfactor_portal"])
    lab.run(SITE)
    changed = lab.run(SITE, "-vvvv", diff=True, extra_vars={"portal_app_pool_password": NEW_PASSWORD})
    assert changed.returncode == 0
    assert changed.changed(host) == 1
    (result,) = [r for name, r in changed.task_results(host) if name == "Create and configure the application pools for the Management Portal"]
    # IIS restarts each running pool's worker process on the change by itself; the module recycles none a second time.
    assert all(changes == ["password"] for changes in result["changes"].values())
    assert {name: pool["recycles"] for name, pool in _pools(lab, host).items() if name in result["changes"]} == dict.fromkeys(
        result["changes"], 1)
    settled = lab.run(SITE, extra_vars={"portal_app_pool_password": NEW_PASSWORD})
    assert settled.changed(host) == 0
    for where, text in (("stdout", changed.stdout), ("stderr", changed.stderr), ("results", json.dumps(changed.report)),
                        ("state file and simulator log", state_path.read_text())):
        assert PASSWORD not in text and NEW_PASSWORD not in text, f"a password leaked into {where}"


@pytest.mark.parametrize("profile, overrides, expected", [
    ("keyfactor_ca_connector", {"ca_connector_oauth_authority": "http://idp.contoso.com"}, "must be the https:// URL"),
    ("keyfactor_portal", {"portal_app_pool_account": ".\\svc_local"}, "must be an Active Directory account"),
    ("keyfactor_portal", {"portal_app_pool_account": "svc_local", "portal_app_pool_account_create": True},
     "must be an Active Directory account"),
    ("keyfactor_services", {"common_log_directory_writers": ["CONTOSO\\svc_keyfactor"]}, "does not include BUILTIN\\Users"),
    ("keyfactor_portal", {"portal_identity_provider": "saml"}, "portal_identity_provider"),
    ("keyfactor_web_api", {"web_api_app_pool_account": None}, "web_api_app_pool_account"),
    ("keyfactor_services", {"common_log_directory": "Keyfactor\\logs"},
     "common_log_directory (Keyfactor\\logs) must be an absolute path"),
    ("keyfactor_orchestrator_api", {"orchestrator_api_app_pool_account": ".\\svc_orch", "orchestrator_api_app_pool_password": "",
                                    "orchestrator_api_app_pool_account_create": True},
     "Creating orchestrator_api_app_pool_account (.\\svc_orch) needs a non-empty orchestrator_api_app_pool_password"),
])
def test_bad_profile_input_fails_clearly_and_changes_nothing(lab, profile, overrides, expected):
    host = "kf-bad01.contoso.com"
    host_vars = {**COMMON_VARS, **PROFILE_VARS[profile], **overrides}
    lab.add_host(host, groups=(profile,), seed=SEED, **{k: v for k, v in host_vars.items() if v is not None})
    before = lab.windows_state(host)
    run = lab.run(SITE)
    assert run.returncode != 0
    (message,) = run.failure_messages(host)
    assert expected in message, message
    # Profile checks run after common; common's changes are allowed, the profile's are not.
    assert not _pools(lab, host) or set(_pools(lab, host)) == set(before.get("iis", {}).get("app_pools", {}))


def test_the_orchestrators_api_pool_must_not_be_a_portal_pool(lab):
    host = "kf-aio02.contoso.com"
    host_vars = dict(_all_vars(), orchestrator_api_app_pool="KeyfactorManagementPortal")
    lab.add_host(host, groups=("keyfactor_portal", "keyfactor_orchestrator_api"), seed=SEED, **host_vars)
    run = lab.run(SITE)
    (message,) = run.failure_messages(host)
    assert "the Orchestrators API would use the application pool(s) keyfactormanagementportal, which the Management Portal" in message


def test_local_accounts_created_by_the_roles_direct_rights_and_the_claims_proxy(lab):
    host = "kf-oauth01.contoso.com"
    local_password = "Local!Svc-Passw0rd-1"
    host_vars = dict(
        COMMON_VARS,
        portal_identity_provider="oauth",
        portal_app_pool_account=".\\svc_portal",
        portal_app_pool_password=local_password,
        portal_app_pool_account_create=True,
        portal_user_rights_via="direct",
        portal_log_access="direct",
        services_account=".\\svc_portal",
        services_account_password=local_password,
        services_account_create=True,
    )
    lab.add_host(host, groups=("keyfactor_portal", "keyfactor_services"), seed=SEED, **host_vars)
    before = lab.windows_state(host)
    check = lab.run(SITE, check=True)
    assert check.returncode == 0, check.stdout[-3000:]
    assert lab.windows_state(host) == before, "check mode skips what needs the account still to be created"

    converge = lab.run(SITE)
    assert converge.returncode == 0, converge.stdout[-3000:]
    state = lab.state(host)
    account = next(a for a in state["local_accounts"] if a["name"].lower() == "svc_portal")
    assert account["sid"] in state["user_rights"]["SeBatchLogonRight"] and account["sid"] in state["user_rights"]["SeImpersonatePrivilege"]
    assert account["sid"] in state["user_rights"]["SeServiceLogonRight"]
    pools = _pools(lab, host)
    assert {"KeyfactorManagementPortal", "KeyfactorLogiAnalytics", "KeyfactorAPI", "KeyfactorClaimsProxy"} <= set(pools)
    assert all(pools[name]["state"] == "Started" for name in ("KeyfactorManagementPortal", "KeyfactorClaimsProxy"))
    log_dir = next(v for k, v in state["paths"].items() if k.lower() == "c:\\keyfactor\\logs")
    assert any(ace["sid"] == account["sid"] and not ace["inherited"] for ace in log_dir["acl"])

    again = lab.run(SITE)
    assert again.returncode == 0 and again.changed(host) == 0
    assert local_password not in json.dumps(lab.state(host)) and local_password not in again.stdout


def test_check_mode_reports_a_direct_log_grant_as_the_real_run_makes_it(lab):
    # win_acl of ansible.windows 3.3.0 does not support check mode; log_access.yml reports the grant from the
    # profile's snapshot instead, so --check counts as many changes as the real run makes.
    host = "kf-svc02.contoso.com"
    lab.add_host(host, groups=("keyfactor_services",), seed=SEED, **COMMON_VARS, **PROFILE_VARS["keyfactor_services"],
                 services_log_access="direct")
    before = lab.windows_state(host)
    check = lab.run(SITE, check=True)
    assert check.returncode == 0, check.stdout[-3000:]
    assert lab.windows_state(host) == before
    report = dict(check.task_results(host))[
        "Report in check mode which accounts would be let create files and folders in the directories"]
    assert report["changed"] is True
    assert [item["msg"] for item in report["results"]] == [
        f"{ACCOUNT} would be let create files and folders in C:\\Keyfactor\\logs (read from the host: "
        "ansible.windows.win_acl does not run in check mode)."]

    real = lab.run(SITE)
    assert real.returncode == 0, real.stdout[-3000:]
    assert dict(real.task_results(host))["Let the accounts create files and folders in the directories"][
        "changed"] is True
    assert check.changed(host) == real.changed(host)


def test_a_pool_whose_account_does_not_exist_fails_before_the_pool_is_created(lab):
    host = "kf-broken01.contoso.com"
    host_vars = {**COMMON_VARS, **PROFILE_VARS["keyfactor_web_api"], "web_api_app_pool_account": "CONTOSO\\no_such_account"}
    lab.add_host(host, groups=("keyfactor_web_api",), seed=SEED, **host_vars)
    before = lab.windows_state(host)
    run = lab.run(SITE)
    assert run.returncode != 0
    (message,) = run.failure_messages(host)
    # Found by the first snapshot, before IIS is installed, and named by the variable to correct.
    assert message.startswith("CONTOSO\\no_such_account does not resolve to an account on this server"), message
    assert message.endswith(": correct web_api_app_pool_account."), message
    assert lab.windows_state(host) == before


def test_a_pool_whose_account_cannot_log_on_with_the_password_is_not_created(lab):
    # Starting an OnDemand pool does not log its account on; only a logon before the commit finds a wrong password.
    host = "kf-broken02.contoso.com"
    seed = json.loads(json.dumps(SEED))
    seed["domain"]["accounts"][1]["password_sha256"] = hash_password(NEW_PASSWORD)
    lab.add_host(host, groups=("keyfactor_web_api",), seed=seed, **COMMON_VARS, **PROFILE_VARS["keyfactor_web_api"])
    run = lab.run(SITE)
    assert run.returncode != 0
    (message,) = run.failure_messages(host)
    assert "Application pool 'KeyfactorAPI': the account 'CONTOSO\\svc_keyfactor' given as its username cannot log on" in message
    assert "(Win32 error 1326). No application pool was changed." in message
    assert "KeyfactorAPI" not in _pools(lab, host)


def test_the_users_group_may_be_named_by_its_sid(lab):
    host = "kf-sid01.contoso.com"
    lab.add_host(host, groups=("keyfactor_services",), seed=SEED, **COMMON_VARS, **PROFILE_VARS["keyfactor_services"],
                 common_log_directory_writers=["S-1-5-32-545"])
    run = lab.run(SITE)
    assert run.returncode == 0, run.stdout[-3000:]


def test_the_rights_iis_setup_grants_are_not_granted_again_on_a_first_run(lab):
    # Installing IIS grants IIS_IUSRS batch logon and impersonation; the profile's snapshot, taken before, does not
    # know, so the grant task must read the host itself after the install.
    host = "kf-orchapi01.contoso.com"
    lab.add_host(host, groups=("keyfactor_orchestrator_api",), seed=SEED, **COMMON_VARS,
                 **PROFILE_VARS["keyfactor_orchestrator_api"])
    first = lab.run(SITE, diff=True)
    assert first.returncode == 0, first.stdout[-3000:]
    results = dict(first.task_results(host))
    assert results["Install IIS and its role services"]["changed"] is True
    assert results["Grant the user rights for the Orchestrators API"]["changed"] is False, \
        results["Grant the user rights for the Orchestrators API"]


def test_an_empty_logi_analytics_password_is_the_portal_pools_for_the_same_account(lab):
    # An AWX credential injects a field left empty as an empty extra variable, which overrides the role's default.
    host = "kf-portal09.contoso.com"
    lab.add_host(host, groups=("keyfactor_portal",), seed=SEED, **COMMON_VARS, **PROFILE_VARS["keyfactor_portal"])
    first = lab.run(SITE, extra_vars={"portal_logi_analytics_pool_password": ""})
    assert first.returncode == 0, first.failure_messages(host)
    assert "KeyfactorLogiAnalytics" in _pools(lab, host)
    assert lab.run(SITE, extra_vars={"portal_logi_analytics_pool_password": ""}).changed(host) == 0
