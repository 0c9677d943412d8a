"""Model of the shared fragment _ca_store.ps1: CA certificates sent as DER bytes, and the CA and Root stores."""

from __future__ import annotations

import base64
import binascii
import re
import struct

from cryptography import x509

from ..certificates import certificate_entry
from ..errors import HostError

# Assert-CaStoreEntry's pattern; \Z is .NET's \z, and $ in both would also match before a final newline.
_THUMBPRINT = re.compile(r"^[0-9A-F]{40}\Z")
CA_STORES = ("CA", "Root")
# The whitespace Convert.FromBase64String skips wherever it appears.
_BASE64_WHITESPACE = re.compile(r"[ \t\r\n]")

_OID_PKCS7_DATA = bytes.fromhex("2a864886f70d010701")  # 1.2.840.113549.1.7.1
_OID_PKCS7_SIGNED_DATA = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2
_OID_SPC_INDIRECT_DATA = bytes.fromhex("2b0601040182370204")  # 1.3.6.1.4.1.311.2.1.4, Authenticode's content
_CERT_CERT_PROP_ID = 32  # the element of a serialized certificate that holds the certificate itself
_STORE_FILE_MAGIC = struct.pack("<II", 0, 0x54524543)  # CERT_STORE_FILE_HEADER: version 0, "CERT"


def check_entry(entry, label: str) -> None:
    """Assert-CaStoreEntry: what the controller always sends, held to exactly."""
    thumbprint, store_name = entry.get("thumbprint"), entry.get("store")
    if not isinstance(thumbprint, str) or not _THUMBPRINT.match(thumbprint):
        raise HostError(f"Invalid {label}: thumbprint must be 40 uppercase hexadecimal digits.")
    if store_name not in CA_STORES:
        raise HostError(f"Invalid {label}: store must be 'CA' (intermediate certification authorities) or 'Root' "
                        "(trusted root certification authorities).")


def _der_element(data: bytes, offset: int = 0) -> tuple[int, bytes, int] | None:
    """One DER element at offset: (tag, contents, offset after it), or None when the bytes are not one."""
    if offset + 2 > len(data):
        return None
    tag, length, offset = data[offset], data[offset + 1], offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            return None
        length, offset = int.from_bytes(data[offset:offset + count], "big"), offset + count
    if offset + length > len(data):
        return None
    return tag, data[offset:offset + length], offset + length


def _der_children(contents: bytes) -> list[tuple[int, bytes]]:
    children, offset = [], 0
    while offset < len(contents):
        element = _der_element(contents, offset)
        if element is None:
            return []
        children.append(element[:2])
        offset = element[2]
    return children


def _pkcs7_type(content_info: bytes) -> str | None:
    """Pkcs7 or Authenticode for a PKCS #7 ContentInfo's contents, as CryptQueryObject tells them apart."""
    children = _der_children(content_info)
    if not children or children[0][0] != 0x06:
        return None
    if children[0][1] == _OID_PKCS7_DATA:
        return "Pkcs7"
    if children[0][1] != _OID_PKCS7_SIGNED_DATA:
        return None
    # SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo, ... }
    signed = _der_children(children[1][1]) if len(children) > 1 and children[1][0] == 0xA0 else []
    signed_data = _der_children(signed[0][1]) if signed and signed[0][0] == 0x30 else []
    encapsulated = _der_children(signed_data[2][1]) if len(signed_data) > 2 and signed_data[2][0] == 0x30 else []
    if encapsulated and encapsulated[0] == (0x06, _OID_SPC_INDIRECT_DATA):
        return "Authenticode"
    return "Pkcs7"


def _serialized_certificate(data: bytes) -> bool:
    """CertSerializeCertificateStoreElement's format: property elements, one of them the certificate."""
    offset, has_certificate = 0, False
    while offset + 12 <= len(data):
        prop_id, _encoding, length = struct.unpack_from("<III", data, offset)
        offset += 12
        if offset + length > len(data):
            return False
        if prop_id == _CERT_CERT_PROP_ID:
            try:
                x509.load_der_x509_certificate(data[offset:offset + length])
            except ValueError:
                return False
            has_certificate = True
        offset += length
    return has_certificate and offset == len(data)


def content_type(data: bytes) -> str:
    """The name X509Certificate2.GetCertContentType gives binary data, as the payload spells it (Pkcs12 for Pfx).

    Not modelled: the base64 and ASCII hex forms that CryptQueryObject also recognises.
    """
    whole = _der_element(data)
    if whole is not None and whole[0] == 0x30 and whole[2] == len(data):
        try:
            x509.load_der_x509_certificate(data)
            return "Cert"
        except ValueError:
            pass
        kind = _pkcs7_type(whole[1])
        if kind:
            return kind
        # PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, macData OPTIONAL }
        children = _der_children(whole[1])
        if len(children) >= 2 and children[0] == (0x02, b"\x03") and children[1][0] == 0x30 and _pkcs7_type(children[1][1]):
            return "Pkcs12"
    if data.startswith(_STORE_FILE_MAGIC):
        return "SerializedStore"
    if _serialized_certificate(data):
        return "SerializedCert"
    return "Unknown"


def ca_certificate(encoded, thumbprint: str, label: str) -> dict:
    """ConvertTo-CaCertificate: only a lone DER certificate, and only the one the controller named; its store entry."""
    if not isinstance(encoded, str) or not encoded:
        raise HostError(f"Invalid {label}: der must hold the certificate's DER bytes as base64.")
    try:
        der = base64.b64decode(_BASE64_WHITESPACE.sub("", encoded), validate=True)
    except (binascii.Error, ValueError):
        raise HostError(f"Invalid {label}: der is not valid base64.") from None
    kind = content_type(der)
    if kind != "Cert":
        raise HostError(f"Invalid {label}: der is not a single certificate (Windows identifies it as '{kind}').")
    actual, entry = certificate_entry(x509.load_der_x509_certificate(der))
    if actual != thumbprint:
        raise HostError(f"Invalid {label}: der holds the certificate {actual}, not {thumbprint}.")
    return entry
