"""Time a full regeneration and `import dimse.sop_classes` (figures for the README).

Medians of several runs in fresh interpreters, so imports are cold each time.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7


def _median_seconds(code: str) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    baseline = _median_seconds("pass")
    regen = _median_seconds(
        "from pathlib import Path; from codegen.pipeline import produce; produce(Path('.'))"
    )
    imp = _median_seconds("import dimse.sop_classes")
    imp_all = _median_seconds("import dimse.service_classes")
    print(f"python startup             {baseline * 1000:7.1f} ms (median of {RUNS})")
    print(f"full regeneration (memory) {(regen - baseline) * 1000:7.1f} ms above startup")
    print(f"import dimse.sop_classes   {(imp - baseline) * 1000:7.1f} ms above startup")
    print(f"import dimse.service_classes {(imp_all - baseline) * 1000:5.1f} ms above startup")


if __name__ == "__main__":
    main()
