"""What a Query/Retrieve SCP cannot answer, as values the runtime turns into statuses.

The runtime maps each class to its status through the generated tables (these classes
carry no status numbers): :class:`IdentifierError` is "Identifier does not match SOP
Class" (A900 for C-FIND, C-MOVE and C-GET), :class:`UnableToProcess` is "Unable to
process" (the Cxxx range). Both carry what PS3.7 puts beside those statuses: the
Offending Element (0000,0901) tags and an Error Comment (0000,0902).
"""

from __future__ import annotations

from collections.abc import Iterable

from dimse.errors import DimseError

__all__ = [
    "HierarchyConflict",
    "IdentifierError",
    "IndexSchemaError",
    "QueryError",
    "StoreError",
    "UnableToProcess",
]


class QueryError(DimseError):
    """An identifier that cannot be answered; ``offending`` lists the tags at fault."""

    def __init__(self, comment: str, offending: Iterable[int] = ()) -> None:
        self.comment = comment
        self.offending = tuple(offending)
        where = ", ".join(f"({t >> 16:04X},{t & 0xFFFF:04X})" for t in self.offending)
        super().__init__(f"{comment} [{where}]" if where else comment)


class IdentifierError(QueryError):
    """The identifier does not fit the information model (level, keys, structure)."""


class UnableToProcess(QueryError):
    """The identifier fits the model but a value cannot be matched (a bad range...)."""


class IndexSchemaError(DimseError):
    """The index database is of a schema this version cannot use (newer, or foreign)."""


class StoreError(DimseError):
    """An instance cannot be stored: undecodable, inconsistent UIDs, or refused."""


class HierarchyConflict(DimseError, ValueError):
    """An instance whose series is indexed under another study: filing it would move
    that series' other instances, whose own Study Instance UID says otherwise."""
