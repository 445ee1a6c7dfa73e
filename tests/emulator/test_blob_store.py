"""The blob store: uploads held in memory up to the limit and on disk beyond it, read back identical either way."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aoai_emulator import Emulator, create_emulator
from aoai_emulator.blobs import BlobStore
from aoai_emulator.verdicts import VerdictBook, read_verdict

from .support import EMULATOR_BIN, chat_dataset, run_cli

API = {"api-version": "2024-10-21"}
MB = 1024 * 1024


def _receive(store: BlobStore, data: bytes, chunk: int) -> Any:
    out = store.writer()
    for at in range(0, len(data), chunk):
        out.write(data[at : at + chunk])
    return out.finish()


def _files(store: BlobStore) -> list[str]:
    return sorted(p.name for p in store.directory.iterdir())


def test_blobs_within_the_limit_stay_in_memory_and_the_one_beyond_it_goes_to_disk(tmp_path: Path) -> None:
    """Two blobs fit the limit; the third crosses it mid-way and is written out whole, with the same bytes."""
    store = BlobStore(tmp_path / "blobs", 100_000, owned=True)
    first, second, third = (bytes([n]) * 40_000 + b"\n" for n in (65, 66, 67))
    for name, data in (("a", first), ("b", second), ("c", third)):
        store.put(name, _receive(store, data, 7_001))
    a, b, c = (store.get(n) for n in "abc")
    assert a is not None
    assert b is not None
    assert c is not None
    assert (a.in_memory, b.in_memory, c.in_memory) == (True, True, False)
    assert store.held == len(first) + len(second) <= store.memory_limit
    assert _files(store) == ["c"]
    assert (a.read_bytes(), b.read_bytes(), c.read_bytes()) == (first, second, third)
    assert (store.directory / "c").read_bytes() == third
    with a.open() as fh:
        assert fh.read(5) + fh.read() == first  # a stream over the chunks, not only a whole read
    store.drop("a")
    assert store.held == len(second)
    store.put("d", _receive(store, first, 3_000))  # the memory freed by a deleted blob is usable again
    d = store.get("d")
    assert d is not None
    assert d.in_memory
    store.drop("c")
    assert _files(store) == []
    store.close()
    assert store.held == 0
    assert not store.directory.exists()


def test_a_blob_written_out_for_another_process_frees_its_memory(tmp_path: Path) -> None:
    """A verdict read in a child process gets the blob's file; the memory it held is released."""
    store = BlobStore(tmp_path / "blobs", 10 * MB, owned=True)
    data = chat_dataset(tmp_path / "train.jsonl").read_bytes()
    store.put("file-1", _receive(store, data, 100))
    blob = store.get("file-1")
    assert blob is not None
    assert blob.in_memory
    book = VerdictBook(child_from_bytes=0)
    try:
        verdict = book.get(blob, 10)
    finally:
        book.close()
    assert verdict == read_verdict(tmp_path / "train.jsonl", 10)
    assert not blob.in_memory
    assert store.held == 0
    assert (store.directory / "file-1").read_bytes() == data
    store.close()


@pytest.mark.parametrize("limit", [10 * MB, 2_500, 0], ids=["memory", "some-parts-on-disk", "disk"])
def test_parts_join_into_one_blob_with_every_byte_in_order(tmp_path: Path, limit: int) -> None:
    """Joined in memory (no copy), or on disk when a part is there; the parts are gone afterwards."""
    store = BlobStore(tmp_path / "blobs", limit, owned=True)
    parts = [bytes([48 + i]) * 1_000 for i in range(5)]
    for i, data in enumerate(parts):
        store.put(f"part_{i}", _receive(store, data, 333))
    joined = store.join("upload_1", [f"part_{i}" for i in (0, 1, 2, 3, 4)])
    assert joined.read_bytes() == b"".join(parts)
    assert joined.size == 5_000
    assert joined.in_memory == (limit >= 5_000)
    assert all(store.get(f"part_{i}") is None for i in range(5))
    assert _files(store) == ([] if joined.in_memory else ["upload_1"])
    assert store.held == (5_000 if joined.in_memory else 0)
    store.drop("upload_1")
    assert (store.held, _files(store)) == (0, [])


