"""playbooks/site.yml with the common role, end to end on simulated hosts."""

from __future__ import annotations

import json

from conftest import PLAYBOOKS

SITE = PLAYBOOKS / "site.yml"
HOST = "kf-app01.contoso.com"
SEED = {"domain": {"accounts": [{"name": "kf_installer", "type": "user"}, {"name": "svc_keyfactor", "type": "user"}]}}
INSTALLER = "CONTOSO\\kf_installer"
LOG_DIR = "C:\\Keyfactor\\logs"
# FileSystemRights: WriteData (Create files) | AppendData (Create folders)
CREATE_FILES_AND_FOLDERS = 0x2 | 0x4


def _installer_sid(lab):
    return next(a["sid"] for a in lab.state(HOST)["domain"]["accounts"] if a["name"] == "kf_installer")


def _log_dir(state):
    return next((v for k, v in state["paths"].items() if k.lower() == LOG_DIR.lower()), None)


def _explicit_grants(entry, sid):
    return [ace for ace in entry["acl"] if ace["sid"] == sid and not ace.get("inherited") and ace["type"] == "allow"]


def test_check_mode_on_a_fresh_host_reports_changes_and_changes_nothing(lab):
    lab.add_host(HOST, seed=SEED, common_installer_account=INSTALLER)
    before = lab.windows_state(HOST)
    run = lab.run(SITE, check=True, diff=True)
    assert run.returncode == 0, run.stdout + run.stderr
    changed = [name for name, result in run.task_results(HOST) if result.get("changed")]
    assert changed == [
        "Put the accounts in their local groups",
        "Grant the user rights for the common preparation",
        "Create the directories",
        "Report in check mode which accounts would be let create files and folders in the directories",
    ], changed
    assert lab.windows_state(HOST) == before


def test_check_mode_reports_the_log_directory_grant_that_win_acl_cannot_preview(lab):
    # win_acl of ansible.windows 3.3.0 does not support check mode, so --check skips it on the host. The role reports
    # the grant from its snapshot: as many changes as the real run makes, on a fresh host and on one whose log
    # directory exists already without the writer's access.
    existing = "kf-app02.contoso.com"
    writer = {"common_log_directory_writers": ["CONTOSO\\svc_keyfactor"]}
    lab.add_host(HOST, seed=SEED, common_installer_account=INSTALLER)
    lab.add_host(existing, seed=dict(SEED, paths={LOG_DIR: {"type": "directory"}}), common_installer_account=INSTALLER,
                 **writer)
    before = {host: lab.windows_state(host) for host in (HOST, existing)}
    check = lab.run(SITE, check=True)
    assert check.returncode == 0, check.stdout + check.stderr
    for host in (HOST, existing):
        assert lab.windows_state(host) == before[host], host
        report_name = "Report in check mode which accounts would be let create files and folders in the directories"
        (report,) = [result for name, result in check.task_results(host) if name == report_name]
        assert report["changed"] is True, report
        granted = "BUILTIN\\Users" if host == HOST else "CONTOSO\\svc_keyfactor"
        assert any(f"{granted} would be let create files and folders in {LOG_DIR}" in item["msg"]
                   for item in report["results"]), report
        assert all(entry["module"] != "ansible.windows.win_acl" for entry in lab.state(host)["_sim"]["log"]), host

    real = lab.run(SITE)
    assert real.returncode == 0, real.stdout + real.stderr
    for host in (HOST, existing):
        assert check.changed(host) == real.changed(host), host
        acl_task = dict(real.task_results(host))["Let the accounts create files and folders in the directories"]
        assert acl_task["changed"] is True, host


def test_check_mode_with_an_installer_account_still_to_create_predicts_and_changes_nothing(lab):
    lab.add_host(HOST, seed=SEED, common_installer_account=".\\kf_local_installer", common_installer_account_create=True,
                 common_installer_account_password="Kf-Inst4ller!Pa55w0rd#2026")
    before = lab.windows_state(HOST)
    run = lab.run(SITE, check=True)
    assert run.returncode == 0, run.stdout + run.stderr
    # The account, the log directory and the log writers' access; the group and the privileges wait for the account.
    assert run.changed(HOST) == 3
    assert lab.windows_state(HOST) == before


def test_creating_an_installer_account_needs_a_local_name_and_a_password(lab):
    for account, password, expected in (
            ("CONTOSO\\kf_installer", "Kf-Inst4ller!Pa55w0rd#2026",
             "Creating common_installer_account needs it to name a local account"),
            (".\\kf_local_installer", "",
             "Creating common_installer_account (.\\kf_local_installer) needs a non-empty common_installer_account_password")):
        lab.add_host(HOST, seed=SEED, common_installer_account=account, common_installer_account_create=True,
                     common_installer_account_password=password)
        run = lab.run(SITE)
        (message,) = run.failure_messages(HOST)
        assert message.startswith(expected), message
        assert lab.round_trips(HOST) == 0  # refused before the host is read


def test_converge_prepares_the_server_as_documented_and_a_second_run_changes_nothing(lab):
    lab.add_host(HOST, seed=SEED, common_installer_account=INSTALLER)
    first = lab.run(SITE)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.changed(HOST) == 4
    # The snapshot, then one run per change: group membership, user_rights (planned on the read), the
    # directory, one win_acl per writer.
    assert lab.round_trips(HOST) == 1 + 4

    state = lab.state(HOST)
    installer = _installer_sid(lab)
    assert installer in state["local_groups"]["S-1-5-32-544"]
    assert installer in state["user_rights"]["SeBackupPrivilege"]
    assert installer in state["user_rights"]["SeRestorePrivilege"]
    log_dir = _log_dir(state)
    assert log_dir and log_dir["type"] == "directory"
    (grant,) = _explicit_grants(log_dir, "S-1-5-32-545")
    assert grant["rights"] & CREATE_FILES_AND_FOLDERS == CREATE_FILES_AND_FOLDERS
    assert grant["inherit"].replace(" ", "") == "ContainerInherit,ObjectInherit"

    trips = lab.round_trips(HOST)
    second = lab.run(SITE)
    assert second.returncode == 0
    assert second.changed(HOST) == 0
    # The snapshot alone: user_rights plans on it, and the other tasks are skipped as it shows them done.
    assert lab.round_trips(HOST) - trips == 1
    skipped = {"Put the accounts in their local groups", "Create the directories",
               "Let the accounts create files and folders in the directories"}
    assert skipped.isdisjoint(second.ran(HOST)), second.ran(HOST)


