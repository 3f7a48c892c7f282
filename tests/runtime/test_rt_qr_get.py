"""dimse C-GET SCU <-> dimse C-GET SCP: C-STORE sub-operations on the same association,
counts, the Failed SOP Instance UID List, C-CANCEL and the implementation statuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _rt_net import ACCEPT_STORES, after_meta, make_dataset, run, serving
from _rt_qr import (
    FIND,
    GARBAGE,
    GET,
    Archive,
    Received,
    collect,
    failed_uids,
    protocol_approval,
    qr_scp_ae,
    qr_scu_ae,
    query,
    raw_request,
    study_instances,
    write_instances,
)
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage

from dimse import evt
from dimse.ae import StoreToDirectory
from dimse.datasets import encode_dataset
from dimse.statuses import (
    Category,
    ProtocolApprovalGetStatus,
    QueryRetrieveGetStatus,
    StorageStatus,
)

Status = QueryRetrieveGetStatus


def counts(rsp: Any) -> tuple[int | None, int | None, int | None, int | None]:
    return (
        rsp.number_of_remaining_suboperations,
        rsp.number_of_completed_suboperations,
        rsp.number_of_failed_suboperations,
        rsp.number_of_warning_suboperations,
    )


async def _get(
    handlers: list[evt.HandlerBinding],
    identifier: Dataset,
    store: Any = None,
    model: str = "S",
    scu: Any = None,
) -> list[tuple[Any, Dataset | None]]:
    async with serving(qr_scp_ae(), evt_handlers=handlers) as server:
        ae = scu or qr_scu_ae()
        bound = [(evt.EVT_C_STORE, store)] if store is not None else [ACCEPT_STORES]
        assoc = await ae.associate_async("127.0.0.1", server.port, "QR-SCP", evt_handlers=bound)
        found = await collect(assoc.send_c_get(identifier, model))
        assert (await assoc.send_c_echo()).status == 0  # the association is still fine
        await assoc.release()
        return found


def test_get_counts_and_failed_uid_list() -> None:
    """Three CT instances arrive; the MR one cannot (the SCU never offered MR with its
    SCP role): Warning 0xB000 with its UID in the Failed SOP Instance UID List."""
    cts = study_instances(3)
    study = cts[0].StudyInstanceUID
    mr = make_dataset(MRImageStorage, StudyInstanceUID=study)
    archive = Archive([cts[0], mr, cts[1], cts[2]])
    received = Received()
    found = run(_get(archive.handlers(), query(StudyInstanceUID=study), received))
    *pending, (final, identifier) = found
    assert [counts(r) for r, _ in pending] == [
        (3, 1, 0, 0),
        (2, 1, 1, 0),
        (1, 2, 1, 0),
        (0, 3, 1, 0),
    ]
    assert all(r.status == Status.SUB_OPERATIONS_ARE_CONTINUING for r, _ in pending)
    assert final.status == Status.SUB_OPERATIONS_COMPLETE_WITH_FAILURES_OR_WARNINGS
    assert final.category is Category.WARNING
    assert counts(final) == (None, 3, 1, 0)
    assert failed_uids(identifier) == [mr.SOPInstanceUID]
    assert received.uids == [str(ds.SOPInstanceUID) for ds in cts]
    assert all(r.move_originator_application_entity_title is None for r in received.requests)


def test_get_all_failed_is_0xA702() -> None:
    mrs = study_instances(2, MRImageStorage)
    archive = Archive(mrs)
    found = run(_get(archive.handlers(), query(StudyInstanceUID=mrs[0].StudyInstanceUID)))
    final, identifier = found[-1]
    assert final.status == Status.OUT_OF_RESOURCES_SUB_OPERATIONS
    assert counts(final) == (None, 0, 2, 0)
    assert sorted(failed_uids(identifier)) == sorted(ds.SOPInstanceUID for ds in mrs)


def test_store_statuses_count_as_completed_warning_or_failed() -> None:
    cts = study_instances(3)
    answers = iter([0x0000, int(StorageStatus.COERCION_OF_DATA_ELEMENTS), 0xA700])

    def on_store(event: evt.Event) -> int:
        return next(answers)

    found = run(
        _get(Archive(cts).handlers(), query(StudyInstanceUID=cts[0].StudyInstanceUID), on_store)
    )
    final, identifier = found[-1]
    assert final.status == Status.SUB_OPERATIONS_COMPLETE_WITH_FAILURES_OR_WARNINGS
    assert counts(final) == (None, 1, 1, 1)
    assert failed_uids(identifier) == [cts[2].SOPInstanceUID]


def test_warnings_only_is_0xB000_without_a_list() -> None:
    cts = study_instances(2)
    found = run(
        _get(
            Archive(cts).handlers(),
            query(StudyInstanceUID=cts[0].StudyInstanceUID),
            lambda e: 0xB000,
        )
    )
    final, identifier = found[-1]
    assert final.status == Status.SUB_OPERATIONS_COMPLETE_WITH_FAILURES_OR_WARNINGS
    assert counts(final) == (None, 0, 0, 2) and identifier is None


def test_files_and_async_store_handler_and_store_sink(tmp_path: Path) -> None:
    """The handler yields PS3.10 paths (sent as their bytes are); the SCU's AE streams
    them to a directory while an async EVT_C_STORE handler sees each one."""
    cts = study_instances(3)
    paths = write_instances(tmp_path / "archive", cts)
    seen: list[Path | None] = []

    def on_get(event: evt.Event) -> Iterator[Any]:
        yield len(paths)
        for path in paths:
            yield 0xFF00, path

    async def on_store(event: evt.Event) -> int:
        await asyncio.sleep(0.01)
        seen.append(event.path)
        return 0

    scu = qr_scu_ae()
    scu.store_sink = StoreToDirectory(tmp_path / "got", fsync=False)
    found = run(_get([(evt.EVT_C_GET, on_get)], query(), on_store, scu=scu))
    assert found[-1][0].status == Status.SUCCESS and counts(found[-1][0]) == (None, 3, 0, 0)
    assert len(seen) == 3 and all(p is not None for p in seen)
    for path, ds in zip(paths, cts, strict=True):
        got = (tmp_path / "got" / str(ds.SOPInstanceUID)).read_bytes()
        assert after_meta(got) == after_meta(path.read_bytes())


WARNING = Status.SUB_OPERATIONS_COMPLETE_WITH_FAILURES_OR_WARNINGS


def _no_status() -> Dataset:
    ds = Dataset()
    ds.ErrorComment = "status?"
    return ds


def _raise() -> Any:
    raise RuntimeError("handler bug")


@pytest.mark.parametrize(
    ("yields", "expected", "final_counts"),
    [
        (["three"], Status.HANDLER_INVALID_SUB_OPERATION_COUNT, (None, None, None, None)),
        ([-1], Status.HANDLER_INVALID_SUB_OPERATION_COUNT, (None, None, None, None)),
        ([True], Status.HANDLER_INVALID_SUB_OPERATION_COUNT, (None, None, None, None)),
        ([70_000], Status.HANDLER_INVALID_SUB_OPERATION_COUNT, (None, None, None, None)),
        ([], Status.HANDLER_INVALID_SUB_OPERATION_COUNT, (None, None, None, None)),
        ([_raise], Status.HANDLER_EXCEPTION, (None, None, None, None)),
        ([2, "ct", _raise], Status.HANDLER_EXCEPTION, (None, 1, 0, 0)),
        ([1, (_no_status, None)], Status.HANDLER_STATUS_DATASET_WITHOUT_STATUS, (None, 0, 0, 0)),
        ([1, ("pending", None)], Status.HANDLER_INVALID_STATUS_OBJECT, (None, 0, 0, 0)),
        ([1, "not a pair"], Status.HANDLER_INVALID_STATUS_OBJECT, (None, 0, 0, 0)),
        ([2, "ct", (Status.OUT_OF_RESOURCES_NUMBER_OF_MATCHES, None)], 0xA701, (None, 1, 0, 0)),
        ([2, (0xFF00, "nope"), "ct"], WARNING, (None, 1, 1, 0)),
        ([0], Status.SUCCESS, (None, 0, 0, 0)),
    ],
    ids=[
        "count-str", "count-negative", "count-bool", "count-too-big", "no-count", "raises",
        "raises-later", "no-status", "bad-status", "not-a-pair", "final-early",
        "pending-not-a-dataset", "zero",
    ],
)  # fmt: skip
def test_handler_faults_become_get_statuses(
    yields: list[Any], expected: int, final_counts: tuple[Any, ...]
) -> None:
    ct = make_dataset(CTImageStorage)

    def on_get(event: evt.Event) -> Iterator[Any]:
        for item in yields:
            if callable(item):
                item = item()
            elif item == "ct":
                item = (0xFF00, ct)
            elif isinstance(item, tuple) and callable(item[0]):
                item = (item[0](), item[1])
            yield item

    found = run(_get([(evt.EVT_C_GET, on_get)], query()))
    final = found[-1][0]
    assert final.status == expected
    assert counts(final) == final_counts


def test_undecodable_identifier_wrong_model_and_no_handler() -> None:
    def on_get(event: evt.Event) -> Iterator[Any]:
        _ = event.identifier.StudyInstanceUID
        yield 0

    async def main() -> tuple[int, int, int]:
        async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_GET, on_get)]) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            (bad, _), *_ = await collect(raw_request(assoc, "C-GET", GET["S"], GARBAGE))
            payload = encode_dataset(query(), ExplicitVRLittleEndian)
            (wrong, _), *_ = await collect(raw_request(assoc, "C-GET", FIND["S"], payload))
            server.handlers.unbind(evt.EVT_C_GET, on_get)
            (unbound, _), *_ = await collect(assoc.send_c_get(query(), "S"))
            await assoc.release()
            return bad.status, wrong.status, unbound.status

    assert run(main()) == (
        Status.DATASET_DECODE_FAILED,
        Status.SOP_CLASS_NOT_SUPPORTED,
        Status.UNABLE_TO_PROCESS,
    )


def test_cancel_between_sub_operations() -> None:
    cts = study_instances(300)
    archive = Archive(cts)
    received = Received()

    async def main() -> list[Any]:
        async with serving(qr_scp_ae(), evt_handlers=archive.handlers()) as server:
            bound = [(evt.EVT_C_STORE, received)]
            scu = qr_scu_ae()
            assoc = await scu.associate_async(
                "127.0.0.1", server.port, "QR-SCP", evt_handlers=bound
            )
            stream = assoc.send_c_get(query(StudyInstanceUID=cts[0].StudyInstanceUID), "S")
            responses = []
            async for rsp, identifier in stream:
                responses.append((rsp, identifier))
                if len(responses) == 1:
                    assert await assoc.send_c_cancel(stream.message_id)
            await assoc.release()
            return responses

    responses = run(main())
    final, identifier = responses[-1]
    assert final.status == Status.SUB_OPERATIONS_TERMINATED and final.category is Category.CANCEL
    remaining, completed, failed, warning = counts(final)
    assert remaining is not None and remaining > 0
    assert completed == len(received.uids) and completed + remaining == 300
    assert (failed, warning) == (0, 0) and identifier is None


def test_protocol_approval_get() -> None:
    approvals = [protocol_approval() for _ in range(2)]

    def on_get(event: evt.Event) -> Iterator[Any]:
        uid = event.identifier.SOPInstanceUID
        found = [ds for ds in approvals if ds.SOPInstanceUID == uid]
        yield len(found)
        for ds in found:
            yield ProtocolApprovalGetStatus.SUB_OPERATIONS_ARE_CONTINUING, ds

    received = Received()
    keys = Dataset()
    keys.SOPInstanceUID = approvals[1].SOPInstanceUID
    found = run(_get([(evt.EVT_C_GET, on_get)], keys, received, model="PA"))
    assert [r.status for r, _ in found] == [0xFF00, ProtocolApprovalGetStatus.SUCCESS]
    assert received.uids == [approvals[1].SOPInstanceUID]
    got = received.datasets[0]
    assert got.ApprovalSubjectSequence[0].ReferencedSOPInstanceUID == (
        approvals[1].ApprovalSubjectSequence[0].ReferencedSOPInstanceUID
    )


def test_blocking_get() -> None:
    cts = study_instances(4)
    archive = Archive(cts)
    received = Received()
    scp = qr_scp_ae()
    server = scp.start_server(("127.0.0.1", 0), block=False, evt_handlers=archive.handlers())
    assert server is not None
    try:
        scu = qr_scu_ae()
        bound = [(evt.EVT_C_STORE, received)]
        with scu.associate("127.0.0.1", server.port, "QR-SCP", evt_handlers=bound) as assoc:
            rsps = [
                r for r, _ in assoc.send_c_get(query(StudyInstanceUID=cts[0].StudyInstanceUID), "S")
            ]
            assert [r.Status for r in rsps] == [0xFF00] * 4 + [0]
            assert counts(rsps[-1]) == (None, 4, 0, 0)
    finally:
        server.shutdown()
    assert received.uids == [str(ds.SOPInstanceUID) for ds in cts]


def test_requested_storage_fills_the_contexts_left() -> None:
    ae = qr_scu_ae(storage=[])
    before = len(ae.requested_contexts)
    added = ae.add_requested_storage()
    assert added == 128 - before and len(ae.requested_contexts) == 128
    assert all(c.scp_role and not c.scu_role for c in ae.requested_contexts[before:])
    assert ae.add_requested_storage([MRImageStorage]) == 0


def test_get_with_both_roles_proposed() -> None:
    """The form documented for pynetdicom users: propose CT with SCU and SCP roles."""
    cts = study_instances(2)
    scu = qr_scu_ae(storage=[])
    scu.add_requested_context(CTImageStorage, scp_role=True, scu_role=True)
    received = Received()
    found = run(
        _get(
            Archive(cts).handlers(),
            query(StudyInstanceUID=cts[0].StudyInstanceUID),
            received,
            scu=scu,
        )
    )
    assert found[-1][0].status == Status.SUCCESS and len(received.uids) == 2
