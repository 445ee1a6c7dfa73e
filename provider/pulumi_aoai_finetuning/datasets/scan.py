"""One pass over a dataset file: read it in blocks, hash every byte, and check its lines a chunk at a time.

The file is read in 1 MiB blocks; a helper thread hashes each block (hashlib releases the GIL, so hashing
overlaps parsing on a second core). Whole lines are grouped into chunks of about 256 KiB, and each chunk is
checked by the first of these that accepts it:

1. the typed decoder (``typed``): one msgspec call decodes the chunk into schema types, or refuses it;
2. orjson parses the chunk as one array and the quick checks (``quick``) vouch for its plain examples;
3. line by line, the detailed checker (``rules``) says what is wrong and where.

The verdict is the one the detailed checker alone would give: the fast paths only ever say "all valid".
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from . import typed
from .quick import _BULK, _FAST
from .report import RULES, DatasetError
from .rules import _CHECKS, _Bad, _kind, _line_format

_BOM = b"\xef\xbb\xbf"
_UTF16_STARTS = (b"\xff\xfe", b"\xfe\xff", b"{\x00", b"\x00{")
_BLOCK = 1 << 20  # read and hash unit: large enough that thread hand-offs and syscalls are rare
_CHUNK = 256 << 10  # parse unit: large enough to amortise the per-chunk checks, small enough to stay in cache


class _Readable(Protocol):
    """What the scan needs of an open file."""

    def read(self, size: int = -1, /) -> bytes: ...


class _Hasher:
    """sha256 of the blocks fed in, computed on a helper thread while the caller parses.

    hashlib releases the GIL while it hashes a large buffer, so on a second core the hash costs the parser
    nothing. The queue is bounded so a stalled hasher cannot make memory grow with the file.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dataset-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (block := self._queue.get()) is not None:
                self._hash.update(block)
        except BaseException as e:  # handed to the caller by hexdigest()
            self._error = e
            while self._queue.get() is not None:  # keep draining, so the producer never blocks on a full queue
                pass

    def update(self, block: bytes) -> None:
        """Hash ``block`` after the blocks before it."""
        self._queue.put(block)

    def hexdigest(self) -> str:
        """Wait for the blocks fed so far and return their sha256."""
        self.close()
        if self._error is not None:
            raise self._error
        return self._hash.hexdigest()

    def close(self) -> None:
        """Stop the helper thread (idempotent)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class _Scan:
    """State of one pass over a file: line numbers, format, counts and the problems found so far."""

    def __init__(self, display: str, max_errors: int) -> None:
        self.display = display
        self.max_errors = max_errors
        self.errors: list[DatasetError] = []
        self.truncated = False
        self.format: str | None = None
        self.format_line = 0
        self.fast = _FAST[None]
        self.bulk = _BULK[None]
        self.examples = 0
        self.example_bytes = 0
        self.line = 1  # number of the next line to check
        self.abandoned = False  # the file is not line-structured at all: stop checking lines, keep hashing
        # A random sentinel between the lines of a chunk: one call parses the chunk as an array, and finding
        # every sentinel back at its place proves each line held exactly one JSON value. A file cannot forge
        # it without knowing it.
        self.sentinel = typed.SENTINEL
        self.separator = typed.SEPARATOR

    def error(self, line: int | None, rule: str, message: str) -> None:
        if len(self.errors) < self.max_errors:
            self.errors.append(DatasetError(self.display, line, rule, message, RULES[rule]))
        else:
            self.truncated = True

    def set_format(self, fmt: str, line: int) -> None:
        self.format, self.format_line = fmt, line
        self.fast, self.bulk = _FAST[fmt], _BULK[fmt]

    # Reading: blocks -> segments of whole lines -> chunks of about _CHUNK bytes.

    def read(self, f: _Readable, hash_update: Callable[[bytes], object]) -> None:
        """Check the lines of ``f`` from its start to its end, feeding every block to the hash."""
        pending: list[bytes] = []  # the start of a line that continues in the next block
        at_start = True
        while block := f.read(_BLOCK):
            hash_update(block)
            start = 0
            if at_start:
                at_start = False
                if block.startswith(_BOM):
                    start = len(_BOM)  # the service accepts a leading BOM; it is part of no line
                elif block.startswith(_UTF16_STARTS):
                    self.error(1, "encoding.utf16", "the file is UTF-16 encoded; the service reads only UTF-8")
                    self.abandoned = True
            if self.abandoned:
                continue
            first_nl = block.find(b"\n", start)
            if first_nl < 0:
                pending.append(block[start:] if start else block)
                continue
            last_nl = block.rfind(b"\n")
            if pending:
                pending.append(block[:first_nl])
                self.chunk(b"".join(pending))
                pending.clear()
                if last_nl > first_nl:
                    self.segment(block, first_nl + 1, last_nl)
            else:
                self.segment(block, start, last_nl)
            if last_nl + 1 < len(block):
                pending.append(block[last_nl + 1 :])
        if pending and not self.abandoned:
            self.chunk(b"".join(pending))  # the last line, without a final newline

    def segment(self, buf: bytes, start: int, stop: int) -> None:
        """Check the lines of ``buf[start:stop]`` (one or more, separated by newlines), a chunk at a time."""
        while not self.abandoned:
            end = stop
            if stop - start > _CHUNK:
                end = buf.rfind(b"\n", start, start + _CHUNK)
                if end < 0:  # one line longer than a chunk
                    end = buf.find(b"\n", start + _CHUNK, stop)
                    end = stop if end < 0 else end
            self.chunk(buf[start:end])
            if end >= stop:
                return
            start = end + 1

    def chunk(self, data: bytes) -> None:
        """Check the lines of ``data`` (newline-separated, no trailing newline)."""
        joined = data.replace(b"\n", self.separator)
        n = 1 + (len(joined) - len(data)) // (len(self.separator) - 1)  # bytes.count is slower than this
        if self.format is None:
            # The first line with a known format sets the file's; if the whole chunk is valid in one
            # format, its first line is that line.
            fmt = next((f for f in typed.FORMATS if typed.vouch(f, joined, n)), None)
            if fmt is not None:
                self.set_format(fmt, self.line)
        else:
            fmt = self.format if typed.vouch(self.format, joined, n) else None
        if fmt is not None:
            self.line += n
            self.examples += n
            self.example_bytes += len(data)
            return
        try:
            values = orjson.loads(b"".join((b"[", joined, b"]")))
        except orjson.JSONDecodeError:
            values = None
        if values is None or len(values) != 2 * n - 1 or values[1::2].count(self.sentinel) != n - 1:
            for raw in data.split(b"\n"):  # some line is not one JSON value: find it, and say why
                self.raw_line(raw)
            return
        objs = values[::2]
        rest = self.bulk(objs)
        first = self.line
        self.line += n
        if not rest:
            if rest is not None:  # the bulk check vouched for every line
                self.examples += n
                self.example_bytes += len(data)
                return
            rest = list(range(n))
        valid = n - len(rest)
        for i in rest:
            if self.fast(objs[i]) or self.detailed(objs[i], first + i):
                valid += 1
        self.examples += valid
        self.example_bytes += len(data) * valid // n  # per-line sizes are not known here; an estimate needs none

    def raw_line(self, raw: bytes) -> None:
        """Check one line from its bytes: the path taken by chunks that do not parse as a whole."""
        line = self.line
        self.line += 1
        if self.abandoned:
            return
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            self.diagnose(raw, line, e)
            return
        if self.fast(obj) or self.detailed(obj, line):
            self.examples += 1
            self.example_bytes += len(raw)

    def diagnose(self, raw: bytes, line: int, e: orjson.JSONDecodeError) -> None:
        """Say why a line is not valid JSON."""
        stripped = raw.strip()
        if not stripped:
            self.error(line, "line.blank", "blank line")
        elif raw.startswith(_BOM):
            self.error(line, "encoding.bom-not-at-start", "a byte-order mark (BOM) starts this line")
        elif stripped in (b"{", b"[", b"[{"):
            self.error(line, "json.multiline", "the line holds only the start of a JSON value spread over lines")
            self.abandoned = True  # every later line is a fragment: one error says it all
        else:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as u:
                bad = raw[u.start : u.start + 4].hex(" ")
                self.error(line, "encoding.utf8", f"invalid UTF-8 at byte {u.start + 1} of the line: {bad}")
                return
            self.error(line, "json.syntax", f"invalid JSON at column {e.colno}: {e.msg}")

    def detailed(self, obj: Any, line: int) -> bool:
        """Check one parsed line thoroughly; record its problem and return False, or return True."""
        if not isinstance(obj, dict):
            if isinstance(obj, list) and obj and all(isinstance(o, dict) for o in obj):
                self.error(line, "json.not-object", "the line is a JSON array; JSONL wants one object per line")
            else:
                self.error(line, "json.not-object", f"the line is {_kind(obj)}, not a JSON object")
            return False
        fmt = _line_format(obj)
        if fmt is None:
            found = ", ".join(map(repr, list(obj)[:5])) or "none"
            self.error(
                line, "format.unknown", f"the object is not a chat, completion or preference example (keys: {found})"
            )
            return False
        if self.format is None:
            self.set_format(fmt, line)
        elif fmt != self.format:
            self.error(
                line,
                "format.mixed",
                f"a {fmt} example in a {self.format} file (line {self.format_line} set the format)",
            )
            return False
        try:
            _CHECKS[fmt](obj)
        except _Bad as bad:
            self.error(line, bad.rule, bad.message)
            return False
        return True


def scan(f: _Readable, display: str, size: int, max_errors: int) -> tuple[_Scan, str]:
    """Read the open file once: check its lines and return the findings with the file's sha256."""
    scan = _Scan(display, max_errors)
    # Below a couple of blocks, a helper thread costs more than it saves.
    hasher = _Hasher() if size > 2 * _BLOCK else None
    digest = hashlib.sha256()
    try:
        scan.read(f, hasher.update if hasher is not None else digest.update)
    finally:
        if hasher is not None:
            hasher.close()
    return scan, hasher.hexdigest() if hasher is not None else digest.hexdigest()
