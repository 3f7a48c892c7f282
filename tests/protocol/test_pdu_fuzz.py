"""Mutation fuzzing: only ProtocolError comes out of decode and the framer, memory bounded."""

from __future__ import annotations

import random
import tracemalloc

from _pdu_fuzz import check_decode, check_framer, length_fields, mutate
from _pdu_strategies import pdus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dimse.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PDataTF,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UnknownItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
RICH_INFO = UserInformation(
    (
        MaximumLength(16384),
        ImplementationClassUID("1.2.3.4\0"),
        ImplementationVersionName("FUZZ_1"),
        AsynchronousOperationsWindow(2, 3),
        RoleSelection(CT, True, True),
        SOPClassExtendedNegotiation(CT, b"\x01\x00"),
        SOPClassCommonExtendedNegotiation(CT, "1.2.840.10008.4.2", (CT + ".1", CT + ".2")),
        UserIdentityRQ(2, True, b"user", b"pass"),
        UserIdentityAC(b"token"),
        UnknownItem(0x66, b"??"),
    )
)
SEEDS = [
    AAssociateRQ(
        "ANY-SCP",
        "FUZZER",
        (
            PresentationContextRQ(1, "1.2.840.10008.1.1", ("1.2.840.10008.1.2",)),
            PresentationContextRQ(3, CT, ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")),
        ),
        RICH_INFO,
        unknown_items=(UnknownItem(0x60, b"x"),),
    ).encode(),
    AAssociateAC(
        "ANY-SCP",
        "FUZZER",
        (PresentationContextAC(1, 0, "1.2.840.10008.1.2"), PresentationContextAC(3, 3, "")),
        RICH_INFO,
    ).encode(),
    AAssociateRJ(1, 1, 7).encode(),
    PDataTF((PDV(1, 3, b"\x00" * 20), PDV(1, 0, b"data"), PDV(3, 2, b""))).encode(),
    AReleaseRQ().encode(),
    AReleaseRP().encode(),
    AAbort(2, 6).encode(),
]


def test_seeds_are_valid() -> None:
    for seed in SEEDS:
        assert check_decode(seed) is not None
        assert length_fields(seed)[0] == (2, 4)


def test_mutated_pdus_decode_or_raise_protocol_error() -> None:
    rng = random.Random(8)
    accepted = 0
    for i in range(20000):
        if check_decode(mutate(rng, SEEDS[i % len(SEEDS)])) is not None:
            accepted += 1
    assert 0 < accepted < 20000  # both outcomes exercised


def test_mutated_streams_through_the_framer_with_bounded_memory() -> None:
    rng = random.Random(9)
    tracemalloc.start()
    try:
        for i in range(1500):
            before = SEEDS[rng.randrange(len(SEEDS))]
            stream = before + mutate(rng, SEEDS[i % len(SEEDS)]) + SEEDS[3]
            check_framer(rng, stream, limit=1 << 16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * (1 << 20)  # the limit is 64 KiB; mutated lengths reach 4 GiB


def test_random_garbage() -> None:
    rng = random.Random(10)
    for _ in range(3000):
        size = rng.choice((0, 1, 5, 6, 10, 74, 80, 200))
        data = bytes((rng.randint(1, 7),)) + rng.randbytes(size)
        if len(data) >= 6:  # a plausible length most of the time
            data = data[:2] + (len(data) - 6).to_bytes(4, "big") + data[6:]
        check_decode(data)
        check_framer(rng, data)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(pdu=pdus, seed=st.integers(0, 2**32 - 1))
def test_mutated_generated_pdus(pdu: object, seed: int) -> None:
    rng = random.Random(seed)
    wire = pdu.encode()  # type: ignore[attr-defined]
    for _ in range(10):
        check_decode(mutate(rng, wire))
    check_framer(rng, mutate(rng, wire))
