"""Sources -> Spec: read every page, apply errata, normalise, merge, validate.

Every problem is collected, never raised: the build reports them all at once, each
naming the file and line (or column, for a page that lost its line breaks), and the
caller exits non-zero if there is any. A problem is settled only by an erratum in
``spec/errata.toml`` (which must still apply, or it is itself a problem).
"""

from __future__ import annotations

import hashlib
import itertools
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

import attrs

from codegen import naming, rules
from codegen.extract import read_page
from codegen.extract.raw import Problem, RawPage, RawRow, RawTable, Where
from codegen.model import (
    DIMSE_SERVICES,
    FORMS,
    DimseUsage,
    Erratum,
    ServiceClass,
    SOPClass,
    SourceFile,
    Spec,
    StatusRange,
    hex4,
)
from codegen.normalise import RowNote, normalise
from codegen.specjson import status_enum_names

SOURCES_TOML = "spec/sources/sources.toml"
ERRATA_TOML = "spec/errata.toml"
NAMES_TOML = "spec/names.toml"

# Which column of a raw row an erratum field names, by header words.
_FIELD_COLUMNS = {
    "uid": ("uid",),
    "name": ("sop class", "name", "keyword"),
    "annex": ("annex", "iod"),
    "category": ("category",),
    "description": ("description", "meaning"),
}


@attrs.frozen
class BuildResult:
    spec: Spec
    members: dict[str, dict[tuple[str, int], str]]
    problems: tuple[Problem, ...]


def _where_of(path: str, line: int = 1) -> Where:
    return Where(path, line)


def load_toml(root: Path, rel: str, problems: list[Problem]) -> dict[str, Any]:
    try:
        with (root / rel).open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        problems.append(Problem(_where_of(rel), "file is missing", "error"))
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", 1) or 1
        problems.append(Problem(_where_of(rel, line), f"invalid TOML: {exc}", "error"))
    return {}


def load_sources(root: Path, problems: list[Problem]) -> list[tuple[SourceFile, bytes]]:
    data = load_toml(root, SOURCES_TOML, problems)
    out = []
    listed = set()
    for i, entry in enumerate(data.get("source", []), 1):
        where = f"{SOURCES_TOML} [[source]] #{i}"
        path = entry.get("path", "")
        form = entry.get("form", "")
        if form not in FORMS:
            problems.append(Problem(_where_of(SOURCES_TOML), f"{where}: form '{form}' not one of "
                                    f"{', '.join(FORMS)}", "error"))
            continue
        try:
            raw = (root / path).read_bytes()
        except OSError as exc:
            problems.append(Problem(_where_of(SOURCES_TOML), f"{where}: {exc}", "error"))
            continue
        listed.add(Path(path).name)
        source = SourceFile(
            path=path,
            sha256=hashlib.sha256(raw).hexdigest(),
            form=form,
            precedence=int(entry.get("precedence", 0)),
            describes=str(entry.get("describes", "")),
        )
        out.append((source, raw))
    for file in sorted((root / "spec/sources").iterdir()):
        if file.name not in listed and file.name != "sources.toml":
            problems.append(Problem(_where_of(f"spec/sources/{file.name}"),
                                    f"not listed in {SOURCES_TOML}", "error"))
    return out


def load_errata(root: Path, problems: list[Problem]) -> list[Erratum]:
    data = load_toml(root, ERRATA_TOML, problems)
    out = []
    seen = set()
    for i, entry in enumerate(data.get("erratum", []), 1):
        try:
            erratum = Erratum(
                id=entry["id"], source=entry["source"], key=entry["key"], field=entry["field"],
                was=entry["was"], is_=entry["is"], why=entry["why"], citation=entry["citation"],
                alias=bool(entry.get("alias", False)), section=entry.get("section", ""),
            )
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(Problem(_where_of(ERRATA_TOML), f"[[erratum]] #{i}: {exc!r}", "error"))
            continue
        if erratum.id in seen:
            problems.append(Problem(_where_of(ERRATA_TOML), f"erratum id '{erratum.id}' repeats",
                                    "error"))
        if not erratum.citation.strip() or not erratum.why.strip():
            problems.append(Problem(_where_of(ERRATA_TOML),
                                    f"erratum '{erratum.id}' needs a why and a citation", "error"))
        seen.add(erratum.id)
        out.append(erratum)
    return out


def _column(table: RawTable, field: str) -> int | None:
    if field == "code":
        return 0
    words = _FIELD_COLUMNS.get(field, ())
    for i, head in enumerate(table.header):
        low = head.casefold()
        if any(w in low for w in words) and not (field == "name" and "uid" in low):
            return i
    return None


