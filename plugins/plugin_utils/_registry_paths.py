# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry key paths as users write them, reduced to the path below HKEY_LOCAL_MACHINE."""

from __future__ import annotations

import re

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import TaskInputError

# A hive in front of a key path, as PowerShell (HKLM:), regedit (HKEY_LOCAL_MACHINE\\) or the
# registry provider (Registry::HKEY_LOCAL_MACHINE\\) write it; PowerShell also takes HKLM:SOFTWARE.
_HIVE = re.compile(r"^(?:Registry::)?(?P<hive>HK[A-Z_]+)(?::\\*|\\+|$)", re.IGNORECASE)
_LOCAL_MACHINE = ("HKLM", "HKEY_LOCAL_MACHINE")
# Registry element size limits (Microsoft): each key name in a path has at most 255 characters.
MAX_KEY_NAME = 255


def local_machine_subkey(key: str, option: str = "key") -> str:
    """The path below HKEY_LOCAL_MACHINE, from HKLM:\\..., HKLM:..., HKLM\\..., HKEY_LOCAL_MACHINE\\... or a bare path."""
    text = key.strip()
    hive = _HIVE.match(text)
    if hive:
        if hive.group("hive").upper() not in _LOCAL_MACHINE:
            raise TaskInputError(f"{option}: {key!r} is not under HKEY_LOCAL_MACHINE, the only hive a service's settings live in here")
        text = text[hive.end():]
    subkey = text.strip("\\")
    first = subkey.split("\\", 1)[0]
    if not subkey or "\\\\" in subkey or ":" in first:
        raise TaskInputError(f"{option}: {key!r} is not a registry key path such as HKLM:\\SOFTWARE\\Vendor\\Product")
    longest = max(subkey.split("\\"), key=len)
    if len(longest) > MAX_KEY_NAME:
        raise TaskInputError(f"{option}: has a key name of {len(longest)} characters ({longest[:16]!r}...); a registry "
                             f"key's name has at most {MAX_KEY_NAME}")
    return subkey
