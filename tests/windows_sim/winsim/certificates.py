"""LocalMachine certificate stores and the registry of a simulated host.

``state["certificates"][<store>][<THUMBPRINT>]`` is a certificate::

    {"subject", "issuer", "not_after", "der" (base64),
     "private_key": null or {"provider": "cng" | "capi", "provider_name", "container",
                             "exportable": bool,
                             "acl": [{"sid", "type": "allow" | "deny", "rights": <signed int>, "inherited": bool}]},
     "archived": true, optionally}

An archived certificate (CERT_ARCHIVED_PROP_ID, which automatic enrollment sets on the certificate it renewed) is
in the store but skipped by every enumeration that does not ask for archived certificates (OpenFlags.IncludeArchived),
so find_certificate does not return it unless asked to.

Its serial number is read from ``der``, as X509Certificate2.SerialNumber reads it (``serial_number``).
``state["orphaned_keys"]`` lists the keys in the machine key store that no certificate in a store refers to:
``{"container", "provider", "provider_name"}``. A PFX import writes its key there first and moves it to the
certificate once the store holds that, so a failure between the two leaves it behind, as on Windows.

``state["registry"][<path below HKLM>]`` is a key: ``{<value name>: {"kind": "String" | "DWord" | ..., "data": ...}}``.
Store names, thumbprints and registry paths compare without regard to case, as on Windows.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from .errors import HostError

# The entries Windows gives a machine key it creates: SYSTEM and Administrators, full control.
_FULL_CONTROL = 0xD01F01FF - (1 << 32)
DEFAULT_KEY_ACL = (
    {"sid": "S-1-5-18", "type": "allow", "rights": _FULL_CONTROL, "inherited": False},
    {"sid": "S-1-5-32-544", "type": "allow", "rights": _FULL_CONTROL, "inherited": False},
)
# What .NET Framework's PFX import picks when the PFX names no provider: the legacy CSP for RSA, CNG otherwise.
_RSA_PROVIDER = ("capi", "Microsoft Enhanced RSA and AES Cryptographic Provider")
_CNG_PROVIDER = ("cng", "Microsoft Software Key Storage Provider")


def _find(mapping: dict, key: str):
    return next((k for k in mapping if k.lower() == key.lower()), None)


def store(state: dict, name: str) -> dict:
    """A LocalMachine store; Windows creates a missing one when it is opened for writing."""
    stores = state.setdefault("certificates", {})
    return stores.setdefault(_find(stores, name) or name, {})


def find_certificate(state: dict, store_name: str, thumbprint: str, include_archived: bool = False) -> dict | None:
    """Only reads. An archived certificate only with include_archived, as X509Store.Certificates lists it only when the
    store was opened with OpenFlags.IncludeArchived (CERT_STORE_ENUM_ARCHIVED_FLAG)."""
    stores = state.get("certificates") or {}
    found_store = _find(stores, store_name)
    if found_store is None:
        return None
    key = _find(stores[found_store], thumbprint)
    if key is None or (stores[found_store][key].get("archived") and not include_archived):
        return None
    return stores[found_store][key]


def restore_archived(state: dict, store_name: str, thumbprint: str) -> int:
    """Restore-ArchivedCertificate: X509Certificate2.Archived = $false on every archived copy; how many it restored."""
    found = find_certificate(state, store_name, thumbprint, include_archived=True)
    if not found or not found.get("archived"):
        return 0
    del found["archived"]
    return 1


def serial_as_windows_shows_it(cert: x509.Certificate) -> str:
    """X509Certificate2.SerialNumber of a well-formed certificate, from its integer: the DER INTEGER's minimal
    two's-complement bytes, uppercase hex. The tests' reference for serial numbers computed from the bytes."""
    number = cert.serial_number
    length = max(1, (number.bit_length() + 8) // 8) if number >= 0 else ((-number - 1).bit_length() + 8) // 8
    return number.to_bytes(length, "big", signed=True).hex().upper()


def _der_element(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at offset."""
    tag, first = data[offset], data[offset + 1]
    if first < 0x80:
        return tag, offset + 2, offset + 2 + first
    count = first & 0x7F
    length = int.from_bytes(data[offset + 2:offset + 2 + count], "big")
    return tag, offset + 2 + count, offset + 2 + count + length


def serial_number(entry: dict) -> str:
    """X509Certificate2.SerialNumber: the serialNumber INTEGER's content bytes in the certificate's DER, as stored
    (a leading zero byte kept), uppercase hex. Read from the bytes, as Windows reads them, never from a seeded field."""
    der = base64.b64decode(entry["der"])
    _tag, certificate, _end = _der_element(der, 0)
    _tag, field, _end = _der_element(der, certificate)  # tbsCertificate
    tag, content, end = _der_element(der, field)
    if tag == 0xA0:  # the explicit [0] version comes first when present
        tag, content, end = _der_element(der, end)
    if tag != 0x02:
        raise ValueError("windows_sim state: a certificate's der has no serialNumber INTEGER where RFC 5280 puts it")
    return der[content:end].hex().upper()


