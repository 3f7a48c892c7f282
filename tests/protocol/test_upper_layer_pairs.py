"""A requestor and an acceptor UpperLayer wired back to back through an in-memory link.

Every SendPDU is encoded and decoded on its way across (when dimse.pdu can), closes
travel behind the data already sent (TCP delivers in order, then the FIN), and a fake
clock drives ARTIM. The scenarios follow PS3.8 section 7 (services) and 9.2 (state
machine): establishment, every rejection of Table 9-21, release with and without
collision, aborts from either side, ARTIM expiry; then Hypothesis interleaves
everything at random.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

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
    PDataTF,
    PresentationContextAC,
    PresentationContextRQ,
    UserInformation,
)
from dimse.upper_layer import (
    CloseTransport,
    Indicate,
    OpenTransport,
    SendPDU,
    StartARTIM,
    State,
    StopARTIM,
    UpperLayer,
)

try:
    from dimse.pdu import decode as _decode

    def wire(pdu: Any) -> Any:
        return _decode(pdu.encode())

    ON_THE_WIRE = True
except ImportError:  # dimse.pdu without a codec yet: pass the objects across

    def wire(pdu: Any) -> Any:
        return pdu

    ON_THE_WIRE = False

T = 30.0
UI = UserInformation(items=())
TS = "1.2.840.10008.1.2"
RQ = AAssociateRQ(
    called_ae_title="ACCEPTOR",
    calling_ae_title="REQUESTOR",
    presentation_contexts=(
        PresentationContextRQ(context_id=1, abstract_syntax="1.2.840.10008.1.1",
                              transfer_syntaxes=(TS,)),
    ),
    user_information=UI,
)
AC = AAssociateAC(
    called_ae_title="ACCEPTOR",
    calling_ae_title="REQUESTOR",
    presentation_contexts=(PresentationContextAC(context_id=1, result=0, transfer_syntax=TS),),
    user_information=UI,
)


def pdata(n: int) -> PDataTF:
    return PDataTF(pdvs=(PDV(context_id=1, control=2, data=n.to_bytes(4, "little")),))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Side:
    """One end: its machine, what it told its user, and its timer as the driver sees it."""

    def __init__(self, name: str, requestor: bool, clock: Clock) -> None:
        self.name = name
        self.ul = UpperLayer(requestor=requestor, artim_timeout=T, clock=clock)
        self.inbox: deque[Any] = deque()  # PDUs in flight towards this side
        self.indications: list[Indicate] = []
        self.timer: float | None = None
        self.closed = False  # this side closed its end (or saw the close)
        self.peer_closed = False  # a close is travelling towards this side, behind inbox
        self.sent: list[Any] = []


class Link:
    """Moves effects between the two sides the way a driver and TCP would."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.req = Side("requestor", True, self.clock)
        self.acc = Side("acceptor", False, self.clock)
        self.connecting = False

    def peer(self, side: Side) -> Side:
        return self.acc if side is self.req else self.req

    def apply(self, side: Side, effects: list[Any]) -> list[Any]:
        peer = self.peer(side)
        for effect in effects:
            if isinstance(effect, SendPDU):
                assert not side.closed, f"{side.name} sent on a closed connection"
                side.sent.append(effect.pdu)
                if not peer.closed:
                    peer.inbox.append(wire(effect.pdu))
            elif isinstance(effect, Indicate):
                side.indications.append(effect)
            elif isinstance(effect, StartARTIM):
                side.timer = effect.deadline
            elif isinstance(effect, StopARTIM):
                side.timer = None
            elif isinstance(effect, OpenTransport):
                self.connecting = True
            elif isinstance(effect, CloseTransport):
                if side is self.req:
                    self.connecting = False  # a pending connect is cancelled
                side.closed = True
                side.inbox.clear()  # we stop reading
                if not peer.closed:
                    peer.peer_closed = True
            else:  # pragma: no cover
                raise AssertionError(effect)
        assert (side.timer is None) == (side.ul.artim_deadline is None)
        return effects

    # -- driver actions ---------------------------------------------------------------

    def act(self, side: Side, call: Callable[[UpperLayer], list[Any]]) -> list[Any]:
        return self.apply(side, call(side.ul))

    def connect(self) -> None:
        assert self.connecting
        self.connecting = False
        self.req.closed = self.acc.closed = False
        self.req.peer_closed = self.acc.peer_closed = False
        self.apply(self.acc, self.acc.ul.transport_connected())
        self.apply(self.req, self.req.ul.transport_connected())

    def deliver(self, side: Side) -> bool:
        """One step of input towards ``side``: a PDU, else a pending close."""
        if side.inbox:
            self.apply(side, side.ul.receive_pdu(side.inbox.popleft()))
            return True
        if side.peer_closed:
            side.peer_closed = False
            side.closed = True
            self.apply(side, side.ul.transport_closed())
            return True
        return False

    def drain(self) -> None:
        while self.deliver(self.req) or self.deliver(self.acc):
            pass

    def expire(self, side: Side) -> list[Any]:
        assert side.timer is not None
        assert side.ul.handle_timeout(side.timer - 0.5) == []
        self.clock.now = max(self.clock.now, side.timer)
        return self.apply(side, side.ul.handle_timeout())

    def primitives(self, side: Side) -> list[str]:
        return [i.primitive for i in side.indications]

    def establish(self) -> None:
        self.act(self.req, lambda ul: ul.request_association(RQ))
        self.connect()
        self.drain()
        assert self.primitives(self.acc) == ["A-ASSOCIATE indication"]
        assert self.acc.indications[0].pdu == RQ
        self.act(self.acc, lambda ul: ul.accept_association(AC))
        self.drain()
        assert self.primitives(self.req) == ["A-ASSOCIATE confirmation (accept)"]
        assert self.req.indications[0].pdu == AC
        assert self.req.ul.state is self.acc.ul.state is State.STA6


