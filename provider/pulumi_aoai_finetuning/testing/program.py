"""Run a Pulumi program directory as ``up``, ``preview``, ``refresh`` or ``destroy`` without the Pulumi CLI.

The program (a directory with ``Pulumi.yaml``, ``runtime: python``, and its ``__main__.py``) runs in-process
under :func:`pulumi.runtime.set_mocks`, with a mock *monitor* that plays the engine's part instead of
echoing inputs (``reference/pulumi-dynamic.md`` §3(b)+(c)):

* dynamic resources (``pulumi-python:dynamic/...``) go to the SDK's real dynamic-provider server
  (``python -m pulumi.dynamic``, :class:`~pulumi_aoai_finetuning.testing.engine.DynamicPlugin`), configured
  with the stack config as the engine sends it, and are driven as the engine drives them: Check, then
  Create; or Diff, then nothing (a *same* step keeps the old outputs), Update, or a replacement
  (create-before-delete unless asked otherwise); secrets stripped before sending and re-marked by key;
* ``azure-native:resources:ResourceGroup`` and ``azure-native:cognitiveservices:Account`` are served over HTTP
  by the ARM endpoint in ``azure-openai:armEndpoint`` (the emulator's), with the outputs the azure-native
  SDK expects, auto-naming included; ``azure-native:authorization:getClientConfig`` and
  ``azure-native:cognitiveservices:listAccountKeys`` are answered too;
* resources left out of the program are deleted at the end of ``up`` (in reverse order); ``preview`` runs
  Check and Diff only; ``refresh`` reads every resource; ``destroy`` deletes everything in reverse order;
* the state (ids, inputs, outputs, dependencies, stack outputs) lives in a JSON file between commands.
  Secret values never reach it in plaintext: a secret property is kept as its SHA-256 only.

Data-plane credentials. A real stack that creates its own account authenticates the providers with
Microsoft Entra ID, or with a key the user stored by ``pulumi config set --secret azure-openai:apiKey``.
The emulator has no Entra ID, so, when the stack config gives no ``azure-openai:apiKey``/``apiKeys`` (and
``AZURE_OPENAI_API_KEY`` is unset), the harness stands in for it: it lists the keys of the accounts in the
stack through ARM ``listKeys`` - right after creating one, or when a provider is about to call the data
plane - and hands them to the plugin as the secret ``azure-openai:apiKeys``. A no-op ``up`` or a ``preview``
therefore calls nothing. Pass ``keys_from_arm=False`` (``--no-arm-keys``) to turn this off.

Not modelled: parallel steps, aliases, ``replace_on_changes``, imports and ``.get()`` reads of existing
resources, nested paths in ``ignore_changes``, pending operations of interrupted runs, and any resource type
other than the ones above (they fail naming the type).

CLI: ``python -m pulumi_aoai_finetuning.testing.program up PROGRAM_DIR --state FILE --stack NAME
--config k=v --secret k=v [--stack-ref NAME=STATE_FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import runpy
import secrets as random_source
import string
import sys
import threading
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pulumi
import yaml  # type: ignore[import-untyped]
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.proto import provider_pb2, resource_pb2
from pulumi.runtime.stack import massage, run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from .. import config as aoai_config
from ..client.arm import ArmClient
from ..client.dataplane import normalize_endpoint
from ..client.errors import AzureOpenAIError, NotFoundError
from ..client.retry import RetryPolicy
from ..inputs import is_unknown, plain
from .engine import CheckFailed, DynamicPlugin, ProviderError
from .engine import from_struct as _from_struct
from .engine import to_struct as _to_struct

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
PREVIEW_UNKNOWN = "[unknown]"  # a stack output that a preview cannot know yet
REDACTED = "[secret]"  # a secret stack output read back from the state, which keeps only its hash
STATE_VERSION = 1
PROVIDER_KEY = "__provider"
_SEALED = "[secret sha256]"
_API_KEYS = "azure-openai:apiKeys"
_UNKNOWN = pulumi.output.Unknown()  # type: ignore[no-untyped-call]  # a value a preview cannot know
_SYMBOLS = {
    "create": "+",
    "same": " ",
    "update": "~",
    "replace": "+-",
    "delete": "-",
    "delete-replaced": "-",
    "refresh": "~",
    "refresh-deleted": "-",
}


class HarnessError(Exception):
    """A command failed; the message names the resource and the cause, as the CLI would print it."""


class ProgramStep(NamedTuple):
    """What a command did (or, in a preview, would do) to one resource.

    ``op`` is one of create, same, update, replace, delete, delete-replaced (the old half of a replacement,
    removed at the end), refresh, refresh-deleted.
    """

    urn: str
    op: str

    @property
    def name(self) -> str:
        """The resource's logical name."""
        return self.urn.rsplit("::", 1)[-1]

    @property
    def type(self) -> str:
        """The resource's type token."""
        return self.urn.split("::")[2].rsplit("$", 1)[-1]


