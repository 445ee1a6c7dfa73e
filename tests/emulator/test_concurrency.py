"""What keeps the emulator fast under load: TCP_NODELAY, verdicts outside the service lock, cached list views."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from aoai_emulator import Emulator, create_emulator
from aoai_emulator.blobs import Blob
from aoai_emulator.dataset_rules import DatasetVerdict
from aoai_emulator.verdicts import VerdictBook, read_verdict
from aoai_emulator.views import json_list

from .support import chat_dataset

API = {"api-version": "2024-10-21"}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = create_emulator()
    emu.serve()
    try:
        yield emu
    finally:
        emu.close()


def _upload(http: httpx2.Client, account: dict[str, Any], path: Path, purpose: str = "fine-tune") -> str:
    reply = http.post(
        f"{account['endpoint']}openai/files",
        params=API,
        headers={"api-key": account["keys"][0]},
        files={"file": (path.name, path.read_bytes())},
        data={"purpose": purpose},
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def _get(http: httpx2.Client, account: dict[str, Any], rest: str) -> httpx2.Response:
    return http.get(f"{account['endpoint']}openai/{rest}", params=API, headers={"api-key": account["keys"][0]})


def test_accepted_connections_have_tcp_nodelay(emulator: Emulator) -> None:
    """Every connection the server accepts has TCP_NODELAY, so keep-alive answers never wait for a delayed ACK."""
    server = emulator._servers[0]
    host, port = server.sock.getsockname()[:2]
    with socket.create_connection((host, port)) as client:
        client.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: emulator\r\n\r\n")
        assert client.recv(65536).startswith(b"HTTP/1.1 200")
        connections = list(server.server.server_state.connections)
        assert connections, "the server lists no open connection"
        for protocol in connections:
            accepted = protocol.transport.get_extra_info("socket")
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_other_accounts_answer_while_a_verdict_is_computed(emulator: Emulator, tmp_path: Path) -> None:
    """While account A's upload gets its dataset verdict, account B (and A's other calls) are answered."""
    a, b = emulator.seed_account("verdicta"), emulator.seed_account("verdictb")
    events: list[str] = []
    started, release = threading.Event(), threading.Event()
    real_check = emulator.service.verdicts.check

    def gated(blob: Path, min_examples: int) -> DatasetVerdict:
        events.append("verdict started")
        started.set()
        assert release.wait(60), "the test never released the verdict"
        events.append("verdict released")
        return real_check(blob, min_examples)

    emulator.service.verdicts.check = gated
    answers: dict[str, Any] = {}
    with httpx2.Client(timeout=30) as http:
        file_a = _upload(http, a, chat_dataset(tmp_path / "a.jsonl"))
        file_b = _upload(http, b, chat_dataset(tmp_path / "b.jsonl"), purpose="batch")

        def read_a() -> None:
            with httpx2.Client(timeout=60) as own:
                answers["a"] = _get(own, a, f"files/{file_a}").json()
                events.append("A's file answered")

        reader = threading.Thread(target=read_a)
        reader.start()
        assert started.wait(30), "reading a pending file under the immediate clock did not start its verdict"
        listed = _get(http, b, "files")
        assert listed.status_code == 200
        assert [f["id"] for f in listed.json()["data"]] == [file_b]
        assert _get(http, a, "models").status_code == 200
        events.append("others answered")
        assert reader.is_alive()
        release.set()
        reader.join(60)
    assert events == ["verdict started", "others answered", "verdict released", "A's file answered"]
    assert answers["a"]["status"] == "processed"


def test_other_accounts_answer_while_a_jobs_training_tokens_are_counted(emulator: Emulator, tmp_path: Path) -> None:
    """A job create counts its training file's tokens before it takes the service lock: account B is answered."""
    a, b = emulator.seed_account("countsa"), emulator.seed_account("countsb")
    events: list[str] = []
    started, release = threading.Event(), threading.Event()
    book = emulator.service.tokens
    real_count = book.count

    def gated(blob: Blob, encoding: str) -> int:
        events.append("count started")
        started.set()
        assert release.wait(60), "the test never released the count"
        events.append("count released")
        return real_count(blob, encoding)

    book.count = gated
    created: dict[str, Any] = {}
    with httpx2.Client(timeout=30) as http:
        file_a = _upload(http, a, chat_dataset(tmp_path / "a.jsonl"))
        assert _get(http, a, f"files/{file_a}").json()["status"] == "processed"
        file_b = _upload(http, b, chat_dataset(tmp_path / "b.jsonl"), purpose="batch")

        def create_a() -> None:
            with httpx2.Client(timeout=60) as own:
                created["a"] = own.post(
                    f"{a['endpoint']}openai/fine_tuning/jobs",
                    params=API,
                    headers={"api-key": a["keys"][0]},
                    json={
                        "model": "gpt-4o-mini-2024-07-18",
                        "training_file": file_a,
                        "hyperparameters": {"n_epochs": 2},
                    },
                )
                events.append("A's job created")

        creator = threading.Thread(target=create_a)
        creator.start()
        try:
            assert started.wait(30), "the job create did not count its training file's tokens"
            # Under the lock, these would wait for the count the test holds (and time out: the test fails).
            listed = http.get(f"{b['endpoint']}openai/files", params=API, headers={"api-key": b["keys"][0]}, timeout=10)
            assert [f["id"] for f in listed.json()["data"]] == [file_b]
            events.append("others answered")
            assert creator.is_alive()
        finally:
            release.set()
            creator.join(60)
    assert events == ["count started", "others answered", "count released", "A's job created"]
    assert created["a"].status_code == 201, created["a"].text
    stored = emulator.service.store.blobs.get(file_a)
    assert stored is not None
    expected = real_count(stored, "o200k_base")
    job = created["a"].json()["id"]
    assert emulator.state()["accounts"]["countsa"]["jobs"][job]["_tokens"] == expected


