"""The readiness report filters: what they show, in which order, and that nothing a host returns can change the page."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pkiops.keyfactor_command.plugins.filter.readiness_report import FilterModule, readiness_html, readiness_markdown

SCRIPT = "<script>alert('owned')</script>"
VOID = {"meta", "br", "link", "img", "input", "hr"}


def _req(req_id, category, status="pass", **fields):
    entry = {"id": req_id, "title": f"title of {req_id}", "category": category, "profiles": ["portal"], "source": "001-01",
             "status": status, "expected": f"expected of {req_id}", "observed": f"observed of {req_id}",
             "fix": f"role pkiops.keyfactor_command.common, variable fix_{req_id.replace('/', '_')}"}
    entry.update(fields)
    return entry


def _host(*requirements):
    summary = {s: sum(1 for r in requirements if r["status"] == s) for s in ("pass", "fail", "warn")}
    return {"profiles": ["portal"], "requirements": list(requirements), "summary": summary, "ready": summary["fail"] == 0}


def _results() -> dict:
    """Three hosts in no particular order: one all pass, one with a failure and a warning, one failed."""
    return {
        "web02": _host(_req("rights/b", "rights", "fail", observed="missing"), _req("accounts/a", "accounts", "warn"),
                       _req("cluster/z", "cluster")),
        "web01": _host(_req("rights/b", "rights"), _req("accounts/a", "accounts"), _req("co_location/ca", "co_location")),
        "zz-down": {"failed": True, "unreachable": True, "msg": "Failed to connect to the host via winrm: timed out"},
    }


class _Page(HTMLParser):
    """The elements of a page: every element's attributes, the td.cell elements, and the text of every element with an id."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.cells: list[dict] = []
        self.texts: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []
        self._text: dict[str, list[str]] = {}
        self.feed(text)
        self.close()
        self.texts = {key: "".join(parts) for key, parts in self._text.items()}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "td" and "cell" in (attributes.get("class") or "").split():
            self.cells.append(attributes)
        if tag not in VOID:
            self._open.append((tag, attributes.get("id")))
            if attributes.get("id"):
                self._text[attributes["id"]] = []

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _tag, element_id in self._open:
            if element_id:
                self._text[element_id].append(data)

    def status_of(self, host: str, req_id: str) -> str:
        found = [c["class"].split()[1] for c in self.cells if c["data-host"] == host and c["data-requirement"] == req_id]
        assert len(found) == 1, (host, req_id, found)
        return found[0]


