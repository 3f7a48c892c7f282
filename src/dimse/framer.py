"""Bytes in any chunking -> whole PDUs, with bounded memory (PS3.8 9.3, D.1).

:class:`Framer` reads the 6-byte PDU header first and judges it alone (type known,
length possible for the type and within our limits) before it buffers a single body
byte; an unknown PDU type is rejected from its first byte. The body buffer is then
allocated once at its exact size (up to 1 MiB; beyond that it grows as bytes arrive)
and filled in place, so a hostile length costs nothing and a legitimate PDU costs one
copy.

Zero copy where it is safe: when a ``bytes`` chunk holds a whole PDU and nothing is
pending, the PDU is decoded straight from a ``memoryview`` of the chunk (``bytes`` are
immutable, so PDV data views stay valid). Data from a ``bytearray``/``memoryview`` is
copied, since its owner may reuse the buffer (``recv_into``). A filled body buffer is
handed over to the decoded PDU and never written again.

Limits: a P-DATA-TF may not be longer than ``max_pdu_length`` (the value we advertised in
the Maximum Length sub-item; it bounds the PDU-length field, i.e. the bytes after the
6-byte header). Every other PDU is bounded by ``max_association_pdu_length`` (an
A-ASSOCIATE-RQ/AC arrives before any maximum length is agreed).

Reading straight into place: a driver that can receive into a buffer asks
:meth:`Framer.get_buffer` where the next bytes should land and reports how many came
with :meth:`Framer.buffer_updated`. While a large body is being filled that is the body
itself (the kernel copies the bytes to where the PDU keeps them: no copy of our own);
otherwise it is a reusable scratch buffer fed as above. Right after a large PDU only
the next 6-byte header is asked for, since another large one usually follows.

After a :class:`~dimse.errors.ProtocolError` the framer is dead: every later ``feed``
raises :class:`~dimse.errors.UsageError`. PDUs decoded earlier in the failing ``feed``
call are not returned; the association is being aborted anyway.
"""

from __future__ import annotations

from dimse.errors import ProtocolError, UsageError
from dimse.pdu import PDU, decode
from dimse.pdu._wire import PDU_HEADER, fail
from dimse.pdu.pdus import PDU_NAMES, check_header

__all__ = ["Framer"]

_MAX_LENGTH_FIELD = 0xFFFFFFFF
_PREALLOCATE = (1 << 20) + 6
"""Bodies up to this size are allocated whole from the header (one copy per byte);
larger ones grow as bytes arrive, so a peer cannot make us commit more memory than it
sends by declaring a long PDU and stalling."""
_SCRATCH = 256 << 10  # a read that is not into a body: asyncio's own read size
_DIRECT_MIN = 64 << 10  # a body with this much room left is read into directly


def _check_limit(name: str, value: object) -> int:
    if type(value) is not int or not 1 <= value <= _MAX_LENGTH_FIELD:
        raise UsageError(f"{name}: must be an int in 1..{_MAX_LENGTH_FIELD}, got {value!r}")
    return value


