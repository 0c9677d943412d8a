"""CA certificates on the controller: reading PEM, DER and PKCS#7, telling roots from intermediates, and one store each."""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, NoEncryption, PrivateFormat, pkcs7
from cryptography.x509.oid import NameOID

import pki_fixtures
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._ca_certificates import (
    choose_store,
    collect,
    is_self_signed,
    load_certificates,
    validity_warnings,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import TaskInputError

LABEL = "certificates[0].src"
NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module", name="pki")
def fixture_pki() -> dict:
    """A root, an issuing CA under it, a leaf under that, and the root's key-renewal cross certificate."""
    root, issuing = pki_fixtures.chain()
    # What a CA key renewal publishes as CA(0-1): the root's name on both sides, the new key, signed by the old key.
    cross = pki_fixtures.issue("Contoso Test Root CA", issuer=root, key=pki_fixtures.new_key(), ca=True)
    cross_to_ec = pki_fixtures.issue("Contoso Test Root CA", issuer=root, key=pki_fixtures.new_key("ec"), ca=True)
    return {"root": root, "issuing": issuing, "leaf": pki_fixtures.issue("web.contoso.com", issuer=issuing), "cross": cross,
            "cross_to_ec": cross_to_ec}


def pem(*issued) -> bytes:
    return b"".join(i.cert.public_bytes(Encoding.PEM) for i in issued)


def der(issued) -> bytes:
    return issued.cert.public_bytes(Encoding.DER)


thumbprint_of = pki_fixtures.thumbprint


def without_extensions(common_name: str):
    """A self-signed certificate without a basic constraints extension, like an old version 1 root."""
    key = pki_fixtures.new_key("ec")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))


# --- reading ------------------------------------------------------------------------------------------------------------------


def test_a_pem_bundle_yields_every_certificate_in_order(pki):
    certificates = load_certificates(pem(pki["issuing"], pki["root"]), LABEL, base64_der=False)
    assert certificates == [pki["issuing"].cert, pki["root"].cert]


def test_text_around_pem_blocks_is_ignored(pki):
    data = b"subject=CN=Contoso Test Issuing CA\r\n" + pem(pki["issuing"]).replace(b"\n", b"\r\n") + b"\n# end of bundle\n"
    assert load_certificates(data, LABEL, base64_der=False) == [pki["issuing"].cert]


def test_an_indented_pem_is_read(pki):
    data = b"".join(b"    " + line + b"\n" for line in pem(pki["root"]).splitlines())
    assert load_certificates(data, "certificates[0].content", base64_der=True) == [pki["root"].cert]


def test_the_older_x509_certificate_label_is_read(pki):
    data = pem(pki["root"]).replace(b"CERTIFICATE", b"X509 CERTIFICATE")
    assert load_certificates(data, LABEL, base64_der=False) == [pki["root"].cert]


def test_der_from_a_file_is_read(pki):
    assert load_certificates(der(pki["root"]), LABEL, base64_der=False) == [pki["root"].cert]


@pytest.mark.parametrize("wrap", [False, True], ids=["one line", "wrapped"])
def test_base64_der_content_is_read(pki, wrap):
    text = base64.b64encode(der(pki["root"]))
    if wrap:
        text = b"\n".join(text[i:i + 64] for i in range(0, len(text), 64)) + b"\n"
    assert load_certificates(text, "certificates[0].content", base64_der=True) == [pki["root"].cert]


@pytest.mark.parametrize("encoding", [Encoding.DER, Encoding.PEM], ids=["der", "pem"])
def test_a_pkcs7_bundle_yields_its_certificates(pki, encoding):
    bundle = pkcs7.serialize_certificates([pki["root"].cert, pki["issuing"].cert], encoding)
    certificates = load_certificates(bundle, LABEL, base64_der=False)
    assert sorted(c.subject.rfc4514_string() for c in certificates) == sorted(
        [pki["root"].cert.subject.rfc4514_string(), pki["issuing"].cert.subject.rfc4514_string()])


def private_key_pem(issued, key_format=PrivateFormat.PKCS8, encryption=None) -> bytes:
    return issued.key.private_bytes(Encoding.PEM, key_format, encryption or NoEncryption())


def assert_refused_as_a_key(data: bytes, key: bytes, line: int, kind: str, *, base64_der: bool = False) -> None:
    with pytest.raises(TaskInputError) as failure:
        load_certificates(data, LABEL, base64_der=base64_der)
    assert str(failure.value) == (f"{LABEL}: line {line} begins a private key ({kind}); CA certificates are installed without "
                                  "keys, so give the certificates alone and keep the key out of the task's files")
    for body_line in key.decode().splitlines()[1:-1]:
        assert body_line not in str(failure.value)


@pytest.mark.parametrize("key_format, encryption, kind", [
    (PrivateFormat.PKCS8, None, "PRIVATE KEY"),
    (PrivateFormat.TraditionalOpenSSL, None, "RSA PRIVATE KEY"),
    (PrivateFormat.PKCS8, BestAvailableEncryption(b"Sup3r-Secret!"), "ENCRYPTED PRIVATE KEY"),
], ids=["pkcs8", "traditional", "encrypted"])
def test_a_pem_with_a_private_key_is_refused_without_quoting_it(pki, key_format, encryption, kind):
    key = private_key_pem(pki["root"], key_format, encryption)
    certificate = pem(pki["root"])
    assert_refused_as_a_key(certificate + key, key, certificate.count(b"\n") + 1, kind)


