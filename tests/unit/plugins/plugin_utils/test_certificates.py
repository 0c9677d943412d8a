"""Certificates on the controller: thumbprints, serial numbers as Windows shows them, PFX parsing and the requirements checks."""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, NoEncryption, PrivateFormat, pkcs12

import pki_fixtures
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._certificates import (
    explain_import_failure,
    Pfx,
    check_requirements,
    load_pfx,
    normalise_thumbprint,
    serial_number,
    thumbprint,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import TaskInputError
from winsim.certificates import serial_as_windows_shows_it

PASSWORD = "Pfx-Pa55word!"
THUMBPRINT = "9F2C1A7E5B3D4C6A8E0F1B2D3C4E5F60718293A4"
LRM = "\u200e"  # the left-to-right mark the certificates console copies in front of a thumbprint
WRONG_PASSWORD_MESSAGE = "password: does not open the PFX given in src: the password is wrong, or the file is damaged"
MISSING_PASSWORD_MESSAGE = ("password: is missing, and the PFX given in src does not open without a password; give its "
                            "password")
NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
# Signing with one EC key is fast enough to make hundreds of certificates.
EC_KEY = pki_fixtures.new_key("ec")


@pytest.fixture(scope="module", name="pki")
def fixture_pki() -> dict:
    """A root CA, an issuing CA under it and an RSA leaf under that, made once for this module."""
    root, issuing = pki_fixtures.chain()
    leaf = pki_fixtures.issue("gateway-encryption.contoso.com", issuer=issuing)
    return {"root": root, "issuing": issuing, "leaf": leaf}


def der_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


# --- a small DER toolkit, independent of the code under test, to build encodings cryptography will not -----------


def _length_octets(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length_octets(len(content)) + content


def _children(content: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) of each element inside a constructed element's content."""
    found, offset = [], 0
    while offset < len(content):
        tag, first = content[offset], content[offset + 1]
        if first < 0x80:
            length, start = first, offset + 2
        else:
            octets = first & 0x7F
            length, start = int.from_bytes(content[offset + 2:offset + 2 + octets], "big"), offset + 2 + octets
        found.append((tag, content[start:start + length]))
        offset = start + length
    return found


def rebuild(cert: x509.Certificate, key, *, version_1: bool = False, serial_content: bytes | None = None) -> bytes:
    """The certificate re-encoded and re-signed: as a v1 certificate (no version, no extensions), or with other serial bytes."""
    (_tag_tbs, tbs), (_tag_alg, algorithm), _signature = _children(_children(der_of(cert))[0][1])
    fields = _children(tbs)
    if version_1:
        fields = [(tag, content) for tag, content in fields if tag not in (0xA0, 0xA3)]
    if serial_content is not None:
        fields = [(tag, serial_content if tag == 0x02 else content) for tag, content in fields]
    new_tbs = _tlv(0x30, b"".join(_tlv(tag, content) for tag, content in fields))
    signature = key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    return _tlv(0x30, new_tbs + _tlv(0x30, algorithm) + _tlv(0x03, b"\x00" + signature))


def with_serial(serial: int) -> x509.Certificate:
    return pki_fixtures.issue("serial.contoso.com", key=EC_KEY, serial=serial).cert


# --- normalise_thumbprint --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [
    THUMBPRINT,
    THUMBPRINT.lower(),
    " ".join(THUMBPRINT[i:i + 2] for i in range(0, 40, 2)).lower(),
    LRM + " ".join(THUMBPRINT[i:i + 2] for i in range(0, 40, 2)),
    LRM + THUMBPRINT.lower(),
    ":".join(THUMBPRINT[i:i + 2] for i in range(0, 40, 2)),
    f"  {THUMBPRINT}\n",
    "\t" + THUMBPRINT[:20] + "\u00a0" + THUMBPRINT[20:],
    "\u200f" + THUMBPRINT,
], ids=["as is", "lowercase", "spaces lowercase", "console copy", "mark lowercase", "colons", "padded", "tab and nbsp", "rtl mark"])
def test_normalise_thumbprint_gives_forty_uppercase_hex_digits(given):
    assert normalise_thumbprint(given) == THUMBPRINT


