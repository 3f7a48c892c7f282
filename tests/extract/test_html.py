"""Tests for the HTML reader (codegen.extract.html)."""

from __future__ import annotations

from pathlib import Path

import docutils.core
import pytest
from docutils import nodes
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.extract.html import read_html
from codegen.extract.raw import RawPage

UPSTREAM = Path("/work/shared/upstream-docs/pynetdicom")
PAGES = sorted(UPSTREAM.glob("*.rst"))


def _errors(page: RawPage) -> list[tuple[int, str]]:
    return [(p.where.line, p.message) for p in page.problems if p.severity == "error"]


def _doctree_tables(src: str) -> list[tuple[str, list[list[str]]]]:
    """(first header cell, body rows as collapsed entry texts) as docutils itself sees them."""
    tree = docutils.core.publish_doctree(src, settings_overrides={"report_level": 5})
    out = []
    for table in tree.findall(nodes.table):
        heads = [" ".join(e.astext().split()) for h in table.findall(nodes.thead)
                 for e in h.findall(nodes.entry)]
        rows = [[" ".join(e.astext().split()) for e in row.findall(nodes.entry)]
                for body in table.findall(nodes.tbody) for row in body.findall(nodes.row)]
        out.append((heads[0] if heads else "", rows))
    return out


@pytest.mark.skipif(not PAGES, reason="upstream pynetdicom pages not available")
@pytest.mark.parametrize("rst", PAGES, ids=[p.stem for p in PAGES])
def test_docutils_rendering_matches_doctree(rst: Path) -> None:
    src = rst.read_text(encoding="utf-8")
    html = docutils.core.publish_string(
        src, writer="html5", settings_overrides={"warning_stream": False}
    ).decode("utf-8")
    page = read_html(str(rst), html)
    expected = _doctree_tables(src)
    assert page.problems == ()
    uid = [len(t.rows) for t in page.tables if t.header[0].startswith("UID")]
    assert uid == [len(rows) for head, rows in expected if head.startswith("UID")]
    assert uid  # every service page lists its SOP classes
    assert [len(t.rows) for t in page.tables] == [len(rows) for _, rows in expected]
    lines = html.split("\n")
    for table, (_, rows) in zip(page.tables, expected, strict=True):
        assert table.sections[0] == page.title
        assert lines[table.where.line - 1].lstrip().startswith("<table")
        for row, entries in zip(table.rows, rows, strict=True):
            assert lines[row.where.line - 1].startswith("<tr")
            if row.spans_all:
                assert [row.cells[0]] == entries and not any(row.cells[1:])
            else:
                assert list(row.cells) == entries


def test_protocol_approval_details() -> None:
    rst = UPSTREAM / "protocol_approval_service_class.rst"
    if not rst.exists():
        pytest.skip("upstream pynetdicom pages not available")
    html = docutils.core.publish_string(
        rst.read_text(encoding="utf-8"), writer="html5",
        settings_overrides={"warning_stream": False},
    ).decode("utf-8")
    assert 'class="system-message"' in html  # the unknown :dcm: role is reported inline
    page = read_html("pa.html", html)
    title = "Protocol Approval Query/Retrieve Service Class"
    assert page.title == title
    assert page.intro.endswith("defines a service that facilitates access to Protocol "
                               "Approval composite objects.")
    assert "Unknown interpreted text role" not in page.intro
    dimse = page.tables[1]
    assert dimse.sections == (title, "DIMSE Services")
    assert [r.spans_all for r in dimse.rows] == [True, False] * 3
    assert dimse.rows[0].cells == ("Protocol Approval Information Model - Find", "")
    find = page.tables[4]
    assert find.sections == (title, "Statuses",
                             "pynetdicom Protocol Approval Query/Retrieve (Find) Statuses")
    assert find.intro.startswith("When pynetdicom is acting as a Protocol Approval")
    assert find.rows[3].cells[2] == "Unhandled exception raised by the handler bound to " \
        "evt.EVT_C_FIND"


SPANS = """<html><head><title>Page — docs</title></head><body>
<section><h1>Storage<a class="headerlink" href="#s" title="Link">¶</a></h1>
<p>The <em>Storage</em>   class.</p>
<div class="system-message"><p>Unknown role</p><h2>Not a heading</h2></div>
<section><h2>Statuses<a class="headerlink" href="#t">#</a></h2>
<p>First   para.</p><p>Second</p>
<table class="docutils">
<thead><tr><th rowspan="2">Code</th><th colspan="2">Usage</th></tr>
<tr><th>SCU</th><th>SCP</th></tr></thead>
<tbody>
<tr><td colspan="3"><p><em>Group</em> one</p></td></tr>
<tr><td rowspan="2">0x0000</td><td>A</td><td><code>x</code> <span>y\u2019s</span></td></tr>
<tr><td>B</td><td>z</td></tr>
<tr><td colspan="2">wide</td><td>q</td></tr>
</tbody></table>
</section></section></body></html>"""