@pytest.fixture
def small_limit() -> Iterator[Emulator]:
    emu = create_emulator(blob_memory_limit_mb=1)
    emu.serve()
    try:
        yield emu
    finally:
        emu.close()


def test_uploads_beyond_the_memory_limit_are_on_disk_and_read_back_identical(small_limit: Emulator) -> None:
    """With a 1 MB limit: a 660 KB upload stays in memory, a second one crosses the limit and goes to disk.

    Both download byte for byte; the memory held never exceeds the limit; a delete frees memory and file.
    """
    account = small_limit.seed_account("spill")
    store = small_limit.service.store.blobs
    key = {"api-key": account["keys"][0]}
    one = b"".join(b'{"messages": [{"role": "user", "content": "%07d"}]}\n' % i for i in range(12_000))
    two = one.replace(b"user", b"tool")
    assert MB > len(one) > MB // 2  # one fits, two do not
    ids = []
    with httpx2.Client(base_url=f"{account['endpoint']}openai", headers=key, params=API, timeout=60) as http:
        for data in (one, two):
            reply = http.post("/files", data={"purpose": "batch"}, files={"file": ("b.jsonl", data)})
            assert reply.status_code == 201, reply.text
            ids.append(reply.json()["id"])
            assert store.held <= MB
        blobs = [store.get(i) for i in ids]
        assert [b is not None and b.in_memory for b in blobs] == [True, False]
        assert _files(store) == [ids[1]]
        for file_id, data in zip(ids, (one, two), strict=True):
            content = http.get(f"/files/{file_id}/content")
            assert content.status_code == 200
            assert content.headers["content-length"] == str(len(data))
            assert hashlib.sha256(content.content).digest() == hashlib.sha256(data).digest()
        for file_id in ids:
            assert http.delete(f"/files/{file_id}").status_code == 200
    assert store.held == 0
    assert _files(store) == []


def test_a_negative_memory_limit_is_refused_with_the_rule_and_the_fix() -> None:
    """The CLI names the option, the value and what it accepts."""
    done = subprocess.run(
        [str(EMULATOR_BIN), "--blob-memory-limit-mb", "-5"], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--blob-memory-limit-mb -5" in done.stderr
    assert "0 (every upload on disk) or a positive number" in done.stderr


def _minor_faults(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="page-fault counts are read from /proc (Linux)")
def test_the_command_reuses_the_memory_of_a_deleted_upload(tmp_path: Path) -> None:
    """A second 32 MB upload after the first is deleted takes a fraction of the first one's page faults.

    glibc would give the freed blob back to the kernel and the next upload would fault every page in again;
    the command keeps freed memory (up to its blob memory limit) for reuse.
    """
    data = b'{"messages": [{"role": "user", "content": "x"}]}\n' * (32 * MB // 49)
    with run_cli("--port", "0", "--account", "heap") as cli, httpx2.Client(timeout=60) as http:
        account = cli.admin("GET", "/accounts").json()["accounts"][0]
        base, key = f"{account['endpoint']}openai", {"api-key": account["keys"][0]}
        faults = []
        for _ in range(2):
            before = _minor_faults(cli.process.pid)
            reply = http.post(
                f"{base}/files", params=API, headers=key, data={"purpose": "batch"}, files={"file": ("b.jsonl", data)}
            )
            assert reply.status_code == 201, reply.text
            faults.append(_minor_faults(cli.process.pid) - before)
            assert http.delete(f"{base}/files/{reply.json()['id']}", params=API, headers=key).status_code == 200
    pages = len(data) // 4096
    assert faults[0] > pages // 2  # the first upload does fault its pages in: the count measures what it should
    assert faults[1] < faults[0] // 4, faults


def test_a_blob_deleted_before_it_is_read_says_so(tmp_path: Path) -> None:
    """Reading a blob whose file was deleted meanwhile is a FileNotFoundError naming it, as a missing file was."""
    store = BlobStore(tmp_path / "blobs", MB, owned=True)
    store.put("file-9", _receive(store, b"{}\n" * 10, 4))
    blob = store.get("file-9")
    assert blob is not None
    store.drop("file-9")
    with pytest.raises(FileNotFoundError, match="file-9"):
        blob.open()
    with pytest.raises(FileNotFoundError, match="file-9"):
        blob.on_disk()
    assert store.held == 0
