"""Token counts: the tokenizer against OpenAI's tiktoken, the example rules against the cookbook, the limits.

The reference is tiktoken (OpenAI's tokenizer) loaded with the rank files that bpe-openai ships, after checking
that their sha256 are the ones tiktoken pins for OpenAI's published files: tiktoken then reads them from its
cache directory instead of downloading them. The example counts are checked against a separate, plain
implementation of the documented rules written here on top of that reference, on the example data, on the
edge cases in ``tests/data/tokens`` and on a generated benchmark-like dataset; and against the counts
OpenAI's cookbook published and verified with the API.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import tiktoken
from benchmarks.sample_data import make_chat_dataset

from pulumi_aoai_finetuning import encodings, tokens
from pulumi_aoai_finetuning.encodings import UnknownModelError, counter, encoding_for_model
from pulumi_aoai_finetuning.image_tokens import image_size
from pulumi_aoai_finetuning.tokens import (
    EXAMPLE_TOKEN_LIMITS,
    ExampleTokens,
    TokenCountError,
    count_example,
    count_file,
    example_token_limit,
    first_over_limit,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).parent / "data" / "tokens"
EXAMPLES = ROOT / "examples" / "data"
ENCODINGS = ("o200k_base", "cl100k_base")
# Found, not imported: importing the package would parse its ranks in Python and warn (encodings.py says why).
BPE_OPENAI = Path((importlib.util.find_spec("bpe_openai").submodule_search_locations or [""])[0])

# tiktoken_ext/openai_public.py pins these for OpenAI's published rank files.
OPENAI_FILES = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tiktoken.Encoding]]:
    """Tiktoken's encodings, fed bpe-openai's rank files through tiktoken's cache (it verifies their hash)."""
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for name, (url, sha) in OPENAI_FILES.items():
        data = (BPE_OPENAI / "data" / f"{name}.tiktoken.gz").read_bytes()
        ranks = gzip.decompress(data)
        assert hashlib.sha256(ranks).hexdigest() == sha, f"bpe-openai's {name} ranks are not OpenAI's file"
        (cache / hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()).write_bytes(ranks)
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    try:
        yield {name: tiktoken.get_encoding(name) for name in ENCODINGS}
    finally:
        if previous is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous


# --- a plain reference implementation of the documented rules -------------------------------------------


def _ref_image(part: dict[str, Any]) -> int:
    image = part["image_url"]
    if image.get("detail") == "low":
        return 85
    size = image_size(image["url"])
    if size is None:
        return 85 + 170 * 2 * 4  # the most tiles a scaled image can span
    w, h = size
    if max(w, h) > 2048:  # fit in 2048 x 2048
        w, h = w * 2048 / max(w, h), h * 2048 / max(w, h)
    if min(w, h) > 768:  # shortest side 768
        w, h = w * 768 / min(w, h), h * 768 / min(w, h)
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def _ref_messages(enc: tiktoken.Encoding, messages: list[dict[str, Any]]) -> int:
    n = 0
    for m in messages:  # the cookbook's num_tokens_from_messages, extended to parts and tool calls
        n += 3
        for key, value in m.items():
            if key in ("role", "name") or (key == "content" and isinstance(value, str)):
                n += len(enc.encode_ordinary(value))
            if key == "name":
                n += 1
            if key == "content" and isinstance(value, list):
                for part in value:
                    n += len(enc.encode_ordinary(part["text"])) if part["type"] == "text" else _ref_image(part)
            if key == "tool_calls":
                for call in value:
                    f = call["function"]
                    n += 3 + len(enc.encode_ordinary(f["name"])) + len(enc.encode_ordinary(f["arguments"]))
    return n + 3


def _ref_tools(enc: tiktoken.Encoding, functions: list[dict[str, Any]]) -> int:
    func_init = 7 if enc.name == "o200k_base" else 10  # the cookbook's num_tokens_for_tools
    n = 0
    for f in functions:
        n += func_init
        function = f["function"]
        desc = function.get("description", "")
        if desc.endswith("."):
            desc = desc[:-1]
        n += len(enc.encode_ordinary(function["name"] + ":" + desc))
        properties = function["parameters"]["properties"]
        if len(properties) > 0:
            n += 3
            for key, prop in properties.items():
                n += 3
                p_type = prop["type"] if isinstance(prop["type"], str) else orjson.dumps(prop["type"]).decode()
                p_desc = prop.get("description", "")
                if "enum" in prop:
                    n += -3
                    for item in prop["enum"]:
                        n += 3 + len(enc.encode_ordinary(item))
                if p_desc.endswith("."):
                    p_desc = p_desc[:-1]
                n += len(enc.encode_ordinary(f"{key}:{p_type}:{p_desc}"))
    return n + 12 if functions else n


