"""Requestor and acceptor Connections wired together in memory (no sockets)."""

from __future__ import annotations

import random

import pytest

from dimse.connection import (
    AssociationAccepted,
    AssociationRejected,
    AssociationRequested,
    Closed,
    Connection,
    ConnectionEvent,
    MessageComplete,
    PeerAborted,
    Released,
    ReleaseRequested,
)
from dimse.errors import AbortSource, UsageError
from dimse.messages import CEchoRQ, CStoreRQ, decode_message
from dimse.negotiation import AcceptorConfig, SupportedContext, build_association_request
from dimse.pdu import AAbort, decode
from dimse.pdv import BytesSink
from dimse.upper_layer import State

ECHO = "1.2.840.10008.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_pair(
    *, chunk: int | None = None, config: AcceptorConfig | None = None, sink: bool = False
) -> tuple[Connection, Connection, Clock]:
    clock = Clock()
    scu = Connection(requestor=True, clock=clock)
    scp = Connection(
        requestor=False,
        acceptor_config=config
        or AcceptorConfig(
            "SCP", [SupportedContext(ECHO), SupportedContext(CT)], max_pdu_length=4096
        ),
        clock=clock,
        sink_for=(lambda message, context: BytesSink()) if sink else None,
    )
    scu.chunk = chunk  # type: ignore[attr-defined]
    return scu, scp, clock


def pump(
    a: Connection, b: Connection, chunk: int | None = None
) -> tuple[list[ConnectionEvent], list[ConnectionEvent]]:
    """Move bytes both ways until quiet; closing a side delivers end-of-stream to the other."""
    events_a: list[ConnectionEvent] = []
    events_b: list[ConnectionEvent] = []
    for _ in range(10_000):
        moved = False
        for src, dst, sink in ((a, b, events_b), (b, a, events_a)):
            data = b"".join(bytes(x) for x in src.data_to_send())
            if data:
                moved = True
                step = chunk or len(data)
                for i in range(0, len(data), step):
                    sink.extend(dst.receive_data(data[i : i + step]))
        if not moved:
            for src, dst, sink in ((a, b, events_b), (b, a, events_a)):
                if (
                    src.should_close
                    and dst.state not in (State.STA1,)
                    and not getattr(src, "_closed_sent", False)
                ):
                    src._closed_sent = True  # type: ignore[attr-defined]
                    sink.extend(dst.transport_closed())
                    moved = True
        if not moved:
            return events_a, events_b
    raise AssertionError("pump did not settle")


def connect(
    scu: Connection, scp: Connection, contexts: list[str] | None = None
) -> tuple[list[ConnectionEvent], list[ConnectionEvent]]:
    rq = build_association_request("SCU", "SCP", contexts or [ECHO, CT], max_pdu_length=8192)
    scu.request_association(rq)
    assert scu.should_connect
    scp.transport_connected()
    events = scu.transport_connected()
    assert events == []
    return pump(scu, scp)


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_echo_then_release(chunk: int | None) -> None:
    scu, scp, _ = make_pair()
    scu_events, scp_events = connect(scu, scp)
    assert [type(e) for e in scp_events] == [AssociationRequested, AssociationAccepted]
    assert [type(e) for e in scu_events] == [AssociationAccepted]
    assert scu.association is not None and scu.association.peer_max_pdu == 4096
    context = scu.association.contexts_for(ECHO)[0].context_id
    scu.send_message(context, CEchoRQ(message_id=7))
    _, scp_events = pump(scu, scp, chunk)
    assert len(scp_events) == 2  # command complete, message complete
    done = scp_events[-1]
    assert isinstance(done, MessageComplete) and isinstance(done.message, CEchoRQ)
    scp.send_message(done.context_id, done.message.response(0x0000))
    scu_events, _ = pump(scu, scp, chunk)
    assert isinstance(scu_events[-1], MessageComplete)
    assert scu_events[-1].message.status == 0
    scu.request_release()
    scu_events, scp_events = pump(scu, scp, chunk)
    assert ReleaseRequested() in scp_events
    assert Released() in scu_events
    assert scu.state is State.STA1 and scu.should_close
    assert scp.state in (State.STA1, State.STA13)


