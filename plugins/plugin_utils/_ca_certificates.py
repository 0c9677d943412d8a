# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkiops.keyfactor_command.ca_certificates: its definition, and CA certificates on the controller, read from PEM, DER
or PKCS#7, checked, and each given the store it belongs in; free of Ansible."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import re

from ansible_collections.pkiops.keyfactor_command.plugins.module_utils._ca_certificates_spec import ARGUMENT_SPEC, CA_STORES, SPEC_RULES
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._certificates import (
    is_self_signed,
    read_controller_file,
    thumbprint,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    Definition,
    PayloadError,
    Plan,
    PlanError,
    TaskInputError,
    UnexpectedProbeResult,
)

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
except ImportError:  # pragma: no cover - reported when a task needs it
    x509 = None

# A line that starts PEM armour; text before it, such as OpenSSL's subject= lines, is allowed.
_PEM_BEGIN = re.compile(rb"^[ \t]*-----BEGIN ", re.MULTILINE)
# Any line that begins a private key (PRIVATE KEY, RSA PRIVATE KEY, ENCRYPTED PRIVATE KEY, ...), armoured well or
# not: a key whose END line is wrong or missing forms no PEM block, so looking at blocks alone would let it through.
_PRIVATE_KEY_BEGIN = re.compile(rb"-----BEGIN ([^-\r\n]*PRIVATE KEY)")
# One armoured block; the END line must name what the BEGIN line named.
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_PEM_CERTIFICATE_LABELS = (b"CERTIFICATE", b"X509 CERTIFICATE")
# certutil and OpenSSL write "PKCS7"; RFC 7468 names it "CMS".
_PEM_PKCS7_LABELS = (b"PKCS7", b"CMS")


@dataclasses.dataclass(frozen=True)
class CaCertificate:
    """One certificate to install or remove, and the store it goes to."""

    thumbprint: str
    subject: str
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    store: str
    der: bytes = dataclasses.field(repr=False)

    def describe(self) -> str:
        return f"{self.subject} (thumbprint {self.thumbprint})"


def _refuse_private_keys(data: bytes, label: str) -> None:
    """Names the line and the kind of key, never any of the key itself."""
    found = _PRIVATE_KEY_BEGIN.search(data)
    if found:
        line = data.count(b"\n", 0, found.start()) + 1
        kind = found.group(1).strip().decode("ascii", "replace")
        raise TaskInputError(f"{label}: line {line} begins a private key ({kind}); CA certificates are installed without "
                             "keys, so give the certificates alone and keep the key out of the task's files")


def _load_pem(data: bytes, label: str) -> list:
    blocks = list(_PEM_BLOCK.finditer(data))
    if not blocks:
        raise TaskInputError(f"{label}: has a PEM BEGIN line without its matching END line")
    certificates = []
    for number, block in enumerate(blocks, 1):
        kind = block.group(1)
        try:
            if kind in _PEM_CERTIFICATE_LABELS:
                certificates.append(x509.load_pem_x509_certificate(block.group(0)))
            elif kind in _PEM_PKCS7_LABELS:
                certificates.extend(pkcs7.load_pem_pkcs7_certificates(block.group(0)))
            else:
                raise TaskInputError(f"{label}: PEM block {number} is a {kind.decode()}, not a certificate")
        except (ValueError, UnsupportedAlgorithm, x509.InvalidVersion):
            raise TaskInputError(f"{label}: PEM block {number} ({kind.decode()}) is not a valid certificate") from None
    return certificates


def _load_der(data: bytes, label: str) -> list:
    try:
        return [x509.load_der_x509_certificate(data)]
    except (ValueError, x509.InvalidVersion):
        pass
    try:
        return pkcs7.load_der_pkcs7_certificates(data)
    except (ValueError, UnsupportedAlgorithm):
        # UnsupportedAlgorithm: PKCS#7 of another kind than signed data, such as an encrypted message.
        raise TaskInputError(f"{label}: is not a certificate; give PEM, DER, or a PKCS#7 (.p7b) bundle of certificates") from None


