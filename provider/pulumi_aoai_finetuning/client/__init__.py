"""Clients for the Azure OpenAI data plane and ARM, on httpx with an injectable transport."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

if TYPE_CHECKING:
    from .arm import ArmClient, account_writes
    from .auth import ApiKeyAuth, Auth, BearerAuth, EntraAuth
    from .dataplane import DataPlaneClient, final_metrics
    from .errors import (
        AuthenticationError,
        AzureOpenAIError,
        ConflictError,
        CredentialError,
        InsecureEndpointError,
        InvalidRequestError,
        NotFoundError,
        OperationFailedError,
        ServerError,
        ServiceError,
        ThrottledError,
        TransportError,
        WaitTimeoutError,
        redact,
    )
    from .names import ACCOUNT_ID_RE, normalize_endpoint
    from .retry import RetryPolicy
    from .security import require_secure
    from .waiting import adopt_or_create, backoff, poll_until

# Each name from its module on first use: the errors and helpers a check needs do not import the HTTP stack.
_HOMES = {
    "ACCOUNT_ID_RE": "names",
    "ApiKeyAuth": "auth",
    "ArmClient": "arm",
    "Auth": "auth",
    "AuthenticationError": "errors",
    "AzureOpenAIError": "errors",
    "BearerAuth": "auth",
    "ConflictError": "errors",
    "CredentialError": "errors",
    "DataPlaneClient": "dataplane",
    "EntraAuth": "auth",
    "InsecureEndpointError": "errors",
    "InvalidRequestError": "errors",
    "NotFoundError": "errors",
    "OperationFailedError": "errors",
    "RetryPolicy": "retry",
    "ServerError": "errors",
    "ServiceError": "errors",
    "ThrottledError": "errors",
    "TransportError": "errors",
    "WaitTimeoutError": "errors",
    "account_writes": "arm",
    "adopt_or_create": "waiting",
    "backoff": "waiting",
    "final_metrics": "dataplane",
    "normalize_endpoint": "names",
    "poll_until": "waiting",
    "redact": "errors",
    "require_secure": "security",
}


__all__ = [
    "ACCOUNT_ID_RE",
    "ApiKeyAuth",
    "ArmClient",
    "Auth",
    "AuthenticationError",
    "AzureOpenAIError",
    "BearerAuth",
    "ConflictError",
    "CredentialError",
    "DataPlaneClient",
    "EntraAuth",
    "InsecureEndpointError",
    "InvalidRequestError",
    "NotFoundError",
    "OperationFailedError",
    "RetryPolicy",
    "ServerError",
    "ServiceError",
    "ThrottledError",
    "TransportError",
    "WaitTimeoutError",
    "account_writes",
    "adopt_or_create",
    "backoff",
    "final_metrics",
    "normalize_endpoint",
    "poll_until",
    "redact",
    "require_secure",
]

__getattr__, __dir__ = lazy_names(__name__, {name: f".{home}" for name, home in _HOMES.items()}, __all__)
