"""Read headed tables from real HTML pages (docutils or Sphinx output) into a RawPage.

Only the stdlib ``html.parser`` is used: it tolerates any tag soup, so a broken page
yields Problems and a partial RawPage, never a traceback.  Spans are expanded here so
that the normaliser only ever sees rectangular tables.
"""

from __future__ import annotations

import itertools
from html.parser import HTMLParser

import attrs

from codegen.extract.raw import Problem, RawPage, RawRow, RawTable, Where

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Tags that end a paragraph (or separate two texts inside a cell).
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "body", "br", "dd", "details", "div", "dl",
    "dt", "figcaption", "figure", "footer", "form", "header", "hr", "html", "li", "main",
    "nav", "ol", "p", "section", "summary", "ul",
})
_VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"})
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})
# Docutils error reports and Sphinx permalink anchors are not page content.
_SKIP_CLASSES = frozenset({"system-message", "system-messages", "headerlink"})
_MAX_COLSPAN = 1000  # the limits browsers apply, so a hostile page cannot blow up memory
_MAX_ROWSPAN = 65534


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _strip_permalink(text: str) -> str:
    """Themes that render the permalink as text leave a trailing '¶' or '#'."""
    text = _collapse(text)
    if text.endswith(("¶", "#")):
        text = text[:-1].rstrip()
    return text


@attrs.define
class _Cell:
    colspan: int
    rowspan: int
    is_th: bool
    parts: list[str] = attrs.Factory(list)


@attrs.define
class _Row:
    line: int
    group: int
    in_head: bool
    cells: list[_Cell] = attrs.Factory(list)


@attrs.define
class _Table:
    line: int
    seq: int
    sections: tuple[str, ...]
    intro: str
    rows: list[_Row] = attrs.Factory(list)
    group: int = 0
    in_head: bool = False
    row: _Row | None = None
    cell: _Cell | None = None


_Grid = list[tuple[list[str], bool, bool]]  # per row: cells, spans_all, complete


def _expand(rows: list[_Row], ncols: int) -> _Grid:
    """Lay rows on a grid so that a spanned cell's text lands in every slot it covers."""
    out: _Grid = []
    pending: dict[int, tuple[str, int]] = {}  # column -> (text, rows still covered)
    group = -1
    for row in rows:
        if row.group != group:  # a rowspan never leaves its thead/tbody/tfoot
            pending, group = {}, row.group
        slots = {col: text for col, (text, _) in pending.items()}
        pending = {col: (text, n - 1) for col, (text, n) in pending.items() if n > 1}
        spans_all = len(row.cells) == 1 and not slots and 1 < row.cells[0].colspan == ncols
        col = 0
        for cell in row.cells:
            while col in slots:
                col += 1
            text = _collapse("".join(cell.parts))
            for k in range(cell.colspan):
                value = "" if spans_all and k else text
                slots[col + k] = value
                if cell.rowspan > 1:
                    pending[col + k] = (value, cell.rowspan - 1)
            col += cell.colspan
        width = max(slots) + 1 if slots else 0
        out.append(([slots.get(c, "") for c in range(width)], spans_all, len(slots) == width))
    return out


def _combine(grid: _Grid) -> tuple[str, ...]:
    """Several header rows become one: each column joins its distinct texts."""
    width = max((len(cells) for cells, _, _ in grid), default=0)
    header: list[str] = []
    for col in range(width):
        texts: list[str] = []
        for cells, _, _ in grid:
            if col < len(cells) and cells[col] and cells[col] not in texts:
                texts.append(cells[col])
        header.append(" ".join(texts))
    return tuple(header)


def _grid_row(block: list[tuple[int, str]], bounds: list[int]) -> tuple[list[str], bool]:
    """Cut one grid row at the borders present on all its lines, then expand its spans."""
    inner = [b for b in bounds[1:-1] if all(b < len(t) and t[b] == "|" for _, t in block)]
    cuts = [bounds[0], *inner, bounds[-1]]
    if len(cuts) == 2 and len(bounds) > 2:
        text = " ".join(t[bounds[0] + 1:].rstrip().removesuffix("|") for _, t in block)
        return [_collapse(text)] + [""] * (len(bounds) - 2), True
    cells: list[str] = []
    for a, b in itertools.pairwise(cuts):
        last = b == bounds[-1]  # a ragged right edge keeps its text
        pieces = [t[a + 1:].rstrip().removesuffix("|") if last else t[a + 1:b] for _, t in block]
        cells += [_collapse(" ".join(pieces))] * (bounds.index(b) - bounds.index(a))
    return cells, False


