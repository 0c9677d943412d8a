"""The readiness page as an installer opens it: in headless Chromium, from a local file, with nothing else to load."""

from __future__ import annotations

import copy
import pathlib
import time

import pytest

from chromium import Browser, png_info
from ansible_collections.pkiops.keyfactor_command.plugins.filter.readiness_report import readiness_html

WINDOW = (1400, 1000)
SVC = "CONTOSO\\svc-kf"
POOL = "CONTOSO\\svc-kf-pool"


def _req(req_id, title, category, profiles, source, status="pass", expected="", observed="", fix=""):
    return {"id": req_id, "title": title, "category": category, "profiles": profiles, "source": source, "status": status,
            "expected": expected, "observed": observed, "fix": fix}


# What a portal and services server is asked, all met.
PORTAL_AND_SERVICES = [
    _req("co_location/not_ca", "The server is not a certificate authority", "co_location", ["portal", "services"], "000-01",
         expected="no Active Directory Certificate Services role", observed="ADCS-Cert-Authority not installed"),
    _req("co_location/not_sql", "The server is not a SQL Server", "co_location", ["portal", "services"], "000-01",
         expected="no SQL Server instance", observed="no MSSQL services"),
    _req("accounts/installer_admin/CONTOSO\\kf_installer", "CONTOSO\\kf_installer is a local Administrator", "accounts",
         ["portal", "services"], "001-01", expected="member of BUILTIN\\Administrators", observed="member"),
    _req(f"user_right/SeServiceLogonRight/{SVC}", f"{SVC} holds Log on as a service (SeServiceLogonRight)", "rights",
         ["services"], "001-07", expected=f"{SVC} in SeServiceLogonRight", observed=f"*S-1-5-21-1004336348-1177238915-682003330-1104 ({SVC})"),
    _req(f"user_right/SeBatchLogonRight/{POOL}", f"{POOL} holds Log on as a batch job (SeBatchLogonRight)", "rights", ["portal"],
         "001-03", expected=f"{POOL} in SeBatchLogonRight", observed=f"{POOL}"),
    _req(f"user_right/SeImpersonatePrivilege/{POOL}", f"{POOL} holds Impersonate a client after authentication", "rights",
         ["portal"], "001-04", expected=f"{POOL} in SeImpersonatePrivilege", observed=f"{POOL}"),
    _req("log_directory/C:\\Keyfactor\\logs", "Local Users may write to C:\\Keyfactor\\logs", "log_directory", ["portal", "services"],
         "001-09", expected="BUILTIN\\Users: Modify", observed="BUILTIN\\Users: Modify (inherited)"),
    _req("feature/Web-Server", "IIS (Web-Server) is installed", "features", ["portal"], "000-02", expected="Installed",
         observed="Installed"),
    _req("feature/Web-Asp-Net45", "ASP.NET 4.8 (Web-Asp-Net45) is installed", "features", ["portal"], "000-02",
         expected="Installed", observed="Installed"),
    _req("app_pool/KeyfactorAPI", "The KeyfactorAPI pool runs as the pool account", "app_pools", ["portal"], "000-04",
         expected=f"identity {POOL}, .NET CLR v4.0, Integrated", observed=f"identity {POOL}, .NET CLR v4.0, Integrated"),
    _req("app_pool/KeyfactorPortal", "The KeyfactorPortal pool runs as the pool account", "app_pools", ["portal"], "000-03",
         expected=f"identity {POOL}, .NET CLR v4.0, Integrated", observed=f"identity {POOL}, .NET CLR v4.0, Integrated"),
]
# Only asked of a server in the CA Gateway cluster.
GATEWAY = [
    _req("feature/Failover-Clustering", "Failover Clustering is installed", "features", ["gateway_cluster"], "002-03",
         expected="Installed", observed="Installed"),
    _req("certificate/gateway_encryption", "The gateway encryption certificate is in LocalMachine\\My with a usable key",
         "certificates", ["gateway_cluster"], "002-05", expected="RSA, key encipherment, NETWORK SERVICE: Read",
         observed="RSA 2048, key encipherment, NETWORK SERVICE: Read"),
    _req("registry/EncryptSerialNumber", "EncryptSerialNumber names the encryption certificate's serial number", "registry",
         ["gateway_cluster"], "002-08", expected="4F0A...C1 (as Windows shows it)", observed="4F0A...C1"),
    _req("cluster/CloudGateway", "The CloudGateway Generic Service role is online", "cluster", ["gateway_cluster"], "002-10",
         expected="Online on GW01 or GW02", observed="Online on GW01"),
]


def _host(requirements, profiles):
    summary = {status: sum(1 for r in requirements if r["status"] == status) for status in ("pass", "fail", "warn")}
    return {"profiles": profiles, "requirements": requirements, "summary": summary, "ready": summary["fail"] == 0}


