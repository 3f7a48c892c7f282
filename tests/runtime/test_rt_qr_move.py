"""dimse C-MOVE SCU <-> dimse C-MOVE SCP -> dimse Storage SCP: destinations, store
associations and their contexts, counts, C-CANCEL, the implementation statuses, and a
1,000-instance move.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _rt_net import make_dataset, run, scp_ae, serving, write_part10
from _rt_qr import (
    GARBAGE,
    GET,
    MOVE,
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
)
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    MRImageStorage,
    UltrasoundImageStorage,
)

from dimse import evt, scp_move
from dimse.ae import AE, StoreToDirectory
from dimse.datasets import encode_dataset
from dimse.negotiation import RequestedContext
from dimse.statuses import Category, ProtocolApprovalMoveStatus, QueryRetrieveMoveStatus

Status = QueryRetrieveMoveStatus


def counts(rsp: Any) -> tuple[int | None, ...]:
    return (
        rsp.number_of_remaining_suboperations,
        rsp.number_of_completed_suboperations,
        rsp.number_of_failed_suboperations,
        rsp.number_of_warning_suboperations,
    )


def dest_ae(*sop_classes: str, title: str = "DEST") -> AE:
    """A Storage SCP for the sub-operations: every storage class, or only these."""
    if not sop_classes:
        return scp_ae(title)
    ae = scp_ae(title, storage=False)
    for uid in sop_classes:
        ae.add_supported_context(uid)
    return ae


async def _move(
    archive_handlers: list[evt.HandlerBinding],
    identifier: Dataset,
    destination: AE | None = None,
    received: Any = None,
    *,
    archive: Archive | None = None,
    model: str = "S",
    move_aet: str = "DEST",
    extra_dest_handlers: list[evt.HandlerBinding] = (),  # type: ignore[assignment]
) -> list[tuple[Any, Dataset | None]]:
    dest = destination or dest_ae()
    handlers = [(evt.EVT_C_STORE, received or Received()), *extra_dest_handlers]
    async with serving(dest, evt_handlers=handlers) as dest_server:
        if archive is not None:
            archive.destinations["DEST"] = ("127.0.0.1", dest_server.port)
        async with serving(qr_scp_ae(), evt_handlers=archive_handlers) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            found = await collect(assoc.send_c_move(identifier, move_aet, model, msg_id=77))
            await assoc.release()
            return found


def test_move_counts_originator_and_failed_list() -> None:
    cts = study_instances(3)
    mr = make_dataset(MRImageStorage, StudyInstanceUID=cts[0].StudyInstanceUID)
    archive = Archive([cts[0], mr, *cts[1:]])
    received = Received()
    found = run(
        _move(
            archive.handlers(),
            query(StudyInstanceUID=cts[0].StudyInstanceUID),
            dest_ae(CTImageStorage),  # MR is not accepted there
            received,
            archive=archive,
        )
    )
    *pending, (final, identifier) = found
    assert [counts(r) for r, _ in pending] == [
        (3, 1, 0, 0),
        (2, 1, 1, 0),
        (1, 2, 1, 0),
        (0, 3, 1, 0),
    ]
    assert final.status == Status.SUB_OPERATIONS_COMPLETE_WITH_FAILURES_OR_WARNINGS
    assert counts(final) == (None, 3, 1, 0)
    assert failed_uids(identifier) == [mr.SOPInstanceUID]
    assert received.uids == [str(ds.SOPInstanceUID) for ds in cts]
    for request in received.requests:
        assert request.move_originator_application_entity_title.strip() == "QR-SCU"
        assert request.move_originator_message_id == 77


def test_move_destination_unknown() -> None:
    archive = Archive(study_instances(1))
    found = run(_move(archive.handlers(), query(), archive=archive, move_aet="NOBODY"))
    assert [r.status for r, _ in found] == [Status.MOVE_DESTINATION_UNKNOWN]


def test_unreachable_destination_fails_every_sub_operation() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    cts = study_instances(3)

    def on_move(event: evt.Event) -> Iterator[Any]:
        yield "127.0.0.1", closed_port
        yield len(cts)
        for ds in cts:
            yield 0xFF00, ds

    found = run(_move([(evt.EVT_C_MOVE, on_move)], query()))
    final, identifier = found[-1]
    assert final.status == Status.OUT_OF_RESOURCES_SUB_OPERATIONS
    assert counts(final) == (None, 0, 3, 0)
    assert "cannot associate with DEST" in (final.error_comment or "")
    assert sorted(failed_uids(identifier)) == sorted(str(ds.SOPInstanceUID) for ds in cts)


def _raise() -> Any:
    raise RuntimeError("handler bug")


def _status_without_status() -> Dataset:
    ds = Dataset()
    ds.ErrorComment = "?"
    return ds


DEST = "dest"  # replaced by the destination's address when the handler runs


@pytest.mark.parametrize(
    ("yields", "expected"),
    [
        ([], Status.HANDLER_MISSING_DESTINATION_OR_COUNT),
        ([DEST], Status.HANDLER_MISSING_DESTINATION_OR_COUNT),
        ([_raise], Status.HANDLER_EXCEPTION),
        ([DEST, _raise], Status.HANDLER_EXCEPTION),
        ([DEST, "x"], Status.HANDLER_INVALID_SUB_OPERATION_COUNT),
        ([DEST, -3], Status.HANDLER_INVALID_SUB_OPERATION_COUNT),
        ([("127.0.0.1",)], Status.HANDLER_INVALID_DESTINATION),
        (["127.0.0.1:104"], Status.HANDLER_INVALID_DESTINATION),
        ([("127.0.0.1", "104")], Status.HANDLER_INVALID_DESTINATION),
        ([("127.0.0.1", 0)], Status.HANDLER_INVALID_DESTINATION),
        ([("127.0.0.1", True)], Status.HANDLER_INVALID_DESTINATION),
        ([("", 104)], Status.HANDLER_INVALID_DESTINATION),
        ([("127.0.0.1", 104, {"bogus": 1})], Status.HANDLER_INVALID_DESTINATION),
        ([("127.0.0.1", 104, {"ae_title": "X" * 17})], Status.HANDLER_INVALID_DESTINATION),
        ([("127.0.0.1", 104, ["not", "a", "dict"])], Status.HANDLER_INVALID_DESTINATION),
        ([(None, None)], Status.MOVE_DESTINATION_UNKNOWN),
        ([DEST, 1, (_status_without_status, None)], Status.HANDLER_STATUS_DATASET_WITHOUT_STATUS),
        ([DEST, 1, (3.5, None)], Status.HANDLER_INVALID_STATUS_OBJECT),
        ([DEST, 0], Status.SUCCESS),
    ],
    ids=[
        "nothing", "no-count", "raises", "raises-after-destination", "count-str",
        "count-negative", "one-tuple", "string", "port-str", "port-zero", "port-bool",
        "no-address", "unknown-option", "bad-ae-title", "options-not-dict", "unknown",
        "no-status", "bad-status", "zero",
    ],
)  # fmt: skip
def test_handler_faults_become_move_statuses(yields: list[Any], expected: int) -> None:
    where: dict[str, int] = {}

    def on_move(event: evt.Event) -> Iterator[Any]:
        for item in yields:
            if item == DEST:
                item = ("127.0.0.1", where["port"])
            elif callable(item):
                item = item()
            elif isinstance(item, tuple) and item and callable(item[0]):
                item = (item[0](), item[1])
            yield item

    async def main() -> list[Any]:
        async with serving(dest_ae()) as dest_server:
            where["port"] = dest_server.port
            async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_MOVE, on_move)]) as server:
                assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
                found = await collect(assoc.send_c_move(query(), "DEST", "S"))
                await assoc.release()
                return found

    found = run(main())
    assert found[-1][0].status == expected


def test_undecodable_identifier_and_wrong_model() -> None:
    def on_move(event: evt.Event) -> Iterator[Any]:
        _ = event.identifier.StudyInstanceUID
        yield None, None

    async def main() -> tuple[int, int]:
        async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_MOVE, on_move)]) as server:
            assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
            bad = raw_request(assoc, "C-MOVE", MOVE["S"], GARBAGE, move_destination="DEST")
            (bad_rsp, _), *_ = await collect(bad)
            payload = encode_dataset(query(), ExplicitVRLittleEndian)
            wrong = raw_request(assoc, "C-MOVE", GET["S"], payload, move_destination="DEST")
            (wrong_rsp, _), *_ = await collect(wrong)
            await assoc.release()
            return bad_rsp.status, wrong_rsp.status

    assert run(main()) == (Status.DATASET_DECODE_FAILED, Status.SOP_CLASS_NOT_SUPPORTED)


def test_store_associations_follow_the_sop_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mixed SOP classes: one store association proposing every class read ahead; with
    a look-ahead of one, a class not proposed yet opens a new association."""
    classes = [CTImageStorage, MRImageStorage, UltrasoundImageStorage] * 3
    instances = [make_dataset(uid, StudyInstanceUID="1.2.3.4") for uid in classes]

    def run_once() -> tuple[list[Any], int, Received]:
        established: list[str] = []
        received = Received()
        archive = Archive(instances)
        extra = [(evt.EVT_ESTABLISHED, lambda e: established.append(e.assoc.peer_address))]
        found = run(
            _move(
                archive.handlers(),
                query(StudyInstanceUID="1.2.3.4"),
                received=received,
                archive=archive,
                extra_dest_handlers=extra,
            )
        )
        return found, len(established), received

    found, associations, received = run_once()
    assert found[-1][0].status == Status.SUCCESS and associations == 1
    assert received.uids == [str(ds.SOPInstanceUID) for ds in instances]
    monkeypatch.setattr(scp_move, "LOOKAHEAD", 0)
    found, associations, received = run_once()
    assert found[-1][0].status == Status.SUCCESS and counts(found[-1][0]) == (None, 9, 0, 0)
    assert associations == 9  # every instance changes the class: a new association
    assert received.uids == [str(ds.SOPInstanceUID) for ds in instances]


