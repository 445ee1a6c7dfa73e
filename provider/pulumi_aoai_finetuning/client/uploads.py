"""A large local file sent in parts through the Uploads API: a dropped connection re-sends one part, not the file.

``POST /uploads`` declares the file, ``/uploads/{id}/parts`` takes each part (retried alone when its connection
drops or the service answers 5xx), ``/complete`` joins them in order into a File, checking they add up to the
declared size. No ``md5`` is sent: TLS already authenticates every byte, and hashing the file would cost a full
pass on each side (about as long as sending it to a nearby endpoint, see benchmarks/README.md). Which
parts the service already holds is kept in a small journal on disk (upload id and part ids, no content and no
secret), so a run killed halfway resumes the same upload on the next run and completes it; an upload that can no
longer take parts (expired after an hour, cancelled) is cancelled and started again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidRequestError, NotFoundError
from .names import normalize_endpoint

if TYPE_CHECKING:
    from .dataplane import DataPlaneClient

MIME_TYPE = "application/jsonl"
MAX_PART_BYTES = 64 * 1024 * 1024  # Azure's (and OpenAI's) limit per part
# Chosen by measurement (benchmarks/bench_uploads.py, figures and reasoning in benchmarks/README.md).
DEFAULT_PART_BYTES = 32 * 1024 * 1024


class _PartReader:
    """One part of a file as a seekable reader, streamed from disk (memory stays flat whatever the part size).

    httpx learns the length by seeking to the end, and the retry loop rewinds to 0 before each attempt.
    """

    def __init__(self, fh: Any, offset: int, size: int) -> None:
        self.fh, self.offset, self.size = fh, offset, size
        self.pos = 0

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        self.pos = {os.SEEK_SET: pos, os.SEEK_CUR: self.pos + pos, os.SEEK_END: self.size + pos}[whence]
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        want = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        if want <= 0:
            return b""
        self.fh.seek(self.offset + self.pos)
        data: bytes = self.fh.read(want)
        self.pos += len(data)
        return data


def journal_file(directory: Path, endpoint: str, filename: str, size: int, part_size: int) -> Path:
    """Where the journal of one upload lives: one per account, content-addressed name, size and part size."""
    key = f"{normalize_endpoint(endpoint)}|{filename}|{size}|{part_size}"
    return directory / (hashlib.sha256(key.encode()).hexdigest()[:40] + ".json")


def _load(journal: Path | None) -> dict[str, Any] | None:
    if journal is None:
        return None
    try:
        state = json.loads(journal.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(state, dict) and isinstance(state.get("upload_id"), str) and isinstance(state.get("parts"), list)
    return state if ok else None


def _save(journal: Path | None, state: dict[str, Any]) -> None:
    if journal is None:
        return
    # Without a writable cache the upload still works; only a killed run would start it again.
    with contextlib.suppress(OSError):
        journal.parent.mkdir(parents=True, exist_ok=True)
        tmp = journal.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, journal)  # atomic: a kill leaves the old journal or the new one, never half of one


def _send(client: DataPlaneClient, path: Path, state: dict[str, Any], journal: Path | None) -> dict[str, Any]:
    size, part_size, parts = state["bytes"], state["part_size"], state["parts"]
    with open(path, "rb") as fh:
        offset = len(parts) * part_size  # a resumed upload holds the parts before this already
        while offset < size:
            reader = _PartReader(fh, offset, min(part_size, size - offset))
            parts.append(client.add_upload_part(state["upload_id"], reader)["id"])
            offset += reader.size
            _save(journal, state)
    upload = client.complete_upload(state["upload_id"], parts)
    if journal is not None:
        journal.unlink(missing_ok=True)
    return dict(upload["file"])


def upload_in_parts(
    client: DataPlaneClient,
    path: str | Path,
    filename: str,
    purpose: str,
    *,
    part_size: int = DEFAULT_PART_BYTES,
    journal_dir: Path | None = None,
) -> dict[str, Any]:
    """Send ``path`` in parts of ``part_size`` bytes as ``filename``, resuming an interrupted upload; the File."""
    if not 0 < part_size <= MAX_PART_BYTES:
        raise ValueError(f"part_size must be between 1 and {MAX_PART_BYTES} bytes (64 MB), not {part_size}")
    path = Path(path)
    size = path.stat().st_size
    journal = journal_file(journal_dir, client.endpoint, filename, size, part_size) if journal_dir else None
    state = _load(journal)
    if state is not None:
        try:
            return _send(client, path, state, journal)
        except (InvalidRequestError, NotFoundError):
            # Expired, cancelled or completed already: it takes no more parts. Cancel it in case it is still
            # pending (one refused part does not prove otherwise), then start again.
            with contextlib.suppress(InvalidRequestError, NotFoundError):
                client.cancel_upload(state["upload_id"])
    upload = client.start_upload(filename, purpose, size, MIME_TYPE)
    state = {"upload_id": upload["id"], "bytes": size, "part_size": part_size, "parts": []}
    _save(journal, state)
    return _send(client, path, state, journal)


def upload_file(
    client: DataPlaneClient,
    path: str | Path,
    filename: str,
    purpose: str,
    *,
    part_size: int = DEFAULT_PART_BYTES,
    journal_dir: Path | None = None,
) -> dict[str, Any]:
    """Upload a local file: in parts when it is larger than one part (and the api-version has the Uploads API).

    ``part_size`` 0 sends every file in one request.
    """
    if part_size and client.has_uploads and Path(path).stat().st_size > part_size:
        return upload_in_parts(client, path, filename, purpose, part_size=part_size, journal_dir=journal_dir)
    return client.upload_file(path, filename, purpose)
