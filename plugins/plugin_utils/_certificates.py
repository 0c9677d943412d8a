# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates on the controller: PFX parsing and validation, thumbprints and serial numbers as Windows shows them."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import hashlib
import re

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import ControllerFileError, TaskInputError

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
except ImportError:  # pragma: no cover - reported when a task needs it
    x509 = None

# \Z: $ would also match before a final newline.
_THUMBPRINT = re.compile(r"^[0-9A-F]{40}\Z")
# The DER encoding of the PBES2 object identifier (1.2.840.113549.1.5.13): AES
# with PBKDF2, which OpenSSL 3 and recent Windows write by default.
_PBES2_OID = bytes.fromhex("06092a864886f70d01050d")
# A SecureString holds at most 65,536 characters, and win_powershell turns each
# sensitive parameter into one.
MAX_SECURE_STRING = 65536
# The first build of Windows that imports a PFX encrypted with AES (PBES2):
# Windows Server 2019. Windows Server 2016 (14393) and older refuse one with
# "The specified network password is not correct.".
FIRST_BUILD_WITH_PBES2 = 17763


def require_cryptography() -> None:
    if x509 is None:
        raise TaskInputError("the Python package 'cryptography' is needed on the controller to read PFX files; install it "
                             "in the environment that runs ansible-playbook (pip install cryptography)")


def normalise_thumbprint(value: str, option: str = "thumbprint") -> str:
    """A thumbprint as Windows stores it: 40 uppercase hex digits.

    Certificate dialogs copy it with spaces and, often, an invisible left-to-right mark in front.
    """
    cleaned = re.sub(r"[\s\u200e\u200f:]", "", value or "").upper()
    if not _THUMBPRINT.match(cleaned):
        raise TaskInputError(f"{option}: {value!r} is not a certificate thumbprint (40 hexadecimal digits, the SHA-1 of the certificate)")
    return cleaned


def thumbprint(der: bytes) -> str:
    """X509Certificate2.Thumbprint: the SHA-1 of the DER certificate, uppercase hex."""
    return hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - SHA-1 is what Windows names certificates by


def _der_length(data: bytes, offset: int) -> tuple[int, int]:
    """The length of the DER element whose length octets start at offset, and where its content starts."""
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    octets = first & 0x7F
    return int.from_bytes(data[offset + 1:offset + 1 + octets], "big"), offset + 1 + octets


def _der_enter(data: bytes, offset: int, tag: int) -> int:
    """The offset of the content of the element at offset, which must have the given tag."""
    if data[offset] != tag:
        raise ValueError(f"expected DER tag 0x{tag:02X} at offset {offset}, found 0x{data[offset]:02X}")
    return _der_length(data, offset + 1)[1]


def serial_number(der: bytes) -> str:
    """X509Certificate2.SerialNumber: the serial's DER integer content bytes, big-endian, uppercase hex.

    Read from the encoding itself rather than from the integer value, because .NET
    shows the bytes as they are: a leading zero byte stays, a negative serial stays
    in two's complement.
    """
    tbs = _der_enter(der, _der_enter(der, 0, 0x30), 0x30)
    if der[tbs] == 0xA0:  # explicit [0] version
        length, content = _der_length(der, tbs + 1)
        tbs = content + length
    if der[tbs] != 0x02:
        raise ValueError("the certificate has no serialNumber INTEGER where RFC 5280 puts it")
    length, content = _der_length(der, tbs + 1)
    return binascii.hexlify(der[content:content + length]).decode().upper()


def _name(name) -> str:
    return name.rfc4514_string()


@dataclasses.dataclass(frozen=True)
class Pfx:
    """What the controller learns from a PFX before anything touches a host. Holds no key material."""

    thumbprint: str
    serial_number: str
    subject: str
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    key_algorithm: str
    key_size: int | None
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[str, ...]
    chain: tuple[dict, ...]  # {thumbprint, subject, store: CA or Root, der: the certificate's bytes}
    uses_pbes2: bool = False
    certificate_der: bytes = dataclasses.field(repr=False, default=b"")

    def summary(self) -> dict:
        return {
            "thumbprint": self.thumbprint,
            "serial_number": self.serial_number,
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key_algorithm": self.key_algorithm,
            "key_size": self.key_size,
            "key_usage": list(self.key_usage),
        }


def _key_description(key) -> tuple[str, int | None]:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"EC ({key.curve.name})", key.curve.key_size
    if isinstance(key, dsa.DSAPrivateKey):
        return "DSA", key.key_size
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return type(key).__name__.replace("PrivateKey", ""), None
    return type(key).__name__, None


def _key_usage(cert) -> tuple[str, ...]:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return ()
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign")
    found = [name for name in names if getattr(usage, name)]
    if usage.key_agreement:
        found += [name for name in ("encipher_only", "decipher_only") if getattr(usage, name)]
    return tuple(found)


