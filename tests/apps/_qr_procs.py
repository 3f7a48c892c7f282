"""Helpers for the Query/Retrieve app tests: studies to store, a Protocol Approval
instance, other servers (pynetdicom's qrscp, dcmtk's dcmqrscp), a throttling proxy.

Everything is bounded (timeouts, deadlines) and only processes started here are
signalled, through their own handles.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from _app_procs import (
    START_TIMEOUT,
    Server,
    _listening,
    dataset_bytes,
    dcmtk,
    dcmtk_env,
    free_port,
    instance_uid,
    make_file,
    stored_files,
)
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

PROTOCOL_APPROVAL = "1.2.840.10008.5.1.4.1.1.200.3"
CT_DEFINED_PROTOCOL = "1.2.840.10008.5.1.4.1.1.200.1"


def make_study(
    root: Path,
    name: str,
    *,
    patient_id: str,
    patient_name: str,
    study_date: str,
    images: int = 2,
    sop_class: str = CTImageStorage,
    syntax: str = ExplicitVRLittleEndian,
    modality: str = "CT",
) -> list[Path]:
    """``images`` instances of one study (one series) written under ``root/name``."""
    study, series = generate_uid(), generate_uid()
    paths = []
    for number in range(images):
        path = make_file(root / name / f"{number}.dcm", sop_class, syntax, pixels=8)
        ds = _read(path)
        ds.PatientID = patient_id
        ds.PatientName = patient_name
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.StudyDate = study_date
        ds.StudyTime = "101500"
        ds.StudyID = name
        ds.AccessionNumber = f"ACC-{name}"
        ds.Modality = modality
        ds.SeriesNumber = 1
        ds.InstanceNumber = number + 1
        ds.save_as(path, enforce_file_format=True, implicit_vr=syntax == ImplicitVRLittleEndian)
        paths.append(path)
    return paths


def _read(path: Path) -> Dataset:
    from pydicom import dcmread

    return dcmread(path)


def make_corpus(root: Path) -> dict[str, list[Path]]:
    """Two patients, three studies; one study in Implicit VR (kept byte for byte)."""
    return {
        "doe1": make_study(
            root, "doe1", patient_id="PID-1", patient_name="DOE^JOHN", study_date="20200115"
        ),
        "doe2": make_study(
            root,
            "doe2",
            patient_id="PID-1",
            patient_name="DOE^JOHN",
            study_date="20210620",
            sop_class=MRImageStorage,
            modality="MR",
            syntax=ImplicitVRLittleEndian,
        ),
        "roe": make_study(
            root,
            "roe",
            patient_id="PID-2",
            patient_name="ROE^JANE",
            study_date="20220301",
            images=3,
        ),
    }


def make_protocol_approval(path: Path, subject_uid: str) -> Path:
    """A Protocol Approval instance (PS3.3 A.89) approving a Defined Procedure Protocol."""
    ds = Dataset()
    ds.SOPClassUID = PROTOCOL_APPROVAL
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceCreationDate = "20240102"
    ds.InstanceCreationTime = "093000"
    ds.Manufacturer = "dimse tests"
    subject = Dataset()
    subject.ReferencedSOPClassUID = CT_DEFINED_PROTOCOL
    subject.ReferencedSOPInstanceUID = subject_uid
    ds.ApprovalSubjectSequence = DicomSequence([subject])
    code = Dataset()
    code.CodeValue = "130000"
    code.CodingSchemeDesignator = "DCM"
    code.CodeMeaning = "Protocol Approved"
    approval = Dataset()
    approval.AssertionCodeSequence = DicomSequence([code])
    approval.AssertionUID = generate_uid()
    approval.AssertionDateTime = "20240102093000"
    asserter = Dataset()
    asserter.ObserverType = "PSN"
    asserter.PersonName = "APPROVER^ANNA"
    asserter.InstitutionName = "Test Hospital"
    approval.AsserterIdentificationSequence = DicomSequence([asserter])
    ds.ApprovalSequence = DicomSequence([approval])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def table_rows(stdout: str) -> list[list[str]]:
    """findscu's table rows (after the dashes line), split on runs of 2+ spaces."""
    import re

    lines = stdout.splitlines()
    try:
        start = next(n for n, line in enumerate(lines) if set(line) <= {"-", " "} and line)
    except StopIteration:
        return []
    rows = []
    for line in lines[start + 1 :]:
        if re.match(r"^\d+ match(es)?; final status", line):
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def check_same_datasets(received: Path, sources: Sequence[Path]) -> None:
    """``received`` holds exactly ``sources``' instances, data set bytes identical."""
    by_uid = {instance_uid(p): p for p in stored_files(received)}
    assert sorted(by_uid) == sorted(instance_uid(s) for s in sources)
    for source in sources:
        assert dataset_bytes(by_uid[instance_uid(source)]) == dataset_bytes(source)


