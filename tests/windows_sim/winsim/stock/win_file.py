"""Stand-in for ansible.windows.win_file, and the file-system model win_acl shares.

State: ``state["paths"]`` maps a path to ``{"type": "directory" | "file", "acl": [ACE, ...]}``.
An ACE is ``{"sid", "type": "allow" | "deny", "rights": <FileSystemRights mask>,
"inherit": <InheritanceFlags text>, "propagation": <PropagationFlags text>,
"inherited": bool}``, with the flag texts spelled as .NET's ``ToString()`` spells
them (``"ContainerInherit, ObjectInherit"``, ``"None"``, ``"InheritOnly"``...).

Windows semantics kept here:
- paths compare case-insensitively, ``/`` and ``\\`` are the same separator, and
  the case first used to create an item is the case it keeps;
- the system drive root ``C:\\`` always exists, with the ACL of a fresh Windows
  Server system drive; every ancestor of a stored path exists too, as a directory;
- a new item inherits ACEs from its parent the way NTFS does, and an ACL change
  on a directory propagates to the inherited ACEs of everything below it;
- a stored entry without ``"acl"`` (a seed that only says the item exists) has
  just what it inherits.

Not modelled: timestamps, file content, owners, links, and disabling inheritance.
"""

from __future__ import annotations

import copy
import re

from ..errors import HostError
from ..models import stock_module

SYSTEM_DRIVE = "C:"
CREATOR_OWNER = "S-1-3-0"

# FileSystemRights values (see win_acl for the full table) used by the default ACL.
_FULL_CONTROL = 0x1F01FF
_SYNCHRONIZE = 0x100000
_READ_AND_EXECUTE = 0x200A9
_WRITE_DATA = 0x2
_APPEND_DATA = 0x4

# Flag members in value order, which is the order .NET writes them in.
INHERIT_ORDER = ("ContainerInherit", "ObjectInherit")
PROPAGATION_ORDER = ("NoPropagateInherit", "InheritOnly")


def _ace(sid: str, rights: int, inherit: str, propagation: str = "None", inherited: bool = False) -> dict:
    return {"sid": sid, "type": "allow", "rights": rights, "inherit": inherit, "propagation": propagation,
            "inherited": inherited}


# The explicit ACL of the system drive root on Windows Server. The two narrow
# Users entries are why any folder created under C:\ lets Users add files and
# subfolders until someone tightens it.
ROOT_ACL = (
    _ace(CREATOR_OWNER, _FULL_CONTROL, "ContainerInherit, ObjectInherit", "InheritOnly"),
    _ace("S-1-5-18", _FULL_CONTROL, "ContainerInherit, ObjectInherit"),
    _ace("S-1-5-32-544", _FULL_CONTROL, "ContainerInherit, ObjectInherit"),
    _ace("S-1-5-32-545", _READ_AND_EXECUTE | _SYNCHRONIZE, "ContainerInherit, ObjectInherit"),
    _ace("S-1-5-32-545", _APPEND_DATA | _SYNCHRONIZE, "ContainerInherit"),
    _ace("S-1-5-32-545", _WRITE_DATA | _SYNCHRONIZE, "ContainerInherit", "InheritOnly"),
)

_DRIVE = re.compile(r"^([A-Za-z]):")


def flag_names(text: str) -> set[str]:
    """The member names in a .NET flags enum's text form ("None" is the empty set)."""
    return {part.strip() for part in (text or "").split(",") if part.strip() and part.strip() != "None"}


def flag_text(names, order: tuple[str, ...]) -> str:
    """How .NET's Enum.ToString() writes a flags value: members by value, or 'None'."""
    present = [name for name in order if name in names]
    return ", ".join(present) if present else "None"


def normalize(path: str) -> str:
    """One spelling per path: backslashes, no doubled or trailing separator, '.' and '..' resolved."""
    text = path.replace("/", "\\")
    unc = text.startswith("\\\\")
    parts: list[str] = []
    for part in text.split("\\"):
        if part in ("", "."):
            continue
        if part == "..":
            # Like Windows, '..' never climbs above a drive root or a UNC share.
            if len(parts) > (2 if unc else 1):
                parts.pop()
            continue
        parts.append(part)
    if unc:
        return "\\\\" + "\\".join(parts)
    if parts and _DRIVE.match(parts[0]) and len(parts[0]) == 2:
        parts[0] = parts[0].upper()
        if len(parts) == 1:
            return parts[0] + "\\"
    return "\\".join(parts)


