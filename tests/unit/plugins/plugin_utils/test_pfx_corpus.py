"""Every PKCS#12 file in the cryptography_vectors package, which this project did not write, is handled cleanly.

Each either opens, or fails with a TaskInputError whose message names the problem: never a traceback. Every
certificate that opens also cross-checks the serial number read from the DER encoding against the one computed
from the integer value.
"""

from __future__ import annotations

import functools
import hashlib
import pathlib
import re

import cryptography_vectors
import pytest
from cryptography import x509

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _certificates
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import TaskInputError
from winsim.certificates import serial_as_windows_shows_it

VECTORS = pathlib.Path(cryptography_vectors.__file__).parent
CORPUS = sorted(p for p in VECTORS.rglob("*") if p.suffix.lower() in (".p12", ".pfx"))
# The passwords the vectors' own documentation gives; the rest have none. The
# likeliest is tried first: each wrong guess costs a full key derivation.
PASSWORDS = ("cryptography", "password", "")
# Archives without a certificate or without its key, a Java trust store, and DSA keys whose parameters are
# inherited from the CA (which the parser does not support): all must fail, and cleanly.
UNUSABLE = re.compile(r"no-cert|no-key|java-truststore|DSAParameters?Inherit")


@functools.lru_cache(maxsize=None)
def _open(path: pathlib.Path):
    """The first password that opens the file, with its result, or the last failure."""
    data = path.read_bytes()
    guesses = sorted(PASSWORDS, key=lambda p: p != ("password" if "PKITS" in str(path) else "cryptography"))
    failures = []
    for password in guesses:
        try:
            return password, _certificates.load_pfx(data, password, "src")
        except TaskInputError as error:
            failures.append(error)
    # A wrong guess only says the password is wrong; any other failure says more.
    informative = [f for f in failures if "password is wrong" not in str(f)]
    return None, (informative or failures)[0]


def test_the_corpus_is_there():
    assert len(CORPUS) > 300


@pytest.mark.parametrize("path", CORPUS, ids=[str(p.relative_to(VECTORS)) for p in CORPUS])
def test_each_file_opens_or_fails_with_a_clear_message(path):
    outcome = _open(path)[1]
    if isinstance(outcome, TaskInputError):
        assert str(outcome).startswith(("src: ", "password: ")), outcome
        assert UNUSABLE.search(path.name), f"{path.name} holds a certificate and its key, but did not open: {outcome}"
        return
    assert outcome.thumbprint and outcome.serial_number
    cert = x509.load_der_x509_certificate(outcome.certificate_der)
    assert outcome.serial_number == serial_as_windows_shows_it(cert)
    assert outcome.thumbprint == hashlib.sha1(outcome.certificate_der).hexdigest().upper()
