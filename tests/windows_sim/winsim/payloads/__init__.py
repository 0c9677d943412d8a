"""Python models of this collection's PowerShell payloads, one module per payload tag."""

from . import ca_certificates  # noqa: F401  pylint: disable=unused-import
from . import cert_serial_registry, cluster_generic_service_role, iis_app_pools, pfx_import, private_key_acl, user_rights  # noqa: F401  pylint: disable=unused-import
from . import host_snapshot, readiness_info  # noqa: F401  pylint: disable=unused-import
