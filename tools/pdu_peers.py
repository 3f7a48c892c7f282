"""What the capture scenarios share: UIDs, test datasets, the registry, peer helpers.

A scenario gets a fresh `Harness`, starts its acceptor(s), points the requestor at a
recording proxy and returns; the harness then collects the PDUs. `expect` lists the PDU
types a scenario must produce, so a silently failing peer is caught.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.pdu_harness import Harness, ScenarioError, free_port, stable_uid

RQ, AC, RJ, DATA, RELEASE_RQ, RELEASE_RP, ABORT = 1, 2, 3, 4, 5, 6, 7
ASSOCIATE_AND_RELEASE = frozenset({RQ, AC, DATA, RELEASE_RQ, RELEASE_RP})

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
PROCEDURE_LOG = "1.2.840.10008.5.1.4.1.1.88.40"
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
STORAGE_SERVICE_CLASS = "1.2.840.10008.4.2"
VERIFICATION = "1.2.840.10008.1.1"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_2000 = "1.2.840.10008.1.2.4.91"
PRIVATE_SOP_CLASS = stable_uid("private SOP class nobody supports")

# PS3.4 B.3.1.1 storage application information: level 2, signature level 3, no coercion.
STORAGE_EXT_NEG = bytes.fromhex("020003000000")


@dataclass(frozen=True)
class Scenario:
    """A named exchange between real peers."""

    name: str
    summary: str
    expect: frozenset[int]
    run: Callable[[Harness], None]


SCENARIOS: list[Scenario] = []


def scenario(
    name: str, summary: str, expect: frozenset[int] | set[int]
) -> Callable[[Callable[[Harness], None]], Callable[[Harness], None]]:
    """Register a scenario function."""

    def register(func: Callable[[Harness], None]) -> Callable[[Harness], None]:
        SCENARIOS.append(Scenario(name, summary, frozenset(expect), func))
        return func

    return register


# -- test datasets ---------------------------------------------------------------------


STUDY_UID = stable_uid("golden study")


def make_datasets(directory: Path) -> dict[str, Path]:
    """Write small CT, MR and 8-bit SC images (Explicit VR LE files) to `directory`."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian

    specs = {
        # name: (SOP class, modality, rows/columns, bits, series number)
        "ct": (CT_STORAGE, "CT", 64, 16, 1),
        "mr": (MR_STORAGE, "MR", 16, 16, 2),
        "sc": (SC_STORAGE, "OT", 16, 8, 3),
    }
    paths: dict[str, Path] = {}
    for name, (sop_class, modality, size, bits, series) in specs.items():
        ds = Dataset()
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = stable_uid(f"golden {name} instance")
        ds.StudyInstanceUID = STUDY_UID
        ds.SeriesInstanceUID = stable_uid(f"golden {name} series")
        ds.PatientName = "GOLDEN^PDU"
        ds.PatientID = "GOLDEN-1"
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "O"
        ds.StudyDate = "20240101"
        ds.StudyTime = "120000"
        ds.StudyID = "1"
        ds.AccessionNumber = "A1"
        ds.Modality = modality
        ds.SeriesNumber = series
        ds.InstanceNumber = 1
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = size
        ds.Columns = size
        ds.BitsAllocated = bits
        ds.BitsStored = bits
        ds.HighBit = bits - 1
        ds.PixelRepresentation = 0
        ds.PixelData = bytes((i * 7) % 251 for i in range(size * size * bits // 8))
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(sop_class)
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        path = directory / f"{name}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths[name] = path
    return paths


# -- dcmtk helpers ---------------------------------------------------------------------

DCMTK_SCU_TIMEOUTS = ("-to", "10", "-ta", "10", "-td", "10")


def storescp(h: Harness, *extra: str) -> int:
    """Start dcmtk storescp (default: uncompressed only) and return its port."""
    port = free_port()
    out = h.tmp / f"storescp-{port}"
    out.mkdir()
    h.spawn(h.dcmtk_cmd("storescp", "-ta", 10, "-td", 10, "-od", out, *extra, port), port)
    return port


def dcmqrscp(h: Harness, move_destination_port: int | None = None) -> int:
    """Start dcmtk dcmqrscp holding the test datasets; return its port."""
    port = free_port()
    db = h.tmp / "qrdb"
    db.mkdir()
    hosts = ""
    if move_destination_port is not None:
        hosts = f"movescu = (MOVESCU, 127.0.0.1, {move_destination_port})\n"
    config = h.tmp / "dcmqrscp.cfg"
    config.write_text(
        f"NetworkTCPPort  = {port}\nMaxPDUSize      = 16384\nMaxAssociations = 4\n"
        f"HostTable BEGIN\n{hosts}HostTable END\n"
        "VendorTable BEGIN\nVendorTable END\n"
        f"AETable BEGIN\nQRSCP {db} RW (16, 16mb) ANY\nAETable END\n"
    )
    files = [str(h.datasets[name]) for name in ("ct", "mr")]
    h.run(h.dcmtk_cmd("dcmqridx", db, *files))
    # Forking mode: dcmtk 3.6.7's --single-process mode crashes after one association.
    h.spawn(h.dcmtk_cmd("dcmqrscp", "-c", config, "-ta", 10, "-td", 10), port)
    return port


# -- pynetdicom helpers ----------------------------------------------------------------


def pn_ae(ae_title: str) -> Any:
    """A pynetdicom AE with short timeouts."""
    from pynetdicom import AE

    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    ae = AE(ae_title=ae_title)
    ae.acse_timeout = 10
    ae.dimse_timeout = 10
    ae.network_timeout = 10
    return ae


def pn_serve(h: Harness, ae: Any, handlers: list[tuple[Any, Any]]) -> int:
    """Start `ae` as an in-process server on a free port; return the port."""
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    h.on_close(server.shutdown)
    return int(server.server_address[1])


def pn_echo_and_release(assoc: Any, abort: bool = False) -> None:
    """C-ECHO on an established association, then release (or abort)."""
    if not assoc.is_established:
        raise ScenarioError("pynetdicom association was not established")
    if any(cx.abstract_syntax == VERIFICATION for cx in assoc.accepted_contexts):
        status = assoc.send_c_echo()
        if not status or status.Status != 0:
            raise ScenarioError(f"C-ECHO failed: {status}")
    if abort:
        assoc.abort()
    else:
        assoc.release()


def store_handler(event: Any) -> int:
    return 0x0000


def storage_scp(ae_title: str, contexts: list[str]) -> Any:
    """A pynetdicom AE accepting `contexts` (uncompressed) and C-STORE/C-ECHO."""
    ae = pn_ae(ae_title)
    for uid in contexts:
        ae.add_supported_context(uid, [EXPLICIT_LE, IMPLICIT_LE])
    return ae


def handlers(**extra: Callable[..., Any]) -> list[tuple[Any, Any]]:
    from pynetdicom import evt

    handlers: list[tuple[Any, Any]] = [(evt.EVT_C_STORE, store_handler)]
    for name, func in extra.items():
        handlers.append((getattr(evt, name), func))
    return handlers
