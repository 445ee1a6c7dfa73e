"""The typed fast path: msgspec decodes a whole chunk of lines straight into schema types, or refuses it.

The schema mirrors the detailed checker (``rules``) but is stricter: every struct forbids unknown fields and
every accepted field is materialised and typed, so msgspec's own checks (UTF-8, JSON syntax, types, tags,
lengths, patterns) see every byte of an accepted line. What the schema cannot express is checked as an
assistant message is decoded (content, or else tool calls) or on the decoded chunk with C-level
``map``/``set`` operations (an assistant in each chat example, tool parameters that are JSON objects,
completions that are not blank). When anything is off, the chunk is refused and the caller parses it again
with orjson, where the quick checks (``quick``) and the detailed checker find and word the problem: this path
only ever says "all valid". Structs are not tracked by the garbage collector (``gc=False``): they hold only
strings, ints and lists, never a cycle.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

SENTINEL = secrets.randbits(62)
"""Written between the lines of a chunk, which is decoded as one array: finding each one back in its place
proves every line held exactly one value. Random per process, so a file cannot forge it."""

_STRICT: dict[str, Any] = {"forbid_unknown_fields": True, "gc": False}
_MESSAGE: dict[str, Any] = {**_STRICT, "tag_field": "role"}


class _Text(Struct, tag_field="type", tag="text", **_STRICT):
    text: str


class _ImageUrl(Struct, **_STRICT):
    url: Annotated[str, Meta(pattern="^(https://|http://|data:image/)")]
    detail: Literal["low", "high", "auto"] | UnsetType = UNSET


class _Image(Struct, tag_field="type", tag="image_url", **_STRICT):
    image_url: _ImageUrl


_Content = str | Annotated[list[_Text | _Image], Meta(min_length=1)]
_Name = Annotated[str, Meta(min_length=1)]


class _Function(Struct, **_STRICT):
    name: _Name
    arguments: str


class _ToolCall(Struct, **_STRICT):
    function: _Function
    type: Literal["function"] = "function"
    id: str | UnsetType = UNSET


class _System(Struct, tag="system", **_MESSAGE):
    content: _Content
    name: str | UnsetType = UNSET


class _Developer(Struct, tag="developer", **_MESSAGE):
    content: _Content
    name: str | UnsetType = UNSET


class _User(Struct, tag="user", **_MESSAGE):
    content: _Content
    name: str | UnsetType = UNSET


class _Tool(Struct, tag="tool", **_MESSAGE):
    content: _Content
    tool_call_id: str | UnsetType = UNSET


class _Assistant(Struct, tag="assistant", **_MESSAGE):
    content: _Content | None = None
    weight: Literal[0, 1] | UnsetType = UNSET
    tool_calls: Annotated[list[_ToolCall], Meta(min_length=1)] | UnsetType = UNSET
    name: str | UnsetType = UNSET

    def __post_init__(self) -> None:
        # Cheaper here, on assistant messages only, than in a pass over every message of the chunk.
        if self.content is None and self.tool_calls is UNSET:
            raise ValueError("an assistant message needs content or tool calls")


class _FunctionDef(Struct, **_STRICT):
    name: _Name
    description: str | UnsetType = UNSET
    # Kept raw and parsed by orjson on the chunk check: a JSON schema may hold anything, floats included,
    # and orjson's verdict on those bytes (infinities, UTF-8) is the one the detailed path gives.
    parameters: Raw | UnsetType = UNSET
    strict: bool | UnsetType = UNSET


class _ToolDef(Struct, **_STRICT):
    type: Literal["function"]
    function: _FunctionDef


_Message = _System | _Developer | _User | _Tool | _Assistant
_Messages = Annotated[list[_Message], Meta(min_length=1)]


class _Chat(Struct, **_STRICT):
    messages: _Messages
    tools: list[_ToolDef] | UnsetType = UNSET
    parallel_tool_calls: bool | UnsetType = UNSET


class _Completion(Struct, **_STRICT):
    prompt: str
    completion: str  # not blank: checked on the chunk


class _Input(Struct, **_STRICT):
    messages: _Messages
    tools: list[_ToolDef] | UnsetType = UNSET


class _Preference(Struct, **_STRICT):
    input: _Input
    preferred_output: _Messages  # assistant messages only: checked on the chunk
    non_preferred_output: _Messages


_messages = attrgetter("messages")
_content = attrgetter("content")
_tools = attrgetter("tools")
_tool_calls = attrgetter("tool_calls")
_completion = attrgetter("completion")
_input = attrgetter("input")
_preferred = attrgetter("preferred_output")
_non_preferred = attrgetter("non_preferred_output")
_last = itemgetter(-1)
_ASSISTANT_ONLY = frozenset({_Assistant})


def _tools_ok(tool_lists: list[Any]) -> bool:
    """Every tool definition's parameters, when given, are a JSON object (as orjson reads those bytes)."""
    for tools in tool_lists:
        if tools is UNSET:
            continue
        for tool in tools:
            raw = tool.function.parameters
            if raw is UNSET:
                continue
            try:
                if not isinstance(orjson.loads(memoryview(raw)), dict):
                    return False
            except orjson.JSONDecodeError:
                return False
    return True


