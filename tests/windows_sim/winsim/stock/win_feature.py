"""Stand-in for ansible.windows.win_feature (Install-/Uninstall-WindowsFeature on Windows Server 2016-2022).

State: ``state["features"]`` maps a feature name to ``{"installed": bool}``. A
feature the state does not mention has its fresh-install value: installed are
only what Windows Server 2022 ships enabled (File and Storage Services, the .NET
4.8 features, Windows PowerShell, Windows Defender Antivirus and WoW64).

The catalogue holds every role, role service and feature of Windows Server
2016, 2019 and 2022 (where each name comes from is noted at the catalogue); one
that only some versions have is known only on a host whose ``os_version`` is
one of them.

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
from ..accounts import os_build
from ..errors import HostError
from ..models import stock_module
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
    since: int = 0  # the first Windows Server build that has it
    until: int = 0  # the first build that no longer has it; 0 when every build since has it


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
) + (
    # The rest of Windows Server 2016-2022. Names and display names: Microsoft's "Roles, Role Services, and
    # Features included in Windows Server - Server Core" and "Roles, Role Services, and Features not in Windows
    # Server - Server Core" (MicrosoftDocs/windowsserverdocs, WindowsServerDocs/administration/server-core/
    # server-core-roles-and-services.md and server-core-removed-roles.md; Windows Server 2016 and 2019), nested as
    # Get-WindowsFeature nests them. By version: Business Scanning (Print-Scan-Server) was removed in Windows Server
    # 2019 ("Features removed or planned for replacement starting Windows Server 2019") and the iSNS Server service
    # in Windows Server 2022 ("Features removed or no longer developed starting with Windows Server 2022");
    # Windows-Defender-Features and Windows-Defender-Gui are Windows Server 2016's, Windows-Defender alone remains
    # from version 1803 ("Microsoft Defender Antivirus on Windows Server"). Storage Migration Service and System
    # Insights came with Windows Server 2019 ("What's new in Windows Server 2019"), under the names its
    # Get-WindowsFeature lists.
    Feature("AD-Domain-Services", "Active Directory Domain Services"),
    Feature("ADFS-Federation", "Active Directory Federation Services"),
    Feature("ADLDS", "Active Directory Lightweight Directory Services"),
    Feature("ADRMS", "Active Directory Rights Management Services"),
    Feature("ADRMS-Server", "Active Directory Rights Management Server", "ADRMS", True),
    Feature("ADRMS-Identity", "Identity Federation Support", "ADRMS"),
    Feature("ADCS-Enroll-Web-Pol", "Certificate Enrollment Policy Web Service", "AD-Certificate"),
    Feature("ADCS-Enroll-Web-Svc", "Certificate Enrollment Web Service", "AD-Certificate"),
    Feature("ADCS-Web-Enrollment", "Certification Authority Web Enrollment", "AD-Certificate"),
    Feature("ADCS-Device-Enrollment", "Network Device Enrollment Service", "AD-Certificate"),
    Feature("ADCS-Online-Cert", "Online Responder", "AD-Certificate"),
    Feature("DeviceHealthAttestationService", "Device Health Attestation"),
    Feature("DHCP", "DHCP Server"),
    Feature("DNS", "DNS Server"),
    Feature("Fax", "Fax Server"),
    Feature("FileAndStorage-Services", "File and Storage Services", installed_by_default=True),
    Feature("File-Services", "File and iSCSI Services", "FileAndStorage-Services"),
    Feature("FS-FileServer", "File Server", "File-Services", True),
    Feature("FS-BranchCache", "BranchCache for Network Files", "File-Services"),
    Feature("FS-Data-Deduplication", "Data Deduplication", "File-Services"),
    Feature("FS-DFS-Namespace", "DFS Namespaces", "File-Services"),
    Feature("FS-DFS-Replication", "DFS Replication", "File-Services"),
    Feature("FS-Resource-Manager", "File Server Resource Manager", "File-Services"),
    Feature("FS-VSS-Agent", "File Server VSS Agent Service", "File-Services"),
    Feature("iSCSITarget-Server", "iSCSI Target Server", "File-Services"),
    Feature("iSCSITarget-VSS-VDS", "iSCSI Target Storage Provider (VDS and VSS hardware providers)", "File-Services"),
    Feature("FS-NFS-Service", "Server for NFS", "File-Services"),
    Feature("FS-SyncShareService", "Work Folders", "File-Services"),
    Feature("Storage-Services", "Storage Services", "FileAndStorage-Services", True, installed_by_default=True),
    Feature("HostGuardianServiceRole", "Host Guardian Service"),
    Feature("Hyper-V", "Hyper-V"),
    Feature("MultiPointServerRole", "MultiPoint Services"),
    Feature("NPAS", "Network Policy and Access Services"),
    Feature("Print-Services", "Print and Document Services"),
    Feature("Print-Server", "Print Server", "Print-Services", True),
    Feature("Print-Scan-Server", "Distributed Scan Server", "Print-Services", until=17763),
    Feature("Print-Internet", "Internet Printing", "Print-Services"),
    Feature("Print-LPD-Service", "LPD Service", "Print-Services"),
    Feature("RemoteAccess", "Remote Access"),
    Feature("DirectAccess-VPN", "DirectAccess and VPN (RAS)", "RemoteAccess", True),
    Feature("Routing", "Routing", "RemoteAccess"),
    Feature("Web-Application-Proxy", "Web Application Proxy", "RemoteAccess"),
    Feature("Remote-Desktop-Services", "Remote Desktop Services"),
    Feature("RDS-Connection-Broker", "Remote Desktop Connection Broker", "Remote-Desktop-Services"),
    Feature("RDS-Gateway", "Remote Desktop Gateway", "Remote-Desktop-Services"),
    Feature("RDS-Licensing", "Remote Desktop Licensing", "Remote-Desktop-Services"),
    Feature("RDS-RD-Server", "Remote Desktop Session Host", "Remote-Desktop-Services"),
    Feature("RDS-Virtualization", "Remote Desktop Virtualization Host", "Remote-Desktop-Services"),
    Feature("RDS-Web-Access", "Remote Desktop Web Access", "Remote-Desktop-Services"),
    Feature("VolumeActivation", "Volume Activation Services"),
    Feature("WDS", "Windows Deployment Services"),
    Feature("WDS-Deployment", "Deployment Server", "WDS", True),
    Feature("WDS-Transport", "Transport Server", "WDS", True),
    Feature("ServerEssentialsRole", "Windows Server Essentials Experience"),
    Feature("UpdateServices", "Windows Server Update Services"),
    Feature("UpdateServices-WidDB", "WID Connectivity", "UpdateServices", True),
    Feature("UpdateServices-Services", "WSUS Services", "UpdateServices", True),
    Feature("UpdateServices-DB", "SQL Server Connectivity", "UpdateServices"),
    _web("Web-Net-Ext", ".NET Extensibility 3.5", "Web-App-Dev", requires=("NET-Framework-Core",)),
    _web("Web-Asp-Net", "ASP.NET 3.5", "Web-App-Dev", requires=("Web-Net-Ext", "Web-ISAPI-Ext", "Web-ISAPI-Filter")),
    Feature("NET-Framework-Features", ".NET Framework 3.5 Features"),
    Feature("NET-Framework-Core", ".NET Framework 3.5 (includes .NET 2.0 and 3.0)", "NET-Framework-Features", True),
    Feature("NET-HTTP-Activation", "HTTP Activation", "NET-Framework-Features"),
    Feature("NET-Non-HTTP-Activ", "Non-HTTP Activation", "NET-Framework-Features"),
    Feature("NET-WCF-MSMQ-Activation45", "Message Queuing (MSMQ) Activation", "NET-WCF-Services45",
            requires=("MSMQ-Server", "WAS-Process-Model", "WAS-Config-APIs")),
    Feature("BITS", "Background Intelligent Transfer Service (BITS)"),
    Feature("BITS-IIS-Ext", "IIS Server Extension", "BITS"),
    Feature("BITS-Compact-Server", "Compact Server", "BITS"),
    Feature("BitLocker", "BitLocker Drive Encryption", requires=("EnhancedStorage",)),
    Feature("BitLocker-NetworkUnlock", "BitLocker Network Unlock"),
    Feature("BranchCache", "BranchCache"),
    Feature("NFS-Client", "Client for NFS"),
    Feature("Containers", "Containers"),
    Feature("Data-Center-Bridging", "Data Center Bridging"),
    Feature("Direct-Play", "Direct Play"),
    Feature("EnhancedStorage", "Enhanced Storage"),
    Feature("GPMC", "Group Policy Management"),
    Feature("DiskIo-QoS", "I/O Quality of Service"),
    Feature("Web-WHC", "IIS Hostable Web Core"),
    Feature("Internet-Print-Client", "Internet Printing Client"),
    Feature("IPAM", "IP Address Management (IPAM) Server"),
    Feature("ISNS", "iSNS Server service", until=20348),
    Feature("LPR-Port-Monitor", "LPR Port Monitor"),
    Feature("ManagementOdata", "Management OData IIS Extension"),
    Feature("Server-Media-Foundation", "Media Foundation"),
    Feature("MSMQ", "Message Queuing"),
    Feature("MSMQ-Services", "Message Queuing Services", "MSMQ", True),
    Feature("MSMQ-Server", "Message Queuing Server", "MSMQ-Services", True),
    Feature("MSMQ-Directory", "Directory Service Integration", "MSMQ-Services"),
    Feature("MSMQ-HTTP-Support", "HTTP Support", "MSMQ-Services"),
    Feature("MSMQ-Triggers", "Message Queuing Triggers", "MSMQ-Services"),
    Feature("MSMQ-Multicasting", "Multicasting Support", "MSMQ-Services"),
    Feature("MSMQ-Routing", "Routing Service", "MSMQ-Services"),
    Feature("MSMQ-DCOM", "Message Queuing DCOM Proxy", "MSMQ"),
    Feature("Multipath-IO", "Multipath I/O"),
    Feature("MultiPoint-Connector", "MultiPoint Connector"),
    Feature("MultiPoint-Connector-Services", "MultiPoint Connector Services", "MultiPoint-Connector"),
    Feature("MultiPoint-Tools", "MultiPoint Manager and MultiPoint Dashboard", "MultiPoint-Connector"),
    Feature("NLB", "Network Load Balancing"),
    Feature("PNRP", "Peer Name Resolution Protocol"),
    Feature("qWave", "Quality Windows Audio Video Experience"),
    Feature("CMAK", "RAS Connection Manager Administration Kit (CMAK)"),
    Feature("Remote-Assistance", "Remote Assistance"),
    Feature("RDC", "Remote Differential Compression"),
    Feature("RSAT-SMTP", "SMTP Server Tools", "RSAT-Feature-Tools"),
    Feature("RSAT-Feature-Tools-BitLocker", "BitLocker Drive Encryption Administration Utilities", "RSAT-Feature-Tools"),
    Feature("RSAT-Feature-Tools-BitLocker-RemoteAdminTool", "BitLocker Drive Encryption Tools",
            "RSAT-Feature-Tools-BitLocker", True),
    Feature("RSAT-Feature-Tools-BitLocker-BdeAducExt", "BitLocker Recovery Password Viewer",
            "RSAT-Feature-Tools-BitLocker", True),
    Feature("RSAT-Bits-Server", "BITS Server Extensions Tools", "RSAT-Feature-Tools"),
    Feature("RSAT-DataCenterBridging-LLDP-Tools", "DataCenterBridging LLDP Tools", "RSAT-Feature-Tools"),
    Feature("IPAM-Client-Feature", "IP Address Management (IPAM) Client", "RSAT-Feature-Tools"),
    Feature("RSAT-NLB", "Network Load Balancing Tools", "RSAT-Feature-Tools"),
    Feature("RSAT-Shielded-VM-Tools", "Shielded VM Tools", "RSAT-Feature-Tools"),
    Feature("RSAT-SNMP", "SNMP Tools", "RSAT-Feature-Tools"),
    Feature("RSAT-Storage-Replica", "Storage Replica Module for Windows PowerShell", "RSAT-Feature-Tools"),
    Feature("RSAT-WINS", "WINS Server Tools", "RSAT-Feature-Tools"),
    Feature("RSAT-AD-Tools", "AD DS and AD LDS Tools", "RSAT-Role-Tools"),
    Feature("RSAT-AD-PowerShell", "Active Directory module for Windows PowerShell", "RSAT-AD-Tools"),
    Feature("RSAT-ADDS", "AD DS Tools", "RSAT-AD-Tools"),
    Feature("RSAT-AD-AdminCenter", "Active Directory Administrative Center", "RSAT-ADDS", True),
    Feature("RSAT-ADDS-Tools", "AD DS Snap-Ins and Command-Line Tools", "RSAT-ADDS", True),
    Feature("RSAT-ADLDS", "AD LDS Snap-Ins and Command-Line Tools", "RSAT-AD-Tools"),
    Feature("RSAT-Hyper-V-Tools", "Hyper-V Management Tools", "RSAT-Role-Tools"),
    Feature("Hyper-V-Tools", "Hyper-V GUI Management Tools", "RSAT-Hyper-V-Tools", True),
    Feature("Hyper-V-PowerShell", "Hyper-V Module for Windows PowerShell", "RSAT-Hyper-V-Tools", True),
    Feature("RSAT-RDS-Tools", "Remote Desktop Services Tools", "RSAT-Role-Tools"),
    Feature("RSAT-RDS-Gateway", "Remote Desktop Gateway Tools", "RSAT-RDS-Tools"),
    Feature("RSAT-RDS-Licensing-Diagnosis-UI", "Remote Desktop Licensing Diagnoser Tools", "RSAT-RDS-Tools"),
    Feature("RDS-Licensing-UI", "Remote Desktop Licensing Tools", "RSAT-RDS-Tools"),
    Feature("UpdateServices-RSAT", "Windows Server Update Services Tools", "RSAT-Role-Tools"),
    Feature("UpdateServices-API", "API and PowerShell cmdlets", "UpdateServices-RSAT", True),
    Feature("UpdateServices-UI", "User Interface Management Console", "UpdateServices-RSAT", True),
    Feature("RSAT-Online-Responder", "Online Responder Tools", "RSAT-ADCS"),
    Feature("RSAT-ADRMS", "Active Directory Rights Management Services Tools", "RSAT-Role-Tools"),
    Feature("RSAT-DHCP", "DHCP Server Tools", "RSAT-Role-Tools"),
    Feature("RSAT-DNS-Server", "DNS Server Tools", "RSAT-Role-Tools"),
    Feature("RSAT-Fax", "Fax Server Tools", "RSAT-Role-Tools"),
    Feature("RSAT-File-Services", "File Services Tools", "RSAT-Role-Tools"),
    Feature("RSAT-DFS-Mgmt-Con", "DFS Management Tools", "RSAT-File-Services"),
    Feature("RSAT-FSRM-Mgmt", "File Server Resource Manager Tools", "RSAT-File-Services"),
    Feature("RSAT-NFS-Admin", "Services for Network File System Management Tools", "RSAT-File-Services"),
    Feature("RSAT-NPAS", "Network Policy and Access Services Tools", "RSAT-Role-Tools"),
    Feature("RSAT-Print-Services", "Print and Document Services Tools", "RSAT-Role-Tools"),
    Feature("RSAT-RemoteAccess", "Remote Access Management Tools", "RSAT-Role-Tools"),
    Feature("RSAT-RemoteAccess-Mgmt", "Remote Access GUI and Command-Line Tools", "RSAT-RemoteAccess", True),
    Feature("RSAT-RemoteAccess-PowerShell", "Remote Access module for Windows PowerShell", "RSAT-RemoteAccess", True),
    Feature("RSAT-VA-Tools", "Volume Activation Tools", "RSAT-Role-Tools"),
    Feature("WDS-AdminPack", "Windows Deployment Services Tools", "RSAT-Role-Tools"),
    Feature("RPC-over-HTTP-Proxy", "RPC over HTTP Proxy"),
    Feature("Setup-and-Boot-Event-Collection", "Setup and Boot Event Collection"),
    Feature("Simple-TCPIP", "Simple TCP/IP Services"),
    Feature("FS-SMB1", "SMB 1.0/CIFS File Sharing Support"),
    Feature("FS-SMBBW", "SMB Bandwidth Limit"),
    Feature("SMTP-Server", "SMTP Server"),
    Feature("SNMP-Service", "SNMP Service"),
    Feature("SNMP-WMI-Provider", "SNMP WMI Provider", "SNMP-Service"),
    Feature("Storage-Replica", "Storage Replica"),
    Feature("Telnet-Client", "Telnet Client"),
    Feature("TFTP-Client", "TFTP Client"),
    Feature("FabricShieldedTools", "VM Shielding Tools for Fabric Management"),
    Feature("WebDAV-Redirector", "WebDAV Redirector"),
    Feature("Biometric-Framework", "Windows Biometric Framework"),
    Feature("Windows-Defender-Features", "Windows Defender Features", until=17134),
    Feature("Windows-Defender", "Windows Defender Antivirus", installed_by_default=True),
    Feature("Windows-Defender-Gui", "GUI for Windows Defender", "Windows-Defender-Features", until=17134),
    Feature("Windows-Identity-Foundation", "Windows Identity Foundation 3.5"),
    Feature("Windows-Internal-Database", "Windows Internal Database"),
    Feature("PowerShellRoot", "Windows PowerShell", installed_by_default=True),
    Feature("PowerShell", "Windows PowerShell 5.1", "PowerShellRoot", True, installed_by_default=True),
    Feature("PowerShell-V2", "Windows PowerShell 2.0 Engine", "PowerShellRoot", requires=("NET-Framework-Core",)),
    Feature("DSC-Service", "Windows PowerShell Desired State Configuration Service", "PowerShellRoot"),
    Feature("PowerShell-ISE", "Windows PowerShell ISE", "PowerShellRoot"),
    Feature("WindowsPowerShellWebAccess", "Windows PowerShell Web Access", "PowerShellRoot"),
    Feature("WAS-NET-Environment", ".NET Environment 3.5", "WAS", requires=("NET-Framework-Core",)),
    Feature("Search-Service", "Windows Search Service"),
    Feature("Windows-Server-Backup", "Windows Server Backup"),
    Feature("Migration", "Windows Server Migration Tools"),
    Feature("WindowsStorageManagementService", "Windows Standards-Based Storage Management"),
    Feature("Windows-TIFF-IFilter", "Windows TIFF IFilter"),
    Feature("WinRM-IIS-Ext", "WinRM IIS Extension"),
    Feature("WINS", "WINS Server"),
    Feature("Wireless-Networking", "Wireless LAN Service"),
    Feature("WoW64-Support", "WoW64 Support", installed_by_default=True),
    Feature("XPS-Viewer", "XPS Viewer"),
    Feature("SMS", "Storage Migration Service", since=17763),
    Feature("SMS-Proxy", "Storage Migration Service Proxy", since=17763),
    Feature("System-Insights", "System Insights", since=17763),
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


def available(state: dict, name: str) -> bool:
    """Whether the host's Windows Server version has the catalogued feature."""
    feature = CATALOGUE[_BY_LOWER_NAME[name.lower()]]
    build = os_build(state.get("host", {}).get("os_version", ""))
    return build >= feature.since and not (feature.until and build >= feature.until)


def _children(state: dict, name: str) -> list[str]:
    return [feature.name for feature in _FEATURES if feature.parent == name and available(state, feature.name)]


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
        for child in _children(state, name):
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
        for child in _children(state, name):
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
    unknown = [name for name in requested if name.lower() not in _BY_LOWER_NAME or not available(state, name)]
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
