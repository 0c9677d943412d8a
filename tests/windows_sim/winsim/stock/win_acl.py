"""Stand-in for ansible.windows.win_acl on file-system paths.

It keeps the real module's rules, quirks included, because roles are judged by them:
- ``rights`` is parsed as PowerShell casts text to [FileSystemRights]: names
  separated by commas, case-insensitive, aliases with the same bit value
  (``WriteData`` and ``CreateFiles``) interchangeable;
- FileSystemAccessRule adds ``Synchronize`` to every allow rule and strips it from
  deny rules other than FullControl, so ``Read`` and ``Read, Synchronize`` are
  the same allow rule;
- ``inherit`` defaults to ``ContainerInherit, ObjectInherit`` on a directory and is
  forced to ``None`` on a file;
- a rule is already present only when an *explicit* ACE has exactly the same
  SID, type, rights, inheritance and propagation. Inherited ACEs never count,
  and an explicit ACE that grants more does not count either;
- adding merges into an explicit ACE of the same SID, type and flags (as
  ObjectSecurity.AddAccessRule does), so asking for a subset of what an ACE
  already grants reports a change on every run, as on Windows;
- propagation flags mean nothing without inheritance flags and are stored as
  ``None``, yet the comparison uses the requested value, so such a rule never
  matches either.

When the rule is already there (or, for ``absent``, is not), the result is ``{"changed": false}`` alone: the
module passes its message to Legacy's ``Exit-Json($obj)`` as an undeclared ``-message`` argument, which a
function without CmdletBinding puts in ``$args``, so no ``msg`` reaches the result.

Check mode: ansible.windows 3.3.0's win_acl calls ``Parse-Args $args`` without ``-supports_check_mode``, so
under ``--check`` the host skips it ("remote module does not support check mode") and changes nothing; the
runner in ``__init__.py`` reads that from the module's source. A version that declares the support (from
ansible.windows#912) reaches this stand-in in check mode, which then reports the change without making it.

Registry and certificate paths and ``IIS APPPOOL\\`` identities are not modelled and fail with a message saying
so; the model has no links, so ``follow`` changes nothing. (The module's certificate branch, a private key's ACL,
is used only by the bench's stock-module baselines, which bring its stand-in: tests/bench/windows_sim_stock/.)
"""

from __future__ import annotations

from ..errors import HostError
from ..models import stock_module
from . import win_file
from .win_group_membership import convert_to_sid

# [System.Security.AccessControl.FileSystemRights], in the order PowerShell lists them.
FILE_SYSTEM_RIGHTS = {
    "ListDirectory": 0x1,
    "ReadData": 0x1,
    "WriteData": 0x2,
    "CreateFiles": 0x2,
    "CreateDirectories": 0x4,
    "AppendData": 0x4,
    "ReadExtendedAttributes": 0x8,
    "WriteExtendedAttributes": 0x10,
    "Traverse": 0x20,
    "ExecuteFile": 0x20,
    "DeleteSubdirectoriesAndFiles": 0x40,
    "ReadAttributes": 0x80,
    "WriteAttributes": 0x100,
    "Write": 0x116,
    "Delete": 0x10000,
    "ReadPermissions": 0x20000,
    "Read": 0x20089,
    "ReadAndExecute": 0x200A9,
    "Modify": 0x301BF,
    "ChangePermissions": 0x40000,
    "TakeOwnership": 0x80000,
    "Synchronize": 0x100000,
    "FullControl": 0x1F01FF,
}
_BY_LOWER_NAME = {name.lower(): value for name, value in FILE_SYSTEM_RIGHTS.items()}
SYNCHRONIZE = FILE_SYSTEM_RIGHTS["Synchronize"]
FULL_CONTROL = FILE_SYSTEM_RIGHTS["FullControl"]
DELETE_SUBDIRECTORIES_AND_FILES = FILE_SYSTEM_RIGHTS["DeleteSubdirectoriesAndFiles"]


def parse_rights(text: str) -> int:
    """[FileSystemRights]$text, raising the error PowerShell's cast raises for a name it does not know."""
    mask = 0
    names = text.split(",")
    for name in names:
        value = _BY_LOWER_NAME.get(name.strip().lower())
        if value is None:
            raise HostError(
                f'Cannot convert value "{text}" to type "System.Security.AccessControl.FileSystemRights". '
                f'Error: "Unable to match the identifier name {text} to a valid enumerator name. Specify one of the '
                f'following enumerator names and try again:\r\n{", ".join(FILE_SYSTEM_RIGHTS)}"',
                "System.Management.Automation.PSInvalidCastException",
            )
        mask |= value
    return mask


