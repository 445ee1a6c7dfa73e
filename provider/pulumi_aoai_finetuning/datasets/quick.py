"""Quick checks on parsed examples: whole chunks of plain examples vouched for with C-level map/set operations.

They serve the chunks the typed decoder (``typed``) did not accept as a whole, where the odd line is then
looked at by the detailed checker (``rules``).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain, compress
from operator import itemgetter
from typing import Any

from .rules import CHAT_ROLES

# C-level helpers for the quick checks.
_role = itemgetter("role")
_content = itemgetter("content")
_messages = itemgetter("messages")
_weight = itemgetter("weight")
_prompt = itemgetter("prompt")
_completion = itemgetter("completion")
_input = itemgetter("input")
_preferred = itemgetter("preferred_output")
_non_preferred = itemgetter("non_preferred_output")
_last = itemgetter(-1)
_is_one = (1).__eq__
_ASSISTANT = frozenset({"assistant"})
_STR_ONLY = frozenset({str})
_LIST_ONLY = frozenset({list})
_SIZES_ONE = frozenset({1})
_SIZES_PLAIN = frozenset({2})
_SIZES_THREE = frozenset({3})
_SIZES_WEIGHTED = frozenset({2, 3})


# They accept only examples the detailed checker accepts (tests hold them to that), and do so with as few
# Python-level steps as possible: the loops run inside map(), set(), chain() and compress(). The
# bulk checks look at a whole chunk of parsed lines at once; the per-example ones serve the leftovers.


def _chat_fast(obj: Any) -> bool:
    """True for a plain chat example: only 'messages', string contents, valid roles and weights, an assistant."""
    try:
        if len(obj) != 1:  # 'tools' or other keys: let the detailed checker look
            return False
        messages = obj["messages"]
        roles = list(map(_role, messages))
        if "assistant" not in roles or not CHAT_ROLES.issuperset(roles):
            return False
        if not _STR_ONLY.issuperset(map(type, map(_content, messages))):
            return False
        sizes = set(map(len, messages))
        if sizes == _SIZES_PLAIN:  # every message is exactly {"role", "content"}
            return True
        if not _SIZES_WEIGHTED.issuperset(sizes):
            return False
        for m in messages:  # the third key of a 3-key message must be a valid assistant weight
            if len(m) == 3 and (m["role"] != "assistant" or type(w := m.get("weight")) is not int or w not in (0, 1)):
                return False
        return True
    except (KeyError, TypeError):  # not a dict, no role or content, an unhashable role: the detailed checker says
        return False


def _chat_bulk(objs: list[Any]) -> list[int] | None:
    """Vouch for the plain chat examples of a chunk: the indices left for a closer look, or None for all."""
    # set(map(...)) then a comparison of two tiny sets is the cheapest whole-list test CPython offers here:
    # cheaper than all() over a generator, and than frozenset.issuperset() of an iterator.
    try:
        sizes = list(map(len, objs))
        if sizes.count(1) == len(sizes):
            rest: list[int] = []
            plain = objs
        else:  # examples with 'tools' (or anything else beside 'messages') get a closer look
            rest = [i for i, size in enumerate(sizes) if size != 1]
            plain = list(compress(objs, map(_is_one, sizes)))
        per_example = list(map(_messages, plain))
        messages = list(chain.from_iterable(per_example))
        if not (
            set(map(_role, messages)) <= CHAT_ROLES
            # Ending on an assistant message is the usual shape, and proves there is one, at C speed.
            and set(map(_role, map(_last, per_example))) <= _ASSISTANT
            and set(map(type, map(_content, messages))) <= _STR_ONLY
        ):
            return None
        sizes = list(map(len, messages))
        plain_count = sizes.count(2)
        if plain_count == len(sizes):  # every message is exactly {"role", "content"}
            return rest
        # The other messages must have a third key, an assistant's weight of 0 or 1. They are few (weights
        # sit on some assistant turns of some examples), so list.index finds them faster than a filter pass.
        if plain_count + sizes.count(3) != len(sizes):
            return None
        i = -1
        for _ in range(len(sizes) - plain_count):
            i = sizes.index(3, i + 1)
            m = messages[i]
            if m["role"] != "assistant" or type(w := m["weight"]) is not int or w not in (0, 1):
                return None
        return rest
    except (KeyError, TypeError, IndexError):  # some example is not plain: look at each
        return None


def _completion_fast(obj: Any) -> bool:
    """True for a completion example with exactly a string prompt and a non-blank string completion."""
    try:
        if len(obj) != 2:
            return False
        completion = obj["completion"]
        return type(obj["prompt"]) is str and type(completion) is str and completion != "" and not completion.isspace()
    except (KeyError, TypeError):
        return False


def _completion_bulk(objs: list[Any]) -> list[int] | None:
    """Vouch for a chunk of completion examples at once, or return None to have each looked at."""
    try:
        if not _SIZES_PLAIN.issuperset(map(len, objs)):
            return None
        completions = list(map(_completion, objs))
        if not (
            _STR_ONLY.issuperset(map(type, map(_prompt, objs)))
            and _STR_ONLY.issuperset(map(type, completions))
            and "" not in completions
            and not any(map(str.isspace, completions))
        ):
            return None
        return []
    except (KeyError, TypeError):
        return None


def _plain_messages(messages: Any, roles: frozenset[str]) -> bool:
    """True for a non-empty list of {"role", "content"} messages with string contents and roles in ``roles``."""
    return (
        type(messages) is list
        and len(messages) > 0
        and roles.issuperset(map(_role, messages))
        and _SIZES_PLAIN.issuperset(map(len, messages))
        and _STR_ONLY.issuperset(map(type, map(_content, messages)))
    )


def _preference_fast(obj: Any) -> bool:
    """True for a plain preference example: input messages and one-or-more assistant messages on each side."""
    try:
        return (
            len(obj) == 3
            and len(obj["input"]) == 1
            and _plain_messages(obj["input"]["messages"], CHAT_ROLES)
            and _plain_messages(obj["preferred_output"], _ASSISTANT)
            and _plain_messages(obj["non_preferred_output"], _ASSISTANT)
        )
    except (KeyError, TypeError):
        return False


def _preference_bulk(objs: list[Any]) -> list[int] | None:
    """Vouch for a chunk of plain preference examples at once, or return None to have each looked at."""
    try:
        if not set(map(len, objs)) <= _SIZES_THREE:
            return None
        given = list(map(_input, objs))
        if not set(map(len, given)) <= _SIZES_ONE:  # 'messages' only: 'tools' get a closer look
            return None
        sides = [list(map(_messages, given)), list(map(_preferred, objs)), list(map(_non_preferred, objs))]
        for side in sides:
            if not set(map(type, side)) <= _LIST_ONLY or min(map(len, side)) == 0:
                return None
        prompts = list(chain.from_iterable(sides[0]))
        answers = list(chain.from_iterable(chain(sides[1], sides[2])))
        messages = prompts + answers
        if (
            set(map(_role, prompts)) <= CHAT_ROLES
            and set(map(_role, answers)) <= _ASSISTANT
            and set(map(type, map(_content, messages))) <= _STR_ONLY
            and set(map(len, messages)) <= _SIZES_PLAIN
        ):
            return []
        return None
    except (KeyError, TypeError, ValueError):
        return None


def _never(obj: Any) -> bool:
    """The quick check before the file's format is known: every example goes to the detailed checker."""
    return False


def _no_bulk(objs: list[Any]) -> list[int] | None:
    """The bulk check of a format that has none: each example is looked at."""
    return None


_FAST: dict[str | None, Callable[[Any], bool]] = {
    None: _never,
    "chat": _chat_fast,
    "completion": _completion_fast,
    "preference": _preference_fast,
}
_BULK: dict[str | None, Callable[[list[Any]], list[int] | None]] = {
    None: _no_bulk,
    "chat": _chat_bulk,
    "completion": _completion_bulk,
    "preference": _preference_bulk,
}
