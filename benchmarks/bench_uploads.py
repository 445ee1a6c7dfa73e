"""Upload in parts (the Uploads API) vs one request, by part size: what choosing the part size costs.

One emulator process, our client in this process. Each round uploads the same dataset once in one request and
once per part size, in a rotating order (interleaved, so drifts of a busy machine hit every variant alike);
each figure is the ratio of a variant's time to the single request's time in the same round, reported as the
median and the minimum over the rounds.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

from pulumi_aoai_finetuning.client import ApiKeyAuth, DataPlaneClient
from pulumi_aoai_finetuning.client.uploads import DEFAULT_PART_BYTES, upload_in_parts

from ._emulator import emulator_process
from .report import print_rows
from .sample_data import make_chat_dataset

MB = 1024 * 1024
PART_SIZES_MB = (4, 8, 16, 32)
GOAL = 1.15  # a part size is good enough when parts cost at most 15 % over one request at the median


def _timed(client: DataPlaneClient, path: Path, part_mb: int | None) -> float:
    started = time.perf_counter()
    if part_mb is None:
        file = client.upload_file(path, "bench.jsonl", "fine-tune")
    else:
        file = upload_in_parts(client, path, "bench.jsonl", "fine-tune", part_size=part_mb * MB)
    elapsed = time.perf_counter() - started
    client.delete_file(file["id"])
    return elapsed


def run(
    workdir: Path, size_mb: int = 64, repeats: int = 5, part_sizes: tuple[int, ...] = PART_SIZES_MB
) -> list[dict[str, Any]]:
    """Measure one request and each part size side by side; return the figures as rows."""
    path = workdir / f"chat-{size_mb}mb.jsonl"
    if not path.exists() or path.stat().st_size < size_mb * MB * 0.99:
        make_chat_dataset(path, size_mb * MB)
    variants: list[int | None] = [None, *part_sizes]
    times: dict[int | None, list[float]] = {v: [] for v in variants}
    ratios: dict[int, list[float]] = {p: [] for p in part_sizes}
    with emulator_process("--timing", "file_processing=86400") as (_url, account):
        client = DataPlaneClient(account["endpoint"], ApiKeyAuth(account["keys"][0]))
        try:
            _timed(client, path, None)  # warm-up: connections, page cache
            for round_ in range(repeats):
                order = variants[round_ % len(variants) :] + variants[: round_ % len(variants)]
                for variant in order:
                    times[variant].append(_timed(client, path, variant))
                for part in part_sizes:
                    ratios[part].append(times[part][-1] / times[None][-1])
        finally:
            client.close()
    size = path.stat().st_size / MB
    single = statistics.median(times[None])
    rows: list[dict[str, Any]] = [
        {
            "figure": f"upload {size:.0f} MB in one request (baseline), median of {repeats} (min {min(times[None]):.3f} s)",
            "ours": round(single, 3),
            "baseline": round(single, 3),
            "unit": "s",
            "ratio": 1.0,
            "goal": "reported",
            "met": True,
        }
    ]
    for part in part_sizes:
        median = statistics.median(ratios[part])
        parts = -(-int(path.stat().st_size) // (part * MB))
        default = " (the default)" if part * MB == DEFAULT_PART_BYTES else ""
        rows.append(
            {
                "figure": (
                    f"upload {size:.0f} MB in {parts} parts of {part} MB{default} / one request, median of {repeats} "
                    f"interleaved (ratio min {min(ratios[part]):.2f}); a dropped connection re-sends <= {part} MB"
                ),
                "ours": round(statistics.median(times[part]), 3),
                "baseline": round(single, 3),
                "unit": "s",
                "ratio": round(median, 3),
                "goal": f"<= {GOAL}",
                "met": median <= GOAL,
            }
        )
    return rows


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/out")
    out.mkdir(parents=True, exist_ok=True)
    size_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    print_rows(run(out, size_mb=size_mb, repeats=repeats))
