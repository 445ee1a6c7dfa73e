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
PART_SIZES_MB = (8, 16, 32, 64)
# What our code adds for the default part size: its CPU within 25 % of one request's. The wall time is reported:
# on loopback it is mostly the emulator's own work (writing each part, then joining them at /complete).
GOAL = 1.25


class _CompleteTimer:
    """Wraps ``complete_upload`` to time it: how long the emulator takes to join the parts."""

    def __init__(self, client: DataPlaneClient) -> None:
        self.inner, self.seconds = client.complete_upload, 0.0
        client.complete_upload = self  # type: ignore[method-assign]

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


def _timed(client: DataPlaneClient, path: Path, part_mb: int | None) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds (our client alone: the emulator is another process)."""
    started, cpu = time.perf_counter(), time.process_time()
    if part_mb is None:
        file = client.upload_file(path, "bench.jsonl", "fine-tune")
    else:
        file = upload_in_parts(client, path, "bench.jsonl", "fine-tune", part_size=part_mb * MB)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    client.delete_file(file["id"])
    return elapsed, cpu


def run(
    workdir: Path, size_mb: int = 128, repeats: int = 5, part_sizes: tuple[int, ...] = PART_SIZES_MB
) -> list[dict[str, Any]]:
    """Measure one request and each part size side by side; return the figures as rows."""
    path = workdir / f"chat-{size_mb}mb.jsonl"
    if not path.exists() or path.stat().st_size < size_mb * MB * 0.99:
        make_chat_dataset(path, size_mb * MB)
    variants: list[int | None] = [None, *part_sizes]
    wall: dict[int | None, list[float]] = {v: [] for v in variants}
    cpu: dict[int | None, list[float]] = {v: [] for v in variants}
    joins: dict[int | None, list[float]] = {v: [] for v in variants}
    with emulator_process("--timing", "file_processing=86400") as (_url, account):
        client = DataPlaneClient(account["endpoint"], ApiKeyAuth(account["keys"][0]))
        timer = _CompleteTimer(client)
        try:
            _timed(client, path, None)  # warm-up: connections, page cache
            for round_ in range(repeats):
                shift = round_ % len(variants)
                for variant in variants[shift:] + variants[:shift]:
                    timer.seconds = 0.0
                    seconds, cpu_seconds = _timed(client, path, variant)
                    joins[variant].append(timer.seconds)
                    wall[variant].append(seconds)
                    cpu[variant].append(cpu_seconds)
        finally:
            client.close()
    size = path.stat().st_size / MB
    single, single_cpu = statistics.median(wall[None]), statistics.median(cpu[None])
    rows: list[dict[str, Any]] = [
        {
            "figure": f"upload {size:.0f} MB in one request (baseline), median of {repeats} (min {min(wall[None]):.3f} s)",
            "ours": round(single, 3),
            "baseline": round(single, 3),
            "unit": "s",
            "ratio": 1.0,
            "goal": "reported",
            "met": True,
        }
    ]
    for part in part_sizes:
        ratios = [p / s for p, s in zip(wall[part], wall[None], strict=True)]
        cpu_ratios = [p / s for p, s in zip(cpu[part], cpu[None], strict=True)]
        median = statistics.median(ratios)
        parts = -(-int(path.stat().st_size) // (part * MB))
        default = part * MB == DEFAULT_PART_BYTES
        join = statistics.median(joins[part])
        rows.append(
            {
                "figure": (
                    f"upload {size:.0f} MB in {parts} parts of {part} MB{' (the default)' if default else ''} / one "
                    f"request, wall, median of {repeats} interleaved (ratio min {min(ratios):.2f}; of it, "
                    f"{join:.3f} s in /complete joining the parts); a dropped connection re-sends <= {part} MB"
                ),
                "ours": round(statistics.median(wall[part]), 3),
                "baseline": round(single, 3),
                "unit": "s",
                "ratio": round(median, 3),
                "goal": "reported",
                "met": True,
            }
        )
        cpu_median = statistics.median(cpu_ratios)
        rows.append(
            {
                "figure": f"  the same, our client's CPU, median (ratio min {min(cpu_ratios):.2f})",
                "ours": round(statistics.median(cpu[part]), 3),
                "baseline": round(single_cpu, 3),
                "unit": "CPU s",
                "ratio": round(cpu_median, 3),
                "goal": f"<= {GOAL}" if default else "reported",
                "met": cpu_median <= GOAL if default else True,
            }
        )
    return rows


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/out")
    out.mkdir(parents=True, exist_ok=True)
    size_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    print_rows(run(out, size_mb=size_mb, repeats=repeats))
