"""Query/Retrieve SCP behaviour: C-FIND, C-GET (and the retrieve loop C-MOVE shares).

Bound through :func:`dimse.scp.register_behaviour`, so every generated service class
whose DIMSE usage lists these services gets it (Query/Retrieve, Protocol Approval
Query/Retrieve); a request on a context of another model of the class is refused with
SOP Class Not Supported, as C-STORE is. Handlers follow pynetdicom's conventions
(``EVT_C_FIND``: yield ``(status, identifier)``; ``EVT_C_GET``: yield the number of
sub-operations, then ``(status, dataset)``); a handler may be a generator, an async
generator, a function returning an iterable, or a coroutine returning one.

Statuses come from the service class's generated tables by member name; the Cancel
status is the table's Cancel-category row. Between two responses the worker yields to
the event loop (and waits for the socket to drain), so a C-CANCEL is read while a
long answer is still being produced, and a slow reader bounds what is buffered.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs
from pydicom.dataset import Dataset

from dimse._service_base import INVALID_STATUS_MEMBER, ServiceClass
from dimse._status_base import Category, rule_entry
from dimse.datasets import encode_dataset
from dimse.errors import DatasetDecodeError, UsageError
from dimse.evt import EVT_C_FIND, EVT_C_GET, Event, EventType
from dimse.messages import Request
from dimse.pdv import MessageComplete
from dimse.scp import StatusHolder, register_behaviour
from dimse.statuses import CATEGORY_RULES

if TYPE_CHECKING:
    from dimse.association import Association, StoreSource
    from dimse.negotiation import AcceptedContext

__all__ = [
    "END",
    "Counts",
    "Fault",
    "Feed",
    "instance_uid",
    "pending_sources",
    "pull",
    "retrieve",
    "start_handler",
    "sub_operation_count",
]

LOGGER = logging.getLogger("dimse.scp")
MAX_SUB_OPERATIONS = 0xFFFF  # the counts are US (PS3.7 Tables 9.3-7, 9.3-10)
END = object()


class Fault(Exception):
    """The handler misbehaved: answer with this final status (an implementation code)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"status 0x{code:04X}")
        self.code = code


# -- the handler's answer, one item at a time --------------------------------------------


class Feed:
    """What a handler yields, pulled one item at a time with look-ahead (C-MOVE reads
    ahead to choose the presentation contexts of its store association). A fault met
    while reading ahead is kept and raised when the item that follows is asked for."""

    def __init__(self, answer: object) -> None:
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        if answer is None:
            self._sync = iter(())
        elif hasattr(answer, "__anext__"):
            self._async = answer  # type: ignore[assignment]
        elif hasattr(answer, "__iter__") and not isinstance(answer, Dataset | str | bytes):
            self._sync = iter(answer)
        else:
            self._sync = iter((answer,))  # one item, checked like any other yield
        self._ahead: deque[tuple[bool, Any]] = deque()  # (is_error, item or exception)

    async def _pull(self) -> tuple[bool, Any]:
        try:
            if self._async is not None:
                try:
                    return False, await self._async.__anext__()
                except StopAsyncIteration:
                    return False, END
            assert self._sync is not None
            return False, next(self._sync, END)
        except Exception as exc:
            return True, exc

    async def next(self) -> Any:
        """The next item, ``END`` when the handler is done; raises what it raised."""
        is_error, item = self._ahead.popleft() if self._ahead else await self._pull()
        if is_error:
            self._ahead.appendleft((True, item))  # it stays raised
            raise item
        if item is END:
            self._ahead.appendleft((False, END))
        return item

    async def peek(self, count: int) -> list[Any]:
        """Up to ``count`` items after the current one, read ahead and kept."""
        while len(self._ahead) < count:
            if self._ahead and (self._ahead[-1][0] or self._ahead[-1][1] is END):
                break  # nothing follows a fault or the end
            self._ahead.append(await self._pull())
        return [item for is_error, item in self._ahead if not is_error and item is not END]

    async def close(self) -> None:
        """Stop the handler (a generator's ``finally`` runs now)."""
        try:
            if self._async is not None and hasattr(self._async, "aclose"):
                await self._async.aclose()
            elif self._sync is not None and hasattr(self._sync, "close"):
                self._sync.close()
        except Exception:
            LOGGER.exception("the handler raised while being closed")


