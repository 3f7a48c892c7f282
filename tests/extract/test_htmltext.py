"""Tests for the rendered-HTML-text reader (codegen.extract.htmltext)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.extract.htmltext import read_html_text
from codegen.extract.raw import RawPage

SOURCES = Path(__file__).resolve().parents[2] / "spec" / "sources"
NONPAT = "Non-Patient Object Storage Service Class"
PROTOCOL = "Protocol Approval Query/Retrieve Service Class"


def _seed(name: str) -> RawPage:
    path = SOURCES / name
    return read_html_text(str(path), path.read_text(encoding="utf-8"))


def _errors(page: RawPage) -> list[tuple[int, str]]:
    return [(p.where.line, p.message) for p in page.problems if p.severity == "error"]


def test_seed_000_non_patient() -> None:
    page = _seed("000_0f6dfe1fcbfdcdc7.txt")
    assert page.form == "html-text"
    assert page.title == NONPAT
    assert page.intro.startswith("The Non-Patient Object Storage Service Class defines")
    assert page.problems == ()
    assert [len(t.rows) for t in page.tables] == [7, 7, 3, 4]
    sops, store, service, impl = page.tables
    assert sops.sections == (NONPAT, "Supported SOP Classes")
    assert sops.header == ("UID", "SOP Class")
    assert sops.where.line == 4
    assert sops.rows[0].cells == ("1.2.840.10008.5.1.4.38.1", "HangingProtocolStorage")
    assert sops.rows[0].where.line == 6
    assert sops.rows[-1].cells == ("1.2.840.10008.5.1.4.1.1.200.3", "ProtocolApprovalStorage")
    assert sops.rows[-1].where.line == 12
    assert store.sections == (NONPAT, "C-STORE Statuses")
    assert store.header == ("Code (hex)", "Category", "Description")
    assert store.rows[6].cells == ("0x0212", "Failure", "Mistyped argument")
    assert service.rows[1].cells == ("0xA900", "Failure", "Dataset doesn\u2019t match SOP Class")
    assert impl.sections == (NONPAT, "pynetdicom Statuses")
    assert impl.intro.startswith("When pynetdicom is acting as a Non-Patient Object Storage SCP")
    assert impl.rows[3].cells == (
        "0xC211",
        "Failure",
        "Unhandled exception raised by the user\u2019s implementation of the on_c_store callback",
    )
    assert impl.rows[3].where.line == 37
    assert not any(row.spans_all for table in page.tables for row in table.rows)


def test_seed_004_protocol_approval() -> None:
    page = _seed("004_ef2467783b6a40a8.txt")
    assert page.title == PROTOCOL
    assert page.problems == ()
    assert [len(t.rows) for t in page.tables] == [3, 6, 3, 5, 5, 6, 11, 5, 7, 12, 7]
    sops, dimse = page.tables[:2]
    assert sops.header == ("UID", "SOP Class")  # trailing blanks after the last '|' ignored
    assert sops.rows[2].cells == ("1.2.840.10008.5.1.4.1.1.200.6", "ProtocolApprovalInformationGet")
    assert dimse.sections == (PROTOCOL, "DIMSE Services")
    groups = [row for row in dimse.rows if row.cells[1] == ""]
    assert [row.cells[0] for row in groups] == [
        "Protocol Approval Information Model - Find",
        "Protocol Approval Information Model - Move",
        "Protocol Approval Information Model - Get",
    ]
    assert [row.where.line for row in groups] == [12, 14, 16]
    assert not any(row.spans_all for row in dimse.rows)  # two cells in a two-column table
    find = page.tables[4]
    heading = "pynetdicom Protocol Approval Query/Retrieve (Find) Statuses"
    assert find.sections == (PROTOCOL, heading)
    assert find.intro.startswith("When pynetdicom is acting as a Protocol Approval")
    assert find.rows[0].cells == ("0xC001", "Failure", "Handler bound to")  # truncation kept
    assert find.rows[3].cells == (
        "0xC311", "Failure", "Unhandled exception raised by the handler bound to"
    )
    assert find.rows[3].where.line == 40
    assert find.rows[4].where.line == 42
    assert page.tables[-1].rows[-1].cells == ("0xC515", "Failure", "The handler bound to")


def test_one_cell_per_line_variant() -> None:
    text = """Hanging Protocol¶
