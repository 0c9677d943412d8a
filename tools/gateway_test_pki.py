#!/usr/bin/env python3
"""Write a throwaway PKI for a simulated gateway cluster: usage: gateway_test_pki.py DIRECTORY.

DIRECTORY receives gateway.pfx (an RSA key-encipherment certificate with its key, protected by the password in
the environment variable GATEWAY_TEST_PFX_PASSWORD, so that it is on no command line),
root.pem and issuing.pem (its CA chain). Made fresh on every call, so no key material is ever committed.
"""

from __future__ import annotations

import os
import pathlib
import sys

from cryptography.hazmat.primitives.serialization import Encoding

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

import pki_fixtures  # noqa: E402  pylint: disable=wrong-import-position


def main() -> None:
    password = os.environ.get("GATEWAY_TEST_PFX_PASSWORD")
    if len(sys.argv) != 2 or not password:
        sys.exit(__doc__)
    directory = pathlib.Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    root, issuing = pki_fixtures.chain()
    gateway = pki_fixtures.issue("gateway-encryption.contoso.com", issuer=issuing)
    (directory / "gateway.pfx").write_bytes(pki_fixtures.pfx(gateway, password))
    (directory / "root.pem").write_bytes(root.cert.public_bytes(Encoding.PEM))
    (directory / "issuing.pem").write_bytes(issuing.cert.public_bytes(Encoding.PEM))


if __name__ == "__main__":
    main()
