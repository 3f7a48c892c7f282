"""Query/Retrieve between dcmtk and dimse over 127.0.0.1, both directions.

dcmtk findscu/getscu/movescu query a dimse SCP served from this process with
in-memory handlers (movescu's destination is dcmtk storescp, or movescu itself); a
dimse SCU queries, gets and moves from dcmtk dcmqrscp, whose storage area is filled
with dcmtk storescu first. Every tool is a child of this test, bounded in time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from _interop_peers import DcmtkServer, free_port, requires_dcmtk, run_tool, tool
from _rt_net import make_dataset, run, scp_ae, serving
from _rt_qr import (
    Archive,
    Received,
    collect,
    failed_uids,
    qr_scp_ae,
    qr_scu_ae,
    query,
    study_instances,
    write_instances,
)
from pydicom.uid import CTImageStorage, MRImageStorage

from dimse import evt
from dimse.statuses import QueryRetrieveFindStatus, QueryRetrieveGetStatus, QueryRetrieveMoveStatus

pytestmark = [
    requires_dcmtk,
    pytest.mark.skipif(
        not all(Path(tool(t)).exists() for t in ("findscu", "getscu", "movescu", "dcmqrscp")),
        reason="dcmtk findscu/getscu/movescu/dcmqrscp are not installed in /usr/bin",
    ),
]


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def _instance_uids(folder: Path) -> list[str]:
    return sorted(str(pydicom.dcmread(p).SOPInstanceUID) for p in _files(folder))


# -- dcmtk SCU -> dimse SCP -----------------------------------------------------------------


@pytest.mark.parametrize("model", ["-P", "-S"])
def test_findscu_against_dimse(tmp_path: Path, model: str) -> None:
    archive = Archive(study_instances(3, PatientID="PX") + study_instances(2, PatientID="PY"))
    out = tmp_path / "rsp"
    out.mkdir()

    async def main() -> tuple[int, str]:
        async with serving(qr_scp_ae(), evt_handlers=archive.handlers()) as server:
            return await run_tool(
                "findscu", model, "-aec", "QR-SCP", "-X", "-od", str(out),
                "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=PX",
                "-k", "StudyInstanceUID", "-k", "PatientName",
                "127.0.0.1", str(server.port),
            )  # fmt: skip

    code, output = run(main())
    assert code == 0, output
    found = [pydicom.dcmread(p) for p in _files(out)]
    assert len(found) == 3
    assert {str(ds.StudyInstanceUID) for ds in found} == {
        str(archive.instances[0].StudyInstanceUID)
    }
    assert all(str(ds.PatientName) == "DOE^JANE" for ds in found)
    assert archive.find_requests[0].PatientID == "PX"


def test_findscu_cancel_against_dimse(tmp_path: Path) -> None:
    archive = Archive(study_instances(200))
    stopped: list[int] = []

    async def slowly(event: evt.Event) -> AsyncIterator[Any]:
        n = 0
        try:
            for n, item in enumerate(archive.on_find(event)):  # noqa: B007
                await asyncio.sleep(0.005)
                yield item
        finally:
            stopped.append(n)

    async def main() -> tuple[int, str]:
        async with serving(qr_scp_ae(), evt_handlers=[(evt.EVT_C_FIND, slowly)]) as server:
            return await run_tool(
                "findscu", "-S", "-v", "-aec", "QR-SCP", "--cancel", "2",
                "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID",
                "127.0.0.1", str(server.port),
            )  # fmt: skip

    code, output = run(main())
    assert code == 0, output
    assert "Cancel" in output, output
    assert stopped and stopped[0] < 199


def test_getscu_against_dimse(tmp_path: Path) -> None:
    cts = study_instances(3)
    archive = Archive(cts)
    out = tmp_path / "got"
    out.mkdir()

    async def main() -> tuple[int, str]:
        async with serving(qr_scp_ae(), evt_handlers=archive.handlers()) as server:
            return await run_tool(
                "getscu", "-S", "-v", "-aec", "QR-SCP", "-od", str(out),
                "-k", "QueryRetrieveLevel=STUDY",
                "-k", f"StudyInstanceUID={cts[0].StudyInstanceUID}",
                "127.0.0.1", str(server.port),
            )  # fmt: skip

    code, output = run(main())
    assert code == 0, output
    assert _instance_uids(out) == sorted(str(ds.SOPInstanceUID) for ds in cts)


def test_movescu_against_dimse_to_storescp_and_to_itself(tmp_path: Path) -> None:
    cts = study_instances(3)
    mr = make_dataset(MRImageStorage, StudyInstanceUID=cts[0].StudyInstanceUID)
    archive = Archive([*cts, mr])
    to_storescp, to_movescu = tmp_path / "storescp", tmp_path / "movescu"
    to_storescp.mkdir()
    to_movescu.mkdir()
    own_port = free_port()
    keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={cts[0].StudyInstanceUID}"]

    with DcmtkServer(
        "storescp", ["-aet", "STORESCP", "-od", str(to_storescp)], tmp_path / "storescp.log"
    ) as storescp:
        archive.destinations["STORESCP"] = ("127.0.0.1", storescp.port)
        archive.destinations["MOVESCU"] = ("127.0.0.1", own_port)

        async def main() -> list[tuple[int, str]]:
            async with serving(qr_scp_ae(), evt_handlers=archive.handlers()) as server:
                first = await run_tool(
                    "movescu", "-S", "-v", "-aec", "QR-SCP", "-aem", "STORESCP", *keys,
                    "127.0.0.1", str(server.port),
                )  # fmt: skip
                second = await run_tool(
                    "movescu", "-S", "-v", "-aet", "MOVESCU", "-aec", "QR-SCP", "-aem", "MOVESCU",
                    "+P", str(own_port), "-od", str(to_movescu), *keys,
                    "127.0.0.1", str(server.port),
                )  # fmt: skip
                return [first, second]

        results = run(main(), timeout=90)
    for code, output in results:
        assert code == 0, output
    expected = sorted([*(str(ds.SOPInstanceUID) for ds in cts), str(mr.SOPInstanceUID)])
    assert _instance_uids(to_storescp) == expected  # storescp takes every storage class
    assert _instance_uids(to_movescu) == expected


# -- dimse SCU -> dcmtk dcmqrscp --------------------------------------------------------------


def _dcmqrscp(tmp_path: Path, dest_port: int) -> DcmtkServer:
    storage = tmp_path / "archive"
    storage.mkdir()
    config = tmp_path / "dcmqrscp.cfg"
    config.write_text(
        "NetworkTCPPort  = 104\n"
        "MaxPDUSize      = 16384\n"
        "MaxAssociations = 16\n\n"
        "HostTable BEGIN\n"
        f"dimsedest = (DIMSEDEST, 127.0.0.1, {dest_port})\n"
        "HostTable END\n\n"
        "VendorTable BEGIN\n"
        "VendorTable END\n\n"
        "AETable BEGIN\n"
        f"DCMQRSCP {storage} RW (200, 1024mb) ANY\n"
        "AETable END\n"
    )
    # Default (fork) mode: dcmtk 3.6.7's --single-process ends after one association.
    # A child lives for one association; each is released before the test stops it.
    return DcmtkServer("dcmqrscp", ["-c", str(config)], tmp_path / "dcmqrscp.log")


def test_dimse_scu_against_dcmqrscp(tmp_path: Path) -> None:
    cts = study_instances(3, PatientID="QRP")
    other = study_instances(2, PatientID="OTHER")
    files = write_instances(tmp_path / "load", [*cts, *other])
    got, moved = Received(), Received()

    async def main() -> None:
        async with serving(scp_ae("DIMSEDEST"), evt_handlers=[(evt.EVT_C_STORE, moved)]) as dest:
            with _dcmqrscp(tmp_path, dest.port) as qr:
                code, output = await run_tool(
                    "storescu", "-aec", "DCMQRSCP", "127.0.0.1", str(qr.port),
                    *(str(p) for p in files),
                )  # fmt: skip
                assert code == 0, output + qr.output()
                scu = qr_scu_ae(storage=[CTImageStorage])
                bound = [(evt.EVT_C_STORE, got)]
                assoc = await scu.associate_async(
                    "127.0.0.1", qr.port, "DCMQRSCP", evt_handlers=bound
                )
                keys = query("STUDY", PatientID="QRP", StudyInstanceUID="", PatientName="")
                found = await collect(assoc.send_c_find(keys, "S"))
                assert [r.status for r, _ in found] == [0xFF00, QueryRetrieveFindStatus.SUCCESS]
                assert found[0][1] is not None
                assert found[0][1].StudyInstanceUID == cts[0].StudyInstanceUID
                patients = await collect(assoc.send_c_find(query("PATIENT", PatientID=""), "P"))
                assert sorted(str(i.PatientID) for _, i in patients[:-1] if i) == ["OTHER", "QRP"]
                study = query(StudyInstanceUID=cts[0].StudyInstanceUID)
                gets = await collect(assoc.send_c_get(study, "S"))
                final = gets[-1][0]
                assert final.status == QueryRetrieveGetStatus.SUCCESS, final
                assert final.number_of_completed_suboperations == 3
                moves = await collect(assoc.send_c_move(study, "DIMSEDEST", "S"))
                final = moves[-1][0]
                assert final.status == QueryRetrieveMoveStatus.SUCCESS, qr.output()
                assert final.number_of_completed_suboperations == 3
                unknown = await collect(assoc.send_c_move(study, "NOBODY", "S"))
                assert unknown[-1][0].status == QueryRetrieveMoveStatus.MOVE_DESTINATION_UNKNOWN
                await assoc.release()

    run(main(), timeout=90)
    expected = sorted(str(ds.SOPInstanceUID) for ds in cts)
    assert sorted(got.uids) == expected and sorted(moved.uids) == expected
    assert {r.move_originator_application_entity_title.strip() for r in moved.requests} == {
        "QR-SCU"
    }


def test_dimse_get_from_dcmqrscp_counts_classes_not_offered(tmp_path: Path) -> None:
    """The SCU offers CT only with its SCP role: dcmqrscp fails the MR sub-operation."""
    ct = study_instances(1)[0]
    mr = make_dataset(MRImageStorage, StudyInstanceUID=ct.StudyInstanceUID, PatientID="P-1")
    files = write_instances(tmp_path / "load", [ct, mr])
    got = Received()

    async def main() -> tuple[Any, Any]:
        with _dcmqrscp(tmp_path, free_port()) as qr:
            code, output = await run_tool(
                "storescu", "-aec", "DCMQRSCP", "127.0.0.1", str(qr.port), *map(str, files)
            )
            assert code == 0, output
            scu = qr_scu_ae(storage=[CTImageStorage])
            bound = [(evt.EVT_C_STORE, got)]
            assoc = await scu.associate_async("127.0.0.1", qr.port, "DCMQRSCP", evt_handlers=bound)
            gets = await collect(assoc.send_c_get(query(StudyInstanceUID=ct.StudyInstanceUID), "S"))
            await assoc.release()
            return gets[-1]

    final, identifier = run(main(), timeout=90)
    # The same answer dimse's SCP gives (PS3.4 C.4.3.3.1): Warning, the MR one listed.
    assert final.status == QueryRetrieveGetStatus.SUB_OPERATIONS_COMPLETE_WITH_FAILURES_OR_WARNINGS
    assert (final.number_of_completed_suboperations, final.number_of_failed_suboperations) == (1, 1)
    assert got.uids == [str(ct.SOPInstanceUID)]
    assert failed_uids(identifier) == [str(mr.SOPInstanceUID)]