def apply_errata(
    page: RawPage, errata: list[Erratum]
) -> tuple[RawPage, dict[Where, RowNote], list[Problem]]:
    """Correct the cells the errata name. An erratum that matches no row, or whose
    ``was`` is no longer what the source says, is a problem: upstream changed."""
    notes: dict[Where, RowNote] = {}
    problems: list[Problem] = []
    hits: dict[str, int] = defaultdict(int)
    tables = []
    for table in page.tables:
        rows = []
        for row in table.rows:
            keep = True
            key = row.cells[0].strip()
            for erratum in errata:
                if row.spans_all or key != erratum.key:
                    continue
                if erratum.section and erratum.section not in table.sections:
                    continue
                hits[erratum.id] += 1
                if erratum.field == "row":
                    keep = False
                    continue
                col = _column(table, erratum.field)
                if col is None:
                    problems.append(Problem(row.where, f"erratum '{erratum.id}': table has no "
                                            f"{erratum.field} column", "error"))
                    continue
                current = row.cells[col].strip()
                if current != erratum.was:
                    problems.append(Problem(row.where, f"erratum '{erratum.id}' expected "
                                            f"'{erratum.was}' but the source says '{current}'; "
                                            "upstream changed: review and update the erratum",
                                            "error"))
                    continue
                cells = list(row.cells)
                cells[col] = erratum.is_
                if erratum.field == "name":
                    notes[row.where] = RowNote(source_name=erratum.was, alias=erratum.alias)
                row = attrs.evolve(row, cells=tuple(cells))
            if keep:
                rows.append(row)
        tables.append(attrs.evolve(table, rows=tuple(rows)))
    for erratum in errata:
        if hits[erratum.id] != 1:
            what = "matches no row" if not hits[erratum.id] else f"matches {hits[erratum.id]} rows"
            problems.append(Problem(Where(page.path, 1), f"erratum '{erratum.id}' {what} "
                                    f"(key '{erratum.key}'); if upstream fixed it, delete the "
                                    "erratum", "error"))
    return attrs.evolve(page, tables=tuple(tables)), notes, problems


def build(root: Path) -> BuildResult:
    problems: list[Problem] = []
    sources = load_sources(root, problems)
    errata = load_errata(root, problems)
    known_sources = {s.path for s, _ in sources}
    for erratum in errata:
        if erratum.source not in known_sources:
            problems.append(Problem(_where_of(ERRATA_TOML), f"erratum '{erratum.id}' names "
                                    f"unknown source '{erratum.source}'", "error"))
    pages: list[tuple[SourceFile, ServiceClass]] = []
    for source, raw in sources:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            problems.append(Problem(_where_of(source.path), f"not UTF-8: {exc}", "error"))
            continue
        page = read_page(source.path, text, source.form)
        mine = [e for e in errata if e.source == source.path]
        page, notes, found = apply_errata(page, mine)
        problems.extend(found)
        service, found = normalise(page, notes)
        problems.extend(found)
        if not page.tables:
            problems.append(Problem(_where_of(source.path), "no table could be read", "error"))
        pages.append((source, service))
    by_id: dict[str, list[tuple[SourceFile, ServiceClass]]] = defaultdict(list)
    for source, service in pages:
        by_id[service.id].append((source, service))
    merged = []
    for group in by_id.values():
        group.sort(key=lambda item: (-item[0].precedence, item[0].path))
        service, found = merge([s for _, s in group])
        problems.extend(found)
        merged.append(service)
    names = load_toml(root, NAMES_TOML, problems)
    members = {}
    for service in merged:
        members[service.id], found = member_names(service, names)
        problems.extend(found)
    spec = Spec(tuple(s for s, _ in sources), tuple(merged), tuple(errata))
    problems.sort(key=lambda p: (p.where.path, p.where.line, p.where.col or 0, p.message))
    return BuildResult(spec, members, tuple(problems))


def _where(source: str) -> Where:
    path, _, rest = source.partition(":")
    parts = rest.split(":")
    try:
        return Where(path, int(parts[0]), int(parts[1]) if len(parts) > 1 else None)
    except ValueError:
        return Where(path, 1)


def merge(pages: list[ServiceClass]) -> tuple[ServiceClass, list[Problem]]:
    """Merge pages of one service class, the first (highest precedence) winning.

    Pages may differ in what they cover (an older edition lists fewer SOP classes, an
    API page has no SOP table); where two say different things about the same UID or
    status code, it is a problem unless an erratum made them agree.
    """
    problems: list[Problem] = []
    winner = pages[0]
    sops: dict[str, SOPClass] = {}
    for page in pages:
        for sop in page.sop_classes:
            prior = sops.get(sop.uid)
            if prior is None:
                sops[sop.uid] = sop
                continue
            if sop.annex and prior.annex and sop.annex != prior.annex:
                problems.append(Problem(_where(sop.source), f"{sop.keyword}: annex {sop.annex} "
                                        f"disagrees with {prior.annex} ({prior.source})"))
            sops[sop.uid] = attrs.evolve(
                prior,
                annex=prior.annex or sop.annex,
                source_names=_union(prior.source_names, sop.source_names),
                aliases=_union(prior.aliases, sop.aliases),
            )
    statuses: dict[tuple[str, int, int], StatusRange] = {}
    for page in pages:
        for status in page.statuses:
            key = (status.dimse, status.first, status.last)
            known = statuses.get(key)
            if known is None:
                statuses[key] = status
                continue
            have = known
            here = _where(status.source)
            if status.category != have.category:
                problems.append(Problem(here, f"{status.dimse} {hex4(status.first)} is "
                                        f"{status.category} here but {have.category} in "
                                        f"{have.source}"))
            if rules.description_key(status.description) != rules.description_key(
                have.description
            ):
                problems.append(Problem(here, f"{status.dimse} {hex4(status.first)}: "
                                        f"'{status.description}' disagrees with "
                                        f"'{have.description}' ({have.source})"))
            if status.description != have.description:
                statuses[key] = attrs.evolve(
                    have,
                    source_descriptions=_union(have.source_descriptions, (status.description,)),
                )
    problems.extend(_moved_codes(pages))
    dimse: dict[tuple[str, str | None], DimseUsage] = {}
    for page in pages:
        for usage in page.dimse:
            dimse.setdefault((usage.service, usage.model), usage)
    merged = attrs.evolve(
        winner,
        sop_classes=tuple(sops.values()),
        statuses=tuple(statuses.values()),
        dimse=tuple(dimse.values()),
        parameters=tuple(p for page in pages for p in page.parameters),
        meta_sop_classes=tuple(m for page in pages for m in page.meta_sop_classes),
        api=_union(*(page.api for page in pages)),
        sources=tuple(sorted(path for page in pages for path in page.sources)),
    )
    problems.extend(_check_merged(merged))
    return merged, problems


