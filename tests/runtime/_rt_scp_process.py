"""A Storage SCP in its own process (for measuring its memory): prints its port, stores
to the directory given as argv[1], and exits when its standard input closes."""

from __future__ import annotations

import asyncio
import sys

from dimse.ae import AE, StoreToDirectory


async def main(directory: str) -> None:
    ae = AE("BIG-SCP")
    ae.add_supported_context("1.2.840.10008.1.1")
    ae.add_supported_storage()
    ae.store_sink = StoreToDirectory(directory, fsync=False)
    server = await ae.serve(("127.0.0.1", 0))
    print(server.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