def _table_rows(markdown: str) -> list[list[str]]:
    """The cells of every Markdown table line, split on the pipes that are not escaped."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_both_filters_are_registered():
    assert FilterModule().filters() == {"readiness_markdown": readiness_markdown, "readiness_html": readiness_html}


def test_the_html_matrix_has_a_cell_per_host_and_requirement_of_the_union():
    page = _Page(readiness_html(_results()))
    assert len(page.cells) == 3 * 4
    assert [(c["data-host"], c["data-requirement"]) for c in page.cells] == [
        (host, req) for req in ("co_location/ca", "accounts/a", "rights/b", "cluster/z") for host in ("web01", "web02", "zz-down")
    ]
    assert page.status_of("web01", "co_location/ca") == "status-pass"
    assert page.status_of("web02", "co_location/ca") == "status-na"
    assert page.status_of("web01", "cluster/z") == "status-na"
    assert page.status_of("web02", "rights/b") == "status-fail"
    assert page.status_of("web02", "accounts/a") == "status-warn"
    assert [page.status_of("zz-down", req) for req in ("co_location/ca", "accounts/a", "rights/b", "cluster/z")] == ["status-error"] * 4
    assert sorted(c["class"] for c in page.cells) == sorted(
        ["cell status-pass"] * 4 + ["cell status-na"] * 2 + ["cell status-fail", "cell status-warn"] + ["cell status-error"] * 4)


def test_only_the_matrix_cells_are_td_cell_and_hosts_head_their_columns():
    text = readiness_html(_results())
    page = _Page(text)
    tables = [attrs for tag, attrs in page.elements if tag == "table"]
    assert tables == [{"id": "readiness-matrix"}]
    assert text.count('<td class="cell ') == len(page.cells) == 12
    assert [a["data-host"] for tag, a in page.elements if tag == "th" and a.get("class") == "host"] == ["web01", "web02", "zz-down"]
    assert [a["data-host"] for tag, a in page.elements if tag == "th" and a.get("class") == "host-summary"] == ["web01", "web02", "zz-down"]
    assert len([a for tag, a in page.elements if tag == "tr" and a.get("class") == "requirement"]) == 4


def test_fail_and_warn_cells_link_to_a_detail_that_shows_expected_observed_source_and_fix():
    page = _Page(readiness_html(_results()))
    links = [a["href"] for tag, a in page.elements if tag == "a" and a.get("href", "").startswith("#d-")]
    assert len(links) == len(set(links)) == 2
    for href in links:
        assert re.fullmatch(r"#d-[0-9a-f]{16}", href)
    details = {a["id"]: a for tag, a in page.elements if tag == "article"}
    fail = next(key for key, a in details.items() if a.get("data-requirement") == "rights/b")
    assert "#" + fail in links and details[fail]["class"] == "detail status-fail" and details[fail]["data-host"] == "web02"
    text = page.texts[fail]
    for wanted in ("web02", "rights/b", "001-01", "expected of rights/b", "missing",
                   "role pkiops.keyfactor_command.common, variable fix_rights_b"):
        assert wanted in text
    # The failed host's error cells lead to its message.
    error = next(key for key, a in details.items() if a["class"] == "detail status-error")
    assert "Failed to connect to the host via winrm: timed out" in page.texts[error]
    assert {a["href"] for tag, a in page.elements if tag == "a" and a.get("href") == "#" + error}
    ids = [a["id"] for _tag, a in page.elements if "id" in a]
    assert len(ids) == len(set(ids))


def test_a_script_or_markup_from_a_host_stays_text_in_html():
    results = _results()
    results['evil"<b>host'] = _host(_req("rights/b", "rights", "fail", observed=SCRIPT, fix="a & b < c", title='"><img src=x>',
                                         expected="it's 'quoted'"))
    results["zz-down"]["msg"] = "</article><script>x()</script>"
    text = readiness_html(results, title="<i>Readiness</i>", generated="<b>now</b>")
    assert "<script" not in text.lower() and "<img" not in text and "<b>" not in text and "<i>" not in text
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in text
    assert "&lt;img src=x&gt;" in text and "a &amp; b &lt; c" in text
    page = _Page(text)
    # Attributes come back as they were written, so nothing broke out of them.
    assert sorted({c["data-host"] for c in page.cells}) == sorted(['evil"<b>host', "web01", "web02", "zz-down"])
    detail = next(a["id"] for tag, a in page.elements if tag == "article" and a.get("data-host") == 'evil"<b>host')
    assert SCRIPT in page.texts[detail] and "it's 'quoted'" in page.texts[detail]
    assert [tag for tag, _a in page.elements].count("article") == 4


def test_the_page_loads_nothing_from_anywhere():
    text = readiness_html(_results())
    lowered = text.lower()
    for forbidden in ("http://", "https://", "src=", "<link", "@import", "url(", "<script", "<img", "<iframe", "@font-face"):
        assert forbidden not in lowered, forbidden
    assert "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline';" in text
    assert lowered.count("<style>") == 1
    assert text.isascii()


def test_a_url_from_a_host_is_text_not_a_link():
    results = {"web01": _host(_req("rights/b", "rights", "fail", observed="https://kf.example.com/KeyfactorPortal"))}
    page = _Page(readiness_html(results))
    assert not [a for tag, a in page.elements if tag == "a" and not a["href"].startswith("#")]


def test_the_same_input_gives_the_same_output_in_any_order():
    results = _results()
    reordered = {name: copy.deepcopy(results[name]) for name in reversed(list(results))}
    for entry in reordered.values():
        entry.get("requirements", []).reverse()
    for render in (readiness_html, readiness_markdown):
        first = render(results, generated="2026-06-01 12:00")
        assert render(copy.deepcopy(results), generated="2026-06-01 12:00") == first
        assert render(reordered, generated="2026-06-01 12:00") == first


def test_a_detail_keeps_its_anchor_when_other_hosts_change():
    def anchor(results):
        page = _Page(readiness_html(results))
        return next(a["id"] for tag, a in page.elements if tag == "article" and a.get("data-requirement") == "rights/b")
    alone = {"web02": _results()["web02"]}
    assert anchor(alone) == anchor(_results())


def test_rows_follow_the_category_order_then_the_id_and_unknown_categories_come_last():
    results = {"h": _host(_req("z/registry", "registry"), _req("b/rights", "rights"), _req("a/rights", "rights"),
                          _req("m/other", "zeta"), _req("k/other", "alpha"), _req("c/co", "co_location"),
                          _req("f/features", "features"), _req("p/pools", "app_pools"), _req("l/log", "log_directory"))}
    order = ["c/co", "a/rights", "b/rights", "l/log", "f/features", "p/pools", "z/registry", "k/other", "m/other"]
    page = _Page(readiness_html(results))
    assert [c["data-requirement"] for c in page.cells] == order
    rows = _table_rows(readiness_markdown(results))
    assert [row[1] for row in rows[2:]] == [f"title of {r}" for r in order]
    assert [row[0] for row in rows[2:]] == ["Co-location", "User rights", "User rights", "Log directory", "Windows features",
                                            "IIS application pools", "Registry", "alpha", "zeta"]


def test_markdown_summarises_each_host_on_one_line():
    markdown = readiness_markdown(_results(), generated="2026-06-01 12:00 UTC")
    lines = markdown.splitlines()
    assert lines[:4] == ["# Keyfactor Command readiness", "", "Generated: 2026-06-01 12:00 UTC", ""]
    assert [line for line in lines if line.startswith("- **")] == [
        "- **web01**: ready (3 pass, 0 fail, 0 warn)",
        "- **web02**: NOT READY (1 pass, 1 fail, 1 warn)",
        "- **zz-down**: UNREACHABLE: Failed to connect to the host via winrm: timed out",
    ]
    assert "Generated" not in readiness_markdown(_results())


def test_markdown_matrix_has_the_cells_of_every_host():
    rows = _table_rows(readiness_markdown(_results()))
    assert rows[0] == ["Category", "Requirement", "Ref", "web01", "web02", "zz-down"]
    assert rows[1] == ["---", "---", "---", ":---:", ":---:", ":---:"]
    assert [row[3:] for row in rows[2:]] == [["pass", "n/a", "error"], ["pass", "warn", "error"], ["pass", "FAIL", "error"],
                                             ["n/a", "pass", "error"]]


def test_markdown_escapes_pipes_newlines_markup_and_backslashes():
    results = {"web|01": _host(_req("rights/CONTOSO\\svc", "rights", "fail", title="a | b\nc\r\nd " + SCRIPT,
                                    observed="line 1\nline | 2 *not bold* `code` [link](x)", fix="C:\\Keyfactor\\logs"))}
    markdown = readiness_markdown(results)
    rows = _table_rows(markdown)
    assert all(len(row) == 4 for row in rows), rows
    assert rows[0][3] == "web\\|01"
    assert rows[2][1] == "a \\| b<br>c<br>d &lt;script&gt;alert('owned')&lt;/script&gt;"
    assert "<script" not in markdown
    assert "- Observed: line 1<br>line \\| 2 \\*not bold\\* \\`code\\` \\[link\\](x)" in markdown
    assert "- Fix: C:\\\\Keyfactor\\\\logs" in markdown
    assert "- Requirement: rights/CONTOSO\\\\svc" in markdown
    assert "\r" not in markdown


def test_markdown_details_list_every_failure_warning_and_failed_host():
    markdown = readiness_markdown(_results())
    details = markdown.split("## Failures and warnings\n", 1)[1]
    assert re.findall(r"^### .*$", details, re.MULTILINE) == [
        "### warn: web02: title of accounts/a", "### FAIL: web02: title of rights/b", "### ERROR: zz-down"]
    fail = details.split("### FAIL: web02: title of rights/b\n", 1)[1].split("###", 1)[0]
    assert fail.strip().splitlines() == [
        "- Host: web02", "- Requirement: rights/b", "- Source: 001-01", "- Expected: expected of rights/b", "- Observed: missing",
        "- Fix: role pkiops.keyfactor\\_command.common, variable fix\\_rights\\_b"]
    assert "- Message: Failed to connect to the host via winrm: timed out" in details


def test_an_unknown_status_counts_as_a_failure_and_a_reported_not_ready_host_is_not_ready():
    results = {"a": _host(_req("rights/b", "rights", "broken")), "b": dict(_host(_req("rights/b", "rights")), ready=False),
               "c": _host(_req("rights/b", "rights", "warn"))}
    page = _Page(readiness_html(results))
    assert [page.status_of(host, "rights/b") for host in "abc"] == ["status-fail", "status-pass", "status-warn"]
    lines = [line for line in readiness_markdown(results).splitlines() if line.startswith("- **")]
    assert lines == ["- **a**: NOT READY (0 pass, 1 fail, 0 warn)", "- **b**: NOT READY (1 pass, 0 fail, 0 warn)",
                     "- **c**: ready (0 pass, 0 fail, 1 warn)"]


def test_a_skipped_or_malformed_result_is_an_error_column():
    results = {"a": {"skipped": True, "skip_reason": "Conditional result was False"}, "b": "oops", "c": _host(_req("rights/b", "rights"))}
    page = _Page(readiness_html(results))
    assert [page.status_of(host, "rights/b") for host in "abc"] == ["status-error", "status-error", "status-pass"]
    markdown = readiness_markdown(results)
    assert "- **a**: ERROR: skipped: Conditional result was False" in markdown
    assert "- **b**: ERROR: not a readiness\\_info result: str" in markdown


def test_no_hosts_and_no_requirements_still_render():
    assert _Page(readiness_html({})).cells == []
    assert "No host results." in readiness_markdown({})
    page = _Page(readiness_html({"down": {"failed": True, "msg": "boom"}}))
    assert page.cells == [] and "No requirement results." in page.texts["readiness-matrix"]


def test_title_defaults_and_is_escaped():
    assert "<title>Keyfactor Command readiness</title>" in readiness_html({})
    assert "<h1>A &amp; B</h1>" in readiness_html({}, title="A & B")
    assert readiness_markdown({}, title="A & B").startswith("# A &amp; B\n")


@pytest.mark.parametrize("value", [["web01"], "web01", None])
def test_input_that_is_not_a_mapping_is_refused(value):
    for render in (readiness_html, readiness_markdown):
        with pytest.raises(AnsibleFilterError, match="mapping of inventory_hostname"):
            render(value)