def _grid_table(
    path: str, lines: list[str], line0: int, problems: list[Problem]
) -> tuple[tuple[str, ...], list[RawRow]]:
    """Leniently read one RST grid table (first line a '+---+' border) found in a <pre>."""
    bounds = [k for k, ch in enumerate(lines[0]) if ch == "+"]
    head: list[list[tuple[int, str]]] = []
    body: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for k, text in enumerate(lines[1:], 1):
        if not text.lstrip().startswith("+"):
            current.append((line0 + k, text))
            continue
        if current:
            body.append(current)
            current = []
        if "=" in text and not head:
            head, body = body, []
    if current:
        body.append(current)
        problems.append(Problem(Where(path, current[0][0]),
                                f"grid row at line {current[0][0]} has no closing border"))
    if not head:
        problems.append(Problem(Where(path, line0), f"grid table at line {line0} has no header"))
    header = _combine([(_grid_row(block, bounds)[0], False, True) for block in head])
    header += ("",) * (len(bounds) - 1 - len(header))
    rows = [RawRow(tuple(cells), Where(path, block[0][0]), spans_all)
            for block in body for cells, spans_all in [_grid_row(block, bounds)]]
    return header, rows


class _PageParser(HTMLParser):
    """Collects headings, prose and tables as the document streams past."""

    def __init__(self, path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.path = path
        self.problems: list[Problem] = []
        self.tables: list[tuple[int, RawTable]] = []
        self.h1: str | None = None
        self.intro = ""
        self._title_parts: list[str] = []
        self._in_title = False
        self._heading: list[str] | None = None
        self._heading_at = (1, 0)  # (level, line)
        self._stack: list[tuple[int, str]] = []
        self._chunk: list[str] = []
        self._paragraphs: list[str] = []
        self._intro_open = True
        self._skip: tuple[str, int, int] | None = None  # (tag, depth, line)
        self._open: list[_Table] = []
        self._pre: list[str] | None = None
        self._pre_line = 0
        self._seq = 0

    def _problem(self, line: int, message: str, severity: str = "warning") -> None:
        self.problems.append(Problem(Where(self.path, line), message, severity))

    def title(self) -> str:
        return self.h1 if self.h1 is not None else _collapse("".join(self._title_parts))

    def _sections(self) -> tuple[str, ...]:
        title = self.title()
        names = [text for _, text in self._stack]
        if self.h1 is None and names and names[0] == title:
            names = names[1:]
        return ((title,) if title else ()) + tuple(names)

    def _flush(self) -> None:
        text = _collapse("".join(self._chunk))
        self._chunk = []
        if text:
            self._paragraphs.append(text)
            if self._intro_open:
                self.intro, self._intro_open = text, False

    def _boundary(self) -> None:
        if self._open:
            cell = self._open[-1].cell
            if cell is not None:
                cell.parts.append(" ")
        elif self._heading is not None:
            self._heading.append(" ")
        elif self._pre is None:
            self._flush()

    def _end_heading(self) -> None:
        assert self._heading is not None
        text = _strip_permalink("".join(self._heading))
        level = self._heading_at[0]
        self._heading = None
        self._paragraphs, self._intro_open = [], False
        if not text:
            return
        if level == 1 and self.h1 is None:
            self.h1, self.intro, self._intro_open = text, "", True
            return
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))

    def _unclosed_heading(self) -> None:
        """A heading still open when a block starts ends there, with a warning."""
        if self._heading is not None:
            line = self._heading_at[1]
            self._problem(line, f"heading at line {line} is not closed")
            self._end_heading()

    def _open_table(self, line: int) -> None:
        intro = ""
        if not self._open:
            self._unclosed_heading()
            self._flush()
            intro, self._paragraphs, self._intro_open = " ".join(self._paragraphs), [], False
        self._open.append(_Table(line, self._seq, self._sections(), intro))
        self._seq += 1

    @staticmethod
    def _close_row(t: _Table) -> None:
        t.cell = None
        if t.row is not None:
            t.rows.append(t.row)
            t.row = None

    def _close_table(self) -> None:
        t = self._open.pop()
        self._close_row(t)
        body = [r for r in t.rows if not r.in_head and r.cells]
        head = [r for r in t.rows if r.in_head and r.cells]
        if not head and body and all(c.is_th for c in body[0].cells):
            head, body = body[:1], body[1:]
        header = _combine(_expand(head, 0))
        if not header:
            if not body:
                return
            width = max(len(cells) for cells, _, _ in _expand(body, 0))
            header = ("",) * width
            self._problem(t.line, f"table at line {t.line} has no header row")
        ncols = len(header)
        rows: list[RawRow] = []
        for row, (cells, spans_all, complete) in zip(body, _expand(body, ncols), strict=False):
            if len(cells) != ncols:
                self._problem(row.line, f"row at line {row.line} has {len(cells)} cells after"
                              f" span expansion, header has {ncols}", "error")
                cells = (cells + [""] * ncols)[:ncols]
            elif not complete:
                self._problem(row.line, f"row at line {row.line} leaves a column empty", "error")
            rows.append(RawRow(tuple(cells), Where(self.path, row.line), spans_all))
        raw = RawTable(t.sections, header, tuple(rows), Where(self.path, t.line), t.intro)
        self.tables.append((t.seq, raw))

    def _span(self, attrs_: dict[str, str | None], name: str, line: int, limit: int) -> int:
        value = (attrs_.get(name) or "1").strip()
        if not value.isdigit():
            self._problem(line, f"cell at line {line} has {name}={value!r}; using 1")
        # rowspan=0 means "to the end of the row group"; colspan=0 is invalid, hence 1.
        number = int(value) if value.isdigit() else 1
        return limit if number == 0 and name == "rowspan" else min(max(number, 1), limit)

    def _end_pre(self) -> None:
        assert self._pre is not None
        lines = "".join(self._pre).split("\n")
        self._pre = None
        k = 0
        while k < len(lines):
            end = k
            while end < len(lines) and lines[end].lstrip()[:1] in ("+", "|"):
                end += 1
            if end - k >= 2 and lines[k].lstrip()[:2] in ("+-", "+=") and lines[k].count("+") > 1:
                line = self._pre_line + k
                header, rows = _grid_table(self.path, lines[k:end], line, self.problems)
                intro, self._paragraphs, self._intro_open = " ".join(self._paragraphs), [], False
                raw = RawTable(self._sections(), header, tuple(rows), Where(self.path, line), intro)
                self.tables.append((self._seq, raw))
                self._seq += 1
            k = max(end, k + 1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        values = dict(attrs)
        if self._skip is not None:
            if tag == self._skip[0]:
                self._skip = (tag, self._skip[1] + 1, self._skip[2])
            return
        if tag in _SKIP_TAGS or _SKIP_CLASSES & set((values.get("class") or "").split()):
            if tag not in _VOID:
                self._skip = (tag, 1, line)
            return
        if tag == "title" and not self._title_parts:
            self._in_title = True
        elif tag == "table":
            self._open_table(line)
        elif self._open and tag in ("thead", "tbody", "tfoot", "tr", "td", "th"):
            t = self._open[-1]
            if tag in ("td", "th"):
                t.cell = None
                if t.row is None:
                    t.row = _Row(line, t.group, t.in_head)
                t.cell = _Cell(self._span(values, "colspan", line, _MAX_COLSPAN),
                               self._span(values, "rowspan", line, _MAX_ROWSPAN), tag == "th")
                t.row.cells.append(t.cell)
                return
            self._close_row(t)
            if tag == "tr":
                t.row = _Row(line, t.group, t.in_head)
            else:
                t.group, t.in_head = t.group + 1, tag == "thead"
        elif tag in _HEADINGS and not self._open and self._pre is None:
            self._unclosed_heading()
            self._flush()
            self._heading, self._heading_at = [], (_HEADINGS[tag], line)
        elif tag == "pre" and not self._open and self._pre is None:
            self._unclosed_heading()
            self._flush()
            self._pre, self._pre_line = [], line
        elif tag in _BLOCK:
            self._boundary()

    def handle_endtag(self, tag: str) -> None:
        if self._skip is not None:
            if tag == self._skip[0]:
                depth = self._skip[1] - 1
                self._skip = (tag, depth, self._skip[2]) if depth else None
            return
        if tag == "title":
            self._in_title = False
        elif tag == "table" and self._open:
            self._close_table()
        elif self._open and tag in ("td", "th"):
            self._open[-1].cell = None
        elif self._open and tag in ("tr", "thead", "tbody", "tfoot"):
            self._close_row(self._open[-1])
        elif tag in _HEADINGS and self._heading is not None:
            self._end_heading()
        elif tag == "pre" and self._pre is not None and not self._open:
            self._end_pre()
        elif tag in _BLOCK:
            self._boundary()

    def handle_data(self, data: str) -> None:
        if self._skip is not None:
            return
        if self._in_title:
            self._title_parts.append(data)
        elif self._open:
            cell = self._open[-1].cell
            if cell is not None:
                cell.parts.append(data)
        elif self._heading is not None:
            self._heading.append(data)
        elif self._pre is not None:
            if not self._pre:
                self._pre_line = self.getpos()[0]
            self._pre.append(data)
        else:
            self._chunk.append(data)

    def finish(self) -> None:
        """Close whatever the page left open, saying so."""
        if self._skip is not None:
            tag, _, line = self._skip
            self._problem(line, f"<{tag}> at line {line} is not closed; the rest was skipped")
            self._skip = None
        self._unclosed_heading()
        if self._pre is not None:
            self._end_pre()
        while self._open:
            line = self._open[-1].line
            self._problem(line, f"table at line {line} is not closed", "error")
            self._close_table()
        self._flush()


def read_html(path: str, text: str) -> RawPage:
    """Read one HTML page; malformed markup becomes Problems, never an exception."""
    parser = _PageParser(path)
    try:
        parser.feed(text)
        parser.close()
        parser.finish()
    except Exception as exc:
        line = parser.getpos()[0]
        parser.problems.append(Problem(Where(path, line), f"HTML parser failed: {exc!r}", "error"))
    tables = tuple(raw for _, raw in sorted(parser.tables, key=lambda item: item[0]))
    return RawPage(path, "html", parser.title(), parser.intro, tables, tuple(parser.problems))
