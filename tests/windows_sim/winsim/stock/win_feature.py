"""Stand-in for ansible.windows.win_feature (Install-/Uninstall-WindowsFeature on Windows Server 2022).

State: ``state["features"]`` maps a feature name to ``{"installed": bool}``. A
feature the state does not mention has its fresh-install value: only the .NET
4.8 features Windows Server ships enabled are installed.

Server Manager's rules, as far as the catalogue below covers them:
- names are case-insensitive; an unknown one fails the whole call, naming it;
- installing a feature installs its parent features and what it requires;
- a newly installed feature brings its default sub-features (``Web-Server``
  alone gives the role services Server Manager preselects), and
  ``include_sub_features`` brings all of them;
- ``include_management_tools`` adds the feature's catalogued management tools;
- uninstalling removes the feature's sub-features and whatever requires it, and
  with ``include_management_tools`` its management tools;
- check mode reports what would change and changes nothing;
- IIS setup grants ``BUILTIN\\IIS_IUSRS`` the batch logon right and the
  impersonate privilege, so installing ``Web-Server`` does too.

``id`` in ``feature_result`` is the feature's position in this catalogue, not
the number Windows uses. Nothing here ever needs a reboot.
"""

from __future__ import annotations

import dataclasses

from .. import iis
from ..errors import HostError
from ..registry import stock_module
from . import win_file

IIS_IUSRS = "S-1-5-32-568"
_IIS_RIGHTS = ("SeBatchLogonRight", "SeImpersonatePrivilege")


@dataclasses.dataclass(frozen=True)
class Feature:
    """One entry of Get-WindowsFeature: a role, role service or feature."""

    name: str
    display_name: str
    parent: str | None = None
    default: bool = False  # installed with its parent when the parent is newly installed
    requires: tuple[str, ...] = ()
    installed_by_default: bool = False  # on a fresh Windows Server 2022


def _web(name: str, display_name: str, parent: str, default: bool = False, requires: tuple[str, ...] = ()) -> Feature:
    return Feature(name, display_name, parent, default, requires)