async def start_handler(
    service: ServiceClass,
    event_type: EventType,
    req: Request,
    context: AcceptedContext,
    received: Any,
) -> Feed | int:
    """Call the bound handler; its answer as a :class:`Feed`, or a final status."""
    dimse = req.dimse
    bound = service.assoc.handlers.get(event_type)
    if bound is None:
        LOGGER.warning("%s: no handler bound to %s", req.name, event_type.name)
        return service.status_code("UNABLE_TO_PROCESS", dimse)
    event = Event(
        service.assoc,
        event_type,
        request=req,
        context=context,
        encoded_dataset=received.dataset if isinstance(received, MessageComplete) else None,
    )
    handler, args = bound
    try:
        answer = handler(event, *args)
        if inspect.isawaitable(answer):
            answer = await answer
    except Exception as exc:
        return fault_code(service, dimse, event_type, exc)
    return Feed(answer)


def fault_code(service: ServiceClass, dimse: str, event_type: EventType, exc: Exception) -> int:
    """The implementation status of a handler that raised (undecodable data set or not)."""
    if isinstance(exc, DatasetDecodeError):
        LOGGER.error("%s: could not decode the identifier: %s", event_type.name, exc)
        return service.status_code("DATASET_DECODE_FAILED", dimse)
    LOGGER.error("handler bound to %s raised", event_type.name, exc_info=exc)
    return service.status_code("HANDLER_EXCEPTION", dimse)


async def pull(service: ServiceClass, feed: Feed, dimse: str, event_type: EventType) -> Any:
    """:meth:`Feed.next`, a raised exception turned into a :class:`Fault`."""
    try:
        return await feed.next()
    except Exception as exc:
        raise Fault(fault_code(service, dimse, event_type, exc)) from exc


def status_of(service: ServiceClass, dimse: str, item: Any) -> tuple[StatusHolder, Any]:
    """A ``(status, data set)`` yield checked: the status holder and the data set."""
    if not isinstance(item, tuple) or len(item) != 2:
        raise Fault(service.status_code(INVALID_STATUS_MEMBER, dimse))
    holder = StatusHolder()
    service.validate_status(item[0], holder, dimse)
    return holder, item[1]


def category(service: ServiceClass, dimse: str, code: int) -> Category | None:
    entry = type(service).statuses.lookup(code, dimse) or rule_entry(code, CATEGORY_RULES)
    return entry.category if entry is not None else None


def cancel_code(service: ServiceClass, dimse: str) -> int:
    """The table's Cancel-category status (its name differs between tables)."""
    for entry in type(service).statuses[dimse]:
        if entry.category is Category.CANCEL and entry.member is not None:
            return service.status_code(entry.member, dimse)
    raise LookupError(f"{type(service).__name__} lists no Cancel status for {dimse}")


async def breathe(assoc: Association) -> None:
    """Let the loop read (a C-CANCEL) and the socket drain before the next response."""
    if assoc.link is not None:
        await assoc.link.drain()
    await asyncio.sleep(0)


def respond(
    assoc: Association,
    context: AcceptedContext,
    req: Request,
    code: int,
    *,
    identifier: Dataset | None = None,
    **fields: Any,
) -> None:
    payload = None if identifier is None else encode_dataset(identifier, context.transfer_syntax)
    rsp = req.response(code, has_dataset=payload is not None, **fields)
    assoc.send_response(context.context_id, rsp, payload)


# -- C-FIND -------------------------------------------------------------------------------


