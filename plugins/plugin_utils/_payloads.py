# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PowerShell payloads as they reach the host: each module's script with its fragments inlined, and compressed
as the runner and host_snapshot.ps1 take a script. Free of Ansible, as host_snapshot's definition sends scripts."""

from __future__ import annotations

import base64
import functools
import gzip
import os
import re

PAYLOAD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_powershell")

# A payload line "# pkiops-include: _fragment.ps1" is replaced by that file, so
# that two payloads share one copy of code such as the private key ACL helpers.
_INCLUDE = re.compile(r"^# pkiops-include: (_[a-z0-9_]+\.ps1)[ \t]*\r?$", re.MULTILINE)


def _read_payload_file(file_name: str) -> str:
    with open(os.path.join(PAYLOAD_DIR, file_name), encoding="utf-8") as handle:
        return handle.read()


@functools.lru_cache(maxsize=None)
def payload_source(name: str) -> str:
    """The script that runs on the host for a module: its payload with every included fragment inlined."""
    return _INCLUDE.sub(lambda match: _read_payload_file(match.group(1)).rstrip("\n"), _read_payload_file(f"{name}.ps1"))


@functools.lru_cache(maxsize=32)
def compressed_text(text: str) -> str:
    """Text as the runner and host_snapshot.ps1 take a script: gzip (no timestamp, so always the same bytes), then
    base64."""
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


@functools.lru_cache(maxsize=None)
def compressed_payload(name: str) -> str:
    return compressed_text(payload_source(name))
