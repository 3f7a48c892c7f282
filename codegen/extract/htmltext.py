"""Read headed tables from the plain text a browser or tool rendered from an HTML page.

Such text keeps tables as pipe rows (``| a | b |`` under a ``|---|---|`` separator) or
as one cell per line (``a |``), marks headings only by the permalink character left at
their end ("¶" or "#"), and may break a cell's text over several lines.  Heading levels
are lost, so a table only knows the page title and its nearest heading.
"""

from __future__ import annotations

import re

from codegen.extract.raw import Problem, RawPage, RawRow, RawTable, Where

_SEPARATOR = re.compile(r"\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?")
_PIPE = re.compile(r"(?<!\\)\|")


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _is_separator(s: str) -> bool:
    # A pipe is required so that a bare "---" rule in prose is not taken for a table.
    return "|" in s and _SEPARATOR.fullmatch(s) is not None


def _groups(separator: str) -> int:
    return len(re.findall(r"-+", separator))


def _closed(s: str) -> bool:
    """A line ending in an unescaped '|' closes the cell it is in."""
    return s.endswith("|") and not s.endswith("\\|")


def _heading(s: str) -> str | None:
    """The heading text when ``s`` ends with a permalink mark, else None."""
    if s.endswith("¶"):
        text = s[:-1]
    elif s.endswith("#") and not s.startswith(("|", "#")):
        text = s[:-1]
        if text.rstrip().endswith(("|", "#")):
            return None
    else:
        return None
    return _collapse(text) or None


def _stops(s: str) -> bool:
    """Lines that can never continue a cell: they start a row, a table or a section."""
    return s.startswith("|") or _is_separator(s) or _heading(s) is not None


def _split(text: str, closed: bool) -> list[str]:
    body = text.strip().removeprefix("|")
    if closed:
        body = body[:-1]
    return [_collapse(cell.replace("\\|", "|")) for cell in _PIPE.split(body)]