async def _c_find(
    service: ServiceClass, req: Request, context: AcceptedContext, received: Any
) -> None:
    assoc, dimse = service.assoc, req.dimse
    feed = await start_handler(service, EVT_C_FIND, req, context, received)
    if isinstance(feed, int):
        respond(assoc, context, req, feed)
        return
    fields: dict[str, Any] = {}
    try:
        while True:
            if req.message_id in assoc.cancelled:
                final = cancel_code(service, dimse)
                break
            item = await pull(service, feed, dimse, EVT_C_FIND)
            if item is END:
                final = service.status_code("SUCCESS", dimse)
                break
            holder, identifier = status_of(service, dimse, item)
            if category(service, dimse, holder.Status) is not Category.PENDING:
                final, fields = holder.Status, holder.response_fields()
                break
            try:
                if not isinstance(identifier, Dataset):
                    raise UsageError(f"a pending match must be a Dataset, not {identifier!r}")
                payload = encode_dataset(identifier, context.transfer_syntax)
            except UsageError as exc:
                LOGGER.error("EVT_C_FIND: %s", exc)
                final = service.status_code("HANDLER_DATASET_ENCODE_FAILED", dimse)
                break
            rsp = req.response(holder.Status, has_dataset=True)
            assoc.send_response(context.context_id, rsp, payload)
            await breathe(assoc)
    except Fault as fault:
        final = fault.code
    finally:
        await feed.close()
    respond(assoc, context, req, final, **fields)


# -- C-GET and C-MOVE: the sub-operation loop ---------------------------------------------


@attrs.define
class Counts:
    """Sub-operation bookkeeping (PS3.4 C.4.2.3.1, C.4.3.3.1)."""

    remaining: int
    completed: int = 0
    failed: int = 0
    warning: int = 0
    failed_uids: list[str] = attrs.field(factory=list)
    comment: str | None = None  # why sub-operations failed, for the final response

    def fields(self, *, remaining: bool) -> dict[str, Any]:
        found: dict[str, Any] = {
            "number_of_completed_suboperations": self.completed,
            "number_of_failed_suboperations": self.failed,
            "number_of_warning_suboperations": self.warning,
        }
        if remaining:
            found["number_of_remaining_suboperations"] = self.remaining
        return found

    def record(self, outcome: Category | None, source: object) -> None:
        """One sub-operation done: Success, Warning, or anything else a failure."""
        self.remaining = max(0, self.remaining - 1)
        if outcome is Category.SUCCESS:
            self.completed += 1
        elif outcome is Category.WARNING:
            self.warning += 1
        else:
            self.failed += 1
            uid = instance_uid(source)  # read only for a failure
            if uid:
                self.failed_uids.append(uid)


def failed_list(uids: list[str]) -> Dataset | None:
    """The Failed SOP Instance UID List (0008,0058) identifier, if any failed."""
    if not uids:
        return None
    ds = Dataset()
    ds.FailedSOPInstanceUIDList = list(uids)
    return ds


def instance_uid(source: object) -> str | None:
    """The SOP Instance UID of a data set or a PS3.10 file (None if unreadable)."""
    if isinstance(source, Dataset):
        value = getattr(source, "SOPInstanceUID", None)
        return str(value) if value else None
    if isinstance(source, str | bytes) or hasattr(source, "__fspath__"):
        from dimse.part10 import read_file_meta

        try:
            return read_file_meta(source).sop_instance_uid
        except (OSError, UsageError):
            return None
    return None