def _moved_codes(pages: list[ServiceClass]) -> list[Problem]:
    """The same meaning under two codes in two pages: one of them has the wrong code
    (a misprint such as 0x0112 for 0x0122, or two swapped rows)."""
    problems = []
    for i, page in enumerate(pages):
        for other in pages[i + 1 :]:
            mine = {(s.dimse, s.category, rules.description_key(s.description)): s
                    for s in page.statuses}
            for status in other.statuses:
                twin = mine.get(
                    (status.dimse, status.category, rules.description_key(status.description))
                )
                if twin is not None and (twin.first, twin.last) != (status.first, status.last):
                    problems.append(Problem(_where(status.source),
                                            f"'{status.description}' is {hex4(status.first)} "
                                            f"here but {hex4(twin.first)} in {twin.source}"))
    return problems


def _check_merged(service: ServiceClass) -> list[Problem]:
    problems = []
    by_key: dict[tuple[str, str], list[StatusRange]] = defaultdict(list)
    for status in service.statuses:
        by_key[(status.dimse, status.scope)].append(status)
        low, high = rules.IMPLEMENTATION_RANGE
        if status.scope == "implementation" and not low <= status.first <= status.last <= high:
            problems.append(Problem(_where(status.source), f"implementation status "
                                    f"{hex4(status.first)} is outside {hex4(low)}-{hex4(high)}"))
    for ranges in by_key.values():
        ranges.sort(key=lambda s: (s.first, s.last))
        for a, b in itertools.pairwise(ranges):
            if b.first <= a.last:
                problems.append(Problem(_where(b.source), f"{b.dimse} {hex4(b.first)} overlaps "
                                        f"{hex4(a.first)}-{hex4(a.last)} ({a.source})"))
    if not service.sop_classes:
        problems.append(Problem(Where(service.sources[0], 1), f"{service.name} has no SOP class"))
    return problems


def member_names(
    service: ServiceClass, names: dict[str, Any]
) -> tuple[dict[tuple[str, int], str], list[Problem]]:
    """Enum member names by the rule in ``naming``, overridden by ``spec/names.toml``;
    two codes of one enum with one name is a problem to settle there."""
    problems: list[Problem] = []
    enums = status_enum_names(service)
    overrides: dict[tuple[str, int], str] = {}
    for entry in names.get("status", []):
        try:
            overrides[(entry["enum"], int(entry["code"], 16))] = entry["name"]
        except (KeyError, ValueError):
            problems.append(Problem(_where_of(NAMES_TOML), f"bad [[status]] entry {entry}",
                                    "error"))
    out: dict[tuple[str, int], str] = {}
    for dimse in sorted(enums, key=DIMSE_SERVICES.index):
        enum = enums[dimse]
        taken: dict[str, StatusRange] = {}
        for status in sorted((s for s in service.statuses if s.dimse == dimse),
                             key=lambda s: (s.first, s.last)):
            name = (
                overrides.get((enum, status.first))
                or overrides.get(("*", status.first))
                or naming.status_member_name(status.description)
            )
            if not name.isidentifier() or not name.isupper():
                problems.append(Problem(_where(status.source), f"{enum}: '{name}' is not an "
                                        "UPPER_CASE identifier"))
            if name in taken and taken[name].first != status.first:
                problems.append(Problem(_where(status.source), f"{enum}.{name} would name both "
                                        f"{hex4(taken[name].first)} and {hex4(status.first)}; "
                                        f"add a [[status]] override to {NAMES_TOML}"))
            taken.setdefault(name, status)
            out[(dimse, status.first)] = name
    return out, problems


def _union(*groups: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return tuple(seen)


__all__ = ["BuildResult", "RawRow", "apply_errata", "build", "merge"]
