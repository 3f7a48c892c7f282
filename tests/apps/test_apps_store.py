"""dimse apps against each other, as processes: storescu -> storescp, echoscu -> both SCPs.

Stored files are checked byte for byte: the File Meta header we write, then exactly
the data set bytes of the file that was sent.
"""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import pytest
from _app_procs import (
    DIMSE,
    LAUNCHERS,
    SCRIPT,
    STOP_TIMEOUT,
    assert_one_liner,
    dataset_bytes,
    dimse_server,
    instance_uid,
    make_certificates,
    make_file,
    make_tree,
    run,
    stored_files,
)
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian

from dimse.apps.storescu import Item, plan_batches
from dimse.part10 import read_file_meta
from dimse.service_classes import StorageServiceClass


def _check_stored(out: Path, sources: list[Path]) -> None:
    """Each source arrived once, as header + the very same data set bytes."""
    stored = {p.name: p for p in stored_files(out)}
    assert sorted(stored) == sorted(instance_uid(s) for s in sources)
    for source in sources:
        target = stored[instance_uid(source)]
        assert dataset_bytes(target) == dataset_bytes(source)
        ours, theirs = read_file_meta(target), read_file_meta(source)
        assert (ours.sop_class_uid, ours.transfer_syntax_uid) == (
            theirs.sop_class_uid,
            theirs.transfer_syntax_uid,
        )
        assert dcmread(target).SOPInstanceUID == instance_uid(source)


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_store_tree_with_a_bad_file(tmp_path: Path, launcher: str) -> None:
    if launcher == "script" and not SCRIPT.exists():
        pytest.skip("the dimse console script is not installed next to this Python")
    use = LAUNCHERS[launcher]
    files = make_tree(tmp_path / "in")
    (tmp_path / "in" / "sub" / "notes.txt").write_text("not DICOM")
    out = tmp_path / "out"
    with dimse_server("storescp", ["-od", str(out), "-v"], tmp_path, launcher=use) as scp:
        result = run(
            [
                "storescu",
                "127.0.0.1",
                str(scp.port),
                str(tmp_path / "in"),
                "-r",
                "-aec",
                "STORESCP",
            ],
            launcher=use,
        )
        assert scp.stop() == 0
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "notes.txt: not a DICOM file" in result.stderr
    assert "6 file(s) to 127.0.0.1:" in result.stdout
    assert "5 stored, 1 failed" in result.stdout
    assert "0x0000  Success" in result.stdout
    assert "not sent: not a DICOM file" in result.stdout
    _check_stored(out, list(files.values()))
    assert scp.output.count("I: Stored ") == 5
    assert "Hanging Protocol Storage" in scp.output
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


def test_store_without_recurse_sends_top_level_only(tmp_path: Path) -> None:
    files = make_tree(tmp_path / "in")
    out = tmp_path / "out"
    with dimse_server("storescp", ["-od", str(out), "--no-fsync"], tmp_path) as scp:
        result = run(["storescu", "127.0.0.1", str(scp.port), str(tmp_path / "in")])
    assert result.returncode == 0, result.stderr
    assert "3 stored, 0 failed" in result.stdout
    _check_stored(out, [files["ct1"], files["ct2"], files["mr"]])


def test_bare_dataset_file_is_sent(tmp_path: Path) -> None:
    bare = make_file(tmp_path / "bare.dcm", part10=False)
    out = tmp_path / "out"
    with dimse_server("storescp", ["-od", str(out)], tmp_path) as scp:
        result = run(["storescu", "127.0.0.1", str(scp.port), str(bare)])
    assert result.returncode == 0, result.stderr
    [stored] = stored_files(out)
    assert dcmread(stored).SOPInstanceUID == dcmread(bare, force=True).SOPInstanceUID


