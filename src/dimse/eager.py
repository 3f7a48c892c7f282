"""Start a coroutine at once, in the caller's stack; continue in a task only if it waits."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


def start_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Future[None] | None:
    """Run ``coro`` until it first suspends. None if it finished; else the task that
    carries on (a request answered by a plain function costs no task and no loop turn)."""
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    except BaseException:
        coro.close()
        raise
    return asyncio.ensure_future(_carry_on(coro, yielded))


async def _carry_on(coro: Coroutine[Any, Any, None], yielded: Any) -> None:
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                yielded._asyncio_future_blocking = False
                await asyncio.wait([yielded])
        except asyncio.CancelledError as exc:
            try:
                yielded = coro.throw(exc)
            except StopIteration:
                return
            continue
        try:
            yielded = coro.send(None)
        except StopIteration:
            return
