"""Payloads as they reach the host, and where each line of that script comes from.

``payload_source`` (the controller's own function) inlines each ``# pkiops-include: _fragment.ps1`` line; a
finding on the inlined script is reported with the file and line a reader edits.
"""

from __future__ import annotations

import functools

from .reflection import REPO

COLLECTIONS = REPO / ".cache" / "collections"


@functools.lru_cache(maxsize=1)
def _payloads():
    # pylint: disable=import-outside-toplevel
    try:
        from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _payloads as payloads
    except ImportError:
        from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

        _AnsibleCollectionFinder(paths=[str(COLLECTIONS)])._install()  # pylint: disable=protected-access
        from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _payloads as payloads
    return payloads


def source(name: str) -> str:
    """The script payload ``name`` sends to the host, its fragments inlined."""
    return _payloads().payload_source(name)


@functools.lru_cache(maxsize=None)
def line_origins(name: str) -> tuple[tuple[str, int], ...]:
    """(file name, 1-based line) of each line of ``source(name)``, in order."""
    task = _payloads()
    origins: list[tuple[str, int]] = []
    file_name = f"{name}.ps1"
    for number, line in enumerate(
        task._read_payload_file(file_name).split("\n"), start=1
    ):  # pylint: disable=protected-access
        match = task._INCLUDE.match(line)  # pylint: disable=protected-access
        if match is None:
            origins.append((file_name, number))
            continue
        fragment = task._read_payload_file(match.group(1)).rstrip("\n")  # pylint: disable=protected-access
        origins.extend((match.group(1), fragment_line) for fragment_line in range(1, fragment.count("\n") + 2))
    return tuple(origins)


def origin(name: str, line: int) -> str:
    """'file.ps1:line' for a line of payload ``name`` as it reaches the host."""
    origins = line_origins(name)
    if 1 <= line <= len(origins):
        file_name, file_line = origins[line - 1]
        return f"{file_name}:{file_line}"
    return f"{name}.ps1 (inlined):{line}"
