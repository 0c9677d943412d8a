# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readiness report: readiness_info's results of every host as one Markdown document or one self-contained HTML page."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

DEFAULT_TITLE = "Keyfactor Command readiness"
# The order the requirements appear in, as an installer meets them.
CATEGORIES = ("co_location", "accounts", "rights", "log_directory", "features", "app_pools", "certificates", "registry", "cluster")
CATEGORY_LABELS = {
    "co_location": "Co-location",
    "accounts": "Accounts",
    "rights": "User rights",
    "log_directory": "Log directory",
    "features": "Windows features",
    "app_pools": "IIS application pools",
    "certificates": "Certificates",
    "registry": "Registry",
    "cluster": "Failover cluster",
}
STATUSES = ("pass", "fail", "warn")
# What a matrix cell says, by status; "na" is a requirement that does not apply to the host, "error" a host without results.
CELL_TEXT = {"pass": "pass", "fail": "FAIL", "warn": "warn", "na": "n/a", "error": "error"}
LEGEND = (
    ("pass", "the host meets the requirement"),
    ("fail", "the host does not meet it: the installer will fail or the product will not work"),
    ("warn", "met, but worth a look before the installation"),
    ("na", "not asked of this host's profiles"),
    ("error", "no result: the host failed or was unreachable"),
)


def _text(value) -> str:
    """Any value as text; None as nothing."""
    return "" if value is None else str(value)


class _Requirement:
    """One row of the matrix: a requirement as the first host (by name) that has it describes it."""

    def __init__(self, entry: Mapping, req_id: str):
        self.id = req_id
        self.title = _text(entry.get("title")) or req_id
        self.category = _text(entry.get("category"))
        self.source = _text(entry.get("source"))

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category or "Other")

    def sort_key(self) -> tuple:
        known = self.category in CATEGORIES
        return (CATEGORIES.index(self.category) if known else len(CATEGORIES), "" if known else self.category, self.id)


class _Host:
    """One column: a host's result, its requirements by id, and what failed if it has no results."""

    def __init__(self, name: str, result):
        self.name = name
        self.entries: dict[str, Mapping] = {}
        self.error = ""
        self.unreachable = False
        self.profiles: list[str] = []
        self.reported_ready = None
        if not isinstance(result, Mapping):
            self.error = f"not a readiness_info result: {type(result).__name__}"
            return
        requirements = result.get("requirements")
        if result.get("skipped") and not isinstance(requirements, Sequence):
            self.error = "skipped" + (f": {_text(result.get('skip_reason'))}" if result.get("skip_reason") else "")
            return
        if result.get("failed") or result.get("unreachable") or not isinstance(requirements, Sequence) or isinstance(requirements, str):
            self.unreachable = bool(result.get("unreachable"))
            self.error = _text(result.get("msg")) or ("unreachable" if self.unreachable else "no readiness results")
            return
        profiles = result.get("profiles")
        if isinstance(profiles, Sequence) and not isinstance(profiles, str):
            self.profiles = [_text(profile) for profile in profiles]
        self.reported_ready = result.get("ready")
        for entry in requirements:
            if isinstance(entry, Mapping):
                # A repeated id keeps its first entry: one cell per host and requirement.
                self.entries.setdefault(_requirement_id(entry), entry)

    @property
    def failed(self) -> bool:
        return bool(self.error)

    def status(self, req_id: str) -> str:
        """pass, fail, warn, na (the requirement is not asked of this host) or error (the host has no results)."""
        if self.failed:
            return "error"
        entry = self.entries.get(req_id)
        if entry is None:
            return "na"
        status = _text(entry.get("status")).strip().lower()
        # A status this report does not know is shown as a failure, never as a pass.
        return status if status in STATUSES else "fail"

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for req_id in self.entries:
            counts[self.status(req_id)] += 1
        return counts

    @property
    def ready(self) -> bool:
        """Ready when it has results, none of them fails, and readiness_info did not say otherwise."""
        return not self.failed and self.counts()["fail"] == 0 and self.reported_ready is not False

    def verdict(self) -> str:
        if self.failed:
            return "unreachable" if self.unreachable else "error"
        return "ready" if self.ready else "not ready"

    def anchor(self, req_id: str) -> str:
        """The id of this host's detail block for a requirement: the same host and requirement always give the same id."""
        return "d-" + hashlib.sha256(f"{self.name}\0{req_id}".encode("utf-8")).hexdigest()[:16]

    def error_anchor(self) -> str:
        return "e-" + hashlib.sha256(self.name.encode("utf-8")).hexdigest()[:16]


