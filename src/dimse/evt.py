"""Events a handler can be bound to, with the names pynetdicom users know.

*Intervention* events (``EVT_C_ECHO``, ``EVT_C_STORE``, ...) need an answer: the bound
handler returns a status (an int, or a pydicom Dataset with a (0000,0900) Status).
*Notification* events (association established, released, aborted, PDUs and DIMSE
messages sent and received) are for logging and bookkeeping; their return value is
ignored and an exception in one is logged, never allowed to break the association.

Handlers are bound as ``[(evt.EVT_C_STORE, handler)]`` or
``[(evt.EVT_C_STORE, handler, [extra, args])]`` on the AE (for servers) or on
``associate()`` (for one association).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from dimse.errors import DatasetDecodeError, UsageError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dimse.association import Association
    from dimse.messages import Message
    from dimse.negotiation import AcceptedContext

__all__ = [
    "EVT_ABORTED",
    "EVT_ACCEPTED",
    "EVT_CONN_CLOSE",
    "EVT_CONN_OPEN",
    "EVT_C_ECHO",
    "EVT_C_FIND",
    "EVT_C_GET",
    "EVT_C_MOVE",
    "EVT_C_STORE",
    "EVT_DIMSE_RECV",
    "EVT_DIMSE_SENT",
    "EVT_ESTABLISHED",
    "EVT_PDU_RECV",
    "EVT_PDU_SENT",
    "EVT_REJECTED",
    "EVT_RELEASED",
    "EVT_REQUESTED",
    "Event",
    "EventType",
    "Handler",
    "HandlerBinding",
]

LOGGER = logging.getLogger("dimse.events")


@attrs.frozen
class EventType:
    """One kind of event: ``intervention`` events need the handler's answer."""

    name: str
    description: str
    intervention: bool = False

    def __repr__(self) -> str:
        return self.name


EVT_C_ECHO = EventType("EVT_C_ECHO", "C-ECHO request received", True)
EVT_C_STORE = EventType("EVT_C_STORE", "C-STORE request received", True)
EVT_C_FIND = EventType("EVT_C_FIND", "C-FIND request received", True)
EVT_C_GET = EventType("EVT_C_GET", "C-GET request received", True)
EVT_C_MOVE = EventType("EVT_C_MOVE", "C-MOVE request received", True)

EVT_CONN_OPEN = EventType("EVT_CONN_OPEN", "transport connection opened")
EVT_CONN_CLOSE = EventType("EVT_CONN_CLOSE", "transport connection closed")
EVT_REQUESTED = EventType("EVT_REQUESTED", "association requested")
EVT_ACCEPTED = EventType("EVT_ACCEPTED", "association accepted")
EVT_REJECTED = EventType("EVT_REJECTED", "association rejected")
EVT_ESTABLISHED = EventType("EVT_ESTABLISHED", "association established")
EVT_RELEASED = EventType("EVT_RELEASED", "association released")
EVT_ABORTED = EventType("EVT_ABORTED", "association aborted")
EVT_PDU_SENT = EventType("EVT_PDU_SENT", "PDU sent")
EVT_PDU_RECV = EventType("EVT_PDU_RECV", "PDU received")
EVT_DIMSE_SENT = EventType("EVT_DIMSE_SENT", "DIMSE message sent")
EVT_DIMSE_RECV = EventType("EVT_DIMSE_RECV", "DIMSE message received")

Handler: TypeAlias = Callable[..., Any]
HandlerBinding: TypeAlias = tuple[EventType, Handler] | tuple[EventType, Handler, Sequence[Any]]


