"""The Pulumi SDK's private helpers the harness relies on, imported here and nowhere else.

None of these is part of the SDK's public API (``pulumi.__all__``, ``pulumi.runtime.__all__``,
``pulumi.dynamic.__all__``): a new SDK release may rename or change them without notice. Each is listed in
:data:`HELPERS` with why the harness needs it; ``tests/harness/test_pulumi_internals.py`` checks that each
still exists with the signature and behaviour relied on, and fails naming the helper and this module when
an installed Pulumi changes one. ``tests/test_layering.py`` keeps every other module from importing them.

Checked against pulumi 3.272.0 (the lowest version ``pyproject.toml`` allows).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pulumi.dynamic.dynamic import serialize_provider as _serialize_provider
from pulumi.runtime import settings as _settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import massage as _massage
from pulumi.runtime.stack import run_pulumi_func as _run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

__all__ = [
    "HELPERS",
    "MockMonitor",
    "clear_stack_outputs",
    "ensure_event_loop",
    "massage",
    "reset_root_resource",
    "run_pulumi_func",
    "serialize_provider",
    "sync_await",
]

T = TypeVar("T")

HELPERS: dict[str, str] = {
    "pulumi.runtime.sync_await._sync_await": (
        "runs the program on the runtime's own event loop of the main thread; asyncio.run would close it and "
        "leave the thread without one, which the SDK's later calls expect"
    ),
    "pulumi.runtime.sync_await._ensure_event_loop": (
        "the main thread's loop the runtime uses, so the harness sets its executor and exception handler there"
    ),
    "pulumi.runtime.stack.run_pulumi_func": (
        "runs a program as `pulumi up` runs __main__: waits for every outstanding registration, then re-raises"
    ),
    "pulumi.runtime.stack.massage": "turns a stack output into plain values as the SDK does before exporting it",
    "pulumi.runtime.mocks.MockMonitor": (
        "the mock resource monitor set_mocks accepts; the harness's monitor overrides RegisterResource, "
        "ReadResource and make_urn and records what it registers in `resources` as `ResourceRegistration`; "
        "ClosingMockMonitor runs its Invoke, ReadResource and RegisterResource in a loop it closes after each"
    ),
    "pulumi.runtime.settings.ROOT": "cleared before each run so that set_mocks makes a fresh root stack",
    "pulumi.runtime.settings.SETTINGS": (
        "its `outputs` (pending RPCs) are cleared between runs in one process, and its `rpc_manager` after a "
        "failed run: the registrations still pending when the first one failed are held there until then"
    ),
    "pulumi.dynamic.dynamic.serialize_provider": (
        "pickles a provider into `__provider` exactly as a dynamic resource does (sorted, by reference)"
    ),
}
"""Each private helper (its qualified name in the SDK) and why the harness needs it."""


def sync_await(awaitable: Awaitable[T]) -> T:
    """Wait for ``awaitable`` on the current thread's event loop, which is left open (``_sync_await``)."""
    return _sync_await(awaitable)


def ensure_event_loop() -> asyncio.AbstractEventLoop:
    """The current thread's event loop, made and set if missing (``_ensure_event_loop``)."""
    loop: asyncio.AbstractEventLoop = _ensure_event_loop()  # type: ignore[no-untyped-call]
    return loop


def run_pulumi_func(program: Callable[[], None]) -> Awaitable[None]:
    """Run a program and wait for its registrations, as the SDK's entry point does (``run_pulumi_func``)."""
    awaitable: Awaitable[None] = _run_pulumi_func(program)
    return awaitable


def massage(value: Any) -> Any:
    """A stack output as plain values, Outputs kept (``massage``)."""
    return _massage(value, [])


def reset_root_resource() -> None:
    """Forget the root stack resource, so that the next ``set_mocks`` makes a fresh one (``settings.ROOT``)."""
    _settings.ROOT.set(None)


def clear_stack_outputs() -> None:
    """Drop the outstanding RPC tasks a finished run left (``settings.SETTINGS.outputs``)."""
    _settings.SETTINGS.outputs.clear()


def drop_pending_rpcs() -> None:
    """Forget the registrations a failed run left pending, and its failure (``SETTINGS.rpc_manager.clear``)."""
    _settings.SETTINGS.rpc_manager.clear()


def serialize_provider(provider: Any) -> str:
    """A provider pickled as a dynamic resource's ``__provider`` input (``serialize_provider``)."""
    return str(_serialize_provider(provider))
