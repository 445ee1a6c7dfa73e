"""The SDK's mocks leave an event loop in each executor thread; the closing monitor leaves none unclosed."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pulumi
import pytest
from pulumi.runtime.proto import resource_pb2

from pulumi_aoai_finetuning.testing.pulumi_internals import MockMonitor, ensure_event_loop
from pulumi_aoai_finetuning.testing.thread_loop import ClosingMockMonitor, thread_loop


class _Echo(pulumi.runtime.Mocks):
    """An engine that creates every resource with its inputs as outputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the interpreter could not raise (a ``__del__`` warning turned into an error) during the test."""
    found: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", found.append)
    return found


@pytest.fixture
def mocked() -> Iterator[Callable[[MockMonitor], MockMonitor]]:
    """Install a monitor under ``set_mocks`` (the SDK's way of testing a program); the options are reset after."""

    def install(monitor: MockMonitor) -> MockMonitor:
        pulumi.runtime.set_mocks(monitor.mocks, preview=False, monitor=monitor)
        return monitor

    yield install
    pulumi.runtime.settings.reset_options()  # type: ignore[no-untyped-call]


def _register_in_a_thread(monitor: MockMonitor) -> asyncio.AbstractEventLoop | None:
    """Register one resource from a new thread, as the SDK's executor does; the loop the thread is left with."""
    request = resource_pb2.RegisterResourceRequest(type="test:index:Thing", name="thing", custom=True)
    left: list[asyncio.AbstractEventLoop | None] = []

    def work() -> None:
        monitor.RegisterResource(request)
        try:
            left.append(asyncio.get_event_loop())
        except RuntimeError:  # no loop set for this thread
            left.append(None)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=30)
    assert left, "the registration thread did not finish"
    return left[0]


def test_the_sdks_mock_monitor_leaves_a_registration_threads_loop_open(mocked: Any) -> None:
    """Why ClosingMockMonitor exists: pulumi/runtime/mocks.py RegisterResource makes a loop and never closes it."""
    left = _register_in_a_thread(mocked(MockMonitor(_Echo())))
    assert left is not None, (
        "the SDK's MockMonitor no longer leaves its thread an event loop: ClosingMockMonitor "
        "(pulumi_aoai_finetuning/testing/thread_loop.py) may no longer be needed"
    )
    assert not left.is_closed()
    left.close()


def test_the_closing_monitor_leaves_a_registration_thread_no_loop(mocked: Any, unraisable: list[Any]) -> None:
    """A registration through ClosingMockMonitor ends with no loop set for its thread and nothing to collect."""
    monitor = mocked(ClosingMockMonitor(_Echo()))
    assert _register_in_a_thread(monitor) is None
    assert list(monitor.resources) == ["urn:pulumi:stack::project::test:index:Thing::thing"]
    gc.collect()
    assert [str(u.exc_value) for u in unraisable] == []


def _run_a_program_on(monitor: MockMonitor) -> list[str]:
    """A program under the mocks ``monitor`` plays in, its registrations sent from executor threads that end.

    Returns the ids the program saw. The threads end before it returns, so what they leave is garbage by then.
    """
    loop = ensure_event_loop()
    threads = ThreadPoolExecutor(thread_name_prefix="sdk-rpc")
    loop.set_default_executor(threads)
    ids: list[str] = []

    @pulumi.runtime.test
    def program() -> Any:
        thing = pulumi.CustomResource("test:index:Thing", "thing", {"size": 3})
        return thing.id.apply(ids.append)

    try:
        program()
    finally:
        threads.shutdown(wait=True)
        # The runtime's loop outlives the test: leave it an executor that takes work, as the harness does.
        loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="asyncio"))
    return ids


def test_a_program_under_the_closing_monitor_leaves_no_loop_for_the_collector(
    mocked: Any, unraisable: list[Any]
) -> None:
    """The leak the suite met: a set_mocks test's executor threads end, and the collector finds nothing unclosed."""
    assert _run_a_program_on(mocked(ClosingMockMonitor(_Echo()))) == ["thing-id"]
    gc.collect()
    assert [str(u.exc_value) for u in unraisable] == []


def test_thread_loop_refuses_the_main_thread() -> None:
    """In the main thread it would unset the runtime's loop: it says so instead."""
    with pytest.raises(RuntimeError, match=r"executor threads.*unset the Pulumi runtime's loop"), thread_loop():
        pass