def test_a_verdict_is_computed_once_per_upload(emulator: Emulator, tmp_path: Path) -> None:
    """Reads, lists and a job create share one verdict per blob; a broken upload still ends in ``error``."""
    account = emulator.seed_account("once")
    calls: list[str] = []
    real_check = emulator.service.verdicts.check

    def counted(blob: Path, min_examples: int) -> DatasetVerdict:
        calls.append(blob.name)
        return real_check(blob, min_examples)

    emulator.service.verdicts.check = counted
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": [{"role": "user", "content": "no answer"}]}\n' * 12)
    with httpx2.Client(timeout=30) as http:
        good = _upload(http, account, chat_dataset(tmp_path / "good.jsonl"))
        bad = _upload(http, account, broken)
        statuses = {f["id"]: f["status"] for f in _get(http, account, "files").json()["data"]}
        assert statuses == {good: "processed", bad: "error"}
        assert "no assistant message" in _get(http, account, f"files/{bad}").json()["status_details"]
        job = http.post(
            f"{account['endpoint']}openai/fine_tuning/jobs",
            params=API,
            headers={"api-key": account["keys"][0]},
            json={"model": "gpt-4o-mini-2024-07-18", "training_file": good},
        )
        assert job.status_code == 201, job.text
    assert sorted(calls) == sorted([good, bad])


def test_listed_files_follow_their_status_changes(tmp_path: Path) -> None:
    """A file list shows each file's current status and details, not the view cached while it was pending."""
    with create_emulator(clock="manual") as emu:
        emu.serve()
        account = emu.seed_account("views")
        broken = tmp_path / "broken.jsonl"
        broken.write_text("not json\n")
        with httpx2.Client(timeout=30) as http:
            good = _upload(http, account, chat_dataset(tmp_path / "good.jsonl"))
            bad = _upload(http, account, broken)
            before = _get(http, account, "files").json()["data"]
            assert {f["id"]: f["status"] for f in before} == {good: "pending", bad: "pending"}
            emu.advance(3600)
            after = {f["id"]: f for f in _get(http, account, "files").json()["data"]}
            v1 = http.get(f"{account['endpoint']}openai/v1/files", headers={"api-key": account["keys"][0]}).json()
    assert after[good]["status"] == "processed"
    assert after[bad]["status"] == "error"
    assert "line 1: not valid JSON" in after[bad]["status_details"]
    assert {f["id"]: f["status"] for f in v1["data"]} == {good: "processed", bad: "error"}
    assert (v1["first_id"], v1["last_id"]) == (v1["data"][0]["id"], v1["data"][-1]["id"])


@pytest.mark.parametrize("ids", [None, ("file-a", "file-b"), (None, None)])
@pytest.mark.parametrize("has_more", [True, False])
def test_list_bytes_are_what_orjson_writes(ids: tuple[str | None, str | None] | None, has_more: bool) -> None:
    """A list built from cached item views is byte for byte the JSON of the same list as a dict."""
    items = (
        [{"id": "file-a", "bytes": 1, "name": 'é "q"'}, {"id": "file-b", "status": None}] if ids != (None, None) else []
    )
    body: dict[str, Any] = {"object": "list", "data": items, "has_more": has_more}
    if ids is not None:
        body["first_id"], body["last_id"] = ids
    assert json_list([orjson.dumps(i) for i in items], has_more, ids) == orjson.dumps(body)


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bytes]:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        buffer += chunk
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end]).lower()
    at = head.index(b"content-length:") + 15
    need = end + int(head[at : head.index(b"\r\n", at)])
    while len(buffer) < need:
        buffer += sock.recv(65536)
    status, body = int(buffer[9:12]), bytes(buffer[end:need])
    del buffer[:need]
    return status, body


