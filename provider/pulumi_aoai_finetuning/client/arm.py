"""The ARM client: resource GET/PUT/PATCH/DELETE with Azure's long-running-operation rules.

After a write, the operation is followed by the strategies of :mod:`.lro` (``Azure-AsyncOperation``, else
``Location``, else the resource itself). Writes to the deployments of one account are serialised within the
process, and ``409 RequestConflict`` (another operation on the account is in progress, from another process
or stack) is retried with backoff until the caller's deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2

from .auth import Auth
from .errors import ConflictError, OperationFailedError
from .http import HttpClient
from .lro import Operation, follow
from .retry import RetryPolicy
from .security import require_secure
from .status import OPERATION_FAILED, operation_state
from .waiting import Pacer, backoff

API_VERSION = "2025-06-01"

_locks_guard = threading.Lock()
_account_locks: dict[str, threading.Lock] = {}


@contextmanager
def account_writes(account_id: str) -> Iterator[None]:
    """Serialise deployment writes on one account within this process: Azure allows one at a time."""
    with _locks_guard:
        lock = _account_locks.setdefault(account_id.lower(), threading.Lock())
    with lock:
        yield


class ArmClient:
    """Calls Azure Resource Manager for one subscription's Cognitive Services resources."""

    def __init__(
        self,
        endpoint: str,
        auth: Auth | None,
        *,
        api_version: str = API_VERSION,
        transport: httpx2.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        poll_interval: float = 2.0,
        poll_max: float = 30.0,
        client: httpx2.Client | None = None,
    ) -> None:
        require_secure(endpoint, "azure-openai:armEndpoint")
        self.endpoint = endpoint.rstrip("/")
        self.api_version = api_version
        self.http = HttpClient(auth, transport=transport, policy=policy, client=client, client_request_id=True)
        self.poll_interval = poll_interval
        self.poll_max = poll_max

    def close(self) -> None:
        """Close connections."""
        self.http.close()

    def _url(self, resource_id: str) -> str:
        return f"{self.endpoint}{resource_id}"

    def _params(self) -> dict[str, str]:
        return {"api-version": self.api_version}

    def get(self, resource_id: str) -> dict[str, Any]:
        """A resource (raises :class:`NotFoundError` when it does not exist)."""
        return dict(self.http.request("GET", self._url(resource_id), params=self._params()).json())

    def post(self, resource_id: str, action: str) -> dict[str, Any]:
        """A resource action such as ``listKeys``."""
        response = self.http.request(
            "POST", self._url(f"{resource_id}/{action}"), params=self._params(), retry_post=True
        )
        return dict(response.json()) if response.content else {}

    def put(self, resource_id: str, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
        """Create or replace a resource and wait for the operation to finish; returns the resource."""
        return self._write("PUT", resource_id, body, timeout_s)

    def patch(self, resource_id: str, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
        """Update a resource in place and wait; returns the resource."""
        return self._write("PATCH", resource_id, body, timeout_s)

    def delete(self, resource_id: str, *, timeout_s: float) -> None:
        """Delete a resource and wait until it is gone (already gone is fine)."""
        deadline = time.monotonic() + timeout_s
        response = self._retry_conflicts(
            lambda: self.http.request("DELETE", self._url(resource_id), params=self._params(), expect=(404,)), deadline
        )
        if response.status_code in (200, 204, 404):
            return
        self._follow(response, "DELETE", resource_id, deadline)

    def _write(self, method: str, resource_id: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        response = self._retry_conflicts(
            lambda: self.http.request(method, self._url(resource_id), params=self._params(), json=body), deadline
        )
        result = self._follow(response, method, resource_id, deadline)
        if result is None:
            result = self.get(resource_id)
        state = operation_state(result.get("properties", {}).get("provisioningState"))
        if state in OPERATION_FAILED:
            raise OperationFailedError(f"{method} {resource_id} ended {state}")
        return result

    def _retry_conflicts(self, send: Any, deadline: float) -> httpx2.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response: httpx2.Response = send()
                return response
            except ConflictError as exc:
                if exc.code != "RequestConflict" or time.monotonic() >= deadline:
                    raise
                # The other operation takes as long as a deployment does: wait as a poll would, doubling.
                first = max(self.poll_interval, 0.05) * 2
                wait = exc.retry_after or backoff(min(attempt, 6), first=first, cap=self.poll_max)
                time.sleep(min(wait, max(0.0, deadline - time.monotonic())))

    def _follow(
        self, response: httpx2.Response, method: str, resource_id: str, deadline: float
    ) -> dict[str, Any] | None:
        """Wait for a long-running operation; the resource for PUT/PATCH when its body has it, else None."""
        pacer = Pacer(self.poll_interval, self.poll_max, deadline)
        return follow(Operation(self.http, self.get, method, resource_id, response, pacer))