def idle(link: Link) -> None:
    for side in (link.req, link.acc):
        assert side.ul.state is State.STA1, side.name
        assert side.ul.artim_deadline is None and side.timer is None


# -- establishment, data, release ------------------------------------------------------


def test_codec_in_the_loop_when_available() -> None:
    if not ON_THE_WIRE:
        pytest.skip("dimse.pdu has no decode() yet; PDUs cross as objects")
    assert wire(RQ) == RQ and wire(AAbort(source=2, reason=6)) == AAbort(source=2, reason=6)


def test_accept_exchange_data_and_release() -> None:
    link = Link()
    link.establish()
    for n in range(5):
        link.act(link.req, lambda ul, n=n: ul.send_data(pdata(n)))
        link.act(link.acc, lambda ul, n=n: ul.send_data(pdata(100 + n)))
    link.drain()
    assert [i.pdu for i in link.acc.indications[1:]] == [pdata(n) for n in range(5)]
    assert [i.pdu for i in link.req.indications[1:]] == [pdata(100 + n) for n in range(5)]

    link.act(link.req, lambda ul: ul.request_release())
    assert link.req.ul.state is State.STA7
    link.drain()
    assert link.primitives(link.acc)[-1] == "A-RELEASE indication"
    assert link.acc.ul.state is State.STA8
    # The acceptor may still send P-DATA before answering (AR-7), the requestor
    # still receives it (AR-6).
    link.act(link.acc, lambda ul: ul.send_data(pdata(7)))
    link.act(link.acc, lambda ul: ul.respond_release())
    assert link.acc.ul.state is State.STA13 and link.acc.timer == link.clock.now + T
    link.drain()
    assert link.primitives(link.req)[-2:] == ["P-DATA indication", "A-RELEASE confirmation"]
    idle(link)


@pytest.mark.parametrize(
    ("result", "source", "reason"),
    [
        (result, source, reason)
        for result in (1, 2)  # rejected-permanent, rejected-transient
        for source, reasons in (
            (1, (1, 2, 3, 7)),  # service-user: no reason, app context, calling, called AE
            (2, (1, 2)),  # provider (ACSE): no reason, protocol version
            (3, (1, 2)),  # provider (presentation): temporary congestion, local limit
        )
        for reason in reasons
    ],
)
def test_reject(result: int, source: int, reason: int) -> None:
    link = Link()
    link.act(link.req, lambda ul: ul.request_association(RQ))
    link.connect()
    link.drain()
    rj = AAssociateRJ(result=result, source=source, reason=reason)
    assert link.act(link.acc, lambda ul: ul.reject_association(rj)) == [
        SendPDU(rj),
        StartARTIM(link.clock.now + T),
    ]
    assert link.acc.ul.state is State.STA13
    link.drain()
    assert link.req.indications[-1] == Indicate("A-ASSOCIATE confirmation (reject)", rj)
    idle(link)


