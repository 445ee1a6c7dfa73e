"""One HTTP client for both planes: retries with backoff, error mapping, redaction; the transport is injectable."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx2

from .auth import Auth
from .errors import ServiceError, TransportError, error_for_status, redact
from .retry import RETRY_STATUSES, SAFE_POST_RETRY_STATUSES, RetryPolicy, retry_after_seconds

log = logging.getLogger("pulumi_aoai_finetuning.http")
USER_AGENT = "pulumi-aoai-finetuning/0.1"
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
CLIENT_REQUEST_ID = "x-ms-client-request-id"


def _error_from(response: httpx2.Response, method: str, url: str, secrets: tuple[str, ...]) -> ServiceError:
    code: str | None = None
    message = response.reason_phrase or "error"
    target = None
    details: list[dict[str, Any]] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            code = str(err["code"]) if err.get("code") is not None else None
            message = str(err.get("message") or message)
            target = err.get("target") or err.get("param")
            raw_details = err.get("details")
            if isinstance(raw_details, list):
                details = [d for d in raw_details if isinstance(d, dict)]
    elif response.text:
        message = response.text[:500]
    request_id = response.headers.get("apim-request-id") or response.headers.get("x-ms-request-id")
    cls = error_for_status(response.status_code)
    return cls(
        response.status_code,
        code,
        redact(message, secrets),
        request_id=request_id,
        method=method,
        url=redact(url, secrets),
        target=target,
        retry_after=retry_after_seconds(response.headers),
        details=details,
    )


def new_client(
    *, transport: httpx2.BaseTransport | None = None, timeout: float = 120.0, verify: Any = True
) -> httpx2.Client:
    """An httpx client as every request of this package is sent: our User-Agent, no redirects, these timeouts."""
    return httpx2.Client(
        transport=transport,
        timeout=httpx2.Timeout(timeout, connect=15.0),
        verify=verify,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )


class HttpClient:
    """httpx with our retry rules (:mod:`.retry`) and errors mapped to :mod:`.errors`.

    ``client`` is a shared connection pool (:mod:`.pool`), left open by :meth:`close`; without one, the
    client gets its own pool and closes it.
    """

    def __init__(
        self,
        auth: Auth | None,
        *,
        transport: httpx2.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 120.0,
        verify: Any = True,
        client: httpx2.Client | None = None,
        client_request_id: bool = False,
    ) -> None:
        self.auth = auth
        # ARM traces a call by this header (azure-core sends one per request, the same on each retry).
        self.client_request_id = client_request_id
        self.policy = policy or RetryPolicy()
        self._owned = client is None
        self._client = client if client is not None else new_client(transport=transport, timeout=timeout, verify=verify)
        self.calls = 0  # requests sent, retries included: the benchmarks count them

    def close(self) -> None:
        """Close the connection pool, unless it is shared."""
        if self._owned:
            self._client.close()

    def _secrets(self) -> tuple[str, ...]:
        return self.auth.secrets() if self.auth else ()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        content: Any = None,
        files: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_post: bool = False,
        rewind: Any = None,
        expect: tuple[int, ...] = (),
    ) -> httpx2.Response:
        """Send a request, retrying what is safe to retry; raise a :class:`ServiceError` for an error status.

        POSTs are retried only on 429 and on connection failures before anything was sent, unless
        ``retry_post`` says a repeat cannot duplicate work. ``rewind`` (a file object) is seeked back to 0
        before each retry of an upload. Statuses in ``expect`` are returned instead of raised.
        """
        idempotent = method in IDEMPOTENT or retry_post
        base_headers = dict(headers or {})
        if self.client_request_id:
            base_headers.setdefault(CLIENT_REQUEST_ID, str(uuid.uuid4()))
        attempt = 0
        while True:
            attempt += 1
            all_headers = dict(base_headers)
            if self.auth is not None:
                all_headers.update(self.auth.headers())
            if rewind is not None:
                rewind.seek(0)
            self.calls += 1
            try:
                response = self._client.request(
                    method, url, params=params, json=json, content=content, files=files, data=data, headers=all_headers
                )
            except httpx2.TransportError as exc:
                never_sent = isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout)
                if attempt < self.policy.max_attempts and (idempotent or never_sent):
                    wait = self.policy.backoff(attempt)
                    log.debug("%s %s: %s; retrying in %.2fs", method, redact(url), type(exc).__name__, wait)
                    time.sleep(wait)
                    continue
                raise TransportError(
                    redact(f"{method} {url}: {type(exc).__name__}: {exc}", self._secrets()),
                    may_have_reached_service=not never_sent,
                ) from exc
            status = response.status_code
            if status < 400 or status in expect:
                return response
            retryable = status in RETRY_STATUSES and (idempotent or status in SAFE_POST_RETRY_STATUSES)
            if retryable and attempt < self.policy.max_attempts:
                wait = self.policy.delay(attempt, response)
                log.debug("%s %s: %s; retrying in %.2fs", method, redact(url), status, wait)
                response.close()
                time.sleep(wait)
                continue
            raise _error_from(response, method, url, self._secrets())
