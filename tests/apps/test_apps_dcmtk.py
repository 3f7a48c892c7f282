"""The apps against dcmtk's tools (run with TCP_NODELAY=1), both directions."""

from __future__ import annotations

from pathlib import Path

from _app_procs import (
    dataset_bytes,
    dcmtk,
    dcmtk_env,
    dcmtk_server,
    dimse_server,
    instance_uid,
    make_certificates,
    make_file,
    make_tree,
    run,
    stored_files,
)
from pydicom.uid import ImplicitVRLittleEndian, MRImageStorage


def test_storescu_to_dcmtk_storescp(tmp_path: Path) -> None:
    files = make_tree(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    # +B: dcmtk writes the data set bit for bit, so it can be compared with what we sent.
    with dcmtk_server("storescp", ["-od", str(out), "+B", "-aet", "DCMTK"], tmp_path) as scp:
        result = run(
            ["storescu", "127.0.0.1", str(scp.port), str(files["ct1"]), str(files["ct2"]),
             str(files["mr"]), "-aec", "DCMTK"],
        )  # fmt: skip
    assert result.returncode == 0, result.stderr + scp.output
    assert "3 stored, 0 failed" in result.stdout
    received = {instance_uid(p): p for p in stored_files(out)}
    for name in ("ct1", "ct2", "mr"):
        assert dataset_bytes(received[instance_uid(files[name])]) == dataset_bytes(files[name])


def test_storescu_request_implicit_converts_for_dcmtk(tmp_path: Path) -> None:
    source = make_file(tmp_path / "mr.dcm", MRImageStorage)  # explicit VR
    out = tmp_path / "out"
    out.mkdir()
    with dcmtk_server("storescp", ["-od", str(out)], tmp_path) as scp:
        result = run(["storescu", "127.0.0.1", str(scp.port), str(source), "-xi"])
    assert result.returncode == 0, result.stderr
    from dimse.part10 import read_file_meta

    [received] = stored_files(out)
    assert read_file_meta(received).transfer_syntax_uid == ImplicitVRLittleEndian


def test_storescu_pads_a_file_with_an_odd_length_data_set_for_dcmtk(tmp_path: Path) -> None:
    """A malformed file (one odd-length value, so an odd-length data set) cannot go out
    as it is: dcmtk aborts on an odd PDV. storescu re-encodes it with pydicom, which
    pads the value, and the files after it still arrive on the same association."""
    odd = make_file(tmp_path / "odd.dcm", MRImageStorage)
    # (0011,0010) LO "ABC": a private creator of length 3 appended to the data set (out
    # of tag order too; pydicom writes it in order)
    odd.write_bytes(odd.read_bytes() + b"\x11\x00\x10\x00LO\x03\x00ABC")
    after = make_file(tmp_path / "after.dcm", MRImageStorage)
    out = tmp_path / "out"
    out.mkdir()
    with dcmtk_server("storescp", ["-od", str(out), "+B", "-aet", "DCMTK"], tmp_path) as scp:
        result = run(["storescu", "127.0.0.1", str(scp.port), str(odd), str(after)])
    assert result.returncode == 0, result.stdout + result.stderr + scp.output
    assert "2 stored, 0 failed" in result.stdout
    received = {instance_uid(p): p for p in stored_files(out)}
    stored = dataset_bytes(received[instance_uid(odd)])
    assert len(stored) % 2 == 0 and b"\x11\x00\x10\x00LO\x04\x00ABC " in stored
    assert dataset_bytes(received[instance_uid(after)]) == dataset_bytes(after)


def test_dcmtk_storescu_to_storescp(tmp_path: Path) -> None:
    files = make_tree(tmp_path / "in")
    out = tmp_path / "out"
    with dimse_server("storescp", ["-od", str(out), "-v"], tmp_path) as scp:
        result = run(
            [dcmtk("storescu"), "-R", "127.0.0.1", str(scp.port), *map(str, files.values())],
            launcher=[],
            env=dcmtk_env(),
        )
        assert scp.stop() == 0
    assert result.returncode == 0, result.stderr + scp.output
    stored = {p.name: p for p in stored_files(out)}
    assert len(stored) == len(files)
    for source in files.values():
        assert dataset_bytes(stored[instance_uid(source)]) == dataset_bytes(source)


def test_dcmtk_echoscu_to_both_scps(tmp_path: Path) -> None:
    for app, args in (("echoscp", []), ("storescp", ["--ignore"])):
        with dimse_server(app, args, tmp_path / app) as scp:
            result = run(
                [dcmtk("echoscu"), "127.0.0.1", str(scp.port)], launcher=[], env=dcmtk_env()
            )
        assert result.returncode == 0, result.stderr


def test_dcmtk_echoscu_over_tls(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    args = ["--tls-cert", str(certs["server.pem"]), "--tls-key", str(certs["server.key"])]
    args += ["--tls-ca", str(certs["ca.pem"])]
    with dimse_server("echoscp", args, tmp_path) as scp:
        result = run(
            [dcmtk("echoscu"), "+tls", str(certs["client.key"]), str(certs["client.pem"]),
             "+cf", str(certs["ca.pem"]), "127.0.0.1", str(scp.port)],
            launcher=[],
            env=dcmtk_env(),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_echoscu_to_dcmtk_storescp(tmp_path: Path) -> None:
    with dcmtk_server("storescp", ["-od", str(tmp_path)], tmp_path) as scp:
        result = run(["echoscu", "127.0.0.1", str(scp.port), "--repeat", "2"])
    assert (result.returncode, result.stderr) == (0, "")