_FEATURES = (
    Feature("AD-Certificate", "Active Directory Certificate Services"),
    Feature("ADCS-Cert-Authority", "Certification Authority", "AD-Certificate", default=True),
    Feature("Web-Server", "Web Server (IIS)"),
    _web("Web-WebServer", "Web Server", "Web-Server", True),
    _web("Web-Common-Http", "Common HTTP Features", "Web-WebServer", True),
    _web("Web-Default-Doc", "Default Document", "Web-Common-Http", True),
    _web("Web-Dir-Browsing", "Directory Browsing", "Web-Common-Http", True),
    _web("Web-Http-Errors", "HTTP Errors", "Web-Common-Http", True),
    _web("Web-Static-Content", "Static Content", "Web-Common-Http", True),
    _web("Web-Http-Redirect", "HTTP Redirection", "Web-Common-Http"),
    _web("Web-DAV-Publishing", "WebDAV Publishing", "Web-Common-Http"),
    _web("Web-Health", "Health and Diagnostics", "Web-WebServer", True),
    _web("Web-Http-Logging", "HTTP Logging", "Web-Health", True),
    _web("Web-Custom-Logging", "Custom Logging", "Web-Health"),
    _web("Web-Log-Libraries", "Logging Tools", "Web-Health"),
    _web("Web-ODBC-Logging", "ODBC Logging", "Web-Health"),
    _web("Web-Request-Monitor", "Request Monitor", "Web-Health"),
    _web("Web-Http-Tracing", "Tracing", "Web-Health"),
    _web("Web-Performance", "Performance", "Web-WebServer", True),
    _web("Web-Stat-Compression", "Static Content Compression", "Web-Performance", True),
    _web("Web-Dyn-Compression", "Dynamic Content Compression", "Web-Performance"),
    _web("Web-Security", "Security", "Web-WebServer", True),
    _web("Web-Filtering", "Request Filtering", "Web-Security", True),
    _web("Web-Basic-Auth", "Basic Authentication", "Web-Security"),
    _web("Web-CertProvider", "Centralized SSL Certificate Support", "Web-Security"),
    _web("Web-Client-Auth", "Client Certificate Mapping Authentication", "Web-Security"),
    _web("Web-Digest-Auth", "Digest Authentication", "Web-Security"),
    _web("Web-Cert-Auth", "IIS Client Certificate Mapping Authentication", "Web-Security"),
    _web("Web-IP-Security", "IP and Domain Restrictions", "Web-Security"),
    _web("Web-Url-Auth", "URL Authorization", "Web-Security"),
    _web("Web-Windows-Auth", "Windows Authentication", "Web-Security"),
    _web("Web-App-Dev", "Application Development", "Web-WebServer"),
    _web("Web-Net-Ext45", ".NET Extensibility 4.8", "Web-App-Dev", requires=("NET-Framework-45-ASPNET",)),
    _web("Web-AppInit", "Application Initialization", "Web-App-Dev"),
    _web("Web-ASP", "ASP", "Web-App-Dev", requires=("Web-ISAPI-Ext",)),
    _web("Web-Asp-Net45", "ASP.NET 4.8", "Web-App-Dev",
         requires=("Web-Net-Ext45", "Web-ISAPI-Ext", "Web-ISAPI-Filter", "NET-Framework-45-ASPNET")),
    _web("Web-CGI", "CGI", "Web-App-Dev"),
    _web("Web-ISAPI-Ext", "ISAPI Extensions", "Web-App-Dev"),
    _web("Web-ISAPI-Filter", "ISAPI Filters", "Web-App-Dev"),
    _web("Web-Includes", "Server Side Includes", "Web-App-Dev"),
    _web("Web-WebSockets", "WebSocket Protocol", "Web-App-Dev"),
    _web("Web-Ftp-Server", "FTP Server", "Web-Server"),
    _web("Web-Ftp-Service", "FTP Service", "Web-Ftp-Server", True),
    _web("Web-Ftp-Ext", "FTP Extensibility", "Web-Ftp-Server"),
    _web("Web-Mgmt-Tools", "Management Tools", "Web-Server"),
    _web("Web-Mgmt-Console", "IIS Management Console", "Web-Mgmt-Tools", True),
    _web("Web-Mgmt-Compat", "IIS 6 Management Compatibility", "Web-Mgmt-Tools"),
    _web("Web-Metabase", "IIS 6 Metabase Compatibility", "Web-Mgmt-Compat", True),
    _web("Web-Lgcy-Mgmt-Console", "IIS 6 Management Console", "Web-Mgmt-Compat", requires=("Web-Metabase",)),
    _web("Web-Lgcy-Scripting", "IIS 6 Scripting Tools", "Web-Mgmt-Compat", requires=("Web-Metabase", "Web-WMI")),
    _web("Web-WMI", "IIS 6 WMI Compatibility", "Web-Mgmt-Compat", requires=("Web-Metabase",)),
    _web("Web-Scripting-Tools", "IIS Management Scripts and Tools", "Web-Mgmt-Tools"),
    _web("Web-Mgmt-Service", "Management Service", "Web-Mgmt-Tools", requires=("NET-Framework-45-ASPNET",)),
    Feature("NET-Framework-45-Features", ".NET Framework 4.8 Features", installed_by_default=True),
    Feature("NET-Framework-45-Core", ".NET Framework 4.8", "NET-Framework-45-Features", True, installed_by_default=True),
    Feature("NET-Framework-45-ASPNET", "ASP.NET 4.8", "NET-Framework-45-Features", requires=("NET-Framework-45-Core",)),
    Feature("NET-WCF-Services45", "WCF Services", "NET-Framework-45-Features", installed_by_default=True),
    Feature("NET-WCF-HTTP-Activation45", "HTTP Activation", "NET-WCF-Services45",
            requires=("NET-Framework-45-ASPNET", "WAS-Process-Model", "WAS-Config-APIs")),
    Feature("NET-WCF-Pipe-Activation45", "Named Pipe Activation", "NET-WCF-Services45",
            requires=("WAS-Process-Model", "WAS-Config-APIs")),
    Feature("NET-WCF-TCP-Activation45", "TCP Activation", "NET-WCF-Services45",
            requires=("WAS-Process-Model", "WAS-Config-APIs", "NET-WCF-TCP-PortSharing45")),
    Feature("NET-WCF-TCP-PortSharing45", "TCP Port Sharing", "NET-WCF-Services45", True, installed_by_default=True),
    Feature("Failover-Clustering", "Failover Clustering"),
    Feature("RSAT", "Remote Server Administration Tools"),
    Feature("RSAT-Feature-Tools", "Feature Administration Tools", "RSAT"),
    Feature("RSAT-Clustering", "Failover Clustering Tools", "RSAT-Feature-Tools"),
    Feature("RSAT-Clustering-Mgmt", "Failover Cluster Management Tools", "RSAT-Clustering", True),
    Feature("RSAT-Clustering-PowerShell", "Failover Cluster Module for Windows PowerShell", "RSAT-Clustering", True),
    Feature("RSAT-Clustering-AutomationServer", "Failover Cluster Automation Server", "RSAT-Clustering"),
    Feature("RSAT-Clustering-CmdInterface", "Failover Cluster Command Interface", "RSAT-Clustering"),
    Feature("RSAT-Role-Tools", "Role Administration Tools", "RSAT"),
    Feature("RSAT-ADCS", "Active Directory Certificate Services Tools", "RSAT-Role-Tools"),
    Feature("RSAT-ADCS-Mgmt", "Certification Authority Management Tools", "RSAT-ADCS", True),
    Feature("WAS", "Windows Process Activation Service"),
    Feature("WAS-Process-Model", "Process Model", "WAS", True),
    Feature("WAS-Config-APIs", "Configuration APIs", "WAS", requires=("WAS-Process-Model",)),
)
CATALOGUE = {feature.name: feature for feature in _FEATURES}
_BY_LOWER_NAME = {name.lower(): name for name in CATALOGUE}
_ORDER = {name: index for index, name in enumerate(CATALOGUE)}
# What -IncludeManagementTools adds for a feature.
MANAGEMENT_TOOLS = {
    "Web-Server": ("Web-Mgmt-Console",),
    "Failover-Clustering": ("RSAT-Clustering-Mgmt", "RSAT-Clustering-PowerShell"),
    "AD-Certificate": ("RSAT-ADCS-Mgmt",),
    "ADCS-Cert-Authority": ("RSAT-ADCS-Mgmt",),
}


