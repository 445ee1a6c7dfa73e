"""The detailed checker: slow but thorough, it says which rule an example breaks and where in the example.

It runs only on lines the fast paths (``typed``, ``quick``) did not vouch for, and is the reference they are
held to: a fast path may refuse more than this checker does, never less.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
IMAGE_DETAILS = ("low", "high", "auto")
IMAGE_URL_PREFIXES = ("https://", "http://", "data:image/")


class _Bad(Exception):
    """A problem found in one example: raised by the detailed checker, turned into a DatasetError."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def _kind(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _show(value: object, limit: int = 40) -> str:
    """A short rendering of a value for a message: datasets can be large and private, so quote little."""
    text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _line_format(obj: dict[str, Any]) -> str | None:
    """Which format an example is written in, from its keys (None when it matches none)."""
    if "messages" in obj or "tools" in obj:
        return "chat"
    if "input" in obj or "preferred_output" in obj or "non_preferred_output" in obj:
        return "preference"
    if "prompt" in obj or "completion" in obj:
        return "completion"
    return None


def _check_message(m: object, where: str) -> None:
    if not isinstance(m, dict):
        raise _Bad("chat.message-type", f"{where} must be an object, not {_kind(m)}")
    if "role" not in m:
        raise _Bad("chat.role", f"{where} has no 'role'")
    role = m["role"]
    if not isinstance(role, str) or role not in CHAT_ROLES:
        raise _Bad("chat.role", f"{where}: role {_show(role)} is not one of system, developer, user, assistant, tool")
    if "weight" in m:
        if role != "assistant":
            raise _Bad("chat.weight-role", f"{where}: a {role} message has a 'weight'; only assistant messages do")
        weight = m["weight"]
        if type(weight) is not int or weight not in (0, 1):
            raise _Bad("chat.weight", f"{where}: 'weight' must be 0 or 1, not {_show(weight)}")
    if "tool_calls" in m:
        if role != "assistant":
            raise _Bad("chat.tool-calls", f"{where}: a {role} message has 'tool_calls'; only assistant messages do")
        _check_tool_calls(m["tool_calls"], f"{where}.tool_calls")
    content = m.get("content")
    if content is None:
        if role == "assistant" and "tool_calls" in m:
            return
        raise _Bad("chat.content-missing", f"{where}: the {role} message has no 'content'")
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not content:
        shown = "an empty list" if isinstance(content, list) else _kind(content)
        raise _Bad("chat.content-type", f"{where}: 'content' must be a string or a list of parts, not {shown}")
    for j, part in enumerate(content):
        _check_part(part, f"{where}.content[{j}]")


def _check_part(part: object, where: str) -> None:
    if not isinstance(part, dict):
        raise _Bad("chat.content-part-type", f"{where} must be an object with a 'type', not {_kind(part)}")
    kind = part.get("type")
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise _Bad("chat.content-part-type", f"{where}: a text part needs a string 'text'")
        return
    if kind != "image_url":
        raise _Bad("chat.content-part-type", f"{where}: part type {_show(kind)} is not 'text' or 'image_url'")
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(image, dict) or not isinstance(url, str):
        raise _Bad("chat.image-url", f"{where}: 'image_url' must be an object with a string 'url'")
    if not url.startswith(IMAGE_URL_PREFIXES):
        raise _Bad("chat.image-url", f"{where}: image url {_show(url)} is neither http(s) nor a data:image URL")
    if "detail" in image and image["detail"] not in IMAGE_DETAILS:
        raise _Bad("chat.image-detail", f"{where}: detail {_show(image['detail'])} is not low, high or auto")


def _check_tool_calls(calls: object, where: str) -> None:
    if not isinstance(calls, list) or not calls:
        raise _Bad("chat.tool-calls", f"{where} must be a non-empty list, not {_kind(calls)}")
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or call.get("type", "function") != "function" or not isinstance(function, dict):
            raise _Bad("chat.tool-calls", f"{where}[{j}] must be an object with type 'function' and a 'function'")
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise _Bad("chat.tool-calls", f"{where}[{j}].function needs a non-empty string 'name'")
        if not isinstance(function.get("arguments"), str):
            raise _Bad("chat.tool-calls", f"{where}[{j}].function.arguments must be a string of JSON")


def _check_tools(tools: object, where: str) -> None:
    if not isinstance(tools, list):
        raise _Bad("chat.tools", f"'{where}' must be a list, not {_kind(tools)}")
    for j, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise _Bad("chat.tools", f"{where}[{j}] must be an object with type 'function' and a 'function'")
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise _Bad("chat.tools", f"{where}[{j}].function needs a non-empty string 'name'")
        if "parameters" in function and not isinstance(function["parameters"], dict):
            raise _Bad("chat.tools", f"{where}[{j}].function.parameters must be a JSON schema object")


def _check_chat(obj: dict[str, Any]) -> None:
    if "messages" not in obj:
        raise _Bad("chat.messages-missing", "the example has no 'messages'")
    messages = obj["messages"]
    if not isinstance(messages, list):
        raise _Bad("chat.messages-missing", f"'messages' must be a list of messages, not {_kind(messages)}")
    if not messages:
        raise _Bad("chat.messages-empty", "'messages' is empty")
    for i, m in enumerate(messages):
        _check_message(m, f"messages[{i}]")
    if not any(m["role"] == "assistant" for m in messages):
        raise _Bad("chat.no-assistant", "the example has no assistant message to learn from")
    if "tools" in obj:
        _check_tools(obj["tools"], "tools")


def _check_completion(obj: dict[str, Any]) -> None:
    prompt = obj.get("prompt")
    if not isinstance(prompt, str):
        raise _Bad("completion.prompt-type", f"'prompt' must be a string, not {_kind(prompt)}")
    completion = obj.get("completion")
    if not isinstance(completion, str):
        raise _Bad("completion.completion-type", f"'completion' must be a string, not {_kind(completion)}")
    if not completion.strip():
        raise _Bad("completion.empty", "'completion' is empty")


def _check_output(out: object, key: str, rule: str) -> None:
    if not isinstance(out, list) or not out:
        shown = "an empty list" if isinstance(out, list) else _kind(out)
        raise _Bad(rule, f"'{key}' must be a non-empty list of assistant messages, not {shown}")
    for j, m in enumerate(out):
        if isinstance(m, dict) and m.get("role") != "assistant":
            raise _Bad("preference.output-role", f"{key}[{j}]: role {_show(m.get('role'))} is not 'assistant'")
        _check_message(m, f"{key}[{j}]")


def _check_preference(obj: dict[str, Any]) -> None:
    given = obj.get("input")
    if not isinstance(given, dict) or not isinstance(given.get("messages"), list) or not given["messages"]:
        raise _Bad("preference.input", "'input' must be an object with a non-empty 'messages' list")
    for i, m in enumerate(given["messages"]):
        _check_message(m, f"input.messages[{i}]")
    if "tools" in given:
        _check_tools(given["tools"], "input.tools")
    _check_output(obj.get("preferred_output"), "preferred_output", "preference.preferred-output")
    _check_output(obj.get("non_preferred_output"), "non_preferred_output", "preference.non-preferred-output")


_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "chat": _check_chat,
    "completion": _check_completion,
    "preference": _check_preference,
}
