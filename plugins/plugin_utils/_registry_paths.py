# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry key paths as users write them, reduced to the path below HKEY_LOCAL_MACHINE that Windows would use.

The payloads and the cluster take a path relative to HKEY_LOCAL_MACHINE, separated by backslashes only
(RegistryKey.OpenSubKey and CreateSubKey; Add-ClusterCheckpoint -RegistryCheckpoint, "All registry paths are
relative to HKEY_LOCAL_MACHINE"). There a forward slash is part of a key's name: "SOFTWARE/Vendor" is one key
named "SOFTWARE/Vendor". PowerShell's registry provider reads "/" as a separator, so a path written the
PowerShell way, HKLM:/SOFTWARE/Vendor, would silently become another key. Every "/" is therefore read as a
separator, as PowerShell reads it; a key whose own name holds "/" cannot be given here.
"""

from __future__ import annotations

import re

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import TaskInputError

# A hive in front of a key path, as the registry provider (Registry::, optionally qualified with its module),
# a PowerShell drive (HKLM:, also HKLM:SOFTWARE) or regedit (HKEY_LOCAL_MACHINE\, HKLM\) write it.
_PROVIDER = re.compile(r"^(?:Microsoft\.PowerShell\.Core\\)?Registry::", re.IGNORECASE)
_DRIVE = re.compile(r"^(?P<hive>HK[A-Z_]+):", re.IGNORECASE)
_HIVE = re.compile(r"^(?P<hive>HK[A-Z_]+)(?=\\|$)", re.IGNORECASE)
_LOCAL_MACHINE = ("HKLM", "HKEY_LOCAL_MACHINE")
# The keys directly under HKEY_LOCAL_MACHINE. "The HKEY_LOCAL_MACHINE key has the following subkeys: HARDWARE,
# SAM, SECURITY, SOFTWARE, and SYSTEM" (Structure of the Registry), each a hive the system loads, with the boot
# configuration store, BCD00000000, since Windows Vista. A key at that level is where a hive file is loaded
# (RegLoadKey, which needs the backup and restore privileges); it is not created with RegCreateKeyEx, so a path
# such as Keyfactor\Parameters cannot be written, and a cluster checkpoint of it would replicate nothing.
HIVE_ROOTS = ("HARDWARE", "SAM", "SECURITY", "SOFTWARE", "SYSTEM", "BCD00000000")
# Registry element size limits: a key name has at most 255 characters, and a tree is at most 512 levels deep.
MAX_KEY_NAME = 255
MAX_DEPTH = 512
# Structure of the Registry: a key's name consists of printable characters and never a backslash.
_NOT_PRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def _not_a_path(key: str, option: str) -> TaskInputError:
    return TaskInputError(f"{option}: {key!r} is not a registry key path such as HKLM:\\SOFTWARE\\Vendor\\Product")


def local_machine_subkey(key: str, option: str = "key") -> str:
    """The path below HKEY_LOCAL_MACHINE, from HKLM:\\..., HKLM:/..., HKLM:..., HKLM\\..., HKEY_LOCAL_MACHINE\\...,
    Registry::HKEY_LOCAL_MACHINE\\... or a bare path, with backslashes between its key names."""
    text = _PROVIDER.sub("", key.strip(), count=1).replace("/", "\\")
    hive = _DRIVE.match(text) or _HIVE.match(text)
    if hive:
        if hive.group("hive").upper() not in _LOCAL_MACHINE:
            raise TaskInputError(f"{option}: {key!r} is not under HKEY_LOCAL_MACHINE, the only hive a service's settings "
                                 "live in here")
        text = text[hive.end():]
    # Separators around the path name no key; one between two names with nothing in it would be an empty name.
    names = text.strip("\\").split("\\")
    if not names[0] or ":" in names[0] or any(not name for name in names):
        raise _not_a_path(key, option)
    longest = max(names, key=len)
    if len(longest) > MAX_KEY_NAME:
        raise TaskInputError(f"{option}: has a key name of {len(longest)} characters ({longest[:16]!r}...); a registry "
                             f"key's name has at most {MAX_KEY_NAME}")
    if any(_NOT_PRINTABLE.search(name) for name in names):
        raise TaskInputError(f"{option}: {key!r} has a control character in a key name; a registry key's name is made "
                             "of printable characters")
    if len(names) > MAX_DEPTH:
        raise TaskInputError(f"{option}: has {len(names)} levels of keys; the registry is at most {MAX_DEPTH} deep")
    if names[0].upper() not in HIVE_ROOTS:
        below_software = "\\".join(["SOFTWARE", *names])
        raise TaskInputError(
            f"{option}: {key!r} would be a key directly under HKEY_LOCAL_MACHINE, named {names[0]!r}. Windows has only "
            f"{', '.join(HIVE_ROOTS)} there and creates no other key at that level; give the path from one of them, "
            f"such as HKLM:\\{below_software}")
    return "\\".join(names)
