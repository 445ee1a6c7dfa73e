"""Clients for the Azure OpenAI data plane and ARM, on httpx with an injectable transport."""

from .arm import ACCOUNT_ID_RE, ArmClient, account_writes
from .auth import ApiKeyAuth, Auth, BearerAuth, EntraAuth
from .dataplane import DataPlaneClient, final_metrics, normalize_endpoint
from .errors import (
    AuthenticationError,
    AzureOpenAIError,
    ConflictError,
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

__all__ = [
    "ACCOUNT_ID_RE",
    "ApiKeyAuth",
    "ArmClient",
    "Auth",
    "AuthenticationError",
    "AzureOpenAIError",
    "BearerAuth",
    "ConflictError",
    "DataPlaneClient",
    "EntraAuth",
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
    "final_metrics",
    "normalize_endpoint",
    "redact",
]
