"""pynetdicom <-> dimse over 127.0.0.1, both directions.

pynetdicom runs in worker threads of this process (its own blocking API) or, where it
must die mid-transfer, in a subprocess; the dimse side runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pydicom
import pytest
from _rt_net import (
    ACCEPT_STORES,
    after_meta,
    listing,
    make_dataset,
    run,
    scp_ae,
    scu_ae,
    serving,
    until,
    with_pixels,
    write_part10,
)
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
)

from dimse import evt
from dimse.ae import StoreToDirectory
from dimse.datasets import encode_dataset
from dimse.errors import AssociationAborted, AssociationRejected, UsageError
from dimse.negotiation import RejectReason, RejectResult, RejectSource
from dimse.pdu import PDUType
from dimse.sop_classes import HangingProtocolStorage
from dimse.statuses import StorageStatus

pynetdicom = pytest.importorskip("pynetdicom")
VERIFICATION = "1.2.840.10008.1.1"
PEER_TIMEOUT = 20
CALLED = RejectReason.CALLED_AE_TITLE_NOT_RECOGNIZED
CALLING = RejectReason.CALLING_AE_TITLE_NOT_RECOGNIZED


def _pyn_ae(title: str, *requested: str) -> Any:
    ae = pynetdicom.AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = PEER_TIMEOUT
    for uid in requested:
        ae.add_requested_context(uid, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    return ae


def _with_meta(ds: Dataset, syntax: str = ExplicitVRLittleEndian) -> Dataset:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    return ds


# -- pynetdicom SCU -> dimse SCP ------------------------------------------------------------


def test_pynetdicom_scu_to_dimse(tmp_path: Path) -> None:
    source = write_part10(tmp_path / "ct.dcm", make_dataset(CTImageStorage))
    warn = _with_meta(make_dataset(MRImageStorage))
    broken = _with_meta(make_dataset(HangingProtocolStorage, HangingProtocolName="HP"))
    out = tmp_path / "out"
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out, fsync=False)

    def on_store(event: evt.Event) -> Any:
        ds = event.dataset
        if ds.SOPInstanceUID == warn.SOPInstanceUID:
            answer = Dataset()
            answer.Status = int(StorageStatus.COERCION_OF_DATA_ELEMENTS)
            answer.ErrorComment = "coerced"
            return answer
        if ds.SOPClassUID == HangingProtocolStorage:
            raise RuntimeError("handler failure")
        return 0

    def client(port: int) -> dict[str, Any]:
        ae = _pyn_ae("PYN-SCU", VERIFICATION, CTImageStorage, MRImageStorage)
        ae.add_requested_context(HangingProtocolStorage)
        assoc = ae.associate("127.0.0.1", port, ae_title="DIMSE-SCP")
        assert assoc.is_established
        try:
            return {
                "echo": assoc.send_c_echo(),
                "file": assoc.send_c_store(source),  # pynetdicom streams the file as is
                "warn": assoc.send_c_store(warn),
                "broken": assoc.send_c_store(broken),
            }
        finally:
            assoc.release()

    callers: list[str] = []

    async def main() -> dict[str, Any]:
        handlers = [
            (evt.EVT_C_STORE, on_store),
            (evt.EVT_ESTABLISHED, lambda e: callers.append(e.assoc.negotiated.peer_ae_title)),
        ]
        async with serving(scp, evt_handlers=handlers) as server:
            return await asyncio.to_thread(client, server.port)

    results = run(main())
    assert callers == ["PYN-SCU"]
    assert results["echo"].Status == 0
    assert results["file"].Status == StorageStatus.SUCCESS
    assert results["warn"].Status == StorageStatus.COERCION_OF_DATA_ELEMENTS
    assert results["warn"].ErrorComment == "coerced"
    assert results["broken"].Status == StorageStatus.HANDLER_EXCEPTION
    stored = out / str(pydicom.dcmread(source).SOPInstanceUID)
    assert after_meta(stored.read_bytes()) == after_meta(source.read_bytes())
    assert pydicom.dcmread(out / str(warn.SOPInstanceUID)).SOPInstanceUID == warn.SOPInstanceUID


@pytest.mark.parametrize(
    ("setting", "called", "calling", "reason"),
    [
        ("require_called_aet", "NOT-DIMSE", "PYN-SCU", CALLED),
        ("require_calling_aet", "DIMSE-SCP", "STRANGER", CALLING),
    ],
)
def test_pynetdicom_scu_sees_ae_title_rejection(
    setting: str, called: str, calling: str, reason: RejectReason
) -> None:
    scp = scp_ae()
    setattr(scp, setting, True if setting == "require_called_aet" else ["PYN-SCU"])

    def client(port: int) -> tuple[int, int, int]:
        assoc = _pyn_ae(calling, VERIFICATION).associate("127.0.0.1", port, ae_title=called)
        assert assoc.is_rejected and not assoc.is_established
        rj = assoc.acceptor.primitive
        return int(rj.result), int(rj.result_source), int(rj.diagnostic)

    async def main() -> tuple[int, int, int]:
        async with serving(scp) as server:
            return await asyncio.to_thread(client, server.port)

    assert run(main()) == (RejectResult.PERMANENT, reason.source, reason.code)


def test_pynetdicom_scu_sees_rejected_context() -> None:
    scp = scp_ae(storage=False)
    scp.add_supported_context(CTImageStorage)

    def client(port: int) -> list[str]:
        assoc = _pyn_ae("PYN-SCU", CTImageStorage, MRImageStorage).associate(
            "127.0.0.1", port, ae_title="DIMSE-SCP"
        )
        assert assoc.is_established
        try:
            rejected = [str(cx.abstract_syntax) for cx in assoc.rejected_contexts]
            with pytest.raises(ValueError):
                assoc.send_c_store(_with_meta(make_dataset(MRImageStorage)))
            assert assoc.send_c_store(_with_meta(make_dataset(CTImageStorage))).Status == 0
            return rejected
        finally:
            assoc.release()

    async def main() -> list[str]:
        async with serving(scp, evt_handlers=[ACCEPT_STORES]) as server:
            return await asyncio.to_thread(client, server.port)

    assert run(main()) == [MRImageStorage]


_DYING_SCU = """
import sys
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE

