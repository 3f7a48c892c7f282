"""The index behind a Query/Retrieve SCP: what any store of instance metadata offers.

:class:`Index` is the seam between the Q/R service and the database. The SQLite
implementation (:class:`dimse.qr.sqlite.SQLiteIndex`) is the default: one file beside
the instance store, no server. A server database replaces it by implementing the same
five operations; it can reuse everything that is not SQL:

* :func:`dimse.qr.query.compile_find` / ``compile_retrieve`` validate identifiers and
  raise the typed errors the runtime maps to statuses;
* :meth:`FindQuery.matches` and :meth:`FindQuery.response` give PS3.4 results from any
  ``View`` (a function from a key to the entity's stored JSON element), so a server
  implementation only has to prefilter (the SQLite one's ``_conditions`` maps each
  :class:`~dimse.qr.matching.Matcher` to SQL: equality, ``IN`` lists, ranges on
  normalised dates, GLOB for wild cards; PostgreSQL would use ``= ANY($1)`` and
  ``LIKE``/``~`` with ``COLLATE "C"``) and fetch rows; the final Python check keeps
  the answer exact even if its prefilter is looser.
* :class:`InstanceRecord` is built once per stored instance (outside any lock) and
  carries the attributes as the DICOM JSON model, which PostgreSQL can keep as JSONB.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import attrs
from pydicom.dataset import Dataset

from dimse.qr import dicomjson
from dimse.qr.dicomjson import JsonDataset
from dimse.qr.models import InformationModel, Level
from dimse.qr.query import MatchOptions

__all__ = ["FindResults", "Index", "InstanceLocation", "InstanceRecord"]


class InstanceLocation(NamedTuple):
    """What a C-GET/C-MOVE needs to send one instance (unpacks as a 4-tuple)."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    path: str


@attrs.frozen
class InstanceRecord:
    """One instance as the index stores it: identity, file, and its top-level
    attributes in the DICOM JSON model (without pixel or bulk data)."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    path: str
    attributes: JsonDataset = attrs.field(repr=False, eq=False)
    encoded: bytes = attrs.field(repr=False, eq=False)
    size: int = 0
    mtime_ns: int = 0

    @classmethod
    def from_dataset(
        cls,
        ds: Dataset,
        *,
        transfer_syntax_uid: str,
        path: str,
        size: int = 0,
        mtime_ns: int = 0,
    ) -> InstanceRecord:
        """Build from a decoded header (``dcmread(..., stop_before_pixels=True)``)."""
        return cls.from_json(
            dicomjson.from_dataset(ds),
            transfer_syntax_uid=transfer_syntax_uid,
            path=path,
            size=size,
            mtime_ns=mtime_ns,
        )

    @classmethod
    def from_json(
        cls,
        data: JsonDataset,
        *,
        transfer_syntax_uid: str,
        path: str,
        size: int = 0,
        mtime_ns: int = 0,
    ) -> InstanceRecord:
        sop_class = _first(data, "00080016")
        sop_instance = _first(data, "00080018")
        if not sop_instance:
            raise ValueError(f"{path}: no SOP Instance UID (0008,0018)")
        return cls(
            sop_class_uid=sop_class,
            sop_instance_uid=sop_instance,
            transfer_syntax_uid=transfer_syntax_uid,
            path=path,
            attributes=data,
            encoded=dicomjson.encode(data),
            size=size,
            mtime_ns=mtime_ns,
        )

    def text(self, key: str) -> str:
        """The value of the element with JSON key ``key`` as DICOM text (``\\``-joined)."""
        return "\\".join(str(v) for v in dicomjson.element_values(self.attributes.get(key)))


def _first(data: JsonDataset, key: str) -> str:
    values = dicomjson.element_values(data.get(key))
    return str(values[0]).strip() if values else ""


class FindResults(Iterator[Dataset]):
    """C-FIND matches, one response Identifier each, and the request keys that were
    not supported (dropped: neither matched nor returned), which the SCP reports with
    FF01 instead of FF00."""

    def __init__(self, matches: Iterable[Dataset], unsupported: Iterable[str] = ()) -> None:
        self._matches = iter(matches)
        self.unsupported: tuple[str, ...] = tuple(unsupported)

    def __next__(self) -> Dataset:
        return next(self._matches)

    def __iter__(self) -> FindResults:
        return self


class Index(abc.ABC):
    """Instance metadata for Query/Retrieve. Implementations are thread-safe."""

    @abc.abstractmethod
    def add(self, record: InstanceRecord) -> None:
        """Index an instance in one transaction; a known SOP Instance UID is replaced.

        Raises :class:`~dimse.qr.errors.HierarchyConflict` (and changes nothing) when the
        instance's series is indexed under another study and keeps other instances
        there. A study re-filed under another patient is not a conflict: the newest
        instance's patient wins (a corrected Patient ID).
        """

    @abc.abstractmethod
    def remove(self, sop_instance_uid: str) -> InstanceLocation | None:
        """Forget an instance (and parents left empty); returns where it was."""

    @abc.abstractmethod
    def find(
        self,
        level: Level | str | None,
        identifier: Dataset,
        model: InformationModel | str,
        options: MatchOptions | None = None,
    ) -> FindResults:
        """C-FIND: validate (raising IdentifierError/UnableToProcess before returning),
        then the response identifiers of every match. ``level`` None: the identifier's."""

    @abc.abstractmethod
    def instances_for(
        self,
        level: Level | str | None,
        identifier: Dataset,
        model: InformationModel | str,
    ) -> Iterator[InstanceLocation]:
        """C-GET/C-MOVE: every instance the identifier's Unique Keys select."""

    @abc.abstractmethod
    def count(self, level: Level = Level.IMAGE) -> int:
        """How many entities of ``level`` are indexed (IMAGE: instances)."""

    @abc.abstractmethod
    def get(self, sop_instance_uid: str) -> InstanceLocation | None:
        """Where an instance is, if indexed."""

    @abc.abstractmethod
    def files(self) -> Iterator[tuple[str, str, int, int]]:
        """(SOP Instance UID, path, size, mtime_ns) of every instance, for recovery."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the database; the index cannot be used afterwards."""

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
