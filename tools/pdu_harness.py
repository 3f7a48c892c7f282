"""Run real DICOM peers (dcmtk tools, pynetdicom) through recording proxies.

The harness owns everything a scenario starts: proxies, peer processes, in-process
pynetdicom servers and the temporary directory. `close()` stops them all (only what it
started), in bounded time, and returns the PDUs with sender and receiver attached.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.pdu_proxy import CapturedPdu, Direction, PduProxy

UID_NAMESPACE = uuid.UUID("6f1c7d9e-2b0a-4c1e-9a57-0d1ce0de0001")
"""Namespace for name-based UUIDs, so the test datasets keep their UIDs between runs."""


class ScenarioError(RuntimeError):
    """A peer did not behave as the scenario expects (exit code, no PDUs, ...)."""


def stable_uid(name: str) -> str:
    """A 2.25 UID derived from `name` (UUID version 5), the same on every run."""
    return f"2.25.{uuid.uuid5(UID_NAMESPACE, name).int}"


def free_port() -> int:
    """A currently free loopback port, found by binding port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _is_listening(port: int) -> bool:
    """Whether a socket listens on `port`: /proc/net/tcp* on Linux, else a test connect.

    Reading /proc avoids a probe connection, which some peers log as a failed association.
    """
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False
    suffix = f":{port:04X}"
    for table in tables:
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[1].endswith(suffix) and fields[3] == "0A":
                return True
    return False


