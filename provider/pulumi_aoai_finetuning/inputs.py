"""Checking and comparing resource inputs: unknowns, numbers as protobuf sends them, failures that name the fix."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, DiffResult

from .client.names import ACCOUNT_ID_RE
from .client.security import insecure_reason


def is_unknown(value: Any) -> bool:
    """True for a value not known yet (a preview of an output that does not exist yet)."""
    if isinstance(value, pulumi.output.Unknown):
        return True
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(v) for v in value)
    return False


def plain(value: Any) -> Any:
    """Protobuf turns every number into a float: give integral floats back their int type, recursively."""
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return int(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def user_inputs(props: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The declared inputs present in ``props`` (no ``__provider``, no ``None``), numbers normalised."""
    return {k: plain(props[k]) for k in names if k in props and props[k] is not None}


class Failures:
    """Collects :class:`CheckFailure` s, each naming the property, the rule and the fix."""

    def __init__(self) -> None:
        self.items: list[CheckFailure] = []

    def add(self, prop: str, reason: str) -> None:
        """Record one failure."""
        self.items.append(CheckFailure(prop, reason))

    def __bool__(self) -> bool:
        return bool(self.items)


def check_number(
    failures: Failures, props: Mapping[str, Any], name: str, *, low: float, high: float, integer: bool = False
) -> None:
    """A numeric input within bounds (unknowns pass)."""
    value = props.get(name)
    if value is None or is_unknown(value):
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        failures.add(name, f"{name} must be a number, not {value!r}")
        return
    if integer and not float(value).is_integer():
        failures.add(name, f"{name} must be a whole number, not {value}")
    elif not low <= value <= high:
        failures.add(name, f"{name} must be between {low:g} and {high:g}, not {value:g}")


def check_endpoint(failures: Failures, props: Mapping[str, Any], name: str = "endpoint") -> None:
    """An account endpoint: an https URL, or http to this machine only (unknowns pass)."""
    value = props.get(name)
    if value is None:
        failures.add(
            name,
            f"{name} is required: the account's endpoint, e.g. account.properties.endpoint "
            "(https://<account>.openai.azure.com/)",
        )
    elif is_unknown(value):
        return
    elif not isinstance(value, str) or not value.startswith(("https://", "http://")):
        failures.add(name, f"{name} must be an https:// URL such as https://<account>.openai.azure.com/, not {value!r}")
    else:
        reason = insecure_reason(value)
        if reason is not None:
            failures.add(name, f"{name} {value!r}: {reason}")


def check_account_id(failures: Failures, props: Mapping[str, Any], name: str, *, required: bool = True) -> None:
    """An account's ARM id (``/subscriptions/.../accounts/<name>``); unknowns pass."""
    value = props.get(name)
    if value is None:
        if required:
            failures.add(name, f"{name} is required: the account's ARM id, e.g. account.id")
        return
    if not is_unknown(value) and (not isinstance(value, str) or not ACCOUNT_ID_RE.match(value)):
        failures.add(
            name,
            f"{name} must be an account's ARM id "
            f"(/subscriptions/<s>/resourceGroups/<g>/providers/Microsoft.CognitiveServices/accounts/<a>), "
            f"not {value!r}",
        )


def diff(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    *,
    replace: Iterable[str],
    update: Iterable[str],
    keeps: Iterable[str] = (),
) -> DiffResult:
    """Compare our keys only (never ``__provider``); unknown counts as changed; list the exact replaces.

    ``keeps`` names the outputs an in-place update cannot change: with the unchanged replace-on inputs they
    are the update's ``stables``, so a preview keeps them known and what depends on them is not replaced.
    """
    replace = tuple(replace)
    replaces = [key for key in replace if differs(olds.get(key), news.get(key))]
    changed = any(differs(olds.get(key), news.get(key)) for key in update)
    if changed and not replaces:
        return in_place(olds, news, replace=replace, keeps=keeps)
    return DiffResult(changes=bool(replaces) or changed, replaces=replaces, delete_before_replace=False)


def in_place(
    olds: Mapping[str, Any], news: Mapping[str, Any], *, replace: Iterable[str], keeps: Iterable[str]
) -> DiffResult:
    """An in-place update whose ``stables`` are the outputs it keeps and the replace-on inputs left unchanged."""
    unchanged = (key for key in replace if not differs(olds.get(key), news.get(key)))
    return DiffResult(changes=True, replaces=[], stables=sorted({*keeps, *unchanged}), delete_before_replace=False)


def differs(old: Any, new: Any) -> bool:
    """True when an input changed: unknown counts as changed, and 3 equals 3.0."""
    if is_unknown(new):
        return True
    return bool(plain(old) != plain(new))
