"""Q1-Q3: C-FIND, C-GET and C-MOVE against each tool's Query/Retrieve SCP.

``prepare_qr`` generates the study (``qr_data``) and loads it into every tool's Q/R SCP
with that tool's own storescu, once per invocation (not timed; the workloads only read,
so the stores are reused by every run). ``bench_qr`` then starts a fresh SCP on its
store for each sample, times the client three times with one item (t_1) and once with
N (t_N), reads the SCP's CPU time and peak RSS (its forked children included), and
checks what arrived. Each SCP is measured twice: with its own tool's SCU (wall time of
the process, as a user runs it) and with one common client, dimse's asyncio API
in-process (its own clock from associate to release), so that only the SCP differs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pydicom.uid import UID

from .data import Corpus
from .procs import GroupWatch, Scp, free_port, log_tail, run_client
from .qr_data import QrCorpus, ensure_qr_corpus
from .qr_tools import QrTool, Query, api_client
from .settings import T1_REPEATS, MiB
from .verify import verify_received
from .workloads import T1, Context, Failed, Sample, _clear, _report, _steady

QR_OPS = {"Q1": "find", "Q2": "get", "Q3": "move"}
UNITS = {"Q1": "match/s", "Q2": "inst/s", "Q3": "inst/s"}
COMMON = "@api"  # variant suffix of the common-client rows


@dataclass(frozen=True)
class QrSetup:
    corpus: QrCorpus
    stores: dict[str, Path]  # tool key -> its loaded store
    dcmtk_bin: Path
    dest_env: dict[str, str]
    notes: list[str]  # the run's notes (transcoding found by a sample is added)


def _keys(corpus: QrCorpus, level: str, series: str, sop: str | None) -> dict[str, str]:
    keys = {
        "QueryRetrieveLevel": level,
        "StudyInstanceUID": corpus.study_uid,
        "SeriesInstanceUID": series,
    }
    if sop is not None:
        keys["SOPInstanceUID"] = sop
    return keys


def queries(workload: str, corpus: QrCorpus) -> tuple[Query, Query, Corpus, Corpus]:
    """(one, many, expected for one, expected for many) of a Q workload.

    Q1: IMAGE level under series A, all of it (N = series A) or one SOP Instance UID.
    Q2/Q3: series B at SERIES level (N), or one instance of series A at IMAGE level, so
    the t_1 file is never one of the N.
    """
    op = QR_OPS[workload]
    first = corpus.find.files[0]
    single = Corpus(first.parent, (first,), corpus.find.uids[:1], first.stat().st_size)
    a, b = corpus.find_series, corpus.retrieve_series
    if op == "find":
        extra = {"InstanceNumber": ""}
        one = Query(op, {**_keys(corpus, "IMAGE", a, corpus.find.uids[0]), **extra})
        many = Query(op, {**_keys(corpus, "IMAGE", a, ""), **extra})
        return one, many, single, corpus.find
    one = Query(op, _keys(corpus, "IMAGE", a, corpus.find.uids[0]))
    many = Query(op, _keys(corpus, "SERIES", b, None))
    return one, many, single, corpus.retrieve


def prepare_qr(
    ctx: Context, data: Path, tools: dict[str, QrTool], dcmtk_bin: Path, notes: list[str]
) -> QrSetup | None:
    """Generate the study and load it into each tool's SCP (None: not enough disk)."""
    sizes = ctx.sizes
    # ~16.5 KiB per file: the cache, one store per tool, two received copies, headroom
    need = (sizes.q1 + sizes.q2) * 17 * 1024 * (len(tools) + 3) + (256 * MiB)
    free = min(shutil.disk_usage(data).free, shutil.disk_usage(ctx.work).free)
    if free < need:
        notes.append(f"Q1-Q3 skipped: need ~{need / MiB:.0f} MiB free, have {free / MiB:.0f}")
        return None
    corpus = ensure_qr_corpus(data, sizes.q1, sizes.q2)
    dest_env = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    dest_env["TCP_NODELAY"] = "1"
    stores: dict[str, Path] = {}
    for key, tool in tools.items():
        if tool.variant_of is not None:
            if tool.variant_of in stores:
                stores[key] = stores[tool.variant_of]
            continue
        store = ctx.work / f"qr-{key}"
        shutil.rmtree(store, ignore_errors=True)
        store.mkdir(parents=True)
        port = free_port()
        began = time.perf_counter()
        try:
            with Scp(tool.scp(store, port, free_port()), tool.env, port, ctx.log(f"qr-load-{key}")):
                loaded = run_client(
                    tool.load(port, corpus.directory),
                    tool.env,
                    ctx.log(f"qr-load-{key}-scu"),
                    120 + corpus.count * 0.5,
                )
        except RuntimeError as exc:
            notes.append(f"{tool.label}: could not start it to load the study: {exc}")
            continue
        if not loaded.ok:
            notes.append(f"{tool.label}: loading failed, rows skipped: {loaded.describe()}")
            continue
        os.sync()
        stores[key] = store
        seconds = time.perf_counter() - began
        print(
            f"  loaded {corpus.count} instances into {tool.label} in {seconds:.1f} s",
            file=sys.stderr,
        )
        notes.append(
            f"Q data: {corpus.count} instances loaded into {tool.label} with its storescu in"
            f" {seconds:.1f} s (not timed)"
        )
    return QrSetup(corpus, stores, dcmtk_bin, dest_env, notes)