@attrs.define(eq=False)
class Event:
    """What a handler receives. Dataset access is lazy: nothing is decoded unless asked.

    ``request`` is the DIMSE request (intervention events), ``context`` the accepted
    presentation context it came on, ``encoded_dataset`` the dataset bytes as received
    (in ``context.transfer_syntax``), or ``path`` when the dataset was streamed to a
    file (the Storage SCP's directory mode).
    """

    assoc: Association
    event: EventType
    request: Message | None = None
    context: AcceptedContext | None = None
    encoded_dataset: bytes | None = None
    path: Path | None = None
    message: Message | None = None
    pdu: object = None
    timestamp: float = attrs.field(factory=time.time)

    @cached_property
    def dataset(self) -> Dataset:
        """The request's dataset decoded with pydicom, every element converted now
        (:class:`~dimse.errors.DatasetDecodeError`, a ValueError, if it is undecodable)."""
        from dimse.datasets import decode_dataset

        if self.context is None:
            raise UsageError(f"{self.event.name} carries no dataset")
        if self.encoded_dataset is not None:
            try:
                return decode_dataset(self.encoded_dataset, self.context.transfer_syntax)
            except ValueError as exc:
                raise DatasetDecodeError(str(exc)) from exc
        if self.path is not None:
            from pydicom import dcmread

            from dimse.datasets import materialise

            try:
                return materialise(dcmread(self.path))
            except OSError:
                raise
            except Exception as exc:
                raise DatasetDecodeError(f"{self.path}: {exc}") from exc
        raise UsageError(f"{self.event.name} carries no dataset")

    @property
    def file_meta(self) -> Dataset:
        """File Meta Information for writing ``dataset`` as a PS3.10 file."""
        from dimse.datasets import file_meta_for

        if self.request is None or self.context is None:
            raise UsageError(f"{self.event.name} carries no dataset")
        return file_meta_for(self.request, self.context.transfer_syntax)

    # pynetdicom spelling
    @property
    def identifier(self) -> Dataset:
        """The C-FIND/C-GET/C-MOVE request's Identifier, decoded on first access."""
        return self.dataset

    @property
    def is_cancelled(self) -> bool:
        """True once the peer sent a C-CANCEL for this request (C-FIND/GET/MOVE): a
        handler that works long between yields can stop early (checked live)."""
        message_id = getattr(self.request, "message_id", None)
        return message_id is not None and message_id in self.assoc.cancelled

    @property
    def move_destination(self) -> str | None:
        """The C-MOVE request's Move Destination AE title (None for other events)."""
        value = getattr(self.request, "move_destination", None)
        return str(value).strip() if value is not None else None

    def encoded_file(self) -> BytesIO:
        """The dataset as a whole PS3.10 file in memory (meta + bytes as received)."""
        from dimse.datasets import encoded_file

        if self.request is None or self.context is None or self.encoded_dataset is None:
            raise UsageError(f"{self.event.name} has no buffered dataset")
        return encoded_file(self.request, self.context.transfer_syntax, self.encoded_dataset)


class HandlerTable:
    """Event type -> bound handlers (intervention events: exactly one)."""

    def __init__(self, bindings: Iterable[HandlerBinding] = ()) -> None:
        self._handlers: dict[EventType, list[tuple[Handler, Sequence[Any]]]] = {}
        for binding in bindings:
            self.bind(*binding)

    def bind(self, event: EventType, handler: Handler, args: Sequence[Any] = ()) -> None:
        if not isinstance(event, EventType):
            raise UsageError(f"{event!r} is not an event type (use dimse.evt.EVT_*)")
        if not callable(handler):
            raise UsageError(f"handler for {event.name} is not callable")
        if event.intervention:
            self._handlers[event] = [(handler, tuple(args))]
        else:
            self._handlers.setdefault(event, []).append((handler, tuple(args)))

    def unbind(self, event: EventType, handler: Handler) -> None:
        kept = [(h, a) for h, a in self._handlers.get(event, []) if h is not handler]
        if kept:
            self._handlers[event] = kept
        else:
            self._handlers.pop(event, None)

    def get(self, event: EventType) -> tuple[Handler, Sequence[Any]] | None:
        found = self._handlers.get(event)
        return found[0] if found else None

    def has(self, event: EventType) -> bool:
        return event in self._handlers

    def merged(self, other: HandlerTable) -> HandlerTable:
        """``self`` with ``other``'s bindings on top (association-level over AE-level)."""
        table = HandlerTable()
        for source in (self, other):
            for event, handlers in source._handlers.items():
                for handler, args in handlers:
                    table.bind(event, handler, args)
        return table

    def notify(self, assoc: Association, event: EventType, **fields: Any) -> None:
        """Run notification handlers; a failing one is logged and ignored."""
        handlers = self._handlers.get(event)
        if not handlers:
            return
        payload = Event(assoc, event, **fields)
        for handler, args in handlers:
            try:
                handler(payload, *args)
            except Exception:
                LOGGER.exception("handler for %s raised", event.name)
