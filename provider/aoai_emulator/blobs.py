"""File contents, held in memory as the chunks received up to a total limit, and on disk beyond it.

Why memory: writing 500 MB to disk on the request's path costs more than receiving it (a bare Python server
that only reads and writes is 1.4-1.9x a discard-only sink on a 2-core machine), so an emulator that writes
as it receives is the bottleneck of every upload benchmark run against it. Trusted emulators do the same:
Azurite's ``--inMemoryPersistence`` (bounded by ``--extentMemoryLimit``) and moto's S3 bodies in a
``SpooledTemporaryFile`` (memory up to a threshold, then disk). Here a blob keeps the very ``bytes`` objects
the server received (no copy); the total held by all blobs is bounded (``--blob-memory-limit-mb``); a blob
that would cross the limit goes to disk whole, and so does one that a child process must read (a big
dataset's verdict), which also frees its memory. With a state file every blob is on disk, as the state is.

Every reader (verdicts, token counts, content downloads, eval sources, the Uploads API) goes through
:class:`Blob`, never a path, so where the bytes are is this module's business only.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, NoReturn

DEFAULT_MEMORY_LIMIT_MB = 2048
READ_BUFFER = 1 << 20
_IOV_MAX = 1024  # the Linux limit of buffers per writev call
_serials = itertools.count(1)


def _write_all(fd: int, chunks: list[bytes]) -> None:
    """Write ``chunks`` to ``fd`` with few system calls (each one releases the GIL once, not once per chunk)."""
    for at in range(0, len(chunks), _IOV_MAX):
        batch = [memoryview(c) for c in chunks[at : at + _IOV_MAX] if c]
        while batch:
            written = os.writev(fd, batch)
            while batch and written >= len(batch[0]):
                written -= len(batch[0])
                batch.pop(0)
            if batch and written:
                batch[0] = batch[0][written:]


class _ChunkReader(io.RawIOBase):
    """A read-only stream over a list of chunks, copying only into the caller's buffer."""

    def __init__(self, chunks: list[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._index = 0
        self._offset = 0

    def readable(self) -> bool:
        """Always: this is a reader."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the chunks; 0 at the end."""
        out = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(out) and self._index < len(self._chunks):
            chunk = self._chunks[self._index]
            take = min(len(out) - filled, len(chunk) - self._offset)
            out[filled : filled + take] = memoryview(chunk)[self._offset : self._offset + take]
            filled += take
            self._offset += take
            if self._offset >= len(chunk):
                self._index, self._offset = self._index + 1, 0
        return filled


class Blob:
    """The bytes of one file or upload part: the chunks received, in memory, or a file on disk."""

    def __init__(
        self, store: BlobStore | None, size: int, *, chunks: list[bytes] | None = None, path: Path | None = None
    ) -> None:
        self.key = next(_serials)  # identity for caches: the bytes of a key never change
        self.size = size
        self.name: str | None = None  # set when the store keeps it under a name
        self._store = store
        self._chunks = chunks
        self._path = path
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path) -> Blob:
        """A blob whose bytes are already in the file ``path`` (and stay there)."""
        return cls(None, path.stat().st_size, path=path)

    @property
    def in_memory(self) -> bool:
        """True while the bytes are held in memory."""
        return self._chunks is not None

    def memory_chunks(self) -> list[bytes] | None:
        """The chunks, when the bytes are in memory now; None when they are on disk."""
        return self._chunks

    def open(self) -> BinaryIO:
        """A binary reader over the bytes, wherever they are."""
        chunks, path = self._chunks, self._path
        if chunks is not None:
            return io.BufferedReader(_ChunkReader(chunks), READ_BUFFER)
        return self._gone() if path is None else path.open("rb")

    def iter_chunks(self) -> Iterator[bytes]:
        """The bytes, in order, a chunk at a time."""
        chunks = self._chunks
        if chunks is not None:
            yield from chunks
            return
        with self.open() as fh:
            while chunk := fh.read(READ_BUFFER):
                yield chunk

    def read_bytes(self) -> bytes:
        """All the bytes at once (small blobs and tests)."""
        return b"".join(self.iter_chunks())

    def on_disk(self) -> Path:
        """The file holding the bytes, written out first (and the memory freed) when they are held in memory.

        For readers in another process, which cannot see this one's memory.
        """
        with self._lock:
            chunks = self._chunks
            if chunks is None:
                return self._gone() if self._path is None else self._path
        assert self._store is not None
        # Written without the blob's lock: a delete meanwhile (under the service lock) must not wait for it.
        path = self._store._write_file(chunks, self.name)
        with self._lock:
            if self._chunks is not chunks:  # discarded, or written out by another reader, meanwhile
                if self._path != path:
                    path.unlink(missing_ok=True)
                return self._gone() if self._path is None else self._path
            self._path, self._chunks = path, None
        self._store._release(self.size)
        return path

    def _gone(self) -> NoReturn:
        raise FileNotFoundError(f"the bytes of {self.name or 'an upload'} were deleted while being read")

    def discard(self) -> None:
        """Free the bytes: memory released, file removed."""
        with self._lock:
            chunks, path = self._chunks, self._path
            self._chunks, self._path = None, None
        if chunks is not None and self._store is not None:
            self._store._release(self.size)
        if path is not None and self._store is not None:
            path.unlink(missing_ok=True)


class BlobWriter:
    """One blob being received: its chunks kept as they come while the memory limit allows, else a file."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self._chunks: list[bytes] = []
        self._size = 0
        self._fd: int | None = None
        self._path: Path | None = None

    def write(self, data: bytes) -> None:
        """Append ``data``: kept as it is (a bytes object is never copied) or written to the spill file."""
        if not data:
            return
        if type(data) is not bytes:
            data = bytes(data)  # a mutable buffer may change after this call
        self._size += len(data)
        if self._fd is None:
            if self._store._reserve(len(data)):
                self._chunks.append(data)
                return
            self._spill()
        assert self._fd is not None
        _write_all(self._fd, [data])

    def _spill(self) -> None:
        fd, name = tempfile.mkstemp(prefix=".upload-", dir=self._store.directory)
        self._fd, self._path = fd, Path(name)
        held = sum(len(c) for c in self._chunks)
        try:
            _write_all(fd, self._chunks)
        finally:
            self._chunks = []
            self._store._release(held)

    def finish(self) -> Blob:
        """The received blob (not yet kept under a name: see :meth:`BlobStore.put`)."""
        if self._fd is None and self._store.memory_limit <= 0:
            self._spill()  # an empty blob too: with no memory allowed every blob has its file
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            return Blob(self._store, self._size, path=self._path)
        blob = Blob(self._store, self._size, chunks=self._chunks)
        self._chunks = []
        return blob

    def abandon(self) -> None:
        """Forget what was received (a malformed or failed request)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)
        held = sum(len(c) for c in self._chunks)
        self._chunks = []
        self._store._release(held)


