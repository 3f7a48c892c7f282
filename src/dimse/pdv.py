"""Messages <-> P-DATA-TF PDUs: fragmenting, reassembly, dataset sinks, response routing.

Sending: :func:`fragment` yields encoded P-DATA-TF PDUs (PS3.8 9.3.5, Annex E) for one
message, command first, then the data set; :func:`fragment_buffers` yields the same
PDUs as lists of buffers for ``transport.writelines`` so that data set bytes are never
copied (each PDU costs one 12-byte header and one slice of a source chunk). One PDV
per PDU, as most toolkits send and every toolkit accepts.

Receiving: :class:`MessageAssembler` takes PDVs - any objects with ``context_id``,
``control`` and ``data`` attributes, such as ``dimse.pdu.PDV`` or the :class:`RawPDV`
tuples :func:`parse_p_data_tf` makes without copying - and returns events per
presentation context: :class:`CommandComplete`, then the data set either whole
(:class:`MessageComplete` ``.dataset``), written to a :class:`DatasetSink` the caller
picks per message, or as :class:`DatasetFragment` events.

:class:`ResponseRouter` allocates Message IDs and matches responses to requests,
keeping C-FIND/C-GET/C-MOVE requests open while their status is Pending.
"""

from __future__ import annotations

import contextlib
import struct
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Final, NamedTuple, Protocol, TypeAlias

import attrs

from dimse._status_base import Category
from dimse.errors import AbortReason, ProtocolError, UsageError
from dimse.messages import CCancelRQ, Message, Request, Response, decode_message

__all__ = [
    "COMMAND",
    "DEFAULT_PDU_CAP",
    "LAST",
    "MIN_MAX_PDU_LENGTH",
    "STREAM",
    "BytesSink",
    "CommandComplete",
    "DatasetFragment",
    "DatasetSink",
    "Event",
    "MessageAssembler",
    "MessageComplete",
    "PDVLike",
    "RawPDV",
    "ResponseRouter",
    "Routed",
    "fragment",
    "fragment_buffers",
    "parse_p_data_tf",
]

COMMAND: Final = 0x01  # message control header bit 0: command (else data set) fragment
LAST: Final = 0x02  # bit 1: last fragment of the command or of the data set
P_DATA_TF: Final = 0x04

# With max_pdu_length 0 (PS3.8 D.1: "no maximum") PDUs are still capped here, so one
# PDU never needs more than this much memory on either side; a smaller explicit cap
# may be passed. 4 MiB amortises the per-PDU cost to nothing at any realistic speed.
DEFAULT_PDU_CAP: Final = 4 * 1024 * 1024
# PDU length field = 4 (item length) + 1 (context ID) + 1 (control) + fragment; one
# byte of fragment per PDU is the least that makes progress.
MIN_MAX_PDU_LENGTH: Final = 7
_OVERHEAD: Final = 6
# A PDU gathered from more small chunks than this is joined rather than handed to
# writelines as dozens of tiny buffers.
_MAX_GATHER: Final = 16

_HEADER = struct.Struct(">BBIIBB")  # PDU type, reserved, PDU length, item length, ctx, ctrl
_ITEM = struct.Struct(">IBB")  # PDV item length, context ID, control

Buffer: TypeAlias = bytes | bytearray | memoryview
DatasetSource: TypeAlias = Buffer | Iterable[Buffer] | None


def _payload_limit(max_pdu_length: int, pdu_cap: int) -> int:
    if max_pdu_length < 0 or 0 < max_pdu_length < MIN_MAX_PDU_LENGTH:
        raise UsageError(
            f"max_pdu_length {max_pdu_length} must be 0 (no limit) or >= {MIN_MAX_PDU_LENGTH}"
        )
    if pdu_cap < MIN_MAX_PDU_LENGTH:
        raise UsageError(f"pdu_cap {pdu_cap} must be >= {MIN_MAX_PDU_LENGTH}")
    limit = min(max_pdu_length, pdu_cap) if max_pdu_length else pdu_cap
    return limit - _OVERHEAD


