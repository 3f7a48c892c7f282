"""dimse C-FIND SCU <-> dimse C-FIND SCP: matches, models, C-CANCEL, every status the
runtime picks itself (checked against the generated enums, never a number written here).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from _rt_net import run, serving
from _rt_qr import (
    FIND,
    GARBAGE,
    MOVE,
    Archive,
    collect,
    protocol_approval,
    qr_scp_ae,
    qr_scu_ae,
    query,
    raw_request,
    study_instances,
)
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dimse import evt
from dimse.association import DimseTimeout
from dimse.datasets import encode_dataset
from dimse.errors import AssociationAborted, UsageError
from dimse.qr_scu import QUERY_MODELS, query_model_uid
from dimse.statuses import Category, ProtocolApprovalFindStatus, QueryRetrieveFindStatus

Status = QueryRetrieveFindStatus


async def _find(
    handlers: list[evt.HandlerBinding], identifier: Dataset, model: str = "S", **scu: Any
) -> list[tuple[Any, Dataset | None]]:
    async with serving(qr_scp_ae(), evt_handlers=handlers) as server:
        ae = qr_scu_ae()
        for name, value in scu.items():
            setattr(ae, name, value)
        assoc = await ae.associate_async("127.0.0.1", server.port, "QR-SCP")
        found = await collect(assoc.send_c_find(identifier, model))
        await assoc.release()
        return found


@pytest.mark.parametrize("model", ["P", "S", "O"])
def test_find_matches_in_every_query_retrieve_model(model: str) -> None:
    archive = Archive(study_instances(3, PatientID="P-7") + study_instances(2, PatientID="P-8"))
    wanted = query("STUDY", PatientID="P-7", StudyInstanceUID="", PatientName="")
    found = run(_find(archive.handlers(), wanted, model))
    *pending, (final, final_identifier) = found
    assert [r.status for r, _ in pending] == [Status.MATCHES_ARE_CONTINUING] * 3
    assert all(r.category is Category.PENDING and r.is_pending for r, _ in pending)
    assert {str(i.StudyInstanceUID) for _, i in pending if i is not None} == {
        str(archive.instances[0].StudyInstanceUID)
    }
    assert all(str(i.PatientName) == "DOE^JANE" for _, i in pending if i is not None)
    assert final.status == Status.SUCCESS and final.Status == 0 and final_identifier is None
    assert final.status_entry("query-retrieve").description == "Success; matching is complete"
    assert archive.find_requests[0].PatientID == "P-7"


def test_find_by_uid_and_in_the_context_transfer_syntax() -> None:
    """A UID works as query model; the identifier is encoded in the context's syntax."""
    archive = Archive(study_instances(2))
    seen: list[str] = []

    def on_find(event: evt.Event) -> Iterator[tuple[int, Dataset]]:
        assert event.context is not None
        seen.append(event.context.transfer_syntax)
        yield from archive.on_find(event)

    async def main() -> list[Any]:
        scp = qr_scp_ae()
        scp.add_supported_context(FIND["P"], ImplicitVRLittleEndian)  # implicit only
        async with serving(scp, evt_handlers=[(evt.EVT_C_FIND, on_find)]) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            found = await collect(assoc.send_c_find(query("PATIENT", PatientID=""), FIND["P"]))
            await assoc.release()
            return found

    found = run(main())
    assert seen == [ImplicitVRLittleEndian]
    assert [str(i.PatientID) for _, i in found[:-1] if i is not None] == ["P-1", "P-1"]


def test_async_generator_handler_and_priority() -> None:
    priorities: list[int] = []

    async def on_find(event: evt.Event) -> AsyncIterator[tuple[int, Dataset | None]]:
        priorities.append(int(event.request.priority))  # type: ignore[union-attr]
        for n in range(3):
            await asyncio.sleep(0)
            match = Dataset()
            match.PatientID = f"A{n}"
            yield Status.MATCHES_CONTINUING_OPTIONAL_KEYS_NOT_SUPPORTED, match
        yield Status.SUCCESS, None

    async def main() -> list[Any]:
        async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_FIND, on_find)]) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            found = await collect(assoc.send_c_find(query("PATIENT"), "P", priority=1))
            await assoc.release()
            return found

    found = run(main())
    assert [r.status for r, _ in found] == [0xFF01] * 3 + [Status.SUCCESS]
    assert [i.PatientID for _, i in found[:3] if i is not None] == ["A0", "A1", "A2"]
    assert priorities == [1]


