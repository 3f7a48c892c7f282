"""A loopback TCP proxy that records whole DICOM Upper Layer PDUs.

It sits between an association requestor (the side that connects) and an acceptor,
forwards every byte unchanged and, per direction, cuts the stream into PDUs using only
the 6-byte PDU header (type, reserved, 4-byte big-endian length). It knows nothing else
about DICOM, so captures made with it can serve as an oracle for a PDU codec.

Everything is bounded: connections, PDUs, bytes per PDU, wall-clock time and loop
iterations. Stdlib only.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType

PDU_HEADER_LENGTH = 6
"""Type byte, reserved byte and the 4-byte big-endian length of what follows."""

DEFAULT_MAX_PDU_LENGTH = 1 << 20
"""Refuse PDUs whose length field exceeds this; captures are small by design."""


class FramingError(ValueError):
    """The byte stream cannot be cut into PDUs within the configured bounds."""


class Direction(StrEnum):
    """Which peer sent a PDU; the requestor is the side that opened the connection."""

    FROM_REQUESTOR = "requestor->acceptor"
    FROM_ACCEPTOR = "acceptor->requestor"


class PduSplitter:
    """Accumulate bytes in any chunking and hand back whole PDUs.

    Only the header is read: byte 0 is kept as the type, bytes 2-5 give the length of
    the rest. Nothing after the header is interpreted.
    """

    def __init__(self, max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH) -> None:
        self._buffer = bytearray()
        self._max = max_pdu_length

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole PDU."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add `data`; return every PDU it completes, in order."""
        self._buffer += data
        pdus: list[bytes] = []
        # Each pass removes at least one header's worth of bytes, so this ends.
        while len(self._buffer) >= PDU_HEADER_LENGTH:
            (length,) = struct.unpack_from(">I", self._buffer, 2)
            if length > self._max:
                raise FramingError(
                    f"PDU type 0x{self._buffer[0]:02x} announces {length} bytes, "
                    f"more than the limit of {self._max}"
                )
            total = PDU_HEADER_LENGTH + length
            if len(self._buffer) < total:
                break
            pdus.append(bytes(self._buffer[:total]))
            del self._buffer[:total]
        return pdus


@dataclass(frozen=True)
class CapturedPdu:
    """One whole PDU as it crossed the proxy."""

    connection: int
    """Index of the TCP connection, in accept order from 0."""
    seq: int
    """Order in which PDUs completed, over all connections of this proxy."""
    direction: Direction
    data: bytes
    at: float
    """`time.monotonic()` when the PDU was complete (orders PDUs across proxies)."""

    @property
    def pdu_type(self) -> int:
        """The PDU type byte."""
        return self.data[0]


