"""Association life cycle between dimse peers and against a raw socket over 127.0.0.1:
AE title checks, limits, ARTIM, network and DIMSE timeouts, aborts, malformed PDUs and
the notification events."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _rt_net import (
    ACCEPT_STORES,
    VERIFICATION,
    MuteAcceptor,
    RawPeer,
    SlowProxy,
    listing,
    make_dataset,
    run,
    scp_ae,
    scu_ae,
    serving,
    until,
    with_pixels,
    write_part10,
)
from pydicom.uid import CTImageStorage

from dimse import evt
from dimse.ae import StoreToDirectory
from dimse.association import DimseTimeout
from dimse.datasets import encode_dataset
from dimse.errors import AbortReason, AbortSource, AssociationAborted, AssociationRejected
from dimse.messages import CEchoRSP, CStoreRQ, CStoreRSP
from dimse.negotiation import RejectReason, RejectResult, RejectSource
from dimse.pdu import PDU, PDV, AAbort, AReleaseRP, AReleaseRQ, PDataTF, PDUType
from dimse.pdv import fragment
from dimse.write_behind import FLUSH_BYTES

# -- AE titles and limits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configure", "called", "calling", "reason"),
    [
        (
            lambda ae: setattr(ae, "require_called_aet", True),
            "SOMEONE-ELSE",
            "DIMSE-SCU",
            RejectReason.CALLED_AE_TITLE_NOT_RECOGNIZED,
        ),
        (
            lambda ae: setattr(ae, "require_calling_aet", ["FRIEND"]),
            "DIMSE-SCP",
            "STRANGER",
            RejectReason.CALLING_AE_TITLE_NOT_RECOGNIZED,
        ),
    ],
    ids=["called", "calling"],
)
def test_ae_title_checks_reject(configure: Any, called: str, calling: str, reason: Any) -> None:
    scp = scp_ae()
    configure(scp)
    rejected_events: list[Any] = []

    async def main() -> None:
        handlers = [(evt.EVT_REJECTED, rejected_events.append)]
        async with serving(scp, evt_handlers=handlers) as server:
            with pytest.raises(AssociationRejected) as caught:
                await scu_ae(title=calling).associate_async("127.0.0.1", server.port, called)
            # PS3.8 Table 9-21: permanent, service user, reason 7 / 3
            assert caught.value.result == RejectResult.PERMANENT
            assert caught.value.source == RejectSource.SERVICE_USER == reason.source
            assert caught.value.reason == reason.code
            assert reason.description in str(caught.value)
            # the right titles still get in
            good = scu_ae(title="FRIEND")
            assoc = await good.associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            await assoc.release()

    run(main())
    assert len(rejected_events) == 1


def test_maximum_associations_rejects_transiently() -> None:
    scp = scp_ae()
    scp.maximum_associations = 1

    async def main() -> None:
        async with serving(scp) as server:
            first = await scu_ae().associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            with pytest.raises(AssociationRejected) as caught:
                await scu_ae().associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            assert caught.value.result == RejectResult.TRANSIENT
            assert caught.value.source == RejectSource.SERVICE_PROVIDER_PRESENTATION
            assert caught.value.reason == RejectReason.LOCAL_LIMIT_EXCEEDED.code
            await first.release()
            await until(lambda: not server.active_associations)
            again = await scu_ae().associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            assert (await again.send_c_echo()).status == 0
            await again.release()

    run(main())


# -- timers ---------------------------------------------------------------------------------


def test_artim_drops_a_silent_connection() -> None:
    scp = scp_ae()
    scp.acse_timeout = 0.3

    async def main() -> None:
        async with serving(scp) as server:

            def silent() -> tuple[bytes, float]:
                raw = RawPeer(server.port, timeout=10)
                start = time.monotonic()
                try:
                    return raw.read_eof(), time.monotonic() - start
                finally:
                    raw.close()

            data, waited = await asyncio.to_thread(silent)
            assert data == b""  # PS3.8 AA-2: ARTIM expiry in Sta2 closes, sends nothing
            assert waited < 8  # dropped by ARTIM, not by the 10 s socket timeout
            await until(lambda: not server.active_associations)
            assoc = await scu_ae().associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            assert (await assoc.send_c_echo()).status == 0
            await assoc.release()

    run(main())


@pytest.mark.parametrize("side", ["scp", "scu"])
def test_network_timeout_aborts_an_idle_association(side: str) -> None:
    scp = scp_ae()
    scu = scu_ae()
    (scp if side == "scp" else scu).network_timeout = 0.3
    server_aborts: list[str] = []

    async def main() -> None:
        handlers = [(evt.EVT_ABORTED, lambda e: server_aborts.append("aborted"))]
        async with serving(scp, evt_handlers=handlers) as server:
            assoc = await scu.associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            assert (await assoc.send_c_echo()).status == 0
            await asyncio.wait_for(assoc.wait_closed(), 10)  # then nothing: idle
            assert assoc.is_aborted and not assoc.is_released
            await until(lambda: not server.active_associations)

    run(main())
    assert server_aborts == ["aborted"]


def test_network_timeout_spares_a_busy_handler() -> None:
    """The SCP's own handler working longer than its network timeout is not the
    network being idle: the association goes on and the response arrives."""

    async def slow(event: evt.Event) -> int:
        await asyncio.sleep(1.0)
        return 0

    scp = scp_ae()
    scp.network_timeout = 0.2

    async def main() -> None:
        async with serving(scp, evt_handlers=[(evt.EVT_C_STORE, slow)]) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            assert (await assoc.send_c_store(make_dataset(CTImageStorage))).status == 0
            await assoc.release()
            assert assoc.is_released and not assoc.is_aborted

    run(main())


def test_network_timeout_spares_a_slow_upload() -> None:
    """An SCU sending a large dataset to a slowly reading peer receives nothing for
    longer than its network timeout; its bytes keep moving, so it is not idle."""
    scu = scu_ae(CTImageStorage)
    scu.network_timeout = 0.25
    ds = with_pixels(make_dataset(CTImageStorage), 4 << 20)

    def small_send_buffer(event: evt.Event) -> None:
        link = event.assoc.link
        assert link is not None and link.transport is not None
        sock = link.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)

    async def main() -> None:
        async with serving(scp_ae(), evt_handlers=[ACCEPT_STORES]) as server:
            proxy = SlowProxy(server.port)
            loop = asyncio.get_running_loop()
            assoc = await scu.associate_async(
                "127.0.0.1",
                proxy.port,
                "DIMSE-SCP",
                evt_handlers=[(evt.EVT_CONN_OPEN, small_send_buffer)],
            )
            start = loop.time()
            assert (await assoc.send_c_store(ds)).status == 0
            assert loop.time() - start > 2 * scu.network_timeout  # it really was slow
            await assoc.release()
            await asyncio.to_thread(proxy.join)
            assert proxy.relayed > 4 << 20

    run(main())


def test_dimse_timeout_aborts() -> None:
    async def slow(event: evt.Event) -> int:
        await asyncio.sleep(20)
        return 0

    scu = scu_ae(CTImageStorage)
    scu.dimse_timeout = 0.3
    server_saw: list[str] = []

    async def main() -> None:
        handlers = [
            (evt.EVT_C_STORE, slow),
            (evt.EVT_ABORTED, lambda e: server_saw.append("aborted")),
        ]
        async with serving(scp_ae(), evt_handlers=handlers) as server:
            assoc = await scu.associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            with pytest.raises(DimseTimeout, match="C-STORE-RSP"):
                await assoc.send_c_store(make_dataset(CTImageStorage))
            assert assoc.is_aborted
            await asyncio.wait_for(assoc.wait_closed(), 10)
            await until(lambda: server_saw == ["aborted"])
            with pytest.raises(AssociationAborted):
                await assoc.send_c_echo()

    run(main())


def test_release_without_answer_is_bounded_by_the_acse_timeout() -> None:
    """A-RELEASE is an ACSE exchange: a peer that never answers it is aborted after
    acse_timeout, even with no DIMSE timeout set."""
    scu = scu_ae()
    scu.acse_timeout = 0.3
    scu.dimse_timeout = None

    async def main() -> None:
        peer = MuteAcceptor()
        assoc = await scu.associate_async("127.0.0.1", peer.port, "MUTE")
        await asyncio.wait_for(assoc.release(), 10)
        assert assoc.is_aborted and not assoc.is_released
        await asyncio.to_thread(peer.join)
        assert peer.received == [PDUType.A_RELEASE_RQ, PDUType.A_ABORT]

    run(main())


def test_network_timeout_ends_a_stalled_upload(tmp_path: Path) -> None:
    """A peer that stops reading mid-dataset: the upload makes no progress, the DIMSE
    timeout has not started (the request is not sent yet), the network timeout ends it."""
    scu = scu_ae(CTImageStorage)
    scu.network_timeout = 0.3
    scu.dimse_timeout = None
    scu.acse_timeout = 1  # ARTIM then closes the transport the A-ABORT cannot cross
    big = write_part10(tmp_path / "big.dcm", with_pixels(make_dataset(CTImageStorage), 24 << 20))

    async def main() -> None:
        peer = MuteAcceptor(deaf=True)
        try:
            assoc = await scu.associate_async("127.0.0.1", peer.port, "MUTE")
            with pytest.raises(AssociationAborted):
                await asyncio.wait_for(assoc.send_c_store(big), 15)
            assert assoc.is_aborted
            await asyncio.wait_for(assoc.wait_closed(), 15)
        finally:
            await asyncio.to_thread(peer.join)

    run(main())


def _wrong_answer(kind: str) -> Callable[[PDU], bytes | None]:
    """A reply hook for MuteAcceptor: answer each request wrongly, keep the socket open."""

    def reply(pdu: PDU) -> bytes | None:
        if not isinstance(pdu, PDataTF):
            return None
        context = pdu.pdvs[0].context_id
        if kind == "bad-pdu":
            return b"\x0a\x00\x00\x00\x00\x04abcd"  # no such PDU type
        if kind == "garbage-command":
            return PDataTF(pdvs=(PDV(context, 0x03, b"\x00\x00\x00\x00garbage!"),)).encode()
        answers = {
            "unknown-message-id": CEchoRSP(message_id_being_responded_to=0x7777, status=0),
            "wrong-response-type": CStoreRSP(message_id_being_responded_to=1, status=0),
        }
        return b"".join(fragment(context, answers[kind].to_command(), None, 16384))

    return reply


@pytest.mark.parametrize(
    "kind", ["unknown-message-id", "wrong-response-type", "garbage-command", "bad-pdu"]
)
def test_a_malformed_answer_fails_the_request_at_once(kind: str) -> None:
    """We abort for the peer's violation (A-ABORT, service provider): the waiting request
    fails now with that reason, and our side closes the connection rather than waiting
    for the peer to, or for ARTIM (far beyond this test's bound here)."""
    scu = scu_ae()
    scu.acse_timeout = 600
    scu.dimse_timeout = 600

    async def main() -> None:
        peer = MuteAcceptor(reply=_wrong_answer(kind))
        try:
            assoc = await scu.associate_async("127.0.0.1", peer.port, "MUTE")
            with pytest.raises(AssociationAborted) as raised:
                await assoc.send_c_echo()
            assert raised.value.source == int(AbortSource.SERVICE_PROVIDER)
            assert str(raised.value).count(":") >= 1  # says why, not only "aborted"
            assert assoc.is_aborted and assoc.abort_info is raised.value
            await assoc.wait_closed()
        finally:
            await asyncio.to_thread(peer.join)
        assert peer.received[-1] == PDUType.A_ABORT

    run(main())


# -- aborts mid-transfer and malformed input from a raw peer --------------------------------


def _half_a_store(raw: RawPeer, out: Path, finish: str) -> None:
    ac = raw.associate([CTImageStorage])
    (context,) = [c for c in ac.presentation_contexts if c.result == 0]
    # Large enough that the half sent is past the batch dimse.write_behind gathers
    # before it creates the temporary file.
    ds = with_pixels(make_dataset(CTImageStorage), 2 * FLUSH_BYTES + 200_000)
    data = encode_dataset(ds, context.transfer_syntax)
    command = CStoreRQ(
        message_id=1,
        affected_sop_class_uid=CTImageStorage,
        affected_sop_instance_uid=str(ds.SOPInstanceUID),
    ).to_command()
    for pdu in fragment(context.context_id, command, None, 16384):
        raw.send(pdu)
    half = data[: len(data) // 2]
    for start in range(0, len(half), 16000):
        raw.send(PDataTF(pdvs=(PDV(context.context_id, 0, half[start : start + 16000]),)).encode())
    # the SCP is writing the instance to a temporary file now
    deadline = time.monotonic() + 10
    while not any(name.endswith(".part") for name in listing(out)):
        assert time.monotonic() < deadline, "the SCP never started the temporary file"
        time.sleep(0.01)
    if finish == "a-abort":
        raw.send(AAbort(source=0, reason=0).encode())
        assert raw.read_eof() == b""  # PS3.8 AA-3: no answer, the transport closes
    elif finish == "a-release":
        # released with a data set half-sent: the SCP answers, and drops the instance
        raw.send(AReleaseRQ().encode())
        assert isinstance(raw.read_pdu(), AReleaseRP)
    raw.close()


@pytest.mark.parametrize("finish", ["close", "a-abort", "a-release"])
def test_abort_mid_transfer_leaves_no_file(tmp_path: Path, finish: str) -> None:
    out = tmp_path / "out"
    scp = scp_ae()
    scp.store_sink = StoreToDirectory(out, fsync=False)
    ended: list[str] = []

    async def main() -> None:
        handlers = [
            (evt.EVT_ABORTED, lambda e: ended.append("aborted")),
            (evt.EVT_RELEASED, lambda e: ended.append("released")),
        ]
        async with serving(scp, evt_handlers=handlers) as server:
            raw = RawPeer(server.port)
            await asyncio.to_thread(_half_a_store, raw, out, finish)
            await until(lambda: not server.active_associations)
            assert listing(out) == []
            # the server keeps serving
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP"
            )
            ds = make_dataset(CTImageStorage)
            assert (await assoc.send_c_store(ds)).status == 0
            await assoc.release()
            assert listing(out) == [str(ds.SOPInstanceUID)]

    run(main())
    # the server's own association with the second client is released too
    first = "released" if finish == "a-release" else "aborted"
    assert ended == [first, "released"]


def _bad_pdu_type(raw: RawPeer) -> None:
    raw.send(b"\x0a\x00\x00\x00\x00\x04abcd")


def _bad_pdv_length(raw: RawPeer) -> None:
    raw.associate([CTImageStorage])
    # a P-DATA-TF whose PDV item claims more bytes than the PDU holds
    raw.send(b"\x04\x00\x00\x00\x00\x08" + b"\x00\x00\x00\x40\x01\x03ab")


def _bad_command_set(raw: RawPeer) -> None:
    ac = raw.associate([CTImageStorage])
    context = ac.presentation_contexts[0].context_id
    raw.send(PDataTF(pdvs=(PDV(context, 0x03, b"\x00\x00\x00\x00garbage!"),)).encode())


def _truncated_rq(raw: RawPeer) -> None:
    # A-ASSOCIATE-RQ whose length says 10 bytes: too short for the fixed fields
    raw.send(b"\x01\x00\x00\x00\x00\x0a" + b"\x00\x01" + b"\x00" * 8)


@pytest.mark.parametrize(
    ("attack", "reasons"),
    [
        (_bad_pdu_type, {AbortReason.UNRECOGNIZED_PDU}),
        (_truncated_rq, None),
        (_bad_pdv_length, None),
        (_bad_command_set, None),
    ],
    ids=["unknown-pdu-type", "truncated-rq", "bad-pdv-length", "bad-command-set"],
)
def test_malformed_pdu_gets_an_a_abort(attack: Any, reasons: set[int] | None) -> None:
    scp = scp_ae()
    scp.acse_timeout = 0.5  # after its A-ABORT the SCP waits this long for our close

    async def main() -> None:
        async with serving(scp) as server:

            def exchange() -> Any:
                raw = RawPeer(server.port)
                try:
                    attack(raw)
                    answer = raw.read_pdu()
                    rest = raw.read_eof()
                    return answer, rest
                finally:
                    raw.close()

            answer, rest = await asyncio.to_thread(exchange)
            assert isinstance(answer, AAbort), answer
            assert answer.source == AbortSource.SERVICE_PROVIDER
            if reasons is not None:
                assert answer.reason in reasons
            assert rest == b""
            await until(lambda: not server.active_associations)
            assoc = await scu_ae().associate_async("127.0.0.1", server.port, "DIMSE-SCP")
            assert (await assoc.send_c_echo()).status == 0
            await assoc.release()

    run(main())


def test_raw_release_is_answered() -> None:
    """A peer releasing by hand gets A-RELEASE-RP; its close ends the association."""

    async def main() -> None:
        async with serving(scp_ae()) as server:

            def exchange() -> Any:
                raw = RawPeer(server.port)
                try:
                    raw.associate([VERIFICATION])
                    raw.send(AReleaseRQ().encode())
                    return raw.read_pdu()
                finally:
                    raw.close()  # the requestor closes (PS3.8 AR-3); the acceptor waits

            answer = await asyncio.to_thread(exchange)
            assert isinstance(answer, AReleaseRP)
            await until(lambda: not server.active_associations)

    run(main())


def test_peer_abort_seen_by_the_scu() -> None:
    async def abort_it(event: evt.Event) -> int:
        event.assoc.abort()
        return 0

    scu_events: list[str] = []

    async def main() -> None:
        async with serving(scp_ae(), evt_handlers=[(evt.EVT_C_STORE, abort_it)]) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1",
                server.port,
                "DIMSE-SCP",
                evt_handlers=[(evt.EVT_ABORTED, lambda e: scu_events.append("aborted"))],
            )
            with pytest.raises(AssociationAborted) as caught:
                await assoc.send_c_store(make_dataset(CTImageStorage))
            assert caught.value.source == AbortSource.SERVICE_USER
            assert assoc.is_aborted

    run(main())
    assert scu_events == ["aborted"]


