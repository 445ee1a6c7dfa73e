"""How we wait: one backoff formula, one polling loop, one way to adopt an object instead of creating it twice."""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from .errors import ServerError, ThrottledError, TransportError, WaitTimeoutError


def backoff(attempt: int, *, first: float, cap: float, factor: float = 2.0, jitter: float = 0.0) -> float:
    """Wait number ``attempt`` (1-based): ``first * factor**(attempt-1)``, capped, less up to ``jitter`` of it.

    Retries use factor 2 with 25 % jitter (spread clients that failed together); status polls use factor 1.5
    without jitter, so a one-hour job costs tens of polls and its end is noticed within the cap.
    """
    raw: float = min(first * factor ** (attempt - 1), cap) if first > 0 else 0.0
    return raw * (1 - jitter * random.random()) if jitter else raw


@dataclass
class Pacer:
    """The waits of one poll loop: growing by :func:`backoff` up to ``cap``, never past ``deadline``."""

    first: float
    cap: float
    deadline: float
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    polls: int = field(default=0, init=False)

    def wait(self, what: Callable[[], str], asked: float | None = None) -> None:
        """Sleep before the next poll (``asked`` is the service's Retry-After); past the deadline, raise."""
        remaining = self.deadline - self.monotonic()
        if remaining <= 0:
            raise WaitTimeoutError(what())
        self.polls += 1
        interval = backoff(self.polls, first=self.first, cap=self.cap, factor=1.5)
        self.sleep(min(asked if asked is not None else interval, remaining))


def poll_until(
    fetch: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    *,
    timeout_s: float,
    interval: float,
    cap: float,
    describe: Callable[[dict[str, Any]], str],
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll with a growing, capped interval until ``done``; raise :class:`WaitTimeoutError` past the timeout.

    The interval starts at ``interval`` and grows 1.5x per poll up to ``cap``. ``sleep`` and ``monotonic``
    let a benchmark or a test drive the loop with a simulated clock.
    """
    pacer = Pacer(interval, cap, monotonic() + timeout_s, sleep, monotonic)
    while True:
        state = fetch()
        if done(state):
            return state
        pacer.wait(functools.partial(describe, state))


_KEYED_LOCKS: dict[Hashable, threading.Lock] = {}
_KEYED_LOCKS_GUARD = threading.Lock()


def _lock_for(key: Hashable) -> threading.Lock:
    with _KEYED_LOCKS_GUARD:
        return _KEYED_LOCKS.setdefault(key, threading.Lock())


def adopt_or_create(
    find: Callable[[], dict[str, Any] | None],
    create: Callable[[], dict[str, Any]],
    *,
    attempts: int,
    first: float = 0.5,
    cap: float = 30.0,
    key: Hashable | None = None,
) -> dict[str, Any]:
    """The object an earlier run already made (``find``), else a new one (``create``); never two.

    A create that gets no answer (a 5xx, a reset, throttling) may still have happened on the service, so it
    is not simply sent again: the next attempt looks for the object first. This is how an interrupted or
    unanswered upload or job submission is adopted instead of paid for twice.

    ``key`` names what ``find`` looks for. The engine runs independent creates at once in one plugin process,
    so two resources with the same inputs would both find nothing and both create (two paid jobs): calls with
    the same key take turns, and the second finds what the first made.
    """
    if key is None:
        return _adopt_or_create(find, create, attempts, first, cap)
    with _lock_for(key):
        return _adopt_or_create(find, create, attempts, first, cap)


def _adopt_or_create(
    find: Callable[[], dict[str, Any] | None],
    create: Callable[[], dict[str, Any]],
    attempts: int,
    first: float,
    cap: float,
) -> dict[str, Any]:
    for attempt in range(1, attempts + 1):
        found = find()
        if found is not None:
            return found
        try:
            return create()
        except (ServerError, TransportError, ThrottledError):
            if attempt == attempts:
                raise
            time.sleep(backoff(attempt, first=first, cap=cap, jitter=0.25))
    raise AssertionError("unreachable")