class BlobStore:
    """Every blob of one emulator, by name, with the memory they hold bounded by ``memory_limit`` bytes."""

    def __init__(self, directory: Path, memory_limit: int, *, owned: bool) -> None:
        self.directory = directory
        self.memory_limit = memory_limit
        self.owned = owned  # a temporary directory of ours, removed on close
        self.held = 0  # bytes held in memory by blobs and blobs being received
        self._lock = threading.Lock()
        self._blobs: dict[str, Blob] = {}
        directory.mkdir(parents=True, exist_ok=True)

    def _reserve(self, size: int) -> bool:
        with self._lock:
            if self.held + size > self.memory_limit:
                return False
            self.held += size
            return True

    def _release(self, size: int) -> None:
        with self._lock:
            self.held -= size

    def _write_file(self, chunks: list[bytes], name: str | None) -> Path:
        fd, tmp = tempfile.mkstemp(prefix=".spill-", dir=self.directory)
        try:
            _write_all(fd, chunks)
        finally:
            os.close(fd)
        if name is None:
            return Path(tmp)
        path = self.directory / name
        os.replace(tmp, path)
        return path

    def writer(self) -> BlobWriter:
        """A new blob to receive."""
        return BlobWriter(self)

    def from_stream(self, stream: IO[bytes]) -> Blob:
        """A new blob with everything ``stream`` holds."""
        out = self.writer()
        try:
            while chunk := stream.read(READ_BUFFER):
                out.write(chunk)
        except BaseException:
            out.abandon()
            raise
        return out.finish()

    def put(self, name: str, blob: Blob) -> None:
        """Keep ``blob`` under ``name`` (a file or part id); a blob on disk is renamed to it.

        The service lock guards the names (every caller holds it); a blob already under ``name`` is freed.
        """
        old = self._blobs.get(name)
        if old is not None and old is not blob:
            old.discard()
        with blob._lock:
            if blob._path is not None:
                path = self.directory / name
                os.replace(blob._path, path)
                blob._path = path
            blob.name = name
        self._blobs[name] = blob

    def get(self, name: str) -> Blob | None:
        """The blob kept under ``name``, if any (one on disk from an earlier run of a state file included)."""
        blob = self._blobs.get(name)
        if blob is None:
            path = self.directory / name
            if not path.is_file():
                return None
            blob = Blob(self, path.stat().st_size, path=path)
            blob.name = name
            self._blobs[name] = blob
        return blob

    def drop(self, name: str) -> None:
        """Forget the blob under ``name``: its memory released, its file removed."""
        blob = self._blobs.pop(name, None)
        if blob is not None:
            blob.discard()
        (self.directory / name).unlink(missing_ok=True)

    def join(self, name: str, names: list[str]) -> Blob:
        """The blobs under ``names``, in order, as one blob under ``name``; the parts are consumed.

        In memory the joined blob takes the parts' chunk lists: nothing is copied. Otherwise the first
        part's file becomes it (a rename) and the others are appended.
        """
        found = [self.get(n) for n in names]
        parts = [p for p in found if p is not None]
        if len(parts) != len(names):
            raise FileNotFoundError(f"the bytes of a part of {name} are gone from the blob store")
        for n in names:
            del self._blobs[n]
        for part in parts:
            part._lock.acquire()
        try:
            if all(p._chunks is not None for p in parts):
                chunks = [c for p in parts for c in (p._chunks or [])]
                joined = Blob(self, sum(p.size for p in parts), chunks=chunks)
                for part in parts:
                    part._chunks = None  # the memory now counts for the joined blob
            else:
                joined = None
        finally:
            for part in parts:
                part._lock.release()
        if joined is None:
            # Each byte written once: the first part's file is renamed when it has one, the rest appended from
            # wherever they are (memory or disk), each freed as soon as it is in.
            path = self.directory / f".join-{name}"
            first, rest = parts[0], parts[1:]
            with first._lock:
                moved = first._chunks is None and first._path is not None
                if moved:
                    assert first._path is not None
                    os.replace(first._path, path)
                    first._path = None
            if not moved:
                path.write_bytes(b"")
                rest = parts
            with path.open("ab") as out:
                for part in rest:
                    for chunk in part.iter_chunks():
                        out.write(chunk)
                    part.discard()
            joined = Blob(self, path.stat().st_size, path=path)
        self.put(name, joined)
        return joined

    def reset(self) -> None:
        """Forget every blob."""
        for blob in list(self._blobs.values()):
            blob.discard()
        self._blobs.clear()
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        """Free every blob's memory and remove the directory if it is a temporary one of ours."""
        for blob in list(self._blobs.values()):
            with blob._lock:
                if blob._chunks is not None:
                    blob._chunks = None
                    self._release(blob.size)
        self._blobs.clear()
        if self.owned:
            shutil.rmtree(self.directory, ignore_errors=True)
