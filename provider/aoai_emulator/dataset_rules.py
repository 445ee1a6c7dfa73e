"""The service's own checks of an uploaded fine-tuning file: the reason a file ends ``processed`` or ``error``.

These are deliberately the service's rules (what Azure reports after upload), coarser than the
provider's preview-time validator: a file that breaks them is stored with ``status: error`` and a
``status_details`` text, as Azure does, instead of being refused at upload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any

CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MAX_REPORTED_ERRORS = 5


@dataclass
class DatasetVerdict:
    """What the service learned from a fine-tuning file: its format, size in examples and tokens, errors."""

    format: str | None
    examples: int
    tokens: int
    errors: list[str]

    @property
    def ok(self) -> bool:
        """True when the file can be used for training."""
        return not self.errors

    def status_details(self) -> str:
        """The ``status_details`` text of a file in ``error``."""
        return "Validation of jsonl file failed: " + "; ".join(self.errors)


def _line_format(obj: dict[str, Any]) -> str | None:
    if "messages" in obj:
        return "chat"
    if "input" in obj and "preferred_output" in obj and "non_preferred_output" in obj:
        return "preference"
    if "prompt" in obj and "completion" in obj:
        return "completion"
    return None


def _chat_error(obj: dict[str, Any]) -> str | None:
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    has_assistant = False
    for message in messages:
        if not isinstance(message, dict):
            return "each message must be an object"
        role = message.get("role")
        if role not in CHAT_ROLES:
            return f"unknown role {role!r}"
        has_assistant = has_assistant or role == "assistant"
        if "content" not in message and "tool_calls" not in message and "function_call" not in message:
            return f"a {role} message has no 'content'"
    if not has_assistant:
        return "an example has no assistant message to learn from"
    return None


def check_dataset(stream: IO[bytes], min_examples: int) -> DatasetVerdict:
    """Read a JSONL upload once and return the service's verdict on it."""
    examples = 0
    size = 0
    errors: list[str] = []
    seen_format: str | None = None
    for number, raw in enumerate(stream, start=1):
        size += len(raw)
        line = raw[3:] if number == 1 and raw.startswith(b"\xef\xbb\xbf") else raw
        if not line.strip():
            continue
        if len(errors) >= MAX_REPORTED_ERRORS:
            continue
        try:
            obj = json.loads(line)
        except (UnicodeDecodeError, ValueError):
            errors.append(f"line {number}: not valid JSON")
            continue
        if not isinstance(obj, dict):
            errors.append(f"line {number}: each line must be a JSON object")
            continue
        fmt = _line_format(obj)
        if fmt is None:
            errors.append(f"line {number}: not a chat, completion or preference example")
            continue
        if seen_format is not None and fmt != seen_format:
            errors.append(f"line {number}: {fmt} example in a {seen_format} file")
            continue
        seen_format = fmt
        problem = _chat_error(obj) if fmt == "chat" else None
        if problem:
            errors.append(f"line {number}: {problem}")
            continue
        examples += 1
    if not errors and examples < min_examples:
        errors.append(f"the file has {examples} examples; at least {min_examples} are required")
    return DatasetVerdict(seen_format, examples, size // 4, errors)