Intro of the page.
SOP Classes¶
These are the classes.
UID |
SOP Class |
|---|---|
1.2.840.10008.5.1.4.38.1 |
HangingProtocolStorage |
1.2.840.10008.5.1.4.38.2 |
Hanging Protocol
Find |
Prose after the table.
"""
    page = read_html_text("p.txt", text)
    assert page.problems == ()
    assert page.intro == "Intro of the page."
    (table,) = page.tables
    assert table.header == ("UID", "SOP Class")
    assert table.intro == "These are the classes."
    assert table.where.line == 5
    assert [row.cells for row in table.rows] == [
        ("1.2.840.10008.5.1.4.38.1", "HangingProtocolStorage"),
        ("1.2.840.10008.5.1.4.38.2", "Hanging Protocol Find"),
    ]
    assert [row.where.line for row in table.rows] == [8, 10]


def test_pydata_hash_headings_and_group_rows() -> None:
    text = """Storage Service Class#
Statuses #
| Code | Category | Description |
|:---|---|---:|
| *Group heading* |
| 0x0000 | Success | Success |
| 0xC211 | Failure |
Unhandled exception |
"""
    page = read_html_text("p.txt", text)
    assert page.title == "Storage Service Class"
    (table,) = page.tables
    assert table.sections == ("Storage Service Class", "Statuses")
    assert table.rows[0].cells == ("*Group heading*", "", "")
    assert table.rows[0].spans_all
    assert table.rows[2].cells == ("0xC211", "Failure", "Unhandled exception")
    assert page.problems == ()


def test_table_right_after_title_and_two_tables_under_one_heading() -> None:
    text = "Title¶\n| A | B |\n|---|---|\n| 1 | 2 |\n| C | D |\n|---|---|\n| 3 | 4 |\n"
    page = read_html_text("p.txt", text)
    assert [t.sections for t in page.tables] == [("Title",), ("Title",)]
    assert [t.header for t in page.tables] == [("A", "B"), ("C", "D")]
    assert [t.rows[0].where.line for t in page.tables] == [4, 7]


def test_separator_without_header() -> None:
    page = read_html_text("bad.txt", "Title¶\nSome prose.\n|---|---|\n| a | b |\n")
    assert (3, "table separator at line 3 has no header") in _errors(page)
    (table,) = page.tables
    assert table.header == ("", "")
    assert table.rows[0].cells == ("a", "b")


def test_row_with_too_many_cells() -> None:
    page = read_html_text("bad.txt", "T¶\n| a | b |\n|---|---|\n| 1 | 2 | 3 |\n| 4 |\n")
    assert _errors(page) == [(4, "row at line 4 has 3 cells, header has 2; extra cells dropped")]
    assert [row.cells for row in page.tables[0].rows] == [("1", "2"), ("4", "")]


def test_unclosed_row_at_end_of_file() -> None:
    page = read_html_text("bad.txt", "T¶\n| a | b |\n|---|---|\n| 1 | two\nlines")
    assert _errors(page) == [(4, "row at line 4 is not closed by '|' before the end of the file")]
    assert page.tables[0].rows[0].cells == ("1", "two lines")


def test_unclosed_row_before_heading_and_stray_row() -> None:
    page = read_html_text("bad.txt", "T¶\n| a | b |\n|---|---|\n| 1 | 2\nNext¶\n| x |\n")
    assert _errors(page) == [
        (4, "row at line 4 is not closed by '|' before line 5"),
        (6, "table row at line 6 has no header separator"),
    ]
    assert page.tables[0].rows[0].cells == ("1", "2")


def test_no_heading_is_a_warning() -> None:
    page = read_html_text("plain.txt", "just prose\n")
    assert page.title == ""
    assert [p.severity for p in page.problems] == ["warning"]


_PIECES = st.sampled_from(
    ["|", " | ", "|---|---|", "---", "\n", "¶", "#", "a", "b c", "\\|", " ", "\r\n", "- x", ":"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_never_raises_and_rows_are_rectangular(text: str) -> None:
    page = read_html_text("fuzz.txt", text)
    assert not any("reader failed" in p.message for p in page.problems)
    for table in page.tables:
        assert all(len(row.cells) == len(table.header) for row in table.rows)
