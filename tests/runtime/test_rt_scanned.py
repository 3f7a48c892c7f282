"""C-STORE of a ScannedFile: the header read at scan time is trusted only while the
file still matches it; a file replaced since is read afresh, never sent misaligned."""

from __future__ import annotations

from pathlib import Path

import pytest
from _rt_net import make_dataset, run, scp_ae, scu_ae, serving, write_part10
from pydicom.uid import CTImageStorage

from dimse.ae import StoreToDirectory
from dimse.part10 import ScannedFile, read_file_meta


@pytest.mark.parametrize("replaced", [False, True])
def test_scanned_file_is_sent_as_it_is_now(tmp_path: Path, replaced: bool) -> None:
    path = write_part10(tmp_path / "a.dcm", make_dataset(CTImageStorage))
    scanned = ScannedFile(path, read_file_meta(path))
    if replaced:  # another instance written over it since the scan
        write_part10(path, make_dataset(CTImageStorage, PatientName="SOMEONE^ELSE^ENTIRELY"))
        assert read_file_meta(path).sop_instance_uid != scanned.meta.sop_instance_uid
    now = read_file_meta(path)
    out = tmp_path / "out"
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out, fsync=False)

    async def main() -> None:
        async with serving(scp) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            rsp = await assoc.send_c_store(scanned)
            assert rsp.status == 0
            assert rsp.affected_sop_instance_uid.rstrip("\x00") == now.sop_instance_uid
            await assoc.release()

    run(main())
    stored = out / now.sop_instance_uid
    assert (
        stored.read_bytes()[read_file_meta(stored).dataset_offset :]
        == (path.read_bytes()[now.dataset_offset :])
    )