# -- other servers ---------------------------------------------------------------------------
def _start_on_free_port(
    make_command: object, log: Path, env: dict[str, str] | None
) -> Iterator[Server]:
    assert callable(make_command)
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs /proc/net/tcp to see when the server listens")
    for _attempt in range(3):
        port = free_port()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                make_command(port), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env,
            )  # fmt: skip
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
        server.stop()
    raise AssertionError(f"server did not start:\n{log.read_text(errors='replace')}")


@contextmanager
def pynetdicom_qrscp(tmp: Path, destinations: dict[str, int]) -> Iterator[Server]:
    """pynetdicom's qrscp with a configuration file in ``tmp`` (absolute locations)."""
    pytest.importorskip("sqlalchemy", reason="pynetdicom's qrscp needs sqlalchemy")
    tmp.mkdir(parents=True, exist_ok=True)
    lines = [
        "[DEFAULT]",
        "ae_title: PYQRSCP",
        "port: 11112",
        "max_pdu: 16382",
        "acse_timeout: 30",
        "dimse_timeout: 30",
        "network_timeout: 30",
        "bind_address: 127.0.0.1",
        f"instance_location: {tmp / 'instances'}",
        f"database_location: {tmp / 'instances.sqlite'}",
        "log_identifier: False",
    ]
    for title, port in destinations.items():
        lines += ["", f"[{title}]", "address: 127.0.0.1", f"port: {port}"]
    config = tmp / "pynetdicom-qrscp.ini"
    config.write_text("\n".join(lines) + "\n")

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "pynetdicom", "qrscp", "-c", str(config), "--port",
                str(port), "-v"]  # fmt: skip

    yield from _start_on_free_port(command, tmp / "pynetdicom-qrscp.log", None)


@contextmanager
def dcmqrscp(tmp: Path, destinations: dict[str, int]) -> Iterator[Server]:
    """dcmtk's dcmqrscp serving AE COMMON (read-write) from ``tmp/db``."""
    executable = dcmtk("dcmqrscp")
    database = tmp / "db"
    database.mkdir(parents=True, exist_ok=True)
    hosts = "\n".join(f"{t.lower()} = ({t}, 127.0.0.1, {p})" for t, p in destinations.items())
    config = tmp / "dcmqrscp.cfg"

    def command(port: int) -> list[str]:
        config.write_text(
            f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\n"
            f"HostTable BEGIN\n{hosts}\nHostTable END\n\n"
            "VendorTable BEGIN\nVendorTable END\n\n"
            f"AETable BEGIN\nCOMMON {database} RW (200, 1024mb) ANY\nAETable END\n"
        )
        return [executable, "-c", str(config), str(port)]

    yield from _start_on_free_port(command, tmp / "dcmqrscp.log", dcmtk_env())


# -- a slow link ------------------------------------------------------------------------------
@contextmanager
def throttled_proxy(target_port: int, bytes_per_second: int) -> Iterator[int]:
    """A TCP proxy on 127.0.0.1 forwarding to ``target_port``, client to server at
    most ``bytes_per_second``; yields its port. Threads end with the connections."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    stop = threading.Event()
    chunk = max(1024, bytes_per_second // 50)

    def pump(src: socket.socket, dst: socket.socket, throttle: bool) -> None:
        try:
            while not stop.is_set():
                data = src.recv(chunk)
                if not data:
                    break
                dst.sendall(data)
                if throttle:
                    time.sleep(len(data) / bytes_per_second)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", target_port), timeout=10)
            server.settimeout(None)
            client.settimeout(None)
            for args in ((client, server, True), (server, client, False)):
                threading.Thread(target=pump, args=args, daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()
        thread.join(5)


@contextmanager
def popen(args: Sequence[str], cwd: Path | None = None) -> Iterator[subprocess.Popen[str]]:
    """A process with piped output; killed (by its handle) if still running at the end."""
    proc = subprocess.Popen(
        list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        text=True, cwd=cwd,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def wait_for(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def interrupt(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