def _extended_key_usage(cert) -> tuple[str, ...]:
    try:
        return tuple(oid.dotted_string for oid in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return ()


def _key_identifier(cert, extension):
    try:
        return cert.extensions.get_extension_for_class(extension).value
    except x509.ExtensionNotFound:
        return None


def is_self_signed(cert) -> bool:
    """Issued by itself and signed with its own key: a root, which belongs in Root rather than CA.

    A name alone does not make a root. A CA's key renewal makes cross
    certificates whose subject and issuer are the same name but whose
    signature is by the CA's other key (Microsoft's CA(0-1) certificates);
    they link two keys. So the issuer must equal the subject, the certificate's
    own public key must verify its signature, and when it names its issuer's
    key (authority key identifier), that must be its own (subject key
    identifier). A signature this controller cannot check is not taken on
    trust: such a certificate goes to CA, where it grants no trust by itself.
    """
    if cert.subject != cert.issuer:
        return False
    authority = _key_identifier(cert, x509.AuthorityKeyIdentifier)
    subject = _key_identifier(cert, x509.SubjectKeyIdentifier)
    if authority is not None and authority.key_identifier is not None and subject is not None \
            and authority.key_identifier != subject.digest:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        # ValueError: a signature by another kind of key than the certificate's own. TypeError and
        # UnsupportedAlgorithm: a key or signature algorithm this controller cannot check.
        return False
    return True


def pfx_shape_problem(data: bytes) -> str | None:
    """What keeps data from being a PKCS#12 PFX, judged by its outer structure alone; None when it looks like one.

    PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (a SEQUENCE that starts with its type's OID), ... }.
    cryptography says "invalid password or PKCS12 data" for both; this tells the two apart, so that the message
    can name the option at fault.
    """
    try:
        length, start = _der_length(data, 1) if data[0] == 0x30 else (0, 0)
        if not start or data[start:start + 3] != b"\x02\x01\x03" or data[_der_enter(data, start + 3, 0x30)] != 0x06:
            return "is not a valid PKCS#12 (PFX) archive; give the certificate exported with its private key as .pfx or .p12"
    except (IndexError, ValueError):
        return "is not a valid PKCS#12 (PFX) archive; give the certificate exported with its private key as .pfx or .p12"
    if data[1] != 0x80 and start + length > len(data):  # 0x80: an indefinite (BER) length, which has no size to check
        return f"is cut short: it holds {len(data)} bytes of a PFX of {start + length}"
    return None


def read_pfx(src: str | None, content: str | None, find_file, prefix: str = "") -> bytes:
    """The PFX's bytes, from base64 content or from the file src names, which find_file locates as a task's files.

    prefix names where the options sit (``requirements[2].``) in the messages, which name the option.
    """
    content_option, src_option = (f"{prefix}pfx_content", f"{prefix}pfx_src") if prefix else ("content", "src")
    if content is not None:
        # base64 tools and YAML block scalars wrap lines; the host's decoder ignores the line breaks too.
        text = "".join(content.split())
        if not text:
            raise TaskInputError(f"{content_option}: is empty; give the PFX file's bytes encoded as base64, or {src_option}")
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise TaskInputError(f"{content_option}: is not base64; give the PFX file's bytes encoded as base64") from None
    if not src:
        raise TaskInputError(f"{src_option}: is empty; give the path of the PFX file, or {content_option}")
    return read_controller_file(src, src_option, find_file)


def read_controller_file(src: str, option: str, find_file) -> bytes:
    """The bytes of the file src names, which find_file (Context.find_file) locates as a task's files; errors name the
    option."""
    try:
        path = find_file(src)
    except ControllerFileError as error:
        raise TaskInputError(f"{option}: {error}") from None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise TaskInputError(f"{option}: cannot read {path}: {error.strerror}") from None


def load_pfx(data: bytes, password: str, source: str = "the file", password_option: str = "password") -> Pfx:
    """Parse a PFX with its password; fail with a clear message for a wrong password, a corrupt file or no private key.

    source is the option the bytes came from (src or content), and password_option the one the password came from,
    which the messages name.
    """
    require_cryptography()
    problem = pfx_shape_problem(data)
    if problem:
        raise TaskInputError(f"{source}: {problem}")
    try:
        key, cert, additional = pkcs12.load_key_and_certificates(data, password.encode("utf-8") if password else None)
    except ValueError:
        if not password:
            raise TaskInputError(f"{password_option}: is missing, and the PFX given in {source} does not open without a "
                                 "password; give its password") from None
        raise TaskInputError(f"{password_option}: does not open the PFX given in {source}: the password is wrong, or the file is "
                             "damaged") from None
    except Exception as error:  # pylint: disable=broad-exception-caught
        # Unusual archives raise other exceptions from cryptography's parser; the
        # message names the kind of problem only, never any content.
        raise TaskInputError(f"{source}: could not be read as a PFX ({type(error).__name__}); it may use an encryption this "
                             "controller's cryptography library does not support") from None
    if key is None and cert is None and additional:
        raise TaskInputError(f"{source}: holds a certificate but not its private key; export the PFX again with the private key")
    if cert is None:
        raise TaskInputError(f"{source}: holds no certificate with a private key")
    if key is None:
        raise TaskInputError(f"{source}: holds a certificate but not its private key; export the PFX again with the private key")
    der = cert.public_bytes(Encoding.DER)
    algorithm, size = _key_description(key)
    leaf_thumbprint = thumbprint(der)
    chain_by_thumbprint: dict[str, dict] = {}
    for extra in additional:
        extra_thumbprint = thumbprint(extra.public_bytes(Encoding.DER))
        # Some exporters repeat a CA certificate, or the leaf itself, among the extra certificates.
        if extra_thumbprint != leaf_thumbprint:
            chain_by_thumbprint.setdefault(extra_thumbprint, {
                "thumbprint": extra_thumbprint,
                "subject": _name(extra.subject),
                "store": "Root" if is_self_signed(extra) else "CA",
                "der": extra.public_bytes(Encoding.DER),
            })
    chain = tuple(chain_by_thumbprint.values())
    return Pfx(
        thumbprint=leaf_thumbprint,
        serial_number=serial_number(der),
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_algorithm=algorithm,
        key_size=size,
        key_usage=_key_usage(cert),
        extended_key_usage=_extended_key_usage(cert),
        uses_pbes2=_PBES2_OID in data,
        chain=chain,
        certificate_der=der,
    )


def cannot_import_on(pfx: Pfx, build: int) -> str | None:
    """Why a host of this Windows build cannot import the PFX, or None when it can."""
    if pfx.uses_pbes2 and build < FIRST_BUILD_WITH_PBES2:
        return (f"the PFX is encrypted with AES (PBES2), as OpenSSL 3 and Windows Server 2019 and later export by default, "
                f"and this host runs Windows build {build}: Windows Server 2016 (build 14393) and older cannot decrypt it and "
                "refuse it with \"The specified network password is not correct.\". Export it again with TripleDES-SHA1 "
                "(openssl pkcs12 -export -legacy, or TripleDES-SHA1 in the Certificate Export Wizard) for this host")
    return None


def explain_import_failure(pfx: Pfx, message: str) -> str:
    """Windows Server 2016 and older cannot decrypt an AES (PBES2) PFX, and say the password is wrong."""
    if pfx.uses_pbes2 and "password is not correct" in message:
        return (f"{message} The password was checked on the controller, so the cause is more likely that this PFX is "
                "encrypted with AES (PBES2), which Windows Server 2016 and older cannot import; export it again with "
                "TripleDES-SHA1 (openssl pkcs12 -export -legacy) for these hosts.")
    return message


def check_requirements(pfx: Pfx, *, require_rsa: bool, require_encipherment: bool, allow_expired: bool,
                       expiry_warning_days: int, now: datetime.datetime | None = None) -> list[str]:
    """Fail for what the certificate must have; return warnings for what it should."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if require_rsa and pfx.key_algorithm != "RSA":
        raise TaskInputError(f"require_rsa: the certificate {pfx.thumbprint} has a {pfx.key_algorithm} key, not RSA")
    # A certificate without a key usage extension is refused too: the gateway's
    # documentation asks for the usage to be there, not merely unrestricted.
    if require_encipherment and not {"key_encipherment", "data_encipherment"} & set(pfx.key_usage):
        shown = ", ".join(pfx.key_usage) or "no key usage extension"
        raise TaskInputError(f"require_encipherment: the certificate {pfx.thumbprint} allows {shown}; it needs key "
                             "encipherment or data encipherment")
    # Windows (CertVerifyTimeValidity) and RFC 5280 count notAfter itself as valid.
    if pfx.not_after < now and not allow_expired:
        raise TaskInputError(f"the certificate {pfx.thumbprint} expired on {pfx.not_after.isoformat()}; set allow_expired "
                             "to import it anyway")
    warnings = []
    if pfx.not_before > now:
        warnings.append(f"the certificate {pfx.thumbprint} is not valid before {pfx.not_before.isoformat()}")
    remaining = pfx.not_after - now
    if datetime.timedelta(0) < remaining <= datetime.timedelta(days=expiry_warning_days):
        warnings.append(f"the certificate {pfx.thumbprint} expires in {remaining.days} days, on {pfx.not_after.isoformat()}")
    return warnings