# -- notification events --------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.pdus: dict[str, list[int]] = {"sent": [], "received": []}
        self.dimse: dict[str, list[str]] = {"sent": [], "received": []}

    def bindings(self) -> list[Any]:
        out: list[Any] = []
        for event in (
            evt.EVT_CONN_OPEN,
            evt.EVT_REQUESTED,
            evt.EVT_ACCEPTED,
            evt.EVT_ESTABLISHED,
            evt.EVT_RELEASED,
            evt.EVT_ABORTED,
            evt.EVT_CONN_CLOSE,
        ):
            out.append((event, self.named, [event.name]))
        out.append((evt.EVT_PDU_SENT, self.pdu, ["sent"]))
        out.append((evt.EVT_PDU_RECV, self.pdu, ["received"]))
        out.append((evt.EVT_DIMSE_SENT, self.message, ["sent"]))
        out.append((evt.EVT_DIMSE_RECV, self.message, ["received"]))
        return out

    def named(self, event: evt.Event, name: str) -> None:
        assert event.event.name == name
        self.names.append(name)

    def pdu(self, event: evt.Event, direction: str) -> None:
        self.pdus[direction].append(int(event.pdu.pdu_type))  # type: ignore[attr-defined]

    def message(self, event: evt.Event, direction: str) -> None:
        assert event.message is not None
        self.dimse[direction].append(event.message.name)


