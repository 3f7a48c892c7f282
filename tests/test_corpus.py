"""The 18 pynetdicom service-class pages, read as they are published upstream.

The corpus is never copied into the repository: it is read from
``$DIMSE_SHARED/upstream-docs/pynetdicom`` (default: ``../shared`` beside the checkout),
and every test here is skipped, saying so, when that directory is missing.

* table counts agree with PROVENANCE.txt (parsed here, not hard-coded);
* every problem ``normalise`` reports is a reviewed upstream error (EXPECTED_PROBLEMS);
* the RST, the HTML docutils renders from it and the RST with its whitespace collapsed
  give the same page spec;
* ``python -m codegen parse`` prints that page spec and well-formed problem lines.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import docutils.core
import pytest

from codegen.extract import read_page
from codegen.extract.raw import Problem, RawPage
from codegen.normalise import normalise
from codegen.specjson import service_to_dict

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIMSE_SHARED") or ROOT.parent / "shared")
CORPUS = SHARED / "upstream-docs" / "pynetdicom"
PROVENANCE = CORPUS / "PROVENANCE.txt"
PAGES = sorted(p.name for p in CORPUS.glob("*.rst")) if CORPUS.is_dir() else []
# With no corpus there is still one (skipped) test per function, showing the reason.
PAGE_PARAMS = PAGES or ["<corpus missing>"]

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(
        not PROVENANCE.is_file(),
        reason=f"pynetdicom corpus not found: no {PROVENANCE} "
        "(set DIMSE_SHARED to the directory that holds upstream-docs/)",
    ),
]

# Each fragment names a problem normalise reports for the page, and each was checked
# against the page and the standard: all are errors in the upstream pages, not misreads.
# A problem matching no fragment (or two) fails test_no_unexplained_problem.
EXPECTED_PROBLEMS: dict[str, list[str]] = {
    "basic_worklist_service_class.rst": [
        # PS3.6 keyword is ModalityWorklistInformationModelFind: the page drops "Model".
        "'ModalityWorklistInformationFind' of 1.2.840.10008.5.1.4.31 differs",
    ],
    "display_system_service_class.rst": [
        # N-GET 0x0107 is Attribute List Error (PS3.7 C.4.2); "SOP Class not supported" is 0x0122.
        "0x0107 means 'attribute...' in PS3.7 Annex C, not 'SOP Class not supported'",
    ],
    "instance_availability.rst": [
        # N-CREATE: Attribute List Error / Attribute Value Out of Range are warnings in PS3.7.
        "0x0107 is listed as Failure but PS3.7 makes it Warning",
        "0x0116 is listed as Failure but PS3.7 makes it Warning",
    ],
    "modality_performed_procedure_step.rst": [
        # N-CREATE 0x0107 and N-CREATE/N-SET 0x0116 are warnings (PS3.7 C.4.2, C.4.3).
        "0x0107 is listed as Failure but PS3.7 makes it Warning",
        "0x0116 is listed as Failure but PS3.7 makes it Warning",
        # N-GET 0x0107 described as "SOP Class not supported", the meaning of 0x0122.
        "0x0107 means 'attribute...' in PS3.7 Annex C, not 'SOP Class not supported'",
        # N-SET No such attribute / Invalid attribute value are failures (PS3.7 C.5).
        "0x0105 is listed as Warning but PS3.7 makes it Failure",
        "0x0106 is listed as Warning but PS3.7 makes it Failure",
    ],
    "print_management.rst": [
        # Every N-CREATE status 0x0105..0x0213 is listed as "Success"; PS3.7 makes them
        # failures (0x0107, 0x0116: warnings). 15 rows, one upstream copy-paste slip.
        "is listed as Success but PS3.7 makes it",
        # N-GET 0x0107 described as "SOP Class not supported", the meaning of 0x0122.
        "0x0107 means 'attribute...' in PS3.7 Annex C, not 'SOP Class not supported'",
        # N-SET 0x0116 Attribute Value Out of Range is a warning (PS3.7 C.4.3).
        "0x0116 is listed as Failure but PS3.7 makes it Warning",
    ],
    "protocol_approval_service_class.rst": [
        # PS3.6 keywords are ProtocolApprovalInformationModel{Find,Move,Get}: "Model" missing.
        "'ProtocolApprovalInformationFind' of 1.2.840.10008.5.1.4.1.1.200.4 differs",
        "'ProtocolApprovalInformationMove' of 1.2.840.10008.5.1.4.1.1.200.5 differs",
        "'ProtocolApprovalInformationGet' of 1.2.840.10008.5.1.4.1.1.200.6 differs",
    ],
    "storage_service_class.rst": [
        # Spurious extra ".1": DX For Processing is ...5.1.4.1.1.1.1.1 in PS3.6.
        "UID 1.2.840.10008.5.1.4.1.1.1.1.1.1 (DigitalXRayImageStorageForProcessing) is not in",
        # Components transposed ("5.1.1.4" for "5.1.4.1"): IO For Processing is ...1.1.3.1.
        "UID 1.2.840.10008.5.1.1.4.1.1.3.1 (DigitalIntraOralXRayImageStorageForProcessing) is",
        # Typo "Stage" for "State" (PseudoColorSoftcopyPresentationStateStorage).
        "'PseudoColorSoftcopyPresentationStageStorage' of 1.2.840.10008.5.1.4.1.1.11.3 differs",
        # Typo "Ophthlamic" for "Ophthalmic".
        "'OphthlamicOpticalCoherenceTomographyBscanVolumeAnalysisStorage' of",
        # PS3.6 (pydicom 3.0) names ...481.20 RoboticRadiationRecordStorage, without "Arm".
        "'RoboticArmRadiationRecordStorage' of 1.2.840.10008.5.1.4.1.1.481.20 differs",
        # PS3.6 keyword is ...DeliveryInstructionStorage (singular).
        "'RTBrachyApplicationSetupDeliveryInstructionsStorage' of 1.2.840.10008.5.1.4.34.10",
        # All 13 second-generation RT classes (481.10-481.22) cite A.86.1, the parent section
        # "RT Second Generation IODs"; each IOD has its own annex in PS3.3 (A.86.1.2 RT
        # Physician Intent IOD, ...), as every other row of the table cites.
        "both cite annex A.86.1, but they are different IODs",
    ],
}

_LOCATION = re.compile(r"\s*\([^()\s]+:\d+(?::\d+)?\)")
_DCM_ROLE = re.compile(r":dcm:`([^`<]*?)\s*<[^`>]*>`")
_STDERR_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+): (?P<severity>error|warning): \S.*$")


class Counts(NamedTuple):
    sop_rows: int
    status_tables: int
    status_rows: int


@cache
def provenance() -> dict[str, Counts]:
    """PROVENANCE.txt's per-file counts, located by the names in its 'Columns:' line."""
    lines = PROVENANCE.read_text(encoding="utf-8").splitlines()
    legend = next(line for line in lines if line.startswith("Columns:"))
    columns = [c.strip() for c in legend.removeprefix("Columns:").split("|")]
    sop_col = columns.index("SOP-class rows (UID tables)")
    status_col = columns.index("status tables (rows)")
    counts: dict[str, Counts] = {}
    for line in lines:
        cells = [c.strip() for c in line.split(" | ")]
        if len(cells) != len(columns) or not cells[0].endswith(".rst"):
            continue
        status = re.fullmatch(r"(\d+) \((\d+)\)", cells[status_col])
        assert status is not None, f"unexpected status column in PROVENANCE: {line!r}"
        counts[cells[0]] = Counts(
            int(cells[sop_col]), int(status.group(1)), int(status.group(2))
        )
    return counts


