"""Resource options as the engine applies them to a dynamic resource (``reference/pulumi-dynamic.md`` §1.6, §4.2).

* ``ignore_changes``: property paths (``hyperparameters.n_epochs``, ``tags["team"]``, ``items[0]``) whose old
  value replaces the new one before Check (the engine's ``processIgnoreChanges``);
* ``replace_on_changes``: a change under one of these paths makes an update a replacement, but only where
  the engine knows which properties changed: its own diff (a provider answering ``DIFF_UNKNOWN``) or a
  provider's detailed diff. The Python dynamic-provider server sends no changed keys with ``DIFF_SOME``, so
  for a resource whose ``diff`` returns ``changes=True`` the option is inert (use ``DiffResult.replaces``);
* ``protect``: the CLI's messages when a protected resource would be deleted or replaced;
* ``aliases``: the URNs a resource had before (alias specs resolved as the engine resolves them);
* ``custom_timeouts``: Go durations (``"10m"``, ``"1h30m"``), sent to the provider as seconds, where the Python
  dynamic-provider server ignores them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

_SEGMENT = re.compile(r"""\.?([^.\[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]""")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_MISSING = object()


class OptionError(ValueError):
    """A resource option the engine would reject (a malformed property path or duration)."""


def property_path(path: str) -> list[str | int]:
    """The segments of a property path as the engine parses it: ``a.b[0]["c.d"]`` is ``a``, ``b``, 0, ``c.d``."""
    segments: list[str | int] = []
    position = 0
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None or match.end() == position:
            raise OptionError(f'{path!r} is not a property path (e.g. a.b[0] or tags["name"]) at {position}')
        name, index, quoted = match.groups()
        if index is not None:
            segments.append(int(index))
        elif quoted is not None:
            segments.append(quoted.replace('\\"', '"'))
        else:
            segments.append(name)
        position = match.end()
    return segments


def _get(value: Any, segments: Sequence[str | int]) -> Any:
    for segment in segments:
        if isinstance(value, dict) and isinstance(segment, str):
            if segment not in value:
                return _MISSING
            value = value[segment]
        elif isinstance(value, list) and isinstance(segment, int):
            if segment >= len(value):
                return _MISSING
            value = value[segment]
        else:
            return _MISSING
    return value


def _set(target: Any, segments: Sequence[str | int], value: Any) -> None:
    """Set (or, for ``_MISSING``, remove) the value at ``segments``; a path the new inputs lack is made."""
    *parents, last = segments
    for segment in parents:
        if isinstance(segment, int):
            if not isinstance(target, list) or segment >= len(target):
                return  # the new inputs have no such element: nothing to keep
            target = target[segment]
        else:
            if not isinstance(target, dict):
                return
            target = target.setdefault(segment, {})
    if isinstance(last, int):
        if isinstance(target, list) and last < len(target) and value is not _MISSING:
            target[last] = value
    elif isinstance(target, dict):
        if value is _MISSING:
            target.pop(last, None)
        else:
            target[last] = value


def apply_ignore_changes(olds: Mapping[str, Any], news: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """The new inputs with each ignored path holding its old value (removed where the old inputs lacked it)."""
    result = copy.deepcopy(dict(news))
    for path in paths:
        if path == "*":
            return copy.deepcopy(dict(olds))
        segments = property_path(path)
        old = _get(olds, segments)
        _set(result, segments, old if old is _MISSING else copy.deepcopy(old))
    return result


def replacing_keys(changed_keys: Iterable[str], paths: Sequence[str]) -> list[str]:
    """The changed top-level properties that ``replace_on_changes`` paths cover (``*`` covers every one)."""
    firsts = {"*" if path == "*" else str(property_path(path)[0]) for path in paths}
    return sorted(k for k in changed_keys if "*" in firsts or k in firsts)


def delete_protected_message(urn: str) -> str:
    """The engine's refusal to delete a protected resource (``deleteProtectedError``)."""
    return (
        f'resource "{urn}" cannot be deleted\nbecause it is protected. To unprotect the resource, either remove '
        "the `protect` flag from the resource in your Pulumi program and run `pulumi up`, or use the command:\n"
        f"`pulumi state unprotect '{urn}'`"
    )


def replace_protected_message(urn: str) -> str:
    """The engine's refusal to replace a protected resource (step_generator.go)."""
    return (
        f'unable to replace resource "{urn}"\nas it is currently marked for protection. To unprotect the '
        "resource, remove the `protect` flag from the resource in your Pulumi program and run `pulumi up`"
    )


def alias_urns(request: Any, stack: str, project: str, make_urn: Callable[[str, str, str, str, str], str]) -> list[str]:
    """The URNs a registration's aliases name; ``make_urn(parent, type, name, stack, project)`` builds one."""
    urns = list(getattr(request, "aliasURNs", []) or [])
    for alias in getattr(request, "aliases", []) or []:
        if alias.urn:
            urns.append(alias.urn)
            continue
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        urns.append(
            make_urn(
                parent,
                spec.type or request.type,
                spec.name or request.name,
                spec.stack or stack,
                spec.project or project,
            )
        )
    return urns


def duration_seconds(text: str, where: str) -> float:
    """A Go duration (``"1h30m"``, ``"90s"``, ``"1ns"``) in seconds, as the engine reads ``custom_timeouts``."""
    if not text:
        return 0.0
    total = 0.0
    position = 0
    for match in _DURATION.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or position == 0:
        raise OptionError(f"{where}: {text!r} is not a duration; write it as Go does, e.g. 10m, 1h30m or 90s")
    return total


def custom_timeouts(request: Any, urn: str) -> dict[str, float]:
    """A registration's ``custom_timeouts`` in seconds, as the engine stores them (unset ones left out)."""
    timeouts = getattr(request, "customTimeouts", None)
    if timeouts is None:
        return {}
    seconds = {
        op: duration_seconds(getattr(timeouts, op), f"{urn}: custom_timeouts.{op}")
        for op in ("create", "update", "delete")
    }
    return {op: value for op, value in seconds.items() if value}
