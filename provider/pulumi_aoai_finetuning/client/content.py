"""An import's source read where it lives (a blob SAS URL, a ``file://`` path), so it is known by its content."""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import redact

if TYPE_CHECKING:
    import httpx2


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
def fetched(url: str, *, timeout: float = 120.0) -> Iterator[tuple[Path, str | None]]:
    """A local copy of the file at ``url`` (a ``file://`` path is used in place) and its :func:`content_version`.

    The version comes from the download's own headers, so reading a blob costs one request, not a HEAD and a GET.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = Path(urllib.parse.unquote(parts.path))
        if not path.is_file():
            raise ContentUnavailableError(f"{shown_url(url)}: no such file")
        yield path, None
        return
    import httpx2  # noqa: PLC0415 - only a preview that reads a URL pays for the HTTP stack

    with tempfile.TemporaryDirectory(prefix="aoai-import-") as directory:
        local = Path(directory) / (url_filename(url) or "import.jsonl")
        try:
            with httpx2.stream("GET", url, timeout=timeout, follow_redirects=False) as response:
                if response.status_code != 200:
                    raise ContentUnavailableError(f"GET {shown_url(url)} answered {response.status_code}")
                version = _version(url, response.headers)
                with local.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
        except httpx2.HTTPError as exc:
            raise ContentUnavailableError(
                redact(f"GET {shown_url(url)} failed: {type(exc).__name__}: {exc}", (url,))
            ) from None
        yield local, version


def content_version(url: str, *, timeout: float = 30.0) -> str | None:
    """A digest of what the server says identifies the bytes at ``url`` now (place, strong ETag, length), or None.

    Azure Blob Storage answers ``HEAD`` with a strong ETag that changes with every write of the blob, so a preview
    that finds the version it saw last time need not download the blob again. A server that gives no strong ETag
    (or refuses ``HEAD``) gives no version: the file is read, as always. The SAS query never enters the digest.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    import httpx2  # noqa: PLC0415 - only a preview that reads a URL pays for the HTTP stack

    try:
        response = httpx2.head(url, timeout=timeout, follow_redirects=False)
    except httpx2.HTTPError:
        return None
    return _version(url, response.headers) if response.status_code == 200 else None


def _version(url: str, headers: httpx2.Headers) -> str | None:
    etag, length = headers.get("etag"), headers.get("content-length")
    if not etag or etag.startswith("W/") or length is None:
        return None
    parts = urllib.parse.urlsplit(url)
    place = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return hashlib.sha256(f"{place}\n{etag}\n{length}".encode()).hexdigest()
