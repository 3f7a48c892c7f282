"""The Application Entity: contexts, AE titles, limits and handlers; associations out and in.

Concepts and names follow pynetdicom (``AE``, ``add_requested_context``,
``add_supported_context``, ``associate``, ``start_server``, ``evt_handlers``,
``acse_timeout``/``dimse_timeout``/``network_timeout``). Every method exists twice:
``associate()``/``start_server()`` block (for scripts), ``associate_async()``/``serve()``
are coroutines for asyncio programs. One asyncio task per association; no threads
unless the blocking facade is used.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl as ssl_module
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dimse import service_classes
from dimse._implementation import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dimse.aio import Link, open_connection
from dimse.association import Association
from dimse.connection import Connection
from dimse.errors import AssociationAborted, UsageError
from dimse.evt import HandlerBinding, HandlerTable
from dimse.messages import CStoreRQ, Message
from dimse.negotiation import (
    DEFAULT_TRANSFER_SYNTAXES,
    AcceptorConfig,
    RejectReason,
    RequestedContext,
    SupportedContext,
    build_association_request,
    reject,
)
from dimse.part10 import encode_file_meta, is_valid_uid
from dimse.pdu import AAssociateRQ, UserIdentityRQ
from dimse.pdv import SinkChoice
from dimse.upper_layer import State
from dimse.write_behind import DiskWorker, PendingInstance

if TYPE_CHECKING:
    from dimse.blocking import BlockingAssociation, ThreadedServer

__all__ = ["AE", "Server", "StoreToDirectory", "storage_sop_classes"]

LOGGER = logging.getLogger("dimse.ae")
DEFAULT_MAX_PDU = 1 << 20


def storage_sop_classes() -> tuple[str, ...]:
    """Every storage SOP class in the spec (Storage and Non-Patient Object Storage)."""
    seen: dict[str, None] = {}
    for cls in service_classes.SERVICE_CLASSES.values():
        if "C-STORE" in cls.statuses:
            for uid in cls.sop_classes:
                seen.setdefault(str(uid), None)
    return tuple(seen)


class StoreToDirectory:
    """A C-STORE sink factory: stream each instance to ``directory/<SOP Instance UID>``.

    The file gets a PS3.10 header and the dataset bytes exactly as received, through a
    temporary file renamed when the last PDV arrives (see
    :class:`~dimse.part10.InstanceFile`): an aborted transfer leaves nothing, memory stays
    flat for any size. The file system calls run on a worker thread
    (:mod:`dimse.write_behind`); the store is answered when the file is complete. A
    hostile SOP Instance UID (``../x``) fails the store (0xA700 class of failure is
    decided by the SCP) without touching the file system.
    """

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.directory = Path(directory)
        self.fsync = fsync
        self.directory.mkdir(parents=True, exist_ok=True)
        # File system calls run on a worker thread, not on the event loop
        # (dimse.write_behind): the loop keeps receiving while files are written.
        self.worker = DiskWorker()

    def __call__(self, assoc: Association, message: Message, context_id: int) -> SinkChoice:
        assert isinstance(message, CStoreRQ)
        uid = message.affected_sop_instance_uid.rstrip("\x00")
        if not is_valid_uid(uid):
            raise UsageError(f"refusing to store an instance with SOP Instance UID {uid!r}")
        context = assoc.negotiated.context_by_id(context_id)
        syntax = context.transfer_syntax if context is not None else ""
        meta = encode_file_meta(
            message.affected_sop_class_uid.rstrip("\x00"),
            uid,
            syntax.rstrip("\x00"),
            IMPLEMENTATION_CLASS_UID,
            IMPLEMENTATION_VERSION_NAME,
            assoc.negotiated.peer_ae_title.strip()[:16],
        )
        return PendingInstance(self.worker, self.directory, meta, uid, fsync=self.fsync)


class AE:
    """A local Application Entity."""

    def __init__(self, ae_title: str = "DIMSE") -> None:
        self.ae_title = ae_title
        self.requested_contexts: list[RequestedContext] = []
        self.supported_contexts: dict[str, SupportedContext] = {}
        self.acse_timeout: float | None = 30.0
        self.dimse_timeout: float | None = 30.0
        self.network_timeout: float | None = 60.0
        self.connection_timeout: float | None = None
        self.maximum_pdu_size = DEFAULT_MAX_PDU
        self.maximum_associations = 10
        # Asynchronous operations window (PS3.7 D.3.3.3): how many of our requests may be
        # outstanding, and how many of the peer's we answer in turn; 0 is unlimited.
        # (1, 1) is synchronous and sends no window item, as pynetdicom and dcmtk do.
        self.maximum_operations_invoked = 1
        self.maximum_operations_performed = 1
        self.require_called_aet = False
        self.require_calling_aet: list[str] = []
        self.implementation_class_uid = IMPLEMENTATION_CLASS_UID
        self.implementation_version_name: str | None = IMPLEMENTATION_VERSION_NAME
        self.store_sink: Callable[[Association, Message, int], SinkChoice] | None = None
        # C-GET/C-MOVE SCP: a pending response after every n sub-operations (1: after
        # each, as pynetdicom; 0: none - PS3.4 C.4.2.3/C.4.3.3 make them optional).
        self.pending_every = 1
        self.active_associations: set[Association] = set()
        self._background: list[ThreadedServer] = []  # start_server(block=False)

    # -- contexts --------------------------------------------------------------------------
    def add_requested_context(
        self,
        abstract_syntax: str,
        transfer_syntax: str | Iterable[str] = DEFAULT_TRANSFER_SYNTAXES,
        *,
        scu_role: bool | None = None,
        scp_role: bool | None = None,
    ) -> None:
        syntaxes = (
            (transfer_syntax,) if isinstance(transfer_syntax, str) else tuple(transfer_syntax)
        )
        if len(self.requested_contexts) >= 128:
            raise UsageError("at most 128 presentation contexts can be requested (PS3.8 9.3.2.2)")
        self.requested_contexts.append(
            RequestedContext(abstract_syntax, syntaxes, scu_role=scu_role, scp_role=scp_role)
        )

    def add_supported_context(
        self,
        abstract_syntax: str,
        transfer_syntax: str | Iterable[str] = DEFAULT_TRANSFER_SYNTAXES,
        *,
        scu_role: bool = False,
        scp_role: bool = True,
    ) -> None:
        syntaxes = (
            (transfer_syntax,) if isinstance(transfer_syntax, str) else tuple(transfer_syntax)
        )
        self.supported_contexts[str(abstract_syntax)] = SupportedContext(
            abstract_syntax, syntaxes, scp_role=scp_role, scu_role=scu_role
        )

    def add_supported_storage(
        self,
        transfer_syntax: str | Iterable[str] = DEFAULT_TRANSFER_SYNTAXES,
        *,
        scu_role: bool = False,
        scp_role: bool = True,
    ) -> None:
        """Support every storage SOP class of the spec, in one call: as SCP (Storage
        SCP), and with ``scu_role=True`` also as SCU when a C-GET SCU proposes its SCP
        role (a Query/Retrieve SCP sends the C-GET sub-operations that way)."""
        for uid in storage_sop_classes():
            self.add_supported_context(uid, transfer_syntax, scu_role=scu_role, scp_role=scp_role)

    def add_requested_storage(
        self,
        sop_classes: Iterable[str] | None = None,
        transfer_syntax: str | Iterable[str] = DEFAULT_TRANSFER_SYNTAXES,
        *,
        scp_role: bool = True,
        scu_role: bool = False,
    ) -> int:
        """Propose storage SOP classes with our SCP role, for C-GET (the retrieved
        instances come back as C-STORE requests on the same association, PS3.4
        C.4.3.2): ``sop_classes`` or else the spec's storage classes, as many as the
        128 presentation contexts leave room for. Returns how many were added."""
        wanted = storage_sop_classes() if sop_classes is None else tuple(sop_classes)
        added = 0
        for uid in wanted:
            if len(self.requested_contexts) >= 128:
                break
            self.add_requested_context(uid, transfer_syntax, scu_role=scu_role, scp_role=scp_role)
            added += 1
        return added

    def _window_proposal(self) -> tuple[int, int] | None:
        """The window an association request proposes; None while synchronous."""
        window = (self.maximum_operations_invoked, self.maximum_operations_performed)
        return None if window == (1, 1) else window

    # -- acceptor configuration ------------------------------------------------------------
    def acceptor_config(self) -> AcceptorConfig:
        callers = self.require_calling_aet or None

        def admit(rq: AAssociateRQ) -> Any:
            # Only connections that asked to associate hold a slot: one still silent
            # (ARTIM closes it) must not lock real clients out.
            asking = sum(
                1 for a in self.active_associations if a.connection.state is not State.STA2
            )
            if asking > self.maximum_associations:
                return reject(RejectReason.LOCAL_LIMIT_EXCEEDED)
            return None

        return AcceptorConfig(
            self.ae_title,
            self.supported_contexts.values(),
            require_called_ae_title=self.require_called_aet,
            calling_ae_titles=callers,
            max_pdu_length=self.maximum_pdu_size,
            implementation_class_uid=self.implementation_class_uid,
            implementation_version_name=self.implementation_version_name,
            max_operations_invoked=self.maximum_operations_invoked,
            max_operations_performed=self.maximum_operations_performed,
            admit=admit,
        )

    # -- requestor ---------------------------------------------------------------------------
    async def associate_async(
        self,
        addr: str,
        port: int,
        ae_title: str = "ANY-SCP",
        *,
        evt_handlers: Iterable[HandlerBinding] = (),
        contexts: Iterable[RequestedContext] | None = None,
        ext_neg: Mapping[str, bytes] | None = None,
        user_identity: UserIdentityRQ | None = None,
        tls: ssl_module.SSLContext | None = None,
        bind_address: tuple[str, int] | None = None,
    ) -> Association:
        """Open an association; raises AssociationRejected/AssociationAborted/OSError."""
        wanted = list(contexts) if contexts is not None else list(self.requested_contexts)
        if not wanted:
            raise UsageError("no requested presentation contexts: call add_requested_context()")
        rq = build_association_request(
            self.ae_title,
            ae_title,
            wanted,
            max_pdu_length=self.maximum_pdu_size,
            implementation_class_uid=self.implementation_class_uid,
            implementation_version_name=self.implementation_version_name,
            asynchronous_window=self._window_proposal(),
            extended_negotiation=ext_neg,
            user_identity=user_identity,
        )
        loop = asyncio.get_running_loop()
        connection = Connection(
            requestor=True,
            max_receive_pdu=self.maximum_pdu_size or 0xFFFFFFFF,
            artim_timeout=self.acse_timeout or 30.0,
            clock=loop.time,
        )
        handlers = HandlerTable(evt_handlers)
        assoc = Association(
            connection,
            handlers,
            ae=self,
            dimse_timeout=self.dimse_timeout,
            network_timeout=self.network_timeout,
            acse_timeout=self.acse_timeout,
        )
        connection.request_association(rq)
        await open_connection(
            loop,
            lambda: Link(lambda _link: assoc),
            addr,
            port,
            ssl=tls,
            timeout=self.connection_timeout,
            local_addr=bind_address,
        )
        try:
            await asyncio.wait_for(assoc.wait_established(), self.acse_timeout)
        except TimeoutError as exc:
            if isinstance(exc, AssociationAborted):  # the network timeout: already over
                raise
            assoc.abort()
            raise TimeoutError(
                f"no A-ASSOCIATE response from {addr}:{port} within {self.acse_timeout} s"
            ) from None
        return assoc

    def associate(
        self, addr: str, port: int, ae_title: str = "ANY-SCP", **kwargs: Any
    ) -> BlockingAssociation:
        """Blocking :meth:`associate_async`; check ``is_established`` (pynetdicom style),
        or use it as a context manager, which raises if it was not established."""
        from dimse.blocking import BlockingAssociation

        return BlockingAssociation.open(self, addr, port, ae_title, **kwargs)

    # -- acceptor ----------------------------------------------------------------------------
    async def serve(
        self,
        address: tuple[str, int],
        *,
        evt_handlers: Iterable[HandlerBinding] = (),
        tls: ssl_module.SSLContext | None = None,
    ) -> Server:
        """Start listening; returns a :class:`Server` (``await server.close()``)."""
        if not self.supported_contexts:
            raise UsageError("no supported presentation contexts: call add_supported_context()")
        loop = asyncio.get_running_loop()
        handlers = HandlerTable(evt_handlers)
        server = Server(self, handlers)
        host, port = address
        server.asyncio_server = await loop.create_server(
            lambda: Link(server.new_association),
            host or None,
            port,
            ssl=tls,
            reuse_address=True,
        )
        return server

    def shutdown(self) -> None:
        """Stop every server started with ``start_server(block=False)`` and their
        associations (pynetdicom's ``AE.shutdown()``)."""
        servers, self._background = self._background, []
        for server in servers:
            server.shutdown()

    def start_server(
        self,
        address: tuple[str, int],
        *,
        block: bool = True,
        evt_handlers: Iterable[HandlerBinding] = (),
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> ThreadedServer | None:
        """Blocking server (``block=True``: until interrupted) or a background one."""
        from dimse.blocking import ThreadedServer

        server = ThreadedServer.start(self, address, evt_handlers, ssl_context)
        if not block:
            self._background.append(server)
            return server
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
        return None


class Server:
    """A listening AE: makes one acceptor Association per connection."""

    def __init__(self, ae: AE, handlers: HandlerTable) -> None:
        self.ae = ae
        self.handlers = handlers
        self.asyncio_server: asyncio.Server | None = None
        self._config = ae.acceptor_config()

    @property
    def port(self) -> int:
        assert self.asyncio_server is not None
        return int(self.asyncio_server.sockets[0].getsockname()[1])

    @property
    def active_associations(self) -> set[Association]:
        return self.ae.active_associations

    def new_association(self, link: Link) -> Association:
        ae = self.ae
        loop = asyncio.get_running_loop()
        connection = Connection(
            requestor=False,
            acceptor_config=self._config,
            artim_timeout=ae.acse_timeout or 30.0,
            clock=loop.time,
        )
        assoc = Association(
            connection,
            self.handlers,
            ae=ae,
            dimse_timeout=ae.dimse_timeout,
            network_timeout=ae.network_timeout,
            acse_timeout=ae.acse_timeout,
        )
        ae.active_associations.add(assoc)
        assoc._ended.add_done_callback(lambda _: ae.active_associations.discard(assoc))
        return assoc

    async def close(self, *, abort_associations: bool = True) -> None:
        if self.asyncio_server is not None:
            self.asyncio_server.close()
        if abort_associations:
            for assoc in list(self.ae.active_associations):
                if not assoc.is_requestor:
                    assoc.abort()
        if self.asyncio_server is not None:
            await self.asyncio_server.wait_closed()

    async def serve_forever(self) -> None:
        assert self.asyncio_server is not None
        await self.asyncio_server.serve_forever()
