"""The run's context: the stack config resolved, the safety rules, and the data-plane keys listed so far."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config as aoai_config
from ..client.names import normalize_endpoint
from . import checkpoint
from .azure_native import DEFAULT_SUBSCRIPTION, _Arm
from .entra import EntraLogin
from .project import Project
from .results import HarnessError, ProgramStep
from .safety import NotLoopbackError, require_loopback_properties

_API_KEYS = "azure-openai:apiKeys"


@dataclass
class _Context:
    """What every step of one command shares: the project, the stack config and its rules, the keys listed."""

    project: Project
    stack: str
    state_file: Path
    config: dict[str, str]
    secret_keys: set[str]
    stack_references: dict[str, Path]
    keys_from_arm: bool
    on_step: Callable[[ProgramStep], None] | None = None
    allow_azure: bool = False
    emulator: bool = False  # a private emulator serves the run: list its accounts' keys, whatever is configured
    parallel: int | None = None  # at most this many steps at once; None: no limit, as the CLI's default
    crypter: checkpoint.Crypter | None = None  # the stack's passphrase crypter (Pulumi.<stack>.yaml), if any
    clear_pending_creates: bool = False  # refresh --clear-pending-creates
    import_pending_creates: dict[str, str] = field(default_factory=dict)  # refresh --import-pending-creates URN ID
    entra: EntraLogin | None = None  # the deployer signed in to the emulator's Entra ID, if the run uses it

    def __post_init__(self) -> None:
        try:
            self.settings = aoai_config.resolve(self.config.get)
        except aoai_config.ConfigError as exc:
            raise HarnessError(f"stack config: {exc}") from None
        self.subscription = self.config.get("azure-native:subscriptionId") or DEFAULT_SUBSCRIPTION
        # Stand in for Entra ID only where a real stack would need it: no key configured anywhere.
        self.fetch_keys = self.keys_from_arm and (
            self.emulator or (not self.config.get("azure-openai:apiKey") and not os.environ.get("AZURE_OPENAI_API_KEY"))
        )
        try:
            configured = json.loads(self.config.get(_API_KEYS) or "{}")
        except ValueError:
            configured = {}
        # Keys the user configured for some accounts; the stack's own new accounts still need theirs listed.
        self.configured_keys = {normalize_endpoint(k): str(v) for k, v in configured.items()}
        self.keys: dict[str, str] = {}  # endpoint -> key, in memory only
        self._keys_lock = threading.Lock()
        self._arm: _Arm | None = None
        self._arm_lock = threading.Lock()

    @property
    def arm(self) -> _Arm:
        with self._arm_lock:
            if self._arm is None:
                self._arm = _Arm(self.settings, self.entra.arm_auth() if self.entra else None)
            return self._arm

    def known_keys(self) -> dict[str, str]:
        """The data-plane keys listed so far (a copy: steps run in parallel)."""
        with self._keys_lock:
            return dict(self.keys)

    def remember_key(self, endpoint: str, key: str) -> None:
        """Keep an account's key for the plugin."""
        with self._keys_lock:
            self.keys[endpoint] = key

    def close(self) -> None:
        if self._arm is not None:
            self._arm.close()

    def guard(self, urn: str, *properties: Mapping[str, Any]) -> None:
        """Refuse a resource whose endpoints are off this machine, unless calling Azure was allowed."""
        if self.allow_azure:
            return
        for props in properties:
            try:
                require_loopback_properties(urn, props)
            except NotLoopbackError as exc:
                raise HarnessError(str(exc)) from None
