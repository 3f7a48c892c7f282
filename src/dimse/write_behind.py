"""Received instances written to disk by a worker thread, off the event loop.

Creating, writing, fsyncing and renaming a file take from tens of microseconds to
many milliseconds (a busy or network disk, fsync); on the event loop that time would
stall every association of the server. :class:`DiskWorker` runs those calls on one
thread instead, in the order they were asked for, while the loop goes on receiving -
the next instance of a pipelining sender, other associations. The C-STORE is answered
only once its file is complete (:class:`PendingInstance` ``close()`` returns a future
of the final path), so a success status still means "stored".

Memory stays bounded: data waits for the worker up to ``limit`` bytes; beyond that the
loop waits for the disk, exactly as it would have by writing itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from dimse.part10 import InstanceFile

__all__ = ["DiskWorker", "PendingInstance"]

_T = TypeVar("_T")
QUEUE_LIMIT = 4 << 20  # bytes handed to the worker and not yet written
FLUSH_BYTES = 256 << 10  # data gathered on the loop before it goes to the worker


class DiskWorker:
    """One thread that does file system calls in submission order, with back-pressure."""

    def __init__(self, limit: int = QUEUE_LIMIT, name: str = "dimse-disk") -> None:
        self.limit = limit
        self._name = name
        self._executor: ThreadPoolExecutor | None = None
        self._queued = 0
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)

    def submit(self, size: int, call: Callable[..., _T], *args: Any) -> Future[_T]:
        """Queue ``call(*args)``, which writes ``size`` bytes; wait first while more than
        ``limit`` bytes are queued (the disk is behind)."""
        with self._lock:
            while self._queued > self.limit:
                self._drained.wait()
            self._queued += size
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix=self._name)
            executor = self._executor
        return executor.submit(self._run, size, call, *args)

    def _run(self, size: int, call: Callable[..., _T], *args: Any) -> _T:
        try:
            return call(*args)
        finally:
            with self._lock:
                self._queued -= size
                self._drained.notify_all()

    def shutdown(self) -> None:
        """Finish what is queued and stop the thread (a later submit starts a new one)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


class PendingInstance:
    """A data set sink: one received instance on its way to ``directory/<uid>``.

    Data is gathered on the loop and handed to the worker in batches of FLUSH_BYTES; the
    worker creates the :class:`~dimse.part10.InstanceFile` (temporary file, atomic
    rename) with the first batch. ``close()`` returns a future of the final path, or of
    the error that befell the file (its temporary file is then gone) - or, for an
    instance smaller than one batch and not to be fsynced, writes it at once and
    returns the path. ``discard()`` waits until the file is removed, so an aborted
    transfer leaves nothing behind.
    """

    def __init__(
        self, worker: DiskWorker, directory: Path, meta: bytes, uid: str, *, fsync: bool
    ) -> None:
        self._worker = worker
        self._directory = directory
        self._meta = meta
        self._uid = uid
        self._fsync = fsync
        self._batch: list[bytes | memoryview] = []
        self._batch_size = 0
        self._handed_on = False  # some of it went to the worker
        # Touched only by the worker thread (or, before anything was handed on, the loop):
        self._file: InstanceFile | None = None
        self._error: BaseException | None = None

    # -- the loop's side -------------------------------------------------------------
    def write(self, data: bytes | memoryview) -> None:
        self._batch.append(data)
        self._batch_size += len(data)
        if self._batch_size >= FLUSH_BYTES:
            self._send_batch(self._write)

    def close(self) -> Future[Path] | Path:
        if not self._handed_on and not self._fsync:
            # Small and not fsynced: a few tens of microseconds of system calls, less
            # than the trip to the worker and back.
            batch, self._batch = self._batch, []
            return self._finish(batch)
        return self._send_batch(self._finish)

    def discard(self) -> None:
        self._batch = []
        if self._handed_on:  # the worker may have created the file: wait until it is gone
            self._worker.submit(0, self._drop, []).result()

    def _send_batch(self, call: Callable[[list[bytes | memoryview]], _T]) -> Future[_T]:
        batch, size = self._batch, self._batch_size
        self._batch, self._batch_size = [], 0
        self._handed_on = True
        return self._worker.submit(size, call, batch)

    # -- the worker's side -----------------------------------------------------------
    def _write(self, batch: list[bytes | memoryview]) -> None:
        if self._error is not None:
            return
        try:
            if self._file is None:
                self._file = InstanceFile.create(
                    self._directory, self._meta, self._uid, fsync=self._fsync
                )
            for data in batch:
                self._file.write(data)
        except BaseException as exc:
            self._error = exc
            self._drop([])

    def _finish(self, batch: list[bytes | memoryview]) -> Path:
        self._write(batch)
        if self._error is not None:
            raise self._error
        assert self._file is not None
        file, self._file = self._file, None
        return file.close()

    def _drop(self, batch: list[bytes | memoryview]) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.discard()
