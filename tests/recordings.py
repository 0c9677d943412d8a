"""Probe results recorded on real Windows hosts (tests/windows/recorded), and what the unit tests do with them.

The Pester tests of tests/windows save a payload's probe result, with the
parameters it was run with, when PKIOPS_RECORD=1 (tests/windows/README.md
documents the format). Each recording is replayed two ways:

- to the controller: :func:`plan_recording` hands the recorded result to the
  planner of that module, with options that ask for exactly what the probe
  read. The planner may refuse the task (PlanError: the host is not as the
  task needs it); it must not find the answer malformed
  (UnexpectedProbeResult), nor fail in any other way.
- to the simulator: :func:`model_result` runs the simulator's model of the
  payload with the same parameters, on a simulated host seeded from the
  recording, and :func:`shape_differences` compares the model's answer with
  the recording's: the same keys at every level, the same JSON types, list
  elements compared by their shapes.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import functools
import importlib
import json
import pathlib
import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from winsim import iis, models, win_powershell
from winsim.accounts import Directory, resolve_as_payload
from winsim.certificates import DEFAULT_KEY_ACL, create_registry_key, store
from winsim.cluster import complete as complete_cluster
from winsim.errors import HostError
from winsim.host import Host
from winsim.manifest import ModuleInvocation
from winsim.passwords import hash_password
from winsim.payloads.user_rights import _KNOWN_RIGHTS
from winsim.state import complete

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _iis_app_pools, _readiness, _user_rights
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._ca_certificates import CaCertificate
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._certificates import Pfx
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._cluster_generic_service_role import check_params, plan_role
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import Context, definition_of
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._payloads import compressed_payload
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    PlanError,
    UnexpectedProbeResult,
)
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source

REPO = pathlib.Path(__file__).resolve().parent.parent
RECORDED = REPO / "tests" / "windows" / "recorded"
FORMAT = 1
# host_snapshot's Scripts are recorded by name; the replay sends the repository's payloads.
SCRIPT_MARKER = "<compressed payload_source>"
_REQUIRED = {
    "format": int, "payload": str, "case": str, "recorded_at": str, "host": dict, "check_mode": bool, "depth": int,
    "parameters": dict, "sensitive_parameters": list, "changed": bool, "result": (dict, type(None)),
}


class RecordingError(Exception):
    """A recording file is not in the documented format, or the replay cannot run it."""


@dataclasses.dataclass(frozen=True)
class Recording:
    path: pathlib.Path
    payload: str
    case: str
    host: dict
    check_mode: bool
    depth: int
    parameters: dict
    sensitive_parameters: tuple
    result: dict


def load(path: pathlib.Path) -> Recording:
    """A recording file, checked against the format tests/windows/README.md documents."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RecordingError(f"{path}: not readable as JSON: {error}") from None
    if not isinstance(document, dict):
        raise RecordingError(f"{path}: a recording is a JSON object")
    for key, kind in _REQUIRED.items():
        if key not in document:
            raise RecordingError(f"{path}: has no {key!r}")
        if not isinstance(document[key], kind) or (kind is int and isinstance(document[key], bool)):
            raise RecordingError(f"{path}: {key!r} has the wrong type ({type(document[key]).__name__})")
    if document["format"] != FORMAT:
        raise RecordingError(f"{path}: format {document['format']}; this replay reads format {FORMAT}")
    if document["payload"] != path.parent.name:
        raise RecordingError(f"{path}: records payload {document['payload']!r} in the folder of {path.parent.name!r}")
    if document["case"] != path.stem:
        raise RecordingError(f"{path}: records case {document['case']!r} in the file {path.name}")
    if document["parameters"].get("Mode") != "probe":
        raise RecordingError(f"{path}: only probes are recorded; Mode is {document['parameters'].get('Mode')!r}")
    if not isinstance(document["result"], dict):
        raise RecordingError(f"{path}: the probe's result is not a JSON object")
    if not all(isinstance(name, str) for name in document["sensitive_parameters"]):
        raise RecordingError(f"{path}: sensitive_parameters lists parameter names")
    return Recording(path=path, payload=document["payload"], case=document["case"], host=document["host"],
                     check_mode=document["check_mode"], depth=document["depth"], parameters=document["parameters"],
                     sensitive_parameters=tuple(document["sensitive_parameters"]), result=document["result"])


