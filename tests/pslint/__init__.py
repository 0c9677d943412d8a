"""Static checks that see PowerShell bugs in the payloads, without PowerShell.

    findings = pslint.lint(source)                       # every rule, the checked-in catalogue
    findings = pslint.lint(source, catalogue=Catalogue.from_data(cmdlets, types))
    findings = pslint.lint_payload("pfx_import")         # the payload as it reaches the host, fragments inlined

The rules (docs/payload_checks.md describes each, and what it cannot see):

=============================== ================================================================ ==============
rule                            module                                                           needs
=============================== ================================================================ ==============
type-constrained-assignment     scopes.py
undefined-variable              scopes.py
unknown-command                 commands.py                                                      cmdlets.json
unknown-parameter               commands.py                                                      cmdlets.json
unknown-type                    dotnet.py                                                        types.json
unknown-member                  dotnet.py                                                        types.json
constructor-arity               dotnet.py                                                        types.json
assembly-not-loaded             dotnet.py                                                        types.json
newer-syntax, syntax-error      newer_syntax.py
csharp5                         csharp.py
secret-taint                    taint.py
=============================== ================================================================ ==============

A rule whose catalogue file is absent does not run; :func:`skipped_rules` names those rules.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import typing as t

from . import commands, csharp, dotnet, newer_syntax, payloads, scopes, taint
from .catalogue import Catalogue
from .syntax import index, position

VARIABLE_RULES = ("type-constrained-assignment", "undefined-variable")
COMMAND_RULES = ("unknown-command", "unknown-parameter")
TYPE_RULES = ("unknown-type", "unknown-member", "constructor-arity", "assembly-not-loaded")
SYNTAX_RULES = ("newer-syntax", "syntax-error")
CSHARP_RULES = ("csharp5",)
SECRET_RULES = ("secret-taint",)
RULES = VARIABLE_RULES + COMMAND_RULES + TYPE_RULES + SYNTAX_RULES + CSHARP_RULES + SECRET_RULES

__all__ = ["Catalogue", "Finding", "RULES", "lint", "lint_payload", "skipped_rules"]


@dataclasses.dataclass(frozen=True, order=True)
class Finding:
    line: int
    column: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.rule}: {self.message}"


@functools.lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    return Catalogue.load()


def skipped_rules(catalogue: Catalogue | None = None) -> dict[str, str]:
    """Rules that do not run for want of their catalogue file, with the reason."""
    catalogue = catalogue or default_catalogue()
    skipped = {}
    if catalogue.cmdlets is None:
        skipped.update({rule: "tests/pslint/catalogue/cmdlets.json is absent" for rule in COMMAND_RULES})
    if catalogue.types is None or catalogue.accelerators is None:
        skipped.update({rule: "tests/pslint/catalogue/types.json is absent" for rule in TYPE_RULES})
    return skipped


def lint(
    source: str,
    *,
    name: str = "<snippet>",
    catalogue: Catalogue | None = None,
    rules: t.Iterable[str] | None = None,
) -> list[Finding]:
    """Every finding of the selected rules (all by default) on ``source``, sorted by position.

    ``name`` only labels the source for a caller's messages. ``catalogue`` defaults to the checked-in one.
    """
    del name
    catalogue = catalogue or default_catalogue()
    selected = set(RULES if rules is None else rules)
    unknown = selected - set(RULES)
    if unknown:
        raise ValueError(f"unknown rules: {', '.join(sorted(unknown))}")
    # A payload's tree is deep (each expression nests one node per precedence level); the scope walk recurses.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    nodes = index(source)
    root = nodes.root
    found: list[Finding] = []

    def add(rule: str, node, message: str) -> None:
        if rule in selected:
            line, column = position(node)
            found.append(Finding(line, column, rule, message))

    if selected & set(VARIABLE_RULES + COMMAND_RULES + SECRET_RULES):
        model = scopes.build(root)
        if selected & set(VARIABLE_RULES):
            for finding in scopes.type_constrained_assignments(model) + scopes.undefined_variables(model):
                add(finding.rule, finding.node, finding.message)
        if selected & set(COMMAND_RULES):
            for finding in commands.check(nodes, model, catalogue):
                add(finding.rule, finding.node, finding.message)
        if selected & set(SECRET_RULES):
            for finding in taint.check(nodes, model):
                add(taint.RULE, finding.node, finding.message)
    if selected & set(TYPE_RULES):
        for finding in dotnet.check(nodes, catalogue):
            add(finding.rule, finding.node, finding.message)
    if selected & set(SYNTAX_RULES):
        syntax_findings = newer_syntax.check(nodes, source.encode("utf-8"))
        # What follows newer syntax often does not parse either; those errors say nothing more.
        first_newer = min(
            (finding.node.start_byte for finding in syntax_findings if finding.rule == "newer-syntax"), default=None
        )
        for finding in syntax_findings:
            if finding.rule == "syntax-error" and first_newer is not None and finding.node.start_byte >= first_newer:
                continue
            add(finding.rule, finding.node, finding.message)
    if "csharp5" in selected:
        for rule, line, column, message in csharp.findings(nodes):
            found.append(Finding(line, column, rule, message))
    return sorted(set(found))


def lint_payload(name: str, **options) -> list[Finding]:
    """The findings on payload ``name`` as it reaches the host, with its fragments inlined; their lines are lines of
    that script, and :func:`pslint.payloads.origin` gives the file and line each comes from."""
    return lint(payloads.source(name), name=name, **options)
