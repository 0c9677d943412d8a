"""Python models of this collection's PowerShell payloads, one module per payload tag."""

from . import user_rights  # noqa: F401  pylint: disable=unused-import