def _bytes_view(data: Buffer) -> memoryview:
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def fragment_buffers(
    context_id: int,
    command: Buffer,
    dataset: DatasetSource,
    max_pdu_length: int,
    *,
    pdu_cap: int = DEFAULT_PDU_CAP,
) -> Iterator[list[Buffer]]:
    """One message as P-DATA-TF PDUs, each a list of buffers that concatenate to it.

    ``max_pdu_length`` is the peer's Maximum Length (PS3.8 D.1): no PDU's length field
    exceeds it (0 = no limit, then ``pdu_cap`` applies; the cap applies always).
    ``dataset`` is None (no data set), one buffer, or an iterable of chunks that is
    consumed lazily: at most one PDU of data plus one chunk is held, never the whole
    set. Chunks must not be modified after they are yielded (slices of them are sent
    later); the lists must be written before asking for the next PDU.
    """
    if not 1 <= context_id <= 255:
        raise UsageError(f"presentation context ID {context_id} is not in 1..255")
    payload = _payload_limit(max_pdu_length, pdu_cap)
    header = _HEADER.pack
    size = len(command)
    if size == 0:
        raise UsageError("empty command set")
    if size <= payload:
        yield [header(P_DATA_TF, 0, size + 6, size + 2, context_id, COMMAND | LAST), command]
    else:
        view = _bytes_view(command)
        for start in range(0, size, payload):
            piece = view[start : start + payload]
            control = COMMAND | LAST if start + payload >= size else COMMAND
            yield [header(P_DATA_TF, 0, len(piece) + 6, len(piece) + 2, context_id, control), piece]
    if dataset is None:
        return
    if isinstance(dataset, bytes | bytearray | memoryview):
        size = len(dataset)
        if size <= payload:
            yield [header(P_DATA_TF, 0, size + 6, size + 2, context_id, LAST), dataset]
            return
        view = _bytes_view(dataset)
        for start in range(0, size, payload):
            piece = view[start : start + payload]
            control = LAST if start + payload >= size else 0
            yield [header(P_DATA_TF, 0, len(piece) + 6, len(piece) + 2, context_id, control), piece]
        return
    yield from _fragment_chunks(context_id, dataset, payload)


def _fragment_chunks(
    context_id: int, chunks: Iterable[Buffer], payload: int
) -> Iterator[list[Buffer]]:
    """Re-cut a stream of chunks into PDU payloads, holding back one so 'last' is known."""
    header = _HEADER.pack
    pending: deque[Buffer] = deque()
    pending_size = 0
    for chunk in chunks:
        size = len(chunk)
        if not size:
            continue
        if type(chunk) is not bytes:
            chunk = _bytes_view(chunk)
            size = len(chunk)
        pending.append(chunk)
        pending_size += size
        # Strictly more than a payload: a full payload is only sent once it is known
        # not to be the last one.
        while pending_size > payload:
            parts: list[Buffer] = [header(P_DATA_TF, 0, payload + 6, payload + 2, context_id, 0)]
            need = payload
            while need:
                head = pending[0]
                if len(head) <= need:
                    parts.append(pending.popleft())
                    need -= len(head)
                else:
                    view = head if type(head) is memoryview else memoryview(head)
                    parts.append(view[:need])
                    pending[0] = view[need:]
                    need = 0
            pending_size -= payload
            yield _compact(parts)
    parts = [header(P_DATA_TF, 0, pending_size + 6, pending_size + 2, context_id, LAST)]
    parts.extend(pending)
    yield _compact(parts)


def _compact(parts: list[Buffer]) -> list[Buffer]:
    return parts if len(parts) <= _MAX_GATHER else [parts[0], b"".join(parts[1:])]


def fragment(
    context_id: int,
    command: Buffer,
    dataset: DatasetSource,
    max_pdu_length: int,
    *,
    pdu_cap: int = DEFAULT_PDU_CAP,
) -> Iterator[bytes]:
    """One message as encoded P-DATA-TF PDUs (see :func:`fragment_buffers`).

    Each PDU is one ``bytes``: its data set slice is copied once into it. Drivers that
    can write a list of buffers should use :func:`fragment_buffers` and copy nothing.
    """
    for parts in fragment_buffers(context_id, command, dataset, max_pdu_length, pdu_cap=pdu_cap):
        yield b"".join(parts)


class PDVLike(Protocol):
    """What the assembler reads from a PDV (``dimse.pdu.PDV`` and :class:`RawPDV` fit)."""

    @property
    def context_id(self) -> int: ...

    @property
    def control(self) -> int: ...

    @property
    def data(self) -> bytes | memoryview: ...


class RawPDV(NamedTuple):
    """A PDV whose ``data`` is a view into the PDU it came from (no copy)."""

    context_id: int
    control: int
    data: bytes | memoryview


