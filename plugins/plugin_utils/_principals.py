# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Account references as users write them (name, DOMAIN\\name, name@domain, SID): what the controller can refuse.

Whether an account exists only the host can say; a reference no account could ever match is refused here, without
a round trip. The rules are deliberately few: an empty part around the backslash or @, a second backslash (a
single-quoted YAML string keeps both backslashes of '\\\\'), a malformed SID, and characters Windows allows in no
account name and no service or application pool name either.
"""

from __future__ import annotations

import re
import unicodedata

SID = re.compile(r"^S-1-\d+(-\d+)+$", re.IGNORECASE)
# Control characters, and of those Microsoft forbids in user and group names ('" / \\ [ ] : ; | = , + * ? < >') the
# ones that service names (NT SERVICE\\...) and application pool names (IIS APPPOOL\\...) cannot hold either.
_FORBIDDEN = frozenset('"/:|<>?*')


def principal_problem(reference: str) -> str | None:
    """What makes reference no account's name, phrased to follow it ("'X' has ..."); None when it may be one."""
    text = reference.strip()
    if not text:
        return "is empty"
    if text.upper().startswith("S-1-"):
        return None if SID.match(text) else "is not a valid SID string"
    invalid = sorted({c for c in text if c in _FORBIDDEN or unicodedata.category(c) == "Cc"})
    if invalid:
        return f"contains {' '.join(repr(c) for c in invalid)}, which no Windows account name can hold"
    if "\\" in text:
        domain, name = text.split("\\", 1)
        if "\\" in name:
            return ("has more than one backslash; write DOMAIN\\name (in YAML, a single-quoted string keeps both "
                    "backslashes of '\\\\')")
        if not domain:
            return "has no domain before its backslash; write DOMAIN\\name, .\\name for a local account, or the name alone"
        if not name:
            return "has no account name after its backslash"
    elif "@" in text:
        name, domain = text.split("@", 1)
        if not name or not domain or "@" in domain:
            return "is not a user principal name such as name@contoso.com"
    return None