def _fixture() -> dict:
    app01 = copy.deepcopy(PORTAL_AND_SERVICES)
    app02 = copy.deepcopy(PORTAL_AND_SERVICES)
    for entry in app02:
        if entry["id"] == f"user_right/SeServiceLogonRight/{SVC}":
            entry.update(status="fail", observed="NT SERVICE\\ALL SERVICES\n*S-1-5-80-0 <no account for svc-kf>",
                         fix="role pkiops.keyfactor_command.services, variable services_account")
        elif entry["id"] == "log_directory/C:\\Keyfactor\\logs":
            entry.update(status="fail", observed="the directory does not exist",
                         fix="role pkiops.keyfactor_command.common, variable common_log_directory")
        elif entry["id"] == "app_pool/KeyfactorAPI":
            entry.update(status="warn", observed=f"identity {POOL}, .NET CLR v4.0, Integrated | start mode OnDemand",
                         fix="role pkiops.keyfactor_command.portal, variable portal_app_pools (start_mode: AlwaysRunning)")
        elif entry["id"] == "feature/Web-Asp-Net45":
            entry.update(status="warn", observed="Installed, restart pending",
                         fix="restart the server before the installation; role pkiops.keyfactor_command.common")
    # A gateway cluster node: the portal's and the services' requirements are not asked of it.
    gw01 = copy.deepcopy(PORTAL_AND_SERVICES[:3] + GATEWAY)
    gw01[-1].update(status="warn", observed="Online on GW02, the preferred owner is GW01",
                    fix="role pkiops.keyfactor_command.gateway_cluster_node, variable gateway_cluster_node_owner_node")
    return {
        "kf-app02.contoso.com": _host(app02, ["portal", "services"]),
        "kf-app01.contoso.com": _host(app01, ["portal", "services"]),
        "gw01.contoso.com": _host(gw01, ["gateway_cluster"]),
        "kf-app03.contoso.com": {"failed": True, "unreachable": True,
                                 "msg": "ntlm: HTTPSConnectionPool(host='kf-app03.contoso.com', port=5986): Max retries exceeded <timeout>"},
    }


FIXTURE = _fixture()
HOSTS = sorted(FIXTURE)
REQUIREMENT_IDS = {r["id"] for result in FIXTURE.values() for r in result.get("requirements", [])}


def _expected_cells() -> dict[str, int]:
    counts = dict.fromkeys(("pass", "fail", "warn", "na", "error"), 0)
    for result in FIXTURE.values():
        if result.get("failed"):
            counts["error"] += len(REQUIREMENT_IDS)
            continue
        statuses = {r["id"]: r["status"] for r in result["requirements"]}
        for req_id in REQUIREMENT_IDS:
            counts[statuses.get(req_id, "na")] += 1
    return counts


@pytest.fixture(scope="module", name="page")
def fixture_page(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("readiness") / "readiness.html"
    path.write_text(readiness_html(FIXTURE, generated="2026-06-01 12:00 UTC"), encoding="utf-8")
    return path


@pytest.fixture(scope="module", name="browser")
def fixture_browser():
    with Browser(window=WINDOW) as browser:
        yield browser


def test_the_fixture_has_every_kind_of_cell():
    assert _expected_cells() == {"pass": 24, "fail": 2, "warn": 3, "na": 16, "error": 15}
    assert len(REQUIREMENT_IDS) == 15 and len(HOSTS) == 4


def test_the_matrix_has_a_cell_per_host_and_requirement_and_no_console_message(browser, page):
    browser.open(page)
    matrix = browser.matrix()
    assert matrix.hosts == ["gw01.contoso.com", "kf-app01.contoso.com", "kf-app02.contoso.com", "kf-app03.contoso.com"]
    assert matrix.rows == len(REQUIREMENT_IDS) == 15
    assert matrix.total == len(HOSTS) * len(REQUIREMENT_IDS) == 60
    assert matrix.cells == _expected_cells()
    noisy = [entry for entry in browser.console() if entry.level in ("SEVERE", "WARNING")]
    assert noisy == []


def test_the_page_renders_something_the_size_of_the_window(browser, page, tmp_path):
    browser.open(page)
    shot = browser.screenshot(tmp_path / "readiness.png")
    info = png_info(shot)
    assert (info.width, info.height) == WINDOW
    # A blank or unstyled page has a handful of colours; the matrix's status colours and text give many more.
    assert info.colours > 50, info
    full = png_info(browser.screenshot(tmp_path / "readiness-full.png", full_page=True), count_colours=False)
    assert full.width == WINDOW[0] and full.height > WINDOW[1]


def test_a_fail_cell_opens_its_detail_with_the_fix_and_what_was_observed(browser, page):
    browser.open(page)
    detail = browser.open_detail("fail", host="kf-app02.contoso.com", requirement=f"user_right/SeServiceLogonRight/{SVC}")
    assert detail.href.startswith("#d-") and detail.element_id == detail.href[1:]
    assert detail.visible
    assert "role pkiops.keyfactor_command.services, variable services_account" in detail.text
    assert "*S-1-5-80-0 <no account for svc-kf>" in detail.text
    assert "001-07" in detail.text and "kf-app02.contoso.com" in detail.text
    # The other failure of the same host opens its own detail.
    other = browser.open_detail("fail", host="kf-app02.contoso.com", requirement="log_directory/C:\\Keyfactor\\logs")
    assert other.element_id not in ("", detail.element_id)
    assert "variable common_log_directory" in other.text and "the directory does not exist" in other.text
    warning = browser.open_detail("warn", host="gw01.contoso.com")
    assert "Online on GW02, the preferred owner is GW01" in warning.text
    error = browser.open_detail("error", host="kf-app03.contoso.com")
    assert "Max retries exceeded <timeout>" in error.text
    assert [entry for entry in browser.console() if entry.level in ("SEVERE", "WARNING")] == []


def test_the_console_check_sees_a_script_error(browser, tmp_path):
    noisy = tmp_path / "noisy.html"
    noisy.write_text("<!DOCTYPE html><html><head><title>noisy</title></head><body><p>noisy</p>"
                     "<script>console.error('readiness page broke');</script></body></html>")
    browser.open(noisy)
    deadline = time.monotonic() + 5
    entries = browser.console()
    while not entries and time.monotonic() < deadline:
        time.sleep(0.05)
        entries = browser.console()
    assert [(entry.level, "readiness page broke" in entry.message) for entry in entries] == [("SEVERE", True)]
