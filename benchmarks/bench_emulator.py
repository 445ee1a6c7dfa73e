"""The emulator's speed: keep-alive GETs and a 1,000-file list vs a trivial uvicorn app serving the same bytes,
other accounts' wait while a big upload's verdict is computed, and a 500 MB upload vs a raw socket sink (and vs
a raw server that also writes the body to disk: the floor for any server that keeps the bytes).

Every server runs in its own process and the load comes from another process on loopback, one keep-alive
connection with a raw HTTP/1.1 client (so the client's own cost stays far below the servers'); each figure is
the min and median over interleaved repetitions.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2

from ._emulator import emulator_process
from .sample_data import make_chat_dataset

API = {"api-version": "2024-10-21"}

# A keep-alive HTTP/1.1 client that sends one request at a time for a while and reports requests/s and p50.
LOAD = r"""
import json, socket, sys, time
host, port, seconds, path, headers = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"] + [f"{k}: {v}" for k, v in headers.items()]
request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
sock = socket.create_connection((host, port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def one():
    sock.sendall(request)
    data = bytearray()
    while (end := data.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(262144)
        if not chunk:
            raise SystemExit("the server closed the connection")
        data += chunk
    head = bytes(data[:end]).lower()
    at = head.index(b"content-length:") + 15
    need = end + 4 + int(head[at:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None])
    while len(data) < need:
        data += sock.recv(262144)
    return int(data[9:12])
for _ in range(20):
    status = one()
latencies = []
t0 = time.perf_counter()
while (now := time.perf_counter()) - t0 < seconds:
    one()
    latencies.append(time.perf_counter() - now)
elapsed = time.perf_counter() - t0
latencies.sort()
print(json.dumps({"rps": len(latencies) / elapsed, "p50_ms": latencies[len(latencies) // 2] * 1000, "status": status}))
"""

# The baseline server: uvicorn (same version and HTTP/1.1 implementation as the emulator) and an ASGI app that
# answers every request with the given bytes.
TRIVIAL = r"""
import sys, uvicorn
body = open(sys.argv[1], "rb").read()
headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), http="h11", lifespan="off", log_level="warning")
"""

# The upload baseline: a server that reads each HTTP request's body to the end, discards it and answers 200.
SINK = r"""
import socket, sys
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
buf = bytearray(1024 * 1024)
view = memoryview(buf)
while True:
    conn, _ = server.accept()
    with conn:
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(65536)
        end = head.index(b"\r\n\r\n") + 4
        lower = head[:end].lower()
        at = lower.index(b"content-length:") + 15
        left = int(lower[at:lower.index(b"\r\n", at)]) - (len(head) - end)
        while left > 0:
            n = conn.recv_into(view)
            if not n:
                break
            left -= n
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}")
"""

# The floor for a server that keeps what it receives: the sink, also writing each body to a file (removed after
# the answer, as the emulator's copy is deleted after the measurement).
WRITER = (
    SINK.replace("import socket, sys", "import os, socket, sys, tempfile")
    .replace("    with conn:\n", "    fd, name = tempfile.mkstemp()\n    with conn:\n")
    .replace("            left -= n\n", "            left -= n\n            os.write(fd, view[:n])\n")
    + "    os.close(fd)\n    os.unlink(name)\n"
)

# The floor for a server that keeps what it receives in memory: the sink, keeping each read (4 MiB, as the
# emulator reads) as the bytes object it is, with the emulator's heap policy (freed memory kept for reuse).
KEEPER = (
    SINK.replace("import socket, sys", "import ctypes, socket, sys")
    .replace(
        "print(server.getsockname()",
        "mallopt = ctypes.CDLL(None).mallopt\nmallopt(-3, 32 << 20)\nmallopt(-1, 2**31 - 1)\nprint(server.getsockname()",
    )
    .replace(
        "        while left > 0:\n            n = conn.recv_into(view)\n            if not n:\n                break\n            left -= n\n",
        "        kept = []\n        while left > 0:\n            chunk = conn.recv(2 << 20)\n            if not chunk:\n                break\n            kept.append(chunk)\n            left -= len(chunk)\n",
    )
    .replace('{}")\n', '{}")\n    del kept\n')
)

# The upload client: the same multipart bytes to either server over a raw socket, file sent with sendfile.
UPLOAD = r"""
import json, os, socket, sys, time
host, port, path, target, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
boundary = "benchboundary7d93a1"
pre = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n"
       f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.jsonl\"\r\n"
       "Content-Type: application/octet-stream\r\n\r\n").encode()
post = f"\r\n--{boundary}--\r\n".encode()
size = os.path.getsize(path)
head = (f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\napi-key: {key}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(pre) + size + len(post)}\r\n\r\n").encode()
with open(path, "rb") as fh:
    sock = socket.create_connection((host, port))
    t0 = time.perf_counter()
    sock.sendall(head + pre)
    sock.sendfile(fh)
    sock.sendall(post)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    end = data.index(b"\r\n\r\n") + 4
    lower = data[:end].lower()
    at = lower.index(b"content-length:") + 15
    need = end + int(lower[at:lower.index(b"\r\n", at)])
    while len(data) < need:
        data += sock.recv(65536)
    elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "status": int(data[9:12]), "body": json.loads(data[end:need])}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _trivial_server(body: bytes) -> Iterator[int]:
    """The baseline uvicorn app in its own process, serving ``body``; yields its port."""
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        fh.write(body)
        fh.flush()
        port = _free_port()
        process = subprocess.Popen([sys.executable, "-c", TRIVIAL, fh.name, str(port)])
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("the trivial server did not start") from None
                    time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=30)


def _load(port: int, path: str, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", LOAD, "127.0.0.1", str(port), str(seconds), path, json.dumps(headers)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120 + seconds,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    if result["status"] != 200:
        raise RuntimeError(f"GET {path} answered {result['status']}")
    return result


def _stats(values: list[float]) -> tuple[float, float]:
    return min(values), statistics.median(values)


def _throughput_rows(
    name: str, url: str, path: str, headers: dict[str, str], *, goal: float, seconds: float, repeats: int
) -> list[dict[str, Any]]:
    port = int(url.rsplit(":", 1)[1])
    body = httpx2.get(f"{url}{path}", headers=headers).content
    ours: list[float] = []
    theirs: list[float] = []
    p50_ours: list[float] = []
    with _trivial_server(body) as trivial_port:
        for _ in range(repeats):
            base = _load(trivial_port, path, {}, seconds)
            mine = _load(port, path, headers, seconds)
            theirs.append(base["rps"])
            ours.append(mine["rps"])
            p50_ours.append(mine["p50_ms"])
    ratios = [o / t for o, t in zip(ours, theirs, strict=True)]
    low, mid = _stats(ratios)
    return [
        {
            "figure": f"{name} ({len(body) / 1024:.0f} KB), requests/s / trivial uvicorn app, median "
            f"(min ratio {low:.3f}, emulator p50 {statistics.median(p50_ours):.2f} ms) of {repeats} interleaved",
            "ours": round(statistics.median(ours)),
            "baseline": round(statistics.median(theirs)),
            "unit": "req/s",
            "ratio": round(mid, 3),
            "goal": f">= {goal}",
            "met": low >= goal,
        }
    ]


def _job_and_files(account: dict[str, Any], files: int) -> str:
    """A finished job and ``files`` small batch files in the account; returns the job's id."""
    key = {"api-key": account["keys"][0]}
    base = f"{account['endpoint']}openai"
    line = '{{"messages": [{{"role": "user", "content": "q{}"}}, {{"role": "assistant", "content": "a"}}]}}\n'
    with httpx2.Client(headers=key, params=API) as client:
        training = client.post(
            f"{base}/files",
            data={"purpose": "fine-tune"},
            files={"file": ("train.jsonl", "".join(line.format(i) for i in range(20)).encode())},
        ).json()["id"]
        while client.get(f"{base}/files/{training}").json()["status"] == "pending":
            pass
        job = client.post(
            f"{base}/fine_tuning/jobs", json={"model": "gpt-4o-mini-2024-07-18", "training_file": training}
        ).json()["id"]
        while client.get(f"{base}/fine_tuning/jobs/{job}").json()["status"] not in ("succeeded", "failed"):
            pass
        batch = b'{"custom_id": "1", "method": "POST", "url": "/chat/completions", "body": {}}\n'
        for i in range(files - 1):
            reply = client.post(
                f"{base}/files",
                data={"purpose": "batch"},
                files={"file": (f"batch-input-{i:04d}.jsonl", batch)},
            )
            reply.raise_for_status()
        client.get(f"{base}/files")  # every file settles once: the measured lists are the steady state
    return str(job)


def _path(account: dict[str, Any], rest: str) -> str:
    endpoint = str(account["endpoint"])
    return endpoint[endpoint.index("/", len("http://")) :] + f"openai/{rest}?api-version=2024-10-21"


def _worst_get(probe: httpx2.Client, url: str, until: Any) -> float:
    """The slowest of back-to-back GETs (5 ms apart) until ``until()`` is true, in ms."""
    worst = 0.0
    while not until():
        t0 = time.perf_counter()
        probe.get(url).raise_for_status()
        worst = max(worst, time.perf_counter() - t0)
        time.sleep(0.005)
    return worst * 1000


def _lock_wait_rows(path: Path, repeats: int) -> list[dict[str, Any]]:
    """Account B's slowest GET while account A's big upload gets its verdict, vs its slowest over as long idle."""
    waits: list[float] = []
    idle: list[float] = []
    with emulator_process("--account", "other") as (url, account):
        accounts = httpx2.get(f"{url}/_emulator/accounts").json()["accounts"]
        other = next(a for a in accounts if a["name"] != account["name"])
        job = _job_and_files(other, 1)
        probe_url = f"{other['endpoint']}openai/fine_tuning/jobs/{job}"
        with httpx2.Client(headers={"api-key": other["keys"][0]}, params=API) as probe:
            for _ in range(repeats):
                file_id = _upload_raw(url, account, path)["body"]["id"]
                # The first read of the pending file under the immediate clock computes its verdict.
                reader = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        "import sys, httpx2; r = httpx2.get(sys.argv[1], params={'api-version': '2024-10-21'}, "
                        "headers={'api-key': sys.argv[2]}, timeout=600); print(r.json()['status'])",
                        f"{account['endpoint']}openai/files/{file_id}",
                        account["keys"][0],
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                started = time.perf_counter()
                waits.append(_worst_get(probe, probe_url, lambda r=reader: r.poll() is not None))
                window = time.perf_counter() - started
                assert reader.stdout is not None
                status = reader.stdout.read().strip()
                reader.stdout.close()
                if status not in ("processed", "error"):
                    raise RuntimeError(f"the uploaded file ended {status!r}")
                quiet = time.perf_counter()
                idle.append(_worst_get(probe, probe_url, lambda q=quiet, w=window: time.perf_counter() - q > w))
                httpx2.delete(
                    f"{account['endpoint']}openai/files/{file_id}", params=API, headers={"api-key": account["keys"][0]}
                )
    low, mid = _stats(waits)
    size = path.stat().st_size / 1e6
    return [
        {
            "figure": f"other account's slowest GET while a {size:.0f} MB upload gets its verdict, median (min "
            f"{low:.1f} ms) of {repeats}; baseline: its slowest GET over as long with nothing else to do",
            "ours": round(mid, 1),
            "baseline": round(statistics.median(idle), 1),
            "unit": "ms",
            "ratio": round(mid / statistics.median(idle), 2),
            "goal": "<= 50 ms",
            "met": mid <= 50,
        }
    ]


def _upload_raw(url: str, account: dict[str, Any], path: Path, port: int | None = None) -> dict[str, Any]:
    target = _path(account, "files")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            UPLOAD,
            "127.0.0.1",
            str(port if port is not None else int(url.rsplit(":", 1)[1])),
            str(path),
            target,
            account["keys"][0],
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    if result["status"] not in (200, 201):
        raise RuntimeError(f"upload answered {result['status']}: {result['body']}")
    return result


def _upload_rows(path: Path, repeats: int) -> list[dict[str, Any]]:
    """A big upload through the emulator vs the raw sink and the raw disk-writing server, interleaved."""
    seconds: dict[str, list[float]] = {"emulator": [], "sink": [], "writer": [], "keeper": []}
    servers = {
        name: subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for name, code in (("sink", SINK), ("writer", WRITER), ("keeper", KEEPER))
    }
    try:
        ports = {}
        for name, server in servers.items():
            assert server.stdout is not None
            ports[name] = int(server.stdout.readline())
        with emulator_process("--timing", "file_processing=86400", "--clock", "manual") as (url, account):
            for _ in range(repeats):
                for name, port in ports.items():
                    seconds[name].append(_upload_raw(url, account, path, port)["seconds"])
                result = _upload_raw(url, account, path)
                seconds["emulator"].append(result["seconds"])
                httpx2.delete(
                    f"{account['endpoint']}openai/files/{result['body']['id']}",
                    params=API,
                    headers={"api-key": account["keys"][0]},
                )
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=30)
            if server.stdout:
                server.stdout.close()
    size = path.stat().st_size / 1e6
    ours = seconds["emulator"]
    rows = []
    for name, label in (
        ("sink", "raw socket sink"),
        ("writer", "raw socket server writing the body to disk"),
        ("keeper", "raw socket server keeping the body in memory"),
    ):
        ratios = [o / t for o, t in zip(ours, seconds[name], strict=True)]
        low, mid = _stats(ratios)
        rows.append(
            {
                "figure": f"upload {size:.0f} MB: seconds, emulator / {label}, median (min ratio {low:.2f}; "
                f"emulator min {min(ours):.3f} s, baseline min {min(seconds[name]):.3f} s) of {repeats} interleaved",
                "ours": round(statistics.median(ours), 3),
                "baseline": round(statistics.median(seconds[name]), 3),
                "unit": "s",
                "ratio": round(mid, 3),
                "goal": "<= 1.3",
                "met": mid <= 1.3,
            }
        )
    return rows


def run(
    workdir: Path, size_mb: int = 500, repeats: int = 5, seconds: float = 1.0, files: int = 1000
) -> list[dict[str, Any]]:
    """Measure the emulator against its baselines; return the figures as rows."""
    rows: list[dict[str, Any]] = []
    with emulator_process() as (url, account):
        job = _job_and_files(account, files)
        key = {"api-key": account["keys"][0]}
        rows += _throughput_rows(
            "GET fine_tuning/jobs/{id}",
            url,
            _path(account, f"fine_tuning/jobs/{job}"),
            key,
            goal=0.25,
            seconds=seconds,
            repeats=repeats,
        )
        rows += _throughput_rows(
            f"GET files, a list of {files} files",
            url,
            _path(account, "files"),
            key,
            goal=0.10,
            seconds=seconds,
            repeats=repeats,
        )
    path = workdir / f"chat-{size_mb}mb.jsonl"
    if not path.exists() or path.stat().st_size < size_mb * 1024 * 1024 * 0.99:
        make_chat_dataset(path, size_mb * 1024 * 1024)
    rows += _lock_wait_rows(path, max(3, repeats // 2))
    rows += _upload_rows(path, repeats)
    return rows


def _upload_only(workdir: Path, size_mb: int, repeats: int) -> list[dict[str, Any]]:
    """Only the upload rows (the data set is made once and kept in ``workdir``)."""
    path = workdir / f"chat-{size_mb}mb.jsonl"
    if not path.exists() or path.stat().st_size < size_mb * 1024 * 1024 * 0.99:
        make_chat_dataset(path, size_mb * 1024 * 1024)
    return _upload_rows(path, repeats)


if __name__ == "__main__":
    # BENCH_SIZE_MB (default 500), BENCH_REPEAT (default 5), BENCH_ONLY=upload for the upload rows alone.
    size = int(os.environ.get("BENCH_SIZE_MB", sys.argv[2] if len(sys.argv) > 2 else "500"))
    repeat = int(os.environ.get("BENCH_REPEAT", "5"))
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/out")
    out.mkdir(parents=True, exist_ok=True)
    if os.environ.get("BENCH_ONLY") == "upload":
        rows = _upload_only(out, size, repeat)
    else:
        rows = run(out, size_mb=size, repeats=repeat)
    for row in rows:
        print(row)