def access_mask(rights: int, ace_type: str) -> int:
    """FileSystemAccessRule.AccessMaskFromRights: what the rule really stores for these rights."""
    if ace_type == "allow":
        return rights | SYNCHRONIZE
    if rights not in (FULL_CONTROL, FULL_CONTROL & ~DELETE_SUBDIRECTORIES_AND_FILES):
        return rights & ~SYNCHRONIZE
    return rights


def resolve_user(host, user: str) -> str:
    if user.split("\\", 1)[0].upper() == "IIS APPPOOL" and "\\" in user:
        raise HostError(f"windows_sim does not model IIS application pool identities such as '{user}'")
    return convert_to_sid(host.directory, user)


def _requested_rule(params: dict, sid: str, kind: str) -> tuple[dict, set[str]]:
    """The ACE the FileSystemAccessRule would store, and the propagation flags the rule itself reports."""
    inherit = "None" if kind == "file" else (params["inherit"] or "ContainerInherit, ObjectInherit")
    try:
        mask = access_mask(parse_rights(params["rights"]), params["type"])
    except HostError as error:
        raise HostError(f"an error occurred when attempting to {params['state']} {params['rights']} permission(s) on "
                        f"{params['path']} for {params['user']} - {error.message}", error.type_name) from error
    inherit_names = win_file.flag_names(inherit)
    requested_propagation = win_file.flag_names(params["propagation"])
    # AceFlags drop propagation flags when nothing is inherited; the rule object keeps them.
    stored_propagation = requested_propagation if inherit_names else set()
    rule = {
        "sid": sid, "type": params["type"], "rights": mask,
        "inherit": win_file.flag_text(inherit_names, win_file.INHERIT_ORDER),
        "propagation": win_file.flag_text(stored_propagation, win_file.PROPAGATION_ORDER),
        "inherited": False,
    }
    return rule, requested_propagation


def _same_principal_and_flags(ace: dict, rule: dict, propagation: set[str]) -> bool:
    return (not ace.get("inherited") and ace["sid"].upper() == rule["sid"].upper() and ace["type"] == rule["type"]
            and win_file.flag_names(ace["inherit"]) == win_file.flag_names(rule["inherit"])
            and win_file.flag_names(ace["propagation"]) == propagation)


# The documentation lists each inheritance flag as a choice, but the module
# takes any comma-separated combination, such as its own default.
@stock_module("ansible.windows.win_acl", spec_overrides={"inherit": {"type": "str"}})
def win_acl(host, params: dict, check_mode: bool, _diff_mode: bool) -> dict:
    """Follows win_acl.ps1: path, then principal, then rights; then add or remove the one matching rule."""
    state, path = host.state, params["path"]
    if path.split(":", 1)[0].upper() in ("HKLM", "HKCU", "HKCR", "HKU", "HKCC", "CERT") and ":" in path:
        raise HostError(f"windows_sim models win_acl on file-system paths only, not '{path}'")
    # The model has no links, so follow=true always lands on path itself, as it does on Windows for a plain item.
    win_file.require_absolute(path)

    kind = win_file.item_type(state, path)
    if kind is None:
        raise HostError(f"{path} file or directory does not exist on the host")
    rule, requested_propagation = _requested_rule(params, resolve_user(host, params["user"]), kind)

    acl = win_file.acl_of(state, path)
    match = next((ace for ace in acl if ace["rights"] == rule["rights"]
                  and _same_principal_and_flags(ace, rule, requested_propagation)), None)
    result = {"changed": False}
    if params["state"] == "present" and match is None:
        _add_access_rule(acl, rule)
        result["changed"] = True
    elif params["state"] == "absent" and match is not None:
        acl.remove(match)
        result["changed"] = True
    if result["changed"] and not check_mode:
        win_file.set_acl(state, path, acl)
    return result


def _add_access_rule(acl: list[dict], new: dict) -> None:
    """ObjectSecurity.AddAccessRule: widen an explicit ACE with the same SID, type and flags, or add one."""
    for ace in acl:
        if _same_principal_and_flags(ace, new, win_file.flag_names(new["propagation"])):
            ace["rights"] |= new["rights"]
            return
    acl.append(new)
