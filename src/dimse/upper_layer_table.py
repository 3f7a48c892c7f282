"""PS3.8 section 9.2 as data: states, events, actions and the state transition table.

Kept apart from :mod:`dimse.upper_layer` so the table can be read (and reviewed against
the standard) without the code that executes it. Numbering follows PS3.8 2024:

* states: Tables 9-1 to 9-5 (section 9.2.1);
* actions: Table 9-6 (AE), 9-7 (DT), 9-8 (AR), 9-9 (AA) (section 9.2.2);
* events: the row headings of Table 9-10, and the table itself (section 9.2.3).

Table 9-10 leaves 124 of its 247 cells empty; PS3.8 gives them no meaning. How
:class:`dimse.upper_layer.UpperLayer` treats them is data too: :data:`IGNORED` lists the
empty cells that are harmless no-ops, every other empty cell is local misuse
(:class:`dimse.errors.UsageError`). See :data:`IGNORED` for the reasoning.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, IntEnum
from types import MappingProxyType

__all__ = [
    "ACTION_DEFINITIONS",
    "EVENT_NAMES",
    "IGNORED",
    "PDU_EVENTS",
    "RECEIVED_PDU_EVENTS",
    "STATE_NAMES",
    "TRANSITIONS",
    "Action",
    "Event",
    "State",
]


class State(IntEnum):
    """Upper Layer states Sta1-Sta13 (PS3.8 Tables 9-1 to 9-5)."""

    STA1 = 1
    STA2 = 2
    STA3 = 3
    STA4 = 4
    STA5 = 5
    STA6 = 6
    STA7 = 7
    STA8 = 8
    STA9 = 9
    STA10 = 10
    STA11 = 11
    STA12 = 12
    STA13 = 13

    @property
    def label(self) -> str:
        """``"Sta6 (Association established and ready for data transfer)"``."""
        return f"Sta{self.value} ({STATE_NAMES[self]})"


class Event(IntEnum):
    """Upper Layer events Evt1-Evt19 (rows of PS3.8 Table 9-10)."""

    EVT1 = 1
    EVT2 = 2
    EVT3 = 3
    EVT4 = 4
    EVT5 = 5
    EVT6 = 6
    EVT7 = 7
    EVT8 = 8
    EVT9 = 9
    EVT10 = 10
    EVT11 = 11
    EVT12 = 12
    EVT13 = 13
    EVT14 = 14
    EVT15 = 15
    EVT16 = 16
    EVT17 = 17
    EVT18 = 18
    EVT19 = 19

    @property
    def label(self) -> str:
        """``"Evt9 (P-DATA request primitive)"``."""
        return f"Evt{self.value} ({EVENT_NAMES[self]})"


class Action(Enum):
    """Upper Layer actions (PS3.8 Tables 9-6 to 9-9); the value is the standard's name."""

    AE_1 = "AE-1"
    AE_2 = "AE-2"
    AE_3 = "AE-3"
    AE_4 = "AE-4"
    AE_5 = "AE-5"
    AE_6 = "AE-6"
    AE_7 = "AE-7"
    AE_8 = "AE-8"
    DT_1 = "DT-1"
    DT_2 = "DT-2"
    AR_1 = "AR-1"
    AR_2 = "AR-2"
    AR_3 = "AR-3"
    AR_4 = "AR-4"
    AR_5 = "AR-5"
    AR_6 = "AR-6"
    AR_7 = "AR-7"
    AR_8 = "AR-8"
    AR_9 = "AR-9"
    AR_10 = "AR-10"
    AA_1 = "AA-1"
    AA_2 = "AA-2"
    AA_3 = "AA-3"
    AA_4 = "AA-4"
    AA_5 = "AA-5"
    AA_6 = "AA-6"
    AA_7 = "AA-7"
    AA_8 = "AA-8"