def recording_files(directory: pathlib.Path = RECORDED) -> list[pathlib.Path]:
    return sorted(directory.glob("*/*.json")) if directory.is_dir() else []


# --- shapes ------------------------------------------------------------------------------------------------------------


def json_type(value) -> str:
    """The JSON type of a decoded value: null, boolean, number, string, list or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def shape_differences(recorded, answered, where: str = "result") -> list[str]:
    """Where answered differs in shape from recorded; none when they have the same shape.

    Two objects have the same shape when they have the same keys and each key's
    values have the same shape; scalars when they have the same JSON type (an
    integer and a fraction are both numbers); two lists when every element of
    each has the shape of some element of the other. An empty list says nothing
    about its elements, so it has the shape of any list.
    """
    recorded_type, answered_type = json_type(recorded), json_type(answered)
    if recorded_type != answered_type:
        return [f"{where}: the recording has a {recorded_type}, the model a {answered_type}"]
    if recorded_type == "object":
        found = []
        only_recorded = sorted(set(recorded) - set(answered))
        only_answered = sorted(set(answered) - set(recorded))
        if only_recorded:
            found.append(f"{where}: keys only in the recording: {', '.join(only_recorded)}")
        if only_answered:
            found.append(f"{where}: keys only in the model's answer: {', '.join(only_answered)}")
        for key in sorted(set(recorded) & set(answered)):
            found += shape_differences(recorded[key], answered[key], f"{where}.{key}")
        return found
    if recorded_type == "list" and recorded and answered:
        found = []
        for index, element in enumerate(recorded):
            if not any(not shape_differences(element, other) for other in answered):
                found.append(f"{where}[{index}] of the recording has no counterpart in the model's answer: "
                             + "; ".join(shape_differences(element, answered[0], f"{where}[{index}]")))
        for index, element in enumerate(answered):
            if not any(not shape_differences(other, element) for other in recorded):
                found.append(f"{where}[{index}] of the model's answer has no counterpart in the recording: "
                             + "; ".join(shape_differences(recorded[0], element, f"{where}[{index}]")))
        return found
    return []


# --- replay to the controller's planners ---------------------------------------------------------------------------------


def _plan(module: str, params: dict, result: dict):
    """The module's plan on the recorded result, as a task in check mode would make it."""
    return definition_of(module).plan(params, result, Context(check_mode=True))


def _validated(module: str, options: dict) -> dict:
    """Options as the module's argument spec completes them; a spec error is a fault of the replay, not the host."""
    spec = importlib.import_module(f"ansible_collections.pkiops.keyfactor_command.plugins.module_utils._{module}_spec")
    outcome = ArgumentSpecValidator(spec.ARGUMENT_SPEC, **spec.SPEC_RULES).validate(options)
    if outcome.error_messages:
        raise RecordingError(f"the replay's options for {module} are not valid: {'; '.join(outcome.error_messages)}")
    return outcome.validated_parameters


def _plan_user_rights(parameters: dict, result: dict):
    accounts = list(parameters.get("Accounts") or [])
    rights = _user_rights.normalise_rights({right: accounts for right in parameters.get("Rights") or []})
    return _user_rights.plan(rights, "add", result)


def _plan_iis_app_pools(parameters: dict, result: dict):
    options = _validated("iis_app_pools", {"pools": [{"name": name} for name in parameters.get("Names") or []]})
    return _iis_app_pools.plan(_iis_app_pools.normalise_pools(options["pools"]), result, check_mode=True)


def _grants(principals) -> list[dict]:
    return [{"principal": principal, "access": "read", "state": "present"} for principal in principals or []]


