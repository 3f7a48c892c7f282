"""Broken pages: each gives a problem naming the file and the line, never a traceback.

Fixtures are small pages written to ``tmp_path`` and read by ``python -m codegen parse``
(the contract users see: ``path:line[:col]: severity: message`` on stderr, exit 1 when
a table could not be read) or in process by ``read_page`` + ``normalise``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import docutils.core
import pytest

from codegen.extract import read_page
from codegen.normalise import normalise

ROOT = Path(__file__).resolve().parents[1]
_STDERR_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<severity>error|warning): \S.*$"
)

Row = tuple[str, ...]
SOP: list[Row] = [("1.2.840.10008.1.1", "Verification")]
STATUS: list[Row] = [("0x0000", "Success", "Success"), ("0xC000", "Failure", "Cannot understand")]
SOP_HEADER: Row = ("UID", "SOP Class")
STATUS_HEADER: Row = ("Code (hex)", "Category", "Description")


# -- fixtures -------------------------------------------------------------------------
def grid(header: Row, rows: list[Row]) -> list[str]:
    """An RST grid table, one line per row."""
    widths = [max(len(r[i]) for r in [header, *rows]) + 2 for i in range(len(header))]
    border = "+" + "+".join("-" * w for w in widths) + "+"

    def line(cells: Row) -> str:
        return "|" + "|".join((" " + c).ljust(w) for c, w in zip(cells, widths, strict=True)) + "|"

    body = [text for row in rows for text in (line(row), border)]
    return [border, line(header), border.replace("-", "="), *body]


def pipe(header: Row, rows: list[Row]) -> list[str]:
    """A pipe table as a browser's text rendering of an HTML table writes it."""

    def line(cells: Row) -> str:
        return "| " + " | ".join(cells) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *map(line, rows)]


def rst_page(sop: list[Row] = SOP, status: list[Row] = STATUS) -> str:
    return "\n".join([
        "Verification Service Class", "==========================", "",
        "Supported SOP Classes", "---------------------", "",
        *grid(SOP_HEADER, sop), "",
        "C-ECHO Statuses", "---------------", "",
        *grid(STATUS_HEADER, status), "",
    ])


def text_page(sop: list[Row] = SOP, status: list[Row] = STATUS) -> str:
    return "\n".join([
        "Verification Service Class¶", "",
        "Supported SOP Classes¶", "",
        *pipe(SOP_HEADER, sop), "",
        "C-ECHO Statuses¶", "",
        *pipe(STATUS_HEADER, status), "",
    ])


