"""The PowerShell lint's catalogues: well formed and Windows PowerShell 5.1 only.

tests/pslint/catalogue/cmdlets.json holds the commands the payloads and the Pester tests call, with their parameters
as Microsoft documents them; tests/pslint/catalogue/types.json holds the type accelerators of Windows PowerShell 5.1
and the .NET types that Mono's .NET Framework 4.x reference assemblies lack. These tests hold both files to their
format. That the payloads use only what the catalogues hold is the lint's own check, run over every payload in
test_pslint_payloads.py.
"""

from __future__ import annotations

import functools
import json
import pathlib
import re

import pytest

from pslint import reflection

REPO = pathlib.Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "tests" / "pslint" / "catalogue"

COMMON_PARAMETERS = ["Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ErrorVariable",
                     "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable"]
RISK_MITIGATION_PARAMETERS = ["WhatIf", "Confirm"]
# Their pages' SYNTAX shows nothing but [<CommonParameters>] (and WhatIf/Confirm for Reset-IISServerManager).
DOCUMENTED_WITHOUT_PARAMETERS = {"Get-Culture", "Get-Host", "Get-PSCallStack", "New-Guid", "Get-IISServerManager",
                                 "Reset-IISServerManager", "Start-IISCommitDelay"}
# Pester's block and assertion commands are not Verb-Noun.
PESTER_KEYWORDS = {"Describe", "Context", "It", "Should", "BeforeAll", "AfterAll", "BeforeEach", "AfterEach",
                   "BeforeDiscovery", "Mock", "InModuleScope"}
# Parameters that exist only in PowerShell 6 or later; the hosts run Windows PowerShell 5.1. Each is on the
# command's powershell-7.x page and absent from its powershell-5.1 page, except Get-ChildItem -FollowSymlink, which
# the 5.1 page lists while saying "This parameter was introduced in PowerShell 6.0."
POWERSHELL_7_ONLY = {
    "Get-Content": ["AsByteStream"],
    "Set-Content": ["AsByteStream"],
    "Add-Content": ["AsByteStream"],
    "ConvertTo-Json": ["EscapeHandling", "AsArray"],
    "ConvertFrom-Json": ["AsHashtable", "Depth", "NoEnumerate"],
    "ForEach-Object": ["Parallel", "ThrottleLimit", "TimeoutSeconds", "AsJob", "UseNewRunspace"],
    "Start-Sleep": ["Duration"],
    "Get-ChildItem": ["FollowSymlink"],
    "Get-Date": ["AsUTC", "UnixTimeSeconds"],
    "Test-Connection": ["TargetName", "Ping", "TcpPort", "Traceroute"],
    "Join-Path": ["AdditionalChildPath"],
    "Split-Path": ["LeafBase", "Extension"],
    "Sort-Object": ["Top", "Bottom", "Stable"],
    "Import-Module": ["UseWindowsPowerShell", "SkipEditionCheck"],
    "Invoke-WebRequest": ["SkipCertificateCheck", "Authentication", "SslProtocol"],
    "Get-Random": ["Shuffle"],
    "Measure-Object": ["AllStats", "StandardDeviation"],
    "ConvertTo-Csv": ["UseQuotes", "QuoteFields", "IncludeTypeInformation"],
    "Export-Csv": ["UseQuotes", "QuoteFields", "IncludeTypeInformation"],
    "Set-Service": ["SecurityDescriptorSddl"],
    "Where-Object": ["Not"],
    "Get-Culture": ["Name", "ListAvailable", "NoUserOverrides"],
}
CMDLET_KEYS = {"module", "url", "parameters", "aliases", "common_parameters", "supports_should_process",
               "wildcard_name", "note"}
TYPE_KEYS = {"assembly", "url", "kind", "constructors", "static_members", "instance_members", "note"}
IDENTIFIER = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
FULL_TYPE_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\Z")
LEARN_MODULE_URL = re.compile(r"\Ahttps://learn\.microsoft\.com/en-us/powershell/module/(?P<module>[a-z0-9.-]+)/"
                              r"(?P<name>[a-z0-9-]+)\?view=(powershell-5\.1|windowsserver2022-ps)\Z")
