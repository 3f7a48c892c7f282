"""dimse.write_behind: files written by a worker thread, in order, with back-pressure,
and a failed write turned into a failure status with nothing left on disk."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from _rt_net import make_dataset, run, scp_ae, scu_ae, serving, with_pixels
from pydicom.uid import CTImageStorage

from dimse import evt
from dimse.ae import StoreToDirectory
from dimse.part10 import encode_file_meta, read_file_meta
from dimse.statuses import lookup
from dimse.write_behind import FLUSH_BYTES, DiskWorker, PendingInstance


def test_worker_blocks_the_submitter_while_too_much_is_queued() -> None:
    worker = DiskWorker(limit=100)
    release = threading.Event()
    done: list[str] = []
    first = worker.submit(1000, release.wait, 10)  # 1000 bytes queued: over the limit

    def second() -> None:
        worker.submit(10, done.append, "second").result(10)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and done == []  # waiting for the disk to catch up
    release.set()
    thread.join(10)
    assert not thread.is_alive() and done == ["second"]
    assert first.result(10) is True
    worker.shutdown()


def test_pending_instance_writes_in_order_and_renames_at_close(tmp_path: Path) -> None:
    worker = DiskWorker()
    uid = "1.2.3.4"
    meta = encode_file_meta(CTImageStorage, uid, "1.2.840.10008.1.2.1", "1.2.3")
    pieces = [bytes([n]) * (FLUSH_BYTES // 3 + n) for n in range(10)]
    sink = PendingInstance(worker, tmp_path, meta, uid, fsync=True)  # fsync: by the worker
    for piece in pieces:
        sink.write(memoryview(piece))
    assert not (tmp_path / uid).exists()  # not before close
    path = sink.close().result(10)
    assert path == tmp_path / uid
    data = path.read_bytes()
    assert data[: len(meta)] == meta and data[len(meta) :] == b"".join(pieces)
    assert read_file_meta(path).sop_instance_uid == uid
    assert [p.name for p in tmp_path.iterdir()] == [uid]  # no temporary file left
    worker.shutdown()


def test_discard_leaves_nothing(tmp_path: Path) -> None:
    worker = DiskWorker()
    sink = PendingInstance(worker, tmp_path, b"meta", "1.2.3.5", fsync=False)
    sink.write(b"x" * (3 * FLUSH_BYTES))  # the temporary file exists by now
    sink.discard()
    assert list(tmp_path.iterdir()) == []
    worker.shutdown()


@pytest.mark.parametrize("size", [1000, 3 * FLUSH_BYTES])  # written at once / by the worker
def test_a_file_that_cannot_be_written_fails_the_store(tmp_path: Path, size: int) -> None:
    """The output directory vanishes under a running SCP: the C-STORE gets an Out of
    Resources failure (0xA7xx), nothing is left, and the server goes on serving."""
    out = tmp_path / "out"
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out, fsync=False)
    paths: list[Path | None] = []
    calls: list[str] = []

    def on_store(event: evt.Event) -> int:
        calls.append("handler")
        paths.append(event.path)
        return 0

    async def main() -> None:
        async with serving(scp, evt_handlers=[(evt.EVT_C_STORE, on_store)]) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            shutil.rmtree(out)
            big = with_pixels(make_dataset(CTImageStorage), size)
            rsp = await assoc.send_c_store(big)
            entry = lookup(rsp.status, service_class="storage", dimse="C-STORE")
            assert entry is not None and entry.member == "OUT_OF_RESOURCES", hex(rsp.status)
            assert calls == []  # the handler never saw a store that was not kept
            out.mkdir()
            ds = make_dataset(CTImageStorage)
            assert (await assoc.send_c_store(ds)).status == 0
            await assoc.release()
            assert sorted(p.name for p in out.iterdir()) == [str(ds.SOPInstanceUID)]

    run(main())
    assert len(paths) == 1 and paths[0] is not None and paths[0].parent == out