def test_provider_rejects_an_unsupported_protocol_version() -> None:
    link = Link()
    rq = attrs.evolve(RQ, protocol_version=2)
    link.act(link.req, lambda ul: ul.request_association(rq))
    link.connect()
    link.drain()
    assert link.acc.indications == []  # PS3.8 7.1.2.6: no indication is issued
    rj = AAssociateRJ(result=1, source=2, reason=2)
    assert link.req.indications == [Indicate("A-ASSOCIATE confirmation (reject)", rj)]
    idle(link)


@pytest.mark.parametrize("acceptor_rq_first", [True, False])
def test_release_collision(acceptor_rq_first: bool) -> None:
    link = Link()
    link.establish()
    link.act(link.req, lambda ul: ul.request_release())
    link.act(link.acc, lambda ul: ul.request_release())
    first, second = (link.acc, link.req) if acceptor_rq_first else (link.req, link.acc)
    link.deliver(first)
    link.deliver(second)
    assert link.req.ul.state is State.STA9  # requestor side: answers first
    assert link.acc.ul.state is State.STA10  # acceptor side: waits for that answer
    assert link.primitives(link.req)[-1] == link.primitives(link.acc)[-1] == "A-RELEASE indication"
    with pytest.raises(UsageError):  # Sta10 has no A-RELEASE response
        link.acc.ul.respond_release()
    link.act(link.req, lambda ul: ul.respond_release())
    assert link.req.ul.state is State.STA11
    link.deliver(link.acc)
    assert link.acc.ul.state is State.STA12
    assert link.primitives(link.acc)[-1] == "A-RELEASE confirmation"
    link.act(link.acc, lambda ul: ul.respond_release())
    assert link.acc.ul.state is State.STA13
    link.deliver(link.req)
    assert link.primitives(link.req)[-1] == "A-RELEASE confirmation"
    assert link.req.ul.state is State.STA1 and link.req.closed
    link.drain()
    idle(link)


# -- aborts ----------------------------------------------------------------------------


@pytest.mark.parametrize("aborter", ["requestor", "acceptor"])
@pytest.mark.parametrize(("source", "primitive"), [(0, "A-ABORT indication"),
                                                   (2, "A-P-ABORT indication")])
def test_abort_established(aborter: str, source: int, primitive: str) -> None:
    link = Link()
    link.establish()
    side = link.req if aborter == "requestor" else link.acc
    other = link.peer(side)
    reason = 0 if source == 0 else AbortReason.UNEXPECTED_PDU_PARAMETER
    link.act(side, lambda ul: ul.abort(source, reason))
    assert side.ul.state is State.STA13
    link.drain()
    assert other.indications[-1] == Indicate(primitive, AAbort(source=source, reason=reason))
    idle(link)  # the peer closed, so the aborter's AR-5 ended its wait


def test_abort_during_establishment_both_sides() -> None:
    link = Link()
    link.act(link.req, lambda ul: ul.request_association(RQ))
    assert link.act(link.req, lambda ul: ul.abort()) == [CloseTransport()]  # Sta4: AA-2
    assert link.req.ul.state is State.STA1
    # acceptor aborts while its user decides (Sta3)
    link = Link()
    link.act(link.req, lambda ul: ul.request_association(RQ))
    link.connect()
    link.drain()
    link.act(link.acc, lambda ul: ul.abort())
    link.drain()
    assert link.primitives(link.req) == ["A-ABORT indication"]
    idle(link)


def test_unexpected_and_invalid_pdus_abort_with_provider_source() -> None:
    link = Link()
    link.establish()
    link.req.inbox.append(wire(AReleaseRP()))  # a release answer nobody asked for
    link.drain()
    want = AAbort(source=AbortSource.SERVICE_PROVIDER, reason=AbortReason.UNEXPECTED_PDU)
    assert link.req.indications[-1] == Indicate("A-P-ABORT indication", want)
    assert link.acc.indications[-1] == Indicate("A-P-ABORT indication", want)
    idle(link)

    link = Link()
    link.establish()
    error = ProtocolError("bad", reason=AbortReason.INVALID_PDU_PARAMETER_VALUE)
    if ON_THE_WIRE:
        from dimse.pdu import decode

        with pytest.raises(ProtocolError) as caught:
            decode(b"\x09\x00\x00\x00\x00\x00")  # no such PDU type
        error = caught.value
    link.apply(link.acc, link.acc.ul.receive_invalid_pdu(error))
    link.drain()
    sent = link.acc.sent[-1]
    assert sent.source == 2 and sent.reason == error.reason
    assert link.req.indications[-1].primitive == "A-P-ABORT indication"
    idle(link)


# -- ARTIM -----------------------------------------------------------------------------


