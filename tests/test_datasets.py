"""The dataset validator: its rules (corpus-driven), its hash, its cache and its fast paths.

The corpus in ``tests/data`` is shared with other tools (the ``aoai-ft validate`` CLI): ``bad/EXPECTED.json``
maps each bad file to the one rule it breaks and the line where it does; ``good/EXPECTED.json`` gives each
good file's format and example count.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from pulumi_aoai_finetuning.datasets import (
    MAX_BYTES,
    MIN_EXAMPLES,
    RULES,
    DatasetError,
    DatasetReport,
    quick,
    rules,
    sha256_file,
    typed,
    validate_file,
)
from pulumi_aoai_finetuning.datasets import cache as ds_cache
from pulumi_aoai_finetuning.datasets import scan as ds_scan
from pulumi_aoai_finetuning.datasets import validate as ds_validate

DATA = Path(__file__).parent / "data"
BAD = json.loads((DATA / "bad" / "EXPECTED.json").read_text())
GOOD = json.loads((DATA / "good" / "EXPECTED.json").read_text())

PLAIN = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own disk cache and an empty in-process cache, so no verdict leaks between tests."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("AOAI_FT_CACHE_DIR", str(cache))
    ds_cache._MEMORY.clear()
    yield cache
    ds_cache._MEMORY.clear()


def age(path: Path, seconds: int = 3600) -> None:
    """Backdate a file: the cache does not trust a file modified in the last moments (see _RACY_NS)."""
    past = time.time_ns() - seconds * 10**9
    os.utime(path, ns=(past, past))


def write_lines(path: Path, lines: list[Any], *, final_newline: bool = True) -> Path:
    """Write examples (objects are JSON-encoded, strings written as they are) one per line."""
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + ("\n" if final_newline else ""), encoding="utf-8")
    return path


def chat(i: int) -> dict[str, Any]:
    """A valid, distinct chat example."""
    return {
        "messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]
    }


class CountingScan:
    """Wraps the module's scan to count how often the file is actually read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.real = ds_validate._scan
        monkeypatch.setattr(ds_validate, "_scan", self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.real(*args, **kwargs)


# --- the corpus ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_file_reports_its_one_rule_at_its_line(name: str) -> None:
    """Each corpus file breaks exactly one rule; the report names it, the line, and a fix, as `file:line: rule`."""
    expected = BAD[name]
    path = str(DATA / "bad" / name)
    report = validate_file(path, use_cache=False, **expected.get("options", {}))
    assert not report.ok
    assert [(e.rule, e.line) for e in report.errors] == [(expected["rule"], expected["line"])]
    error = report.errors[0]
    where = path if expected["line"] is None else f"{path}:{expected['line']}"
    assert str(error).startswith(f"{where}: {expected['rule']}: ")
    assert error.path == path
    assert error.fix == RULES[error.rule]
    assert error.fix in str(error)
    assert error.message


def test_bad_corpus_has_one_file_per_rule_and_covers_every_rule_a_file_can_break() -> None:
    """At least 30 bad files, each on a distinct rule, and every rule except the file.* ones has a file."""
    rules = [expected["rule"] for expected in BAD.values()]
    assert len(rules) >= 30
    assert len(set(rules)) == len(rules)
    on_disk = {p.name for p in (DATA / "bad").glob("*.jsonl")}
    assert on_disk == set(BAD)
    assert set(rules) == {rule for rule in RULES if not rule.startswith("file.")}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_files_pass_with_their_format_count_and_hash(name: str) -> None:
    """A good file is ok, with the right format and example count, and the sha256 hashlib computes."""
    path = DATA / "good" / name
    data = path.read_bytes()
    report = validate_file(path, use_cache=False)
    assert report.errors == ()
    assert report.ok
    assert report.truncated is False
    assert report.format == GOOD[name]["format"]
    assert report.examples == GOOD[name]["examples"]
    assert report.size == len(data)
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert 0 < report.tokens_estimate <= len(data) // 4


def test_good_corpus_covers_bom_crlf_images_tools_weights_and_every_format() -> None:
    """The good corpus exercises what the brief asks for, so passing it means something."""
    texts = {name: (DATA / "good" / name).read_bytes() for name in GOOD}
    assert texts["chat_bom_crlf.jsonl"].startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in texts["chat_bom_crlf.jsonl"]
    assert not texts["chat_bom_crlf.jsonl"].endswith(b"\n")
    assert b'"image_url"' in texts["chat_images.jsonl"]
    assert b"data:image/png;base64," in texts["chat_images.jsonl"]
    assert b'"tool_calls"' in texts["chat_tools.jsonl"]
    assert b'"tools"' in texts["chat_tools.jsonl"]
    assert b'"weight": 0' in texts["chat_multiturn.jsonl"]
    assert {GOOD[name]["format"] for name in GOOD} == {"chat", "completion", "preference"}


# --- more cases per rule ---------------------------------------------------------------------------------------

VARIANTS: list[tuple[str, Any, str]] = [
    (
        "weight on user, valid value",
        {"messages": [{"role": "user", "content": "a", "weight": 1}, {"role": "assistant", "content": "b"}]},
        "chat.weight-role",
    ),
    (
        "weight 2 after weight 0",
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b", "weight": 0},
                {"role": "user", "content": "c"},
                {"role": "assistant", "content": "d", "weight": 2},
            ]
        },
        "chat.weight",
    ),
    (
        "unknown third key on assistant",
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b", "wieght": 1},
                {"role": "user", "content": "c"},
                {"role": "assistant", "content": 5},
            ]
        },
        "chat.content-type",
    ),
    (
        "weight true",
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": True}]},
        "chat.weight",
    ),
    (
        "weight 1.0",
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 1.0}]},
        "chat.weight",
    ),
    (
        "weight null",
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": None}]},
        "chat.weight",
    ),
    (
        "weight on system",
        {"messages": [{"role": "system", "content": "s", "weight": 0}, {"role": "assistant", "content": "b"}]},
        "chat.weight-role",
    ),
    ("role missing", {"messages": [{"content": "a"}, {"role": "assistant", "content": "b"}]}, "chat.role"),
    (
        "role function",
        {"messages": [{"role": "function", "content": "a"}, {"role": "assistant", "content": "b"}]},
        "chat.role",
    ),
    (
        "role not a string",
        {"messages": [{"role": ["user"], "content": "a"}, {"role": "assistant", "content": "b"}]},
        "chat.role",
    ),
    ("messages an object", {"messages": {"role": "user", "content": "a"}}, "chat.messages-missing"),
    ("messages null", {"messages": None}, "chat.messages-missing"),
    (
        "content null",
        {"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "b"}]},
        "chat.content-missing",
    ),
    (
        "assistant with neither",
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant"}]},
        "chat.content-missing",
    ),
    (
        "content empty list",
        {"messages": [{"role": "user", "content": []}, {"role": "assistant", "content": "b"}]},
        "chat.content-type",
    ),
    (
        "content object",
        {"messages": [{"role": "user", "content": {"text": "a"}}, {"role": "assistant", "content": "b"}]},
        "chat.content-type",
    ),
    (
        "text part without text",
        {"messages": [{"role": "user", "content": [{"type": "text"}]}, {"role": "assistant", "content": "b"}]},
        "chat.content-part-type",
    ),
    (
        "part not an object",
        {"messages": [{"role": "user", "content": ["a"]}, {"role": "assistant", "content": "b"}]},
        "chat.content-part-type",
    ),
    (
        "image ftp url",
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/a.png"}}]},
                {"role": "assistant", "content": "b"},
            ]
        },
        "chat.image-url",
    ),
    (
        "image without url",
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {}}]},
                {"role": "assistant", "content": "b"},
            ]
        },
        "chat.image-url",
    ),
    (
        "image detail null",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": None}}],
                },
                {"role": "assistant", "content": "b"},
            ]
        },
        "chat.image-detail",
    ),
    (
        "tool_calls on user",
        {"messages": [{"role": "user", "content": "a", "tool_calls": []}, {"role": "assistant", "content": "b"}]},
        "chat.tool-calls",
    ),
    (
        "tool_calls empty",
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "tool_calls": []}]},
        "chat.tool-calls",
    ),
    (
        "tool call without name",
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "tool_calls": [{"type": "function", "function": {"arguments": "{}"}}]},
            ]
        },
        "chat.tool-calls",
    ),
    ("tools not a list", {"messages": PLAIN["messages"], "tools": {"type": "function"}}, "chat.tools"),
    (
        "tool parameters a string",
        {"messages": PLAIN["messages"], "tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}]},
        "chat.tools",
    ),
    ("no assistant, user last", {"messages": [{"role": "user", "content": "a"}]}, "chat.no-assistant"),
    ("line is a string", '"just text"', "json.not-object"),
    ("line is a number", "42", "json.not-object"),
    ("empty object", "{}", "format.unknown"),
    ("truncated line", '{"messages": [{"role": "user", "content": "a', "json.syntax"),
    ("two objects on a line", json.dumps(PLAIN) + json.dumps(PLAIN), "json.syntax"),
    ("single quotes", "{'messages': []}", "json.syntax"),
    ("whitespace-only line", "   \t", "line.blank"),
]


