"""The bad input matrix: every option of every module, given a value it must refuse.

Each case runs the module's action plugin with the win_powershell recorder of
tests/unit/plugins/action/conftest.py and asserts that the task fails, that its
message names the option (``parent[index].sub`` for a suboption), and that no
round trip was made. Where only the host can tell (an account name, a cluster's
networks), the case says why, gives the probe's answer, and asserts exactly one
probe and no apply. Where a secret is part of the bad value, the case asserts
that it appears nowhere in the result. Each case is recorded in the reliability
ledger as one bad input.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import importlib
import json
import pathlib
import re
from typing import Callable
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleError
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

import pki_fixtures
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _windows_task
from ansible.plugins.shell.powershell import ShellModule as PowerShellShell
from plugins.action.conftest import WinPowerShellReplay, win_powershell_ok
from reliability import record

# Every module of the collection, by its action plugin: a new module is in the matrix, and must bring its cases.
ACTION_DIR = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "action"
ACTION_NAMES = sorted(path.stem for path in ACTION_DIR.glob("*.py") if not path.stem.startswith("_"))
MODULES = {name: importlib.import_module(f"ansible_collections.pkiops.keyfactor_command.plugins.action.{name}").ActionModule
           for name in ACTION_NAMES}

PASSWORD = "Pfx-Matrix-S3cret!Pa55"
POOL_PASSWORD = "AppP00l-Matrix-S3cret!"
NS = "NT AUTHORITY\\NETWORK SERVICE"
NS_SID = "S-1-5-20"
SVC = "CONTOSO\\svc_keyfactor"
GMSA = "CONTOSO\\gmsa_keyfactor$"
THUMBPRINT = "9F2C1A7E5B3D4C6A8E0F1B2D3C4E5F60718293A4"
GATEWAY = "Keyfactor Managed CA Gateway"
DROP = object()  # an option left out of the task


# --- the PKI the certificate cases use, made once --------------------------------------------------------------------------


_thumbprint = pki_fixtures.thumbprint


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="module", name="pki")
def fixture_pki() -> dict:
    """Certificates and PFX files, as values a case's args can name by key (see resolve)."""
    root, issuing = pki_fixtures.chain()
    leaf = pki_fixtures.issue("gateway-encryption.contoso.com", issuer=issuing)
    ec_leaf = pki_fixtures.issue("ec.contoso.com", issuer=issuing, key=pki_fixtures.new_key("ec"))
    signing_leaf = pki_fixtures.issue("signing.contoso.com", issuer=issuing, key_usage={"key_encipherment": False})
    expired = pki_fixtures.issue("expired.contoso.com", issuer=issuing,
                                 not_before=pki_fixtures.NOW - datetime.timedelta(days=400),
                                 not_after=pki_fixtures.NOW - datetime.timedelta(days=35))
    pfx = pki_fixtures.pfx(leaf, PASSWORD, extra=(issuing, root))
    return {
        "pfx": pfx,
        "pfx_b64": _b64(pfx),
        "pfx_b64_wrapped": "\n".join(re.findall(".{1,64}", _b64(pfx))),
        "ec_pfx_b64": _b64(pki_fixtures.pfx(ec_leaf, PASSWORD)),
        "signing_pfx_b64": _b64(pki_fixtures.pfx(signing_leaf, PASSWORD)),
        "expired_pfx_b64": _b64(pki_fixtures.pfx(expired, PASSWORD)),
        "keyless_pfx_b64": _b64(pki_fixtures.pfx(leaf, PASSWORD, with_key=False)),
        "leaf_der_b64": _b64(leaf.cert.public_bytes(Encoding.DER)),
        "leaf_der": leaf.cert.public_bytes(Encoding.DER),
        "leaf_pem": leaf.cert.public_bytes(Encoding.PEM).decode("ascii"),
        "leaf_thumbprint": _thumbprint(leaf),
        "root_pem": root.cert.public_bytes(Encoding.PEM).decode("ascii"),
        "issuing_pem": issuing.cert.public_bytes(Encoding.PEM).decode("ascii"),
        "root_der_b64": _b64(root.cert.public_bytes(Encoding.DER)),
        "key_pem": leaf.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode("ascii"),
        "public_key_pem": leaf.key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii"),
    }


@dataclasses.dataclass(frozen=True)
class Pki:
    """A value taken from the pki fixture when the case runs: Pki("pfx_b64"), or Pki("root_pem", tail="x")."""

    key: str
    transform: Callable[[str], object] | None = None


def resolve(value, pki: dict):
    if isinstance(value, Pki):
        found = pki[value.key]
        return value.transform(found) if value.transform else found
    if isinstance(value, dict):
        return {k: resolve(v, pki) for k, v in value.items() if v is not DROP}
    if isinstance(value, list):
        return [resolve(v, pki) for v in value]
    return value


# --- valid tasks the cases start from ---------------------------------------------------------------------------------------


def with_options(base: dict, **changes) -> dict:
    """base with options replaced (DROP removes one)."""
    return {**base, **changes}


def in_list(base: dict, option: str, index: int = 0, **changes) -> dict:
    """base with the element at option[index] changed; DROP removes a suboption."""
    elements = [dict(e) for e in base[option]]
    elements[index] = {**elements[index], **changes}
    return {**base, option: elements}


USER_RIGHTS = {"rights": {"SeServiceLogonRight": [NS]}}
POOL = {"name": "KeyfactorPortal"}
POOL_AS_SVC = {"name": "KeyfactorPortal", "identity_type": "SpecificUser", "username": SVC, "password": POOL_PASSWORD}
POOLS = {"pools": [POOL]}
PFX = {"content": Pki("pfx_b64"), "password": PASSWORD}
PFX_WITH_ACCESS = {**PFX, "key_access": [{"principal": NS}]}
KEY_ACL = {"thumbprint": THUMBPRINT, "key_access": [{"principal": NS}]}
SERIAL = {"thumbprint": THUMBPRINT}
CA = {"certificates": [{"content": Pki("root_pem")}]}
CLUSTER = {"name": "CloudGateway", "service": GATEWAY, "static_addresses": ["10.0.0.50"], "storage": ["Cluster Disk 2"]}
CLUSTER_WITH_SYNC = {**CLUSTER, "additional_services": [{"service": "CASync"}]}


# --- what the probes answer, for the cases only the host can decide ---------------------------------------------------------


def _account(reference: str, sid: str | None, error: str | None = None) -> dict:
    return {"input": reference, "sid": sid, "name": reference if sid else None, "error": error}


UNKNOWN_ACCOUNT = "Some or all identity references could not be translated."
NO_SUCH_PRINCIPAL = "CONTOSO\\nobody_here"
CERTIFICATE_ACL = [{"sid": "S-1-5-18", "name": "NT AUTHORITY\\SYSTEM", "type": "allow", "rights": -805240321, "inherited": False}]
KEY_REPORT = {"found": True, "has_private_key": True, "acl": CERTIFICATE_ACL,
              "key": {"provider": "cng", "provider_name": "Microsoft Software Key Storage Provider", "container": "c",
                      "exportable": False}}
CLUSTER_PROBE = {
    "cluster": {"name": "GWCLUSTER", "local_node": "GW01", "nodes": [{"name": "GW01", "state": "Up"}, {"name": "GW02", "state": "Down"}],
                "networks": [{"name": "Cluster Network 1", "role": "ClusterAndClient", "address": "10.0.0.0",
                              "address_mask": "255.255.255.0"}]},
    "services": [{"query": GATEWAY, "found": True, "name": "CAGateway", "display_name": GATEWAY},
                 {"query": "CASync", "found": True, "name": "CASync", "display_name": "Keyfactor CA Sync"}],
    "disks": [{"name": "Cluster Disk 2", "found": True, "resource_type": "Physical Disk", "owner_group": "Available Storage",
               "owner_group_type": "AvailableStorage", "state": "Online"}],
    "group": None,
    "resources": [{"name": "Cluster Disk 2", "group": "Available Storage"}],
}


def cluster_probe(**changes) -> dict:
    return {**CLUSTER_PROBE, **changes}