def test_cancel_during_a_long_find() -> None:
    """C-CANCEL after two matches of 100,000: the SCP stops (the generator is closed)
    and answers Matching terminated; the SCU iterates to that final response."""
    closed: list[int] = []

    def on_find(event: evt.Event) -> Iterator[tuple[int, Dataset]]:
        n = 0
        try:
            for n in range(100_000):
                match = Dataset()
                match.PatientID = f"P{n}"
                yield Status.MATCHES_ARE_CONTINUING, match
        finally:
            closed.append(n)

    async def main() -> list[Any]:
        async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_FIND, on_find)]) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            responses = []
            stream = assoc.send_c_find(query("PATIENT"), "P", msg_id=42)
            async for rsp, identifier in stream:
                responses.append((rsp, identifier))
                if len(responses) == 2:
                    assert await assoc.send_c_cancel(42)
            assert not await assoc.send_c_cancel(42)  # over: nothing left to cancel
            assert (await assoc.send_c_echo()).status == 0  # the association is fine
            await assoc.release()
            return responses

    responses = run(main())
    final = responses[-1][0]
    assert final.status == Status.MATCHING_TERMINATED
    assert final.category is Category.CANCEL and final.message_id_being_responded_to == 42
    assert 2 <= len(responses) - 1 < 100_000
    assert len(closed) == 1 and closed[0] < 99_999


def test_handler_sees_is_cancelled() -> None:
    """A handler that works between yields polls ``event.is_cancelled`` and answers
    the Cancel status itself."""
    polled: list[bool] = []

    async def on_find(event: evt.Event) -> AsyncIterator[tuple[int, Dataset | None]]:
        match = Dataset()
        match.PatientID = "X"
        yield Status.MATCHES_ARE_CONTINUING, match
        for _ in range(500):
            polled.append(event.is_cancelled)
            if event.is_cancelled:
                yield Status.MATCHING_TERMINATED, None
                return
            await asyncio.sleep(0.01)
        yield Status.SUCCESS, None

    async def main() -> list[Any]:
        async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_FIND, on_find)]) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            stream = assoc.send_c_find(query("PATIENT"), "P")
            responses = []
            async for item in stream:
                responses.append(item)
                if item[0].is_pending:
                    await assoc.send_c_cancel(stream.message_id)
            await assoc.release()
            return responses

    responses = run(main())
    assert [r.status for r, _ in responses] == [0xFF00, Status.MATCHING_TERMINATED]
    assert polled[-1] is True


def _status_without_status() -> Dataset:
    ds = Dataset()
    ds.ErrorComment = "no status here"
    return ds


def _failure_with_comment() -> Dataset:
    ds = Dataset()
    ds.Status = int(Status.OUT_OF_RESOURCES)
    ds.ErrorComment = "too many matches"
    return ds


def _unencodable() -> Dataset:
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.add_new(0x00280010, "US", "not a number")  # Rows
    return ds


def _raises() -> Any:
    raise RuntimeError("handler bug")


@pytest.mark.parametrize(
    ("yields", "expected", "comment"),
    [
        ([], Status.SUCCESS, None),
        ([(_status_without_status, None)], Status.HANDLER_STATUS_DATASET_WITHOUT_STATUS, None),
        ([("pending?", None)], Status.HANDLER_INVALID_STATUS_OBJECT, None),
        (["not a pair"], Status.HANDLER_INVALID_STATUS_OBJECT, None),
        ([(0xFF00, "not a dataset")], Status.HANDLER_DATASET_ENCODE_FAILED, None),
        ([(0xFF00, _unencodable)], Status.HANDLER_DATASET_ENCODE_FAILED, None),
        ([_raises], Status.HANDLER_EXCEPTION, None),
        ([(_failure_with_comment, None)], Status.OUT_OF_RESOURCES, "too many matches"),
        ([(Status.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, None)], 0xA900, None),
    ],
    ids=[
        "returns", "no-status", "bad-status", "not-a-pair", "not-a-dataset", "unencodable",
        "raises", "failure-dataset", "failure-int",
    ],
)  # fmt: skip
def test_handler_faults_become_find_statuses(
    yields: list[Any], expected: int, comment: str | None
) -> None:
    def on_find(event: evt.Event) -> Iterator[Any]:
        for item in yields:
            if callable(item):
                item = item()
            elif isinstance(item, tuple) and callable(item[0]):
                item = (item[0](), item[1])
            elif isinstance(item, tuple) and callable(item[1]):
                item = (item[0], item[1]())
            yield item

    found = run(_find([(evt.EVT_C_FIND, on_find)], query("PATIENT")))
    assert len(found) == 1
    final, identifier = found[0]
    assert final.status == expected and identifier is None
    assert final.error_comment == comment


