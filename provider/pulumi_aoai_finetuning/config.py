"""Stack config and environment, resolved the same way in every process (the providers and ``aoai-ft``).

Keys (namespace ``azure-openai``):

==============================  ===========================================================================
``apiKey`` (secret)             the data-plane key for every account
``apiKeys`` (secret, JSON)      ``{"<endpoint>": "<key>"}`` for stacks that span several accounts
``apiVersion``                  ``v1`` (default, ``/openai/v1/...``) or a dated version such as ``2025-04-01-preview``
``armToken`` (secret)           a bearer token for ARM (CI systems, the emulator); else Entra ID
``armEndpoint``                 ARM's URL (sovereign clouds, the emulator); default ``https://management.azure.com``
``pollIntervalSeconds``         first wait between status polls (default 2); grows x1.5 per poll
``pollMaxSeconds``              the cap of that wait (default 45): completion is noticed within it
``maxRetries``                  attempts per request on throttling and transient failures (default 6)
``prices`` (JSON)               prices that replace the package's dated table (``pricing.py``) in estimates:
                                ``{"<base model>": {"training_per_million": 3.3, "hosting_per_hour": 1.7}}``
``uploadPartSize``              bytes per part of a file sent through the Uploads API (default 32 MiB, at most
                                64 MiB); a larger file goes in parts, ``0`` sends every file in one request
==============================  ===========================================================================

Then the environment: ``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_API_VERSION``, ``AZURE_OPENAI_ARM_TOKEN``,
``AZURE_OPENAI_ARM_ENDPOINT``, ``AZURE_OPENAI_UPLOAD_PART_SIZE``; then Microsoft Entra ID through ``DefaultAzureCredential``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .client.auth import ARM_SCOPE, DATA_PLANE_SCOPE, ApiKeyAuth, Auth, BearerAuth, EntraAuth
from .client.names import normalize_endpoint
from .client.uploads import DEFAULT_PART_BYTES, MAX_PART_BYTES

if TYPE_CHECKING:
    # The clients (and the HTTP stack under them) are imported when a client is made: a plugin that only
    # checks and diffs (every no-op preview) never pays for them.
    from .client.arm import ArmClient
    from .client.dataplane import DataPlaneClient

NAMESPACE = "azure-openai"
DEFAULT_API_VERSION = "v1"
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"


class ConfigError(ValueError):
    """A stack config value that cannot be used, named with the fix."""


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one process."""

    api_key: str | None = None
    api_keys: Mapping[str, str] = field(default_factory=dict)
    api_version: str = DEFAULT_API_VERSION
    arm_token: str | None = None
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    poll_interval: float = 2.0
    poll_max: float = 45.0
    max_retries: int = 6
    prices: Mapping[str, Any] = field(default_factory=dict)
    upload_part_size: int = DEFAULT_PART_BYTES

    def __repr__(self) -> str:
        return (
            f"Settings(api_key={'***' if self.api_key else None}, api_keys=<{len(self.api_keys)}>, "
            f"api_version={self.api_version!r}, arm_endpoint={self.arm_endpoint!r})"
        )

    def data_plane_auth(self, endpoint: str) -> Auth:
        """The credentials for one account: its key from ``apiKeys``, else ``apiKey``, else Entra ID."""
        key = self.api_keys.get(normalize_endpoint(endpoint)) or self.api_key
        if key:
            return ApiKeyAuth(key)
        return EntraAuth(
            DATA_PLANE_SCOPE,
            instead=f"the account key in {NAMESPACE}:apiKey (pulumi config set --secret {NAMESPACE}:apiKey <key>) "
            "or AZURE_OPENAI_API_KEY",
        )

    def arm_auth(self) -> Auth:
        """Credentials for ARM: the configured bearer token, else Entra ID for the management scope."""
        if self.arm_token:
            return BearerAuth(self.arm_token)
        return EntraAuth(ARM_SCOPE, instead=f"a bearer token in {NAMESPACE}:armToken or AZURE_OPENAI_ARM_TOKEN")

    def data_client(self, endpoint: str, *, pooled: bool = True) -> DataPlaneClient:
        """A data-plane client for one account, credentials as configured now.

        ``pooled`` (the providers) shares this process's connection pool for the account, kept until exit;
        a one-shot command (``aoai-ft``) takes its own, closed with the client.
        """
        from .client.dataplane import DataPlaneClient  # noqa: PLC0415 - see the TYPE_CHECKING imports
        from .client.pool import shared_client  # noqa: PLC0415
        from .client.retry import RetryPolicy  # noqa: PLC0415

        return DataPlaneClient(
            endpoint,
            self.data_plane_auth(endpoint),
            api_version=self.api_version,
            policy=RetryPolicy(max_attempts=self.max_retries),
            client=shared_client(endpoint) if pooled else None,
        )

    def arm_client(self) -> ArmClient:
        """An ARM client: this process's pool for ARM, credentials as configured now, this polling pace."""
        from .client.arm import ArmClient  # noqa: PLC0415 - see the TYPE_CHECKING imports
        from .client.pool import shared_client  # noqa: PLC0415
        from .client.retry import RetryPolicy  # noqa: PLC0415

        return ArmClient(
            self.arm_endpoint,
            self.arm_auth(),
            policy=RetryPolicy(max_attempts=self.max_retries),
            poll_interval=self.poll_interval,
            poll_max=self.poll_max,
            client=shared_client(self.arm_endpoint),
        )

    def secrets(self) -> tuple[str, ...]:
        """Every secret value these settings hold, for redaction."""
        return tuple(v for v in (self.api_key, self.arm_token, *self.api_keys.values()) if v)


