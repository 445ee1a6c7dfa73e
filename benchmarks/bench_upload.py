"""Upload of a large chat dataset: our streamed upload (what TrainingFile runs) vs openai-python's files.create.

Each side runs in a fresh process against the same emulator process, alternating, N rounds reported as the median (with the range of the ratio); peak memory is
the growth of the process's resident set during the upload (sampled every 2 ms) over its size just before.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2

from ._emulator import emulator_process
from .sample_data import make_chat_dataset

# One probe for both clients: it measures the upload call only, after imports and client setup.
PROBE = """
import json, os, sys, threading, time
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
peak = [0]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.002)
endpoint, key, path = sys.argv[1:4]
{setup}
before = rss()
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
file_id = upload()
elapsed = time.perf_counter() - t0
stop.set()
print(json.dumps({{"seconds": elapsed, "rss_growth_mb": (max(peak[0], rss()) - before) / 2**20, "id": file_id}}))
"""

OURS = PROBE.format(
    setup="""
from pulumi_aoai_finetuning.client import ApiKeyAuth, DataPlaneClient
client = DataPlaneClient(endpoint, ApiKeyAuth(key), api_version="2024-10-21")
def upload():
    return client.upload_file(path, "bench.jsonl", "fine-tune")["id"]
"""
)

THEIRS = PROBE.format(
    setup="""
import openai
client = openai.AzureOpenAI(azure_endpoint=endpoint, api_key=key, api_version="2024-10-21", max_retries=0)
def upload():
    with open(path, "rb") as fh:
        return client.files.create(file=fh, purpose="fine-tune").id
"""
)


def _run(code: str, account: dict[str, Any], path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", code, account["endpoint"], account["keys"][0], str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    httpx2.delete(
        f"{account['endpoint']}openai/files/{result['id']}",
        params={"api-version": "2024-10-21"},
        headers={"api-key": account["keys"][0]},
    )
    return result


def run(workdir: Path, size_mb: int = 500, repeats: int = 3) -> list[dict[str, Any]]:
    """Measure both uploads side by side; return the figures as rows."""
    path = workdir / f"chat-{size_mb}mb.jsonl"
    if not path.exists() or path.stat().st_size < size_mb * 1024 * 1024 * 0.99:
        make_chat_dataset(path, size_mb * 1024 * 1024)
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    with emulator_process("--timing", "file_processing=86400") as (_url, account):
        for _ in range(repeats):
            ours.append(_run(OURS, account, path))
            theirs.append(_run(THEIRS, account, path))
    ratios = sorted(o["seconds"] / t["seconds"] for o, t in zip(ours, theirs, strict=True))
    median_ours = statistics.median(r["seconds"] for r in ours)
    median_theirs = statistics.median(r["seconds"] for r in theirs)
    median_ratio = statistics.median(ratios)
    mem_ours = max(r["rss_growth_mb"] for r in ours)
    mem_theirs = max(r["rss_growth_mb"] for r in theirs)
    size = path.stat().st_size / 1024 / 1024
    return [
        {
            "figure": (
                f"upload {size:.0f} MB: time, ours / openai files.create, median of {repeats} interleaved rounds "
                f"(ratio min {ratios[0]:.2f}, max {ratios[-1]:.2f})"
            ),
            "ours": round(median_ours, 3),
            "baseline": round(median_theirs, 3),
            "unit": "s",
            "ratio": round(median_ratio, 3),
            "goal": "<= 0.7",
            "met": median_ratio <= 0.7,
        },
        {
            "figure": f"upload {size:.0f} MB: peak memory growth (worst of {repeats})",
            "ours": round(mem_ours, 1),
            "baseline": round(mem_theirs, 1),
            "unit": "MB",
            "ratio": round(mem_ours / mem_theirs, 3) if mem_theirs else None,
            "goal": "<= 32 MB",
            "met": mem_ours <= 32,
        },
    ]


if __name__ == "__main__":
    for row in run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/out")):
        print(row)