def is_absolute(path: str) -> bool:
    """A drive path or a UNC path: the only kinds the simulated host can resolve."""
    path = normalize(path)
    return bool(_DRIVE.match(path)) or path.startswith("\\\\")


def fold(path: str) -> str:
    """The comparison key of a path: NTFS names are case-insensitive."""
    return normalize(path).casefold()


def is_root(path: str) -> bool:
    """Whether path is a drive root such as C:\\."""
    return bool(re.match(r"^[A-Za-z]:\\$", normalize(path)))


def parent_of(path: str) -> str | None:
    """The parent directory, or None for a drive root or a UNC share root."""
    path = normalize(path)
    if is_root(path) or (path.startswith("\\\\") and path.count("\\") <= 3):
        return None
    head = path.rpartition("\\")[0]
    if re.match(r"^[A-Za-z]:$", head):
        return head + "\\"
    return head or None


def _is_under(path_key: str, ancestor_key: str) -> bool:
    prefix = ancestor_key if ancestor_key.endswith("\\") else ancestor_key + "\\"
    return path_key.startswith(prefix)


def _drives(state: dict) -> set[str]:
    found = {SYSTEM_DRIVE}
    for key in state["paths"]:
        match = _DRIVE.match(key)
        if match:
            found.add(match.group(1).upper() + ":")
    return found


def stored_key(state: dict, path: str) -> str | None:
    """The key under which state["paths"] holds path, whatever case or separators it was given in."""
    wanted = fold(path)
    for key in state["paths"]:
        if fold(key) == wanted:
            return key
    return None


def item_type(state: dict, path: str) -> str | None:
    """'directory', 'file', or None when nothing is at path."""
    key = stored_key(state, path)
    if key is not None:
        return state["paths"][key].get("type", "directory")
    if is_root(path):
        return "directory" if normalize(path)[:2] in _drives(state) else None
    wanted = fold(path)
    if any(_is_under(fold(key), wanted) for key in state["paths"]):
        return "directory"
    return None


def display_path(state: dict, path: str) -> str:
    """The path as the host spells an existing item: stored case where known."""
    key = stored_key(state, path)
    return key if key is not None else normalize(path)


def inherit_from(parent_acl: list[dict], container: bool) -> list[dict]:
    """The ACEs a new child of a directory with parent_acl inherits, as NTFS computes them."""
    inherited = []
    for ace in parent_acl:
        flags = flag_names(ace.get("inherit", "None"))
        if not flags:
            continue
        no_propagate = "NoPropagateInherit" in flag_names(ace.get("propagation", "None"))
        creator_owner = ace["sid"] == CREATOR_OWNER
        if container and "ContainerInherit" in flags:
            if no_propagate:
                if creator_owner:
                    continue
                inherit, propagation = "None", "None"
            else:
                # CREATOR OWNER only ever applies through the owner that replaces it,
                # so a container keeps passing it on without being governed by it.
                inherit, propagation = ace["inherit"], "InheritOnly" if creator_owner else "None"
        elif container:
            if no_propagate:
                continue
            inherit, propagation = "ObjectInherit", "InheritOnly"
        elif "ObjectInherit" in flags and not creator_owner:
            inherit, propagation = "None", "None"
        else:
            continue
        inherited.append({"sid": ace["sid"], "type": ace["type"], "rights": ace["rights"], "inherit": inherit,
                          "propagation": propagation, "inherited": True})
    return inherited


def acl_of(state: dict, path: str) -> list[dict]:
    """The ACL of an existing item (a copy): stored, or what it inherits when the state does not say."""
    key = stored_key(state, path)
    if key is not None and "acl" in state["paths"][key]:
        return copy.deepcopy(state["paths"][key]["acl"])
    if is_root(path) and key is None:
        return copy.deepcopy(list(ROOT_ACL))
    parent = parent_of(path)
    if parent is None:
        return []
    return inherit_from(acl_of(state, parent), item_type(state, path) != "file")


def canonical_order(acl: list[dict]) -> list[dict]:
    """Explicit deny, explicit allow, then inherited ACEs in the order the parent gave them."""
    explicit = [a for a in acl if not a.get("inherited")]
    return ([a for a in explicit if a["type"] == "deny"] + [a for a in explicit if a["type"] != "deny"]
            + [a for a in acl if a.get("inherited")])