@pytest.mark.parametrize("given", [
    THUMBPRINT[:-1],
    THUMBPRINT + "A",
    THUMBPRINT[:-1] + "G",
    "",
    "not a thumbprint",
    THUMBPRINT.replace("9F", "9-F", 1),
], ids=["39 digits", "41 digits", "non hex", "empty", "words", "dash"])
def test_normalise_thumbprint_rejects_anything_else_naming_the_option(given):
    with pytest.raises(TaskInputError) as caught:
        normalise_thumbprint(given, "certificate_thumbprint")
    assert str(caught.value).startswith(f"certificate_thumbprint: {given!r} is not a certificate thumbprint")


def test_normalise_thumbprint_names_the_thumbprint_option_by_default():
    with pytest.raises(TaskInputError, match=r"^thumbprint: 'XYZ' is not a certificate thumbprint"):
        normalise_thumbprint("XYZ")


def test_normalise_thumbprint_rejects_none():
    with pytest.raises(TaskInputError, match=r"^thumbprint: None "):
        normalise_thumbprint(None)


def test_thumbprint_is_the_uppercase_sha1_of_the_der(pki):
    cert = pki["leaf"].cert
    assert thumbprint(der_of(cert)) == cert.fingerprint(hashes.SHA1()).hex().upper()
    assert len(thumbprint(der_of(cert))) == 40


# --- serial_number -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("serial, shown", [
    (0x80AB, "0080AB"),
    (0x7FAB, "7FAB"),
    (1, "01"),
    (0x7F, "7F"),
    (0x80, "0080"),
    (0xFF, "00FF"),
    (0x100, "0100"),
    ((1 << 159) - 1, "7F" + "FF" * 19),
    (1 << 158, "40" + "00" * 19),
    (0x00E3A1B2C3D4E5F60718293A4B5C6D7E8F, "00E3A1B2C3D4E5F60718293A4B5C6D7E8F"),
], ids=["high bit keeps 00", "high bit clear", "one", "7F", "80", "FF", "0100", "20 bytes max", "20 bytes", "docs sample"])
def test_serial_number_is_the_integers_content_bytes(serial, shown):
    assert serial_number(der_of(with_serial(serial))) == shown


def test_a_twenty_byte_serial_has_forty_hex_digits():
    shown = serial_number(der_of(with_serial((1 << 159) - 1)))
    assert len(shown) == 40


def test_a_twenty_byte_serial_with_the_high_bit_set_keeps_its_leading_zero():
    """Twenty bytes of magnitude with the top bit set encode in 21 content bytes; cryptography will not build it, so it is re-encoded."""
    content = b"\x00\x80" + bytes(range(1, 20))
    cert = x509.load_der_x509_certificate(rebuild(with_serial(5), EC_KEY, serial_content=content))
    assert serial_number(der_of(cert)) == content.hex().upper()
    assert serial_number(der_of(cert)) == serial_as_windows_shows_it(cert)
    assert len(serial_number(der_of(cert))) == 42


@pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive")
@pytest.mark.parametrize("content", [b"\xff\x7f", b"\x80", b"\xff"], ids=["FF7F", "80", "FF"])
def test_a_negative_serial_stays_in_twos_complement(content):
    cert = x509.load_der_x509_certificate(rebuild(with_serial(5), EC_KEY, serial_content=content))
    assert serial_number(der_of(cert)) == content.hex().upper()
    assert serial_number(der_of(cert)) == serial_as_windows_shows_it(cert)


def test_serial_number_agrees_with_windows_for_many_random_serials():
    rng = random.Random(20260601)
    serials = [rng.getrandbits(bits) | (1 << (bits - 1)) for bits in (rng.randint(1, 159) for _index in range(300))]
    serials += [1 << bits for bits in range(0, 159, 7)] + [(1 << bits) - 1 for bits in range(1, 160, 8)]
    for serial in serials:
        cert = with_serial(serial)
        assert serial_number(der_of(cert)) == serial_as_windows_shows_it(cert), hex(serial)


def test_serial_number_of_a_version_1_certificate_without_an_explicit_version():
    original = with_serial(0x80AB)
    der = rebuild(original, EC_KEY, version_1=True)
    cert = x509.load_der_x509_certificate(der)
    assert cert.version == x509.Version.v1
    # A genuine certificate, not just bytes that happen to parse.
    EC_KEY.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    assert serial_number(der) == "0080AB"
    assert serial_number(der) == serial_as_windows_shows_it(cert)


