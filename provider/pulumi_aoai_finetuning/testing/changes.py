"""What a step changes: the engine's fallback diff, the provider's answer, and each property's old and new value."""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

from ..inputs import is_unknown, plain
from .results import REDACTED, SHOWN_UNKNOWN, PropertyChange
from .state import PROVIDER_KEY, _is_sealed


class _Diff(NamedTuple):
    op: str  # same | update | replace
    replaces: list[str]
    delete_before_replace: bool
    # The properties the engine knows changed (its own diff, or a detailed one): what replace_on_changes sees.
    changed_keys: tuple[str, ...] = ()


def _changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The top-level properties that differ (unknown counts as changed), as the engine's fallback diff."""
    keys = set(olds) | set(news)
    return sorted(k for k in keys if is_unknown(news.get(k)) or plain(olds.get(k)) != plain(news.get(k)))


def _shown(value: Any, secret: bool) -> str:
    """A property value as printed: JSON, with secrets masked and unknowns named."""
    if secret or _is_sealed(value):
        return REDACTED
    if is_unknown(value):
        return SHOWN_UNKNOWN
    return json.dumps(plain(value), sort_keys=True, default=str)


def _property_changes(
    olds: Mapping[str, Any], news: Mapping[str, Any], secret_keys: AbstractSet[str]
) -> tuple[PropertyChange, ...]:
    """The top-level properties that differ, old and new shown; the pickled ``__provider`` only if alone."""
    keys = _changed(olds, news)
    if keys != [PROVIDER_KEY]:
        keys = [k for k in keys if k != PROVIDER_KEY]
    return tuple(
        PropertyChange(k, "(the pickled provider)", "(another pickled provider)")
        if k == PROVIDER_KEY
        else PropertyChange(
            k,
            _shown(olds[k], k in secret_keys) if k in olds else "",
            _shown(news[k], k in secret_keys) if k in news else "",
        )
        for k in keys
    )