def certificate_entry(cert: x509.Certificate, private_key=None, exportable: bool = False) -> tuple[str, dict]:
    """The thumbprint and store entry of a certificate, with its key as a fresh machine key when there is one."""
    der = cert.public_bytes(Encoding.DER)
    entry = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "der": base64.b64encode(der).decode("ascii"),
        "private_key": None,
    }
    if private_key is not None:
        provider, provider_name = _RSA_PROVIDER if isinstance(private_key, rsa.RSAPrivateKey) else _CNG_PROVIDER
        if not isinstance(private_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            provider, provider_name = _CNG_PROVIDER
        entry["private_key"] = {
            "provider": provider,
            "provider_name": provider_name,
            "container": str(uuid.uuid4()),
            "exportable": exportable,
            "acl": [dict(ace) for ace in DEFAULT_KEY_ACL],
        }
    return hashlib.sha1(der).hexdigest().upper(), entry  # noqa: S324 - Windows names certificates by SHA-1


# The keys directly under HKEY_LOCAL_MACHINE (Structure of the Registry; BCD00000000 since Windows Vista).
HKLM_HIVES = ("HARDWARE", "SAM", "SECURITY", "SOFTWARE", "SYSTEM", "BCD00000000")


def orphaned_keys(state: dict) -> list:
    """The keys in the machine key store that no certificate in a store refers to."""
    return state.setdefault("orphaned_keys", [])


def os_build(state: dict) -> int:
    """The build number of the host's Windows (14393 for Windows Server 2016), from its declared os_version."""
    return int(str(state["host"]["os_version"]).split(".")[2])


# The groups every token of a network logon carries: Everyone, NETWORK, Authenticated Users, This Organization.
_LOGON_GROUPS = ("S-1-1-0", "S-1-5-2", "S-1-5-11", "S-1-5-15")


def connection_identity(state: dict) -> dict:
    """Who the payloads run as: the account Ansible connects with, an administrator of the host.

    ``host.connection_sid`` names it; by default the built-in local Administrator (RID 500). Its groups are the
    network logon's groups and the local groups that hold it or one of those, as its token lists them.
    """
    host = state["host"]
    sid = host.get("connection_sid") or f"{host['machine_sid']}-500"
    domain_sid = (state.get("domain") or {}).get("sid")
    members_of_domain = {f"{domain_sid}-513"} if domain_sid and sid.upper().startswith(domain_sid.upper() + "-") else set()
    held = {sid.upper(), *_LOGON_GROUPS, *members_of_domain}
    groups = list(_LOGON_GROUPS) + sorted(members_of_domain)
    for group, members in (state.get("local_groups") or {}).items():
        if any(member.upper() in held for member in members):
            groups.append(group)
    return {"sid": sid, "groups": groups}


# The access bits that let a token open a key: GENERIC_ALL, GENERIC_READ, FILE_READ_DATA.
_OPENS_KEY = 0x10000000 | 0x80000000 | 0x00000001


def can_open(identity: dict, acl: list) -> bool:
    """Windows' access check of a key's DACL for the token: a deny entry for any of its SIDs wins, then any allow."""
    sids = {identity["sid"].upper(), *(group.upper() for group in identity["groups"])}
    matching = [ace for ace in acl if ace["sid"].upper() in sids and (ace["rights"] & 0xFFFFFFFF) & _OPENS_KEY]
    return not any(ace["type"] == "deny" for ace in matching) and any(ace["type"] == "allow" for ace in matching)


def registry_key(state: dict, path: str) -> dict | None:
    keys = state.get("registry") or {}
    found = _find(keys, path)
    return keys[found] if found else None


def registry_report(state: dict, path: str, name: str) -> dict:
    """Get-RegistryReport of the _local_machine.ps1 fragment: a value's key and itself, its kind, and a string's data."""
    key = registry_key(state, path)
    found = next((n for n in (key or {}) if n.lower() == name.lower()), None)
    value = key[found] if found else None
    return {
        "key_exists": key is not None,
        "value_exists": value is not None,
        "value_kind": value["kind"] if value else None,
        "value": value["data"] if value and value["kind"] in ("String", "ExpandString") else None,
    }


def create_registry_key(state: dict, path: str) -> dict:
    """RegistryKey.CreateSubKey below HKEY_LOCAL_MACHINE: creates the key and every missing parent.

    The keys directly under HKEY_LOCAL_MACHINE are the hives Windows loads there (HARDWARE, SAM, SECURITY,
    SOFTWARE, SYSTEM, BCD00000000); no other key can be created at that level, so SOFTWARE\\X is created and
    X\\Y is refused. A key name has at most 255 characters (Registry element size limits).
    """
    parts = path.split("\\")
    if parts[0].upper() not in HKLM_HIVES:
        raise HostError(f"Access to the registry key 'HKEY_LOCAL_MACHINE\\{parts[0]}' is denied.",
                        "System.UnauthorizedAccessException")
    if any(len(part) > 255 for part in parts):
        raise HostError("Registry key name must be less than 255 characters.", "System.ArgumentException")
    keys = state.setdefault("registry", {})
    for depth in range(1, len(parts) + 1):
        prefix = "\\".join(parts[:depth])
        if _find(keys, prefix) is None:
            keys[prefix] = {}
    return keys[_find(keys, path)]
