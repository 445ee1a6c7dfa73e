"""Clients for the Azure OpenAI data plane and ARM, on httpx with an injectable transport."""

from .arm import ACCOUNT_ID_RE, ArmClient, account_writes
from .auth import ApiKeyAuth, Auth, BearerAuth, EntraAuth
from .dataplane import DataPlaneClient, final_metrics, normalize_endpoint
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
from .retry import RetryPolicy
from .security import require_secure
from .waiting import adopt_or_create, backoff, poll_until

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