ds = Dataset()
ds.file_meta = FileMetaDataset()
ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds.SOPClassUID = CTImageStorage
ds.SOPInstanceUID = generate_uid()
ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 4096, 4096, 16, 16, 15
ds.SamplesPerPixel, ds.PixelRepresentation = 1, 0
ds.PhotometricInterpretation = "MONOCHROME2"
ds.PixelData = bytes(4096 * 4096 * 2)
ae = AE("PYN-DYING")
ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
assoc = ae.associate("127.0.0.1", int(sys.argv[1]), ae_title="DIMSE-SCP")
assoc.send_c_store(ds)
"""


def test_pynetdicom_scu_dying_mid_transfer_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out, fsync=False)
    holder: dict[str, Any] = {"data": 0}

    def on_pdu(event: evt.Event) -> None:
        if getattr(event.pdu, "pdu_type", None) == PDUType.P_DATA_TF:
            holder["data"] += 1
            # Kill it once the temporary file exists (the disk worker creates it with
            # the first batch of data), long before the 32 MiB are through.
            started = any(name.endswith(".part") for name in listing(out))
            if holder["data"] >= 3 and "killed" not in holder and started:
                holder["killed"] = True
                holder["proc"].kill()

    async def main() -> None:
        async with serving(scp, evt_handlers=[(evt.EVT_PDU_RECV, on_pdu)]) as server:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _DYING_SCU,
                str(server.port),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            holder["proc"] = proc
            await asyncio.wait_for(proc.wait(), 60)
            assert holder["data"] >= 3, "the transfer never started"
            await until(lambda: not server.active_associations)
            assert listing(out) == []
            # and the server keeps serving
            ds = make_dataset(CTImageStorage)
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            assert (await assoc.send_c_store(ds)).status == 0
            await assoc.release()
            assert listing(out) == [str(ds.SOPInstanceUID)]

    run(main(), timeout=90)


# -- dimse SCU -> pynetdicom SCP ------------------------------------------------------------


class PynetdicomSCP:
    """A pynetdicom Storage SCP in its own threads; records what each C-STORE carried."""

    def __init__(self, *supported: str, **settings: Any) -> None:
        self.ae = pynetdicom.AE(ae_title="PYN-SCP")
        self.ae.acse_timeout = self.ae.dimse_timeout = self.ae.network_timeout = PEER_TIMEOUT
        for key, value in settings.items():
            setattr(self.ae, key, value)
        self.ae.add_supported_context(VERIFICATION)
        for uid in supported:
            self.ae.add_supported_context(uid, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        self.received: dict[str, tuple[str, bytes]] = {}
        self.answers: dict[str, Any] = {}
        self.abort_on: set[str] = set()
        self.server = self.ae.start_server(
            ("127.0.0.1", 0),
            block=False,
            evt_handlers=[(pynetdicom.evt.EVT_C_STORE, self.on_store)],
        )
        self.port = int(self.server.server_address[1])

    def on_store(self, event: Any) -> Any:
        uid = str(event.request.AffectedSOPInstanceUID)
        if uid in self.abort_on:
            event.assoc.abort()
            return 0
        raw = event.request.DataSet.getvalue()
        self.received[uid] = (str(event.context.transfer_syntax), raw)
        return self.answers.get(uid, 0)

    def __enter__(self) -> PynetdicomSCP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


def test_dimse_scu_to_pynetdicom_scp(tmp_path: Path) -> None:
    source = write_part10(
        tmp_path / "ct.dcm", with_pixels(make_dataset(CTImageStorage), 300_000, b"\x12\x34")
    )
    file_uid = str(pydicom.dcmread(source, stop_before_pixels=True).SOPInstanceUID)
    mr = make_dataset(MRImageStorage)
    hp = make_dataset(HangingProtocolStorage, HangingProtocolName="HP")
    with PynetdicomSCP(CTImageStorage, MRImageStorage, HangingProtocolStorage) as peer:
        failure = Dataset()
        failure.Status = int(StorageStatus.OUT_OF_RESOURCES)
        failure.ErrorComment = "no space"
        peer.answers[str(hp.SOPInstanceUID)] = failure
        peer.answers[str(mr.SOPInstanceUID)] = int(StorageStatus.ELEMENTS_DISCARDED)

        async def main() -> dict[str, bytes]:
            scu = scu_ae(CTImageStorage, MRImageStorage, HangingProtocolStorage)
            assoc = await scu.associate_async("127.0.0.1", peer.port, "PYN-SCP")
            sent = {file_uid: after_meta(source.read_bytes())}
            assert (await assoc.send_c_echo()).status == 0
            assert (await assoc.send_c_store(source)).status == StorageStatus.SUCCESS
            rsp = await assoc.send_c_store(mr)
            assert rsp.status == StorageStatus.ELEMENTS_DISCARDED
            rsp = await assoc.send_c_store(hp)
            assert rsp.status == StorageStatus.OUT_OF_RESOURCES
            assert rsp.error_comment == "no space"
            for ds in (mr, hp):
                syntax = assoc.context_for(str(ds.SOPClassUID)).transfer_syntax
                sent[str(ds.SOPInstanceUID)] = encode_dataset(ds, syntax)
            await assoc.release()
            assert assoc.is_released
            return sent

        sent = run(main())
    assert {uid: raw for uid, (_, raw) in peer.received.items()} == sent
    assert peer.received[file_uid][0] == ExplicitVRLittleEndian


@pytest.mark.parametrize(
    ("settings", "called", "calling", "reason"),
    [
        ({"require_called_aet": True}, "SOMEONE", "DIMSE-SCU", CALLED),
        ({"require_calling_aet": ["FRIEND"]}, "PYN-SCP", "STRANGER", CALLING),
    ],
)
def test_dimse_scu_sees_pynetdicom_ae_title_rejection(
    settings: dict[str, Any], called: str, calling: str, reason: RejectReason
) -> None:
    with PynetdicomSCP(CTImageStorage, **settings) as peer:

        async def main() -> None:
            with pytest.raises(AssociationRejected) as caught:
                await scu_ae(title=calling).associate_async("127.0.0.1", peer.port, called)
            assert caught.value.result == RejectResult.PERMANENT
            assert caught.value.source == RejectSource.SERVICE_USER
            assert caught.value.reason == reason.code

        run(main())


def test_dimse_scu_sees_pynetdicom_rejected_context() -> None:
    with PynetdicomSCP(CTImageStorage) as peer:

        async def main() -> None:
            scu = scu_ae(CTImageStorage, MRImageStorage)
            assoc = await scu.associate_async("127.0.0.1", peer.port, "PYN-SCP")
            assert [c.abstract_syntax for c in assoc.rejected_contexts] == [MRImageStorage]
            with pytest.raises(UsageError, match=MRImageStorage):
                await assoc.send_c_store(make_dataset(MRImageStorage))
            assert (await assoc.send_c_store(make_dataset(CTImageStorage))).status == 0
            await assoc.release()

        run(main())


def test_pynetdicom_scp_aborting_in_its_handler() -> None:
    ds = with_pixels(make_dataset(CTImageStorage), 500_000)
    with PynetdicomSCP(CTImageStorage) as peer:
        peer.abort_on.add(str(ds.SOPInstanceUID))

        async def main() -> None:
            seen: list[str] = []
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1",
                peer.port,
                "PYN-SCP",
                evt_handlers=[(evt.EVT_ABORTED, lambda e: seen.append("aborted"))],
            )
            with pytest.raises(AssociationAborted):
                await assoc.send_c_store(ds)
            assert assoc.is_aborted and not assoc.is_released
            await asyncio.wait_for(assoc.wait_closed(), 10)
            assert seen == ["aborted"]

        run(main())
