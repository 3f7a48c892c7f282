"""Helpers for the runtime tests: datasets, files, a raw DICOM peer, certificates.

Every wait is bounded: sockets carry timeouts, coroutines run under ``asyncio.wait_for``
and subprocesses under ``timeout=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

from dimse.ae import AE, Server
from dimse.evt import EVT_C_STORE, Event, HandlerBinding
from dimse.negotiation import RequestedContext, build_association_request
from dimse.pdu import PDU, AAssociateAC, decode

VERIFICATION = "1.2.840.10008.1.1"
TIMEOUT = 30.0

_T = TypeVar("_T")


def run(coro: Coroutine[Any, Any, _T], timeout: float = TIMEOUT) -> _T:
    """Run one test coroutine in a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


# -- datasets and files ---------------------------------------------------------------------


def make_dataset(sop_class: str = CTImageStorage, **elements: Any) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = UID(sop_class)
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "P-1"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


def with_pixels(ds: Dataset, size: int, fill: bytes = b"\x00") -> Dataset:
    """Give ``ds`` ``size`` bytes (rounded to whole rows) of 16-bit monochrome pixels."""
    columns = 512
    rows = max(1, size // (2 * columns))
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = (fill * (2 * rows * columns))[: 2 * rows * columns]
    return ds


def write_part10(path: Path, ds: Dataset, syntax: str = ExplicitVRLittleEndian) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(syntax)
    meta.ImplementationClassUID = UID("1.2.826.0.1.3680043.9.7433.99")
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path


def after_meta(data: bytes) -> bytes:
    """The bytes of a PS3.10 file after its File Meta group (0002,0000 counts them)."""
    assert data[128:132] == b"DICM", "not a PS3.10 file"
    assert data[132:140] == b"\x02\x00\x00\x00UL\x04\x00"
    (length,) = struct.unpack_from("<I", data, 140)
    pos = 144 + length
    # dcmtk and pydicom keep every group 0002 element inside the group length; check it.
    assert data[pos : pos + 2] != b"\x02\x00"
    return data[pos:]


# -- AEs and servers ------------------------------------------------------------------------


def _accept_store(event: Event) -> int:
    return 0


# A C-STORE handler that takes every instance (the data set stays in memory): an SCP with
# neither a handler nor a store_sink refuses stores rather than lose them.
ACCEPT_STORES: HandlerBinding = (EVT_C_STORE, _accept_store)


def scp_ae(title: str = "DIMSE-SCP", *, storage: bool = True) -> AE:
    ae = AE(title)
    ae.add_supported_context(VERIFICATION)
    if storage:
        ae.add_supported_storage()
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    return ae


def scu_ae(*sop_classes: str, title: str = "DIMSE-SCU", syntaxes: Iterable[str] = ()) -> AE:
    ae = AE(title)
    ae.add_requested_context(VERIFICATION)
    for uid in sop_classes:
        if syntaxes:
            ae.add_requested_context(uid, tuple(syntaxes))
        else:
            ae.add_requested_context(uid)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    return ae


@contextlib.asynccontextmanager
async def serving(
    ae: AE,
    host: str = "127.0.0.1",
    *,
    evt_handlers: Iterable[HandlerBinding] = (),
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[Server]:
    server = await ae.serve((host, 0), evt_handlers=evt_handlers, tls=tls)
    try:
        yield server
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)


async def until(condition: Any, timeout: float = 10.0) -> None:
    """Test-side bounded wait for a condition the runtime reaches asynchronously."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"condition not reached within {timeout} s")
        await asyncio.sleep(0.01)


# -- a raw peer, for what no well-behaved library sends -------------------------------------


class RawPeer:
    """A blocking TCP socket that speaks PDUs by hand (use from a worker thread)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _exactly(self, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            chunk = self.sock.recv(size - len(out))
            if not chunk:
                raise ConnectionError(f"peer closed after {len(out)} of {size} bytes")
            out += chunk
        return bytes(out)

    def read_pdu(self) -> PDU:
        header = self._exactly(6)
        (length,) = struct.unpack(">I", header[2:6])
        return decode(header + self._exactly(length))

    def read_eof(self) -> bytes:
        """Everything until the peer closes (bounded by the socket timeout)."""
        out = bytearray()
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return bytes(out)
            if not chunk:
                return bytes(out)
            out += chunk

    def associate(
        self, contexts: Iterable[str], called: str = "DIMSE-SCP", max_pdu: int = 16384
    ) -> AAssociateAC:
        rq = build_association_request(
            "RAW-PEER", called, [RequestedContext(c) for c in contexts], max_pdu_length=max_pdu
        )
        self.send(rq.encode())
        ac = self.read_pdu()
        assert isinstance(ac, AAssociateAC), ac
        return ac


class SlowProxy:
    """A TCP relay that passes client->server bytes slowly (``chunk`` per ``pause``) and
    server->client bytes at once: a peer reading a large dataset over a slow link.

    Small socket buffers on the slow leg keep the bytes in flight few. One connection,
    then the thread ends; every wait is bounded.
    """

    def __init__(self, target_port: int, chunk: int = 32768, pause: float = 0.005) -> None:
        self.target_port = target_port
        self.chunk = chunk
        self.pause = pause
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.listener.settimeout(10)
        self.port = int(self.listener.getsockname()[1])
        self.relayed = 0
        self.thread = threading.Thread(target=self._run, name="slow-proxy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        finally:
            self.listener.close()
        server = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([client, server], [], [], 0.5)
                for sock in ready:
                    data = sock.recv(self.chunk)
                    if not data:
                        return
                    (server if sock is client else client).sendall(data)
                    if sock is client:
                        self.relayed += len(data)
                        time.sleep(self.pause)
        except OSError:
            return
        finally:
            client.close()
            server.close()

    def join(self) -> None:
        self.thread.join(timeout=30)


class MuteAcceptor:
    """Accepts one association (every context proposed) and then reads and ignores
    everything - a peer that never answers a request or a release.

    ``reply`` (optional) is called with each PDU received after the association and may
    return bytes to send back: a peer that answers wrongly but keeps the socket open.
    """

    def __init__(
        self, *, deaf: bool = False, reply: Callable[[PDU], bytes | None] | None = None
    ) -> None:
        self.deaf = deaf  # stop reading at all once associated: the sender's writes stall
        self.reply = reply
        self.done = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.listener.settimeout(10)
        self.port = int(self.listener.getsockname()[1])
        self.received: list[int] = []
        self.thread = threading.Thread(target=self._run, name="mute-acceptor", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from dimse.negotiation import AcceptorConfig, SupportedContext, negotiate_as_acceptor
        from dimse.pdu import AAssociateRQ

        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        finally:
            self.listener.close()
        peer = RawPeer.__new__(RawPeer)
        peer.sock = conn
        conn.settimeout(20)
        try:
            rq = peer.read_pdu()
            assert isinstance(rq, AAssociateRQ)
            supported = [
                SupportedContext(c.abstract_syntax, c.transfer_syntaxes)
                for c in rq.presentation_contexts
            ]
            decision = negotiate_as_acceptor(rq, AcceptorConfig("MUTE", supported))
            peer.send(decision.pdu.encode())
            if self.deaf:
                self.done.wait(20)
                return
            while True:
                pdu = peer.read_pdu()
                self.received.append(int(pdu.pdu_type))
                answer = self.reply(pdu) if self.reply is not None else None
                if answer:
                    peer.send(answer)
        except (OSError, ConnectionError):
            return
        finally:
            conn.close()

    def join(self) -> None:
        self.done.set()
        self.thread.join(timeout=30)


# -- certificates for TLS, made with the openssl CLI ---------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path) -> dict[str, Path]:
    """A throwaway CA and a server and a client certificate it signed (EC P-256).

    Made with the openssl CLI (the ``cryptography`` package is not a test dependency);
    without it the TLS tests are skipped as an environment limit.
    """
    if shutil.which("openssl") is None:
        pytest.skip("environment limit: no openssl CLI to make test certificates")
    folder.mkdir(parents=True, exist_ok=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=dimse test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    for name, usage in (("server", "serverAuth"), ("client", "clientAuth")):
        (folder / f"{name}.ext").write_text(
            "basicConstraints=CA:FALSE\n"
            f"extendedKeyUsage={usage}\n"
            "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
        )
        _openssl(
            "req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN=dimse test {name}", cwd=folder,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
            "-extfile", f"{name}.ext", cwd=folder,
        )  # fmt: skip
    return {
        name: folder / name
        for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")
    }


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set size of a process (Linux /proc), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc status")


def listing(folder: Path) -> list[str]:
    """Every entry of a folder, hidden temporary files included."""
    return sorted(os.listdir(folder))


__all__ = [
    "ACCEPT_STORES",
    "TIMEOUT",
    "VERIFICATION",
    "ImplicitVRLittleEndian",
    "MuteAcceptor",
    "RawPeer",
    "SlowProxy",
    "after_meta",
    "listing",
    "make_certificates",
    "make_dataset",
    "run",
    "scp_ae",
    "scu_ae",
    "serving",
    "until",
    "vm_hwm_kib",
    "vm_rss_kib",
    "with_pixels",
    "write_part10",
]
