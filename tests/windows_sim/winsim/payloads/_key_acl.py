"""Model of the shared fragment _private_key_acl.ps1: the key report, who the script runs as, and the key ACL operations.

A key opens when the account the payloads run as (``certificates.connection_identity``) passes Windows' access
check of its DACL, and its file is there. A key whose ``"broken"`` is true has lost its file; ``"broken"`` may
instead name the error its provider gives (one of ``OPEN_ERRORS``). Windows' CryptoAPI and CNG software providers
report a key file that is gone and one whose DACL shuts the caller out with the same error, NTE_BAD_KEYSET.
"""

from __future__ import annotations

import re

from ..certificates import can_open, connection_identity
from ..errors import HostError

NTE_BAD_KEYSET = 0x80090016
# Errors a seed can give a key that does not open, by name: (message, code as Windows returns it).
OPEN_ERRORS = {
    "NTE_BAD_KEYSET": ("Keyset does not exist", NTE_BAD_KEYSET),
    "NTE_NO_KEY": ("Key does not exist.", 0x8009000D),
    "NTE_PERM": ("Access denied.", 0x80090010),
    "NTE_NOT_FOUND": ("Object was not found.", 0x80090011),
    "ERROR_FILE_NOT_FOUND": ("The system cannot find the file specified.", 0x80070002),
    "SCARD_E_NO_SERVICE": ("The Smart Card Resource Manager is not running.", 0x8010001D),
}
# Get-KeyOpenFailure: what each code says about the key. NTE_NOT_FOUND and ERROR_FILE_NOT_FOUND say it is gone only from a
# provider that comes with Windows and keeps its keys in files, or from the default provider (no name).
_MISSING = {0x8009200B, 0x8009000D}
_NOT_FOUND = {0x80090011, 0x2, 0x80070002}
_DENIED = {0x5, 0x80070005, 0x80090010}
WINDOWS_SOFTWARE_PROVIDERS = frozenset(name.lower() for name in (
    "Microsoft Software Key Storage Provider",
    "Microsoft Base Cryptographic Provider v1.0",
    "Microsoft Enhanced Cryptographic Provider v1.0",
    "Microsoft Strong Cryptographic Provider",
    "Microsoft Enhanced RSA and AES Cryptographic Provider",
    "Microsoft Enhanced RSA and AES Cryptographic Provider (Prototype)",
    "Microsoft RSA Signature Cryptographic Provider",
    "Microsoft RSA SChannel Cryptographic Provider",
    "Microsoft Base DSS Cryptographic Provider",
    "Microsoft Base DSS and Diffie-Hellman Cryptographic Provider",
    "Microsoft Enhanced DSS and Diffie-Hellman Cryptographic Provider",
    "Microsoft DH SChannel Cryptographic Provider",
))


def _signed(code: int) -> int:
    return code - (1 << 32) if code & 0x80000000 else code


def key_state(code: int, provider_name: str | None = None) -> str:
    """Get-KeyOpenFailure's reading of an error code from the provider the certificate names."""
    code &= 0xFFFFFFFF
    from_windows = not provider_name or provider_name.lower() in WINDOWS_SOFTWARE_PROVIDERS
    if code == NTE_BAD_KEYSET:
        return "missing_or_denied"
    if code in _MISSING or (from_windows and code in _NOT_FOUND):
        return "missing"
    if code in _DENIED:
        return "denied"
    return "unavailable"


def _describe(store_name: str, thumbprint: str) -> str:
    return f"the private key of certificate {thumbprint} in LocalMachine\\{store_name}"


def open_failure(host, certificate: dict, store_name: str, thumbprint: str) -> tuple[str, int] | None:
    """Why CryptAcquireCertificatePrivateKey fails for the certificate's key, as Open-CertificatePrivateKey reports it
    (the message and the code), or None when the key opens."""
    key = certificate["private_key"]
    broken = key.get("broken")
    if broken:
        message, code = OPEN_ERRORS["NTE_BAD_KEYSET" if broken is True else broken]
    elif not can_open(connection_identity(host.state), key["acl"]):
        message, code = OPEN_ERRORS["NTE_BAD_KEYSET"]
    else:
        return None
    return (f"Cannot open {_describe(store_name, thumbprint)}: CryptAcquireCertificatePrivateKey failed: {message} "
            f"(0x{code:08X})", code)


