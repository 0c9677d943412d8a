# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """What every module of this collection shares: how it runs and what it supports."""

    DOCUMENTATION = r"""
attributes:
  action:
    support: full
    details:
      - The module is an action plugin. It validates its options on the controller, reads the host's current
        state with one M(ansible.windows.win_powershell) run, and changes the host with a second run only when
        something differs.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: windows
notes:
  - Needs the C(ansible.windows) collection on the controller, version 2.4.0 or later.
  - A task that changes nothing costs one PowerShell execution on the host; a task that changes something costs two.
  - A read of the host that fails with a connection error is tried up to three times in all. A change is never
    retried; running the task again converges instead.
  - The PowerShell payloads compile a little C# with C(Add-Type) or call .NET constructors, which Constrained Language
    Mode forbids. On a host whose Windows Defender Application Control policy puts unsigned scripts in that mode, the
    modules fail unless the collection's payloads are signed and trusted by the policy.
"""
