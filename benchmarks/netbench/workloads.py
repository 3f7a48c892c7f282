"""The measurements: W1/W2 (C-STORE), W3 (C-ECHO), W4 (associations), raw TCP.

Each ``bench_*`` function starts a fresh SCP on a fresh port, times the client (t_1 and
t_N), checks the outcome and returns one ``Sample``; ``Context.add`` runs it and records
the outside CPU load meanwhile. W5 (the SCP's peak RSS) is read during the W2 runs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .data import Corpus
from .procs import ForeignCpu, Scp, free_port, log_tail, run_client
from .settings import BUSY_SHARE, HOST, MB, STEADY_MIN_DIFF, T1_REPEATS, MiB, Sizes
from .tools import ApiLoop, Tool
from .verify import verify_received


def _clear(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.sync()  # settle write-back of this run before the next one starts


# How a run's received files are disposed of, so that they do not make the *next* run
# faster or slower than its own merit, whichever tool it is:
# * on ext4 without a journal (this VM's root file system) creating a file skips every
#   inode freed in the last minute, one by one: after a run's 2000 files were deleted
#   the next run's file creation cost ~0.8 ms more per file (fs/ext4/ialloc.c,
#   recently_deleted()). Directories of many files are set aside, deleted at the end.
# * on this VM (virtio-balloon free page reporting) freed memory goes back to the host
#   over the following seconds, and the first write to a returned page costs a host
#   fault: a W2 run started right after the previous run's 1 GB was deleted took
#   ~0.8 s or ~1.7 s (server kernel time 3x) depending on how far that had got, so the
#   order of the tools decided W2. After deleting a large directory the next run waits
#   a few seconds, so every run starts from the same, settled state.
RETIRE_FILES = 100
RETIRE_KEEP_FREE = 4 << 30  # stop setting aside when the work dir's disk gets this full
SETTLE_BYTES = 256 << 20
SETTLE_SECONDS = 3.0


@dataclass
class Sample:
    workload: str
    variant: str
    run: int
    ok: bool
    error: str = ""
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class Context:
    work: Path
    sizes: Sizes
    verify_samples: int
    samples: list[Sample] = field(default_factory=list)
    load: dict[str, dict[str, float]] = field(default_factory=dict)
    wait_quiet: float = 0.0  # seconds to wait for a quiet machine before each sample
    retired: list[Path] = field(default_factory=list)

    def finish_run(self, directory: Path) -> None:
        """Done with a received directory: set it aside for :meth:`purge` if it holds
        many files, else delete them (and let freed memory settle after a large one; see
        RETIRE_FILES); leaves ``directory`` empty."""
        files = [p for p in directory.iterdir() if p.is_file()] if directory.is_dir() else []
        size = sum(p.stat().st_size for p in files)
        room = shutil.disk_usage(self.work).free > RETIRE_KEEP_FREE + size
        if len(files) > RETIRE_FILES and room:
            aside = self.work / f"retired-{len(self.retired)}"
            directory.rename(aside)
            self.retired.append(aside)
            _clear(directory)
            return
        _clear(directory)
        if size > SETTLE_BYTES:
            time.sleep(SETTLE_SECONDS)

    def purge(self) -> None:
        """Delete what was set aside, and let the freed memory settle."""
        if not self.retired:
            return
        for directory in self.retired:
            shutil.rmtree(directory, ignore_errors=True)
        self.retired.clear()
        os.sync()
        time.sleep(SETTLE_SECONDS)

    def add(self, measure: Callable[[], Sample]) -> None:
        """Run one measurement; record the outside CPU load during it."""
        if self.wait_quiet > 0:
            ForeignCpu.wait_quiet(self.wait_quiet, BUSY_SHARE)
        watch = ForeignCpu()
        sample = measure()
        load = watch.stop()
        if load and load["seconds"] > 0:
            sample.values["foreign_cpu_share"] = load["foreign_cpu"] / load["seconds"]
        self.samples.append(sample)

    def log(self, name: str) -> Path:
        return self.work / f"{name}.log"


def _report(sample: Sample, headline: str) -> Sample:
    status = "ok" if sample.ok else f"FAILED: {sample.error}"
    print(
        f"  {sample.workload} run {sample.run + 1} {sample.variant:<22} {headline} {status}",
        file=sys.stderr,
    )
    return sample


class Failed(Exception):
    """A run that did not deliver what it should: reported as FAILED."""


@dataclass(frozen=True)
class T1:
    """Single-item client runs: their median and spread (max - min)."""

    median: float
    spread: float


def _steady(n: int, t1: T1, tn: float) -> float:
    """(N-1) / (t_N - t_1); NaN when t_N - t_1 is not well above the start-up jitter."""
    if tn - t1.median <= max(STEADY_MIN_DIFF, 5 * t1.spread):
        return float("nan")
    return (n - 1) / (tn - t1.median)


def _time_one(
    ctx: Context,
    argv: list[str],
    env: dict[str, str],
    tag: str,
    check: Callable[[], str | None] | None = None,
) -> T1:
    """t_1: the median wall time of ``T1_REPEATS`` single-item client runs."""
    times: list[float] = []
    for k in range(T1_REPEATS):
        result = run_client(argv, env, ctx.log(f"scu-{tag}-1-{k}"), 120)
        if not result.ok:
            raise Failed(f"N=1 client {result.describe()}")
        if check is not None and (problem := check()):
            raise Failed(f"N=1: {problem}")
        times.append(result.seconds)
    return T1(statistics.median(times), max(times) - min(times))


def bench_store(
    ctx: Context, workload: str, tool: Tool, run: int, one: Corpus, many: Corpus, timeout: float
) -> Sample:
    sample = Sample(workload, tool.key, run, ok=False)
    tag = f"{workload}-{tool.key}-{run}"
    received = ctx.work / f"recv-{tag}"
    _clear(received)

    def check_one() -> str | None:
        problem = verify_received(received, one, 1)
        _clear(received)
        return problem

    port = free_port()
    try:
        with Scp(tool.scp(port, received), tool.env, port, ctx.log(f"scp-{tag}")) as scp:
            t1 = _time_one(ctx, tool.storescu(port, one.directory), tool.env, tag, check_one)
            scp_cpu_before = scp.cpu_seconds()
            full = run_client(
                tool.storescu(port, many.directory),
                tool.env,
                ctx.log(f"scu-{tag}-n"),
                timeout,
            )
            hwm = scp.peak_rss_mib()
            scp_cpu_after = scp.cpu_seconds()
            if not scp.alive:
                raise Failed(f"SCP died: {log_tail(scp.log)}")
        if not full.ok:
            raise Failed(f"storescu {full.describe()}")
        problem = verify_received(received, many, ctx.verify_samples)
        if problem:
            raise Failed(problem)
    except (Failed, RuntimeError) as exc:
        sample.error = str(exc)
        return _report(sample, "")
    finally:
        ctx.finish_run(received)
    n, tn = len(many.files), full.seconds
    sample.ok = True
    sample.values = {"t_1": t1.median, "t_1_spread": t1.spread, "t_n": tn, "n": n}
    sample.values["scu_cpu"] = full.cpu
    if hwm is not None:
        sample.values["scp_hwm_mib"] = hwm
    if scp_cpu_before is not None and scp_cpu_after is not None:
        sample.values["scp_cpu"] = scp_cpu_after - scp_cpu_before
    if workload == "W1":
        sample.values["plain"] = n / tn
        sample.values["steady"] = _steady(n, t1, tn)
        headline = f"{n / tn:8.1f} inst/s  t_1 {t1.median:.2f}s t_N {tn:.2f}s"
    else:
        # steady in bytes: (bytes_N - bytes_1) / (t_N - t_1), MB/s
        per_instance = (many.total_bytes - one.total_bytes) / max(n - 1, 1) / MB
        sample.values["plain"] = many.total_bytes / tn / MB
        sample.values["steady"] = _steady(n, t1, tn) * per_instance
        headline = f"{sample.values['plain']:8.1f} MB/s    t_1 {t1.median:.2f}s t_N {tn:.2f}s"
    if hwm is not None:
        headline += f" SCP HWM {hwm:.0f} MiB"
    return _report(sample, headline)


def bench_echo(ctx: Context, tool: Tool, run: int) -> Sample:
    sample = Sample("W3", tool.key, run, ok=False)
    tag = f"W3-{tool.key}-{run}"
    received = ctx.work / f"recv-{tag}"
    _clear(received)
    n = ctx.sizes.w3
    port = free_port()
    try:
        with Scp(tool.scp(port, received), tool.env, port, ctx.log(f"scp-{tag}")) as scp:
            t1 = _time_one(ctx, tool.echoscu(port, 1), tool.env, tag)
            full = run_client(tool.echoscu(port, n), tool.env, ctx.log(f"scu-{tag}-n"), 300)
            if not scp.alive:
                raise Failed(f"SCP died: {log_tail(scp.log)}")
        if not full.ok:
            raise Failed(f"echoscu --repeat {n} {full.describe()}")
    except (Failed, RuntimeError) as exc:
        sample.error = str(exc)
        return _report(sample, "")
    finally:
        shutil.rmtree(received, ignore_errors=True)
    tn = full.seconds
    sample.ok = True
    sample.values = {
        "t_1": t1.median,
        "t_1_spread": t1.spread,
        "t_n": tn,
        "n": n,
        "plain": n / tn,
        "steady": _steady(n, t1, tn),
    }
    return _report(sample, f"{n / tn:8.1f} echo/s  t_1 {t1.median:.2f}s t_N {tn:.2f}s")


SHELL_LOOP = 'n=$1; shift; i=0; while [ "$i" -lt "$n" ]; do "$@" || exit 1; i=$((i+1)); done'


def bench_assoc_shell(ctx: Context, tool: Tool, run: int) -> Sample:
    sample = Sample("W4", f"{tool.key}", run, ok=False)
    tag = f"W4-{tool.key}-{run}"
    received = ctx.work / f"recv-{tag}"
    _clear(received)
    n = ctx.sizes.w4
    port = free_port()
    argv = ["/bin/sh", "-c", SHELL_LOOP, "sh", str(n), *tool.echoscu(port, 1)]
    try:
        with Scp(tool.scp(port, received), tool.env, port, ctx.log(f"scp-{tag}")) as scp:
            loop = run_client(argv, tool.env, ctx.log(f"scu-{tag}"), (60 + 5 * n))
            alive = scp.alive
    except RuntimeError as exc:
        sample.error = str(exc)
        return _report(sample, "")
    finally:
        shutil.rmtree(received, ignore_errors=True)
    if not loop.ok or not alive:
        sample.error = f"shell loop {loop.describe()}" if not loop.ok else "SCP died"
        return _report(sample, "")
    sample.ok = True
    sample.values = {"t_n": loop.seconds, "n": n, "plain": n / loop.seconds}
    return _report(
        sample, f"{n / loop.seconds:8.1f} assoc/s  ({loop.seconds / n * 1000:.1f} ms each)"
    )


def bench_assoc_api(ctx: Context, api: ApiLoop, scp_tool: Tool, run: int) -> Sample:
    sample = Sample("W4", api.key, run, ok=False)
    tag = f"W4-{api.key}-{run}"
    received = ctx.work / f"recv-{tag}"
    _clear(received)
    n = ctx.sizes.w4
    port = free_port()
    log = ctx.log(f"scu-{tag}")
    argv = [sys.executable, "-c", api.code, HOST, str(port), str(n)]
    try:
        with Scp(scp_tool.scp(port, received), scp_tool.env, port, ctx.log(f"scp-{tag}")) as scp:
            result = run_client(argv, dict(os.environ), log, (60 + 2 * n))
            alive = scp.alive
    except RuntimeError as exc:
        sample.error = str(exc)
        return _report(sample, "")
    finally:
        shutil.rmtree(received, ignore_errors=True)
    if not result.ok or not alive:
        sample.error = f"API loop {result.describe()}" if not result.ok else "SCP died"
        return _report(sample, "")
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.startswith("{")]
    try:
        seconds = float(json.loads(lines[-1])["seconds"])
    except (IndexError, ValueError, KeyError):
        sample.error = f"no result line: {log_tail(log)}"
        return _report(sample, "")
    sample.ok = True
    sample.values = {"t_n": seconds, "n": n, "plain": n / seconds, "wall": result.seconds}
    return _report(sample, f"{n / seconds:8.1f} assoc/s  ({seconds / n * 1000:.2f} ms each)")


def bench_raw_tcp(total: int, run: int, chunk: int = MiB) -> Sample:
    """sendall of ``chunk``-sized buffers into recv_into over loopback: the W2 ceiling."""
    sample = Sample("W2", "raw-tcp", run, ok=False)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    got = [0]

    def receive() -> None:
        conn, _ = listener.accept()
        with conn:
            buf = bytearray(chunk)
            view = memoryview(buf)
            while True:
                k = conn.recv_into(view)
                if not k:
                    break
                got[0] += k

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    payload = os.urandom(chunk)
    start = time.perf_counter()
    with socket.create_connection((HOST, port)) as client:
        sent = 0
        while sent < total:
            client.sendall(payload)
            sent += chunk
        client.shutdown(socket.SHUT_WR)
        thread.join(120)
    seconds = time.perf_counter() - start
    listener.close()
    if got[0] != sent:
        sample.error = f"received {got[0]} of {sent} bytes"
        return _report(sample, "")
    sample.ok = True
    sample.values = {"t_n": seconds, "plain": sent / seconds / MB, "bytes": sent}
    return _report(sample, f"{sent / seconds / MB:8.1f} MB/s")
