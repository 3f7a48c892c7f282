"""dimse.framer: any chunking gives the same PDUs; limits are enforced from the header."""

from __future__ import annotations

import tracemalloc

import pytest
from _pdu_strategies import pdus
from hypothesis import given, settings
from hypothesis import strategies as st

from dimse.errors import AbortReason, ProtocolError, UsageError
from dimse.framer import Framer
from dimse.pdu import (
    PDU,
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    MaximumLength,
    PDataTF,
    PresentationContextAC,
    PresentationContextRQ,
    UserInformation,
    decode,
)

INFO = UserInformation((MaximumLength(16384),))
SAMPLE: list[PDU] = [
    AAssociateRQ("SCP", "SCU", (PresentationContextRQ(1, "1.2.3", ("1.2.840.10008.1.2",)),), INFO),
    AAssociateAC("SCP", "SCU", (PresentationContextAC(1, 0, "1.2.840.10008.1.2"),), INFO),
    PDataTF((PDV(1, 3, b"command"),)),
    PDataTF((PDV(1, 0, bytes(range(256)) * 40), PDV(1, 2, b"end"))),
    AReleaseRQ(),
    AReleaseRP(),
    AAssociateRJ(1, 1, 7),
    AAbort(2, 6),
]
STREAM = b"".join(p.encode() for p in SAMPLE)


def feed_chunks(framer: Framer, data: bytes, sizes: list[int], kind: type = bytes) -> list[PDU]:
    out: list[PDU] = []
    pos = 0
    for size in sizes:
        out += framer.feed(kind(data[pos : pos + size]))
        pos += size
    out += framer.feed(kind(data[pos:]))
    return out


def test_one_byte_at_a_time() -> None:
    framer = Framer(1 << 16)
    out: list[PDU] = []
    for i in range(len(STREAM)):
        out += framer.feed(STREAM[i : i + 1])
    assert out == SAMPLE
    assert framer.pending == 0


def test_everything_in_one_chunk() -> None:
    framer = Framer(1 << 16)
    assert framer.feed(STREAM) == SAMPLE
    assert framer.feed(b"") == []


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 3000), max_size=30))
def test_random_chunking(kind: type, sizes: list[int]) -> None:
    assert feed_chunks(Framer(1 << 16), STREAM, sizes, kind) == SAMPLE


@settings(max_examples=60, deadline=None)
@given(
    sample=st.lists(pdus, min_size=1, max_size=6),
    sizes=st.lists(st.integers(1, 200), max_size=20),
)
def test_random_pdus_random_chunking(sample: list[PDU], sizes: list[int]) -> None:
    stream = b"".join(p.encode() for p in sample)
    out = feed_chunks(Framer(1 << 20), stream, sizes)
    assert out == sample
    assert b"".join(p.encode() for p in out) == stream


def test_zero_copy_for_bytes_chunks() -> None:
    chunk = SAMPLE[3].encode()
    (pdu,) = Framer(1 << 16).feed(chunk)
    assert isinstance(pdu, PDataTF)
    data = pdu.pdvs[0].data
    assert isinstance(data, memoryview) and data.obj is chunk


def test_mutable_input_is_copied() -> None:
    buffer = bytearray(SAMPLE[2].encode())
    (pdu,) = Framer(1 << 16).feed(buffer)
    buffer[:] = bytes(len(buffer))  # the driver reuses its receive buffer
    assert pdu == SAMPLE[2]


def test_memoryview_of_other_formats() -> None:
    data = SAMPLE[4].encode()
    assert Framer(100).feed(memoryview(data).cast("B", (2, 5))) == [SAMPLE[4]]


def test_pending_counts_buffered_bytes() -> None:
    data = SAMPLE[2].encode()
    framer = Framer(1 << 16)
    assert framer.feed(data[:3]) == [] and framer.pending == 3
    assert framer.feed(data[3:8]) == [] and framer.pending == 8
    assert framer.feed(data[8:]) == [SAMPLE[2]] and framer.pending == 0


# ------------------------------------------------------------------- limits


def pdata_header(length: int) -> bytes:
    return b"\x04\x00" + length.to_bytes(4, "big")


def test_pdata_at_the_limit_is_accepted() -> None:
    pdu = PDataTF((PDV(1, 2, bytes(100)),))
    wire = pdu.encode()
    assert Framer(len(wire) - 6).feed(wire) == [pdu]
    with pytest.raises(ProtocolError, match="exceeds our maximum length"):
        Framer(len(wire) - 7).feed(wire)