def sub_operation_count(service: ServiceClass, dimse: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Fault(service.status_code("HANDLER_INVALID_SUB_OPERATION_COUNT", dimse))
    if not 0 <= value <= MAX_SUB_OPERATIONS:
        raise Fault(service.status_code("HANDLER_INVALID_SUB_OPERATION_COUNT", dimse))
    return value


StoreOne = Callable[["StoreSource"], Awaitable[Category | None]]


async def retrieve(
    service: ServiceClass,
    req: Request,
    context: AcceptedContext,
    feed: Feed,
    event_type: EventType,
    counts: Counts,
    store: StoreOne,
) -> None:
    """Run the sub-operations the handler yields, with a pending response after each
    (or every ``AE.pending_every``), and send the final response: the handler's own
    final status, Cancel, or the one the counts give (PS3.4 C.4.3.3.1: Success, Warning
    0xB000 with the failed UIDs, or 0xA702 when every sub-operation failed). Faults end
    it with their status."""
    assoc, dimse = service.assoc, req.dimse
    identifier: Dataset | None = None
    fields: dict[str, Any] = {}
    every = int(getattr(assoc.ae, "pending_every", 1))  # AE.pending_every
    try:
        while True:
            if req.message_id in assoc.cancelled:
                final = cancel_code(service, dimse)
                # Not initiated, known so far: the read-ahead items (the handler stops).
                unsent = [instance_uid(s) for s in pending_sources(await feed.peek(0))]
                identifier = failed_list(counts.failed_uids + [u for u in unsent if u])
                fields = counts.fields(remaining=True)
                respond(assoc, context, req, final, identifier=identifier, **fields)
                return
            item = await pull(service, feed, dimse, event_type)
            if item is END:
                final = _final_from(service, dimse, counts)
                if counts.comment and final != service.status_code("SUCCESS", dimse):
                    fields = {"error_comment": counts.comment[:64]}
                break
            holder, source = status_of(service, dimse, item)
            if category(service, dimse, holder.Status) is not Category.PENDING:
                final, fields = holder.Status, holder.response_fields()
                identifier = source if isinstance(source, Dataset) else None
                break
            if not _is_source(source):
                LOGGER.error("%s: %r is not a Dataset or a file path", event_type.name, source)
                counts.record(None, None)
            else:
                counts.record(await store(source), source)
            done = counts.completed + counts.failed + counts.warning
            if every and done % every == 0:
                respond(assoc, context, req, holder.Status, **counts.fields(remaining=True))
            await breathe(assoc)
    except Fault as fault:
        final = fault.code
    finally:
        await feed.close()
    if identifier is None and category(service, dimse, final) in _LISTS_FAILURES:
        identifier = failed_list(counts.failed_uids)
    respond(
        assoc,
        context,
        req,
        final,
        identifier=identifier,
        **fields,
        **counts.fields(remaining=False),
    )


_LISTS_FAILURES = (Category.WARNING, Category.FAILURE, Category.CANCEL)


def _is_source(value: object) -> bool:
    return isinstance(value, Dataset | str) or hasattr(value, "__fspath__")


def pending_sources(items: list[Any]) -> list[Any]:
    """The data sets or files among read-ahead ``(status, data set)`` items."""
    return [i[1] for i in items if isinstance(i, tuple) and len(i) == 2 and _is_source(i[1])]


def _final_from(service: ServiceClass, dimse: str, counts: Counts) -> int:
    if not counts.failed and not counts.warning:
        return service.status_code("SUCCESS", dimse)
    if not counts.completed and not counts.warning:
        return service.status_code("OUT_OF_RESOURCES_SUB_OPERATIONS", dimse)
    return service.status_code("SUB_OPERATIONS_COMPLETE_WITH_FAILURES_OR_WARNINGS", dimse)


# -- C-GET ----------------------------------------------------------------------------------


async def _c_get(
    service: ServiceClass, req: Request, context: AcceptedContext, received: Any
) -> None:
    assoc: Association = service.assoc
    dimse = req.dimse
    feed = await start_handler(service, EVT_C_GET, req, context, received)
    if isinstance(feed, int):
        respond(assoc, context, req, feed)
        return
    try:
        first = await pull(service, feed, dimse, EVT_C_GET)
        count = sub_operation_count(service, dimse, first)
    except Fault as fault:
        await feed.close()
        respond(assoc, context, req, fault.code)
        return
    priority = getattr(req, "priority", None)

    async def store(source: StoreSource) -> Category | None:
        # Same association, where the peer took the SCP role (PS3.4 C.4.3.3.1: no such
        # context, or one the data set cannot be converted for, is a failed one).
        try:
            rsp = await assoc.send_c_store(source, priority=priority or 0)
        except UsageError as exc:
            LOGGER.warning("C-GET sub-operation not initiated: %s", exc)
            return None
        return rsp.category

    await retrieve(service, req, context, feed, EVT_C_GET, Counts(count), store)


register_behaviour("C-FIND", _c_find)
register_behaviour("C-GET", _c_get)
