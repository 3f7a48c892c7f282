"""dcmtk <-> dimse over 127.0.0.1, both directions.

dcmtk echoscu/storescu talk to a dimse SCP served from this process; a dimse SCU talks
to dcmtk storescp (``+B``: it writes the data set exactly as received, after its own
File Meta group, so the bytes after the meta group are compared with what was sent).
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from pathlib import Path
from typing import Any

import pydicom
import pytest
from _interop_peers import DcmtkServer, received_file, requires_dcmtk, run_tool, tool, tool_env
from _rt_net import (
    after_meta,
    listing,
    make_certificates,
    make_dataset,
    run,
    scp_ae,
    scu_ae,
    serving,
    until,
    with_pixels,
    write_part10,
)
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
)

from dimse import evt
from dimse.ae import StoreToDirectory
from dimse.datasets import encode_dataset
from dimse.errors import AssociationAborted, AssociationRejected
from dimse.negotiation import ContextResult, RejectReason, RejectResult, RejectSource
from dimse.pdu import PDUType
from dimse.sop_classes import HangingProtocolStorage
from dimse.statuses import StorageStatus

pytestmark = requires_dcmtk
MODALITY_WORKLIST_FIND = "1.2.840.10008.5.1.4.31"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("pki"))


# -- dcmtk SCU -> dimse SCP -----------------------------------------------------------------


def test_echoscu_to_dimse() -> None:
    callers: list[str] = []

    def on_echo(event: evt.Event) -> int:
        callers.append(event.assoc.negotiated.peer_ae_title)
        return 0

    async def main() -> None:
        async with serving(scp_ae(), evt_handlers=[(evt.EVT_C_ECHO, on_echo)]) as server:
            code, out = await run_tool(
                "echoscu", "-aet", "ECHO-ME", "-aec", "DIMSE-SCP", "127.0.0.1", str(server.port)
            )
            assert code == 0, out
            code, out = await run_tool(
                "echoscu", "--repeat", "3", "--abort", "127.0.0.1", str(server.port)
            )
            assert code == 0, out

    run(main())
    assert callers == ["ECHO-ME", "ECHOSCU", "ECHOSCU", "ECHOSCU"]


@pytest.mark.parametrize(
    ("setting", "args", "expected"),
    [
        ("require_called_aet", ["-aec", "NOT-DIMSE"], "Called AE Title Not Recognized"),
        ("require_calling_aet", ["-aet", "STRANGER"], "Calling AE Title Not Recognized"),
    ],
)
def test_echoscu_sees_ae_title_rejection(setting: str, args: list[str], expected: str) -> None:
    scp = scp_ae()
    setattr(scp, setting, True if setting == "require_called_aet" else ["FRIEND"])

    async def main() -> None:
        async with serving(scp) as server:
            code, out = await run_tool("echoscu", *args, "127.0.0.1", str(server.port))
            assert code != 0
            assert "Association Rejected" in out and expected in out, out
            assert "Rejected Permanent" in out and "Service User" in out, out

    run(main())


def test_storescu_to_dimse_is_byte_exact(tmp_path: Path) -> None:
    """Several storage classes, one Non-Patient Object, explicit and implicit VR files:
    the stored file holds exactly the data set bytes of the file storescu sent."""
    sources = tmp_path / "sources"
    sources.mkdir()
    datasets = [
        (make_dataset(CTImageStorage), ExplicitVRLittleEndian),
        (with_pixels(make_dataset(MRImageStorage), 300_000, b"\x07\x70"), ExplicitVRLittleEndian),
        (make_dataset(SecondaryCaptureImageStorage), ImplicitVRLittleEndian),
        (make_dataset(HangingProtocolStorage, HangingProtocolName="HP"), ExplicitVRLittleEndian),
    ]
    files = [
        write_part10(sources / f"{n}.dcm", ds, syntax) for n, (ds, syntax) in enumerate(datasets)
    ]
    out = tmp_path / "out"
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out, fsync=False)
    classes: list[str] = []

    def on_store(event: evt.Event) -> int:
        assert event.context is not None and event.path is not None
        classes.append(event.context.abstract_syntax)
        return int(StorageStatus.SUCCESS)

    async def main() -> None:
        async with serving(scp, evt_handlers=[(evt.EVT_C_STORE, on_store)]) as server:
            code, out_text = await run_tool(
                "storescu", "-R", "-aec", "DIMSE-SCP", "127.0.0.1", str(server.port),
                *map(str, files),
            )  # fmt: skip
            assert code == 0, out_text

    run(main())
    assert sorted(classes) == sorted(str(ds.SOPClassUID) for ds, _ in datasets)
    assert listing(out) == sorted(str(ds.SOPInstanceUID) for ds, _ in datasets)
    for (ds, syntax), source in zip(datasets, files, strict=True):
        stored = out / str(ds.SOPInstanceUID)
        assert after_meta(stored.read_bytes()) == after_meta(source.read_bytes())
        assert pydicom.dcmread(stored).file_meta.TransferSyntaxUID == syntax


def test_storescu_sees_rejected_context(tmp_path: Path) -> None:
    scp = scp_ae(storage=False)
    scp.add_supported_context(CTImageStorage)
    scp.store_sink = StoreToDirectory(tmp_path / "out", fsync=False)
    mr = write_part10(tmp_path / "mr.dcm", make_dataset(MRImageStorage))

    async def main() -> None:
        async with serving(scp) as server:
            code, out = await run_tool("storescu", "127.0.0.1", str(server.port), str(mr))
            assert code != 0
            assert "No presentation context" in out and MRImageStorage in out, out

    run(main())
    assert listing(tmp_path / "out") == []


def test_storescu_killed_mid_transfer_leaves_no_file(tmp_path: Path) -> None:
    big = with_pixels(make_dataset(CTImageStorage), 32 << 20, b"\x01\x02\x03")
    source = write_part10(tmp_path / "big.dcm", big)
    small_ds = make_dataset(CTImageStorage)
    small = write_part10(tmp_path / "small.dcm", small_ds)
    out = tmp_path / "out"
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out, fsync=False)
    holder: dict[str, Any] = {"data": 0}
    aborted: list[str] = []

    def on_pdu(event: evt.Event) -> None:
        if getattr(event.pdu, "pdu_type", None) == PDUType.P_DATA_TF:
            holder["data"] += 1
            # Kill it once the temporary file exists (the disk worker creates it with
            # the first batch of data), long before the 32 MiB are through.
            started = any(name.endswith(".part") for name in listing(out))
            if holder["data"] >= 3 and "proc" in holder and "killed" not in holder and started:
                holder["killed"] = True
                holder["proc"].kill()

    async def main() -> None:
        handlers = [
            (evt.EVT_PDU_RECV, on_pdu),
            (evt.EVT_ABORTED, lambda e: aborted.append("aborted")),
        ]
        async with serving(scp, evt_handlers=handlers) as server:
            proc = await asyncio.create_subprocess_exec(
                tool("storescu"),
                "127.0.0.1",
                str(server.port),
                str(source),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env=tool_env(),
            )
            holder["proc"] = proc
            await asyncio.wait_for(proc.wait(), 60)
            assert proc.returncode != 0  # killed
            await until(lambda: not server.active_associations)
            assert listing(out) == []
            code, text = await run_tool("storescu", "127.0.0.1", str(server.port), str(small))
            assert code == 0, text

    run(main(), timeout=90)
    assert holder["data"] >= 3
    assert aborted == ["aborted"]
    assert listing(out) == [str(small_ds.SOPInstanceUID)]


def test_storescu_over_tls_to_dimse(certs: dict[str, Path], tmp_path: Path) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certs["server.pem"], certs["server.key"])
    server_ctx.load_verify_locations(certs["ca.pem"])
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    ds = make_dataset(CTImageStorage)
    source = write_part10(tmp_path / "ct.dcm", ds)
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(tmp_path / "out", fsync=False)

    async def main() -> None:
        async with serving(scp, tls=server_ctx) as server:
            code, out = await run_tool(
                "storescu",
                "+tls", str(certs["client.key"]), str(certs["client.pem"]),
                "-pw", "+cf", str(certs["ca.pem"]),
                "127.0.0.1", str(server.port), str(source),
            )  # fmt: skip
            assert code == 0, out

    run(main())
    stored = tmp_path / "out" / str(ds.SOPInstanceUID)
    assert after_meta(stored.read_bytes()) == after_meta(source.read_bytes())


# -- dimse SCU -> dcmtk storescp ------------------------------------------------------------


STORESCP_CONFIG = f"""\
[[TransferSyntaxes]]
[Uncompressed]
TransferSyntax1 = LittleEndianExplicit
TransferSyntax2 = LittleEndianImplicit

