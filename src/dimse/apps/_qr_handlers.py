"""qrscp's event handlers: C-STORE into the instance store, C-FIND/C-GET/C-MOVE from
its index (:mod:`dimse.qr`), following the handler conventions of
``docs/query-retrieve.md``.

C-STORE data sets are streamed by the runtime to a hidden ``.part`` file under the
store's ``.incoming`` directory (:meth:`InstanceStore.incoming`) and, once complete,
:meth:`InstanceStore.adopt` files and indexes them: an instance is stored and indexed,
or absent. Index work (adopting, querying) runs on a small thread pool, never on the
event loop, so one slow query does not stall other associations.

The qr package's typed errors become statuses by member name in the generated table
of the request's service class: :class:`IdentifierError` is "Identifier does not match
SOP Class", :class:`UnableToProcess` (and any other :class:`QueryError`) "Unable to
process"; both carry the Error Comment and Offending Element.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import attrs
from pydicom.dataset import Dataset
from pydicom.uid import UID

from dimse._service_base import ServiceClass
from dimse.apps._common import peer_of
from dimse.apps._qr_config import Destination
from dimse.association import Association
from dimse.evt import EVT_C_ECHO, EVT_C_FIND, EVT_C_GET, EVT_C_MOVE, EVT_C_STORE, Event
from dimse.evt import HandlerBinding as HandlerBinding
from dimse.messages import CStoreRQ, Message, Request
from dimse.negotiation import AcceptorConfig
from dimse.part10 import InstanceFile
from dimse.pdu import AAssociateRQ, SOPClassExtendedNegotiation
from dimse.qr import (
    MODELS,
    IdentifierError,
    InformationModel,
    InstanceLocation,
    InstanceStore,
    MatchOptions,
    QueryError,
    StoreError,
    model_for,
)
from dimse.scp import service_class_for
from dimse.scp_qr import MAX_SUB_OPERATIONS
from dimse.statuses import VerificationStatus

__all__ = ["QRHandlers", "extended_negotiation_reply"]

LOGGER = logging.getLogger("dimse.apps.qrscp")
T = TypeVar("T")

_FIND_CLASSES = frozenset(str(m.find) for m in MODELS)
_RETRIEVE_CLASSES = frozenset(str(uid) for m in MODELS for uid in (m.get, m.move))


def extended_negotiation_reply(item: SOPClassExtendedNegotiation, rq: AAssociateRQ) -> bytes | None:
    """Our answer to SOP Class Extended Negotiation (PS3.4 C.5.1.1, C.5.2.1, C.5.3.1):
    relational queries, combined date-time matching and relational retrieval are
    supported when asked for; fuzzy names, timezone adjustment and enhanced
    multi-frame conversion are not."""
    uid = str(item.sop_class_uid).rstrip("\x00")
    asked = bytes(item.service_class_application_information or b"")
    supported: tuple[bool, ...]
    if uid in _FIND_CLASSES:
        supported = (True, True, False, False, False)
    elif uid in _RETRIEVE_CLASSES:
        supported = (True, False)
    else:
        return None
    return bytes(
        int(asked[i] == 1 and supported[i]) for i in range(min(len(asked), len(supported)))
    )


def with_extended_negotiation(config: AcceptorConfig) -> AcceptorConfig:
    return attrs.evolve(config, on_extended_negotiation=extended_negotiation_reply)


class QRHandlers:
    """The handlers of one qrscp: ``bindings()`` for the server, ``store_sink`` for the AE."""

    def __init__(
        self,
        store: InstanceStore,
        destinations: Mapping[str, Destination],
        *,
        strict: bool = True,
        log_identifier: bool = True,
        workers: int = 4,
    ) -> None:
        self.store = store
        self.index = store.index
        self.destinations = dict(destinations)
        self.strict = strict
        self.log_identifier = log_identifier
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qrscp")

    def bindings(self) -> list[HandlerBinding]:
        return [
            (EVT_C_ECHO, self.on_echo),
            (EVT_C_STORE, self.on_store),
            (EVT_C_FIND, self.on_find),
            (EVT_C_GET, self.on_get),
            (EVT_C_MOVE, self.on_move),
        ]

    def shutdown(self) -> None:
        """Wait for index work in flight (a C-STORE being adopted) to finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    # -- C-ECHO, C-STORE --------------------------------------------------------------------
    def on_echo(self, event: Event) -> int:
        LOGGER.info("Received Echo Request from %s", peer_of(event.assoc))
        return int(VerificationStatus.SUCCESS)

    def store_sink(self, assoc: Association, message: Message, context_id: int) -> InstanceFile:
        """``AE.store_sink``: stream a C-STORE data set into the store's ``.incoming``."""
        assert isinstance(message, CStoreRQ)
        context = assoc.negotiated.context_by_id(context_id)
        syntax = context.transfer_syntax if context is not None else ""
        return self.store.incoming(
            message.affected_sop_class_uid.rstrip("\x00"),
            message.affected_sop_instance_uid.rstrip("\x00"),
            syntax.rstrip("\x00"),
            assoc.negotiated.peer_ae_title,
        )

    async def on_store(self, event: Event) -> int | Dataset:
        request = event.request
        assert isinstance(request, CStoreRQ) and event.context is not None
        cls = _service(request, event)
        uid = request.affected_sop_instance_uid.rstrip("\x00")
        if event.path is None:  # no sink was made: nothing to adopt
            return _status(cls, "C-STORE", "OUT_OF_RESOURCES", "the instance was not received")
        try:
            location = await self._run(self.store.adopt, event.path)
        except StoreError as exc:
            LOGGER.error("C-STORE %s refused: %s", uid, exc)
            why = str(exc).removeprefix(f"{event.path}: ")  # the peer has no use for our path
            return _status(cls, "C-STORE", "CANNOT_UNDERSTAND", why)
        except OSError as exc:
            LOGGER.error("C-STORE %s: cannot store: %s", uid, exc)
            return _status(cls, "C-STORE", "OUT_OF_RESOURCES", exc.strerror or str(exc))
        kind = UID(request.affected_sop_class_uid.rstrip("\x00")).name
        LOGGER.info("Stored %s %s as %s", kind, uid, location.path)
        return cls.status_code("SUCCESS", "C-STORE")

    # -- C-FIND -------------------------------------------------------------------------------
    async def on_find(self, event: Event) -> AsyncIterator[tuple[Any, Dataset | None]]:
        model, cls = self._request(event)
        identifier = event.identifier
        self._log_request(event, model, identifier)
        options = self._match_options(event, model)
        try:
            results = await self._run(self.index.find, None, identifier, model, options)
        except QueryError as exc:
            yield _refusal(cls, "C-FIND", exc), None
            return
        member = "MATCHES_ARE_CONTINUING"
        if results.unsupported:
            member = "MATCHES_CONTINUING_OPTIONAL_KEYS_NOT_SUPPORTED"
            LOGGER.info("C-FIND: keys not supported, dropped: %s", ", ".join(results.unsupported))
        pending = cls.status_code(member, "C-FIND")
        sent = 0
        try:
            for match in results:
                yield pending, match
                sent += 1
        finally:
            LOGGER.info("C-FIND from %s: %d match(es) sent", peer_of(event.assoc), sent)

    # -- C-GET, C-MOVE --------------------------------------------------------------------------
    async def on_get(self, event: Event) -> AsyncIterator[Any]:
        model, cls = self._request(event)
        async for item in self._retrieve(event, model, cls, "C-GET"):
            yield item

    async def on_move(self, event: Event) -> AsyncIterator[Any]:
        model, cls = self._request(event)
        title = event.move_destination or ""
        destination = self.destinations.get(title)
        if destination is None:
            known = ", ".join(self.destinations) or "none configured"
            LOGGER.info("C-MOVE to unknown destination %r (known: %s)", title, known)
            yield None, None
            return
        LOGGER.info("C-MOVE destination %s at %s", title, destination)
        yield destination.address, destination.port, {"ae_title": title}
        async for item in self._retrieve(event, model, cls, "C-MOVE"):
            yield item

    async def _retrieve(
        self, event: Event, model: InformationModel, cls: type[ServiceClass], dimse: str
    ) -> AsyncIterator[Any]:
        """The count, then one ``(Pending, file)`` per instance; a refusal after a zero
        count (the runtime wants the count first)."""
        identifier = event.identifier
        self._log_request(event, model, identifier)
        try:
            found = await self._run(self._locate, identifier, model)
        except QueryError as exc:
            yield 0
            yield _refusal(cls, dimse, exc), None
            return
        if len(found) > MAX_SUB_OPERATIONS:
            LOGGER.error(
                "%s: %d instances match, more than a response can count", dimse, len(found)
            )
            yield 0
            comment = f"{len(found)} instances match; at most 65535 per request"
            yield _status(cls, dimse, "OUT_OF_RESOURCES_NUMBER_OF_MATCHES", comment), None
            return
        LOGGER.info("%s: %d instance(s) to send", dimse, len(found))
        yield len(found)
        pending = cls.status_code("SUB_OPERATIONS_ARE_CONTINUING", dimse)
        for location in found:
            yield pending, location.path  # a PS3.10 file: sent as its bytes are

    def _locate(self, identifier: Dataset, model: InformationModel) -> list[InstanceLocation]:
        return list(self.store.instances_for(None, identifier, model))

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _request(event: Event) -> tuple[InformationModel, type[ServiceClass]]:
        """The request's information model and generated service class."""
        request, context = event.request, event.context
        assert isinstance(request, Request) and context is not None
        cls = service_class_for(request, context)
        assert cls is not None  # the runtime found it to call us
        return model_for(context.abstract_syntax), cls

    def _match_options(self, event: Event, model: InformationModel) -> MatchOptions:
        """What the association agreed (our reply is the agreement, see
        :func:`extended_negotiation_reply`)."""
        agreed = event.assoc.negotiated.extended_negotiation_for(str(model.find)) or b""
        return MatchOptions(
            relational=agreed[:1] == b"\x01",
            combined_datetime=agreed[1:2] == b"\x01",
            strict=self.strict,
        )

    def _log_request(self, event: Event, model: InformationModel, identifier: Dataset) -> None:
        request = event.request
        assert request is not None
        if not LOGGER.isEnabledFor(logging.INFO):
            return
        level = identifier.get("QueryRetrieveLevel", "") if model.hierarchical else ""
        LOGGER.info(
            "%s from %s: %s model%s",
            request.dimse,
            peer_of(event.assoc),
            model.name,
            f", {level} level" if level else "",
        )
        if self.log_identifier:
            LOGGER.info("Identifier:\n%s", identifier)


def _service(request: Request, event: Event) -> type[ServiceClass]:
    assert event.context is not None
    cls = service_class_for(request, event.context)
    assert cls is not None
    return cls


def _status(cls: type[ServiceClass], dimse: str, member: str, comment: str) -> Dataset:
    ds = Dataset()
    ds.Status = cls.status_code(member, dimse)
    ds.ErrorComment = comment[:64]
    return ds


def _refusal(cls: type[ServiceClass], dimse: str, exc: QueryError) -> Dataset:
    member = (
        "IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS"
        if isinstance(exc, IdentifierError)
        else ("UNABLE_TO_PROCESS")
    )
    ds = _status(cls, dimse, member, exc.comment)
    entry = cls.status_entry(ds.Status, dimse)
    meaning = entry.description if entry is not None else member
    LOGGER.warning("%s refused, 0x%04X %s: %s", dimse, ds.Status, meaning, exc)
    if exc.offending:
        ds.OffendingElement = list(exc.offending)
    return ds
