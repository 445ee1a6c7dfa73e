"""More worker threads for the ``python -m pulumi.dynamic`` server, so that waiting creates do not starve it.

The SDK's server (``pulumi/dynamic/__main__.py`` ``main``, pulumi 3.272 to 3.x) serves every RPC of the plugin
on ``futures.ThreadPoolExecutor(max_workers=4)``, and provider methods are synchronous: a create that waits for a
fine-tuning job holds one of those 4 threads for hours. A stack that trains 5 models then trains them in waves,
and every other dynamic resource's Check, Diff or Read queues behind them. A ``ThreadPoolExecutor`` reads
``_max_workers`` at each submit and starts a new worker whenever none is idle, so raising that number on the
live executor is all it takes; a waiting create is a thread asleep in ``time.sleep``, which costs no CPU.

The pool is widened by the first create, update or delete (the calls that may wait), not at ``configure``: a
plugin that only checks and diffs (every preview) keeps the SDK's 4 threads, where dozens of threads taking
turns on the GIL for short calls cost it about a tenth more CPU. The bound is read and checked at ``configure``,
so a bad value still fails every call before any request.

The executor is found from the inside: such a call runs in one of its workers, whose thread target is
``concurrent.futures.thread._worker`` with a weak reference to the executor as first argument. Every step is
checked; anything unexpected (another Pulumi, another Python, another server) leaves the server as it is and
says so once, on stderr, which the engine shows as the plugin's diagnostics.

Stack config ``azure-openai:maxParallelOperations`` (default 64, at least 4) bounds the threads;
``AOAI_FT_PLUGIN_THREADS=off`` in the environment keeps the SDK's own 4.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import thread as futures_thread
from typing import Any, TypeVar, cast

import pulumi

from .config import NAMESPACE, ConfigError

LIMIT_KEY = f"{NAMESPACE}:maxParallelOperations"
DEFAULT_LIMIT = 64
SDK_WORKERS = 4  # what pulumi.dynamic's server starts with, and the floor of the setting
SWITCH = "AOAI_FT_PLUGIN_THREADS"
VERIFIED = ((3, 272), (4, 0))  # the pinned pulumi range whose server this was read and tested against
SERVER_MODULE = "pulumi.dynamic.__main__"
F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_settled = False
_limit = DEFAULT_LIMIT


def limit_from(get: Callable[[str], str | None]) -> int:
    """The configured bound on concurrent provider calls (``azure-openai:maxParallelOperations``)."""
    raw = get(LIMIT_KEY)
    if raw in (None, ""):
        return DEFAULT_LIMIT
    try:
        value = int(str(raw))
    except ValueError:
        value = 0
    if value < SDK_WORKERS:
        raise ConfigError(
            f"{LIMIT_KEY} must be a whole number of at least {SDK_WORKERS} (how many provider calls one plugin "
            f"process runs at once; default {DEFAULT_LIMIT}), not {raw!r}"
        )
    return value


def configure(get: Callable[[str], str | None]) -> None:
    """Read and check the configured bound for this process (a bad value fails the call now, naming the key)."""
    global _limit  # noqa: PLW0603 - one bound per plugin process, from its stack config
    _limit = limit_from(get)


def before_waiting(method: F) -> F:
    """``method`` (a provider's create, update or delete) widens the server, once, before it runs."""

    @functools.wraps(method)
    def widened_first(*args: Any, **kwargs: Any) -> Any:
        widen()
        return method(*args, **kwargs)

    return cast(F, widened_first)


def widen() -> int | None:
    """Let the plugin's gRPC server run up to the configured number of calls at once; once per process.

    Returns the server's worker limit after the change; ``None`` when an earlier call already did it, or when
    the server was left as it is (with one warning saying why).
    """
    global _settled  # noqa: PLW0603 - one server per plugin process: it is widened once
    limit = _limit
    with _lock:
        if _settled:
            return None
        _settled = True
    try:
        found = _server_executor()
        if not isinstance(found, str):
            with found._shutdown_lock:  # submit() reads _max_workers under this lock
                found._max_workers = max(found._max_workers, limit)
                # Each finished call leaves a permit saying a worker is idle, and a submit that finds one starts
                # no thread. While the pool was full (a preview's burst of checks on 4 workers) permits piled up
                # for workers that were never idle: left, they would queue the next creates behind the waiting
                # ones. Dropped, a submit starts a worker whenever it finds no permit, up to the new bound.
                while found._idle_semaphore.acquire(timeout=0):
                    pass
                # Calls queued before the change get a worker now rather than at the next submit.
                for _ in range(min(found._work_queue.qsize(), found._max_workers)):
                    found._adjust_thread_count()
                return int(found._max_workers)
    except Exception as exc:  # whatever changed, the plugin must go on as the SDK made it
        found = f"{type(exc).__name__}: {exc}"
    pulumi.log.warn(
        f"pulumi_aoai_finetuning: the plugin keeps the Pulumi SDK's {SDK_WORKERS} threads, so at most "
        f"{SDK_WORKERS} resources are created, waited for or checked at once: {found}"
    )
    return None


def _installed_pulumi() -> str:
    """The installed Pulumi SDK's version (its metadata read only when the server is widened)."""
    import importlib.metadata  # noqa: PLC0415 - a no-op preview never widens, so never pays for this import

    return importlib.metadata.version("pulumi")


def _server_executor() -> Any:
    """The thread pool of the server running this call, or a sentence saying why it cannot be used."""
    if os.environ.get(SWITCH, "").lower() in ("off", "0", "false", "sdk"):
        return f"turned off by {SWITCH}={os.environ[SWITCH]}"
    version = _pulumi_version()
    if version is None or not VERIFIED[0] <= version < VERIFIED[1]:
        return (
            f"pulumi {_installed_pulumi()} is installed, and this was checked against the server "
            f"of pulumi {'.'.join(map(str, VERIFIED[0]))} to {VERIFIED[1][0] - 1}.x only"
        )
    main = sys.modules.get("__main__")
    entry = getattr(getattr(main, "__spec__", None), "name", None)
    if entry != SERVER_MODULE:
        return f"this process runs {entry or 'a script'}, not the SDK's server {SERVER_MODULE}"
    current = threading.current_thread()
    if getattr(current, "_target", None) is not futures_thread._worker:
        return f"this call runs on thread {current.name!r}, not on a worker of the server's thread pool"
    args = getattr(current, "_args", ())
    executor = args[0]() if args and callable(args[0]) else None
    if not isinstance(executor, ThreadPoolExecutor) or not all(
        hasattr(executor, name) for name in ("_shutdown_lock", "_work_queue", "_adjust_thread_count")
    ):
        return f"the worker's first argument is {type(executor).__name__}, not a reference to its ThreadPoolExecutor"
    if not isinstance(getattr(executor, "_max_workers", None), int):
        return "the server's ThreadPoolExecutor has no integer _max_workers"
    return executor


def _pulumi_version() -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", _installed_pulumi())
    return (int(match[1]), int(match[2])) if match else None