def test_a_private_key_is_reported_even_after_a_block_that_is_not_a_certificate(pki):
    key = private_key_pem(pki["root"])
    data = b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n" + key
    assert_refused_as_a_key(data, key, 4, "PRIVATE KEY")


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_private_key_with_the_wrong_end_line_is_refused_next_to_a_good_certificate(pki, where):
    # BEGIN PRIVATE KEY ... END RSA PRIVATE KEY forms no PEM block, so only the
    # certificate's block would be read if blocks alone were looked at.
    key = private_key_pem(pki["root"]).replace(b"-----END PRIVATE KEY-----", b"-----END RSA PRIVATE KEY-----")
    certificate = pem(pki["issuing"])
    data = key + certificate if where == "before" else certificate + key
    line = 1 if where == "before" else certificate.count(b"\n") + 1
    assert_refused_as_a_key(data, key, line, "PRIVATE KEY")


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_private_key_without_its_end_line_is_refused_next_to_a_good_certificate(pki, where):
    key = private_key_pem(pki["root"]).replace(b"-----END PRIVATE KEY-----\n", b"")
    certificate = pem(pki["issuing"])
    data = key + certificate if where == "before" else certificate + key
    line = 1 if where == "before" else certificate.count(b"\n") + 1
    assert_refused_as_a_key(data, key, line, "PRIVATE KEY")


def test_an_indented_private_key_in_base64_content_is_refused(pki):
    key = private_key_pem(pki["root"], PrivateFormat.TraditionalOpenSSL)
    data = b"".join(b"    " + line + b"\n" for line in key.splitlines())
    assert_refused_as_a_key(data, key, 1, "RSA PRIVATE KEY", base64_der=True)


@pytest.mark.parametrize("data, message", [
    (b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
     "PEM block 1 is a CERTIFICATE REQUEST, not a certificate"),
    (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "PEM block 1 is a PUBLIC KEY, not a certificate"),
    (b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
     "PEM block 1 (CERTIFICATE) is not a valid certificate"),
    (b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n", "has a PEM BEGIN line without its matching END line"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n", "has a PEM BEGIN line without its matching END line"),
    (b"\x30\x03\x02\x01\x01", "is not a certificate; give PEM, DER, or a PKCS#7 (.p7b) bundle of certificates"),
    (b"", "is not a certificate; give PEM, DER, or a PKCS#7 (.p7b) bundle of certificates"),
], ids=["csr", "public key", "bad certificate", "no end", "mismatched end", "other der", "empty"])
def test_anything_but_certificates_is_refused(data, message):
    with pytest.raises(TaskInputError) as failure:
        load_certificates(data, LABEL, base64_der=False)
    assert str(failure.value) == f"{LABEL}: {message}"


def test_content_that_is_neither_pem_nor_base64_is_refused():
    with pytest.raises(TaskInputError) as failure:
        load_certificates(b"Contoso Root CA, see the wiki", "certificates[2].content", base64_der=True)
    assert str(failure.value) == "certificates[2].content: is neither PEM text nor base64 of a DER certificate"


def test_an_empty_pkcs7_bundle_is_refused():
    # SignedData with no certificates and no signers.
    empty = base64.b64decode("MCMGCSqGSIb3DQEHAqAWMBQCAQExADALBgkqhkiG9w0BBwExAA==")
    with pytest.raises(TaskInputError, match=r"^certificates\[0\]\.src: is not a certificate; give PEM"):
        load_certificates(empty, LABEL, base64_der=False)
    armoured = b"-----BEGIN PKCS7-----\n" + base64.b64encode(empty) + b"\n-----END PKCS7-----\n"
    with pytest.raises(TaskInputError, match=r"^certificates\[0\]\.src: PEM block 1 \(PKCS7\) is not a valid certificate$"):
        load_certificates(armoured, LABEL, base64_der=False)


# --- roots, intermediates and stores ---------------------------------------------------------------------------------------------


def test_a_root_is_self_signed_and_an_intermediate_is_not(pki):
    assert is_self_signed(pki["root"].cert) is True
    assert is_self_signed(pki["issuing"].cert) is False


@pytest.mark.parametrize("name", ["cross", "cross_to_ec"], ids=["same key type", "other key type"])
def test_a_key_renewal_cross_certificate_is_not_a_root(pki, name):
    cross = pki[name].cert
    assert cross.subject == cross.issuer
    assert is_self_signed(cross) is False
    assert choose_store(cross, "auto", LABEL) == "CA"


def _self_issued(key_identifier_of=None, *, signer=None):
    """A certificate whose issuer is its subject, signed by signer (by default its own key), naming key_identifier_of's key
    as its authority key identifier (by default no authority key identifier)."""
    key = pki_fixtures.new_key("ec")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Contoso Renewed Root")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(3)
               .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if key_identifier_of is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key_identifier_of.public_key()),
                                        critical=False)
    return builder.sign(signer or key, hashes.SHA256()), key


