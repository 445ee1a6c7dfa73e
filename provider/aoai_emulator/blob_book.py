"""Results computed once per blob's bytes and argument, shared by the threads that ask, outside the service lock."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Generic, TypeVar

MAX_ENTRIES = 10_000
A = TypeVar("A", int, str)
R = TypeVar("R")
Key = tuple[str, int, int, int, int | str]


class BlobBook(Generic[A, R]):
    """``compute(blob, arg)`` by blob identity (path, inode, size, mtime) and ``arg``; each computed by one thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Key, Future[R]] = {}

    def compute(self, blob: Path, arg: A) -> R:
        """The result for ``blob`` and ``arg``, computed afresh (what a subclass's book holds)."""
        raise NotImplementedError

    @staticmethod
    def _key(blob: Path, arg: A) -> Key:
        st = os.stat(blob)
        return str(blob), st.st_ino, st.st_size, st.st_mtime_ns, arg

    def ready(self, blob: Path, arg: A) -> bool:
        """True when the result for ``blob`` is known (one still being computed is not: it must be waited for)."""
        try:
            key = self._key(blob, arg)
        except OSError:
            return True  # nothing to compute ahead: the caller under the lock reports the missing blob
        with self._lock:
            future = self._entries.get(key)
        return future is not None and future.done()

    def get(self, blob: Path, arg: A) -> R:
        """The result for ``blob``: computed now, or waited for when another thread is computing it."""
        key = self._key(blob, arg)
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
        """Forget every result: after a reset, new blobs may reuse a path, an inode and a size."""
        with self._lock:
            self._entries.clear()

    def forget(self, blob: Path) -> None:
        """Drop the results for a deleted blob."""
        name = str(blob)
        with self._lock:
            for key in [k for k in self._entries if k[0] == name]:
                del self._entries[key]
