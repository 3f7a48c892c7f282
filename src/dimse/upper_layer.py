"""The PS3.8 Upper Layer state machine (section 9.2), sans-I/O.

:class:`UpperLayer` turns events - local primitives, received PDUs, transport and timer
reports - into *effects* the driver carries out (:class:`SendPDU`, :class:`Indicate`,
:class:`StartARTIM`, :class:`StopARTIM`, :class:`OpenTransport`,
:class:`CloseTransport`). Which action runs is decided only by
:data:`~dimse.upper_layer_table.TRANSITIONS`, PS3.8 Table 9-10 as data; the handlers
below implement the actions of Tables 9-6 to 9-9 and nothing else.

Choices the standard leaves open, all deliberate:

* Empty cells of Table 9-10: see :data:`~dimse.upper_layer_table.IGNORED`. A handful
  are no-ops; the rest raise :class:`~dimse.errors.UsageError` and change nothing.
* A-ABORT fields. AA-1 on Evt15 sends the source/reason the user gave. AA-1 on a PDU
  in Sta2, AA-7 and AA-8 answer a *peer* fault, which Table 9-26 can describe only
  with source 2 (service-provider): reason 2 (unexpected-PDU) for a well-formed PDU
  in the wrong state, the :class:`~dimse.errors.ProtocolError`'s own reason for
  Evt19. (Table 9-9 labels AA-1 "service-user source", written for Evt15; in Sta2 no
  service-user has been involved yet, and source 0 would blame the wrong party.)
* AE-5's "transport connection response" needs no effect: the driver has accepted
  the connection before reporting it. AA-4's A-P-ABORT indication carries no PDU.
* The ARTIM timer is a deadline (:attr:`UpperLayer.artim_deadline`); Evt18 happens
  when :meth:`UpperLayer.handle_timeout` is called at or after it. It runs exactly in
  Sta2 and Sta13.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeAlias, cast

import attrs

from dimse.errors import AbortReason, AbortSource, ProtocolError, UsageError
from dimse.pdu import AAbort, AAssociateRJ, AReleaseRP, AReleaseRQ
from dimse.upper_layer_table import (
    IGNORED,
    PDU_EVENTS,
    TRANSITIONS,
    Action,
    Event,
    State,
)

if TYPE_CHECKING:
    from dimse.pdu import PDU, AAssociateAC, AAssociateRQ, PDataTF

__all__ = [
    "A_ABORT_INDICATION",
    "A_ASSOCIATE_CONFIRMATION_ACCEPT",
    "A_ASSOCIATE_CONFIRMATION_REJECT",
    "A_ASSOCIATE_INDICATION",
    "A_P_ABORT_INDICATION",
    "A_RELEASE_CONFIRMATION",
    "A_RELEASE_INDICATION",
    "P_DATA_INDICATION",
    "TRANSITIONS",
    "Action",
    "CloseTransport",
    "Effect",
    "Event",
    "Indicate",
    "OpenTransport",
    "SendPDU",
    "StartARTIM",
    "State",
    "StopARTIM",
    "UpperLayer",
]

# Service primitives the provider issues to its local user (PS3.8 section 7).
A_ASSOCIATE_INDICATION: Final = "A-ASSOCIATE indication"
A_ASSOCIATE_CONFIRMATION_ACCEPT: Final = "A-ASSOCIATE confirmation (accept)"
A_ASSOCIATE_CONFIRMATION_REJECT: Final = "A-ASSOCIATE confirmation (reject)"
P_DATA_INDICATION: Final = "P-DATA indication"
A_RELEASE_INDICATION: Final = "A-RELEASE indication"
A_RELEASE_CONFIRMATION: Final = "A-RELEASE confirmation"
A_ABORT_INDICATION: Final = "A-ABORT indication"
A_P_ABORT_INDICATION: Final = "A-P-ABORT indication"


@attrs.frozen
class SendPDU:
    """Encode ``pdu`` and write it to the transport connection."""

    pdu: PDU


@attrs.frozen
class Indicate:
    """Hand a service primitive (one of the ``*_INDICATION``/``*_CONFIRMATION`` names) to
    the local user; ``pdu`` is the PDU it came from (``None`` for AA-4, a lost link)."""

    primitive: str
    pdu: PDU | None = None


@attrs.frozen
class StartARTIM:
    """(Re)start the ARTIM timer: call :meth:`UpperLayer.handle_timeout` at ``deadline``
    (a value of the machine's clock)."""

    deadline: float


@attrs.frozen
class StopARTIM:
    """Cancel the ARTIM timer."""


@attrs.frozen
class OpenTransport:
    """Open the transport connection to the peer; report the outcome with
    :meth:`UpperLayer.transport_connected` or :meth:`UpperLayer.transport_closed`."""


@attrs.frozen
class CloseTransport:
    """Close the transport connection (TCP "don't linger", PS3.8 9.1.4)."""


Effect: TypeAlias = SendPDU | Indicate | StartARTIM | StopARTIM | OpenTransport | CloseTransport

# Shared instances: effects are immutable, so the hot paths need not allocate them.
_STOP_ARTIM: Final = StopARTIM()
_OPEN: Final = OpenTransport()
_CLOSE: Final = CloseTransport()
_SEND_RELEASE_RQ: Final = SendPDU(AReleaseRQ())
_SEND_RELEASE_RP: Final = SendPDU(AReleaseRP())

# A-ASSOCIATE-RJ fields (PS3.8 Table 9-21) for AE-6's provider rejection.
_RJ_PERMANENT: Final = 1
_RJ_SOURCE_PROVIDER_ACSE: Final = 2
_RJ_PROTOCOL_VERSION_NOT_SUPPORTED: Final = 2

_Arg: TypeAlias = "PDU | ProtocolError | None"
_Handler: TypeAlias = Callable[["UpperLayer", Event, _Arg], list[Effect]]

# What each event carries; checked by UpperLayer.handle_event (the named methods check
# their own argument). An int is the PDU type expected.
_EVENT_ARGS: Final[dict[Event, int | type[ProtocolError] | None]] = {
    **{event: None for event in Event},
    Event.EVT1: 1,
    Event.EVT3: 2,
    Event.EVT4: 3,
    Event.EVT6: 1,
    Event.EVT7: 2,
    Event.EVT8: 3,
    Event.EVT9: 4,
    Event.EVT10: 4,
    Event.EVT12: 5,
    Event.EVT13: 6,
    Event.EVT15: 7,
    Event.EVT16: 7,
    Event.EVT19: ProtocolError,
}

# Events one role never has: only a requestor asks for an association and actively
# connects (Evt1, Evt2); only an acceptor is handed an incoming connection (Evt5).
_NOT_FOR_ROLE: Final[dict[bool, frozenset[Event]]] = {
    True: frozenset({Event.EVT5}),
    False: frozenset({Event.EVT1, Event.EVT2}),
}


_PROVIDER_REASONS: Final = frozenset(AbortReason) - {AbortReason.RESERVED}


def _abort_fields_valid(source: object, reason: object) -> bool:
    """Table 9-26: source 0 (service-user) with reason 0, or source 2 (service-provider)
    with reason 0-2 or 4-6; anything else would put an invalid A-ABORT on the wire."""
    if source == AbortSource.SERVICE_USER:
        return reason == AbortReason.NOT_SPECIFIED
    return source == AbortSource.SERVICE_PROVIDER and reason in _PROVIDER_REASONS


def _provider_abort(arg: _Arg) -> AAbort:
    """The A-ABORT answering a peer fault: the error's source/reason for Evt19, else
    service-provider / unexpected-PDU (the PDU was valid but not allowed here)."""
    if not isinstance(arg, ProtocolError):
        return _UNEXPECTED_PDU_ABORT
    if arg.source == AbortSource.SERVICE_USER:
        return AAbort(source=0, reason=0)  # Table 9-26: reason not significant, sent as 0
    reason = arg.reason if arg.reason in _PROVIDER_REASONS else AbortReason.NOT_SPECIFIED
    return AAbort(source=int(AbortSource.SERVICE_PROVIDER), reason=int(reason))


_UNEXPECTED_PDU_ABORT: Final = AAbort(
    source=int(AbortSource.SERVICE_PROVIDER), reason=int(AbortReason.UNEXPECTED_PDU)
)


class UpperLayer:
    """One association's PS3.8 Upper Layer state machine, for either role.

    Every method below is one event of Table 9-10; it returns the effects, in order, of
    the action the table names and moves :attr:`state`. A local primitive issued where
    the table has no entry raises :class:`~dimse.errors.UsageError` and changes nothing;
    a PDU the peer should not have sent is answered as the table says (AA-1/AA-8...).

    Effects by action: AE-1 ``OpenTransport``; AE-2, AE-7, DT-1, AR-7 ``SendPDU``;
    AE-3, DT-2, AR-6, AR-2, AR-8, AR-10 ``Indicate``; AE-4, AR-3, AA-3 ``Indicate,
    CloseTransport``; AE-5 ``StartARTIM``; AE-6 ``StopARTIM`` then ``Indicate`` or
    ``SendPDU(A-ASSOCIATE-RJ), StartARTIM``; AE-8, AR-4 ``SendPDU, StartARTIM``; AR-1,
    AR-9 ``SendPDU``; AR-5, AA-5 ``StopARTIM``; AA-1 ``SendPDU(A-ABORT), StartARTIM``;
    AA-2 ``[StopARTIM], CloseTransport``; AA-4 ``Indicate``; AA-6 nothing; AA-7
    ``SendPDU(A-ABORT)``; AA-8 ``SendPDU(A-ABORT), Indicate(A-P-ABORT), StartARTIM``.
    """

    __slots__ = (
        "_artim_deadline",
        "_artim_timeout",
        "_clock",
        "_dispatch",
        "_receive",
        "_requestor",
        "_rq",
        "_state",
    )

    def __init__(
        self,
        requestor: bool,
        artim_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (isinstance(artim_timeout, int | float) and 0 < artim_timeout < math.inf):
            raise UsageError(f"artim_timeout must be a positive number, not {artim_timeout!r}")
        self._requestor = bool(requestor)
        self._artim_timeout = float(artim_timeout)
        self._clock = clock
        self._state = State.STA1
        self._artim_deadline: float | None = None
        self._rq: AAssociateRQ | None = None  # between AE-1 and AE-2
        self._dispatch = _DISPATCH[self._requestor]
        self._receive = _RECEIVE[self._requestor]

    # -- observation ---------------------------------------------------------------

    @property
    def state(self) -> State:
        """The current state, Sta1-Sta13."""
        return self._state

    @property
    def requestor(self) -> bool:
        """True for the association-requestor (decides AR-8's Sta9/Sta10)."""
        return self._requestor

    @property
    def artim_deadline(self) -> float | None:
        """When ARTIM expires (clock value), or ``None`` when it is not running."""
        return self._artim_deadline

    # -- local primitives (from the service-user) -----------------------------------

    def request_association(self, rq: AAssociateRQ) -> list[Effect]:
        """A-ASSOCIATE request (Evt1): connect, then send ``rq`` once connected."""
        return self.handle_event(Event.EVT1, rq)

    def accept_association(self, ac: AAssociateAC) -> list[Effect]:
        """A-ASSOCIATE response, accept (Evt7)."""
        return self.handle_event(Event.EVT7, ac)

    def reject_association(self, rj: AAssociateRJ) -> list[Effect]:
        """A-ASSOCIATE response, reject (Evt8)."""
        return self.handle_event(Event.EVT8, rj)

    def send_data(self, pdata: PDataTF) -> list[Effect]:
        """P-DATA request (Evt9). The hot path: one lookup, no validation beyond type."""
        handler = self._dispatch.get((self._state, Event.EVT9))
        if handler is None or getattr(pdata, "pdu_type", None) != 4:
            return self.handle_event(Event.EVT9, pdata)  # raises the right UsageError
        return handler(self, Event.EVT9, pdata)

    def request_release(self) -> list[Effect]:
        """A-RELEASE request (Evt11)."""
        return self.handle_event(Event.EVT11)

    def respond_release(self) -> list[Effect]:
        """A-RELEASE response (Evt14); PS3.8 7.2 allows only an affirmative one."""
        return self.handle_event(Event.EVT14)

    def abort(
        self,
        source: int = AbortSource.SERVICE_USER,
        reason: int = AbortReason.NOT_SPECIFIED,
    ) -> list[Effect]:
        """A-ABORT request (Evt15); ``source``/``reason`` go into the A-ABORT PDU and
        must be a pair Table 9-26 allows (service-user: reason 0)."""
        if not _abort_fields_valid(source, reason):
            raise UsageError(f"invalid A-ABORT source/reason: {source!r}/{reason!r}")
        return self.handle_event(Event.EVT15, AAbort(source=int(source), reason=int(reason)))

    # -- transport, timer and peer input ---------------------------------------------

    def transport_connected(self) -> list[Effect]:
        """The transport connection is open: Evt2 (requestor's connect confirmed) or
        Evt5 (acceptor's incoming connection)."""
        return self.handle_event(Event.EVT2 if self._requestor else Event.EVT5)

    def transport_closed(self) -> list[Effect]:
        """The transport connection closed (Evt17)."""
        return self.handle_event(Event.EVT17)

    def handle_timeout(self, now: float | None = None) -> list[Effect]:
        """ARTIM expired (Evt18) if it is running and ``now`` (default: the clock) has
        reached its deadline; otherwise nothing, so early or stale calls are safe."""
        deadline = self._artim_deadline
        if deadline is None:
            return []
        if now is None:
            now = self._clock()
        if now < deadline:
            return []
        return self.handle_event(Event.EVT18)

    def receive_pdu(self, pdu: PDU) -> list[Effect]:
        """A decoded PDU arrived: Evt3/4/6/10/12/13/16 by its type (one lookup)."""
        try:
            entry = self._receive[self._state, pdu.pdu_type]
        except (KeyError, AttributeError, TypeError):
            pdu_type = getattr(pdu, "pdu_type", None)
            event = PDU_EVENTS.get(pdu_type) if isinstance(pdu_type, int) else None
            if event is None:
                raise UsageError(f"not a PDU: {pdu!r}") from None
            return self._without_entry(event)
        return entry[0](self, entry[1], pdu)

    def receive_invalid_pdu(self, error: ProtocolError) -> list[Effect]:
        """Bytes that do not decode to a valid PDU arrived (Evt19); ``error`` (from the
        framer or decoder) supplies the A-ABORT reason."""
        return self.handle_event(Event.EVT19, error)

    # -- generic entry -------------------------------------------------------------

    def handle_event(self, event: Event, arg: _Arg = None) -> list[Effect]:
        """Run Table 9-10 for ``event``: the PDU it carries (Evt1, 3, 4, 6-10, 12, 13,
        15, 16), the :class:`ProtocolError` (Evt19) or nothing. The named methods are
        shorthands for this; it exists so every cell of the table can be driven."""
        try:
            event = Event(event)
        except ValueError:
            raise UsageError(f"not an Upper Layer event: {event!r}") from None
        expected = _EVENT_ARGS[event]
        if expected is None:
            ok = arg is None
        elif expected is ProtocolError:
            ok = isinstance(arg, ProtocolError)
        else:
            ok = getattr(arg, "pdu_type", None) == expected
            if ok and event is Event.EVT15:
                abort = cast("AAbort", arg)
                ok = _abort_fields_valid(abort.source, abort.reason)
        if not ok:
            raise UsageError(f"{event.label} cannot carry {arg!r}")
        handler = self._dispatch.get((self._state, event))
        if handler is None:
            return self._without_entry(event)
        return handler(self, event, arg)

    def _without_entry(self, event: Event) -> list[Effect]:
        """An empty cell of Table 9-10: a no-op if IGNORED lists it, else misuse."""
        state = self._state
        if (state, event) in IGNORED:
            return []
        if event in _NOT_FOR_ROLE[self._requestor]:
            role = "association-requestor" if self._requestor else "association-acceptor"
            raise UsageError(f"{event.label} does not happen to an {role}")
        raise UsageError(f"{event.label} is not allowed in {state.label}")

    def _start_artim(self) -> StartARTIM:
        deadline = self._clock() + self._artim_timeout
        self._artim_deadline = deadline
        return StartARTIM(deadline)

    # -- actions (PS3.8 Tables 9-6 to 9-9); each sets the next state ------------------

    def _ae_1(self, event: Event, arg: _Arg) -> list[Effect]:
        self._rq = cast("AAssociateRQ", arg)
        self._state = State.STA4
        return [_OPEN]

    def _ae_2(self, event: Event, arg: _Arg) -> list[Effect]:
        rq, self._rq = cast("AAssociateRQ", self._rq), None
        self._state = State.STA5
        return [SendPDU(rq)]

    def _ae_3(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA6
        return [Indicate(A_ASSOCIATE_CONFIRMATION_ACCEPT, cast("AAssociateAC", arg))]

    def _ae_4(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA1
        return [Indicate(A_ASSOCIATE_CONFIRMATION_REJECT, cast("AAssociateRJ", arg)), _CLOSE]

    def _ae_5(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA2
        return [self._start_artim()]

    def _ae_6(self, event: Event, arg: _Arg) -> list[Effect]:
        rq = cast("AAssociateRQ", arg)
        self._artim_deadline = None
        # "Acceptable by service-provider": the only provider-level (ACSE) check PS3.8
        # defines is the protocol version, of which a receiver tests bit 0 (9.3.2).
        if rq.protocol_version & 1:
            self._state = State.STA3
            return [_STOP_ARTIM, Indicate(A_ASSOCIATE_INDICATION, rq)]
        rj = AAssociateRJ(
            result=_RJ_PERMANENT,
            source=_RJ_SOURCE_PROVIDER_ACSE,
            reason=_RJ_PROTOCOL_VERSION_NOT_SUPPORTED,
        )
        self._state = State.STA13
        return [_STOP_ARTIM, SendPDU(rj), self._start_artim()]

    def _ae_7(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA6
        return [SendPDU(cast("AAssociateAC", arg))]

    def _ae_8(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA13
        return [SendPDU(cast("AAssociateRJ", arg)), self._start_artim()]

    def _dt_1(self, event: Event, arg: _Arg) -> list[Effect]:
        return [SendPDU(cast("PDataTF", arg))]  # Sta6 -> Sta6

    def _dt_2(self, event: Event, arg: _Arg) -> list[Effect]:
        return [Indicate(P_DATA_INDICATION, cast("PDataTF", arg))]  # Sta6 -> Sta6

    def _ar_1(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA7
        return [_SEND_RELEASE_RQ]

    def _ar_2(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA8
        return [Indicate(A_RELEASE_INDICATION, cast("AReleaseRQ", arg))]

    def _ar_3(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA1
        return [Indicate(A_RELEASE_CONFIRMATION, cast("AReleaseRP", arg)), _CLOSE]

    def _ar_4(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA13
        return [_SEND_RELEASE_RP, self._start_artim()]

    def _ar_5(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA1
        self._artim_deadline = None
        return [_STOP_ARTIM]

    def _ar_6(self, event: Event, arg: _Arg) -> list[Effect]:
        return [Indicate(P_DATA_INDICATION, cast("PDataTF", arg))]  # Sta7 -> Sta7

    def _ar_7(self, event: Event, arg: _Arg) -> list[Effect]:
        return [SendPDU(cast("PDataTF", arg))]  # Sta8 -> Sta8

    def _ar_8(self, event: Event, arg: _Arg) -> list[Effect]:
        # Release collision: both sides sent A-RELEASE-RQ. The requestor answers first
        # (Sta9 -> AR-9), the acceptor waits for that A-RELEASE-RP (Sta10 -> AR-10).
        self._state = State.STA9 if self._requestor else State.STA10
        return [Indicate(A_RELEASE_INDICATION, cast("AReleaseRQ", arg))]

    def _ar_9(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA11
        return [_SEND_RELEASE_RP]

    def _ar_10(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA12
        return [Indicate(A_RELEASE_CONFIRMATION, cast("AReleaseRP", arg))]

    def _aa_1(self, event: Event, arg: _Arg) -> list[Effect]:
        abort = cast("AAbort", arg) if event is Event.EVT15 else _provider_abort(arg)
        self._state = State.STA13
        return [SendPDU(abort), self._start_artim()]

    def _aa_2(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA1
        self._rq = None
        if self._artim_deadline is None:
            return [_CLOSE]
        self._artim_deadline = None
        return [_STOP_ARTIM, _CLOSE]

    def _aa_3(self, event: Event, arg: _Arg) -> list[Effect]:
        abort = cast("AAbort", arg)
        user = abort.source == AbortSource.SERVICE_USER
        self._state = State.STA1
        return [Indicate(A_ABORT_INDICATION if user else A_P_ABORT_INDICATION, abort), _CLOSE]

    def _aa_4(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA1
        self._rq = None
        return [Indicate(A_P_ABORT_INDICATION)]

    def _aa_5(self, event: Event, arg: _Arg) -> list[Effect]:
        self._state = State.STA1
        self._artim_deadline = None
        return [_STOP_ARTIM]

    def _aa_6(self, event: Event, arg: _Arg) -> list[Effect]:
        return []  # Sta13 -> Sta13: the association is gone, the PDU is dropped

    def _aa_7(self, event: Event, arg: _Arg) -> list[Effect]:
        return [SendPDU(_provider_abort(arg))]  # Sta13 -> Sta13, ARTIM keeps running

    def _aa_8(self, event: Event, arg: _Arg) -> list[Effect]:
        abort = _provider_abort(arg)
        self._state = State.STA13
        return [SendPDU(abort), Indicate(A_P_ABORT_INDICATION, abort), self._start_artim()]


_ACTIONS: Final[dict[Action, _Handler]] = {
    action: getattr(UpperLayer, "_" + action.name.lower()) for action in Action
}


def _dispatch_for(requestor: bool) -> dict[tuple[State, Event], _Handler]:
    """TRANSITIONS resolved to handlers, minus the events the role never has."""
    excluded = _NOT_FOR_ROLE[requestor]
    return {
        (state, event): _ACTIONS[action]
        for (state, event), action in TRANSITIONS.items()
        if event not in excluded
    }


_DISPATCH: Final = {role: _dispatch_for(role) for role in (True, False)}

# The same, keyed by (state, PDU type) so receive_pdu needs a single lookup.
_RECEIVE: Final = {
    role: {
        (state, pdu_type): (table[state, event], event)
        for pdu_type, event in PDU_EVENTS.items()
        for state in State
        if (state, event) in table
    }
    for role, table in _DISPATCH.items()
}