def _number(raw: str | None, key: str, default: float, low: float) -> float:
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{NAMESPACE}:{key} must be a number, not {raw!r}") from None
    if value < low:
        raise ConfigError(f"{NAMESPACE}:{key} must be at least {low}, not {value}")
    return value


def resolve(get: Callable[[str], str | None], env: Mapping[str, str] | None = None) -> Settings:
    """Settings from a config lookup (``get("azure-openai:apiKey")``) and the environment."""
    env = os.environ if env is None else env

    def pick(key: str, env_name: str | None = None) -> str | None:
        value = get(f"{NAMESPACE}:{key}")
        if value in (None, "") and env_name:
            value = env.get(env_name)
        return value or None

    raw_keys = pick("apiKeys")
    api_keys: dict[str, str] = {}
    if raw_keys:
        try:
            parsed = json.loads(raw_keys)
        except ValueError:
            raise ConfigError(f"{NAMESPACE}:apiKeys must be a JSON object of endpoint to key") from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise ConfigError(f"{NAMESPACE}:apiKeys must be a JSON object of endpoint to key")
        api_keys = {normalize_endpoint(k): v for k, v in parsed.items()}
    version = pick("apiVersion", "AZURE_OPENAI_API_VERSION") or DEFAULT_API_VERSION
    if version != "v1" and not (len(version) >= 10 and version[:4].isdigit() and version[4] == "-"):
        raise ConfigError(
            f"{NAMESPACE}:apiVersion must be 'v1' or a dated version like '2025-04-01-preview', not {version!r}"
        )
    poll_interval = _number(pick("pollIntervalSeconds"), "pollIntervalSeconds", 2.0, 0.0)
    raw_prices = pick("prices")
    prices: object = {}
    if raw_prices:
        try:
            prices = json.loads(raw_prices)
        except ValueError:
            prices = None
        if not isinstance(prices, dict):
            raise ConfigError(
                f"{NAMESPACE}:prices must be a JSON object of base model to prices, such as "
                '{"gpt-4o-mini-2024-07-18": {"training_per_million": 3.3}}'
            )
    return Settings(
        api_key=pick("apiKey", "AZURE_OPENAI_API_KEY"),
        api_keys=api_keys,
        api_version=version,
        arm_token=pick("armToken", "AZURE_OPENAI_ARM_TOKEN"),
        arm_endpoint=(pick("armEndpoint", "AZURE_OPENAI_ARM_ENDPOINT") or DEFAULT_ARM_ENDPOINT).rstrip("/"),
        poll_interval=poll_interval,
        poll_max=max(poll_interval, _number(pick("pollMaxSeconds"), "pollMaxSeconds", 45.0, 0.0)),
        max_retries=int(_number(pick("maxRetries"), "maxRetries", 6, 1)),
        prices=prices if isinstance(prices, dict) else {},
        upload_part_size=_part_size(pick("uploadPartSize", "AZURE_OPENAI_UPLOAD_PART_SIZE")),
    )


def _part_size(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_PART_BYTES
    try:
        value = float(str(raw))
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_PART_BYTES or not value.is_integer():
        raise ConfigError(
            f"{NAMESPACE}:uploadPartSize must be a whole number of bytes up to {MAX_PART_BYTES} (64 MiB, Azure's "
            f"limit per part), or 0 to send files in one request; not {raw!r}"
        )
    return int(value)


_lock = threading.Lock()
_configured: Callable[[str], str | None] | None = None


def set_stack_config(get: Callable[[str], str | None]) -> None:
    """Remember the stack config lookup this process was configured with (called from ``configure``)."""
    global _configured  # noqa: PLW0603 - one plugin process serves one stack: its config is process-wide
    with _lock:
        _configured = get


def current() -> Settings:
    """Settings now: stack config if ``configure`` ran, plus the environment.

    Read on every call, so rotated keys work for ``destroy`` without an ``up`` first.
    """
    with _lock:
        get = _configured
    return resolve(get or (lambda _key: None))