# --- the matrix -------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad input: the task's args, the option its message must name, and how far the task may get.

    host: why only the host can tell; then probe is the probe's answer, and the task may make that one round trip.
    secret: a value that must appear nowhere in the result. files: src names the task may look up, with their bytes
    (or DIRECTORY, or a key of the pki fixture). fragment: text the message must also hold, when naming the option is not specific enough.
    """

    id: str
    module: str
    args: dict
    option: str
    host: str | None = None
    probe: dict | None = None
    secret: str | None = None
    files: dict | None = None
    fragment: str | None = None


DIRECTORY = object()

CASES: list[Case] = []


def case(*args, **kwargs) -> None:
    CASES.append(Case(*args, **kwargs))


# user_rights: rights (dict of right -> accounts), action ------------------------------------------------------------------
M = "user_rights"
case("rights missing", M, {}, "rights", fragment="missing required")
case("rights is a list", M, {"rights": ["SeServiceLogonRight"]}, "rights")
case("rights is a number", M, {"rights": 5}, "rights")
case("rights is a bare right name", M, {"rights": "SeServiceLogonRight"}, "rights")
case("rights names an unknown right", M, {"rights": {"SeServiceLogonRights": [NS]}}, "rights", fragment="Did you mean SeServiceLogonRight")
case("rights names a right in prose", M, {"rights": {"Log on as a service": [NS]}}, "rights")
case("rights names SeUnsolicitedInputPrivilege", M, {"rights": {"SeUnsolicitedInputPrivilege": [NS]}}, "rights")
case("rights lists a right twice by case", M, {"rights": {"SeServiceLogonRight": [NS], "seservicelogonright": [NS]}}, "rights",
     fragment="more than once")
case("rights account list is a number", M, {"rights": {"SeServiceLogonRight": 5}}, "rights")
case("rights account list is a mapping", M, {"rights": {"SeServiceLogonRight": {"name": NS}}}, "rights")
case("rights account list is null", M, {"rights": {"SeServiceLogonRight": None}}, "rights")
case("rights account is a number", M, {"rights": {"SeServiceLogonRight": [NS, 42]}}, "rights")
case("rights account is empty", M, {"rights": {"SeServiceLogonRight": [""]}}, "rights", fragment="empty")
case("rights account is blank", M, {"rights": {"SeBatchLogonRight": ["   "]}}, "rights", fragment="empty")
case("rights SID is malformed", M, {"rights": {"SeServiceLogonRight": ["S-1-5-"]}}, "rights", fragment="SID")
case("rights SID has letters", M, {"rights": {"SeServiceLogonRight": ["S-1-5-21-abc"]}}, "rights", fragment="SID")
case("rights account has an empty user part", M, {"rights": {"SeServiceLogonRight": ["CONTOSO\\"]}}, "rights")
case("rights account has an empty domain part", M, {"rights": {"SeServiceLogonRight": ["\\svc_keyfactor"]}}, "rights")
case("rights account has two backslashes", M, {"rights": {"SeServiceLogonRight": ["CONTOSO\\svc\\keyfactor"]}}, "rights")
case("rights UPN has no domain", M, {"rights": {"SeServiceLogonRight": ["svc_keyfactor@"]}}, "rights")
case("rights account has a control character", M, {"rights": {"SeServiceLogonRight": ["CONTOSO\\svc\tkeyfactor"]}}, "rights")
case("rights account is unknown to the host", M, {"rights": {"SeServiceLogonRight": [NO_SUCH_PRINCIPAL]}}, "rights",
     host="whether an account exists only the host's LSA (and its domain) can say",
     probe={"holders": {"SeServiceLogonRight": []}, "accounts": [_account(NO_SUCH_PRINCIPAL, None, UNKNOWN_ACCOUNT)]})
case("action unknown", M, with_options(USER_RIGHTS, action="replace"), "action")
case("action is empty", M, with_options(USER_RIGHTS, action=""), "action")
case("action has the wrong case", M, with_options(USER_RIGHTS, action="Add"), "action")
case("action is a list", M, with_options(USER_RIGHTS, action=["add"]), "action")
case("unknown option", M, with_options(USER_RIGHTS, accounts=[NS]), "accounts")

# iis_app_pools: pools[] with name, state, started, identity_type, username, password, settings -----------------------------
M = "iis_app_pools"
case("pools missing", M, {}, "pools", fragment="missing required")
case("pools is a name", M, {"pools": "KeyfactorPortal"}, "pools")
case("pools element is a name", M, {"pools": ["KeyfactorPortal"]}, "pools")
case("pools is a mapping of names", M, {"pools": {"KeyfactorPortal": {}}}, "pools")
case("name missing", M, {"pools": [{"state": "present"}]}, "pools[0].name")
case("name missing in the second pool", M, {"pools": [POOL, {"started": False}]}, "pools[1].name")
case("name is empty", M, in_list(POOLS, "pools", name=""), "pools[0].name")
case("name has a leading space", M, in_list(POOLS, "pools", name=" KeyfactorPortal"), "pools[0].name")
case("name has a control character", M, in_list(POOLS, "pools", name="Keyfactor\nPortal"), "pools[0].name")
case("name is a list", M, in_list(POOLS, "pools", name=["KeyfactorPortal"]), "pools[0].name")
case("name listed twice by case", M, {"pools": [POOL, {"name": "keyfactorportal"}]}, "pools[1].name", fragment="also listed")
case("state unknown", M, {"pools": [POOL, {"name": "B", "state": "started"}]}, "pools[1].state")
case("state is a boolean", M, in_list(POOLS, "pools", state=True), "pools[0].state")
case("started is not a boolean", M, in_list(POOLS, "pools", started="sometimes"), "pools[0].started")
case("identity_type unknown", M, in_list(POOLS, "pools", identity_type="NetworkServices"), "pools[0].identity_type")
case("identity_type has the wrong case", M, in_list(POOLS, "pools", identity_type="specificuser", username=SVC),
     "pools[0].identity_type")
case("identity_type SpecificUser without username", M, in_list(POOLS, "pools", identity_type="SpecificUser"), "pools[0].username")
case("username with a built-in identity", M, in_list(POOLS, "pools", identity_type="LocalSystem", username=SVC), "pools[0].username")
case("username with the identity left out", M, in_list(POOLS, "pools", username=SVC), "pools[0].username")
case("username is empty", M, {"pools": [{**POOL_AS_SVC, "username": ""}]}, "pools[0].username", secret=POOL_PASSWORD)
case("username has an empty user part", M, {"pools": [{**POOL_AS_SVC, "username": "CONTOSO\\"}]}, "pools[0].username",
     secret=POOL_PASSWORD)
case("username has two backslashes", M, {"pools": [{**POOL_AS_SVC, "username": "CONTOSO\\svc\\kf"}]}, "pools[0].username",
     secret=POOL_PASSWORD)
case("username is a list", M, {"pools": [{**POOL_AS_SVC, "username": [SVC]}]}, "pools[0].username", secret=POOL_PASSWORD)
case("password with a built-in identity", M, in_list(POOLS, "pools", identity_type="NetworkService", password=POOL_PASSWORD),
     "pools[0].password", secret=POOL_PASSWORD)
case("password with the identity left out", M, in_list(POOLS, "pools", password=POOL_PASSWORD), "pools[0].password",
     secret=POOL_PASSWORD)
case("password for a gMSA", M, {"pools": [{**POOL_AS_SVC, "username": GMSA}]}, "pools[0].password", secret=POOL_PASSWORD,
     fragment="group managed service account")
case("password is empty", M, {"pools": [{**POOL_AS_SVC, "password": ""}]}, "pools[0].password")
case("password is a list", M, {"pools": [{**POOL_AS_SVC, "password": [POOL_PASSWORD]}]}, "pools[0].password",
     secret=POOL_PASSWORD)
case("password is a mapping", M, {"pools": [{**POOL_AS_SVC, "password": {"value": POOL_PASSWORD}}]}, "pools[0].password",
     secret=POOL_PASSWORD)
case("password missing for a new pool of a user account", M, {"pools": [{**POOL_AS_SVC, "password": DROP}]},
     "pools[0].password", host="only the host knows whether the pool exists and already runs as that account",
     probe={"iis_installed": True, "pools": {"KeyfactorPortal": {"exists": False}},
            "accounts": [{"input": SVC, "sid": "S-1-5-21-1004336348-1177238915-682003330-1105", "name": SVC, "error": None}]})
case("name has a character IIS refuses", M, in_list(POOLS, "pools", name="Keyfactor/Portal"), "pools[0].name",
     fragment="which IIS refuses in a pool name")
case("name is longer than IIS takes", M, in_list(POOLS, "pools", name="K" * 65), "pools[0].name", fragment="at most 64")
case("username is a SID", M, {"pools": [{**POOL_AS_SVC, "username": "S-1-5-20"}]}, "pools[0].username",
     secret=POOL_PASSWORD, fragment="identity_type NetworkService")
case("username is a built-in account", M, {"pools": [{**POOL_AS_SVC, "username": "NT AUTHORITY\\SYSTEM"}]}, "pools[0].username",
     secret=POOL_PASSWORD, fragment="identity_type LocalSystem")
case("username does not resolve on the host", M, {"pools": [{**POOL_AS_SVC, "password": DROP}]}, "pools[0].username",
     host="only the host can resolve an account name",
     probe={"iis_installed": True, "pools": {"KeyfactorPortal": {"exists": False}},
            "accounts": [{"input": SVC, "sid": None, "name": None,
                          "error": "Some or all identity references could not be translated."}]})
case("auto_start contradicts started", M, in_list(POOLS, "pools", started=False, auto_start=True), "pools[0].auto_start")
case("options of a present pool on an absent one", M, in_list(POOLS, "pools", state="absent", idle_timeout_minutes=-5),
     "pools[0].idle_timeout_minutes", fragment="state is absent")
case("managed_runtime_version unknown", M, in_list(POOLS, "pools", managed_runtime_version="v4.5"),
     "pools[0].managed_runtime_version")
case("managed_runtime_version without v", M, in_list(POOLS, "pools", managed_runtime_version="4.0"),
     "pools[0].managed_runtime_version")
case("pipeline_mode has the wrong case", M, in_list(POOLS, "pools", pipeline_mode="integrated"), "pools[0].pipeline_mode")
case("load_user_profile is not a boolean", M, in_list(POOLS, "pools", load_user_profile="if needed"), "pools[0].load_user_profile")
case("start_mode unknown", M, in_list(POOLS, "pools", start_mode="Always"), "pools[0].start_mode")
case("auto_start is not a boolean", M, in_list(POOLS, "pools", auto_start="on boot"), "pools[0].auto_start")
case("enable_32bit is not a boolean", M, in_list(POOLS, "pools", enable_32bit="x86"), "pools[0].enable_32bit")
case("idle_timeout_minutes is negative", M, in_list(POOLS, "pools", idle_timeout_minutes=-1), "pools[0].idle_timeout_minutes")
case("idle_timeout_minutes beyond 30 days", M, in_list(POOLS, "pools", idle_timeout_minutes=43201),
     "pools[0].idle_timeout_minutes")
case("idle_timeout_minutes is text", M, in_list(POOLS, "pools", idle_timeout_minutes="twenty"), "pools[0].idle_timeout_minutes")
case("periodic_restart_minutes is negative", M, in_list(POOLS, "pools", periodic_restart_minutes=-5),
     "pools[0].periodic_restart_minutes")
case("periodic_restart_minutes beyond 32 bits", M, in_list(POOLS, "pools", periodic_restart_minutes=2**31),
     "pools[0].periodic_restart_minutes")
case("periodic_restart_minutes beyond what IIS supports", M, in_list(POOLS, "pools", periodic_restart_minutes=71583),
     "pools[0].periodic_restart_minutes")
case("periodic_restart_minutes is a duration", M, in_list(POOLS, "pools", periodic_restart_minutes="29h"),
     "pools[0].periodic_restart_minutes")
case("unknown pool option", M, in_list(POOLS, "pools", recycle_minutes=60), "pools[0].recycle_minutes")
case("unknown option", M, with_options(POOLS, pool=POOL), "pool")

# pfx_import: src | content, password, store_name, exportable, chain, require_*, allow_expired, expiry_warning_days, key_access[]
M = "pfx_import"
case("src and content", M, with_options(PFX, src="gateway.pfx"), "src", fragment="mutually exclusive", secret=PASSWORD)
case("neither src nor content", M, {"password": PASSWORD}, "src", fragment="content", secret=PASSWORD)
case("content is empty", M, with_options(PFX, content=""), "content", secret=PASSWORD)
case("content is blank", M, with_options(PFX, content="  \n "), "content", secret=PASSWORD)
case("content is not base64", M, with_options(PFX, content="this is not base64!"), "content", secret=PASSWORD)
case("content is PEM text", M, with_options(PFX, content=Pki("leaf_pem")), "content", secret=PASSWORD)
case("content is base64 of text", M, with_options(PFX, content=_b64(b"not a pfx at all")), "content", secret=PASSWORD)
case("content is a DER certificate", M, with_options(PFX, content=Pki("leaf_der_b64")), "content", secret=PASSWORD)
case("content is truncated", M, with_options(PFX, content=Pki("pfx", lambda d: _b64(d[: len(d) // 2]))), "content",
     secret=PASSWORD)
case("content holds no private key", M, with_options(PFX, content=Pki("keyless_pfx_b64")), "content", secret=PASSWORD)
case("content is a list", M, with_options(PFX, content=[Pki("pfx_b64")]), "content", secret=PASSWORD)
case("src is not found", M, {"src": "missing.pfx", "password": PASSWORD}, "src", secret=PASSWORD)
case("src is a directory", M, {"src": "pfx_dir", "password": PASSWORD}, "src", files={"pfx_dir": DIRECTORY}, secret=PASSWORD)
case("src is a text file", M, {"src": "notes.pfx", "password": PASSWORD}, "src", files={"notes.pfx": b"hello\n"}, secret=PASSWORD)
case("src is empty", M, {"src": "", "password": PASSWORD}, "src", secret=PASSWORD)
case("src is a list", M, {"src": ["a.pfx", "b.pfx"], "password": PASSWORD}, "src", secret=PASSWORD)
case("password is wrong", M, with_options(PFX, password="Wr0ng-Pa55word!"), "password", secret="Wr0ng-Pa55word!")
case("password is missing", M, with_options(PFX, password=""), "password", fragment="password: is missing")
case("password missing for an encrypted PFX", M, with_options(PFX, password=DROP), "password")
case("password has the wrong case", M, with_options(PFX, password=PASSWORD.lower()), "password", secret=PASSWORD.lower())
case("password is a list", M, with_options(PFX, password=[PASSWORD]), "password", secret=PASSWORD)
case("password is a mapping", M, with_options(PFX, password={"vault": PASSWORD}), "password", secret=PASSWORD)
case("store_name unknown", M, with_options(PFX, store_name="Personal"), "store_name", secret=PASSWORD)
case("store_name has the wrong case", M, with_options(PFX, store_name="my"), "store_name", secret=PASSWORD)
case("store_name is a CA store", M, with_options(PFX, store_name="Root"), "store_name", secret=PASSWORD)
case("exportable is not a boolean", M, with_options(PFX, exportable="if needed"), "exportable", secret=PASSWORD)
case("chain unknown", M, with_options(PFX, chain="all"), "chain", secret=PASSWORD)
case("chain is a boolean", M, with_options(PFX, chain=True), "chain", secret=PASSWORD)
case("require_rsa is not a boolean", M, with_options(PFX, require_rsa="rsa"), "require_rsa", secret=PASSWORD)
case("require_rsa with an EC key", M, with_options(PFX, content=Pki("ec_pfx_b64"), require_rsa=True), "require_rsa",
     secret=PASSWORD)
case("require_encipherment is not a boolean", M, with_options(PFX, require_encipherment="yes please"), "require_encipherment",
     secret=PASSWORD)
case("require_encipherment with a signing certificate", M,
     with_options(PFX, content=Pki("signing_pfx_b64"), require_encipherment=True), "require_encipherment", secret=PASSWORD)
case("allow_expired is not a boolean", M, with_options(PFX, allow_expired="maybe"), "allow_expired", secret=PASSWORD)
case("an expired certificate without allow_expired", M, with_options(PFX, content=Pki("expired_pfx_b64")), "allow_expired",
     secret=PASSWORD)
case("expiry_warning_days is negative", M, with_options(PFX, expiry_warning_days=-1), "expiry_warning_days", secret=PASSWORD)
case("expiry_warning_days is absurdly large", M, with_options(PFX, expiry_warning_days=10**10), "expiry_warning_days",
     secret=PASSWORD)
case("expiry_warning_days is text", M, with_options(PFX, expiry_warning_days="a month"), "expiry_warning_days", secret=PASSWORD)
case("key_access is a name", M, with_options(PFX, key_access=NS), "key_access", secret=PASSWORD)
case("key_access element is a name", M, with_options(PFX, key_access=[NS]), "key_access", secret=PASSWORD)
case("key_access principal missing", M, in_list(PFX_WITH_ACCESS, "key_access", principal=DROP, access="read"),
     "key_access[0].principal", secret=PASSWORD)
case("key_access principal is empty", M, in_list(PFX_WITH_ACCESS, "key_access", principal=""), "key_access[0].principal",
     secret=PASSWORD)
case("key_access principal has an empty user part", M, in_list(PFX_WITH_ACCESS, "key_access", principal="CONTOSO\\"),
     "key_access[0].principal", secret=PASSWORD)
case("key_access principal is a list", M, in_list(PFX_WITH_ACCESS, "key_access", principal=[NS]), "key_access[0].principal",
     secret=PASSWORD)
case("key_access principal twice with different access", M,
     {**PFX, "key_access": [{"principal": NS}, {"principal": NS.lower(), "access": "full_control"}]},
     "key_access[1].principal", secret=PASSWORD)
case("key_access principal is unknown to the host", M, in_list(PFX_WITH_ACCESS, "key_access", principal=NO_SUCH_PRINCIPAL),
     "key_access[0].principal", secret=PASSWORD, host="whether an account exists only the host's LSA (and its domain) can say",
     probe={"certificate": {"found": False, "has_private_key": False, "key": None, "acl": []}, "chain": [],
            "principals": [_account(NO_SUCH_PRINCIPAL, None, UNKNOWN_ACCOUNT)],
            "identity": {"sid": "S-1-5-21-1-2-3-500", "groups": ["S-1-5-32-544"]}, "os_build": 20348})
case("key_access access unknown", M, in_list(PFX_WITH_ACCESS, "key_access", access="write"), "key_access[0].access", secret=PASSWORD)
case("key_access access has the wrong case", M, in_list(PFX_WITH_ACCESS, "key_access", access="Read"), "key_access[0].access",
     secret=PASSWORD)
case("key_access state unknown", M, in_list(PFX_WITH_ACCESS, "key_access", state="revoked"), "key_access[0].state",
     secret=PASSWORD)
case("unknown key_access option", M, in_list(PFX_WITH_ACCESS, "key_access", rights="read"), "key_access[0].rights",
     secret=PASSWORD)
case("unknown option", M, with_options(PFX, pfx_password=PASSWORD), "pfx_password", secret=PASSWORD)

# private_key_acl: thumbprint, store_name, key_access[] ------------------------------------------------------------------
M = "private_key_acl"
case("thumbprint missing", M, {"key_access": [{"principal": NS}]}, "thumbprint", fragment="missing required")
case("thumbprint is empty", M, with_options(KEY_ACL, thumbprint=""), "thumbprint")
case("thumbprint is too short", M, with_options(KEY_ACL, thumbprint=THUMBPRINT[:-1]), "thumbprint")
case("thumbprint is too long", M, with_options(KEY_ACL, thumbprint=THUMBPRINT + "0"), "thumbprint")
case("thumbprint is a SHA-256", M, with_options(KEY_ACL, thumbprint="AB" * 32), "thumbprint")
case("thumbprint is not hexadecimal", M, with_options(KEY_ACL, thumbprint="G" * 40), "thumbprint")
case("thumbprint is a subject", M, with_options(KEY_ACL, thumbprint="CN=gateway.contoso.com"), "thumbprint")
case("thumbprint is a list", M, with_options(KEY_ACL, thumbprint=[THUMBPRINT]), "thumbprint")
case("thumbprint is not in the store", M, KEY_ACL, "thumbprint",
     host="only the host knows which certificates its store holds",
     probe={"certificate": {"found": False, "has_private_key": False, "key": None, "acl": []},
            "principals": [_account(NS, NS_SID)]})
case("store_name unknown", M, with_options(KEY_ACL, store_name="Personal"), "store_name")
case("store_name is a number", M, with_options(KEY_ACL, store_name=1), "store_name")
case("key_access missing", M, {"thumbprint": THUMBPRINT}, "key_access", fragment="missing required")
case("key_access is a mapping", M, with_options(KEY_ACL, key_access={"principal": NS, "extra": 1}), "key_access")
case("key_access principal missing", M, in_list(KEY_ACL, "key_access", principal=DROP, access="read"), "key_access[0].principal")
case("key_access principal is blank", M, in_list(KEY_ACL, "key_access", principal="  "), "key_access[0].principal")
case("key_access principal in the second entry is empty", M,
     {**KEY_ACL, "key_access": [{"principal": NS}, {"principal": ""}]}, "key_access[1].principal")
case("key_access principal has two backslashes", M, in_list(KEY_ACL, "key_access", principal="CONTOSO\\a\\b"),
     "key_access[0].principal")
case("key_access principal UPN without user", M, in_list(KEY_ACL, "key_access", principal="@contoso.com"), "key_access[0].principal")
case("key_access principal SID is malformed", M, in_list(KEY_ACL, "key_access", principal="S-1-5-21-"), "key_access[0].principal")
case("key_access principal twice, present and absent", M,
     {**KEY_ACL, "key_access": [{"principal": NS}, {"principal": NS, "state": "absent"}]}, "key_access[1].principal")
case("key_access principal is unknown to the host", M, in_list(KEY_ACL, "key_access", principal=NO_SUCH_PRINCIPAL),
     "key_access[0].principal", host="whether an account exists only the host's LSA (and its domain) can say",
     probe={"certificate": KEY_REPORT, "principals": [_account(NO_SUCH_PRINCIPAL, None, UNKNOWN_ACCOUNT)]})
case("key_access access is full", M, in_list(KEY_ACL, "key_access", access="full"), "key_access[0].access")
case("key_access state is a boolean", M, in_list(KEY_ACL, "key_access", state=False), "key_access[0].state")
case("unknown key_access option", M, in_list(KEY_ACL, "key_access", user=NS), "key_access[0].user")
case("unknown option", M, with_options(KEY_ACL, store_location="LocalMachine"), "store_location")

# cert_serial_registry: thumbprint, store_name, key, value_name ------------------------------------------------------------
M = "cert_serial_registry"
case("thumbprint missing", M, {}, "thumbprint", fragment="missing required")
case("thumbprint has 39 digits", M, with_options(SERIAL, thumbprint=THUMBPRINT[1:]), "thumbprint")
case("thumbprint has a stray letter", M, with_options(SERIAL, thumbprint=THUMBPRINT[:-1] + "Z"), "thumbprint")
case("thumbprint has dashes", M, with_options(SERIAL, thumbprint="-".join(re.findall("..", THUMBPRINT))), "thumbprint")
case("thumbprint is a number", M, with_options(SERIAL, thumbprint=1234), "thumbprint")
case("thumbprint is not in the store", M, SERIAL, "thumbprint", host="only the host knows which certificates its store holds",
     probe={"certificate": {"found": False}, "registry": {"value_exists": False}})
case("store_name unknown", M, with_options(SERIAL, store_name="CA"), "store_name")
case("key under HKEY_CURRENT_USER", M, with_options(SERIAL, key="HKCU:\\Software\\Keyfactor"), "key")
case("key under HKEY_USERS", M, with_options(SERIAL, key="Registry::HKEY_USERS\\.DEFAULT\\Keyfactor"), "key")
case("key is empty", M, with_options(SERIAL, key=""), "key")
case("key is the hive alone", M, with_options(SERIAL, key="HKLM:\\"), "key")
case("key has an empty component", M, with_options(SERIAL, key="HKLM:\\SOFTWARE\\\\Keyfactor"), "key")
case("key is a file path", M, with_options(SERIAL, key="C:\\Program Files\\Keyfactor"), "key")
case("key has a key name over 255 characters", M, with_options(SERIAL, key="HKLM:\\SOFTWARE\\" + "K" * 256), "key")
case("key is directly under HKLM", M, with_options(SERIAL, key="HKLM:\\Keyfactor\\Parameters"), "key",
     fragment="directly under HKEY_LOCAL_MACHINE")
case("key has an empty component written with slashes", M, with_options(SERIAL, key="HKLM:/SOFTWARE//Keyfactor"), "key")
case("key has a control character", M, with_options(SERIAL, key="HKLM:\\SOFTWARE\\Key\tfactor"), "key")
case("key is a list", M, with_options(SERIAL, key=["HKLM:\\SOFTWARE\\Keyfactor"]), "key")
case("value_name is empty", M, with_options(SERIAL, value_name=""), "value_name")
case("value_name is a list", M, with_options(SERIAL, value_name=["EncryptSerialNumber"]), "value_name")
case("value_name is longer than the registry allows", M, with_options(SERIAL, value_name="V" * 16384), "value_name")
case("unknown option", M, with_options(SERIAL, value="0080AB"), "value")

# ca_certificates: certificates[] with src | content, store; state ------------------------------------------------------------
M = "ca_certificates"
case("certificates missing", M, {}, "certificates", fragment="missing required")
case("certificates is a file name", M, {"certificates": "root.cer"}, "certificates")
case("certificates element is a file name", M, {"certificates": ["root.cer"]}, "certificates")
case("src and content", M, in_list(CA, "certificates", src="root.cer"), "certificates[0].src", fragment="mutually exclusive")
case("neither src nor content", M, {"certificates": [{"store": "Root"}]}, "certificates[0].src", fragment="content")
case("neither src nor content in the second entry", M, {"certificates": [{"content": Pki("root_pem")}, {}]},
     "certificates[1].src")
case("src is not found", M, {"certificates": [{"src": "missing.cer"}]}, "certificates[0].src")
case("src is a directory", M, {"certificates": [{"src": "certs"}]}, "certificates[0].src", files={"certs": DIRECTORY})
case("src is not a certificate", M, {"certificates": [{"src": "notes.txt"}]}, "certificates[0].src",
     files={"notes.txt": b"just some notes\n"})
case("src holds a private key", M, {"certificates": [{"src": "root.pem"}]}, "certificates[0].src",
     files={"root.pem": "key_pem"})
case("src is a list", M, {"certificates": [{"src": ["a.cer", "b.cer"]}]}, "certificates[0].src")
case("content is empty", M, in_list(CA, "certificates", content=""), "certificates[0].content")
case("content is not base64", M, in_list(CA, "certificates", content="not a certificate"), "certificates[0].content")
case("content is a PFX", M, in_list(CA, "certificates", content=Pki("pfx_b64")), "certificates[0].content")
case("content has a private key", M, in_list(CA, "certificates", content=Pki("key_pem")), "certificates[0].content",
     fragment="private key")
case("content has BEGIN without END", M,
     in_list(CA, "certificates", content=Pki("root_pem", lambda p: p.replace("-----END CERTIFICATE-----", ""))),
     "certificates[0].content")
case("content is a public key", M, in_list(CA, "certificates", content=Pki("public_key_pem")), "certificates[0].content")
case("content is a leaf with store auto", M, in_list(CA, "certificates", content=Pki("leaf_pem")), "certificates[0].content",
     fragment="not a CA certificate")
case("content is a mapping", M, in_list(CA, "certificates", content={"pem": "x"}), "certificates[0].content")
case("store unknown", M, in_list(CA, "certificates", store="Intermediate"), "certificates[0].store")
case("store has the wrong case", M, in_list(CA, "certificates", store="root"), "certificates[0].store")
case("store is a key store", M, in_list(CA, "certificates", store="My"), "certificates[0].store")
case("one certificate in two stores", M,
     {"certificates": [{"content": Pki("root_pem"), "store": "Root"}, {"content": Pki("root_der_b64"), "store": "CA"}]},
     "certificates[1].content", fragment="one store")
case("unknown certificates option", M, in_list(CA, "certificates", path="root.cer"), "certificates[0].path")
case("state unknown", M, with_options(CA, state="installed"), "state")
case("unknown option", M, with_options(CA, store="Root"), "store")

# cluster_generic_service_role ---------------------------------------------------------------------------------------------
M = "cluster_generic_service_role"
case("name missing", M, with_options(CLUSTER, name=DROP), "name", fragment="missing required")
case("name is empty", M, with_options(CLUSTER, name=""), "name")
case("name has 16 characters", M, with_options(CLUSTER, name="CloudGateway0123"), "name", fragment="15")
case("name has an underscore", M, with_options(CLUSTER, name="Cloud_Gateway"), "name")
case("name has a dot", M, with_options(CLUSTER, name="gw.contoso"), "name")
case("name has a space", M, with_options(CLUSTER, name="Cloud Gateway"), "name")
case("name is all digits", M, with_options(CLUSTER, name="2026"), "name", fragment="digits")
case("name starts with a hyphen", M, with_options(CLUSTER, name="-Gateway"), "name")
case("name has a plus sign", M, with_options(CLUSTER, name="Gate+way"), "name", fragment="'+'")
case("name has brackets", M, with_options(CLUSTER, name="Gateway[1]"), "name", fragment="'['")
case("name is not ASCII", M, with_options(CLUSTER, name="Passerelle\u00e9"), "name")
case("name is a list", M, with_options(CLUSTER, name=["CloudGateway"]), "name")
case("name is a node's name", M, with_options(CLUSTER, name="GW02"), "name", host="only the cluster knows its nodes",
     probe=CLUSTER_PROBE, fragment="node")
case("name is the cluster's name", M, with_options(CLUSTER, name="gwcluster"), "name", host="only the node knows its cluster",
     probe=CLUSTER_PROBE, fragment="cluster itself")
case("name is a role of another type", M, CLUSTER, "name", host="only the cluster knows which roles it has",
     probe=cluster_probe(group={"name": "CloudGateway", "group_type": "FileServer", "resources": []}))
case("service missing while present", M, with_options(CLUSTER, service=DROP), "service")
case("service is blank", M, with_options(CLUSTER, service="  "), "service")
case("service is a list", M, with_options(CLUSTER, service=[GATEWAY]), "service")
case("service is not installed", M, CLUSTER, "service", host="only the node knows which services are installed",
     probe=cluster_probe(services=[{"query": GATEWAY, "found": False}]))
case("cluster is empty", M, with_options(CLUSTER, cluster=""), "cluster")
case("cluster is another cluster", M, with_options(CLUSTER, cluster="OTHERCLUSTER"), "cluster",
     host="only the node knows which cluster it belongs to", probe=CLUSTER_PROBE)
case("static_addresses has an octet above 255", M, with_options(CLUSTER, static_addresses=["10.0.0.300"]), "static_addresses[0]")
case("static_addresses has three octets", M, with_options(CLUSTER, static_addresses=["10.0.0"]), "static_addresses[0]")
case("static_addresses has a leading zero", M, with_options(CLUSTER, static_addresses=["10.0.0.050"]), "static_addresses[0]")
case("static_addresses has a prefix length", M, with_options(CLUSTER, static_addresses=["10.0.0.50/24"]), "static_addresses[0]")
case("static_addresses has IPv6", M, with_options(CLUSTER, static_addresses=["fd00::50"]), "static_addresses[0]")
case("static_addresses has a host name", M, with_options(CLUSTER, static_addresses=["gw.contoso.com"]), "static_addresses[0]")
case("static_addresses has an empty entry", M, with_options(CLUSTER, static_addresses=["10.0.0.50", ""]), "static_addresses[1]")
case("static_addresses has 0.0.0.0", M, with_options(CLUSTER, static_addresses=["0.0.0.0"]), "static_addresses[0]")
case("static_addresses is in 0.0.0.0/8", M, with_options(CLUSTER, static_addresses=["0.10.0.5"]), "static_addresses[0]")
case("static_addresses has loopback", M, with_options(CLUSTER, static_addresses=["127.0.0.1"]), "static_addresses[0]")
case("static_addresses has multicast", M, with_options(CLUSTER, static_addresses=["224.0.0.251"]), "static_addresses[0]")
case("static_addresses has link-local", M, with_options(CLUSTER, static_addresses=["169.254.10.10"]), "static_addresses[0]")
case("static_addresses has the limited broadcast", M, with_options(CLUSTER, static_addresses=["255.255.255.255"]),
     "static_addresses[0]")
case("static_addresses has a reserved address", M, with_options(CLUSTER, static_addresses=["240.0.0.1"]), "static_addresses[0]")
case("static_addresses lists one twice", M, with_options(CLUSTER, static_addresses=["10.0.0.50", "10.0.0.50"]),
     "static_addresses", fragment="more than once")
case("static_addresses element is a list", M, with_options(CLUSTER, static_addresses=[["10.0.0.50"]]), "static_addresses[0]")
case("static_addresses outside the client networks", M, with_options(CLUSTER, static_addresses=["192.168.7.50"]),
     "static_addresses[0]", host="only the cluster knows its client networks", probe=CLUSTER_PROBE)
case("static_addresses is the subnet's broadcast", M, with_options(CLUSTER, static_addresses=["10.0.0.255"]),
     "static_addresses[0]", host="only the cluster knows its client networks' masks", probe=CLUSTER_PROBE)
case("storage has an empty entry", M, with_options(CLUSTER, storage=[""]), "storage[0]")
case("storage lists one twice", M, with_options(CLUSTER, storage=["Cluster Disk 2", "cluster disk 2"]), "storage",
     fragment="more than once")
case("storage element is a mapping", M, with_options(CLUSTER, storage=[{"name": "Cluster Disk 2"}]), "storage[0]")
case("storage names a disk with brackets", M, with_options(CLUSTER, storage=["Cluster Disk [2]"]), "storage[0]")
case("storage names a disk with a wildcard", M, with_options(CLUSTER, storage=["Cluster Disk *"]), "storage[0]")
case("storage names a disk the cluster lacks", M, with_options(CLUSTER, storage=["Cluster Disk 9"]), "storage[0]",
     host="only the cluster knows its disks",
     probe=cluster_probe(disks=[{"name": "Cluster Disk 9", "found": False}]))
case("registry_checkpoints under HKEY_CURRENT_USER", M,
     with_options(CLUSTER, registry_checkpoints=["HKCU\\Software\\Keyfactor"]), "registry_checkpoints[0]")
case("registry_checkpoints has an empty entry", M, with_options(CLUSTER, registry_checkpoints=["SOFTWARE\\Keyfactor", ""]),
     "registry_checkpoints[1]")
case("registry_checkpoints directly under HKLM", M, with_options(CLUSTER, registry_checkpoints=["HKLM:\\Keyfactor\\Parameters"]),
     "registry_checkpoints[0]", fragment="directly under HKEY_LOCAL_MACHINE")
case("registry_checkpoints has an empty key name", M, with_options(CLUSTER, registry_checkpoints=["HKLM:/SOFTWARE//Keyfactor"]),
     "registry_checkpoints[0]")
case("registry_checkpoints is a whole hive", M, with_options(CLUSTER, registry_checkpoints=["HKLM:\\SOFTWARE"]),
     "registry_checkpoints[0]", fragment="whole SOFTWARE hive")
case("additional_services checkpoint is a whole hive", M,
     in_list(CLUSTER_WITH_SYNC, "additional_services", registry_checkpoints=["SYSTEM"]),
     "additional_services[0].registry_checkpoints[0]", fragment="whole SYSTEM hive")
case("registry_checkpoints lists one twice", M,
     with_options(CLUSTER, registry_checkpoints=["HKLM:\\SOFTWARE\\Keyfactor", "SOFTWARE\\Keyfactor"]), "registry_checkpoints",
     fragment="more than once")
case("registry_checkpoints_exclusive is not a boolean", M, with_options(CLUSTER, registry_checkpoints_exclusive="only these"),
     "registry_checkpoints_exclusive")
case("additional_services is a name", M, with_options(CLUSTER, additional_services="CASync"), "additional_services")
case("additional_services service missing", M, with_options(CLUSTER, additional_services=[{"depends_on": ["CloudGateway"]}]),
     "additional_services[0].service")
case("additional_services service is blank", M, in_list(CLUSTER_WITH_SYNC, "additional_services", service=" "),
     "additional_services[0].service")
case("additional_services service repeats the role's service", M,
     in_list(CLUSTER_WITH_SYNC, "additional_services", service=GATEWAY), "additional_services[0].service")
case("additional_services registry_checkpoints outside HKLM", M,
     in_list(CLUSTER_WITH_SYNC, "additional_services", registry_checkpoints=["SOFTWARE\\A", "HKCU:\\Software\\B"]),
     "additional_services[0].registry_checkpoints[1]")
case("additional_services registry_checkpoints is a mapping", M,
     in_list(CLUSTER_WITH_SYNC, "additional_services", registry_checkpoints={"key": "SOFTWARE\\A"}),
     "additional_services[0].registry_checkpoints")
case("additional_services depends_on has an empty entry", M,
     in_list(CLUSTER_WITH_SYNC, "additional_services", depends_on=[""]), "additional_services[0].depends_on[0]")
case("additional_services depends_on its own service", M,
     in_list(CLUSTER_WITH_SYNC, "additional_services", depends_on=["casync"]), "additional_services[0].depends_on[0]",
     fragment="itself")
case("additional_services depend on each other", M,
     with_options(CLUSTER, additional_services=[{"service": "CASync", "depends_on": ["CAThird"]},
                                                {"service": "CAThird", "depends_on": ["CASync"]}]),
     "additional_services[0].depends_on", fragment="circle")
case("additional_services depends_on its own resource", M,
     in_list(CLUSTER_WITH_SYNC, "additional_services", depends_on=["Keyfactor CA Sync"]), "additional_services[0].depends_on[0]",
     host="a service's resource is named after its display name, which only the node knows", probe=CLUSTER_PROBE,
     fragment="itself")
case("additional_services depends_on a name with brackets", M,
     in_list(CLUSTER_WITH_SYNC, "additional_services", depends_on=["Cluster Disk [2]"]), "additional_services[0].depends_on[0]")
case("additional_services depends_on names no resource", M,
     in_list(CLUSTER_WITH_SYNC, "additional_services", depends_on=["Cluster Disk 7"]), "additional_services[0].depends_on",
     host="the role's resources are known only once the cluster is probed", probe=CLUSTER_PROBE)
case("unknown additional_services option", M, in_list(CLUSTER_WITH_SYNC, "additional_services", startup="auto"),
     "additional_services[0].startup")
case("owner_node is blank", M, with_options(CLUSTER, owner_node=" "), "owner_node")
case("owner_node is not a node", M, with_options(CLUSTER, owner_node="GW09"), "owner_node",
     host="only the cluster knows its nodes", probe=CLUSTER_PROBE)
case("owner_node is down", M, with_options(CLUSTER, owner_node="GW02"), "owner_node",
     host="only the cluster knows its nodes' state", probe=CLUSTER_PROBE)
case("online_timeout is zero", M, with_options(CLUSTER, online_timeout=0), "online_timeout")
case("online_timeout is over an hour", M, with_options(CLUSTER, online_timeout=3601), "online_timeout")
case("online_timeout is text", M, with_options(CLUSTER, online_timeout="two minutes"), "online_timeout")
case("state unknown", M, with_options(CLUSTER, state="online"), "state")
case("unknown option", M, with_options(CLUSTER, role_name="CloudGateway"), "role_name")

# readiness_info: requirements[] with kind and the options each kind needs ---------------------------------------------------
M = "readiness_info"
LOGS = "C:\\Keyfactor\\logs"


def requirement(kind: str, **options) -> dict:
    """A task with one requirement of that kind."""
    return {"requirements": [{"kind": kind, **options}]}


R_RIGHT = requirement("user_right", right="SeServiceLogonRight", account=NS)
R_GROUP = requirement("group_member", group="Administrators", account=SVC)
R_DIRECTORY = requirement("directory_access", path=LOGS, account="BUILTIN\\Users")
R_FEATURES = requirement("features", features=["Web-Server", "Web-Asp-Net45"])
R_POOL = requirement("app_pool", pool="KeyfactorPortal", identity_type="ApplicationPoolIdentity")
R_CERTIFICATE = requirement("certificate", thumbprint=THUMBPRINT)
R_PFX = requirement("certificate", pfx_content=Pki("pfx_b64"), pfx_password=PASSWORD)
R_KEY = requirement("key_access", thumbprint=THUMBPRINT, account=NS)
R_SERIAL = requirement("registry_serial", thumbprint=THUMBPRINT)
R_SERVICE = requirement("service_installed", service=GATEWAY)
R_ROLE = requirement("cluster_role", role="CloudGateway", services=[GATEWAY], checkpoints=["SOFTWARE\\Keyfactor"])
R_TWO = {"requirements": [{"kind": "co_location"}, {"kind": "user_right", "right": "SeServiceLogonRight", "account": NS}]}
R = "requirements"
case("requirements missing", M, {}, "requirements", fragment="missing required")
case("requirements is a mapping", M, {"requirements": {"kind": "co_location"}}, "requirements")
case("requirements element is a kind name", M, {"requirements": ["co_location"]}, "requirements")
case("kind missing", M, {"requirements": [{"allow": True}]}, "requirements[0].kind", fragment="required")
case("kind missing in the second requirement", M, {"requirements": [{"kind": "co_location"}, {"right": "SeServiceLogonRight"}]},
     "requirements[1].kind")
case("kind unknown", M, requirement("local_admin"), "requirements[0].kind")
case("kind has the wrong case", M, in_list(R_RIGHT, R, kind="User_Right"), "requirements[0].kind")
case("kind is a list", M, requirement(["co_location"]), "requirements[0].kind")
case("profile unknown", M, in_list(R_RIGHT, R, profile="gateway"), "requirements[0].profile")
case("profile has the wrong case", M, in_list(R_RIGHT, R, profile="Portal"), "requirements[0].profile")
case("source is a list", M, in_list(R_RIGHT, R, source=["001-07"]), "requirements[0].source")
case("fix is a mapping", M, in_list(R_RIGHT, R, fix={"role": "services"}), "requirements[0].fix")
case("group_member without group", M, in_list(R_GROUP, R, group=DROP), "requirements[0].group", fragment="missing")
case("group_member without account", M, in_list(R_GROUP, R, account=DROP), "requirements[0].account", fragment="missing")
case("group is empty", M, in_list(R_GROUP, R, group=""), "requirements[0].group")
case("group has two backslashes", M, in_list(R_GROUP, R, group="BUILTIN\\\\Administrators"), "requirements[0].group")
case("group SID is malformed", M, in_list(R_GROUP, R, group="S-1-5-32-"), "requirements[0].group", fragment="SID")
case("group is a list", M, in_list(R_GROUP, R, group=["Administrators"]), "requirements[0].group")
case("user_right without right", M, in_list(R_RIGHT, R, right=DROP), "requirements[0].right", fragment="missing")
case("user_right without account", M, in_list(R_RIGHT, R, account=DROP), "requirements[0].account", fragment="missing")
case("user_right without account in the second requirement", M, in_list(R_TWO, R, 1, account=DROP), "requirements[1].account")
case("right is an unknown constant", M, in_list(R_RIGHT, R, right="SeLogonAsServicePrivilege"), "requirements[0].right")
case("right is misspelt", M, in_list(R_RIGHT, R, right="SeServiceLogonRights"), "requirements[0].right")
case("right is named in prose", M, in_list(R_RIGHT, R, right="Log on as a service"), "requirements[0].right")
case("right is empty", M, in_list(R_RIGHT, R, right=""), "requirements[0].right")
case("right is a list", M, in_list(R_RIGHT, R, right=["SeServiceLogonRight"]), "requirements[0].right")
case("account is empty", M, in_list(R_RIGHT, R, account=""), "requirements[0].account", fragment="empty")
case("account is blank", M, in_list(R_RIGHT, R, account="   "), "requirements[0].account", fragment="empty")
case("account has an empty user part", M, in_list(R_RIGHT, R, account="CONTOSO\\"), "requirements[0].account")
case("account has an empty domain part", M, in_list(R_RIGHT, R, account="\\svc_keyfactor"), "requirements[0].account")
case("account has two backslashes", M, in_list(R_TWO, R, 1, account="CONTOSO\\svc\\keyfactor"), "requirements[1].account")
case("account UPN has no domain", M, in_list(R_KEY, R, account="svc_keyfactor@"), "requirements[0].account")
case("account SID is malformed", M, in_list(R_DIRECTORY, R, account="S-1-5-21-abc"), "requirements[0].account", fragment="SID")
case("account has a control character", M, in_list(R_GROUP, R, account="CONTOSO\\svc\tkeyfactor"), "requirements[0].account")
case("account has a forbidden character", M, in_list(R_RIGHT, R, account="CONTOSO\\svc|keyfactor"), "requirements[0].account")
case("account is a mapping", M, in_list(R_RIGHT, R, account={"name": NS}), "requirements[0].account")
case("directory_access without path", M, in_list(R_DIRECTORY, R, path=DROP), "requirements[0].path", fragment="missing")
case("path is blank", M, in_list(R_DIRECTORY, R, path="  "), "requirements[0].path")
case("path is a list", M, in_list(R_DIRECTORY, R, path=[LOGS]), "requirements[0].path")
case("path is relative", M, in_list(R_DIRECTORY, R, path="Keyfactor\\logs"), "requirements[0].path", fragment="absolute")
case("path has no drive", M, in_list(R_DIRECTORY, R, path="\\Keyfactor\\logs"), "requirements[0].path", fragment="absolute")
case("path is drive-relative", M, in_list(R_DIRECTORY, R, path="C:Keyfactor\\logs"), "requirements[0].path", fragment="absolute")
case("file_rights names an unknown right", M, in_list(R_DIRECTORY, R, file_rights=["CreateFiles", "WriteEverything"]),
     "requirements[0].file_rights", fragment="WriteEverything")
case("file_rights names a user right", M, in_list(R_DIRECTORY, R, file_rights=["SeBackupPrivilege"]), "requirements[0].file_rights")
case("file_rights is empty", M, in_list(R_DIRECTORY, R, file_rights=[]), "requirements[0].file_rights")
case("file_rights element is a mapping", M, in_list(R_DIRECTORY, R, file_rights=[{"name": "Modify"}]),
     "requirements[0].file_rights[0]")
case("features without features", M, in_list(R_FEATURES, R, features=DROP), "requirements[0].features", fragment="missing")
case("features is empty", M, in_list(R_FEATURES, R, features=[]), "requirements[0].features")
case("features has only blank names", M, in_list(R_FEATURES, R, features=["", "  "]), "requirements[0].features")
case("features element is a list", M, in_list(R_FEATURES, R, features=[["Web-Server"]]), "requirements[0].features[0]")
case("app_pool without pool", M, in_list(R_POOL, R, pool=DROP), "requirements[0].pool", fragment="missing")
case("app_pool without identity_type", M, in_list(R_POOL, R, identity_type=DROP), "requirements[0].identity_type",
     fragment="missing")
case("pool is blank", M, in_list(R_POOL, R, pool=" "), "requirements[0].pool")
case("pool is a list", M, in_list(R_POOL, R, pool=["KeyfactorPortal"]), "requirements[0].pool")
case("identity_type unknown", M, in_list(R_POOL, R, identity_type="NetworkServices"), "requirements[0].identity_type")
case("identity_type has the wrong case", M, in_list(R_POOL, R, identity_type="specificuser", username=SVC),
     "requirements[0].identity_type")
case("SpecificUser without username", M, in_list(R_POOL, R, identity_type="SpecificUser"), "requirements[0].username")
case("SpecificUser with a blank username", M, in_list(R_POOL, R, identity_type="SpecificUser", username=" "),
     "requirements[0].username")
case("username has two backslashes", M, in_list(R_POOL, R, identity_type="SpecificUser", username="CONTOSO\\svc\\kf"),
     "requirements[0].username")
case("username is a list", M, in_list(R_POOL, R, identity_type="SpecificUser", username=[SVC]), "requirements[0].username")
case("certificate without thumbprint or PFX", M, requirement("certificate"), "requirements[0].thumbprint", fragment="pfx_src")
case("key_access without thumbprint or PFX", M, in_list(R_KEY, R, thumbprint=DROP), "requirements[0].thumbprint")
case("key_access without account", M, in_list(R_KEY, R, account=DROP), "requirements[0].account", fragment="missing")
case("registry_serial without thumbprint or PFX", M, requirement("registry_serial"), "requirements[0].thumbprint")
case("thumbprint is too short", M, in_list(R_CERTIFICATE, R, thumbprint=THUMBPRINT[:-1]), "requirements[0].thumbprint")
case("thumbprint is not hexadecimal", M, in_list(R_KEY, R, thumbprint="G" * 40), "requirements[0].thumbprint")
case("thumbprint is a SHA-256", M, in_list(R_SERIAL, R, thumbprint="AB" * 32), "requirements[0].thumbprint")
case("thumbprint is a subject", M, in_list(R_CERTIFICATE, R, thumbprint="CN=gateway.contoso.com"), "requirements[0].thumbprint")
case("thumbprint is a list", M, in_list(R_CERTIFICATE, R, thumbprint=[THUMBPRINT]), "requirements[0].thumbprint")
case("thumbprint and pfx_src", M, in_list(R_CERTIFICATE, R, pfx_src="gateway.pfx", pfx_password=PASSWORD),
     "requirements[0].thumbprint", fragment="mutually exclusive", secret=PASSWORD)
case("pfx_src and pfx_content", M, in_list(R_PFX, R, pfx_src="gateway.pfx"), "requirements[0].pfx_src",
     fragment="mutually exclusive", secret=PASSWORD)
case("pfx_src is not found", M, requirement("key_access", account=NS, pfx_src="missing.pfx", pfx_password=PASSWORD),
     "requirements[0].pfx_src", secret=PASSWORD)
case("pfx_src is a directory", M, requirement("certificate", pfx_src="pfx_dir", pfx_password=PASSWORD), "requirements[0].pfx_src",
     files={"pfx_dir": DIRECTORY}, secret=PASSWORD)
case("pfx_src is a text file", M, requirement("registry_serial", pfx_src="notes.pfx", pfx_password=PASSWORD),
     "requirements[0].pfx_src", files={"notes.pfx": b"hello\n"}, secret=PASSWORD)
case("pfx_src is a list", M, requirement("certificate", pfx_src=["a.pfx"], pfx_password=PASSWORD), "requirements[0].pfx_src",
     secret=PASSWORD)
case("pfx_content is not base64", M, in_list(R_PFX, R, pfx_content="this is not base64!"), "requirements[0].pfx_content",
     secret=PASSWORD)
case("pfx_content is empty", M, in_list(R_PFX, R, pfx_content=""), "requirements[0].pfx_content", secret=PASSWORD)
case("pfx_content is blank", M, in_list(R_PFX, R, pfx_content=" \n "), "requirements[0].pfx_content", secret=PASSWORD)
case("pfx_content is a DER certificate", M, in_list(R_PFX, R, pfx_content=Pki("leaf_der_b64")), "requirements[0].pfx_content",
     secret=PASSWORD)
case("pfx_content is truncated", M, in_list(R_PFX, R, pfx_content=Pki("pfx", lambda d: _b64(d[: len(d) // 2]))),
     "requirements[0].pfx_content", secret=PASSWORD)
case("pfx_content holds no private key", M, in_list(R_PFX, R, pfx_content=Pki("keyless_pfx_b64")), "requirements[0].pfx_content",
     secret=PASSWORD)
case("pfx_content of the second requirement is not base64", M,
     {"requirements": [R_PFX["requirements"][0], {"kind": "key_access", "account": NS, "pfx_content": "%%%", "pfx_password": PASSWORD}]},
     "requirements[1].pfx_content", secret=PASSWORD)
case("pfx_password is wrong", M, in_list(R_PFX, R, pfx_password="Wr0ng-Pa55word!"), "requirements[0].pfx_password",
     secret="Wr0ng-Pa55word!")
case("pfx_password has the wrong case", M, in_list(R_PFX, R, pfx_password=PASSWORD.lower()), "requirements[0].pfx_password",
     secret=PASSWORD.lower())
case("pfx_password is wrong for a PFX file", M, requirement("key_access", account=NS, pfx_src="gateway.pfx", pfx_password="N0t-It!"),
     "requirements[0].pfx_password", files={"gateway.pfx": "pfx"}, secret="N0t-It!")
case("pfx_password missing for an encrypted PFX", M, in_list(R_PFX, R, pfx_password=DROP), "requirements[0].pfx_password")
case("pfx_password is a list", M, in_list(R_PFX, R, pfx_password=[PASSWORD]), "requirements[0].pfx_password", secret=PASSWORD)
case("require_key is not a boolean", M, in_list(R_CERTIFICATE, R, require_key="if present"), "requirements[0].require_key")
case("expiry_warning_days is negative", M, in_list(R_CERTIFICATE, R, expiry_warning_days=-1), "requirements[0].expiry_warning_days")
case("expiry_warning_days beyond ten years", M, in_list(R_PFX, R, expiry_warning_days=3651), "requirements[0].expiry_warning_days",
     secret=PASSWORD)
case("expiry_warning_days is text", M, in_list(R_CERTIFICATE, R, expiry_warning_days="a month"),
     "requirements[0].expiry_warning_days")
case("store is empty", M, in_list(R_CERTIFICATE, R, store=""), "requirements[0].store")
case("store is a list", M, in_list(R_KEY, R, store=["My"]), "requirements[0].store")
case("access unknown", M, in_list(R_KEY, R, access="write"), "requirements[0].access")
case("access has the wrong case", M, in_list(R_KEY, R, access="Read"), "requirements[0].access")
case("access is full", M, in_list(R_KEY, R, access="full"), "requirements[0].access")
case("registry_key under HKEY_CURRENT_USER", M, in_list(R_SERIAL, R, registry_key="HKCU:\\Software\\Keyfactor"),
     "requirements[0].registry_key")
case("registry_key under HKEY_USERS", M, in_list(R_SERIAL, R, registry_key="Registry::HKEY_USERS\\.DEFAULT\\Keyfactor"),
     "requirements[0].registry_key")
case("registry_key is empty", M, in_list(R_SERIAL, R, registry_key=""), "requirements[0].registry_key")
case("registry_key is a file path", M, in_list(R_SERIAL, R, registry_key="C:\\Program Files\\Keyfactor"), "requirements[0].registry_key")
case("registry_key is directly under HKLM", M, in_list(R_SERIAL, R, registry_key="HKLM:\\Keyfactor\\Parameters"),
     "requirements[0].registry_key", fragment="directly under HKEY_LOCAL_MACHINE")
case("value_name is empty", M, in_list(R_SERIAL, R, value_name=""), "requirements[0].value_name")
case("value_name is a list", M, in_list(R_SERIAL, R, value_name=["EncryptSerialNumber"]), "requirements[0].value_name")
case("service_installed without service", M, in_list(R_SERVICE, R, service=DROP), "requirements[0].service", fragment="missing")
case("service is blank", M, in_list(R_SERVICE, R, service="  "), "requirements[0].service")
case("service is a list", M, in_list(R_SERVICE, R, service=[GATEWAY]), "requirements[0].service")
case("cluster_role without role", M, in_list(R_ROLE, R, role=DROP), "requirements[0].role", fragment="missing")
case("role is empty", M, in_list(R_ROLE, R, role=""), "requirements[0].role")
case("role is a mapping", M, in_list(R_ROLE, R, role={"name": "CloudGateway"}), "requirements[0].role")
case("role has a space", M, in_list(R_ROLE, R, role="Cloud Gateway"), "requirements[0].role", fragment="' '")
case("role is longer than a NetBIOS name", M, in_list(R_ROLE, R, role="KeyfactorGateway"), "requirements[0].role",
     fragment="16 characters")
case("services has a blank entry", M, in_list(R_ROLE, R, services=[GATEWAY, " "]), "requirements[0].services[1]")
case("services element is a mapping", M, in_list(R_ROLE, R, services=[{"name": GATEWAY}]), "requirements[0].services[0]")
case("checkpoints under HKEY_CURRENT_USER", M, in_list(R_ROLE, R, checkpoints=["HKCU\\Software\\Keyfactor"]),
     "requirements[0].checkpoints[0]")
case("checkpoints has an empty entry", M, in_list(R_ROLE, R, checkpoints=["SOFTWARE\\Keyfactor", ""]), "requirements[0].checkpoints[1]")
case("checkpoints directly under HKLM", M, in_list(R_ROLE, R, checkpoints=["Keyfactor\\Parameters"]),
     "requirements[0].checkpoints[0]", fragment="directly under HKEY_LOCAL_MACHINE")
case("checkpoints is a mapping", M, in_list(R_ROLE, R, checkpoints={"key": "SOFTWARE\\Keyfactor"}), "requirements[0].checkpoints")
case("allow is not a boolean", M, requirement("co_location", allow="in the lab"), "requirements[0].allow")
case("allow on a kind other than co_location", M, in_list(R_RIGHT, R, allow=True), "requirements[0].allow",
     fragment="co_location")
case("allow false on a kind other than co_location", M, in_list(R_TWO, R, 1, allow=False), "requirements[1].allow",
     fragment="co_location")
case("unknown requirements option", M, in_list(R_RIGHT, R, principal=NS), "requirements[0].principal")
case("unknown option", M, with_options(R_RIGHT, profile="services"), "profile")


# snapshot: the option every module that changes the host shares ------------------------------------------------------------
NOT_A_SNAPSHOT = {"changed": False, "reads": []}
for module_name, base in (("user_rights", USER_RIGHTS), ("iis_app_pools", POOLS), ("pfx_import", PFX),
                          ("private_key_acl", KEY_ACL), ("cert_serial_registry", SERIAL), ("ca_certificates", CA),
                          ("cluster_generic_service_role", CLUSTER)):
    case("snapshot is not a host_snapshot result", module_name, with_options(base, snapshot=NOT_A_SNAPSHOT), "snapshot",
         fragment="host_snapshot")
    case("snapshot is text", module_name, with_options(base, snapshot="common_snapshot"), "snapshot")

# host_snapshot: reads[] of module and options, checks by name -------------------------------------------------------------
M = "host_snapshot"
READ = {"module": "user_rights", "options": USER_RIGHTS}
SNAPSHOT = {"reads": [READ]}
case("reads is a mapping", M, {"reads": READ}, "reads")
case("reads element is a module name", M, {"reads": ["user_rights"]}, "reads")
case("module missing", M, in_list(SNAPSHOT, "reads", module=DROP), "reads[0].module", fragment="required")
case("module is readiness_info", M, in_list(SNAPSHOT, "reads", module="readiness_info"), "reads[0].module")
case("module has the collection's name", M, in_list(SNAPSHOT, "reads", module="pkiops.keyfactor_command.user_rights"),
     "reads[0].module")
case("module has the wrong case", M, in_list(SNAPSHOT, "reads", module="User_Rights"), "reads[0].module")
case("options missing", M, in_list(SNAPSHOT, "reads", options=DROP), "reads[0].options", fragment="required")
case("options is a list", M, in_list(SNAPSHOT, "reads", options=[USER_RIGHTS]), "reads[0].options")
case("options name an unknown right", M, {"reads": [READ, {"module": "user_rights", "options": {"rights": {"SeLogonRight": [NS]}}}]},
     "reads[1]", fragment="(user_rights): rights")
case("options lack a required option", M, {"reads": [{"module": "pfx_import", "options": {"password": PASSWORD}}]}, "reads[0]",
     fragment="(pfx_import)", secret=PASSWORD)
case("options hold a wrong PFX password", M,
     {"reads": [{"module": "pfx_import", "options": {"content": Pki("pfx_b64"), "password": "Wr0ng-Matrix-Pa55!"}}]},
     "reads[0]", fragment="(pfx_import)", secret="Wr0ng-Matrix-Pa55!")
case("unknown reads option", M, in_list(SNAPSHOT, "reads", retries=2), "reads[0].retries")
case("about is two lines", M, in_list(SNAPSHOT, "reads", about="the rights\nof the portal"), "reads[0].about")
case("names is a list", M, in_list(SNAPSHOT, "reads", names=["rights"]), "reads[0].names")
case("names maps an option to a list", M, in_list(SNAPSHOT, "reads", names={"rights": ["portal_rights"]}), "reads[0].names",
     fragment="rights must each name a variable")
VALIDATE = {"validate": [{"module": "pfx_import", "options": {"content": Pki("pfx_b64"), "password": "Wr0ng-Matrix-Pa55!"},
                          "about": "portal_encryption_pfx_content", "names": {"password": "portal_encryption_pfx_password"}}]}
case("validate is a mapping", M, {"validate": READ}, "validate")
case("validate module missing", M, in_list(VALIDATE, "validate", module=DROP), "validate[0].module", fragment="required")
case("validate module is readiness_info", M, in_list(VALIDATE, "validate", module="readiness_info"), "validate[0].module")
case("validate options missing", M, in_list(VALIDATE, "validate", options=DROP), "validate[0].options", fragment="required")
case("validate about is two lines", M, in_list(VALIDATE, "validate", about="a\nb"), "validate[0].about")
case("validate names is a string", M, in_list(VALIDATE, "validate", names="password"), "validate[0].names")
# A task still to come is refused in the inventory's words: the variables its options came from.
case("validate options hold a wrong PFX password", M, VALIDATE, "portal_encryption_pfx_password",
     fragment="portal_encryption_pfx_content: portal_encryption_pfx_password: does not open", secret="Wr0ng-Matrix-Pa55!")
case("validate options name an unknown right before any read", M,
     {"reads": [READ], "validate": [{"module": "user_rights", "options": {"rights": {"SeLogonRight": [NS]}}}]},
     "validate[0]", fragment="(user_rights): rights")
case("checks is a list", M, {"checks": [{"kind": "co_location"}]}, "checks")
case("a check is one requirement, not a list", M, {"checks": {"log": {"kind": "directory_access", "path": LOGS}}}, "checks.log")
case("a check has an unknown kind", M, {"checks": {"log": [{"kind": "directory"}]}}, "checks.log",
     fragment="requirements[0].kind")
case("unknown option", M, with_options(SNAPSHOT, retries=2), "retries")


# --- running a case ----------------------------------------------------------------------------------------------------------


def names_option(message: str, option: str) -> bool:
    """Whether the message names the option: by its name, or for a suboption as parent[index].sub or parent[index] ... sub."""
    if option in message and re.search(rf"(?<![\w.\[]){re.escape(option)}(?![\w])", message):
        return True
    found = re.fullmatch(r"(?P<element>.+\[\d+\])\.(?P<sub>\w+)", option)
    if not found or found["element"] not in message:
        return False
    after = message[message.index(found["element"]) + len(found["element"]):]
    return re.search(rf"(?<![\w]){re.escape(found['sub'])}(?![\w])", after) is not None


@pytest.fixture(name="run_case")
def fixture_run_case(monkeypatch, tmp_path, pki):
    monkeypatch.setattr(_windows_task.time, "sleep", lambda _seconds: None)

    def run(bad: Case) -> tuple[dict, WinPowerShellReplay]:
        cls = MODULES[bad.module]
        task = _task(cls, resolve(bad.args, pki))
        action = cls(task, _connection(), _play_context(), loader=None, templar=None, shared_loader_obj=None)
        action._load_name = f"{_windows_task.COLLECTION}.{cls.definition.name}"  # pylint: disable=protected-access
        replay = WinPowerShellReplay()
        if bad.probe is not None:
            replay.queue(win_powershell_ok(bad.probe))
        monkeypatch.setattr(action, "_execute_module", replay)
        monkeypatch.setattr(action, "_low_level_execute_command", replay.low_level)
        monkeypatch.setattr(action, "_find_needle", _files(tmp_path, bad.files or {}, pki))
        return action.run(task_vars={}), replay

    return run


def _task(cls, args: dict):
    task = MagicMock()
    task.args, task.async_val, task.check_mode, task.diff, task.action, task.become = args, 0, False, False, cls.definition.name, False
    task.loop, task.loop_with, task.delegate_to, task.run_once = None, None, None, False
    return task


def _connection():
    connection = MagicMock()
    connection._shell.tmpdir = None  # pylint: disable=protected-access
    connection._shell._encode_script = PowerShellShell()._encode_script  # pylint: disable=protected-access
    return connection


def _play_context():
    play_context = MagicMock()
    play_context.check_mode, play_context.diff = False, False
    play_context.become, play_context.become_method, play_context.become_user = False, None, None
    return play_context


def _files(tmp_path, files: dict, pki: dict):
    """ActionBase._find_needle over tmp_path: only the files the case lays out exist."""
    for name, content in files.items():
        path = tmp_path / name
        if content is DIRECTORY:
            path.mkdir()
        else:
            data = pki[content] if isinstance(content, str) else content
            path.write_bytes(data.encode("ascii") if isinstance(data, str) else data)

    def find_needle(dirname, needle):
        path = tmp_path / str(needle)
        if not needle or not path.exists():
            raise AnsibleError(f"Could not find or access '{needle}' on the Ansible Controller.")
        return str(path)

    return find_needle


@pytest.mark.parametrize("bad", CASES, ids=[f"{c.module}: {c.id}" for c in CASES])
def test_bad_input_fails_naming_its_option(run_case, bad: Case):
    record("bad_input", module=bad.module, option=bad.option, case=bad.id)
    result, replay = run_case(bad)
    message = str(result.get("msg", ""))
    assert result.get("failed") is True, f"the task did not fail: {result}"
    assert result.get("changed") is False
    assert message.startswith(f"{_windows_task.COLLECTION}.{bad.module}: "), message
    assert names_option(message, bad.option), f"the message does not name {bad.option}: {message}"
    if bad.fragment:
        assert bad.fragment in message, message
    if bad.host:
        # Only the host can tell (see bad.host): one read-only probe, never an apply.
        assert replay.modes == ["probe"], replay.modes
    else:
        assert replay.calls == [], f"the controller could have refused this without the host: {replay.modes}"
    if bad.secret:
        assert bad.secret not in json.dumps(result, default=str)
        assert bad.secret not in json.dumps([c["module_args"] for c in replay.calls], default=str)


def test_the_matrix_covers_every_module_and_every_option():
    """Every option and suboption of every module (each action plugin in plugins/action) has a case, and every module a fair share."""
    assert {"user_rights", "pfx_import", "readiness_info"} <= set(ACTION_NAMES)
    assert set(MODULES) == {path.stem for path in ACTION_DIR.glob("*.py") if not path.stem.startswith("_")}
    assert {c.module for c in CASES} == set(MODULES)
    assert len(CASES) >= 120
    for module, cls in MODULES.items():
        assert cls.definition.name == module
        wanted = set()
        for name, option in cls.definition.argument_spec.items():
            wanted.add(name)
            wanted.update(f"{name}.{sub}" for sub in option.get("options", {}))
        covered = {re.sub(r"\[\d+\]", "", c.option) for c in CASES if c.module == module}
        assert wanted <= covered, f"{module}: no case for {sorted(wanted - covered)}"
        assert sum(c.module == module for c in CASES) >= 10, module