def test_notification_events_on_both_sides() -> None:
    server_rec, client_rec = Recorder(), Recorder()

    def failing(event: evt.Event) -> None:
        raise RuntimeError("a broken notification handler never breaks the association")

    async def main() -> None:
        handlers = [*server_rec.bindings(), (evt.EVT_ESTABLISHED, failing)]
        async with serving(scp_ae(), evt_handlers=handlers) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP", evt_handlers=client_rec.bindings()
            )
            await assoc.send_c_echo()
            big = with_pixels(make_dataset(CTImageStorage), 100_000, b"\x01")
            await assoc.send_c_store(big)
            await assoc.release()
            await until(lambda: "EVT_CONN_CLOSE" in server_rec.names)

    run(main())
    assert server_rec.names == [
        "EVT_CONN_OPEN",
        "EVT_REQUESTED",
        "EVT_ACCEPTED",
        "EVT_ESTABLISHED",
        "EVT_RELEASED",
        "EVT_CONN_CLOSE",
    ]
    assert client_rec.names == [
        "EVT_CONN_OPEN",
        "EVT_ESTABLISHED",
        "EVT_RELEASED",
        "EVT_CONN_CLOSE",
    ]
    rq, ac, data, rel_rq, rel_rp = (
        PDUType.A_ASSOCIATE_RQ,
        PDUType.A_ASSOCIATE_AC,
        PDUType.P_DATA_TF,
        PDUType.A_RELEASE_RQ,
        PDUType.A_RELEASE_RP,
    )
    # every PDU is reported, P-DATA-TF included (the 100 kB dataset takes several)
    assert client_rec.pdus["sent"][0] == rq and client_rec.pdus["sent"][-1] == rel_rq
    assert client_rec.pdus["sent"].count(data) >= 3
    assert client_rec.pdus["received"] == [ac, data, data, rel_rp]
    assert server_rec.pdus["received"] == client_rec.pdus["sent"]
    assert server_rec.pdus["sent"] == client_rec.pdus["received"]
    assert client_rec.dimse["sent"] == ["C-ECHO-RQ", "C-STORE-RQ"]
    assert client_rec.dimse["received"] == ["C-ECHO-RSP", "C-STORE-RSP"]
    assert server_rec.dimse["received"] == client_rec.dimse["sent"]
    assert server_rec.dimse["sent"] == client_rec.dimse["received"]


