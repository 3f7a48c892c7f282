"""The asyncio driver: moves bytes between a socket and a :class:`~dimse.connection.Connection`.

Nothing protocol-related is decided here. Reads are ``recv_into`` the buffer the
connection names (asyncio's buffered protocol: a large PDU lands straight in the
buffer it is decoded from, no copy of ours; no polling, no sleeps); writes go out with
``writelines`` as soon as the connection produces them, with TCP_NODELAY set so a small
command never waits for Nagle; writing pauses when the kernel buffer is full
(``pause_writing``) and resumes on ``resume_writing``, so sending a large dataset never
queues more than one batch in memory.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from ssl import SSLContext
from typing import Protocol

from dimse.errors import UsageError

__all__ = ["Link", "LinkOwner", "set_socket_options"]

_LARGE_WRITE = 256 << 10


class LinkOwner(Protocol):
    """What a :class:`Link` reports to (the association)."""

    def link_made(self, link: Link) -> None: ...

    def link_buffer(self) -> memoryview: ...

    def link_received(self, nbytes: int) -> None: ...

    def link_lost(self, exc: Exception | None) -> None: ...


def set_socket_options(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Link(asyncio.BufferedProtocol):
    """One transport connection; the owner is attached when the protocol is created."""

    def __init__(self, owner_factory: Callable[[Link], LinkOwner]) -> None:
        self.transport: asyncio.Transport | None = None
        self._owner = owner_factory(self)
        self._paused = False
        self._drained: asyncio.Future[None] | None = None
        self.closed = False
        self.peername: tuple[str, int] | None = None
        self.bytes_written = 0

    @property
    def owner(self) -> LinkOwner:
        return self._owner

    # -- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        set_socket_options(transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peername = (str(peer[0]), int(peer[1]))
        # Large writes of a dataset go straight to the socket; the buffer limit only
        # bounds what waits when the peer reads slowly.
        transport.set_write_buffer_limits(high=4 << 20, low=1 << 20)
        self._owner.link_made(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._owner.link_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self._owner.link_received(nbytes)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake(exc)
        self._owner.link_lost(exc)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake(None)

    # -- used by the owner -------------------------------------------------------------
    def write(self, buffers: list[bytes | bytearray | memoryview]) -> None:
        if self.transport is None or self.closed:
            return
        transport = self.transport
        if len(buffers) == 1:
            self.bytes_written += len(buffers[0])
            transport.write(buffers[0])
            return
        # writelines() joins everything into one new bytes object (Python 3.11): a
        # copy of every dataset byte. Large pieces (slices of a dataset) go out on their
        # own instead - the transport sends them straight from our buffer - and only runs
        # of small pieces (PDU headers, commands, small fragments) are joined.
        small: list[bytes | bytearray | memoryview] = []
        for buffer in buffers:
            size = len(buffer)
            self.bytes_written += size
            if size >= _LARGE_WRITE:
                if small:
                    transport.write(b"".join(small))
                    small = []
                transport.write(buffer)
            else:
                small.append(buffer)
        if small:
            transport.write(small[0] if len(small) == 1 else b"".join(small))

    def bytes_taken(self) -> int:
        """Bytes the transport has handed on so far (written less still buffered): it
        grows while a peer reads what we send, and stalls when the peer stops."""
        if self.transport is None or self.closed:
            return self.bytes_written
        return self.bytes_written - self.transport.get_write_buffer_size()

    def wake_writers(self) -> None:
        """Release a :meth:`drain` waiter now (the owner is giving up on the peer)."""
        self._wake(None)

    async def drain(self) -> None:
        """Wait until the transport accepts more data (or is gone)."""
        if not self._paused or self.closed:
            return
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()
        await self._drained

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def abort_transport(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def _wake(self, exc: Exception | None) -> None:
        waiter, self._drained = self._drained, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def open_connection(
    loop: asyncio.AbstractEventLoop,
    factory: Callable[[], Link],
    host: str,
    port: int,
    *,
    ssl: SSLContext | None = None,
    timeout: float | None = None,
    local_addr: tuple[str, int] | None = None,
) -> Link:
    """TCP (or TLS) connect with a timeout; OSError/TimeoutError on failure."""
    try:
        coro = loop.create_connection(
            factory,
            host,
            port,
            ssl=ssl,
            server_hostname=host if ssl is not None else None,
            local_addr=local_addr,
        )
        _, protocol = await asyncio.wait_for(coro, timeout)
    except TimeoutError:
        raise TimeoutError(f"connecting to {host}:{port} timed out after {timeout} s") from None
    if not isinstance(protocol, Link):
        raise UsageError("protocol factory must return a Link")
    return protocol
