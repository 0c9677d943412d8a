"""Model of the shared fragment _private_key_acl.ps1: the key report and the key ACL operations."""

from __future__ import annotations

from ..errors import HostError


def key_report(directory, certificate: dict | None) -> dict:
    """What the fragment reports on a certificate's private key."""
    if certificate is None:
        return {"found": False, "has_private_key": False, "key": None, "acl": []}
    key = certificate.get("private_key")
    if not key:
        return {"found": True, "has_private_key": False, "key": None, "acl": []}
    if key.get("broken"):
        # A seed can mark a key whose file is gone; the fragment reports it rather than failing.
        return {"found": True, "has_private_key": True, "key": None, "acl": [], "key_error": "Keyset does not exist",
                "key_error_code": 0x80090016 - (1 << 32)}
    return {
        "found": True,
        "has_private_key": True,
        "key": {k: key[k] for k in ("provider", "provider_name", "container", "exportable")},
        "acl": [dict(ace, name=directory.name_of(ace["sid"])) for ace in key["acl"]],
    }


def apply_operations(call, certificate: dict, operations: list) -> list[dict]:
    """Every operation on one in-memory descriptor, written back once, as the fragment does."""
    if not certificate or not certificate.get("private_key"):
        raise HostError("The certificate has no private key, or its key could not be opened (CryptAcquireCertificatePrivateKey: "
                        "Keyset does not exist)", "System.Security.Cryptography.CryptographicException")
    acl = [dict(ace) for ace in certificate["private_key"]["acl"]]
    applied = []
    for operation in operations:
        sid = call.host.directory.resolve(operation["sid"]).sid
        acl = [ace for ace in acl if not (ace["type"] == "allow" and not ace["inherited"] and ace["sid"].upper() == sid.upper())]
        if operation["action"] == "set":
            acl.append({"sid": sid, "type": "allow", "rights": int(operation["rights"]), "inherited": False})
        elif operation["action"] != "remove":
            raise HostError(f"Unknown key ACL action '{operation['action']}'.", "System.ArgumentException")
        applied.append({"sid": sid, "action": operation["action"], **({"rights": int(operation["rights"])} if "rights" in operation else {})})
    # The fragment writes the descriptor back only when it differs.
    if acl != certificate["private_key"]["acl"] and not call.check_mode:
        certificate["private_key"]["acl"] = acl
        call.changed = True
    return applied
