"""The verdict cache: one small file per dataset, so a hit reads one entry and a miss writes one.

A verdict is reused only for the same file in the same state: the entry records the absolute path, the size,
the mtime, the inode and the ctime the file had while it was read, and the validator version that judged it;
any difference is a miss. Entries live in ``$AOAI_FT_CACHE_DIR/datasets/`` (else
``$XDG_CACHE_HOME/pulumi-aoai-finetuning/datasets/``, else ``~/.cache/pulumi-aoai-finetuning/datasets/``),
one file each, named by a hash of the path and written atomically (a temporary file, then ``os.replace``), so
concurrent plugin threads and concurrent stacks never see half an entry: at worst one verdict replaces
another, and each is only served for the file state it was made from.

The directory is bounded by total size (``_MAX_BYTES``), least recently used entries first (a hit refreshes
an entry's mtime, at most once an hour), and entries unused for ``_MAX_AGE_S`` are dropped. Rather than look
at the whole directory on every miss, each miss appends one byte to a journal; every ``_SWEEP_EVERY`` misses,
one process claims the journal (an atomic rename) and sweeps, so the cost of a miss does not grow with the
number of entries. A cache that cannot be read or written is no error: the file is validated again.

An entry also keeps the file's token counts, per encoding (``tokens.FileTokens`` without a limit's verdict),
added by :func:`store_tokens` once they are counted: counting costs about 15 times the validation, so an
unchanged file is counted once, and a warm preview reads its verdict and its counts in the same read. The
counts carry :data:`TOKENS_VERSION`, bumped whenever a counting rule changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from ..tokens import FileTokens
from .report import DatasetReport

_VERSION = 2  # bump whenever a rule changes, so verdicts of an older validator are not reused
_RACY_NS = 2_000_000_000  # a file modified this recently may change again within the same mtime tick
_MAX_BYTES = 64 << 20  # about 100,000 typical entries
_MAX_AGE_S = 90 * 86400
_SWEEP_EVERY = 256  # misses between sweeps: the directory holds at most this many entries over the bound
_TOUCH_AFTER_S = 3600  # a hit refreshes the entry's recency only when it is older than this
_STALE_TMP_S = 3600  # a temporary or claimed file this old was left by a process that died
_JOURNAL = ".misses"
TOKENS_VERSION = 1  # bump whenever a token counting rule (tokens.py, image_tokens.py) or the tokenizer changes
_TOKEN_FIELDS = ("examples", "tokens", "max_example_tokens", "max_line", "estimated_examples")


@dataclass(frozen=True)
class Stamp:
    """The state of a file a verdict is valid for."""

    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Stamp:
        """The stamp of a stat result."""
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


@dataclass(frozen=True)
class _Entry:
    stamp: Stamp
    max_errors: int
    report: DatasetReport  # line-level verdict, without the dataset-wide rules
    tokens: Mapping[str, FileTokens] = field(default_factory=dict)  # by "<encoding>/<TOKENS_VERSION>"

    def serves(self, stamp: Stamp, max_errors: int) -> bool:
        # A scan that stopped listing errors at N cannot answer a call that wants more than N.
        return self.stamp == stamp and (self.max_errors >= max_errors or not self.report.truncated)

    def to_json(self, path: str) -> bytes:
        st = self.stamp
        return orjson.dumps(
            {
                "version": _VERSION,
                "path": path,
                "size": st.size,
                "mtime_ns": st.mtime_ns,
                "ino": st.ino,
                "ctime_ns": st.ctime_ns,
                "max_errors": self.max_errors,
                "report": self.report.to_json(),
                "tokens": {key: [getattr(t, f) for f in _TOKEN_FIELDS] for key, t in self.tokens.items()},
            }
        )

    @classmethod
    def from_json(cls, data: bytes, path: str) -> _Entry | None:
        """The entry ``data`` holds for ``path``; None when it is corrupt, foreign or of another version."""
        try:
            raw: Any = orjson.loads(data)
            if raw["version"] != _VERSION or raw["path"] != path:
                return None
            ints = (raw["size"], raw["mtime_ns"], raw["ino"], raw["ctime_ns"], raw["max_errors"])
            if not all(type(v) is int for v in ints):
                return None
            counts: dict[str, FileTokens] = {}
            for key, values in (raw.get("tokens") or {}).items():
                if (
                    isinstance(values, list)
                    and len(values) == len(_TOKEN_FIELDS)
                    and all(type(v) is int for v in values)
                ):
                    examples, total, biggest, line, estimated = values
                    counts[key] = FileTokens(examples, total, biggest, line, estimated, None)
            return cls(Stamp(*ints[:4]), ints[4], DatasetReport.from_json(raw["report"]), MappingProxyType(counts))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


_MEMORY: dict[str, _Entry] = {}
_LOCK = threading.Lock()  # TrainingFile checks of several resources may run on the provider's threads at once


def directory() -> Path:
    """Where verdicts are cached on disk, from the environment at call time."""
    base = os.environ.get("AOAI_FT_CACHE_DIR")
    if base:
        return Path(base) / "datasets"
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg) if xdg else Path.home() / ".cache"
    return root / "pulumi-aoai-finetuning" / "datasets"


def entry_file(path: str) -> Path:
    """The file that holds the verdict on the dataset at absolute ``path``."""
    return directory() / (hashlib.sha256(os.fsencode(path)).hexdigest()[:40] + ".json")


def _read(file: Path) -> tuple[bytes, float] | None:
    """The bytes and mtime of an entry file, or None when there is none to read."""
    try:
        fd = os.open(file, os.O_RDONLY)
    except OSError:
        return None
    try:
        mtime = os.fstat(fd).st_mtime
        chunks = []
        while piece := os.read(fd, 1 << 16):
            chunks.append(piece)
        return b"".join(chunks), mtime
    except OSError:
        return None
    finally:
        os.close(fd)


def _entry(path: str, stamp: Stamp) -> _Entry | None:
    """The entry on ``path`` in the state ``stamp``, from this process or the disk; None on a miss."""
    with _LOCK:
        entry = _MEMORY.get(path)
    if entry is not None and entry.stamp == stamp:
        return entry
    file = entry_file(path)
    read = _read(file)
    if read is None:
        return None
    entry = _Entry.from_json(read[0], path)
    if entry is None or entry.stamp != stamp:
        return None
    if time.time() - read[1] > _TOUCH_AFTER_S:  # recently used: the sweep evicts it last
        with contextlib.suppress(OSError):
            os.utime(file)
    with _LOCK:
        _MEMORY[path] = entry
    return entry


def lookup(path: str, stamp: Stamp, max_errors: int) -> DatasetReport | None:
    """The cached verdict on ``path`` in the state ``stamp``, from this process or the disk; None on a miss."""
    entry = _entry(path, stamp)
    if entry is None or not entry.serves(stamp, max_errors):
        return None
    return entry.report


def _tokens_key(encoding: str) -> str:
    return f"{encoding}/{TOKENS_VERSION}"


def lookup_tokens(path: str, stamp: Stamp, encoding: str) -> FileTokens | None:
    """The cached token counts of ``path`` in the state ``stamp`` in ``encoding``; None on a miss."""
    entry = _entry(path, stamp)
    return None if entry is None else entry.tokens.get(_tokens_key(encoding))


def store_tokens(path: str, before: os.stat_result, after: os.stat_result, encoding: str, counts: FileTokens) -> None:
    """Add ``path``'s token counts, read between the stats ``before`` and ``after``, to its verdict's entry.

    Kept only beside a verdict on the same file state: counts are asked for after a validation, which stored
    that verdict (or found it); a file too recently written for its verdict to be trusted is not cached either.
    """
    stamp = Stamp.of(after)
    if stamp != Stamp.of(before):
        return
    entry = _entry(path, stamp)
    if entry is None:
        return
    plain = FileTokens(
        counts.examples, counts.tokens, counts.max_example_tokens, counts.max_line, counts.estimated_examples, None
    )
    tokens = MappingProxyType({**entry.tokens, _tokens_key(encoding): plain})
    _write(path, _Entry(entry.stamp, entry.max_errors, entry.report, tokens), count_miss=False)


def store(path: str, before: os.stat_result, after: os.stat_result, max_errors: int, report: DatasetReport) -> None:
    """Remember the verdict on ``path``, read between the stats ``before`` and ``after``, if it can be trusted."""
    stamp = Stamp.of(after)
    if stamp != Stamp.of(before):  # the file changed while it was read
        return
    # A file written in the last moments may be written again within the same mtime tick, unseen by the stamp.
    if time.time_ns() - after.st_mtime_ns <= _RACY_NS:
        return
    with _LOCK:
        known = _MEMORY.get(path)
    # A new verdict on the same file state (a call that wanted more errors listed) keeps the counts.
    tokens = known.tokens if known is not None and known.stamp == stamp else MappingProxyType({})
    _write(path, _Entry(stamp, max_errors, report, tokens), count_miss=True)


def _write(path: str, entry: _Entry, *, count_miss: bool) -> None:
    """Keep ``entry`` in this process and on disk (atomically); a miss may trigger a sweep of the directory."""
    with _LOCK:
        _MEMORY[path] = entry
    folder = directory()
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".entry-", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(entry.to_json(path))
        os.replace(tmp, entry_file(path))  # atomic: a reader sees the old entry or the new one, never half
        tmp = None
        if count_miss and _count_miss(folder) >= _SWEEP_EVERY:
            _sweep_once(folder)
    except OSError:
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _count_miss(folder: Path) -> int:
    """Append one byte to the journal and return how many misses it holds since the last sweep."""
    fd = os.open(folder / _JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, b".")  # O_APPEND: concurrent appends never overwrite each other
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def _sweep_once(folder: Path) -> None:
    """Sweep, unless another process or thread claimed the same full journal first."""
    claimed = folder / f"{_JOURNAL}.{os.getpid()}.{threading.get_ident()}"
    try:
        os.replace(folder / _JOURNAL, claimed)  # atomic: only one sweeper gets a given journal
    except OSError:
        return
    sweep(folder)
    _unlink(str(claimed))


def sweep(folder: Path | None = None) -> None:
    """Evict entries unused for too long, then the least recently used ones until the total fits the bound."""
    folder = directory() if folder is None else folder
    now = time.time()
    entries: list[tuple[float, int, str]] = []
    with contextlib.suppress(OSError), os.scandir(folder) as it:
        for item in it:
            try:
                st = item.stat()
            except OSError:
                continue
            if item.name.endswith(".json"):
                entries.append((st.st_mtime, st.st_size, item.path))
            elif item.name.startswith((".entry-", f"{_JOURNAL}.")) and now - st.st_mtime > _STALE_TMP_S:
                _unlink(item.path)  # left by a writer or a sweeper that died
    entries.sort(reverse=True)  # the most recently used first
    total = 0
    full = False
    for mtime, size, file in entries:
        full = full or total + size > _MAX_BYTES  # from here on, every older entry goes too
        if full or now - mtime > _MAX_AGE_S:
            _unlink(file)
        else:
            total += size


def _unlink(file: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(file)


def usage(folder: Path | None = None) -> tuple[int, int]:
    """The number of entries and their total size in bytes (for tests and benchmarks)."""
    folder = directory() if folder is None else folder
    count = total = 0
    with contextlib.suppress(OSError), os.scandir(folder) as it:
        for item in it:
            if item.name.endswith(".json"):
                with contextlib.suppress(OSError):
                    total += item.stat().st_size
                    count += 1
    return count, total
