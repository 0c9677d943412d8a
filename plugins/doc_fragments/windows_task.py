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
  - A read of the host that fails with a connection error is retried up to three times. A change is never retried;
    running the task again converges instead.
"""