def key_report(host, certificate: dict | None, store_name: str, thumbprint: str, open_only: bool = False) -> dict:
    """What Get-CertificateKeyReport reports on a certificate's private key; with open_only, that it opens and no more."""
    if certificate is None:
        return {"found": False, "has_private_key": False, "key": None, "acl": []}
    # X509Certificate2.Archived of the certificate found.
    archived = bool(certificate.get("archived"))
    key = certificate.get("private_key")
    if not key:
        return {"found": True, "archived": archived, "has_private_key": False, "key": None, "acl": []}
    failure = open_failure(host, certificate, store_name, thumbprint)
    if failure:
        message, code = failure
        # GetKeyProviderName: CERT_KEY_PROV_INFO_PROP_ID's provider, read without opening the key.
        provider_name = key.get("provider_name") or None
        return {"found": True, "archived": archived, "has_private_key": True, "key": None, "acl": [], "key_error": message,
                "key_error_code": _signed(code), "key_state": key_state(code, provider_name), "key_provider_name": provider_name}
    if open_only:
        return {"found": True, "archived": archived, "has_private_key": True, "key": None, "acl": []}
    directory = host.directory
    return {
        "found": True,
        "archived": archived,
        "has_private_key": True,
        "key": {k: key[k] for k in ("provider", "provider_name", "container", "exportable")},
        "acl": [dict(ace, name=directory.name_of(ace["sid"])) for ace in key["acl"]],
    }


def identity_report(host) -> dict:
    """Get-CurrentIdentityReport."""
    identity = connection_identity(host.state)
    return {"sid": identity["sid"], "groups": list(identity["groups"])}


# \Z: $ would also match before a final newline, which SecurityIdentifier refuses.
_SID = re.compile(r"^S-1-(\d+)((?:-\d+)*)\Z", re.IGNORECASE)


def _canonical_sid(text: str) -> str | None:
    """SecurityIdentifier(string).Value: the SID in canonical form, or None where the constructor throws.

    Nothing is stripped: a SID with a space around it is not a SID.
    """
    match = _SID.match(text)
    if not match:
        return None
    authority = int(match.group(1))
    parts = [int(p) for p in match.group(2).split("-")[1:]]
    if authority >= 1 << 48 or len(parts) > 15 or any(p >= 1 << 32 for p in parts):
        return None
    return "-".join(["S-1", str(authority), *(str(p) for p in parts)])


def check_operations(operations) -> list[dict]:
    """Get-KeyAclPlan: every operation checked, before anything is read or written."""
    plan = []
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise HostError(f"Key ACL operation #{index} is not a dictionary with the keys sid, action and rights.")
        sid_text, action, rights = operation.get("sid"), operation.get("action"), operation.get("rights")
        label = f"key ACL operation #{index} (sid '{sid_text}', action '{action}')"
        # Test-SidString is -match '^S-1-', which ignores case; SecurityIdentifier parses the rest.
        if not isinstance(sid_text, str) or not sid_text[:4].upper() == "S-1-":
            raise HostError(f"Invalid {label}: sid must be a SID string such as S-1-5-20.")
        sid = _canonical_sid(sid_text)
        if sid is None:
            raise HostError(f"Invalid {label}: Value was invalid.\r\nParameter name: sddlForm", "System.InvalidOperationException")
        if action not in ("set", "remove"):
            raise HostError(f"Invalid {label}: action must be 'set' or 'remove'.")
        if action == "set":
            valid = isinstance(rights, int) and not isinstance(rights, bool) and -(1 << 31) <= rights < 1 << 31 and rights != 0
            if not valid:
                raise HostError(f"Invalid {label}: rights must be a non-zero access mask as a signed 32-bit integer (for "
                                "example -803274241 for 0xD01F01FF).")
        elif rights is not None:
            raise HostError(f"Invalid {label}: a remove takes no rights.")
        plan.append({"sid": sid, "action": action, **({"rights": rights} if action == "set" else {})})
    return plan


def apply_operations(call, certificate: dict | None, plan: list[dict], store_name: str, thumbprint: str) -> list[dict]:
    """Set-StoredCertificateKeyAcl: every checked operation on one in-memory DACL, written back once when it differs."""
    where = f"LocalMachine\\{store_name}"
    if certificate is None:
        raise HostError(f"Cannot change the private key ACL: certificate {thumbprint} is not in {where}.")
    if not certificate.get("private_key"):
        raise HostError(f"Cannot change the private key ACL: certificate {thumbprint} in {where} has no private key.")
    failure = open_failure(call.host, certificate, store_name, thumbprint)
    if failure:
        raise HostError(failure[0], "System.ComponentModel.Win32Exception")
    acl = [dict(ace) for ace in certificate["private_key"]["acl"]]
    for operation in plan:
        acl = [ace for ace in acl if not (ace["type"] == "allow" and not ace["inherited"] and ace["sid"].upper() == operation["sid"].upper())]
        if operation["action"] == "set":
            acl.append({"sid": operation["sid"], "type": "allow", "rights": operation["rights"], "inherited": False})
    # -WhatIf declines every operation; otherwise the descriptor is written back only when it differs.
    if call.check_mode:
        return []
    if acl != certificate["private_key"]["acl"]:
        certificate["private_key"]["acl"] = acl
        call.changed = True
    return [dict(operation) for operation in plan]
