"""Model of plugins/plugin_utils/_powershell/user_rights.ps1 (placeholder until written)."""

from ..registry import payload_model


@payload_model("user_rights")
def user_rights(call):
    call.changed = False
    call.result = {"echo": call.parameters}
