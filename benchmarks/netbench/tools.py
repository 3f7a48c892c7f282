"""The programs under test: each tool's command lines and settings.

dcmtk, pynetdicom and dimse (without and with fsync) as ``Tool`` records -- storescp,
storescu and echoscu argv, environment, and the note printed under the tables -- and
the per-library in-process association loops of W4b (``API_LOOPS``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .settings import CALLED_AET, HOST


@dataclass(frozen=True)
class Tool:
    key: str
    label: str
    family: str  # "dcmtk" | "pynetdicom" | "dimse": the baseline rows are the families
    scp: Callable[[int, Path], list[str]]
    storescu: Callable[[int, Path], list[str]]
    echoscu: Callable[[int, int], list[str]]
    env: dict[str, str]
    note: str
    apps: frozenset[str] = frozenset({"storescp", "storescu", "echoscu"})

    def has(self, *apps: str) -> bool:
        return set(apps) <= self.apps


def make_tools(
    dcmtk_bin: Path, dimse_cmd: list[str] | None, dimse_apps: frozenset[str]
) -> dict[str, Tool]:
    python = sys.executable
    base_env = dict(os.environ)
    base_env.pop("TCP_NODELAY", None)
    dcmtk_env = {**base_env, "TCP_NODELAY": "1"}
    bin_ = str(dcmtk_bin)

    tools = {
        "dcmtk": Tool(
            "dcmtk",
            "dcmtk",
            "dcmtk",
            # +B: bit-preserving, the received stream goes to the file as is (no parse
            # and re-encode, no whole data set in memory) -- the like-for-like mode.
            lambda port, od: [f"{bin_}/storescp", "+B", "-od", str(od), str(port)],
            lambda port, path: [
                f"{bin_}/storescu",
                "-aec",
                CALLED_AET,
                "+sd",
                HOST,
                str(port),
                str(path),
            ],
            lambda port, n: [
                f"{bin_}/echoscu",
                "-aec",
                CALLED_AET,
                "--repeat",
                str(n),
                HOST,
                str(port),
            ],
            dcmtk_env,
            "TCP_NODELAY=1; storescp +B (bit-preserving); max PDU 16384 (default)",
        ),
        "pynetdicom": Tool(
            "pynetdicom",
            "pynetdicom",
            "pynetdicom",
            lambda port, od: [python, "-m", "pynetdicom", "storescp", str(port), "-od", str(od)],
            _storescu([python, "-m", "pynetdicom"], ["-xe"]),
            _echoscu([python, "-m", "pynetdicom"], []),
            base_env,
            "apps as shipped (python -m pynetdicom), storescu with -xe (it would otherwise"
            " propose Implicit VR LE first and re-encode every file); max PDU 16382 (default)",
        ),
    }
    if dimse_cmd is not None:
        dimse = list(dimse_cmd)
        sync = ["--operations-window", "1"]
        for key, label, scp_extra, scu_extra, note in (
            (
                "dimse",
                "dimse",
                ["--no-fsync"],
                [],
                "--no-fsync (like dcmtk/pynetdicom); storescu/echoscu and storescp agree on"
                " an asynchronous operations window (8 outstanding requests)",
            ),
            (
                "dimse-sync",
                "dimse (window 1)",
                ["--no-fsync"],
                sync,
                "--no-fsync, clients with --operations-window 1: one request at a time,"
                " as dcmtk and pynetdicom",
            ),
            ("dimse-fsync", "dimse (fsync)", [], [], "fsync of every file (dimse default)"),
        ):
            tools[key] = Tool(
                key,
                label,
                "dimse",
                _dimse_scp(dimse, scp_extra),
                _storescu(dimse, scu_extra),
                _echoscu(dimse, scu_extra),
                base_env,
                note,
                dimse_apps,
            )
    return tools


def _dimse_scp(dimse: list[str], extra: list[str]) -> Callable[[int, Path], list[str]]:
    return lambda port, od: [*dimse, "storescp", str(port), "-od", str(od), *extra]


def _storescu(command: list[str], extra: list[str]) -> Callable[[int, Path], list[str]]:
    """pynetdicom's and dimse's storescu take the same arguments."""
    return lambda port, path: [
        *command,
        "storescu",
        HOST,
        str(port),
        str(path),
        "-r",
        "-aec",
        CALLED_AET,
        *extra,
    ]


def _echoscu(command: list[str], extra: list[str]) -> Callable[[int, int], list[str]]:
    return lambda port, n: [
        *command,
        "echoscu",
        HOST,
        str(port),
        "-aec",
        CALLED_AET,
        "--repeat",
        str(n),
        *extra,
    ]


def probe_apps(cmd: list[str], apps: tuple[str, ...]) -> tuple[set[str], list[str]]:
    """Which of dimse's ``apps`` answer ``--help`` with a usage text, and why the others don't."""
    found: set[str] = set()
    missing: list[str] = []
    for app in apps:
        try:
            done = subprocess.run(
                [*cmd, app, "--help"], capture_output=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            missing.append(f"{app}: {exc}")
            continue
        text = (done.stdout + done.stderr).decode(errors="replace").strip()
        if done.returncode == 0 and "usage" in text.lower():
            found.add(app)
        else:
            last = text.splitlines()[-1] if text else f"exit status {done.returncode}"
            missing.append(f"{app}: {last}")
    return found, missing


def dimse_command() -> list[str]:
    """The dimse console script next to this interpreter, else ``python -m dimse``."""
    script = Path(sys.executable).parent / "dimse"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dimse"]


def find_dimse_apps() -> tuple[list[str] | None, frozenset[str], str]:
    """The dimse console script next to this interpreter and which of its apps work."""
    cmd = dimse_command()
    found, missing = probe_apps(cmd, ("storescp", "storescu", "echoscu"))
    if "storescp" not in found:
        return None, frozenset(), "; ".join(missing)
    return cmd, frozenset(found), "; ".join(missing)


# In-process association loops (W4b). Each runs in a fresh interpreter; the timed part
# excludes imports and one warm-up association. argv: host port n; prints JSON.
API_PYNETDICOM = """
import json, sys, time
from pynetdicom import AE
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ae = AE(ae_title="NETBENCH")
ae.add_requested_context("1.2.840.10008.1.1")
def once():
    assoc = ae.associate(host, port, ae_title="STORESCP")
    if not assoc.is_established:
        raise SystemExit("association not established")
    status = assoc.send_c_echo()
    if not status or status.Status != 0:
        raise SystemExit(f"C-ECHO failed: {status}")
    assoc.release()
