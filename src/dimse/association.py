"""An association on the wire, async: SCU requests out, SCP requests in.

:class:`Association` owns one :class:`~dimse.connection.Connection` and one
:class:`~dimse.aio.Link`. Bytes received are fed to the connection in the link's
callback; responses complete the waiting ``send_*`` call there and then; requests from
the peer go to a single worker task per association (requests are answered in order,
and a C-CANCEL is seen while a C-FIND handler is still yielding). Timers are deadlines
on the event loop: ARTIM from the state machine, the DIMSE timeout around each wait for
a response, the ACSE timeout around A-RELEASE, and the network (idle) timeout, re-armed
only when it fires. "Idle" means nothing received, nothing of ours leaving the socket,
no handler of ours working and no response awaited: a slow peer reading a large data
set is not idle, a peer that stopped reading is.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from dimse.aio import Link
from dimse.connection import (
    AssociationAccepted,
    AssociationRejected,
    AssociationRequested,
    Closed,
    CommandComplete,
    Connection,
    ConnectionEvent,
    MessageComplete,
    PeerAborted,
    Released,
)
from dimse.eager import start_eagerly
from dimse.errors import (
    AbortReason,
    AbortSource,
    AssociationAborted,
    DimseError,
    ProtocolError,
    UsageError,
)
from dimse.errors import AssociationRejected as AssociationRejectedError
from dimse.evt import (
    EVT_ABORTED,
    EVT_ACCEPTED,
    EVT_CONN_CLOSE,
    EVT_CONN_OPEN,
    EVT_DIMSE_RECV,
    EVT_DIMSE_SENT,
    EVT_ESTABLISHED,
    EVT_PDU_RECV,
    EVT_PDU_SENT,
    EVT_REJECTED,
    EVT_RELEASED,
    EVT_REQUESTED,
    HandlerTable,
)
from dimse.messages import (
    CCancelRQ,
    CEchoRQ,
    CEchoRSP,
    CStoreRQ,
    CStoreRSP,
    Message,
    Priority,
    Request,
    Response,
)
from dimse.negotiation import AcceptedContext, NegotiatedAssociation, RejectedContext
from dimse.pdv import ResponseRouter, SinkChoice
from dimse.qr_scu import ResponseStream, send_cancel, start_request
from dimse.upper_layer import State

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dimse.pdu import PDU

__all__ = ["Association", "DimseTimeout", "NetworkTimeout", "ServiceUser", "StoreSource"]

LOGGER = logging.getLogger("dimse.association")
VERIFICATION = "1.2.840.10008.1.1"
_FILE_CHUNK = 4 << 20

StoreSource = Union["Dataset", str, "os.PathLike[str]"]
StreamItem = tuple[Response, bytes | None]


class ServiceUser(NamedTuple):
    """One side of an association, as pynetdicom's ``assoc.requestor``/``acceptor``."""

    ae_title: str
    address: str
    port: int
    maximum_length: int  # the largest P-DATA-TF PDU it receives (0: no limit)
    implementation_class_uid: str | None
    implementation_version_name: str | None


class DimseTimeout(DimseError, TimeoutError):
    """No response within the DIMSE timeout; the association was aborted."""


class NetworkTimeout(AssociationAborted, TimeoutError):
    """Nothing from the peer within the network timeout; we aborted the association."""

    def __init__(self, explanation: str) -> None:
        super().__init__(int(AbortSource.SERVICE_USER), 0, explanation)
        self.args = (f"{explanation} (network timeout); association aborted",)