def wait_listening(
    port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll until something listens on `port` (fail early if `proc` exits)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise ScenarioError(f"{proc.args!r} exited with {proc.returncode} before listening")
        if _is_listening(port):
            return
        time.sleep(0.05)
    raise ScenarioError(f"nothing listening on port {port} after {timeout} s")


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL, the process group led by `proc` (one we started)."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; make sure no forked child outlives it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        break


@dataclass(frozen=True)
class Peer:
    """One DICOM program: toolkit ("dcmtk"/"pynetdicom"), program name and version."""

    toolkit: str
    program: str
    version: str

    @property
    def label(self) -> str:
        """E.g. "dcmtk storescu 3.6.7"."""
        return f"{self.toolkit} {self.program} {self.version}"


@dataclass(frozen=True)
class Record:
    """A captured PDU with who sent it to whom."""

    sender: Peer
    receiver: Peer
    pdu: CapturedPdu


@dataclass
class _Tap:
    proxy: PduProxy
    requestor: Peer
    acceptor: Peer
    connections: int
    rank: int


def dcmtk_version(dcmtk_bin: Path) -> str:
    """The dcmtk version, from `echoscu --version`."""
    out = subprocess.run(
        [str(dcmtk_bin / "echoscu"), "--version"], capture_output=True, text=True, timeout=10
    ).stdout
    match = re.search(r"v(\d+\.\d+\.\d+)", out)
    if match is None:
        raise ScenarioError(f"cannot read the dcmtk version from {out!r}")
    return match.group(1)


@dataclass
class Harness:
    """Per-scenario resources; use `close()` (always) to stop them and get the PDUs."""

    tmp: Path
    dcmtk_bin: Path
    dcmtk_ver: str
    pynetdicom_ver: str
    datasets: dict[str, Path]
    verbose: bool = False
    errors: list[str] = field(default_factory=list)
    """Proxy problems (truncated PDUs, connections left open); any one fails the scenario."""
    _taps: list[_Tap] = field(default_factory=list)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _cleanups: list[Callable[[], None]] = field(default_factory=list)
    _logs: int = 0

    # -- peers -----------------------------------------------------------------------

    def dcmtk(self, program: str) -> Peer:
        """A dcmtk program as a peer."""
        return Peer("dcmtk", program, self.dcmtk_ver)

    def pynetdicom(self, program: str) -> Peer:
        """A pynetdicom app (or "AE" for an inline script) as a peer."""
        return Peer("pynetdicom", program, self.pynetdicom_ver)

    def dcmtk_cmd(self, program: str, *args: str | int | Path) -> list[str]:
        """Command line for a dcmtk tool (absolute path: pynetdicom's apps share names)."""
        return [str(self.dcmtk_bin / program), *(str(a) for a in args)]

    def pynetdicom_cmd(self, app: str, *args: str | int | Path) -> list[str]:
        """Command line for `python -m pynetdicom <app>`."""
        return [sys.executable, "-m", "pynetdicom", app, *(str(a) for a in args)]

    # -- resources -------------------------------------------------------------------

    def proxy(
        self,
        upstream_port: int,
        requestor: Peer,
        acceptor: Peer,
        connections: int = 1,
        rank: int = 0,
    ) -> PduProxy:
        """Start a recording proxy in front of `upstream_port`.

        Records are numbered proxy by proxy in `rank`, then creation, order.
        """
        proxy = PduProxy(("127.0.0.1", upstream_port), max_connections=connections).start()
        self._taps.append(_Tap(proxy, requestor, acceptor, connections, rank))
        return proxy

    def _log(self, args: Sequence[str]) -> Path:
        if self.verbose:
            print(f"  $ {' '.join(args)}", file=sys.stderr)
        self._logs += 1
        return self.tmp / f"{self._logs:02d}-{Path(args[0]).name}.log"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "TCP_NODELAY": "1"}

    def spawn(self, args: Sequence[str], listen_port: int) -> subprocess.Popen[bytes]:
        """Start a server peer and wait until it listens on `listen_port`."""
        log = self._log(args).open("wb")
        # A session of its own, so stopping it also stops the children it forks (dcmqrscp).
        proc = subprocess.Popen(
            list(args),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._env(),
            start_new_session=True,
        )
        log.close()
        self._procs.append(proc)
        wait_listening(listen_port, proc=proc)
        return proc

    def run(self, args: Sequence[str], *, expect_rc: int | None = 0, timeout: float = 60.0) -> int:
        """Run a client peer to completion (killed after `timeout`); check its exit code."""
        log_path = self._log(args)
        with log_path.open("wb") as log:
            try:
                done = subprocess.run(
                    list(args),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self._env(),
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired as exc:
                raise ScenarioError(f"{args[0]} timed out after {timeout} s") from exc
        if expect_rc is not None and done.returncode != expect_rc:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise ScenarioError(
                f"{' '.join(args)} exited with {done.returncode}, expected {expect_rc}:\n{tail}"
            )
        return done.returncode

    def on_close(self, cleanup: Callable[[], None]) -> None:
        """Call `cleanup` when the scenario ends (e.g. shut an in-process server down)."""
        self._cleanups.append(cleanup)

    def close(self, settle: float = 10.0) -> list[Record]:
        """Wait for connections to end, stop everything started, return the records."""
        for tap in self._taps:
            tap.proxy.wait_closed(tap.connections, settle)
        for tap in self._taps:
            tap.proxy.stop()
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception as exc:  # keep going: the peer processes must still be stopped
                self.errors.append(f"cleanup {cleanup!r}: {exc}")
        for proc in self._procs:
            _stop_group(proc)
        records: list[Record] = []
        for tap in sorted(self._taps, key=lambda t: t.rank):
            for error in tap.proxy.errors:
                self.errors.append(f"{tap.requestor.label} -> {tap.acceptor.label}: {error}")
            # Proxy, then connection, then order within it: stable from run to run, where
            # wall-clock order across connections (move sub-associations) is not.
            for pdu in sorted(tap.proxy.captures, key=lambda c: (c.connection, c.seq)):
                if pdu.direction is Direction.FROM_REQUESTOR:
                    records.append(Record(tap.requestor, tap.acceptor, pdu))
                else:
                    records.append(Record(tap.acceptor, tap.requestor, pdu))
        return records
