# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The option of the modules that can plan on a shared read instead of reading the host themselves."""

    DOCUMENTATION = r"""
options:
  snapshot:
    description:
      - The registered result of an earlier M(pkiops.keyfactor_command.host_snapshot) task on the same host that
        listed this task in its O(pkiops.keyfactor_command.host_snapshot#module:reads).
      - When the snapshot read exactly what this task's own read would (the same module, the same options apart from
        secrets, which are never read into a snapshot) and no change by this collection's modules to that part of
        the host has been counted since, the task plans on the snapshot and does not read the host. A task that
        finds nothing to change then costs no PowerShell execution; one that changes something costs one.
      - In every other case, and when the task runs in a loop, the task reads the host itself, as without this option.
      - A skipped O(snapshot) task's result is accepted and means there is no snapshot.
      - See C(docs/shared-read.md) in the collection for the design.
    type: dict
"""