def parse_p_data_tf(pdu: Buffer) -> list[RawPDV]:
    """The PDVs of one whole encoded P-DATA-TF PDU, as zero-copy views.

    A fast path beside ``dimse.pdu.decode`` for the one PDU type that carries bulk data.
    """
    view = _bytes_view(pdu)
    size = len(view)
    if size < 6 or view[0] != P_DATA_TF:
        raise ProtocolError(
            "not a P-DATA-TF PDU", reason=AbortReason.UNEXPECTED_PDU, where="P-DATA-TF at byte 0"
        )
    length = int.from_bytes(view[2:6], "big")
    if length != size - 6:
        raise ProtocolError(
            f"PDU length {length} but {size - 6} bytes follow the header",
            where="P-DATA-TF PDU length at byte 2",
        )
    pdvs: list[RawPDV] = []
    pos = 6
    while pos < size:
        if pos + 6 > size:
            raise ProtocolError("truncated PDV item header", where=f"P-DATA-TF PDV at byte {pos}")
        item_length, context_id, control = _ITEM.unpack_from(view, pos)
        end = pos + 4 + item_length
        if item_length < 2 or end > size:
            raise ProtocolError(
                f"PDV item length {item_length} does not fit the PDU",
                where=f"P-DATA-TF PDV at byte {pos}",
            )
        pdvs.append(RawPDV(context_id, control, view[pos + 6 : end]))
        pos = end
    if not pdvs:
        raise ProtocolError("P-DATA-TF PDU without PDV items", where="P-DATA-TF at byte 6")
    return pdvs


class DatasetSink(Protocol):
    """Where a streamed data set goes: a file, a hash, a socket to elsewhere."""

    def write(self, data: bytes | memoryview) -> None:
        """Take the next fragment; a view is only valid during the call."""

    def close(self) -> object:
        """The whole data set has been written; the result goes to MessageComplete."""

    def discard(self) -> None:
        """The data set will never complete (abort, sink failure): drop what you have."""


class BytesSink:
    """Collects a data set in memory; ``close()`` returns it as one ``bytes``.

    Read-only views (slices of ``bytes``) are kept as they are and joined once at the
    end, so a data set that arrived in one PDV is not copied at all; views of mutable
    buffers are copied on arrival, since their owner may reuse them.
    """

    __slots__ = ("_parts", "limit", "size")

    def __init__(self, limit: int | None = None) -> None:
        self._parts: list[bytes | memoryview] = []
        self.limit = limit
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise OverflowError(f"data set exceeds the {self.limit}-byte limit")
        if type(data) is not bytes and not (type(data) is memoryview and data.readonly):
            data = bytes(data)
        self._parts.append(data)

    def close(self) -> bytes:
        parts, self._parts = self._parts, []
        if len(parts) == 1:
            return bytes(parts[0])  # the same object when it is already bytes
        return b"".join(parts)

    def discard(self) -> None:
        self._parts = []


class _Stream:
    def __repr__(self) -> str:
        return "STREAM"


STREAM: Final = _Stream()
"""Returned by ``sink_for``: deliver this data set as :class:`DatasetFragment` events."""

SinkChoice: TypeAlias = DatasetSink | _Stream | None


@attrs.frozen
class CommandComplete:
    """A command set was received whole and decoded; its data set (if any) follows."""

    context_id: int
    message: Message

    @property
    def has_dataset(self) -> bool:
        return self.message.has_dataset


@attrs.frozen
class DatasetFragment:
    """A data set fragment of a message the caller chose to STREAM.

    ``data`` may be a view into the received PDU: use or copy it before the next feed.
    """

    context_id: int
    message: Message
    data: bytes | memoryview
    is_last: bool


@attrs.frozen
class MessageComplete:
    """A whole message: ``dataset`` if it was buffered, ``sink_result`` if it went to a
    sink, ``error`` if the sink (or ``sink_for``) raised and the rest was dropped."""

    context_id: int
    message: Message
    dataset: bytes | None = None
    sink_result: object = None
    error: Exception | None = None


Event: TypeAlias = CommandComplete | DatasetFragment | MessageComplete

_BUFFER, _SINK, _STREAMED, _DRAIN = range(4)


class _Inbound:
    """One presentation context's message in progress."""

    __slots__ = ("command", "command_size", "error", "message", "mode", "sink")

    def __init__(self) -> None:
        self.command: list[bytes | memoryview] = []
        self.command_size = 0
        self.message: Message | None = None
        self.mode = _BUFFER
        self.sink: DatasetSink | None = None
        self.error: Exception | None = None