def test_a_compressed_file_that_cannot_be_converted_is_one_line(tmp_path: Path) -> None:
    """JPEG Baseline for an SCP that takes implicit VR only: pydicom cannot decompress it
    here (no plugin, or not a real JPEG), the file fails with one line naming it and
    why, and the next file is still sent."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    jpeg = make_file(tmp_path / "in" / "jpeg.dcm", syntax=JPEGBaseline8Bit, pixels=0)
    ds = dcmread(jpeg)
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = encapsulate([b"\xff\xd8 not really a JPEG \xff\xd9"])
    ds["PixelData"].VR = "OB"
    ds.save_as(jpeg, enforce_file_format=True)
    good = make_file(tmp_path / "in" / "good.dcm")
    out = tmp_path / "out"
    with dimse_server("storescp", ["-od", str(out), "-xi"], tmp_path) as scp:
        result = run(["storescu", "127.0.0.1", str(scp.port), str(jpeg), str(good)])
    assert result.returncode == 1, result.stderr
    assert "1 stored, 1 failed" in result.stdout
    [line] = [x for x in result.stderr.splitlines() if "jpeg.dcm" in x]
    assert "JPEG Baseline" in line and "cannot decompress" in line
    assert all(x.startswith(("E: ", "W: ", "I: ", "dimse ")) for x in result.stderr.splitlines())
    assert [instance_uid(p) for p in stored_files(out)] == [instance_uid(good)]


def test_ignore_receives_and_keeps_nothing(tmp_path: Path) -> None:
    make_tree(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    with dimse_server("storescp", ["-od", str(out), "--ignore", "-v"], tmp_path) as scp:
        result = run(["storescu", "127.0.0.1", str(scp.port), str(tmp_path / "in"), "-r"])
    assert result.returncode == 0, result.stderr
    assert "5 stored, 0 failed" in result.stdout
    assert list(out.iterdir()) == []
    assert scp.output.count("not stored: --ignore") == 5


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_failure_status_is_summarised_with_its_meaning(tmp_path: Path) -> None:
    # A SOP Instance UID that is no UID cannot become a file name: the SCP refuses it.
    bad = make_file(tmp_path / "in" / "bad-uid.dcm", instance_uid="1.2.03")
    good = make_file(tmp_path / "in" / "good.dcm")
    out = tmp_path / "out"
    with dimse_server("storescp", ["-od", str(out)], tmp_path) as scp:
        result = run(["storescu", "127.0.0.1", str(scp.port), str(bad), str(good)])
    assert result.returncode == 1
    entry = StorageServiceClass.status_entry(0xA700, "C-STORE")
    assert entry is not None
    assert f"0xA700  Failure: {entry.description}" in result.stdout
    assert "bad-uid.dcm: 0xA700" in result.stderr
    _check_stored(out, [good])


def test_more_than_128_contexts_use_further_associations(tmp_path: Path) -> None:
    classes = [str(uid) for uid in StorageServiceClass.sop_classes[:70]]
    sources = [
        make_file(tmp_path / "in" / f"{n:03d}.dcm", uid, pixels=0) for n, uid in enumerate(classes)
    ]
    out = tmp_path / "out"
    with dimse_server("storescp", ["-od", str(out), "-v", "--no-fsync"], tmp_path) as scp:
        result = run(["storescu", "127.0.0.1", str(scp.port), str(tmp_path / "in"), "-v"])
        scp.stop()
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Requesting association") == 2
    assert scp.output.count("Association released") == 2
    _check_stored(out, sources)


def test_plan_batches_keeps_a_class_together() -> None:
    items = [
        Item(Path(f"{n}"), sop_class=f"1.2.3.{n % 100}", syntax=ExplicitVRLittleEndian)
        for n in range(300)
    ]
    batches = plan_batches(items, None)
    assert [len(c) for c, _ in batches] == [128, 72]  # 2 contexts per class
    assert sum(len(files) for _, files in batches) == 300
    for contexts, files in batches:
        assert {f.sop_class for f in files} == {c.abstract_syntax for c in contexts}
    forced = plan_batches(items, ExplicitVRLittleEndian)
    assert [len(c) for c, _ in forced] == [100]


def test_echo_against_both_scps(tmp_path: Path) -> None:
    with dimse_server("echoscp", ["-v"], tmp_path / "e") as echoscp:
        quiet = run(["echoscu", "127.0.0.1", str(echoscp.port)])
        repeated = run(["echoscu", "127.0.0.1", str(echoscp.port), "--repeat", "3", "-v"])
        aborted = run(["echoscu", "127.0.0.1", str(echoscp.port), "--abort"])
        assert echoscp.stop(signal.SIGINT) == 0
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert repeated.returncode == 0
    assert repeated.stderr.count("Received Echo Response (Status: 0x0000 Success)") == 3
    assert aborted.returncode == 0
    assert echoscp.output.count("Received Echo Request") == 5
    with dimse_server("storescp", ["--ignore"], tmp_path / "s") as storescp:
        assert run(["echoscu", "127.0.0.1", str(storescp.port)]).returncode == 0
    with dimse_server("storescp", ["--ignore", "--no-echo"], tmp_path / "n") as no_echo:
        refused = run(["echoscu", "127.0.0.1", str(no_echo.port)])
    assert refused.returncode == 1
    assert_one_liner(refused, "echoscu", "no presentation context for Verification")


def test_ae_title_checks_reject_the_association(tmp_path: Path) -> None:
    args = ["--require-called-aet", "--require-calling-aet", "FRIEND", "-aet", "ARCHIVE"]
    with dimse_server("echoscp", args, tmp_path) as scp:
        port = str(scp.port)
        wrong_called = run(["echoscu", "127.0.0.1", port, "-aet", "FRIEND", "-aec", "OTHER"])
        wrong_calling = run(["echoscu", "127.0.0.1", port, "-aet", "STRANGER", "-aec", "ARCHIVE"])
        right = run(["echoscu", "127.0.0.1", port, "-aet", "FRIEND", "-aec", "ARCHIVE"])
    assert wrong_called.returncode == 4
    assert_one_liner(
        wrong_called, "echoscu", "association rejected: called AE title not recognized"
    )
    assert wrong_calling.returncode == 4
    assert_one_liner(wrong_calling, "echoscu", "calling AE title not recognized")
    assert right.returncode == 0, right.stderr


def test_debug_dumps_pdus_and_messages(tmp_path: Path) -> None:
    source = make_file(tmp_path / "ct.dcm")
    with dimse_server("storescp", ["--ignore", "-d"], tmp_path) as scp:
        result = run(["storescu", "127.0.0.1", str(scp.port), str(source), "-d"])
        scp.stop()
    for text in (
        "OUTGOING A-ASSOCIATE-RQ PDU",
        "INCOMING A-ASSOCIATE-AC PDU",
        "Message type: C-STORE-RQ",
        "Message type: C-STORE-RSP",
        "AffectedSOPClassUID         : 1.2.840.10008.5.1.4.1.1.2 (CT Image Storage)",
        "OUTGOING A-RELEASE-RQ PDU",
    ):
        assert text in result.stderr, text
    assert "INCOMING A-ASSOCIATE-RQ PDU" in scp.output
    assert "incoming P-DATA-TF: context" in scp.output


def test_sigterm_and_sigint_stop_the_server_cleanly(tmp_path: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        with dimse_server("storescp", ["--ignore"], tmp_path / sig.name) as scp:
            assert scp.stop(sig) == 0
        assert "Traceback" not in scp.output


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6(tmp_path: Path) -> None:
    source = make_file(tmp_path / "ct.dcm")
    out = tmp_path / "out"
    with dimse_server("storescp", ["-od", str(out)], tmp_path, bind="::1") as scp:
        echo = run(["echoscu", "::1", str(scp.port)])
        store = run(["storescu", "::1", str(scp.port), str(source)])
    assert echo.returncode == 0, echo.stderr
    assert store.returncode == 0, store.stderr
    assert "[::1]:" in store.stdout
    _check_stored(out, [source])


def test_mutual_tls(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    source = make_file(tmp_path / "ct.dcm")
    out = tmp_path / "out"
    server_tls = [
        "--tls-cert", str(certs["server.pem"]), "--tls-key", str(certs["server.key"]),
        "--tls-ca", str(certs["ca.pem"]),
    ]  # fmt: skip
    client_tls = [
        "--tls-ca", str(certs["ca.pem"]),
        "--tls-cert", str(certs["client.pem"]), "--tls-key", str(certs["client.key"]),
    ]  # fmt: skip
    with dimse_server("storescp", ["-od", str(out), *server_tls], tmp_path) as scp:
        port = str(scp.port)
        stored = run(["storescu", "127.0.0.1", port, str(source), *client_tls])
        echo = run(["echoscu", "127.0.0.1", port, *client_tls])
        no_client_cert = run(["echoscu", "127.0.0.1", port, "--tls-ca", str(certs["ca.pem"])])
        untrusted = run(["echoscu", "127.0.0.1", port, "--tls"])
        plain = run(["echoscu", "127.0.0.1", port, "-ta", "5"])
    assert stored.returncode == 0, stored.stderr
    assert echo.returncode == 0, echo.stderr
    _check_stored(out, [source])
    assert no_client_cert.returncode in (3, 5)  # TLS 1.3 fails after the handshake
    assert "Traceback" not in no_client_cert.stderr
    assert untrusted.returncode == 3
    assert_one_liner(untrusted, "echoscu", "certificate verify failed")
    assert plain.returncode in (3, 5)
    assert "Traceback" not in plain.stderr


def test_max_associations_rejects_the_extra_one(tmp_path: Path) -> None:
    from dimse.ae import AE

    with dimse_server("echoscp", ["--max-associations", "1"], tmp_path) as scp:
        # connections that never send an A-ASSOCIATE-RQ hold no slot (ARTIM ends them)
        silent = [socket.create_connection(("127.0.0.1", scp.port), timeout=10) for _ in range(3)]
        try:
            ae = AE("HOLDER")
            ae.add_requested_context("1.2.840.10008.1.1")
            held = ae.associate("127.0.0.1", scp.port, "ANY-SCP")
            try:
                assert held.is_established
                extra = run(["echoscu", "127.0.0.1", str(scp.port)])
            finally:
                held.release()
            after = run(["echoscu", "127.0.0.1", str(scp.port)])
        finally:
            for sock in silent:
                sock.close()
    assert extra.returncode == 4
    assert_one_liner(extra, "echoscu", "local limit exceeded (transient: try again later)")
    assert after.returncode == 0, after.stderr


def _run_in_pty(command: list[str], timeout: float = 60.0) -> tuple[int, bytes]:
    """Run with stdout/stderr on a pseudo-terminal (the progress bar wants a TTY)."""
    import os
    import select
    import subprocess
    import time

    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        return proc.wait(STOP_TIMEOUT), b"".join(chunks)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
        os.close(leader)


def test_progress_bar_on_a_terminal_and_quiet_mode(tmp_path: Path) -> None:
    make_tree(tmp_path / "in")
    with dimse_server("storescp", ["--ignore"], tmp_path) as scp:
        args = ["storescu", "127.0.0.1", str(scp.port), str(tmp_path / "in"), "-r"]
        code, output = _run_in_pty([*DIMSE, *args])
        quiet = run([*args, "-q"])
        piped = run(args)
    assert code == 0, output
    assert re.search(rb"\r\d+/5 files \[#*\s*\]", output), output
    assert b"5 stored, 0 failed" in output
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert "\r" not in piped.stderr  # not a terminal: no progress bar


@pytest.mark.parametrize("window", [1, 8])
def test_peer_abort_mid_send_is_reported_and_summarised(tmp_path: Path, window: int) -> None:
    """An SCP that aborts on the second instance: storescu stops, says so, exits 5 -
    also with every file already outstanding in an asynchronous window."""
    from dimse import evt
    from dimse.ae import AE

    stores: list[str] = []

    def on_store(event: evt.Event) -> int:
        stores.append("x")
        if len(stores) == 2:
            event.assoc.abort()
        return 0

    scp = AE("ABORTER")
    scp.add_supported_storage()
    scp.maximum_operations_performed = window
    server = scp.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    assert server is not None
    try:
        sources = [make_file(tmp_path / "in" / f"{n}.dcm") for n in range(4)]
        result = run(["storescu", "127.0.0.1", str(server.port), *map(str, sources)])
    finally:
        server.shutdown()
    assert result.returncode == 5, result.stderr
    assert_one_liner(result, "storescu", "association aborted")
    assert "4 file(s) to 127.0.0.1" in result.stdout
    assert "1 stored, 3 failed" in result.stdout
    assert "not sent: association ended while it was sent" in result.stdout
    if window == 1:
        assert "not sent: association ended before it was sent" in result.stdout
    else:  # all four went out at once: three were outstanding when it aborted
        assert re.search(r"3 +- +Failure: not sent: association ended while", result.stdout)


@pytest.mark.parametrize(
    ("scu_window", "scp_window", "agreed"),
    [(None, None, "8"), ("3", None, "3"), ("1", None, None), (None, "1", None), (None, "2", "2")],
)
def test_operations_window_between_dimse_apps(
    tmp_path: Path, scu_window: str | None, scp_window: str | None, agreed: str | None
) -> None:
    """storescu proposes an asynchronous operations window (default 8) and storescp
    grants up to its own (default 16): the agreed one is logged, and the files -
    including one that fails locally mid-batch - arrive exactly as with no window."""
    files = make_tree(tmp_path / "in")
    (tmp_path / "in" / "sub" / "notes.txt").write_text("not DICOM")
    out = tmp_path / "out"
    scp_args = ["-od", str(out), "--no-fsync", "-v"]
    scu_args = ["-v"]
    if scp_window:
        scp_args += ["--operations-window", scp_window]
    if scu_window:
        scu_args += ["--operations-window", scu_window]
    with dimse_server("storescp", scp_args, tmp_path) as scp:
        result = run(
            ["storescu", "127.0.0.1", str(scp.port), str(tmp_path / "in"), "-r", *scu_args]
        )
        assert scp.stop() == 0
    assert result.returncode == 1, result.stderr
    assert "5 stored, 1 failed" in result.stdout
    _check_stored(out, list(files.values()))
    line = "Asynchronous operations window: "
    if agreed is None:
        assert line not in result.stderr and line not in scp.output
    else:
        assert f"{line}{agreed} invoked, 1 performed" in result.stderr
        assert f"{line}1 invoked, {agreed} performed" in scp.output


def test_echo_repeat_through_a_window(tmp_path: Path) -> None:
    """echoscu --repeat keeps the agreed window of echoes outstanding; every one of
    them is answered and counted, and echoscp saw each."""
    with dimse_server("echoscp", ["-v"], tmp_path) as scp:
        result = run(
            [
                "echoscu",
                "127.0.0.1",
                str(scp.port),
                "--repeat",
                "25",
                "-v",
                "--operations-window",
                "4",
            ]
        )
        assert scp.stop() == 0
    assert result.returncode == 0, result.stderr
    assert "Asynchronous operations window: 4 invoked, 1 performed" in result.stderr
    assert result.stderr.count("Received Echo Response (Status: 0x0000 Success)") == 25
    assert scp.output.count("Received Echo Request") == 25


def test_network_timeout_is_a_network_error(tmp_path: Path) -> None:
    """A peer that takes the connection and never answers: -tn ends it as a timeout
    (exit 3, as -h lists it), not as an abort by the peer."""
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        port = str(listener.getsockname()[1])
        result = run(["echoscu", "127.0.0.1", port, "-tn", "0.3", "-ta", "60"])
    finally:
        listener.close()
    assert result.returncode == 3, result.stderr
    assert_one_liner(result, "echoscu", "within 0.3 s (network timeout)")