def test_colspan_rowspan_and_sphinx_headings() -> None:
    page = read_html("spans.html", SPANS)
    assert page.problems == ()
    assert page.title == "Storage"
    assert page.intro == "The Storage class."
    (table,) = page.tables
    assert table.sections == ("Storage", "Statuses")
    assert table.intro == "First para. Second"
    assert table.where.line == 7
    assert table.header == ("Code", "Usage SCU", "Usage SCP")
    assert [(r.cells, r.spans_all, r.where.line) for r in table.rows] == [
        (("Group one", "", ""), True, 11),
        (("0x0000", "A", "x y\u2019s"), False, 12),
        (("0x0000", "B", "z"), False, 13),
        (("wide", "wide", "q"), False, 14),
    ]


def test_header_from_first_th_row_and_title_fallback() -> None:
    html = ("<title>Fallback</title><h2>Sub</h2>\n<table><tr><th>UID</th><th>Name</th></tr>\n"
            "<tr><td>1.2</td><td>X</td></tr></table>")
    page = read_html("th.html", html)
    assert page.title == "Fallback"
    (table,) = page.tables
    assert table.sections == ("Fallback", "Sub")
    assert table.header == ("UID", "Name")
    assert [(r.cells, r.where.line) for r in table.rows] == [(("1.2", "X"), 3)]


GRID = """<h1>Title</h1>
<h2>SOPs</h2>
<p>Before the grid.</p>
<pre class="literal-block">
+------+-----------+
| UID  | SOP Class |
+======+===========+
| 1.2  | Foo       |
|      | Bar       |
+------+-----------+
| *Group heading*  |
+------+-----------+
</pre>
"""


def test_grid_table_in_pre() -> None:
    page = read_html("grid.html", GRID)
    assert page.problems == ()
    (table,) = page.tables
    assert table.sections == ("Title", "SOPs")
    assert table.intro == "Before the grid."
    assert table.header == ("UID", "SOP Class")
    assert table.where.line == 5
    assert [(r.cells, r.spans_all, r.where.line) for r in table.rows] == [
        (("1.2", "Foo Bar"), False, 8),
        (("*Group heading*", ""), True, 11),
    ]


def test_row_width_mismatch_is_an_error() -> None:
    html = ("<h1>T</h1>\n<table><thead><tr><th>A</th><th>B</th></tr></thead><tbody>\n"
            "<tr><td>1</td><td>2</td><td>3</td></tr>\n<tr><td>4</td></tr>\n</tbody></table>")
    page = read_html("bad.html", html)
    assert _errors(page) == [
        (3, "row at line 3 has 3 cells after span expansion, header has 2"),
        (4, "row at line 4 has 1 cells after span expansion, header has 2"),
    ]
    assert [r.cells for r in page.tables[0].rows] == [("1", "2"), ("4", "")]


def test_malformed_markup_gives_problems() -> None:
    html = ("<h1>T\n<table><tr><th>A</th></tr>\n<tr><td colspan='x'>1\n"
            "<tr><td rowspan=0>2</td>\n")
    page = read_html("bad.html", html)
    messages = [(p.severity, p.where.line, p.message) for p in page.problems]
    assert ("warning", 3, "cell at line 3 has colspan='x'; using 1") in messages
    assert ("error", 2, "table at line 2 is not closed") in messages
    assert ("warning", 1, "heading at line 1 is not closed") in messages
    assert page.title == "T"
    assert page.tables[0].sections == ("T",)
    assert [r.cells for r in page.tables[0].rows] == [("1",), ("2",)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    "<table>", "</table>", "<tr>", "</tr>", "<td>", "</td>", "<th>", "<td colspan=2>",
    "<td rowspan=3>", "<thead>", "</thead>", "<tbody>", "<h1>", "</h1>", "<h2>", "</h2>",
    "<p>", "</p>", "x", " y ", "\n", "<pre>", "</pre>", "+---+---+\n", "| a | b |\n",
    "+===+===+\n", "<aside class='system-message'>", "</aside>", "<", "&amp;", "<!--",
]), max_size=40).map("".join))
def test_never_raises_and_rows_are_rectangular(html: str) -> None:
    page = read_html("fuzz.html", html)
    assert not any("parser failed" in p.message for p in page.problems)
    for table in page.tables:
        assert all(len(row.cells) == len(table.header) for row in table.rows)