def _found_uids(out: Path) -> list[str]:
    """SOP Instance UIDs of the C-FIND matches a client left in ``out``."""
    listing = out / "uids.json"
    if listing.exists():
        return [str(u) for u in json.loads(listing.read_text())]
    from pydicom import dcmread

    uids = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        ds = dcmread(path, force=True, specific_tags=["SOPInstanceUID"])
        uids.append(str(ds.get("SOPInstanceUID", "")))
    return uids


def _check(
    op: str, out: Path, expected: Corpus, samples: int, transcoded: list[str] | None
) -> str | None:
    if op != "find":
        return verify_received(out, expected, samples, transcoded)
    found = _found_uids(out)
    if len(found) != len(expected.uids):
        return f"{len(found)} C-FIND matches, expected {len(expected.uids)}"
    if set(found) != set(expected.uids):
        return f"C-FIND matches differ from series A ({len(set(found) - set(expected.uids))} odd)"
    return None


def _api_seconds(log: Path) -> float:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.startswith("{")]
    try:
        return float(json.loads(lines[-1])["seconds"])
    except (IndexError, ValueError, KeyError) as exc:
        raise Failed(f"no result line from the API client: {log_tail(log)}") from exc


def bench_qr(
    ctx: Context, workload: str, tool: QrTool, common: bool, run: int, setup: QrSetup
) -> Sample:
    variant = tool.key + (COMMON if common else "")
    sample = Sample(workload, variant, run, ok=False)
    tag = f"{workload}-{variant}-{run}"
    out = ctx.work / f"recv-{tag}"
    _clear(out)
    op = QR_OPS[workload]
    one, many, one_expected, expected = queries(workload, setup.corpus)
    n = len(expected.files)
    api = common or tool.scu is None
    client = api_client if api else tool.scu
    assert client is not None
    env = dict(os.environ) if api else tool.env
    port, dest_port = free_port(), free_port()
    # own SCU rows: an SCP/SCU pair may agree on another transfer syntax (pynetdicom's
    # picks Implicit VR LE); the common client proposes only Explicit VR LE for storage.
    transcoded: list[str] | None = None if common else []

    def run_once(query: Query, name: str, timeout: float) -> tuple[float, float]:
        log = ctx.log(f"scu-{tag}-{name}")
        result = run_client(client(query, port, out), env, log, timeout, cwd=out)
        if not result.ok:
            raise Failed(f"{query.op} client {result.describe()}")
        return (_api_seconds(log) if common else result.seconds), result.cpu

    try:
        with contextlib.ExitStack() as stack:
            dest = None
            if op == "move":  # the move destination: a dcmtk storescp, the same for all
                argv = [f"{setup.dcmtk_bin}/storescp", "+B", "-od", str(out), str(dest_port)]
                dest = stack.enter_context(
                    Scp(argv, setup.dest_env, dest_port, ctx.log(f"dest-{tag}"))
                )
            store = setup.stores[tool.key]  # a variant's is its base tool's
            scp = stack.enter_context(
                Scp(tool.scp(store, port, dest_port), tool.env, port, ctx.log(f"scp-{tag}"))
            )
            times: list[float] = []
            for k in range(T1_REPEATS):
                times.append(run_once(one, f"1-{k}", 120)[0])
                problem = _check(op, out, one_expected, 1, transcoded)
                _clear(out)
                if problem:
                    raise Failed(f"N=1: {problem}")
            t1 = T1(statistics.median(times), max(times) - min(times))
            assert scp.proc is not None
            watch = GroupWatch(scp.proc.pid)
            cpu_before = watch.cpu_seconds()
            timeout = (60 + n * 0.05) if op == "find" else (120 + n * 0.25)
            with watch:
                tn, scu_cpu = run_once(many, "n", timeout)
            scp_cpu = watch.cpu_seconds() - cpu_before
            if not scp.alive:
                raise Failed(f"SCP died: {log_tail(scp.log)}")
            if dest is not None and not dest.alive:
                raise Failed(f"move destination died: {log_tail(dest.log)}")
        problem = _check(op, out, expected, ctx.verify_samples, transcoded)
        if problem:
            raise Failed(problem)
    except (Failed, RuntimeError, OSError, ValueError) as exc:
        sample.error = str(exc)
        return _report(sample, "")
    finally:
        ctx.finish_run(out)
    sample.ok = True
    sample.values = {
        "t_1": t1.median,
        "t_1_spread": t1.spread,
        "t_n": tn,
        "n": n,
        "plain": n / tn,
        "steady": _steady(n, t1, tn),
        "scp_cpu": scp_cpu,
    }
    if not common:
        sample.values["scu_cpu"] = scu_cpu
    headline = f"{n / tn:8.1f} {UNITS[workload]}  t_1 {t1.median:.2f}s t_N {tn:.2f}s"
    if transcoded:
        name = UID(transcoded[0]).name
        sample.values["transcoded"] = 1.0
        headline += f" (arrived as {name})"
        note = (
            f"{workload} {tool.key} (own SCU): the instances arrived as {name}, not as stored"
            " (Explicit VR LE): the SCP transcoded them; samples compared as decoded elements"
        )
        if note not in setup.notes:
            setup.notes.append(note)
    if watch.peak is not None:
        sample.values["scp_hwm_mib"] = watch.peak
        headline += f" SCP HWM {watch.peak:.0f} MiB"
    return _report(sample, headline)


def qr_labels(tools: dict[str, QrTool]) -> dict[str, str]:
    """Row labels: own-SCU rows by tool (marking a stand-in client), common rows by SCP."""
    labels: dict[str, str] = {}
    for key, tool in tools.items():
        if tool.variant_of is None:
            labels[key] = key if tool.scu is not None else f"{key} ({tool.scu_label})"
        labels[key + COMMON] = tool.label
    return labels
