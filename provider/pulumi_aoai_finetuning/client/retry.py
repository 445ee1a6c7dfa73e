"""When to retry a request and how long to wait: retry headers first, else capped exponential backoff with jitter."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

import httpx2

from .waiting import backoff

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Statuses after which a POST cannot have done its work: throttling happens in front of the service.
SAFE_POST_RETRY_STATUSES = frozenset({429})


def retry_after_seconds(headers: httpx2.Headers) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, then ``x-ms-retry-after-ms``, then ``Retry-After``."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / 1000)
            except ValueError:
                pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError):
        return None  # neither seconds nor an HTTP date (a proxy's "soon"): the caller backs off instead
    return max(0.0, float(parsed.timestamp()) - time.time())


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try and how to space attempts."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based): exponential, capped, with 25 % jitter downwards."""
        return backoff(attempt, first=self.base_delay, cap=self.max_delay, factor=2.0, jitter=0.25)

    def delay(self, attempt: int, response: httpx2.Response | None) -> float:
        """Honour the response's retry headers when present and sane, else back off."""
        if response is not None:
            asked = retry_after_seconds(response.headers)
            if asked is not None and asked <= self.max_retry_after:
                return asked
        return self.backoff(attempt)