def _requirement_id(entry: Mapping) -> str:
    return _text(entry.get("id")) or _text(entry.get("title")) or "(no id)"


def _model(results, title, generated) -> tuple[list[_Host], list[_Requirement], str, str]:
    """The hosts sorted by name and the union of their requirements in report order."""
    if not isinstance(results, Mapping):
        raise AnsibleFilterError(f"the readiness report takes a mapping of inventory_hostname to readiness_info's result, not {type(results).__name__}")
    hosts = [_Host(_text(name), results[name]) for name in sorted(results, key=_text)]
    requirements: dict[str, _Requirement] = {}
    for host in hosts:
        for req_id, entry in host.entries.items():
            requirements.setdefault(req_id, _Requirement(entry, req_id))
    rows = sorted(requirements.values(), key=_Requirement.sort_key)
    return hosts, rows, _text(title), _text(generated)


def _counts_text(counts: Mapping) -> str:
    return f"{counts['pass']} pass, {counts['fail']} fail, {counts['warn']} warn"


def _one_line(text: str, limit: int = 0) -> str:
    """Text on one line; cut to limit characters, when given, with an ellipsis."""
    line = " ".join(text.split())
    return line[:limit - 3].rstrip() + "..." if limit and len(line) > limit else line


# Markdown

_MD_ESCAPES = str.maketrans({
    "\\": "\\\\", "`": "\\`", "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]", "|": "\\|", "#": "\\#",
    "<": "&lt;", ">": "&gt;", "&": "&amp;",
})


def _md(value) -> str:
    """Text as it reads in Markdown, in a table cell or a list item: no markup, no HTML, line breaks kept as <br>."""
    text = _text(value).replace("\r\n", "\n").replace("\r", "\n").translate(_MD_ESCAPES)
    return "<br>".join(text.split("\n"))


def readiness_markdown(results, title=DEFAULT_TITLE, generated="") -> str:
    """Every host's readiness as one Markdown document: a summary line per host, the matrix, then every failure and warning."""
    hosts, rows, title, generated = _model(results, title, generated)
    lines = [f"# {_md(title)}", ""]
    if generated:
        lines += [f"Generated: {_md(generated)}", ""]
    lines += ["## Hosts", ""]
    if not hosts:
        lines += ["No host results.", ""]
    for host in hosts:
        if host.failed:
            lines.append(f"- **{_md(host.name)}**: {host.verdict().upper()}: {_md(_one_line(host.error))}")
        else:
            verdict = "ready" if host.ready else "NOT READY"
            lines.append(f"- **{_md(host.name)}**: {verdict} ({_counts_text(host.counts())})")
    lines.append("")
    if hosts:
        lines += ["## Requirements", ""]
        lines.append("| Category | Requirement | Ref | " + " | ".join(_md(host.name) for host in hosts) + " |")
        lines.append("| --- | --- | --- | " + " | ".join(":---:" for _host in hosts) + " |")
        for row in rows:
            cells = [CELL_TEXT[host.status(row.id)] for host in hosts]
            lines.append(f"| {_md(row.category_label)} | {_md(row.title)} | {_md(row.source)} | " + " | ".join(cells) + " |")
        if not rows:
            lines += ["", "No requirement results."]
        lines.append("")
    details = _md_details(hosts, rows)
    if details:
        lines += ["## Failures and warnings", ""] + details
    return "\n".join(lines).rstrip("\n") + "\n"


def _md_details(hosts: list[_Host], rows: list[_Requirement]) -> list[str]:
    lines: list[str] = []
    for host in hosts:
        if host.failed:
            lines += [f"### ERROR: {_md(host.name)}", "", f"- Host: {_md(host.name)}",
                      f"- Result: {host.verdict()}", f"- Message: {_md(host.error)}", ""]
            continue
        for row in rows:
            status = host.status(row.id)
            if status not in ("fail", "warn"):
                continue
            entry = host.entries[row.id]
            lines += [
                f"### {CELL_TEXT[status]}: {_md(host.name)}: {_md(_text(entry.get('title')) or row.title)}",
                "",
                f"- Host: {_md(host.name)}",
                f"- Requirement: {_md(row.id)}",
                f"- Source: {_md(_text(entry.get('source')) or row.source) or 'none'}",
                f"- Expected: {_md(entry.get('expected'))}",
                f"- Observed: {_md(entry.get('observed'))}",
                f"- Fix: {_md(entry.get('fix'))}",
                "",
            ]
    return lines