def test_destination_options_and_compressed_files(tmp_path: Path) -> None:
    """kwargs name the called AE title and the contexts; a JPEG file goes over the JPEG
    context the store association proposed for it, byte for byte."""
    jpeg = make_dataset(CTImageStorage, StudyInstanceUID="1.2.3")
    jpeg.PixelData = encapsulate([b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9"])
    jpeg_path = write_part10(tmp_path / "jpeg.dcm", jpeg, JPEGBaseline8Bit)
    plain = make_dataset(CTImageStorage, StudyInstanceUID="1.2.3")
    mr = make_dataset(MRImageStorage, StudyInstanceUID="1.2.3")
    called: list[str] = []

    def move_with(options: dict[str, Any] | None) -> Any:
        def on_move(event: evt.Event) -> Iterator[Any]:
            yield ("127.0.0.1", port[0], options) if options is not None else ("127.0.0.1", port[0])
            yield 3
            yield 0xFF00, jpeg_path
            yield 0xFF00, plain
            yield 0xFF00, mr

        return on_move

    dest = scp_ae("ANYTITLE", storage=False)
    dest.add_supported_context(
        CTImageStorage, [JPEGBaseline8Bit, ExplicitVRLittleEndian, ImplicitVRLittleEndian]
    )
    dest.add_supported_context(MRImageStorage)
    dest.store_sink = StoreToDirectory(tmp_path / "got", fsync=False)
    port: list[int] = []

    async def main(options: dict[str, Any] | None) -> list[Any]:
        on_est = [
            (evt.EVT_ESTABLISHED, lambda e: called.append(e.assoc.negotiated.called_ae_title))
        ]
        async with serving(dest, evt_handlers=on_est) as dest_server:
            port[:] = [dest_server.port]
            async with serving(
                qr_scp_ae(), evt_handlers=[(evt.EVT_C_MOVE, move_with(options))]
            ) as server:
                assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
                found = await collect(assoc.send_c_move(query(), "DEST", "S"))
                await assoc.release()
                return found

    found = run(main(None))
    assert counts(found[-1][0]) == (None, 3, 0, 0)
    assert (tmp_path / "got" / str(jpeg.SOPInstanceUID)).read_bytes()[
        -40:
    ] == jpeg_path.read_bytes()[-40:]
    options = {"ae_title": "OTHER-TITLE", "contexts": [RequestedContext(CTImageStorage)]}
    found = run(main(options))
    final, identifier = found[-1]
    # only uncompressed CT was proposed: the JPEG file cannot be decompressed, MR has no context
    assert counts(final) == (None, 1, 2, 0)
    assert sorted(failed_uids(identifier)) == sorted(
        [str(jpeg.SOPInstanceUID), str(mr.SOPInstanceUID)]
    )
    assert called == ["DEST", "OTHER-TITLE"]


def test_cancel_during_a_long_move() -> None:
    instances = study_instances(300)
    archive = Archive(instances)
    received = Received()

    async def slow_store(event: evt.Event) -> int:
        await asyncio.sleep(0.002)
        return received(event)

    async def main() -> list[Any]:
        async with serving(dest_ae(), evt_handlers=[(evt.EVT_C_STORE, slow_store)]) as dest:
            archive.destinations["DEST"] = ("127.0.0.1", dest.port)
            async with serving(qr_scp_ae(), evt_handlers=archive.handlers()) as server:
                assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
                stream = assoc.send_c_move(
                    query(StudyInstanceUID=instances[0].StudyInstanceUID), "DEST", "S"
                )
                responses = []
                async for item in stream:
                    responses.append(item)
                    if len(responses) == 3:
                        assert await assoc.send_c_cancel(stream.message_id)
                await assoc.release()
                return responses

    responses = run(main())
    final, identifier = responses[-1]
    assert final.status == Status.SUB_OPERATIONS_TERMINATED and final.category is Category.CANCEL
    remaining, completed, failed, warning = counts(final)
    assert remaining and completed == len(received.uids) and completed + remaining == 300
    assert (failed, warning) == (0, 0)
    # Read ahead but never sent: listed with the (here no) failures; none was received.
    unsent = set(failed_uids(identifier))
    assert unsent and not unsent & set(received.uids)
    assert unsent <= {str(ds.SOPInstanceUID) for ds in instances}


def test_protocol_approval_move() -> None:
    approvals = [protocol_approval(), protocol_approval()]
    received = Received()

    def on_move(event: evt.Event) -> Iterator[Any]:
        yield "127.0.0.1", port[0]
        yield len(approvals)
        for ds in approvals:
            yield ProtocolApprovalMoveStatus.SUB_OPERATIONS_ARE_CONTINUING, ds

    port: list[int] = []

    async def main() -> list[Any]:
        async with serving(dest_ae(), evt_handlers=[(evt.EVT_C_STORE, received)]) as dest:
            port.append(dest.port)
            async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_MOVE, on_move)]) as server:
                assoc = await qr_scu_ae().associate_async("127.0.0.1", server.port, "QR-SCP")
                found = await collect(assoc.send_c_move(Dataset(), "DEST", "PA"))
                await assoc.release()
                return found

    found = run(main())
    assert [r.status for r, _ in found] == [0xFF00, 0xFF00, ProtocolApprovalMoveStatus.SUCCESS]
    assert received.uids == [str(ds.SOPInstanceUID) for ds in approvals]