STATE_NAMES: Mapping[State, str] = MappingProxyType(
    {
        State.STA1: "Idle",
        State.STA2: "Transport connection open, awaiting A-ASSOCIATE-RQ PDU",
        State.STA3: "Awaiting local A-ASSOCIATE response primitive",
        State.STA4: "Awaiting transport connection opening to complete",
        State.STA5: "Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU",
        State.STA6: "Association established and ready for data transfer",
        State.STA7: "Awaiting A-RELEASE-RP PDU",
        State.STA8: "Awaiting local A-RELEASE response primitive",
        State.STA9: "Release collision requestor side; awaiting A-RELEASE response",
        State.STA10: "Release collision acceptor side; awaiting A-RELEASE-RP PDU",
        State.STA11: "Release collision requestor side; awaiting A-RELEASE-RP PDU",
        State.STA12: "Release collision acceptor side; awaiting A-RELEASE response",
        State.STA13: "Awaiting transport connection close indication",
    }
)

EVENT_NAMES: Mapping[Event, str] = MappingProxyType(
    {
        Event.EVT1: "A-ASSOCIATE request primitive",
        Event.EVT2: "Transport connection confirm",
        Event.EVT3: "A-ASSOCIATE-AC PDU received",
        Event.EVT4: "A-ASSOCIATE-RJ PDU received",
        Event.EVT5: "Transport connection indication",
        Event.EVT6: "A-ASSOCIATE-RQ PDU received",
        Event.EVT7: "A-ASSOCIATE response primitive (accept)",
        Event.EVT8: "A-ASSOCIATE response primitive (reject)",
        Event.EVT9: "P-DATA request primitive",
        Event.EVT10: "P-DATA-TF PDU received",
        Event.EVT11: "A-RELEASE request primitive",
        Event.EVT12: "A-RELEASE-RQ PDU received",
        Event.EVT13: "A-RELEASE-RP PDU received",
        Event.EVT14: "A-RELEASE response primitive",
        Event.EVT15: "A-ABORT request primitive",
        Event.EVT16: "A-ABORT PDU received",
        Event.EVT17: "Transport connection closed indication",
        Event.EVT18: "ARTIM timer expired",
        Event.EVT19: "Unrecognized or invalid PDU received",
    }
)

# Paraphrases of the action definitions; the effects each one produces are documented on
# dimse.upper_layer.UpperLayer.
ACTION_DEFINITIONS: Mapping[Action, str] = MappingProxyType(
    {
        Action.AE_1: "Ask the transport service to connect; next Sta4",
        Action.AE_2: "Send the A-ASSOCIATE-RQ PDU; next Sta5",
        Action.AE_3: "A-ASSOCIATE confirmation (accept); next Sta6",
        Action.AE_4: "A-ASSOCIATE confirmation (reject), close transport; next Sta1",
        Action.AE_5: "Accept the transport connection, start ARTIM; next Sta2",
        Action.AE_6: "Stop ARTIM; if the provider accepts the RQ: A-ASSOCIATE indication, "
        "next Sta3; else send A-ASSOCIATE-RJ, start ARTIM, next Sta13",
        Action.AE_7: "Send the A-ASSOCIATE-AC PDU; next Sta6",
        Action.AE_8: "Send the A-ASSOCIATE-RJ PDU, start ARTIM; next Sta13",
        Action.DT_1: "Send the P-DATA-TF PDU; next Sta6",
        Action.DT_2: "P-DATA indication; next Sta6",
        Action.AR_1: "Send an A-RELEASE-RQ PDU; next Sta7",
        Action.AR_2: "A-RELEASE indication; next Sta8",
        Action.AR_3: "A-RELEASE confirmation, close transport; next Sta1",
        Action.AR_4: "Send an A-RELEASE-RP PDU, start ARTIM; next Sta13",
        Action.AR_5: "Stop ARTIM; next Sta1",
        Action.AR_6: "P-DATA indication; next Sta7",
        Action.AR_7: "Send the P-DATA-TF PDU; next Sta8",
        Action.AR_8: "A-RELEASE indication (collision); next Sta9 (requestor) or Sta10",
        Action.AR_9: "Send an A-RELEASE-RP PDU; next Sta11",
        Action.AR_10: "A-RELEASE confirmation; next Sta12",
        Action.AA_1: "Send an A-ABORT PDU, (re)start ARTIM; next Sta13",
        Action.AA_2: "Stop ARTIM if running, close transport; next Sta1",
        Action.AA_3: "A-ABORT (user source) or A-P-ABORT indication, close transport; next Sta1",
        Action.AA_4: "A-P-ABORT indication; next Sta1",
        Action.AA_5: "Stop ARTIM; next Sta1",
        Action.AA_6: "Ignore the PDU; next Sta13",
        Action.AA_7: "Send an A-ABORT PDU; next Sta13",
        Action.AA_8: "Send an A-ABORT PDU (provider source), A-P-ABORT indication, "
        "start ARTIM; next Sta13",
    }
)

