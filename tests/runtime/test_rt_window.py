"""The asynchronous operations window (PS3.7 D.3.3.3) between dimse peers, on the wire.

Negotiated from ``AE.maximum_operations_invoked``/``_performed``; with an agreed
window, requests issued together are outstanding together, and the SCP answers them
in order; without one (either side synchronous) they take turns.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _rt_net import VERIFICATION, make_dataset, run, scp_ae, scu_ae, serving, write_part10
from pydicom.uid import CTImageStorage

from dimse import evt
from dimse._negotiation_model import first_item
from dimse.ae import StoreToDirectory
from dimse.part10 import ScannedFile, read_file_meta
from dimse.pdu import AAssociateAC, AAssociateRQ
from dimse.pdu.user_information import AsynchronousOperationsWindow


@pytest.mark.parametrize(
    ("invoked", "performed", "agreed"),
    [(8, 16, 8), (8, 4, 4), (8, 1, 1), (1, 16, 1), (0, 5, 5)],
)
def test_window_negotiated(invoked: int, performed: int, agreed: int) -> None:
    """The requestor gets min(its proposal, what the acceptor performs); a synchronous
    side on either end leaves it at 1, and 1/1 sends and answers no window item."""
    scp = scp_ae()
    scp.maximum_operations_performed = performed
    scu = scu_ae()
    scu.maximum_operations_invoked = invoked
    seen: dict[str, object] = {}

    def sent(event: evt.Event) -> None:
        if isinstance(event.pdu, AAssociateRQ | AAssociateAC):
            info = event.pdu.user_information
            seen[type(event.pdu).__name__] = first_item(info, AsynchronousOperationsWindow)

    async def main() -> None:
        async with serving(scp) as server:
            assoc = await scu.associate_async(
                "127.0.0.1",
                server.port,
                "DIMSE-SCP",
                evt_handlers=[(evt.EVT_PDU_SENT, sent), (evt.EVT_PDU_RECV, sent)],
            )
            assert assoc.negotiated.max_operations_invoked == agreed
            await assoc.release()

    run(main())
    rq, ac = seen["AAssociateRQ"], seen["AAssociateAC"]
    if invoked == 1:
        assert rq is None and ac is None
    else:
        assert isinstance(rq, AsynchronousOperationsWindow) and rq.invoked == invoked
        if performed == 1:
            assert ac is None  # a synchronous acceptor does not answer it
        else:
            assert isinstance(ac, AsynchronousOperationsWindow) and ac.invoked == agreed


@pytest.mark.parametrize("window", [1, 3])
def test_requests_outstanding_together_only_within_the_window(window: int) -> None:
    """Each C-ECHO handler waits (bounded) for as many requests outstanding as the
    window allows: with a window of 3 the SCP sees 3 at once, with 1 never 2."""
    scp = scp_ae(storage=False)
    scp.maximum_operations_performed = 16
    scu = scu_ae(VERIFICATION)
    scu.maximum_operations_invoked = window
    received = 0
    answered = 0
    most = 0

    def on_recv(event: evt.Event) -> None:
        nonlocal received
        received += 1

    async def on_echo(event: evt.Event) -> int:
        nonlocal answered, most
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        while received - answered < min(window, 6 - answered) and loop.time() < deadline:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)  # time for a request beyond the window to show up
        most = max(most, received - answered)
        answered += 1
        return 0

    async def main() -> None:
        async with serving(
            scp, evt_handlers=[(evt.EVT_C_ECHO, on_echo), (evt.EVT_DIMSE_RECV, on_recv)]
        ) as server:
            assoc = await scu.associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            responses = await asyncio.gather(*(assoc.send_c_echo() for _ in range(6)))
            assert [r.status for r in responses] == [0] * 6
            # answered in order: each response names its own request
            ids = [r.message_id_being_responded_to for r in responses]
            assert len(set(ids)) == 6
            await assoc.release()

    run(main())
    assert most == window


def test_pipelined_stores_arrive_whole_and_in_order(tmp_path: Path) -> None:
    """Twenty files C-STOREd through a window of 4 land byte for byte, each under its
    own SOP Instance UID, and their responses pair with their requests."""
    out = tmp_path / "out"
    scp = scp_ae()
    scp.maximum_operations_performed = 4
    scp.store_sink = StoreToDirectory(out, fsync=False)
    order: list[str] = []

    def on_store(event: evt.Event) -> int:
        order.append(str(event.request.affected_sop_instance_uid).rstrip("\x00"))
        return 0

    files = []
    for n in range(20):
        ds = make_dataset(CTImageStorage, InstanceNumber=n)
        files.append((write_part10(tmp_path / f"{n:02}.dcm", ds), str(ds.SOPInstanceUID)))
    scu = scu_ae(CTImageStorage)
    scu.maximum_operations_invoked = 8

    async def main() -> None:
        async with serving(scp, evt_handlers=[(evt.EVT_C_STORE, on_store)]) as server:
            assoc = await scu.associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            assert assoc.negotiated.max_operations_invoked == 4
            sources = [ScannedFile(path, read_file_meta(path)) for path, _ in files]
            responses = await asyncio.gather(*(assoc.send_c_store(s) for s in sources))
            for (_, uid), rsp in zip(files, responses, strict=True):
                assert rsp.status == 0
                assert rsp.affected_sop_instance_uid.rstrip("\x00") == uid
            await assoc.release()

    run(main())
    assert order == [uid for _, uid in files]
    for path, uid in files:
        data = path.read_bytes()
        stored = (out / uid).read_bytes()
        offset = read_file_meta(path).dataset_offset
        assert stored[read_file_meta(out / uid).dataset_offset :] == data[offset:]