class Framer:
    """Cuts a byte stream into PDUs; sans-I/O (the driver feeds what it receives).

    ``max_pdu_length`` must be positive: advertising 0 ("no maximum", PS3.8 D.1) is a
    wire choice, but the framer still needs a real bound, so pass the largest P-DATA-TF
    PDU-length you are willing to buffer.
    """

    __slots__ = (
        "_body",
        "_dead",
        "_direct",
        "_filled",
        "_header",
        "_header_only",
        "_max_association_pdu_length",
        "_max_pdu_length",
        "_scratch",
        "_total",
    )

    def __init__(self, max_pdu_length: int, max_association_pdu_length: int = 1 << 20) -> None:
        self._max_pdu_length = _check_limit("max_pdu_length", max_pdu_length)
        self._max_association_pdu_length = _check_limit(
            "max_association_pdu_length", max_association_pdu_length
        )
        self._header = bytearray()  # up to 6 header bytes while no body is allocated
        self._body: bytearray | None = None  # whole PDU (header included) being filled
        self._filled = 0
        self._total = 0  # size of the PDU being filled
        self._dead = False
        self._direct = False  # the last get_buffer() was a view of the body
        self._header_only = False  # a large PDU just ended: read the next header alone
        self._scratch: bytearray | None = None

    @property
    def max_pdu_length(self) -> int:
        """The P-DATA-TF PDU-length limit; settable once negotiation has fixed it.

        A new value applies from the next PDU header on.
        """
        return self._max_pdu_length

    @max_pdu_length.setter
    def max_pdu_length(self, value: int) -> None:
        self._max_pdu_length = _check_limit("max_pdu_length", value)

    @property
    def max_association_pdu_length(self) -> int:
        """The PDU-length limit for every PDU other than P-DATA-TF."""
        return self._max_association_pdu_length

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as part of a PDU."""
        return self._filled if self._body is not None else len(self._header)

    @property
    def dead(self) -> bool:
        """True after a ProtocolError: the stream cannot be resynchronised."""
        return self._dead

    def feed(self, data: bytes | bytearray | memoryview) -> list[PDU]:
        """Take the next received bytes; return the PDUs they complete, in order."""
        if self._dead:
            raise UsageError("the framer stopped at a protocol error; abort the association")
        try:
            return self._feed(data)
        except ProtocolError:
            self._dead = True
            self._header.clear()
            self._body = None
            raise

    def get_buffer(self) -> memoryview:
        """Where the next received bytes should be written (then :meth:`buffer_updated`).

        The unfilled part of the body being assembled when much of it is missing, so a
        large P-DATA-TF is received in place; else a scratch buffer of 256 KiB.
        """
        body = self._body
        if body is not None and not self._dead and len(body) - self._filled >= _DIRECT_MIN:
            self._direct = True
            return memoryview(body)[self._filled :]
        self._direct = False
        if self._scratch is None:
            self._scratch = bytearray(_SCRATCH)
        if self._header_only and body is None and not self._header:
            # After a large PDU another usually follows: read its header alone, so its
            # body is received in place too instead of a scratch-full being copied.
            self._header_only = False
            return memoryview(self._scratch)[:6]
        return memoryview(self._scratch)

    def buffer_updated(self, nbytes: int) -> list[PDU]:
        """``nbytes`` were written at the start of the last :meth:`get_buffer`; return
        the PDUs they complete, in order."""
        if self._dead:
            raise UsageError("the framer stopped at a protocol error; abort the association")
        if not self._direct:
            assert self._scratch is not None, "buffer_updated() without get_buffer()"
            return self.feed(memoryview(self._scratch)[:nbytes])
        self._direct = False
        body = self._body
        assert body is not None and self._filled + nbytes <= len(body)
        self._filled += nbytes
        if self._filled < self._total:
            return []
        self._body = None
        self._filled = 0
        self._header_only = True
        try:
            return [decode(body)]  # the PDU now owns ``body``
        except ProtocolError:
            self._dead = True
            raise

    def _feed(self, data: bytes | bytearray | memoryview) -> list[PDU]:
        zero_copy = type(data) is bytes
        view = memoryview(data)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        size = view.nbytes
        out: list[PDU] = []
        pos = 0
        while pos < size:
            body = self._body
            if body is not None:  # filling a body
                filled = self._filled
                if filled < len(body):  # preallocated: copy straight into place
                    take = min(len(body) - filled, size - pos)
                    body[filled : filled + take] = view[pos : pos + take]
                else:  # past the preallocation: grow with what actually arrived
                    take = min(self._total - filled, size - pos)
                    body += view[pos : pos + take]
                self._filled = filled = filled + take
                pos += take
                if filled == self._total:
                    self._body = None
                    self._filled = 0
                    out.append(decode(body))  # the PDU now owns ``body``
                continue
            header = self._header
            if not header and size - pos >= 6:  # the common case: header in one chunk
                total = self._judge(view, pos)
                if zero_copy and size - pos >= total:
                    out.append(decode(view[pos : pos + total]))
                    pos += total
                    continue
                head = bytes(view[pos : pos + 6])
                pos += 6
            else:
                take = min(6 - len(header), size - pos)
                header += view[pos : pos + take]
                pos += take
                if header[0] not in PDU_NAMES:  # garbage: say so from its first byte
                    check_header(header[0], 0)
                if len(header) < 6:
                    break
                total = self._judge(header, 0)
                head = bytes(header)
                header.clear()
            # Only now, with a judged header, is memory for the body committed; a huge
            # declared length gets at most _PREALLOCATE bytes until its bytes arrive.
            body = bytearray(min(total, _PREALLOCATE))
            body[:6] = head
            self._body = body
            self._total = total
            self._filled = 6  # every PDU type has a body (check_header), so filling continues
        return out

    def _judge(self, buf: bytes | bytearray | memoryview, pos: int) -> int:
        """Check a PDU header before buffering its body; return the whole PDU size."""
        pdu_type, _, length = PDU_HEADER.unpack_from(buf, pos)
        check_header(pdu_type, length)
        if pdu_type == 4:
            if length > self._max_pdu_length:
                fail(
                    f"PDU-length {length} exceeds our maximum length {self._max_pdu_length}",
                    "P-DATA-TF",
                    2,
                )
        elif length > self._max_association_pdu_length:
            fail(
                f"PDU-length {length} exceeds the limit {self._max_association_pdu_length}",
                PDU_NAMES[pdu_type],
                2,
            )
        return 6 + int(length)