def test_serial_number_of_the_version_1_certificate_in_cryptographys_vectors():
    vectors = pytest.importorskip("cryptography_vectors")
    path = pathlib.Path(vectors.__file__).parent / "x509" / "v1_cert.pem"
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    assert cert.version == x509.Version.v1
    assert serial_number(der_of(cert)) == serial_as_windows_shows_it(cert)


def test_serial_number_of_something_that_is_not_a_certificate_raises():
    with pytest.raises(ValueError):
        serial_number(_tlv(0x30, _tlv(0x30, _tlv(0x04, b"abc"))))


# --- load_pfx ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True], ids=["AES-256", "3DES legacy"])
def test_load_pfx_opens_modern_and_legacy_encryption(pki, legacy):
    leaf = pki["leaf"]
    pfx = load_pfx(pki_fixtures.pfx(leaf, PASSWORD, legacy=legacy), PASSWORD)
    assert pfx.thumbprint == thumbprint(der_of(leaf.cert))
    assert pfx.serial_number == serial_as_windows_shows_it(leaf.cert)
    assert pfx.subject == "O=Contoso,CN=gateway-encryption.contoso.com"
    assert pfx.issuer == "O=Contoso,CN=Contoso Test Issuing CA"
    assert pfx.key_algorithm == "RSA"
    assert pfx.key_size == 2048
    assert pfx.key_usage == ("digital_signature", "key_encipherment")
    assert pfx.extended_key_usage == ()
    assert pfx.not_before == leaf.cert.not_valid_before_utc
    assert pfx.not_after == leaf.cert.not_valid_after_utc
    assert pfx.certificate_der == der_of(leaf.cert)
    assert pfx.chain == ()


def test_load_pfx_opens_a_pfx_without_a_password():
    leaf = pki_fixtures.issue("nopassword.contoso.com", key=EC_KEY)
    data = pkcs12.serialize_key_and_certificates(b"test", leaf.key, leaf.cert, None, NoEncryption())
    assert load_pfx(data, "").thumbprint == thumbprint(der_of(leaf.cert))


def test_load_pfx_takes_a_non_ascii_password():
    leaf = pki_fixtures.issue("unicode.contoso.com", key=EC_KEY)
    password = "P\u00e4ssw\u00f6rd-\u20ac"
    assert load_pfx(pki_fixtures.pfx(leaf, password), password).thumbprint == thumbprint(der_of(leaf.cert))


def test_load_pfx_describes_an_ec_key():
    leaf = pki_fixtures.issue("ec.contoso.com", key=pki_fixtures.new_key("ec"))
    pfx = load_pfx(pki_fixtures.pfx(leaf, PASSWORD, legacy=True), PASSWORD)
    assert pfx.key_algorithm == "EC (secp256r1)"
    assert pfx.key_size == 256


def test_load_pfx_lists_the_chain_with_ca_for_an_intermediate_and_root_for_a_self_signed(pki):
    pfx = load_pfx(pki_fixtures.pfx(pki["leaf"], PASSWORD, extra=(pki["issuing"], pki["root"])), PASSWORD)
    assert pfx.chain == (
        {"thumbprint": thumbprint(der_of(pki["issuing"].cert)), "subject": "O=Contoso,CN=Contoso Test Issuing CA", "store": "CA",
         "der": der_of(pki["issuing"].cert)},
        {"thumbprint": thumbprint(der_of(pki["root"].cert)), "subject": "O=Contoso,CN=Contoso Test Root CA", "store": "Root",
         "der": der_of(pki["root"].cert)},
    )


def test_load_pfx_sends_a_key_renewal_cross_certificate_to_ca_not_root(pki):
    # Subject and issuer are the root's name, but the old root key signed the new one: a link between two keys, not a root.
    cross = pki_fixtures.issue("Contoso Test Root CA", issuer=pki["root"], key=pki_fixtures.new_key(), ca=True)
    assert cross.cert.subject == cross.cert.issuer
    pfx = load_pfx(pki_fixtures.pfx(pki["leaf"], PASSWORD, extra=(pki["issuing"], cross, pki["root"])), PASSWORD)
    assert [(entry["subject"], entry["store"]) for entry in pfx.chain] == [
        ("O=Contoso,CN=Contoso Test Issuing CA", "CA"), ("O=Contoso,CN=Contoso Test Root CA", "CA"),
        ("O=Contoso,CN=Contoso Test Root CA", "Root")]


