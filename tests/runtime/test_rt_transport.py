"""Transports and the blocking facade: TLS with mutual authentication, IPv6 loopback,
``ae.associate()`` / ``ae.start_server(block=False)`` from plain threads."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from _rt_net import (
    ACCEPT_STORES,
    TIMEOUT,
    listing,
    make_certificates,
    make_dataset,
    run,
    scp_ae,
    scu_ae,
    serving,
)
from pydicom.uid import CTImageStorage, MRImageStorage

from dimse import evt
from dimse.ae import StoreToDirectory
from dimse.errors import AssociationAborted, AssociationRejected, UsageError
from dimse.negotiation import RejectReason


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("pki"))


def _server_context(certs: dict[str, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["server.pem"], certs["server.key"])
    ctx.load_verify_locations(certs["ca.pem"])
    ctx.verify_mode = ssl.CERT_REQUIRED  # mutual authentication
    return ctx


def _client_context(certs: dict[str, Path], *, with_cert: bool = True) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(certs["ca.pem"])
    if with_cert:
        ctx.load_cert_chain(certs["client.pem"], certs["client.key"])
    return ctx


def test_tls_round_trip_with_mutual_authentication(certs: dict[str, Path], tmp_path: Path) -> None:
    peers: list[object] = []

    def on_established(event: evt.Event) -> None:
        link = event.assoc.link
        assert link is not None and link.transport is not None
        peers.append(link.transport.get_extra_info("peercert"))

    scp = scp_ae()
    scp.store_sink = StoreToDirectory(tmp_path, fsync=False)
    ds = make_dataset(CTImageStorage)

    async def main() -> None:
        handlers = [(evt.EVT_ESTABLISHED, on_established)]
        async with serving(scp, evt_handlers=handlers, tls=_server_context(certs)) as server:
            assoc = await scu_ae(CTImageStorage).associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP", tls=_client_context(certs)
            )
            assert (await assoc.send_c_echo()).status == 0
            assert (await assoc.send_c_store(ds)).status == 0
            await assoc.release()
            assert assoc.is_released

    run(main())
    assert listing(tmp_path) == [str(ds.SOPInstanceUID)]
    (peer,) = peers
    subject = dict(item[0] for item in peer["subject"])  # type: ignore[index]
    assert subject["commonName"] == "dimse test client"


def test_tls_client_without_certificate_is_refused(certs: dict[str, Path]) -> None:
    async def main() -> None:
        async with serving(scp_ae(), tls=_server_context(certs)) as server:
            scu = scu_ae()
            scu.acse_timeout = 5
            with pytest.raises((OSError, AssociationAborted)):
                await scu.associate_async(
                    "127.0.0.1",
                    server.port,
                    "DIMSE-SCP",
                    tls=_client_context(certs, with_cert=False),
                )
            # and a client that does not trust the server's CA refuses it
            with pytest.raises(ssl.SSLCertVerificationError):
                await scu.associate_async(
                    "127.0.0.1", server.port, "DIMSE-SCP", tls=ssl.create_default_context()
                )
            # the server still serves a proper client
            assoc = await scu.associate_async(
                "127.0.0.1", server.port, "DIMSE-SCP", tls=_client_context(certs)
            )
            await assoc.release()

    run(main())


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(
    not _ipv6_loopback(), reason="environment limit: this machine cannot bind ::1 (no IPv6)"
)
def test_ipv6_loopback() -> None:
    seen: list[object] = []

    async def main() -> None:
        handlers = [
            (evt.EVT_ESTABLISHED, lambda e: seen.append(e.assoc.peer_address)),
            ACCEPT_STORES,
        ]
        async with serving(scp_ae(), "::1", evt_handlers=handlers) as server:
            assoc = await scu_ae(CTImageStorage).associate_async("::1", server.port, "DIMSE-SCP")
            assert (await assoc.send_c_echo()).status == 0
            assert (await assoc.send_c_store(make_dataset(CTImageStorage))).status == 0
            await assoc.release()

    run(main())
    assert seen and seen[0][0] == "::1"  # type: ignore[index]


# -- the blocking facade --------------------------------------------------------------------


def _threaded_server(**changes: object) -> tuple[object, threading.Event, list[str]]:
    scp = scp_ae()
    for key, value in changes.items():
        setattr(scp, key, value)
    aborted = threading.Event()
    names: list[str] = []

    def note(event: evt.Event) -> None:
        names.append(event.event.name)
        if event.event is evt.EVT_ABORTED:
            aborted.set()

    server = scp.start_server(
        ("127.0.0.1", 0),
        block=False,
        evt_handlers=[(evt.EVT_ABORTED, note), (evt.EVT_RELEASED, note), ACCEPT_STORES],
    )
    assert server is not None
    return server, aborted, names


def test_blocking_context_manager_releases() -> None:
    server, _, names = _threaded_server()
    try:
        scu = scu_ae(CTImageStorage)
        with scu.associate("127.0.0.1", server.port, "DIMSE-SCP") as assoc:  # type: ignore[attr-defined]
            assert assoc.is_established
            assert assoc.send_c_echo().status == 0
            assert assoc.send_c_store(make_dataset(CTImageStorage)).status == 0
            assert [c.abstract_syntax for c in assoc.accepted_contexts][-1] == CTImageStorage
        assert assoc.is_released and not assoc.is_established and not assoc.is_aborted
        # pynetdicom style, without the context manager
        plain = scu.associate("127.0.0.1", server.port, "DIMSE-SCP")  # type: ignore[attr-defined]
        assert plain.is_established
        assert plain.send_c_echo().status == 0
        plain.release()
        assert plain.is_released
    finally:
        server.shutdown()  # type: ignore[attr-defined]
    assert names.count("EVT_RELEASED") == 2


def test_blocking_exception_inside_aborts() -> None:
    server, aborted, _ = _threaded_server()
    try:
        scu = scu_ae(CTImageStorage)
        with (
            pytest.raises(KeyError),
            scu.associate("127.0.0.1", server.port, "DIMSE-SCP") as assoc,  # type: ignore[attr-defined]
        ):
            assoc.send_c_echo()
            raise KeyError("boom")
        assert assoc.is_aborted and not assoc.is_released
        assert aborted.wait(TIMEOUT)
        # usage errors surface from the loop thread as they are
        with scu.associate("127.0.0.1", server.port, "DIMSE-SCP") as again:  # type: ignore[attr-defined]
            with pytest.raises(UsageError, match=MRImageStorage):
                again.send_c_store(make_dataset(MRImageStorage))
            assert again.send_c_echo().status == 0
    finally:
        server.shutdown()  # type: ignore[attr-defined]


def test_blocking_rejection() -> None:
    server, _, _ = _threaded_server(require_called_aet=True)
    try:
        scu = scu_ae()
        assoc = scu.associate("127.0.0.1", server.port, "NOT-ME")
        assert assoc.is_rejected and not assoc.is_established and not assoc.is_aborted
        assert isinstance(assoc.error, AssociationRejected)
        assert assoc.error.reason == RejectReason.CALLED_AE_TITLE_NOT_RECOGNIZED.code
        with (
            pytest.raises(AssociationRejected),
            scu.associate("127.0.0.1", server.port, "NOT-ME"),
        ):
            pass
        with pytest.raises(UsageError, match="not established"):
            assoc.send_c_echo()
        # nothing listens on a closed port: not established, the OSError kept
        closed_port = server.port  # type: ignore[attr-defined]
    finally:
        server.shutdown()  # type: ignore[attr-defined]
    refused = scu.associate("127.0.0.1", closed_port, "DIMSE-SCP")
    assert not refused.is_established and isinstance(refused.error, OSError)


def test_ae_shutdown_stops_its_background_servers() -> None:
    """pynetdicom's AE.shutdown(): every start_server(block=False) server stops."""
    scp = scp_ae()
    servers = [scp.start_server(("127.0.0.1", 0), block=False) for _ in range(2)]
    ports = [s.port for s in servers if s is not None]
    assert len(ports) == 2
    scu = scu_ae()
    for port in ports:
        assoc = scu.associate("127.0.0.1", port, "DIMSE-SCP")
        assert assoc.is_established and assoc.send_c_echo().status == 0
        assoc.release()
    scp.shutdown()
    for port in ports:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    scp.shutdown()  # nothing left to stop: a no-op
