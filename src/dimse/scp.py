"""SCP behaviour per DIMSE service, shared by every generated service class.

A request arrives with its presentation context and dataset (buffered bytes, or the
path a sink wrote). The bound handler is called with an :class:`~dimse.evt.Event`;
its answer becomes the response status through the service class's
``validate_status``. Faults become the implementation statuses the spec defines for
that service class and DIMSE service (names in ``spec/names.toml``), looked up in the
generated tables: a dataset that cannot be decoded, a handler that raised, a sink
that failed (out of resources), a SOP class the context does not carry.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dimse import service_classes, sop_classes
from dimse._service_base import ServiceClass
from dimse.errors import DatasetDecodeError
from dimse.evt import EVT_C_ECHO, EVT_C_STORE, Event, EventType
from dimse.messages import CEchoRQ, CEchoRSP, CStoreRQ, CStoreRSP, Request
from dimse.pdv import MessageComplete

if TYPE_CHECKING:
    from dimse.association import Association
    from dimse.negotiation import AcceptedContext

__all__ = [
    "StatusHolder",
    "handle_request",
    "run_scp",
    "service_class_for",
    "unrecognized_operation",
]

LOGGER = logging.getLogger("dimse.scp")

_DEFAULT_SERVICE: dict[str, type[ServiceClass]] = {
    "C-ECHO": service_classes.VerificationServiceClass,
    "C-STORE": service_classes.StorageServiceClass,
}


class StatusHolder:
    """Receives ``validate_status``'s answer: Status plus optional error elements."""

    def __init__(self) -> None:
        self.Status = 0
        self.ErrorComment: str | None = None
        self.OffendingElement: Any = None
        self.ErrorID: int | None = None

    def response_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.ErrorComment:
            fields["error_comment"] = str(self.ErrorComment)[:64]
        if self.ErrorID is not None:
            fields["error_id"] = int(self.ErrorID)
        if self.OffendingElement is not None:
            values = self.OffendingElement
            values = values if isinstance(values, list | tuple) else [values]
            fields["offending_element"] = tuple(int(v) for v in values)
        return fields


def service_class_for(request: Request, context: AcceptedContext) -> type[ServiceClass] | None:
    """The generated service class of the context's abstract syntax for this DIMSE."""
    for cls in service_classes.SERVICE_CLASSES.values():
        if cls.supports(context.abstract_syntax) and request.dimse in cls.statuses:
            return cls
    return _DEFAULT_SERVICE.get(request.dimse)


async def handle_request(assoc: Association, complete: MessageComplete) -> None:
    """Answer one request from the peer (the association's worker calls this)."""
    request = complete.message
    context = assoc.negotiated.context_by_id(complete.context_id)
    if context is None or not isinstance(request, Request):
        return
    cls = service_class_for(request, context)
    if cls is None:
        LOGGER.warning("%s on context %d: no SCP for it", request.name, context.context_id)
        rsp = request.response(unrecognized_operation(None, request.dimse))
        assoc.send_response(context.context_id, rsp)
        return
    await cls(assoc).SCP(request, context, complete)


# The generated enums spell this member both ways (the sources do); spec/names.toml
# should settle one spelling - until then both are looked for.
_UNRECOGNIZED = ("UNRECOGNIZED_OPERATION", "UNRECOGNISED_OPERATION")


def unrecognized_operation(cls: type[ServiceClass] | None, dimse: str) -> int:
    """PS3.7 C.5.6 Unrecognized Operation, from ``cls``'s table for ``dimse`` if it lists
    it, else from Verification's: a general status, the same code in every table."""
    tables = [cls.statuses[dimse]] if cls is not None and dimse in cls.statuses else []
    tables.extend(service_classes.VerificationServiceClass.statuses.values())
    for table in tables:
        for member in _UNRECOGNIZED:
            if member in table.enum.__members__:
                return int(table.enum[member])
    raise LookupError("no generated status table lists Unrecognized Operation")


async def run_scp(service: ServiceClass, req: Any, context: AcceptedContext, received: Any) -> None:
    if req.dimse not in _BEHAVIOUR:
        # C-FIND, C-GET and C-MOVE register themselves on import (they build on this
        # module, so they cannot be imported while it loads).
        from dimse import scp_move, scp_qr  # noqa: F401
    behaviour = _BEHAVIOUR.get(req.dimse)
    assoc: Association = service.assoc
    if behaviour is None:
        LOGGER.warning("%s on context %d: no behaviour installed", req.name, context.context_id)
        code = unrecognized_operation(type(service), req.dimse)
        assoc.send_response(context.context_id, req.response(code))
        return
    sop_class = req.affected_sop_class_uid.rstrip("\x00")
    if sop_class != context.abstract_syntax.rstrip("\x00") or not model_allows(
        type(service), req.dimse, context.abstract_syntax
    ):
        # PS3.7 9.1: the SOP class must be the one the context was negotiated for, and
        # (PS3.4 C.4) an information model offers only its own DIMSE service.
        code = service.status_code("SOP_CLASS_NOT_SUPPORTED", req.dimse)
        assoc.send_response(context.context_id, req.response(code))
        return
    await behaviour(service, req, context, received)