def test_abort_events_on_both_sides() -> None:
    server_rec, client_rec = Recorder(), Recorder()

    async def main() -> None:
        async with serving(scp_ae(), evt_handlers=server_rec.bindings()) as server:
            assoc = await scu_ae().associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP", evt_handlers=client_rec.bindings()
            )
            assoc.abort()
            await asyncio.wait_for(assoc.wait_closed(), 10)
            assert assoc.is_aborted and not assoc.is_established
            await until(lambda: "EVT_CONN_CLOSE" in server_rec.names)

    run(main())
    assert server_rec.names[-2:] == ["EVT_ABORTED", "EVT_CONN_CLOSE"]
    assert client_rec.names[-2:] == ["EVT_ABORTED", "EVT_CONN_CLOSE"]
    assert server_rec.pdus["received"][-1] == PDUType.A_ABORT
    assert client_rec.pdus["sent"][-1] == PDUType.A_ABORT


def test_network_timeout_counts_from_our_last_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer that takes the connection and the A-ASSOCIATE-RQ and says nothing: the
    first idle check (network_timeout after the request went out) ends it, with a
    NetworkTimeout, a TimeoutError the apps report as such (not a peer's abort)."""
    from dimse.association import Association, NetworkTimeout

    checks: list[float] = []
    original = Association._idle_check

    def counted(self: Association) -> None:
        checks.append(self._loop.time())
        original(self)

    monkeypatch.setattr(Association, "_idle_check", counted)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]
    scu = scu_ae()
    scu.network_timeout = 0.2
    scu.acse_timeout = 600  # ARTIM is not what ends it

    async def main() -> BaseException:
        with pytest.raises(NetworkTimeout) as raised:
            await scu.associate_async("127.0.0.1", port, "SILENT")
        return raised.value

    try:
        error = run(main())
    finally:
        listener.close()
    assert isinstance(error, TimeoutError)
    assert f"no data from 127.0.0.1:{port} within 0.2 s (network timeout)" in str(error)
    assert len(checks) == 1  # not reset by our own request on the first check