def _reference_count(enc: tiktoken.Encoding, example: dict[str, Any]) -> int:
    if "messages" in example:
        return _ref_messages(enc, example["messages"]) + _ref_tools(enc, example.get("tools", []))
    if "input" in example:
        conversation = example["input"]["messages"] + example["preferred_output"]
        return _ref_messages(enc, conversation) + _ref_tools(enc, example["input"].get("tools", []))
    return len(enc.encode_ordinary(example["prompt"])) + len(enc.encode_ordinary(example["completion"]))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().removeprefix(b"\xef\xbb\xbf").splitlines() if line.strip()]


CORPUS_FILES = sorted(CORPUS.glob("*.jsonl"))
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.jsonl"))


# --- the tokenizer -----------------------------------------------------------------------------------------

# Published in OpenAI's cookbook "How to count tokens with tiktoken" (sections 3 and 5).
COOKBOOK_IDS = {
    "o200k_base": {
        "tiktoken is great!": [83, 8251, 2488, 382, 2212, 0],
        "antidisestablishmentarianism": [493, 129901, 376, 160388, 21203, 2367],
        "2 + 2 = 4": [17, 659, 220, 17, 314, 220, 19],
        "お誕生日おめでとう": [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669],
    },
    "cl100k_base": {
        "tiktoken is great!": [83, 1609, 5963, 374, 2294, 0],
        "antidisestablishmentarianism": [519, 85342, 34500, 479, 8997, 2191],
        "2 + 2 = 4": [17, 489, 220, 17, 284, 220, 19],
        "お誕生日おめでとう": [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699],
    },
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_published_ids(encoding: str, reference: dict[str, tiktoken.Encoding]) -> None:
    count = counter(encoding)
    for text, ids in COOKBOOK_IDS[encoding].items():
        assert reference[encoding].encode_ordinary(text) == ids
        assert count(text) == len(ids)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_counter_matches_tiktoken_on_every_string(
    encoding: str, reference: dict[str, tiktoken.Encoding], tmp_path: Path
) -> None:
    generated = tmp_path / "chat.jsonl"
    make_chat_dataset(generated, 600_000, seed=7)
    texts = [s for path in [*CORPUS_FILES, *EXAMPLE_FILES, generated] for ex in _lines(path) for s in _strings(ex)]
    texts += ["<|endoftext|>", " " * 1000, "\n\n\r\n\t ", "x" * 100_000, "1234567890" * 50, "don't I'LL we're"]
    count, ref = counter(encoding), reference[encoding]
    mismatched = [t[:40] for t in texts if count(t) != len(ref.encode_ordinary(t))]
    assert len(texts) > 3000
    assert mismatched == []


MODELS = [
    "gpt-4o-mini-2024-07-18",
    "gpt-4o-2024-08-06",
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
    "o4-mini-2025-04-16",
    "gpt-35-turbo-0125",
    "gpt-35-turbo-1106",
    "gpt-4-0613",
    "babbage-002",
    "davinci-002",
]


@pytest.mark.parametrize("model", MODELS)
def test_encoding_for_model_agrees_with_tiktokens_model_table(model: str) -> None:
    expected = tiktoken.encoding_name_for_model(model)
    assert encoding_for_model(model) == expected
    assert encoding_for_model(f"{model}.ft-0e208cf33a6a466994aff31a08aba678") == expected
    assert encoding_for_model(f"{model}.ft-0e208cf33a6a466994aff31a08aba678-suffix:ckpt-step-90") == expected
    assert encoding_for_model(f"ft:{model}:org:custom:abc123") == expected


def test_unknown_model_names_the_model_and_the_fix() -> None:
    with pytest.raises(UnknownModelError, match=r"'llama-3-8b'.*tokens\.unknown-model.*gpt-4o-mini-2024-07-18"):
        encoding_for_model("llama-3-8b")
    with pytest.raises(ValueError, match="p50k_base"):
        encodings.counter("p50k_base")


# --- example counts ----------------------------------------------------------------------------------------

COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
    },
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client deliverable.",
    },
]
COOKBOOK_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
COOKBOOK_TOOL_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."},
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@pytest.mark.parametrize(("encoding", "expected"), [("o200k_base", 124), ("cl100k_base", 129)])
def test_chat_rule_matches_the_api_counts_the_cookbook_published(encoding: str, expected: int) -> None:
    # Section 6: gpt-4o / gpt-4o-mini 124, gpt-3.5-turbo / gpt-4 129 prompt tokens, as counted by the API.
    assert count_example({"messages": COOKBOOK_MESSAGES}, encoding) == ExampleTokens(expected, estimated=False)