def _plan_pfx_import(parameters: dict, result: dict):
    now = datetime.datetime.now(datetime.timezone.utc)
    # The planner sends a CA certificate missing from its store as DER; any DER stands in for the recorded one.
    chain = tuple({"thumbprint": entry["thumbprint"], "subject": "CN=recorded", "store": entry["store"],
                   "der": base64.b64decode(_der_with_serial("01"))}
                  for entry in parameters.get("Chain") or [])
    pfx = Pfx(thumbprint=parameters["Thumbprint"], serial_number="01", subject="CN=recorded", issuer="CN=recorded",
              not_before=now - datetime.timedelta(days=1), not_after=now + datetime.timedelta(days=365),
              key_algorithm="RSA", key_size=2048, key_usage=("key_encipherment",), extended_key_usage=(), chain=chain)
    params = {"pfx": pfx, "store_name": parameters.get("StoreName", "My"), "chain": "install" if chain else "skip",
              "exportable": False, "key_access": _grants(parameters.get("Principals")), "requirement_warnings": [],
              "pfx_base64": "", "password": ""}
    return _plan("pfx_import", params, result)


def _plan_private_key_acl(parameters: dict, result: dict):
    params = {"store_name": parameters.get("StoreName", "My"), "thumbprint": parameters["Thumbprint"],
              "key_access": _grants(parameters.get("Principals"))}
    return _plan("private_key_acl", params, result)


def _plan_cert_serial_registry(parameters: dict, result: dict):
    params = {"store_name": parameters.get("StoreName", "My"), "thumbprint": parameters["Thumbprint"],
              "key": parameters["Key"], "value_name": parameters["ValueName"]}
    return _plan("cert_serial_registry", params, result)


def _plan_ca_certificates(parameters: dict, result: dict):
    now = datetime.datetime.now(datetime.timezone.utc)
    wanted = [CaCertificate(thumbprint=entry["thumbprint"], subject="CN=recorded", issuer="CN=recorded",
                            not_before=now - datetime.timedelta(days=1), not_after=now + datetime.timedelta(days=365),
                            store=entry["store"], der=b"")
              for entry in parameters.get("Certificates") or []]
    return _plan("ca_certificates", {"wanted": wanted, "state": "present"}, result)


def _plan_cluster_generic_service_role(parameters: dict, result: dict):
    services = list(parameters.get("Services") or [])
    options = {"name": parameters["Name"], "service": services[0] if services else None, "cluster": None,
               "static_addresses": [], "storage": list(parameters.get("Disks") or []), "registry_checkpoints": [],
               "registry_checkpoints_exclusive": False,
               "additional_services": [{"service": service, "registry_checkpoints": [], "depends_on": []}
                                       for service in services[1:]],
               "owner_node": None, "online_timeout": 120, "state": "present" if services else "absent"}
    return plan_role(check_params(options), result)


def readiness_requirements(parameters: dict) -> list[dict]:
    """Requirements that ask about everything a readiness_info probe read, each part judged once."""
    accounts = [a for a in parameters.get("Accounts") or [] if a]
    account = {"account": accounts[0]} if accounts else {}
    certificates = list(parameters.get("Certificates") or [])
    roles = list(parameters.get("ClusterRoles") or [])
    requirements: list[dict] = []
    if account:
        requirements += [{"kind": "user_right", "right": right, **account} for right in parameters.get("Rights") or []]
        requirements += [{"kind": "group_member", "group": group, **account} for group in parameters.get("Groups") or []]
    requirements += [{"kind": "directory_access", "path": path, **account} for path in parameters.get("Paths") or []]
    if parameters.get("Features"):
        requirements.append({"kind": "features", "features": list(parameters["Features"])})
    requirements += [{"kind": "app_pool", "pool": pool, "identity_type": "ApplicationPoolIdentity"}
                     for pool in parameters.get("Pools") or []]
    for certificate in certificates:
        requirements.append({"kind": "certificate", "store": certificate["store"], "thumbprint": certificate["thumbprint"]})
        if account:
            requirements.append({"kind": "key_access", "store": certificate["store"],
                                 "thumbprint": certificate["thumbprint"], **account})
    if certificates:
        requirements += [{"kind": "registry_serial", "registry_key": value["key"], "value_name": value["name"],
                          "store": certificates[0]["store"], "thumbprint": certificates[0]["thumbprint"]}
                         for value in parameters.get("RegistryValues") or []]
    services = list(parameters.get("Services") or [])
    requirements += [{"kind": "cluster_role", "role": role, "services": services} for role in roles]
    if not roles:
        requirements += [{"kind": "service_installed", "service": service} for service in services]
    if parameters.get("CoLocation"):
        requirements.append({"kind": "co_location"})
    return requirements


