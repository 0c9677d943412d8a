"""Properties of the controller's validators, checked by Hypothesis rather than by examples.

Each validator is held to a stated rule, written here independently of its code: what it accepts obeys the
rule and comes back normalised (and normalising again changes nothing); what it refuses breaks the rule, and the
message says which option and why. The properties about invalid input record how many invalid examples they
tried in the reliability ledger. Runs are derandomized, so CI tries the same examples every time.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import string
import types

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _cluster_generic_service_role, _user_rights
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._certificates import normalise_thumbprint, serial_number
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._principals import principal_problem
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._registry_paths import HIVE_ROOTS, local_machine_subkey
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import TaskInputError
from reliability import record
from winsim.certificates import serial_as_windows_shows_it


def _settings(examples: int):
    # derandomize: the same examples on every run; no database, so nothing is written to the tree.
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


class Tried:
    """Counts the invalid examples a property tried, and records them in the ledger once it has run."""

    def __init__(self, validator: str):
        self.validator = validator
        self.count = 0

    def __call__(self) -> None:
        self.count += 1

    def record(self) -> None:
        assert self.count > 0, f"{self.validator}: no invalid example was tried"
        record("bad_input", count=self.count, validator=self.validator)


def rejection(function, *args, **kwargs) -> str:
    with pytest.raises(TaskInputError) as caught:
        function(*args, **kwargs)
    return str(caught.value)


# --- right names (_user_rights) ------------------------------------------------------------------------------------------

RIGHTS = _user_rights.ALL_RIGHTS
KNOWN = {right.lower() for right in RIGHTS}


@st.composite
def any_case(draw, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips))


@st.composite
def right_in_any_case(draw) -> tuple[str, str]:
    right = draw(st.sampled_from(RIGHTS))
    return right, draw(any_case(right))


@st.composite
def not_a_right(draw) -> str:
    """A near miss of a real right (a letter dropped, doubled, changed, a suffix) or any text at all."""
    right = draw(st.sampled_from(RIGHTS))
    index = draw(st.integers(0, len(right) - 1))
    letter = draw(st.sampled_from(string.ascii_letters + " _-"))
    name = draw(st.one_of(
        st.just(right[:index] + right[index + 1:]),
        st.just(right[:index] + letter + right[index:]),
        st.just(right[:index] + letter + right[index + 1:]),
        st.just(right + draw(st.sampled_from(["s", "Right", "Privilege", " ", "\u200e"]))),
        st.text(max_size=40),
    ))
    assume(name.lower() not in KNOWN)
    return name


@_settings(200)
@given(right_in_any_case())
def test_every_documented_right_in_any_case_comes_back_in_its_documented_spelling(case):
    right, typed = case
    assert _user_rights.canonical_right(typed) == right
    assert _user_rights.canonical_right(_user_rights.canonical_right(typed)) == right


def test_every_name_that_is_not_a_right_is_refused_naming_rights_and_offering_only_real_rights():
    tried = Tried("_user_rights.canonical_right")

    @_settings(200)
    @given(not_a_right())
    def refused(name):
        tried()
        message = rejection(_user_rights.canonical_right, name)
        assert message.startswith(f"rights: {name!r} is not a Windows logon right or privilege constant.")
        hint = re.search(r"Did you mean ([^?]+)\?", message)
        if hint:
            assert set(hint.group(1).split(", ")) <= set(RIGHTS)

    refused()
    tried.record()


@_settings(200)
@given(st.dictionaries(st.sampled_from(RIGHTS), st.lists(st.sampled_from(
    ["NETWORK SERVICE", " BUILTIN\\Administrators ", "S-1-5-20", "svc@contoso.com", ".\\kfadmin"]), max_size=4), max_size=6))
def test_normalised_rights_are_canonical_stripped_and_each_account_is_resolved_once(rights):
    normalised = _user_rights.normalise_rights(rights)
    assert list(normalised) == list(rights)
    assert all(a == a.strip() for accounts in normalised.values() for a in accounts)
    assert _user_rights.normalise_rights(normalised) == normalised
    accounts = _user_rights.accounts_to_resolve(normalised)
    assert len(accounts) == len(set(accounts))
    assert set(accounts) == {a for listed in normalised.values() for a in listed}


def test_a_right_listed_twice_in_two_spellings_is_refused():
    tried = Tried("_user_rights.normalise_rights")

    @_settings(100)
    @given(right_in_any_case(), st.data())
    def refused(case, data):
        right, typed = case
        other = data.draw(any_case(right))
        assume(other != typed)
        tried()
        message = rejection(_user_rights.normalise_rights, {typed: ["NETWORK SERVICE"], other: ["S-1-5-20"]})
        assert message == f"rights: {right} is listed more than once (names are not case-sensitive)"

    refused()
    tried.record()


# --- NetBIOS names of cluster roles (_cluster_generic_service_role.check_role_name) ------------------------------------

NETBIOS_ALLOWED = set(string.ascii_letters + string.digits + "-")
# What users type: the allowed alphabet, every character the rule names, spaces, control and non-ASCII characters.
NAME_ALPHABET = st.sampled_from(
    sorted(NETBIOS_ALLOWED) + list('\\/:*?"<>|,~!@#$%^&\'.(){}_ ') + ["\t", "\x00", "\u00e9", "\u0416", "\u200e", "\uff21"])


def broken_netbios_rules(name: str) -> list[str]:
    """The rules a role name breaks, each as the words the message must use; stated here, not taken from the code."""
    name = name.strip()
    broken = []
    if not name:
        broken.append("it is empty")
    if len(name) > 15:
        broken.append(f"it has {len(name)} characters")
    broken += [repr(c) for c in sorted(set(name) - NETBIOS_ALLOWED)]
    if name and name.isdigit():
        broken.append("it is all digits")
    if name.startswith("-") or name.endswith("-"):
        broken.append("it starts or ends with a hyphen")
    return broken


@_settings(200)
@given(st.from_regex(r"\A[A-Za-z0-9-]{1,15}\Z", fullmatch=True))
def test_every_name_of_1_to_15_letters_digits_and_inner_hyphens_is_accepted_unchanged(name):
    assume(not name.isdigit() and not name.startswith("-") and not name.endswith("-"))
    assert _cluster_generic_service_role.check_role_name(name) == name
    assert _cluster_generic_service_role.check_role_name(f"  {name} ") == name


@_settings(200)
@given(st.text(NAME_ALPHABET, max_size=20))
def test_every_accepted_name_is_1_to_15_characters_of_the_allowed_alphabet(name):
    try:
        accepted = _cluster_generic_service_role.check_role_name(name)
    except TaskInputError:
        return
    assert 1 <= len(accepted) <= 15
    assert set(accepted) <= NETBIOS_ALLOWED
    assert not accepted.isdigit() and accepted[0] != "-" and accepted[-1] != "-"
    assert _cluster_generic_service_role.check_role_name(accepted) == accepted


def test_every_rejected_name_breaks_a_stated_rule_and_the_message_names_each_broken_rule():
    tried = Tried("_cluster_generic_service_role.check_role_name")

    @_settings(200)
    @given(st.one_of(st.text(NAME_ALPHABET, max_size=24), st.from_regex(r"\A[A-Za-z0-9-]{16,30}\Z", fullmatch=True),
                     st.from_regex(r"\A[0-9]{1,15}\Z", fullmatch=True), st.from_regex(r"\A-?[A-Za-z]{1,13}-?\Z", fullmatch=True)))
    def check(name):
        broken = broken_netbios_rules(name)
        if not broken:
            assert _cluster_generic_service_role.check_role_name(name) == name.strip()
            return
        tried()
        message = rejection(_cluster_generic_service_role.check_role_name, name)
        assert message.startswith(f"name: {name.strip()!r} cannot be a role's client access point name: ")
        for rule in broken:
            assert rule in message, f"{rule} is not in {message}"

    check()
    tried.record()


# --- IPv4 static addresses (_cluster_generic_service_role.check_params) -------------------------------------------

CLUSTER_PARAMS = {"name": "CloudGateway", "service": "CAGateway", "cluster": None, "static_addresses": [], "storage": [],
                  "registry_checkpoints": [], "registry_checkpoints_exclusive": False, "additional_services": [],
                  "owner_node": None, "online_timeout": 120, "state": "present"}
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
DOTTED_QUAD = re.compile(rf"\A{_OCTET}(\.{_OCTET}){{3}}\Z")
# Addresses a client access point cannot have: "this network" (RFC 1122), loopback, link-local, multicast and the reserved
# block with the limited broadcast.
UNUSABLE = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")]


def checked_addresses(*addresses: str) -> list[str]:
    return _cluster_generic_service_role.check_params(dict(CLUSTER_PARAMS, static_addresses=list(addresses)))["static_addresses"]


def usable(address: ipaddress.IPv4Address) -> bool:
    return not any(address in network for network in UNUSABLE)


@_settings(200)
@given(st.ip_addresses(v=4), st.sampled_from(["", " ", "\t"]))
def test_every_usable_ipv4_address_round_trips_and_every_unusable_one_is_refused(address, padding):
    text = f"{padding}{address}{padding}"
    if usable(address):
        assert checked_addresses(text) == [str(address)]
        assert checked_addresses(*checked_addresses(text)) == [str(address)]
    else:
        message = rejection(checked_addresses, text)
        assert message == f"static_addresses[0]: {address} cannot be a client access point's address"


@st.composite
def address_like(draw) -> str:
    """Dotted text near an IPv4 address: octets out of range or with leading zeros, too few or many, IPv6, words."""
    octets = draw(st.lists(st.one_of(st.integers(0, 255).map(str), st.integers(256, 99999).map(str),
                                     st.integers(0, 99).map(lambda n: f"0{n}"), st.sampled_from(["", "a", "x1", "-1", " 1", "١"])),
                           min_size=1, max_size=6))
    return draw(st.one_of(st.just(".".join(octets)), st.ip_addresses(v=6).map(str), st.text(max_size=20),
                          st.just(".".join(octets) + draw(st.sampled_from(["/24", ":80", ".", ""])))))


def test_every_text_that_is_not_a_dotted_quad_is_refused_naming_its_entry():
    tried = Tried("_cluster_generic_service_role static_addresses")

    @_settings(200)
    @given(st.lists(st.ip_addresses(v=4).filter(usable).map(str), max_size=3, unique=True), address_like())
    def check(good, text):
        if DOTTED_QUAD.match(text.strip()):
            return  # well formed: the property above covers it
        tried()
        message = rejection(checked_addresses, *good, text)
        assert message == f"static_addresses[{len(good)}]: {text!r} is not an IPv4 address such as 192.0.2.10"

    check()
    tried.record()


def test_an_address_listed_twice_in_two_spellings_is_refused():
    tried = Tried("_cluster_generic_service_role static_addresses duplicates")

    @_settings(100)
    @given(st.ip_addresses(v=4).filter(usable), st.sampled_from(["", " ", "\t"]))
    def check(address, padding):
        tried()
        message = rejection(checked_addresses, str(address), f"{padding}{address}{padding}")
        assert message == f"static_addresses: '{address}' is listed more than once"

    check()
    tried.record()


# --- thumbprints (_certificates.normalise_thumbprint) ------------------------------------------------------------------------

LRM, RLM = "\u200e", "\u200f"
SEPARATORS = st.sampled_from(["", " ", ":", "  ", "\t", "\n", "\u00a0", "\u3000"])


@st.composite
def thumbprint_as_copied(draw) -> tuple[str, str]:
    """A SHA-1 as Windows stores it, and as a user pastes it: any case, grouped by separators, bidi marks around."""
    digest = draw(st.binary(min_size=20, max_size=20)).hex()
    typed = draw(any_case(digest))
    group = draw(st.sampled_from([1, 2, 4, 8, 40]))
    separator = draw(SEPARATORS)
    chunks = [typed[i:i + group] for i in range(0, 40, group)]
    text = separator.join(chunks)
    text = draw(st.sampled_from(["", LRM, RLM, LRM + " ", " "])) + text + draw(st.sampled_from(["", "\n", " ", RLM]))
    return digest.upper(), text


def cleaned(value: str) -> str:
    """The stated rule: separators (any whitespace, colons) and the bidi marks are not part of a thumbprint."""
    return "".join(c for c in value if not c.isspace() and c not in (":", LRM, RLM))


@_settings(200)
@given(thumbprint_as_copied())
def test_every_thumbprint_as_copied_normalises_to_40_uppercase_hex_digits_and_again_to_itself(case):
    stored, typed = case
    normalised = normalise_thumbprint(typed)
    assert normalised == stored
    assert re.fullmatch(r"[0-9A-F]{40}", normalised)
    assert normalise_thumbprint(normalised) == normalised


def test_every_text_that_is_not_40_hex_digits_after_separators_is_refused():
    tried = Tried("_certificates.normalise_thumbprint")

    @_settings(200)
    @given(st.one_of(
        st.binary(min_size=0, max_size=40).filter(lambda b: len(b) != 20).map(bytes.hex),  # SHA-256, truncated, empty
        st.text(st.sampled_from("0123456789abcdefABCDEFgGxX-: " + LRM), max_size=50),
        thumbprint_as_copied().map(lambda c: c[1][:-1] if c[1][-1] not in (" ", "\n", RLM) else c[1] + "0"),
        st.text(max_size=45),
    ))
    def check(value):
        if re.fullmatch(r"[0-9A-Fa-f]{40}", cleaned(value)):
            assert normalise_thumbprint(value) == cleaned(value).upper()
            return
        tried()
        message = rejection(normalise_thumbprint, value, "thumbprint")
        assert message == (f"thumbprint: {value!r} is not a certificate thumbprint (40 hexadecimal digits, the SHA-1 of the "
                           "certificate)")

    check()
    tried.record()


# --- serial numbers (_certificates.serial_number) -------------------------------------------------------------------------

EC_KEY = ec.generate_private_key(ec.SECP256R1())
NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "serial")])
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def windows_serial(number: int) -> str:
    """The stated rule for a positive serial: uppercase big-endian hex, whole bytes, 00 in front when the high bit is set."""
    digits = format(number, "X")
    digits = "0" * (len(digits) % 2) + digits
    return "00" + digits if int(digits[:2], 16) & 0x80 else digits


def certificate(number: int) -> x509.Certificate:
    return (x509.CertificateBuilder().subject_name(NAME).issuer_name(NAME).public_key(EC_KEY.public_key())
            .serial_number(number).not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=1))
            .sign(EC_KEY, hashes.SHA256()))


# RFC 5280: positive, at most 20 octets (cryptography: at most 159 bits). Near the byte boundaries, where the
# leading 00 appears or not, as well as anywhere.
POSITIVE_SERIALS = st.one_of(st.integers(1, 2**159 - 1), st.integers(0, 19).flatmap(
    lambda octets: st.sampled_from([2**(8 * octets + 7) - 1, 2**(8 * octets + 7), 2**(8 * octets + 7) + 1, 2**(8 * octets)])
).filter(lambda number: number < 2**159))


@_settings(200)
@given(POSITIVE_SERIALS)
def test_the_serial_from_der_is_what_windows_shows_for_a_real_certificate(number):
    cert = certificate(number)
    shown = serial_number(cert.public_bytes(Encoding.DER))
    assert shown == windows_serial(number)
    assert shown == serial_as_windows_shows_it(cert)
    assert int(shown, 16) == cert.serial_number == number
    assert len(shown) % 2 == 0 and shown == shown.upper()
    assert not shown.startswith("00") or int(shown[2:4], 16) & 0x80


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def certificate_shaped_der(number: int, version: bool, padding: int) -> bytes:
    """Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version?, serial INTEGER, ... }, ... }: all serial_number reads.

    padding fills the TBS after the serial, so that the enclosing lengths take every DER form, short and long.
    """
    serial = number.to_bytes(max(1, (number.bit_length() + 8) // 8) if number >= 0 else ((-number - 1).bit_length() + 8) // 8,
                             "big", signed=True)
    tbs = (_der(0xA0, _der(0x02, b"\x02")) if version else b"") + _der(0x02, serial) + _der(0x04, b"\x00" * padding)
    return _der(0x30, _der(0x30, tbs) + _der(0x30, b"") + _der(0x03, b"\x00"))


@_settings(200)
@given(st.integers(-(2**1200), 2**1200), st.booleans(), st.sampled_from([0, 100, 200, 70000]))
def test_the_serial_from_der_keeps_the_encoded_bytes_for_any_integer_and_any_length_form(number, version, padding):
    shown = serial_number(certificate_shaped_der(number, version, padding))
    # The simulator's formatter reads only .serial_number; two's complement, as .NET shows it.
    assert shown == serial_as_windows_shows_it(types.SimpleNamespace(serial_number=number))
    assert int.from_bytes(bytes.fromhex(shown), "big", signed=True) == number
    if number > 0:
        assert shown == windows_serial(number)


# --- registry paths (_registry_paths.local_machine_subkey) ---------------------------------------------------------------

# A key's name: printable characters, never a backslash (Structure of the Registry). "/" is left out: a path reads it
# as a separator, as PowerShell does.
KEY_CHARACTERS = st.characters(blacklist_characters="\\/", blacklist_categories=("Cs", "Cc"))
HKLM_PREFIXES = ["HKLM:\\", "HKLM:", "HKLM\\", "hklm:\\\\", "HKEY_LOCAL_MACHINE\\", "hkey_local_machine\\\\",
                 "Registry::HKEY_LOCAL_MACHINE\\", "registry::hklm\\", "HKLM:/", "Microsoft.PowerShell.Core\\Registry::HKLM\\"]
OTHER_HIVES = ["HKCU", "HKU", "HKCR", "HKCC", "HKEY_CURRENT_USER", "HKEY_USERS", "HKEY_CLASSES_ROOT", "HKEY_CURRENT_CONFIG",
               "HKEY_PERFORMANCE_DATA"]


@st.composite
def subkey(draw) -> str:
    """A key path below HKLM: one of the keys Windows has there, in any case, then key names of 1 to 255 characters.

    Whitespace around the whole path is not part of it (the validator strips it, as PowerShell does).
    """
    first = draw(any_case(draw(st.sampled_from(HIVE_ROOTS))))
    rest = draw(st.lists(st.text(KEY_CHARACTERS, min_size=1, max_size=30), max_size=5))
    path = "\\".join([first, *rest])
    assume(path == path.strip())
    return path


@_settings(200)
@given(subkey(), st.sampled_from(HKLM_PREFIXES), st.sampled_from(["", "\\", "\\\\", " ", "\\ \n", "/"]))
def test_every_hklm_spelling_of_a_key_path_round_trips_to_its_subkey(path, prefix, suffix):
    normalised = local_machine_subkey(f" {prefix}{path}{suffix}")
    assert normalised == path
    assert normalised and not normalised.startswith("\\") and not normalised.endswith("\\") and "\\\\" not in normalised
    assert ":" not in normalised.split("\\", 1)[0]
    # The canonical spelling comes back as itself, and so does the PowerShell spelling with forward slashes.
    assert local_machine_subkey("HKLM:\\" + normalised) == normalised
    assert local_machine_subkey("HKLM:/" + normalised.replace("\\", "/")) == normalised


@_settings(200)
@given(subkey(), st.text(KEY_CHARACTERS, min_size=1, max_size=30))
def test_a_key_path_is_below_one_of_the_keys_windows_has_directly_under_hklm(path, first):
    # HKEY_LOCAL_MACHINE holds HARDWARE, SAM, SECURITY, SOFTWARE, SYSTEM and BCD00000000 and no key can be created
    # beside them, so a path whose first name is another is refused rather than written somewhere Windows refuses.
    assume(first.strip() == first and ":" not in first and first.upper() not in HIVE_ROOTS)
    assume(not re.match(r"(?i)\A(Registry::)?HK[A-Z_]+\Z", first))
    assert local_machine_subkey(path) == path
    with pytest.raises(TaskInputError, match="would be a key directly under HKEY_LOCAL_MACHINE"):
        local_machine_subkey(f"HKLM:\\{first}\\{path}")
    with pytest.raises(TaskInputError, match="would be a key directly under HKEY_LOCAL_MACHINE"):
        local_machine_subkey(f"{first}\\{path}")


def test_every_key_path_outside_hklm_or_malformed_is_refused_naming_its_option():
    tried = Tried("_registry_paths.local_machine_subkey")

    @st.composite
    def bad_path(draw) -> tuple[str, str]:
        path = draw(subkey())
        kind = draw(st.sampled_from(["other hive", "empty", "empty key name", "drive", "too long"]))
        if kind == "other hive":
            hive = draw(any_case(draw(st.sampled_from(OTHER_HIVES))))
            return kind, draw(st.sampled_from([f"{hive}:\\", f"{hive}\\", f"Registry::{hive}\\", f"{hive}:"])) + path
        if kind == "empty":
            return kind, draw(st.sampled_from(["", " ", "\\", "\\\\\\", "HKLM:", "HKLM:\\", "HKEY_LOCAL_MACHINE\\\\"]))
        if kind == "empty key name":
            names = path.split("\\")
            index = draw(st.integers(1, len(names))) if len(names) > 1 else 1
            return kind, draw(st.sampled_from(HKLM_PREFIXES)) + "\\".join(names[:index] + [""] + names[index:] + ["x"])
        if kind == "drive":
            return kind, draw(st.sampled_from(string.ascii_letters)) + ":\\" + path
        return kind, "HKLM:\\" + path + "\\" + "k" * draw(st.integers(256, 400))

    @_settings(200)
    @given(bad_path(), st.sampled_from(["key", "registry_checkpoints[2]", "additional_services[0].registry_checkpoints[1]"]))
    def check(case, option):
        kind, path = case
        tried()
        message = rejection(local_machine_subkey, path, option)
        assert message.startswith(f"{option}: ")
        expected = {"other hive": "is not under HKEY_LOCAL_MACHINE", "too long": "a registry key's name has at most 255"}
        assert expected.get(kind, "is not a registry key path") in message, message

    check()
    tried.record()


# --- account references (_principals.principal_problem) ------------------------------------------------------------------

ACCOUNT_CHARACTERS = st.characters(blacklist_characters='\\@"/:|<>?*', blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp"))
NAME_PART = st.text(ACCOUNT_CHARACTERS, min_size=1, max_size=20).filter(
    lambda s: s.strip() == s and s and not s.upper().startswith("S-1-"))


@_settings(200)
@given(st.one_of(NAME_PART, st.tuples(NAME_PART, NAME_PART).map("\\".join), st.tuples(NAME_PART, NAME_PART).map("@".join),
                 NAME_PART.map(lambda n: ".\\" + n), st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6).map(
                     lambda parts: "S-1-5-" + "-".join(map(str, parts)))))
def test_every_well_formed_account_reference_is_left_to_the_host(reference):
    assert principal_problem(reference) is None


def test_every_malformed_account_reference_is_refused_with_its_reason():
    tried = Tried("_principals.principal_problem")

    @_settings(200)
    @given(st.one_of(
        st.sampled_from(["", " ", "\t"]).map(lambda s: (s, "is empty")),
        NAME_PART.map(lambda n: (n + "\\", "has no account name")),
        NAME_PART.map(lambda n: ("\\" + n, "has no domain")),
        st.tuples(NAME_PART, NAME_PART, NAME_PART).map(lambda p: ("\\".join(p), "more than one backslash")),
        st.tuples(NAME_PART, st.sampled_from(["@", "@@"])).map(lambda p: (p[0] + p[1], "not a user principal name")),
        st.tuples(NAME_PART, st.sampled_from(list('"/:|<>?*\t\x00\x7f'))).map(lambda p: (p[0] + p[1] + "x", "contains")),
        st.sampled_from(["S-1-", "S-1-5-", "s-1-x-2", "S-1-5--21", "S-1-5-21-abc"]).map(lambda s: (s, "not a valid SID")),
    ))
    def check(case):
        reference, reason = case
        tried()
        problem = principal_problem(reference)
        assert problem is not None and reason in problem, (reference, problem)

    check()
    tried.record()
