"""Python models of this collection's PowerShell payloads, one module per payload tag."""

from . import iis_app_pools, user_rights  # noqa: F401  pylint: disable=unused-import