PESTER_URL = re.compile(r"\Ahttps://pester\.dev/docs/v5/commands/(?P<name>[A-Za-z-]+)\Z")
LEARN_API_URL = re.compile(r"\Ahttps://learn\.microsoft\.com/en-us/dotnet/api/(?P<name>[a-z0-9.]+)"
                           r"\?view=(powershellsdk-1\.1\.0|iis-dotnet)\Z")


@functools.lru_cache(maxsize=1)
def _cmdlet_catalogue() -> dict:
    return json.loads((CATALOGUE / "cmdlets.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _type_catalogue() -> dict:
    return json.loads((CATALOGUE / "types.json").read_text(encoding="utf-8"))


def _cmdlets() -> dict:
    return _cmdlet_catalogue()["cmdlets"]


# ---------------------------------------------------------------------------------------------------------------------
# Mono's .NET Framework 4.x reference assemblies, read by the lint's own reflection.


def in_mono(*names: str) -> dict[str, bool]:
    """Whether the reference assemblies define each type (a full name, List`1 for a generic), asked in one batch;
    names ignore case, as PowerShell's lookup does."""
    answers = reflection.describe(names)
    return {name: answers.get(name.lower()) is not None for name in names}


# ---------------------------------------------------------------------------------------------------------------------
# cmdlets.json


def test_cmdlet_catalogue_lists_the_common_and_risk_mitigation_parameters():
    catalogue = _cmdlet_catalogue()
    assert catalogue["common_parameters"] == COMMON_PARAMETERS
    assert catalogue["risk_mitigation_parameters"] == RISK_MITIGATION_PARAMETERS
    aliases = catalogue["common_parameter_aliases"]
    assert set(aliases.values()) == set(COMMON_PARAMETERS + RISK_MITIGATION_PARAMETERS)
    assert all(alias == alias.lower() for alias in aliases)


@pytest.mark.parametrize("name", sorted(_cmdlets()))
def test_cmdlet_entry_is_well_formed(name):
    entry = _cmdlets()[name]
    assert set(entry) <= CMDLET_KEYS and {"module", "url", "parameters", "aliases", "common_parameters",
                                          "supports_should_process"} <= set(entry)
    assert isinstance(entry["module"], str) and entry["module"]
    if entry["module"] == "Pester":
        url = PESTER_URL.match(entry["url"])
        assert url and url.group("name") == name
    else:
        url = LEARN_MODULE_URL.match(entry["url"])
        assert url, entry["url"]
        assert (url.group("module"), url.group("name")) == (entry["module"].lower(), name.lower())
    parameters = entry["parameters"]
    assert isinstance(parameters, list) and all(isinstance(p, str) and IDENTIFIER.match(p) for p in parameters)
    assert parameters or name in DOCUMENTED_WITHOUT_PARAMETERS
    lowered = [p.lower() for p in parameters]
    assert len(set(lowered)) == len(lowered), "a parameter is listed twice"
    universal = {p.lower() for p in COMMON_PARAMETERS + RISK_MITIGATION_PARAMETERS}
    assert not set(lowered) & universal, "common and risk mitigation parameters are listed once, at the top"
    assert isinstance(entry["aliases"], dict)
    for alias, parameter in entry["aliases"].items():
        assert IDENTIFIER.match(alias) and parameter in parameters
        assert alias.lower() not in set(lowered) | universal
    assert isinstance(entry["common_parameters"], bool) and isinstance(entry["supports_should_process"], bool)
    if "wildcard_name" in entry:
        assert entry["wildcard_name"] is True and "name" in lowered


def test_command_names_are_full_names_not_aliases():
    for name in _cmdlets():
        assert re.match(r"\A[A-Z][A-Za-z]+-[A-Z][A-Za-z0-9]+\Z", name) or name in PESTER_KEYWORDS, name


def test_no_command_is_listed_twice_ignoring_case():
    names = [name.lower() for name in _cmdlets()]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", sorted(POWERSHELL_7_ONLY))
def test_no_parameter_that_only_powershell_7_has(name):
    entry = _cmdlets()[name]
    known = {p.lower() for p in entry["parameters"]} | {a.lower() for a in entry["aliases"]}
    assert not known & {p.lower() for p in POWERSHELL_7_ONLY[name]}


def test_the_wildcard_names_the_payloads_rely_on_are_recorded():
    # Get-ClusterResource -Name and Get-Service -Name match patterns, so a name with [ ] matches other things.
    assert _cmdlets()["Get-ClusterResource"].get("wildcard_name") is True
    assert _cmdlets()["Get-Service"].get("wildcard_name") is True
    assert "wildcard_name" not in _cmdlets()["Add-ClusterResource"]


# ---------------------------------------------------------------------------------------------------------------------
# types.json


def test_accelerators_are_lower_cased_and_name_full_types():
    accelerators = _type_catalogue()["accelerators"]
    assert len(accelerators) == 94  # the rows of about_Type_Accelerators for Windows PowerShell 5.1
    for accelerator, target in accelerators.items():
        assert accelerator == accelerator.lower() and IDENTIFIER.match(accelerator)
        assert FULL_TYPE_NAME.match(target), target
    assert accelerators["pscustomobject"] == "System.Management.Automation.PSObject"
    assert accelerators["nullstring"] == "System.Management.Automation.Language.NullString"
    for newer in ("ordered", "semver", "pspropertyexpression", "short", "ushort", "uint", "ulong",
                  "validatenotnullorwhitespace", "argumentcompletions", "norunspaceaffinity", "experimental"):
        assert newer not in accelerators, f"[{newer}] is newer than Windows PowerShell 5.1"


@pytest.mark.parametrize("name", sorted(_type_catalogue()["types"]))
def test_type_entry_is_well_formed(name):
    entry = _type_catalogue()["types"][name]
    assert FULL_TYPE_NAME.match(name)
    assert set(entry) <= TYPE_KEYS and TYPE_KEYS - {"note"} <= set(entry)
    assert isinstance(entry["assembly"], str) and entry["assembly"]
    url = LEARN_API_URL.match(entry["url"])
    if url:
        assert url.group("name") == name.lower()
    else:
        # A type with no .NET API page is grounded on the cmdlet page that documents it, and says so.
        assert LEARN_MODULE_URL.match(entry["url"]) and entry.get("note"), entry["url"]
    assert entry["kind"] in ("class", "struct", "enum", "interface")
    constructors = entry["constructors"]
    assert isinstance(constructors, list)
    assert all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in constructors)
    assert constructors == sorted(set(constructors))
    if entry["kind"] in ("enum", "interface"):
        assert constructors == []
    for key in ("static_members", "instance_members"):
        members = entry[key]
        assert isinstance(members, list) and all(isinstance(m, str) and IDENTIFIER.match(m) for m in members)
        assert len({m.lower() for m in members}) == len(members), f"{key} lists a member twice"


def test_every_accelerator_target_is_catalogued_or_in_mono():
    targets = set(_type_catalogue()["accelerators"].values()) - set(_type_catalogue()["types"])
    assert sorted(t for t, found in in_mono(*targets).items() if not found) == []


def test_catalogued_types_are_ones_mono_lacks():
    assert sorted(name for name, found in in_mono(*_type_catalogue()["types"]).items() if found) == []


def test_the_mono_listing_tells_present_from_absent():
    assert in_mono("System.String", "system.object", "System.Collections.Generic.List`1", "System.Collections.Generic.List",
                   "System.Management.Automation.PSObject", "Microsoft.Web.Administration.ServerManager") == {
        "System.String": True, "system.object": True, "System.Collections.Generic.List`1": True,
        "System.Collections.Generic.List": False, "System.Management.Automation.PSObject": False,
        "Microsoft.Web.Administration.ServerManager": False}
