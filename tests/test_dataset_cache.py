"""The dataset verdict cache at scale and under concurrency: no cliff, O(1) misses, a bound, never a wrong verdict.

Entries are filled through ``cache.store`` with the stat of real files (or of one file under many paths, which
is what a big stack looks like to the cache), and read back through ``validate_file``, the provider's path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from pulumi_aoai_finetuning.datasets import DatasetReport, validate_file
from pulumi_aoai_finetuning.datasets import cache as ds_cache
from pulumi_aoai_finetuning.datasets import validate as ds_validate

GOOD = [
    {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]} for i in range(12)
]
BAD_WEIGHT = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 7}]}


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private cache directory and an empty in-process cache for every test."""
    monkeypatch.setenv("AOAI_FT_CACHE_DIR", str(tmp_path / "cache"))
    ds_cache._MEMORY.clear()
    yield tmp_path / "cache" / "datasets"
    ds_cache._MEMORY.clear()


def _aged(path: Path, seconds: int = 3600) -> Path:
    past = time.time_ns() - seconds * 10**9
    os.utime(path, ns=(past, past))
    return path


def _dataset(path: Path, bad_at: int | None = None, extra: int = 0) -> Path:
    lines = [*GOOD, *GOOD[:extra]]
    if bad_at is not None:
        lines[bad_at - 1] = BAD_WEIGHT
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return _aged(path)


class CountingScan:
    """Counts how often a file is actually read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.real = ds_validate._scan
        monkeypatch.setattr(ds_validate, "_scan", self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.real(*args, **kwargs)


def _snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file in the cache directory with its size, mtime and inode."""
    out = {}
    for item in os.scandir(folder):
        st = item.stat()
        out[item.name] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def _fill(source: Path, count: int) -> tuple[os.stat_result, DatasetReport]:
    """``count`` entries: the verdict on ``source`` stored under ``count`` distinct paths."""
    st = source.stat()
    report = validate_file(source, use_cache=False)
    for i in range(count):
        ds_cache.store(f"{source}.{i}", st, st, 20, report)
    return st, report


def test_the_cache_holds_10000_datasets_and_a_miss_writes_one_small_entry(tmp_path: Path, cache_dir: Path) -> None:
    """10,000 verdicts all survive and are served from disk; the next miss creates one entry and touches no other."""
    source = _dataset(tmp_path / "source.jsonl")
    st, report = _fill(source, 10_000)
    assert ds_cache.usage()[0] == 10_000
    ds_cache._MEMORY.clear()
    stamp = ds_cache.Stamp.of(st)
    served = sum(ds_cache.lookup(f"{source}.{i}", stamp, 20) == report for i in range(0, 10_000, 7))
    assert served == len(range(0, 10_000, 7))  # every one probed, from disk: no cliff past 64
    for count in (10_000, 10_001):  # two misses, so one of them is not the one that triggers a sweep
        before = _snapshot(cache_dir)
        fresh = _dataset(tmp_path / f"new-{count}.jsonl")
        assert validate_file(fresh).ok
        after = _snapshot(cache_dir)
        created = set(after) - set(before)
        changed = {name for name in set(after) & set(before) if after[name] != before[name]}
        removed = set(before) - set(after)
        entry = ds_cache.entry_file(os.path.abspath(fresh)).name
        assert created - {ds_cache._JOURNAL} == {entry}
        assert changed <= {ds_cache._JOURNAL}  # one byte appended to the miss journal
        assert removed <= {ds_cache._JOURNAL}  # a sweep claims the journal; it evicts nothing under the bound
        assert after[entry][0] < 2048  # the bytes written by the miss: one small entry, whatever the count
    assert ds_cache.usage()[0] == 10_002


def test_each_part_of_the_stamp_invalidates(tmp_path: Path) -> None:
    """A verdict is served only for the same size, mtime, inode and ctime: a change in any one is a miss."""
    source = _dataset(tmp_path / "train.jsonl")
    st = source.stat()
    report = validate_file(source, use_cache=False)
    key = os.path.abspath(source)
    ds_cache.store(key, st, st, 20, report)
    ds_cache._MEMORY.clear()
    stamp = ds_cache.Stamp.of(st)
    assert ds_cache.lookup(key, stamp, 20) == report
    for field in ("size", "mtime_ns", "ino", "ctime_ns"):
        other = ds_cache.Stamp(**{**stamp.__dict__, field: getattr(stamp, field) + 1})
        assert ds_cache.lookup(key, other, 20) is None, field


