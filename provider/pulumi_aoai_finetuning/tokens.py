"""Exact token counts of fine-tuning examples, per example and per JSONL file, and the per-example limits.

A chat example is counted the way OpenAI's cookbook "How to count tokens with tiktoken" counts a conversation
(github.com/openai/openai-cookbook, ``examples/How_to_count_tokens_with_tiktoken.ipynb``, section 6, whose
counts match the API's ``prompt_tokens``: 129 for gpt-3.5-turbo/gpt-4, 124 for gpt-4o/gpt-4o-mini on its
example) and as its fine-tuning data-prep notebook (``examples/Chat_finetuning_data_prep.ipynb``) counts the
tokens a training example is billed for:

- every message: 3 tokens of framing, plus the tokens of its ``role`` and ``content``; a ``name`` adds its
  tokens plus 1; the conversation adds 3 for the reply priming (``<|start|>assistant<|message|>``);
- ``weight`` and ``tool_call_id`` are metadata, not text the model reads: not counted;
- content parts: a text part counts its text; an image part counts by the image rule (``image_tokens.py``):
  85 for ``detail: low``; 85 + 170 per 512 px tile for ``high`` when the size is known (data URLs);
  estimated, as the largest possible high-detail cost, when the size is not known (a http(s) URL) or the
  detail is ``auto``;
- ``tools`` (function definitions): the cookbook's section 7 rule, which matched the API (101 tokens for
  gpt-4o, 105 for gpt-3.5-turbo/gpt-4 on its example): per function 7 tokens (o200k_base models; 10 for
  cl100k_base) plus ``name:description`` (one trailing period dropped), then 3 if it has properties, and per
  property 3 plus ``key:type:description``, an enum adding -3 and per item 3 plus the item; 12 more once for
  the whole list. A schema the rule does not describe (no description, nested ``properties``/``items``, a
  non-string type) is counted as far as the rule goes and flagged estimated;
- ``tool_calls`` on an assistant message: no published rule; each call counts 3 plus its function name and
  its ``arguments`` string, and the example is flagged estimated.

A completion example (babbage-002, davinci-002) counts its ``prompt`` plus its ``completion``: the legacy
format has no documented framing. A preference (DPO) example counts as the chat conversation of its
``input.messages`` followed by its ``preferred_output`` (with ``input.tools``); the non-preferred output is not
counted, as Microsoft's cost formula for DPO counts "the number of tokens in your training file" without saying
how both outputs are billed: treat preference counts as a lower bound.

Per-example limits (:data:`EXAMPLE_TOKEN_LIMITS`) are Microsoft's "Training example context length" (or, for
older models, "Max request (tokens)") from the fine-tuning model table (MicrosoftDocs/azure-ai-docs,
``articles/ai-foundry/openai/includes/fine-tune-models.md``; the older models from its earlier revisions).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from .encodings import UnknownModelError, base_model, counter, encoding_for_model
from .image_tokens import image_tokens

__all__ = [
    "EXAMPLE_TOKEN_LIMITS",
    "ExampleTokens",
    "FileTokens",
    "OverLimit",
    "TokenCountError",
    "TokenTally",
    "count_example",
    "count_file",
    "count_stream",
    "example_token_limit",
    "first_over_limit",
    "merge_counts",
]

PER_MESSAGE = 3
PER_NAME = 1
REPLY_PRIMING = 3
TOOL_CALL_OVERHEAD = 3
_FUNC_INIT = {"o200k_base": 7, "cl100k_base": 10}
_PROP_INIT = 3
_PROP_KEY = 3
_ENUM_INIT = -3
_ENUM_ITEM = 3
_FUNC_END = 12
_SMALL_CACHE = 4096  # roles and names repeat on every line; counting them once each saves a call per message

EXAMPLE_TOKEN_LIMITS: Mapping[str, int] = {
    "gpt-4o-mini-2024-07-18": 65_536,
    "gpt-4o-2024-08-06": 65_536,
    "gpt-4.1-2025-04-14": 65_536,
    "gpt-4.1-mini-2025-04-14": 65_536,
    "gpt-4.1-nano-2025-04-14": 32_768,
    "o4-mini-2025-04-16": 65_536,
    "gpt-35-turbo-0125": 16_385,
    "gpt-35-turbo-1106": 16_385,
    "gpt-35-turbo-0613": 4_096,
    "gpt-4-0613": 8_192,
    "babbage-002": 16_384,
    "davinci-002": 16_384,
}
"""The most tokens one training example may hold, by base model (Microsoft's fine-tuning model table)."""


class TokenCountError(ValueError):
    """A line that cannot be counted (not JSON); its message names ``file:line``, the rule and the fix."""


@dataclass(frozen=True, slots=True)
class ExampleTokens:
    """One example's token count, and whether any part of it was estimated rather than exact."""

    tokens: int
    estimated: bool


@dataclass(frozen=True, slots=True)
class OverLimit:
    """The first example of a file above a per-example token limit."""

    line: int
    tokens: int
    limit: int

    def message(self, display: str, model: str | None = None) -> str:
        """An error message naming ``file:line``, the rule and the fix."""
        whose = f"{model}'s" if model else "the model's"
        return (
            f"{display}:{self.line}: the example has {self.tokens:,} tokens, above {whose} limit of "
            f"{self.limit:,} tokens per training example (rule tokens.example-too-long); shorten or split "
            "this conversation, or remove it"
        )


@dataclass(frozen=True, slots=True)
class FileTokens:
    """Token totals of a JSONL dataset: the sum, the largest example and its line, estimates, a limit's breach."""

    examples: int
    tokens: int
    max_example_tokens: int
    max_line: int
    estimated_examples: int
    over_limit: OverLimit | None


def example_token_limit(model: str) -> int | None:
    """The documented per-example token limit for a (base or fine-tuned) model, or None when none is known."""
    return EXAMPLE_TOKEN_LIMITS.get(base_model(model).lower())


def count_example(example: Mapping[str, Any], encoding: str) -> ExampleTokens:
    """Count one parsed example (chat, completion or preference format) in ``encoding``."""
    return _counter(encoding)(example)


class TokenTally:
    """Running token totals over examples fed one at a time: by :func:`count_file`, or by a validation pass.

    A pass split across processes gives each part its own tally and combines their results with
    :func:`merge_counts`, in file order.
    """

    def __init__(self, encoding: str, limit: int | None = None) -> None:
        self._count = _counter(encoding)
        self._limit = limit
        self._examples = self._tokens = self._biggest = self._biggest_line = self._estimated = 0
        self._over: OverLimit | None = None

    def add(self, line: int, example: Mapping[str, Any]) -> ExampleTokens:
        """Count the example on (1-based) ``line`` into the totals, and return its count."""
        result = self._count(example)
        n = result.tokens
        self._examples += 1
        self._tokens += n
        self._estimated += result.estimated
        if n > self._biggest:
            self._biggest, self._biggest_line = n, line
        if self._limit is not None and self._over is None and n > self._limit:
            self._over = OverLimit(line=line, tokens=n, limit=self._limit)
        return result

    def result(self) -> FileTokens:
        """The totals so far."""
        return FileTokens(self._examples, self._tokens, self._biggest, self._biggest_line, self._estimated, self._over)


def merge_counts(parts: Sequence[FileTokens]) -> FileTokens:
    """One file's totals from the totals of its consecutive parts, given in file order."""
    examples = total = biggest = biggest_line = estimated = 0
    over: OverLimit | None = None
    for part in parts:
        examples += part.examples
        total += part.tokens
        estimated += part.estimated_examples
        if part.max_example_tokens > biggest:  # strictly greater: a tie keeps the earlier line
            biggest, biggest_line = part.max_example_tokens, part.max_line
        if over is None:
            over = part.over_limit
    return FileTokens(examples, total, biggest, biggest_line, estimated, over)


def count_file(path: str | Path, encoding: str, *, limit: int | None = None) -> FileTokens:
    """Stream a JSONL file and total its examples' tokens; note the first example above ``limit`` if given."""
    with open(path, "rb") as f:
        return count_stream(f, encoding, display=str(path), limit=limit)


def count_stream(stream: IO[bytes], encoding: str, *, display: str, limit: int | None = None) -> FileTokens:
    """Total the tokens of the JSONL examples read from ``stream``; errors name ``display`` and the line."""
    tally = TokenTally(encoding, limit)
    for number, raw in enumerate(stream, 1):
        line = raw[3:] if number == 1 and raw.startswith(b"\xef\xbb\xbf") else raw
        if not line.strip():
            continue  # a trailing newline; validation reports any blank line in the middle
        try:
            example = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise TokenCountError(
                f"{display}:{number}: the line is not valid JSON, so its tokens cannot be counted "
                f"(rule json.syntax: {e.msg}); validate the file and fix the line first"
            ) from None
        if not isinstance(example, dict):
            raise TokenCountError(
                f"{display}:{number}: the line is not a JSON object, so its tokens cannot be counted "
                "(rule json.not-object); validate the file and fix the line first"
            )
        tally.add(number, example)
    return tally.result()


def first_over_limit(path: str | Path, model: str) -> OverLimit | None:
    """The first example of a JSONL file above ``model``'s documented per-example limit, or None if all fit."""
    limit = example_token_limit(model)
    if limit is None:
        known = ", ".join(EXAMPLE_TOKEN_LIMITS)
        raise UnknownModelError(
            f"model {model!r}: no documented per-example token limit (rule tokens.unknown-limit); "
            f"use one of {known}, or skip the limit check for this model"
        )
    return count_file(path, encoding_for_model(model), limit=limit).over_limit


@functools.cache
def _counter(encoding: str) -> Callable[[Mapping[str, Any]], ExampleTokens]:
    """One example counter per encoding, with the text counter and small-string cache bound in its closure."""
    count = counter(encoding)
    func_init = _FUNC_INIT[encoding]
    small_cache: dict[str, int] = {}

    def small(text: str) -> int:
        n = small_cache.get(text)
        if n is None:
            n = count(text)
            if len(small_cache) < _SMALL_CACHE:
                small_cache[text] = n
        return n

    def messages_tokens(messages: Sequence[Any]) -> tuple[int, bool]:
        total = 0
        estimated = False
        for m in messages:
            if not isinstance(m, dict):
                continue
            total += PER_MESSAGE
            role = m.get("role")
            if isinstance(role, str):
                total += small(role)
            content = m.get("content")
            if isinstance(content, str):
                total += count(content)
            elif isinstance(content, list):
                for part in content:
                    if not isinstance(part, dict):
                        continue
                    kind = part.get("type")
                    if kind == "text":
                        text = part.get("text")
                        if isinstance(text, str):
                            total += count(text)
                    elif kind == "image_url":
                        image = part.get("image_url")
                        url = image.get("url") if isinstance(image, dict) else None
                        if isinstance(url, str):
                            detail = image.get("detail") if isinstance(image, dict) else None
                            cost = image_tokens(url, detail if isinstance(detail, str) else None)
                            total += cost.tokens
                            estimated = estimated or cost.estimated
            name = m.get("name")
            if isinstance(name, str):
                total += small(name) + PER_NAME
            calls = m.get("tool_calls")
            if isinstance(calls, list) and calls:
                estimated = True
                for call in calls:
                    function = call.get("function") if isinstance(call, dict) else None
                    if not isinstance(function, dict):
                        continue
                    total += TOOL_CALL_OVERHEAD
                    fname = function.get("name")
                    if isinstance(fname, str):
                        total += small(fname)
                    arguments = function.get("arguments")
                    if isinstance(arguments, str):
                        total += count(arguments)
        return total + REPLY_PRIMING, estimated

    def tools_tokens(tools: Any) -> tuple[int, bool]:
        if not isinstance(tools, list):
            return 0, False
        total = 0
        estimated = False
        functions = 0
        for tool in tools:
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict):
                continue
            functions += 1
            total += func_init
            name = function.get("name")
            description = function.get("description")
            if not isinstance(description, str):
                description, estimated = "", True
            total += count(f"{name if isinstance(name, str) else ''}:{description.removesuffix('.')}")
            parameters = function.get("parameters")
            properties = parameters.get("properties") if isinstance(parameters, dict) else None
            if not isinstance(properties, dict) or not properties:
                continue
            total += _PROP_INIT
            for key, schema in properties.items():
                total += _PROP_KEY
                if not isinstance(schema, dict):
                    estimated = True
                    continue
                kind = schema.get("type")
                if not isinstance(kind, str):
                    kind, estimated = ("" if kind is None else orjson.dumps(kind).decode()), True
                text = schema.get("description")
                if not isinstance(text, str):
                    text, estimated = "", True
                if "properties" in schema or "items" in schema:
                    estimated = True  # the rule covers flat properties; nested schemas are counted no further
                enum = schema.get("enum")
                if isinstance(enum, list):
                    total += _ENUM_INIT
                    for item in enum:
                        total += _ENUM_ITEM + count(item if isinstance(item, str) else orjson.dumps(item).decode())
                total += count(f"{key}:{kind}:{text.removesuffix('.')}")
        if functions:
            total += _FUNC_END
        return total, estimated

    def count_one(example: Mapping[str, Any]) -> ExampleTokens:
        messages = example.get("messages")
        if isinstance(messages, list):
            total, estimated = messages_tokens(messages)
            if "tools" in example:
                extra, more = tools_tokens(example["tools"])
                total += extra
                estimated = estimated or more
            return ExampleTokens(total, estimated)
        given = example.get("input")
        if isinstance(given, dict):
            conversation = given.get("messages")
            preferred = example.get("preferred_output")
            total, estimated = messages_tokens(
                [
                    *(conversation if isinstance(conversation, list) else ()),
                    *(preferred if isinstance(preferred, list) else ()),
                ]
            )
            if "tools" in given:
                extra, more = tools_tokens(given["tools"])
                total += extra
                estimated = estimated or more
            return ExampleTokens(total, estimated)
        prompt = example.get("prompt")
        completion = example.get("completion")
        if isinstance(prompt, str) or isinstance(completion, str):
            total = (count(prompt) if isinstance(prompt, str) else 0) + (
                count(completion) if isinstance(completion, str) else 0
            )
            return ExampleTokens(total, estimated=False)
        return ExampleTokens(0, estimated=True)  # not an example of any format: validation reports it

    return count_one
