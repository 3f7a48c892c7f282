"""Child processes and the machine they run on, for the network benchmark.

Everything started here is tracked, runs in its own session (process group) and is
killed by pid, never by name. Clients are timed together with their CPU time; servers
are watched through /proc (LISTEN state, CPU time, VmHWM). ``ForeignCpu`` measures how
busy the rest of the machine is, so that a disturbed sample is flagged or, with
``--wait-quiet``, avoided.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .settings import HOST

_LIVE: set[subprocess.Popen[bytes]] = set()
# CPU placement (--pin): which CPUs servers and clients may run on; None = anywhere.
PLACEMENT: dict[str, set[int] | None] = {"server": None, "client": None}


def _kill_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a child started with ``start_new_session`` (its pgid is its pid)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(grace)
    _LIVE.discard(proc)


def kill_all_started() -> None:
    for proc in list(_LIVE):
        _kill_group(proc, grace=2.0)


def _spawn(
    argv: Sequence[str],
    env: dict[str, str],
    log: Path,
    role: str = "client",
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    cpus = PLACEMENT.get(role)

    def place() -> None:  # in the child, before exec: the program and its children
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=place if cpus is not None else None,
        )
    _LIVE.add(proc)
    return proc


def log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass
class ClientRun:
    rc: int | None  # None: timed out and killed
    seconds: float
    log: Path
    cpu: float  # user + system CPU seconds of the client (and its children)

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def describe(self) -> str:
        what = "timed out" if self.rc is None else f"exit status {self.rc}"
        tail = log_tail(self.log)
        return f"{what}" + (f": {tail}" if tail else "")


def run_client(
    argv: Sequence[str], env: dict[str, str], log: Path, timeout: float, cwd: Path | None = None
) -> ClientRun:
    """Run one client to completion (bounded by ``timeout``); wall time includes exec."""
    with open(log, "ab") as out:
        out.write(f"$ {shlex.join(argv)}\n".encode())
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = _spawn(argv, env, log, cwd=cwd)
    try:
        rc: int | None = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        rc = None
    seconds = time.perf_counter() - start
    _kill_group(proc)
    # Clients run one at a time and the SCP is reaped later, so the delta is the client.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ClientRun(rc, seconds, log, cpu)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _listening_ports() -> set[int] | None:
    """Local ports in LISTEN state from /proc/net/tcp{,6}; None when /proc is missing."""
    ports: set[int] = set()
    found = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        found = True
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[3] == "0A":
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports if found else None


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


class Scp:
    """A storage SCP child process, the server itself (no wrapper shell)."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], port: int, log: Path) -> None:
        self.argv = list(argv)
        self.env = env
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Scp:
        with open(self.log, "ab") as out:
            out.write(f"$ {shlex.join(self.argv)}\n".encode())
        self.proc = _spawn(self.argv, self.env, self.log, role="server")
        self._wait_ready(deadline=time.monotonic() + 30.0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            _kill_group(self.proc)

    def _wait_ready(self, deadline: float) -> None:
        # A socket in LISTEN state already queues connections; seeing it in
        # /proc/net/tcp avoids the stray empty association a connect probe would
        # cause. Without /proc, fall back to a connect probe.
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"SCP exited with status {self.proc.returncode}: {log_tail(self.log)}"
                )
            ports = _listening_ports()
            if (ports is not None and self.port in ports) or (
                ports is None and _accepts(self.port)
            ):
                return
            time.sleep(0.02)
        raise RuntimeError(f"SCP did not listen on port {self.port} within 30 s")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process so far (from /proc/<pid>/stat)."""
        if not self.alive:
            return None
        assert self.proc is not None
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float | None:
        """VmHWM of the server process, in MiB (call before stopping it)."""
        if not self.alive:
            return None
        assert self.proc is not None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.MULTILINE)
        return int(match.group(1)) / 1024 if match else None


def _children(pid: int) -> list[int]:
    """Child pids of ``pid`` (every thread's), zombies included, from /proc."""
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                kids += [
                    int(x) for x in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
                ]
    return kids


def _cpu_of(pid: int, reaped: bool) -> float:
    """utime + stime of ``pid`` (+ cutime + cstime: its reaped children), seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = sum(int(f) for f in fields[11 : 15 if reaped else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def _hwm_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


class GroupWatch:
    """CPU time and peak RSS of a server together with the processes it forks.

    dcmqrscp forks one child per association, which does the work and exits, so the
    parent's own figures miss it. CPU: the parent's utime+stime plus its reaped
    children's (cutime+cstime) plus the children still there (running or zombie).
    Peak RSS: the highest VmHWM of the parent and of any child, children sampled every
    ``interval`` s by a thread while ``watch()`` is active (a child's VmHWM is gone once
    it exits). For a single-process server both are simply the process's own.
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def cpu_seconds(self) -> float:
        return _cpu_of(self.pid, True) + sum(_cpu_of(k, False) for k in _children(self.pid))

    def _sample(self) -> None:
        for pid in (self.pid, *_children(self.pid)):
            hwm = _hwm_mib(pid)
            if hwm is not None and (self.peak is None or hwm > self.peak):
                self.peak = hwm

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> GroupWatch:
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._sample()


class ForeignCpu:
    """CPU time used by processes other than this script and its (reaped) children.

    Busy time of the whole machine from /proc/stat minus our own and our children's
    rusage (only reaped children count, so measure between samples). On a quiet
    machine it stays within ~0.1 CPU-s of zero per sample; it tells a quiet machine
    from one that runs somebody's test suite.
    """

    def __init__(self) -> None:
        self.start = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        except (OSError, IndexError):
            return None
        # irq/softirq time (loopback packet processing) is charged to no task, so
        # leave it out on both sides: user + nice + system vs. our utime + stime.
        user, nice, system = (int(x) for x in fields[:3])
        busy = (user + nice + system) / os.sysconf("SC_CLK_TCK")
        ours = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(who)
            ours += usage.ru_utime + usage.ru_stime
        return busy, ours, time.monotonic()

    @classmethod
    def wait_quiet(cls, limit: float, share: float, window: float = 0.5) -> float:
        """Wait (at most ``limit`` s) for a ``window`` with outside load under ``share``."""
        deadline = time.monotonic() + limit
        while True:
            watch = cls()
            time.sleep(window)
            load = watch.stop()
            if not load or load["foreign_cpu"] / load["seconds"] < share:
                return 0.0 if not load else load["foreign_cpu"] / load["seconds"]
            if time.monotonic() >= deadline:
                return load["foreign_cpu"] / load["seconds"]

    def stop(self) -> dict[str, float]:
        end = self._read()
        if self.start is None or end is None:
            return {}
        elapsed = end[2] - self.start[2]
        foreign = max(0.0, (end[0] - self.start[0]) - (end[1] - self.start[1]))
        return {"seconds": elapsed, "foreign_cpu": foreign}
