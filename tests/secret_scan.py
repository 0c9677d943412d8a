"""What counts as a secret in a test run, and the recognisable forms of each, for the secrets scan.

The end-to-end lab (tests/e2e/conftest.py) collects the secrets every ansible-playbook run is given and scans
what the run left behind with tests/reliability.py's scan_for_secrets. The unit check of the secret flow
(tests/unit/test_secret_flow.py) uses the same PFX slices.

A secret is
- the value of any variable whose name contains ``password`` (ansible_password, ansible_become_password,
  pfx passwords, app pool passwords), or ends in ``_pass`` (ansible_become_pass and the other aliases);
- a PFX: the bytes of a ``.pfx``/``.p12`` file a ``src``/``*_src`` variable names, or of a ``content``/``*_content``
  value that decodes to a PKCS#12 structure. A PFX is scanned as its base64, every 64-character window of it
  at a stride of 64, the base64 as given when it differs, and the hex of its first 32 bytes in both cases.

Values that are Jinja templates (``{{ vault_x }}``) are expressions, not secrets: the values they name are
scanned where they are given.
"""

from __future__ import annotations

import base64
import binascii
import pathlib
import re

PFX_SUFFIXES = (".pfx", ".p12")
WINDOW = 64
HEADER_BYTES = 32


def strings_in(value) -> list[str]:
    """Every key and string in a JSON-like document, unescaped: a secret with a quote or a backslash is found too."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append(str(key))
            found += strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found += strings_in(item)
    elif isinstance(value, str):
        found.append(value)
    return found


def _is_password_name(name: str) -> bool:
    name = name.lower()
    return "password" in name or name.endswith("_pass") or name == "pass"


def _is_src_name(name: str) -> bool:
    name = name.lower()
    return name == "src" or name.endswith("_src")


def _is_content_name(name: str) -> bool:
    name = name.lower()
    return name == "content" or name.endswith("_content")


def _is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def looks_like_pfx(data: bytes) -> bool:
    """PFX ::= SEQUENCE { version INTEGER 3, authSafe ContentInfo, ... } (RFC 7292); a certificate starts otherwise."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    length_octets = data[1] & 0x7F if data[1] & 0x80 else 0
    start = 2 + length_octets
    return data[start:start + 3] == b"\x02\x01\x03"


def decode_base64(value: str) -> bytes | None:
    try:
        return base64.b64decode(re.sub(r"\s+", "", value), validate=True)
    except (binascii.Error, ValueError):
        return None


def pfx_forms(label: str, data: bytes, as_given: str | None = None) -> dict[str, str]:
    """The forms of one PFX the scan looks for, by label; no label quotes any of the PFX."""
    encoded = base64.b64encode(data).decode("ascii")
    forms = {f"{label} base64": encoded}
    if as_given is not None and as_given != encoded:
        forms[f"{label} base64 as given"] = as_given
    for start in range(0, len(encoded) - WINDOW + 1, WINDOW):
        forms[f"{label} base64[{start}:{start + WINDOW}]"] = encoded[start:start + WINDOW]
    header = data[:HEADER_BYTES].hex()
    forms[f"{label} hex of its first {HEADER_BYTES} bytes"] = header
    forms[f"{label} HEX of its first {HEADER_BYTES} bytes"] = header.upper()
    return forms


class SecretCollector:
    """Collects the secrets of one run, each distinct value once, under the first label it was found by."""

    def __init__(self, base: pathlib.Path):
        self.base = base
        self.secrets: dict[str, str] = {}
        self._values: set[str] = set()
        self._pfx_seen: set[bytes] = set()

    def add(self, label: str, value: str) -> None:
        if value and value not in self._values:
            self._values.add(value)
            self.secrets[label] = value

    def add_pfx(self, label: str, data: bytes, as_given: str | None = None) -> None:
        if data in self._pfx_seen:
            if as_given is not None:
                self.add(f"{label} base64 as given", as_given)
            return
        self._pfx_seen.add(data)
        for form_label, form in pfx_forms(label, data, as_given).items():
            self.add(form_label, form)

    def add_pfx_file(self, label: str, path: pathlib.Path) -> None:
        try:
            data = path.read_bytes()
        except OSError:
            return
        if data:
            self.add_pfx(label, data)

    def walk(self, label: str, value, name: str = "") -> None:
        """Every secret in a variable's value, named by its path (label.key[0].key)."""
        if isinstance(value, dict):
            for key, item in value.items():
                self.walk(f"{label}.{key}" if label else str(key), item, str(key))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                self.walk(f"{label}[{index}]", item, name)
        elif isinstance(value, str) and value and not _is_template(value):
            if _is_password_name(name):
                self.add(label, value)
            elif _is_src_name(name) and value.lower().endswith(PFX_SUFFIXES):
                path = pathlib.Path(value)
                path = path if path.is_absolute() else self.base / path
                self.add_pfx_file(f"PFX {label} ({path.name})", path)
            elif _is_content_name(name):
                data = decode_base64(value)
                if data is not None and looks_like_pfx(data):
                    self.add_pfx(f"PFX {label}", data, as_given=value)

    def pfx_files_under(self, root: pathlib.Path, skip: tuple[str, ...] = ()) -> None:
        """Every PFX file in a directory tree: those a templated path names (``{{ inventory_dir }}/files/x.pfx``) too."""
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.suffix.lower() in PFX_SUFFIXES and path.is_file() and not any(part in skip for part in relative.parts):
                self.add_pfx_file(f"PFX file {relative}", path)