def test_upload_in_pieces_with_a_pipelined_request_keeps_every_byte(emulator: Emulator, tmp_path: Path) -> None:
    """A body sent in many pieces, its last piece sharing a packet with the next request, is stored intact."""
    account = emulator.seed_account("pieces")
    content = chat_dataset(tmp_path / "pieces.jsonl", examples=3000).read_bytes()
    boundary = "piecesboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="pieces.jsonl"\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    prefix = f"/pieces/openai/files?api-version=2024-10-21 HTTP/1.1\r\nHost: e\r\napi-key: {account['keys'][0]}\r\n"
    post = (
        f"POST {prefix}Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    models = f"GET {prefix.replace('/files?', '/models?')}\r\n".encode()
    host, port = emulator._servers[0].sock.getsockname()[:2]
    buffer = bytearray()
    with socket.create_connection((host, port)) as sock:
        sock.sendall(post + body[:100])
        for at in range(100, len(body) - 50, 65_537):
            sock.sendall(body[at : min(at + 65_537, len(body) - 50)])
        sock.sendall(body[len(body) - 50 :] + models)
        status, created = _read_response(sock, buffer)
        assert status == 201, created
        status, listed = _read_response(sock, buffer)
        assert status == 200
        assert orjson.loads(listed)["object"] == "list"
    file_id = orjson.loads(created)["id"]
    with httpx2.Client(timeout=30) as http:
        assert _get(http, account, f"files/{file_id}/content").content == content


def test_a_verdict_being_computed_is_not_ready_and_is_shared(tmp_path: Path) -> None:
    """A second caller waits for the verdict in progress (outside the service lock) and gets the same one."""
    blob = Blob.from_file(chat_dataset(tmp_path / "shared.jsonl"))
    started, release = threading.Event(), threading.Event()
    calls: list[Blob] = []

    def gated(blob: Blob, min_examples: int) -> DatasetVerdict:
        calls.append(blob)
        started.set()
        assert release.wait(60), "the test never released the verdict"
        return read_verdict(blob.on_disk(), min_examples)

    book = VerdictBook(gated)
    results: list[DatasetVerdict] = []
    first = threading.Thread(target=lambda: results.append(book.get(blob, 10)))
    first.start()
    assert started.wait(30)
    assert not book.ready(blob, 10)
    second = threading.Thread(target=lambda: results.append(book.get(blob, 10)))
    second.start()
    release.set()
    first.join(60)
    second.join(60)
    assert book.ready(blob, 10)
    assert calls == [blob]
    assert len(results) == 2
    assert results[0] is results[1]
    assert (results[0].examples, results[0].errors) == (12, [])


def test_big_blobs_get_the_same_verdict_from_a_child_process(tmp_path: Path) -> None:
    """A verdict read in a child process (for big blobs) is the one read in a thread, errors included."""
    good = chat_dataset(tmp_path / "good.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "p", "completion": "c"}\n{"messages": []}\nnot json\n')
    book = VerdictBook(child_from_bytes=0)
    try:
        for path in (good, bad):
            assert book.get(Blob.from_file(path), 10) == read_verdict(path, 10)
        assert book._pool is not None
    finally:
        book.close()
    assert book._pool is None


def test_a_reset_forgets_verdicts(emulator: Emulator, tmp_path: Path) -> None:
    """After a reset, an upload that gets the same id, path and size as an earlier one gets its own verdict."""
    good = chat_dataset(tmp_path / "same.jsonl")
    bad = tmp_path / "bad" / "same.jsonl"
    bad.parent.mkdir()
    bad.write_bytes(good.read_bytes().replace(b'"assistant"', b'"assistanX"'))
    assert bad.stat().st_size == good.stat().st_size
    statuses = []
    with httpx2.Client(timeout=30) as http:
        for path in (good, bad):
            emulator.reset()
            account = emulator.seed_account("again")
            file_id = _upload(http, account, path)
            statuses.append((file_id, _get(http, account, f"files/{file_id}").json()["status"]))
    assert statuses[0][0] == statuses[1][0]
    assert [s for _, s in statuses] == ["processed", "error"]
