"""Reader for text rendered from an API reference page of a service class.

Such a page (Sphinx autodoc of ``...StorageServiceClass``) has no tables at all; its
facts sit in labelled lists: the request/response parameters as ``(M) Message ID``,
the statuses grouped under a category line (``Warning`` then ``0xB000 Warning: ...``),
and the methods and attributes of the class. We turn each list into a raw table with
the same headers the tabular pages use, so the normaliser sees one shape.
"""

from __future__ import annotations

import re

from codegen.extract.raw import Problem, RawPage, RawRow, RawTable, Where

_CLASS_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)+$")
_CLASS_LINE = re.compile(r"^class\s+([\w.]+)\((.*)\)\s*$")
_SIGNATURE = re.compile(r"^([A-Za-z_]\w*)\((.*)\)\s*$")
_IDENT = re.compile(r"^(?:property\s+)?([A-Za-z_]\w*)$")
_DIMSE_HEADING = re.compile(r"^([CN]-[A-Z-]+?) (Request|Response)$")
_PARAM = re.compile(r"^\(([MUC](?:\(=\))?|=)\)\s+(.+)$")
_STATUS = re.compile(
    r"^(0x[0-9A-Fa-f]{4}(?:\s+to\s+0x[0-9A-Fa-f]{4})?)\s+(.*)$"
)
CATEGORIES = ("Success", "Warning", "Failure", "Cancel", "Pending")


def looks_like_api_page(text: str) -> bool:
    """An autodoc page starts with a dotted class path and a ``class ...(...)`` line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (
        len(lines) > 2
        and _CLASS_PATH.match(lines[0]) is not None
        and any(_CLASS_LINE.match(ln) for ln in lines[1:4])
    )


def read_api_page(path: str, text: str) -> RawPage:
    """Turn the labelled lists of an API page into raw tables."""
    lines = [(n, ln.replace("\xa0", " ").strip()) for n, ln in enumerate(text.splitlines(), 1)]
    body = [(n, ln) for n, ln in lines if ln]
    title = body[0][1] if body else ""
    intro = ""
    for i, (_, ln) in enumerate(body[:6]):
        if _CLASS_LINE.match(ln) and i + 1 < len(body):
            intro = body[i + 1][1]
            break
    reader = _Reader(path, title, body)
    reader.run()
    return RawPage(
        path=path,
        form="html-text",
        title=title,
        intro=intro,
        tables=tuple(reader.tables),
        problems=tuple(reader.problems),
    )


class _Reader:
    def __init__(self, path: str, title: str, body: list[tuple[int, str]]) -> None:
        self.path = path
        self.title = title
        self.body = body
        self.tables: list[RawTable] = []
        self.problems: list[Problem] = []

    def where(self, line: int) -> Where:
        return Where(self.path, line)

    def run(self) -> None:
        i = 0
        dimse_heading = ""
        seen_summary: set[str] = set()
        while i < len(self.body):
            text = self.body[i][1]
            if text in ("Methods", "Attributes") and text not in seen_summary:
                seen_summary.add(text)
                i = self._summary(i + 1, text)
                continue
            heading = _DIMSE_HEADING.match(text)
            if heading:
                dimse_heading = text
                i = self._parameters(i + 1, text)
                continue
            if text == "Status" and i + 1 < len(self.body) and self.body[i + 1][1] in CATEGORIES:
                i = self._statuses(i + 1, dimse_heading)
                continue
            i += 1

    def _summary(self, i: int, kind: str) -> int:
        """``Methods``: signature line then its one-line description. ``Attributes``:
        names, each optionally followed by a description line."""
        start = self.body[i - 1][0]
        rows: list[RawRow] = []
        stop = {"Methods", "Attributes"}
        while i < len(self.body):
            line_no, text = self.body[i]
            if text in stop:
                break
            name_match = (
                _SIGNATURE.match(text) if kind == "Methods" else _IDENT.match(text)
            )
            if kind == "Attributes" and _SIGNATURE.match(text):
                break
            if name_match is None:
                break
            desc = ""
            nxt = self.body[i + 1][1] if i + 1 < len(self.body) else ""
            if nxt and not _SIGNATURE.match(nxt) and not _IDENT.match(nxt) and nxt not in stop:
                desc = nxt
                i += 1
            rows.append(RawRow((text, desc), self.where(line_no)))
            i += 1
            if kind == "Methods" and any(r.cells[0] == text for r in rows[:-1]):
                rows.pop()  # the summary repeats __init__; keep the first
        header = ("Method", "Description") if kind == "Methods" else ("Attribute", "Description")
        self.tables.append(
            RawTable((self.title, kind), header, tuple(rows), self.where(start))
        )
        return i

    def _parameters(self, i: int, heading: str) -> int:
        start = self.body[i - 1][0]
        if i < len(self.body) and self.body[i][1] == "Parameters":
            i += 1
        rows = []
        while i < len(self.body):
            line_no, text = self.body[i]
            match = _PARAM.match(text)
            if match is None:
                break
            rows.append(RawRow((match.group(1), match.group(2).strip()), self.where(line_no)))
            i += 1
        if not rows:
            self.problems.append(
                Problem(self.where(start), f"'{heading}' has no parameter list", "error")
            )
        self.tables.append(
            RawTable((self.title, heading), ("Usage", "Parameter"), tuple(rows), self.where(start))
        )
        return i

    def _statuses(self, i: int, dimse_heading: str) -> int:
        start = self.body[i - 1][0]
        rows = []
        category = ""
        while i < len(self.body):
            line_no, text = self.body[i]
            if text in CATEGORIES:
                category = text
                i += 1
                continue
            match = _STATUS.match(text)
            if match is None:
                break
            code, description = match.group(1), match.group(2).strip()
            if not description:
                self.problems.append(
                    Problem(self.where(line_no), f"status {code} has no description", "error")
                )
            rows.append(RawRow((code, category, description), self.where(line_no)))
            i += 1
        sections: tuple[str, ...] = (self.title, "Status")
        if dimse_heading:
            sections = (self.title, dimse_heading, "Status")
        self.tables.append(
            RawTable(
                sections,
                ("Code (hex)", "Category", "Description"),
                tuple(rows),
                self.where(start),
            )
        )
        return i
