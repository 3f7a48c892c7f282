"""Query/Retrieve between pynetdicom and dimse over 127.0.0.1, both directions.

pynetdicom SCUs run in a worker thread (its blocking API) against a dimse SCP on the
test's event loop; pynetdicom SCPs run as its background servers against a dimse SCU.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from _rt_net import make_dataset, run, scp_ae, serving
from _rt_qr import (
    FIND,
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
    study_instances,
)
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
)

from dimse import evt
from dimse.sop_classes import ProtocolApprovalStorage
from dimse.statuses import QueryRetrieveFindStatus, QueryRetrieveGetStatus, QueryRetrieveMoveStatus

pynetdicom = pytest.importorskip("pynetdicom")
PEER_TIMEOUT = 20
SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]


def _pyn_ae(title: str, *requested: str) -> Any:
    ae = pynetdicom.AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = PEER_TIMEOUT
    for uid in requested:
        ae.add_requested_context(uid, SYNTAXES)
    return ae


def _counts(status: Dataset) -> tuple[int, int, int]:
    return (
        int(status.NumberOfCompletedSuboperations),
        int(status.NumberOfFailedSuboperations),
        int(status.NumberOfWarningSuboperations),
    )


# -- pynetdicom SCU -> dimse SCP ------------------------------------------------------------


def test_pynetdicom_find_and_cancel_against_dimse() -> None:
    archive = Archive(study_instances(3, PatientID="PX") + study_instances(40, PatientID="PY"))

    async def slowly(event: evt.Event) -> AsyncIterator[Any]:
        for item in archive.on_find(event):
            await asyncio.sleep(0.01)
            yield item

    def client(port: int) -> tuple[list[Any], list[int]]:
        ae = _pyn_ae("PYN-SCU", FIND["S"], FIND["P"])
        assoc = ae.associate("127.0.0.1", port, ae_title="QR-SCP")
        assert assoc.is_established
        wanted = query("STUDY", PatientID="PX", StudyInstanceUID="", PatientName="")
        found = [(s.Status, i) for s, i in assoc.send_c_find(wanted, FIND["S"])]
        responses = assoc.send_c_find(query("STUDY", PatientID="PY"), FIND["P"], msg_id=9)
        statuses = []
        for status, _ in responses:
            statuses.append(status.Status)
            if len(statuses) == 1:
                assoc.send_c_cancel(9, query_model=FIND["P"])
        assoc.release()
        return found, statuses

    async def main() -> tuple[list[Any], list[int]]:
        handlers = [(evt.EVT_C_FIND, archive.on_find)]
        async with serving(qr_scp_ae(), evt_handlers=handlers) as server:
            server.handlers.bind(evt.EVT_C_FIND, slowly)
            return await asyncio.to_thread(client, server.port)

    found, statuses = run(main())
    assert [s for s, _ in found] == [0xFF00] * 3 + [0]
    assert {str(i.StudyInstanceUID) for _, i in found[:3]} == {
        str(archive.instances[0].StudyInstanceUID)
    }
    assert str(found[0][1].PatientName) == "DOE^JANE"
    assert statuses[-1] == QueryRetrieveFindStatus.MATCHING_TERMINATED and len(statuses) < 41


def test_pynetdicom_get_against_dimse() -> None:
    cts = study_instances(3)
    mr = make_dataset(MRImageStorage, StudyInstanceUID=cts[0].StudyInstanceUID)
    archive = Archive([*cts, mr])
    stored: list[str] = []

    def on_store(event: Any) -> int:
        stored.append(str(event.dataset.SOPInstanceUID))
        return 0x0000

    def client(port: int) -> list[tuple[Dataset, Dataset | None]]:
        ae = _pyn_ae("PYN-SCU", GET["S"], CTImageStorage)
        role = pynetdicom.build_role(CTImageStorage, scp_role=True)
        assoc = ae.associate(
            "127.0.0.1", port, ae_title="QR-SCP", ext_neg=[role],
            evt_handlers=[(pynetdicom.evt.EVT_C_STORE, on_store)],
        )  # fmt: skip
        assert assoc.is_established
        found = list(assoc.send_c_get(query(StudyInstanceUID=cts[0].StudyInstanceUID), GET["S"]))
        assoc.release()
        return found

    async def main() -> list[tuple[Dataset, Dataset | None]]:
        async with serving(qr_scp_ae(), evt_handlers=archive.handlers()) as server:
            return await asyncio.to_thread(client, server.port)

    found = run(main())
    final, identifier = found[-1]
    assert [s.Status for s, _ in found[:-1]] == [0xFF00] * 4
    assert final.Status == QueryRetrieveGetStatus.SUB_OPERATIONS_COMPLETE_WITH_FAILURES_OR_WARNINGS
    assert _counts(final) == (3, 1, 0)
    assert failed_uids(identifier) == [mr.SOPInstanceUID]
    assert stored == [str(ds.SOPInstanceUID) for ds in cts]


def test_pynetdicom_move_against_dimse_to_pynetdicom_storage() -> None:
    cts = study_instances(4)
    archive = Archive(cts)
    stored: list[tuple[str, str, int]] = []

    def on_store(event: Any) -> int:
        request = event.request
        stored.append(
            (
                str(event.dataset.SOPInstanceUID),
                str(request.MoveOriginatorApplicationEntityTitle).strip(),
                int(request.MoveOriginatorMessageID),
            )
        )
        return 0x0000

    dest = _pyn_ae("PYN-DEST")
    dest.add_supported_context(CTImageStorage, SYNTAXES)
    dest_server = dest.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(pynetdicom.evt.EVT_C_STORE, on_store)]
    )
    archive.destinations["PYN-DEST"] = ("127.0.0.1", dest_server.server_address[1])

    def client(port: int) -> list[Dataset]:
        ae = _pyn_ae("PYN-SCU", MOVE["S"])
        assoc = ae.associate("127.0.0.1", port, ae_title="QR-SCP")
        assert assoc.is_established
        uid = cts[0].StudyInstanceUID
        found = [
            s
            for s, _ in assoc.send_c_move(
                query(StudyInstanceUID=uid), "PYN-DEST", MOVE["S"], msg_id=5
            )
        ]
        unknown = [s for s, _ in assoc.send_c_move(query(), "NOWHERE", MOVE["S"])]
        assoc.release()
        return found + unknown

    async def main() -> list[Dataset]:
        async with serving(qr_scp_ae(), evt_handlers=archive.handlers()) as server:
            return await asyncio.to_thread(client, server.port)

    try:
        found = run(main())
    finally:
        dest_server.shutdown()
    *pending, final, unknown = found
    assert [int(s.NumberOfRemainingSuboperations) for s in pending] == [3, 2, 1, 0]
    assert final.Status == 0 and _counts(final) == (4, 0, 0)
    assert unknown.Status == QueryRetrieveMoveStatus.MOVE_DESTINATION_UNKNOWN
    assert stored == [(str(ds.SOPInstanceUID), "PYN-SCU", 5) for ds in cts]


def test_pynetdicom_protocol_approval_find_against_dimse() -> None:
    approval = protocol_approval()

    def on_find(event: evt.Event) -> Iterator[Any]:
        match = Dataset()
        match.SOPInstanceUID = approval.SOPInstanceUID
        match.ApprovalSubjectSequence = approval.ApprovalSubjectSequence
        yield 0xFF00, match

    def client(port: int) -> list[Any]:
        ae = _pyn_ae("PYN-SCU", FIND["PA"])
        assoc = ae.associate("127.0.0.1", port, ae_title="QR-SCP")
        keys = Dataset()
        keys.SOPInstanceUID = ""
        keys.ApprovalSubjectSequence = [Dataset()]
        found = [(s.Status, i) for s, i in assoc.send_c_find(keys, FIND["PA"])]
        assoc.release()
        return found

    async def main() -> list[Any]:
        async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_FIND, on_find)]) as server:
            return await asyncio.to_thread(client, server.port)

    found = run(main())
    assert [s for s, _ in found] == [0xFF00, 0]
    assert found[0][1].SOPInstanceUID == approval.SOPInstanceUID


# -- dimse SCU -> pynetdicom SCP ------------------------------------------------------------


def _pyn_qr_scp(archive: Archive, *, slow: bool = False) -> Any:
    """A pynetdicom Q/R SCP serving the archive (its handlers follow the same rules;
    pynetdicom wants each yielded dataset to name its transfer syntax in file_meta)."""
    for ds in archive.instances:
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian

    def on_find(event: Any) -> Iterator[Any]:
        for status, match in archive.on_find(event):
            if slow:
                time.sleep(0.01)
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield status, match

    ae = pynetdicom.AE(ae_title="PYN-QR")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = PEER_TIMEOUT
    for uid in (*FIND.values(), *GET.values(), *MOVE.values()):
        ae.add_supported_context(uid, SYNTAXES)
    for uid in (CTImageStorage, ProtocolApprovalStorage):
        ae.add_supported_context(uid, SYNTAXES, scu_role=True, scp_role=True)
        ae.add_requested_context(uid, SYNTAXES)  # what its C-MOVE store association proposes
    handlers = [
        (pynetdicom.evt.EVT_C_FIND, on_find),
        (pynetdicom.evt.EVT_C_GET, archive.on_get),
        (pynetdicom.evt.EVT_C_MOVE, archive.on_move),
    ]
    return ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)


def test_dimse_find_get_move_against_pynetdicom() -> None:
    cts = study_instances(3)
    archive = Archive(cts)
    server = _pyn_qr_scp(archive)
    port = server.server_address[1]
    got = Received()
    moved = Received()

    async def main() -> None:
        async with serving(scp_ae("DEST"), evt_handlers=[(evt.EVT_C_STORE, moved)]) as dest:
            archive.destinations["DEST"] = ("127.0.0.1", dest.port)
            scu = qr_scu_ae()
            bound = [(evt.EVT_C_STORE, got)]
            assoc = await scu.associate_async("127.0.0.1", port, "PYN-QR", evt_handlers=bound)
            uid = cts[0].StudyInstanceUID
            found = await collect(assoc.send_c_find(query(StudyInstanceUID=uid, PatientID=""), "S"))
            assert [r.status for r, _ in found] == [0xFF00] * 3 + [0]
            assert all(i is not None and i.PatientID == "P-1" for _, i in found[:3])
            found = await collect(assoc.send_c_find(query("PATIENT", PatientID="P-1"), "P"))
            assert found[-1][0].status == 0
            gets = await collect(assoc.send_c_get(query(StudyInstanceUID=uid), "S"))
            assert [r.number_of_remaining_suboperations for r, _ in gets[:-1]] == [2, 1, 0]
            assert gets[-1][0].status == 0 and gets[-1][0].number_of_completed_suboperations == 3
            moves = await collect(assoc.send_c_move(query(StudyInstanceUID=uid), "DEST", "S"))
            assert moves[-1][0].status == 0 and moves[-1][0].number_of_completed_suboperations == 3
            unknown = await collect(assoc.send_c_move(query(), "NOBODY", "S"))
            assert unknown[-1][0].status == QueryRetrieveMoveStatus.MOVE_DESTINATION_UNKNOWN
            await assoc.release()

    try:
        run(main())
    finally:
        server.shutdown()
    uids = [str(ds.SOPInstanceUID) for ds in cts]
    assert got.uids == uids and moved.uids == uids
    # PS3.7 Table 9.3-1 names the AE that invoked the C-MOVE (QR-SCU, as dimse sends);
    # pynetdicom 3 sends its own AE title there. The Message ID is the C-MOVE's.
    assert {r.move_originator_application_entity_title.strip() for r in moved.requests} == {
        "PYN-QR"
    }
    assert all(r.move_originator_message_id is not None for r in moved.requests)


def test_dimse_cancel_against_pynetdicom() -> None:
    archive = Archive(study_instances(100))
    server = _pyn_qr_scp(archive, slow=True)

    async def main() -> list[Any]:
        scu = qr_scu_ae()
        assoc = await scu.associate_async("127.0.0.1", server.server_address[1], "PYN-QR")
        stream = assoc.send_c_find(query(), "S")
        responses = []
        async for item in stream:
            responses.append(item)
            if len(responses) == 2:
                assert await assoc.send_c_cancel(stream.message_id)
        await assoc.release()
        return responses

    try:
        responses = run(main())
    finally:
        server.shutdown()
    assert responses[-1][0].status == QueryRetrieveFindStatus.MATCHING_TERMINATED
    assert len(responses) < 101
