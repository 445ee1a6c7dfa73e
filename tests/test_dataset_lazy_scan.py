"""A cache hit imports nothing of the scan: a no-op preview's plugin does not pay for msgspec and the checkers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

CODE = """
import json, sys
from pulumi_aoai_finetuning.datasets import validate_file
report = validate_file(sys.argv[1])
loaded = sorted(m for m in sys.modules if m.endswith(".datasets.scan") or m == "msgspec")
print(json.dumps({"examples": report.examples, "ok": report.ok, "loaded": loaded}))
"""


def _validate_in_new_process(path: Path, cache: Path) -> dict[str, object]:
    env = {**os.environ, "AOAI_FT_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", CODE, str(path)], capture_output=True, env=env, check=True, timeout=60)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_miss_scans_and_a_hit_in_a_new_process_imports_no_scan(tmp_path: Path) -> None:
    """The first process reads the file (the scan is imported); the next answers from the disk cache without it."""
    lines = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
        for i in range(12)
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    old = time.time() - 3600  # a file written just now is not cached (it may change again within the mtime tick)
    os.utime(path, (old, old))
    cache = tmp_path / "cache"

    miss = _validate_in_new_process(path, cache)
    hit = _validate_in_new_process(path, cache)

    assert miss == {"examples": 12, "ok": True, "loaded": ["msgspec", "pulumi_aoai_finetuning.datasets.scan"]}
    assert hit == {"examples": 12, "ok": True, "loaded": []}
