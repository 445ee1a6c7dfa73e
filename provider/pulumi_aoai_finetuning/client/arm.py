"""The ARM client: resource GET/PUT/PATCH/DELETE with Azure's long-running-operation rules.

After a write, the operation is followed through ``Azure-AsyncOperation`` (preferred), else ``Location``,
else the resource's ``provisioningState`` (reference/azure-api.md §7.3). Writes to the deployments of one
account are serialised within the process, and ``409 RequestConflict`` (another operation on the account is
in progress, from another process or stack) is retried with backoff until the caller's deadline.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2

from .auth import Auth
from .errors import ConflictError, NotFoundError, OperationFailedError, WaitTimeoutError
from .http import HttpClient
from .retry import RetryPolicy, retry_after_seconds

API_VERSION = "2025-06-01"
ACCOUNT_ID_RE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers/"
    r"Microsoft\.CognitiveServices/accounts/(?P<account>[^/]+)$",
    re.IGNORECASE,
)
TERMINAL = {"succeeded", "failed", "canceled", "cancelled"}

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
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.api_version = api_version
        self.http = HttpClient(auth, transport=transport, policy=policy)
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
        state = str(result.get("properties", {}).get("provisioningState", "Succeeded")).lower()
        if state in ("failed", "canceled"):
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
                wait = exc.retry_after or min(self.poll_max, max(self.poll_interval, 0.05) * 2 ** min(attempt, 6))
                time.sleep(min(wait, max(0.0, deadline - time.monotonic())))

    def _sleep(self, response: httpx2.Response, interval: float, deadline: float, what: str) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeoutError(what)
        asked = retry_after_seconds(response.headers)
        time.sleep(min(asked if asked is not None else interval, remaining))
        return min(interval * 1.5 if interval > 0 else 0.0, self.poll_max)

    def _follow(
        self, response: httpx2.Response, method: str, resource_id: str, deadline: float
    ) -> dict[str, Any] | None:
        """Wait for a long-running operation; the resource for PUT/PATCH when its body has it, else None."""
        what = f"{method} {resource_id} is still running; the next `pulumi up` picks it up again"
        interval = self.poll_interval
        async_url = response.headers.get("azure-asyncoperation")
        location = response.headers.get("location")
        if async_url:
            while True:
                status = self.http.request("GET", async_url)
                body = status.json()
                state = str(body.get("status", "")).lower()
                if state in TERMINAL:
                    if state != "succeeded":
                        error = body.get("error") or {}
                        raise OperationFailedError(
                            f"{method} {resource_id} {state}: {error.get('code', '')} {error.get('message', '')}".strip()
                        )
                    return None if method == "DELETE" else self.get(resource_id)
                interval = self._sleep(status, interval, deadline, what)
        if location:
            while True:
                interval = self._sleep(response, interval, deadline, what)
                response = self.http.request("GET", location, expect=(404,))
                if response.status_code != 202:
                    return dict(response.json()) if response.content and method != "DELETE" else None
        if method == "DELETE":
            while True:
                try:
                    self.get(resource_id)
                except NotFoundError:
                    return None
                interval = self._sleep(response, interval, deadline, what)
        body = response.json() if response.content else {}
        while str(body.get("properties", {}).get("provisioningState", "Succeeded")).lower() not in TERMINAL:
            interval = self._sleep(response, interval, deadline, what)
            body = self.get(resource_id)
        return dict(body)
