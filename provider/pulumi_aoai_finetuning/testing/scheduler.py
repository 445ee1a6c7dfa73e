"""How the program harness schedules steps: in parallel, as the Pulumi engine does, within ``--parallel``.

Creates, updates and replacements need no scheduler of their own: the program registers a resource only
once the outputs it depends on are resolved, i.e. once its dependencies' steps are done, and the SDK sends
each registration from its own thread. So the harness only has to let those registrations run at once
(:func:`registration_threads`) and cap them (:class:`Slots`). Deletions have no program to order them:
:func:`run_graph` runs them with each one waiting for the resources that depend on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")

# The CLI's default --parallel is unbounded in practice (4 x GOMAXPROCS steps); threads are made on demand.
REGISTRATION_THREADS = 256


def registration_threads() -> ThreadPoolExecutor:
    """The executor the SDK sends registrations from: large enough that every ready step can run."""
    return ThreadPoolExecutor(max_workers=REGISTRATION_THREADS, thread_name_prefix="harness-step")


class Slots:
    """At most ``parallel`` steps at once (``None``: no limit), as the CLI's ``--parallel``."""

    def __init__(self, parallel: int | None) -> None:
        if parallel is not None and parallel < 1:
            raise ValueError(f"parallel must be at least 1, not {parallel}")
        self._semaphore = threading.BoundedSemaphore(parallel) if parallel else None

    def __enter__(self) -> Slots:
        if self._semaphore is not None:
            self._semaphore.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._semaphore is not None:
            self._semaphore.release()


def run_graph(
    items: Sequence[T], waits_for: Callable[[int], set[int]], work: Callable[[T], None], parallel: int | None
) -> None:
    """Run ``work`` on every item, each once the items ``waits_for(index)`` names are done, concurrently.

    After a failure no new item starts (those in flight finish), as the engine stops scheduling on an
    error; the first failure is raised. Ready items start in index order.
    """
    waits = [waits_for(index) for index in range(len(items))]
    pending = set(range(len(items)))
    done: set[int] = set()
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=parallel or max(1, len(items)), thread_name_prefix="harness-delete") as pool:
        running: dict[Future[None], int] = {}
        while pending or running:
            if error is None:
                for index in sorted(i for i in pending if waits[i] <= done):
                    pending.discard(index)
                    running[pool.submit(work, items[index])] = index
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                index = running.pop(future)
                failure = future.exception()
                if failure is None:
                    done.add(index)
                elif error is None:
                    error = failure
    if error is not None:
        raise error
    if pending:
        raise RuntimeError(f"{len(pending)} deletions wait for each other in a cycle and cannot start")