@dataclass
class ProgramResult:
    """What one command did: its steps, the stack outputs, and the plugin's diagnostics.

    ``outputs`` are the program's exports after ``up`` and ``preview`` (:data:`PREVIEW_UNKNOWN` where a preview
    cannot know them), the stored ones after ``refresh`` (:data:`REDACTED` for secrets), none after
    ``destroy``.
    """

    command: str
    stack: str
    steps: list[ProgramStep]
    outputs: dict[str, Any]
    secret_outputs: set[str] = field(default_factory=set)
    drift: list[str] = field(default_factory=list)  # refresh: URNs whose outputs changed
    diagnostics: str = ""  # what the dynamic-provider plugin printed (the CLI shows it as diagnostics)

    def ops(self) -> dict[str, str]:
        """The op of each resource by logical name (a replacement's ``delete-replaced`` left out)."""
        return {step.name: step.op for step in self.steps if step.op != "delete-replaced"}

    def changes(self) -> list[ProgramStep]:
        """The steps that change something (or would, in a preview)."""
        return [step for step in self.steps if step.op not in ("same", "refresh")]


# --- project and config ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory: its name, its program's entry point, its stack config files."""

    directory: Path
    name: str
    main: Path

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Project:
        """Read ``Pulumi.yaml``; only Python programs can run here."""
        root = Path(directory).resolve()
        spec_file = root / "Pulumi.yaml"
        if not spec_file.is_file():
            raise HarnessError(f"{root}: no Pulumi.yaml (a project directory, as `pulumi new python` makes, is needed)")
        try:
            spec = yaml.safe_load(spec_file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise HarnessError(f"{spec_file}: not valid YAML: {exc}") from None
        runtime = spec.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
        if runtime_name != "python":
            raise HarnessError(f"{spec_file}: runtime is {runtime_name!r}; this harness runs Python programs only")
        if not isinstance(spec.get("name"), str) or not spec["name"]:
            raise HarnessError(f"{spec_file}: the project needs a name")
        main = root / str(spec.get("main") or ".")
        if main.is_dir():
            main = main / "__main__.py"
        if not main.is_file():
            raise HarnessError(f"{spec_file}: the program's entry point {main} does not exist")
        return cls(root, spec["name"], main)

    def qualify(self, key: str) -> str:
        """A config key as the engine names it: bare keys belong to the project's namespace."""
        return key if ":" in key else f"{self.name}:{key}"

    def stack_config(self, stack: str) -> tuple[dict[str, str], set[str]]:
        """Plain values of ``Pulumi.<stack>.yaml``; encrypted (``secure:``) values need the CLI."""
        path = self.directory / f"Pulumi.{stack}.yaml"
        if not path.is_file():
            return {}, set()
        values: dict[str, str] = {}
        secure: set[str] = set()
        for key, value in ((yaml.safe_load(path.read_text()) or {}).get("config") or {}).items():
            name = self.qualify(str(key))
            if isinstance(value, dict) and "secure" in value:
                secure.add(name)
            elif isinstance(value, str):
                values[name] = value
            else:
                values[name] = json.dumps(value)  # the engine hands structured config over as JSON text
        return values, secure


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

    @property
    def name(self) -> str:
        """The logical name."""
        return self.urn.rsplit("::", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        """The state file's record; secret properties are sealed (``__provider`` holds none, by design)."""
        sealed = set(self.secret_keys) - {PROVIDER_KEY}
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

    @classmethod
    def load(cls, path: Path, project: str, stack: str) -> _State:
        if not path.is_file():
            return cls(project, stack)
        data = json.loads(path.read_text())
        if data.get("stack") != stack or data.get("project") != project:
            raise HarnessError(
                f"{path} holds the state of {data.get('project')}/{data.get('stack')}, not {project}/{stack}"
            )
        return cls(
            project,
            stack,
            [_Res.from_json(r) for r in data.get("resources", [])],
            dict(data.get("outputs") or {}),
            list(data.get("secret_outputs") or []),
        )

    def save(self, path: Path) -> None:
        data = {
            "version": STATE_VERSION,
            "project": self.project,
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "outputs": {k: _seal(v) if k in self.secret_outputs else v for k, v in self.outputs.items()},
            "secret_outputs": sorted(self.secret_outputs),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
        os.replace(tmp, path)  # a crash never leaves half a state file


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

    def __post_init__(self) -> None:
        try:
            self.settings = aoai_config.resolve(self.config.get)
        except aoai_config.ConfigError as exc:
            raise HarnessError(f"stack config: {exc}") from None
        self.subscription = self.config.get("azure-native:subscriptionId") or DEFAULT_SUBSCRIPTION
        # Stand in for Entra ID only where a real stack would need it: no key configured anywhere.
        self.fetch_keys = (
            self.keys_from_arm
            and not self.config.get("azure-openai:apiKey")
            and not os.environ.get("AZURE_OPENAI_API_KEY")
        )
        try:
            configured = json.loads(self.config.get(_API_KEYS) or "{}")
        except ValueError:
            configured = {}
        # Keys the user configured for some accounts; the stack's own new accounts still need theirs listed.
        self.configured_keys = {normalize_endpoint(k): str(v) for k, v in configured.items()}
        self.keys: dict[str, str] = {}  # endpoint -> key, in memory only
        self._arm: _Arm | None = None

    @property
    def arm(self) -> _Arm:
        if self._arm is None:
            self._arm = _Arm(self.settings)
        return self._arm

    def close(self) -> None:
        if self._arm is not None:
            self._arm.close()


# --- ARM (azure-native resources) ------------------------------------------------------------------------


class _Arm:
    """The package's ARM client (retries, long-running operations), one per api-version; errors as HarnessError."""

    def __init__(self, settings: aoai_config.Settings) -> None:
        self.settings = settings
        self._clients: dict[str, ArmClient] = {}

    def _client(self, version: str) -> ArmClient:
        if version not in self._clients:
            self._clients[version] = ArmClient(
                self.settings.arm_endpoint,
                self.settings.arm_auth(),
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

    NAME_KEY = {RESOURCE_GROUP: "resourceGroupName", ACCOUNT: "accountName"}
    REPLACE_ON = {
        RESOURCE_GROUP: ("resourceGroupName", "location"),
        ACCOUNT: ("accountName", "resourceGroupName", "location", "kind"),
    }

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx

    def check(self, res: _Res, olds: Mapping[str, Any], news: dict[str, Any]) -> dict[str, Any]:
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
        return _Diff("replace" if replaces else "update", replaces, False)

    def _group_path(self, group: str) -> str:
        return f"/subscriptions/{self.ctx.subscription}/resourceGroups/{group}"

    def _path(self, res_type: str, inputs: Mapping[str, Any]) -> str:
        if res_type == RESOURCE_GROUP:
            return self._group_path(inputs["resourceGroupName"])
        return (
            f"{self._group_path(inputs['resourceGroupName'])}/providers/Microsoft.CognitiveServices/accounts/"
            f"{inputs['accountName']}"
        )

    def _body(self, res_type: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        keys = ("location", "tags", "managedBy") if res_type == RESOURCE_GROUP else ARM_ACCOUNT_BODY
        return {k: plain(inputs[k]) for k in keys if inputs.get(k) is not None}

    def _version(self, res_type: str) -> str:
        return RESOURCE_GROUP_API if res_type == RESOURCE_GROUP else ACCOUNT_API

    def put(self, res: _Res, checked: Mapping[str, Any], *, create: bool = True) -> tuple[str, dict[str, Any]]:
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
        if create and res.type == ACCOUNT and self.ctx.fetch_keys:
            # The run mutates anyway: take the new account's key now, so the plugin starts with it.
            endpoint = normalize_endpoint(outputs["properties"]["endpoint"])
            self.ctx.keys[endpoint] = self.ctx.arm.list_keys(body["id"])["key1"]
        return str(body["id"]), outputs

    def read(self, old: _Res) -> tuple[str | None, dict[str, Any]]:
        body = self.ctx.arm.get(old.id, self._version(old.type))
        if body is None:
            return None, {}
        return str(body["id"]), self.outputs(old.type, body)

    def delete(self, old: _Res) -> None:
        self.ctx.arm.delete(old.id, self._version(old.type))

    def outputs(self, res_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The ARM body as the azure-native SDK expects the engine to hand it over (wire names)."""
        keys = GROUP_OUTPUTS if res_type == RESOURCE_GROUP else ACCOUNT_OUTPUTS
        out = {k: body[k] for k in keys if body.get(k) is not None}
        out["azureApiVersion"] = self._version(res_type)
        return out

    def preview(self, res_type: str, checked: Mapping[str, Any], old: _Res | None) -> dict[str, Any]:
        """A preview's outputs: what the inputs say, old outputs where unchanged, the rest unknown."""
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
        return out


ARM_ACCOUNT_BODY = ("location", "kind", "sku", "tags", "identity", "properties")
GROUP_OUTPUTS = ("location", "managedBy", "name", "properties", "tags", "type")
ACCOUNT_OUTPUTS = ("etag", "identity", "kind", "location", "name", "properties", "sku", "systemData", "tags", "type")


# --- dynamic resources ------------------------------------------------------------------------------------


class _Dynamic:
    """Dynamic resources through one real plugin per command, started when first needed."""

    def __init__(self, ctx: _Context, find_account: Callable[[str], _Res | None]) -> None:
        self.ctx = ctx
        self.find_account = find_account
        self.plugin: DynamicPlugin | None = None
        self.plugin_keys: dict[str, str] = {}
        self.diagnostics: list[str] = []

    def close(self) -> None:
        if self.plugin is not None:
            self.diagnostics.append(self.plugin.stderr())
            self.plugin.close()
            self.plugin = None

    def _plugin(self, endpoint: Any = None) -> DynamicPlugin:
        """The plugin; ``endpoint`` set when the call reaches the data plane and needs its credentials."""
        if isinstance(endpoint, str) and self.ctx.fetch_keys:
            key = normalize_endpoint(endpoint)
            known = key in self.ctx.keys or key in self.ctx.configured_keys
            account = self.find_account(key) if not known else None
            if account is not None:
                self.ctx.keys[key] = self.ctx.arm.list_keys(account.id)["key1"]
        if self.plugin is not None and self.plugin_keys != self.ctx.keys:
            # The engine configures a provider once; a key learnt later needs a fresh plugin.
            self.close()
        if self.plugin is None:
            plugin_config = dict(self.ctx.config)
            secret = set(self.ctx.secret_keys)
            if self.ctx.keys:
                plugin_config[_API_KEYS] = json.dumps({**self.ctx.configured_keys, **self.ctx.keys})
                secret.add(_API_KEYS)
            self.plugin = DynamicPlugin(
                plugin_config, secrets=secret, project=self.ctx.project.name, cwd=self.ctx.project.directory
            )
            self.plugin_keys = dict(self.ctx.keys)
        return self.plugin

    def check(self, res: _Res, olds: Mapping[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        response = self._plugin().call(
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
        response = self._plugin().call(
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
        if (
            response.changes == provider_pb2.DiffResponse.DIFF_UNKNOWN
            and not replaces
            and not _changed(old_inputs, checked)  # the engine's fallback: old inputs against new, __provider too
        ):
            return _Diff("same", [], False)
        return _Diff("replace" if replaces else "update", replaces, bool(response.deleteBeforeReplace))

    def put(self, res: _Res, checked: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self._plugin(checked.get("endpoint")).call(
            "Create",
            provider_pb2.CreateRequest(urn=res.urn, name=res.name, type=res.type, properties=_to_struct(dict(checked))),
        )
        return str(response.id), _from_struct(response.properties)

    def update(self, old: _Res, checked: Mapping[str, Any]) -> dict[str, Any]:
        response = self._plugin(checked.get("endpoint")).call(
            "Update",
            provider_pb2.UpdateRequest(
                id=old.id,
                urn=old.urn,
                type=old.type,
                olds=_to_struct(old.unsealed(old.outputs, checked)),
                old_inputs=_to_struct(old.unsealed(old.inputs, checked)),
                news=_to_struct(dict(checked)),
            ),
        )
        return _from_struct(response.properties)

    def read(self, old: _Res) -> tuple[str | None, dict[str, Any], dict[str, Any] | None]:
        response = self._plugin(old.outputs.get("endpoint", old.inputs.get("endpoint"))).call(
            "Read",
            provider_pb2.ReadRequest(
                id=old.id,
                urn=old.urn,
                type=old.type,
                properties=_to_struct(old.outputs),
                inputs=_to_struct(old.inputs),
            ),
        )
        if not response.id:
            return None, {}, None
        inputs = _from_struct(response.inputs) if response.HasField("inputs") else {}
        return str(response.id), _from_struct(response.properties), inputs or None

    def delete(self, old: _Res) -> None:
        self._plugin(old.outputs.get("endpoint", old.inputs.get("endpoint"))).call(
            "Delete",
            provider_pb2.DeleteRequest(
                id=old.id,
                urn=old.urn,
                type=old.type,
                properties=_to_struct(old.outputs),
                old_inputs=_to_struct(old.inputs),
            ),
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


class _Deployment:
    """One command's run over the stack's state: the steps, the new state, the providers."""

    def __init__(self, ctx: _Context, state: _State, command: str) -> None:
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
        self.lock = threading.Lock()
        self.error: HarnessError | None = None
        self.azure = _AzureNative(ctx)
        self.dynamic = _Dynamic(ctx, self.find_account)

    def close(self) -> None:
        self.dynamic.close()

    def find_account(self, endpoint: str) -> _Res | None:
        """The stack's account with this data-plane endpoint (new state first)."""
        for res in [*self.new.values(), *self.old.values()]:
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

    def _step(self, urn: str, op: str) -> None:
        step = ProgramStep(urn, op)
        self.steps.append(step)
        if self.ctx.on_step is not None:
            self.ctx.on_step(step)

    def _provider(self, res_type: str) -> _AzureNative | _Dynamic:
        if res_type.startswith(DYNAMIC_PREFIX):
            return self.dynamic
        if res_type in (RESOURCE_GROUP, ACCOUNT):
            return self.azure
        raise HarnessError(
            f"resource type {res_type} is not modelled by this harness: it runs dynamic resources "
            f"({DYNAMIC_PREFIX}/...), {RESOURCE_GROUP} and {ACCOUNT} (against the ARM emulator)"
        )

    # --- up and preview: the program registers resources ----------------------------------------------------

    def register(self, reg: _Registration) -> tuple[str, dict[str, Any]]:
        """Decide and carry out the step for one resource; returns its id and outputs (secrets re-marked)."""
        with self.lock:
            try:
                res, outputs = self._register(reg)
            except Exception as exc:
                self.error = self.error or _failure(reg.urn, exc)
                raise self.error from None
        marked = {k: rpc.wrap_rpc_secret(v) if k in res.secret_keys else v for k, v in outputs.items()}
        return res.id, marked

    def _register(self, reg: _Registration) -> tuple[_Res, dict[str, Any]]:
        if reg.urn in self.new:
            raise HarnessError(f"duplicate resource URN {reg.urn}: two resources have the same type and name")
        old = self.old.get(reg.urn)
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
        )
        if not reg.custom:  # a component: recorded, never sent to a provider
            self.new[reg.urn] = res
            self._step(reg.urn, "same" if old is not None else "create")
            return res, {}
        provider = self._provider(reg.type)
        news = {k: v for k, v in inputs.items() if v is not None}
        if old is not None:
            for key in reg.ignore_changes:  # applied before Check, as the engine does
                if key in old.inputs:
                    news[key] = old.inputs[key]
                else:
                    news.pop(key, None)
        olds = old.unsealed(old.inputs, news) if old is not None else {}
        checked = provider.check(res, olds, news)
        res.inputs = checked
        if old is None:
            return self._create(res, provider, "create")
        decision = provider.diff(old, checked)
        if decision.op == "same":
            # A same step records the new inputs and keeps the old id and outputs.
            res.id, res.outputs = old.id, old.unsealed(old.outputs, checked)
            res.secret_keys = sorted(set(res.secret_keys) | set(old.secret_keys))
            self.new[reg.urn] = res
            self._step(reg.urn, "same")
            return res, res.outputs
        if decision.op == "update":
            res.id = old.id
            if self.preview:
                res.outputs = self._preview_outputs(provider, res, old)
            elif isinstance(provider, _Dynamic):
                res.outputs = provider.update(old, checked)
            else:
                res.outputs = provider.put(res, checked, create=False)[1]
            self.new[reg.urn] = res
            self._step(reg.urn, "update")
            return res, res.outputs
        # A replacement is a new resource: Check again without olds, so that auto-names are chosen afresh.
        res.inputs = provider.check(res, {}, news)
        if reg.delete_before_replace or decision.delete_before_replace:
            if not self.preview:
                self._delete(old)
            self.old.pop(reg.urn, None)
        else:
            self.condemned.append(old)
        return self._create(res, provider, "replace")

    def _create(self, res: _Res, provider: _AzureNative | _Dynamic, op: str) -> tuple[_Res, dict[str, Any]]:
        if self.preview:
            res.outputs = self._preview_outputs(provider, res, None)
        else:
            res.id, res.outputs = provider.put(res, res.inputs)
        self.new[res.urn] = res
        self._step(res.urn, op)
        return res, res.outputs

    def _preview_outputs(self, provider: _AzureNative | _Dynamic, res: _Res, old: _Res | None) -> dict[str, Any]:
        if isinstance(provider, _AzureNative):
            return provider.preview(res.type, res.inputs, old)
        # The dynamic server does not support preview: the engine takes the checked inputs as the state, and
        # every other output is unknown until the real Create/Update runs.
        return dict(res.inputs)

    def _delete(self, res: _Res) -> None:
        if res.protect:
            raise HarnessError(f"{res.urn} is protected (protect=True): it cannot be deleted")
        if res.retain_on_delete or not res.custom:
            return
        try:
            self._provider(res.type).delete(res)
        except Exception as exc:
            raise _failure(res.urn, exc) from None

    def finish_up(self) -> None:
        """After the program: delete what it no longer declares and the old halves of replacements."""
        gone = [r for urn, r in self.old.items() if urn not in self.new]
        doomed = sorted([*gone, *self.condemned, *self.pending], key=lambda r: self.old_index.get(id(r), -1))
        for res in reversed(doomed):  # dependents were recorded after what they depend on
            replaced = any(res is r for r in [*self.condemned, *self.pending])
            if not self.preview:
                self._delete(res)
                self.condemned = [r for r in self.condemned if r is not res]
                self.pending = [r for r in self.pending if r is not res]
                if not replaced:
                    self.old.pop(res.urn, None)
            # The CLI's name for removing the old half of a replacement.
            self._step(res.urn, "delete-replaced" if replaced else "delete")

    def new_state(self) -> list[_Res]:
        """The resources after an ``up`` (complete or not): registered ones, untouched old ones, pending deletes."""
        kept = [r for urn, r in self.old.items() if urn not in self.new]
        doomed = [*self.condemned, *self.pending]
        for res in doomed:
            res.pending_delete = True
        return [*self.new.values(), *kept, *doomed]

    # --- refresh and destroy: no program ---------------------------------------------------------------

    def refresh(self) -> None:
        """Read every resource: drop the ones that are gone, take the fresh outputs of the others."""
        for res in list(self.state.resources):
            if not res.custom or res.pending_delete:
                self._step(res.urn, "refresh")
                continue
            provider = self._provider(res.type)
            try:
                if isinstance(provider, _Dynamic):
                    new_id, outputs, inputs = provider.read(res)
                else:
                    (new_id, outputs), inputs = provider.read(res), None
            except Exception as exc:
                raise _failure(res.urn, exc) from None
            if new_id is None:
                self.state.resources.remove(res)
                self._step(res.urn, "refresh-deleted")
                continue
            if plain(outputs) != plain(res.unsealed(res.outputs, outputs)):
                self.drift.append(res.urn)
            res.id, res.outputs = new_id, outputs
            if inputs is not None:
                res.inputs = inputs
            self._step(res.urn, "refresh")

    def destroy(self) -> None:
        """Delete everything, dependents first."""
        for res in reversed(list(self.state.resources)):
            self._delete(res)
            self.state.resources.remove(res)
            self._step(res.urn, "delete")

    # --- invokes and stack references ---------------------------------------------------------------------

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """The provider functions a program may call."""
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
        data = json.loads(path.read_text())
        secret = set(data.get("secret_outputs") or [])
        outputs = {k: rpc.wrap_rpc_secret(v) if k in secret else v for k, v in (data.get("outputs") or {}).items()}
        return {"name": name, "outputs": outputs, "secretOutputNames": sorted(secret)}


def _event_loop() -> asyncio.AbstractEventLoop:
    """The current thread's event loop (made if missing): the runtime's own, in the main thread."""
    loop: asyncio.AbstractEventLoop = _ensure_event_loop()  # type: ignore[no-untyped-call]
    return loop


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
        return self.deployment.invoke(args.token, args.args), None

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

    def RegisterResource(self, request: Any) -> Any:
        """Register one resource: plan and run its step."""
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        _event_loop()
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
            ignore_changes=[k for k in request.ignoreChanges if "." not in k and "[" not in k],
            additional_secret_outputs=list(request.additionalSecretOutputs),
        )
        id_, outputs = self.deployment.register(reg)
        obj = _sync_await(rpc.serialize_properties(outputs, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, outputs)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)

    def ReadResource(self, request: Any) -> Any:
        """Only stack references are read; other reads of existing resources are not modelled."""
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type != STACK_REFERENCE:
            raise HarnessError(
                f"{urn}: reading an existing resource (ResourceOptions(id=...) or .get()) is not modelled"
            )
        _event_loop()
        with self.deployment.lock:
            props = self.deployment.stack_reference(request.id or request.name)
        obj = _sync_await(rpc.serialize_properties(props, {}))
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
    _event_loop().set_exception_handler(_quiet_reported_failures)
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
) -> ProgramResult:
    """Run ``up``, ``preview``, ``refresh`` or ``destroy`` of a Python Pulumi program; raise :class:`HarnessError`.

    ``config`` is the stack config (``pulumi config set``); ``secrets`` names the keys of ``config`` that are
    secret, or maps secret keys to their values (``pulumi config set --secret``). Bare keys belong to the
    project's namespace. ``Pulumi.<stack>.yaml`` in the project supplies plain values underneath.
    """
    if command not in COMMANDS:
        raise HarnessError(f"unknown command {command!r}; use one of {', '.join(COMMANDS)}")
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
            f"Pulumi.{stack}.yaml has encrypted values for {', '.join(missing)}; only the CLI can decrypt them: "
            "pass them as secrets (--secret KEY=VALUE)"
        )
    state_path = Path(state_file).resolve()
    ctx = _Context(
        project,
        stack,
        state_path,
        values,
        secret_keys | (secure & set(values)),
        {k: Path(v).resolve() for k, v in (stack_references or {}).items()},
        keys_from_arm,
        on_step,
    )
    state = _State.load(state_path, project.name, stack)
    deployment = _Deployment(ctx, state, command)
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    try:
        if command in ("up", "preview"):
            try:
                try:
                    outputs, secret_outputs = _run(ctx, deployment, preview=command == "preview")
                except Exception as exc:
                    if deployment.error is not None:
                        raise deployment.error from None
                    if isinstance(exc, HarnessError):
                        raise
                    raise HarnessError(f"the program failed: {type(exc).__name__}: {exc}") from exc
                deployment.finish_up()
                if command == "up":
                    state.outputs, state.secret_outputs = outputs, sorted(secret_outputs)
            finally:
                if command == "up":  # the engine saves what it did, even when a step failed
                    state.resources = deployment.new_state()
                    state.save(state_path)
        elif command == "refresh":
            try:
                deployment.refresh()
            finally:
                state.save(state_path)
            secret_outputs = set(state.secret_outputs)
            outputs = {k: REDACTED if k in secret_outputs else v for k, v in state.outputs.items()}
        else:
            try:
                deployment.destroy()
                state.outputs, state.secret_outputs = {}, []
            finally:
                state.save(state_path)
    finally:
        deployment.close()
        ctx.close()
    return ProgramResult(
        command,
        stack,
        deployment.steps,
        outputs,
        secret_outputs,
        deployment.drift,
        "".join(deployment.dynamic.diagnostics),
    )


# --- CLI -------------------------------------------------------------------------------------------------


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    return key, value


def _print_step(step: ProgramStep) -> None:
    print(f"    {_SYMBOLS.get(step.op, '?'):>2} {step.op:<16} {step.type:<48} {step.name}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m pulumi_aoai_finetuning.testing.program up|preview|refresh|destroy PROGRAM_DIR ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m pulumi_aoai_finetuning.testing.program",
        description="Run a Python Pulumi program like the CLI would, against the real dynamic-provider "
        "plugin and an ARM endpoint (the emulator's), keeping the state in a JSON file.",
    )
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("program_dir", type=Path)
    parser.add_argument("--state", type=Path, required=True, help="the stack's state file (JSON)")
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--config", type=_pair, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--secret", type=_pair, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--stack-ref", type=_pair, action="append", default=[], metavar="NAME=STATE_FILE", help="a StackReference"
    )
    parser.add_argument("--no-arm-keys", action="store_true", help="never list account keys through ARM")
    args = parser.parse_args(argv)
    title = {"up": "Updating", "preview": "Previewing update", "refresh": "Refreshing", "destroy": "Destroying"}
    print(f"{title[args.command]} ({args.stack}):", flush=True)
    try:
        result = run_program(
            args.command,
            args.program_dir,
            args.state,
            config=dict(args.config),
            secrets=dict(args.secret),
            stack=args.stack,
            stack_references=dict(args.stack_ref),
            keys_from_arm=not args.no_arm_keys,
            on_step=_print_step,
        )
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result.diagnostics.strip():
        print("Diagnostics (the dynamic-provider plugin):")
        print("\n".join(f"    {line}" for line in result.diagnostics.strip().splitlines()))
    if result.outputs:
        print("Outputs:")
        for name, value in result.outputs.items():
            if name in result.secret_outputs:
                shown = "[secret]"
            elif value == PREVIEW_UNKNOWN and args.command == "preview":
                shown = "output<unknown>"  # as the CLI shows a value only the update will know
            else:
                shown = json.dumps(value)
            print(f"    {name}: {shown}")
    counts: dict[str, int] = {}
    for step in result.steps:
        counts[step.op] = counts.get(step.op, 0) + 1
    print("Resources: " + ", ".join(f"{n} {op}" for op, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
