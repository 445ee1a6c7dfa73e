"""Credentials for the data plane and ARM: an API key, a static bearer token, or Microsoft Entra ID.

Nothing here is ever pickled into a resource's ``__provider``: credentials are resolved per process, from
stack config (``configure``) or the environment, when a call is made.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import CredentialError
from .security import is_loopback

DATA_PLANE_SCOPE = "https://cognitiveservices.azure.com/.default"
ARM_SCOPE = "https://management.azure.com/.default"


class Auth(Protocol):
    """Something that adds credentials to a request's headers."""

    def headers(self) -> dict[str, str]:
        """The headers that authenticate one request."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Values to redact from any message."""
        ...


@dataclass(frozen=True)
class ApiKeyAuth:
    """An Azure OpenAI account key, sent as ``api-key``."""

    key: str

    def headers(self) -> dict[str, str]:
        """``api-key: <key>``."""
        return {"api-key": self.key}

    def secrets(self) -> tuple[str, ...]:
        """The key."""
        return (self.key,)

    def __repr__(self) -> str:
        return "ApiKeyAuth(key='***')"


@dataclass(frozen=True)
class BearerAuth:
    """A static bearer token (CI systems, the emulator)."""

    token: str

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>``."""
        return {"Authorization": f"Bearer {self.token}"}

    def secrets(self) -> tuple[str, ...]:
        """The token."""
        return (self.token,)

    def __repr__(self) -> str:
        return "BearerAuth(token='***')"


def credential_options(env: dict[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for azure-identity's credentials: instance discovery off for a loopback authority.

    MSAL validates an authority host it does not know by asking ``login.microsoftonline.com`` (instance
    discovery); a token service on this machine (the emulator's Entra ID, ``AZURE_AUTHORITY_HOST``) is unknown
    to it by nature and the machine may be offline, so discovery is skipped for loopback hosts only.
    """
    authority = (os.environ if env is None else env).get("AZURE_AUTHORITY_HOST", "")
    host = urllib.parse.urlsplit(authority if "://" in authority else f"https://{authority}").hostname
    return {"disable_instance_discovery": True} if host and is_loopback(host) else {}


class EntraAuth:
    """Tokens from ``DefaultAzureCredential`` for one scope, fetched lazily and refreshed before expiry."""

    _credential: Any = None
    _credential_lock = threading.Lock()

    def __init__(self, scope: str, *, instead: str = "an API key") -> None:
        self.scope = scope
        self.instead = instead  # what the user could configure instead of a login, named when there is none
        self._token: Any = None
        self._lock = threading.Lock()

    @classmethod
    def _shared_credential(cls) -> Any:
        with cls._credential_lock:
            if cls._credential is None:
                from azure.identity import DefaultAzureCredential  # noqa: PLC0415 - heavy; needed only without a key

                cls._credential = DefaultAzureCredential(**credential_options())
            return cls._credential

    def headers(self) -> dict[str, str]:
        """A fresh-enough bearer token for the scope."""
        with self._lock:
            if self._token is None or self._token.expires_on - 300 < time.time():
                self._token = self._fetch()
            return {"Authorization": f"Bearer {self._token.token}"}

    def _fetch(self) -> Any:
        from azure.core.exceptions import ClientAuthenticationError  # noqa: PLC0415 - loaded with azure-identity

        try:
            return self._shared_credential().get_token(self.scope)
        except (ClientAuthenticationError, ValueError) as exc:  # ValueError: AZURE_* variables set but unusable
            # azure-identity's message (every credential it tried) stays the cause; its frames are noise.
            raise CredentialError(
                f"no credentials for {self.scope}: set {self.instead}, or sign in to Microsoft Entra ID with "
                "`az login` (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET for a service principal)"
            ) from exc.with_traceback(None)

    def secrets(self) -> tuple[str, ...]:
        """The current token, if any."""
        return (self._token.token,) if self._token is not None else ()

    def __repr__(self) -> str:
        return f"EntraAuth(scope={self.scope!r})"
