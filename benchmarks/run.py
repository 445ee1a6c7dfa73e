"""Run every benchmark side by side and write the figures into benchmarks/README.md.

Usage: ``make bench`` (``BENCH_SIZE_MB`` sets the dataset size, default 500).
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import (  # noqa: E402
    bench_cache,
    bench_check_diff,
    bench_concurrency,
    bench_emulator,
    bench_stack,
    bench_tokens,
    bench_upload,
    bench_uploads,
    bench_validate,
    bench_wait,
)

MARK = "<!-- results -->"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value and abs(value) < 0.01:
            return f"{value:.2g}"
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    """Rows as a Markdown table."""
    lines = ["| figure | ours | baseline | unit | ratio | goal | met |", "|---|---:|---:|---|---:|---|---|"]
    for r in rows:
        met = "yes" if r["met"] else "**no**"
        # A row timed by its minimum also carries its median ratio: both are shown, never the best round alone.
        ratio = _fmt(r["ratio"]) + (f" (median {_fmt(r['ratio_median'])})" if r.get("ratio_median") is not None else "")
        lines.append(
            f"| {r['figure']} | {_fmt(r['ours'])} | {_fmt(r['baseline'])} | {r['unit']} | {ratio} | {r['goal']} | {met} |"
        )
    return "\n".join(lines)


def main() -> int:
    """Run all benchmarks and update the README's results section."""
    size_mb = int(os.environ.get("BENCH_SIZE_MB", "500"))
    workdir = HERE / "out"
    workdir.mkdir(exist_ok=True)
    sections = []
    started = time.perf_counter()
    for title, bench in (
        ("Validate and hash (datasets/)", lambda: bench_validate.run(workdir, size_mb=size_mb)),
        (
            "Upload (TrainingFile's streamed upload vs openai-python)",
            lambda: bench_upload.run(workdir, size_mb=size_mb),
        ),
        ("Upload in parts by part size (client/uploads.py)", lambda: bench_uploads.run(workdir)),
        ("No-op preview (check + diff, warm cache)", lambda: bench_check_diff.run(workdir, size_mb=size_mb)),
        ("Waiting on a job (FineTuningJob's poller)", lambda: bench_wait.run(workdir)),
        (
            "Emulator speed (vs a trivial uvicorn app, a raw socket sink)",
            lambda: bench_emulator.run(workdir, size_mb=size_mb),
        ),
        ("Verdict cache (datasets/cache.py)", lambda: bench_cache.run(workdir)),
        ("Many jobs waiting in one plugin (plugin_threads.py)", lambda: bench_concurrency.run(workdir)),
        ("Token counting next to validation (tokens.py)", lambda: bench_tokens.run(workdir, size_mb=size_mb)),
        ("Stack scaling through the program harness", lambda: bench_stack.run(workdir)),
    ):
        print(f"== {title}", flush=True)
        rows = bench()
        for row in rows:
            print(
                f"   {row['figure']}: ours {row['ours']} vs {row['baseline']} {row['unit']}, "
                f"ratio {row['ratio']}, goal {row['goal']}, met {row['met']}",
                flush=True,
            )
        sections.append(f"### {title}\n\n{table(rows)}\n")
    header = (
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, dataset {size_mb} MB, "
        f"in {time.perf_counter() - started:.0f} s (`make bench`).\n"
    )
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else f"# Benchmarks\n\n{MARK}\n"
    before = text.split(MARK)[0]
    readme.write_text(f"{before}{MARK}\n\n{header}\n" + "\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
