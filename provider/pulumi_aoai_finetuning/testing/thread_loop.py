"""An event loop per monitor call in the SDK's executor threads, closed after it; and a mock monitor that uses one.

Under ``pulumi.runtime.set_mocks`` the SDK sends each registration, read and invoke from an executor thread,
and its own ``MockMonitor`` first calls ``_ensure_event_loop()`` there (pulumi 3.272.0,
``pulumi/runtime/mocks.py`` lines 242, 278 and 315, in ``Invoke``, ``ReadResource`` and ``RegisterResource``).
That makes a new loop and sets it as the thread's loop (``pulumi/runtime/sync_await.py`` line 74), and
nothing ever closes it: when the thread ends, the loop and its two self-pipe sockets are left to the garbage
collector, which warns about them in whatever code runs next. The SDK's code is not ours to fix, so the calls
that trigger it run here in a loop that is set for the call and closed after it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .pulumi_internals import MockMonitor

__all__ = ["ClosingMockMonitor", "thread_loop"]


@contextmanager
def thread_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop set as this thread's for one call, then unset and closed (the thread ends later)."""
    if threading.current_thread() is threading.main_thread():
        # Unsetting the main thread's loop would take the runtime's own loop away from it.
        raise RuntimeError(
            "thread_loop() is for the SDK's executor threads: in the main thread it would unset the Pulumi "
            "runtime's loop; call the monitor directly there"
        )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


class ClosingMockMonitor(MockMonitor):
    """The SDK's mock monitor for ``set_mocks``, leaving no event loop unclosed in the threads that call it."""

    def _call(self, method: Any, request: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            return method(request)  # the runtime's own loop is current here; the SDK reuses it
        with thread_loop():
            return method(request)

    def Invoke(self, request: Any) -> Any:
        """Answer a provider function as the SDK's mock monitor does."""
        return self._call(super().Invoke, request)

    def ReadResource(self, request: Any) -> Any:
        """Read a resource as the SDK's mock monitor does."""
        return self._call(super().ReadResource, request)

    def RegisterResource(self, request: Any) -> Any:
        """Register a resource as the SDK's mock monitor does."""
        return self._call(super().RegisterResource, request)
