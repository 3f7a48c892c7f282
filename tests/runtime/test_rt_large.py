"""A large instance (48 MiB) streamed both ways with flat memory.

The SCP runs as a subprocess so its peak resident set (VmHWM in /proc) can be read;
the SCU runs here under tracemalloc. Neither may hold the instance whole.
"""

from __future__ import annotations

import hashlib
import select
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from _rt_net import (
    after_meta,
    listing,
    make_dataset,
    run,
    scu_ae,
    vm_hwm_kib,
    with_pixels,
    write_part10,
)
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from dimse.part10 import read_file_meta

SIZE = 48 << 20
HERE = Path(__file__).parent

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs Linux /proc for VmHWM"
)


def _digest_after_meta(path: Path) -> str:
    meta = read_file_meta(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        handle.seek(meta.dataset_offset)
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_large_instance_streams_with_flat_memory(tmp_path: Path) -> None:
    ds = with_pixels(make_dataset(CTImageStorage), SIZE, b"\x5a\xa5\x01")
    source = write_part10(tmp_path / "big.dcm", ds, ExplicitVRLittleEndian)
    uid = str(ds.SOPInstanceUID)
    del ds
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_rt_scp_process.py"), str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "the SCP process did not start"
        port = int(proc.stdout.readline())
        before = vm_hwm_kib(proc.pid)

        async def send() -> int:
            assoc = await scu_ae(CTImageStorage, syntaxes=[ExplicitVRLittleEndian]).associate_async(
                "127.0.0.1", port, "BIG-SCP"
            )
            try:
                return (await assoc.send_c_store(source)).status
            finally:
                await assoc.release()

        tracemalloc.start()
        try:
            status = run(send(), timeout=120)
            _, scu_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        after = vm_hwm_kib(proc.pid)
        proc.stdin.close()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert status == 0
    assert listing(out) == [uid]
    assert _digest_after_meta(out / uid) == _digest_after_meta(source)
    assert (out / uid).stat().st_size - read_file_meta(out / uid).dataset_offset == len(
        after_meta(source.read_bytes())
    )
    scp_growth = (after - before) * 1024
    # Bounded by a few PDUs and socket buffers (about 2 MiB when measured), far below
    # the 48 MiB instance.
    assert scp_growth < 16 << 20, f"SCP peak RSS grew by {scp_growth >> 20} MiB"
    # Two 4 MiB file chunks, one 4 MiB batch and the transport's buffer (about 19 MiB
    # when measured): constant in the instance size, and far below it.
    assert scu_peak < 32 << 20, f"SCU traced peak {scu_peak >> 20} MiB"