class Association:
    """One association (requestor or acceptor side). Use the AE to make one."""

    def __init__(
        self,
        connection: Connection,
        handlers: HandlerTable,
        *,
        ae: Any = None,
        dimse_timeout: float | None = 30.0,
        network_timeout: float | None = 60.0,
        acse_timeout: float | None = 30.0,
    ) -> None:
        self._connection = connection
        self.acse_timeout = acse_timeout
        self.handlers = handlers
        self.ae = ae
        self.dimse_timeout = dimse_timeout
        self.network_timeout = network_timeout
        self._loop = asyncio.get_running_loop()
        self.link: Link | None = None
        self._router = ResponseRouter()
        self._waiting: dict[int, asyncio.Future[Response]] = {}
        # Multi-response requests (C-FIND/GET/MOVE) in flight: each response and its
        # encoded data set, queued for the consumer (see dimse.qr_scu).
        self._streams: dict[int, asyncio.Queue[StreamItem | BaseException]] = {}
        self._pending_requests: collections.deque[MessageComplete] = collections.deque()
        self._answering: asyncio.Future[None] | None = None
        self._established: asyncio.Future[NegotiatedAssociation] = self._loop.create_future()
        self._ended: asyncio.Future[None] = self._loop.create_future()
        self._artim: asyncio.TimerHandle | None = None
        self._artim_at: float | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._last_activity = self._loop.time()
        self.cancelled: set[int] = set()  # Message IDs of the peer's requests it cancelled
        self._open_requests: set[int] = set()  # the peer's requests not yet answered
        self._handling = False  # the worker is answering a request of the peer's
        self._awaiting = 0  # requests sent whole whose response is awaited
        self._idle_taken = 0  # bytes the transport had handed on at the last idle check
        self._operations = asyncio.Semaphore(1)  # our outstanding requests (async window)
        self._sending = asyncio.Lock()  # one outgoing request message at a time
        self.is_established = False
        self.is_released = False
        self.is_aborted = False
        self.is_rejected = False
        self.rejection: AssociationRejectedError | None = None
        self.abort_info: AssociationAborted | None = None
        self._faulted = False  # we aborted for the peer's protocol violation
        self.peer_address: tuple[str, int] | None = None
        connection.sink_for = self.sink_for
        if handlers.has(EVT_PDU_SENT) or handlers.has(EVT_PDU_RECV):
            connection.on_pdu = self.on_pdu

    # -- facts ---------------------------------------------------------------------------
    @property
    def connection(self) -> Connection:
        return self._connection

    @property
    def is_requestor(self) -> bool:
        return self._connection.requestor

    @property
    def negotiated(self) -> NegotiatedAssociation:
        if self._connection.association is None:
            raise UsageError("the association is not established")
        return self._connection.association

    @property
    def accepted_contexts(self) -> tuple[AcceptedContext, ...]:
        found = self._connection.association
        return found.accepted_contexts if found is not None else ()

    @property
    def rejected_contexts(self) -> tuple[RejectedContext, ...]:
        found = self._connection.association
        return found.rejected_contexts if found is not None else ()

    @property
    def requestor(self) -> ServiceUser:
        """The association requestor (pynetdicom's ``assoc.requestor``)."""
        return self._service_user(requestor=True)

    @property
    def acceptor(self) -> ServiceUser:
        """The association acceptor (pynetdicom's ``assoc.acceptor``)."""
        return self._service_user(requestor=False)

    def _service_user(self, *, requestor: bool) -> ServiceUser:
        negotiated = self.negotiated
        title = negotiated.calling_ae_title if requestor else negotiated.called_ae_title
        if requestor == self.is_requestor:  # our side
            transport = self.link.transport if self.link is not None else None
            here = transport.get_extra_info("sockname") if transport is not None else None
            address, port = (str(here[0]), int(here[1])) if isinstance(here, tuple) else ("", 0)
            return ServiceUser(
                title.strip(),
                address,
                port,
                negotiated.our_max_pdu,
                getattr(self.ae, "implementation_class_uid", None),
                getattr(self.ae, "implementation_version_name", None),
            )
        address, port = self.peer_address or ("", 0)
        return ServiceUser(
            title.strip(),
            address,
            port,
            negotiated.peer_max_pdu,
            negotiated.peer_implementation_class_uid,
            negotiated.peer_implementation_version_name,
        )

    @property
    def is_alive(self) -> bool:
        """Still usable: not ended and not aborted (an aborted association may wait for
        its transport to close a little longer; :meth:`wait_closed` waits for that)."""
        return not self._ended.done() and not self.is_aborted

    def __repr__(self) -> str:
        role = "requestor" if self.is_requestor else "acceptor"
        return f"<Association {role} {self._connection.state.name} peer={self.peer_address}>"

    # -- link callbacks --------------------------------------------------------------------
    def link_made(self, link: Link) -> None:
        self.link = link
        self.peer_address = link.peername
        self.handlers.notify(self, EVT_CONN_OPEN)
        self._dispatch(self._connection.transport_connected())
        self._arm_idle()

    def link_buffer(self) -> memoryview:
        return self._connection.receive_buffer()

    def link_received(self, nbytes: int) -> None:
        self._last_activity = self._loop.time()
        self._dispatch(self._connection.received_into(nbytes))

    def link_lost(self, exc: Exception | None) -> None:
        if self._connection.state is not State.STA1:
            self._dispatch(self._connection.transport_closed())
        self.handlers.notify(self, EVT_CONN_CLOSE)
        self._finish()

    def on_pdu(self, direction: str, pdu: PDU) -> None:
        """Connection observer: PDU notification events (only when someone listens)."""
        event = EVT_PDU_SENT if direction == "sent" else EVT_PDU_RECV
        self.handlers.notify(self, event, pdu=pdu)

    # -- the core loop step: events in, bytes and timers out ---------------------------------
    def _dispatch(self, events: list[ConnectionEvent]) -> None:
        for event in events:
            handler = _HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event)
        if self._connection.error is not None and not self._faulted:
            self._provider_abort(self._connection.error)
        self._flush()

    def _flush(self) -> None:
        conn = self._connection
        out = conn.data_to_send()
        link = self.link
        if out and link is not None:
            link.write(out)
            if self.network_timeout is not None:
                # What we send is activity too, and what the kernel took at once is no
                # sign of the peer reading later: the idle clock starts from this write.
                self._last_activity = self._loop.time()
                self._idle_taken = link.bytes_taken()
        if self._faulted and link is not None:
            self._close_link()
        elif conn.should_close and link is not None:
            link.close()
        deadline = conn.deadline
        if deadline != self._artim_at:
            if self._artim is not None:
                self._artim.cancel()
            self._artim = (
                self._loop.call_at(deadline, self._artim_expired) if deadline is not None else None
            )
            self._artim_at = deadline

    def _artim_expired(self) -> None:
        self._artim = self._artim_at = None
        self._dispatch(self._connection.handle_timeout(self._loop.time()))
        if self._connection.should_close and self.link is not None:
            self.link.abort_transport()

    def _arm_idle(self) -> None:
        if self.network_timeout is None or self._ended.done():
            return
        due = self._last_activity + self.network_timeout
        self._idle = self._loop.call_at(due, self._idle_check)

    def _idle_check(self) -> None:
        self._idle = None
        if self._ended.done():
            return
        taken = self.link.bytes_taken() if self.link is not None else 0
        moving = taken != self._idle_taken
        self._idle_taken = taken
        if moving or self._handling or self._awaiting or self._streams:
            # Not idle: bytes we are sending are leaving (a slow peer reading a large
            # data set says nothing meanwhile); or our own handler is working on the
            # peer's request (the peer's DIMSE timeout bounds that); or a request is
            # sent and its response awaited (our DIMSE timeout bounds that). A send
            # that stalls - the peer stopped reading - is none of these.
            self._last_activity = self._loop.time()
        if self._loop.time() - self._last_activity >= (self.network_timeout or 0):
            where = self._peer_text()
            LOGGER.warning("network timeout: no data from %s; aborting", where)
            self._aborted(NetworkTimeout(f"no data from {where} within {self.network_timeout} s"))
            self.abort()
        else:
            self._arm_idle()

    # -- connection events -----------------------------------------------------------------
    def _on_requested(self, event: AssociationRequested) -> None:
        self.handlers.notify(self, EVT_REQUESTED, pdu=event.request)

    def _on_accepted(self, event: AssociationAccepted) -> None:
        self.is_established = True
        if not self.is_requestor:
            self.handlers.notify(self, EVT_ACCEPTED)
        self.handlers.notify(self, EVT_ESTABLISHED)
        invoked = event.association.max_operations_invoked
        self._operations = asyncio.Semaphore(invoked if invoked > 0 else 0xFFFF)
        if not self._established.done():
            self._established.set_result(event.association)

    def _on_rejected(self, event: AssociationRejected) -> None:
        self.is_rejected = True
        from dimse.negotiation import association_rejected

        self.rejection = association_rejected(event.pdu)
        self.handlers.notify(self, EVT_REJECTED, pdu=event.pdu)
        if not self._established.done():
            self._established.set_exception(self.rejection)
            self._established.exception()  # an acceptor has no waiter: mark it retrieved

    def _on_message(self, event: MessageComplete) -> None:
        message = event.message
        if self.handlers.has(EVT_DIMSE_RECV):
            self.handlers.notify(self, EVT_DIMSE_RECV, message=message)
        if isinstance(message, Response):
            self._on_response(message, event.dataset)
        elif isinstance(message, CCancelRQ):
            # Only a request still open can be cancelled: a late C-CANCEL must not
            # cancel a later request that reuses the Message ID.
            cancelled = message.message_id_being_responded_to
            if cancelled in self._open_requests:
                self.cancelled.add(cancelled)
        else:
            if isinstance(message, Request):
                self._open_requests.add(message.message_id)
            self._pending_requests.append(event)
            if not self._handling:
                self._answer_pending()

    def _on_command(self, event: CommandComplete) -> None:
        pass  # datasets are routed by sink_for; the whole message follows

    def _on_response(self, response: Response, dataset: bytes | None = None) -> None:
        try:
            routed = self._router.route(response)
        except ProtocolError as exc:
            self._provider_abort(exc)
            self._dispatch(self._connection.abort(AbortSource.SERVICE_PROVIDER, exc.reason))
            return
        message_id = routed.request.message_id
        stream = self._streams.get(message_id)
        if stream is not None:
            stream.put_nowait((response, dataset))
            if routed.final:
                # The operation is over whether or not anyone still reads the stream.
                del self._streams[message_id]
                self._operations.release()
            return
        waiter = self._waiting.pop(message_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _on_released(self, event: Released) -> None:
        self.is_released = True
        self.handlers.notify(self, EVT_RELEASED)

    def _on_peer_aborted(self, event: PeerAborted) -> None:
        pdu = event.pdu
        if self._connection.error is not None and not self._faulted:
            self._provider_abort(self._connection.error)  # our A-P-ABORT: say why
            return
        self._aborted(
            AssociationAborted(
                pdu.source if pdu is not None else None, pdu.reason if pdu is not None else None
            ),
            pdu,
        )

    def _on_closed(self, event: Closed) -> None:
        if event.error is not None and not self._faulted:
            LOGGER.error("peer %s: %s", self.peer_address, event.error)
            self._aborted(
                AssociationAborted(
                    int(AbortSource.SERVICE_PROVIDER), int(event.error.reason), str(event.error)
                )
            )

    def _aborted(self, info: AssociationAborted, pdu: PDU | None = None) -> None:
        """Record an abort (ours, the peer's or the provider's); EVT_ABORTED fires once.

        Every request still waiting for a response fails now with the abort's reason:
        none can come, and the transport may take until ARTIM to close.
        """
        if self.is_aborted:
            return
        self.is_aborted = True
        self.abort_info = self.abort_info or info
        self.handlers.notify(self, EVT_ABORTED, pdu=pdu)
        self._fail_operations(self.abort_info)

    def _provider_abort(self, exc: ProtocolError) -> None:
        """The peer broke the protocol and we abort (A-ABORT, service provider): the
        precise reason is what the caller sees, and :meth:`_flush` closes the connection
        once the A-ABORT is written rather than when ARTIM expires."""
        self._faulted = True
        LOGGER.error("peer %s: %s; aborting", self._peer_text(), exc)
        info = AssociationAborted(int(AbortSource.SERVICE_PROVIDER), int(exc.reason), str(exc))
        self._aborted(info)

    def _peer_text(self) -> str:
        if self.peer_address is None:
            return "the peer"
        host, port = self.peer_address
        return f"{host}:{port}"

    def _close_link(self) -> None:
        if self.link is not None:
            # What is buffered (the A-ABORT last) goes out first; a peer that stopped
            # reading never takes it, and ARTIM (PS3.8 AA-1, Sta13) ends the transport.
            # A send waiting for the socket gives up now.
            self.link.close()
            self.link.wake_writers()

    def _fail_operations(self, error: BaseException) -> None:
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(error)
        self._waiting.clear()
        for stream in self._streams.values():
            stream.put_nowait(error)
            self._operations.release()  # a request waiting for the slot then gets the error
        self._streams.clear()

    def _finish(self) -> None:
        if self._ended.done():
            return
        self.is_established = False  # released, aborted or lost: over (pynetdicom too)
        for timer in (self._artim, self._idle):
            if timer is not None:
                timer.cancel()
        error: BaseException = self.abort_info or AssociationAborted(
            None, None, "the connection closed"
        )
        if not self._established.done():
            self._established.set_exception(self.rejection or error)
            self._established.exception()  # retrieved: no "never retrieved" warning
        self._fail_operations(error)
        self._pending_requests.clear()
        self._ended.set_result(None)

    # -- SCU -----------------------------------------------------------------------------------
    async def wait_established(self) -> NegotiatedAssociation:
        return await self._established

    async def wait_closed(self) -> None:
        await asyncio.shield(self._ended)

    def context_for(
        self, abstract_syntax: str, transfer_syntax: str | None = None, *, role: str = "scu"
    ) -> AcceptedContext:
        """An accepted context for ``abstract_syntax`` (and ``transfer_syntax``) where we
        may act in ``role``; UsageError naming what is missing otherwise."""
        candidates = [
            c
            for c in self.negotiated.contexts_for(abstract_syntax)
            if (c.scu_role if role == "scu" else c.scp_role)
        ]
        if transfer_syntax is not None:
            candidates = [c for c in candidates if c.transfer_syntax == transfer_syntax]
        if not candidates:
            wanted = f" with {transfer_syntax}" if transfer_syntax else ""
            raise UsageError(f"no accepted presentation context for {abstract_syntax}{wanted}")
        return candidates[0]

    def _send(
        self,
        context: AcceptedContext,
        message: Message,
        dataset: bytes | memoryview | Iterable[bytes | memoryview] | None = None,
    ) -> None:
        if self._ended.done() or not self._connection.established:
            raise self.abort_info or UsageError("the association is not established")
        self._connection.send_message(context.context_id, message, dataset)
        if self.handlers.has(EVT_DIMSE_SENT):
            self.handlers.notify(self, EVT_DIMSE_SENT, message=message)
        self._flush()

    async def _request(
        self,
        context: AcceptedContext,
        request: Request,
        dataset: bytes | memoryview | Iterable[bytes | memoryview] | None = None,
    ) -> Response:
        # Requests issued together (asyncio.gather) take turns: no more outstanding
        # than the negotiated asynchronous operations window allows (1 unless agreed),
        # and one message on the wire at a time, so a streamed data set is never
        # interleaved with another message's PDUs.
        async with self._operations:
            self._router.register(request, context.context_id)
            waiter: asyncio.Future[Response] = self._loop.create_future()
            self._waiting[request.message_id] = waiter
            try:
                async with self._sending:
                    if dataset is None or isinstance(dataset, bytes | memoryview):
                        self._send(context, request, dataset)
                    else:
                        await self._send_streamed(context, request, dataset)
                self._awaiting += 1
                try:
                    return await self._wait(waiter, request)
                finally:
                    self._awaiting -= 1
            finally:
                self._waiting.pop(request.message_id, None)
                self._router.forget(request.message_id)

    async def _send_streamed(
        self, context: AcceptedContext, request: Request, chunks: Iterable[bytes | memoryview]
    ) -> None:
        """Send a dataset from an iterable of chunks: the connection queues it a batch at
        a time, and each batch is written and drained before the next is read, so memory
        holds about one batch, not the whole dataset."""
        if self._ended.done() or not self._connection.established:
            raise self.abort_info or UsageError("the association is not established")
        batches = self._connection.send_message_batches(
            context.context_id, request, chunks, batch_bytes=_FILE_CHUNK
        )
        for _ in batches:
            self._flush()
            if self.link is not None:
                await self.link.drain()
            if self._ended.done() or self.is_aborted:
                batches.close()
                raise self.abort_info or AssociationAborted(None, None, "the connection closed")
        if self.handlers.has(EVT_DIMSE_SENT):
            self.handlers.notify(self, EVT_DIMSE_SENT, message=request)

    async def _wait(self, waiter: asyncio.Future[Response], request: Request) -> Response:
        """Await the response; at the DIMSE timeout abort and raise DimseTimeout.

        One timer handle on the loop rather than ``asyncio.wait_for``, which costs a
        wrapper future and callbacks per request on the hot path.
        """
        if self.dimse_timeout is None:
            return await waiter
        timer = self._loop.call_later(self.dimse_timeout, self._dimse_expired, waiter, request)
        try:
            return await waiter
        finally:
            timer.cancel()

    def _dimse_expired(self, waiter: asyncio.Future[Response], request: Request) -> None:
        if waiter.done():
            return
        LOGGER.error("DIMSE timeout waiting for the response to %s; aborting", request.name)
        waiter.set_exception(
            DimseTimeout(f"no {request.name.replace('-RQ', '-RSP')} within {self.dimse_timeout} s")
        )
        waiter.exception()  # retrieved below by the awaiting request
        self.abort()

    async def send_c_echo(self, msg_id: int | None = None) -> CEchoRSP:
        """C-ECHO; returns the response (``.status``, also readable as ``.Status``)."""
        context = self.context_for(VERIFICATION)
        message_id = msg_id if msg_id is not None else self._router.next_message_id()
        response = await self._request(context, CEchoRQ(message_id=message_id))
        assert isinstance(response, CEchoRSP)
        return response

    async def send_c_store(
        self,
        dataset: StoreSource,
        msg_id: int | None = None,
        priority: Priority | int = Priority.MEDIUM,
        originator_aet: str | None = None,
        originator_id: int | None = None,
    ) -> CStoreRSP:
        """C-STORE a pydicom Dataset or a PS3.10 file.

        A file whose transfer syntax was accepted for its SOP class is sent as its bytes
        are (streamed, never decoded); otherwise it is decoded and re-encoded in an
        accepted transfer syntax when pydicom can, or UsageError explains why not.
        """
        from dimse.storage_scu import prepare_store

        prepared = prepare_store(self, dataset)
        message_id = msg_id if msg_id is not None else self._router.next_message_id()
        request = CStoreRQ(
            message_id=message_id,
            affected_sop_class_uid=prepared.sop_class_uid,
            affected_sop_instance_uid=prepared.sop_instance_uid,
            priority=Priority(priority),
            move_originator_application_entity_title=originator_aet,
            move_originator_message_id=originator_id,
        )
        try:
            response = await self._request(prepared.context, request, prepared.payload)
        finally:
            prepared.close()
        assert isinstance(response, CStoreRSP)
        return response

    async def release(self) -> None:
        """A-RELEASE: wait for the peer's answer (or the end of the connection)."""
        if self._ended.done():
            return
        async with self._sending:  # never between the PDUs of a message being sent
            if self._connection.state is State.STA6:
                self._connection.request_release()
                self._flush()
        try:
            # An ACSE exchange: bounded by the ACSE timeout, like association set-up.
            await asyncio.wait_for(asyncio.shield(self._ended), self.acse_timeout)
        except TimeoutError:
            LOGGER.warning("no A-RELEASE-RP from %s; aborting", self.peer_address)
            self.abort()
        if self._answering is not None:
            await asyncio.gather(self._answering, return_exceptions=True)

    def abort(self, reason: AbortReason = AbortReason.NOT_SPECIFIED) -> None:
        """A-ABORT (service user) and close the connection."""
        if self._ended.done():
            return
        self._aborted(AssociationAborted(0, 0, "aborted locally"))
        self._dispatch(self._connection.abort())
        self._close_link()

    # -- SCP -----------------------------------------------------------------------------------
    def sink_for(self, message: Message, context_id: int) -> SinkChoice:
        """Where the dataset of an incoming message goes (C-STORE may stream to a file)."""
        factory: Callable[[Association, Message, int], SinkChoice] | None = getattr(
            self.ae, "store_sink", None
        )
        if factory is not None and isinstance(message, CStoreRQ):
            context = self.negotiated.context_by_id(context_id)
            sop_class = message.affected_sop_class_uid.rstrip("\x00")
            if context is None or sop_class != context.abstract_syntax.rstrip("\x00"):
                # dimse.scp refuses it (SOP Class Not Supported): store nothing.
                return _DiscardSink()
            return factory(self, message, context_id)
        return None

    def _answer_pending(self) -> None:
        """Answer the peer's requests in order, one at a time.

        Each answer starts at once, inside the callback that delivered the request
        (:func:`dimse.eager.start_eagerly`): a handler that is a plain function -
        every C-ECHO and C-STORE of the apps - costs no task and no extra turn of the
        loop. Only an answer that has to wait (an async handler, a C-FIND generator
        pacing its responses) continues as a task; later requests queue behind it.
        """
        while self._pending_requests and not self._ended.done():
            item = self._pending_requests.popleft()
            self._handling = True
            running = start_eagerly(self._answer(item))
            if running is not None:
                self._answering = running
                running.add_done_callback(self._answered)
                return
            self._answered(None)

    def _answered(self, task: object) -> None:
        self._handling = False
        self._last_activity = self._loop.time()
        if task is not None:
            self._answering = None
            self._answer_pending()

    async def _answer(self, item: MessageComplete) -> None:
        from dimse.scp import handle_request

        try:
            await handle_request(self, item)
        except DimseError as exc:
            LOGGER.error("could not answer %s: %s", item.message.name, exc)
        except Exception:
            LOGGER.exception("unexpected error answering %s; aborting", item.message.name)
            self.abort()
        finally:
            message_id = getattr(item.message, "message_id", None)
            self._open_requests.discard(message_id)
            self.cancelled.discard(message_id)

    def send_response(
        self, context_id: int, response: Response, dataset: bytes | None = None
    ) -> None:
        """Used by SCP behaviour: queue a response (or pending response) to the peer."""
        context = self.negotiated.context_by_id(context_id)
        if context is None:
            raise UsageError(f"presentation context {context_id} was not accepted")
        self._send(context, response, dataset)

    # -- Query/Retrieve SCU (dimse.qr_scu) ---------------------------------------------------
    def send_c_find(
        self,
        identifier: Dataset,
        query_model: str,
        msg_id: int | None = None,
        priority: Priority | int = Priority.MEDIUM,
    ) -> ResponseStream:
        """C-FIND: ``async for rsp, identifier in assoc.send_c_find(ds, "S")``."""
        return start_request(self, "C-FIND", identifier, query_model, msg_id, priority)

    def send_c_get(
        self,
        identifier: Dataset,
        query_model: str,
        msg_id: int | None = None,
        priority: Priority | int = Priority.MEDIUM,
    ) -> ResponseStream:
        """C-GET; the C-STORE sub-operations arrive on this association (EVT_C_STORE)."""
        return start_request(self, "C-GET", identifier, query_model, msg_id, priority)

    def send_c_move(
        self,
        identifier: Dataset,
        move_aet: str,
        query_model: str,
        msg_id: int | None = None,
        priority: Priority | int = Priority.MEDIUM,
    ) -> ResponseStream:
        """C-MOVE to the AE titled ``move_aet`` (the SCP must know its address)."""
        return start_request(
            self, "C-MOVE", identifier, query_model, msg_id, priority, move_aet=move_aet
        )

    async def send_c_cancel(
        self, msg_id: int, context_id: int | None = None, query_model: str | None = None
    ) -> bool:
        """C-CANCEL an outstanding C-FIND/GET/MOVE; keep iterating its responses to the
        final (Cancel) one. False if it had already completed (nothing was sent)."""
        return await send_cancel(self, msg_id, context_id)


class _DiscardSink:
    """A data set sink that keeps nothing (for a request that will be refused)."""

    def write(self, data: bytes | memoryview) -> None:
        pass

    def close(self) -> None:
        return None

    def discard(self) -> None:
        pass


_HANDLERS: dict[type, Callable[[Association, Any], None]] = {
    AssociationRequested: Association._on_requested,
    AssociationAccepted: Association._on_accepted,
    AssociationRejected: Association._on_rejected,
    CommandComplete: Association._on_command,
    MessageComplete: Association._on_message,
    Released: Association._on_released,
    PeerAborted: Association._on_peer_aborted,
    Closed: Association._on_closed,
}