@cache
def source(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


@cache
def rst_page(name: str) -> RawPage:
    return read_page(name, source(name), "rst")


def page_spec(page: RawPage) -> tuple[dict[str, Any], list[Problem]]:
    service, problems = normalise(page)
    return service_to_dict(service, {}), problems


def without_source(value: Any) -> Any:
    """The spec minus every 'source' key: provenance is all that may differ by form."""
    if isinstance(value, dict):
        return {k: without_source(v) for k, v in value.items() if k != "source"}
    if isinstance(value, list):
        return [without_source(v) for v in value]
    return value


def table_shapes(page: RawPage, fix_roles: bool = False) -> list[tuple[Any, ...]]:
    """What a reader took from each table, without where it was."""
    fix = (lambda s: _DCM_ROLE.sub(r"\1", s)) if fix_roles else (lambda s: s)
    return [
        (t.sections, t.header, fix(t.intro), [(r.cells, r.spans_all) for r in t.rows])
        for t in page.tables
    ]


def messages(problems: list[Problem]) -> Counter[tuple[str, str]]:
    """Problems without locations (a form's lines are its own)."""
    return Counter((p.severity, _LOCATION.sub("", p.message)) for p in problems)


def render_html(text: str) -> str:
    html = docutils.core.publish_string(
        source=text,
        writer="html5",  # the same as writer_name="html5", which docutils deprecates
        settings_overrides={"report_level": 5, "halt_level": 5, "output_encoding": "unicode"},
    )
    assert isinstance(html, str)
    return html


def test_provenance_lists_every_page() -> None:
    assert len(PAGES) == 18
    assert sorted(provenance()) == PAGES
    assert set(EXPECTED_PROBLEMS) <= set(PAGES)


@pytest.mark.parametrize("name", PAGE_PARAMS)
def test_table_counts_match_provenance(name: str) -> None:
    page = rst_page(name)
    assert page.problems == ()
    assert not page.recovered
    sop_rows = sum(len(t.rows) for t in page.tables if any("UID" in h for h in t.header))
    status = [t for t in page.tables if t.header and t.header[0].startswith("Code")]
    found = Counts(sop_rows, len(status), sum(len(t.rows) for t in status))
    assert found == provenance()[name]


@pytest.mark.parametrize("name", PAGE_PARAMS)
def test_no_unexplained_problem(name: str) -> None:
    _, problems = page_spec(rst_page(name))
    expected = EXPECTED_PROBLEMS.get(name, [])
    unexplained: list[str] = []
    ambiguous: list[str] = []
    used: Counter[str] = Counter()
    for problem in problems:
        hits = [fragment for fragment in expected if fragment in problem.message]
        if not hits:
            unexplained.append(str(problem))
        elif len(hits) > 1:
            ambiguous.append(f"{problem} matches {hits}")
        used.update(hits)
    assert unexplained == [], "problems not in EXPECTED_PROBLEMS"
    assert ambiguous == [], "problems matching several fragments"
    assert [f for f in expected if not used[f]] == [], "expected problems not reported"
    assert all(p.severity == "warning" for p in problems)


@pytest.mark.parametrize("name", PAGE_PARAMS)
def test_docutils_html_gives_the_same_spec(name: str) -> None:
    rst = rst_page(name)
    html = read_page(name, render_html(source(name)), "html")
    # The unknown Sphinx role :dcm: survives in the HTML as literal text; it only ever
    # appears in prose (page and table intros), never in a title or a table cell.
    assert html.title == rst.title
    assert table_shapes(html, fix_roles=True) == table_shapes(rst)
    rst_spec, rst_problems = page_spec(rst)
    html_spec, html_problems = page_spec(html)
    assert without_source(html_spec) == without_source(rst_spec)
    assert messages(html_problems) == messages(rst_problems)


@pytest.mark.parametrize("name", PAGE_PARAMS)
def test_collapsed_whitespace_gives_the_same_spec(name: str) -> None:
    rst = rst_page(name)
    collapsed = read_page(name, re.sub(r"\s+", " ", source(name)), "rst")
    assert collapsed.recovered
    assert collapsed.title == rst.title
    assert table_shapes(collapsed) == table_shapes(rst)
    rst_spec, rst_problems = page_spec(rst)
    collapsed_spec, collapsed_problems = page_spec(collapsed)
    assert without_source(collapsed_spec) == without_source(rst_spec)
    assert messages(collapsed_problems) == messages(rst_problems)
    # Lines are lost, columns are not: every place is line 1 and a column.
    assert all(p.where.line == 1 and p.where.col for p in collapsed_problems)


@pytest.mark.parametrize("name", PAGE_PARAMS)
def test_cli_parse(name: str) -> None:
    path = str(CORPUS / name)
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "codegen", "parse", path],
        capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": pythonpath}, timeout=60, check=False,
    )
    assert "Traceback" not in done.stderr
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [s["path"] for s in out["sources"]] == [path]
    assert len(out["service_classes"]) == 1
    lines = done.stderr.splitlines()
    for line in lines:
        match = _STDERR_LINE.match(line)
        assert match is not None, f"malformed problem line: {line!r}"
        assert match.group("path") == path
    # The CLI prints exactly what read_page + normalise give in process.
    spec, problems = page_spec(read_page(path, source(name)))
    assert out["service_classes"][0] == spec
    assert lines == [str(p) for p in problems]
