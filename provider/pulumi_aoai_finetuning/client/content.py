"""An import's source read where it lives (a blob SAS URL, a ``file://`` path), so it is known by its content."""

from __future__ import annotations

import posixpath
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from .errors import redact


class ContentUnavailableError(Exception):
    """The URL did not give the file (refused, missing, expired); the message shows no SAS signature."""


def shown_url(url: str) -> str:
    """The URL as messages may show it: without its query string, which holds a SAS credential."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + ("?***" if parts.query else "")


def url_filename(url: str) -> str:
    """The file name at the end of the URL's path (``train.jsonl``), or ``""``."""
    return posixpath.basename(urllib.parse.urlsplit(url).path)


@contextmanager
def fetched(url: str, *, timeout: float = 120.0) -> Iterator[Path]:
    """A local copy of the file at ``url``, streamed to a temporary file (a ``file://`` path is used in place)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = Path(urllib.parse.unquote(parts.path))
        if not path.is_file():
            raise ContentUnavailableError(f"{shown_url(url)}: no such file")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="aoai-import-") as directory:
        local = Path(directory) / (url_filename(url) or "import.jsonl")
        try:
            with httpx2.stream("GET", url, timeout=timeout, follow_redirects=False) as response:
                if response.status_code != 200:
                    raise ContentUnavailableError(f"GET {shown_url(url)} answered {response.status_code}")
                with local.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
        except httpx2.HTTPError as exc:
            raise ContentUnavailableError(
                redact(f"GET {shown_url(url)} failed: {type(exc).__name__}: {exc}", (url,))
            ) from None
        yield local