def _children(name: str) -> list[str]:
    return [feature.name for feature in _FEATURES if feature.parent == name]


def _ancestors(name: str) -> list[str]:
    found = []
    parent = CATALOGUE[name].parent
    while parent is not None:
        found.append(parent)
        parent = CATALOGUE[parent].parent
    return found


def is_installed(state: dict, name: str) -> bool:
    """Whether a catalogued feature is installed: the state's word, else the fresh-install value."""
    canonical = _BY_LOWER_NAME[name.lower()]
    for key, entry in state.get("features", {}).items():
        if key.lower() == canonical.lower():
            return bool(entry.get("installed"))
    return CATALOGUE[canonical].installed_by_default


def _record(state: dict, name: str, installed: bool) -> None:
    features = state.setdefault("features", {})
    for key in [k for k in features if k.lower() == name.lower() and k != name]:
        del features[key]
    features[name] = {"installed": installed}


def _to_install(state: dict, names: list[str], all_sub_features: bool, management_tools: bool) -> list[str]:
    selected: set[str] = set()
    visited: set[tuple[str, str]] = set()

    def select(name: str, sub_features: str) -> None:
        if (name, sub_features) in visited:
            return
        visited.add((name, sub_features))
        newly = not is_installed(state, name)
        selected.add(name)
        for ancestor in _ancestors(name):
            select(ancestor, "none")
        for required in CATALOGUE[name].requires:
            select(required, "default")
        for child in _children(name):
            if sub_features == "all" or (sub_features == "default" and newly and CATALOGUE[child].default):
                select(child, sub_features)

    for name in names:
        select(name, "all" if all_sub_features else "default")
        for tool in MANAGEMENT_TOOLS.get(name, ()) if management_tools else ():
            select(tool, "default")
    return sorted((n for n in selected if not is_installed(state, n)), key=_ORDER.__getitem__)


def _to_uninstall(state: dict, names: list[str], management_tools: bool) -> list[str]:
    removed: set[str] = set()

    def drop(name: str) -> None:
        if name in removed:
            return
        removed.add(name)
        for child in _children(name):
            drop(child)
        for dependent in (f.name for f in _FEATURES if name in f.requires):
            drop(dependent)

    for name in names:
        drop(name)
        for tool in MANAGEMENT_TOOLS.get(name, ()) if management_tools else ():
            drop(tool)
    return sorted((n for n in removed if is_installed(state, n)), key=_ORDER.__getitem__)


def _grant_iis_rights(state: dict) -> None:
    rights = state.setdefault("user_rights", {})
    for right in _IIS_RIGHTS:
        holders = rights.setdefault(right, [])
        if IIS_IUSRS not in (sid.upper() for sid in holders):
            holders.append(IIS_IUSRS)


@stock_module("ansible.windows.win_feature")
def win_feature(host, params: dict, check_mode: bool, _diff_mode: bool) -> dict:
    """Follows win_feature.ps1: one Install- or Uninstall-WindowsFeature call for all the names."""
    state = host.state
    installing = params["state"] == "present"
    verb = "install" if installing else "uninstall"
    # Legacy Get-AnsibleParam trims each name of a comma-separated list.
    requested = [name.strip() for name in params["name"] if name.strip()]
    unknown = [name for name in requested if name.lower() not in _BY_LOWER_NAME]
    if unknown:
        raise HostError(f"Failed to {verb} Windows Feature: ArgumentNotValid: The role, role service, or feature name is "
                        f"not valid: '{unknown[0]}'. The name was not found.")
    names = [_BY_LOWER_NAME[name.lower()] for name in requested]
    source = params["source"]
    if installing and source and win_file.item_type(state, source) is None:
        raise HostError(f"Failed to find source path {source} for feature install")

    if installing:
        changes = _to_install(state, names, params["include_sub_features"], params["include_management_tools"])
    else:
        changes = _to_uninstall(state, names, params["include_management_tools"])
    if not check_mode:
        for name in changes:
            _record(state, name, installing)
        if installing and "Web-Server" in changes:
            _grant_iis_rights(state)
        for name in changes if installing else ():
            iis.feature_installed(state, name)

    return {
        "changed": bool(changes),
        "exitcode": "Success" if changes else "NoChangeNeeded",
        "feature_result": [{
            "id": _ORDER[name] + 1,
            "display_name": CATALOGUE[name].display_name,
            "message": [],
            "reboot_required": False,
            "skip_reason": "NotSkipped",
            "success": True,
        } for name in changes],
        "reboot_required": False,
        "success": True,
        "failed": False,
    }