def _plan_readiness_info(parameters: dict, result: dict):
    def no_pfx(requirement, where):
        raise RecordingError(f"{where}: the replay names certificates by thumbprint only")

    options = _validated("readiness_info", {"requirements": readiness_requirements(parameters)})
    requirements = _readiness.normalise(options["requirements"], no_pfx)
    return _readiness.evaluate(requirements, result, datetime.datetime.now(datetime.timezone.utc))


def _plan_host_snapshot(parameters: dict, result: dict):
    reads, answers = parameters.get("Reads") or [], result.get("reads")
    if not isinstance(answers, list) or len(answers) != len(reads):
        raise UnexpectedProbeResult("host_snapshot answered for a different number of reads than it was asked")
    outcomes = []
    for read, answer in zip(reads, answers):
        if not isinstance(answer, dict) or set(answer) != {"result", "error"}:
            raise UnexpectedProbeResult("a read's answer is not {result, error}")
        if answer["error"] is None:
            outcomes.append(plan_payload(read["module"], {**read["parameters"], "Mode": "probe"}, answer["result"]))
    return outcomes


PLANNERS = {
    "user_rights": _plan_user_rights,
    "iis_app_pools": _plan_iis_app_pools,
    "pfx_import": _plan_pfx_import,
    "private_key_acl": _plan_private_key_acl,
    "cert_serial_registry": _plan_cert_serial_registry,
    "ca_certificates": _plan_ca_certificates,
    "cluster_generic_service_role": _plan_cluster_generic_service_role,
    "readiness_info": _plan_readiness_info,
    "host_snapshot": _plan_host_snapshot,
}


def plan_payload(payload: str, parameters: dict, result: dict):
    """The planner's outcome for a probe result: a Plan (or, for host_snapshot, a list), or the PlanError it raised.

    UnexpectedProbeResult, and any error other than PlanError, propagates: the
    planner could not read the answer.
    """
    if payload not in PLANNERS:
        raise RecordingError(f"no planner replay for the payload {payload!r}")
    if not isinstance(result, dict):
        raise UnexpectedProbeResult(f"{payload}'s answer is not an object")
    try:
        return PLANNERS[payload](parameters, result)
    except PlanError as refusal:
        return refusal


def plan_recording(recording: Recording):
    return plan_payload(recording.payload, recording.parameters, recording.result)


# --- replay to the simulator's models ------------------------------------------------------------------------------------

_DEPENDENCY = re.compile(r"\[([^\]]+)\]")
_WELL_KNOWN_AUTHORITIES = {"", "BUILTIN", "NT AUTHORITY", "NT SERVICE", "IIS APPPOOL"}
# What a value the recording does not show is seeded as.
_PLACEHOLDER_NOT_AFTER = "2030-01-01T00:00:00+00:00"


