"""Run a Pulumi program directory as ``up``, ``preview``, ``refresh`` or ``destroy`` without the Pulumi CLI.

The program (a directory with ``Pulumi.yaml``, ``runtime: python``, and its ``__main__.py``) runs in-process
under :func:`pulumi.runtime.set_mocks`, with a mock *monitor* that plays the engine's part instead of
echoing inputs (the pattern of pulumi's own ``pulumi.runtime.set_mocks`` tests, with the real plugin behind it):

* dynamic resources (``pulumi-python:dynamic/...``) go to the SDK's real dynamic-provider server
  (``python -m pulumi.dynamic``, :class:`~pulumi_aoai_finetuning.testing.engine.DynamicPlugin`), configured
  with the stack config as the engine sends it, and are driven as the engine drives them: Check, then
  Create; or Diff, then nothing (a *same* step keeps the old outputs), Update, or a replacement
  (create-before-delete unless asked otherwise); secrets stripped before sending and re-marked by key;
* ``azure-native:resources:ResourceGroup`` and ``azure-native:cognitiveservices:Account`` (and the types of
  :mod:`~pulumi_aoai_finetuning.testing.azure_native_types`: identities, role assignments, random strings) are served over HTTP
  by the ARM endpoint in ``azure-openai:armEndpoint`` (the emulator's), with the outputs the azure-native
  SDK expects, auto-naming included; ``azure-native:authorization:getClientConfig`` and
  ``azure-native:cognitiveservices:listAccountKeys`` are answered too;
* ``up`` previews first, as the CLI does: the whole program runs once with Check and Diff only (outputs
  not known yet are unknown), and a failed Check anywhere stops it before any change; then it runs again
  for real. ``skip_preview=True`` (``--skip-preview``) goes straight to the update, as the CLI's flag does;
* resources left out of the program are deleted at the end of ``up`` (in reverse order); ``preview`` runs
  Check and Diff only; ``refresh`` reads every resource; ``destroy`` deletes everything in reverse order;
* the state (ids, inputs, outputs, dependencies, stack outputs) lives in a JSON file between commands.
  Secret values never reach it in plaintext: a secret property is kept as its SHA-256 only.

Data-plane credentials. A real stack that creates its own account authenticates the providers with
Microsoft Entra ID, or with a key the user stored by ``pulumi config set --secret azure-openai:apiKey``.
With ``entra`` (an :class:`~pulumi_aoai_finetuning.testing.entra.EntraLogin`; ``--emulator`` makes one) the
run is signed in to the emulator's Entra ID: the plugin gets the ``AZURE_*`` variables and the providers use
``DefaultAzureCredential``. For an account that still allows keys, when the stack config gives no
``azure-openai:apiKey``/``apiKeys`` (and ``AZURE_OPENAI_API_KEY`` is unset), the harness also lists its keys
through ARM ``listKeys`` - right after creating one, or when a provider is about to call the data plane - and
hands them to the plugin as the secret ``azure-openai:apiKeys``; an account with ``disableLocalAuth`` gets
none. A no-op ``up`` or a ``preview`` therefore calls nothing. Pass ``keys_from_arm=False``
(``--no-arm-keys``) to turn the listing off.

Each step names what changes: :attr:`ProgramStep.changed` holds the top-level input properties an update
or replacement changes (old and new values as JSON, secrets masked by key as the engine marks them),
:attr:`ProgramStep.replaces` the ones that force a replacement, and :attr:`ProgramStep.paid_training` flags
a FineTuningJob create or replacement (a new, billed training run). After ``refresh``, ``changed`` holds
the outputs found changed. The CLI prints them on each step line, and their values with ``--diff``.

Steps run as the engine runs them: a resource's step starts once its dependencies' steps are done (the
program registers it only then), independent steps run at once, every dynamic resource through the one
plugin process (so its 4 worker threads are the real limit), and deletions run in parallel, each once the
resources that depend on it are gone. ``parallel=N`` (``--parallel N``) caps the steps in flight; the
default, like the CLI's, sets no cap.

The state file is a Pulumi deployment of version 3, as ``pulumi stack export`` prints it
(:mod:`~pulumi_aoai_finetuning.testing.checkpoint`), with the engine's pending operations: each provider
create, update and delete is journalled before the call and cleared after it
(:mod:`~pulumi_aoai_finetuning.testing.journal`); ``refresh`` takes ``clear_pending_creates`` and
``import_pending_creates`` as the CLI's ``--clear-pending-creates``/``--import-pending-creates``.

Resource options are applied as the engine applies them to dynamic resources
(:mod:`~pulumi_aoai_finetuning.testing.options`): ``depends_on``, ``protect``, ``retain_on_delete``,
``ignore_changes`` (nested paths), ``replace_on_changes`` (inert where a custom diff sends no changed keys),
``delete_before_replace``, ``aliases`` and ``custom_timeouts`` (sent, and ignored by the plugin).

Not modelled: imports and ``.get()`` reads of existing resources, and any resource type other than the ones
above (they fail naming the type).

Safe by default: the harness calls only endpoints on this machine. A stack whose ``azure-openai:armEndpoint``
is not a loopback URL (or is not set: Azure's own ARM) is refused before any request, and so is a dynamic
resource whose ``endpoint`` is off the machine, unless ``--allow-azure`` (``allow_azure=True``) is given.
``--emulator`` (``emulator=True``) serves the command from a private emulator instead, its state kept in
``<state file>.emulator/`` (so that the next command on the stack finds the same accounts on the same
port), and points ``armEndpoint``, ``armToken`` and the data-plane keys at it.

CLI (:mod:`~pulumi_aoai_finetuning.testing.command_line`): ``python -m pulumi_aoai_finetuning.testing up
PROGRAM_DIR --state FILE --stack NAME --config k=v --secret k=v [--stack-ref NAME=STATE_FILE]
[--emulator | --allow-azure] [--skip-preview] [--parallel N] [--diff]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import runpy
import secrets as random_source
import string
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.proto import provider_pb2, resource_pb2
from pulumi.runtime.stack import massage, run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from .. import config as aoai_config
from ..client.arm import ArmClient
from ..client.auth import Auth
from ..client.dataplane import normalize_endpoint
from ..client.errors import AzureOpenAIError, NotFoundError
from ..client.retry import RetryPolicy
from ..inputs import is_unknown, plain
from . import azure_native_types as extra_types
from . import checkpoint
from .emulator import ARM_TOKEN, FAST_POLLING, served_private_emulator
from .engine import CheckFailed, DynamicPlugin, ProviderError
from .engine import from_struct as _from_struct
from .engine import to_struct as _to_struct
from .entra import CredentialAuth, EntraLogin, private_login, stack_subscription
from .journal import CREATING, DELETING, UPDATING, Journal, pending_warning
from .options import (
    OptionError,
    alias_urns,
    apply_ignore_changes,
    custom_timeouts,
    delete_protected_message,
    replace_protected_message,
    replacing_keys,
)
from .project import Project
from .results import (
    PREVIEW_UNKNOWN,
    REDACTED,
    SHOWN_UNKNOWN,
    HarnessError,
    ProgramResult,
    ProgramStep,
    PropertyChange,
)
from .safety import ARM_ENDPOINT_KEY, NotLoopbackError, require_loopback_arm, require_loopback_properties
from .scheduler import Slots, registration_threads, run_graph
from .stables import preview_update_outputs, update_stables
from .stack_config import StackConfigError

__all__ = ["COMMANDS", "PREVIEW_UNKNOWN", "REDACTED", "HarnessError", "ProgramResult", "ProgramStep", "run_program"]

COMMANDS = ("up", "preview", "refresh", "destroy")
DYNAMIC_PREFIX = "pulumi-python:dynamic"
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
ACCOUNT = "azure-native:cognitiveservices:Account"
STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
GET_CLIENT_CONFIG = "azure-native:authorization:getClientConfig"
LIST_ACCOUNT_KEYS = "azure-native:cognitiveservices:listAccountKeys"
RESOURCE_GROUP_API = "2024-03-01"  # what pulumi-azure-native 3.x uses for resource groups
ACCOUNT_API = "2025-06-01"  # ... and for Cognitive Services accounts
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
PROVIDER_KEY = "__provider"
_SEALED = checkpoint.SEAL_KEY
_API_KEYS = "azure-openai:apiKeys"
_UNKNOWN = pulumi.output.Unknown()  # type: ignore[no-untyped-call]  # a value a preview cannot know
# --- state ------------------------------------------------------------------------------------------------


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {_SEALED}


def _seal(value: Any) -> dict[str, str]:
    """What the state keeps of a secret value: its hash, enough to notice a change, useless to a reader."""
    return value if _is_sealed(value) else {_SEALED: _digest(plain(value))}


def _reveal(value: Any) -> tuple[Any, bool]:
    """Strip the SDK's secret wrappers, as the engine does for a provider that does not accept secrets."""
    if rpc.is_rpc_secret(value):
        return _reveal(value["value"])[0], True
    if isinstance(value, dict):
        items = {k: _reveal(v) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, any(s for _, s in items.values())
    if isinstance(value, list):
        pairs = [_reveal(v) for v in value]
        return [v for v, _ in pairs], any(s for _, s in pairs)
    return value, False


@dataclass
class _Res:
    """What the engine keeps of one resource."""

    urn: str
    type: str
    custom: bool
    id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    secret_keys: list[str] = field(default_factory=list)  # top-level properties that are secret
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    pending_delete: bool = False  # the old half of a replacement that a failed run did not delete yet
    custom_timeouts: dict[str, float] = field(default_factory=dict)  # seconds, as the engine stores them
    additional_secret_outputs: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The logical name."""
        return self.urn.rsplit("::", 1)[-1]

    def to_json(self, *, seal: bool = True) -> dict[str, Any]:
        """The state file's record; secret properties are sealed (``__provider`` holds none, by design).

        ``seal=False`` keeps them, for a state whose secrets the passphrase encrypts.
        """
        sealed = set(self.secret_keys) - {PROVIDER_KEY} if seal else set()
        return {
            "urn": self.urn,
            "type": self.type,
            "custom": self.custom,
            "id": self.id,
            "inputs": {k: _seal(v) if k in sealed else v for k, v in self.inputs.items()},
            "outputs": {k: _seal(v) if k in sealed else v for k, v in self.outputs.items()},
            "parent": self.parent,
            "dependencies": self.dependencies,
            "secret_keys": sorted(self.secret_keys),
            "protect": self.protect,
            "retain_on_delete": self.retain_on_delete,
            "delete_before_replace": self.delete_before_replace,
            "pending_delete": self.pending_delete,
            "custom_timeouts": self.custom_timeouts,
            "additional_secret_outputs": self.additional_secret_outputs,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _Res:
        """Read a record back."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def unsealed(self, values: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with each sealed secret replaced by the new value when that value hashes the same."""
        out = dict(values)
        for key in self.secret_keys:
            if _is_sealed(out.get(key)) and key in news and _seal(news[key]) == out[key]:
                out[key] = news[key]
        return out


@dataclass
class _State:
    project: str
    stack: str
    resources: list[_Res] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: list[str] = field(default_factory=list)
    pending_operations: list[dict[str, Any]] = field(default_factory=list)  # {"type": ..., "resource": record}
    # The stack's passphrase crypter: secrets are then encrypted in the state, as the CLI's, instead of sealed.
    crypter: checkpoint.Crypter | None = None

    @classmethod
    def load(cls, path: Path, project: str, stack: str, crypter: checkpoint.Crypter | None = None) -> _State:
        """The stack's state file, in the CLI's deployment format or the harness's older one."""
        try:
            data = checkpoint.load(path, crypter)
        except checkpoint.StateFormatError as exc:
            raise HarnessError(str(exc)) from None
        if data.stack is not None and (data.project, data.stack) != (project, stack):
            raise HarnessError(f"{path} holds the state of {data.project}/{data.stack}, not {project}/{stack}")
        return cls(
            project,
            stack,
            [_Res.from_json(r) for r in data.resources],
            data.outputs,
            data.secret_outputs,
            data.pending_operations,
            crypter,
        )

    def save(self, path: Path) -> None:
        """Write the state as ``pulumi stack export`` would (secrets sealed)."""
        seal = self.crypter is None
        data = checkpoint.StackState(
            self.project,
            self.stack,
            [r.to_json(seal=seal) for r in self.resources],
            {k: _seal(v) if seal and k in self.secret_outputs else v for k, v in self.outputs.items()},
            sorted(self.secret_outputs),
            self.pending_operations,
            secrets_provider=None if self.crypter is None else checkpoint.secrets_provider(self.crypter),
        )
        checkpoint.save(path, data, self.crypter)


# --- the run's context ------------------------------------------------------------------------------------


@dataclass
class _Context:
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


# --- ARM (azure-native resources) ------------------------------------------------------------------------


class _Arm:
    """The package's ARM client (retries, long-running operations), one per api-version; errors as HarnessError."""

    def __init__(self, settings: aoai_config.Settings, auth: Auth | None = None) -> None:
        self.settings = settings
        self.auth = auth  # the deployer's Entra ID credential; else what the stack config says
        self._clients: dict[str, ArmClient] = {}
        self._lock = threading.Lock()

    def _client(self, version: str) -> ArmClient:
        with self._lock:
            return self._make_client(version)

    def _make_client(self, version: str) -> ArmClient:
        if version not in self._clients:
            self._clients[version] = ArmClient(
                self.settings.arm_endpoint,
                self.auth or self.settings.arm_auth(),
                api_version=version,
                # azure-native's provider retries throttling, outages and resets too.
                policy=RetryPolicy(max_attempts=max(self.settings.max_retries, 8)),
                poll_interval=self.settings.poll_interval,
                poll_max=self.settings.poll_max,
            )
        return self._clients[version]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        if isinstance(self.auth, CredentialAuth):
            self.auth.close()  # its token session: no connection left open to the emulator's https server

    def get(self, path: str, version: str) -> dict[str, Any] | None:
        """A resource, or None when it does not exist."""
        try:
            return self._client(version).get(path)
        except NotFoundError:
            return None
        except AzureOpenAIError as exc:
            raise HarnessError(f"ARM GET {path}: {exc}") from None

    def put(self, path: str, version: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create or update, following the long-running operation; the resource as it ends up."""
        try:
            return self._client(version).put(path, body, timeout_s=600)
        except AzureOpenAIError as exc:
            raise HarnessError(f"ARM PUT {path}: {exc}") from None

    def delete(self, path: str, version: str) -> None:
        """Delete and wait until it is gone (already gone is fine)."""
        try:
            self._client(version).delete(path, timeout_s=600)
        except AzureOpenAIError as exc:
            raise HarnessError(f"ARM DELETE {path}: {exc}") from None

    def list_keys(self, account_id: str) -> dict[str, str]:
        """An account's two keys."""
        try:
            body = self._client(ACCOUNT_API).post(account_id, "listKeys")
        except AzureOpenAIError as exc:
            raise HarnessError(f"ARM POST {account_id}/listKeys: {exc}") from None
        return {"key1": body["key1"], "key2": body["key2"]}


class _Diff(NamedTuple):
    op: str  # same | update | replace
    replaces: list[str]
    delete_before_replace: bool
    # The properties the engine knows changed (its own diff, or a detailed one): what replace_on_changes sees.
    changed_keys: tuple[str, ...] = ()


def _changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The top-level properties that differ (unknown counts as changed), as the engine's fallback diff."""
    keys = set(olds) | set(news)
    return sorted(k for k in keys if is_unknown(news.get(k)) or plain(olds.get(k)) != plain(news.get(k)))


def _autoname(logical: str) -> str:
    """azure-native's default: the logical name and a random suffix, chosen once and kept in the inputs."""
    alphabet = string.ascii_lowercase + string.digits
    return logical + "".join(random_source.choice(alphabet) for _ in range(8))


class _AzureNative:
    """Resource groups and Cognitive Services accounts, served by ARM, shaped as pulumi-azure-native outputs."""

    NAME_KEY = {RESOURCE_GROUP: "resourceGroupName", ACCOUNT: "accountName", **extra_types.NAME_KEY}
    REPLACE_ON = {
        RESOURCE_GROUP: ("resourceGroupName", "location"),
        ACCOUNT: ("accountName", "resourceGroupName", "location", "kind"),
        **extra_types.REPLACE_ON,
    }

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx

    def check(self, res: _Res, olds: Mapping[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        if res.type in extra_types.SERVED:
            return extra_types.check(
                res.type, res.name, olds, news, config=self.ctx.config.get, group_location=self._group_location
            )
        checked = dict(news)
        key = self.NAME_KEY[res.type]
        if checked.get(key) is None:
            # Keep the name an earlier run chose, so the resource is not replaced by a new random name.
            checked[key] = olds.get(key) or _autoname(res.name)
        failures: list[tuple[str, str]] = []
        if checked.get("location") is None:
            location = self.ctx.config.get("azure-native:location")
            if location is None and res.type == ACCOUNT:
                location = self._group_location(checked.get("resourceGroupName"))
            if location is not None:
                checked["location"] = location
            elif res.type == RESOURCE_GROUP:
                failures.append(("location", "location is required (or set azure-native:location in stack config)"))
        if res.type == ACCOUNT:
            if checked.get("resourceGroupName") is None:
                failures.append(("resourceGroupName", "resourceGroupName is required"))
            if checked.get("kind") is None:
                failures.append(("kind", "kind is required, e.g. OpenAI"))
            if checked.get("sku") is None:
                failures.append(("sku", "sku is required, e.g. {'name': 'S0'}"))
        if failures:
            raise CheckFailed(failures)
        return checked

    def _group_location(self, group: Any) -> Any:
        if group is None or is_unknown(group):
            return _UNKNOWN if group is not None else None
        found = self.ctx.arm.get(self._group_path(str(group)), RESOURCE_GROUP_API)
        return found.get("location") if found else None

    def diff(self, old: _Res, checked: Mapping[str, Any]) -> _Diff:
        changed = _changed(old.unsealed(old.inputs, checked), checked)
        if not changed:
            return _Diff("same", [], False)
        replaces = [k for k in changed if k in self.REPLACE_ON[old.type]]
        return _Diff("replace" if replaces else "update", replaces, False, tuple(changed))

    def _group_path(self, group: str) -> str:
        return f"/subscriptions/{self.ctx.subscription}/resourceGroups/{group}"

    def _path(self, res_type: str, inputs: Mapping[str, Any]) -> str:
        if res_type in extra_types.TYPES:
            return extra_types.TYPES[res_type].path(self.ctx.subscription, inputs)
        if res_type == RESOURCE_GROUP:
            return self._group_path(inputs["resourceGroupName"])
        return (
            f"{self._group_path(inputs['resourceGroupName'])}/providers/Microsoft.CognitiveServices/accounts/"
            f"{inputs['accountName']}"
        )

    def _body(self, res_type: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        if res_type in extra_types.TYPES:
            return extra_types.TYPES[res_type].body(inputs)
        keys = ("location", "tags", "managedBy") if res_type == RESOURCE_GROUP else ARM_ACCOUNT_BODY
        return extra_types.arm_body({k: plain(inputs[k]) for k in keys if inputs.get(k) is not None})

    def _version(self, res_type: str) -> str:
        if res_type in extra_types.TYPES:
            return extra_types.TYPES[res_type].api_version
        return RESOURCE_GROUP_API if res_type == RESOURCE_GROUP else ACCOUNT_API

    def put(self, res: _Res, checked: Mapping[str, Any], *, create: bool = True) -> tuple[str, dict[str, Any]]:
        if res.type == extra_types.RANDOM_STRING:
            return extra_types.random_put(checked)
        path = self._path(res.type, checked)
        version = self._version(res.type)
        if create and self.ctx.arm.get(path, version) is not None:
            # azure-native refuses to take over what it did not create (and a replacement under the same name).
            raise HarnessError(
                f"{path} already exists: import it, delete it, or give the resource another name "
                "(a replacement under the same name needs delete_before_replace=True)"
            )
        body = self.ctx.arm.put(path, version, self._body(res.type, checked))
        outputs = self.outputs(res.type, body)
        if create and res.type == ACCOUNT and self.ctx.fetch_keys and not extra_types.local_auth_disabled(outputs):
            # The run mutates anyway: take the new account's key now, so the plugin starts with it.
            endpoint = normalize_endpoint(outputs["properties"]["endpoint"])
            self.ctx.remember_key(endpoint, self.ctx.arm.list_keys(body["id"])["key1"])
        return str(body["id"]), outputs

    def read(self, old: _Res) -> tuple[str | None, dict[str, Any]]:
        if old.type == extra_types.RANDOM_STRING:
            return old.id, old.outputs  # nothing remote: the string lives in the state only
        body = self.ctx.arm.get(old.id, self._version(old.type))
        if body is None:
            return None, {}
        return str(body["id"]), self.outputs(old.type, body)

    def delete(self, old: _Res) -> None:
        if old.type != extra_types.RANDOM_STRING:
            self.ctx.arm.delete(old.id, self._version(old.type))

    def outputs(self, res_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The ARM body as the azure-native SDK expects the engine to hand it over (wire names)."""
        if res_type in extra_types.TYPES:
            return extra_types.TYPES[res_type].shape(body)
        keys = GROUP_OUTPUTS if res_type == RESOURCE_GROUP else ACCOUNT_OUTPUTS
        out = {k: body[k] for k in keys if body.get(k) is not None}
        out["azureApiVersion"] = self._version(res_type)
        return out

    def preview(self, res_type: str, checked: Mapping[str, Any], old: _Res | None) -> dict[str, Any]:
        """A preview's outputs: what the inputs say, old outputs where unchanged, the rest unknown."""
        if res_type in extra_types.SERVED:
            return extra_types.preview(res_type, checked, old.outputs if old else None, _UNKNOWN)
        out: dict[str, Any] = dict(old.outputs) if old else {"azureApiVersion": self._version(res_type)}
        out["name"] = checked[self.NAME_KEY[res_type]]
        for key in ("location", "tags", "kind", "sku", "identity", "managedBy"):
            if key in checked:
                out[key] = checked[key]
        if res_type == ACCOUNT and (
            old is None or plain(old.inputs.get("properties")) != plain(checked.get("properties"))
        ):
            # The endpoint and provisioning state are computed: the whole property is unknown until created.
            out["properties"] = _UNKNOWN
        if (
            res_type == ACCOUNT
            and "identity" in checked
            and (old is None or old.inputs.get("identity") != checked["identity"])
        ):
            out["identity"] = _UNKNOWN  # its principalId is made by ARM
        return out


ARM_ACCOUNT_BODY = ("location", "kind", "sku", "tags", "identity", "properties")
GROUP_OUTPUTS = ("location", "managedBy", "name", "properties", "tags", "type")
ACCOUNT_OUTPUTS = ("etag", "identity", "kind", "location", "name", "properties", "sku", "systemData", "tags", "type")


# --- dynamic resources ------------------------------------------------------------------------------------


class _Dynamic:
    """Dynamic resources through one real plugin per command, started when first needed."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.find_account: Callable[[str], _Res | None] = lambda _endpoint: None  # set by the deployment
        self.plugin: DynamicPlugin | None = None
        self.plugin_keys: dict[str, str] = {}
        self.diagnostics: list[str] = []
        self._gate = threading.Condition()  # guards the plugin, its keys and the count of calls in flight
        self._in_flight = 0
        self._learning = threading.Lock()
        self._closed = False  # the command is over: a straggling step must not start a plugin nobody stops

    def close(self) -> None:
        with self._gate:
            self._closed = True
            self._stop()

    def _stop(self) -> None:
        if self.plugin is not None:
            self.diagnostics.append(self.plugin.stderr())
            self.plugin.close()
            self.plugin = None

    def _learn_key(self, endpoint: Any) -> None:
        """Before a call that reaches an account's data plane: list its key if the stack made the account."""
        if not isinstance(endpoint, str) or not self.ctx.fetch_keys:
            return
        key = normalize_endpoint(endpoint)
        with self._learning:  # one listKeys per account, however many steps need it at once
            if key in self.ctx.known_keys() or key in self.ctx.configured_keys:
                return
            account = self.find_account(key)
            if account is not None and not extra_types.local_auth_disabled(account.outputs):
                self.ctx.remember_key(key, self.ctx.arm.list_keys(account.id)["key1"])

    def _call(self, method: str, request: Any, endpoint: Any = None) -> Any:
        """One RPC to the plugin, which is (re)started with every key learnt so far.

        The engine configures a provider once, so a key learnt later needs a fresh plugin; it is started
        once the calls in flight on the old one are done (stopping it would kill them).
        """
        self._learn_key(endpoint)
        with self._gate:
            while True:
                if self._closed:
                    raise HarnessError("the command has ended: no provider call is made after it")
                keys = self.ctx.known_keys()
                if self.plugin is not None and self.plugin_keys == keys:
                    break
                if self._in_flight == 0:
                    self._stop()
                    self._start(keys)
                    break
                self._gate.wait()
            self._in_flight += 1
            plugin = self.plugin
        assert plugin is not None
        try:
            return plugin.call(method, request)
        finally:
            with self._gate:
                self._in_flight -= 1
                self._gate.notify_all()

    def _start(self, keys: dict[str, str]) -> None:
        plugin_config = dict(self.ctx.config)
        secret = set(self.ctx.secret_keys)
        if keys:
            plugin_config[_API_KEYS] = json.dumps({**self.ctx.configured_keys, **keys})
            secret.add(_API_KEYS)
        self.plugin = DynamicPlugin(
            plugin_config,
            secrets=secret,
            project=self.ctx.project.name,
            cwd=self.ctx.project.directory,
            env=self.ctx.entra.plugin_env() if self.ctx.entra else None,
        )
        self.plugin_keys = keys

    def check(self, res: _Res, olds: Mapping[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        response = self._call(
            "Check",
            provider_pb2.CheckRequest(
                urn=res.urn, name=res.name, type=res.type, olds=_to_struct(dict(olds)), news=_to_struct(news)
            ),
        )
        if response.failures:
            raise CheckFailed([(f.property, f.reason) for f in response.failures])
        return _from_struct(response.inputs)

    def diff(self, old: _Res, checked: Mapping[str, Any]) -> _Diff:
        olds = old.unsealed(old.outputs, checked)
        old_inputs = old.unsealed(old.inputs, checked)
        response = self._call(
            "Diff",
            provider_pb2.DiffRequest(
                id=old.id,
                urn=old.urn,
                type=old.type,
                olds=_to_struct(olds),
                old_inputs=_to_struct(old_inputs),
                news=_to_struct(dict(checked)),
            ),
        )
        replaces = list(response.replaces)
        if response.changes == provider_pb2.DiffResponse.DIFF_NONE:
            return _Diff("same", [], False)
        changed: list[str] = []
        if response.changes == provider_pb2.DiffResponse.DIFF_UNKNOWN:
            changed = _changed(old_inputs, checked)  # the engine's fallback: old inputs against new, __provider too
            if not replaces and not changed:
                return _Diff("same", [], False)
        # With DIFF_SOME the Python server sends no changed keys: the engine then knows none.
        op = "replace" if replaces else "update"
        return _Diff(op, replaces, bool(response.deleteBeforeReplace), tuple(changed))

    def put(self, res: _Res, checked: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self._call(
            "Create",
            provider_pb2.CreateRequest(
                urn=res.urn,
                name=res.name,
                type=res.type,
                properties=_to_struct(dict(checked)),
                timeout=res.custom_timeouts.get("create", 0),
            ),
            checked.get("endpoint"),
        )
        return str(response.id), _from_struct(response.properties)

    def update(self, old: _Res, checked: Mapping[str, Any], timeout: float = 0) -> dict[str, Any]:
        response = self._call(
            "Update",
            provider_pb2.UpdateRequest(
                id=old.id,
                urn=old.urn,
                type=old.type,
                olds=_to_struct(old.unsealed(old.outputs, checked)),
                old_inputs=_to_struct(old.unsealed(old.inputs, checked)),
                news=_to_struct(dict(checked)),
                timeout=timeout,
            ),
            checked.get("endpoint"),
        )
        return _from_struct(response.properties)

    def read(self, old: _Res) -> tuple[str | None, dict[str, Any], dict[str, Any] | None]:
        response = self._call(
            "Read",
            provider_pb2.ReadRequest(
                id=old.id,
                urn=old.urn,
                type=old.type,
                properties=_to_struct(old.outputs),
                inputs=_to_struct(old.inputs),
            ),
            old.outputs.get("endpoint", old.inputs.get("endpoint")),
        )
        if not response.id:
            return None, {}, None
        inputs = _from_struct(response.inputs) if response.HasField("inputs") else {}
        return str(response.id), _from_struct(response.properties), inputs or None

    def delete(self, old: _Res) -> None:
        self._call(
            "Delete",
            provider_pb2.DeleteRequest(
                id=old.id,
                urn=old.urn,
                type=old.type,
                properties=_to_struct(old.outputs),
                old_inputs=_to_struct(old.inputs),
                timeout=old.custom_timeouts.get("delete", 0),
            ),
            old.outputs.get("endpoint", old.inputs.get("endpoint")),
        )


# --- the engine -------------------------------------------------------------------------------------------


@dataclass
class _Registration:
    """A ``RegisterResource`` request, as the engine reads it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    additional_secret_outputs: list[str]
    replace_on_changes: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)  # the URNs the resource had before
    custom_timeouts: dict[str, float] = field(default_factory=dict)


def _shown(value: Any, secret: bool) -> str:
    """A property value as printed: JSON, with secrets masked and unknowns named."""
    if secret or _is_sealed(value):
        return REDACTED
    if is_unknown(value):
        return SHOWN_UNKNOWN
    return json.dumps(plain(value), sort_keys=True, default=str)


def _property_changes(
    olds: Mapping[str, Any], news: Mapping[str, Any], secret_keys: AbstractSet[str]
) -> tuple[PropertyChange, ...]:
    """The top-level properties that differ, old and new shown; the pickled ``__provider`` only if alone."""
    keys = _changed(olds, news)
    if keys != [PROVIDER_KEY]:
        keys = [k for k in keys if k != PROVIDER_KEY]
    return tuple(
        PropertyChange(k, "(the pickled provider)", "(another pickled provider)")
        if k == PROVIDER_KEY
        else PropertyChange(
            k,
            _shown(olds[k], k in secret_keys) if k in olds else "",
            _shown(news[k], k in secret_keys) if k in news else "",
        )
        for k in keys
    )


def _dependents(resources: list[_Res]) -> Callable[[int], set[int]]:
    """For deletion: the indexes of the resources that depend on (or are children of) resource ``i``."""

    def of(index: int) -> set[int]:
        urn = resources[index].urn
        return {
            j for j, other in enumerate(resources) if j != index and (urn in other.dependencies or other.parent == urn)
        }

    return of


class _Deployment:
    """One command's run over the stack's state: the steps, the new state, the providers."""

    def __init__(self, ctx: _Context, state: _State, command: str, dynamic: _Dynamic) -> None:
        self.ctx = ctx
        self.command = command
        self.preview = command == "preview"
        self.state = state
        self.old: dict[str, _Res] = {r.urn: r for r in state.resources if not r.pending_delete}
        self.old_index = {id(r): i for i, r in enumerate(state.resources)}
        self.pending = [r for r in state.resources if r.pending_delete]
        self.new: dict[str, _Res] = {}
        self.condemned: list[_Res] = []  # old halves of replacements, deleted at the end
        self.steps: list[ProgramStep] = []
        self.drift: list[str] = []
        self.warnings: list[str] = []
        # Steps run in parallel: the lock guards the records above, never a provider call.
        self.lock = threading.Lock()
        self.started: set[str] = set()
        self.slots = Slots(ctx.parallel)
        self.error: HarnessError | None = None
        self.azure = _AzureNative(ctx)
        self.dynamic = dynamic
        dynamic.find_account = self.find_account
        # The engine journals every provider call that changes something; a preview changes nothing.
        self.journal = Journal(state.pending_operations, None if self.preview else self.save)
        self._save_lock = threading.Lock()
        self._asked = self._written = 0  # save generations: concurrent journal entries share one write
        self._asked_lock = threading.Lock()

    def save(self) -> None:
        """Write the state as it is at this moment of the run (the engine's snapshot after each journal entry).

        Calls that arrive while a write is running are served by the next write, which snapshots after all of
        them: every change made before a call returns is on disk, with one write per batch instead of per call
        (a whole-state write per provider call made a 200-resource first ``up`` quadratic).
        """
        with self._asked_lock:
            self._asked += 1
            asked = self._asked
        with self._save_lock:
            if self._written >= asked:
                return
            with self._asked_lock:
                upto = self._asked
            self._save_snapshot()
            self._written = upto

    def _save_snapshot(self) -> None:
        with self.lock:
            resources = self.new_state() if self.command == "up" else list(self.state.resources)
        snapshot = _State(
            self.state.project,
            self.state.stack,
            resources,
            self.state.outputs,
            self.state.secret_outputs,
            self.journal.operations(),
            self.state.crypter,
        )
        snapshot.save(self.ctx.state_file)

    def find_account(self, endpoint: str) -> _Res | None:
        """The stack's account with this data-plane endpoint (new state first)."""
        with self.lock:
            candidates = [*self.new.values(), *self.old.values()]
        for res in candidates:
            props = res.outputs.get("properties")
            if (
                res.type == ACCOUNT
                and res.id
                and isinstance(props, dict)
                and isinstance(props.get("endpoint"), str)
                and normalize_endpoint(props["endpoint"]) == endpoint
            ):
                return res
        return None

    def _step(
        self,
        urn: str,
        op: str,
        res: _Res | None = None,
        changed: tuple[PropertyChange, ...] = (),
        replaces: tuple[str, ...] = (),
    ) -> None:
        """Record a step as done (and ``res`` in the new state); one at a time, so printed lines stay whole."""
        with self.lock:
            if res is not None:
                self.new[urn] = res
            step = ProgramStep(urn, op, self.preview, changed, replaces)
            self.steps.append(step)
            if self.ctx.on_step is not None:
                self.ctx.on_step(step)
        if not self.preview and op not in ("same", "refresh"):
            self.save()

    def _provider(self, res_type: str) -> _AzureNative | _Dynamic:
        if res_type.startswith(DYNAMIC_PREFIX):
            return self.dynamic
        if res_type in (RESOURCE_GROUP, ACCOUNT) or res_type in extra_types.SERVED:
            return self.azure
        raise HarnessError(
            f"resource type {res_type} is not modelled by this harness: it runs dynamic resources "
            f"({DYNAMIC_PREFIX}/...), {RESOURCE_GROUP} and {ACCOUNT} (against the ARM emulator)"
        )

    # --- up and preview: the program registers resources ----------------------------------------------------

    def register(self, reg: _Registration) -> tuple[str, dict[str, Any]]:
        """Decide and carry out the step for one resource; returns its id and outputs (secrets re-marked)."""
        with self.lock:
            if self.error is not None:  # the engine starts no new step after a failure
                raise HarnessError(f"{reg.urn}: not started, because an earlier step failed")
            duplicate = reg.urn in self.started
            self.started.add(reg.urn)
        try:
            if duplicate:
                raise HarnessError(f"duplicate resource URN {reg.urn}: two resources have the same type and name")
            # Its dependencies' steps are done: the program registers a resource once their outputs resolve.
            with self.slots:
                res, outputs = self._register(reg)
        except Exception as exc:
            failure = _failure(reg.urn, exc)
            with self.lock:
                self.error = self.error or failure
            raise failure from None
        marked = {k: rpc.wrap_rpc_secret(v) if k in res.secret_keys else v for k, v in outputs.items()}
        return res.id, marked

    def _old(self, reg: _Registration) -> _Res | None:
        """The resource's old state: under its URN, or under one of its aliases (then it is renamed, not replaced)."""
        with self.lock:
            if reg.urn in self.old:
                return self.old[reg.urn]
            for alias in reg.aliases:
                if alias in self.old and alias not in self.started:
                    self.started.add(alias)  # no other resource takes it over, and it is not deleted at the end
                    return self.old.pop(alias)
        return None

    def _register(self, reg: _Registration) -> tuple[_Res, dict[str, Any]]:
        old = self._old(reg)
        revealed = {k: _reveal(v) for k, v in reg.inputs.items()}
        inputs = {k: v for k, (v, _) in revealed.items()}
        # The engine re-marks outputs named like a secret input, plus additional_secret_outputs.
        secret_keys = sorted({k for k, (_, s) in revealed.items() if s} | set(reg.additional_secret_outputs))
        res = _Res(
            reg.urn,
            reg.type,
            reg.custom,
            parent=reg.parent,
            dependencies=reg.dependencies,
            secret_keys=secret_keys,
            protect=reg.protect,
            retain_on_delete=reg.retain_on_delete,
            delete_before_replace=reg.delete_before_replace,
            custom_timeouts=reg.custom_timeouts,
            additional_secret_outputs=reg.additional_secret_outputs,
        )
        if not reg.custom:  # a component: recorded, never sent to a provider
            self._step(reg.urn, "same" if old is not None else "create", res)
            return res, {}
        provider = self._provider(reg.type)
        news = {k: v for k, v in inputs.items() if v is not None}
        if old is not None and reg.ignore_changes:  # applied before Check, as the engine does
            try:
                news = apply_ignore_changes(old.inputs, news, reg.ignore_changes)
            except OptionError as exc:
                raise HarnessError(f"{reg.urn}: ignore_changes: {exc}") from None
        olds = old.unsealed(old.inputs, news) if old is not None else {}
        checked = provider.check(res, olds, news)
        if isinstance(provider, _Dynamic):
            self.ctx.guard(reg.urn, checked)
        res.inputs = checked
        if old is None:
            return self._create(res, provider, "create")
        decision = provider.diff(old, checked)
        if decision.op == "update" and reg.replace_on_changes:
            forced = replacing_keys(decision.changed_keys, reg.replace_on_changes)
            if forced:
                decision = decision._replace(op="replace", replaces=forced)
        if decision.op == "replace" and reg.protect and old.protect:
            raise HarnessError(replace_protected_message(reg.urn))
        changed = _property_changes(old.unsealed(old.inputs, checked), checked, {*res.secret_keys, *old.secret_keys})
        if decision.op == "same":
            # A same step records the new inputs and keeps the old id and outputs.
            res.id, res.outputs = old.id, old.unsealed(old.outputs, checked)
            res.secret_keys = sorted(set(res.secret_keys) | set(old.secret_keys))
            self._step(reg.urn, "same", res)
            return res, res.outputs
        if decision.op == "update":
            res.id = old.id
            if self.preview:
                res.outputs = self._preview_outputs(provider, res, old)
            else:
                with self.journal.pending(UPDATING, old.to_json()):
                    if isinstance(provider, _Dynamic):
                        res.outputs = provider.update(old, checked, res.custom_timeouts.get("update", 0))
                    else:
                        res.outputs = provider.put(res, checked, create=False)[1]
            self._step(reg.urn, "update", res, changed)
            return res, res.outputs
        # A replacement is a new resource: Check again without olds, so that auto-names are chosen afresh.
        res.inputs = provider.check(res, {}, news)
        if reg.delete_before_replace or decision.delete_before_replace:
            if not self.preview:
                self._delete(old)
            with self.lock:
                self.old.pop(reg.urn, None)
        else:
            with self.lock:
                self.condemned.append(old)
        return self._create(res, provider, "replace", changed, tuple(decision.replaces))

    def _create(
        self,
        res: _Res,
        provider: _AzureNative | _Dynamic,
        op: str,
        changed: tuple[PropertyChange, ...] = (),
        replaces: tuple[str, ...] = (),
    ) -> tuple[_Res, dict[str, Any]]:
        if self.preview:
            res.outputs = self._preview_outputs(provider, res, None)
        else:
            with self.journal.pending(CREATING, res.to_json()):
                res.id, res.outputs = provider.put(res, res.inputs)
        self._step(res.urn, op, res, changed, replaces)
        return res, res.outputs

    def _preview_outputs(self, provider: _AzureNative | _Dynamic, res: _Res, old: _Res | None) -> dict[str, Any]:
        if isinstance(provider, _AzureNative):
            return provider.preview(res.type, res.inputs, old)
        # The dynamic server does not support preview: the engine takes the checked inputs as the state, and
        # every other output is unknown until the real Create/Update runs.
        if old is None:
            return dict(res.inputs)
        # An update keeps the outputs its provider declares stable (DiffResult.stables), so what depends only on
        # them is not shown replaced; unlike the CLI, which ignores them (see the stables module for the source).
        olds = old.unsealed(old.outputs, res.inputs)
        stables = update_stables(old.id, olds, res.inputs)
        res.secret_keys = sorted(set(res.secret_keys) | (set(old.secret_keys) & stables))
        return preview_update_outputs(res.inputs, olds, stables)

    def _delete(self, res: _Res) -> None:
        if res.protect:
            raise HarnessError(delete_protected_message(res.urn))
        if res.retain_on_delete or not res.custom:
            return
        try:
            provider = self._provider(res.type)
            if isinstance(provider, _Dynamic):
                self.ctx.guard(res.urn, res.inputs, res.outputs)
            with self.journal.pending(DELETING, res.to_json()):
                provider.delete(res)
        except Exception as exc:
            raise _failure(res.urn, exc) from None

    def finish_up(self) -> None:
        """After the program: delete what it no longer declares and the old halves of replacements."""
        gone = [r for urn, r in self.old.items() if urn not in self.new]
        doomed = sorted([*gone, *self.condemned, *self.pending], key=lambda r: self.old_index.get(id(r), -1))
        replaced = {id(r) for r in [*self.condemned, *self.pending]}

        def delete(res: _Res) -> None:
            if not self.preview:
                self._delete(res)
                with self.lock:
                    self.condemned = [r for r in self.condemned if r is not res]
                    self.pending = [r for r in self.pending if r is not res]
                    if id(res) not in replaced:
                        self.old.pop(res.urn, None)
            # The CLI's name for removing the old half of a replacement.
            self._step(res.urn, "delete-replaced" if id(res) in replaced else "delete")

        doomed.reverse()  # dependents were recorded after what they depend on: they start first
        run_graph(doomed, _dependents(doomed), delete, 1 if self.preview else self.ctx.parallel)

    def new_state(self) -> list[_Res]:
        """The resources after an ``up`` (complete or not): registered ones, untouched old ones, pending deletes."""
        kept = [r for urn, r in self.old.items() if urn not in self.new]
        doomed = [*self.condemned, *self.pending]
        for res in doomed:
            res.pending_delete = True
        return [*self.new.values(), *kept, *doomed]

    # --- refresh and destroy: no program ---------------------------------------------------------------

    def refresh(self) -> None:
        """Read every resource: drop the ones that are gone, take the fresh outputs of the others.

        First the pending creates: imported (``--import-pending-creates URN ID``: read by that id into the
        state), cleared (``--clear-pending-creates``), or else kept, as the CLI does without a terminal.
        """
        chosen, unused = self.journal.resolve_creates(
            clear=self.ctx.clear_pending_creates, imports=self.ctx.import_pending_creates
        )
        for urn in unused:
            self.warnings.append(f'"{urn}" did not correspond to a pending create')
        imported = set()
        for record, res_id in chosen:
            # Read with the id and the inputs the pending create recorded (they hold the dynamic __provider).
            res = _Res.from_json({**record, "id": res_id, "outputs": {}})
            self.state.resources.append(res)
            imported.add(res.urn)
        for res in list(self.state.resources):
            if not res.custom or res.pending_delete:
                self._step(res.urn, "refresh")
                continue
            provider = self._provider(res.type)
            try:
                if isinstance(provider, _Dynamic):
                    self.ctx.guard(res.urn, res.inputs, res.outputs)
                    new_id, outputs, inputs = provider.read(res)
                else:
                    (new_id, outputs), inputs = provider.read(res), None
            except Exception as exc:
                raise _failure(res.urn, exc) from None
            if new_id is None:
                self.state.resources.remove(res)
                self._step(res.urn, "refresh-deleted")
                continue
            drift = _property_changes(res.unsealed(res.outputs, outputs), outputs, set(res.secret_keys))
            if drift:
                self.drift.append(res.urn)
            res.id, res.outputs = new_id, outputs
            if inputs is not None:
                res.inputs = inputs
            if res.urn in imported:
                self._step(res.urn, "import")
                continue
            self._step(res.urn, "refresh", changed=drift)

    def destroy(self) -> None:
        """Delete everything, each resource once its dependents are gone, in parallel."""

        def delete(res: _Res) -> None:
            self._delete(res)
            with self.lock:
                self.state.resources = [r for r in self.state.resources if r is not res]
            self._step(res.urn, "delete")

        doomed = list(reversed(self.state.resources))
        run_graph(doomed, _dependents(doomed), delete, self.ctx.parallel)

    # --- invokes and stack references ---------------------------------------------------------------------

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """The provider functions a program may call."""
        if token == GET_CLIENT_CONFIG and self.ctx.entra is not None:
            return self.ctx.entra.client_config(self.ctx.subscription)
        if token == GET_CLIENT_CONFIG:
            zero = DEFAULT_SUBSCRIPTION
            return {
                "clientId": self.ctx.config.get("azure-native:clientId", zero),
                "objectId": self.ctx.config.get("azure-native:objectId", zero),
                "subscriptionId": self.ctx.subscription,
                "tenantId": self.ctx.config.get("azure-native:tenantId", zero),
            }
        if token == LIST_ACCOUNT_KEYS:
            path = (
                f"/subscriptions/{self.ctx.subscription}/resourceGroups/{args['resourceGroupName']}"
                f"/providers/Microsoft.CognitiveServices/accounts/{args['accountName']}"
            )
            return {k: rpc.wrap_rpc_secret(v) for k, v in self.ctx.arm.list_keys(path).items()}
        raise HarnessError(f"the function {token} is not modelled by this harness")

    def stack_reference(self, name: str) -> dict[str, Any]:
        """Another harness stack's outputs, read from its state file."""
        short = name.rsplit("/", 1)[-1]
        path = self.ctx.stack_references.get(name) or self.ctx.stack_references.get(short)
        path = path or self.ctx.state_file.parent / f"{short}.json"
        if not path.is_file():
            raise HarnessError(
                f"StackReference {name!r}: no state file {path}; pass stack_references={{{name!r}: PATH}} "
                f"(--stack-ref {name}=PATH)"
            )
        try:
            data = checkpoint.load(path, self.ctx.project.crypter(short))
        except (checkpoint.StateFormatError, StackConfigError) as exc:
            raise HarnessError(f"StackReference {name!r}: {exc}") from None
        secret = set(data.secret_outputs)
        outputs = {k: rpc.wrap_rpc_secret(v) if k in secret else v for k, v in data.outputs.items()}
        return {"name": name, "outputs": outputs, "secretOutputNames": sorted(secret)}


def _event_loop() -> asyncio.AbstractEventLoop:
    """The current thread's event loop (made if missing): the runtime's own, in the main thread."""
    loop: asyncio.AbstractEventLoop = _ensure_event_loop()  # type: ignore[no-untyped-call]
    return loop


@contextmanager
def _thread_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop for one monitor call in a registration thread, closed after it (the thread ends later)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _quiet_reported_failures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Drop asyncio's "exception was never retrieved" for a step failure run_program already raised.

    A failed step fails the outputs of the resource and of its dependents; nobody awaits most of them.
    """
    if not isinstance(context.get("exception"), HarnessError):
        loop.default_exception_handler(context)


def _failure(urn: str, exc: Exception) -> HarnessError:
    """The CLI's wording: which resource, which call, why."""
    if isinstance(exc, HarnessError) and str(exc).startswith(urn):
        return exc
    if isinstance(exc, CheckFailed):
        reasons = "\n".join(f"    {p}: {r}" for p, r in exc.failures)
        return HarnessError(f"{urn}: the inputs failed Check:\n{reasons}")
    if isinstance(exc, ProviderError):
        return HarnessError(f"{urn}: {exc.method} failed:\n{exc.details.strip()}")
    if isinstance(exc, HarnessError):
        return HarnessError(f"{urn}: {exc}")
    return HarnessError(f"{urn}: {type(exc).__name__}: {exc}")


# --- the program under mocks -------------------------------------------------------------------------------


class _Mocks(Mocks):
    """Invokes go to the deployment; resources never come here (the monitor handles them)."""

    def __init__(self, deployment: _Deployment) -> None:
        self.deployment = deployment

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """Answer a provider function."""
        return self.deployment.invoke(args.token, args.args), []  # the SDK's mock monitor iterates the failures

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Unused: the monitor registers resources itself, with what the mock arguments leave out."""
        raise HarnessError(f"unexpected registration of {args.typ} {args.name}")


class _Monitor(MockMonitor):
    """The engine's resource monitor: engine URNs, dependencies and options, real steps instead of echoes."""

    def __init__(self, mocks: _Mocks, deployment: _Deployment) -> None:
        super().__init__(mocks)
        self.deployment = deployment

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The engine's rule: a parent's qualified type prefixes the type, except the root stack's."""
        if parent and parent.split("::")[2] != STACK_TYPE:
            type_ = parent.split("::")[2] + "$" + type_
        return f"urn:pulumi:{self.deployment.ctx.stack}::{self.deployment.ctx.project.name}::{type_}::{name}"

    def alias_urn(self, parent: str, type_: str, name: str, stack: str, project: str) -> str:
        """The URN an alias names: the engine's rule, in the alias's stack and project."""
        urn = self.make_urn(parent, type_, name)
        return f"urn:pulumi:{stack}::{project}::" + urn.split("::", 2)[2]

    def _timeouts(self, request: Any, urn: str) -> dict[str, float]:
        try:
            return custom_timeouts(request, urn)
        except OptionError as exc:
            failure = HarnessError(str(exc))
            with self.deployment.lock:  # a failed step: the engine starts no other
                self.deployment.error = self.deployment.error or failure
            raise failure from None

    def Invoke(self, request: Any) -> Any:
        """Answer a provider function; off the main thread in a loop of its own, closed after (as registrations)."""
        if threading.current_thread() is threading.main_thread():
            return super().Invoke(request)  # type: ignore[no-untyped-call]
        with _thread_loop():  # the SDK runs invokes in executor threads, which have no loop of their own
            return super().Invoke(request)  # type: ignore[no-untyped-call]

    def RegisterResource(self, request: Any) -> Any:
        """Register one resource: plan and run its step."""
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        with _thread_loop() as loop:
            return self._register(urn, request, loop)

    def _register(self, urn: str, request: Any, loop: asyncio.AbstractEventLoop) -> Any:
        if request.importId:
            raise HarnessError(f"{urn}: import (ResourceOptions(import_=...)) is not modelled by this harness")
        deps = set(request.dependencies)
        for prop in request.propertyDependencies.values():
            deps.update(prop.urns)
        reg = _Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=bool(request.custom),
            inputs=dict(rpc.deserialize_properties(request.object, keep_unknowns=True)),
            dependencies=sorted(deps),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
            ignore_changes=list(request.ignoreChanges),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            replace_on_changes=list(request.replaceOnChanges),
            aliases=alias_urns(request, self.deployment.ctx.stack, self.deployment.ctx.project.name, self.alias_urn),
            custom_timeouts=self._timeouts(request, urn),
        )
        id_, outputs = self.deployment.register(reg)
        obj = loop.run_until_complete(rpc.serialize_properties(outputs, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, outputs)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)

    def ReadResource(self, request: Any) -> Any:
        """Only stack references are read; other reads of existing resources are not modelled."""
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type != STACK_REFERENCE:
            raise HarnessError(
                f"{urn}: reading an existing resource (ResourceOptions(id=...) or .get()) is not modelled"
            )
        with self.deployment.lock:
            props = self.deployment.stack_reference(request.id or request.name)
        with _thread_loop() as loop:
            obj = loop.run_until_complete(rpc.serialize_properties(props, {}))
        return resource_pb2.ReadResourceResponse(urn=urn, properties=obj)


async def _resolve_outputs(outputs: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for name, value in outputs.items():
        out = pulumi.Output.from_input(massage(value, []))
        resolved = await out.future(with_unknowns=True)
        values[name] = plain(resolved) if await out.is_known() else PREVIEW_UNKNOWN
        if await out.is_secret():
            secret.add(name)
    return values, secret


def _run(ctx: _Context, deployment: _Deployment, preview: bool) -> tuple[dict[str, Any], set[str]]:
    """Run the program once under the harness's monitor; returns the stack outputs and which are secret."""
    runtime_settings.ROOT.set(None)  # set_mocks then makes a fresh root stack for this run
    loop = _event_loop()
    loop.set_exception_handler(_quiet_reported_failures)
    # The SDK sends each registration from the loop's default executor: one thread per ready step.
    threads = registration_threads()
    loop.set_default_executor(threads)
    mocks = _Mocks(deployment)
    pulumi.runtime.set_mocks(
        mocks, project=ctx.project.name, stack=ctx.stack, preview=preview, monitor=_Monitor(mocks, deployment)
    )
    runtime_settings.SETTINGS.outputs.clear()
    pulumi.runtime.set_all_config(dict(ctx.config), sorted(ctx.secret_keys))
    root = runtime_settings.get_root_resource()

    def program() -> None:
        runpy.run_path(str(ctx.project.main), run_name="__main__")

    program_dir = str(ctx.project.main.parent)
    modules_before = set(sys.modules)
    cwd = os.getcwd()
    os.chdir(ctx.project.directory)  # the CLI runs the program (and the plugin) in the project directory
    sys.path.insert(0, program_dir)
    try:
        # _sync_await drives the runtime's own loop: asyncio.run would leave the main thread without one.
        _sync_await(run_pulumi_func(program))
        return _sync_await(_resolve_outputs(getattr(root, "outputs", {}) or {}))
    finally:
        threads.shutdown(wait=True)  # as the engine, wait for the steps in flight
        os.chdir(cwd)
        if program_dir in sys.path:
            sys.path.remove(program_dir)
        for name in set(sys.modules) - modules_before:  # the next program may have modules of the same name
            file = getattr(sys.modules[name], "__file__", None) or ""
            if file.startswith(program_dir + os.sep):
                del sys.modules[name]
        pulumi.runtime.set_all_config({}, [])


def run_program(
    command: str,
    program_dir: str | os.PathLike[str],
    state_file: str | os.PathLike[str],
    *,
    config: Mapping[str, str] | None = None,
    secrets: AbstractSet[str] | Mapping[str, str] | None = None,
    stack: str = "dev",
    stack_references: Mapping[str, str | os.PathLike[str]] | None = None,
    keys_from_arm: bool = True,
    on_step: Callable[[ProgramStep], None] | None = None,
    allow_azure: bool = False,
    emulator: bool = False,
    skip_preview: bool = False,
    parallel: int | None = None,
    clear_pending_creates: bool = False,
    import_pending_creates: Mapping[str, str] | None = None,
    skip_pending_creates: bool = False,
    entra: EntraLogin | None = None,
) -> ProgramResult:
    """Run ``up``, ``preview``, ``refresh`` or ``destroy`` of a Python Pulumi program; raise :class:`HarnessError`.

    ``config`` is the stack config (``pulumi config set``); ``secrets`` names the keys of ``config`` that are
    secret, or maps secret keys to their values (``pulumi config set --secret``). Bare keys belong to the
    project's namespace. ``Pulumi.<stack>.yaml`` in the project supplies plain values underneath.

    Only endpoints on this machine are called unless ``allow_azure``; ``emulator`` serves the run from a
    private emulator whose state is kept beside the state file (``<state>.emulator/``). ``up`` previews the
    program first unless ``skip_preview``; ``parallel`` caps the steps in flight (default: no cap).

    ``refresh`` resolves the pending creates an interrupted run left, as the CLI's flags do:
    ``clear_pending_creates`` drops them, ``import_pending_creates`` ({URN: id}) reads those into the state,
    ``skip_pending_creates`` keeps them (as any non-interactive refresh does).
    """
    if command not in COMMANDS:
        raise HarnessError(f"unknown command {command!r}; use one of {', '.join(COMMANDS)}")
    if skip_pending_creates and clear_pending_creates:
        raise HarnessError("cannot set both --skip-pending-creates and --clear-pending-creates")
    if command != "refresh" and (clear_pending_creates or import_pending_creates):
        raise HarnessError("--clear-pending-creates and --import-pending-creates are options of refresh")
    with ExitStack() as served:
        if emulator:
            directory = Path(f"{Path(state_file).resolve()}.emulator")
            try:
                url, private = served.enter_context(served_private_emulator(directory))
            except OSError as exc:
                raise HarnessError(str(exc)) from None
            # The deployer signs in to the emulator's Entra ID; ARM and keyless accounts then check its roles.
            subscription = stack_subscription(program_dir, stack, config)
            entra = private_login(directory, url, private, subscription)
            config, secrets = _emulator_config(url, config, secrets, arm_token=False)
        return _run_command(
            command,
            program_dir,
            state_file,
            config=config,
            secrets=secrets,
            stack=stack,
            stack_references=stack_references,
            keys_from_arm=keys_from_arm,
            on_step=on_step,
            allow_azure=allow_azure,
            emulator=emulator,
            skip_preview=skip_preview,
            parallel=parallel,
            pending_creates=(clear_pending_creates, dict(import_pending_creates or {})),
            entra=entra,
        )


def _emulator_config(
    url: str,
    config: Mapping[str, str] | None,
    secrets: AbstractSet[str] | Mapping[str, str] | None,
    *,
    arm_token: bool = True,
) -> tuple[dict[str, str], dict[str, str]]:
    """The stack config pointed at a private emulator: its ARM, a token it accepts, quick polling.

    Keys configured for real accounts are dropped: the harness lists the emulator's through its ARM.
    """
    dropped = ("azure-openai:apiKey", "azure-openai:apiKeys", "azure-openai:armToken")
    values = {**FAST_POLLING, **{k: v for k, v in (config or {}).items() if k not in dropped}, ARM_ENDPOINT_KEY: url}
    if isinstance(secrets, Mapping):
        secret_values = {k: str(v) for k, v in secrets.items()}
    else:
        secret_values = {k: values.pop(k) for k in secrets or () if k in values}
    secret_values = {k: v for k, v in secret_values.items() if k not in dropped}
    return values, {**secret_values, "azure-openai:armToken": ARM_TOKEN} if arm_token else secret_values


def _run_command(
    command: str,
    program_dir: str | os.PathLike[str],
    state_file: str | os.PathLike[str],
    *,
    config: Mapping[str, str] | None,
    secrets: AbstractSet[str] | Mapping[str, str] | None,
    stack: str,
    stack_references: Mapping[str, str | os.PathLike[str]] | None,
    keys_from_arm: bool,
    on_step: Callable[[ProgramStep], None] | None,
    allow_azure: bool,
    emulator: bool,
    skip_preview: bool,
    parallel: int | None,
    pending_creates: tuple[bool, dict[str, str]] = (False, {}),
    entra: EntraLogin | None = None,
) -> ProgramResult:
    if parallel is not None and parallel < 1:
        raise HarnessError(f"parallel must be at least 1 (or None: no limit), not {parallel}")
    project = Project.load(program_dir)
    file_config, secure = project.stack_config(stack)
    values = {**file_config, **{project.qualify(k): str(v) for k, v in (config or {}).items()}}
    secret_keys = set()
    if isinstance(secrets, Mapping):
        values.update({project.qualify(k): str(v) for k, v in secrets.items()})
        secret_keys = {project.qualify(k) for k in secrets}
    elif secrets is not None:
        secret_keys = {project.qualify(k) for k in secrets}
    missing = sorted(secure - set(values))
    if missing:
        raise HarnessError(
            f"Pulumi.{stack}.yaml has encrypted values for {', '.join(missing)}: set PULUMI_CONFIG_PASSPHRASE "
            "(or PULUMI_CONFIG_PASSPHRASE_FILE) to the stack's passphrase, or pass them as secrets (--secret KEY=VALUE)"
        )
    state_path = Path(state_file).resolve()
    try:
        crypter = project.crypter(stack)
    except StackConfigError as exc:
        raise HarnessError(str(exc)) from None
    ctx = _Context(
        project,
        stack,
        state_path,
        values,
        secret_keys | (secure & set(values)),
        {k: Path(v).resolve() for k, v in (stack_references or {}).items()},
        keys_from_arm,
        on_step,
        allow_azure,
        emulator,
        parallel,
        crypter,
        *pending_creates,
        entra,
    )
    if not allow_azure:
        configured = bool(values.get(ARM_ENDPOINT_KEY) or os.environ.get("AZURE_OPENAI_ARM_ENDPOINT"))
        try:
            require_loopback_arm(ctx.settings.arm_endpoint, configured)
        except NotLoopbackError as exc:
            raise HarnessError(str(exc)) from None
    dynamic = _Dynamic(ctx)  # one plugin for the whole command, preview and update alike
    try:
        return _execute(ctx, command, dynamic, skip_preview)
    finally:
        dynamic.close()
        ctx.close()


def _program(ctx: _Context, deployment: _Deployment) -> tuple[dict[str, Any], set[str]]:
    """Run the program under ``deployment``, then delete what it left out; the stack outputs."""
    try:
        outputs = _run(ctx, deployment, preview=deployment.preview)
    except Exception as exc:
        if deployment.error is not None:
            raise deployment.error from None
        if isinstance(exc, HarnessError):
            raise
        raise HarnessError(f"the program failed: {type(exc).__name__}: {exc}") from exc
    deployment.finish_up()
    return outputs


def _execute(ctx: _Context, command: str, dynamic: _Dynamic, skip_preview: bool) -> ProgramResult:
    """One command over the stack's state file."""
    state_path = ctx.state_file
    planned: list[ProgramStep] = []
    if command == "up" and not skip_preview:
        # The CLI's `up` previews the whole program first: a failed Check anywhere stops it before any change.
        plan = _Deployment(ctx, _State.load(state_path, ctx.project.name, ctx.stack, ctx.crypter), "preview", dynamic)
        _program(ctx, plan)
        planned = plan.steps
    state = _State.load(state_path, ctx.project.name, ctx.stack, ctx.crypter)
    deployment = _Deployment(ctx, state, command, dynamic)
    if command != "refresh":  # refresh is where they are resolved
        warning = pending_warning(state.pending_operations)
        if warning is not None:
            deployment.warnings.append(warning)
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    if command in ("up", "preview"):
        try:
            outputs, secret_outputs = _program(ctx, deployment)
            if command == "up":
                state.outputs, state.secret_outputs = outputs, sorted(secret_outputs)
        finally:
            if command == "up":  # the engine saves what it did, even when a step failed
                state.resources = deployment.new_state()
                state.pending_operations = deployment.journal.operations()
                state.save(state_path)
    elif command == "refresh":
        try:
            deployment.refresh()
        finally:
            state.pending_operations = deployment.journal.operations()
            state.save(state_path)
        secret_outputs = set(state.secret_outputs)
        outputs = {k: REDACTED if k in secret_outputs else v for k, v in state.outputs.items()}
    else:
        try:
            deployment.destroy()
            state.outputs, state.secret_outputs = {}, []
        finally:
            state.pending_operations = deployment.journal.operations()
            state.save(state_path)
    diagnostics = "".join(dynamic.diagnostics) + (dynamic.plugin.stderr() if dynamic.plugin else "")
    result = ProgramResult(
        command, ctx.stack, deployment.steps, outputs, secret_outputs, deployment.drift, diagnostics, planned
    )
    result.warnings = deployment.warnings
    result.pending_operations = [(op["type"], op["resource"]["urn"]) for op in state.pending_operations]
    return result


if __name__ == "__main__":
    # The imported modules' classes, not a second copy of this module's: errors must be recognised as theirs.
    from pulumi_aoai_finetuning.testing.command_line import main

    sys.exit(main())