class _Reader:
    """One pass over the lines; prose is kept until a heading or a table claims it."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = [line.rstrip("\r") for line in text.split("\n")]
        self.problems: list[Problem] = []
        self.tables: list[RawTable] = []
        self.title: str | None = None
        self.nearest: str | None = None
        self.intro = ""
        self._intro_due = False
        self._prose: list[tuple[int, str]] = []  # (index, stripped line) since the last block

    def _problem(self, index: int, message: str, severity: str = "error") -> Problem:
        return Problem(Where(self.path, index + 1), message, severity)

    def _strip(self, index: int) -> str:
        return self.lines[index].strip() if index < len(self.lines) else ""

    def read(self) -> RawPage:
        i = 0
        while i < len(self.lines):
            s = self._strip(i)
            heading = _heading(s)
            if _is_separator(s):
                i = self._headless_table(i)
            elif s.startswith("|"):
                cells, j, trouble = self._pipe_row(i, 0)
                self.problems.extend(trouble)
                if _is_separator(self._strip(j)):
                    i = self._pipe_table(i, tuple(cells), j)
                else:
                    self.problems.append(
                        self._problem(i, f"table row at line {i + 1} has no header separator")
                    )
                    i = j
            elif heading is not None:
                self._boundary()
                if self.title is None:
                    self.title, self._intro_due = heading, True
                else:
                    self.nearest = heading
                i += 1
            else:
                self._prose.append((i, s))
                i += 1
        self._boundary()
        if self.title is None:
            self.problems.append(self._problem(0, "no heading ending in '¶' or '#'", "warning"))
        return RawPage(self.path, "html-text", self.title or "", self.intro,
                       tuple(self.tables), tuple(self.problems))

    # -- blocks ---------------------------------------------------------------------
    def _boundary(self) -> None:
        """Close the prose run: the first one after the title is the page intro."""
        if self._intro_due:
            run: list[str] = []
            for _, s in self._prose:
                if not s and run:
                    break
                if s:
                    run.append(s)
            self.intro, self._intro_due = _collapse(" ".join(run)), False
        self._prose = []

    def _add_table(self, index: int, header: tuple[str, ...], rows: list[RawRow]) -> None:
        intro = _collapse(" ".join(s for _, s in self._prose))
        self._boundary()
        if self.title is None:
            sections: tuple[str, ...] = ()
        elif self.nearest is None:
            sections = (self.title,)
        else:
            sections = (self.title, self.nearest)
        where = Where(self.path, index + 1)
        self.tables.append(RawTable(sections, header, tuple(rows), where, intro))

    def _fit(self, cells: list[str], index: int, ncols: int) -> RawRow:
        """Give a row the header's width; a lone cell is a group heading over all columns."""
        where = Where(self.path, index + 1)
        if len(cells) > ncols:
            self.problems.append(self._problem(
                index, f"row at line {index + 1} has {len(cells)} cells, header has {ncols};"
                " extra cells dropped"))
            return RawRow(tuple(cells[:ncols]), where)
        if len(cells) < ncols:
            if len(cells) == 1:
                return RawRow((cells[0],) + ("",) * (ncols - 1), where, spans_all=True)
            self.problems.append(self._problem(
                index, f"row at line {index + 1} has {len(cells)} cells, header has {ncols};"
                " padded", "warning"))
            cells = cells + [""] * (ncols - len(cells))
        return RawRow(tuple(cells), where)

    # -- pipe tables ----------------------------------------------------------------
    def _pipe_row(self, i: int, ncols: int) -> tuple[list[str], int, list[Problem]]:
        """Read the row starting at line ``i``, following cells broken over lines."""
        parts = [self._strip(i)]
        closed = _closed(parts[0])
        trouble: list[Problem] = []
        j = i + 1
        while True:
            nxt = self._strip(j)
            if not closed:
                if j >= len(self.lines) or _stops(nxt):
                    end = "the end of the file" if j >= len(self.lines) else f"line {j + 1}"
                    trouble.append(self._problem(
                        i, f"row at line {i + 1} is not closed by '|' before {end}"))
                    break
                parts.append(nxt)
                closed = _closed(nxt) if nxt else closed
            elif (ncols and nxt and _closed(nxt) and not _stops(nxt)
                  and len(_split(" ".join(parts), True)) < ncols):
                parts.append(nxt)  # the row wrapped just after a cell's closing '|'
            else:
                break
            j += 1
        return _split(" ".join(parts), closed), j, trouble

    def _pipe_rows(self, j: int, ncols: int) -> tuple[list[RawRow], int]:
        rows: list[RawRow] = []
        while j < len(self.lines):
            s = self._strip(j)
            if not s.startswith("|") or _is_separator(s):
                break
            cells, k, trouble = self._pipe_row(j, ncols)
            if _is_separator(self._strip(k)):
                break  # that row is the header of the next table
            self.problems.extend(trouble)
            rows.append(self._fit(cells, j, ncols))
            j = k
        return rows, j

    def _pipe_table(self, i: int, header: tuple[str, ...], sep: int) -> int:
        groups = _groups(self._strip(sep))
        if groups != len(header):
            self.problems.append(self._problem(
                sep, f"separator at line {sep + 1} has {groups} columns, header at line"
                f" {i + 1} has {len(header)}", "warning"))
        rows, j = self._pipe_rows(sep + 1, len(header))
        self._add_table(i, header, rows)
        return j

    # -- one cell per line ----------------------------------------------------------
    def _line_cell(self, j: int) -> tuple[str, int] | None:
        """The cell whose lines start at ``j`` and end with ' |', if there is one."""
        parts: list[str] = []
        for m in range(j, len(self.lines)):
            s = self._strip(m)
            if s != "|" and (not s or _stops(s)):
                return None
            parts.append(s)
            if _closed(s):
                return _collapse(" ".join(parts)[:-1]), m + 1
        return None

    def _line_rows(self, j: int, ncols: int) -> tuple[list[RawRow], int]:
        rows: list[RawRow] = []
        while (first := self._line_cell(j)) is not None:
            start, cells, j = j, [first[0]], first[1]
            while len(cells) < ncols:
                cell = self._line_cell(j)
                if cell is None:
                    s = self._strip(j)
                    if j < len(self.lines) and s and not _stops(s):
                        self.problems.append(self._problem(
                            j, f"cell at line {j + 1} of the row at line {start + 1} is not"
                            " closed by '|'"))
                    break
                cells.append(cell[0])
                j = cell[1]
            rows.append(self._fit(cells, start, ncols))
            if len(cells) < ncols:
                break
        return rows, j

    def _header_start(self, sep: int, ncols: int) -> int | None:
        """Index in the prose of the first of ``ncols`` header cells written one per line."""
        if not self._prose or self._prose[-1][0] != sep - 1 or not _closed(self._prose[-1][1]):
            return None
        found = 0
        for k in range(len(self._prose) - 1, -1, -1):
            s = self._prose[k][1]
            if not s:
                return None
            if _closed(s):
                found += 1
                if found == ncols:
                    return k
        return None

    def _headless_table(self, sep: int) -> int:
        """A separator not under a pipe header: one-cell-per-line, or an error."""
        ncols = _groups(self._strip(sep))
        start = self._header_start(sep, ncols)
        if start is None:
            self.problems.append(self._problem(sep, f"table separator at line {sep + 1} has"
                                               " no header"))
            header, first = ("",) * ncols, sep
        else:
            cells: list[str] = []
            parts: list[str] = []
            for _, s in self._prose[start:]:
                parts.append(s)
                if _closed(s):
                    cells.append(_collapse(" ".join(parts)[:-1]))
                    parts = []
            header, first = tuple(cells), self._prose[start][0]
            self._prose = self._prose[:start]
        if self._strip(sep + 1).startswith("|") and not _is_separator(self._strip(sep + 1)):
            rows, j = self._pipe_rows(sep + 1, ncols)
        else:
            rows, j = self._line_rows(sep + 1, ncols)
        if start is not None or rows:
            self._add_table(first, header, rows)
        return max(j, sep + 1)


def read_html_text(path: str, text: str) -> RawPage:
    """Read rendered page text; malformed tables become Problems, never an exception."""
    try:
        return _Reader(path, text).read()
    except Exception as exc:
        problem = Problem(Where(path, 1), f"html-text reader failed: {exc!r}", "error")
        return RawPage(path, "html-text", "", "", (), (problem,))
