"""Stand-in for ansible.windows.setup: Windows facts derived from state["host"] and state["domain"].

``gather_subset`` is resolved exactly as setup.ps1 resolves it (groups ``all``,
``min``, ``network``, ``hardware``, ``external``; ``!`` excludes; an unknown
value warns). Of the subsets it selects, these are modelled: ``date_time``,
``distribution``, ``env`` (machine-wide variables only), ``platform``,
``powershell_version`` and ``windows_domain``. The others (hardware, network
interfaces, the connecting user, local fact files) add no facts.
"""

from __future__ import annotations

import datetime

from ..models import stock_module

_GROUPED_SUBSETS = {
    "min": ("date_time", "distribution", "dns", "env", "local", "platform", "powershell_version", "user"),
    "network": ("all_ipv4_addresses", "all_ipv6_addresses", "interfaces", "windows_domain", "winrm"),
    "hardware": ("bios", "memory", "processor", "uptime", "virtual"),
    "external": ("facter",),
}
_ALL = {subset for members in _GROUPED_SUBSETS.values() for subset in members}


def resolve_subsets(gather_subset: list[str]) -> tuple[set[str], list[str]]:
    """The subsets setup.ps1 would collect for gather_subset, and the warnings it would give."""
    groups = {**_GROUPED_SUBSETS, "all": tuple(_ALL)}
    explicit: set[str] = set()
    excluded: set[str] = set()
    warnings = []
    for item in gather_subset:
        if item.startswith("!"):
            item = item[1:]
            if item == "all":
                excluded |= _ALL - set(_GROUPED_SUBSETS["min"])
            elif item in groups:
                excluded |= set(groups[item])
            elif item in _ALL:
                excluded.add(item)
        elif item in groups:
            explicit |= set(groups[item])
        elif item in _ALL:
            explicit.add(item)
        else:
            warnings.append(f"invalid value {item} specified in gather_subset")
    return (_ALL - excluded) | explicit, warnings


def _date_time() -> dict:
    # The simulated host keeps UTC, so local and UTC times agree.
    now = datetime.datetime.now(datetime.timezone.utc)
    epoch = int(now.timestamp())
    return {
        "date": now.strftime("%Y-%m-%d"),
        "day": now.strftime("%d"),
        "epoch": str(epoch),
        "epoch_int": epoch,
        "epoch_local": str(epoch),
        "hour": now.strftime("%H"),
        "iso8601": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "iso8601_basic": now.strftime("%Y%m%dT%H%M%S%f"),
        "iso8601_basic_short": now.strftime("%Y%m%dT%H%M%S"),
        "iso8601_micro": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "minute": now.strftime("%M"),
        "month": now.strftime("%m"),
        "second": now.strftime("%S"),
        "time": now.strftime("%H:%M:%S"),
        "tz": "UTC",
        "tz_offset": "+00:00",
        "weekday": now.strftime("%A"),
        "weekday_number": now.strftime("%w"),
        "weeknumber": now.strftime("%W"),
        "year": now.strftime("%Y"),
    }


def _env(computer_name: str) -> dict:
    return {
        "ALLUSERSPROFILE": "C:\\ProgramData",
        "CommonProgramFiles": "C:\\Program Files\\Common Files",
        "CommonProgramFiles(x86)": "C:\\Program Files (x86)\\Common Files",
        "CommonProgramW6432": "C:\\Program Files\\Common Files",
        "COMPUTERNAME": computer_name,
        "ComSpec": "C:\\Windows\\system32\\cmd.exe",
        "DriverData": "C:\\Windows\\System32\\Drivers\\DriverData",
        "OS": "Windows_NT",
        "PATHEXT": ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC;.CPL",
        "PROCESSOR_ARCHITECTURE": "AMD64",
        "ProgramData": "C:\\ProgramData",
        "ProgramFiles": "C:\\Program Files",
        "ProgramFiles(x86)": "C:\\Program Files (x86)",
        "ProgramW6432": "C:\\Program Files",
        "PUBLIC": "C:\\Users\\Public",
        "SystemDrive": "C:",
        "SystemRoot": "C:\\Windows",
        "windir": "C:\\Windows",
    }


@stock_module("ansible.windows.setup")
def setup(host, params: dict, _check_mode: bool, _diff_mode: bool) -> dict:
    """The facts of the selected subsets; fact gathering never changes anything."""
    machine, domain = host.state["host"], host.state.get("domain") or {}
    computer_name = host.computer_name
    dns_domain = domain.get("dns_name") or ""
    member = bool(dns_domain)
    fqdn = f"{computer_name}.{dns_domain}" if member else computer_name
    os_version = machine["os_version"]
    subsets, warnings = resolve_subsets(params["gather_subset"])

    facts: dict = {"gather_subset": params["gather_subset"], "module_setup": True}
    if "date_time" in subsets:
        facts["ansible_date_time"] = _date_time()
    if "distribution" in subsets:
        facts.update({
            "ansible_distribution": machine["os_name"],
            "ansible_distribution_version": os_version,
            "ansible_distribution_major_version": os_version.split(".", 1)[0],
            "ansible_os_family": "Windows",
            "ansible_os_name": machine["os_name"],
            "ansible_os_product_type": "server",
            "ansible_os_installation_type": "Server",
            "ansible_os_install_date": None,
        })
    if "env" in subsets:
        facts["ansible_env"] = _env(computer_name)
    if "platform" in subsets:
        facts.update({
            "ansible_domain": dns_domain,
            "ansible_fqdn": fqdn,
            "ansible_hostname": computer_name,
            "ansible_netbios_name": computer_name,
            "ansible_kernel": os_version,
            "ansible_nodename": fqdn,
            "ansible_machine_id": machine["machine_sid"],
            "ansible_owner_name": "Windows User",
            "ansible_owner_contact": "",
            "ansible_system": "Win32NT",
            "ansible_system_description": "",
            "ansible_reboot_pending": False,
            "ansible_architecture": "64-bit",
            "ansible_architecture2": "x86_64",
        })
    if "powershell_version" in subsets:
        facts["ansible_powershell_version"] = int(str(machine["powershell_version"]).split(".", 1)[0])
    if "windows_domain" in subsets:
        facts.update({
            "ansible_windows_domain": dns_domain if member else "WORKGROUP",
            "ansible_windows_domain_member": member,
            "ansible_windows_domain_role": "Member server" if member else "Stand-alone server",
        })
    result = {"changed": False, "ansible_facts": facts}
    if warnings:
        result["warnings"] = warnings
    return result
