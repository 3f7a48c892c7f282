"""A C-FIND SCP that answers slowly (a match every 20 ms, up to 5,000), for the
C-CANCEL test: ``python _slow_find_scp.py PORT_FILE``. Prints how the handler ended."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

from pydicom.dataset import Dataset

from dimse.ae import AE
from dimse.evt import EVT_C_FIND, Event

STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"


async def on_find(event: Event) -> AsyncIterator[tuple[int, Any]]:
    sent = 0
    try:
        for number in range(5000):
            match = Dataset()
            match.QueryRetrieveLevel = "STUDY"
            match.StudyInstanceUID = f"1.2.3.{number}"
            yield 0xFF00, match
            sent += 1
            await asyncio.sleep(0.02)
    finally:
        print(f"handler closed after {sent} matches, cancelled={event.is_cancelled}", flush=True)


async def main(port_file: str) -> None:
    ae = AE("SLOWFIND")
    ae.add_supported_context(STUDY_ROOT_FIND)
    server = await ae.serve(("127.0.0.1", 0), evt_handlers=[(EVT_C_FIND, on_find)])
    temp = f"{port_file}.tmp"
    with open(temp, "w") as out:
        out.write(f"{server.port}\n")
    os.replace(temp, port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
