"""Passwords as the simulated host keeps them: a salted digest, never the password itself."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def hash_password(password: str) -> str:
    """``"<salt hex>$<sha256(salt + password) hex>"``, to store instead of the password."""
    salt = secrets.token_hex(16)
    return f"{salt}${hashlib.sha256((salt + password).encode('utf-8')).hexdigest()}"


def password_matches(stored: str | None, password: str) -> bool:
    """Whether password is the one the digest was made from."""
    if not stored or "$" not in stored:
        return False
    salt, digest = stored.split("$", 1)
    return hmac.compare_digest(hashlib.sha256((salt + password).encode("utf-8")).hexdigest(), digest)