# Transcribed row by row (one event per block) from PS3.8 Table 9-10. Every cell that
# Table 9-10 fills is here; the empty ones are absent.
_S, _E, _A = State, Event, Action
TRANSITIONS: Mapping[tuple[State, Event], Action] = MappingProxyType(
    {
        # Evt1: A-ASSOCIATE request (local user)
        (_S.STA1, _E.EVT1): _A.AE_1,
        # Evt2: transport connection confirm (local transport service)
        (_S.STA4, _E.EVT2): _A.AE_2,
        # Evt3: A-ASSOCIATE-AC PDU received
        (_S.STA2, _E.EVT3): _A.AA_1,
        (_S.STA3, _E.EVT3): _A.AA_8,
        (_S.STA5, _E.EVT3): _A.AE_3,
        (_S.STA6, _E.EVT3): _A.AA_8,
        (_S.STA7, _E.EVT3): _A.AA_8,
        (_S.STA8, _E.EVT3): _A.AA_8,
        (_S.STA9, _E.EVT3): _A.AA_8,
        (_S.STA10, _E.EVT3): _A.AA_8,
        (_S.STA11, _E.EVT3): _A.AA_8,
        (_S.STA12, _E.EVT3): _A.AA_8,
        (_S.STA13, _E.EVT3): _A.AA_6,
        # Evt4: A-ASSOCIATE-RJ PDU received
        (_S.STA2, _E.EVT4): _A.AA_1,
        (_S.STA3, _E.EVT4): _A.AA_8,
        (_S.STA5, _E.EVT4): _A.AE_4,
        (_S.STA6, _E.EVT4): _A.AA_8,
        (_S.STA7, _E.EVT4): _A.AA_8,
        (_S.STA8, _E.EVT4): _A.AA_8,
        (_S.STA9, _E.EVT4): _A.AA_8,
        (_S.STA10, _E.EVT4): _A.AA_8,
        (_S.STA11, _E.EVT4): _A.AA_8,
        (_S.STA12, _E.EVT4): _A.AA_8,
        (_S.STA13, _E.EVT4): _A.AA_6,
        # Evt5: transport connection indication (local transport service)
        (_S.STA1, _E.EVT5): _A.AE_5,
        # Evt6: A-ASSOCIATE-RQ PDU received
        (_S.STA2, _E.EVT6): _A.AE_6,
        (_S.STA3, _E.EVT6): _A.AA_8,
        (_S.STA5, _E.EVT6): _A.AA_8,
        (_S.STA6, _E.EVT6): _A.AA_8,
        (_S.STA7, _E.EVT6): _A.AA_8,
        (_S.STA8, _E.EVT6): _A.AA_8,
        (_S.STA9, _E.EVT6): _A.AA_8,
        (_S.STA10, _E.EVT6): _A.AA_8,
        (_S.STA11, _E.EVT6): _A.AA_8,
        (_S.STA12, _E.EVT6): _A.AA_8,
        (_S.STA13, _E.EVT6): _A.AA_7,
        # Evt7: A-ASSOCIATE response primitive (accept)
        (_S.STA3, _E.EVT7): _A.AE_7,
        # Evt8: A-ASSOCIATE response primitive (reject)
        (_S.STA3, _E.EVT8): _A.AE_8,
        # Evt9: P-DATA request primitive
        (_S.STA6, _E.EVT9): _A.DT_1,
        (_S.STA8, _E.EVT9): _A.AR_7,
        # Evt10: P-DATA-TF PDU received
        (_S.STA2, _E.EVT10): _A.AA_1,
        (_S.STA3, _E.EVT10): _A.AA_8,
        (_S.STA5, _E.EVT10): _A.AA_8,
        (_S.STA6, _E.EVT10): _A.DT_2,
        (_S.STA7, _E.EVT10): _A.AR_6,
        (_S.STA8, _E.EVT10): _A.AA_8,
        (_S.STA9, _E.EVT10): _A.AA_8,
        (_S.STA10, _E.EVT10): _A.AA_8,
        (_S.STA11, _E.EVT10): _A.AA_8,
        (_S.STA12, _E.EVT10): _A.AA_8,
        (_S.STA13, _E.EVT10): _A.AA_6,
        # Evt11: A-RELEASE request primitive
        (_S.STA6, _E.EVT11): _A.AR_1,
        # Evt12: A-RELEASE-RQ PDU received
        (_S.STA2, _E.EVT12): _A.AA_1,
        (_S.STA3, _E.EVT12): _A.AA_8,
        (_S.STA5, _E.EVT12): _A.AA_8,
        (_S.STA6, _E.EVT12): _A.AR_2,
        (_S.STA7, _E.EVT12): _A.AR_8,
        (_S.STA8, _E.EVT12): _A.AA_8,
        (_S.STA9, _E.EVT12): _A.AA_8,
        (_S.STA10, _E.EVT12): _A.AA_8,
        (_S.STA11, _E.EVT12): _A.AA_8,
        (_S.STA12, _E.EVT12): _A.AA_8,
        (_S.STA13, _E.EVT12): _A.AA_6,
        # Evt13: A-RELEASE-RP PDU received
        (_S.STA2, _E.EVT13): _A.AA_1,
        (_S.STA3, _E.EVT13): _A.AA_8,
        (_S.STA5, _E.EVT13): _A.AA_8,
        (_S.STA6, _E.EVT13): _A.AA_8,
        (_S.STA7, _E.EVT13): _A.AR_3,
        (_S.STA8, _E.EVT13): _A.AA_8,
        (_S.STA9, _E.EVT13): _A.AA_8,
        (_S.STA10, _E.EVT13): _A.AR_10,
        (_S.STA11, _E.EVT13): _A.AR_3,
        (_S.STA12, _E.EVT13): _A.AA_8,
        (_S.STA13, _E.EVT13): _A.AA_6,
        # Evt14: A-RELEASE response primitive
        (_S.STA8, _E.EVT14): _A.AR_4,
        (_S.STA9, _E.EVT14): _A.AR_9,
        (_S.STA12, _E.EVT14): _A.AR_4,
        # Evt15: A-ABORT request primitive
        (_S.STA3, _E.EVT15): _A.AA_1,
        (_S.STA4, _E.EVT15): _A.AA_2,
        (_S.STA5, _E.EVT15): _A.AA_1,
        (_S.STA6, _E.EVT15): _A.AA_1,
        (_S.STA7, _E.EVT15): _A.AA_1,
        (_S.STA8, _E.EVT15): _A.AA_1,
        (_S.STA9, _E.EVT15): _A.AA_1,
        (_S.STA10, _E.EVT15): _A.AA_1,
        (_S.STA11, _E.EVT15): _A.AA_1,
        (_S.STA12, _E.EVT15): _A.AA_1,
        # Evt16: A-ABORT PDU received
        (_S.STA2, _E.EVT16): _A.AA_2,
        (_S.STA3, _E.EVT16): _A.AA_3,
        (_S.STA5, _E.EVT16): _A.AA_3,
        (_S.STA6, _E.EVT16): _A.AA_3,
        (_S.STA7, _E.EVT16): _A.AA_3,
        (_S.STA8, _E.EVT16): _A.AA_3,
        (_S.STA9, _E.EVT16): _A.AA_3,
        (_S.STA10, _E.EVT16): _A.AA_3,
        (_S.STA11, _E.EVT16): _A.AA_3,
        (_S.STA12, _E.EVT16): _A.AA_3,
        (_S.STA13, _E.EVT16): _A.AA_2,
        # Evt17: transport connection closed indication (local transport service)
        (_S.STA2, _E.EVT17): _A.AA_5,
        (_S.STA3, _E.EVT17): _A.AA_4,
        (_S.STA4, _E.EVT17): _A.AA_4,
        (_S.STA5, _E.EVT17): _A.AA_4,
        (_S.STA6, _E.EVT17): _A.AA_4,
        (_S.STA7, _E.EVT17): _A.AA_4,
        (_S.STA8, _E.EVT17): _A.AA_4,
        (_S.STA9, _E.EVT17): _A.AA_4,
        (_S.STA10, _E.EVT17): _A.AA_4,
        (_S.STA11, _E.EVT17): _A.AA_4,
        (_S.STA12, _E.EVT17): _A.AA_4,
        (_S.STA13, _E.EVT17): _A.AR_5,
        # Evt18: ARTIM timer expired
        (_S.STA2, _E.EVT18): _A.AA_2,
        (_S.STA13, _E.EVT18): _A.AA_2,
        # Evt19: unrecognized or invalid PDU received
        (_S.STA2, _E.EVT19): _A.AA_1,
        (_S.STA3, _E.EVT19): _A.AA_8,
        (_S.STA5, _E.EVT19): _A.AA_8,
        (_S.STA6, _E.EVT19): _A.AA_8,
        (_S.STA7, _E.EVT19): _A.AA_8,
        (_S.STA8, _E.EVT19): _A.AA_8,
        (_S.STA9, _E.EVT19): _A.AA_8,
        (_S.STA10, _E.EVT19): _A.AA_8,
        (_S.STA11, _E.EVT19): _A.AA_8,
        (_S.STA12, _E.EVT19): _A.AA_8,
        (_S.STA13, _E.EVT19): _A.AA_7,
    }
)

