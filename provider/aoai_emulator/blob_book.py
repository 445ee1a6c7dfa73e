"""Results computed once per blob's bytes and argument, shared by the threads that ask, outside the service lock."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Generic, TypeVar

from .blobs import Blob

MAX_ENTRIES = 10_000
A = TypeVar("A", int, str)
R = TypeVar("R")


class BlobBook(Generic[A, R]):
    """``compute(blob, arg)`` by blob identity (its key: a blob's bytes never change) and ``arg``; one thread each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, A], Future[R]] = {}

    def compute(self, blob: Blob, arg: A) -> R:
        """The result for ``blob`` and ``arg``, computed afresh (what a subclass's book holds)."""
        raise NotImplementedError

    def ready(self, blob: Blob, arg: A) -> bool:
        """True when the result for ``blob`` is known (one still being computed is not: it must be waited for)."""
        with self._lock:
            future = self._entries.get((blob.key, arg))
        return future is not None and future.done()

    def get(self, blob: Blob, arg: A) -> R:
        """The result for ``blob``: computed now, or waited for when another thread is computing it."""
        key = (blob.key, arg)
        with self._lock:
            future = self._entries.get(key)
            mine = future is None
            if future is None:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                future = self._entries[key] = Future()
        if mine:
            try:
                future.set_result(self.compute(blob, arg))
            except BaseException as exc:
                with self._lock:
                    self._entries.pop(key, None)
                future.set_exception(exc)
                raise
        return future.result()

    def clear(self) -> None:
        """Forget every result (after a reset: their blobs are gone)."""
        with self._lock:
            self._entries.clear()

    def forget(self, blob: Blob) -> None:
        """Drop the results for a deleted blob."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == blob.key]:
                del self._entries[key]
