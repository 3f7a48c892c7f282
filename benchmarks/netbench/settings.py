"""Constants and workload sizes shared by the network benchmark's modules.

One place for the loopback address, the called AE title, units, thresholds and the
default (full and ``--quick``) sizes, so that no module imports another just for a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
CALLED_AET = "STORESCP"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
VERIFICATION = "1.2.840.10008.1.1"
MiB = 1 << 20
MB = 1_000_000

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "Q1", "Q2", "Q3")
QR_WORKLOADS = ("Q1", "Q2", "Q3")
BUSY_SHARE = 0.10  # other processes using more than this share of a CPU: warn
STEADY_MIN_DIFF = 0.02  # s; steady needs t_N - t_1 above this and 5x the t_1 spread
T1_REPEATS = 3  # t_1 is the median of this many N=1 client runs (process start jitters)


@dataclass(frozen=True)
class Sizes:
    w1: int = 2000
    w2: int = 20
    w3: int = 1000
    w4: int = 200
    q1: int = 1000  # C-FIND matches (Q1)
    q2: int = 2000  # instances retrieved by C-GET (Q2) and C-MOVE (Q3)


FULL = Sizes()
QUICK = Sizes(w1=200, w2=3, w3=200, w4=20, q1=200, q2=200)

# W1: 128 x 256 x 16 bit = 64 KiB of pixel data; W2: 5120 x 5120 x 16 bit = 50 MiB.
W1_SHAPE = (128, 256)
W2_SHAPE = (5120, 5120)