PDU_EVENTS: Mapping[int, Event] = MappingProxyType(
    {
        1: Event.EVT6,  # A-ASSOCIATE-RQ
        2: Event.EVT3,  # A-ASSOCIATE-AC
        3: Event.EVT4,  # A-ASSOCIATE-RJ
        4: Event.EVT10,  # P-DATA-TF
        5: Event.EVT12,  # A-RELEASE-RQ
        6: Event.EVT13,  # A-RELEASE-RP
        7: Event.EVT16,  # A-ABORT
    }
)
"""PDU type (PS3.8 9.3.1) -> the event its arrival raises."""

RECEIVED_PDU_EVENTS: frozenset[Event] = frozenset((*PDU_EVENTS.values(), Event.EVT19))
"""Events caused by bytes arriving from the peer (including Evt19, an undecodable PDU)."""

IGNORED: frozenset[tuple[State, Event]] = frozenset(
    {(_S.STA1, event) for event in (*RECEIVED_PDU_EVENTS, _E.EVT17)}
    | {(state, _E.EVT18) for state in State if state not in (_S.STA2, _S.STA13)}
)
"""Empty cells of Table 9-10 that are harmless no-ops (no effect, no state change).

* Sta1 with a received PDU, an invalid PDU, or transport closed. Sta1 means there is
  no transport connection: every action that enters it (AE-4, AR-3, AR-5, AA-2 to AA-5)
  has closed the connection, asked for it to be closed, or seen it close (PS3.8 9.1.4
  lists these closes). Input that still arrives was read before the close took effect
  - the tail of a buffer, or the close the machine itself asked for - so there is
  nothing to answer on and nobody to tell.
* Evt18 outside Sta2/Sta13. ARTIM runs only in those states (started by AE-5, AE-6,
  AE-8, AR-4, AA-1, AA-8; stopped by AE-6, AR-5, AA-2, AA-5), so a timer report
  elsewhere is stale: a race between the driver's timer and a transition.

Every other empty cell is a usage error. Local primitives (Evt1, 7, 8, 9, 11, 14, 15)
are the service-user's; PS3.8 section 7 (e.g. 7.1.2.1: nothing but A-ABORT before the
A-ASSOCIATE confirmation) lets the user issue them only where the table has an entry.
Transport events (Evt2, Evt5) out of place, and PDUs reported in Sta4, describe a
connection the machine never asked for or has not yet been told is open: they come
from a faulty driver, not from the peer. Peer faults, in contrast, all have entries:
an unexpected PDU in any connected state is AA-1, AA-6, AA-7 or AA-8 by the table.
"""