# HTML

_CSS = """
:root {
  --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee5; --paper: #ffffff; --canvas: #f4f6f8; --accent: #1d4e89;
  --pass-bg: #dff3e4; --pass-ink: #17603a; --pass-edge: #5fb37c;
  --fail-bg: #fde2e1; --fail-ink: #a11d1d; --fail-edge: #d9534f;
  --warn-bg: #fff1c7; --warn-ink: #7a4f00; --warn-edge: #e0a800;
  --na-bg: #f1f3f5; --na-ink: #8a94a1; --na-edge: #c3cad3;
  --error-bg: #ece4f7; --error-ink: #553085; --error-edge: #8e6cc0;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--canvas); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif;
}
main { max-width: 1360px; margin: 0 auto; padding: 28px 28px 48px; }
header.report { margin-bottom: 20px; }
h1 { font-size: 26px; line-height: 1.2; margin: 0 0 4px; color: var(--accent); }
h2 { font-size: 19px; margin: 32px 0 12px; }
h3 { font-size: 17px; margin: 22px 0 10px; }
h4 { font-size: 16px; margin: 0; }
.generated { color: var(--muted); margin: 0; }
.overall { margin: 14px 0 0; font-size: 16px; }
.overall strong { font-weight: 650; }
.hosts { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0 0; padding: 0; list-style: none; }
.hosts li {
  background: var(--paper); border: 1px solid var(--line); border-left: 6px solid var(--na-edge); border-radius: 8px;
  padding: 10px 14px; min-width: 220px; max-width: 100%; flex: 0 1 auto; overflow-wrap: anywhere;
}
.hosts li.verdict-ready { border-left-color: var(--pass-edge); }
.hosts li.verdict-not-ready { border-left-color: var(--fail-edge); }
.hosts li.verdict-error, .hosts li.verdict-unreachable { border-left-color: var(--error-edge); }
.hosts .name { font-weight: 650; word-break: break-all; }
.hosts .verdict, .hosts .profiles { display: block; font-size: 13px; color: var(--muted); }
.hosts .profiles { font-size: 12px; }
.badge {
  display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 650; letter-spacing: .02em;
  text-transform: uppercase; vertical-align: 1px; white-space: nowrap;
}
.badge.verdict-ready { background: var(--pass-bg); color: var(--pass-ink); }
.badge.verdict-not-ready { background: var(--fail-bg); color: var(--fail-ink); }
.badge.verdict-error, .badge.verdict-unreachable { background: var(--error-bg); color: var(--error-ink); }
.legend { display: flex; flex-wrap: wrap; gap: 8px 20px; margin: 0 0 12px; padding: 0; list-style: none; font-size: 13px; color: var(--muted); }
.legend li { display: flex; align-items: center; gap: 8px; }
.swatch {
  display: inline-block; min-width: 46px; padding: 2px 6px; border-radius: 4px; text-align: center; font-weight: 650;
  border: 1px solid transparent;
}
.scroll { overflow-x: auto; background: var(--paper); border: 1px solid var(--line); border-radius: 10px; }
table { border-collapse: separate; border-spacing: 0; width: 100%; font-size: 14px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: middle; }
thead th { background: #e9edf2; }
thead tr.host-names th { font-size: 14px; white-space: nowrap; border-bottom: 0; padding-top: 10px; }
thead tr.host-summary th { font-weight: 400; font-size: 12px; color: var(--muted); border-bottom: 2px solid #c5ccd6; }
thead th.host { text-align: center; min-width: 112px; }
thead th.corner { text-align: left; }
tbody th { font-weight: 400; }
tbody th .req-id { display: block; color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
.ref {
  display: inline-block; margin-right: 6px; padding: 0 6px; border-radius: 4px; background: #e8eef6; color: var(--accent);
  font-size: 11px; font-weight: 650; font-variant-numeric: tabular-nums;
}
tr.category th {
  background: #f7f9fb; color: var(--accent); font-size: 12px; font-weight: 700; letter-spacing: .06em; text-transform: uppercase;
  padding-top: 12px;
}
tbody tr.requirement:hover th, tbody tr.requirement:hover td { box-shadow: inset 0 0 0 9999px rgba(29, 78, 137, .04); }
td.cell { text-align: center; font-weight: 650; white-space: nowrap; border-left: 1px solid var(--line); }
td.cell a { display: block; margin: -6px -10px; padding: 6px 10px; color: inherit; text-decoration: none; }
td.cell a:hover, td.cell a:focus { text-decoration: underline; outline: 2px solid currentColor; outline-offset: -3px; }
.status-pass { background: var(--pass-bg); color: var(--pass-ink); }
.status-fail { background: var(--fail-bg); color: var(--fail-ink); }
.status-warn { background: var(--warn-bg); color: var(--warn-ink); }
.status-na { background: var(--na-bg); color: var(--na-ink); font-weight: 400; }
.status-error {
  background: repeating-linear-gradient(135deg, var(--error-bg) 0 8px, #f4effb 8px 16px); color: var(--error-ink);
}
.swatch.status-na { border-color: var(--na-edge); }
.details { display: grid; gap: 14px; }
.detail {
  background: var(--paper); border: 1px solid var(--line); border-left: 6px solid var(--na-edge); border-radius: 8px;
  padding: 14px 18px; margin: 0 0 12px; scroll-margin-top: 16px; break-inside: avoid; page-break-inside: avoid;
}
.detail.status-fail { border-left-color: var(--fail-edge); background: var(--paper); color: var(--ink); }
.detail.status-warn { border-left-color: var(--warn-edge); background: var(--paper); color: var(--ink); }
.detail.status-error { border-left-color: var(--error-edge); background: var(--paper); color: var(--ink); }
.detail:target { box-shadow: 0 0 0 3px var(--accent), 0 6px 18px rgba(31, 41, 51, .18); background: #fffdf2; }
.detail:target h4::after {
  content: "selected"; margin-left: 10px; padding: 1px 8px; border-radius: 999px; background: var(--accent); color: #fff;
  font-size: 11px; font-weight: 650; letter-spacing: .04em; text-transform: uppercase; vertical-align: 2px;
}
.detail h4 .badge { margin-right: 2px; }
.detail .badge.status-fail { background: var(--fail-bg); color: var(--fail-ink); }
.detail .badge.status-warn { background: var(--warn-bg); color: var(--warn-ink); }
.detail .badge.status-error { background: var(--error-bg); color: var(--error-ink); }
.detail .meta { margin: 4px 0 10px; color: var(--muted); font-size: 13px; }
.detail .meta code { color: var(--ink); }
dl.facts { display: grid; grid-template-columns: 110px minmax(0, 1fr); gap: 6px 14px; margin: 0; }
dl.facts dt { font-weight: 650; color: var(--muted); font-size: 13px; padding-top: 3px; }
dl.facts dd { margin: 0; min-width: 0; }
.value {
  display: block; margin: 0; padding: 5px 9px; border-radius: 5px; background: #f6f8fa; border: 1px solid #e3e7ec;
  font: 13px/1.45 ui-monospace, "Cascadia Mono", Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
  white-space: pre-wrap; overflow-wrap: anywhere;
}
.value.observed.status-fail { background: #fff4f3; border-color: #f3c5c3; color: var(--ink); }
.value.observed.status-warn { background: #fffaea; border-color: #f1dc9c; color: var(--ink); }
.fix {
  display: block; padding: 5px 10px; border-radius: 5px; background: #eaf1fb; border-left: 3px solid var(--accent);
  white-space: pre-wrap; overflow-wrap: anywhere; font-weight: 500;
}
.back { font-size: 13px; margin: 10px 0 0; }
a.badge { text-decoration: none; }
.back a, .detail a { color: var(--accent); }
.empty { color: var(--muted); padding: 14px 18px; margin: 0; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
@page { margin: 14mm 12mm; }
@media print {
  body { background: #fff; font-size: 12px; }
  table { border-top: 1px solid var(--line); }
  th:first-child { border-left: 1px solid var(--line); }
  th:last-child, td:last-child { border-right: 1px solid var(--line); }
  th, td { padding: 4px 6px; }
  td.cell a { margin: -4px -6px; padding: 4px 6px; }
  thead tr.host-names th { white-space: normal; overflow-wrap: anywhere; }
  thead th.host { min-width: 0; }
  .hosts li { min-width: 0; }
  main { max-width: none; padding: 0; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .scroll { overflow: visible; border: 0; }
  td.cell a { text-decoration: none; }
  .detail:target { box-shadow: none; background: var(--paper); }
  .detail:target h4::after, .back { display: none; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""

# Only the inline style sheet may load; any other asset, script or connection is refused by the browser.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _h(value) -> str:
    return html.escape(_text(value), quote=True)


def readiness_html(results, title=DEFAULT_TITLE, generated="") -> str:
    """Every host's readiness as one self-contained HTML page: the matrix, its legend, and the detail of every failure and warning."""
    hosts, rows, title, generated = _model(results, title, generated)
    ready = sum(1 for host in hosts if host.ready)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        '<header class="report">',
        f"<h1>{_h(title)}</h1>",
    ]
    if generated:
        out.append(f'<p class="generated">Generated {_h(generated)}</p>')
    out.append(f'<p class="overall"><strong>{ready} of {len(hosts)}</strong> host{"" if len(hosts) == 1 else "s"} ready'
               f' for the Keyfactor Command installation, {len(rows)} requirement{"" if len(rows) == 1 else "s"} checked.</p>')
    out.append('<ul class="hosts">')
    for host in hosts:
        verdict = host.verdict()
        summary = _h(_one_line(host.error, 160)) if host.failed else _h(_counts_text(host.counts()))
        profiles = f'<span class="profiles">Profiles: {_h(", ".join(host.profiles))}</span>' if host.profiles else ""
        out.append(f'<li class="verdict-{verdict.replace(" ", "-")}"><span class="name">{_h(host.name)}</span> '
                   f'<span class="badge verdict-{verdict.replace(" ", "-")}">{_h(verdict)}</span>'
                   f'<span class="verdict">{summary}</span>{profiles}</li>')
    out += ["</ul>", "</header>", '<section aria-labelledby="matrix-heading">', '<h2 id="matrix-heading">Requirements by host</h2>']
    out.append('<ul class="legend">')
    for status, meaning in LEGEND:
        out.append(f'<li><span class="swatch status-{status}">{CELL_TEXT[status]}</span>{_h(meaning)}</li>')
    out.append("</ul>")
    out += _html_matrix(hosts, rows)
    out.append("</section>")
    out += _html_details(hosts, rows)
    out += ['<footer>pkiops.keyfactor_command readiness report. Each reference (such as 001-07) is a row of the collection\'s '
            "docs/requirements.md, which quotes Keyfactor's documentation.</footer>", "</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_matrix(hosts: list[_Host], rows: list[_Requirement]) -> list[str]:
    out = ['<div class="scroll">', '<table id="readiness-matrix">']
    out.append('<thead><tr class="host-names"><th class="corner" scope="col">Requirement</th>')
    for host in hosts:
        out.append(f'<th class="host" scope="col" data-host="{_h(host.name)}">{_h(host.name)}</th>')
    out.append('</tr><tr class="host-summary"><th class="corner" scope="row">Host summary</th>')
    for host in hosts:
        if host.failed:
            summary = (f'<a class="badge verdict-{host.verdict()}" href="#{host.error_anchor()}">{_h(host.verdict())}</a><br>'
                       f'no results')
        else:
            counts = host.counts()
            summary = (f'<span class="badge verdict-{host.verdict().replace(" ", "-")}">{_h(host.verdict())}</span><br>'
                       f'{counts["pass"]} pass &middot; {counts["fail"]} fail &middot; {counts["warn"]} warn')
        out.append(f'<th class="host-summary" scope="col" data-host="{_h(host.name)}">{summary}</th>')
    out.append("</tr></thead>")
    category = None
    for row in rows:
        if row.category_label != category:
            if category is not None:
                out.append("</tbody>")
            category = row.category_label
            out.append(f'<tbody><tr class="category"><th colspan="{len(hosts) + 1}" scope="rowgroup">{_h(category)}</th></tr>')
        out.append(f'<tr class="requirement" data-requirement="{_h(row.id)}">')
        ref = f'<span class="ref" title="docs/requirements.md">{_h(row.source)}</span> ' if row.source else ""
        out.append(f'<th scope="row">{_h(row.title)}<span class="req-id">{ref}{_h(row.id)}</span></th>')
        for host in hosts:
            out.append(_html_cell(host, row))
        out.append("</tr>")
    if rows:
        out.append("</tbody>")
    else:
        out.append(f'<tbody><tr><td colspan="{len(hosts) + 1}" class="empty">No requirement results.</td></tr></tbody>')
    out += ["</table>", "</div>"]
    return out


def _html_cell(host: _Host, row: _Requirement) -> str:
    status = host.status(row.id)
    text = CELL_TEXT[status]
    label = _h(f"{host.name}: {row.title}: {text}")
    attrs = f'class="cell status-{status}" data-host="{_h(host.name)}" data-requirement="{_h(row.id)}" title="{label}"'
    if status in ("fail", "warn"):
        return f'<td {attrs}><a href="#{host.anchor(row.id)}">{text}</a></td>'
    if status == "error":
        return f'<td {attrs}><a href="#{host.error_anchor()}">{text}</a></td>'
    return f"<td {attrs}>{text}</td>"


def _html_details(hosts: list[_Host], rows: list[_Requirement]) -> list[str]:
    out = ['<section class="details-section" aria-labelledby="details-heading">', '<h2 id="details-heading">Failures and warnings</h2>']
    found = False
    for host in hosts:
        blocks: list[str] = []
        if host.failed:
            blocks += [
                f'<article class="detail status-error" id="{host.error_anchor()}" data-host="{_h(host.name)}">',
                f'<h4><span class="badge status-error">{_h(host.verdict())}</span> {_h(host.name)} returned no readiness results</h4>',
                '<dl class="facts">',
                f'<dt>Message</dt><dd><span class="value">{_h(host.error)}</span></dd>',
                "<dt>Fix</dt><dd><span class=\"fix\">Make the host reachable and the run succeed, then run the readiness "
                "playbook again.</span></dd>",
                "</dl>",
                '<p class="back"><a href="#readiness-matrix">Back to the matrix</a></p>',
                "</article>",
            ]
        for row in rows:
            status = host.status(row.id)
            if status in ("fail", "warn"):
                blocks += _html_detail(host, row, status)
        if blocks:
            found = True
            out += [f'<div class="host-details" data-host="{_h(host.name)}">', f'<h3>{_h(host.name)}</h3>']
            out += blocks
            out.append("</div>")
    if not found:
        out.append('<p class="empty">No failures and no warnings.</p>')
    out.append("</section>")
    return out


def _html_detail(host: _Host, row: _Requirement, status: str) -> list[str]:
    entry = host.entries[row.id]
    source = _text(entry.get("source")) or row.source
    return [
        f'<article class="detail status-{status}" id="{host.anchor(row.id)}" data-host="{_h(host.name)}" data-requirement="{_h(row.id)}">',
        f'<h4><span class="badge status-{status}">{CELL_TEXT[status]}</span> {_h(_text(entry.get("title")) or row.title)}</h4>',
        f'<p class="meta">Host <code>{_h(host.name)}</code> &middot; requirement <code>{_h(row.id)}</code>'
        f' &middot; source <code>{_h(source or "none")}</code> in docs/requirements.md</p>',
        '<dl class="facts">',
        f'<dt>Expected</dt><dd><span class="value expected">{_h(entry.get("expected"))}</span></dd>',
        f'<dt>Observed</dt><dd><span class="value observed status-{status}">{_h(entry.get("observed"))}</span></dd>',
        f'<dt>Fix</dt><dd><span class="fix">{_h(entry.get("fix"))}</span></dd>',
        "</dl>",
        '<p class="back"><a href="#readiness-matrix">Back to the matrix</a></p>',
        "</article>",
    ]


class FilterModule:
    """The readiness report filters."""

    def filters(self):
        return {
            "readiness_markdown": readiness_markdown,
            "readiness_html": readiness_html,
        }