def test_a_changed_file_is_validated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same size with a new mtime, or the same mtime with a new size: the file is read again, the new verdict given."""
    path = _dataset(tmp_path / "train.jsonl")
    scans = CountingScan(monkeypatch)
    assert validate_file(path).ok
    mtime = path.stat().st_mtime_ns
    _dataset(path, bad_at=3)  # same size (weight 7 for nothing), new content, a new mtime
    assert path.stat().st_size == len(path.read_bytes())
    report = validate_file(path)
    assert [(e.rule, e.line) for e in report.errors] == [("chat.weight", 3)]
    _dataset(path, bad_at=5, extra=1)  # one more line, and the mtime of the first version
    os.utime(path, ns=(mtime, mtime))
    report = validate_file(path)
    assert [(e.rule, e.line) for e in report.errors] == [("chat.weight", 5)]
    assert report.examples == 12
    assert scans.calls == 3
    assert validate_file(path) == report  # and that verdict is cached in turn
    assert scans.calls == 3


def test_eviction_keeps_the_bound_least_recently_used_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path
) -> None:
    """With a bound of 30 entries' worth: it holds after every sweep, recently used entries stay, old ones go."""
    source = _dataset(tmp_path / "train.jsonl")
    st, report = _fill(source, 1)
    entry_size = ds_cache.usage()[1]
    monkeypatch.setattr(ds_cache, "_MAX_BYTES", 30 * entry_size + entry_size // 2)
    monkeypatch.setattr(ds_cache, "_SWEEP_EVERY", 10)
    old = time.time() - 7200
    for i in range(200):
        ds_cache.store(f"{source}.{i}", st, st, 20, report)
        os.utime(ds_cache.entry_file(f"{source}.{i}"), (old + i, old + i))  # a distinct, known recency
        count, total = ds_cache.usage()
        assert total <= ds_cache._MAX_BYTES + ds_cache._SWEEP_EVERY * (entry_size + 64)
        assert count <= 30 + ds_cache._SWEEP_EVERY
    ds_cache.sweep()
    count, total = ds_cache.usage()
    assert total <= ds_cache._MAX_BYTES
    assert count == 30
    assert {i for i in range(200) if ds_cache.entry_file(f"{source}.{i}").exists()} == set(range(170, 200))
    ds_cache._MEMORY.clear()
    assert ds_cache.lookup(f"{source}.170", ds_cache.Stamp.of(st), 20) == report  # a hit: now the most recent
    ds_cache.store(f"{source}.200", st, st, 20, report)
    ds_cache.sweep()
    kept = {i for i in range(201) if ds_cache.entry_file(f"{source}.{i}").exists()}
    assert kept == {170, *range(172, 201)}  # the least recently used one went, not the oldest written
    os.utime(ds_cache.entry_file(f"{source}.199"), (old - 100 * 86400, old - 100 * 86400))
    ds_cache.sweep()
    assert not ds_cache.entry_file(f"{source}.199").exists()  # unused for longer than the age bound


def test_threads_writing_reading_and_sweeping_never_get_a_wrong_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path
) -> None:
    """Eight threads validate the same twelve files, good and bad, dropping their memory, while sweeps evict."""
    files = [_dataset(tmp_path / f"t{i}.jsonl", bad_at=None if i % 3 else 1 + i % 12) for i in range(12)]
    expected = {str(f): validate_file(f, use_cache=False) for f in files}
    monkeypatch.setattr(ds_cache, "_SWEEP_EVERY", 3)
    monkeypatch.setattr(ds_cache, "_MAX_BYTES", 5 * 700)  # a handful of entries: evictions all along
    wrong: list[str] = []

    def work(seed: int) -> None:
        for round_ in range(40):
            for f in files[seed % 12 :] + files[: seed % 12]:
                if (round_ + seed) % 2:
                    with ds_cache._LOCK:
                        ds_cache._MEMORY.pop(os.path.abspath(f), None)
                got = validate_file(f, max_errors=1 + (round_ % 3))
                if (got.errors, got.sha256, got.examples) != (
                    expected[str(f)].errors[:1],
                    expected[str(f)].sha256,
                    expected[str(f)].examples,
                ):
                    wrong.append(f"{f}: {got}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    for entry in cache_dir.glob("*.json"):  # whatever is left on disk is whole and readable
        assert orjson.loads(entry.read_bytes())["version"] == ds_cache._VERSION


CHILD = """
import json, os, sys
from pulumi_aoai_finetuning.datasets import cache, validate_file
cache._SWEEP_EVERY = 4
cache._MAX_BYTES = 6 * 700
expected = json.loads(open(sys.argv[1]).read())
wrong = 0
for round_ in range(25):
    cache._MEMORY.clear()
    for path, (rules, sha256, examples) in sorted(expected.items(), key=lambda kv: (kv[0] > sys.argv[2], kv[0])):
        got = validate_file(path)
        if ([[e.rule, e.line] for e in got.errors], got.sha256, got.examples) != (rules, sha256, examples):
            wrong += 1
print(wrong)
"""


def test_processes_sharing_the_cache_never_get_a_wrong_verdict(tmp_path: Path, cache_dir: Path) -> None:
    """Three processes (three stacks) validate the same files from the shared disk cache, sweeping as they go."""
    files = [_dataset(tmp_path / f"p{i}.jsonl", bad_at=None if i % 2 else 1 + i) for i in range(10)]
    expected = {}
    for f in files:
        report = validate_file(f, use_cache=False)
        expected[str(f)] = [[[e.rule, e.line] for e in report.errors], report.sha256, report.examples]
    spec = tmp_path / "expected.json"
    spec.write_text(json.dumps(expected))
    env = {**os.environ, "AOAI_FT_CACHE_DIR": str(cache_dir.parent)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(spec), str(files[i * 3])], env=env, stdout=subprocess.PIPE, text=True
        )
        for i in range(3)
    ]
    outputs = [child.communicate(timeout=240)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0, 0]
    assert [out.strip() for out in outputs] == ["0", "0", "0"]
    for entry in cache_dir.glob("*.json"):
        assert orjson.loads(entry.read_bytes())["version"] == ds_cache._VERSION
    assert not list(cache_dir.glob(".entry-*.tmp"))  # no writer left half an entry behind
