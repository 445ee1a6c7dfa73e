"""Following an ARM long-running operation: one strategy object per protocol, picked by ``can_poll``.

The shape of azure-core's ``azure/core/polling/base_polling.py`` (``LongRunningOperation.can_poll`` and
``LROBasePolling``) and azure-mgmt-core's ``ARMPolling``: the ``Azure-AsyncOperation`` header is preferred,
then ``Location``, then the resource itself (gone, for a DELETE; its ``provisioningState`` otherwise), as
documented in https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2

from .errors import NotFoundError, OperationFailedError
from .http import HttpClient
from .retry import retry_after_seconds
from .status import OPERATION_SUCCEEDED, OPERATION_TERMINAL, operation_state
from .waiting import Pacer


@dataclass
class Operation:
    """One long-running operation: the request that started it, its first response, and how to wait."""

    http: HttpClient
    get: Callable[[str], dict[str, Any]]
    method: str
    resource_id: str
    initial: httpx2.Response
    pacer: Pacer

    def what(self) -> str:
        """What a timeout says: the operation goes on remotely, and the next ``pulumi up`` resumes it."""
        return f"{self.method} {self.resource_id} is still running; the next `pulumi up` picks it up again"

    def wait(self, response: httpx2.Response) -> None:
        """Sleep before the next poll, as ``response`` asks (Retry-After) or by the backoff."""
        self.pacer.wait(self.what, retry_after_seconds(response.headers))


class PollingStrategy(ABC):
    """One way to learn whether an operation has ended."""

    @abstractmethod
    def can_poll(self, op: Operation) -> bool:
        """True when the first response carries what this strategy follows."""

    @abstractmethod
    def run(self, op: Operation) -> dict[str, Any] | None:
        """Wait for the end; the resource for a PUT/PATCH when known, else None."""


class AsyncOperationPolling(PollingStrategy):
    """Poll the status monitor named by ``Azure-AsyncOperation`` until its ``status`` is terminal."""

    def can_poll(self, op: Operation) -> bool:
        """The response names a status monitor."""
        return bool(op.initial.headers.get("azure-asyncoperation"))

    def run(self, op: Operation) -> dict[str, Any] | None:
        """Follow the monitor; a failed or cancelled operation raises with its error code and message."""
        url = op.initial.headers["azure-asyncoperation"]
        while True:
            response = op.http.request("GET", url)
            body = response.json()
            state = operation_state(body.get("status", ""))
            if state in OPERATION_TERMINAL:
                if state != OPERATION_SUCCEEDED:
                    error = body.get("error") or {}
                    raise OperationFailedError(
                        f"{op.method} {op.resource_id} {state}: {error.get('code', '')} {error.get('message', '')}".strip()
                    )
                return None if op.method == "DELETE" else op.get(op.resource_id)
            op.wait(response)


class LocationPolling(PollingStrategy):
    """Poll the ``Location`` URL while it answers 202; its final answer is the result."""

    def can_poll(self, op: Operation) -> bool:
        """The response names a location to poll."""
        return bool(op.initial.headers.get("location"))

    def run(self, op: Operation) -> dict[str, Any] | None:
        """Follow the location until it stops answering 202."""
        url = op.initial.headers["location"]
        response = op.initial
        while True:
            op.wait(response)
            response = op.http.request("GET", url, expect=(404,))
            if response.status_code != 202:
                return dict(response.json()) if response.content and op.method != "DELETE" else None


class GonePolling(PollingStrategy):
    """A DELETE without a monitor: GET the resource until it answers 404."""

    def can_poll(self, op: Operation) -> bool:
        """Any DELETE."""
        return op.method == "DELETE"

    def run(self, op: Operation) -> dict[str, Any] | None:
        """Wait until the resource is gone."""
        while True:
            try:
                op.get(op.resource_id)
            except NotFoundError:
                return None
            op.wait(op.initial)


class ProvisioningStatePolling(PollingStrategy):
    """A PUT/PATCH without a monitor: GET the resource until its ``provisioningState`` is terminal."""

    def can_poll(self, op: Operation) -> bool:
        """Always: the last resort."""
        return True

    def run(self, op: Operation) -> dict[str, Any] | None:
        """Wait for a terminal ``provisioningState``; the resource as last read."""
        body = op.initial.json() if op.initial.content else {}
        while operation_state(body.get("properties", {}).get("provisioningState")) not in OPERATION_TERMINAL:
            op.wait(op.initial)
            body = op.get(op.resource_id)
        return dict(body)


STRATEGIES: tuple[PollingStrategy, ...] = (
    AsyncOperationPolling(),
    LocationPolling(),
    GonePolling(),
    ProvisioningStatePolling(),
)


def follow(op: Operation) -> dict[str, Any] | None:
    """Wait for ``op`` with the first strategy that can poll it."""
    return next(s for s in STRATEGIES if s.can_poll(op)).run(op)
