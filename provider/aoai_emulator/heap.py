"""The ``aoai-emulator`` process keeps the memory of freed blobs for the next upload (glibc only).

Why: a blob held in memory is the chunks read from the socket, 4 MiB each. glibc hands such blocks out
of its heap and gives the heap's top back to the kernel as soon as it is freed (its trim threshold follows
its mmap threshold, a few MiB), so after a file is deleted the next upload of the same size touches fresh
pages again: 128,000 page faults, about 0.25 s of system time per 500 MB, more than receiving the bytes.
With fixed thresholds (blocks up to 32 MiB from the heap, the heap trimmed only above the blob memory
limit) the pages are reused: the process keeps at most what its blob store may hold anyway.
"""

from __future__ import annotations

import ctypes
import platform
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters, from malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's own ceiling for it; socket reads are far below it
_INT_MAX = 2**31 - 1


def keep_freed_memory(limit: int) -> bool:
    """Let the heap keep up to ``limit`` bytes of freed memory for reuse; False where glibc is not the allocator."""
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc" or limit <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, min(limit, _INT_MAX)))
