"""The checked-in catalogues: Windows PowerShell 5.1 cmdlets and the .NET types Mono does not have.

Both are JSON, in the format docs/payload_checks.md describes. A catalogue file that is not on disk leaves its half
``None``: the rules that need it do not run, and :func:`pslint.skipped_rules` names them.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import typing as t

CATALOGUE_DIR = pathlib.Path(__file__).resolve().parent / "catalogue"
CMDLETS_FILE = CATALOGUE_DIR / "cmdlets.json"
TYPES_FILE = CATALOGUE_DIR / "types.json"

# about_CommonParameters (Windows PowerShell 5.1) documents an alias for each common parameter:
# https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_commonparameters?view=powershell-5.1
COMMON_PARAMETER_ALIASES = {
    "db": "Debug",
    "ea": "ErrorAction",
    "ev": "ErrorVariable",
    "infa": "InformationAction",
    "iv": "InformationVariable",
    "ob": "OutBuffer",
    "ov": "OutVariable",
    "pv": "PipelineVariable",
    "vb": "Verbose",
    "wa": "WarningAction",
    "wv": "WarningVariable",
}
RISK_MITIGATION_ALIASES = {"wi": "WhatIf", "cf": "Confirm"}
DEFAULT_COMMON_PARAMETERS = (
    "Verbose",
    "Debug",
    "ErrorAction",
    "WarningAction",
    "InformationAction",
    "ErrorVariable",
    "WarningVariable",
    "InformationVariable",
    "OutVariable",
    "OutBuffer",
    "PipelineVariable",
)
DEFAULT_RISK_MITIGATION_PARAMETERS = ("WhatIf", "Confirm")


@dataclasses.dataclass(frozen=True)
class Cmdlet:
    name: str
    parameters: tuple[str, ...]
    aliases: dict[str, str]  # alias -> parameter, as documented
    common_parameters: bool
    supports_should_process: bool
    url: str = ""
    module: str = ""


@dataclasses.dataclass(frozen=True)
class CatalogueType:
    full_name: str
    assembly: str
    constructors: tuple[int, ...]
    static_members: tuple[str, ...]
    instance_members: tuple[str, ...]
    url: str = ""


@dataclasses.dataclass
class Catalogue:
    """``cmdlets`` and ``types`` are None when their file is absent; the rules that need them are then skipped."""

    cmdlets: dict[str, Cmdlet] | None = None  # by lower-cased name
    common_parameters: tuple[str, ...] = DEFAULT_COMMON_PARAMETERS
    risk_mitigation_parameters: tuple[str, ...] = DEFAULT_RISK_MITIGATION_PARAMETERS
    # alias -> common or risk mitigation parameter, lower-cased alias
    common_parameter_aliases: dict[str, str] = dataclasses.field(
        default_factory=lambda: {**COMMON_PARAMETER_ALIASES, **RISK_MITIGATION_ALIASES}
    )
    types: dict[str, CatalogueType] | None = None  # by lower-cased full name
    accelerators: dict[str, str] | None = None  # lower-cased accelerator -> full name

    @classmethod
    def from_data(cls, cmdlets: dict | None = None, types: dict | None = None) -> Catalogue:
        """A catalogue from the parsed JSON of cmdlets.json and types.json (either may be None)."""
        catalogue = cls()
        if cmdlets is not None:
            catalogue.common_parameters = tuple(cmdlets.get("common_parameters", DEFAULT_COMMON_PARAMETERS))
            catalogue.risk_mitigation_parameters = tuple(
                cmdlets.get("risk_mitigation_parameters", DEFAULT_RISK_MITIGATION_PARAMETERS)
            )
            if "common_parameter_aliases" in cmdlets:
                catalogue.common_parameter_aliases = {
                    alias.lower(): parameter for alias, parameter in cmdlets["common_parameter_aliases"].items()
                }
            catalogue.cmdlets = {
                name.lower(): Cmdlet(
                    name=name,
                    parameters=tuple(entry.get("parameters", ())),
                    aliases=dict(entry.get("aliases") or {}),
                    common_parameters=bool(entry.get("common_parameters", True)),
                    supports_should_process=bool(entry.get("supports_should_process", False)),
                    url=entry.get("url", ""),
                    module=entry.get("module", ""),
                )
                for name, entry in cmdlets.get("cmdlets", {}).items()
            }
        if types is not None:
            catalogue.accelerators = {key.lower(): value for key, value in types.get("accelerators", {}).items()}
            catalogue.types = {
                name.lower(): CatalogueType(
                    full_name=name,
                    assembly=entry.get("assembly", ""),
                    constructors=tuple(entry.get("constructors", ())),
                    static_members=tuple(entry.get("static_members", ())),
                    instance_members=tuple(entry.get("instance_members", ())),
                    url=entry.get("url", ""),
                )
                for name, entry in types.get("types", {}).items()
            }
        return catalogue

    @classmethod
    def load(cls, directory: pathlib.Path = CATALOGUE_DIR) -> Catalogue:
        """The checked-in catalogue; a file that is not there leaves its half None."""
        return cls.from_data(_read_json(directory / "cmdlets.json"), _read_json(directory / "types.json"))


def _read_json(path: pathlib.Path) -> t.Any:
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)
