"""Real peers for the interop tests: dcmtk tools as subprocesses, bounded in time.

dcmtk is called by absolute path with TCP_NODELAY=1 in its environment; servers get a
free port (bind to port 0, then hand it over, retrying if another process took it) and
are waited for through /proc/net/tcp, so no probe connection disturbs them. Only the
processes started here are ever killed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

DCMTK = Path("/usr/bin")
TOOL_TIMEOUT = 60.0

requires_dcmtk = pytest.mark.skipif(
    not all((DCMTK / tool).exists() for tool in ("echoscu", "storescu", "storescp")),
    reason="dcmtk (echoscu, storescu, storescp) is not installed in /usr/bin",
)


def tool_env() -> dict[str, str]:
    return {**os.environ, "TCP_NODELAY": "1"}


def tool(name: str) -> str:
    return str(DCMTK / name)


async def run_tool(name: str, *args: str, timeout: float = TOOL_TIMEOUT) -> tuple[int, str]:
    """Run a dcmtk tool to completion; (exit code, stdout and stderr)."""
    proc = await asyncio.create_subprocess_exec(
        tool(name),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=tool_env(),
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", "replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    """True if some socket listens on ``port`` (read from /proc/net/tcp and tcp6)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


class DcmtkServer:
    """A dcmtk SCP (storescp...) on a free port; ``stop()`` ends it (and only it)."""

    def __init__(self, name: str, args: list[str], log: Path) -> None:
        self.port = 0
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        for _ in range(5):
            port = free_port()
            with open(log, "ab") as sink:
                proc = subprocess.Popen(
                    [tool(name), *args, str(port)],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    env=tool_env(),
                )
            deadline = time.monotonic() + 15
            while proc.poll() is None and not listening(port):
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait(timeout=10)
                    raise AssertionError(f"{name} did not listen on {port}: {self.output()}")
                time.sleep(0.02)
            if proc.poll() is None:
                self.port, self.proc = port, proc
                return
            proc.wait(timeout=10)  # lost the port to another process: try another
        raise AssertionError(f"{name} could not listen: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> DcmtkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def received_file(folder: Path, sop_instance_uid: str) -> Path:
    """The file storescp wrote for an instance (named '<modality>.<SOP Instance UID>')."""
    found = [p for p in folder.iterdir() if p.name.endswith("." + sop_instance_uid)]
    assert len(found) == 1, f"{sop_instance_uid}: {sorted(p.name for p in folder.iterdir())}"
    return found[0]
