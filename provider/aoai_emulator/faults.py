"""Fault injection: rules that make matching requests fail, slow down, or lose their connection.

A rule matches on method and path (regular expressions, searched) and fires with a probability drawn
from its own seeded generator, at most ``count`` times, after letting ``skip`` matches through. It fires
``before`` the request reaches the service (nothing happened) or ``after`` (the service did the work
and the client never hears of it: the case that makes duplicate jobs if a client is careless).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FaultKind = Literal["error", "reset", "latency"]
KINDS = ("error", "reset", "latency")


@dataclass
class FaultRule:
    """One fault rule, as given to ``--fault`` or ``POST /_emulator/faults``."""

    path: str = ".*"
    method: str = ".*"
    kind: FaultKind = "error"
    status: int = 503
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    retry_after_ms: int | None = None
    latency_ms: int = 0
    probability: float = 1.0
    count: int | None = None
    skip: int = 0
    seed: int = 0
    when: Literal["before", "after"] = "before"
    id: int = 0
    fired: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _path_re: re.Pattern[str] = field(default=re.compile(".*"), repr=False)
    _method_re: re.Pattern[str] = field(default=re.compile(".*"), repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"fault probability must be between 0 and 1, not {self.probability}")
        if self.when not in ("before", "after"):
            raise ValueError(f"fault 'when' must be 'before' or 'after', not {self.when!r}")
        if self.kind == "error" and not 400 <= self.status <= 599:
            raise ValueError(f"fault status must be an HTTP error status (400-599), not {self.status}")
        try:
            self._path_re = re.compile(self.path)
            self._method_re = re.compile(self.method, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"fault path/method is not a valid regular expression: {exc}") from None
        self._rng = random.Random(self.seed)

    def describe(self) -> dict[str, Any]:
        """The rule as JSON for ``GET /_emulator/faults``."""
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def headers(self) -> dict[str, str]:
        """The retry headers this fault answers with."""
        out: dict[str, str] = {}
        if self.retry_after is not None:
            out["Retry-After"] = f"{self.retry_after:g}"
        if self.retry_after_ms is not None:
            out["retry-after-ms"] = str(self.retry_after_ms)
        return out


def parse_rule(spec: str | dict[str, Any]) -> FaultRule:
    """A rule from JSON or ``key=value,key=value`` text (the ``--fault`` flag) or a dict."""
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith("{"):
            data: dict[str, Any] = json.loads(text)
        else:
            data = {}
            for part in text.split(","):
                key, sep, value = part.partition("=")
                if not sep:
                    raise ValueError(f"fault spec part {part!r} is not key=value")
                data[key.strip()] = value.strip()
    else:
        data = dict(spec)
    known = {k for k in FaultRule.__dataclass_fields__ if not k.startswith("_")} - {"id", "fired"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown fault field(s) {sorted(unknown)}; known: {sorted(known)}")
    ints = {"status", "retry_after_ms", "latency_ms", "count", "skip", "seed"}
    floats = {"retry_after", "probability"}
    for key in list(data):
        if key in ints and data[key] is not None:
            data[key] = int(data[key])
        elif key in floats and data[key] is not None:
            data[key] = float(data[key])
    return FaultRule(**data)


class FaultBook:
    """The active fault rules, checked in the order they were added."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._next_id = 1

    def add(self, rule: FaultRule) -> FaultRule:
        """Activate a rule and give it an id."""
        rule.id = self._next_id
        self._next_id += 1
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def match(self, method: str, path: str, when: str) -> FaultRule | None:
        """The first rule that fires for this request at this moment, counting it as fired."""
        for rule in self.rules:
            if rule.when != when or (rule.count is not None and rule.fired >= rule.count):
                continue
            if not (rule._method_re.fullmatch(method) and rule._path_re.search(path)):
                continue
            if rule.skip > 0:
                rule.skip -= 1
                continue
            if rule._rng.random() >= rule.probability:
                continue
            rule.fired += 1
            return rule
        return None
