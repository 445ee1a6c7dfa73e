"""The emulator's error catalogue: every error a client can see is built here, in Azure's shapes.

One exception, :class:`ServiceError`, carries the HTTP status, the service code, the message and the
target; how it is rendered depends on the plane that raised it:

- ``dated`` data plane: ``{"error": {"code", "message", "target"?}}`` with the camelCase
  ``ErrorCode`` values of the authoring spec (``invalidPayload``, ``notFound``, ...).
- ``v1`` data plane: the same plus ``"param"`` and ``"type": "error"``.
- ``gateway`` errors (bad key, unknown route, throttling in front of the service) use the numeric
  string codes Azure's API gateway sends: ``{"error": {"code": "401", "message": ...}}``.
- ``arm``: ``{"error": {"code", "message", "target"?, "details": []}}``.
"""

from __future__ import annotations

from typing import Literal

Plane = Literal["dated", "v1", "arm", "admin"]


class ServiceError(Exception):
    """An error answered to the client as an Azure error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        headers: dict[str, str] | None = None,
        gateway: bool = False,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = headers or {}
        self.gateway = gateway

    def body(self, plane: Plane) -> dict[str, object]:
        """The JSON body for this error on ``plane``."""
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.gateway:
            return {"error": error}
        if plane == "arm":
            if self.target:
                error["target"] = self.target
            error["details"] = []
            return {"error": error}
        if plane == "v1":
            error["param"] = self.target
            error["type"] = "error"
            return {"error": error}
        if self.target:
            error["target"] = self.target
        return {"error": error}


# --- gateway-level errors (numeric string codes, as Azure's API gateway answers) -----------------


def resource_not_found() -> ServiceError:
    """Unknown route, unknown account or an api-version the service does not serve."""
    return ServiceError(404, "404", "Resource not found", gateway=True)


def access_denied() -> ServiceError:
    """Missing or wrong API key or token on the data plane."""
    return ServiceError(
        401,
        "401",
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
        "valid key for an active subscription and use a correct regional API endpoint for your resource.",
        gateway=True,
    )


def local_auth_disabled() -> ServiceError:
    """API keys used on an account created with ``disableLocalAuth``."""
    return ServiceError(
        403,
        "AuthenticationTypeDisabled",
        "Key based authentication is disabled for this resource.",
        gateway=True,
    )


def too_many_requests(retry_after: float | None, code: str = "429", message: str | None = None) -> ServiceError:
    """Throttling in front of the service (fault injection)."""
    wait = f" Please retry after {retry_after:g} seconds." if retry_after is not None else ""
    return ServiceError(
        429,
        code,
        message or f"Requests to the Azure OpenAI API have exceeded the rate limit of your current pricing tier.{wait}",
        gateway=True,
    )


# --- data-plane service errors --------------------------------------------------------------------


def invalid_payload(message: str, target: str | None = None) -> ServiceError:
    """A request body or parameter the service rejects (400 ``invalidPayload``)."""
    return ServiceError(400, "invalidPayload", message, target=target)


def not_found(kind: str, ident: str) -> ServiceError:
    """A file, job, checkpoint or model that does not exist in this account (404 ``notFound``)."""
    return ServiceError(404, "notFound", f"The {kind} '{ident}' could not be found.", target=ident)


def unexpected_state(message: str, target: str | None = None) -> ServiceError:
    """An operation not allowed in the object's current state (409 ``unexpectedEntityState``)."""
    return ServiceError(409, "unexpectedEntityState", message, target=target)


def conflict(message: str, target: str | None = None) -> ServiceError:
    """An operation that conflicts with other objects (409 ``conflict``)."""
    return ServiceError(409, "conflict", message, target=target)


def quota_exceeded(message: str) -> ServiceError:
    """A per-resource limit of the service was reached (400 ``quotaExceeded``)."""
    return ServiceError(400, "quotaExceeded", message)


def preview_header_required(header: str) -> ServiceError:
    """A preview operation called without its opt-in header."""
    return ServiceError(
        400,
        "invalidPayload",
        f"This operation is in preview and requires the header '{header}: preview'.",
        target=header,
    )


# --- ARM errors -------------------------------------------------------------------------------------


def arm_missing_api_version() -> ServiceError:
    """ARM request without ``api-version``."""
    return ServiceError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )


def arm_bad_api_version(version: str, supported: list[str]) -> ServiceError:
    """ARM request with an api-version the resource provider does not serve."""
    return ServiceError(
        400,
        "NoRegisteredProviderFound",
        f"No registered resource provider found for API version '{version}' and type 'accounts'. "
        f"The supported api-versions are '{', '.join(supported)}'.",
    )


def arm_auth_missing() -> ServiceError:
    """ARM request without a bearer token."""
    return ServiceError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")


def arm_auth_invalid(message: str, code: str = "InvalidAuthenticationToken") -> ServiceError:
    """ARM request with a token that is not a bearer token or is for another audience."""
    return ServiceError(401, code, message)


def arm_not_found(kind: str, name: str, group: str | None = None) -> ServiceError:
    """An ARM resource that does not exist (404 ``ResourceNotFound``)."""
    where = f" under resource group '{group}'" if group else ""
    return ServiceError(
        404,
        "ResourceNotFound",
        f"The Resource '{kind}/{name}'{where} was not found.",
        target=name,
    )


def arm_group_not_found(group: str) -> ServiceError:
    """A resource group that does not exist."""
    return ServiceError(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")


def arm_request_conflict(account_id: str) -> ServiceError:
    """A write on a deployment while another write on the same account is in progress."""
    return ServiceError(
        409,
        "RequestConflict",
        f"Another operation is being performed on the parent resource '{account_id}'. Please try again later.",
    )


def arm_bad_request(code: str, message: str, target: str | None = None) -> ServiceError:
    """Any other 400 from the resource provider (validation of a PUT body)."""
    return ServiceError(400, code, message, target=target)


def arm_conflict(code: str, message: str) -> ServiceError:
    """Any other 409 from the resource provider."""
    return ServiceError(409, code, message)
