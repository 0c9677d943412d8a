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

SID_PATTERN = re.compile(r"^S-1-\d+(-\d+)+$", re.IGNORECASE)

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
    ("BUILTIN", "Administrators", "S-1-5-32-544"),
    ("BUILTIN", "Users", "S-1-5-32-545"),
    ("BUILTIN", "Guests", "S-1-5-32-546"),
    ("BUILTIN", "Power Users", "S-1-5-32-547"),
    ("BUILTIN", "Backup Operators", "S-1-5-32-551"),
    ("BUILTIN", "Remote Desktop Users", "S-1-5-32-555"),
    ("BUILTIN", "Performance Log Users", "S-1-5-32-559"),
    ("BUILTIN", "IIS_IUSRS", "S-1-5-32-568"),
    ("NT SERVICE", "ALL SERVICES", "S-1-5-80-0"),
)
# The groups among them; the rest are users or well-known identities.
WELL_KNOWN_GROUPS = {entry[2] for entry in WELL_KNOWN if entry[2].startswith("S-1-5-32-")} | {"S-1-1-0", "S-1-5-11"}

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
        domain = state.get("domain") or {}
        self.domain_name = (domain.get("netbios_name") or "").upper()
        self.domain_dns = (domain.get("dns_name") or "").lower()
        self._by_sid: dict[str, Principal] = {}
        self._by_name: dict[str, Principal] = {}

        for authority, name, sid in WELL_KNOWN:
            full = f"{authority}\\{name}" if authority else name
            self._add(Principal(sid, full, "group" if sid in WELL_KNOWN_GROUPS else "well_known"))
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
        return self._by_sid.get(sid.upper())

    def name_of(self, sid: str) -> str:
        """What SecurityIdentifier.Translate(NTAccount) gives, or the SID itself when it cannot."""
        principal = self.by_sid(sid)
        return principal.name if principal else sid.upper()

    def resolve(self, reference: str) -> Principal:
        """Resolve a name, UPN or SID string; raise IdentityNotMapped as Windows does."""
        reference = reference.strip()
        if SID_PATTERN.match(reference):
            # Any well-formed SID is valid to Windows, known or not.
            return self.by_sid(reference) or Principal(reference.upper(), reference.upper(), "unknown")
        if reference.upper().startswith("S-1-"):
            raise HostError(
                'Value was invalid.\r\nParameter name: sddlForm', "System.ArgumentException"
            )
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
    """As our payloads resolve: .\\name is this computer's, and COMPUTER\\name is retried in BUILTIN for the built-in groups."""
    authority, name = reference.rsplit("\\", 1) if "\\" in reference else ("", reference)
    if authority == ".":
        authority = directory.computer_name
        reference = f"{authority}\\{name}"
    try:
        return directory.resolve(reference)
    except IdentityNotMapped as not_mapped:
        if authority.upper() != directory.computer_name:
            raise
        try:
            return directory.resolve(f"BUILTIN\\{name}")
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
