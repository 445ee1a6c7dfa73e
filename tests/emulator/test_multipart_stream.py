"""The streaming multipart parser keeps every byte of a file part, however the body is cut into chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aoai_emulator.blobs import BlobStore
from aoai_emulator.uploads import Form, parse_multipart

BOUNDARY = "b7d93a1xyz"
JSONL = b"".join(b'{"messages": [{"role": "user", "content": "line %d \\u00e9"}]}\n' % i for i in range(400))
CRLF_JSONL = JSONL.replace(b"\n", b"\r\n")
# Bytes that look like the boundary's start inside the data: CR, CRLF, CRLF-dash-dash and a near-boundary.
TRICKY = b"a\rb\r\nc\r\n-d\r\n--e\r\n--b7d93a1xy\r\n--b7d93a1xyzz" * 50


def _body(content: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="train.jsonl"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def _chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(body), size):
        yield body[at : at + size]


def _run(chunks: AsyncIterator[bytes], blobs: BlobStore) -> Form:
    """Parse on a private loop, leaving the thread's current loop alone.

    ``asyncio.run`` would unset it, and the Pulumi runtime of other tests in this process keeps one there:
    dropped, it is collected unclosed in whatever test runs then.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(parse_multipart(f"multipart/form-data; boundary={BOUNDARY}", chunks, blobs))
    finally:
        loop.close()


def _parse(body: bytes, size: int, blobs: BlobStore) -> Form:
    return _run(_chunks(body, size), blobs)


@pytest.mark.parametrize("content", [JSONL, CRLF_JSONL, TRICKY, b""], ids=["lf", "crlf", "boundary-like", "empty"])
@pytest.mark.parametrize("size", [1, 7, 23, 64, 1000, 4096, 1 << 20])
@pytest.mark.parametrize("limit", [1 << 30, 5000, 0], ids=["memory", "spills", "disk"])
def test_the_file_part_holds_exactly_the_bytes_sent(content: bytes, size: int, limit: int, tmp_path: Path) -> None:
    """Chunks of any size, cut anywhere (in the middle of a boundary too), give back the same bytes and fields.

    Whether the part stays in memory, goes to disk when it crosses the memory limit, or is on disk throughout.
    """
    blobs = BlobStore(tmp_path / "blobs", limit, owned=True)
    form = _parse(_body(content), size, blobs)
    upload = form.files["file"]
    assert form.fields == {"purpose": "fine-tune"}
    assert (upload.filename, upload.size) == ("train.jsonl", len(content))
    assert upload.blob.read_bytes() == content
    assert upload.blob.in_memory == (len(content) <= limit and limit > 0)
    assert blobs.held == (len(content) if upload.blob.in_memory else 0)
    form.discard()
    assert blobs.held == 0
    assert list((tmp_path / "blobs").iterdir()) == []


def test_the_boundary_cut_after_its_cr_is_still_found(tmp_path: Path) -> None:
    """A chunk that ends in the boundary's CR is followed by one without CR that completes it: not file data."""
    body = _body(JSONL)
    end = body.rindex(f"\r\n--{BOUNDARY}--".encode())
    chunks = [body[: end + 1], body[end + 1 : -2], body[-2:]]
    assert b"\r" not in chunks[1]

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    form = _run(stream(), BlobStore(tmp_path, 1 << 30, owned=True))
    assert form.files["file"].blob.read_bytes() == JSONL
