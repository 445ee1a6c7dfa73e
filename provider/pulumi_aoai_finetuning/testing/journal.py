"""Pending operations, as the engine's snapshot journal keeps them (``reference/pulumi-dynamic.md`` §1.7).

Before each provider call that changes something (create, update, delete) the engine saves the state with a
*pending operation* naming the resource and the call; it clears the operation once the provider answers. A run
killed in between leaves the operation in the state file. The next ``up`` warns about it and goes on; it calls
Create again for a resource whose create was interrupted (it is not in the state), so a provider whose create
is not idempotent makes a duplicate. Pending creates are carried from run to run until ``refresh
--clear-pending-creates`` drops them or ``refresh --import-pending-creates URN ID`` reads them into the state;
other pending operations are dropped by the next run (the state still holds the resource as it was).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

CREATING = "creating"
UPDATING = "updating"
DELETING = "deleting"

# The engine's wording (pkg/engine, TestUpdateShowsWarningWithPendingOperations).
_WARNING = """Attempting to deploy or update resources with {count} pending operations from previous deployment.
{lines}
These resources are in an unknown state because the Pulumi CLI was interrupted while waiting for changes to these \
resources to complete. You should confirm whether or not the operations listed completed successfully by checking \
the state of the appropriate provider. For example, if you are using AWS, you can confirm using the AWS Console.

Once you have confirmed the status of the interrupted operations, you can repair your stack using `pulumi refresh` \
which will refresh the state from the provider you are using and clear the pending operations if there are any.

Note that `pulumi refresh` will need to be run interactively to clear pending CREATE operations."""


def pending_warning(operations: Sequence[Mapping[str, Any]]) -> str | None:
    """The warning the CLI prints before a run over a state with pending operations; None when there are none."""
    if not operations:
        return None
    lines = "\n".join(f"  * {op['resource']['urn']}, interrupted while {op['type']}" for op in operations)
    return _WARNING.format(count=len(operations), lines=lines)


class Journal:
    """The pending operations of one run: those carried from earlier runs, and the provider calls in flight."""

    def __init__(
        self, earlier: Sequence[Mapping[str, Any]], save: Callable[[], None] | None, *, carry: bool = True
    ) -> None:
        # Only pending creates outlive a run; the others are dropped, as the engine's snapshot manager does.
        self.carried: list[dict[str, Any]] = [dict(op) for op in earlier if op["type"] == CREATING] if carry else []
        self._save = save  # None: nothing is journalled (a preview changes nothing)
        self._in_flight: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._tokens = itertools.count()

    def operations(self) -> list[dict[str, Any]]:
        """The pending operations to save now: the carried creates, then the calls in flight."""
        with self._lock:
            return [*self.carried, *self._in_flight.values()]

    @contextmanager
    def pending(self, kind: str, record: Mapping[str, Any]) -> Iterator[None]:
        """Around one provider call: the operation is saved before the call and dropped once it returns or fails."""
        if self._save is None:
            yield
            return
        with self._lock:
            token = next(self._tokens)
            self._in_flight[token] = {"type": kind, "resource": dict(record)}
        self._save()
        try:
            yield
        finally:
            with self._lock:
                del self._in_flight[token]

    def resolve_creates(
        self, *, clear: bool, imports: Mapping[str, str]
    ) -> tuple[list[tuple[dict[str, Any], str]], list[str]]:
        """``refresh``'s handling: the pending creates to import (record, id), and the URNs that matched none.

        Imported ones leave the journal; with ``clear`` the remaining ones do too.
        """
        wanted = dict(imports)
        chosen: list[tuple[dict[str, Any], str]] = []
        kept: list[dict[str, Any]] = []
        for op in self.carried:
            urn = op["resource"]["urn"]
            if urn in wanted:
                chosen.append((op["resource"], wanted.pop(urn)))
            elif not clear:
                kept.append(op)
        with self._lock:
            self.carried = kept
        return chosen, sorted(wanted)