class PduProxy:
    """Listen on 127.0.0.1 (free port), relay to `upstream` and record PDUs.

    Use as a context manager or call `start()`/`stop()`. Limits: `max_connections`
    accepted connections, `max_pdus` recorded PDUs (the connection is closed when it
    is exceeded), `max_pdu_length` per PDU and `lifetime` seconds overall.
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        max_connections: int = 4,
        max_pdus: int = 512,
        max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH,
        lifetime: float = 120.0,
        poll: float = 0.1,
        send_timeout: float = 10.0,
    ) -> None:
        self.upstream = upstream
        self.max_connections = max_connections
        self.max_pdus = max_pdus
        self.max_pdu_length = max_pdu_length
        self.lifetime = lifetime
        self.poll = poll
        self.send_timeout = send_timeout
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._captures: list[CapturedPdu] = []
        self._errors: list[str] = []
        self._threads: list[threading.Thread] = []
        self._accepted = 0
        self._closed = 0
        self._listener: socket.socket | None = None
        self._deadline = 0.0

    # -- lifecycle -------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The local port peers should connect to."""
        if self._listener is None:
            raise RuntimeError("proxy not started")
        return int(self._listener.getsockname()[1])

    def start(self) -> PduProxy:
        """Bind a free loopback port and start accepting in a background thread."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(self.max_connections)
        listener.settimeout(self.poll)
        self._listener = listener
        self._deadline = time.monotonic() + self.lifetime
        thread = threading.Thread(target=self._accept_loop, name="pdu-proxy-accept", daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def stop(self, join_timeout: float = 5.0) -> None:
        """Stop accepting and relaying; wait (bounded) for the threads to end."""
        self._stop.set()
        end = time.monotonic() + join_timeout
        for thread in list(self._threads):
            thread.join(max(0.0, end - time.monotonic()))
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> PduProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_closed(self, connections: int, timeout: float) -> bool:
        """Wait until `connections` connections were accepted and have all ended."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if self._closed >= connections and self._accepted == self._closed:
                    return True
            time.sleep(self.poll / 2)
        return False

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._accepted

    @property
    def captures(self) -> list[CapturedPdu]:
        """Every recorded PDU, in completion order."""
        with self._lock:
            return sorted(self._captures, key=lambda c: c.seq)

    @property
    def errors(self) -> list[str]:
        """Problems seen while relaying (framing, truncation, limits)."""
        with self._lock:
            return list(self._errors)

    # -- internals -------------------------------------------------------------------

    def _error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        max_iterations = int(self.lifetime / self.poll) + 10
        for _ in range(max_iterations):
            if self._stop.is_set() or time.monotonic() > self._deadline:
                return
            with self._lock:
                if self._accepted >= self.max_connections:
                    return
            try:
                client, _addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                index = self._accepted
                self._accepted += 1
            thread = threading.Thread(
                target=self._relay, args=(index, client), name=f"pdu-proxy-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _record(self, connection: int, direction: Direction, pdus: list[bytes]) -> bool:
        """Store PDUs; return False when the PDU budget is exhausted."""
        now = time.monotonic()
        with self._lock:
            for data in pdus:
                if len(self._captures) >= self.max_pdus:
                    self._errors.append(f"connection {connection}: more than {self.max_pdus} PDUs")
                    return False
                self._captures.append(
                    CapturedPdu(connection, len(self._captures), direction, data, now)
                )
        return True

    def _relay(self, index: int, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=self.send_timeout)
        except OSError as exc:
            self._error(f"connection {index}: cannot reach upstream {self.upstream}: {exc}")
            client.close()
            with self._lock:
                self._closed += 1
            return
        try:
            self._pump(index, client, server)
        finally:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._closed += 1

    def _pump(self, index: int, client: socket.socket, server: socket.socket) -> None:
        """Copy bytes both ways until both sides closed, a limit hits or time is up."""
        for sock in (client, server):
            sock.settimeout(self.send_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer_of = {client: server, server: client}
        direction_of = {client: Direction.FROM_REQUESTOR, server: Direction.FROM_ACCEPTOR}
        splitters = {sock: PduSplitter(self.max_pdu_length) for sock in (client, server)}
        open_for_read = {client, server}
        max_iterations = 1_000_000
        for _ in range(max_iterations):
            if not open_for_read:
                return
            if self._stop.is_set() or time.monotonic() > self._deadline:
                self._error(f"connection {index}: stopped with the connection still open")
                return
            readable, _, _ = select.select(list(open_for_read), [], [], self.poll)
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError as exc:
                    self._error(f"connection {index}: {direction_of[sock].value} recv: {exc}")
                    data = b""
                if not data:
                    open_for_read.discard(sock)
                    pending = splitters[sock].pending
                    if pending:
                        self._error(
                            f"connection {index}: {direction_of[sock].value} closed "
                            f"with {pending} bytes of an incomplete PDU"
                        )
                    with contextlib.suppress(OSError):
                        peer_of[sock].shutdown(socket.SHUT_WR)
                    continue
                try:
                    pdus = splitters[sock].feed(data)
                except FramingError as exc:
                    self._error(f"connection {index}: {direction_of[sock].value}: {exc}")
                    return
                try:
                    peer_of[sock].sendall(data)
                except OSError as exc:
                    self._error(f"connection {index}: {direction_of[sock].value} send: {exc}")
                    open_for_read.discard(sock)
                if not self._record(index, direction_of[sock], pdus):
                    return
        self._error(f"connection {index}: iteration limit reached")