def model_allows(cls: type[ServiceClass], dimse: str, abstract_syntax: str) -> bool:
    """True if the class's DIMSE usage lists ``dimse`` for the context's SOP class (the
    "Patient Root ... - Move" model takes C-MOVE, not C-FIND); classes whose usage names
    no model (Storage, Verification) take their services on any of their classes."""
    models = {u.model.casefold() for u in cls.dimse_usage if u.service == dimse and u.model}
    if not models:
        return True
    try:
        name = sop_classes.info(abstract_syntax.rstrip("\x00")).name
    except KeyError:
        return False
    return name.casefold() in models


async def call_handler(
    service: ServiceClass,
    event_type: EventType,
    event: Event,
    default: int,
    dimse: str,
) -> StatusHolder:
    """Call the bound handler (sync or async) and turn its answer into a status."""
    holder = StatusHolder()
    bound = service.assoc.handlers.get(event_type)
    if bound is None:
        holder.Status = default
        return holder
    handler, args = bound
    try:
        answer = handler(event, *args)
        if inspect.isawaitable(answer):
            answer = await answer
    except DatasetDecodeError as exc:
        LOGGER.error("%s: could not decode the dataset: %s", event_type.name, exc)
        holder.Status = service.status_code("DATASET_DECODE_FAILED", dimse)
        return holder
    except Exception:
        LOGGER.exception("handler bound to %s raised", event_type.name)
        holder.Status = service.status_code("HANDLER_EXCEPTION", dimse)
        return holder
    service.validate_status(answer, holder, dimse)
    return holder


async def _c_echo(
    service: ServiceClass, req: CEchoRQ, context: AcceptedContext, received: Any
) -> None:
    event = Event(service.assoc, EVT_C_ECHO, request=req, context=context)
    success = service.status_code("SUCCESS", "C-ECHO")
    holder = await call_handler(service, EVT_C_ECHO, event, success, "C-ECHO")
    rsp = CEchoRSP(
        message_id_being_responded_to=req.message_id,
        affected_sop_class_uid=req.affected_sop_class_uid,
        status=holder.Status,
        **holder.response_fields(),
    )
    service.assoc.send_response(context.context_id, rsp)


async def _c_store(
    service: ServiceClass, req: CStoreRQ, context: AcceptedContext, received: Any
) -> None:
    assoc = service.assoc
    error = received.error if isinstance(received, MessageComplete) else None
    path = received.sink_result if isinstance(received, MessageComplete) else None
    if isinstance(path, Future):  # written by a worker thread (dimse.write_behind)
        try:
            path = path.result() if path.done() else await asyncio.wrap_future(path)
        except Exception as exc:
            error = exc
    if error is not None:
        LOGGER.error(
            "C-STORE %s: could not keep the dataset: %s",
            req.affected_sop_instance_uid.rstrip("\x00"),
            error,
        )
        holder = StatusHolder()
        holder.Status = service.status_code("OUT_OF_RESOURCES", "C-STORE")
    elif assoc.handlers.get(EVT_C_STORE) is None and getattr(assoc.ae, "store_sink", None) is None:
        # Nobody keeps it: answering Success would lose the instance silently (the peer
        # deletes its copy). Refused, as for an unbound C-FIND/C-GET/C-MOVE.
        LOGGER.warning(
            "C-STORE %s: no handler bound to EVT_C_STORE and no store_sink; refused",
            req.affected_sop_instance_uid.rstrip("\x00"),
        )
        holder = StatusHolder()
        holder.Status = service.status_code("CANNOT_UNDERSTAND", "C-STORE")
    else:
        event = Event(
            assoc,
            EVT_C_STORE,
            request=req,
            context=context,
            encoded_dataset=received.dataset if isinstance(received, MessageComplete) else None,
            path=path if isinstance(path, Path) else None,
        )
        success = service.status_code("SUCCESS", "C-STORE")
        holder = await call_handler(service, EVT_C_STORE, event, success, "C-STORE")
    rsp = CStoreRSP(
        message_id_being_responded_to=req.message_id,
        affected_sop_class_uid=req.affected_sop_class_uid,
        affected_sop_instance_uid=req.affected_sop_instance_uid,
        status=holder.Status,
        **holder.response_fields(),
    )
    assoc.send_response(context.context_id, rsp)


_Behaviour = Callable[[ServiceClass, Any, "AcceptedContext", Any], Coroutine[Any, Any, None]]
_BEHAVIOUR: dict[str, _Behaviour] = {"C-ECHO": _c_echo, "C-STORE": _c_store}


def register_behaviour(dimse: str, behaviour: _Behaviour) -> None:
    """Install the SCP behaviour of a DIMSE service (dimse.scp_qr and scp_move do)."""
    _BEHAVIOUR[dimse] = behaviour
