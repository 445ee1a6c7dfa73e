"""What a validation says: the report, its errors, the rule ids with their fixes, and the service's limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_BYTES = 512 * 1024 * 1024
"""The service's per-file limit: a training or validation file must be smaller than 512 MiB."""

MIN_EXAMPLES = 10
"""The service's minimum: a fine-tuning job does not start with fewer training examples."""

FORMATS = ("chat", "completion", "preference")

RULES: Mapping[str, str] = {
    "file.not-found": "check the path; a relative path is resolved from the Pulumi project directory",
    "file.not-a-file": "point the path at a .jsonl file",
    "file.unreadable": "make the file readable by the user running Pulumi",
    "dataset.too-large": "split the data into files smaller than the limit, or train on a sample",
    "dataset.empty": "write one example per line, as a JSON object",
    "dataset.too-few-examples": "add examples: the service will not start a job with fewer",
    "encoding.utf16": "save the file as UTF-8; most editors offer the encoding under Save as",
    "encoding.utf8": "save the file as UTF-8; it was probably written as Latin-1 or Windows-1252",
    "encoding.bom-not-at-start": "remove this byte-order mark; files concatenated with `cat` each bring their own",
    "json.syntax": "write each example as one complete JSON object on its line",
    "json.multiline": "write each example as one JSON object on a single line, as JSON Lines requires, not indented",
    "json.not-object": 'write one JSON object per line, such as {"messages": [...]}',
    "line.blank": "remove blank lines; a newline at the end of the file is fine",
    "format.unknown": 'use the chat format {"messages": [...]}, the completion format '
    '{"prompt": ..., "completion": ...} or the preference format {"input": ..., "preferred_output": ..., '
    '"non_preferred_output": ...}',
    "format.mixed": "keep one format per file: split the examples into separate files",
    "chat.messages-missing": "give every chat example a 'messages' list",
    "chat.messages-empty": "put at least one user message and one assistant message in 'messages'",
    "chat.message-type": 'write each message as an object such as {"role": "user", "content": "..."}',
    "chat.role": "use one of the roles system, developer, user, assistant or tool",
    "chat.content-missing": "give the message a 'content'; an assistant message may carry 'tool_calls' instead",
    "chat.content-type": "make 'content' a string or a non-empty list of text and image_url parts",
    "chat.content-part-type": 'use parts {"type": "text", "text": "..."} or '
    '{"type": "image_url", "image_url": {"url": "..."}}',
    "chat.image-url": 'set image_url to {"url": "https://..."} or a data:image/...;base64 URL',
    "chat.image-detail": "set detail to low, high or auto, or leave it out",
    "chat.weight": "set weight to 0 to skip this assistant message, or 1 to train on it",
    "chat.weight-role": "remove 'weight' from this message: only assistant messages are weighted",
    "chat.no-assistant": "add an assistant message: it is what the model learns to produce",
    "chat.tool-calls": "write tool_calls on an assistant message as a list of "
    '{"id": ..., "type": "function", "function": {"name": ..., "arguments": "<JSON string>"}}',
    "chat.tools": 'write tools as a list of {"type": "function", "function": {"name": ..., "parameters": {...}}}',
    "completion.prompt-type": "give every completion example a string 'prompt'",
    "completion.completion-type": "give every completion example a string 'completion'",
    "completion.empty": "write the text the model should learn in 'completion', or drop the example",
    "preference.input": "set 'input' to {\"messages\": [...]} with the conversation up to the answer",
    "preference.preferred-output": "set 'preferred_output' to a list holding the better assistant message",
    "preference.non-preferred-output": "set 'non_preferred_output' to a list holding the worse assistant message",
    "preference.output-role": "make every message in preferred_output and non_preferred_output an assistant message",
}
"""Every rule id the validator reports, mapped to the usual fix."""


@dataclass(frozen=True)
class DatasetError:
    """One problem in a dataset: where it is, which rule it breaks, what is wrong and how to fix it."""

    path: str
    line: int | None
    rule: str
    message: str
    fix: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.rule}: {self.message} ({self.fix})"

    def to_json(self) -> dict[str, Any]:
        """The error as a JSON-ready dict."""
        return {"path": self.path, "line": self.line, "rule": self.rule, "message": self.message, "fix": self.fix}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DatasetError:
        """The inverse of :meth:`to_json`; raises ``ValueError`` when ``d`` is not one."""
        try:
            line = d["line"]
            fields = (d["path"], d["rule"], d["message"], d["fix"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"malformed dataset error: {e}") from e
        if not all(isinstance(f, str) for f in fields) or not (line is None or type(line) is int):
            raise ValueError(f"malformed dataset error: {d!r}")
        return cls(d["path"], line, d["rule"], d["message"], d["fix"])


@dataclass(frozen=True)
class DatasetReport:
    """The verdict on one dataset file: its size, hash, format, example count and problems."""

    path: str
    size: int
    sha256: str  # "" when the file was not read (missing, unreadable or too large)
    format: str | None  # "chat" | "completion" | "preference"
    examples: int  # valid examples
    tokens_estimate: int  # about a quarter of the bytes of the example lines: a cost hint, not a tokenizer count
    errors: tuple[DatasetError, ...]
    truncated: bool  # True when the file has more problems than ``errors`` lists

    @property
    def ok(self) -> bool:
        """True when the file can be uploaded for fine-tuning as it is."""
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (the on-disk cache stores this)."""
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "format": self.format,
            "examples": self.examples,
            "tokens_estimate": self.tokens_estimate,
            "errors": [e.to_json() for e in self.errors],
            "truncated": self.truncated,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DatasetReport:
        """The inverse of :meth:`to_json`; raises ``ValueError`` when ``d`` is not one."""
        try:
            ints = (d["size"], d["examples"], d["tokens_estimate"])
            if not all(type(i) is int and i >= 0 for i in ints):
                raise ValueError("size, examples and tokens_estimate must be non-negative integers")
            if not isinstance(d["path"], str) or not isinstance(d["sha256"], str) or type(d["truncated"]) is not bool:
                raise ValueError("path and sha256 must be strings and truncated a boolean")
            if d["format"] is not None and d["format"] not in FORMATS:
                raise ValueError(f"unknown format {d['format']!r}")
            if not isinstance(d["errors"], list):
                raise ValueError("errors must be a list")
            errors = tuple(DatasetError.from_json(e) for e in d["errors"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"malformed dataset report: {e}") from e
        return cls(d["path"], d["size"], d["sha256"], d["format"], *ints[1:], errors, d["truncated"])