def _chat_ok(objs: list[Any]) -> bool:
    per_example = list(map(_messages, objs))
    # Ending on an assistant message is the usual shape; otherwise look for one in each example.
    if not set(map(type, map(_last, per_example))) <= _ASSISTANT_ONLY and not all(
        _Assistant in set(map(type, messages)) for messages in per_example
    ):
        return False
    tools = list(map(_tools, objs))
    return tools.count(UNSET) == len(tools) or _tools_ok(tools)


def _completion_ok(objs: list[Any]) -> bool:
    completions = list(map(_completion, objs))
    return "" not in completions and not any(map(str.isspace, completions))


def _preference_ok(objs: list[Any]) -> bool:
    given = list(map(_input, objs))
    answers = list(chain.from_iterable(chain(map(_preferred, objs), map(_non_preferred, objs))))
    if not set(map(type, answers)) <= _ASSISTANT_ONLY:
        return False
    tools = list(map(_tools, given))
    return tools.count(UNSET) == len(tools) or _tools_ok(tools)


class _Format:
    """The decoder of one format's chunks and the checks of what the schema cannot say."""

    def __init__(self, example: type[Struct], ok: Callable[[list[Any]], bool]) -> None:
        self.decoder = msgspec.json.Decoder(list[example | Literal[SENTINEL]])  # type: ignore[valid-type]
        self.only = frozenset({example})
        self.ok = ok


_FORMATS = {
    "chat": _Format(_Chat, _chat_ok),
    "completion": _Format(_Completion, _completion_ok),
    "preference": _Format(_Preference, _preference_ok),
}

SEPARATOR = b",%d," % SENTINEL
"""What replaces each newline of a chunk before it is decoded as one array."""


FORMATS = tuple(_FORMATS)
"""The formats the typed decoder knows, the most common first."""


def vouch(fmt: str, joined: bytes, lines: int) -> bool:
    """True when all ``lines`` lines of a chunk (newlines replaced by SEPARATOR) are valid ``fmt`` examples.

    False says nothing about any line: the caller then checks the chunk the slow way.
    """
    form = _FORMATS[fmt]
    try:
        values = form.decoder.decode(b"".join((b"[", joined, b"]")))
    except (ValueError, RecursionError):  # msgspec's DecodeError and ValidationError, and UnicodeDecodeError
        return False
    if len(values) != 2 * lines - 1 or values[1::2].count(SENTINEL) != lines - 1:
        return False
    examples = values[::2]
    return set(map(type, examples)) <= form.only and form.ok(examples)
