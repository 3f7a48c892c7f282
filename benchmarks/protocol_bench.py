"""Micro-benchmarks of the sans-I/O message path (not a test; numbers vary by machine).

* the C-STORE-RQ command set: encode + decode, raw codec and typed messages (µs/op);
* fragment + reassemble a 64 KiB and a 50 MiB data set at max PDU 16 KiB and 1 MiB
  (MB/s): sending alone (zero-copy buffer lists, or joined PDU bytes) and the whole
  round trip through parse_p_data_tf and MessageAssembler, buffered or streamed.

Each figure is the median of several runs. ``--json`` prints the results as JSON.
Runs in well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "generated")]

from dimse import command_set as cs  # noqa: E402
from dimse.messages import CStoreRQ, Priority, decode_message  # noqa: E402
from dimse.pdv import (  # noqa: E402
    MessageAssembler,
    MessageComplete,
    fragment,
    fragment_buffers,
    parse_p_data_tf,
)

MiB = 1 << 20
REQUEST = CStoreRQ(
    message_id=4711,
    affected_sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
    affected_sop_instance_uid="1.2.826.0.1.3680043.8.498.10034455620126730434587346501287",
    priority=Priority.MEDIUM,
    move_originator_application_entity_title="MOVESCU",
    move_originator_message_id=17,
)
COMMAND = REQUEST.to_command()


def median_time(func: Callable[[], object], runs: int, number: int = 1) -> float:
    """Median seconds per call of ``func`` over ``runs`` batches of ``number`` calls."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(number):
            func()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def bench_command(runs: int) -> list[dict[str, object]]:
    elements = REQUEST.command_set()
    encoded = cs.encode(elements)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("command_set.encode", lambda: cs.encode(elements)),
        ("command_set.decode", lambda: cs.decode(encoded)),
        ("command_set encode+decode", lambda: cs.decode(cs.encode(elements))),
        ("CStoreRQ.to_command", REQUEST.to_command),
        ("decode_message", lambda: decode_message(COMMAND)),
        ("message encode+decode", lambda: decode_message(REQUEST.to_command())),
    ]
    rows: list[dict[str, object]] = []
    for name, func in cases:
        seconds = median_time(func, runs, number=20_000)
        rows.append({"case": name, "us_per_op": seconds * 1e6, "ops_per_s": 1 / seconds})
    return rows


def _send_buffers(dataset: bytes, max_pdu: int) -> None:
    for parts in fragment_buffers(1, COMMAND, dataset, max_pdu):
        for _ in parts:  # a writelines() would hand these to the kernel as they are
            pass


def _send_bytes(dataset: bytes, max_pdu: int) -> None:
    for _ in fragment(1, COMMAND, dataset, max_pdu):
        pass


def _round_trip(dataset: bytes, max_pdu: int, streamed: bool) -> None:
    class NullSink:
        size = 0

        def write(self, data: bytes | memoryview) -> None:
            self.size += len(data)

        def close(self) -> int:
            return self.size

        def discard(self) -> None:
            pass

    assembler = MessageAssembler((lambda m, c: NullSink()) if streamed else None)
    events = []
    for pdu in fragment(1, COMMAND, dataset, max_pdu):
        events.extend(assembler.feed(parse_p_data_tf(pdu)))
    done = events[-1]
    assert isinstance(done, MessageComplete)
    assert (done.sink_result if streamed else len(done.dataset or b"")) == len(dataset)


def bench_fragment(runs: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for size_name, size in (("64 KiB", 64 * 1024), ("50 MiB", 50 * MiB)):
        dataset = os.urandom(size)
        batch = max(1, (8 * MiB) // size)  # enough calls per sample for small sets
        for max_pdu in (16 * 1024, MiB):
            cases: list[tuple[str, Callable[[], object]]] = [
                ("send: fragment_buffers", lambda d=dataset, m=max_pdu: _send_buffers(d, m)),
                ("send: fragment (bytes)", lambda d=dataset, m=max_pdu: _send_bytes(d, m)),
                (
                    "fragment+reassemble (whole)",
                    lambda d=dataset, m=max_pdu: _round_trip(d, m, streamed=False),
                ),
                (
                    "fragment+reassemble (sink)",
                    lambda d=dataset, m=max_pdu: _round_trip(d, m, streamed=True),
                ),
            ]
            for name, func in cases:
                seconds = median_time(func, runs, number=batch)
                rows.append(
                    {
                        "case": name,
                        "dataset": size_name,
                        "max_pdu": max_pdu,
                        "ms": seconds * 1e3,
                        "MB_per_s": size / seconds / 1e6,
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--runs", type=int, default=5, help="samples per figure (median)")
    args = parser.parse_args()
    started = time.perf_counter()
    results = {
        "python": sys.version.split()[0],
        "command": bench_command(args.runs),
        "fragment": bench_fragment(args.runs),
    }
    results["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"Python {results['python']}, median of {args.runs} runs\n")
    print(f"{'C-STORE-RQ command set':<30} {'µs/op':>8} {'ops/s':>12}")
    for row in results["command"]:  # type: ignore[union-attr]
        print(f"{row['case']:<30} {row['us_per_op']:>8.2f} {row['ops_per_s']:>12,.0f}")
    print(f"\n{'fragment / reassemble':<30} {'data set':>8} {'max PDU':>9} {'ms':>9} {'MB/s':>8}")
    for row in results["fragment"]:  # type: ignore[union-attr]
        print(
            f"{row['case']:<30} {row['dataset']:>8} {row['max_pdu']:>9} "
            f"{row['ms']:>9.3f} {row['MB_per_s']:>8.0f}"
        )
    print(f"\n({results['seconds']} s)")


if __name__ == "__main__":
    main()