@pytest.mark.parametrize(("encoding", "expected"), [("o200k_base", 101), ("cl100k_base", 105)])
def test_tools_rule_matches_the_api_counts_the_cookbook_published(encoding: str, expected: int) -> None:
    # Section 7: with the weather tool, gpt-4o / gpt-4o-mini 101, gpt-3.5-turbo / gpt-4 105 prompt tokens.
    example = {"messages": COOKBOOK_TOOL_MESSAGES, "tools": COOKBOOK_TOOLS}
    assert count_example(example, encoding) == ExampleTokens(expected, estimated=False)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("path", [*CORPUS_FILES, *EXAMPLE_FILES], ids=lambda p: p.name)
def test_counts_equal_the_reference_per_example_and_per_file(
    path: Path, encoding: str, reference: dict[str, tiktoken.Encoding]
) -> None:
    examples = _lines(path)
    expected = [_reference_count(reference[encoding], ex) for ex in examples]
    assert [count_example(ex, encoding).tokens for ex in examples] == expected
    totals = count_file(path, encoding)
    assert totals.examples == len(examples)
    assert totals.tokens == sum(expected)
    assert totals.max_example_tokens == max(expected)
    assert totals.max_line == expected.index(max(expected)) + 1  # no blank lines in these files
    assert totals.over_limit is None


def _flags(name: str) -> list[bool]:
    return [count_example(ex, "o200k_base").estimated for ex in _lines(CORPUS / name)]


def test_estimated_flags_follow_the_rules() -> None:
    # Images: low (exact), JPEG high (exact), PNG high (exact), GIF auto, WebP high x2 (exact), URL high.
    assert _flags("chat_images.jsonl") == [False, False, False, True, False, True]
    # The cookbook's tool example is exact; tool calls and a nested, undescribed schema are not.
    assert _flags("chat_tools.jsonl") == [False, True, True, True]
    assert not any(_flags("chat_multiturn.jsonl") + _flags("chat_non_ascii.jsonl") + _flags("completion.jsonl"))
    assert count_file(CORPUS / "chat_images.jsonl", "o200k_base").estimated_examples == 2


def test_image_counts_use_the_documented_tiles() -> None:
    counts = [count_example(ex, "o200k_base").tokens for ex in _lines(CORPUS / "chat_images.jsonl")]
    text = counter("o200k_base")
    frame = 3 + 3 + 3 + text("user") + text("assistant")  # two messages and the reply priming
    answers = [text(ex["messages"][1]["content"]) for ex in _lines(CORPUS / "chat_images.jsonl")]
    images = [c - frame - a for c, a in zip(counts, answers, strict=True)]
    # Text parts first: "What is this?", "And this?", none, none, none, "Unknown size:".
    texts = [text("What is this?"), text("And this?"), 0, 0, 0, text("Unknown size:")]
    images = [i - t for i, t in zip(images, texts, strict=True)]
    # low = 85; 1024x1024 high = 765 and 2048x4096 high = 1105 (the guide's examples); 300x200 = 1 tile;
    # 1500x700 -> 1500x700 (short side 700) = 3x2 tiles; 640x480 = 2x1 tiles; unknown = 2x4 tiles.
    assert images == [85, 765, 1105, 85 + 170, (85 + 170 * 6) + (85 + 170 * 2), 85 + 170 * 8]


def test_weight_and_tool_call_id_are_not_counted() -> None:
    plain = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
    weighted = {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello.", "weight": 0}]
    }
    assert count_example(weighted, "o200k_base") == count_example(plain, "o200k_base")
    tool = {"messages": [{"role": "tool", "content": "42"}]}
    with_id = {"messages": [{"role": "tool", "content": "42", "tool_call_id": "call_" + "x" * 40}]}
    assert count_example(with_id, "o200k_base") == count_example(tool, "o200k_base")


def test_a_line_of_no_known_format_counts_nothing_and_is_flagged() -> None:
    assert count_example({"text": "free text"}, "o200k_base") == ExampleTokens(0, estimated=True)


# --- files and limits --------------------------------------------------------------------------------------


def _write(path: Path, examples: list[dict[str, Any]], *, bom: bool = False, crlf: bool = False) -> Path:
    end = b"\r\n" if crlf else b"\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"".join(orjson.dumps(e) + end for e in examples))
    return path


def _chat(words: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "hello " * words}, {"role": "assistant", "content": "Hi."}]}