class _Seed:
    """A simulated host's state, built up from what a recording says the real host had."""

    def __init__(self, host_facts: dict):
        computer = str(host_facts.get("computer_name") or "WINSIM").upper()[:15]
        self.state = complete({"host": {"computer_name": computer}}, computer)
        self.cluster: dict | None = None
        self._domain_named = False

    @property
    def computer(self) -> str:
        return self.state["host"]["computer_name"]

    def directory(self):
        return Directory(self.state)

    def principal(self, name, sid, kind: str = "user") -> None:
        """Makes name resolve to sid, as it did on the recorded host."""
        if not isinstance(name, str) or not isinstance(sid, str) or not name or name.upper() == sid.upper():
            return
        directory = self.directory()
        known = directory.by_sid(sid)
        if known is not None and known.name.lower() == name.lower():
            return
        authority, _separator, account = name.rpartition("\\")
        if authority.upper() in _WELL_KNOWN_AUTHORITIES:
            return
        if authority.upper() == self.computer:
            self.state["local_accounts"].append({"name": account, "sid": sid, "type": kind})
            return
        domain = self.state["domain"]
        if not self._domain_named:
            domain["netbios_name"], self._domain_named = authority.upper(), True
        if authority.upper() == domain["netbios_name"]:
            domain["accounts"].append({"name": account, "sid": sid, "type": kind})

    def feature(self, name: str, installed: bool) -> None:
        self.state["features"][name] = {"installed": bool(installed)}

    def certificate(self, store_name: str, thumbprint: str, report: dict, *, physical_stores: list | None = None) -> None:
        """A certificate as a key report (or readiness's certificate report) describes it.

        The simulator reads a certificate's serial number from its DER, so the seed is a certificate made with the
        recorded serial; its other fields do not matter to a shape comparison.
        """
        if not report.get("found", True):
            return
        entry = {"subject": "CN=recorded", "issuer": "CN=recorded",
                 "not_after": report.get("not_after") or _PLACEHOLDER_NOT_AFTER,
                 "der": _der_with_serial(report.get("serial_number") or "01"), "private_key": None}
        if physical_stores:
            entry["physical_stores"] = list(physical_stores)
        if report.get("has_private_key"):
            key = report.get("key") or {"provider": "cng", "provider_name": "Microsoft Software Key Storage Provider",
                                        "container": "recorded", "exportable": False}
            entry["private_key"] = {k: key.get(k) for k in ("provider", "provider_name", "container", "exportable")}
            # A probe that only opens the key (cert_serial_registry's) reports no ACL: the key then has the one an
            # import gives it, which lets the administrator the payloads run as open it.
            acl = report["acl"] if "acl" in report else DEFAULT_KEY_ACL
            entry["private_key"]["acl"] = [{k: ace.get(k) for k in ("sid", "type", "rights", "inherited")}
                                           for ace in acl or []]
            if report.get("key_error"):
                # What Windows said decides how the key is broken: a key_state of missing_or_denied is NTE_BAD_KEYSET.
                entry["private_key"]["broken"] = _BROKEN_BY_KEY_STATE.get(report.get("key_state"), True)
            for ace in report.get("acl") or []:
                self.principal(ace.get("name"), ace.get("sid"))
        store(self.state, store_name)[thumbprint] = entry

    def registry_value(self, key: str, name: str, report: dict) -> None:
        if not report.get("key_exists"):
            return
        values = create_registry_key(self.state, key)
        if report.get("value_exists"):
            kind = report.get("value_kind") or "String"
            data = report.get("value") if kind in ("String", "ExpandString") else 0
            values[name] = {"kind": kind, "data": data}

    def pool(self, report: dict) -> None:
        settings = {key: report[key] for key in iis.POOL_DEFAULTS if key in report and key != "state"}
        settings["password_sha256"] = hash_password("recorded") if report.get("password_set") else ""
        iis.new_pool(self.state, report["name"], state=report.get("state") or "Stopped", **settings)

    def service(self, name: str, display_name: str | None) -> None:
        self.state["services"].setdefault(name, {"display_name": display_name or name, "state": "running"})

    def cluster_from(self, report: dict, groups: list) -> None:
        """A cluster as the probe's cluster report and group reports describe it."""
        cluster = self.cluster or {"name": report.get("name"), "nodes": [], "networks": [], "groups": [], "resources": []}
        cluster["nodes"] = [{"name": n["name"], "state": n.get("state") or "Up", **({"id": n["id"]} if n.get("id") else {})}
                            for n in report.get("nodes") or []]
        cluster["networks"] = [{"name": n.get("name"), "role": n.get("role"), "address": n.get("address"),
                                "address_mask": n.get("address_mask"), "dhcp": False,
                                "ipv4_addresses": list(n.get("ipv4_addresses") or []),
                                "ipv4_prefix_lengths": list(n.get("ipv4_prefix_lengths") or []),
                                "ipv6_addresses": list(n.get("ipv6_addresses") or []),
                                "ipv6_prefix_lengths": list(n.get("ipv6_prefix_lengths") or [])}
                               for n in report.get("networks") or []]
        for group in groups:
            if group is None or any(g["name"].lower() == group["name"].lower() for g in cluster["groups"]):
                continue
            cluster["groups"].append({"name": group["name"], "group_type": group.get("group_type"),
                                      "owner_node": group.get("owner_node"), "state": group.get("state")})
            # The probe reads dependency expressions by resource id (Get-ClusterResourceDependency -Guid).
            names_by_id = {str(r["id"]).strip("{}").lower(): r["name"] for r in group.get("resources") or [] if r.get("id")}
            for resource in group.get("resources") or []:
                parameters = {}
                if resource.get("service_name") is not None:
                    parameters["ServiceName"] = resource["service_name"]
                if resource.get("address") is not None:
                    parameters["Address"] = resource["address"]
                    parameters["EnableDhcp"] = 1 if resource.get("enable_dhcp") else 0
                cluster["resources"].append({
                    "name": resource["name"], "resource_type": resource.get("resource_type"), "group": group["name"],
                    "state": resource.get("state"), "parameters": parameters,
                    **({"id": str(resource["id"]).strip("{}")} if resource.get("id") else {}),
                    "dependencies": [names_by_id.get(token.strip("{}").lower(), token)
                                     for token in _DEPENDENCY.findall(resource.get("dependency_expression") or "")],
                    "checkpoints": list(resource.get("checkpoints") or [])})
        local = report.get("local_node")
        if local:
            self.state["host"]["computer_name"] = str(local).upper()
        self.feature("Failover-Clustering", True)
        self.feature("RSAT-Clustering-PowerShell", True)
        self.cluster = complete_cluster(cluster)

    def host(self):
        return Host(self.state, self.cluster)