once()
start = time.perf_counter()
for _ in range(n):
    once()
print(json.dumps({"seconds": time.perf_counter() - start, "n": n}))
"""

API_DIMSE_ASYNC = """
import asyncio, json, sys, time
from dimse.ae import AE
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
async def main():
    ae = AE("NETBENCH")
    ae.add_requested_context("1.2.840.10008.1.1")
    async def once():
        assoc = await ae.associate_async(host, port, "STORESCP")
        rsp = await assoc.send_c_echo()
        if rsp.status != 0:
            raise SystemExit(f"C-ECHO failed: {rsp}")
        await assoc.release()
    await once()
    start = time.perf_counter()
    for _ in range(n):
        await once()
    return time.perf_counter() - start
print(json.dumps({"seconds": asyncio.run(main()), "n": n}))
"""

API_DIMSE_BLOCKING = """
import json, sys, time
from dimse.ae import AE
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ae = AE("NETBENCH")
ae.add_requested_context("1.2.840.10008.1.1")
def once():
    assoc = ae.associate(host, port, "STORESCP")
    if not assoc.is_established:
        raise SystemExit(f"association not established: {assoc.error}")
    rsp = assoc.send_c_echo()
    if rsp.status != 0:
        raise SystemExit(f"C-ECHO failed: {rsp}")
    assoc.release()
once()
start = time.perf_counter()
for _ in range(n):
    once()
print(json.dumps({"seconds": time.perf_counter() - start, "n": n}))
"""


@dataclass(frozen=True)
class ApiLoop:
    key: str
    label: str
    family: str
    scp_tool: str  # which Tool's storescp answers
    code: str


API_LOOPS = (
    ApiLoop("pynetdicom-api", "pynetdicom API", "pynetdicom", "pynetdicom", API_PYNETDICOM),
    ApiLoop("dimse-api-async", "dimse API (asyncio)", "dimse", "dimse", API_DIMSE_ASYNC),
    ApiLoop("dimse-api-blocking", "dimse API (blocking)", "dimse", "dimse", API_DIMSE_BLOCKING),
)