def test_undecodable_identifier_is_0xC310_and_raising_at_call_0xC311() -> None:
    def on_find(event: evt.Event) -> Iterator[Any]:
        _ = event.identifier.PatientID  # cannot be decoded
        yield 0xFF00, Dataset()

    def raises_at_call(event: evt.Event) -> Any:
        raise RuntimeError("no")

    async def main() -> tuple[int, int]:
        scp = qr_scp_ae()
        async with serving(scp, evt_handlers=[(evt.EVT_C_FIND, on_find)]) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            stream = raw_request(assoc, "C-FIND", FIND["S"], GARBAGE)
            (final, _), *_ = await collect(stream)
            server.handlers.bind(evt.EVT_C_FIND, raises_at_call)
            (second, _), *_ = await collect(assoc.send_c_find(query(), "S"))
            await assoc.release()
            return final.status, second.status

    assert run(main()) == (Status.DATASET_DECODE_FAILED, Status.HANDLER_EXCEPTION)


def test_wrong_model_and_no_handler() -> None:
    """C-FIND on a context of a Move model is refused like a C-STORE on the wrong
    context (0x0122); an SCP without an EVT_C_FIND handler cannot process it."""

    async def main() -> tuple[int, int, str | None]:
        async with serving(qr_scp_ae()) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            payload = encode_dataset(query(), ExplicitVRLittleEndian)
            (wrong, _), *_ = await collect(raw_request(assoc, "C-FIND", MOVE["S"], payload))
            (unbound, _), *_ = await collect(assoc.send_c_find(query(), "S"))
            await assoc.release()
            return wrong.status, unbound.status, unbound.error_comment

    wrong, unbound, _ = run(main())
    assert wrong == Status.SOP_CLASS_NOT_SUPPORTED
    assert unbound == Status.UNABLE_TO_PROCESS


def test_dimse_timeout_between_responses() -> None:
    async def on_find(event: evt.Event) -> AsyncIterator[tuple[int, Dataset]]:
        yield 0xFF00, Dataset()
        await asyncio.sleep(5)  # the SCU gives up first
        yield 0xFF00, Dataset()

    async def main() -> None:
        async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_FIND, on_find)]) as server:
            scu = qr_scu_ae()
            scu.dimse_timeout = 0.3
            assoc = await scu.associate_async("127.0.0.1", server.port, "QR-SCP")
            stream = assoc.send_c_find(query(), "S")
            rsp, _ = await stream.__anext__()
            assert rsp.is_pending
            with pytest.raises(DimseTimeout, match="C-FIND-RSP"):
                await stream.__anext__()
            assert assoc.is_aborted
            await assoc.wait_closed()

    run(main())


def test_protocol_approval_find() -> None:
    """Protocol Approval Q/R (PS3.4 Annex HH): keys of the Protocol Approval IOD, and its
    own status table (the Cancel row is named differently there)."""
    approvals = [protocol_approval(), protocol_approval()]
    cancelled: list[Any] = []

    def on_find(event: evt.Event) -> Iterator[tuple[int, Dataset]]:
        wanted = event.identifier
        for ds in approvals:
            if wanted.SOPInstanceUID and wanted.SOPInstanceUID != ds.SOPInstanceUID:
                continue
            match = Dataset()
            match.SOPClassUID = ds.SOPClassUID
            match.SOPInstanceUID = ds.SOPInstanceUID
            match.ApprovalSubjectSequence = ds.ApprovalSubjectSequence
            yield ProtocolApprovalFindStatus.MATCHES_ARE_CONTINUING, match

    def endless(event: evt.Event) -> Iterator[tuple[int, Dataset]]:
        while True:
            yield 0xFF00, approvals[0]

    async def main() -> None:
        async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_FIND, on_find)]) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            keys = Dataset()
            keys.SOPInstanceUID = approvals[1].SOPInstanceUID
            keys.ApprovalSubjectSequence = [Dataset()]
            found = await collect(assoc.send_c_find(keys, "PA"))
            assert [r.status for r, _ in found] == [0xFF00, 0]
            match = found[0][1]
            assert match is not None
            subject = match.ApprovalSubjectSequence[0]
            expected = approvals[1].ApprovalSubjectSequence[0].ReferencedSOPInstanceUID
            assert subject.ReferencedSOPInstanceUID == expected
            server.handlers.bind(evt.EVT_C_FIND, endless)
            stream = assoc.send_c_find(Dataset(), "PA")
            async for rsp, _ in stream:
                if rsp.is_pending and not cancelled:
                    cancelled.append(await assoc.send_c_cancel(stream.message_id))
                final = rsp
            assert final.status == ProtocolApprovalFindStatus.PROCESSING_HAS_BEEN_TERMINATED
            assert final.status_entry("protocol-approval-query-retrieve").category == "Cancel"
            await assoc.release()

    run(main())
    assert cancelled == [True]


