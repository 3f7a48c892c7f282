"""Interop tests share the runtime tests' helpers (datasets, servers, bounded waits)."""

from __future__ import annotations

import sys
from pathlib import Path

_RUNTIME = str(Path(__file__).resolve().parents[1] / "runtime")
if _RUNTIME not in sys.path:
    sys.path.insert(0, _RUNTIME)
