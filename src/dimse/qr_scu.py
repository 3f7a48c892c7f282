"""Query/Retrieve as SCU: C-FIND, C-GET and C-MOVE requests and their response streams.

A request opens a stream before it is sent: the association's receive callback queues
every response with its encoded data set as it arrives, so nothing depends on how fast
the caller iterates, and the final response ends the stream and frees the operation
slot even if nobody reads it any more. Iterating yields ``(response, identifier)``
with the identifier decoded in the context's transfer syntax (None when the response
carries none). Each wait is bounded by the DIMSE timeout counted from the last bytes
received, so the C-STORE sub-operations of a C-GET keep a quiet SCP alive. A C-CANCEL
is one more message; the SCP answers it with the final (Cancel) response.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dimse.errors import UsageError
from dimse.messages import CFindRQ, CGetRQ, CMoveRQ, Priority, Request, Response
from dimse.part10 import is_valid_uid
from dimse.uid import UID

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dimse.association import Association, StreamItem
    from dimse.negotiation import AcceptedContext

__all__ = ["QUERY_MODELS", "ResponseStream", "query_model_uid", "send_cancel", "start_request"]

LOGGER = logging.getLogger("dimse.qr")

# pynetdicom 1.x's query_model letters per DIMSE service (its Association.send_c_find,
# send_c_get and send_c_move docstrings), as PS3.6 keywords; a UID is accepted too.
QUERY_MODELS: Mapping[str, Mapping[str, str]] = {
    "C-FIND": {
        "P": "PatientRootQueryRetrieveInformationModelFind",
        "S": "StudyRootQueryRetrieveInformationModelFind",
        "O": "PatientStudyOnlyQueryRetrieveInformationModelFind",
        "W": "ModalityWorklistInformationModelFind",
        "G": "GeneralRelevantPatientInformationQuery",
        "B": "BreastImagingRelevantPatientInformationQuery",
        "C": "CardiacRelevantPatientInformationQuery",
        "PC": "ProductCharacteristicsQuery",
        "SA": "SubstanceApprovalQuery",
        "H": "HangingProtocolInformationModelFind",
        "D": "DefinedProcedureProtocolInformationModelFind",
        "CP": "ColorPaletteQueryRetrieveInformationModelFind",
        "IG": "GenericImplantTemplateInformationModelFind",
        "IA": "ImplantAssemblyTemplateInformationModelFind",
        "IT": "ImplantTemplateGroupInformationModelFind",
        "PA": "ProtocolApprovalInformationModelFind",
    },
    "C-GET": {
        "P": "PatientRootQueryRetrieveInformationModelGet",
        "S": "StudyRootQueryRetrieveInformationModelGet",
        "O": "PatientStudyOnlyQueryRetrieveInformationModelGet",
        "C": "CompositeInstanceRootRetrieveGet",
        "CB": "CompositeInstanceRetrieveWithoutBulkDataGet",
        "H": "HangingProtocolInformationModelGet",
        "D": "DefinedProcedureProtocolInformationModelGet",
        "CP": "ColorPaletteQueryRetrieveInformationModelGet",
        "IG": "GenericImplantTemplateInformationModelGet",
        "IA": "ImplantAssemblyTemplateInformationModelGet",
        "IT": "ImplantTemplateGroupInformationModelGet",
        "PA": "ProtocolApprovalInformationModelGet",
    },
    "C-MOVE": {
        "P": "PatientRootQueryRetrieveInformationModelMove",
        "S": "StudyRootQueryRetrieveInformationModelMove",
        "O": "PatientStudyOnlyQueryRetrieveInformationModelMove",
        "C": "CompositeInstanceRootRetrieveMove",
        "H": "HangingProtocolInformationModelMove",
        "D": "DefinedProcedureProtocolInformationModelMove",
        "CP": "ColorPaletteQueryRetrieveInformationModelMove",
        "IG": "GenericImplantTemplateInformationModelMove",
        "IA": "ImplantAssemblyTemplateInformationModelMove",
        "IT": "ImplantTemplateGroupInformationModelMove",
        "PA": "ProtocolApprovalInformationModelMove",
    },
}

_REQUESTS: dict[str, type[CFindRQ] | type[CGetRQ] | type[CMoveRQ]] = {
    "C-FIND": CFindRQ,
    "C-GET": CGetRQ,
    "C-MOVE": CMoveRQ,
}
_BY_KEYWORD: dict[str, str] = {}


def query_model_uid(dimse: str, query_model: str) -> UID:
    """The SOP Class UID of ``query_model``: a pynetdicom letter ("S") or a UID."""
    keyword = QUERY_MODELS[dimse].get(query_model)
    if keyword is not None:
        if not _BY_KEYWORD:
            from pydicom.uid import UID_dictionary  # type: ignore[attr-defined]

            _BY_KEYWORD.update((info[4], uid) for uid, info in UID_dictionary.items())
        return UID(_BY_KEYWORD[keyword])
    if not is_valid_uid(str(query_model)):
        letters = ", ".join(QUERY_MODELS[dimse])
        raise UsageError(f"{dimse} query model {query_model!r} is neither a UID nor {letters}")
    return UID(str(query_model))


def start_request(
    assoc: Association,
    dimse: str,
    identifier: Dataset,
    query_model: str,
    msg_id: int | None,
    priority: Priority | int,
    **fields: Any,
) -> ResponseStream:
    """Build the request now (UsageError for a model not accepted, an identifier that
    cannot be encoded); it is sent by :meth:`ResponseStream.start` or the first step."""
    from pydicom.dataset import Dataset  # imported by the first Q/R request, not by dimse

    from dimse.datasets import encode_dataset

    if not isinstance(identifier, Dataset):
        raise UsageError(f"the {dimse} identifier must be a pydicom Dataset")
    sop_class = query_model_uid(dimse, query_model)
    context = assoc.context_for(sop_class)
    payload = encode_dataset(identifier, context.transfer_syntax)
    message_id = msg_id if msg_id is not None else assoc._router.next_message_id()
    if "move_aet" in fields:
        fields = {"move_destination": str(fields.pop("move_aet")).strip()}
    request = _REQUESTS[dimse](
        message_id=message_id,
        affected_sop_class_uid=str(sop_class),
        priority=Priority(priority),
        **fields,
    )
    return ResponseStream(assoc, context, request, payload)


class ResponseStream:
    """The responses of one C-FIND/C-GET/C-MOVE: ``async for response, identifier``.

    The request goes out on :meth:`start` (the blocking facade calls it at once, as
    pynetdicom sends at call time) or on the first iteration. ``message_id`` is what
    :meth:`~dimse.association.Association.send_c_cancel` takes.
    """

    def __init__(
        self, assoc: Association, context: AcceptedContext, request: Request, payload: bytes
    ) -> None:
        self.assoc = assoc
        self.context = context
        self.request = request
        self._payload: bytes | None = payload
        self._queue: asyncio.Queue[StreamItem | BaseException] | None = None
        self._done = False

    @property
    def message_id(self) -> int:
        return self.request.message_id

    async def start(self) -> ResponseStream:
        """Send the request (once); its responses are queued from then on."""
        if self._queue is not None or self._done:
            return self
        assoc, request = self.assoc, self.request
        await assoc._operations.acquire()  # the negotiated asynchronous operations window
        try:
            assoc._router.register(request, self.context.context_id)
            queue: asyncio.Queue[StreamItem | BaseException] = asyncio.Queue()
            assoc._streams[request.message_id] = queue
            try:
                async with assoc._sending:
                    assoc._send(self.context, request, self._payload)
            except BaseException:
                assoc._streams.pop(request.message_id, None)
                assoc._router.forget(request.message_id)
                raise
        except BaseException:
            self._done = True
            assoc._operations.release()
            raise
        self._queue, self._payload = queue, None
        return self

    def __aiter__(self) -> ResponseStream:
        return self

    async def __anext__(self) -> tuple[Response, Dataset | None]:
        if self._done and (self._queue is None or self._queue.empty()):
            raise StopAsyncIteration
        await self.start()
        assert self._queue is not None
        item = self._queue.get_nowait() if not self._queue.empty() else await self._wait()
        if isinstance(item, BaseException):
            self._done = True
            raise item
        response, data = item
        if not response.is_pending:
            self._done = True
        return response, self._decode(response, data)

    async def _wait(self) -> StreamItem | BaseException:
        """The next item within the DIMSE timeout, counted from the last bytes received;
        time our own handler spends on a sub-operation (EVT_C_STORE) is not the peer's."""
        from dimse.association import DimseTimeout

        assert self._queue is not None
        assoc, timeout = self.assoc, self.assoc.dimse_timeout
        if timeout is None:
            return await self._queue.get()
        loop = asyncio.get_running_loop()
        since = loop.time()
        while True:
            remaining = max(since, assoc._last_activity) + timeout - loop.time()
            if remaining <= 0:
                if not assoc._handling:
                    break
                since = loop.time()
                continue
            try:
                return await asyncio.wait_for(self._queue.get(), remaining)
            except TimeoutError:
                continue
        name = self.request.name.replace("-RQ", "-RSP")
        LOGGER.error("DIMSE timeout waiting for a %s; aborting", name)
        self._done = True
        assoc.abort()
        raise DimseTimeout(f"no {name} within {timeout} s")

    def _decode(self, response: Response, data: bytes | None) -> Dataset | None:
        if data is None:
            return None
        from dimse.datasets import decode_dataset

        try:
            return decode_dataset(data, self.context.transfer_syntax)
        except ValueError as exc:
            LOGGER.error("%s: the identifier does not decode: %s", response.name, exc)
            return None


async def send_cancel(assoc: Association, msg_id: int, context_id: int | None = None) -> bool:
    """Send a C-CANCEL-RQ for an outstanding C-FIND/GET/MOVE; False if it is over."""
    router = assoc._router
    if msg_id not in router:
        return False
    cancel = router.cancel(msg_id)  # UsageError if it is a C-ECHO or C-STORE
    chosen = context_id if context_id is not None else router.context_of(msg_id)
    context = assoc.negotiated.context_by_id(chosen) if chosen is not None else None
    if context is None:
        raise UsageError(f"no accepted presentation context {chosen} to send the C-CANCEL on")
    async with assoc._sending:  # never between the PDUs of another message
        if msg_id not in router:
            return False
        assoc._send(context, cancel)
    return True