def render_html(rst: str) -> str:
    html = docutils.core.publish_string(
        source=rst,
        writer="html5",
        settings_overrides={"report_level": 5, "halt_level": 5, "output_encoding": "unicode"},
    )
    assert isinstance(html, str)
    return html


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the only line containing ``needle``."""
    found = [n for n, line in enumerate(text.split("\n"), 1) if needle in line]
    assert len(found) == 1, f"{needle!r} found on lines {found}"
    return found[0]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# -- the command line -----------------------------------------------------------------
class Parsed(NamedTuple):
    code: int
    out: dict[str, Any]
    lines: list[str]


def parse(*paths: Path) -> Parsed:
    """Run ``python -m codegen parse``; check what must hold whatever the input."""
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "codegen", "parse", *map(str, paths)],
        capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": pythonpath}, timeout=60, check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stderr
    lines = done.stderr.splitlines()
    for line in lines:
        assert _STDERR_LINE.match(line), f"malformed problem line: {line!r}"
    return Parsed(done.returncode, json.loads(done.stdout), lines)


def problem_at(lines: list[str], path: Path, line: int, severity: str, fragment: str) -> str:
    """The one stderr line at ``path:line`` with ``severity`` that contains ``fragment``."""
    prefix = f"{path}:{line}: {severity}: "
    hits = [text for text in lines if text.startswith(prefix) and fragment in text]
    assert len(hits) == 1, f"no single {prefix!r}...{fragment!r} in {lines}"
    return hits[0]


# -- wrong values, in every form ------------------------------------------------------
class Case(NamedTuple):
    sop: list[Row]
    status: list[Row]
    key: str  # first cell of the faulty row
    severity: str
    fragment: str


CASES: dict[str, Case] = {
    "code-0xZZZZ": Case(
        SOP, [*STATUS, ("0xZZZZ", "Failure", "Unknown")], "0xZZZZ",
        "error", "'0xZZZZ' is not a status code or range",
    ),
    "range-reversed": Case(
        SOP, [*STATUS, ("0xA7FF to 0xA700", "Failure", "Refused: Out of resources")],
        "0xA7FF to 0xA700", "warning", "range '0xA7FF to 0xA700' is reversed",
    ),
    "category-Maybe": Case(
        SOP, [*STATUS, ("0xA700", "Maybe", "Refused: Out of resources")], "0xA700",
        "warning", "'Maybe' is not a status category",
    ),
    "uid-invalid": Case(
        [*SOP, ("1.2.03", "LeadingZeroStorage")], STATUS, "1.2.03",
        "warning", "'1.2.03' is not a valid UID",
    ),
    "uid-not-in-ps36": Case(
        [*SOP, ("1.2.840.10008.5.1.4.1.1.9999", "MadeUpStorage")], STATUS,
        "1.2.840.10008.5.1.4.1.1.9999", "warning",
        "UID 1.2.840.10008.5.1.4.1.1.9999 (MadeUpStorage) is not in PS3.6",
    ),
    "uid-transfer-syntax": Case(
        [*SOP, ("1.2.840.10008.1.2", "ImplicitVRLittleEndian")], STATUS, "1.2.840.10008.1.2",
        "warning", "UID 1.2.840.10008.1.2 is a PS3.6 'Transfer Syntax', not a SOP Class",
    ),
    "description-truncated": Case(
        SOP, [*STATUS, ("0xC001", "Failure", "Handler bound to")], "0xC001",
        "warning", "description of 0xC001 looks truncated: 'Handler bound to'",
    ),
}


def test_fixture_pages_are_clean(tmp_path: Path) -> None:
    rst = write(tmp_path, "page.rst", rst_page())
    text = write(tmp_path, "page.txt", text_page())
    html = write(tmp_path, "page.html", render_html(rst_page()))
    parsed = parse(rst, text, html)
    assert (parsed.code, parsed.lines) == (0, [])
    assert [s["form"] for s in parsed.out["sources"]] == ["html", "rst", "html-text"]
    for service in parsed.out["service_classes"]:
        assert [s["uid"] for s in service["sop_classes"]] == ["1.2.840.10008.1.1"]
        assert [(s["dimse"], s["first"], s["category"]) for s in service["statuses"]] == [
            ("C-ECHO", "0x0000", "Success"), ("C-ECHO", "0xC000", "Failure")
        ]


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_value_cli(tmp_path: Path, case: Case) -> None:
    text = rst_page(case.sop, case.status)
    path = write(tmp_path, "page.rst", text)
    parsed = parse(path)
    line = line_of(text, f"| {case.key} ")
    problem_at(parsed.lines, path, line, case.severity, case.fragment)
    assert len(parsed.lines) == 1
    # An error means a row was lost: exit 1. A warning keeps the row: exit 0.
    assert parsed.code == (1 if case.severity == "error" else 0)


FORMS = ("rst", "html", "html-text", "collapsed-rst")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_value_every_form(case: Case, form: str) -> None:
    rst = rst_page(case.sop, case.status)
    col: int | None = None
    if form == "rst":
        text, line = rst, line_of(rst, f"| {case.key} ")
    elif form == "html":
        text = render_html(rst)
        line = line_of(text, f"<tr><td><p>{case.key}</p>")
    elif form == "html-text":
        text = text_page(case.sop, case.status)
        line = line_of(text, f"| {case.key} |")
    else:  # newlines lost: the place is the column where the row starts
        text = re.sub(r"\s+", " ", rst)
        line, col = 1, text.index(f"| {case.key} ") + 1
    page = read_page("page", text, form.removeprefix("collapsed-"))
    _, problems = normalise(page)
    assert [(p.where.line, p.where.col, p.severity) for p in problems] == [
        (line, col, case.severity)
    ], [str(p) for p in problems]
    assert case.fragment in problems[0].message


def test_reversed_range_is_read_in_order(tmp_path: Path) -> None:
    case = CASES["range-reversed"]
    parsed = parse(write(tmp_path, "page.rst", rst_page(case.sop, case.status)))
    statuses = parsed.out["service_classes"][0]["statuses"]
    assert ("0xA700", "0xA7FF") in [(s["first"], s["last"]) for s in statuses]


def test_unreadable_code_drops_only_its_row(tmp_path: Path) -> None:
    case = CASES["code-0xZZZZ"]
    parsed = parse(write(tmp_path, "page.rst", rst_page(case.sop, case.status)))
    statuses = parsed.out["service_classes"][0]["statuses"]
    assert [s["first"] for s in statuses] == ["0x0000", "0xC000"]


# -- tables that cannot be read -------------------------------------------------------
def _misaligned_column(lines: list[str], row: int) -> None:
    lines[row] = lines[row].replace("| Failure  |", "| Failure |  ")


def _short_border(lines: list[str], row: int) -> None:
    lines[row + 1] = lines[row + 1][:-4]


def _no_bottom_border(lines: list[str], row: int) -> None:
    del lines[row + 1]


def _short_row(lines: list[str], row: int) -> None:
    lines[row] = lines[row].rstrip("|").rstrip()


BREAKAGES = {
    # (how, which line docutils complains about, relative to the faulty row)
    "misaligned-column": (_misaligned_column, 0, "Right border not aligned or missing"),
    "short-row-border": (_short_border, 1, "Bottom border missing or corrupt"),
    "short-row": (_short_row, 0, "Right border not aligned or missing"),
    "no-bottom-border": (_no_bottom_border, 0, "Bottom border missing or corrupt"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_malformed_grid_table(tmp_path: Path, breakage: str) -> None:
    how, offset, detail = BREAKAGES[breakage]
    text = rst_page(status=[*STATUS, ("0xA700", "Failure", "Refused: Out of resources")])
    lines = text.split("\n")
    row = line_of(text, "| 0xA700 ") - 1  # 0-based index of the faulty row
    how(lines, row)
    assert lines != text.split("\n")
    path = write(tmp_path, "page.rst", "\n".join(lines))
    parsed = parse(path)
    problem_at(parsed.lines, path, row + 1 + offset, "error",
               f"table could not be read: Malformed table. {detail}")
    assert parsed.code == 1
    # The faulty row is lost (docutils keeps at most the rows above the last intact
    # border); the page's other table is still read.
    service = parsed.out["service_classes"][0]
    assert "0xA700" not in [s["first"] for s in service["statuses"]]
    assert [s["uid"] for s in service["sop_classes"]] == ["1.2.840.10008.1.1"]


def test_html_text_row_never_closed(tmp_path: Path) -> None:
    text = text_page().replace("| Cannot understand |", "| Cannot understand")
    path = write(tmp_path, "page.txt", text)
    parsed = parse(path)
    line = line_of(text, "| 0xC000 ")
    problem_at(parsed.lines, path, line, "error",
               f"row at line {line} is not closed by '|' before the end of the file")
    assert parsed.code == 1


def test_html_text_row_not_closed_before_next_heading(tmp_path: Path) -> None:
    text = text_page().replace("| Cannot understand |", "| Cannot understand")
    text += "\nC-FIND Statuses¶\n\n" + "\n".join(pipe(STATUS_HEADER, [STATUS[0]])) + "\n"
    path = write(tmp_path, "page.txt", text)
    parsed = parse(path)
    line = line_of(text, "| 0xC000 ")
    heading = line_of(text, "C-FIND Statuses¶")
    problem_at(parsed.lines, path, line, "error",
               f"row at line {line} is not closed by '|' before line {heading}")
    assert parsed.code == 1
    # The next table is still read, under its own heading.
    statuses = parsed.out["service_classes"][0]["statuses"]
    assert ("C-FIND", "0x0000") in [(s["dimse"], s["first"]) for s in statuses]


def test_html_unclosed_table(tmp_path: Path) -> None:
    html = render_html(rst_page()).replace("</tbody>\n</table>\n</section>\n</main>", "</main>")
    assert html.count("<table") == 2 and html.count("</table>") == 1
    path = write(tmp_path, "page.html", html)
    parsed = parse(path)
    line = [n for n, text in enumerate(html.split("\n"), 1) if text.startswith("<table")][-1]
    problem_at(parsed.lines, path, line, "error", f"table at line {line} is not closed")
    assert parsed.code == 1


@pytest.mark.parametrize("suffix", [".rst", ".html", ".txt"])
def test_empty_file(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path, "empty" + suffix, "")
    parsed = parse(path)
    problem_at(parsed.lines, path, 1, "error", "no table could be read")
    assert parsed.code == 1


UNDECODABLE = {
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff\xfe\xfd",
    "latin-1": rst_page().replace("Verification", "V\xe9rification").encode("latin-1"),
}


@pytest.mark.parametrize("kind", list(UNDECODABLE))
def test_undecodable_file(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path, "page.rst", UNDECODABLE[kind])
    parsed = parse(path)
    problem_at(parsed.lines, path, 1, "error", "cannot read: 'utf-8' codec can't decode")
    assert parsed.code == 1
    assert parsed.out["sources"] == [] and parsed.out["service_classes"] == []


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "no-such-page.rst"
    parsed = parse(path)
    problem_at(parsed.lines, path, 1, "error", "cannot read: [Errno 2] No such file")
    assert parsed.code == 1


def test_exit_code(tmp_path: Path) -> None:
    case = CASES["category-Maybe"]
    warned = write(tmp_path, "warned.rst", rst_page(case.sop, case.status))
    broken = rst_page().replace("| 0xC000     | Failure  |", "| 0xC000     | Failure |")
    unreadable = write(tmp_path, "broken.rst", broken)
    only_warnings = parse(warned)
    assert only_warnings.code == 0
    assert only_warnings.lines and all(": warning: " in line for line in only_warnings.lines)
    with_error = parse(unreadable)
    assert with_error.code == 1
    assert any(": error: table could not be read" in line for line in with_error.lines)
    both = parse(warned, unreadable)
    assert both.code == 1
    assert len(both.out["service_classes"]) == 2


# -- a byte-order mark ----------------------------------------------------------------

def _storage_page(form: str) -> str:
    rst = rst_page().replace("Verification Service Class", "Storage Service Class")
    if form == "html":
        return render_html(rst)
    if form == "html-text":
        return text_page().replace("Verification Service Class", "Storage Service Class")
    return rst


@pytest.mark.parametrize(
    ("form", "suffix"),
    [
        pytest.param("rst", ".rst"),
        pytest.param("html-text", ".txt"),
        pytest.param("html", ".html"),
    ],
)
def test_byte_order_mark_is_not_text(tmp_path: Path, form: str, suffix: str) -> None:
    path = write(tmp_path, "page" + suffix, b"\xef\xbb\xbf" + _storage_page(form).encode())
    parsed = parse(path)
    service = parsed.out["service_classes"][0]
    assert (service["name"], service["uid"]) == ("Storage Service Class", "1.2.840.10008.4.2")