def test_a_root_names_its_own_key_as_its_authority_key():
    cert, key = _self_issued()
    assert is_self_signed(cert) is True
    assert is_self_signed(_self_issued(key)[0]) is False, "an authority key identifier of another key"


def test_a_self_issued_certificate_that_names_its_own_key_but_is_signed_by_another_is_not_a_root():
    other = pki_fixtures.new_key("ec")
    cert, _key = _self_issued(signer=other)
    assert cert.subject == cert.issuer
    assert is_self_signed(cert) is False


def test_auto_puts_a_root_in_root_and_an_intermediate_in_ca(pki):
    assert choose_store(pki["root"].cert, "auto", LABEL) == "Root"
    assert choose_store(pki["issuing"].cert, "auto", LABEL) == "CA"


def test_auto_refuses_a_certificate_that_is_not_a_ca(pki):
    with pytest.raises(TaskInputError) as failure:
        choose_store(pki["leaf"].cert, "auto", LABEL)
    assert str(failure.value) == (f"{LABEL}: O=Contoso,CN=web.contoso.com (thumbprint {thumbprint_of(pki['leaf'])}) is not a CA "
                                  "certificate (it has no basic constraints extension that says CA); set store to CA or Root "
                                  "to install it there anyway")


def test_auto_refuses_a_certificate_without_basic_constraints_and_an_explicit_store_takes_it():
    legacy = without_extensions("Legacy Root")
    assert is_self_signed(legacy) is True
    with pytest.raises(TaskInputError, match="is not a CA certificate"):
        choose_store(legacy, "auto", LABEL)
    assert choose_store(legacy, "Root", LABEL) == "Root"


@pytest.mark.parametrize("store", ["CA", "Root"])
def test_an_explicit_store_is_kept_whatever_the_certificate(pki, store):
    assert choose_store(pki["root"].cert, store, LABEL) == store
    assert choose_store(pki["leaf"].cert, store, LABEL) == store


def test_collect_keeps_the_first_order_and_drops_repeats_for_the_same_store(pki):
    chosen = collect([
        ("certificates[0].src", [pki["issuing"].cert, pki["root"].cert], "auto"),
        ("certificates[1].content", [pki["root"].cert], "Root"),
        ("certificates[2].src", [pki["issuing"].cert], "auto"),
    ])
    assert [(c.thumbprint, c.store) for c in chosen] == [(thumbprint_of(pki["issuing"]), "CA"), (thumbprint_of(pki["root"]), "Root")]
    root = chosen[1]
    assert root.subject == root.issuer == "O=Contoso,CN=Contoso Test Root CA"
    assert root.der == der(pki["root"])
    assert root.not_after == pki["root"].cert.not_valid_after_utc


def test_collect_refuses_one_certificate_for_two_stores(pki):
    with pytest.raises(TaskInputError) as failure:
        collect([("certificates[0].src", [pki["root"].cert], "auto"), ("certificates[1].src", [pki["root"].cert], "CA")])
    assert str(failure.value) == (f"certificates[1].src: O=Contoso,CN=Contoso Test Root CA (thumbprint {thumbprint_of(pki['root'])}) "
                                  "goes to CA here but to Root in certificates[0].src; give each certificate one store")


def test_collect_names_the_entry_that_holds_a_leaf(pki):
    with pytest.raises(TaskInputError, match=r"^certificates\[1\]\.content: O=Contoso,CN=web\.contoso\.com"):
        collect([("certificates[0].src", [pki["root"].cert], "auto"), ("certificates[1].content", [pki["leaf"].cert], "auto")])


# --- validity -------------------------------------------------------------------------------------------------------------------


def test_expired_and_future_ca_certificates_are_warned_about_and_valid_ones_are_not():
    valid = pki_fixtures.issue("Valid CA", ca=True, not_before=NOW - datetime.timedelta(days=10), not_after=NOW + datetime.timedelta(days=10))
    expired = pki_fixtures.issue("Old CA", ca=True, not_before=NOW - datetime.timedelta(days=10), not_after=NOW - datetime.timedelta(days=1))
    future = pki_fixtures.issue("Next CA", ca=True, not_before=NOW + datetime.timedelta(days=1), not_after=NOW + datetime.timedelta(days=10))
    last_second = pki_fixtures.issue("Edge CA", ca=True, not_before=NOW - datetime.timedelta(days=10), not_after=NOW)
    chosen = collect([(LABEL, [valid.cert, expired.cert, future.cert, last_second.cert], "auto")])
    warnings = validity_warnings(chosen, now=NOW)
    assert len(warnings) == 2
    assert warnings[0].startswith(f"the CA certificate O=Contoso,CN=Old CA (thumbprint {thumbprint_of(expired)}) expired on ")
    assert warnings[0].endswith("; chains through it will not validate")
    assert warnings[1].startswith(f"the CA certificate O=Contoso,CN=Next CA (thumbprint {thumbprint_of(future)}) is not valid before ")
