"""Certificates and PFX files made at test time, so that no key material is ever committed."""

from __future__ import annotations

import dataclasses
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, PrivateFormat, pkcs12
from cryptography.hazmat.primitives.serialization.pkcs12 import PBES
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.timezone.utc)
_RSA_BITS = 2048


@dataclasses.dataclass
class Issued:
    cert: x509.Certificate
    key: object


def thumbprint(issued: Issued) -> str:
    """The certificate's SHA-1 thumbprint as X509Certificate2.Thumbprint spells it: 40 uppercase hex digits."""
    return issued.cert.fingerprint(hashes.SHA1()).hex().upper()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Contoso")])


def new_key(kind: str = "rsa"):
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)


def issue(common_name: str, *, issuer: Issued | None = None, key=None, ca: bool = False, serial: int | None = None,
          key_usage: dict | None = None, not_before: datetime.datetime | None = None,
          not_after: datetime.datetime | None = None) -> Issued:
    """A certificate signed by issuer, or self-signed; by default a key-encipherment end-entity certificate valid for a year."""
    key = key or new_key()
    usage = dict(digital_signature=True, content_commitment=False, key_encipherment=not ca, data_encipherment=False,
                 key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False)
    usage.update(key_usage or {})
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.cert.subject if issuer else _name(common_name))
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
        .not_valid_after(not_after or NOW + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**usage), critical=True)
    )
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def chain() -> tuple[Issued, Issued]:
    """A root CA and an issuing CA under it."""
    root = issue("Contoso Test Root CA", ca=True)
    return root, issue("Contoso Test Issuing CA", issuer=root, ca=True)


def pfx(leaf: Issued, password: str, *, extra: tuple[Issued, ...] = (), legacy: bool = False, with_key: bool = True) -> bytes:
    """A PFX as Windows or OpenSSL 3 would write it (AES-256), or as `openssl pkcs12 -export -legacy` does (3DES/RC2)."""
    if legacy:
        encryption = (PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
                      .key_cert_algorithm(PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1()).build(password.encode()))
    else:
        encryption = BestAvailableEncryption(password.encode())
    return pkcs12.serialize_key_and_certificates(
        b"test", leaf.key if with_key else None, leaf.cert, [i.cert for i in extra] or None, encryption)