def set_acl(state: dict, path: str, acl: list[dict]) -> None:
    """Store an item's ACL (materializing an implicit ancestor) and re-inherit everything below it."""
    key = stored_key(state, path)
    if key is None:
        key = normalize(path)
        state["paths"][key] = {"type": item_type(state, path) or "directory"}
    state["paths"][key]["acl"] = canonical_order(acl)
    _propagate(state, key)


def _propagate(state: dict, key: str) -> None:
    """Recompute the inherited part of every stored descendant's ACL, parents before children."""
    folded = fold(key)
    below = sorted((k for k in state["paths"] if _is_under(fold(k), folded)), key=lambda k: fold(k).count("\\"))
    for child in below:
        entry = state["paths"][child]
        if "acl" not in entry:
            continue  # it keeps inheriting whatever is above it
        explicit = [a for a in entry["acl"] if not a.get("inherited")]
        parent = parent_of(child)
        inherited = inherit_from(acl_of(state, parent), entry.get("type", "directory") != "file") if parent else []
        entry["acl"] = canonical_order(explicit + inherited)


def require_absolute(path: str) -> None:
    """Relative paths resolve against a working directory, which the simulated host does not have."""
    if not is_absolute(path):
        raise HostError(f"windows_sim models absolute paths only (a drive path or a UNC path), not '{path}'")


def create(state: dict, path: str, kind: str, dry_run: bool = False) -> list[str]:
    """Create path (and, for a directory, its missing ancestors); return the paths created, outermost first.

    With dry_run nothing is stored, but a missing drive still fails, because
    New-Item resolves the drive before -WhatIf decides to do nothing.
    """
    require_absolute(path)
    missing = []
    current: str | None = normalize(path)
    while current is not None and item_type(state, current) is None:
        missing.append(current)
        current = parent_of(current)
    if current is None:
        top = missing[-1]
        if top.startswith("\\\\"):
            raise HostError("The network path was not found.", "System.IO.IOException")
        raise HostError(f"Cannot find drive. A drive with the name '{top[:1]}' does not exist.",
                        "System.Management.Automation.DriveNotFoundException")
    if dry_run:
        return list(reversed(missing))
    if item_type(state, current) == "file":
        raise HostError(f'Cannot create "{display_path(state, current)}" because a file or directory with the same name '
                        "already exists.", "System.IO.IOException")
    created = []
    for new_path in reversed(missing):
        new_kind = kind if new_path == missing[0] else "directory"
        parent = parent_of(new_path)
        acl = inherit_from(acl_of(state, parent), new_kind != "file") if parent else []
        state["paths"][new_path] = {"type": new_kind, "acl": acl}
        created.append(new_path)
    return created


def remove(state: dict, path: str) -> None:
    """Delete an item and, for a directory, everything below it."""
    folded = fold(path)
    for key in [k for k in state["paths"] if fold(k) == folded or _is_under(fold(k), folded)]:
        del state["paths"][key]


@stock_module("ansible.windows.win_file")
def win_file(host, params: dict, check_mode: bool, _diff_mode: bool) -> dict:
    """Follows win_file.ps1: touch first, then absent or a type check on what exists, then create."""
    state = host.state
    path = params["path"]
    wanted = params["state"]
    require_absolute(path)

    if wanted == "touch":
        if item_type(state, path) is None and not check_mode:
            parent = parent_of(path)
            if parent is None or item_type(state, parent) != "directory":
                # Out-File runs outside any try block, so Ansible reports it as unhandled.
                raise HostError(f"Unhandled exception while executing module: Could not find a part of the path "
                                f"'{normalize(path)}'.", "System.IO.DirectoryNotFoundException")
            create(state, path, "file")
        return {"changed": True}

    existing = item_type(state, path)
    if existing is not None:
        if wanted == "absent":
            if is_root(path):
                raise HostError(f"Failed to delete {normalize(path)}: Access to the path '{normalize(path)}' is denied.",
                                "System.UnauthorizedAccessException")
            if not check_mode:
                remove(state, path)
            return {"changed": True}
        if wanted == "directory" and existing != "directory":
            raise HostError(f"path {path} is not a directory")
        if wanted == "file" and existing == "directory":
            raise HostError(f"path {path} is not a file")
        return {"changed": False}

    if wanted is None:
        # The real module guesses from the name, and any path with a leaf name means a file.
        wanted = "file" if not is_root(path) else "directory"
    if wanted == "directory":
        create(state, path, "directory", dry_run=check_mode)
        return {"changed": True}
    if wanted == "file":
        raise HostError(f"path {path} will not be created")
    return {"changed": False}
