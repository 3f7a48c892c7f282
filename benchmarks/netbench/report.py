"""Summary and output: medians per workload and row, the tables, the run's metadata.

``summarize`` turns the samples into per-row figures (also saved by ``--json``),
``print_report`` prints the tables with their ratios and notes, and ``environment``
records the host and the tool versions.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .settings import BUSY_SHARE
from .tools import API_LOOPS
from .workloads import Sample


def _median(samples: list[Sample], key: str) -> float | None:
    values = [s.values[key] for s in samples if s.ok and key in s.values]
    values = [v for v in values if v == v]  # drop NaN
    return statistics.median(values) if values else None


def summarize(samples: list[Sample]) -> dict[str, dict[str, dict[str, object]]]:
    out: dict[str, dict[str, dict[str, object]]] = {}
    keys = (
        "plain",
        "steady",
        "t_1",
        "t_n",
        "scp_hwm_mib",
        "wall",
        "scu_cpu",
        "scp_cpu",
        "foreign_cpu_share",
    )
    for s in samples:
        out.setdefault(s.workload, {}).setdefault(s.variant, {})
    for workload, variants in out.items():
        for variant in variants:
            mine = [s for s in samples if s.workload == workload and s.variant == variant]
            entry: dict[str, object] = {
                "runs": len(mine),
                "ok": sum(s.ok for s in mine),
                "errors": [s.error for s in mine if not s.ok],
            }
            for key in keys:
                value = _median(mine, key)
                if value is not None:
                    entry[key] = value
            for key in ("plain", "steady"):
                # best and worst run: on a noisy host the best run is the least disturbed
                values = [s.values[key] for s in mine if s.ok and key in s.values]
                values = [v for v in values if v == v]
                if values:
                    entry[f"{key}_min"], entry[f"{key}_max"] = min(values), max(values)
            variants[variant] = entry
    return out


def _fmt(value: object, digits: int = 1) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    if value != value:
        return "nan"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def _ratio(a: object, b: object) -> str:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not b:
        return "-"
    return f"{a / b:.2f}x"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    digits: int = 1


def print_table(
    title: str,
    unit: str,
    rows: list[tuple[str, str]],  # (variant key, label)
    entries: dict[str, dict[str, object]],
    columns: list[Column],
    ratio_keys: list[str],
    baselines: dict[str, str],  # family label -> variant key
    dimse_rows: list[str],
) -> None:
    print(f"\n{title}\n  [{unit}]")
    widths = [24, *[max(11, len(c.title) + 2) for c in columns], 10]
    header = "  " + "tool".ljust(widths[0])
    header += "".join(c.title.rjust(w) for c, w in zip(columns, widths[1:], strict=False))
    header += "runs ok".rjust(widths[-1])
    print(header)
    for key, label in rows:
        entry = entries.get(key)
        if entry is None:
            continue
        ok, runs = int(str(entry.get("ok", 0))), int(str(entry.get("runs", 0)))
        line = "  " + label.ljust(widths[0])
        if not ok:
            line += "FAILED".rjust(widths[1]) + "".ljust(sum(widths[2:-1]))
        else:
            line += "".join(
                _fmt(entry.get(c.key), c.digits).rjust(w)
                for c, w in zip(columns, widths[1:], strict=False)
            )
        line += f"{ok}/{runs}".rjust(widths[-1])
        if ok != runs:
            line += f"  FAILED {runs - ok}"
        share = entry.get("foreign_cpu_share")
        if isinstance(share, float) and share > BUSY_SHARE:
            line += f"  busy: others used {share:.0%} of a CPU"
        print(line)
    for dimse_key in dimse_rows:
        mine = entries.get(dimse_key)
        if not mine or not mine.get("ok"):
            continue
        dlabel = dict(rows).get(dimse_key, dimse_key)
        for base_label, base_key in baselines.items():
            base = entries.get(base_key)
            if not base or not base.get("ok"):
                continue
            titles = {c.key: c.title for c in columns}
            parts = [f"{titles.get(k, k)} {_ratio(mine.get(k), base.get(k))}" for k in ratio_keys]
            print(f"  ratio {dlabel} / {base_label}:".ljust(50) + "   ".join(parts))
    labels = dict(rows)
    for key, _label in rows:
        errors = entries[key].get("errors") if key in entries else None
        if isinstance(errors, list):
            for error in errors:
                lines = str(error).strip().splitlines() or ["?"]
                text = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1].strip()}"
                print(f"  FAILED {labels[key]}: {text[:160]}")


def print_report(summary: dict[str, dict[str, dict[str, object]]], meta: dict[str, object]) -> None:
    store_rows = [
        ("dcmtk", "dcmtk"),
        ("pynetdicom", "pynetdicom"),
        ("dimse", "dimse (no fsync)"),
        ("dimse-sync", "dimse (window 1)"),
        ("dimse-fsync", "dimse (fsync)"),
    ]
    echo_rows = [
        ("dcmtk", "dcmtk"),
        ("pynetdicom", "pynetdicom"),
        ("dimse", "dimse"),
        ("dimse-sync", "dimse (window 1)"),
    ]
    base = {"dcmtk": "dcmtk", "pynetdicom": "pynetdicom"}
    store_variants = [key for key, _ in store_rows if key.startswith("dimse")]
    sizes = meta["sizes"]
    assert isinstance(sizes, dict)
    print("\n" + "=" * 100)
    print(
        "Network benchmark (loopback 127.0.0.1), medians of "
        f"{meta['runs']} alternating runs, CPU placement: {meta.get('pin', 'none')}"
    )
    for key in ("host", "python", "dcmtk", "pynetdicom", "pydicom", "dimse"):
        print(f"  {key}: {meta.get(key)}")
    print(
        "  plain = N / t_N (process start, imports, association included); "
        "steady = (N-1) / (t_N - t_1)"
    )
    print(
        "  steady '-': t_N - t_1 not above max(20 ms, 5x the spread of the 3 t_1 runs), i.e."
        " lost in start-up jitter; raise N"
    )
    print(
        "  ratios: dimse value / other value (rates: >1 means dimse is faster; "
        "RSS: >1 means dimse uses more)"
    )
    if "W1" in summary:
        print_table(
            f"W1: {sizes['w1']} instances of ~64 KiB (CT 128x256x16 bit), one association",
            "instances/s, higher is better; t in s; SCP peak RSS in MiB",
            store_rows,
            summary["W1"],
            [
                Column("plain", "plain"),
                Column("steady", "steady"),
                Column("steady_max", "best steady"),
                Column("t_1", "t_1 s", 2),
                Column("t_n", "t_N s", 2),
                Column("scu_cpu", "SCU cpu s", 2),
                Column("scp_cpu", "SCP cpu s", 2),
                Column("scp_hwm_mib", "SCP MiB", 0),
            ],
            ["plain", "steady", "steady_max"],
            base,
            store_variants,
        )
    if "W2" in summary:
        entries = summary["W2"]
        print_table(
            f"W2: {sizes['w2']} instances of 50 MiB (CT 5120x5120x16 bit), one association",
            "MB/s (10^6 bytes of file per second), higher is better",
            [*store_rows, ("raw-tcp", "raw TCP ceiling")],
            entries,
            [
                Column("plain", "plain"),
                Column("steady", "steady"),
                Column("plain_min", "min"),
                Column("plain_max", "max"),
                Column("t_1", "t_1 s", 2),
                Column("t_n", "t_N s", 2),
                Column("scu_cpu", "SCU cpu s", 2),
                Column("scp_cpu", "SCP cpu s", 2),
            ],
            ["plain", "steady"],
            base,
            store_variants,
        )
    if "W2" in summary:
        print_table(
            "W5: peak RSS of the SCP process during W2 (VmHWM from /proc/<pid>/status)",
            "MiB, lower is better",
            store_rows,
            summary["W2"],
            [Column("scp_hwm_mib", "VmHWM MiB", 0)],
            ["scp_hwm_mib"],
            base,
            store_variants,
        )
    if "W3" in summary:
        print_table(
            f"W3: {sizes['w3']} C-ECHO on one association (echoscu --repeat N -> storescp)",
            "echoes/s, higher is better",
            echo_rows,
            summary["W3"],
            [
                Column("plain", "plain"),
                Column("steady", "steady"),
                Column("steady_max", "best steady"),
                Column("t_1", "t_1 s", 2),
                Column("t_n", "t_N s", 2),
            ],
            ["plain", "steady", "steady_max"],
            base,
            ["dimse", "dimse-sync"],
        )
    if "W4" in summary:
        n = sizes["w4"]
        print_table(
            f"W4a: {n} associations of one C-ECHO, shell loop of {n} `echoscu` processes",
            "associations/s incl. process start and imports, higher is better; t in s",
            echo_rows,
            summary["W4"],
            [Column("plain", "assoc/s"), Column("t_n", "t s", 2)],
            ["plain"],
            base,
            ["dimse"],
        )
        print_table(
            f"W4b: {n} associations of one C-ECHO, in-process loop over the library API "
            "(after 1 warm-up)",
            "associations/s, higher is better; t in s (the loop only)",
            [(a.key, a.label) for a in API_LOOPS],
            summary["W4"],
            [Column("plain", "assoc/s"), Column("t_n", "t s", 2)],
            ["plain"],
            {"pynetdicom API": "pynetdicom-api"},
            ["dimse-api-async", "dimse-api-blocking"],
        )
    _print_qr(summary, meta)
    notes = meta.get("notes")
    if isinstance(notes, list) and notes:
        print("\nNotes:")
        for note in notes:
            print(f"  - {note}")


_QR_TITLES = {
    "Q1": ("C-FIND, Study Root, IMAGE level under one series: {q1} matches", "matches/s"),
    "Q2": ("C-GET of one series, {q2} instances of ~16.5 KiB, one request", "instances/s"),
    "Q3": (
        "C-MOVE of one series, {q2} instances of ~16.5 KiB, to a dcmtk storescp +B",
        "instances/s",
    ),
}


def _print_qr(summary: dict[str, dict[str, dict[str, object]]], meta: dict[str, object]) -> None:
    """Q1-Q3, each twice: every tool's own SCU against its own SCP, then one client."""
    sizes, labels = meta["sizes"], meta.get("qr_labels")
    assert isinstance(sizes, dict) and isinstance(labels, dict)
    keys = ["dcmtk", "pynetdicom", "dimse"]
    columns = [
        Column("plain", "plain"),
        Column("steady", "steady"),
        Column("steady_max", "best steady"),
        Column("t_1", "t_1 s", 2),
        Column("t_n", "t_N s", 2),
        Column("scu_cpu", "SCU cpu s", 2),
        Column("scp_cpu", "SCP cpu s", 2),
        Column("scp_hwm_mib", "SCP MiB", 0),
    ]
    total = sizes["q1"] + sizes["q2"]
    for workload, (what, unit) in _QR_TITLES.items():
        if workload not in summary:
            continue
        title = f"{workload}: {what.format(**sizes)} ({total} instances in each SCP)"
        own = [(k, str(labels.get(k, k))) for k in keys]
        print_table(
            f"{title}\n  {workload}a: each tool's own SCU -> its own Q/R SCP (wall time of the"
            " SCU process, start-up included)",
            f"{unit}, higher is better; t in s; SCP peak RSS in MiB",
            own,
            summary[workload],
            columns,
            ["plain", "steady", "steady_max", "scp_hwm_mib"],
            {"dcmtk": "dcmtk", "pynetdicom": "pynetdicom"},
            ["dimse"],
        )
        common = [
            (k + "@api", str(labels.get(k + "@api", k)))
            for k in ["dcmtk", "pynetdicom", "pynetdicom-nodelay", "dimse"]
        ]
        print_table(
            f"{workload}b: one client for every SCP, dimse's asyncio API in-process (associate"
            " .. release, imports excluded); only the SCP differs",
            f"{unit}, higher is better; t in s; SCP peak RSS in MiB",
            common,
            summary[workload],
            [c for c in columns if c.key != "scu_cpu"],
            ["plain", "steady", "steady_max", "scp_cpu", "scp_hwm_mib"],
            {
                "dcmqrscp": "dcmtk@api",
                "pynetdicom qrscp": "pynetdicom@api",
                "pynetdicom +TCP_NODELAY": "pynetdicom-nodelay@api",
            },
            ["dimse@api"],
        )


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout + done.stderr).decode(errors="replace").strip()
    return text.splitlines()[0] if text else "?"


def environment(dcmtk_bin: Path, dimse_cmd: list[str] | None) -> dict[str, object]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    py = sys.executable
    return {
        "host": f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs",
        "python": f"{platform.python_version()} ({py})",
        "dcmtk": _version([str(dcmtk_bin / "storescp"), "--version"]),
        "pynetdicom": _version([py, "-c", "import pynetdicom; print(pynetdicom.__version__)"]),
        "pydicom": _version([py, "-c", "import pydicom; print(pydicom.__version__)"]),
        "dimse": _version([py, "-c", "import dimse; print(dimse.__version__)"])
        + ("" if dimse_cmd else " (apps not available: dimse rows skipped)"),
    }
