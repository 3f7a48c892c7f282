"""Fragmenting into P-DATA-TF PDUs, reassembly, sinks and response routing."""

from __future__ import annotations

import os
import struct
import tracemalloc
from collections.abc import Iterable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dimse.errors import ProtocolError, UsageError
from dimse.messages import (
    CCancelRQ,
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    CFindRSP,
    CGetRQ,
    CGetRSP,
    CMoveRQ,
    CStoreRQ,
    CStoreRSP,
    Message,
)
from dimse.pdv import (
    DEFAULT_PDU_CAP,
    MIN_MAX_PDU_LENGTH,
    STREAM,
    BytesSink,
    CommandComplete,
    DatasetFragment,
    Event,
    MessageAssembler,
    MessageComplete,
    RawPDV,
    ResponseRouter,
    fragment,
    fragment_buffers,
    parse_p_data_tf,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
STORE = CStoreRQ(message_id=3, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3.4")
COMMAND = STORE.to_command()
ECHO = CEchoRQ(message_id=1)


def reassemble(pdus: Iterable[bytes], **kwargs: object) -> list[Event]:
    assembler = MessageAssembler(**kwargs)  # type: ignore[arg-type]
    events: list[Event] = []
    for pdu in pdus:
        events.extend(assembler.feed(parse_p_data_tf(pdu)))
    assert assembler.open_contexts == ()
    return events


def check_pdus(pdus: list[bytes], max_pdu_length: int, context_id: int = 1) -> None:
    """Every PDU is a well-formed P-DATA-TF with one PDV within the peer's limit."""
    limit = max_pdu_length or DEFAULT_PDU_CAP
    seen_data = False
    for index, pdu in enumerate(pdus):
        assert pdu[0] == 0x04 and pdu[1] == 0
        (length,) = struct.unpack(">I", pdu[2:6])
        assert length == len(pdu) - 6 and length <= limit
        (pdv,) = parse_p_data_tf(pdu)
        assert pdv.context_id == context_id
        assert pdv.control & ~0x03 == 0
        if pdv.control & 1:
            assert not seen_data, "command fragment after a data set fragment"
        else:
            seen_data = True
        # 'last' exactly on the last fragment of the command and of the data set.
        following = parse_p_data_tf(pdus[index + 1])[0] if index + 1 < len(pdus) else None
        same_kind_follows = following is not None and (following.control & 1) == (pdv.control & 1)
        assert bool(pdv.control & 2) is not same_kind_follows


SIZES = [MIN_MAX_PDU_LENGTH, 8, 9, 10, 11, 12, 13, 16, 17, 31, 100, 1000, 4096, 16384, 0]


@pytest.mark.parametrize("max_pdu_length", SIZES)
@pytest.mark.parametrize("extra", [-1, 0, 1, 2, 1000])
def test_every_pdu_within_max_and_reassembles(max_pdu_length: int, extra: int) -> None:
    payload = (max_pdu_length or 64) - 6
    dataset = os.urandom(max(0, 3 * payload + extra))
    pdus = list(fragment(1, COMMAND, dataset, max_pdu_length))
    check_pdus(pdus, max_pdu_length)
    events = reassemble(pdus)
    assert [type(e) for e in events] == [CommandComplete, MessageComplete]
    done = events[-1]
    assert isinstance(done, MessageComplete)
    assert done.message == STORE and done.dataset == dataset


@pytest.mark.parametrize("max_pdu_length", SIZES)
def test_message_without_data_set(max_pdu_length: int) -> None:
    pdus = list(fragment(5, ECHO.to_command(), None, max_pdu_length))
    check_pdus(pdus, max_pdu_length, context_id=5)
    events = reassemble(pdus)
    assert events == [CommandComplete(5, ECHO), MessageComplete(5, ECHO)]


def test_small_message_is_two_pdus_and_exact_bytes() -> None:
    pdus = list(fragment(3, COMMAND, b"\x08\x00\x16\x00", 16384))
    assert len(pdus) == 2
    n = len(COMMAND)
    assert pdus[0] == struct.pack(">BBIIBB", 4, 0, n + 6, n + 2, 3, 0x03) + COMMAND
    assert pdus[1] == bytes.fromhex("04 00 0000000a 00000006 03 02 08001600")


def test_empty_data_set_is_one_empty_last_fragment() -> None:
    pdus = list(fragment(1, COMMAND, b"", 100))
    assert parse_p_data_tf(pdus[-1]) == [RawPDV(1, 0x02, memoryview(b""))]
    assert reassemble(pdus)[-1] == MessageComplete(1, STORE, dataset=b"")
    assert list(fragment(1, COMMAND, iter([b"", b""]), 100)) == pdus


def test_pdu_cap_applies_to_no_limit_and_large_limits() -> None:
    dataset = bytes(10_000)
    for max_pdu_length in (0, 1 << 30):
        pdus = list(fragment(1, COMMAND, dataset, max_pdu_length, pdu_cap=1000))
        check_pdus(pdus, 1000)
    assert len(list(fragment(1, COMMAND, dataset, 0))) == 2


@given(
    max_pdu_length=st.sampled_from([7, 8, 9, 15, 64, 257, 1024, 0]) | st.integers(7, 300),
    chunks=st.lists(st.binary(max_size=300), max_size=12),
    as_types=st.sampled_from(["bytes", "bytearray", "memoryview"]),
)
@settings(max_examples=150, deadline=None)
def test_chunked_sources(max_pdu_length: int, chunks: list[bytes], as_types: str) -> None:
    wrap = {"bytes": bytes, "bytearray": bytearray, "memoryview": memoryview}[as_types]
    source = [wrap(chunk) for chunk in chunks]
    pdus = list(fragment(1, COMMAND, iter(source), max_pdu_length))
    check_pdus(pdus, max_pdu_length)
    # The same PDUs as from one buffer: chunking never changes the wire.
    assert pdus == list(fragment(1, COMMAND, b"".join(chunks), max_pdu_length))
    buffers = list(fragment_buffers(1, COMMAND, iter(source), max_pdu_length))
    assert [b"".join(parts) for parts in buffers] == pdus
    done = reassemble(pdus)[-1]
    assert isinstance(done, MessageComplete) and done.dataset == b"".join(chunks)


def test_many_tiny_chunks_are_gathered() -> None:
    dataset = os.urandom(5000)
    source = (dataset[i : i + 1] for i in range(len(dataset)))
    buffers = list(fragment_buffers(1, COMMAND, source, 1024))
    assert all(len(parts) <= 17 for parts in buffers)
    assert b"".join(b"".join(p) for p in buffers) == b"".join(fragment(1, COMMAND, dataset, 1024))


def test_fragment_buffers_do_not_copy_the_data_set() -> None:
    dataset = os.urandom(100_000)
    parts = list(fragment_buffers(1, COMMAND, dataset, 16384))
    for header, piece in parts[1:]:
        assert isinstance(header, bytes) and len(header) == 12
        assert isinstance(piece, memoryview) and piece.obj is dataset
    chunk = os.urandom(50_000)
    views = [p for parts in fragment_buffers(1, COMMAND, [chunk, chunk], 16384) for p in parts[1:]]
    assert all(isinstance(v, bytes | memoryview) for v in views)
    assert all(v.obj is chunk for v in views if isinstance(v, memoryview))


def test_streamed_source_is_never_held_whole() -> None:
    """A 256 MiB data set from 1 MiB chunks: peak memory stays around a few chunks."""
    chunk_size, count = 1 << 20, 256

    def source() -> Iterator[bytes]:
        for i in range(count):
            yield bytes([i & 0xFF]) * chunk_size

    total = 0
    tracemalloc.start()
    try:
        for parts in fragment_buffers(1, COMMAND, source(), 1 << 20):
            total += sum(len(p) for p in parts)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > chunk_size * count
    assert peak < 8 * chunk_size


def test_bad_arguments() -> None:
    for bad in (-1, 1, 6):
        with pytest.raises(UsageError):
            list(fragment(1, COMMAND, None, bad))
    for context_id in (0, 256):
        with pytest.raises(UsageError):
            list(fragment(context_id, COMMAND, None, 0))
    with pytest.raises(UsageError):
        list(fragment(1, b"", None, 0))
    with pytest.raises(UsageError):
        list(fragment(1, COMMAND, None, 0, pdu_cap=3))


# ------------------------------------------------------------------ assembler


def single_byte_pdvs(context_id: int, command: bytes, dataset: bytes | None) -> list[RawPDV]:
    """The most fragmented legal stream: one byte per PDV."""
    pdvs = [
        RawPDV(context_id, 0x01 | (0x02 if i == len(command) - 1 else 0), command[i : i + 1])
        for i in range(len(command))
    ]
    if dataset is not None:
        pdvs += [
            RawPDV(context_id, 0x02 if i == len(dataset) - 1 else 0, dataset[i : i + 1])
            for i in range(len(dataset))
        ]
    return pdvs


def test_byte_at_a_time_pdvs() -> None:
    dataset = os.urandom(300)
    assembler = MessageAssembler()
    events: list[Event] = []
    for pdv in single_byte_pdvs(7, COMMAND, dataset):
        events.extend(assembler.feed([pdv]))
    assert events == [CommandComplete(7, STORE), MessageComplete(7, STORE, dataset=dataset)]


def test_interleaved_contexts_and_multi_pdv_feeds() -> None:
    a = single_byte_pdvs(1, COMMAND, b"AAAA")
    b = single_byte_pdvs(3, ECHO.to_command(), None)
    mixed = [pdv for pair in zip(a, b, strict=False) for pdv in pair] + a[len(b) :]
    events = MessageAssembler().feed(mixed)
    complete = [e for e in events if isinstance(e, MessageComplete)]
    assert complete == [MessageComplete(3, ECHO), MessageComplete(1, STORE, dataset=b"AAAA")]


def test_mutable_buffers_are_copied() -> None:
    assembler = MessageAssembler()
    buffer = bytearray(COMMAND)
    half = len(buffer) // 2
    assembler.feed([RawPDV(1, 0x01, memoryview(buffer)[:half])])
    buffer[:half] = bytes(half)  # the owner reuses its buffer
    data = bytearray(b"DATA")
    events = assembler.feed(
        [RawPDV(1, 0x03, bytes(COMMAND[half:])), RawPDV(1, 0x00, memoryview(data))]
    )
    data[:] = b"XXXX"
    events += assembler.feed([RawPDV(1, 0x02, b"!")])
    assert events[-1] == MessageComplete(1, STORE, dataset=b"DATA!")


class RecordingSink:
    def __init__(self, fail_after: int | None = None) -> None:
        self.writes: list[bytes] = []
        self.closed = self.discarded = False
        self.fail_after = fail_after

    def write(self, data: bytes | memoryview) -> None:
        if self.fail_after is not None and len(self.writes) >= self.fail_after:
            raise OSError("disk full")
        self.writes.append(bytes(data))

    def close(self) -> object:
        self.closed = True
        return ("stored", sum(map(len, self.writes)))

    def discard(self) -> None:
        self.discarded = True


def test_streaming_to_a_sink() -> None:
    dataset = os.urandom(50_000)
    sink = RecordingSink()
    asked: list[tuple[Message, int]] = []

    def sink_for(message: Message, context_id: int) -> RecordingSink:
        asked.append((message, context_id))
        return sink

    assembler = MessageAssembler(sink_for)
    pdus = list(fragment(1, COMMAND, dataset, 4096))
    events: list[Event] = []
    for n, pdu in enumerate(pdus, 1):
        events += assembler.feed(parse_p_data_tf(pdu))
        if n > 1:  # every data PDU reaches the sink as it arrives
            assert len(sink.writes) == n - 1
    assert asked == [(STORE, 1)]
    assert b"".join(sink.writes) == dataset and sink.closed
    assert events[-1] == MessageComplete(1, STORE, sink_result=("stored", len(dataset)))


def test_stream_events() -> None:
    dataset = os.urandom(10_000)
    events = reassemble(fragment(1, COMMAND, dataset, 1000), sink_for=lambda m, c: STREAM)
    fragments = [e for e in events if isinstance(e, DatasetFragment)]
    assert b"".join(bytes(f.data) for f in fragments) == dataset
    assert [f.is_last for f in fragments] == [False] * (len(fragments) - 1) + [True]
    assert events[-1] == MessageComplete(1, STORE)


def test_echo_never_asks_for_a_sink() -> None:
    def sink_for(message: Message, context_id: int) -> None:
        raise AssertionError("no data set")

    assert reassemble(fragment(1, ECHO.to_command(), None, 0), sink_for=sink_for)[-1] == (
        MessageComplete(1, ECHO)
    )


def test_failing_sink_drains_and_reports() -> None:
    sink = RecordingSink(fail_after=2)
    events = reassemble(fragment(1, COMMAND, bytes(10_000), 1000), sink_for=lambda m, c: sink)
    done = events[-1]
    assert isinstance(done, MessageComplete) and isinstance(done.error, OSError)
    assert sink.discarded and not sink.closed

    def broken(message: Message, context_id: int) -> None:
        raise RuntimeError("no sink today")

    done = reassemble(fragment(1, COMMAND, b"xy", 0), sink_for=broken)[-1]
    assert isinstance(done, MessageComplete) and isinstance(done.error, RuntimeError)


def test_buffer_limit() -> None:
    done = reassemble(fragment(1, COMMAND, bytes(5000), 1000), buffer_limit=4000)[-1]
    assert isinstance(done, MessageComplete) and isinstance(done.error, OverflowError)
    assert done.dataset is None


def test_bytes_sink() -> None:
    sink = BytesSink()
    data = b"abc"
    sink.write(data)
    assert sink.close() is data  # one read-only piece: no copy
    sink.write(memoryview(b"ab"))
    sink.write(b"cd")
    assert sink.close() == b"abcd"
    sink.write(b"zz")
    sink.discard()
    assert sink.close() == b""


@pytest.mark.parametrize(
    ("pdvs", "message"),
    [
        ([RawPDV(1, 0x00, b"x")], "no command announcing"),
        ([RawPDV(1, 0x02, b"x")], "no command announcing"),
        ([RawPDV(1, 0x01, COMMAND[:10]), RawPDV(1, 0x00, b"x")], "before the command set"),
        ([RawPDV(1, 0x03, COMMAND), RawPDV(1, 0x01, COMMAND)], "command fragment while"),
        ([RawPDV(1, 0x03, COMMAND), RawPDV(1, 0x00, b"d"), RawPDV(1, 0x03, COMMAND)],
         "command fragment while"),
        ([RawPDV(1, 0x03, ECHO.to_command()), RawPDV(1, 0x02, b"x")], "no command announcing"),
        ([RawPDV(1, 0x03, bytes.fromhex("00000000 04000000 0a000000 00001001 02000000 0100"))],
         "no Command Field"),
        ([RawPDV(1, 0x03, COMMAND[:-1])], "group length"),
        ([RawPDV(3, 0x03, COMMAND)], "not accepted"),
    ],
)  # fmt: skip
def test_protocol_errors(pdvs: list[RawPDV], message: str) -> None:
    sink = RecordingSink()
    assembler = MessageAssembler(lambda m, c: sink, accepted_contexts={1})
    with pytest.raises(ProtocolError, match=message) as info:
        assembler.feed(pdvs)
    assert "context" in info.value.where
    with pytest.raises(UsageError):
        assembler.feed([])
    if len(pdvs) == 3:  # failed in the middle of a data set: its sink is dropped
        assert sink.discarded


def test_command_length_bound() -> None:
    assembler = MessageAssembler(max_command_length=100)
    with pytest.raises(ProtocolError, match="longer than 100"):
        assembler.feed([RawPDV(1, 0x01, bytes(60)), RawPDV(1, 0x01, bytes(60))])


def test_abort_discards_sinks() -> None:
    sink = RecordingSink()
    assembler = MessageAssembler(lambda m, c: sink)
    assembler.feed([RawPDV(1, 0x03, COMMAND), RawPDV(1, 0x00, b"part")])
    assert assembler.open_contexts == (1,)
    assembler.abort()
    assert sink.discarded
    assert not assembler.open_contexts


@pytest.mark.parametrize(
    ("pdu", "where"),
    [
        (b"\x04\x00\x00\x00", "P-DATA-TF at byte 0"),
        (b"\x01\x00\x00\x00\x00\x00", "P-DATA-TF at byte 0"),
        (b"\x04\x00\x00\x00\x00\x07" + bytes(6), "PDU length"),
        (b"\x04\x00\x00\x00\x00\x00", "P-DATA-TF at byte 6"),
        (b"\x04\x00\x00\x00\x00\x05\x00\x00\x00\x01\x01", "PDV at byte 6"),
        (b"\x04\x00\x00\x00\x00\x06\x00\x00\x00\x05\x01\x03", "PDV at byte 6"),
        (b"\x04\x00\x00\x00\x00\x03\x00\x00\x00", "PDV at byte 6"),
    ],
)
def test_parse_p_data_tf_errors(pdu: bytes, where: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_p_data_tf(pdu)
    assert where in info.value.where


def test_parse_several_pdvs() -> None:
    pdu = bytes.fromhex("04 00 0000000f 00000003 01 03 aa 00000004 03 00 bbcc")
    assert parse_p_data_tf(pdu) == [RawPDV(1, 3, b"\xaa"), RawPDV(3, 0, b"\xbb\xcc")]


def test_dimse_pdu_interop() -> None:
    """Our P-DATA-TF bytes decode with dimse.pdu (once that module offers it)."""
    pdu_module = pytest.importorskip("dimse.pdu")
    decode = getattr(pdu_module, "decode", None)
    if decode is None or not hasattr(pdu_module, "PDataTF"):
        pytest.skip("dimse.pdu has no P-DATA-TF decoder yet")
    events: list[Event] = []
    assembler = MessageAssembler()
    for pdu in fragment(1, COMMAND, b"0123456789", 40):
        decoded = decode(pdu)
        assert decoded.encode() == pdu
        (pdv,) = decoded.pdvs
        rebuilt = pdu_module.PDataTF((pdu_module.PDV(pdv.context_id, pdv.control, pdv.data),))
        assert rebuilt.encode() == pdu
        events += assembler.feed(decoded.pdvs)
    assert events[-1] == MessageComplete(1, STORE, dataset=b"0123456789")


# ---------------------------------------------------------------- response routing


def test_message_id_allocation_wraps_and_skips_outstanding() -> None:
    router = ResponseRouter(first_message_id=65534)
    assert router.next_message_id() == 65534
    router.register(CEchoRQ(message_id=65535))
    router.register(CEchoRQ(message_id=1))
    assert router.next_message_id() == 2  # 65535 and 1 are outstanding
    assert router.next_message_id() == 3
    with pytest.raises(UsageError):
        router.register(CEchoRQ(message_id=1))
    with pytest.raises(UsageError):
        ResponseRouter(first_message_id=0)


def test_message_id_exhaustion() -> None:
    router = ResponseRouter()
    for message_id in range(1, 0x10000):
        router.register(CEchoRQ(message_id=message_id))
    with pytest.raises(UsageError, match="outstanding"):
        router.next_message_id()
    router.forget(77)
    assert router.next_message_id() == 77


def test_single_response_services() -> None:
    router = ResponseRouter()
    store = CStoreRQ(message_id=router.next_message_id(), affected_sop_class_uid=CT,
                     affected_sop_instance_uid="1.2")  # fmt: skip
    router.register(store, context_id=5)
    assert router.context_of(store.message_id) == 5 and store.message_id in router
    # Even a (non-conformant) pending status ends a C-STORE: PS3.7 gives it one response.
    routed = router.route(CStoreRSP(message_id_being_responded_to=1, status=0xFF00))
    assert routed.request is store and routed.final and len(router) == 0
    with pytest.raises(ProtocolError) as info:
        router.route(CStoreRSP(message_id_being_responded_to=1, status=0))
    assert info.value.where == "C-STORE-RSP MessageIDBeingRespondedTo"


@pytest.mark.parametrize(
    ("request_", "response_type", "pending"),
    [
        (CFindRQ(message_id=9, affected_sop_class_uid="1.2"), CFindRSP, [0xFF00, 0xFF01]),
        (CGetRQ(message_id=9, affected_sop_class_uid="1.2"), CGetRSP, [0xFF00]),
        (CMoveRQ(message_id=9, affected_sop_class_uid="1.2", move_destination="D"), None, [0xFF00]),
    ],
)
@pytest.mark.parametrize("final_status", [0x0000, 0xFE00, 0xA700, 0xB000, 0xC123])
def test_pending_keeps_request_open(
    request_: CFindRQ | CGetRQ | CMoveRQ,
    response_type: type | None,
    pending: list[int],
    final_status: int,
) -> None:
    router = ResponseRouter()
    router.register(request_)
    for status in pending * 2:
        routed = router.route(request_.response(status))
        assert not routed.final and 9 in router
    cancel = router.cancel(9)
    assert cancel == CCancelRQ(message_id_being_responded_to=9)
    routed = router.route(request_.response(final_status))
    assert routed.final and 9 not in router
    assert routed.response.status == final_status


def test_wrong_response_type_and_cancel_misuse() -> None:
    router = ResponseRouter()
    router.register(CEchoRQ(message_id=4))
    with pytest.raises(ProtocolError, match="answers C-ECHO-RQ"):
        router.route(CStoreRSP(message_id_being_responded_to=4, status=0))
    with pytest.raises(UsageError):
        router.cancel(4)
    with pytest.raises(UsageError):
        router.cancel(5)
    assert router.route(CEchoRSP(message_id_being_responded_to=4, status=0)).final
    assert router.outstanding == {}
