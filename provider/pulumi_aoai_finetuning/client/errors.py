"""The exceptions of the clients: one small tree.

::

    AzureOpenAIError                 anything this package raises about a remote call
    ├── TransportError               the request did not get an HTTP answer (connection refused, reset, timeout)
    ├── ServiceError                 the service answered with an error status; carries status, code, message, request id
    │   ├── InvalidRequestError      400: the request is wrong; fix the input
    │   ├── AuthenticationError      401/403: no or wrong key or token
    │   ├── NotFoundError            404
    │   ├── ConflictError            409 (RequestConflict: another operation is in progress)
    │   ├── ThrottledError           429
    │   └── ServerError              5xx
    ├── OperationFailedError         a long-running operation (job, deployment, copy) ended badly
    ├── WaitTimeoutError             we stopped waiting; the remote operation goes on
    ├── CredentialError              no key, and no Microsoft Entra ID login to get a token from
    └── InsecureEndpointError        a URL that would carry a credential in cleartext (http off this machine)

Messages never contain an API key or a bearer token: see :func:`redact`.
"""

from __future__ import annotations

import re
from typing import Any

_SECRET_HEADER_RE = re.compile(
    r"(?i)(api-key|authorization|ocp-apim-subscription-key)([\"']?\s*[:=]\s*[\"']?)([^\s\"',}]+(?: [^\s\"',}]+)?)"
)
_BEARER_RE = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
# A URL whose query carries a SAS signature: the whole query goes (it is the credential), the resource stays.
_SAS_URL_RE = re.compile(r"(?i)\b((?:https?|file)://[^\s?\"'<>]*)\?[^\s\"'<>]*\bsig=[^\s\"'<>]*")
_SIG_RE = re.compile(r"(?i)\bsig=[^&\s\"'<>]+")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with API keys, bearer tokens, SAS query strings and any of ``secrets`` replaced by ``***``."""
    out = _SECRET_HEADER_RE.sub(lambda m: f"{m[1]}{m[2]}***", text)
    out = _BEARER_RE.sub("Bearer ***", out)
    out = _SAS_URL_RE.sub(lambda m: f"{m[1]}?***", out)
    out = _SIG_RE.sub("sig=***", out)
    for secret in secrets:
        if secret and len(secret) >= 8:
            out = out.replace(secret, "***")
    return out


class AzureOpenAIError(Exception):
    """Base of every error about a remote call."""


class TransportError(AzureOpenAIError):
    """The request got no HTTP answer: connection refused or reset, or a network timeout.

    ``may_have_reached_service`` is False only when the connection was never made: then a POST cannot have
    done anything, and repeating it is safe. The httpx error is kept as ``__cause__``.
    """

    def __init__(self, message: str, *, may_have_reached_service: bool = True) -> None:
        self.may_have_reached_service = may_have_reached_service
        super().__init__(message)


class ServiceError(AzureOpenAIError):
    """The service answered with an error status."""

    may_have_reached_service = True

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        request_id: str | None = None,
        method: str = "",
        url: str = "",
        target: str | None = None,
        retry_after: float | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.method = method
        self.url = url
        self.target = target
        self.retry_after = retry_after
        # ARM's ``error.details`` (as azure-core's ODataV4Format keeps them): the specific causes of a 400.
        self.details = list(details or [])
        where = f" ({method} {url})" if method else ""
        rid = f" [request id {request_id}]" if request_id else ""
        super().__init__(redact(f"{status} {code or ''}: {message}{where}{rid}".replace("  ", " ")))


class InvalidRequestError(ServiceError):
    """400: the service refused the request as invalid."""


class AuthenticationError(ServiceError):
    """401 or 403: missing, wrong or insufficient credentials."""


class NotFoundError(ServiceError):
    """404: the object (or the endpoint) does not exist."""


class ConflictError(ServiceError):
    """409: the object's state or another operation in progress prevents this one."""


class ThrottledError(ServiceError):
    """429: too many requests; ``retry_after`` says when to come back."""


class ServerError(ServiceError):
    """5xx: the service failed."""


class OperationFailedError(AzureOpenAIError):
    """A long-running operation (a job, a deployment, a copy) ended in failure."""


class WaitTimeoutError(AzureOpenAIError):
    """We stopped waiting for a long-running operation; the operation itself continues remotely."""


class CredentialError(AzureOpenAIError):
    """No credential could be found: no key configured and no Microsoft Entra ID login; the message says which."""


class InsecureEndpointError(AzureOpenAIError, ValueError):
    """A URL that would receive a key or token over plain http from another machine."""


def error_for_status(status: int) -> type[ServiceError]:
    """The exception class for an HTTP error status."""
    if status == 400:
        return InvalidRequestError
    if status in (401, 403):
        return AuthenticationError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status == 429:
        return ThrottledError
    if status >= 500:
        return ServerError
    return ServiceError
