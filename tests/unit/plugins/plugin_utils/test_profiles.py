"""A profile's requirements, stated once, and what _profiles derives from them: tasks, snapshot, readiness, checks."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _profiles

INSTALLER = "CONTOSO\\kf_installer"
LOG_DIR = "C:\\Keyfactor\\logs"
POOL_ACCOUNT = "CONTOSO\\svc_portal"


def common_profile(**changes) -> dict:
    profile = {
        "name": "common",
        "title": "the common preparation",
        "checks": [{"kind": "absolute_path", "path": LOG_DIR, "option": "common_log_directory"}],
        "local_accounts": [],
        "co_location": {"allow": False, "option": "common_allow_ca_or_sql_server", "source": "000-01",
                        "fix": "Use a server that is neither"},
        "group_members": [{"group": "Administrators", "account": INSTALLER, "source": "001-01",
                           "option": "common_installer_account"}],
        "rights": {"rights": {"SeBackupPrivilege": [INSTALLER], "SeRestorePrivilege": [INSTALLER]}, "source": "001-03",
                   "option": "common_installer_account"},
        "directories": [{"path": LOG_DIR, "writers": ["BUILTIN\\Users"], "source": "001-04", "writers_source": "001-05",
                         "option": "common_log_directory", "writers_option": "common_log_directory_writers"}],
    }
    profile.update(changes)
    return profile


def portal_profile(**changes) -> dict:
    pool = {"identity_type": "SpecificUser", "username": POOL_ACCOUNT, "password": "Pool-Pa55word!"}
    profile = {
        "name": "portal",
        "title": "the Management Portal",
        "features": {"features": ["Web-Server", "Web-WebServer"], "source": "000-02", "option": "portal_iis_features"},
        "pools": {"pools": [dict(pool, name="KeyfactorManagementPortal"), dict(pool, name="KeyfactorAPI")],
                  "source": "001-10", "fix": "role pkiops.keyfactor_command.portal, its application pool variables"},
        "rights": {"rights": {"SeBatchLogonRight": ["S-1-5-32-568"], "SeImpersonatePrivilege": ["S-1-5-32-568"]},
                   "source": "001-12", "option": "portal_user_rights_via"},
        "log_access": {"how": "direct", "directory": LOG_DIR, "writers": ["BUILTIN\\Users"], "source": "001-14",
                       "option": "portal_log_access"},
        "certificates": [{"pfx_src": "files/encryption.pfx", "password": "Pfx-Pa55word!", "source": "000-09",
                          "key_access": [POOL_ACCOUNT, POOL_ACCOUNT.upper()], "option": "portal_encryption_pfx_src"}],
    }
    profile.update(changes)
    return profile


def test_the_common_profile_gives_the_readiness_requirements_written_by_hand_before():
    requirements = _profiles.readiness([common_profile()])
    fix = "role pkiops.keyfactor_command.common, variable "
    assert requirements == [
        {"kind": "co_location", "allow": False, "profile": "common", "source": "000-01", "fix": "Use a server that is neither"},
        {"kind": "group_member", "group": "Administrators", "account": INSTALLER, "profile": "common", "source": "001-01",
         "fix": fix + "common_installer_account"},
        {"kind": "user_right", "right": "SeBackupPrivilege", "account": INSTALLER, "profile": "common",
         "source": "001-03", "fix": fix + "common_installer_account"},
        {"kind": "user_right", "right": "SeRestorePrivilege", "account": INSTALLER, "profile": "common",
         "source": "001-03", "fix": fix + "common_installer_account"},
        {"kind": "directory_access", "path": LOG_DIR, "profile": "common", "source": "001-04",
         "fix": fix + "common_log_directory"},
        {"kind": "directory_access", "path": LOG_DIR, "account": "BUILTIN\\Users", "profile": "common",
         "source": "001-05", "fix": fix + "common_log_directory_writers"},
    ]


def test_the_snapshot_reads_exactly_what_the_tasks_are_given():
    steps = _profiles.steps(portal_profile())
    reads = {read["module"]: read["options"] for read in steps["snapshot"]["reads"]}
    assert reads["iis_app_pools"] == {"pools": steps["pools"]}
    assert reads["user_rights"] == {"rights": steps["rights"]}
    assert reads["pfx_import"] == steps["certificates"][0]
    # One grant per account, however the inventory spells it twice.
    assert steps["certificates"][0]["key_access"] == [{"principal": POOL_ACCOUNT}]
    assert steps["snapshot"]["checks"]["features"] == [{"kind": "features", "features": ["Web-Server", "Web-WebServer"]}]
    # Direct log access for the account the pools run as, once.
    assert steps["snapshot"]["checks"]["directory_access"] == [
        {"kind": "directory_access", "path": LOG_DIR, "account": POOL_ACCOUNT}]
    assert [a["id"] for a in steps["directory_access"]] == [f"directory/{LOG_DIR.lower()}/{POOL_ACCOUNT.lower()}"]


def test_the_readiness_of_an_iis_profile_names_the_variable_that_fixes_each_requirement():
    requirements = _profiles.readiness(portal_profile())
    by_kind: dict = {}
    for requirement in requirements:
        by_kind.setdefault(requirement["kind"], []).append(requirement)
    assert [r["pool"] for r in by_kind["app_pool"]] == ["KeyfactorManagementPortal", "KeyfactorAPI"]
    assert {r["fix"] for r in by_kind["app_pool"]} == {"role pkiops.keyfactor_command.portal, its application pool variables"}
    assert [(r["right"], r["account"]) for r in by_kind["user_right"]] == [
        ("SeBatchLogonRight", "S-1-5-32-568"), ("SeImpersonatePrivilege", "S-1-5-32-568")]
    assert by_kind["features"][0]["fix"] == "role pkiops.keyfactor_command.portal, variable portal_iis_features"
    assert by_kind["directory_access"][0]["fix"] == "role pkiops.keyfactor_command.portal, variable portal_log_access"
    assert by_kind["certificate"] == [{"kind": "certificate", "pfx_src": "files/encryption.pfx", "pfx_password": "Pfx-Pa55word!",
                                       "profile": "portal", "source": "000-09",
                                       "fix": "role pkiops.keyfactor_command.portal, variable portal_encryption_pfx_src"}]
    assert [r["account"] for r in by_kind["key_access"]] == [POOL_ACCOUNT]
    assert all(r["profile"] == "portal" for r in requirements)


def test_with_users_group_log_access_the_accounts_get_no_grant_of_their_own():
    steps = _profiles.steps(portal_profile(log_access={"how": "users_group", "directory": LOG_DIR,
                                                       "writers": ["Users"], "option": "portal_log_access"}))
    assert steps["problems"] == []
    assert steps["directory_access"] == []
    assert "directory_access" not in steps["snapshot"]["checks"]


@pytest.mark.parametrize("changes, expected", [
    ({"checks": [{"kind": "absolute_path", "path": "Keyfactor\\logs", "option": "common_log_directory"}]},
     "common_log_directory (Keyfactor\\logs) must be an absolute path with its drive"),
    ({"local_accounts": [{"account": ".\\kf_local", "password": "", "option": "common_installer_account",
                          "password_option": "common_installer_account_password"}]},
     "Creating common_installer_account (.\\kf_local) needs a non-empty common_installer_account_password."),
    ({"local_accounts": [{"account": "CONTOSO\\kf", "password": "x", "option": "common_installer_account",
                          "password_option": "common_installer_account_password"}]},
     "Creating common_installer_account needs it to name a local account (.\\name or a bare name, not CONTOSO\\kf)."),
    ({"checks": [{"kind": "https_url", "url": "http://idp", "option": "ca_connector_oauth_authority",
                  "what": "the identity provider"}]},
     "ca_connector_oauth_authority must be the https:// URL of the identity provider, not 'http://idp'."),
])
def test_mistakes_in_the_variables_are_told_before_the_host_is_touched(changes, expected):
    problems = _profiles.steps(common_profile(**changes))["problems"]
    assert len(problems) == 1 and problems[0].startswith(expected), problems


@pytest.mark.parametrize("account, created, refused", [
    ("CONTOSO\\svc_portal", False, False),
    ("svc_portal@contoso.com", False, False),
    ("svc_portal", False, True),
    (".\\svc_portal", False, True),
    ("KF-PORTAL01\\svc_portal", False, True),
    ("CONTOSO\\svc_portal", True, True),
])
def test_the_portal_pool_account_must_be_a_domain_account_with_active_directory(account, created, refused):
    check = {"kind": "domain_account", "account": account, "option": "portal_app_pool_account",
             "host": "kf-portal01.contoso.com", "created": created, "create_option": "portal_app_pool_account_create",
             "instead": "portal_identity_provider=oauth", "why": "the portal queries the directory."}
    problems = _profiles.steps(portal_profile(checks=[check]))["problems"]
    assert bool(problems) is refused, problems


def test_users_group_log_access_needs_the_users_group_among_the_writers():
    profile = portal_profile(log_access={"how": "users_group", "directory": LOG_DIR, "writers": ["CONTOSO\\svc"],
                                         "option": "portal_log_access"})
    (problem,) = _profiles.steps(profile)["problems"]
    assert problem == ("portal_log_access is users_group, but common_log_directory_writers (CONTOSO\\svc) does not "
                       "include BUILTIN\\Users. Add it, or set portal_log_access=direct.")


def test_a_second_profile_on_the_host_installs_no_feature_and_grants_no_right_twice():
    first = _profiles.steps(portal_profile())
    web_api = portal_profile(name="web_api", title="the Keyfactor API",
                             pools={"pools": [{"name": "KeyfactorWebAPI"}], "source": "001-22"})
    second = _profiles.steps(web_api, first["prepared"])
    assert second["features"] == []
    assert second["rights"] == {}
    assert second["problems"] == []
    assert second["prepared"]["pools"] == {"keyfactormanagementportal": "the Management Portal",
                                           "keyfactorapi": "the Management Portal",
                                           "keyfactorwebapi": "the Keyfactor API"}


def test_a_pool_another_profile_uses_is_refused_by_name_whatever_its_case():
    first = _profiles.steps(portal_profile())
    clash = portal_profile(name="web_api", title="the Keyfactor API", pools={"pools": [{"name": "KEYFACTORAPI"}]})
    steps = _profiles.steps(clash, first["prepared"])
    assert steps["problems"] == ["the Keyfactor API would use the application pool(s) keyfactorapi, which the Management "
                                 "Portal on this server already uses. Give each profile pools of its own."]


def test_the_host_that_creates_the_cluster_role_must_be_in_the_play():
    profile = {"name": "gateway_cluster_node", "title": "the gateway cluster node",
               "cluster_role": {"options": {"name": "KF-GW", "service": "gw"}, "host": "kf-gw09",
                                "host_option": "gateway_cluster_node_role_host"}}
    (problem,) = _profiles.steps(profile, play_hosts=["kf-gw01", "kf-gw02"])["problems"]
    assert problem == ("gateway_cluster_node_role_host: kf-gw09 is not a host of this play; give one of kf-gw01, kf-gw02, "
                       "or leave it empty for the first.")
    assert _profiles.steps(profile, play_hosts=["kf-gw01", "kf-gw09"])["problems"] == []


def test_an_account_still_to_create_in_check_mode_is_left_out_of_what_needs_it():
    profile = portal_profile(rights={"rights": {"SeBatchLogonRight": [POOL_ACCOUNT]}, "source": "001-12"})
    steps = _profiles.steps(profile, {"accounts_pending": [POOL_ACCOUNT.lower()], "accounts_changed": [POOL_ACCOUNT.lower()]})
    assert steps["rights"] == {}
    assert steps["certificates"][0]["key_access"] == []
    assert steps["directory_access"][0]["pending"] is True
    assert steps["accounts_changed"] is True
    assert steps["prepared"]["rights"] == []


def test_the_gateway_profile_reads_its_certificates_and_lists_its_cluster_role():
    principal = "NT AUTHORITY\\NETWORK SERVICE"
    certificate = {"pfx_src": "gw.pfx", "password": "p", "require_rsa": True, "require_encipherment": True,
                   "key_access": [principal], "access": "read", "source": "002-03",
                   "option": "gateway_cluster_node_encryption_pfx_src", "key_access_source": "002-04",
                   "key_access_option": "gateway_cluster_node_key_access_principal"}
    agent = {"pfx_content": "AAAA", "password": "q", "require_rsa": True, "key_access": [principal], "access": "read",
             "key_access_only": True, "key_access_source": "002-05", "option": "gateway_cluster_node_enrollment_agent_pfx_src"}
    profile = {
        "name": "gateway_cluster_node", "title": "the gateway cluster node",
        "features": {"features": ["Failover-Clustering", "RSAT-Clustering-PowerShell"], "install": ["Failover-Clustering"],
                     "include_management_tools": True, "source": "002-01"},
        "services": {"services": ["Keyfactor Managed CA Gateway"], "source": "002-07", "fix": "Install it"},
        "certificates": [certificate, agent],
        "chain_certificates": {"certificates": [{"src": "root.cer"}]},
        "registry_serial": {"source": "002-08", "fix": "rotate"},
        "cluster_role": {"options": {"name": "KF-GW", "service": "Keyfactor Managed CA Gateway",
                                     "registry_checkpoints": ["SOFTWARE\\Keyfactor"],
                                     "additional_services": [{"service": "Sync", "registry_checkpoints": ["SOFTWARE\\Sync"]}]},
                         "source": "002-09", "fix": "role"},
    }
    steps = _profiles.steps(profile)
    assert steps["features"] == ["Failover-Clustering"] and steps["include_management_tools"] is True
    assert steps["certificates"][0] == {"src": "gw.pfx", "password": "p", "require_rsa": True, "require_encipherment": True,
                                        "key_access": [{"principal": principal, "access": "read"}]}
    assert steps["certificates"][1]["content"] == "AAAA" and "require_encipherment" not in steps["certificates"][1]
    assert [read["module"] for read in steps["snapshot"]["reads"]] == ["pfx_import", "pfx_import", "ca_certificates"]
    assert steps["snapshot"]["checks"]["services"] == [{"kind": "service_installed", "service": "Keyfactor Managed CA Gateway"}]
    assert steps["registry_serial"] is True
    kinds = [(r["kind"], r["source"]) for r in steps["readiness"]]
    assert kinds == [("features", "002-01"), ("certificate", "002-03"), ("key_access", "002-04"), ("registry_serial", "002-08"),
                     ("key_access", "002-05"), ("service_installed", "002-07"), ("cluster_role", "002-09")]
    (role,) = [r for r in steps["readiness"] if r["kind"] == "cluster_role"]
    assert role["services"] == ["Keyfactor Managed CA Gateway", "Sync"]
    assert role["checkpoints"] == ["SOFTWARE\\Keyfactor", "SOFTWARE\\Sync"]
    key_access = [r for r in steps["readiness"] if r["kind"] == "key_access"]
    assert [r["fix"] for r in key_access] == [
        "role pkiops.keyfactor_command.gateway_cluster_node, variable gateway_cluster_node_key_access_principal",
        "role pkiops.keyfactor_command.gateway_cluster_node, variable gateway_cluster_node_enrollment_agent_pfx_src"]


def test_a_profile_without_a_name_is_a_defect_of_the_role():
    with pytest.raises(_profiles.ProfileError):
        _profiles.steps({"title": "nothing"})
    with pytest.raises(_profiles.ProfileError):
        _profiles.steps(common_profile(checks=[{"kind": "guess", "option": "x"}]))


def test_the_derivation_imports_nothing_from_ansible():
    code = ("import sys; from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _profiles; "
            "print(sorted(m for m in sys.modules if m == 'ansible' or m.startswith('ansible.')))")
    # Plain namespace packages, without ansible-core's collection loader, which would import ansible itself.
    collections = pathlib.Path(__file__).resolve().parents[4] / ".cache" / "collections"
    environment = dict(os.environ, PYTHONPATH=str(collections))
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment).stdout
    assert output.strip() == "[]"


def test_the_first_profile_on_a_host_checks_the_later_ones_before_anything_changes():
    clash = portal_profile(name="web_api", title="the Keyfactor API", pools={"pools": [{"name": "KeyfactorAPI"}]},
                           certificates=[], accounts=[{"option": "web_api_app_pool_account", "accounts": ["CONTOSO\\svc_api"]}])
    steps = _profiles.steps(common_profile(), later=[portal_profile(), clash])
    assert steps["problems"] == ["the Keyfactor API would use the application pool(s) keyfactorapi, which the Management "
                                 "Portal on this server already uses. Give each profile pools of its own."]
    # The later profiles' tasks are checked, not read: their reads would be stale by the time they run.
    assert [read["module"] for read in steps["snapshot"]["reads"]] == ["user_rights"]
    validate = {task["module"]: task for task in steps["snapshot"]["validate"] if task["module"] == "pfx_import"}
    assert validate["pfx_import"]["about"] == "portal_encryption_pfx_src (files/encryption.pfx)"
    assert validate["pfx_import"]["names"] == {"src": "portal_encryption_pfx_src", "content": "portal_encryption_pfx_content",
                                               "password": "portal_encryption_pfx_password"}
    assert [task["module"] for task in steps["snapshot"]["validate"]] == [
        "iis_app_pools", "user_rights", "pfx_import", "iis_app_pools", "user_rights"]
    assert steps["snapshot"]["checks"]["accounts"] == [
        {"kind": "account", "account": "CONTOSO\\svc_api", "fix": "correct web_api_app_pool_account"}]
    # Without later profiles, as for every profile after the first, nothing of them is added.
    assert _profiles.steps(common_profile())["snapshot"]["validate"] == []


def test_the_accounts_the_variables_name_must_exist_unless_the_run_creates_them():
    accounts = [{"option": "portal_app_pool_account", "accounts": [".\\svc_portal"]},
                {"option": "portal_encryption_key_access",
                 "accounts": ["svc_portal", "IIS AppPool\\KeyfactorAPI", "CONTOSO\\svc_logi", "contoso\\SVC_LOGI", ""]}]
    created = [{"account": ".\\svc_portal", "password": "p", "option": "portal_app_pool_account",
                "password_option": "portal_app_pool_password"}]
    steps = _profiles.steps(portal_profile(accounts=accounts, local_accounts=created))
    assert steps["snapshot"]["checks"]["accounts"] == [
        {"kind": "account", "account": "CONTOSO\\svc_logi", "fix": "correct portal_encryption_key_access"}]
    readiness_kinds = {r["kind"] for r in steps["readiness"]}
    assert "account" not in readiness_kinds, "the readiness report judges the accounts through what they need"


def test_every_node_the_inventory_puts_in_the_cluster_must_be_in_the_play():
    profile = {"name": "gateway_cluster_node", "title": "the gateway cluster node",
               "cluster_role": {"options": {"name": "KF-GW", "service": "gw", "cluster": "GWCLUSTER"}, "host": "",
                                "host_option": "gateway_cluster_node_role_host",
                                "cluster_option": "gateway_cluster_node_cluster_name"}}
    inventory = {"kf-gw01": "gwcluster", "kf-gw02": "GWCLUSTER", "kf-gw03": "GWCLUSTER", "kf-other": "OTHER"}
    (problem,) = _profiles.steps(profile, play_hosts=["kf-gw03"], inventory_clusters=inventory)["problems"]
    assert problem.startswith("kf-gw01, kf-gw02 are in the cluster GWCLUSTER (gateway_cluster_node_cluster_name) too, "
                              "but not in this play."), problem
    assert "without --limit" in problem
    assert _profiles.steps(profile, play_hosts=["kf-gw01", "kf-gw02", "kf-gw03"], inventory_clusters=inventory)["problems"] == []


def test_the_cluster_role_options_are_checked_in_the_words_of_the_inventory():
    variables = {"name": "gateway_cluster_node_role_name", "additional_services.depends_on": "gateway_cluster_node_sync_depends_on"}
    profile = {"name": "gateway_cluster_node", "title": "the gateway cluster node",
               "cluster_role": {"options": {"name": "KF-GW", "service": "gw", "owner_node": "", "cluster": None},
                                "variables": variables}}
    (task,) = _profiles.steps(profile)["snapshot"]["validate"]
    assert task == {"module": "cluster_generic_service_role", "options": {"name": "KF-GW", "service": "gw"},
                    "about": "the cluster role of the gateway cluster node (role pkiops.keyfactor_command.gateway_cluster_node)",
                    "names": variables}


def test_a_list_variable_given_as_one_string_is_one_account():
    # A role's argument specification lets a string through where a list is documented; it is one item, not letters.
    profile = portal_profile(accounts=[{"option": "portal_encryption_key_access", "accounts": "CONTOSO\\svc_logi"}])
    profile["certificates"][0]["key_access"] = "CONTOSO\\svc_logi"
    steps = _profiles.steps(profile)
    assert steps["snapshot"]["checks"]["accounts"] == [
        {"kind": "account", "account": "CONTOSO\\svc_logi", "fix": "correct portal_encryption_key_access"}]
    assert steps["certificates"][0]["key_access"] == [{"principal": "CONTOSO\\svc_logi"}]
    common = _profiles.steps(common_profile(directories=[dict(common_profile()["directories"][0], writers="BUILTIN\\Users")]))
    assert [entry["account"] for entry in common["directory_access"]] == ["BUILTIN\\Users"]
