"""Security principals of a simulated host, resolved the way Windows resolves them.

Names are case-insensitive, and ``.\\user``, ``COMPUTER\\user``, ``user@dns.domain``,
bare names and SID strings all reach the same principal. A name nobody has
fails with IdentityNotMappedException, as ``NTAccount.Translate`` does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

from .errors import HostError, IdentityNotMapped
from .iis import app_pool_identity_sid

# \Z: $ would also match before a final newline, which SecurityIdentifier refuses.
SID_PATTERN = re.compile(r"^S-1-\d+(-\d+)+\Z", re.IGNORECASE)

# ConvertStringSidToSid's limits: a 48-bit identifier authority, at most 15
# sub-authorities (SID_MAX_SUB_AUTHORITIES), each a 32-bit unsigned value.
_MAX_AUTHORITY = 2 ** 48 - 1
_MAX_SUB_AUTHORITY = 2 ** 32 - 1
SID_MAX_SUB_AUTHORITIES = 15
_INVALID_SID = ('Value was invalid.\r\nParameter name: sddlForm', "System.ArgumentException")


def canonical_sid(text: str) -> str:
    """The SID as SecurityIdentifier.Value writes it, or HostError as its string constructor fails.

    Windows parses the numbers, so S-1-5-32-0544 is S-1-5-32-544, the same
    principal; a number out of range, or more than 15 sub-authorities, is
    refused rather than wrapped.
    """
    if not SID_PATTERN.match(text):
        raise HostError(*_INVALID_SID)
    authority, *subs = (int(part) for part in text.split("-")[2:])
    if authority > _MAX_AUTHORITY or len(subs) > SID_MAX_SUB_AUTHORITIES or any(s > _MAX_SUB_AUTHORITY for s in subs):
        raise HostError(*_INVALID_SID)
    return "-".join(["S", "1", str(authority), *(str(s) for s in subs)])


# (authority, name, SID). The authority is '' for names Windows shows without one.
WELL_KNOWN = (
    ("", "Everyone", "S-1-1-0"),
    ("", "CREATOR OWNER", "S-1-3-0"),
    ("NT AUTHORITY", "BATCH", "S-1-5-3"),
    ("NT AUTHORITY", "INTERACTIVE", "S-1-5-4"),
    ("NT AUTHORITY", "SERVICE", "S-1-5-6"),
    ("NT AUTHORITY", "ANONYMOUS LOGON", "S-1-5-7"),
    ("NT AUTHORITY", "Authenticated Users", "S-1-5-11"),
    ("NT AUTHORITY", "SYSTEM", "S-1-5-18"),
    ("NT AUTHORITY", "LOCAL SERVICE", "S-1-5-19"),
    ("NT AUTHORITY", "NETWORK SERVICE", "S-1-5-20"),
    ("NT SERVICE", "ALL SERVICES", "S-1-5-80-0"),
)
# The built-in local groups (aliases of the BUILTIN domain) of a Windows Server 2016-2022 member server, with the
# first build that has each: names and SIDs as Microsoft's "Security identifiers" lists them
# (https://learn.microsoft.com/windows-server/identity/ad-ds/manage/understand-security-identifiers); Device
# Owners came with Windows Server 2019 (build 17763).
BUILTIN_GROUPS = (
    ("Administrators", "S-1-5-32-544", 0),
    ("Users", "S-1-5-32-545", 0),
    ("Guests", "S-1-5-32-546", 0),
    ("Power Users", "S-1-5-32-547", 0),
    ("Print Operators", "S-1-5-32-550", 0),
    ("Backup Operators", "S-1-5-32-551", 0),
    ("Replicator", "S-1-5-32-552", 0),
    ("Remote Desktop Users", "S-1-5-32-555", 0),
    ("Network Configuration Operators", "S-1-5-32-556", 0),
    ("Performance Monitor Users", "S-1-5-32-558", 0),
    ("Performance Log Users", "S-1-5-32-559", 0),
    ("Distributed COM Users", "S-1-5-32-562", 0),
    ("IIS_IUSRS", "S-1-5-32-568", 0),
    ("Cryptographic Operators", "S-1-5-32-569", 0),
    ("Event Log Readers", "S-1-5-32-573", 0),
    ("Certificate Service DCOM Access", "S-1-5-32-574", 0),
    ("RDS Remote Access Servers", "S-1-5-32-575", 0),
    ("RDS Endpoint Servers", "S-1-5-32-576", 0),
    ("RDS Management Servers", "S-1-5-32-577", 0),
    ("Hyper-V Administrators", "S-1-5-32-578", 0),
    ("Access Control Assistance Operators", "S-1-5-32-579", 0),
    ("Remote Management Users", "S-1-5-32-580", 0),
    ("System Managed Accounts Group", "S-1-5-32-581", 0),
    ("Storage Replica Administrators", "S-1-5-32-582", 0),
    ("Device Owners", "S-1-5-32-583", 17763),
)
# The groups among the well-known identities; the rest are users or well-known identities.
WELL_KNOWN_GROUPS = {"S-1-1-0", "S-1-5-11"}
# A Windows installed in another language names the built-in domain, its groups and the well-known identities in that
# language, and LookupAccountName knows them by those names only ("Bekannte SIDs": VORDEFINIERT\Administratoren,
# NT-AUTORITÄT\NETZWERKDIENST, Jeder). By host.ui_language; the names not listed stay as in English (IIS_IUSRS).
LOCALISED_NAMES = {
    "de-DE": {
        "BUILTIN": "VORDEFINIERT", "NT AUTHORITY": "NT-AUTORITÄT",
        "Administrators": "Administratoren", "Users": "Benutzer", "Guests": "Gäste",
        "Everyone": "Jeder", "Authenticated Users": "Authentifizierte Benutzer",
        "NETWORK SERVICE": "NETZWERKDIENST", "LOCAL SERVICE": "LOKALER DIENST",
    },
}


def os_build(os_version: str) -> int:
    """The build number of a version such as 10.0.20348.0."""
    parts = str(os_version or "").split(".")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0


def builtin_groups(os_version: str) -> list[tuple[str, str]]:
    """(name, SID) of each built-in local group a member server of this version has."""
    build = os_build(os_version)
    return [(name, sid) for name, sid, first_build in BUILTIN_GROUPS if build >= first_build]


# Built-in local accounts every Windows Server has, by relative ID.
BUILTIN_LOCAL_USERS = (("Administrator", 500), ("Guest", 501), ("DefaultAccount", 503), ("WDAGUtilityAccount", 504))


@dataclasses.dataclass(frozen=True)
class Principal:
    sid: str
    name: str  # as Windows shows it: AUTHORITY\name, or just name for Everyone
    kind: str  # user, group or well_known


def derived_sid(seed: str) -> str:
    """A stable S-1-5-21 machine or domain SID, so seeded state files stay readable."""
    digest = hashlib.sha256(seed.lower().encode()).digest()
    parts = [int.from_bytes(digest[i:i + 4], "big") for i in (0, 4, 8)]
    return "S-1-5-21-" + "-".join(str(p) for p in parts)


class Directory:
    """Every principal the host can resolve: well-known, local and domain."""

    def __init__(self, state: dict):
        host = state["host"]
        self.computer_name = host["computer_name"].upper()
        self.machine_sid = host["machine_sid"]
        names = LOCALISED_NAMES.get(host.get("ui_language") or "en-US", {})

        def local(name: str) -> str:
            return names.get(name, name)

        # What SecurityIdentifier('S-1-5-32-544').Translate(NTAccount) gives before the backslash.
        self.builtin_domain = local("BUILTIN")
        domain = state.get("domain") or {}
        self.domain_name = (domain.get("netbios_name") or "").upper()
        self.domain_dns = (domain.get("dns_name") or "").lower()
        self._by_sid: dict[str, Principal] = {}
        self._by_name: dict[str, Principal] = {}

        for authority, name, sid in WELL_KNOWN:
            full = f"{local(authority)}\\{local(name)}" if authority else local(name)
            self._add(Principal(sid, full, "group" if sid in WELL_KNOWN_GROUPS else "well_known"))
        for name, sid in builtin_groups(host.get("os_version", "")):
            self._add(Principal(sid, f"{self.builtin_domain}\\{local(name)}", "group"))
        for account in state.get("local_accounts", []):
            self._add(Principal(account["sid"], f"{self.computer_name}\\{account['name']}", account.get("type", "user")))
        for account in domain.get("accounts", []):
            self._add(Principal(account["sid"], f"{self.domain_name}\\{account['name']}", account.get("type", "user")))
        # Each application pool has a virtual account, IIS APPPOOL\<pool>, while the pool exists.
        for pool in (state.get("iis") or {}).get("app_pools", {}).values():
            self._add(Principal(app_pool_identity_sid(pool["name"]), f"IIS APPPOOL\\{pool['name']}", "well_known"))

    def _add(self, principal: Principal) -> None:
        self._by_sid[principal.sid.upper()] = principal
        self._by_name[principal.name.lower()] = principal

    def principals(self) -> list[Principal]:
        return list(self._by_sid.values())

    def by_sid(self, sid: str) -> Principal | None:
        try:
            return self._by_sid.get(canonical_sid(sid).upper())
        except HostError:
            return None

    def name_of(self, sid: str) -> str:
        """What SecurityIdentifier.Translate(NTAccount) gives, or the SID itself when it cannot."""
        principal = self.by_sid(sid)
        return principal.name if principal else sid.upper()

    def resolve(self, reference: str) -> Principal:
        """Resolve a name, UPN or SID string; raise IdentityNotMapped as Windows does."""
        # No whitespace is trimmed: LookupAccountName and the SID parser see the text as given.
        if reference.upper().startswith("S-1-"):
            # Any well-formed SID is valid to Windows, known or not, in its canonical spelling.
            sid = canonical_sid(reference)
            return self.by_sid(sid) or Principal(sid, sid, "unknown")
        if reference.startswith(".\\"):
            # LookupAccountName knows no '.' domain; callers that accept .\name expand it first, as our payloads do.
            raise IdentityNotMapped()
        if "@" in reference and "\\" not in reference:
            user, dns = reference.split("@", 1)
            if self.domain_dns and dns.lower() == self.domain_dns:
                reference = f"{self.domain_name}\\{user}"
        found = self._by_name.get(reference.lower())
        if found:
            return found
        if "\\" not in reference:
            # An isolated name is looked up among the well-known SIDs, the
            # built-in and local accounts, the primary domain and the trusted
            # domains, in that order (LsaLookupNames, Remarks), which is the
            # order principals are added here. Virtual accounts such as
            # IIS APPPOOL\<pool> are in none of them.
            for candidate in self._by_name.values():
                if candidate.name.lower().startswith("iis apppool\\"):
                    continue
                if candidate.name.rsplit("\\", 1)[-1].lower() == reference.lower():
                    return candidate
        raise IdentityNotMapped()

    def add_local(self, state: dict, name: str, kind: str) -> Principal:
        """Create a local user or group, with the next free relative ID."""
        used = [int(a["sid"].rsplit("-", 1)[1]) for a in state["local_accounts"]]
        rid = max([1000, *used]) + 1
        account = {"name": name, "sid": f"{self.machine_sid}-{rid}", "type": kind}
        state["local_accounts"].append(account)
        principal = Principal(account["sid"], f"{self.computer_name}\\{name}", kind)
        self._add(principal)
        return principal


def resolve_as_payload(directory: Directory, reference: str) -> Principal:
    """As our payloads resolve: .\\name is this computer's, and COMPUTER\\name and BUILTIN\\name are retried in the built-in
    domain, by its localised name, for the built-in groups."""
    authority, name = reference.rsplit("\\", 1) if "\\" in reference else ("", reference)
    if authority == ".":
        authority = directory.computer_name
        reference = f"{authority}\\{name}"
    try:
        return directory.resolve(reference)
    except IdentityNotMapped as not_mapped:
        if authority.upper() not in (directory.computer_name, "BUILTIN"):
            raise
        try:
            return directory.resolve(f"{directory.builtin_domain}\\{name}")
        except IdentityNotMapped:
            raise not_mapped from None


def resolution_report(directory: Directory, references: list[str]) -> list[dict]:
    """Our payloads' report on names to resolve: one entry each, never failing for one bad name."""
    report = []
    for reference in references:
        try:
            principal = resolve_as_payload(directory, reference)
            report.append({"input": reference, "sid": principal.sid, "name": principal.name, "error": None})
        except HostError as error:
            report.append({"input": reference, "sid": None, "name": None, "error": error.message})
    return report
