"""Every cell of PS3.8 Table 9-10, driven through dimse.upper_layer's public API.

The expectation is rebuilt here from the standard independently of the module: the
grid below is a second transcription of Table 9-10 (compared cell by cell with
``TRANSITIONS``), and ``expected`` spells out Tables 9-6 to 9-9 as effects. Each cell
is exercised for every role that can reach the state, so 13 x 19 cells become
19 x 18 (state, role) cases.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dimse.errors import AbortReason, AbortSource, ProtocolError, UsageError
from dimse.pdu import (
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
    PresentationContextAC,
    PresentationContextRQ,
    UserInformation,
)
from dimse.upper_layer import (
    TRANSITIONS,
    Action,
    CloseTransport,
    Event,
    Indicate,
    OpenTransport,
    SendPDU,
    StartARTIM,
    State,
    StopARTIM,
    UpperLayer,
)

# PS3.8 Table 9-10, rows Evt1-Evt19, columns Sta1-Sta13; "." is an empty cell.
GRID = """
       Sta1 Sta2 Sta3 Sta4 Sta5 Sta6 Sta7 Sta8 Sta9 Sta10 Sta11 Sta12 Sta13
Evt1   AE-1 .    .    .    .    .    .    .    .    .     .     .     .
Evt2   .    .    .    AE-2 .    .    .    .    .    .     .     .     .
Evt3   .    AA-1 AA-8 .    AE-3 AA-8 AA-8 AA-8 AA-8 AA-8  AA-8  AA-8  AA-6
Evt4   .    AA-1 AA-8 .    AE-4 AA-8 AA-8 AA-8 AA-8 AA-8  AA-8  AA-8  AA-6
Evt5   AE-5 .    .    .    .    .    .    .    .    .     .     .     .
Evt6   .    AE-6 AA-8 .    AA-8 AA-8 AA-8 AA-8 AA-8 AA-8  AA-8  AA-8  AA-7
Evt7   .    .    AE-7 .    .    .    .    .    .    .     .     .     .
Evt8   .    .    AE-8 .    .    .    .    .    .    .     .     .     .
Evt9   .    .    .    .    .    DT-1 .    AR-7 .    .     .     .     .
Evt10  .    AA-1 AA-8 .    AA-8 DT-2 AR-6 AA-8 AA-8 AA-8  AA-8  AA-8  AA-6
Evt11  .    .    .    .    .    AR-1 .    .    .    .     .     .     .
Evt12  .    AA-1 AA-8 .    AA-8 AR-2 AR-8 AA-8 AA-8 AA-8  AA-8  AA-8  AA-6
Evt13  .    AA-1 AA-8 .    AA-8 AA-8 AR-3 AA-8 AA-8 AR-10 AR-3  AA-8  AA-6
Evt14  .    .    .    .    .    .    .    AR-4 AR-9 .     .     AR-4  .
Evt15  .    .    AA-1 AA-2 AA-1 AA-1 AA-1 AA-1 AA-1 AA-1  AA-1  AA-1  .
Evt16  .    AA-2 AA-3 .    AA-3 AA-3 AA-3 AA-3 AA-3 AA-3  AA-3  AA-3  AA-2
Evt17  .    AA-5 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4  AA-4  AA-4  AR-5
Evt18  .    AA-2 .    .    .    .    .    .    .    .     .     .     AA-2
Evt19  .    AA-1 AA-8 .    AA-8 AA-8 AA-8 AA-8 AA-8 AA-8  AA-8  AA-8  AA-7
"""


def parse_grid(text: str) -> dict[tuple[int, int], str]:
    lines = [line.split() for line in text.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert header == [f"Sta{n}" for n in range(1, 14)]
    cells = {}
    for row in rows:
        event = int(row[0].removeprefix("Evt"))
        assert len(row) == 14, row
        for state, cell in enumerate(row[1:], start=1):
            if cell != ".":
                cells[state, event] = cell
    return cells


CELLS = parse_grid(GRID)

T = 30.0  # ARTIM timeout used throughout
NOW = 500.0  # clock value when the event under test fires

UI = UserInformation(items=())
RQ = AAssociateRQ(
    called_ae_title="ACCEPTOR",
    calling_ae_title="REQUESTOR",
    presentation_contexts=(
        PresentationContextRQ(context_id=1, abstract_syntax="1.2.840.10008.1.1",
                              transfer_syntaxes=("1.2.840.10008.1.2",)),
    ),
    user_information=UI,
)
AC = AAssociateAC(
    called_ae_title="ACCEPTOR",
    calling_ae_title="REQUESTOR",
    presentation_contexts=(
        PresentationContextAC(context_id=1, result=0, transfer_syntax="1.2.840.10008.1.2"),
    ),
    user_information=UI,
)
RJ = AAssociateRJ(result=1, source=1, reason=1)
PDATA = PDataTF(pdvs=(PDV(context_id=1, control=3, data=b"\x00\x00"),))
REL_RQ = AReleaseRQ()
REL_RP = AReleaseRP()
USER_ABORT = AAbort(source=0, reason=0)
ERROR = ProtocolError("bad item", reason=AbortReason.INVALID_PDU_PARAMETER_VALUE, where="x")

RECEIVED = {
    Event.EVT3: AC,
    Event.EVT4: RJ,
    Event.EVT6: RQ,
    Event.EVT10: PDATA,
    Event.EVT12: REL_RQ,
    Event.EVT13: REL_RP,
    Event.EVT16: USER_ABORT,
}


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


Step = Callable[[UpperLayer], object]


def _connect(ul: UpperLayer) -> object:
    return ul.transport_connected()


def _recv(pdu: object) -> Step:
    return lambda ul: ul.receive_pdu(pdu)


ESTABLISHED_REQ: list[Step] = [lambda ul: ul.request_association(RQ), _connect, _recv(AC)]
ESTABLISHED_ACC: list[Step] = [_connect, _recv(RQ), lambda ul: ul.accept_association(AC)]

# How each (state, requestor?) pair is reached with legitimate input only.
PATHS: dict[tuple[State, bool], list[Step]] = {
    (State.STA1, True): [],
    (State.STA1, False): [],
    (State.STA2, False): [_connect],
    (State.STA3, False): [_connect, _recv(RQ)],
    (State.STA4, True): [lambda ul: ul.request_association(RQ)],
    (State.STA5, True): [lambda ul: ul.request_association(RQ), _connect],
}
for role, established in ((True, ESTABLISHED_REQ), (False, ESTABLISHED_ACC)):
    PATHS[State.STA6, role] = established
    PATHS[State.STA7, role] = [*established, lambda ul: ul.request_release()]
    PATHS[State.STA8, role] = [*established, _recv(REL_RQ)]
    PATHS[State.STA13, role] = [*established, lambda ul: ul.abort()]
PATHS[State.STA9, True] = [*PATHS[State.STA7, True], _recv(REL_RQ)]
PATHS[State.STA11, True] = [*PATHS[State.STA9, True], lambda ul: ul.respond_release()]
PATHS[State.STA10, False] = [*PATHS[State.STA7, False], _recv(REL_RQ)]
PATHS[State.STA12, False] = [*PATHS[State.STA10, False], _recv(REL_RP)]


def reach(state: State, requestor: bool) -> tuple[UpperLayer, Clock]:
    clock = Clock(100.0)
    ul = UpperLayer(requestor=requestor, artim_timeout=T, clock=clock)
    for step in PATHS[state, requestor]:
        step(ul)
    assert ul.state is state
    clock.now = NOW
    return ul, clock


def fire(ul: UpperLayer, event: Event, clock: Clock) -> list[object]:
    """Raise ``event`` through the named method that stands for it."""
    match event:
        case Event.EVT1:
            return list(ul.request_association(RQ))
        case Event.EVT2 | Event.EVT5:
            natural = Event.EVT2 if ul.requestor else Event.EVT5
            if event is natural:
                return list(ul.transport_connected())
            return list(ul.handle_event(event))
        case Event.EVT7:
            return list(ul.accept_association(AC))
        case Event.EVT8:
            return list(ul.reject_association(RJ))
        case Event.EVT9:
            return list(ul.send_data(PDATA))
        case Event.EVT11:
            return list(ul.request_release())
        case Event.EVT14:
            return list(ul.respond_release())
        case Event.EVT15:
            return list(ul.abort())
        case Event.EVT17:
            return list(ul.transport_closed())
        case Event.EVT18:
            deadline = ul.artim_deadline
            if deadline is None:
                assert ul.handle_timeout(NOW + 1e9) == []
                return list(ul.handle_event(Event.EVT18))
            assert ul.handle_timeout(deadline - 0.001) == []
            clock.now = deadline
            return list(ul.handle_timeout())
        case Event.EVT19:
            return list(ul.receive_invalid_pdu(ERROR))
        case _:
            return list(ul.receive_pdu(RECEIVED[event]))


def provider_abort(event: Event) -> AAbort:
    if event is Event.EVT19:
        return AAbort(source=2, reason=6)
    return AAbort(source=2, reason=2)


def expected(state: State, event: Event, requestor: bool) -> tuple[State, list[object]] | str:
    """Tables 9-6..9-9 as effects; "usage" / "ignore" for the empty cells."""
    cell = CELLS.get((state, event))
    if cell is None or (event is Event.EVT1 and not requestor) or (
        event is Event.EVT5 and requestor
    ):
        peer_input = event in RECEIVED or event in (Event.EVT17, Event.EVT19)
        if (state is State.STA1 and peer_input) or event is Event.EVT18:
            return "ignore"
        return "usage"
    start = StartARTIM(NOW + T)
    pdu = RECEIVED.get(event)
    table: dict[str, tuple[State, list[object]]] = {
        "AE-1": (State.STA4, [OpenTransport()]),
        "AE-2": (State.STA5, [SendPDU(RQ)]),
        "AE-3": (State.STA6, [Indicate("A-ASSOCIATE confirmation (accept)", AC)]),
        "AE-4": (State.STA1, [Indicate("A-ASSOCIATE confirmation (reject)", RJ),
                              CloseTransport()]),
        "AE-5": (State.STA2, [start]),
        "AE-6": (State.STA3, [StopARTIM(), Indicate("A-ASSOCIATE indication", RQ)]),
        "AE-7": (State.STA6, [SendPDU(AC)]),
        "AE-8": (State.STA13, [SendPDU(RJ), start]),
        "DT-1": (State.STA6, [SendPDU(PDATA)]),
        "DT-2": (State.STA6, [Indicate("P-DATA indication", PDATA)]),
        "AR-1": (State.STA7, [SendPDU(AReleaseRQ())]),
        "AR-2": (State.STA8, [Indicate("A-RELEASE indication", REL_RQ)]),
        "AR-3": (State.STA1, [Indicate("A-RELEASE confirmation", REL_RP), CloseTransport()]),
        "AR-4": (State.STA13, [SendPDU(AReleaseRP()), start]),
        "AR-5": (State.STA1, [StopARTIM()]),
        "AR-6": (State.STA7, [Indicate("P-DATA indication", PDATA)]),
        "AR-7": (State.STA8, [SendPDU(PDATA)]),
        "AR-8": (State.STA9 if requestor else State.STA10,
                 [Indicate("A-RELEASE indication", REL_RQ)]),
        "AR-9": (State.STA11, [SendPDU(AReleaseRP())]),
        "AR-10": (State.STA12, [Indicate("A-RELEASE confirmation", REL_RP)]),
        "AA-1": (State.STA13, [SendPDU(USER_ABORT if event is Event.EVT15
                                       else provider_abort(event)), start]),
        "AA-2": (State.STA1, ([StopARTIM()] if state in (State.STA2, State.STA13) else [])
                 + [CloseTransport()]),
        "AA-3": (State.STA1, [Indicate("A-ABORT indication", pdu), CloseTransport()]),
        "AA-4": (State.STA1, [Indicate("A-P-ABORT indication", None)]),
        "AA-5": (State.STA1, [StopARTIM()]),
        "AA-6": (State.STA13, []),
        "AA-7": (State.STA13, [SendPDU(provider_abort(event))]),
        "AA-8": (State.STA13, [SendPDU(provider_abort(event)),
                               Indicate("A-P-ABORT indication", provider_abort(event)),
                               start]),
    }
    return table[cell]


CASES = [
    pytest.param(state, event, role, id=f"Sta{state}-Evt{event}-{'rq' if role else 'ac'}")
    for state in State
    for role in (True, False)
    if (state, role) in PATHS
    for event in Event
]


def test_transcriptions_agree() -> None:
    module = {(int(s), int(e)): a.value for (s, e), a in TRANSITIONS.items()}
    assert module == CELLS
    assert len(CELLS) == 123  # of 247 cells
    assert set(TRANSITIONS.values()) == set(Action)  # every action is used somewhere


def test_every_state_reachable_and_every_cell_covered() -> None:
    assert {state for state, _ in PATHS} == set(State)
    assert len(CASES) == 19 * 18


@pytest.mark.parametrize(("state", "event", "requestor"), CASES)
def test_cell(state: State, event: Event, requestor: bool) -> None:
    ul, clock = reach(state, requestor)
    deadline_before = ul.artim_deadline
    want = expected(state, event, requestor)
    if want == "usage":
        with pytest.raises(UsageError):
            fire(ul, event, clock)
        assert ul.state is state
        assert ul.artim_deadline == deadline_before
        return
    got = fire(ul, event, clock)
    if want == "ignore":
        assert got == []
        assert ul.state is state
        assert ul.artim_deadline == deadline_before
        return
    assert isinstance(want, tuple)
    next_state, effects = want
    assert got == effects
    assert ul.state is next_state
    running = ul.artim_deadline is not None
    assert running == (next_state in (State.STA2, State.STA13))


# -- details of single actions ---------------------------------------------------------


def test_ae6_rejects_a_protocol_version_without_bit_0() -> None:
    ul, _ = reach(State.STA2, False)
    rq = attrs.evolve(RQ, protocol_version=2)
    assert ul.receive_pdu(rq) == [
        StopARTIM(),
        SendPDU(AAssociateRJ(result=1, source=2, reason=2)),
        StartARTIM(NOW + T),
    ]
    assert ul.state is State.STA13


def test_ae6_tests_only_bit_0() -> None:
    ul, _ = reach(State.STA2, False)
    rq = attrs.evolve(RQ, protocol_version=0x8003)
    assert ul.receive_pdu(rq) == [StopARTIM(), Indicate("A-ASSOCIATE indication", rq)]
    assert ul.state is State.STA3


@pytest.mark.parametrize("state", [State.STA3, State.STA6, State.STA11])
def test_aa3_provider_source_is_a_p_abort(state: State) -> None:
    ul, _ = reach(state, state is not State.STA3)
    abort = AAbort(source=2, reason=4)
    assert ul.receive_pdu(abort) == [Indicate("A-P-ABORT indication", abort), CloseTransport()]
    assert ul.state is State.STA1


def test_aa8_keeps_the_error_reason_and_a_user_source_has_reason_0() -> None:
    ul, _ = reach(State.STA6, True)
    err = ProtocolError("x", reason=AbortReason.UNRECOGNIZED_PDU)
    assert ul.receive_invalid_pdu(err)[0] == SendPDU(AAbort(source=2, reason=1))
    ul, _ = reach(State.STA6, True)
    err = ProtocolError("x", source=AbortSource.SERVICE_USER, reason=AbortReason.UNEXPECTED_PDU)
    assert ul.receive_invalid_pdu(err)[0] == SendPDU(AAbort(source=0, reason=0))


def test_aa1_in_sta2_answers_an_invalid_pdu_with_its_reason() -> None:
    ul, _ = reach(State.STA2, False)
    err = ProtocolError("short", reason=AbortReason.UNRECOGNIZED_PDU_PARAMETER)
    assert ul.receive_invalid_pdu(err) == [
        SendPDU(AAbort(source=2, reason=4)),
        StartARTIM(NOW + T),
    ]


def test_aa1_restarts_artim_and_aa7_does_not() -> None:
    ul, _ = reach(State.STA13, True)
    first = ul.artim_deadline
    assert ul.receive_pdu(RQ) == [SendPDU(AAbort(source=2, reason=2))]  # AA-7
    assert ul.artim_deadline == first
    assert ul.receive_pdu(PDATA) == []  # AA-6
    assert ul.artim_deadline == first


def test_provider_abort_by_the_local_user() -> None:
    ul, _ = reach(State.STA6, False)
    assert ul.abort(AbortSource.SERVICE_PROVIDER, AbortReason.INVALID_PDU_PARAMETER_VALUE) == [
        SendPDU(AAbort(source=2, reason=6)),
        StartARTIM(NOW + T),
    ]


@pytest.mark.parametrize(("source", "reason"), [(0, 1), (1, 0), (2, 3), (2, 7), (3, 0)])
def test_invalid_abort_fields_are_usage_errors(source: int, reason: int) -> None:
    ul, _ = reach(State.STA6, True)
    with pytest.raises(UsageError):
        ul.abort(source, reason)
    if source in (0, 1, 2):  # constructible, but not a valid request
        with pytest.raises(UsageError):
            ul.handle_event(Event.EVT15, AAbort(source=source, reason=reason))
    assert ul.state is State.STA6


def test_wrong_arguments_are_usage_errors() -> None:
    ul, _ = reach(State.STA6, True)
    with pytest.raises(UsageError):
        ul.send_data(REL_RQ)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        ul.receive_pdu(object())  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        ul.receive_invalid_pdu(ValueError())  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        ul.handle_event(Event.EVT11, REL_RQ)
    with pytest.raises(UsageError):
        ul.handle_event(99)  # type: ignore[arg-type]
    assert ul.state is State.STA6
    acceptor = UpperLayer(requestor=False)
    with pytest.raises(UsageError, match="acceptor"):
        acceptor.request_association(RQ)
    with pytest.raises(UsageError):
        UpperLayer(requestor=True, artim_timeout=0)


def test_a_machine_is_reusable_after_sta1() -> None:
    ul, _ = reach(State.STA13, True)
    ul.transport_closed()
    assert ul.state is State.STA1 and ul.artim_deadline is None
    assert ul.request_association(RQ) == [OpenTransport()]
    assert ul.transport_connected() == [SendPDU(RQ)]


def test_fixed_effects_are_shared_instances() -> None:
    """Effects without per-call data are immutable singletons, whichever machine."""
    a, _ = reach(State.STA6, True)
    b, _ = reach(State.STA6, False)
    assert a.request_release()[0] is b.request_release()[0]  # SendPDU(A-RELEASE-RQ)
    close_a = a.receive_pdu(REL_RP)[1]  # AR-3
    close_b = b.receive_pdu(REL_RP)[1]
    assert close_a == CloseTransport() and close_a is close_b


# -- random sequences on one machine ---------------------------------------------------

def _receiver(pdu: object) -> Callable[[UpperLayer, Clock], object]:
    return lambda ul, clock: ul.receive_pdu(pdu)  # type: ignore[arg-type]


OPS: list[tuple[str, Callable[[UpperLayer, Clock], object]]] = [
    ("request", lambda ul, c: ul.request_association(RQ)),
    ("connected", lambda ul, c: ul.transport_connected()),
    ("closed", lambda ul, c: ul.transport_closed()),
    ("accept", lambda ul, c: ul.accept_association(AC)),
    ("reject", lambda ul, c: ul.reject_association(RJ)),
    ("send", lambda ul, c: ul.send_data(PDATA)),
    ("release", lambda ul, c: ul.request_release()),
    ("respond", lambda ul, c: ul.respond_release()),
    ("abort", lambda ul, c: ul.abort()),
    ("timeout", lambda ul, c: ul.handle_timeout()),
    ("invalid", lambda ul, c: ul.receive_invalid_pdu(ERROR)),
    *((f"recv{event.value}", _receiver(pdu)) for event, pdu in RECEIVED.items()),
    ("recv-bad-version", _receiver(attrs.evolve(RQ, protocol_version=0))),
    ("recv-provider-abort", lambda ul, c: ul.receive_pdu(AAbort(source=2, reason=5))),
]
EFFECT_TYPES = (SendPDU, Indicate, StartARTIM, StopARTIM, OpenTransport, CloseTransport)


@settings(max_examples=300, deadline=None)
@given(
    requestor=st.booleans(),
    steps=st.lists(
        st.tuples(st.sampled_from(range(len(OPS))), st.floats(0, 40, allow_nan=False)),
        max_size=40,
    ),
)
def test_random_sequences_only_raise_usage_errors(
    requestor: bool, steps: list[tuple[int, float]]
) -> None:
    clock = Clock(0.0)
    ul = UpperLayer(requestor=requestor, artim_timeout=T, clock=clock)
    for index, advance in steps:
        clock.now += advance
        before = (ul.state, ul.artim_deadline)
        name, op = OPS[index]
        try:
            effects = op(ul, clock)
        except UsageError:
            assert (ul.state, ul.artim_deadline) == before, name
            continue
        assert isinstance(effects, list)
        assert all(isinstance(e, EFFECT_TYPES) for e in effects)
        assert ul.state in State
        deadline = ul.artim_deadline
        assert (deadline is not None) == (ul.state in (State.STA2, State.STA13))
        if deadline is not None and deadline != before[1]:
            assert StartARTIM(deadline) in effects
        if before[1] is not None and deadline is None:
            assert StopARTIM() in effects


def test_random_driver_never_leaks_other_exceptions() -> None:
    """A cheap fuzz without Hypothesis' shrinking, many more steps per machine."""
    rng = random.Random(1234)
    for _ in range(200):
        clock = Clock(0.0)
        ul = UpperLayer(requestor=rng.random() < 0.5, artim_timeout=T, clock=clock)
        for _ in range(100):
            clock.now += rng.uniform(0, 20)
            with contextlib.suppress(UsageError):
                rng.choice(OPS)[1](ul, clock)
            assert ul.state in State