def test_artim_acceptor_waiting_for_the_rq() -> None:
    link = Link()
    link.act(link.req, lambda ul: ul.request_association(RQ))
    link.connecting = False
    link.apply(link.acc, link.acc.ul.transport_connected())  # the RQ never comes
    assert link.acc.ul.state is State.STA2 and link.acc.timer == link.clock.now + T
    link.clock.now += T - 1
    assert link.acc.ul.handle_timeout() == []
    assert link.expire(link.acc) == [StopARTIM(), CloseTransport()]
    assert link.acc.ul.state is State.STA1
    link.apply(link.req, link.req.ul.transport_connected())  # late connect: RQ sent
    assert link.req.ul.state is State.STA5
    link.drain()  # the close reaches the requestor: AA-4
    assert link.primitives(link.req) == ["A-P-ABORT indication"]
    idle(link)


@pytest.mark.parametrize("releaser", ["requestor", "acceptor"])
def test_artim_after_release_when_the_peer_never_closes(releaser: str) -> None:
    link = Link()
    link.establish()
    asker = link.req if releaser == "requestor" else link.acc
    answerer = link.peer(asker)
    link.act(asker, lambda ul: ul.request_release())
    link.deliver(answerer)
    link.act(answerer, lambda ul: ul.respond_release())
    assert answerer.ul.state is State.STA13
    asker.inbox.clear()  # the A-RELEASE-RP is lost; the asker never closes
    link.clock.now += 5
    assert answerer.ul.handle_timeout() == []
    assert link.expire(answerer) == [StopARTIM(), CloseTransport()]
    link.drain()
    assert link.primitives(asker)[-1] == "A-P-ABORT indication"  # Sta7 + Evt17: AA-4
    idle(link)


# -- random interleavings --------------------------------------------------------------

ACTIONS: list[tuple[str, Callable[[UpperLayer], list[Any]]]] = [
    ("send", lambda ul: ul.send_data(pdata(1))),
    ("release", lambda ul: ul.request_release()),
    ("respond", lambda ul: ul.respond_release()),
    ("abort", lambda ul: ul.abort()),
    ("accept", lambda ul: ul.accept_association(AC)),
    ("reject", lambda ul: ul.reject_association(AAssociateRJ(result=2, source=1, reason=1))),
]
ACTIONS += [ACTIONS[1], ACTIONS[2]]  # weight release/respond so collisions happen

# (requestor, acceptor) states a quiet link may rest in: someone's user must act next.
RESTING = {
    (State.STA1, State.STA1),
    (State.STA4, State.STA1),  # connect not completed
    (State.STA5, State.STA3),  # acceptor's user to accept or reject
    (State.STA6, State.STA6),
    (State.STA7, State.STA8),  # acceptor's user to answer the release
    (State.STA8, State.STA7),
    (State.STA9, State.STA10),  # collision: requestor's user answers first
    (State.STA11, State.STA12),  # then the acceptor's
}


@settings(max_examples=400, deadline=None)
@given(
    established=st.booleans(),
    script=st.lists(
        st.tuples(st.integers(0, 3), st.booleans(), st.integers(0, len(ACTIONS) - 1)),
        max_size=60,
    ),
)
def test_random_interleavings(established: bool, script: list[tuple[int, bool, int]]) -> None:
    """Users on both sides do anything at any time, PDUs arrive in any interleaving
    (order kept per direction), timers fire whenever. Only UsageError escapes; once
    input stops the two machines agree on where they are; a dropped link ends both."""
    link = Link()
    if established:  # start in Sta6 so release and collision paths get explored
        link.establish()
    else:
        link.act(link.req, lambda ul: ul.request_association(RQ))
    for kind, to_requestor, index in script:
        side = link.req if to_requestor else link.acc
        if kind == 0:
            if link.connecting:
                link.connect()
        elif kind == 1:
            link.deliver(side)
        elif kind == 2:
            if side.timer is not None:
                link.expire(side)
        else:
            with contextlib.suppress(UsageError):
                link.act(side, ACTIONS[index][1])
    while True:  # deliver everything, let every running ARTIM expire
        link.drain()
        running = [side for side in (link.req, link.acc) if side.timer is not None]
        if not running:
            break
        link.expire(running[0])
    assert (link.req.ul.state, link.acc.ul.state) in RESTING
    for side in (link.req, link.acc):  # the network drops the connection
        if not side.closed and side.ul.state is not State.STA1:
            link.apply(side, side.ul.transport_closed())
    idle(link)
