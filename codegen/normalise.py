"""One page's raw tables -> one page spec (a ``ServiceClass``), with its problems.

This is where tables get their meaning: a table is a SOP class list, a DIMSE usage
table, a meta SOP class composition, a status table or a parameter list by its header;
a status table's DIMSE service and scope come from its section headings. Every value
is checked against PS3.6 and PS3.7 here, once per page; merging pages is ``build``'s
job. Nothing is corrected here: ``RowNotes`` carry what errata decided.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Mapping

import attrs

from codegen import naming, rules
from codegen.extract.raw import Problem, RawPage, RawRow, RawTable, Where
from codegen.model import (
    CATEGORIES,
    DIMSE_SERVICES,
    DimseUsage,
    MessageParameter,
    MetaSOPClass,
    ServiceClass,
    SOPClass,
    StatusRange,
)

_DIMSE = re.compile(r"\b([CN]-(?:EVENT-REPORT|[A-Z]+))\b")
_OPERATION = re.compile(r"\((Find|Get|Move|Store|Echo)\)", re.I)
_HEX = r"(?:0x)?([0-9A-Fa-f]{2}[0-9A-Fa-fxX]{2})[hH]?"
_CODE_CELL = re.compile(rf"^{_HEX}(?:\s*(?:to|-|–|\.\.)\s*{_HEX})?$")
_ANNEX = re.compile(r"^[A-Z]{1,2}(\.\d+)+$")
_USAGE = {
    "m": "Mandatory", "mandatory": "Mandatory", "o": "Optional", "optional": "Optional",
    "c": "Conditional", "conditional": "Conditional", "u": "User", "user": "User",
    "-": "Not Applicable", "n/a": "Not Applicable", "not applicable": "Not Applicable",
}
_IMPLEMENTATION_HEADING = re.compile(r"\b(pynetdicom|dimse|implementation)\b", re.I)


@attrs.frozen
class RowNote:
    """What the errata said about one row: its name as the source wrote it, and
    whether that name is an accepted alias of the PS3.6 keyword."""

    source_name: str | None = None
    alias: bool = False


@attrs.define
class _State:
    page: RawPage
    notes: Mapping[Where, RowNote]
    problems: list[Problem] = attrs.Factory(list)
    sop_classes: list[SOPClass] = attrs.Factory(list)
    dimse: list[DimseUsage] = attrs.Factory(list)
    statuses: list[StatusRange] = attrs.Factory(list)
    parameters: list[MessageParameter] = attrs.Factory(list)
    meta: list[MetaSOPClass] = attrs.Factory(list)
    api: list[str] = attrs.Factory(list)

    def warn(self, where: Where, message: str) -> None:
        self.problems.append(Problem(where, message, "warning"))

    def error(self, where: Where, message: str) -> None:
        self.problems.append(Problem(where, message, "error"))


def service_name(page: RawPage) -> str:
    """The service class a page describes, from its title (or an API page's intro)."""
    title = page.title.strip()
    if re.fullmatch(r"[\w.]+", title) and "." in title:
        match = re.match(r"Implementation of the (.+?)\.?$", page.intro.strip())
        if match:
            return match.group(1)
        return naming.camel_to_words(title.rsplit(".", 1)[-1])
    return title


def normalise(page: RawPage, notes: Mapping[Where, RowNote] | None = None) -> tuple[
    ServiceClass, list[Problem]
]:
    """Give every table of ``page`` its meaning; report what PS3.6/PS3.7 contradict."""
    state = _State(page, notes or {})
    state.problems.extend(page.problems)
    name = service_name(page)
    if not name:
        state.error(Where(page.path, 1), "page has no title naming its service class")
    kinds = [(table, _kind(table)) for table in page.tables]
    for table, kind in kinds:
        if kind == "dimse":
            _dimse_table(state, table)
    page_services = sorted({d.service for d in state.dimse}, key=DIMSE_SERVICES.index)
    previous: str | None = None
    for table, kind in kinds:
        if kind == "sop":
            _sop_table(state, table)
        elif kind == "meta":
            _meta_table(state, table)
        elif kind == "status":
            previous = _status_table(state, table, page_services, previous)
        elif kind == "parameters":
            _parameter_table(state, table)
        elif kind == "api":
            state.api.extend(r.cells[0].split("(")[0] for r in table.rows)
        elif kind is None:
            state.warn(table.where, f"table with header {list(table.header)} not understood")
    _check_annexes(state)
    service = ServiceClass(
        id=naming.service_class_id(name),
        name=name,
        uid=rules.service_class_uid(name),
        sop_classes=tuple(state.sop_classes),
        dimse=tuple(state.dimse),
        statuses=tuple(state.statuses),
        parameters=tuple(state.parameters),
        meta_sop_classes=tuple(state.meta),
        api=tuple(state.api),
        sources=(page.path,),
    )
    return service, state.problems


def _kind(table: RawTable) -> str | None:
    head = [h.casefold() for h in table.header]

    def has(word: str) -> bool:
        return any(word in h for h in head)

    if any(h in ("uid", "sop class uid") for h in head):
        return "sop"
    if has("dimse service") and has("usage"):
        return "dimse"
    if has("sop class") and has("usage"):
        return "meta"
    if any(h.startswith("code") or h == "status" for h in head) and has("description"):
        return "status"
    if head == ["usage", "parameter"]:
        return "parameters"
    if head and head[0] in ("method", "attribute"):
        return "api"
    return None


def _column(table: RawTable, *words: str, exclude: str = "\0") -> int | None:
    for i, head in enumerate(table.header):
        low = head.casefold()
        if any(w in low for w in words) and exclude not in low:
            return i
    return None


def _sop_table(state: _State, table: RawTable) -> None:
    uid_col = _column(table, "uid")
    name_col = _column(table, "sop class", "name", "keyword", exclude="uid")
    annex_col = _column(table, "annex", "iod")
    seen = {s.uid for s in state.sop_classes}
    registry = rules.uid_registry()
    for row in table.rows:
        if row.spans_all or uid_col is None:
            continue
        uid = row.cells[uid_col].strip()
        source_name = row.cells[name_col].strip() if name_col is not None else ""
        annex = row.cells[annex_col].strip() if annex_col is not None else None
        note = state.notes.get(row.where, RowNote())
        written_name = note.source_name or source_name
        if not rules.uid_syntax_ok(uid):
            state.warn(row.where, f"'{uid}' is not a valid UID (PS3.5 9.1)")
            continue
        if uid in seen:
            state.warn(row.where, f"SOP class {uid} is listed twice")
            continue
        seen.add(uid)
        entry = registry.get(uid)
        if entry is None:
            suggestion = rules.keyword_registry().get(source_name)
            hint = f"; PS3.6 gives {source_name} the UID {suggestion}" if suggestion else ""
            state.warn(row.where, f"UID {uid} ({source_name}) is not in PS3.6{hint}")
            continue
        reg_name, kind, keyword, retired = entry
        if kind not in ("SOP Class", "Meta SOP Class"):
            state.warn(row.where, f"UID {uid} is a PS3.6 '{kind}', not a SOP Class")
            continue
        aliases: tuple[str, ...] = ()
        if written_name and written_name != keyword:
            if note.alias or written_name.casefold() == keyword.casefold():
                aliases = (written_name,)
            elif note.source_name is None and written_name.casefold() != reg_name.casefold():
                state.warn(
                    row.where,
                    f"name '{written_name}' of {uid} differs from the PS3.6 keyword "
                    f"'{keyword}' ({reg_name})",
                )
        if annex is not None and annex and not _ANNEX.match(annex):
            state.warn(row.where, f"annex '{annex}' of {keyword} is not an annex reference")
        state.sop_classes.append(
            SOPClass(
                uid=uid,
                keyword=keyword,
                name=reg_name,
                source_names=(written_name,) if written_name else (),
                annex=annex or None,
                retired=retired,
                source=str(row.where),
                aliases=aliases,
            )
        )


def _usage(text: str) -> tuple[str, str] | None:
    parts = [p.strip().casefold() for p in re.split(r"\s*/\s*", text.strip())]
    if len(parts) != 2 or any(p not in _USAGE for p in parts):
        return None
    return _USAGE[parts[0]], _USAGE[parts[1]]


def _dimse_table(state: _State, table: RawTable) -> None:
    models: list[str] = []
    last_was_service = False
    for row in table.rows:
        first = row.cells[0].strip().strip("*").strip()
        rest = " ".join(row.cells[1:]).strip()
        if first.upper() in DIMSE_SERVICES and not row.spans_all:
            usage = _usage(rest)
            if usage is None:
                state.warn(row.where, f"usage '{rest}' of {first} is not 'SCU/SCP' usage")
                continue
            for model in models or [None]:  # type: ignore[list-item]
                state.dimse.append(DimseUsage(first.upper(), model, *usage, str(row.where)))
            last_was_service = True
        elif first and (row.spans_all or not rest):
            models = [first] if last_was_service or not models else [*models, first]
            last_was_service = False
        else:
            state.warn(row.where, f"'{first}' is neither a DIMSE service nor a model heading")


def _meta_table(state: _State, table: RawTable) -> None:
    name = ""
    start = table.where
    members: list[tuple[str, str, str]] = []
    for row in table.rows:
        first = row.cells[0].strip()
        usage = _usage(" ".join(row.cells[1:]))
        if row.spans_all or usage is None:
            if name and members:
                state.meta.append(MetaSOPClass(name, tuple(members), str(start)))
            name, members, start = first, [], row.where
        else:
            members.append((first, *usage))
    if name and members:
        state.meta.append(MetaSOPClass(name, tuple(members), str(start)))


def parse_code(cell: str) -> tuple[int, int] | None:
    """``0xA700``, ``0xA700 to 0xA7FF``, ``A7xx``, ``C000-CFFF`` -> (first, last)."""
    match = _CODE_CELL.match(cell.strip())
    if match is None:
        return None
    first_text, last_text = match.group(1), match.group(2)
    if last_text is None:
        if "x" in first_text.lower():
            return (
                int(re.sub("[xX]", "0", first_text), 16),
                int(re.sub("[xX]", "F", first_text), 16),
            )
        return int(first_text, 16), int(first_text, 16)
    if "x" in (first_text + last_text).lower():
        return None
    return int(first_text, 16), int(last_text, 16)


def _status_dimse(
    table: RawTable, page_services: list[str], previous: str | None
) -> str | None:
    for section in reversed(table.sections[1:]):
        match = _DIMSE.search(section)
        if match and match.group(1) in DIMSE_SERVICES:
            return match.group(1)
        op = _OPERATION.search(section)
        if op:
            return f"C-{op.group(1).upper()}"
    if previous is not None:
        return previous
    if len(page_services) == 1:
        return page_services[0]
    return None


def _status_scope(table: RawTable) -> str | None:
    heading = table.sections[-1] if table.sections else ""
    if _IMPLEMENTATION_HEADING.search(heading) or "is acting as" in table.intro:
        return "implementation"
    if re.fullmatch(r"[CN]-[A-Z-]+ Status(es)?", heading.strip()):
        return "general"
    if re.search(r"service status", heading, re.I):
        return "service"
    return None  # mixed list (an API page): decided per code


def _status_table(
    state: _State, table: RawTable, page_services: list[str], previous: str | None
) -> str | None:
    dimse = _status_dimse(table, page_services, previous)
    if dimse is None:
        state.warn(table.where, "cannot tell which DIMSE service this status table is for")
        return previous
    code_col = 0
    cat_col = _column(table, "category")
    desc_col = _column(table, "description", "meaning")
    scope = _status_scope(table)
    for row in table.rows:
        if row.spans_all:
            continue
        cell = row.cells[code_col]
        codes = parse_code(cell)
        if codes is None:
            state.error(row.where, f"'{cell}' is not a status code or range")
            continue
        first, last = codes
        if last < first:
            state.warn(row.where, f"range '{cell}' is reversed")
            first, last = last, first
        description = row.cells[desc_col].strip() if desc_col is not None else ""
        ruled = rules.category_of(first)
        category = _category(state, row, cat_col, ruled)
        if category is None:
            continue
        if ruled is None:
            state.warn(row.where, f"{cell}: PS3.7 gives no category to this code")
        elif ruled != category or rules.category_of(last) != ruled:
            state.warn(
                row.where,
                f"{cell} is listed as {category} but PS3.7 makes it {ruled}",
            )
        if first == last and rules.contradicts_ps37(first, description):
            state.warn(
                row.where,
                f"{cell} means '{rules.GENERAL_MEANINGS[first][0]}...' in PS3.7 Annex C, "
                f"not '{description}'",
            )
        if rules.looks_truncated(description):
            state.warn(row.where, f"description of {cell} looks truncated: '{description}'")
        row_scope = scope or ("general" if first in rules.GENERAL_CODES else "service")
        state.statuses.append(
            StatusRange(dimse, row_scope, first, last, category, description, str(row.where))
        )
    _check_overlaps(state, dimse)
    return dimse


def _category(
    state: _State, row: RawRow, cat_col: int | None, ruled: str | None
) -> str | None:
    if cat_col is None:
        if ruled is None:
            state.warn(row.where, "no category given and PS3.7 gives none")
        return ruled
    text = row.cells[cat_col].strip().casefold()
    for category in CATEGORIES:
        if text == category.casefold():
            return category
    state.warn(row.where, f"'{row.cells[cat_col]}' is not a status category")
    return ruled


def _check_overlaps(state: _State, dimse: str) -> None:
    by_scope: dict[str, list[StatusRange]] = defaultdict(list)
    for status in state.statuses:
        if status.dimse == dimse:
            by_scope[status.scope].append(status)
    reported = {p.message for p in state.problems}
    for ranges in by_scope.values():
        ranges.sort(key=lambda s: (s.first, s.last))
        for a, b in itertools.pairwise(ranges):
            if b.first <= a.last:
                message = (
                    f"{dimse} {b.scope} status {rules_hex(b.first)} overlaps "
                    f"{rules_hex(a.first)}-{rules_hex(a.last)} ({a.source})"
                )
                if message not in reported:
                    state.warn(_where(b.source, state.page.path), message)


def rules_hex(code: int) -> str:
    return f"0x{code:04X}"


def _where(source: str, path: str) -> Where:
    parts = source[len(path) + 1 :].split(":")
    return Where(path, int(parts[0]), int(parts[1]) if len(parts) > 1 else None)


def _parameter_table(state: _State, table: RawTable) -> None:
    heading = table.sections[-1]
    match = re.match(r"([CN]-[A-Z-]+?) (Request|Response)$", heading)
    if match is None:
        state.warn(table.where, f"parameter list under '{heading}' names no DIMSE message")
        return
    for row in table.rows:
        state.parameters.append(
            MessageParameter(
                match.group(1), match.group(2).lower(), row.cells[1], row.cells[0], str(row.where)
            )
        )


def _stem(sop: SOPClass) -> list[str]:
    """The IOD part of a SOP class name: 'Digital X-Ray Image' for both of its
    'Storage - For Presentation/Processing' classes."""
    name = re.sub(r"\s*-\s*for (presentation|processing)\b", "", sop.name, flags=re.I)
    name = re.sub(r"\bstorage\b", "", name, flags=re.I)
    return name.casefold().split()


def _check_annexes(state: _State) -> None:
    """Two SOP classes share an IOD annex only when they share the IOD's name: the
    'X - For Presentation/Processing' pairs, or names with a common tail of at least
    two words. Anything else is a wrong annex reference in one of them."""
    by_annex: dict[str, list[SOPClass]] = defaultdict(list)
    for sop in state.sop_classes:
        if sop.annex:
            by_annex[sop.annex].append(sop)
    for annex, sops in sorted(by_annex.items()):
        for other in sops[1:]:
            a, b = _stem(sops[0]), _stem(other)
            tail = 0
            while tail < min(len(a), len(b)) and a[-1 - tail] == b[-1 - tail]:
                tail += 1
            if a != b and tail < 2:
                state.warn(
                    _where(other.source, state.page.path),
                    f"{other.keyword} and {sops[0].keyword} ({sops[0].source}) both cite "
                    f"annex {annex}, but they are different IODs",
                )
