"""dimse SCU <-> dimse SCP over 127.0.0.1: C-ECHO, C-STORE and the statuses an SCP sends.

Every status the runtime chooses itself is checked against the generated tables
(``StorageStatus``...), never against a number written here.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pydicom
import pytest
from _rt_net import (
    ACCEPT_STORES,
    VERIFICATION,
    after_meta,
    listing,
    make_dataset,
    run,
    scp_ae,
    scu_ae,
    serving,
    with_pixels,
    write_part10,
)
from pydicom.dataset import Dataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
)

from dimse import evt
from dimse.ae import StoreToDirectory
from dimse.errors import UsageError
from dimse.messages import CStoreRQ
from dimse.part10 import encode_file_meta, read_file_meta
from dimse.service_classes import NonPatientObjectStorageServiceClass, StorageServiceClass
from dimse.sop_classes import ColorPaletteStorage, HangingProtocolStorage
from dimse.statuses import NonPatientObjectStorageStatus, StorageStatus, VerificationStatus

STORAGE_CLASSES = [
    CTImageStorage,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
    HangingProtocolStorage,  # Non-Patient Object Storage
    ColorPaletteStorage,  # Non-Patient Object Storage
]


def test_c_echo_round_trip() -> None:
    seen: list[str] = []

    def on_echo(event: evt.Event) -> int:
        seen.append(event.assoc.negotiated.peer_ae_title)
        return int(VerificationStatus.SUCCESS)

    async def main() -> None:
        async with serving(scp_ae(), evt_handlers=[(evt.EVT_C_ECHO, on_echo)]) as server:
            assoc = await scu_ae().associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            first = await assoc.send_c_echo()
            second = await assoc.send_c_echo(msg_id=7)
            assert assoc.is_established and assoc.is_alive
            await assoc.release()
            assert first.status == second.status == VerificationStatus.SUCCESS
            assert second.message_id_being_responded_to == 7
            assert assoc.is_released and not assoc.is_aborted
            assert not assoc.is_established and not assoc.is_alive

    run(main())
    assert seen == ["DIMSE-SCU", "DIMSE-SCU"]


def test_c_store_datasets_of_several_sop_classes() -> None:
    """Image storage and Non-Patient Object Storage classes, each on its own context; the
    handler sees the dataset decoded and the SCP answers from the right service class."""
    received: dict[str, tuple[str, str]] = {}

    def on_store(event: evt.Event) -> int:
        ds = event.dataset
        assert event.context is not None and event.request is not None
        received[str(ds.SOPInstanceUID)] = (event.context.abstract_syntax, str(ds.PatientName))
        return int(StorageStatus.SUCCESS)

    sent = [make_dataset(uid, PatientName=f"P^{n}") for n, uid in enumerate(STORAGE_CLASSES)]
    sent[4].HangingProtocolName = "HP ONE"

    async def main() -> None:
        handlers = [(evt.EVT_C_STORE, on_store)]
        async with serving(scp_ae(), evt_handlers=handlers) as server:
            assoc = await scu_ae(*STORAGE_CLASSES).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            assert {c.abstract_syntax for c in assoc.accepted_contexts} >= set(STORAGE_CLASSES)
            for ds in sent:
                rsp = await assoc.send_c_store(ds)
                assert rsp.status == StorageStatus.SUCCESS
                assert rsp.affected_sop_instance_uid == ds.SOPInstanceUID
            await assoc.release()

    run(main())
    assert received == {
        str(ds.SOPInstanceUID): (str(ds.SOPClassUID), str(ds.PatientName)) for ds in sent
    }
    assert NonPatientObjectStorageServiceClass.supports(HangingProtocolStorage)
    assert StorageServiceClass.supports(CTImageStorage)


def _file_with_unknown_vr_element(path: Path) -> Path:
    """A file pydicom would not re-encode identically: a known tag carried as UN."""
    ds = make_dataset(CTImageStorage)
    write_part10(path, ds, ExplicitVRLittleEndian)
    # (0040,0254) Performed Procedure Step Description, sent as UN: a decoder turns it
    # into LO, so only a byte-for-byte passthrough keeps this element as written.
    value = b"PASSTHROUGH "
    element = b"\x40\x00\x54\x02UN\x00\x00" + len(value).to_bytes(4, "little") + value
    path.write_bytes(path.read_bytes() + element)
    return path


def test_file_passthrough_is_byte_exact(tmp_path: Path) -> None:
    source = _file_with_unknown_vr_element(tmp_path / "source.dcm")
    out = tmp_path / "received"
    meta = read_file_meta(source)
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out)

    async def main() -> None:
        async with serving(scp) as server:
            scu = scu_ae(CTImageStorage, syntaxes=[ExplicitVRLittleEndian])
            assoc = await scu.associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            rsp = await assoc.send_c_store(source)  # a path: sent as its bytes are
            assert rsp.status == StorageStatus.SUCCESS
            rsp = await assoc.send_c_store(str(source))
            assert rsp.status == StorageStatus.SUCCESS
            await assoc.release()

    run(main())
    assert listing(out) == [meta.sop_instance_uid]  # no temporary file left behind
    stored = (out / meta.sop_instance_uid).read_bytes()
    assert after_meta(stored) == after_meta(source.read_bytes())
    stored_meta = read_file_meta(out / meta.sop_instance_uid)
    assert stored_meta.transfer_syntax_uid == ExplicitVRLittleEndian
    assert stored_meta.sop_class_uid == CTImageStorage
    assert stored_meta.source_ae_title == "DIMSE-SCU"
    assert pydicom.dcmread(out / meta.sop_instance_uid).PerformedProcedureStepDescription == (
        "PASSTHROUGH"
    )


def test_file_in_a_syntax_not_accepted_is_converted(tmp_path: Path) -> None:
    ds = make_dataset(MRImageStorage, SeriesDescription="CONVERT ME")
    source = write_part10(tmp_path / "explicit.dcm", ds, ExplicitVRLittleEndian)
    out = tmp_path / "received"
    scp = implicit_only_scp()
    scp.store_sink = StoreToDirectory(out)

    async def main() -> None:
        async with serving(scp) as server:
            assoc = await scu_ae(MRImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            (context,) = [c for c in assoc.accepted_contexts if c.abstract_syntax == MRImageStorage]
            assert context.transfer_syntax == ImplicitVRLittleEndian
            rsp = await assoc.send_c_store(source)
            assert rsp.status == StorageStatus.SUCCESS
            await assoc.release()

    run(main())
    stored = pydicom.dcmread(out / str(ds.SOPInstanceUID))
    assert stored.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    original = pydicom.dcmread(source)
    assert stored == original  # same elements and values, re-encoded


def implicit_only_scp() -> Any:
    ae = scp_ae(storage=False)
    ae.add_supported_storage(ImplicitVRLittleEndian)
    return ae


# -- statuses chosen by the runtime ---------------------------------------------------------


def _no_status() -> Dataset:
    ds = Dataset()
    ds.ErrorComment = "forgot the status"
    return ds


def _with_status() -> Dataset:
    ds = Dataset()
    ds.Status = int(StorageStatus.OUT_OF_RESOURCES)
    ds.ErrorComment = "disk full"
    return ds


def _raises() -> Any:
    raise RuntimeError("handler bug")


@pytest.mark.parametrize(
    ("answer", "expected", "comment"),
    [
        (lambda: int(StorageStatus.SUCCESS), StorageStatus.SUCCESS, None),
        (lambda: 0xB000, StorageStatus.COERCION_OF_DATA_ELEMENTS, None),
        (_with_status, StorageStatus.OUT_OF_RESOURCES, "disk full"),
        (_no_status, StorageStatus.HANDLER_STATUS_DATASET_WITHOUT_STATUS, None),
        (lambda: "not a status", StorageStatus.HANDLER_INVALID_STATUS_OBJECT, None),
        (lambda: True, StorageStatus.HANDLER_INVALID_STATUS_OBJECT, None),
        (_raises, StorageStatus.HANDLER_EXCEPTION, None),
    ],
    ids=["int", "warning-int", "dataset", "dataset-no-status", "object", "bool", "raises"],
)
def test_handler_answers_become_statuses(answer: Any, expected: int, comment: str | None) -> None:
    def on_store(event: evt.Event) -> Any:
        return answer()

    async def main() -> None:
        async with serving(scp_ae(), evt_handlers=[(evt.EVT_C_STORE, on_store)]) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            rsp = await assoc.send_c_store(make_dataset(CTImageStorage))
            assert rsp.status == expected
            assert rsp.error_comment == comment
            # the association survives every handler outcome
            assert (await assoc.send_c_echo()).status == VerificationStatus.SUCCESS
            await assoc.release()

    run(main())


def test_async_handler_and_non_patient_statuses() -> None:
    async def on_store(event: evt.Event) -> Any:
        await asyncio.sleep(0)
        if event.dataset.SOPClassUID == HangingProtocolStorage:
            raise RuntimeError("no hanging protocols today")
        return 0

    async def main() -> None:
        async with serving(scp_ae(), evt_handlers=[(evt.EVT_C_STORE, on_store)]) as server:
            assoc = await scu_ae(CTImageStorage, HangingProtocolStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            rsp = await assoc.send_c_store(make_dataset(HangingProtocolStorage))
            assert rsp.status == NonPatientObjectStorageStatus.HANDLER_EXCEPTION
            rsp = await assoc.send_c_store(make_dataset(CTImageStorage))
            assert rsp.status == StorageStatus.SUCCESS
            await assoc.release()

    run(main())


def _garbage_file(path: Path) -> Path:
    """A valid File Meta group followed by a dataset no decoder can read (VR 'XX')."""
    uid = "1.2.826.0.1.3680043.9.7433.1.1"
    meta = encode_file_meta(CTImageStorage, uid, ExplicitVRLittleEndian, "1.2.3.4")
    body = b"\x08\x00\x16\x00XX\x04\x00" + b"1.2\x00" + b"\x10\x00\x10\x00XX\x02\x00AB"
    path.write_bytes(meta + body)
    return path


@pytest.mark.parametrize("to_disk", [False, True], ids=["buffered", "streamed-to-file"])
def test_undecodable_dataset_is_0xC210(tmp_path: Path, to_disk: bool) -> None:
    calls: list[str] = []

    def on_store(event: evt.Event) -> int:
        calls.append("called")
        _ = event.dataset.PatientName  # the handler asks for the dataset: it cannot be read
        return 0

    scp = scp_ae()
    if to_disk:
        scp.store_sink = StoreToDirectory(tmp_path / "out")

    async def main() -> None:
        async with serving(scp, evt_handlers=[(evt.EVT_C_STORE, on_store)]) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            rsp = await assoc.send_c_store(_garbage_file(tmp_path / "garbage.dcm"))
            assert rsp.status == StorageStatus.DATASET_DECODE_FAILED
            await assoc.release()

    run(main())
    assert calls == ["called"]


def test_sop_class_differing_from_the_context_is_0x0122() -> None:
    calls: list[object] = []

    async def main() -> None:
        handlers = [(evt.EVT_C_STORE, lambda event: calls.append(event) or 0)]
        async with serving(scp_ae(), evt_handlers=handlers) as server:
            assoc = await scu_ae(CTImageStorage, MRImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            ct = assoc.context_for(CTImageStorage)
            ds = make_dataset(MRImageStorage)
            request = CStoreRQ(
                message_id=11,
                affected_sop_class_uid=MRImageStorage,  # but sent on the CT context
                affected_sop_instance_uid=str(ds.SOPInstanceUID),
            )
            from dimse.datasets import encode_dataset

            rsp = await assoc._request(ct, request, encode_dataset(ds, ct.transfer_syntax))
            assert rsp.status == StorageStatus.SOP_CLASS_NOT_SUPPORTED
            assert (await assoc.send_c_store(ds)).status == StorageStatus.SUCCESS
            await assoc.release()

    run(main())
    assert len(calls) == 1  # only the well-formed store reached the handler


def test_rejected_context_and_store_on_it() -> None:
    scp = scp_ae(storage=False)
    scp.add_supported_context(CTImageStorage)

    async def main() -> None:
        async with serving(scp, evt_handlers=[ACCEPT_STORES]) as server:
            assoc = await scu_ae(CTImageStorage, MRImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            accepted = {c.abstract_syntax for c in assoc.accepted_contexts}
            assert accepted == {VERIFICATION, CTImageStorage}
            assert [c.abstract_syntax for c in assoc.rejected_contexts] == [MRImageStorage]
            with pytest.raises(UsageError, match=MRImageStorage):
                await assoc.send_c_store(make_dataset(MRImageStorage))
            # nothing went on the wire: the association is still usable
            assert (await assoc.send_c_store(make_dataset(CTImageStorage))).status == 0
            await assoc.release()

    run(main())


def test_store_of_a_class_never_proposed_names_it() -> None:
    async def main() -> None:
        async with serving(scp_ae()) as server:
            assoc = await scu_ae().associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            with pytest.raises(UsageError, match=UltrasoundImageStorage):
                await assoc.send_c_store(make_dataset(UltrasoundImageStorage))
            await assoc.release()

    run(main())


def test_concurrent_associations_to_one_server(tmp_path: Path) -> None:
    out = tmp_path / "out"
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out, fsync=False)
    established: list[int] = []
    peak: list[int] = []

    def on_established(event: evt.Event) -> None:
        established.append(1)

    async def main() -> list[str]:
        handlers = [(evt.EVT_ESTABLISHED, on_established)]
        async with serving(scp, evt_handlers=handlers) as server:
            gate = asyncio.Event()

            async def one(n: int) -> list[str]:
                scu = scu_ae(CTImageStorage, MRImageStorage, title=f"SCU{n}")
                assoc = await scu.associate_async("127.0.0.1", server.port, "DIMSE-SCP")
                peak.append(len(server.active_associations))
                if len(peak) == 6:
                    gate.set()
                await asyncio.wait_for(gate.wait(), 10)  # all six open at the same time
                uids = []
                for k in range(5):
                    ds = make_dataset(CTImageStorage if k % 2 else MRImageStorage)
                    assert (await assoc.send_c_store(ds)).status == 0
                    uids.append(str(ds.SOPInstanceUID))
                await assoc.release()
                return uids

            results = await asyncio.gather(*(one(n) for n in range(6)))
            return [uid for uids in results for uid in uids]

    uids = run(main())
    assert sorted(listing(out)) == sorted(uids)
    assert len(established) == 6 and max(peak) == 6


def test_store_on_the_wrong_context_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out, fsync=False)

    async def main() -> None:
        async with serving(scp) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            ct = assoc.context_for(CTImageStorage)
            ds = make_dataset(MRImageStorage)
            request = CStoreRQ(
                message_id=5,
                affected_sop_class_uid=MRImageStorage,
                affected_sop_instance_uid=str(ds.SOPInstanceUID),
            )
            from dimse.datasets import encode_dataset

            rsp = await assoc._request(ct, request, encode_dataset(ds, ct.transfer_syntax))
            assert rsp.status == StorageStatus.SOP_CLASS_NOT_SUPPORTED
            await assoc.release()

    run(main())
    assert listing(out) == []  # refused: nothing written under the instance's name


@pytest.mark.parametrize("problem", ["hostile-uid", "directory-gone"])
def test_store_sink_failure_is_out_of_resources(tmp_path: Path, problem: str) -> None:
    out = tmp_path / "out"
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out, fsync=False)

    async def main() -> None:
        async with serving(scp) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            ds = make_dataset(CTImageStorage)
            if problem == "hostile-uid":
                with pytest.warns(UserWarning, match="Invalid value for VR UI"):
                    ds.SOPInstanceUID = "1.02.3"  # a leading zero: never a file name
            else:
                out.rmdir()
            rsp = await assoc.send_c_store(ds)
            assert rsp.status in StorageStatus.OUT_OF_RESOURCES.range
            assert (await assoc.send_c_echo()).status == 0  # the association goes on
            await assoc.release()

    run(main())
    assert not out.exists() or listing(out) == []


def test_dimse_service_without_behaviour_gets_a_failure_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A C-FIND on a context whose service class has no C-FIND behaviour installed is
    answered with a failure status, not an abort (dimse.scp_qr installs one: it is
    taken away here)."""
    from dimse import scp, scp_move, scp_qr  # noqa: F401 - loaded, so not reinstalled
    from dimse.messages import CFindRQ
    from dimse.sop_classes import ProtocolApprovalInformationModelFind as PA_FIND

    monkeypatch.delitem(scp._BEHAVIOUR, "C-FIND")

    scp = scp_ae()
    scp.add_supported_context(PA_FIND)

    async def main() -> None:
        async with serving(scp) as server:
            assoc = await scu_ae(PA_FIND).associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            context = assoc.context_for(PA_FIND)
            identifier = Dataset()
            identifier.PatientName = "*"
            from dimse.datasets import encode_dataset

            request = CFindRQ(message_id=3, affected_sop_class_uid=PA_FIND)
            rsp = await assoc._request(
                context, request, encode_dataset(identifier, context.transfer_syntax)
            )
            assert rsp.status == VerificationStatus.UNRECOGNIZED_OPERATION  # PS3.7 C.5.6
            assert (await assoc.send_c_echo()).status == 0
            await assoc.release()

    run(main())


