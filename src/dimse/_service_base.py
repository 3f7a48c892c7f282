"""The hand-written base every generated service class derives from.

Generated subclasses carry the facts (UID, SOP classes, DIMSE usage, status tables);
this base gives them behaviour that is the same for every service class: checking a
status against the tables and turning a handler's answer into a response status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from dimse._status_base import StatusEntry, StatusTables
from dimse.uid import UID


@dataclass(frozen=True, slots=True)
class DimseUsage:
    """PS3.4 "DIMSE Service Group" row: which side must support a DIMSE service."""

    service: str
    model: str | None
    scu: str
    scp: str


class HasStatus(Protocol):
    """Anything a response status can be written to (a response primitive, a Dataset)."""

    Status: int


# The implementation statuses a service class emits when a handler's answer is not a
# status: member names in its generated enums (spec/names.toml fixes them).
MISSING_STATUS_MEMBER = "HANDLER_STATUS_DATASET_WITHOUT_STATUS"
INVALID_STATUS_MEMBER = "HANDLER_INVALID_STATUS_OBJECT"


class ServiceClass:
    """Facts and status handling of one DICOM service class (PS3.4).

    Class-level: the generated facts and status checks. Instance-level (``cls(assoc)``):
    the SCP bound to one association, with the API of pynetdicom's service classes -
    ``SCP(req, context)``, ``is_cancelled(msg_id)``, ``ae``, ``dimse``. The behaviour
    per DIMSE service is hand-written in :mod:`dimse.scp`, the same for every class.
    """

    id: ClassVar[str]
    name: ClassVar[str]
    uid: ClassVar[UID | None] = None
    sop_classes: ClassVar[tuple[UID, ...]] = ()
    dimse_usage: ClassVar[tuple[DimseUsage, ...]] = ()
    statuses: ClassVar[StatusTables]

    def __init__(self, assoc: Any) -> None:
        self.assoc = assoc

    @property
    def ae(self) -> Any:
        """The AE the association belongs to."""
        return self.assoc.ae

    @property
    def dimse(self) -> Any:
        """The DIMSE service provider: the association (it sends the responses)."""
        return self.assoc

    def is_cancelled(self, msg_id: int) -> bool:
        """True if a C-CANCEL for Message ID ``msg_id`` has been received."""
        return msg_id in self.assoc.cancelled

    async def SCP(self, req: Any, context: Any, received: Any = None) -> None:
        """Answer request ``req`` received on ``context`` (``received`` carries its
        dataset); the behaviour for ``req``'s DIMSE service is in :mod:`dimse.scp`."""
        from dimse.scp import run_scp

        await run_scp(self, req, context, received)

    @classmethod
    def status_code(cls, member: str, dimse: str) -> int:
        """The code of status ``member`` (an enum member name) in the ``dimse`` table:
        how the runtime names the statuses it sends instead of hard-coding numbers."""
        return cls._implementation_code(member, dimse)

    @classmethod
    def supports(cls, sop_class_uid: str) -> bool:
        return sop_class_uid in cls.sop_classes

    @classmethod
    def is_valid_status(cls, status: int, dimse: str | None = None) -> bool:
        """True if ``status`` is a code the service class's tables define."""
        return cls.statuses.lookup(status, dimse) is not None

    @classmethod
    def status_entry(cls, status: int, dimse: str | None = None) -> StatusEntry | None:
        return cls.statuses.lookup(status, dimse)

    @classmethod
    def validate_status(cls, status: object, rsp: HasStatus, dimse: str | None = None) -> HasStatus:
        """Set ``rsp.Status`` from a handler's answer and return ``rsp``.

        ``status`` is an int or a Dataset with a (0000,0900) Status element; any
        other object, or a Dataset without Status, becomes the service class's own
        implementation status for that fault (0xC002 / 0xC001 in the tables).
        Other elements of a status Dataset (Error Comment...) are copied to ``rsp``.
        """
        code: int
        if isinstance(status, bool):
            code = cls._implementation_code(INVALID_STATUS_MEMBER, dimse)
        elif isinstance(status, int):
            code = status
        elif _is_dataset(status):
            value = getattr(status, "Status", None)
            if isinstance(value, int) and not isinstance(value, bool):
                code = value
                for keyword in status.dir():  # type: ignore[attr-defined]
                    if keyword != "Status":
                        setattr(rsp, keyword, getattr(status, keyword))
            else:
                code = cls._implementation_code(MISSING_STATUS_MEMBER, dimse)
        else:
            code = cls._implementation_code(INVALID_STATUS_MEMBER, dimse)
        rsp.Status = code
        return rsp

    @classmethod
    def _implementation_code(cls, member: str, dimse: str | None) -> int:
        tables: Mapping[str, Any] = cls.statuses
        chosen = [tables[dimse]] if dimse is not None else list(tables.values())
        for table in chosen:
            if member in table.enum.__members__:
                return int(table.enum[member])
        raise LookupError(f"{cls.__name__} has no implementation status {member}")


def _is_dataset(obj: object) -> bool:
    from pydicom.dataset import Dataset

    return isinstance(obj, Dataset)
