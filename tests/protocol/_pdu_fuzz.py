"""Mutation fuzzing helpers for dimse.pdu / dimse.framer (shared by the fuzz and golden tests).

The oracle: ``decode`` either raises ProtocolError (never anything else, never the
"internal decoder error" safety net) or returns a PDU that re-encodes to exactly the
bytes it was given. The framer either returns such PDUs or raises ProtocolError once,
after which it refuses input with UsageError.
"""

from __future__ import annotations

import random

from dimse.errors import AbortReason, ProtocolError, UsageError
from dimse.framer import Framer
from dimse.pdu import PDU, decode

INTERESTING = (0x00, 0x01, 0x02, 0x7F, 0x80, 0xFE, 0xFF)
ITEM_TYPES = (0x10, 0x20, 0x21, 0x30, 0x40, 0x50, *range(0x51, 0x5B), 0x60)


def length_fields(data: bytes) -> list[tuple[int, int]]:
    """(offset, width) of the length fields, found by walking the PDU independently."""
    if len(data) < 6:
        return []
    fields = [(2, 4)]
    if data[0] in (1, 2):
        _walk(data, 74, len(data), fields, 0)
    elif data[0] == 4:
        pos = 6
        while pos + 4 <= len(data):
            fields.append((pos, 4))
            pos += 4 + int.from_bytes(data[pos : pos + 4], "big")
    return fields


def _walk(data: bytes, start: int, end: int, fields: list[tuple[int, int]], depth: int) -> None:
    pos = start
    while pos + 4 <= end:
        item_type = data[pos]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        fields.append((pos + 2, 2))
        inner_end = min(pos + 4 + length, end)
        if depth == 0 and item_type in (0x20, 0x21):
            _walk(data, pos + 8, inner_end, fields, 1)
        elif depth == 0 and item_type == 0x50:
            _walk(data, pos + 4, inner_end, fields, 1)
        pos += 4 + length


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to three random mutations: bit flips, truncation, insertion, deletion,
    interesting bytes, length field edits, item re-tagging, splices."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        choice = rng.randrange(9)
        if choice == 0 and out:  # bit flip
            pos = rng.randrange(len(out))
            out[pos] ^= 1 << rng.randrange(8)
        elif choice == 1 and out:  # truncation
            del out[rng.randrange(len(out)) :]
        elif choice == 2:  # insertion
            pos = rng.randint(0, len(out))
            out[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif choice == 3 and out:  # deletion
            pos = rng.randrange(len(out))
            del out[pos : pos + rng.randint(1, 8)]
        elif choice == 4 and out:  # interesting byte
            out[rng.randrange(len(out))] = rng.choice(INTERESTING)
        elif choice in (5, 6):  # length field edit
            fields = length_fields(bytes(out))
            if fields:
                pos, width = rng.choice(fields)
                if pos + width <= len(out):
                    old = int.from_bytes(out[pos : pos + width], "big")
                    new = rng.choice(
                        [old + rng.randint(-8, 8), 0, 1, 2, (1 << (8 * width)) - 1,
                         rng.randrange(1 << (8 * width))]
                    ) % (1 << (8 * width))
                    out[pos : pos + width] = new.to_bytes(width, "big")
        elif choice == 8:  # re-tag an item as another (known) item type
            fields = length_fields(bytes(out))[1:]
            if fields and out[0] in (1, 2):
                pos = rng.choice(fields)[0] - 2
                if 0 <= pos < len(out):
                    out[pos] = rng.choice(ITEM_TYPES)
        elif choice == 7 and len(out) > 8:  # splice: duplicate a slice elsewhere
            a = rng.randrange(len(out))
            piece = out[a : a + rng.randint(1, 40)]
            pos = rng.randint(0, len(out))
            out[pos:pos] = piece
    return bytes(out)


def check_decode(data: bytes) -> PDU | None:
    """Apply the decode oracle; return the PDU or None if it was (rightly) rejected."""
    try:
        pdu = decode(data)
    except ProtocolError as error:
        assert "internal decoder error" not in error.message, error
        assert isinstance(error.reason, AbortReason)
        assert error.where
        return None
    assert pdu.encode() == data, f"accepted but re-encodes differently: {data.hex()}"
    return pdu


def check_framer(rng: random.Random, stream: bytes, limit: int = 1 << 16) -> None:
    """Feed ``stream`` in random chunks; apply the framer oracle."""
    framer = Framer(limit, max_association_pdu_length=limit)
    pos = 0
    seen = 0
    try:
        while pos < len(stream):
            size = rng.choice((1, 2, 5, 7, 64, 1000, len(stream)))
            chunk = stream[pos : pos + size]
            kind = rng.choice((bytes, bytearray, memoryview))
            for pdu in framer.feed(kind(chunk)):
                wire = pdu.encode()
                assert stream[seen : seen + len(wire)] == wire
                seen += len(wire)
            pos += size
    except ProtocolError as error:
        assert "internal decoder error" not in error.message, error
        try:
            framer.feed(b"")
        except UsageError:
            return
        raise AssertionError("framer accepted input after a ProtocolError") from None
    assert seen + framer.pending == len(stream)
