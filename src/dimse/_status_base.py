"""What generated status tables are made of, and how a status code is looked up.

A table holds ranges, as the standard writes them (0xA700-0xA7FF "Out of resources"),
not one entry per code. Lookup prefers an exact code, then the narrowest range that
contains it; a code no table knows falls back to the PS3.7 category rules, which the
generated module passes in as data.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass


class Category(enum.StrEnum):
    """PS3.7 Annex C status categories."""

    SUCCESS = "Success"
    WARNING = "Warning"
    FAILURE = "Failure"
    CANCEL = "Cancel"
    PENDING = "Pending"


class Scope(enum.StrEnum):
    """Who defines a status: PS3.7 (general), PS3.4 (service) or dimse itself."""

    GENERAL = "general"
    SERVICE = "service"
    IMPLEMENTATION = "implementation"


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One row of a status table: a code or a range of codes and what it means."""

    first: int
    last: int
    category: Category
    description: str
    scope: Scope
    member: str | None = None
    service_class: str | None = None
    dimse: str | None = None

    def __contains__(self, code: object) -> bool:
        return isinstance(code, int) and self.first <= code <= self.last

    @property
    def is_range(self) -> bool:
        return self.last != self.first

    def __str__(self) -> str:
        span = f"0x{self.first:04X}" + (f"-0x{self.last:04X}" if self.is_range else "")
        return f"{span} {self.category.value}: {self.description}"


_TABLES: dict[type[StatusCode], StatusTable] = {}


class StatusCode(enum.IntEnum):
    """Base of the generated status enums: a member is a code, and knows its row.

    Members of a range are named by the range's first code; ``.range`` gives the
    whole span (``StorageStatus.OUT_OF_RESOURCES.range == range(0xA700, 0xA800)``).
    """

    @property
    def entry(self) -> StatusEntry:
        return _TABLES[type(self)].exact(int(self))

    @property
    def range(self) -> range:
        entry = self.entry
        return range(entry.first, entry.last + 1)

    @property
    def category(self) -> Category:
        return self.entry.category

    @property
    def description(self) -> str:
        return self.entry.description


class StatusTable:
    """The statuses of one DIMSE service of one service class."""

    def __init__(
        self,
        service_class: str,
        dimse: str,
        enum_type: type[StatusCode],
        entries: tuple[StatusEntry, ...],
    ) -> None:
        self.service_class = service_class
        self.dimse = dimse
        self.enum = enum_type
        self.entries = entries
        self._exact = {e.first: e for e in entries}
        # Narrowest first, so the first containing range is the best one.
        self._ranges = sorted(entries, key=lambda e: (e.last - e.first, e.first))
        _TABLES[enum_type] = self

    def exact(self, code: int) -> StatusEntry:
        return self._exact[code]

    def lookup(self, code: int) -> StatusEntry | None:
        """The row for ``code``: exact first, then the narrowest range holding it."""
        entry = self._exact.get(code)
        if entry is not None and entry.first == entry.last:
            return entry
        for candidate in self._ranges:
            if candidate.first <= code <= candidate.last:
                return candidate
        return None

    def __contains__(self, code: object) -> bool:
        return isinstance(code, int) and self.lookup(code) is not None

    def __iter__(self) -> Iterator[StatusEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"<StatusTable {self.service_class} {self.dimse}: {len(self)} entries>"


class StatusTables(Mapping[str, StatusTable]):
    """A service class's tables by DIMSE service ("C-FIND" -> table)."""

    def __init__(self, tables: tuple[StatusTable, ...]) -> None:
        self._tables = {t.dimse: t for t in tables}

    def __getitem__(self, dimse: str) -> StatusTable:
        return self._tables[dimse]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def lookup(self, code: int, dimse: str | None = None) -> StatusEntry | None:
        tables = [self._tables[dimse]] if dimse is not None else list(self._tables.values())
        return best_entry(code, tables)

    def __contains__(self, code: object) -> bool:
        if isinstance(code, str):
            return code in self._tables
        return isinstance(code, int) and self.lookup(code) is not None


def best_entry(code: int, tables: list[StatusTable]) -> StatusEntry | None:
    """Across tables: an exact code beats any range, a narrower range a wider one."""
    found = [e for t in tables if (e := t.lookup(code)) is not None]
    if not found:
        return None
    return min(found, key=lambda e: (e.last - e.first, e.first))


def rule_entry(code: int, rules: tuple[tuple[int, int, Category], ...]) -> StatusEntry | None:
    """The PS3.7 category of a code no table lists, as an entry of its own."""
    for first, last, category in rules:
        if first <= code <= last:
            return StatusEntry(
                code, code, category, f"{category.value} (PS3.7 Annex C)", Scope.GENERAL
            )
    return None