[[PresentationContexts]]
[Contexts]
PresentationContext1 = VerificationSOPClass\\Uncompressed
PresentationContext2 = {CTImageStorage}\\Uncompressed
PresentationContext3 = {MRImageStorage}\\Uncompressed
PresentationContext4 = {HangingProtocolStorage}\\Uncompressed

[[Profiles]]
[Default]
PresentationContexts = Contexts
"""


def _storescp(tmp_path: Path, *extra: str) -> DcmtkServer:
    out = tmp_path / "storescp-out"
    out.mkdir(exist_ok=True)
    return DcmtkServer(
        "storescp",
        ["-aet", "STORESCP", "-od", str(out), "+B", "-ta", "20", "-ts", "30", *extra],
        tmp_path / "storescp.log",
    )


def test_dimse_to_storescp_is_byte_exact(tmp_path: Path) -> None:
    passthrough = make_dataset(CTImageStorage)
    source = write_part10(tmp_path / "ct.dcm", passthrough)
    # a known tag carried as UN: only an untouched byte stream keeps it that way
    source.write_bytes(source.read_bytes() + b"\x40\x00\x54\x02UN\x00\x00\x04\x00\x00\x00ABCD")
    datasets = [
        make_dataset(MRImageStorage),
        with_pixels(make_dataset(CTImageStorage), 200_000, b"\x11\x22"),
        make_dataset(HangingProtocolStorage, HangingProtocolName="HP"),
    ]
    sent: dict[str, bytes] = {str(passthrough.SOPInstanceUID): after_meta(source.read_bytes())}
    # dcmtk 3.6.7 does not accept Non-Patient Object Storage classes unless told to
    config = tmp_path / "storescp.cfg"
    config.write_text(STORESCP_CONFIG)
    with _storescp(tmp_path, "-xf", str(config), "Default") as peer:

        async def main() -> None:
            scu = scu_ae(CTImageStorage, MRImageStorage, HangingProtocolStorage)
            assoc = await scu.associate_async("127.0.0.1", peer.port, "STORESCP")
            assert (await assoc.send_c_echo()).status == 0
            assert (await assoc.send_c_store(source)).status == StorageStatus.SUCCESS
            for ds in datasets:
                context = assoc.context_for(str(ds.SOPClassUID))
                assert (await assoc.send_c_store(ds)).status == StorageStatus.SUCCESS
                sent[str(ds.SOPInstanceUID)] = encode_dataset(ds, context.transfer_syntax)
            await assoc.release()
            assert assoc.is_released

        run(main())
    for uid, data in sent.items():
        received = received_file(tmp_path / "storescp-out", uid)
        assert after_meta(received.read_bytes()) == data, uid
    received_ct = pydicom.dcmread(received_file(tmp_path / "storescp-out", sent_uid(passthrough)))
    assert received_ct.file_meta.SourceApplicationEntityTitle == "DIMSE-SCU"


def sent_uid(ds: Any) -> str:
    return str(ds.SOPInstanceUID)


def test_storescp_rejects_what_it_does_not_support(tmp_path: Path) -> None:
    with _storescp(tmp_path) as peer:

        async def main() -> None:
            scu = scu_ae(CTImageStorage, MODALITY_WORKLIST_FIND)
            assoc = await scu.associate_async("127.0.0.1", peer.port, "STORESCP")
            (rejected,) = assoc.rejected_contexts
            assert rejected.abstract_syntax == MODALITY_WORKLIST_FIND
            assert rejected.result == ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED
            with pytest.raises(ValueError, match=MRImageStorage):
                await assoc.send_c_store(make_dataset(MRImageStorage))
            assert (await assoc.send_c_store(make_dataset(CTImageStorage))).status == 0
            await assoc.release()

        run(main())


def test_storescp_refusal_seen_by_dimse(tmp_path: Path) -> None:
    with _storescp(tmp_path, "--refuse") as peer:

        async def main() -> None:
            with pytest.raises(AssociationRejected) as caught:
                await scu_ae().associate_async("127.0.0.1", peer.port, "STORESCP")
            assert caught.value.result == RejectResult.PERMANENT
            assert caught.value.source == RejectSource.SERVICE_USER
            assert caught.value.reason == RejectReason.NO_REASON_GIVEN.code

        run(main())


@pytest.mark.parametrize("when", ["--abort-during", "--abort-after"])
def test_storescp_abort_seen_by_dimse(tmp_path: Path, when: str) -> None:
    with _storescp(tmp_path, when) as peer:

        async def main() -> None:
            aborted: list[str] = []
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1",
                peer.port,
                "STORESCP",
                evt_handlers=[(evt.EVT_ABORTED, lambda e: aborted.append("x"))],
            )
            ds = with_pixels(make_dataset(CTImageStorage), 1 << 20)
            with pytest.raises(AssociationAborted):
                await assoc.send_c_store(ds)
            assert assoc.is_aborted and not assoc.is_released
            await asyncio.wait_for(assoc.wait_closed(), 10)
            assert aborted == ["x"]

        run(main())


def test_dimse_over_tls_to_storescp(certs: dict[str, Path], tmp_path: Path) -> None:
    tls = [
        "+tls", str(certs["server.key"]), str(certs["server.pem"]),
        "-pw", "+cf", str(certs["ca.pem"]),
    ]  # fmt: skip
    ds = make_dataset(CTImageStorage)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(certs["ca.pem"])
    client.load_cert_chain(certs["client.pem"], certs["client.key"])
    with _storescp(tmp_path, *tls) as peer:

        async def main() -> None:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", peer.port, "STORESCP", tls=client
            )
            assert (await assoc.send_c_store(ds)).status == 0
            await assoc.release()

        run(main())
    received = received_file(tmp_path / "storescp-out", str(ds.SOPInstanceUID))
    assert after_meta(received.read_bytes()) == encode_dataset(ds, ExplicitVRLittleEndian)


def _deflating_to_odd_length(ds: Any) -> Any:
    """Make the raw deflate stream of ``ds`` odd-length (dcmtk refuses odd fragments,
    so the sender must pad it)."""
    for extra in range(64):
        ds.ImageComments = "and me " * 40 + "x" * extra + "."
        raw = encode_dataset(ds, ExplicitVRLittleEndian)
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        if len(compressor.compress(raw) + compressor.flush()) % 2:
            return ds
    raise AssertionError("no odd-length deflate stream found")


def test_deflated_both_ways(tmp_path: Path) -> None:
    """Deflated Explicit VR Little Endian: dcmtk deflates for a dimse SCP that decodes it,
    and dcmtk storescp decodes what a dimse SCU deflated."""
    ds = make_dataset(CTImageStorage, ImageComments="squeeze me " * 200)
    source = write_part10(tmp_path / "ct.dcm", ds)
    scp = scp_ae(storage=False)
    scp.add_supported_context(CTImageStorage, [DeflatedExplicitVRLittleEndian])
    decoded: list[Any] = []

    def on_store(event: evt.Event) -> int:
        assert event.context is not None
        decoded.append((event.context.transfer_syntax, event.dataset))
        return 0

    async def to_dimse() -> None:
        async with serving(scp, evt_handlers=[(evt.EVT_C_STORE, on_store)]) as server:
            code, out = await run_tool(
                "storescu", "-xd", "-R", "127.0.0.1", str(server.port), str(source)
            )
            assert code == 0, out

    run(to_dimse())
    ((syntax, received),) = decoded
    assert syntax == DeflatedExplicitVRLittleEndian
    assert received == pydicom.dcmread(source)

    other = _deflating_to_odd_length(make_dataset(MRImageStorage))
    assert len(encode_dataset(other, DeflatedExplicitVRLittleEndian)) % 2 == 0  # padded
    with _storescp(tmp_path, "+xd") as peer:

        async def to_dcmtk() -> None:
            scu = scu_ae(MRImageStorage, syntaxes=[DeflatedExplicitVRLittleEndian])
            assoc = await scu.associate_async("127.0.0.1", peer.port, "STORESCP")
            context = assoc.context_for(MRImageStorage)
            assert context.transfer_syntax == DeflatedExplicitVRLittleEndian
            assert (await assoc.send_c_store(other)).status == 0
            await assoc.release()

        run(to_dcmtk())
    stored = pydicom.dcmread(received_file(tmp_path / "storescp-out", str(other.SOPInstanceUID)))
    assert stored.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    assert stored.ImageComments == other.ImageComments
    assert stored.SOPInstanceUID == other.SOPInstanceUID


def test_dcmqrscp_ae_title_rejection_seen_by_dimse(tmp_path: Path) -> None:
    """dcmtk checks called AE titles in dcmqrscp (storescp does not): a wrong one gets
    A-ASSOCIATE-RJ permanent / service user / called-AE-title-not-recognized."""
    if not Path(tool("dcmqrscp")).exists():
        pytest.skip("dcmqrscp is not installed in /usr/bin")
    (tmp_path / "db").mkdir()
    config = tmp_path / "dcmqrscp.cfg"
    config.write_text(
        "MaxPDUSize = 16384\nMaxAssociations = 4\n"
        "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
        f"AETable BEGIN\nQRSCP {tmp_path / 'db'} RW (10, 64mb) ANY\nAETable END\n"
    )
    with DcmtkServer(
        "dcmqrscp", ["-c", str(config), "--single-process"], tmp_path / "dcmqrscp.log"
    ) as peer:

        async def main() -> None:
            with pytest.raises(AssociationRejected) as caught:
                await scu_ae().associate_async("127.0.0.1", peer.port, "NOT-QRSCP")
            assert caught.value.result == RejectResult.PERMANENT
            assert caught.value.source == RejectSource.SERVICE_USER
            assert caught.value.reason == RejectReason.CALLED_AE_TITLE_NOT_RECOGNIZED.code
            assoc = await scu_ae().associate_async("127.0.0.1", peer.port, "QRSCP")
            assert (await assoc.send_c_echo()).status == 0
            await assoc.release()

        run(main())
