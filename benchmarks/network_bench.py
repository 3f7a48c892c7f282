"""Network benchmark: dimse vs pynetdicom vs dcmtk over loopback (not a test).

The entry point (``python benchmarks/network_bench.py [options]``, run by ``nox -s bench``);
the code is the package ``benchmarks/netbench/``, whose docstring gives the overview.
See benchmarks/README.md for the method and how to read the output.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, sys.path[0] is benchmarks/ itself; add the repository root so the
# package is imported under the name mypy checks it by (benchmarks.netbench).
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.append(ROOT)

from benchmarks.netbench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