def test_log_writers_are_configurable(lab):
    lab.add_host(HOST, seed=SEED, common_installer_account=INSTALLER,
                 common_log_directory="C:\\ProgramData\\Keyfactor\\logs", common_log_directory_writers=["CONTOSO\\svc_keyfactor"])
    run = lab.run(SITE)
    assert run.returncode == 0, run.stdout
    state = lab.state(HOST)
    entry = next(v for k, v in state["paths"].items() if k.lower() == "c:\\programdata\\keyfactor\\logs")
    svc = next(a["sid"] for a in state["domain"]["accounts"] if a["name"] == "svc_keyfactor")
    assert _explicit_grants(entry, svc)
    assert not _explicit_grants(entry, "S-1-5-32-545")


def test_a_certificate_authority_is_refused_before_anything_changes(lab):
    seed = dict(SEED, services={"CertSvc": {"display_name": "Active Directory Certificate Services", "state": "running"}})
    lab.add_host(HOST, seed=seed, common_installer_account=INSTALLER)
    before = lab.windows_state(HOST)
    run = lab.run(SITE)
    assert run.returncode != 0
    (message,) = run.failure_messages(HOST)
    assert "CertSvc" in message and "common_allow_ca_or_sql_server" in message
    assert lab.windows_state(HOST) == before


def test_the_windows_internal_database_is_not_a_sql_server(lab):
    seed = dict(SEED, services={"MSSQL$MICROSOFT##WID": {"display_name": "Windows Internal Database", "state": "running"}})
    lab.add_host(HOST, seed=seed, common_installer_account=INSTALLER)
    run = lab.run(SITE)
    assert run.returncode == 0, run.stdout


def test_a_sql_server_named_instance_is_refused_unless_allowed(lab):
    seed = dict(SEED, services={"MSSQL$KEYFACTOR": {"display_name": "SQL Server (KEYFACTOR)", "state": "running"}})
    lab.add_host(HOST, seed=seed, common_installer_account=INSTALLER)
    refused = lab.run(SITE)
    assert "MSSQL$KEYFACTOR" in refused.failure_messages(HOST)[0]
    allowed = lab.run(SITE, extra_vars={"common_allow_ca_or_sql_server": True})
    assert allowed.returncode == 0 and allowed.changed(HOST) == 4


def test_a_missing_installer_account_variable_fails_naming_it(lab):
    lab.add_host(HOST, seed=SEED)
    run = lab.run(SITE)
    assert run.returncode != 0
    (message,) = run.failure_messages(HOST)
    assert message == "common_installer_account is not set, and role pkiops.keyfactor_command.common needs it."
    assert "argument_spec_data" not in run.stdout
    assert lab.round_trips(HOST) == 0


def test_an_installer_account_unknown_to_the_host_fails_and_changes_nothing(lab):
    lab.add_host(HOST, seed=SEED, common_installer_account="CONTOSO\\nobody")
    before = lab.windows_state(HOST)
    run = lab.run(SITE)
    assert run.returncode != 0
    assert lab.windows_state(HOST) == before


def test_no_secret_reaches_verbose_output_results_or_the_simulator(lab):
    password = "Kf-Inst4ller!Pa55w0rd#2026"
    state_path = lab.add_host(HOST, seed=SEED, common_installer_account=".\\kf_local_installer",
                              common_installer_account_create=True, common_installer_account_password=password)
    run = lab.run(SITE, "-vvvv", diff=True)
    assert run.returncode == 0, run.stdout[-3000:]
    state = lab.state(HOST)
    local = next(a for a in state["local_accounts"] if a["name"].lower() == "kf_local_installer")
    assert local["sid"] in state["local_groups"]["S-1-5-32-544"]
    assert local["sid"] in state["user_rights"]["SeBackupPrivilege"]
    for where, text in (("stdout", run.stdout), ("stderr", run.stderr), ("results", json.dumps(run.report)),
                        ("state file", state_path.read_text())):
        assert password not in text, f"the password leaked into {where}"


def test_a_local_installer_created_after_the_snapshot_is_granted_not_its_domain_namesake(lab):
    # Before the local account exists, the bare name kf_installer resolves to CONTOSO\kf_installer; the snapshot
    # taken then is stale for it once the account is created.
    lab.add_host(HOST, seed=SEED, common_installer_account="kf_installer", common_installer_account_create=True,
                 common_installer_account_password="Kf-Inst4ller!Pa55w0rd#2026")
    run = lab.run(SITE)
    assert run.returncode == 0, run.stdout[-3000:]
    state = lab.state(HOST)
    local = next(a["sid"] for a in state["local_accounts"] if a["name"].lower() == "kf_installer")
    domain = _installer_sid(lab)
    for holders in (state["local_groups"]["S-1-5-32-544"], state["user_rights"]["SeBackupPrivilege"],
                    state["user_rights"]["SeRestorePrivilege"]):
        assert local in holders
        assert domain not in holders

    again = lab.run(SITE)
    assert again.returncode == 0 and again.changed(HOST) == 0
