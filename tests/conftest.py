"""Make the collection, ansible.windows and the simulator importable in every test."""

from __future__ import annotations

import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".cache" / "collections"

sys.path.insert(0, str(REPO / "tests" / "windows_sim"))
sys.path.insert(0, str(REPO / "tests"))

if not (COLLECTIONS / "ansible_collections" / "ansible" / "windows").is_dir():
    raise RuntimeError(f"{COLLECTIONS} is missing ansible.windows; run tools/bootstrap (make test does)")

# pylint: disable-next=wrong-import-position
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder  # noqa: E402

_AnsibleCollectionFinder(paths=[str(COLLECTIONS)])._install()  # pylint: disable=protected-access
