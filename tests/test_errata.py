"""Every erratum still matches its vendored page, and is still needed.

These fail the day upstream fixes a page: the erratum then matches nothing (or its
``was`` is no longer what the page says), and the build reports it. Delete it then.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen import build as build_module
from codegen.build import apply_errata, load_errata, load_sources
from codegen.extract import read_page
from codegen.extract.raw import Problem

ROOT = Path(__file__).resolve().parents[1]
ERRATA = load_errata(ROOT, [])
SOURCES = {s.path: (s, raw) for s, raw in load_sources(ROOT, [])}


def test_errata_file_is_well_formed() -> None:
    problems: list[Problem] = []
    errata = load_errata(ROOT, problems)
    assert not problems
    assert len({e.id for e in errata}) == len(errata)
    assert all(e.citation and e.why for e in errata)


@pytest.mark.parametrize("erratum", ERRATA, ids=[e.id for e in ERRATA])
def test_erratum_matches_its_source_exactly_once(erratum: build_module.Erratum) -> None:
    source, raw = SOURCES[erratum.source]
    page = read_page(source.path, raw.decode("utf-8"), source.form)
    _, _, problems = apply_errata(page, [erratum])
    assert problems == [], "upstream changed: review this erratum"


# Corrections that align wording with the standard where no rule or second page can
# tell the source is wrong; their tests above still fail once upstream changes.
NOT_DETECTABLE = {"pa-get-b000", "pa-move-b000", "pa-find-a900", "pa-get-a900", "pa-move-a900"}


@pytest.mark.parametrize(
    "erratum", [e for e in ERRATA if e.id not in NOT_DETECTABLE],
    ids=[e.id for e in ERRATA if e.id not in NOT_DETECTABLE],
)
def test_erratum_is_needed(erratum: build_module.Erratum, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the erratum the build must complain about that source."""
    others = [e for e in ERRATA if e.id != erratum.id]
    monkeypatch.setattr(build_module, "load_errata", lambda root, problems: others)
    result = build_module.build(ROOT)
    assert any(erratum.source in str(p) for p in result.problems), (
        f"{erratum.id} corrects nothing the build would notice"
    )


def test_build_of_real_sources_is_clean() -> None:
    result = build_module.build(ROOT)
    assert [str(p) for p in result.problems] == []