def test_query_models_and_usage_errors() -> None:
    assert query_model_uid("C-FIND", "S") == FIND["S"]
    assert query_model_uid("C-MOVE", "C") == MOVE["C"]
    assert query_model_uid("C-FIND", "W") == "1.2.840.10008.5.1.4.31"
    assert query_model_uid("C-GET", "CB") == "1.2.840.10008.5.1.4.1.2.5.3"
    assert query_model_uid("C-FIND", "1.2.3") == "1.2.3"
    for dimse, letters in QUERY_MODELS.items():
        for letter in letters:
            assert query_model_uid(dimse, letter).is_valid
    with pytest.raises(UsageError, match="query model"):
        query_model_uid("C-FIND", "Q")

    async def main() -> None:
        async with serving(qr_scp_ae()) as server:
            scu = qr_scu_ae()
            assoc = await scu.associate_async("127.0.0.1", server.port, "QR-SCP")
            with pytest.raises(UsageError, match="no accepted presentation context"):
                assoc.send_c_find(query(), "W")  # worklist was never proposed
            with pytest.raises(UsageError, match="Dataset"):
                assoc.send_c_find("PATIENT", "P")  # type: ignore[arg-type]
            assert not await assoc.send_c_cancel(999)  # nothing outstanding: nothing sent
            await assoc.release()

    run(main())


def test_abandoned_stream_frees_the_operation_slot() -> None:
    """Leaving the loop early does not wedge the association: the final response still
    closes the operation, so the next request (window of 1) goes out."""
    archive = Archive(study_instances(5))

    async def main() -> None:
        async with serving(qr_scp_ae(), evt_handlers=archive.handlers()) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            async for _rsp, _ in assoc.send_c_find(query(StudyInstanceUID=""), "S"):
                break
            found = await asyncio.wait_for(collect(assoc.send_c_find(query(), "S")), 10)
            assert found[-1][0].status == 0 and len(found) == 6
            await assoc.release()

    run(main())


def test_blocking_find_and_cancel() -> None:
    """pynetdicom-shaped: a generator; the request is out before iterating, so
    send_c_cancel(msg_id) may come at any point."""
    archive = Archive(study_instances(50))

    async def slowly(event: evt.Event) -> AsyncIterator[tuple[int, Dataset | None]]:
        for item in archive.on_find(event):
            await asyncio.sleep(0.01)
            yield item

    scp = qr_scp_ae()
    server = scp.start_server(("127.0.0.1", 0), block=False, evt_handlers=archive.handlers())
    assert server is not None
    try:
        scu = qr_scu_ae()
        with scu.associate("127.0.0.1", server.port, "QR-SCP") as assoc:
            statuses = [r.Status for r, _ in assoc.send_c_find(query(), "S")]
            assert statuses == [0xFF00] * 50 + [0]
            server.server.handlers.bind(evt.EVT_C_FIND, slowly)
            responses = assoc.send_c_find(query(), "S", msg_id=7)
            assert assoc.send_c_cancel(7)
            statuses = [r.Status for r, _ in responses]
            assert statuses[-1] == Status.MATCHING_TERMINATED and len(statuses) < 51
    finally:
        server.shutdown()


def test_abort_mid_stream_ends_it_and_the_request_waiting_for_the_slot() -> None:
    """The SCP aborts after one match: the stream raises, and a second C-FIND queued
    behind it (asynchronous operations window of 1) fails too instead of hanging."""

    def on_find(event: evt.Event) -> Iterator[tuple[int, Dataset]]:
        match = Dataset()
        match.PatientID = "A"
        yield 0xFF00, match
        event.assoc.abort()
        yield 0xFF00, match

    async def main() -> list[Any]:
        async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_FIND, on_find)]) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            first = assoc.send_c_find(query(), "S")
            second = assoc.send_c_find(query(), "S")
            return await asyncio.gather(collect(first), collect(second), return_exceptions=True)

    first, second = run(main())
    assert isinstance(first, AssociationAborted) and isinstance(second, AssociationAborted)
