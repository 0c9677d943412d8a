"""Every certificate, CRL, PKCS#7 and key file in the cryptography_vectors package, which this project did not write, is handled cleanly.

Each either yields certificates that get a store, or fails with a TaskInputError that names the entry: never a traceback.
"""

from __future__ import annotations

import pathlib

import cryptography_vectors
import pytest
from cryptography import x509

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _ca_certificates
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import TaskInputError

VECTORS = pathlib.Path(cryptography_vectors.__file__).parent
LABEL = "certificates[0].src"
CORPUS = sorted(
    [p for p in (VECTORS / "x509").rglob("*") if p.suffix.lower() in (".crt", ".cer", ".pem", ".der", ".crl")]
    + [p for p in (VECTORS / "pkcs7").rglob("*") if p.is_file()]
    + list((VECTORS / "asymmetric" / "PEM_Serialization").rglob("*.pem"))
)


def test_the_corpus_is_there():
    assert len(CORPUS) > 700


@pytest.mark.parametrize("path", CORPUS, ids=[str(p.relative_to(VECTORS)) for p in CORPUS])
def test_each_file_yields_stored_certificates_or_fails_with_a_clear_message(path):
    data = path.read_bytes()
    try:
        certificates = _ca_certificates.load_certificates(data, LABEL, base64_der=False)
        chosen = _ca_certificates.collect([(LABEL, certificates, "auto")])
    except TaskInputError as error:
        assert str(error).startswith(f"{LABEL}: "), error
        if b"PRIVATE KEY-----" in data:
            assert "begins a private key" in str(error)
        return
    assert b"PRIVATE KEY" not in data, "a file that holds a private key was accepted"
    assert certificates and all(isinstance(c, x509.Certificate) for c in certificates)
    assert chosen and all(c.store in ("CA", "Root") and len(c.thumbprint) == 40 for c in chosen)


def test_a_certificate_with_a_malformed_extension_names_its_entry_and_the_fault():
    data = (VECTORS / "x509" / "custom" / "two_basic_constraints.pem").read_bytes()
    with pytest.raises(TaskInputError) as failure:
        _ca_certificates.load_certificates(data, LABEL, base64_der=False)
    assert str(failure.value) == f"{LABEL}: certificate 1 is not a well-formed X.509 certificate: Duplicate 2.5.29.19 extension found"


def test_an_encrypted_pkcs7_message_is_not_a_certificate_bundle():
    data = (VECTORS / "pkcs7" / "enveloped.pem").read_bytes()
    with pytest.raises(TaskInputError) as failure:
        _ca_certificates.load_certificates(data, LABEL, base64_der=False)
    assert str(failure.value) == f"{LABEL}: PEM block 1 (PKCS7) is not a valid certificate"
