"""reStructuredText reader: docutils builds the doctree, we walk it into raw tables.

docutils gives us section nesting, grid/simple/list/csv tables and the source line of
every paragraph (so every row keeps its line). Two things it does not do for us:

* spanned cells are dropped (an entry carries ``morecols``/``morerows``), so spans are
  expanded here explicitly;
* a page whose newlines were collapsed into spaces is not RST any more; ``unfold``
  rebuilds the lines first (see ``collapsed``), mapping every rebuilt line back to
  the column it came from.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

import docutils.frontend
import docutils.parsers.rst
import docutils.utils
from docutils import nodes
from docutils.parsers.rst import roles

from codegen.extract.collapsed import Unfolded, looks_collapsed, unfold
from codegen.extract.raw import Problem, RawPage, RawRow, RawTable, Where

_WS = re.compile(r"\s+")
_ROLE_TARGET = re.compile(r"^(.*?)\s*<[^<>]*>\s*$", re.S)

# Sphinx roles the pages use; docutils alone does not know them. Only their text
# matters to us ("Title <target>" -> "Title").
_SPHINX_ROLES = (
    "dcm", "ref", "doc", "class", "func", "meth", "attr", "mod", "obj", "data",
    "exc", "term", "py:class", "py:func", "py:meth", "py:attr", "py:mod", "py:obj",
)


def _text_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Any,
    options: dict[str, Any] | None = None,
    content: Sequence[str] | None = None,
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    match = _ROLE_TARGET.match(text)
    shown = match.group(1) if match and match.group(1) else text
    return [nodes.Text(shown.lstrip("~"))], []


for _role in _SPHINX_ROLES:
    roles.register_local_role(_role, _text_role)  # type: ignore[arg-type]


def clean(text: str) -> str:
    """Collapse whitespace; what a cell says, not how it was laid out."""
    return _WS.sub(" ", text).strip()


def read_rst(path: str, text: str) -> RawPage:
    """Read an RST page, rebuilding its lines first if they were collapsed."""
    unfolded: Unfolded | None = None
    if looks_collapsed(text):
        unfolded = unfold(text)
        text = unfolded.text
    walker = _Walker(path, unfolded)
    doctree, messages = _parse(text)
    walker.problems.extend(messages_to_problems(messages, walker))
    walker.walk(doctree)
    return RawPage(
        path=path,
        form="rst",
        title=walker.title,
        intro=walker.page_intro,
        tables=tuple(walker.tables),
        problems=tuple(walker.problems),
        recovered=unfolded is not None,
    )


def _parse(text: str) -> tuple[nodes.document, list[nodes.system_message]]:
    settings = docutils.frontend.get_default_settings(docutils.parsers.rst.Parser)
    settings.report_level = 5
    settings.halt_level = 5
    settings.warning_stream = io.StringIO()
    settings.doctitle_xform = False
    settings.file_insertion_enabled = False
    settings.raw_enabled = False
    document = docutils.utils.new_document("<page>", settings)
    messages: list[nodes.system_message] = []
    document.reporter.attach_observer(messages.append)
    docutils.parsers.rst.Parser().parse(text, document)
    return document, messages


def messages_to_problems(
    messages: Iterable[nodes.system_message], walker: _Walker
) -> list[Problem]:
    """Keep the docutils complaints that cost us table content."""
    out = []
    for msg in messages:
        text = clean(msg.children[0].astext()) if msg.children else ""
        if "table" in text.lower() and msg["level"] >= 3:
            line = msg.get("line") or 1
            out.append(Problem(walker.where(line), f"table could not be read: {text}", "error"))
    return out


class _Walker:
    def __init__(self, path: str, unfolded: Unfolded | None) -> None:
        self.path = path
        self.unfolded = unfolded
        self.title = ""
        self.page_intro = ""
        self.tables: list[RawTable] = []
        self.problems: list[Problem] = []
        self._pending_intro: list[str] = []

    def where(self, line: int) -> Where:
        if self.unfolded is None:
            return Where(self.path, line)
        return Where(self.path, 1, self.unfolded.column(line))

    def walk(self, node: nodes.Node, sections: tuple[str, ...] = ()) -> None:
        for child in node.children:
            if isinstance(child, nodes.section):
                title = clean(child[0].astext()) if child.children else ""
                if not self.title:
                    self.title = title
                self._pending_intro = []
                self.walk(child, (*sections, title))
            elif isinstance(child, nodes.paragraph):
                text = clean(child.astext())
                if not self.page_intro and self.title and len(sections) == 1:
                    self.page_intro = text
                self._pending_intro.append(text)
            elif isinstance(child, nodes.table):
                self._table(child, sections)
                self._pending_intro = []
            elif isinstance(child, nodes.Element) and not isinstance(
                child, (nodes.title, nodes.system_message, nodes.comment)
            ):
                self.walk(child, sections)

    def _table(self, table: nodes.table, sections: tuple[str, ...]) -> None:
        groups = [g for g in table.children if isinstance(g, nodes.tgroup)]
        if not groups:
            return
        group = groups[0]
        ncols = int(group["cols"])
        head = [r for t in group.findall(nodes.thead) for r in t.findall(nodes.row)]
        body = [r for t in group.findall(nodes.tbody) for r in t.findall(nodes.row)]
        table_line = table.line or _first_line(table) or 1
        head_grid = _expand(head, ncols)
        header = tuple(
            clean(" ".join(row[i][0] for row in head_grid if row[i][0])) for i in range(ncols)
        )
        rows = []
        for row_node, cells in zip(body, _expand(body, ncols), strict=True):
            line = _first_line(row_node) or table_line
            spans_all = ncols > 1 and cells[0][1] == ncols
            texts = tuple(text for text, _ in cells)
            if spans_all:
                texts = (texts[0],) + ("",) * (ncols - 1)
            rows.append(RawRow(texts, self.where(line), spans_all))
        self.tables.append(
            RawTable(
                sections=sections,
                header=header,
                rows=tuple(rows),
                where=self.where(table_line),
                intro=" ".join(self._pending_intro),
            )
        )


def _first_line(node: nodes.Element) -> int | None:
    lines = [n.line for n in node.findall(nodes.Element) if n.line]
    return min(lines) if lines else None


def _expand(rows: list[nodes.row], ncols: int) -> list[list[tuple[str, int]]]:
    """Place every entry on a full grid; (text, columns spanned) per cell.

    A cell spanning rows repeats its text below; a cell spanning columns repeats it
    to the right (the caller turns a whole-row span into a group heading).
    """
    grid: list[list[tuple[str, int] | None]] = [[None] * ncols for _ in rows]
    for r, row in enumerate(rows):
        col = 0
        for entry in row.findall(nodes.entry):
            if entry.parent is not row:
                continue
            while col < ncols and grid[r][col] is not None:
                col += 1
            if col >= ncols:
                break
            text = clean(entry.astext())
            width = int(entry.get("morecols", 0)) + 1
            height = int(entry.get("morerows", 0)) + 1
            for dr in range(height):
                for dc in range(width):
                    if r + dr < len(rows) and col + dc < ncols:
                        grid[r + dr][col + dc] = (text, width)
            col += width
    return [[cell if cell is not None else ("", 1) for cell in row] for row in grid]