class MessageAssembler:
    """Reassembles messages from PDVs, per presentation context (PS3.8 9.3.5.1, Annex E).

    ``sink_for(message, context_id)`` is asked once per message that has a data set:
    None buffers it whole (up to ``buffer_limit`` bytes), a :class:`DatasetSink`
    receives it fragment by fragment, :data:`STREAM` turns it into DatasetFragment
    events. ``accepted_contexts``, if given, are the only context IDs allowed.

    Peer faults - a data set fragment with no command announcing one, a command
    fragment in the middle of a data set, an unknown context, a bad command set - raise
    ProtocolError; every open sink is then discarded and the assembler is dead.
    """

    def __init__(
        self,
        sink_for: Callable[[Message, int], SinkChoice] | None = None,
        *,
        accepted_contexts: Collection[int] | None = None,
        max_command_length: int = 1 << 16,
        buffer_limit: int | None = None,
    ) -> None:
        self._sink_for = sink_for
        self._accepted = frozenset(accepted_contexts) if accepted_contexts is not None else None
        self._max_command = max_command_length
        self._buffer_limit = buffer_limit
        self._open: dict[int, _Inbound] = {}
        self._dead = False

    @property
    def open_contexts(self) -> tuple[int, ...]:
        """Contexts with a message in progress."""
        return tuple(self._open)

    def feed(self, pdvs: Iterable[PDVLike]) -> list[Event]:
        """Take the PDVs of one P-DATA-TF PDU (or any run of PDVs); events in order."""
        if self._dead:
            raise UsageError("the assembler failed earlier; the association is over")
        events: list[Event] = []
        try:
            for pdv in pdvs:
                self._pdv(pdv.context_id, pdv.control, pdv.data, events)
        except ProtocolError:
            self.abort()
            raise
        return events

    def abort(self) -> None:
        """The association ended: discard every data set in progress."""
        self._dead = True
        for state in self._open.values():
            if state.sink is not None:
                _quiet_discard(state.sink)
        self._open.clear()

    def _pdv(
        self, context_id: int, control: int, data: bytes | memoryview, events: list[Event]
    ) -> None:
        if self._accepted is not None and context_id not in self._accepted:
            raise ProtocolError(
                f"PDV for presentation context {context_id}, which was not accepted",
                where=f"PDV context {context_id}",
            )
        state = self._open.get(context_id)
        if control & COMMAND:
            if state is None:
                if control & LAST:  # the usual case: a whole command in one PDV
                    self._command(context_id, _Inbound(), data, events)
                    return
                state = self._open[context_id] = _Inbound()
            elif state.message is not None:
                raise ProtocolError(
                    f"command fragment while the data set of {_describe(state.message)} "
                    "is incomplete",
                    reason=AbortReason.UNEXPECTED_PDU_PARAMETER,
                    where=f"PDV context {context_id}",
                )
            state.command_size += len(data)
            if state.command_size > self._max_command:
                raise ProtocolError(
                    f"command set longer than {self._max_command} bytes",
                    where=f"PDV context {context_id}",
                )
            if type(data) is memoryview and not data.readonly:
                data = bytes(data)
            state.command.append(data)
            if control & LAST:
                parts, state.command = state.command, []
                self._command(context_id, state, b"".join(parts), events)
            return
        message = state.message if state is not None else None
        if state is None or message is None:
            raise ProtocolError(
                "data set fragment with no command announcing a data set"
                if state is None
                else "data set fragment before the command set is complete",
                reason=AbortReason.UNEXPECTED_PDU_PARAMETER,
                where=f"PDV context {context_id}",
            )
        last = bool(control & LAST)
        mode = state.mode
        if mode == _STREAMED:
            events.append(DatasetFragment(context_id, message, data, last))
        elif mode != _DRAIN:
            try:
                state.sink.write(data)  # type: ignore[union-attr]
            except Exception as exc:
                self._drain(state, exc)
        if last:
            del self._open[context_id]
            events.append(self._finish(context_id, state, message))

    def _command(
        self, context_id: int, state: _Inbound, data: bytes | memoryview, events: list[Event]
    ) -> None:
        try:
            message = decode_message(data)
        except ProtocolError as exc:
            raise ProtocolError(
                exc.message,
                reason=exc.reason,
                source=exc.source,
                where=f"PDV context {context_id}: {exc.where}",
            ) from exc
        events.append(CommandComplete(context_id, message))
        if not message.has_dataset:
            self._open.pop(context_id, None)
            events.append(MessageComplete(context_id, message))
            return
        state.message = message
        self._open[context_id] = state
        try:
            choice = self._sink_for(message, context_id) if self._sink_for is not None else None
        except Exception as exc:
            self._drain(state, exc)
            return
        if choice is None:
            state.sink = BytesSink(self._buffer_limit)
            state.mode = _BUFFER
        elif isinstance(choice, _Stream):
            state.mode = _STREAMED
        else:
            state.sink = choice
            state.mode = _SINK

    @staticmethod
    def _drain(state: _Inbound, exc: Exception) -> None:
        if state.sink is not None:
            _quiet_discard(state.sink)
            state.sink = None
        state.error = exc
        state.mode = _DRAIN

    @staticmethod
    def _finish(context_id: int, state: _Inbound, message: Message) -> MessageComplete:
        sink = state.sink
        if state.mode == _DRAIN or sink is None:
            return MessageComplete(context_id, message, error=state.error)
        try:
            result = sink.close()
        except Exception as exc:
            _quiet_discard(sink)
            return MessageComplete(context_id, message, error=exc)
        if state.mode == _BUFFER:
            return MessageComplete(context_id, message, dataset=result)  # type: ignore[arg-type]
        return MessageComplete(context_id, message, sink_result=result)