@pytest.mark.parametrize("before", [10, 6000], ids=["first-chunk", "later-chunk"])
@pytest.mark.parametrize(("line", "rule"), [(line, rule) for _, line, rule in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_rule_variants_are_caught_at_their_line(tmp_path: Path, line: Any, rule: str, before: int) -> None:
    """Other ways to break the rules, after 10 good lines (detailed checks) or 6000 (the fast paths' territory)."""
    path = write_lines(tmp_path / "train.jsonl", [*[chat(i) for i in range(before)], line, chat(0)])
    assert before < 100 or path.stat().st_size > 2 * ds_scan._CHUNK
    report = validate_file(path, use_cache=False)
    assert [(e.rule, e.line) for e in report.errors] == [(rule, before + 1)]
    assert report.examples == before + 1


COMPLETION_AND_PREFERENCE_VARIANTS: list[tuple[str, Any, str]] = [
    ("prompt missing", {"completion": " yes"}, "completion.prompt-type"),
    ("completion whitespace", {"prompt": "a", "completion": "  \n"}, "completion.empty"),
    ("input without messages", {"input": {}, "preferred_output": [], "non_preferred_output": []}, "preference.input"),
    (
        "output message not an object",
        {
            "input": {"messages": [{"role": "user", "content": "q"}]},
            "preferred_output": ["a"],
            "non_preferred_output": [{"role": "assistant", "content": "b"}],
        },
        "chat.message-type",
    ),
    (
        "output content a number",
        {
            "input": {"messages": [{"role": "user", "content": "q"}]},
            "preferred_output": [{"role": "assistant", "content": 1}],
            "non_preferred_output": [{"role": "assistant", "content": "b"}],
        },
        "chat.content-type",
    ),
    (
        "non_preferred missing",
        {
            "input": {"messages": [{"role": "user", "content": "q"}]},
            "preferred_output": [{"role": "assistant", "content": "a"}],
        },
        "preference.non-preferred-output",
    ),
    (
        "input role wrong",
        {
            "input": {"messages": [{"role": "human", "content": "q"}]},
            "preferred_output": [{"role": "assistant", "content": "a"}],
            "non_preferred_output": [{"role": "assistant", "content": "b"}],
        },
        "chat.role",
    ),
]


@pytest.mark.parametrize(
    ("line", "rule"),
    [(line, rule) for _, line, rule in COMPLETION_AND_PREFERENCE_VARIANTS],
    ids=[v[0] for v in COMPLETION_AND_PREFERENCE_VARIANTS],
)
def test_completion_and_preference_variants_are_caught(tmp_path: Path, line: Any, rule: str) -> None:
    """The same for the other two formats: the file's own format is set by its first line."""
    fmt = "completion" if rule.startswith("completion") else "preference"
    good = (DATA / "good" / f"{fmt}.jsonl").read_text().splitlines()
    path = write_lines(tmp_path / "train.jsonl", [*good[:10], line])
    report = validate_file(path, use_cache=False)
    assert [(e.rule, e.line) for e in report.errors] == [(rule, 11)]
    assert report.format == fmt


def test_final_newline_is_optional_but_a_trailing_blank_line_is_not(tmp_path: Path) -> None:
    """Lines ending in a newline or not are fine; an empty line after the last newline is a blank line."""
    lines = [chat(i) for i in range(10)]
    assert validate_file(write_lines(tmp_path / "a.jsonl", lines, final_newline=False), use_cache=False).ok
    assert validate_file(write_lines(tmp_path / "b.jsonl", lines), use_cache=False).ok
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    report = validate_file(path, use_cache=False)
    assert [(e.rule, e.line) for e in report.errors] == [("line.blank", 11)]


def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    """A path that does not exist is a file.not-found error naming the path, with no hash."""
    report = validate_file(tmp_path / "nope.jsonl")
    assert [(e.rule, e.line) for e in report.errors] == [("file.not-found", None)]
    assert str(report.errors[0]).startswith(f"{tmp_path / 'nope.jsonl'}: file.not-found: ")
    assert report.sha256 == ""


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    """A directory given as the dataset is a file.not-a-file error."""
    assert [e.rule for e in validate_file(tmp_path).errors] == ["file.not-a-file"]


def test_too_large_is_decided_from_the_size_without_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file at or over max_bytes is refused from its size: the scan never runs."""
    path = write_lines(tmp_path / "train.jsonl", [chat(i) for i in range(10)])
    monkeypatch.setattr(ds_validate, "_scan", lambda *a, **k: pytest.fail("the file was read"))
    report = validate_file(path, max_bytes=path.stat().st_size)
    assert [e.rule for e in report.errors] == ["dataset.too-large"]
    assert report.size == path.stat().st_size


def test_default_limits_are_the_services() -> None:
    """Files must be smaller than 512 MiB and hold at least 10 examples (learn.microsoft.com/azure/ai-foundry/openai/quotas-limits)."""
    assert MAX_BYTES == 512 * 1024 * 1024
    assert MIN_EXAMPLES == 10


def test_min_examples_is_a_parameter(tmp_path: Path) -> None:
    """Ten examples pass the default minimum and fail a minimum of eleven."""
    path = write_lines(tmp_path / "train.jsonl", [chat(i) for i in range(10)])
    assert validate_file(path, use_cache=False).ok
    report = validate_file(path, use_cache=False, min_examples=11)
    assert [e.rule for e in report.errors] == ["dataset.too-few-examples"]
    assert "10 examples" in report.errors[0].message


def test_max_errors_truncates_the_list_but_not_the_counting_or_hashing(tmp_path: Path) -> None:
    """With 30 bad lines and max_errors=5: 5 errors listed, truncated, 15 valid examples counted, full hash."""
    bad = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 2}]}
    lines = [bad if i % 3 else chat(i) for i in range(45)]  # every third line good
    path = write_lines(tmp_path / "train.jsonl", lines)
    report = validate_file(path, max_errors=5, use_cache=False)
    assert len(report.errors) == 5
    assert report.truncated
    assert [e.line for e in report.errors] == [2, 3, 5, 6, 8]
    assert report.examples == 15
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    full = validate_file(path, max_errors=100, use_cache=False)
    assert len(full.errors) == 30
    assert not full.truncated
    with pytest.raises(ValueError, match="max_errors"):
        validate_file(path, max_errors=0)


def test_error_and_report_render_and_round_trip_through_json(tmp_path: Path) -> None:
    """str(DatasetError) is `file:line: rule: message (fix)`; reports survive to_json/from_json unchanged."""
    error = DatasetError("train.jsonl", 12, "chat.weight", "'weight' must be 0 or 1, not 2", RULES["chat.weight"])
    assert str(error) == (
        "train.jsonl:12: chat.weight: 'weight' must be 0 or 1, not 2 "
        "(set weight to 0 to skip this assistant message, or 1 to train on it)"
    )
    assert str(DatasetError("t.jsonl", None, "dataset.empty", "m", "f")) == "t.jsonl: dataset.empty: m (f)"
    report = validate_file(DATA / "bad" / "chat_weight_2.jsonl", use_cache=False)
    assert DatasetReport.from_json(orjson.loads(orjson.dumps(report.to_json()))) == report
    for broken in ({}, {**report.to_json(), "size": -1}, {**report.to_json(), "errors": [{"line": "x"}]}, []):
        with pytest.raises(ValueError):  # noqa: PT011 - any malformed input is the same ValueError
            DatasetReport.from_json(broken)  # type: ignore[arg-type]


def test_sha256_file_matches_hashlib() -> None:
    """sha256_file is the plain hash of the bytes."""
    path = DATA / "good" / "chat_tools.jsonl"
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


# --- reading: blocks, chunks, lines that cross them -------------------------------------------------------------


def test_lines_across_block_and_chunk_boundaries_keep_their_numbers(tmp_path: Path) -> None:
    """A 3 MB file (several read blocks, the hashing thread) with a 1.2 MB line and errors near block edges."""
    rng = random.Random(7)
    lines: list[Any] = []
    for i in range(3000):
        text = " ".join(rng.choice(("alpha", "beta", "gamma", "délta", "ε")) for _ in range(rng.randint(5, 400)))
        lines.append({"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": f"ok {i}"}]})
    lines[1499] = {"messages": [{"role": "user", "content": "x" * 1_200_000}, {"role": "assistant", "content": "long"}]}
    bad_at = [1, 777, 1501, 1502, 2999, 3000]
    for n in bad_at:
        lines[n - 1] = {
            "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 5}]
        }
    path = write_lines(tmp_path / "big.jsonl", lines, final_newline=False)
    assert path.stat().st_size > 3 * ds_scan._BLOCK
    report = validate_file(path, use_cache=False)
    assert [(e.rule, e.line) for e in report.errors] == [("chat.weight", n) for n in bad_at]
    assert report.examples == 3000 - len(bad_at)
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_lines_that_only_parse_when_joined_are_each_rejected(tmp_path: Path) -> None:
    """Two broken lines that, joined into one array, give as many values as lines would: each is still rejected.

    Line 11 leaves an array open that line 12 closes, and line 12 adds a value to make the count come out right.
    Only the random sentinel between lines, which a file cannot forge, shows that the seam moved.
    """
    a = '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "x": [{}'
    b = '{}]}, 0, {"messages": [{"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}'
    assert len(orjson.loads("[" + a + ",12345," + b + "]")) == 3  # 2 lines, 3 values: the count alone is fooled
    path = write_lines(tmp_path / "train.jsonl", [*[chat(i) for i in range(10)], a, b])
    report = validate_file(path, use_cache=False)
    assert [(e.rule, e.line) for e in report.errors] == [("json.syntax", 11), ("json.syntax", 12)]


@pytest.mark.timeout(30)
def test_a_failing_hash_thread_never_blocks_the_reader_and_its_error_surfaces() -> None:
    """If hashing fails on the helper thread, feeding more blocks than its queue holds still returns."""

    class Broken:
        def update(self, block: bytes) -> None:
            raise MemoryError("no room")

    hasher = ds_scan._Hasher()
    hasher._hash = Broken()  # type: ignore[assignment]
    for _ in range(20):
        hasher.update(b"x" * 4096)
    with pytest.raises(MemoryError, match="no room"):
        hasher.hexdigest()


def test_a_bom_is_accepted_only_at_the_start(tmp_path: Path) -> None:
    """A leading BOM is invisible to the rules and part of the hash; one on line 2 is an error."""
    body = "\n".join(json.dumps(chat(i)) for i in range(10)).encode()
    start = tmp_path / "start.jsonl"
    start.write_bytes(b"\xef\xbb\xbf" + body)
    report = validate_file(start, use_cache=False)
    assert report.ok
    assert report.sha256 == hashlib.sha256(b"\xef\xbb\xbf" + body).hexdigest()
    second = tmp_path / "second.jsonl"
    second.write_bytes(body.replace(b"\n", b"\n\xef\xbb\xbf", 1))
    assert [(e.rule, e.line) for e in validate_file(second, use_cache=False).errors] == [
        ("encoding.bom-not-at-start", 2)
    ]


# --- the quick checks never accept what the detailed checker rejects ---------------------------------------------


def _mutations(rng: random.Random, example: Any) -> Any:
    """A random small change to an example: the sort of slip a hand-edited or generated dataset has."""
    ex = json.loads(json.dumps(example))
    targets: list[tuple[Any, Any]] = [(ex, key) for key in ex]
    for key in ("messages", "preferred_output", "non_preferred_output"):
        if isinstance(ex.get(key), list):
            targets += [(ex[key], i) for i in range(len(ex[key]))]
            targets += [(m, k) for m in ex[key] if isinstance(m, dict) for k in m]
    if isinstance(ex.get("input"), dict):
        targets += [(ex["input"], k) for k in ex["input"]]
        targets += [(m, k) for m in ex["input"].get("messages", []) if isinstance(m, dict) for k in m]
    values = [None, 0, 1, 2, True, 1.0, "", " ", "user", "assistant", "tool", "robot", [], {}, ["x"], {"a": 1}]
    for _ in range(rng.randint(1, 3)):
        container, key = rng.choice(targets)
        action = rng.random()
        if action < 0.5:
            container[key] = rng.choice(values)
        elif action < 0.7 and isinstance(container, dict):
            del container[key]
            targets = [t for t in targets if t != (container, key)]
            if not targets:
                break
        elif action < 0.85 and isinstance(container, dict):
            container[rng.choice(["weight", "name", "tools", "extra"])] = rng.choice(values)
        elif isinstance(container, dict):  # a plausible weight on any message: only assistants may have one
            container["weight"] = rng.choice([0, 1])
        elif isinstance(container, list):
            container.append(rng.choice([*values, {"role": "assistant", "content": "x"}]))
    return ex


def _seeds() -> list[Any]:
    examples: list[Any] = []
    for name in GOOD:
        lines = (DATA / "good" / name).read_bytes().removeprefix(b"\xef\xbb\xbf").splitlines()
        examples += [orjson.loads(line) for line in lines if line.strip()]
    return examples


def _detailed_accepts(obj: Any, fmt: str) -> bool:
    if not isinstance(obj, dict) or rules._line_format(obj) != fmt:
        return False
    try:
        rules._CHECKS[fmt](obj)
    except rules._Bad:
        return False
    return True


def test_quick_checks_accept_only_what_the_detailed_checker_accepts() -> None:
    """Thousands of mutated examples: whenever a fast or bulk check vouches for one, the detailed checker agrees."""
    rng = random.Random(1234)
    seeds = _seeds()
    vouched = {"chat": 0, "completion": 0, "preference": 0}
    bulk_vouched = {"chat": 0, "completion": 0, "preference": 0}
    for _ in range(9000):
        fmt = rng.choice(["chat", "completion", "preference"])
        pool = [s for s in seeds if rules._line_format(s) == fmt]
        odd = _mutations(rng, rng.choice(pool))
        if quick._FAST[fmt](odd):
            vouched[fmt] += 1
            assert _detailed_accepts(odd, fmt), odd
        # One odd example among good ones: the bulk check must not vouch for the chunk, or the example must pass.
        chunk = [rng.choice(pool) for _ in range(rng.randint(0, 8))]
        chunk.insert(rng.randint(0, len(chunk)), odd)
        rest = quick._BULK[fmt](chunk)
        if rest is not None and chunk.index(odd) not in rest:
            bulk_vouched[fmt] += 1
            assert _detailed_accepts(odd, fmt), odd
    # The quick paths must really vouch for some odd-but-valid examples, or the test above proves nothing.
    assert min(vouched.values()) >= 10, vouched
    assert min(bulk_vouched.values()) >= 10, bulk_vouched
    plain = [chat(i) for i in range(20)]
    assert quick._chat_bulk(plain) == []
    assert quick._chat_bulk([*plain, {"messages": plain[0]["messages"], "tools": []}]) == [20]


# --- the cache -------------------------------------------------------------------------------------------------


def test_second_validation_is_served_from_memory_without_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unchanged file is read once; the next call returns the same verdict from the cache."""
    path = write_lines(tmp_path / "train.jsonl", [chat(i) for i in range(12)])
    age(path)
    scans = CountingScan(monkeypatch)
    first = validate_file(path)
    second = validate_file(path)
    assert scans.calls == 1
    assert second == first
    assert second.ok


def test_another_process_reuses_the_disk_cache(tmp_path: Path, cache_dir: Path) -> None:
    """A new process (another `pulumi preview`) answers from the disk cache: its scan is made to fail, yet it answers."""
    path = DATA / "bad" / "chat_weight_2.jsonl"
    copy = tmp_path / "train.jsonl"
    copy.write_bytes(path.read_bytes())
    age(copy)
    here = validate_file(copy)
    assert ds_cache.entry_file(os.path.abspath(copy)).is_file()
    code = (
        "import sys, orjson\n"
        "from pulumi_aoai_finetuning.datasets import validate\n"
        "def boom(*a, **k): raise SystemExit('the file was read')\n"
        "validate._scan = boom\n"
        "sys.stdout.buffer.write(orjson.dumps(validate.validate_file(sys.argv[1]).to_json()))\n"
    )
    env = {**os.environ, "AOAI_FT_CACHE_DIR": str(cache_dir)}
    out = subprocess.run([sys.executable, "-c", code, str(copy)], capture_output=True, env=env, check=True, timeout=60)
    assert DatasetReport.from_json(orjson.loads(out.stdout)) == here


def test_cache_is_invalidated_when_the_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same size, new content and mtime: the file is read again and the new verdict returned."""
    good = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 1}]}
    bad = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 2}]}
    path = write_lines(tmp_path / "train.jsonl", [chat(i) for i in range(10)] + [good])
    age(path, 7200)
    scans = CountingScan(monkeypatch)
    assert validate_file(path).ok
    size = path.stat().st_size
    write_lines(path, [chat(i) for i in range(10)] + [bad])
    assert path.stat().st_size == size
    age(path, 3600)
    report = validate_file(path)
    assert scans.calls == 2
    assert [(e.rule, e.line) for e in report.errors] == [("chat.weight", 11)]
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_written_moments_ago_is_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh mtime may not change on a quick rewrite of the same size, so such a verdict is not trusted later."""
    path = write_lines(tmp_path / "train.jsonl", [chat(i) for i in range(10)])
    scans = CountingScan(monkeypatch)
    validate_file(path)
    validate_file(path)
    assert scans.calls == 2


def test_corrupt_or_foreign_cache_files_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path
) -> None:
    """Garbage, an old version, another path's or a malformed entry: the file is read, the verdict right, the entry repaired."""
    path = write_lines(tmp_path / "train.jsonl", [chat(i) for i in range(10)])
    age(path)
    key = os.path.abspath(path)
    cache_file = ds_cache.entry_file(key)
    cache_file.parent.mkdir(parents=True)
    st = path.stat()
    good = {
        "version": ds_cache._VERSION,
        "path": key,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ino": st.st_ino,
        "ctime_ns": st.st_ctime_ns,
        "max_errors": 20,
        "report": validate_file(path, use_cache=False).to_json(),
    }
    scans = CountingScan(monkeypatch)
    for content in (
        b"\x00\xffnot json",
        b"[]",
        orjson.dumps({**good, "version": 999}),
        orjson.dumps({**good, "path": "/elsewhere"}),
        orjson.dumps({**good, "report": {"size": "big"}}),
    ):
        cache_file.write_bytes(content)
        ds_cache._MEMORY.clear()
        report = validate_file(path)
        assert report.ok
        assert report.examples == 10
    assert scans.calls == 5
    assert orjson.loads(cache_file.read_bytes())["report"]["size"] == st.st_size


def test_an_unusable_cache_location_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the cache directory cannot be created, validation still works (and still caches in memory)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("AOAI_FT_CACHE_DIR", str(blocker / "sub"))
    path = write_lines(tmp_path / "train.jsonl", [chat(i) for i in range(10)])
    age(path)
    scans = CountingScan(monkeypatch)
    assert validate_file(path).ok
    assert validate_file(path).ok
    assert scans.calls == 1


def test_cache_location_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AOAI_FT_CACHE_DIR first, then $XDG_CACHE_HOME/pulumi-aoai-finetuning, then ~/.cache/pulumi-aoai-finetuning."""
    path = write_lines(tmp_path / "train.jsonl", [chat(i) for i in range(10)])
    age(path)
    monkeypatch.delenv("AOAI_FT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    validate_file(path)
    assert ds_cache.usage(tmp_path / "xdg" / "pulumi-aoai-finetuning" / "datasets")[0] == 1
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ds_cache._MEMORY.clear()
    validate_file(path)
    assert ds_cache.usage(tmp_path / "home" / ".cache" / "pulumi-aoai-finetuning" / "datasets")[0] == 1


def test_cached_verdict_answers_new_thresholds_and_rescans_for_more_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """min_examples is applied to the cached counts; asking for more errors than were kept reads the file again."""
    bad = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 3}]}
    path = write_lines(tmp_path / "train.jsonl", [chat(i) for i in range(12)])
    age(path)
    scans = CountingScan(monkeypatch)
    assert validate_file(path).ok
    assert [e.rule for e in validate_file(path, min_examples=13).errors] == ["dataset.too-few-examples"]
    assert scans.calls == 1
    many = write_lines(tmp_path / "many.jsonl", [bad] * 30)
    age(many)
    assert len(validate_file(many, max_errors=5).errors) == 5
    assert len(validate_file(many, max_errors=3).errors) == 3  # fewer: served from the cache
    assert scans.calls == 2
    assert len(validate_file(many, max_errors=50).errors) == 30  # more than were kept: read again
    assert scans.calls == 3


def test_use_cache_false_neither_reads_nor_writes_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path
) -> None:
    """use_cache=False always reads the file and leaves no cache behind."""
    path = write_lines(tmp_path / "train.jsonl", [chat(i) for i in range(10)])
    age(path)
    scans = CountingScan(monkeypatch)
    validate_file(path, use_cache=False)
    validate_file(path, use_cache=False)
    assert scans.calls == 2
    assert not cache_dir.exists()
    assert not ds_cache._MEMORY


def test_cached_errors_name_the_path_as_given_this_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache is keyed by absolute path, but each report cites the path the caller used."""
    path = tmp_path / "train.jsonl"
    path.write_bytes((DATA / "bad" / "chat_role.jsonl").read_bytes())
    age(path)
    validate_file(path)
    monkeypatch.chdir(tmp_path)
    report = validate_file("train.jsonl")
    assert str(report.errors[0]).startswith("train.jsonl:10: chat.role: ")


# --- the typed fast path never accepts what the detailed checker rejects -----------------------------------------


def test_typed_decoder_accepts_only_what_the_detailed_checker_accepts() -> None:
    """Thousands of mutated examples, alone and among good ones: whenever msgspec vouches, the detailed checker agrees."""
    rng = random.Random(4321)
    seeds = _seeds()
    vouched = {"chat": 0, "completion": 0, "preference": 0}
    for _ in range(6000):
        fmt = rng.choice(["chat", "completion", "preference"])
        pool = [s for s in seeds if rules._line_format(s) == fmt]
        odd = _mutations(rng, rng.choice(pool))
        if typed.vouch(fmt, orjson.dumps(odd), 1):
            vouched[fmt] += 1
            assert _detailed_accepts(odd, fmt), odd
        lines = [orjson.dumps(rng.choice(pool)) for _ in range(rng.randint(0, 8))]
        lines.insert(rng.randint(0, len(lines)), orjson.dumps(odd))
        if typed.vouch(fmt, typed.SEPARATOR.join(lines), len(lines)):
            assert _detailed_accepts(odd, fmt), odd
    # The typed path must really vouch for some odd-but-valid examples, or the test above proves nothing.
    assert min(vouched.values()) >= 10, vouched


def test_typed_decoder_vouches_for_every_good_corpus_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each good file, every format and shape (tools, images, weights, BOM, CRLF), is accepted by the fast path."""
    answers: list[bool] = []
    real = typed.vouch

    def spy(fmt: str, joined: bytes, lines: int) -> bool:
        answers.append(real(fmt, joined, lines))
        return answers[-1]

    monkeypatch.setattr(typed, "vouch", spy)
    for name in GOOD:
        answers.clear()
        report = validate_file(DATA / "good" / name, use_cache=False)
        assert report.ok
        assert answers
        assert answers[-1], name  # the format was found and the whole file vouched for in one decode


# Lines msgspec and orjson could read differently: the verdict must be the detailed checker's, whatever the path.
TRICKY: list[tuple[str, bytes, str | None]] = [
    (
        "invalid UTF-8 in an unknown key",
        b'{"messages": [{"role": "user", "content": "a", "x": "\xff"}, {"role": "assistant", "content": "b"}]}',
        "encoding.utf8",
    ),
    (
        "infinite number in tool parameters",
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"x": 1e999}}}]}',
        "json.syntax",
    ),
    (
        "tool parameters an array",
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]}',
        "chat.tools",
    ),
    (
        "duplicate key, the last one bad",
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "messages": 5}',
        "chat.messages-missing",
    ),
    (
        "duplicate role, the last one user",
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 1, "role": "user"}]}',
        "chat.weight-role",
    ),
    (
        "weight true",
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": true}]}',
        "chat.weight",
    ),
    (
        "weight -0 is 0",
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": -0}]}',
        None,
    ),
    (
        "lone surrogate escape",
        b'{"messages": [{"role": "user", "content": "a\\ud800"}, {"role": "assistant", "content": "b"}]}',
        "json.syntax",
    ),
    (
        "assistant without content or tool calls",
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant"}]}',
        "chat.content-missing",
    ),
    (
        "unknown keys are the detailed checker's business",
        b'{"messages": [{"role": "user", "content": "a", "name": 1}, {"role": "assistant", "content": "b", "refusal": null}], "metadata": {}}',
        None,
    ),
    (
        "no assistant, not last either",
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]}',
        "chat.no-assistant",
    ),
]


@pytest.mark.parametrize("where", ["first-chunk", "later-chunk"])
@pytest.mark.parametrize(("line", "rule"), [(line, rule) for _, line, rule in TRICKY], ids=[t[0] for t in TRICKY])
def test_lines_the_decoders_could_read_differently_get_the_detailed_verdict(
    tmp_path: Path, line: bytes, rule: str | None, where: str
) -> None:
    """Each tricky line, among good lines, is judged as the detailed checker judges it, at its line."""
    before = 20 if where == "first-chunk" else 3 * ds_scan._CHUNK // 100
    good = [orjson.dumps(chat(i)) for i in range(before)]
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\n".join([*good, line, *good[-20:]]) + b"\n")
    report = validate_file(path, use_cache=False)
    expected = [] if rule is None else [(rule, before + 1)]
    assert [(e.rule, e.line) for e in report.errors] == expected
    assert report.examples == before + 20 + (rule is None)
