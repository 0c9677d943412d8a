# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The option of the modules that can plan on a snapshot instead of reading the host themselves."""

    DOCUMENTATION = r"""
options:
  snapshot:
    description:
      - The registered result of an earlier M(pkiops.keyfactor_command.host_snapshot) task on the same host that
        listed this task in its O(pkiops.keyfactor_command.host_snapshot#module:reads).
      - When the snapshot read exactly what this task's own read would (the same module, the same probe parameters,
        on this host, as the same user) and no change by this collection's modules to that part of the host has been
        marked since, the task plans on the snapshot and does not read the host. A task that finds nothing to change
        then costs no PowerShell execution; one that changes something costs one.
      - In every other case the task reads the host itself, as without this option; always when it is delegated,
        and when its read compares a secret on the host (an application pool's password), which a snapshot never
        holds.
      - A skipped O(snapshot) task's result is accepted and means there is no snapshot.
      - With or without this option, a task that changes the host returns the host fact C(keyfactor_command_changes)
        (in C(ansible_facts)), which marks the parts of Windows it changed.
      - See C(docs/snapshot.md) in the collection for the design.
    type: dict
"""