# A key the probe could not open, by what Windows said, as the simulator seeds it (winsim/payloads/_key_acl.py).
_BROKEN_BY_KEY_STATE = {"missing": "NTE_NO_KEY", "denied": "NTE_PERM", "missing_or_denied": True}


@functools.lru_cache(maxsize=None)
def _der_with_serial(serial: str) -> str:
    """A self-signed certificate, base64 DER, whose serialNumber is the recorded one."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "recorded")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(int(serial, 16) or 1).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=365)).sign(key, hashes.SHA256()))
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _canonical_right(name: str) -> str | None:
    return _KNOWN_RIGHTS.get(str(name).lower())


def _seed_accounts(seed: _Seed, entries) -> None:
    for entry in entries or []:
        if isinstance(entry, dict):
            seed.principal(entry.get("name"), entry.get("sid"))


def _seed_user_rights(seed: _Seed, parameters: dict, result: dict) -> None:
    _seed_accounts(seed, result.get("accounts"))
    for right, holders in (result.get("holders") or {}).items():
        canonical = _canonical_right(right)
        if canonical:
            seed.state["user_rights"][canonical] = [h["sid"] for h in holders or []]
            _seed_accounts(seed, holders)


def _seed_iis_app_pools(seed: _Seed, parameters: dict, result: dict) -> None:
    _seed_accounts(seed, result.get("accounts"))
    seed.feature("Web-Server", result.get("iis_installed"))
    for report in (result.get("pools") or {}).values():
        if report.get("exists"):
            seed.pool(report)
            seed.principal(report.get("username"), report.get("sid"))


def _seed_pfx_import(seed: _Seed, parameters: dict, result: dict) -> None:
    seed.certificate(parameters.get("StoreName", "My"), parameters["Thumbprint"], result.get("certificate") or {})
    for entry in result.get("chain") or []:
        if entry.get("present"):
            seed.certificate(entry["store"], entry["thumbprint"], {"found": True})
    _seed_accounts(seed, result.get("principals"))


def _seed_private_key_acl(seed: _Seed, parameters: dict, result: dict) -> None:
    seed.certificate(parameters.get("StoreName", "My"), parameters["Thumbprint"], result.get("certificate") or {})
    _seed_accounts(seed, result.get("principals"))


def _seed_cert_serial_registry(seed: _Seed, parameters: dict, result: dict) -> None:
    seed.certificate(parameters.get("StoreName", "My"), parameters["Thumbprint"], result.get("certificate") or {})
    seed.registry_value(parameters["Key"], parameters["ValueName"], result.get("registry") or {})


def _seed_ca_certificates(seed: _Seed, parameters: dict, result: dict) -> None:
    for entry in result.get("certificates") or []:
        if entry.get("present"):
            others = [name.lstrip(".") for name in entry.get("other_physical_stores") or []]
            if not entry.get("in_default_store") and not others:
                others = ["Enterprise"]  # a recording from before the probe named the other physical stores
            seed.certificate(entry["store"], entry["thumbprint"], {"found": True},
                             physical_stores=(["Default"] if entry.get("in_default_store") else []) + others)


def _seed_cluster_generic_service_role(seed: _Seed, parameters: dict, result: dict) -> None:
    for service in result.get("services") or []:
        if service.get("found"):
            seed.service(service["name"], service.get("display_name"))
    seed.cluster_from(result.get("cluster") or {}, [result.get("group")])
    for disk in result.get("disks") or []:
        if disk.get("found"):
            groups = seed.cluster["groups"]
            if not any(g["name"].lower() == str(disk.get("owner_group")).lower() for g in groups):
                groups.append({"name": disk["owner_group"], "group_type": disk.get("owner_group_type"),
                               "owner_node": seed.state["host"]["computer_name"], "state": "Online",
                               "pending_restore": None})
            seed.cluster["resources"].append({"name": disk["name"], "resource_type": disk.get("resource_type"),
                                              "group": disk["owner_group"], "state": disk.get("state"), "parameters": {},
                                              "dependencies": [], "checkpoints": [], "checkpoint_data": {}})


def _seed_readiness_info(seed: _Seed, parameters: dict, result: dict) -> None:
    _seed_accounts(seed, result.get("accounts"))
    for right, sids in ((result.get("rights") or {}).get("holders") or {}).items():
        canonical = _canonical_right(right)
        if canonical:
            seed.state["user_rights"][canonical] = list(sids or [])
    for reference, report in (result.get("groups") or {}).items():
        if report.get("error") is not None:
            continue
        try:
            sid = resolve_as_payload(seed.directory(), reference).sid
        except HostError:
            sid = seed.directory().add_local(seed.state, reference.rpartition("\\")[2], "group").sid
        seed.state["local_groups"][sid] = list(report.get("members") or [])
    for path, report in (result.get("paths") or {}).items():
        if report.get("exists"):
            seed.state["paths"][path] = {"type": "directory" if report.get("is_directory") else "file",
                                         "acl": [dict(ace) for ace in report.get("acl") or []]}
    for name, installed in ((result.get("features") or {}).get("installed") or {}).items():
        seed.feature(name, installed)
    iis_report = result.get("iis") or {}
    if parameters.get("Pools"):
        seed.feature("Web-Server", iis_report.get("installed"))
    for report in (iis_report.get("pools") or {}).values():
        if report.get("exists"):
            seed.pool(report)
            seed.principal(report.get("username"), report.get("sid"))
    for report in result.get("certificates") or []:
        seed.certificate(report["store"], report["thumbprint"], report)
    for report in result.get("registry") or []:
        seed.registry_value(report["key"], report["name"], report)
    cluster_report = result.get("cluster") or {}
    for service in cluster_report.get("services") or []:
        if service.get("found"):
            seed.service(service["name"], service.get("display_name"))
    if cluster_report.get("cluster"):
        seed.cluster_from(cluster_report["cluster"], list((cluster_report.get("roles") or {}).values()))
    for name in (result.get("co_location") or {}).get("services") or []:
        seed.service(name, name)


def _seed_host_snapshot(seed: _Seed, parameters: dict, result: dict) -> None:
    for read, answer in zip(parameters.get("Reads") or [], result.get("reads") or []):
        if isinstance(answer, dict) and answer.get("error") is None and isinstance(answer.get("result"), dict):
            SEEDERS[read["module"]](seed, {**read.get("parameters", {}), "Mode": "probe"}, answer["result"])


SEEDERS = {
    "user_rights": _seed_user_rights,
    "iis_app_pools": _seed_iis_app_pools,
    "pfx_import": _seed_pfx_import,
    "private_key_acl": _seed_private_key_acl,
    "cert_serial_registry": _seed_cert_serial_registry,
    "ca_certificates": _seed_ca_certificates,
    "cluster_generic_service_role": _seed_cluster_generic_service_role,
    "readiness_info": _seed_readiness_info,
    "host_snapshot": _seed_host_snapshot,
}


def _sent_parameters(recording: Recording) -> dict:
    """The recorded parameters, with host_snapshot's scripts compressed again from the repository's payloads."""
    parameters = dict(recording.parameters)
    if recording.payload == "host_snapshot" and isinstance(parameters.get("Scripts"), dict):
        parameters["Scripts"] = {name: compressed_payload(name) if value == SCRIPT_MARKER else value
                                 for name, value in parameters["Scripts"].items()}
    return parameters


def _placeholder_secrets(recording: Recording) -> list[dict]:
    """Sensitive parameters are recorded by name only. iis_app_pools' Passwords is rebuilt with a stand-in for each pool
    whose password the recording says was compared; any other secret is left out."""
    secrets = []
    if recording.payload == "iis_app_pools" and "Passwords" in recording.sensitive_parameters:
        compared = {name: "recorded" for name, report in (recording.result.get("pools") or {}).items()
                    if isinstance(report.get("password_matches"), bool)}
        secrets.append({"name": "Passwords", "value": json.dumps(compared)})
    return secrets


def seed_host(recording: Recording):
    """A simulated host seeded with what the recording says the real one had."""
    if recording.payload not in SEEDERS:
        raise RecordingError(f"no simulator replay for the payload {recording.payload!r}")
    seed = _Seed(recording.host)
    SEEDERS[recording.payload](seed, recording.parameters, recording.result)
    return seed.host()


def model_result(recording: Recording) -> dict:
    """What the simulator's model of the payload answers to the recorded parameters, on a host seeded from the recording."""
    models.load_all()
    host = seed_host(recording)
    args = {"script": payload_source(recording.payload), "parameters": _sent_parameters(recording),
            "depth": recording.depth, "error_action": "stop", "_ansible_check_mode": recording.check_mode}
    secrets = _placeholder_secrets(recording)
    if secrets:
        args["sensitive_parameters"] = secrets
    answer = win_powershell.run(host, ModuleInvocation(name="ansible.windows.win_powershell", args=args, script="",
                                                       become=False), None)
    if answer.get("failed"):
        errors = answer.get("error") or [{}]
        message = (errors[0].get("exception") or {}).get("message") or answer.get("msg")
        raise RecordingError(f"the simulator's model of {recording.payload} failed on the seeded host: {message}")
    return answer["result"]
