"""The Pulumi SDK's private helpers the harness uses still exist and still do what it relies on.

A new SDK release may change any of them with no notice; each test here fails naming the installed Pulumi
version, the helper and the module to update, instead of a harness run failing somewhere deep inside.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import importlib
import inspect
import threading
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import dill
import pulumi.runtime.stack
import pulumi.runtime.sync_await
import pytest
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from pulumi_aoai_finetuning.resources.training_file import TrainingFileProvider
from pulumi_aoai_finetuning.testing import pulumi_internals


def _pulumi_version() -> str:
    return ".".join(version("pulumi").split(".")[:2])


def _resolve(qualified: str) -> Any:
    """The object a qualified name names (the longest importable module prefix, then attributes)."""
    parts = qualified.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            found = getattr(found, part)
        return found
    raise ImportError(qualified)


def _parameters(function: Callable[..., Any]) -> list[str]:
    return [p for p in inspect.signature(function).parameters if p != "self"]


def _in_a_new_thread(work: Callable[[], Any]) -> Any:
    """``work()`` in a thread with no event loop of its own yet; its result or its exception."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]


def _sync_await(helper: Any) -> str | None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    def work() -> tuple[int, bool]:
        value = helper(answer())
        loop = asyncio.get_event_loop()
        left_open = not loop.is_closed()
        loop.close()
        return value, left_open

    value, left_open = _in_a_new_thread(work)
    if value != 42:
        return f"it returned {value!r} for a coroutine that returns 42"
    if not left_open:
        return "it closed the thread's event loop (the runtime needs it left open)"
    return None


def _ensure_event_loop(helper: Any) -> str | None:
    def work() -> bool:
        loop = helper()
        same = loop is asyncio.get_event_loop()
        loop.close()
        return same

    return None if _in_a_new_thread(work) else "the loop it returns is not set as the thread's event loop"


def _run_pulumi_func(helper: Any) -> str | None:
    return None if inspect.iscoroutinefunction(helper) else "it is no longer a coroutine function"


def _massage(helper: Any) -> str | None:
    got = helper({"a": (1, 2), "b": {"c": "d"}}, [])
    return None if got == {"a": [1, 2], "b": {"c": "d"}} else f"it turned a tuple and a dict into {got!r}"


class _NoMocks(Mocks):
    """Mocks that answer nothing: the monitor is only built, never asked."""

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """Unused."""
        raise NotImplementedError

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Unused."""
        raise NotImplementedError


def _mock_monitor(helper: Any) -> str | None:
    monitor = helper(_NoMocks())
    if getattr(monitor, "resources", None) != {}:
        return "a new monitor has no empty `resources` dict"
    fields = getattr(getattr(helper, "ResourceRegistration", None), "_fields", None)
    if fields != ("urn", "id", "state"):
        return f"ResourceRegistration's fields are {fields}, expected ('urn', 'id', 'state')"
    for method in ("Invoke", "RegisterResource", "ReadResource", "make_urn"):
        if not callable(getattr(helper, method, None)):
            return f"it has no method {method}, which the harness's monitors override"
    if _parameters(helper.make_urn) != ["parent", "type_", "name"]:
        return f"make_urn takes ({', '.join(_parameters(helper.make_urn))}), expected (parent, type_, name)"
    return None


def _root(helper: Any) -> str | None:
    return None if isinstance(helper, contextvars.ContextVar) else f"it is a {type(helper).__name__}, not a ContextVar"


def _settings(helper: Any) -> str | None:
    if not callable(getattr(getattr(helper, "outputs", None), "clear", None)):
        return "it has no `outputs` set"
    manager = getattr(helper, "rpc_manager", None)
    if not callable(getattr(manager, "clear", None)) or not isinstance(getattr(manager, "rpcs", None), list):
        return "it has no `rpc_manager` with `rpcs` and `clear()`"
    return None


def _serialize_provider(helper: Any) -> str | None:
    blob = helper(TrainingFileProvider())
    provider = dill.loads(base64.b64decode(blob))  # noqa: S301 - our own provider, pickled just now
    return None if type(provider) is TrainingFileProvider else f"its pickle loads as {type(provider).__name__}"


# Each helper: the parameters the harness calls it with (None: not called, only used), and its behaviour check.
CHECKS: dict[str, tuple[list[str] | None, Callable[[Any], str | None]]] = {
    "pulumi.runtime.sync_await._sync_await": (["awaitable"], _sync_await),
    "pulumi.runtime.sync_await._ensure_event_loop": ([], _ensure_event_loop),
    "pulumi.runtime.stack.run_pulumi_func": (["func"], _run_pulumi_func),
    "pulumi.runtime.stack.massage": (["attr", "seen"], _massage),
    "pulumi.runtime.mocks.MockMonitor": (["mocks"], _mock_monitor),
    "pulumi.runtime.settings.ROOT": (None, _root),
    "pulumi.runtime.settings.SETTINGS": (None, _settings),
    "pulumi.dynamic.dynamic.serialize_provider": (["provider"], _serialize_provider),
}


def problem(name: str) -> str | None:
    """What changed in the installed Pulumi's helper ``name``, as the message a maintainer needs; None if nothing."""
    expected, behaves = CHECKS[name]
    try:
        helper = _resolve(name)
    except (ImportError, AttributeError):
        what = "it is gone"
    else:
        parameters = _parameters(helper) if expected is not None else None
        if parameters != expected:
            what = f"it takes ({', '.join(parameters or [])}), expected ({', '.join(expected or [])})"
        else:
            try:
                found = behaves(helper)
            except Exception as exc:
                found = f"{type(exc).__name__}: {exc}"
            if found is None:
                return None
            what = found
    return f"pulumi {_pulumi_version()} changed {name}: {what}; update testing/pulumi_internals.py"


def test_every_helper_the_harness_uses_is_checked() -> None:
    """The helpers the module declares are exactly the ones checked here."""
    assert sorted(CHECKS) == sorted(pulumi_internals.HELPERS)


@pytest.mark.parametrize("name", sorted(pulumi_internals.HELPERS))
def test_the_installed_pulumi_still_has_the_helper(name: str) -> None:
    """The helper exists, takes the parameters the harness passes, and behaves as the harness relies on."""
    found = problem(name)
    assert found is None, found


def test_a_helper_that_is_gone_is_named_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing ``_sync_await`` from the SDK gives the message that says what changed and what to update."""
    monkeypatch.delattr(pulumi.runtime.sync_await, "_sync_await")
    assert problem("pulumi.runtime.sync_await._sync_await") == (
        f"pulumi {_pulumi_version()} changed pulumi.runtime.sync_await._sync_await: it is gone; "
        "update testing/pulumi_internals.py"
    )


def test_a_changed_signature_or_behaviour_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A helper that takes other parameters, or no longer does its job, is reported with what changed."""
    monkeypatch.setattr(pulumi.runtime.stack, "massage", lambda value: value)
    assert (
        f"pulumi {_pulumi_version()} changed pulumi.runtime.stack.massage: it takes (value), expected (attr, seen)"
        in (problem("pulumi.runtime.stack.massage") or "")
    )
    monkeypatch.setattr(pulumi.runtime.stack, "massage", lambda attr, seen: attr)
    assert "massage: it turned a tuple and a dict into {'a': (1, 2)" in (problem("pulumi.runtime.stack.massage") or "")