def test_first_over_limit_names_the_first_offending_line(tmp_path: Path) -> None:
    model = "gpt-4.1-nano-2025-04-14"
    limit = EXAMPLE_TOKEN_LIMITS[model]
    path = _write(tmp_path / "train.jsonl", [_chat(10), _chat(20), _chat(limit + 10), _chat(5), _chat(limit + 500)])
    over = first_over_limit(path, model)
    assert over is not None
    assert over.line == 3
    assert over.limit == limit == 32_768
    assert over.tokens == count_example(_chat(limit + 10), "o200k_base").tokens > limit
    message = over.message(str(path), model)
    assert f"{path}:3:" in message
    assert "tokens.example-too-long" in message
    assert f"{model}'s limit of 32,768" in message
    # The same file fits the 65,536 of gpt-4o-mini, and count_file still reports the biggest example.
    assert first_over_limit(path, "gpt-4o-mini-2024-07-18.ft-abc") is None
    assert count_file(path, "o200k_base").max_line == 5


def test_an_example_at_exactly_the_limit_is_allowed(tmp_path: Path) -> None:
    model = "gpt-35-turbo-0613"
    limit = EXAMPLE_TOKEN_LIMITS[model]
    # "hello " repeated costs about one token per repeat: aim, then correct by the measured difference.
    filler = limit - count_example(_chat(0), "cl100k_base").tokens
    filler -= count_example(_chat(filler), "cl100k_base").tokens - limit
    example = _chat(filler)
    assert count_example(example, "cl100k_base").tokens == limit
    assert first_over_limit(_write(tmp_path / "t.jsonl", [example]), model) is None
    assert first_over_limit(_write(tmp_path / "u.jsonl", [_chat(filler + 1)]), model) is not None


def test_limits_cover_every_model_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    assert example_token_limit("gpt-4o-mini-2024-07-18") == 65_536
    assert example_token_limit("gpt-4o-mini-2024-07-18.ft-0123:ckpt-step-9") == 65_536
    assert example_token_limit("llama-3") is None
    for model in MODELS:
        assert example_token_limit(model) is not None
    with pytest.raises(UnknownModelError, match=r"'llama-3'.*tokens\.unknown-limit"):
        first_over_limit(_write(tmp_path / "t.jsonl", [_chat(1)]), "llama-3")


def test_count_file_skips_bom_crlf_and_the_final_newline(tmp_path: Path) -> None:
    examples = [_chat(3), _chat(7)]
    plain = count_file(_write(tmp_path / "a.jsonl", examples), "o200k_base")
    odd = count_file(_write(tmp_path / "b.jsonl", examples, bom=True, crlf=True), "o200k_base")
    assert odd == plain
    assert plain.examples == 2
    assert plain.max_line == 2


def test_count_file_names_the_line_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(orjson.dumps(_chat(1)) + b"\n{not json\n")
    with pytest.raises(TokenCountError, match=rf"{path}:2: .*json\.syntax"):
        count_file(path, "o200k_base")
    path.write_bytes(orjson.dumps(_chat(1)) + b"\n[1, 2]\n")
    with pytest.raises(TokenCountError, match=rf"{path}:2: .*json\.not-object"):
        count_file(path, "o200k_base")


def test_count_file_of_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert count_file(path, "o200k_base", limit=10) == tokens.FileTokens(0, 0, 0, 0, 0, None)


def test_counting_loads_only_the_compiled_tokenizer_and_the_package_still_imports_after() -> None:
    code = (
        "import sys\n"
        "from pulumi_aoai_finetuning.tokens import count_example\n"
        "assert count_example({'prompt': 'a', 'completion': ' b'}, 'o200k_base').tokens == 2\n"
        "assert 'bpe_openai._bindings' in sys.modules and 'bpe_openai' not in sys.modules, sorted(sys.modules)\n"
        "import bpe_openai\n"  # a later import of the wrapper reuses the loaded extension
        "assert bpe_openai.get_encoding('o200k_base').encode('tiktoken is great!') == [83, 8251, 2488, 382, 2212, 0]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr


def test_tallies_of_consecutive_parts_merge_into_the_whole_files_totals(tmp_path: Path) -> None:
    limit = 400
    examples = [_chat(50), _chat(500), _chat(20), _chat(500), _chat(900), _chat(900), _chat(10)]
    whole = count_file(_write(tmp_path / "t.jsonl", examples), "o200k_base", limit=limit)
    assert whole.over_limit is not None
    assert (whole.over_limit.line, whole.max_line) == (2, 5)  # the first of two equally big examples
    for cut in range(len(examples) + 1):
        parts = []
        for start, chunk in ((1, examples[:cut]), (cut + 1, examples[cut:])):
            tally = tokens.TokenTally("o200k_base", limit)
            for offset, example in enumerate(chunk):
                assert tally.add(start + offset, example) == count_example(example, "o200k_base")
            parts.append(tally.result())
        assert tokens.merge_counts(parts) == whole, cut
    assert tokens.merge_counts([]) == tokens.FileTokens(0, 0, 0, 0, 0, None)
