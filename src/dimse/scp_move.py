"""C-MOVE SCP behaviour: C-STORE sub-operations over our own associations to the
destination the handler names (PS3.4 C.4.2.3: never over the C-MOVE's association).

The ``EVT_C_MOVE`` handler yields, as in pynetdicom: the destination ``(addr, port)``
or ``(addr, port, kwargs)``, or ``(None, None)`` when the Move Destination AE title is
unknown (0xA801); then the number of sub-operations; then ``(status, dataset)`` as for
C-GET (a dataset may also be a PS3.10 file path, sent without decoding). ``kwargs``:
``ae_title`` (the called AE title; default the request's Move Destination),
``contexts`` (what to propose instead of letting dimse choose), and any option of
:meth:`~dimse.ae.AE.associate_async` (``evt_handlers``, ``ext_neg``, ``user_identity``,
``tls``, ``bind_address``).

Unless ``contexts`` is given, the store association proposes what the coming datasets
need: the handler is read ahead (up to :data:`LOOKAHEAD` items) and each SOP class met
gets a context with the uncompressed syntaxes, plus one per syntax a dataset or file
is in (so that it travels as its bytes are, whatever the acceptor prefers in a context
of several), at most 128 contexts. A dataset of a class not proposed on the
open association releases it and opens another for the classes read ahead from there.
Memory so holds the look-ahead, never the whole result, and any number of SOP classes
can be moved. A destination that cannot be reached fails the remaining
sub-operations without retrying (each is counted, the final status says why).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
from pydicom.dataset import Dataset

from dimse._negotiation_model import check_ae_title
from dimse._service_base import ServiceClass
from dimse._status_base import Category
from dimse.errors import DimseError, UsageError
from dimse.evt import EVT_C_MOVE
from dimse.messages import Priority, Request
from dimse.negotiation import (
    DEFAULT_TRANSFER_SYNTAXES,
    MAX_PRESENTATION_CONTEXTS,
    RequestedContext,
)
from dimse.part10 import is_valid_uid
from dimse.scp import register_behaviour
from dimse.scp_qr import (
    END,
    Counts,
    Fault,
    Feed,
    pending_sources,
    pull,
    respond,
    retrieve,
    start_handler,
    sub_operation_count,
)

if TYPE_CHECKING:
    from dimse.association import Association, StoreSource
    from dimse.negotiation import AcceptedContext

__all__ = ["LOOKAHEAD", "Destination", "MoveStore", "c_move", "destination"]

LOGGER = logging.getLogger("dimse.scp")
LOOKAHEAD = 64
_OPTIONS = frozenset(
    {"ae_title", "contexts", "evt_handlers", "ext_neg", "user_identity", "tls", "bind_address"}
)


@attrs.frozen
class Destination:
    """Where the sub-operations go, as the handler said."""

    address: str
    port: int
    ae_title: str
    contexts: tuple[RequestedContext, ...] | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)


def destination(service: ServiceClass, req: Request, item: Any) -> Destination | None:
    """The handler's first yield checked; None for "unknown" (``(None, None)``)."""
    invalid = Fault(service.status_code("HANDLER_INVALID_DESTINATION", req.dimse))
    if not isinstance(item, tuple) or len(item) not in (2, 3):
        raise invalid
    address, port = item[0], item[1]
    if address is None and port is None:
        return None
    if not isinstance(address, str) or not address:
        raise invalid
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 0x10000:
        raise invalid
    kwargs = item[2] if len(item) == 3 else {}
    if not isinstance(kwargs, Mapping) or not set(kwargs) <= _OPTIONS:
        raise invalid
    options = {k: v for k, v in kwargs.items() if k not in ("ae_title", "contexts")}
    try:
        title = check_ae_title(
            str(kwargs.get("ae_title", getattr(req, "move_destination", ""))),
            "the move destination AE title",
        )
        contexts = None
        if kwargs.get("contexts") is not None:
            contexts = tuple(
                c if isinstance(c, RequestedContext) else RequestedContext(str(c))
                for c in kwargs["contexts"]
            )
            if not 0 < len(contexts) <= MAX_PRESENTATION_CONTEXTS:
                raise UsageError(f"{len(contexts)} contexts: 1 to 128 can be proposed")
    except (UsageError, TypeError) as exc:
        LOGGER.error("EVT_C_MOVE: invalid destination: %s", exc)
        raise invalid from exc
    return Destination(address, port, title, contexts, options)


def store_key(source: object) -> tuple[str, str | None] | None:
    """(SOP class, its own transfer syntax or None) of a dataset or file; None if
    neither can be read (the sub-operation then fails)."""
    if isinstance(source, Dataset):
        sop_class = getattr(source, "SOPClassUID", None)
        meta = getattr(source, "file_meta", None)
        syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    else:
        from dimse.part10 import read_file_meta

        try:
            found = read_file_meta(source)  # type: ignore[arg-type]
        except (OSError, UsageError, TypeError):
            return None
        sop_class, syntax = found.sop_class_uid, found.transfer_syntax_uid
    if not sop_class:
        return None
    syntax = str(syntax).rstrip("\x00") if syntax else None
    return str(sop_class), syntax if syntax and is_valid_uid(syntax) else None


