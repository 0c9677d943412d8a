"""The README's layout table names paths that exist, so that it keeps matching the code."""

from __future__ import annotations

import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[2]


def _layout_paths() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    paths = []
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            paths += re.findall(r"`([^`]+)`", first_cell)
    return paths


def test_every_path_in_the_readme_layout_exists():
    paths = _layout_paths()
    assert len(paths) >= 10, paths
    missing = []
    folder = ""
    for path in paths:
        # A bare file name after a path in the same cell is in that path's folder.
        if "/" not in path:
            path = f"{folder}/{path}"
        folder = path.rsplit("/", 1)[0] if "." in path.rsplit("/", 1)[-1] else path.rstrip("/")
        pattern = re.sub(r"<[a-z_]+>", "*", path.rstrip("/"))
        if not list(REPO.glob(pattern)):
            missing.append(path)
    assert not missing, f"README.md's layout names paths that do not exist: {missing}"