def test_thousand_instance_move() -> None:
    instances = study_instances(1000)
    archive = Archive(instances)
    received = Received()
    found = run(
        _move(
            archive.handlers(),
            query(StudyInstanceUID=instances[0].StudyInstanceUID),
            received=received,
            archive=archive,
        ),
        timeout=120,
    )
    *pending, (final, identifier) = found
    assert len(pending) == 1000
    assert [counts(r)[0] for r, _ in pending] == list(range(999, -1, -1))
    assert final.status == Status.SUCCESS and counts(final) == (None, 1000, 0, 0)
    assert identifier is None
    assert received.uids == [str(ds.SOPInstanceUID) for ds in instances]


def test_blocking_move() -> None:
    instances = study_instances(3)
    archive = Archive(instances)
    received = Received()
    dest = dest_ae().start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, received)]
    )
    server = qr_scp_ae().start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=archive.handlers()
    )
    assert dest is not None and server is not None
    archive.destinations["DEST"] = ("127.0.0.1", dest.port)
    try:
        with qr_scu_ae().associate("127.0.0.1", server.port, "QR-SCP") as assoc:
            uid = instances[0].StudyInstanceUID
            statuses = [
                r.Status for r, _ in assoc.send_c_move(query(StudyInstanceUID=uid), "DEST", "S")
            ]
    finally:
        server.shutdown()
        dest.shutdown()
    assert statuses == [0xFF00] * 3 + [0]
    assert received.uids == [str(ds.SOPInstanceUID) for ds in instances]
