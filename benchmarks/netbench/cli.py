"""Command line and driver: options, which workloads and tools run, and in what order.

``main`` parses the options, sets CPU placement and the work dir, runs the workloads
(rotating the tool order from run to run), prints the report, writes ``--json`` and
returns the exit status (1 if any run failed). ``benchmarks/network_bench.py`` calls it.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path

from . import __doc__ as OVERVIEW
from .data import ensure_corpus
from .procs import PLACEMENT, ForeignCpu, kill_all_started
from .qr_tools import QrTool, make_qr_tools
from .qr_workloads import bench_qr, prepare_qr, qr_labels
from .report import environment, print_report, summarize
from .settings import (
    BUSY_SHARE,
    FULL,
    QR_WORKLOADS,
    QUICK,
    ROOT,
    W1_SHAPE,
    W2_SHAPE,
    WORKLOADS,
    MiB,
    Sizes,
)
from .tools import API_LOOPS, Tool, dimse_command, find_dimse_apps, make_tools
from .workloads import (
    Context,
    bench_assoc_api,
    bench_assoc_shell,
    bench_echo,
    bench_raw_tcp,
    bench_store,
)


def rotated(items: Sequence[str], run: int) -> list[str]:
    k = run % len(items) if items else 0
    return [*items[k:], *items[:k]]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=OVERVIEW.split("\n\n")[0] if OVERVIEW else None)
    p.add_argument("--quick", action="store_true", help="small N for a smoke run")
    p.add_argument("--only", default="", help="comma list of W1..W5, Q1..Q3 (W5 runs W2)")
    p.add_argument("--runs", type=int, default=3, help="runs per tool (default 3)")
    p.add_argument("--json", type=Path, help="also save the results here")
    p.add_argument(
        "--tools", default="", help="comma list: dcmtk,pynetdicom,dimse,dimse-sync,dimse-fsync"
    )
    p.add_argument("--w1", type=int, help="override N for W1")
    p.add_argument("--w2", type=int, help="override N for W2")
    p.add_argument("--w3", type=int, help="override N for W3")
    p.add_argument("--w4", type=int, help="override N for W4")
    p.add_argument("--q1", type=int, help="override the number of C-FIND matches (Q1)")
    p.add_argument("--q2", type=int, help="override the instances retrieved by Q2 and Q3")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / "benchmarks" / ".data",
        help="cache of generated instances (default benchmarks/.data)",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where SCPs write and logs go (default: a new temp dir, removed)",
    )
    p.add_argument("--keep-logs", action="store_true", help="keep the work dir (logs)")
    p.add_argument("--dcmtk-bin", type=Path, default=Path("/usr/bin"))
    p.add_argument("--verify", type=int, default=5, help="instances compared byte for byte")
    p.add_argument(
        "--pin",
        choices=("none", "same", "split"),
        default="none",
        help="CPU placement: none (scheduler decides, default), same (server and client on"
        " one CPU), split (server on one CPU, client on another)",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="before each sample wait up to S s for other processes to use < 10%% of a CPU",
    )
    return p.parse_args(argv)


def compile_dimse() -> None:
    """Byte-compile dimse's modules, as installing a wheel does (pip compiles them).

    An editable install leaves that to the first import, and with
    PYTHONDONTWRITEBYTECODE set (as on this VM) every start of a dimse app would compile
    its ~40 modules from source again (~60 ms); pynetdicom and dcmtk come installed.
    """
    try:
        import dimse
    except ImportError:
        return
    for folder in dimse.__path__:
        compileall.compile_dir(folder, quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        w1=args.w1 or base.w1,
        w2=args.w2 or base.w2,
        w3=args.w3 or base.w3,
        w4=args.w4 or base.w4,
        q1=args.q1 or base.q1,
        q2=args.q2 or base.q2,
    )
    only = {w.strip().upper() for w in args.only.split(",") if w.strip()} or set(WORKLOADS)
    unknown = only - set(WORKLOADS)
    if unknown:
        raise SystemExit(f"unknown workload(s): {', '.join(sorted(unknown))}")
    if "W5" in only:
        only.add("W2")
    cpus = sorted(os.sched_getaffinity(0))
    if args.pin == "same":
        PLACEMENT.update(server={cpus[0]}, client={cpus[0]})
    elif args.pin == "split":
        if len(cpus) < 2:
            raise SystemExit("--pin split needs two CPUs")
        PLACEMENT.update(server={cpus[0]}, client={cpus[1]})
    compile_dimse()
    dimse_cmd, dimse_apps, why_not = find_dimse_apps()
    tools = make_tools(args.dcmtk_bin, dimse_cmd, dimse_apps)
    wanted = [t.strip() for t in args.tools.split(",") if t.strip()] or list(tools)
    bad_tools = set(wanted) - {"dcmtk", "pynetdicom", "dimse", "dimse-sync", "dimse-fsync"}
    if bad_tools:
        raise SystemExit(f"unknown tool(s): {', '.join(sorted(bad_tools))}")
    store_bench = bool(only - set(QR_WORKLOADS))  # any of W1..W5
    notes: list[str] = [
        f"{t.label}: {t.note}" for t in tools.values() if t.key in wanted and store_bench
    ]
    if args.pin != "none":
        notes.append(
            f"--pin {args.pin}: servers on CPU {sorted(PLACEMENT['server'] or [])}, "
            f"clients on CPU {sorted(PLACEMENT['client'] or [])}"
        )
    if why_not and store_bench:
        notes.append(f"dimse apps missing, their rows are skipped: {why_not}")
    store_keys = [k for k in tools if k in wanted and tools[k].has("storescp", "storescu")]
    echo_keys = [
        k
        for k in tools
        if k in wanted and k != "dimse-fsync" and tools[k].has("storescp", "echoscu")
    ]
    scp_keys = [k for k in tools if k in wanted and tools[k].has("storescp")]
    qr_tools: dict[str, QrTool] = {}
    if only & set(QR_WORKLOADS):
        qr_cmd = dimse_cmd or dimse_command()
        qr_tools, qr_notes = make_qr_tools(args.dcmtk_bin, qr_cmd, wanted)
        notes += qr_notes + [f"{t.label}: {t.note}" for t in qr_tools.values()]

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="dimse-netbench-"))
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(work, sizes, verify_samples=args.verify, wait_quiet=args.wait_quiet)
    meta: dict[str, object] = {
        **environment(args.dcmtk_bin, dimse_cmd),
        "runs": args.runs,
        "pin": args.pin,
        "sizes": asdict(sizes),
        "only": sorted(only),
        "quick": args.quick,
        "notes": notes,
        "qr_labels": qr_labels(qr_tools),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print(f"work dir {work}; data cache {args.data_dir}", file=sys.stderr)
    began = time.perf_counter()
    try:
        run_all(ctx, args, only, tools, store_keys, echo_keys, scp_keys, notes)
        run_qr(ctx, args, only, qr_tools, notes)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        kill_all_started()
        ctx.purge()
        if args.keep_logs or args.work_dir:
            print(f"logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    meta["seconds"] = round(time.perf_counter() - began, 1)
    meta["other_processes"] = ctx.load
    for workload, load in ctx.load.items():
        if not load or load["seconds"] <= 0:
            continue
        share = load["foreign_cpu"] / load["seconds"]
        busy = share > BUSY_SHARE
        notes.append(
            f"{workload}: other processes used ~{load['foreign_cpu']:.1f} CPU-s in "
            f"{load['seconds']:.0f} s ({share:.0%} of one CPU)"
            + ("  <-- BUSY MACHINE: these numbers are disturbed" if busy else "")
        )
    summary = summarize(ctx.samples)
    print_report(summary, meta)
    print(f"\n(total {meta['seconds']} s)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"meta": meta, "summary": summary, "samples": [asdict(s) for s in ctx.samples]},
                indent=2,
            )
        )
    failed = [s for s in ctx.samples if not s.ok]
    return 1 if failed else 0


def run_all(
    ctx: Context,
    args: argparse.Namespace,
    only: set[str],
    tools: dict[str, Tool],
    store_keys: list[str],
    echo_keys: list[str],
    scp_keys: list[str],
    notes: list[str],
) -> None:
    sizes = ctx.sizes
    runs = max(1, args.runs)
    data: Path = args.data_dir
    data.mkdir(parents=True, exist_ok=True)
    watch = ForeignCpu()

    def done(workload: str) -> None:
        nonlocal watch
        ctx.load[workload] = watch.stop()
        ctx.purge()  # each workload starts without the last one's files (see finish_run)
        watch = ForeignCpu()

    if "W1" in only:
        print("W1", file=sys.stderr)
        one = ensure_corpus(data, "w1", 1, W1_SHAPE)
        many = ensure_corpus(data, "w1", sizes.w1, W1_SHAPE)
        for run in range(runs):
            for key in rotated(store_keys, run):
                ctx.add(
                    partial(bench_store, ctx, "W1", tools[key], run, one, many, 60 + sizes.w1 * 0.5)
                )
        done("W1")
    if "W2" in only:
        print("W2 / W5", file=sys.stderr)
        need = sizes.w2 * 50 * MiB
        have_cache = shutil.disk_usage(data).free
        have_work = shutil.disk_usage(ctx.work).free
        cached = (data / f"w2-n{sizes.w2}-{W2_SHAPE[0]}x{W2_SHAPE[1]}.json").exists()
        if (not cached and have_cache < need * 2 + (1 << 30)) or have_work < need * 2 + (1 << 30):
            notes.append(
                f"W2 skipped: needs ~{need * 2 / 2**30:.1f} GiB free "
                f"(cache {have_cache / 2**30:.1f}, work {have_work / 2**30:.1f} GiB)"
            )
        else:
            one = ensure_corpus(data, "w2", 1, W2_SHAPE)
            many = ensure_corpus(data, "w2", sizes.w2, W2_SHAPE)
            for run in range(runs):
                for key in rotated(store_keys, run):
                    ctx.add(
                        partial(
                            bench_store, ctx, "W2", tools[key], run, one, many, 120 + sizes.w2 * 20
                        )
                    )
                ctx.add(partial(bench_raw_tcp, many.total_bytes, run))
            done("W2")
    if "W3" in only:
        print("W3", file=sys.stderr)
        for run in range(runs):
            for key in rotated(echo_keys, run):
                ctx.add(partial(bench_echo, ctx, tools[key], run))
        done("W3")
    if "W4" in only:
        print("W4", file=sys.stderr)
        apis = [a for a in API_LOOPS if a.scp_tool in scp_keys]
        one_echo = [k for k in echo_keys if k != "dimse-sync"]  # no window with one echo
        for run in range(runs):
            for key in rotated(one_echo, run):
                ctx.add(partial(bench_assoc_shell, ctx, tools[key], run))
            for api_key in rotated([a.key for a in apis], run):
                api = next(a for a in apis if a.key == api_key)
                ctx.add(partial(bench_assoc_api, ctx, api, tools[api.scp_tool], run))
        done("W4")


def run_qr(
    ctx: Context,
    args: argparse.Namespace,
    only: set[str],
    tools: dict[str, QrTool],
    notes: list[str],
) -> None:
    """Q1-Q3: load the study into each Q/R SCP once (not timed), then alternate the tools
    run by run, each SCP with its own tool's SCU and then with the common client."""
    workloads = [w for w in QR_WORKLOADS if w in only]
    if not workloads or not tools:
        return
    print("Q1-Q3: loading the study into each Q/R SCP", file=sys.stderr)
    setup = prepare_qr(ctx, args.data_dir, tools, args.dcmtk_bin, notes)
    if setup is None:
        return
    keys = [k for k in tools if k in setup.stores]
    for workload in workloads:
        print(workload, file=sys.stderr)
        watch = ForeignCpu()
        for run in range(max(1, args.runs)):
            for common in (False, True):
                for key in rotated(keys, run):
                    tool = tools[key]
                    if workload in tool.skip or not (common or tool.variant_of is None):
                        continue
                    ctx.add(partial(bench_qr, ctx, workload, tool, common, run, setup))
        ctx.load[workload] = watch.stop()


if __name__ == "__main__":
    sys.exit(main())
