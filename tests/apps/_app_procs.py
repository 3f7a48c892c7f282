"""Helpers for the app tests: run the apps as a user would, make DICOM files, find ports.

Every wait is bounded (subprocess timeouts, polling deadlines) and only processes
started here are signalled or killed, by their own handle. Servers of ours listen on
port 0 and report the port through ``--port-file``, so there is no free-port race;
dcmtk servers get a port found by binding port 0, retried if it was taken meanwhile.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from dimse.part10 import read_file_meta

APP_TIMEOUT = 60.0  # one app run, generous for small shared CI machines
START_TIMEOUT = 20.0  # a server must be listening by then
STOP_TIMEOUT = 10.0
HANGING_PROTOCOL = "1.2.840.10008.5.1.4.38.1"  # Non-Patient Object Storage
COLOR_PALETTE = "1.2.840.10008.5.1.4.39.1"
DCMTK = Path("/usr/bin")

SCRIPT = Path(sys.executable).with_name("dimse")
LAUNCHERS: dict[str, list[str]] = {
    "module": [sys.executable, "-m", "dimse"],
    "script": [str(SCRIPT)],
}
DIMSE = LAUNCHERS["module"]


def dcmtk(tool: str) -> str:
    path = DCMTK / tool
    if not path.exists():
        pytest.skip(f"dcmtk {tool} is not installed in {DCMTK}")
    return str(path)


def dcmtk_env() -> dict[str, str]:
    return {**os.environ, "TCP_NODELAY": "1"}


# -- running apps ---------------------------------------------------------------------------
def run(
    args: Sequence[str],
    *,
    launcher: Sequence[str] = DIMSE,
    timeout: float = APP_TIMEOUT,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``dimse <args>`` (or any command if ``launcher`` is empty) to completion."""
    return subprocess.run(
        [*launcher, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def assert_one_liner(result: subprocess.CompletedProcess[str], app: str, text: str) -> None:
    """The failure was reported as ``dimse <app>: ...`` and without a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"dimse {app}: ")]
    assert lines, result.stderr
    assert text in lines[-1], lines


class Server:
    """A running server process (ours or dcmtk's); ``stop()`` returns its exit code."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.log = log
        self.returncode: int | None = None

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        self.returncode = self.proc.returncode
        return self.returncode


def _start(command: list[str], log: Path, env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )


@contextmanager
def dimse_server(
    app: str,
    args: Sequence[str],
    tmp: Path,
    *,
    launcher: Sequence[str] = DIMSE,
    bind: str = "127.0.0.1",
) -> Iterator[Server]:
    """``dimse <app> 0 -ba 127.0.0.1 --port-file F <args>``; yields once it listens."""
    tmp.mkdir(parents=True, exist_ok=True)
    port_file = tmp / f"{app}.port"
    port_file.unlink(missing_ok=True)
    log = tmp / f"{app}.log"
    command = [*launcher, app, "0", "-ba", bind, "--port-file", str(port_file), *args]
    proc = _start(command, log, None)
    server = Server(proc, 0, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not port_file.exists():
            if proc.poll() is not None:
                raise AssertionError(f"{app} exited with {proc.returncode}:\n{server.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{app} did not start listening:\n{server.output}")
            time.sleep(0.02)
        server.port = int(port_file.read_text())
        yield server
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    """True once something LISTENs on ``port`` (/proc/net/tcp: no connection made)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


@contextmanager
def dcmtk_server(tool: str, args: Sequence[str], tmp: Path) -> Iterator[Server]:
    """A dcmtk server (``tool [args] port``) on a free port, run with TCP_NODELAY=1."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs /proc/net/tcp to see when dcmtk listens")
    executable = dcmtk(tool)
    log = tmp / f"dcmtk-{tool}.log"
    for _attempt in range(3):
        port = free_port()
        proc = _start([executable, *args, str(port)], log, dcmtk_env())
        server = Server(proc, port, log)
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(port) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is None and _listening(port):
            try:
                yield server
            finally:
                server.stop()
            return
        server.stop()  # the port was taken in between, or it failed: try once more
    raise AssertionError(f"dcmtk {tool} did not start:\n{log.read_text(errors='replace')}")


# -- DICOM files ----------------------------------------------------------------------------
def make_file(
    path: Path,
    sop_class: str = CTImageStorage,
    syntax: str = ExplicitVRLittleEndian,
    *,
    pixels: int = 16,
    instance_uid: str | None = None,
    part10: bool = True,
) -> Path:
    """A small, valid instance of ``sop_class`` written in ``syntax``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = Dataset()
    ds.SOPClassUID = UID(sop_class)
    ds.SOPInstanceUID = instance_uid or generate_uid()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "P-1"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    if pixels:
        ds.Rows = ds.Columns = pixels
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelData = bytes(range(256)) * (pixels * pixels * 2 // 256) or b"\0\0" * pixels**2
    implicit = syntax == ImplicitVRLittleEndian
    if part10:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = UID(syntax)
        ds.file_meta = meta
        ds.save_as(path, enforce_file_format=True, implicit_vr=implicit, little_endian=True)
    else:
        ds.save_as(path, implicit_vr=implicit, little_endian=True)
    return path


def make_tree(root: Path) -> dict[str, Path]:
    """CT (explicit and implicit), a larger MR, and non-patient objects in a subfolder."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sub").mkdir(exist_ok=True)
    return {
        "ct1": make_file(root / "ct1.dcm"),
        "ct2": make_file(root / "ct2.dcm", syntax=ImplicitVRLittleEndian),
        "mr": make_file(root / "mr.dcm", MRImageStorage, pixels=512),
        "hp": make_file(root / "sub" / "hp.dcm", HANGING_PROTOCOL, pixels=0),
        "palette": make_file(root / "sub" / "palette.dcm", COLOR_PALETTE, pixels=0),
    }


def dataset_bytes(path: Path) -> bytes:
    """The bytes after the File Meta group: the data set exactly as stored."""
    return path.read_bytes()[read_file_meta(path).dataset_offset :]


def instance_uid(path: Path) -> str:
    return read_file_meta(path).sop_instance_uid


def stored_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file())


def have_openssl() -> bool:
    return shutil.which("openssl") is not None


def make_certificates(directory: Path) -> dict[str, Path]:
    """A CA, and server and client certificates for 127.0.0.1/localhost signed by it."""
    if not have_openssl():
        pytest.skip("openssl is needed to make test certificates")
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(
            ["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60
        )

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=dimse test CA",
    )  # fmt: skip
    for name in ("server", "client"):
        openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}",
        )  # fmt: skip
        (directory / f"{name}.ext").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        )
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        )  # fmt: skip
    return {
        name: directory / name
        for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")
    }