def test_load_pfx_reads_extended_key_usage():
    key = EC_KEY
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "eku.contoso.com")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    data = pkcs12.serialize_key_and_certificates(b"eku", key, cert, None, BestAvailableEncryption(PASSWORD.encode()))
    pfx = load_pfx(data, PASSWORD)
    assert pfx.extended_key_usage == ("1.3.6.1.5.5.7.3.1",)
    assert pfx.key_usage == ()


@pytest.mark.parametrize("legacy", [False, True], ids=["AES-256", "3DES legacy"])
def test_load_pfx_with_a_wrong_password_fails_clearly(pki, legacy):
    data = pki_fixtures.pfx(pki["leaf"], PASSWORD, legacy=legacy)
    for wrong in ("wrong", PASSWORD.lower()):
        with pytest.raises(TaskInputError) as caught:
            load_pfx(data, wrong, "src")
        assert str(caught.value) == WRONG_PASSWORD_MESSAGE
    # No password at all is not a wrong one: the message says it is missing.
    with pytest.raises(TaskInputError) as caught:
        load_pfx(data, "", "src")
    assert str(caught.value) == MISSING_PASSWORD_MESSAGE


@pytest.mark.parametrize("data", [b"", b"not a pfx at all", bytes(range(256)) * 4, b"\x30\x82\x01\x00" + b"\x00" * 256],
                         ids=["empty", "text", "random bytes", "truncated sequence"])
def test_load_pfx_of_garbage_fails_clearly(data):
    with pytest.raises(TaskInputError) as caught:
        load_pfx(data, PASSWORD, "content")
    assert str(caught.value).startswith("content: is not a valid PKCS#12 (PFX) archive")


