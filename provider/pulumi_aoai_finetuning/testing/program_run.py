"""Run a program's ``__main__`` once under the SDK's mocks, with the harness's monitor playing the engine."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import os
import runpy
import sys
import traceback
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pulumi

from ..inputs import plain
from .context import _Context
from .deployment import _Deployment
from .monitor import _Mocks, _Monitor
from .pulumi_internals import (
    clear_stack_outputs,
    drop_pending_rpcs,
    ensure_event_loop,
    massage,
    reset_root_resource,
    run_pulumi_func,
    sync_await,
)
from .results import PREVIEW_UNKNOWN, HarnessError
from .scheduler import registration_threads


def _quiet_reported_failures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Drop asyncio's "exception was never retrieved" for a step failure run_program already raised.

    A failed step fails the outputs of the resource and of its dependents; nobody awaits most of them.
    """
    if not isinstance(context.get("exception"), HarnessError):
        loop.default_exception_handler(context)


async def _resolve_outputs(outputs: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for name, value in outputs.items():
        out = pulumi.Output.from_input(massage(value))
        resolved = await out.future(with_unknowns=True)
        values[name] = plain(resolved) if await out.is_known() else PREVIEW_UNKNOWN
        if await out.is_secret():
            secret.add(name)
    return values, secret


class _Outcome(logging.Handler):
    """Whether a program run failed: it raised, a step failed, or the program logged an error to the engine."""

    def __init__(self, deployment: _Deployment) -> None:
        super().__init__(logging.ERROR)
        self.deployment = deployment
        self.raised = False
        self.errors_logged = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Count an error the program logged (``pulumi.log.error``); the SDK reports it without raising."""
        self.errors_logged += 1

    @property
    def failed(self) -> bool:
        """The run failed in one of the ways the SDK or the harness reports it."""
        return self.raised or self.errors_logged > 0 or self.deployment.error is not None


_ENGINE_LOG = logging.getLogger("pulumi_aoai_finetuning.testing.engine_log")
"""Where the program's ``pulumi.log`` messages go; it propagates to the root logger, as the SDK's default does."""


def _release_the_failure(exc: BaseException) -> None:
    """Drop the locals of the finished frames in a failure's tracebacks (their file:line stay).

    A failed output's traceback holds the frames that built it, and through them the outputs the program
    left unawaited: while the failure is held (by the caller, a test's ``pytest.raises``), they are not garbage.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)  # frames still running are skipped
        pending += [current.__cause__, current.__context__]


def _settle_a_failed_run(loop: asyncio.AbstractEventLoop) -> None:
    """Settle what a failed program left behind, quietly, as the end of its process would, and collect it.

    The CLI runs a program in a process of its own, which ends with it. Here the program runs in-process, and a
    failed one leaves the runtime's loop with tasks (registrations waiting for outputs that will never resolve),
    outputs whose coroutines were never awaited and futures whose failure nobody read. Whenever the garbage
    collector met them, in whatever code runs next (while the caller holds the failure, it holds them too), each
    would warn or log an error. So the tasks are cancelled and awaited (as ``asyncio.run`` does), the SDK's
    coroutines never started are closed and the failures read: collected now or later, they say nothing. A run
    that did not fail leaves none, and is not made to pay for this.
    """
    leftover = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftover:
        task.cancel()
    if leftover:
        loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
    drop_pending_rpcs()
    sdk = os.path.dirname(pulumi.__file__) + os.sep
    for obj in gc.get_objects():
        if inspect.iscoroutine(obj):
            if obj.cr_code.co_filename.startswith(sdk) and inspect.getcoroutinestate(obj) == inspect.CORO_CREATED:
                obj.close()  # never started: closing it is what the end of the process would do, without a warning
        elif isinstance(obj, asyncio.Future) and obj.done() and not obj.cancelled() and obj.get_loop() is loop:
            obj.exception()  # read: the run's failure was reported once, by the harness
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"coroutine '.*' was never awaited", category=RuntimeWarning)
        gc.collect()


_RUNTIME_LOOPS: list[asyncio.AbstractEventLoop] = []  # the runtime's loop of the last run, held by the harness


def _runtime_loop() -> asyncio.AbstractEventLoop:
    """The runtime's own loop in the main thread; one the harness used before and is no longer current is closed.

    The loop outlives a run (the runtime keeps it as the thread's current loop). Code that unsets the thread's
    loop (an ``asyncio.run`` in the same process, say) would otherwise leave the harness's last loop to the
    garbage collector, unclosed, with its self-pipe sockets: the harness holds it and closes it itself.
    """
    loop = ensure_event_loop()
    for old in _RUNTIME_LOOPS:
        if old is not loop and not old.is_closed():
            old.close()
    _RUNTIME_LOOPS[:] = [loop]
    return loop


def run_once(ctx: _Context, deployment: _Deployment, preview: bool) -> tuple[dict[str, Any], set[str]]:
    """Run the program once under the harness's monitor; returns the stack outputs and which are secret."""
    reset_root_resource()  # set_mocks then makes a fresh root stack for this run
    loop = _runtime_loop()
    loop.set_exception_handler(_quiet_reported_failures)
    # The SDK sends each registration from the loop's default executor: one thread per ready step.
    threads = registration_threads()
    loop.set_default_executor(threads)
    mocks = _Mocks(deployment)
    outcome = _Outcome(deployment)
    _ENGINE_LOG.addHandler(outcome)
    pulumi.runtime.set_mocks(
        mocks,
        project=ctx.project.name,
        stack=ctx.stack,
        preview=preview,
        logger=_ENGINE_LOG,
        monitor=_Monitor(mocks, deployment),
    )
    clear_stack_outputs()
    pulumi.runtime.set_all_config(dict(ctx.config), sorted(ctx.secret_keys))

    def program() -> None:
        runpy.run_path(str(ctx.project.main), run_name="__main__")

    program_dir = str(ctx.project.main.parent)
    modules_before = set(sys.modules)
    cwd = os.getcwd()
    os.chdir(ctx.project.directory)  # the CLI runs the program (and the plugin) in the project directory
    sys.path.insert(0, program_dir)
    try:
        # sync_await drives the runtime's own loop: asyncio.run would leave the main thread without one.
        sync_await(run_pulumi_func(program))
        # No local names the root stack: this frame is still running when a failed run is collected.
        return sync_await(_resolve_outputs(getattr(pulumi.runtime.get_root_resource(), "outputs", {}) or {}))
    except BaseException as exc:
        outcome.raised = True
        _release_the_failure(exc)
        raise
    finally:
        threads.shutdown(wait=True)  # as the engine, wait for the steps in flight
        # The runtime's loop outlives the run: leave it an executor that takes work, not the one just shut down.
        loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="asyncio"))
        os.chdir(cwd)
        if program_dir in sys.path:
            sys.path.remove(program_dir)
        for name in set(sys.modules) - modules_before:  # the next program may have modules of the same name
            file = getattr(sys.modules[name], "__file__", None) or ""
            if file.startswith(program_dir + os.sep):
                del sys.modules[name]
        pulumi.runtime.set_all_config({}, [])
        _ENGINE_LOG.removeHandler(outcome)
        # The runtime would hold this run's stack, and through its outputs the program's, until the next run.
        reset_root_resource()
        clear_stack_outputs()
        if outcome.failed:
            _settle_a_failed_run(loop)