def contexts_for(keys: list[tuple[str, str | None]]) -> tuple[list[RequestedContext], set[Any]]:
    """Contexts for the keys in order, within 128: each class with the uncompressed
    syntaxes, and each syntax of a dataset or file in a context of its own."""
    contexts: dict[tuple[str, str | None], RequestedContext] = {}
    covered: set[Any] = set()
    for sop_class, syntax in keys:
        wanted = [(sop_class, None)] + ([(sop_class, syntax)] if syntax else [])
        new = [k for k in wanted if k not in contexts]
        if len(contexts) + len(new) > MAX_PRESENTATION_CONTEXTS:
            break
        for key in new:
            syntaxes = (key[1],) if key[1] else DEFAULT_TRANSFER_SYNTAXES
            contexts[key] = RequestedContext(key[0], syntaxes)
        covered.add((sop_class, syntax))
    return list(contexts.values()), covered


class MoveStore:
    """The C-STORE side of one C-MOVE: opens, reuses and releases store associations."""

    def __init__(
        self, service: ServiceClass, req: Request, dest: Destination, feed: Feed, counts: Counts
    ) -> None:
        self.ae = service.assoc.ae
        self.originator = service.assoc.negotiated.peer_ae_title
        self.req = req
        self.dest = dest
        self.feed = feed
        self.counts = counts
        self.assoc: Association | None = None
        self.proposed: set[Any] = set()

    async def __call__(self, source: StoreSource) -> Category | None:
        if self.counts.comment is not None:
            return None  # the destination could not be reached: no retry
        key = store_key(source)
        if key is None:
            LOGGER.error("C-MOVE: no SOP class in %r; sub-operation failed", source)
            return None
        if self.assoc is None or (self.dest.contexts is None and key not in self.proposed):
            await self._open(key)
            if self.assoc is None:
                return None
        try:
            rsp = await self.assoc.send_c_store(
                source,
                priority=getattr(self.req, "priority", Priority.MEDIUM),
                originator_aet=self.originator,
                originator_id=self.req.message_id,
            )
        except UsageError as exc:  # no accepted context for it, cannot convert...
            LOGGER.warning("C-MOVE sub-operation not initiated: %s", exc)
            return None
        except DimseError as exc:  # aborted, DIMSE timeout: the next one reconnects
            LOGGER.error("C-MOVE sub-operation to %s failed: %s", self.dest.ae_title, exc)
            self.assoc = None
            return None
        return rsp.category

    async def _open(self, key: tuple[str, str | None]) -> None:
        await self.close()
        contexts: list[RequestedContext]
        if self.dest.contexts is not None:
            contexts = list(self.dest.contexts)
        else:
            ahead = [store_key(s) for s in pending_sources(await self.feed.peek(LOOKAHEAD))]
            contexts, self.proposed = contexts_for([key, *(k for k in ahead if k is not None)])
        dest = self.dest
        try:
            if self.ae is None:
                raise UsageError("the association has no AE to open another from")
            self.assoc = await self.ae.associate_async(
                dest.address, dest.port, dest.ae_title, contexts=contexts, **dest.options
            )
        except (DimseError, OSError, TimeoutError) as exc:
            LOGGER.error("C-MOVE: cannot associate with %s: %s", dest.ae_title, exc)
            self.counts.comment = f"cannot associate with {dest.ae_title}: {exc}"
            self.assoc = None

    async def close(self) -> None:
        assoc, self.assoc = self.assoc, None
        if assoc is not None:
            try:
                await assoc.release()
            except DimseError as exc:
                LOGGER.warning("releasing the C-MOVE store association: %s", exc)


async def c_move(
    service: ServiceClass, req: Request, context: AcceptedContext, received: Any
) -> None:
    assoc, dimse = service.assoc, req.dimse
    feed = await start_handler(service, EVT_C_MOVE, req, context, received)
    if isinstance(feed, int):
        respond(assoc, context, req, feed)
        return
    missing = service.status_code("HANDLER_MISSING_DESTINATION_OR_COUNT", dimse)
    try:
        first = await pull(service, feed, dimse, EVT_C_MOVE)
        if first is END:
            raise Fault(missing)
        dest = destination(service, req, first)
        if dest is None:
            LOGGER.warning(
                "C-MOVE: move destination %r unknown", getattr(req, "move_destination", "")
            )
            raise Fault(service.status_code("MOVE_DESTINATION_UNKNOWN", dimse))
        second = await pull(service, feed, dimse, EVT_C_MOVE)
        if second is END:
            raise Fault(missing)
        count = sub_operation_count(service, dimse, second)
    except Fault as fault:
        await feed.close()
        respond(assoc, context, req, fault.code)
        return
    counts = Counts(count)
    store = MoveStore(service, req, dest, feed, counts)
    try:
        await retrieve(service, req, context, feed, EVT_C_MOVE, counts, store)
    finally:
        await store.close()


register_behaviour("C-MOVE", c_move)