def load_certificates(data: bytes, label: str, *, base64_der: bool) -> list:
    """Every certificate in data: PEM (any number of blocks), DER, or PKCS#7; base64_der when DER arrives as base64 text."""
    if x509 is None:
        raise TaskInputError("the Python package 'cryptography' is needed on the controller to read certificate files; "
                             "install it in the environment that runs ansible-playbook (pip install cryptography)")
    # Before anything else looks at the data, so that a key is reported as a
    # key wherever it sits and however it is armoured.
    _refuse_private_keys(data, label)
    if _PEM_BEGIN.search(data):
        certificates = _load_pem(data, label)
    else:
        if base64_der:
            try:
                data = base64.b64decode(b"".join(data.split()), validate=True)
            except (binascii.Error, ValueError):
                raise TaskInputError(f"{label}: is neither PEM text nor base64 of a DER certificate") from None
        certificates = _load_der(data, label)
    for number, cert in enumerate(certificates, 1):
        _check_readable(cert, f"{label}: certificate {number}")
    return certificates


def _check_readable(cert, where: str) -> None:
    """cryptography parses names and extensions only when asked; ask now, so that a malformed one fails here with its entry."""
    try:
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        len(cert.extensions)
    except (ValueError, UnsupportedAlgorithm, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as error:
        raise TaskInputError(f"{where} is not a well-formed X.509 certificate: {error}") from None


def is_ca(cert) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def choose_store(cert, store: str, label: str) -> str:
    """The store for store=auto: Root for a self-signed CA (_certificates.is_self_signed), CA for any other; an explicit store is kept."""
    if store != "auto":
        return store
    if not is_ca(cert):
        raise TaskInputError(f"{label}: {cert.subject.rfc4514_string()} (thumbprint {thumbprint(cert.public_bytes(Encoding.DER))}) "
                             "is not a CA certificate (it has no basic constraints extension that says CA); set store to "
                             "CA or Root to install it there anyway")
    return "Root" if is_self_signed(cert) else "CA"


def collect(sources: list[tuple[str, list, str]]) -> list[CaCertificate]:
    """One CaCertificate per thumbprint, in the order first given, from (label, certificates, store option) per entry.

    The same certificate given twice for the same store is one certificate;
    given for two stores, it is a mistake the task cannot guess the intent of.
    """
    chosen: dict[str, tuple[CaCertificate, str]] = {}
    for label, certificates, store_option in sources:
        for cert in certificates:
            der = cert.public_bytes(Encoding.DER)
            cert_thumbprint = thumbprint(der)
            store = choose_store(cert, store_option, label)
            if cert_thumbprint in chosen:
                earlier, earlier_label = chosen[cert_thumbprint]
                if earlier.store != store:
                    raise TaskInputError(f"{label}: {earlier.describe()} goes to {store} here but to {earlier.store} in "
                                         f"{earlier_label}; give each certificate one store")
                continue
            chosen[cert_thumbprint] = (CaCertificate(
                thumbprint=cert_thumbprint,
                subject=cert.subject.rfc4514_string(),
                issuer=cert.issuer.rfc4514_string(),
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                store=store,
                der=der,
            ), label)
    return [certificate for certificate, _label in chosen.values()]


def validity_warnings(certificates: list[CaCertificate], now: datetime.datetime | None = None) -> list[str]:
    """Installing an expired or not yet valid CA certificate is allowed, but rarely what was meant."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    warnings = []
    for certificate in certificates:
        # Windows (CertVerifyTimeValidity) and RFC 5280 count notAfter itself as valid.
        if certificate.not_after < now:
            warnings.append(f"the CA certificate {certificate.describe()} expired on {certificate.not_after.isoformat()}; "
                            "chains through it will not validate")
        elif certificate.not_before > now:
            warnings.append(f"the CA certificate {certificate.describe()} is not valid before "
                            f"{certificate.not_before.isoformat()}")
    return warnings


def _describe(operation: dict) -> str:
    verb, preposition = ("add", "to") if operation["action"] == "add" else ("remove", "from")
    return f"{verb} {operation['thumbprint']} {preposition} {operation['store']}"


class CaCertificates(Definition):
    """Install CA certificates from the controller into the LocalMachine CA and Root stores, or remove them."""

    name = "ca_certificates"
    argument_spec = ARGUMENT_SPEC
    spec_rules = SPEC_RULES
    areas = ("certificates",)

    def check_params(self, params, context):
        """Every certificate read and checked; params gain them, each with its store (wanted)."""
        sources = []
        for index, entry in enumerate(params["certificates"]):
            if entry.get("src") is not None:
                label = f"certificates[{index}].src"
                certificates = load_certificates(read_controller_file(entry["src"], label, context.find_file),
                                                 label, base64_der=False)
            else:
                label = f"certificates[{index}].content"
                certificates = load_certificates(entry["content"].encode("utf-8"), label, base64_der=True)
            sources.append((label, certificates, entry["store"]))
        return dict(params, wanted=collect(sources))

    def probe_parameters(self, params):
        return {"Certificates": [{"thumbprint": c.thumbprint, "store": c.store} for c in params["wanted"]]}

    def known_current(self, probe_parameters):
        # A probe about no certificates has a known answer; asking the host
        # would cost a round trip and tell nothing.
        if not probe_parameters["Certificates"]:
            return {"certificates": []}
        return None

    def plan(self, params, current, context):
        report = current.get("certificates")
        if not isinstance(report, list) or not all(isinstance(entry, dict) for entry in report):
            raise UnexpectedProbeResult("no 'certificates' list")
        reported = {(entry.get("thumbprint"), entry.get("store")): entry for entry in report}
        installing = params["state"] == "present"

        operations, entries, warnings, held_elsewhere, provided_too = [], [], [], [], []
        before: dict[str, list] = {store: [] for store in CA_STORES}
        after: dict[str, list] = {store: [] for store in CA_STORES}
        for certificate in params["wanted"]:
            entry = reported.get((certificate.thumbprint, certificate.store)) or {}
            found, in_default_store = entry.get("present"), entry.get("in_default_store")
            elsewhere = entry.get("other_physical_stores")
            if not isinstance(found, bool) or not isinstance(in_default_store, bool) or not isinstance(elsewhere, list):
                raise UnexpectedProbeResult(f"no presence report for {certificate.thumbprint} in {certificate.store}")
            if found and not in_default_store:
                # Visible in the logical store only through another physical
                # store (Group Policy, enterprise trust, automatic root update,
                # smart card), which Windows fills and empties by itself.
                held_elsewhere.append(certificate)
            elif in_default_store and elsewhere:
                # The store's own copy, and another that such a source provides.
                provided_too.append((certificate, elsewhere))
            if installing and not found:
                operations.append({"action": "add", "thumbprint": certificate.thumbprint, "store": certificate.store,
                                   "der": base64.b64encode(certificate.der).decode("ascii")})
            elif not installing and in_default_store:
                # Removed from the store's .Default physical store only, the
                # computer's own copy.
                operations.append({"action": "remove", "thumbprint": certificate.thumbprint, "store": certificate.store})
            if found:
                before[certificate.store].append(certificate.thumbprint)
            if installing:
                after[certificate.store].append(certificate.thumbprint)
            entries.append({"thumbprint": certificate.thumbprint, "subject": certificate.subject, "store": certificate.store,
                            "not_after": certificate.not_after.isoformat(),
                            "changed": any(op["thumbprint"] == certificate.thumbprint for op in operations)})

        if (held_elsewhere or provided_too) and not installing:
            # Refused for all, before any change: removing the others and not
            # these would leave the task half done for a reason known now.
            # Only the store's own copy is ever removed; the others would stay
            # trusted whatever this task did.
            reasons = []
            if held_elsewhere:
                names = "; ".join(f"{c.describe()} in LocalMachine\\{c.store}" for c in held_elsewhere)
                it, it_is = ("it", "it is") if len(held_elsewhere) == 1 else ("them", "they are")
                reasons.append(f"{names}: {it_is} not installed in the store itself but trusted through Group Policy, "
                               f"enterprise trust or automatic root update, so removing {it} would not last, as that source "
                               f"puts {it} back")
            if provided_too:
                names = "; ".join(f"{c.describe()} in LocalMachine\\{c.store} (also in {', '.join(stores)})"
                                  for c, stores in provided_too)
                it = "it" if len(provided_too) == 1 else "them"
                reasons.append(f"{names}: besides the store's own copy, Group Policy, enterprise trust or automatic root "
                               f"update provides {it}, and removing the store's copy would leave {it} trusted")
            raise PlanError(f"cannot remove {'; and '.join(reasons)}; to distrust a certificate, add it to the Disallowed "
                            "store or change the policy that provides it")
        for certificate in held_elsewhere:
            warnings.append(f"the CA certificate {certificate.describe()} is trusted in LocalMachine\\{certificate.store} "
                            "through Group Policy, enterprise trust or automatic root update, not installed in the store "
                            "directly; it is treated as present, and may disappear when that source no longer provides it")
        if installing:
            warnings.extend(validity_warnings(params["wanted"]))

        changed = [op["thumbprint"] for op in operations]
        return Plan(
            operations=operations,
            before={store: sorted(thumbprints) for store, thumbprints in before.items()},
            after={store: sorted(thumbprints) for store, thumbprints in after.items()},
            warnings=warnings,
            result={"certificates": entries, "installed": changed if installing else [],
                    "removed": [] if installing else changed},
        )

    def check_applied(self, params, plan, applied_result):
        applied = applied_result.get("applied")
        if not isinstance(applied, list) or not all(isinstance(op, dict) for op in applied):
            # Whether anything changed is unknown, so it is not denied.
            raise PayloadError("apply returned an unexpected result: no 'applied' list", "apply", changed=True)
        sent = [{key: op[key] for key in ("action", "thumbprint", "store")} for op in plan.operations]
        done = [{key: op.get(key) for key in ("action", "thumbprint", "store")} for op in applied]
        if done != sent:
            # The payload skips an operation when ShouldProcess declines it;
            # reporting success then would claim a change that did not happen.
            missing = [_describe(op) for op in sent if op not in done]
            unexpected = [_describe(op) for op in done if op not in sent]
            detail = []
            if missing:
                detail.append(f"not done: {', '.join(missing)}")
            if unexpected:
                detail.append(f"done but not planned: {', '.join(unexpected)}")
            raise PayloadError("apply did not perform the planned operations (" + "; ".join(detail or ["in another order"]) + ")",
                               "apply", changed=bool(done), partial={"applied": applied})
        # A removal that found no copy left in the store's own store (it went between the probe and the apply) is done
        # but changed nothing; the payload says how many copies each removal deleted.
        stale = {(op["thumbprint"], op["store"]) for op in applied if op.get("action") == "remove" and op.get("removed") == 0}
        if not stale:
            return None
        for thumbprint, store in sorted(stale):
            plan.warnings.append(f"the CA certificate {thumbprint} was no longer in LocalMachine\\{store} when the change ran; "
                                 "nothing was removed")
        entries = [dict(entry, changed=entry["changed"] and (entry["thumbprint"], entry["store"]) not in stale)
                   for entry in plan.result["certificates"]]
        removed = [op["thumbprint"] for op in plan.operations
                   if op["action"] == "remove" and (op["thumbprint"], op["store"]) not in stale]
        return {"certificates": entries, "removed": removed,
                "changed": any(op["action"] == "add" for op in plan.operations) or bool(removed)}


DEFINITION = CaCertificates()
