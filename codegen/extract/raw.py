"""The raw form every reader produces: headed tables of text cells with provenance.

Readers know markup and nothing about DICOM; the normaliser knows DICOM and nothing
about markup. This module is the whole contract between them.
"""

from __future__ import annotations

import attrs


@attrs.frozen(order=True)
class Where:
    """A place in a source file: 1-based line, and a column when lines were lost."""

    path: str
    line: int
    col: int | None = None

    def __str__(self) -> str:
        if self.col is None:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.col}"


@attrs.frozen
class Problem:
    """Something a reader, the normaliser or the build could not prove or repair."""

    where: Where
    message: str
    # "error": the table or row could not be read; "warning": read, but doubtful.
    severity: str = "warning"

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


@attrs.frozen
class RawRow:
    """One table row. ``cells`` always has the table's column count.

    A row whose first cell spans every column (a group heading such as
    "*Patient Root ... - Find*") has ``spans_all`` set and its text in ``cells[0]``.
    """

    cells: tuple[str, ...]
    where: Where
    spans_all: bool = False


@attrs.frozen
class RawTable:
    """A table with the section headings above it, outermost first."""

    sections: tuple[str, ...]
    header: tuple[str, ...]
    rows: tuple[RawRow, ...]
    where: Where
    # Prose between the heading and the table ("When pynetdicom is acting as ...").
    intro: str = ""


@attrs.frozen
class RawPage:
    """Everything a reader took from one file."""

    path: str
    form: str  # "rst" | "html" | "html-text"
    title: str
    intro: str
    tables: tuple[RawTable, ...]
    problems: tuple[Problem, ...] = ()
    # True when the reader had to rebuild lost line breaks (columns are then exact,
    # lines are not).
    recovered: bool = False
