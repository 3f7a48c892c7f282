"""One association, sans-I/O: bytes in -> events out; calls -> bytes to write.

:class:`Connection` composes the core layers - :class:`~dimse.framer.Framer`,
:class:`~dimse.upper_layer.UpperLayer`, :mod:`~dimse.negotiation` and the DIMSE
:class:`~dimse.pdv.MessageAssembler` - the way h11's ``Connection`` composes HTTP/1.1:
the driver feeds received bytes to :meth:`Connection.receive_data`, writes whatever
:meth:`Connection.data_to_send` returns, closes the transport when
:attr:`Connection.should_close` is set, and calls :meth:`Connection.handle_timeout` at
:attr:`Connection.deadline` (ARTIM). Everything here is deterministic and testable in
memory; the asyncio and blocking drivers add only sockets and timers.

Policy decisions taken here, not by the user:

* An acceptor answers the A-ASSOCIATE indication at once from its
  :class:`~dimse.negotiation.AcceptorConfig` (accept with per-context results, or
  reject); a malformed request (duplicate context IDs...) is aborted.
* An A-RELEASE indication is answered at once, collisions included (PS3.8 9.2.3.4).
* A peer fault found above the Upper Layer (a bad command set, a dataset on a context
  that was not accepted) aborts the association with a service-provider A-ABORT.

P-DATA fast path: when the state allows P-DATA (Sta6, or Sta8 while a release we
received is pending - PS3.8 Evt9 with DT-1 / AR-7), outgoing messages are written as
buffers straight from :func:`dimse.pdv.fragment_buffers`, without building
:class:`~dimse.pdu.PDataTF` objects; any other state goes through the table and raises
:class:`~dimse.errors.UsageError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable
from typing import TypeAlias, TypeVar

import attrs

from dimse.errors import AbortReason, AbortSource, ProtocolError, UsageError
from dimse.framer import Framer
from dimse.messages import Message
from dimse.negotiation import (
    AcceptorConfig,
    NegotiatedAssociation,
    negotiate_as_acceptor,
    negotiate_as_requestor,
)
from dimse.pdu import (
    PDU,
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    PDataTF,
)
from dimse.pdv import (
    CommandComplete,
    DatasetFragment,
    MessageAssembler,
    MessageComplete,
    SinkChoice,
    fragment_buffers,
)
from dimse.upper_layer import (
    A_ABORT_INDICATION,
    A_ASSOCIATE_CONFIRMATION_ACCEPT,
    A_ASSOCIATE_CONFIRMATION_REJECT,
    A_ASSOCIATE_INDICATION,
    A_P_ABORT_INDICATION,
    A_RELEASE_CONFIRMATION,
    A_RELEASE_INDICATION,
    P_DATA_INDICATION,
    CloseTransport,
    Effect,
    Indicate,
    OpenTransport,
    SendPDU,
    State,
    UpperLayer,
)

__all__ = [
    "AssociationAccepted",
    "AssociationRejected",
    "AssociationRequested",
    "Closed",
    "CommandComplete",
    "Connection",
    "ConnectionEvent",
    "DatasetFragment",
    "MessageComplete",
    "PeerAborted",
    "ReleaseRequested",
    "Released",
]

Buffer: TypeAlias = bytes | bytearray | memoryview
_In = TypeVar("_In", Buffer, int)  # what the framer is given: bytes, or a count read into it
DEFAULT_RECEIVE_PDU = 1 << 20  # what we advertise and accept when not told otherwise
_DATA_STATES = frozenset({State.STA6, State.STA8})


@attrs.frozen
class AssociationRequested:
    """Acceptor: a peer asked; ``accepted`` tells what we answered (already sent)."""

    request: AAssociateRQ
    accepted: bool


@attrs.frozen
class AssociationAccepted:
    """Both sides: the association is established with these terms."""

    association: NegotiatedAssociation


@attrs.frozen
class AssociationRejected:
    """The association was rejected (``local``: by us, as acceptor)."""

    pdu: AAssociateRJ
    local: bool


@attrs.frozen
class ReleaseRequested:
    """The peer asked to release; we answered (data still in flight was delivered)."""


@attrs.frozen
class Released:
    """The association ended by an orderly release."""


@attrs.frozen
class PeerAborted:
    """The association ended by A-ABORT from the peer (``pdu``) or A-P-ABORT (None)."""

    pdu: AAbort | None


@attrs.frozen
class Closed:
    """The machine is back in Sta1: the transport is (to be) closed; ``error`` says why
    when we aborted because of a peer fault."""

    error: ProtocolError | None = None


ConnectionEvent: TypeAlias = (
    AssociationRequested
    | AssociationAccepted
    | AssociationRejected
    | CommandComplete
    | DatasetFragment
    | MessageComplete
    | ReleaseRequested
    | Released
    | PeerAborted
    | Closed
)

PDUObserver: TypeAlias = Callable[[str, PDU], None]


def _p_data_tf(parts: list[Buffer]) -> PDataTF:
    """The PDU object of one fast-path P-DATA-TF, for observers only (it copies).

    ``parts`` is what :func:`~dimse.pdv.fragment_buffers` yields: a 12-byte header
    (PDU header, PDV item length, context ID, control) and the PDV's data.
    """
    header = parts[0]
    data = b"".join(bytes(part) for part in parts[1:])
    return PDataTF(pdvs=(PDV(context_id=header[10], control=header[11], data=data),))


class Connection:
    """The protocol state of one association (requestor or acceptor), without I/O."""

    def __init__(
        self,
        *,
        requestor: bool,
        acceptor_config: AcceptorConfig | None = None,
        max_receive_pdu: int = DEFAULT_RECEIVE_PDU,
        artim_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sink_for: Callable[[Message, int], SinkChoice] | None = None,
        on_pdu: PDUObserver | None = None,
    ) -> None:
        if not requestor and acceptor_config is None:
            raise UsageError("an acceptor needs an AcceptorConfig")
        if acceptor_config is not None and acceptor_config.max_pdu_length:
            max_receive_pdu = acceptor_config.max_pdu_length
        self._upper = UpperLayer(requestor=requestor, artim_timeout=artim_timeout, clock=clock)
        self._framer = Framer(max_receive_pdu)
        self._config = acceptor_config
        self.sink_for = sink_for
        self.on_pdu = on_pdu
        self._outbox: list[Buffer] = []
        self._events: list[ConnectionEvent] = []
        self._request: AAssociateRQ | None = None
        self._assembler: MessageAssembler | None = None
        self.association: NegotiatedAssociation | None = None
        self.should_connect = False
        self.should_close = False
        self.error: ProtocolError | None = None

    # -- state -------------------------------------------------------------------------
    @property
    def requestor(self) -> bool:
        return self._upper.requestor

    @property
    def state(self) -> State:
        return self._upper.state

    @property
    def deadline(self) -> float | None:
        """When :meth:`handle_timeout` must be called (ARTIM), or None."""
        return self._upper.artim_deadline

    @property
    def established(self) -> bool:
        return self.association is not None and self._upper.state in _DATA_STATES

    def data_to_send(self) -> list[Buffer]:
        """Buffers to write, in order (for ``writelines``); the outbox is emptied."""
        out, self._outbox = self._outbox, []
        return out

    # -- requestor -----------------------------------------------------------------------
    def request_association(self, rq: AAssociateRQ) -> None:
        """A-ASSOCIATE request: the driver opens the transport (``should_connect``)."""
        self._request = rq
        self._run(self._upper.request_association(rq))

    def transport_connected(self) -> list[ConnectionEvent]:
        """The transport is up (requestor: connect done; acceptor: connection accepted)."""
        self._run(self._upper.transport_connected())
        return self._take_events()

    # -- incoming --------------------------------------------------------------------------
    def receive_data(self, data: Buffer) -> list[ConnectionEvent]:
        """Bytes from the transport -> events (an empty chunk means end of stream)."""
        if not data:
            return self.transport_closed()
        return self._framed(self._framer.feed, data)

    def receive_buffer(self) -> memoryview:
        """Where the driver should receive the next bytes (``recv_into``); report them
        with :meth:`received_into`. A large PDU is received straight into its place."""
        return self._framer.get_buffer()

    def received_into(self, nbytes: int) -> list[ConnectionEvent]:
        """``nbytes`` were received into the last :meth:`receive_buffer` -> events."""
        if nbytes == 0:
            return self.transport_closed()
        return self._framed(self._framer.buffer_updated, nbytes)

    def _framed(self, step: Callable[[_In], list[PDU]], received: _In) -> list[ConnectionEvent]:
        """Received bytes through the framer (``step``), each PDU into the state machine."""
        if self._framer.dead:
            return []
        try:
            pdus = step(received)
        except ProtocolError as exc:
            self.error = exc
            self._run(self._upper.receive_invalid_pdu(exc))
            return self._take_events()
        for pdu in pdus:
            if self.on_pdu is not None:
                self.on_pdu("received", pdu)
            self._run(self._upper.receive_pdu(pdu))
            if self._upper.state is State.STA1 or self.should_close:
                break
        return self._take_events()

    def transport_closed(self) -> list[ConnectionEvent]:
        self._run(self._upper.transport_closed())
        return self._take_events()

    def handle_timeout(self, now: float | None = None) -> list[ConnectionEvent]:
        self._run(self._upper.handle_timeout(now))
        return self._take_events()

    # -- outgoing ------------------------------------------------------------------------
    def send_message(
        self,
        context_id: int,
        message: Message,
        dataset: Buffer | Iterable[Buffer] | None = None,
    ) -> None:
        """Queue one DIMSE message (command and optional dataset) on ``context_id``."""
        for _ in self.send_message_batches(context_id, message, dataset, batch_bytes=0):
            pass

    def send_message_batches(
        self,
        context_id: int,
        message: Message,
        dataset: Buffer | Iterable[Buffer] | None,
        *,
        batch_bytes: int,
    ) -> Generator[int, None, None]:
        """Queue one message batch by batch: after each ``batch_bytes`` (0: one batch)
        of PDUs it yields the bytes queued, so the driver writes them out and waits for
        the transport before the next batch is cut from ``dataset``'s chunks - a large
        dataset is never held whole. Checks come before anything is queued, and again
        before each PDU: if the association ended meanwhile, UsageError."""
        association = self.association
        name = type(message).__name__
        if association is None or self._upper.state not in _DATA_STATES:
            raise UsageError(f"cannot send {name}: no established association")
        if association.context_by_id(context_id) is None:
            raise UsageError(f"presentation context {context_id} was not accepted")
        if message.has_dataset != (dataset is not None):
            what = "needs" if message.has_dataset else "has no"
            raise UsageError(f"{name} {what} a dataset")
        command = message.to_command()
        queued = 0
        for parts in fragment_buffers(context_id, command, dataset, association.peer_max_pdu):
            if self._upper.state not in _DATA_STATES:
                raise UsageError(f"cannot send {name}: the association ended while sending it")
            if self.on_pdu is not None:
                self.on_pdu("sent", _p_data_tf(parts))
            self._outbox.extend(parts)
            queued += sum(len(part) for part in parts)
            if batch_bytes and queued >= batch_bytes:
                yield queued
                queued = 0
        if queued:
            yield queued

    def request_release(self) -> None:
        self._run(self._upper.request_release())

    def abort(
        self,
        source: AbortSource = AbortSource.SERVICE_USER,
        reason: AbortReason = AbortReason.NOT_SPECIFIED,
    ) -> list[ConnectionEvent]:
        """A-ABORT request (local). Safe in any state: a no-op once closed."""
        if self._upper.state is State.STA1:
            return []
        try:
            effects = self._upper.abort(source, reason)
        except UsageError:
            self.should_close = True
            return []
        self._run(effects)
        self._drop_partial_messages()
        return self._take_events()

    # -- effects -------------------------------------------------------------------------
    def _take_events(self) -> list[ConnectionEvent]:
        out, self._events = self._events, []
        return out

    def _send(self, pdu: PDU) -> None:
        if self.on_pdu is not None:
            self.on_pdu("sent", pdu)
        if isinstance(pdu, PDataTF):
            self._outbox.extend(pdu.encode_parts())
        else:
            self._outbox.append(pdu.encode())

    def _run(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Indicate):
                self._indicate(effect)
            elif isinstance(effect, SendPDU):
                self._send(effect.pdu)
            elif isinstance(effect, CloseTransport):
                self.should_close = True
                self._drop_partial_messages()
                self._events.append(Closed(self.error))
            elif isinstance(effect, OpenTransport):
                self.should_connect = True
            # StartARTIM / StopARTIM: the deadline property reflects them.

    def _indicate(self, effect: Indicate) -> None:
        primitive, pdu = effect.primitive, effect.pdu
        if primitive == P_DATA_INDICATION:
            assert isinstance(pdu, PDataTF) and self._assembler is not None
            try:
                self._events.extend(self._assembler.feed(pdu.pdvs))
            except ProtocolError as exc:
                self._fault(exc)
        elif primitive == A_ASSOCIATE_INDICATION:
            assert isinstance(pdu, AAssociateRQ)
            self._answer_request(pdu)
        elif primitive == A_ASSOCIATE_CONFIRMATION_ACCEPT:
            assert isinstance(pdu, AAssociateAC) and self._request is not None
            try:
                association = negotiate_as_requestor(self._request, pdu)
            except ProtocolError as exc:
                self._fault(exc)
                return
            self._established(association)
        elif primitive == A_ASSOCIATE_CONFIRMATION_REJECT:
            assert isinstance(pdu, AAssociateRJ)
            self._events.append(AssociationRejected(pdu, local=False))
        elif primitive == A_RELEASE_INDICATION:
            # A message the peer left half-sent will never be completed: its sink
            # (a temporary file, say) is discarded now, not when the socket closes.
            self._drop_partial_messages()
            self._events.append(ReleaseRequested())
            self._run(self._upper.respond_release())
            # Our A-RELEASE-RP is out: released for us (Sta13 only waits for the close).
            # In a collision the release completes on the confirmation instead.
            if self._upper.state in (State.STA1, State.STA13) or self.should_close:
                self._released()
        elif primitive == A_RELEASE_CONFIRMATION:
            self._drop_partial_messages()
            self._released()
        elif primitive in (A_ABORT_INDICATION, A_P_ABORT_INDICATION):
            self._events.append(PeerAborted(pdu if isinstance(pdu, AAbort) else None))
            self._drop_partial_messages()

    def _drop_partial_messages(self) -> None:
        """The association is over (or releasing): discard every data set in progress."""
        if self._assembler is not None:
            self._assembler.abort()

    def _released(self) -> None:
        if not any(isinstance(e, Released) for e in self._events):
            self._events.append(Released())

    def _answer_request(self, rq: AAssociateRQ) -> None:
        assert self._config is not None
        try:
            decision = negotiate_as_acceptor(rq, self._config)
        except ProtocolError as exc:
            self._fault(exc)
            return
        self._events.append(AssociationRequested(rq, decision.accepted))
        if decision.association is not None and isinstance(decision.pdu, AAssociateAC):
            self._run(self._upper.accept_association(decision.pdu))
            self._established(decision.association)
        else:
            assert isinstance(decision.pdu, AAssociateRJ)
            self._run(self._upper.reject_association(decision.pdu))
            self._events.append(AssociationRejected(decision.pdu, local=True))

    def _established(self, association: NegotiatedAssociation) -> None:
        self.association = association
        # 0 advertised = "no maximum" (PS3.8 D.1); the framer still grows only as bytes come.
        self._framer.max_pdu_length = association.our_max_pdu or 0xFFFFFFFF
        self._assembler = MessageAssembler(
            self.sink_for,
            accepted_contexts=[c.context_id for c in association.accepted_contexts],
        )
        self._events.append(AssociationAccepted(association))

    def _fault(self, exc: ProtocolError) -> None:
        """A peer fault above the Upper Layer: abort as service provider (PS3.8 7.3.1)."""
        self.error = exc
        reason = exc.reason if exc.reason is not AbortReason.RESERVED else AbortReason.NOT_SPECIFIED
        self._run(self._upper.abort(AbortSource.SERVICE_PROVIDER, reason))
        self._drop_partial_messages()