def test_limit_rejected_from_the_header_before_buffering() -> None:
    framer = Framer(16384)
    header = pdata_header(16385)
    for byte in header[:5]:
        assert framer.feed(bytes((byte,))) == []
    with pytest.raises(ProtocolError) as info:
        framer.feed(header[5:])
    assert info.value.reason == AbortReason.INVALID_PDU_PARAMETER_VALUE
    assert info.value.where == "P-DATA-TF @ byte 2"
    assert framer.pending == 0


def test_huge_declared_length_allocates_nothing() -> None:
    framer = Framer(16384)
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError):
            framer.feed(pdata_header(0xFFFFFFFF) + bytes(1000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


def test_long_pdu_allocates_only_what_arrives() -> None:
    framer = Framer(1 << 30)  # a generous limit: the peer declares 500 MB, sends 2 KB
    tracemalloc.start()
    try:
        assert framer.feed(pdata_header(500_000_000) + bytes(2000)) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * (1 << 20)
    assert framer.pending == 2006


def test_growing_body_decodes() -> None:
    pdu = PDataTF((PDV(1, 2, bytes(range(256)) * 5000),))  # 1.28 MB: past preallocation
    wire = pdu.encode()
    out = feed_chunks(Framer(len(wire)), wire, [65536] * (len(wire) // 65536))
    assert out == [pdu]


def test_association_bound_applies_to_other_pdus() -> None:
    rq = SAMPLE[0].encode()
    assert Framer(10, max_association_pdu_length=len(rq) - 6).feed(rq) == [SAMPLE[0]]
    framer = Framer(10, max_association_pdu_length=len(rq) - 7)
    with pytest.raises(ProtocolError, match="exceeds the limit") as info:
        framer.feed(rq[:6])
    assert info.value.where == "A-ASSOCIATE-RQ @ byte 2"
    # P-DATA-TF is bounded by max_pdu_length alone
    big = PDataTF((PDV(1, 2, bytes(5000)),))
    assert Framer(10_000, max_association_pdu_length=100).feed(big.encode()) == [big]


def test_max_pdu_length_is_settable() -> None:
    framer = Framer(100)
    wire = SAMPLE[3].encode()
    framer.max_pdu_length = len(wire) - 6
    assert framer.max_pdu_length == len(wire) - 6
    assert framer.feed(wire) == [SAMPLE[3]]
    framer.max_pdu_length = 16
    with pytest.raises(ProtocolError):
        framer.feed(wire)


@pytest.mark.parametrize("value", [0, -1, True, 1 << 32, 1.5, "16384"])
def test_bad_limits_are_usage_errors(value: object) -> None:
    with pytest.raises(UsageError):
        Framer(value)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        Framer(100, value)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        Framer(100).max_pdu_length = value  # type: ignore[assignment]


# ----------------------------------------------------------------- garbage


@pytest.mark.parametrize("first", [0x00, 0x08, 0x47, 0xFF])
def test_unknown_type_rejected_from_its_first_byte(first: int) -> None:
    framer = Framer(100)
    with pytest.raises(ProtocolError) as info:
        framer.feed(bytes((first,)))
    assert info.value.reason == AbortReason.UNRECOGNIZED_PDU


def test_unknown_type_in_a_whole_header() -> None:
    with pytest.raises(ProtocolError) as info:
        Framer(100).feed(b"GET / HTTP/1.1\r\n")
    assert info.value.reason == AbortReason.UNRECOGNIZED_PDU


@pytest.mark.parametrize(
    "header",
    [b"\x07\x00\x00\x00\x03\xe8", b"\x05\x00\x00\x00\x00\x00", b"\x01\x00\x00\x00\x00\x10"],
)
def test_impossible_lengths_rejected_from_the_header(header: bytes) -> None:
    with pytest.raises(ProtocolError, match="PDU-length"):
        Framer(100).feed(header)


def test_dead_after_error() -> None:
    framer = Framer(100)
    with pytest.raises(ProtocolError):
        framer.feed(b"\x04\x00\x00\x00\x00\x06\x00\x00\x00\x02\x02\x00")  # even context ID
    assert framer.dead
    for data in (b"", STREAM):
        with pytest.raises(UsageError):
            framer.feed(data)


def test_error_after_good_pdus_in_the_same_feed() -> None:
    framer = Framer(100)
    with pytest.raises(ProtocolError):
        framer.feed(AReleaseRQ().encode() + b"\x99")
    assert framer.dead


def test_decoded_pdus_match_decode() -> None:
    framer = Framer(1 << 16)
    for pdu, wire in zip(framer.feed(STREAM), (p.encode() for p in SAMPLE), strict=True):
        assert pdu == decode(wire)


# -- reading into the framer's buffers (get_buffer / buffer_updated, as recv_into does) --


def recv_into_chunks(framer: Framer, data: bytes, limits: list[int]) -> list[PDU]:
    """Deliver ``data`` like a socket's recv_into: each read fills at most the buffer the
    framer names and at most the next limit."""
    out: list[PDU] = []
    pos = 0
    reads = iter(limits)
    while pos < len(data):
        buf = framer.get_buffer()
        assert len(buf) > 0
        limit = next(reads, len(data))
        n = min(len(buf), len(data) - pos, max(limit, 1))
        buf[:n] = data[pos : pos + n]
        del buf  # asyncio drops its reference before the next read too
        out += framer.buffer_updated(n)
        pos += n
    return out


BIG = PDataTF((PDV(1, 0, bytes(range(256)) * 4000), PDV(1, 2, b"x" * 100)))  # < 1 MiB
HUGE = PDataTF((PDV(1, 2, bytes(range(251)) * 12000),))  # ~3 MiB: past the preallocation


@given(limits=st.lists(st.integers(1, 400_000), max_size=40))
@settings(max_examples=60, deadline=None)
def test_reading_into_buffers_gives_the_same_pdus(limits: list[int]) -> None:
    sample = [*SAMPLE[:3], BIG, SAMPLE[2], HUGE, *SAMPLE[3:]]
    stream = b"".join(p.encode() for p in sample)
    out = recv_into_chunks(Framer(8 << 20), stream, limits)
    assert out == sample


def test_a_large_body_is_received_in_place() -> None:
    framer = Framer(8 << 20)
    encoded = BIG.encode()
    framer.feed(encoded[:6])  # the header: the body is allocated now
    buf = framer.get_buffer()
    assert len(buf) == len(encoded) - 6  # the rest of the PDU, in its own buffer
    buf[:] = encoded[6:]
    body = buf.obj
    del buf
    [pdu] = framer.buffer_updated(len(encoded) - 6)
    assert pdu == BIG
    assert isinstance(pdu, PDataTF) and pdu.pdvs[0].data.obj is body  # no copy made
    assert framer.pending == 0


def test_small_pdus_through_the_scratch_buffer_are_copied_out() -> None:
    framer = Framer(1 << 16)
    buf = framer.get_buffer()
    buf[: len(STREAM)] = STREAM
    del buf
    out = framer.buffer_updated(len(STREAM))
    assert out == SAMPLE
    scratch = framer.get_buffer()
    scratch[: len(STREAM)] = bytes(len(STREAM))  # the next read overwrites the scratch
    del scratch
    assert out == SAMPLE  # the PDUs do not share it


def test_a_bad_header_read_into_the_scratch_buffer_kills_the_framer() -> None:
    framer = Framer(1 << 16)
    buf = framer.get_buffer()
    buf[:6] = b"\x0a\x00\x00\x00\x00\x04"
    del buf
    with pytest.raises(ProtocolError):
        framer.buffer_updated(6)
    assert framer.dead
    with pytest.raises(UsageError):
        framer.buffer_updated(1)


def test_a_bad_body_read_in_place_kills_the_framer() -> None:
    framer = Framer(8 << 20)
    encoded = bytearray(BIG.encode())
    encoded[6] = 0xFF  # the first PDV item claims more bytes than the PDU holds
    framer.feed(bytes(encoded[:6]))
    buf = framer.get_buffer()
    buf[:] = encoded[6:]
    del buf
    with pytest.raises(ProtocolError):
        framer.buffer_updated(len(encoded) - 6)
    assert framer.dead


def test_after_a_large_pdu_the_next_header_is_read_alone() -> None:
    """Large PDUs come in runs (a data set's fragments): reading the next header by
    itself lets that PDU's body be received in place as well."""
    framer = Framer(8 << 20)
    stream = BIG.encode() * 3
    sizes: list[int] = []
    out: list[PDU] = []
    pos = 0
    while pos < len(stream):
        buf = framer.get_buffer()
        n = min(len(buf), len(stream) - pos)
        sizes.append(len(buf))
        buf[:n] = stream[pos : pos + n]
        del buf
        out += framer.buffer_updated(n)
        pos += n
    assert out == [BIG] * 3
    body = len(BIG.encode()) - 6
    # the first PDU: a scratch read (header and the start of the body), then the rest
    # in place; each later one: its header alone, then its whole body in place
    assert sizes[2:] == [6, body, 6, body]