def test_load_pfx_of_a_truncated_pfx_fails_clearly(pki):
    data = pki_fixtures.pfx(pki["leaf"], PASSWORD)
    with pytest.raises(TaskInputError) as caught:
        load_pfx(data[:len(data) // 2], PASSWORD, "src")
    assert str(caught.value) == f"src: is cut short: it holds {len(data) // 2} bytes of a PFX of {len(data)}"


def test_load_pfx_without_a_certificate_fails_clearly():
    data = pkcs12.serialize_key_and_certificates(b"key only", EC_KEY, None, None, BestAvailableEncryption(PASSWORD.encode()))
    with pytest.raises(TaskInputError) as caught:
        load_pfx(data, PASSWORD, "src")
    assert str(caught.value) == "src: holds no certificate with a private key"


def test_load_pfx_without_the_private_key_fails(pki):
    with pytest.raises(TaskInputError, match=r"^content: holds "):
        load_pfx(pki_fixtures.pfx(pki["leaf"], PASSWORD, with_key=False), PASSWORD, "content")


def test_load_pfx_without_the_private_key_says_to_export_it_again_with_the_key(pki):
    with pytest.raises(TaskInputError) as caught:
        load_pfx(pki_fixtures.pfx(pki["leaf"], PASSWORD, with_key=False), PASSWORD, "src")
    assert str(caught.value) == "src: holds a certificate but not its private key; export the PFX again with the private key"


def test_the_pfx_object_carries_no_private_key_material(pki):
    leaf = pki["leaf"]
    pfx = load_pfx(pki_fixtures.pfx(leaf, PASSWORD, extra=(pki["issuing"],)), PASSWORD)
    assert [field.name for field in dataclasses.fields(Pfx)] == [
        "thumbprint", "serial_number", "subject", "issuer", "not_before", "not_after", "key_algorithm", "key_size",
        "key_usage", "extended_key_usage", "chain", "uses_pbes2", "certificate_der",
    ]
    values = [getattr(pfx, field.name) for field in dataclasses.fields(Pfx)]
    allowed = (str, int, bool, bytes, tuple, datetime.datetime, type(None))
    assert all(isinstance(value, allowed) for value in values)
    assert all(isinstance(entry, dict) and set(entry) == {"thumbprint", "subject", "store", "der"} for entry in pfx.chain)
    key_der = leaf.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    private_number = leaf.key.private_numbers().d.to_bytes(256, "big").lstrip(b"\x00")
    for der in [pfx.certificate_der, *(entry["der"] for entry in pfx.chain)]:
        assert key_der not in der
        assert private_number not in der
    assert private_number.hex() not in repr(pfx).lower()
    assert "certificate_der" not in repr(pfx)
    assert pfx.certificate_der == der_of(leaf.cert)


def test_the_summary_is_what_the_module_returns(pki):
    pfx = load_pfx(pki_fixtures.pfx(pki["leaf"], PASSWORD), PASSWORD)
    summary = pfx.summary()
    assert summary == {
        "thumbprint": pfx.thumbprint, "serial_number": pfx.serial_number, "subject": pfx.subject, "issuer": pfx.issuer,
        "not_before": pfx.not_before.isoformat(), "not_after": pfx.not_after.isoformat(), "key_algorithm": "RSA",
        "key_size": 2048, "key_usage": ["digital_signature", "key_encipherment"],
    }


def test_the_pfx_object_is_immutable(pki):
    pfx = load_pfx(pki_fixtures.pfx(pki["leaf"], PASSWORD), PASSWORD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pfx.thumbprint = THUMBPRINT  # type: ignore[misc]


# --- check_requirements ------------------------------------------------------------------------------------------------------


def make_pfx(**overrides) -> Pfx:
    """A Pfx valid from a week before NOW for a year, RSA, for key encipherment."""
    fields = {
        "thumbprint": THUMBPRINT, "serial_number": "0080AB", "subject": "CN=gateway", "issuer": "CN=Issuing CA",
        "not_before": NOW - datetime.timedelta(days=7), "not_after": NOW + datetime.timedelta(days=365),
        "key_algorithm": "RSA", "key_size": 2048, "key_usage": ("digital_signature", "key_encipherment"),
        "extended_key_usage": (), "chain": (),
    }
    fields.update(overrides)
    return Pfx(**fields)


def check(pfx: Pfx, **options) -> list[str]:
    settings = {"require_rsa": False, "require_encipherment": False, "allow_expired": False, "expiry_warning_days": 30, "now": NOW}
    settings.update(options)
    return check_requirements(pfx, **settings)


def test_a_good_certificate_passes_every_requirement_without_warnings():
    assert check(make_pfx(), require_rsa=True, require_encipherment=True) == []


def test_require_rsa_refuses_an_ec_key():
    with pytest.raises(TaskInputError) as caught:
        check(make_pfx(key_algorithm="EC (secp256r1)", key_size=256), require_rsa=True)
    assert str(caught.value) == f"require_rsa: the certificate {THUMBPRINT} has a EC (secp256r1) key, not RSA"


def test_an_ec_key_passes_when_rsa_is_not_required():
    assert check(make_pfx(key_algorithm="EC (secp256r1)", key_size=256)) == []


@pytest.mark.parametrize("usage", [("key_encipherment",), ("data_encipherment",), ("digital_signature", "data_encipherment")])
def test_require_encipherment_accepts_key_or_data_encipherment(usage):
    assert check(make_pfx(key_usage=usage), require_encipherment=True) == []


def test_require_encipherment_refuses_a_signature_only_certificate():
    with pytest.raises(TaskInputError) as caught:
        check(make_pfx(key_usage=("digital_signature", "content_commitment")), require_encipherment=True)
    assert str(caught.value) == (f"require_encipherment: the certificate {THUMBPRINT} allows digital_signature, content_commitment; "
                                 "it needs key encipherment or data encipherment")


def test_require_encipherment_refuses_a_certificate_without_key_usage():
    with pytest.raises(TaskInputError, match="allows no key usage extension; it needs key encipherment"):
        check(make_pfx(key_usage=()), require_encipherment=True)


def test_a_signature_only_certificate_passes_when_encipherment_is_not_required():
    assert check(make_pfx(key_usage=("digital_signature",))) == []


def test_require_encipherment_on_a_real_signature_only_certificate():
    leaf = pki_fixtures.issue("signing.contoso.com", key=EC_KEY, key_usage={"key_encipherment": False})
    pfx = load_pfx(pki_fixtures.pfx(leaf, PASSWORD), PASSWORD)
    assert pfx.key_usage == ("digital_signature",)
    with pytest.raises(TaskInputError, match="^require_encipherment: "):
        check_requirements(pfx, require_rsa=False, require_encipherment=True, allow_expired=False, expiry_warning_days=30)


def test_an_expired_certificate_is_refused():
    expired = NOW - datetime.timedelta(days=1)
    with pytest.raises(TaskInputError) as caught:
        check(make_pfx(not_before=NOW - datetime.timedelta(days=400), not_after=expired))
    assert str(caught.value) == f"the certificate {THUMBPRINT} expired on {expired.isoformat()}; set allow_expired to import it anyway"


def test_an_expired_certificate_is_accepted_with_allow_expired_and_no_expiry_warning():
    pfx = make_pfx(not_before=NOW - datetime.timedelta(days=400), not_after=NOW - datetime.timedelta(days=1))
    assert check(pfx, allow_expired=True) == []


def test_a_certificate_expired_a_microsecond_ago_is_refused():
    with pytest.raises(TaskInputError, match="expired on"):
        check(make_pfx(not_after=NOW - datetime.timedelta(microseconds=1)))


def test_a_certificate_at_its_exact_not_after_is_still_valid():
    check(make_pfx(not_after=NOW))


def test_the_real_clock_is_used_without_now():
    pfx = make_pfx(not_before=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1),
                   not_after=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=365))
    assert check_requirements(pfx, require_rsa=True, require_encipherment=True, allow_expired=False, expiry_warning_days=30) == []


def test_a_certificate_not_yet_valid_warns():
    starts = NOW + datetime.timedelta(days=2)
    assert check(make_pfx(not_before=starts)) == [f"the certificate {THUMBPRINT} is not valid before {starts.isoformat()}"]


def test_a_certificate_valid_from_exactly_now_does_not_warn():
    assert check(make_pfx(not_before=NOW)) == []


def test_a_certificate_expiring_within_the_warning_days_warns():
    ends = NOW + datetime.timedelta(days=10, hours=5)
    assert check(make_pfx(not_after=ends)) == [f"the certificate {THUMBPRINT} expires in 10 days, on {ends.isoformat()}"]


def test_the_expiry_warning_boundary_is_inclusive():
    exactly = NOW + datetime.timedelta(days=30)
    assert check(make_pfx(not_after=exactly)) == [f"the certificate {THUMBPRINT} expires in 30 days, on {exactly.isoformat()}"]
    assert check(make_pfx(not_after=exactly + datetime.timedelta(microseconds=1))) == []
    assert check(make_pfx(not_after=exactly), expiry_warning_days=29) == []


def test_an_expiry_warning_of_zero_days_never_warns():
    assert check(make_pfx(not_after=NOW + datetime.timedelta(seconds=1)), expiry_warning_days=0) == []


def test_not_yet_valid_and_expiring_soon_give_both_warnings():
    warnings = check(make_pfx(not_before=NOW + datetime.timedelta(days=1), not_after=NOW + datetime.timedelta(days=5)))
    assert len(warnings) == 2
    assert "is not valid before" in warnings[0]
    assert "expires in 5 days" in warnings[1]


def test_rsa_is_checked_before_encipherment_and_expiry():
    pfx = make_pfx(key_algorithm="DSA", key_usage=(), not_after=NOW - datetime.timedelta(days=1))
    with pytest.raises(TaskInputError, match="^require_rsa: "):
        check(pfx, require_rsa=True, require_encipherment=True)


def test_the_chain_lists_each_ca_once_and_never_the_leaf(pki):
    data = pki_fixtures.pfx(pki["leaf"], PASSWORD, extra=(pki["issuing"], pki["issuing"], pki["leaf"], pki["root"]))
    chain = load_pfx(data, PASSWORD).chain
    assert [entry["store"] for entry in chain] == ["CA", "Root"]


def test_an_aes_pfx_is_recognised_and_a_legacy_one_is_not(pki):
    assert load_pfx(pki_fixtures.pfx(pki["leaf"], PASSWORD), PASSWORD).uses_pbes2 is True
    assert load_pfx(pki_fixtures.pfx(pki["leaf"], PASSWORD, legacy=True), PASSWORD).uses_pbes2 is False


def test_a_wrong_password_from_an_old_host_on_an_aes_pfx_is_explained(pki):
    aes = load_pfx(pki_fixtures.pfx(pki["leaf"], PASSWORD), PASSWORD)
    legacy = load_pfx(pki_fixtures.pfx(pki["leaf"], PASSWORD, legacy=True), PASSWORD)
    message = "The specified network password is not correct."
    assert "Windows Server 2016 and older cannot import" in explain_import_failure(aes, message)
    assert explain_import_failure(legacy, message) == message
    assert explain_import_failure(aes, "Access is denied.") == "Access is denied."