def _quiet_discard(sink: DatasetSink) -> None:
    with contextlib.suppress(Exception):  # the data set is being dropped anyway
        sink.discard()


def _describe(message: Message) -> str:
    ident = getattr(message, "message_id", None)
    return f"{message.name} (Message ID {ident})" if ident is not None else message.name


@attrs.frozen
class Routed:
    """A response matched to its request; ``final`` once no more responses will come."""

    request: Request
    response: Response
    final: bool


_MULTI_RESPONSE: Final = frozenset({"C-FIND", "C-GET", "C-MOVE"})


class ResponseRouter:
    """Our outstanding requests by Message ID, and the matching of the peer's responses.

    C-ECHO and C-STORE get exactly one response (PS3.7 9.1.1, 9.1.5); C-FIND, C-GET and
    C-MOVE stay open while a response's status is in the Pending category of the
    generated tables (0xFF00, 0xFF01), and close on any other.
    """

    def __init__(self, *, first_message_id: int = 1) -> None:
        if not 1 <= first_message_id <= 0xFFFF:
            raise UsageError(f"first_message_id {first_message_id} is not in 1..65535")
        self._next = first_message_id
        self._outstanding: dict[int, Request] = {}
        self._contexts: dict[int, int | None] = {}

    def __len__(self) -> int:
        return len(self._outstanding)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._outstanding

    @property
    def outstanding(self) -> Mapping[int, Request]:
        return dict(self._outstanding)

    def context_of(self, message_id: int) -> int | None:
        """The presentation context a request was registered with (None if not given)."""
        return self._contexts.get(message_id)

    def next_message_id(self) -> int:
        """A Message ID no outstanding request uses: 1..65535, wrapping (PS3.7 9.1.1.1.1)."""
        candidate = self._next
        for _ in range(0xFFFF):
            following = candidate + 1 if candidate < 0xFFFF else 1
            if candidate not in self._outstanding:
                self._next = following
                return candidate
            candidate = following
        raise UsageError("all 65535 Message IDs are outstanding")

    def register(self, request: Request, context_id: int | None = None) -> None:
        """Track a request we are sending; its Message ID must not be outstanding."""
        if request.message_id in self._outstanding:
            raise UsageError(f"Message ID {request.message_id} is already outstanding")
        self._outstanding[request.message_id] = request
        self._contexts[request.message_id] = context_id

    def route(self, response: Response) -> Routed:
        """Match a response from the peer; ProtocolError if it answers nothing we sent."""
        message_id = response.message_id_being_responded_to
        request = self._outstanding.get(message_id)
        where = f"{response.name} MessageIDBeingRespondedTo"
        if request is None:
            raise ProtocolError(
                f"response to Message ID {message_id}, which is not outstanding",
                reason=AbortReason.UNEXPECTED_PDU_PARAMETER,
                where=where,
            )
        if type(response) is not request.response_type:
            raise ProtocolError(
                f"{response.name} answers {_describe(request)}",
                reason=AbortReason.UNEXPECTED_PDU_PARAMETER,
                where=where,
            )
        final = request.dimse not in _MULTI_RESPONSE or response.category is not Category.PENDING
        if final:
            self.forget(message_id)
        return Routed(request, response, final)

    def forget(self, message_id: int) -> Request | None:
        """Stop tracking a request (final response, local timeout); None if unknown."""
        self._contexts.pop(message_id, None)
        return self._outstanding.pop(message_id, None)

    def cancel(self, message_id: int) -> CCancelRQ:
        """The C-CANCEL-RQ for an outstanding C-FIND/C-GET/C-MOVE (it stays open)."""
        request = self._outstanding.get(message_id)
        if request is None or request.dimse not in _MULTI_RESPONSE:
            raise UsageError(f"no outstanding C-FIND/C-GET/C-MOVE with Message ID {message_id}")
        return CCancelRQ(message_id_being_responded_to=message_id)
