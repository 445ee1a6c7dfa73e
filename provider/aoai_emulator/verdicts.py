"""Dataset verdicts computed once per blob, outside the service lock.

A verdict reads the whole upload (seconds for half a gigabyte); computed under the service's lock it
would stall every account's requests. It is a pure function of the blob's bytes, so the request that will
settle a file computes it first, without the lock, and the settle inside the lock finds it ready. A
settle that finds none (a race with a new upload) computes it there, exactly as before.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from .dataset_rules import DatasetVerdict, check_dataset

MAX_ENTRIES = 10_000
Check = Callable[[Path, int], DatasetVerdict]


def read_verdict(blob: Path, min_examples: int) -> DatasetVerdict:
    """The service's verdict on the bytes of ``blob``."""
    with blob.open("rb") as stream:
        return check_dataset(stream, min_examples)


class VerdictBook:
    """Verdicts by blob identity (path, inode, size, mtime) and rule; each computed by one thread, shared."""

    def __init__(self, check: Check = read_verdict) -> None:
        self.check = check
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, int, int, int, int], Future[DatasetVerdict]] = {}

    @staticmethod
    def _key(blob: Path, min_examples: int) -> tuple[str, int, int, int, int]:
        st = os.stat(blob)
        return str(blob), st.st_ino, st.st_size, st.st_mtime_ns, min_examples

    def ready(self, blob: Path, min_examples: int) -> bool:
        """True when the verdict on ``blob`` is known (one still being computed is not: it must be waited for)."""
        try:
            key = self._key(blob, min_examples)
        except OSError:
            return True  # nothing to compute ahead: the settle reports the missing blob
        with self._lock:
            future = self._entries.get(key)
        return future is not None and future.done()

    def get(self, blob: Path, min_examples: int) -> DatasetVerdict:
        """The verdict on ``blob``: computed now, or waited for when another thread is computing it."""
        key = self._key(blob, min_examples)
        with self._lock:
            future = self._entries.get(key)
            mine = future is None
            if future is None:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                future = self._entries[key] = Future()
        if mine:
            try:
                future.set_result(self.check(blob, min_examples))
            except BaseException as exc:
                with self._lock:
                    self._entries.pop(key, None)
                future.set_exception(exc)
                raise
        return future.result()

    def forget(self, blob: Path) -> None:
        """Drop the verdicts on a deleted blob."""
        name = str(blob)
        with self._lock:
            for key in [k for k in self._entries if k[0] == name]:
                del self._entries[key]
