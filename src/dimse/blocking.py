"""The blocking facade: the asyncio runtime on a background thread, for scripts.

One event loop per process runs in a daemon thread; blocking calls submit coroutines
to it and wait for the result. Apps and asyncio programs use the async API directly;
this is the pynetdicom-shaped convenience (``assoc = ae.associate(...)``,
``assoc.send_c_echo()``, ``ae.start_server(..., block=False).shutdown()``).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from dimse.errors import AssociationAborted, AssociationRejected, DimseError, UsageError
from dimse.evt import HandlerBinding

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dimse.ae import AE, Server
    from dimse.association import Association, StoreSource
    from dimse.messages import CEchoRSP, CStoreRSP, Response
    from dimse.negotiation import AcceptedContext, RejectedContext
    from dimse.qr_scu import ResponseStream

QRResponses = Iterator[tuple["Response", "Dataset | None"]]

__all__ = ["BlockingAssociation", "ThreadedServer", "run"]

_T = TypeVar("_T")
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="dimse-loop", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def run(coro: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
    """Run ``coro`` on the background loop and wait for it (not from inside that loop)."""
    loop = _background_loop()
    try:
        if asyncio.get_running_loop() is loop:
            coro.close()
            raise UsageError("blocking dimse call made from inside the dimse event loop")
    except RuntimeError:
        pass
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)


class BlockingAssociation:
    """An :class:`~dimse.association.Association` with blocking methods.

    Not established (rejected, aborted, unreachable)? ``is_established`` is False and
    ``is_rejected``/``is_aborted`` say why (pynetdicom style); as a context manager it
    raises the reason instead, and releases on exit (aborts if the block raised).
    """

    def __init__(self, assoc: Association | None, error: BaseException | None = None) -> None:
        self._assoc = assoc
        self.error = error

    @classmethod
    def open(
        cls, ae: AE, addr: str, port: int, ae_title: str, **kwargs: Any
    ) -> BlockingAssociation:
        try:
            assoc = run(ae.associate_async(addr, port, ae_title, **kwargs))
        except (DimseError, OSError, TimeoutError) as exc:
            return cls(None, exc)
        return cls(assoc)

    @property
    def assoc(self) -> Association:
        if self._assoc is None:
            raise UsageError(f"the association was not established: {self.error}")
        return self._assoc

    @property
    def is_established(self) -> bool:
        return self._assoc is not None and self._assoc.is_alive and self._assoc.is_established

    @property
    def is_rejected(self) -> bool:
        return isinstance(self.error, AssociationRejected)

    @property
    def is_aborted(self) -> bool:
        if self._assoc is not None:
            return self._assoc.is_aborted
        return isinstance(self.error, AssociationAborted)

    @property
    def is_released(self) -> bool:
        return self._assoc is not None and self._assoc.is_released

    @property
    def accepted_contexts(self) -> tuple[AcceptedContext, ...]:
        return self._assoc.accepted_contexts if self._assoc is not None else ()

    @property
    def rejected_contexts(self) -> tuple[RejectedContext, ...]:
        return self._assoc.rejected_contexts if self._assoc is not None else ()

    def __enter__(self) -> BlockingAssociation:
        if self._assoc is None:
            assert self.error is not None
            raise self.error
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if self._assoc is None:
            return
        if value is None:
            self.release()
        else:
            self.abort()

    def send_c_echo(self, msg_id: int | None = None) -> CEchoRSP:
        return run(self.assoc.send_c_echo(msg_id))

    def send_c_store(
        self, dataset: StoreSource, msg_id: int | None = None, **kwargs: Any
    ) -> CStoreRSP:
        return run(self.assoc.send_c_store(dataset, msg_id, **kwargs))

    # Query/Retrieve: the request is sent before these return (as pynetdicom does), so
    # send_c_cancel(msg_id) works at once; iterate the generator to the final response.
    def send_c_find(
        self, identifier: Dataset, query_model: str, msg_id: int | None = None, **kwargs: Any
    ) -> QRResponses:
        """``for response, identifier in assoc.send_c_find(ds, "P"): ...``"""
        assoc = self.assoc
        return self._responses(lambda: assoc.send_c_find(identifier, query_model, msg_id, **kwargs))

    def send_c_get(
        self, identifier: Dataset, query_model: str, msg_id: int | None = None, **kwargs: Any
    ) -> QRResponses:
        """C-GET; sub-operations reach the EVT_C_STORE handler bound to this association
        (or the AE's store_sink) on the background loop meanwhile."""
        assoc = self.assoc
        return self._responses(lambda: assoc.send_c_get(identifier, query_model, msg_id, **kwargs))

    def send_c_move(
        self,
        identifier: Dataset,
        move_aet: str,
        query_model: str,
        msg_id: int | None = None,
        **kwargs: Any,
    ) -> QRResponses:
        assoc = self.assoc
        return self._responses(
            lambda: assoc.send_c_move(identifier, move_aet, query_model, msg_id, **kwargs)
        )

    def send_c_cancel(
        self, msg_id: int, context_id: int | None = None, query_model: str | None = None
    ) -> bool:
        return run(self.assoc.send_c_cancel(msg_id, context_id, query_model))

    def _responses(self, make: Callable[[], ResponseStream]) -> QRResponses:
        async def _start() -> ResponseStream:
            return await make().start()  # built and sent on the loop's thread

        return self._iterate(run(_start()))

    def release(self) -> None:
        if self._assoc is not None:
            run(self._assoc.release())

    def abort(self) -> None:
        if self._assoc is not None:
            assoc = self._assoc

            async def _abort() -> None:
                assoc.abort()
                await assoc.wait_closed()

            run(_abort())

    def _iterate(self, agen: Any) -> Iterator[Any]:
        loop = _background_loop()
        while True:
            try:
                item = asyncio.run_coroutine_threadsafe(agen.__anext__(), loop).result()
            except StopAsyncIteration:
                return
            yield item


class ThreadedServer:
    """A server on the background loop; ``shutdown()`` stops it and its associations."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._stopped = threading.Event()

    @classmethod
    def start(
        cls,
        ae: AE,
        address: tuple[str, int],
        evt_handlers: Iterable[HandlerBinding],
        ssl_context: ssl_module.SSLContext | None,
    ) -> ThreadedServer:
        server = run(ae.serve(address, evt_handlers=evt_handlers, tls=ssl_context))
        return cls(server)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def active_associations(self) -> list[Association]:
        return list(self.server.active_associations)

    def wait(self) -> None:
        self._stopped.wait()

    def shutdown(self) -> None:
        if not self._stopped.is_set():
            run(self.server.close())
            self._stopped.set()