def test_concurrent_requests_on_one_association(tmp_path: Path) -> None:
    """Requests issued together on one association (asynchronous window 1) go out one
    after another: a streamed file is never interleaved with another message."""
    big = write_part10(
        tmp_path / "big.dcm", with_pixels(make_dataset(CTImageStorage), 12 << 20, b"\x42")
    )
    out = tmp_path / "out"
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out, fsync=False)

    def small_buffers(event: evt.Event) -> None:
        # The streamed send must wait for the socket (and so let the others run).
        link = event.assoc.link
        assert link is not None and link.transport is not None
        link.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 65536
        )
        link.transport.set_write_buffer_limits(high=65536, low=16384)

    async def main() -> list[int]:
        async with serving(scp) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1",
                server.port,
                "DIMSE-SCP",
                evt_handlers=[(evt.EVT_CONN_OPEN, small_buffers)],
            )
            small = [make_dataset(CTImageStorage) for _ in range(3)]
            results = await asyncio.gather(
                assoc.send_c_store(big),
                *(assoc.send_c_store(ds) for ds in small),
                assoc.send_c_echo(),
            )
            await assoc.release()
            return [r.status for r in results]

    assert run(main()) == [0, 0, 0, 0, 0]
    assert len(listing(out)) == 4


def test_a_store_nobody_keeps_is_refused_not_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No EVT_C_STORE handler and no store_sink: Success would tell the peer it may delete
    its copy of an instance nobody kept. It is refused (0xC000, Cannot understand, as for
    an unbound C-FIND/C-GET/C-MOVE) with a warning; a handler or a sink accepts it."""
    sink_scp = scp_ae("SINK-SCP")
    sink_scp.store_sink = StoreToDirectory(tmp_path / "kept", fsync=False)

    async def store(scp: Any, handlers: list[evt.HandlerBinding]) -> int:
        async with serving(scp, evt_handlers=handlers) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            status = (await assoc.send_c_store(make_dataset(CTImageStorage))).status
            await assoc.release()
            return status

    assert run(store(scp_ae(), [])) == StorageStatus.CANNOT_UNDERSTAND
    assert "no handler bound to EVT_C_STORE and no store_sink" in caplog.text
    assert run(store(scp_ae(), [ACCEPT_STORES])) == StorageStatus.SUCCESS
    assert run(store(sink_scp, [])) == StorageStatus.SUCCESS
    assert len(list((tmp_path / "kept").iterdir())) == 1


def test_a_handler_written_for_pynetdicom_reads_its_names(tmp_path: Path) -> None:
    """pynetdicom's spellings: request fields by PS3.7 keyword, assoc.requestor/acceptor."""
    seen: dict[str, Any] = {}

    def handle_store(event: Any) -> int:  # as pynetdicom's documentation writes it
        request, assoc = event.request, event.assoc
        seen.update(
            uid=request.AffectedSOPInstanceUID,
            sop_class=request.AffectedSOPClassUID,
            message_id=request.MessageID,
            priority=request.Priority,
            originator=request.MoveOriginatorApplicationEntityTitle,
            calling=assoc.requestor.ae_title,
            address=assoc.requestor.address,
            called=assoc.acceptor.ae_title,
            peer_uid=assoc.requestor.implementation_class_uid,
        )
        return 0x0000

    async def main() -> tuple[Any, Any]:
        async with serving(scp_ae(), evt_handlers=[(evt.EVT_C_STORE, handle_store)]) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            ds = make_dataset(CTImageStorage)
            rsp = await assoc.send_c_store(ds)
            sides = (assoc.requestor, assoc.acceptor)
            await assoc.release()
            assert rsp.Status == 0 and rsp.MessageIDBeingRespondedTo == seen["message_id"]
            assert seen["uid"] == ds.SOPInstanceUID
            return sides, server.port

    (requestor, acceptor), port = run(main())
    assert seen["sop_class"] == CTImageStorage and seen["priority"] == 0  # MEDIUM (PS3.7)
    assert seen["originator"] is None  # not a C-MOVE sub-operation
    assert (seen["calling"], seen["called"], seen["address"]) == (
        "DIMSE-SCU",
        "DIMSE-SCP",
        "127.0.0.1",
    )
    assert seen["peer_uid"] == requestor.implementation_class_uid
    assert (requestor.ae_title, acceptor.ae_title) == ("DIMSE-SCU", "DIMSE-SCP")
    assert acceptor.port == port
