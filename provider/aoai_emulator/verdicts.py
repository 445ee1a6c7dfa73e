"""Dataset verdicts computed once per blob, outside the service lock.

A verdict reads the whole upload (seconds for half a gigabyte); computed under the service's lock it
would stall every account's requests. It is a pure function of the blob's bytes, so the request that will
settle a file computes it first, without the lock, and the settle inside the lock finds it ready. A
settle that finds none (a race with a new upload) computes it there, exactly as before. Big blobs are read
in a child process: in a thread, the pure-Python check would hold the GIL and slow every other answer. The
child reads a file, so a big blob held in memory goes to disk first (it frees the memory, too).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .blob_book import BlobBook
from .blobs import Blob
from .dataset_rules import DatasetVerdict, check_dataset

CHILD_FROM_BYTES = 16 * 1024 * 1024  # below this a child process costs more than the GIL it frees
Check = Callable[[Blob, int], DatasetVerdict]


def read_verdict(path: Path, min_examples: int) -> DatasetVerdict:
    """The service's verdict on the bytes of the file ``path`` (what the child process runs)."""
    with path.open("rb") as stream:
        return check_dataset(stream, min_examples)


def blob_verdict(blob: Blob, min_examples: int) -> DatasetVerdict:
    """The service's verdict on the bytes of ``blob``, read in this thread wherever they are."""
    with blob.open() as stream:
        return check_dataset(stream, min_examples)


def _lower_priority() -> None:
    """Run the verdict child behind the server on a busy machine: answers matter more than verdicts."""
    if hasattr(os, "nice"):
        os.nice(10)


class VerdictBook(BlobBook[int, DatasetVerdict]):
    """Verdicts by blob identity (its key: a blob's bytes never change) and rule; each computed once, shared."""

    def __init__(self, check: Check | None = None, *, child_from_bytes: int = CHILD_FROM_BYTES) -> None:
        super().__init__()
        self.check: Check = check or self.read
        self.child_from_bytes = child_from_bytes
        self._pool_lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def compute(self, blob: Blob, arg: int) -> DatasetVerdict:
        """The verdict on ``blob`` for a minimum of ``arg`` examples, by the book's check."""
        return self.check(blob, arg)

    def read(self, blob: Blob, min_examples: int) -> DatasetVerdict:
        """The verdict on ``blob``, read in this thread, or in a child process when the blob is big."""
        if blob.size < self.child_from_bytes:
            return blob_verdict(blob, min_examples)
        with self._pool_lock:
            if self._pool is None:
                # spawn, not fork: the emulator runs threads, and a forked child could inherit a held lock.
                self._pool = ProcessPoolExecutor(
                    1, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority
                )
            pool = self._pool
        return pool.submit(read_verdict, blob.on_disk(), min_examples).result()

    def close(self) -> None:
        """Stop the child process, if one was started."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
