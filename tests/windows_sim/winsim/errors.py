"""Exceptions a simulated Windows host raises, shaped like the real ones."""

from __future__ import annotations


class HostError(Exception):
    """A failure Windows itself would report, with its .NET exception type and message."""

    def __init__(self, message: str, type_name: str = "System.Management.Automation.RuntimeException"):
        super().__init__(message)
        self.message = message
        self.type_name = type_name


class IdentityNotMapped(HostError):
    def __init__(self):
        super().__init__(
            "Some or all identity references could not be translated.",
            "System.Security.Principal.IdentityNotMappedException",
        )


class ModuleArgumentError(Exception):
    """Ansible.Basic would reject these module arguments before the module body runs."""
