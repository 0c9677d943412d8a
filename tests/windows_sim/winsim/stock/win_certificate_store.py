"""Stand-in for ansible.windows.win_certificate_store.

State: ``state["certificates"]`` (see ../certificates.py). As win_certificate_store.ps1 of ansible.windows 3.3.0
and its integration tests have it:

- the module's ``required_if`` rules: ``absent`` needs ``path`` or ``thumbprint``, ``exported`` both, ``present``
  a ``path``, with Ansible.Basic's messages ("state is present but all of the following are missing: path");
- ``store_name: CertificateAuthority`` is ``CA``; ``store_location`` must name a StoreLocation
  (``CurrentUser`` or ``LocalMachine``, "value of store_location must be one of: ...");
- the store is opened with OpenExistingOnly, so a store the host does not have fails with "unable to find store
  '<name>'" and CertOpenStore's error. The host has the system stores every Windows Server 2016-2022 has (the nine
  the module itself registers for a service store, as the Certificates snap-in creates them, and Remote Desktop,
  REQUEST, SmartCardRoot and TrustedDevices), WebHosting once IIS is installed, and any store the state holds;
- ``absent`` removes the certificates named by ``thumbprint``; the store's ``Remove`` leaves their private keys
  alone; ``thumbprints`` lists the thumbprints looked for, found or not.

Exporting, the CurrentUser location and service stores are not simulated and fail saying so, and neither is
reading a certificate file (``present``, and ``absent`` by ``path``): only the bench's stock-module baselines
import one, and they bring that branch themselves (tests/bench/windows_sim_stock/).
"""

from __future__ import annotations

from ..errors import HostError
from ..models import stock_module
from .win_feature import is_installed

_SYSTEM_STORES = ("AuthRoot", "CA", "ClientAuthIssuer", "Disallowed", "My", "Root", "Trust", "TrustedPeople",
                  "TrustedPublisher", "Remote Desktop", "REQUEST", "SmartCardRoot", "TrustedDevices")
_STORE_LOCATIONS = ("CurrentUser", "LocalMachine")
# The Win32Exception CertOpenStore raises for ERROR_FILE_NOT_FOUND, as the module formats it.
_STORE_NOT_FOUND = "CertOpenStore failed (The system cannot find the file specified, Win32ErrorCode 2 - 0x00000002)"


def _store_exists(state: dict, name: str) -> bool:
    known = set(_SYSTEM_STORES) | set(state.get("certificates") or {})
    if is_installed(state, "Web-Server"):
        known.add("WebHosting")
    return name.lower() in {store.lower() for store in known}


def remove(host, wanted: list[str], store_name: str, check_mode: bool) -> dict:
    """Remove the certificates of these thumbprints from the store."""
    store = next((v for k, v in (host.state.get("certificates") or {}).items() if k.lower() == store_name.lower()), {})
    changed = False
    for thumbprint in wanted:
        # X509Certificate2Collection.Find(FindByThumbprint) compares without regard to case.
        found = [stored for stored in store if stored.upper() == thumbprint.strip().upper()]
        if found:
            changed = True
            if not check_mode:
                for stored in found:
                    del store[stored]
    return {"changed": changed, "thumbprints": wanted}


@stock_module("ansible.windows.win_certificate_store", secret_options=("password",), spec_rules={"required_if": [
    ["state", "absent", ["path", "thumbprint"], True],
    ["state", "exported", ["path", "thumbprint"]],
    ["state", "present", ["path"]],
]})
def win_certificate_store(host, params, check_mode, diff_mode):
    del diff_mode
    store_name = checked_store_name(host, params)
    if params["state"] == "absent" and params.get("path") is None:
        return remove(host, [params["thumbprint"]], store_name, check_mode)
    if params["state"] == "exported":
        raise HostError("windows_sim does not model exporting certificates with ansible.windows.win_certificate_store")
    raise HostError("windows_sim does not model reading certificate files with ansible.windows.win_certificate_store")


def checked_store_name(host, params) -> str:
    """The store's name, once the module has opened it as it does before anything else."""
    store_name = "CA" if params["store_name"] == "CertificateAuthority" else params["store_name"]
    if params["store_type"] != "system":
        raise HostError("windows_sim does not model service certificate stores")
    location = next((known for known in _STORE_LOCATIONS if known.lower() == params["store_location"].lower()), None)
    if location is None:
        raise HostError(f"value of store_location must be one of: {', '.join(_STORE_LOCATIONS)}. Got no match for: "
                        f"{params['store_location']}")
    if location != "LocalMachine":
        raise HostError("windows_sim models only the LocalMachine certificate stores")
    if not _store_exists(host.state, store_name):
        raise HostError(f"unable to find store '{store_name}': ({_STORE_NOT_FOUND})",
                        "ansible.windows.win_certificate_store.Win32Exception")
    return store_name
