#!/usr/bin/env python3
"""Repack one collection from the ``ansible`` wheel as a Galaxy artifact.

Galaxy is unreachable on the machines this project is developed and tested on,
but PyPI is not, and the ``ansible`` package ships every collection it bundles
together with its MANIFEST.json. The wheel leaves out some files that the
collection's own FILES.json lists (CI configuration, for example), and
``ansible-galaxy collection install`` refuses an artifact whose FILES.json names
a missing file. So FILES.json is rebuilt from what the wheel really holds, with
fresh checksums, and MANIFEST.json is pointed at it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import pathlib
import tarfile
import zipfile


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _directories(files: dict[str, bytes]) -> list[str]:
    """Every directory above a file, because the installer extracts each one it is told of."""
    parents = {str(parent) for path in files for parent in pathlib.PurePosixPath(path).parents}
    return sorted(parents - {"."})


def _files_json(files: dict[str, bytes]) -> bytes:
    entries = [{"name": ".", "ftype": "dir", "chksum_type": None, "chksum_sha256": None, "format": 1}]
    entries += [
        {"name": d, "ftype": "dir", "chksum_type": None, "chksum_sha256": None, "format": 1}
        for d in _directories(files)
    ]
    entries += [
        {"name": path, "ftype": "file", "chksum_type": "sha256", "chksum_sha256": _sha256(data), "format": 1}
        for path, data in sorted(files.items())
    ]
    return json.dumps({"files": entries, "format": 1}, indent=4).encode()


def repack(wheel: pathlib.Path, fqcn: str, dest: pathlib.Path) -> pathlib.Path:
    namespace, name = fqcn.split(".")
    prefix = f"ansible_collections/{namespace}/{name}/"
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
        if not members:
            raise SystemExit(f"{wheel.name} does not contain the collection {fqcn}")
        manifest = json.loads(archive.read(prefix + "MANIFEST.json"))
        files = {
            m.filename[len(prefix):]: archive.read(m)
            for m in members
            if m.filename[len(prefix):] not in ("MANIFEST.json", "FILES.json")
        }
    files_json = _files_json(files)
    manifest["file_manifest_file"]["chksum_sha256"] = _sha256(files_json)
    version = manifest["collection_info"]["version"]
    dest.mkdir(parents=True, exist_ok=True)
    artifact = dest / f"{namespace}-{name}-{version}.tar.gz"
    payload = {"MANIFEST.json": json.dumps(manifest, indent=4).encode(), "FILES.json": files_json, **files}
    with tarfile.open(artifact, "w:gz") as tar:
        for directory in _directories(files):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for path, data in payload.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return artifact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=pathlib.Path)
    parser.add_argument("collection", help="namespace.name, for example ansible.windows")
    parser.add_argument("dest", type=pathlib.Path, help="directory for the .tar.gz artifact")
    args = parser.parse_args()
    print(repack(args.wheel, args.collection, args.dest))


if __name__ == "__main__":
    main()