@pytest.mark.parametrize("size", [0, 1, 4083, 4084, 100_000])
def test_store_dataset_is_fragmented_within_peer_limit(size: int) -> None:
    scu, scp, _ = make_pair(sink=True)
    connect(scu, scp)
    assert scu.association is not None
    context = scu.association.contexts_for(CT)[0].context_id
    dataset = random.Random(size).randbytes(size)
    scu.send_message(
        context,
        CStoreRQ(message_id=1, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3"),
        dataset,
    )
    wire = b"".join(bytes(x) for x in scu.data_to_send())
    # Every P-DATA-TF respects the acceptor's 4096-byte maximum.
    pos = 0
    while pos < len(wire):
        length = int.from_bytes(wire[pos + 2 : pos + 6], "big")
        assert length <= 4096
        decode(wire[pos : pos + 6 + length])
        pos += 6 + length
    events = scp.receive_data(wire)
    done = events[-1]
    assert isinstance(done, MessageComplete)
    assert done.sink_result == dataset


def test_rejected_association_for_wrong_called_title() -> None:
    config = AcceptorConfig("SCP", [SupportedContext(ECHO)], require_called_ae_title=True)
    scu, scp, _ = make_pair(config=config)
    rq = build_association_request("SCU", "OTHER", [ECHO])
    scu.request_association(rq)
    scp.transport_connected()
    scu.transport_connected()
    scu_events, scp_events = pump(scu, scp)
    rejected = [e for e in scu_events if isinstance(e, AssociationRejected)]
    assert rejected and rejected[0].pdu.reason == 7 and rejected[0].pdu.source == 1
    assert any(isinstance(e, AssociationRejected) and e.local for e in scp_events)
    assert scu.state is State.STA1


def test_garbage_from_peer_ends_in_provider_abort() -> None:
    scu, scp, _ = make_pair()
    connect(scu, scp)
    events = scp.receive_data(b"\x09\x00\x00\x00\x00\x02ab")
    assert scp.error is not None
    wire = b"".join(bytes(x) for x in scp.data_to_send())
    abort = decode(wire)
    assert isinstance(abort, AAbort) and abort.source == AbortSource.SERVICE_PROVIDER
    assert abort.reason == 1  # unrecognized PDU
    scu_events = scu.receive_data(wire)
    assert any(isinstance(e, PeerAborted) for e in scu_events)
    assert any(isinstance(e, Closed) for e in events + scu_events) or scp.state is State.STA13


def test_bad_command_set_aborts_not_crashes() -> None:
    scu, scp, _ = make_pair()
    connect(scu, scp)
    # A P-DATA-TF carrying a command fragment that is not a command set.
    pdv = b"\x00\x00\x00\x06\x01\x03" + b"\xff\xff\xff\xff"
    pdu = b"\x04\x00" + len(pdv).to_bytes(4, "big") + pdv
    scp.receive_data(pdu)
    assert scp.error is not None
    abort = decode(b"".join(bytes(x) for x in scp.data_to_send()))
    assert isinstance(abort, AAbort) and abort.source == AbortSource.SERVICE_PROVIDER


def test_abort_from_requestor_and_artim_expiry() -> None:
    scu, scp, clock = make_pair()
    connect(scu, scp)
    scu.abort()
    _, scp_events = pump(scu, scp)
    assert any(isinstance(e, PeerAborted) for e in scp_events)
    # An acceptor whose peer never sends an A-ASSOCIATE-RQ gives up at the ARTIM deadline.
    _, idle, clock = make_pair()
    idle.transport_connected()
    assert idle.deadline is not None
    clock.now = idle.deadline + 1
    events = idle.handle_timeout()
    assert idle.should_close and any(isinstance(e, Closed) for e in events)


def test_local_misuse_is_usage_error() -> None:
    scu, scp, _ = make_pair()
    with pytest.raises(UsageError):
        scu.send_message(1, CEchoRQ(message_id=1))
    connect(scu, scp)
    with pytest.raises(UsageError):
        scu.send_message(99, CEchoRQ(message_id=1))
    with pytest.raises(UsageError):
        scu.send_message(1, CEchoRQ(message_id=1), b"dataset")
    assert decode_message(CEchoRQ(message_id=3).to_command()).message_id == 3
