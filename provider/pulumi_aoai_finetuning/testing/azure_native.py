"""The azure-native stand-ins: resource groups, Cognitive Services accounts and their functions, served by ARM.

The harness serves ``azure-native:resources:ResourceGroup`` and ``azure-native:cognitiveservices:Account``
over HTTP from the ARM endpoint in ``azure-openai:armEndpoint`` (the emulator's), with the outputs the
azure-native SDK expects, auto-naming included, and delegates the types of
:mod:`~pulumi_aoai_finetuning.testing.azure_native_types` (identities, role assignments, random strings);
``azure-native:authorization:getClientConfig`` and ``azure-native:cognitiveservices:listAccountKeys`` are
answered too.
"""

from __future__ import annotations

import secrets as random_source
import string
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.runtime import rpc

from .. import config as aoai_config
from ..client.arm import ArmClient
from ..client.auth import Auth
from ..client.errors import AzureOpenAIError, NotFoundError
from ..client.names import normalize_endpoint
from ..client.retry import RetryPolicy
from ..inputs import is_unknown, plain
from . import azure_native_types as extra_types
from .changes import _changed, _Diff
from .entra import CredentialAuth
from .provider_calls import CheckFailed
from .results import HarnessError
from .state import _Res

if TYPE_CHECKING:
    from .context import _Context

RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
ACCOUNT = "azure-native:cognitiveservices:Account"
GET_CLIENT_CONFIG = "azure-native:authorization:getClientConfig"
LIST_ACCOUNT_KEYS = "azure-native:cognitiveservices:listAccountKeys"
RESOURCE_GROUP_API = "2024-03-01"  # what pulumi-azure-native 3.x uses for resource groups
ACCOUNT_API = "2025-06-01"  # ... and for Cognitive Services accounts
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
_UNKNOWN = pulumi.output.Unknown()  # type: ignore[no-untyped-call]  # a value a preview cannot know


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


def invoke_function(ctx: _Context, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Answer one of the azure-native functions a program may call."""
    if token == GET_CLIENT_CONFIG and ctx.entra is not None:
        return ctx.entra.client_config(ctx.subscription)
    if token == GET_CLIENT_CONFIG:
        zero = DEFAULT_SUBSCRIPTION
        return {
            "clientId": ctx.config.get("azure-native:clientId", zero),
            "objectId": ctx.config.get("azure-native:objectId", zero),
            "subscriptionId": ctx.subscription,
            "tenantId": ctx.config.get("azure-native:tenantId", zero),
        }
    if token == LIST_ACCOUNT_KEYS:
        path = (
            f"/subscriptions/{ctx.subscription}/resourceGroups/{args['resourceGroupName']}"
            f"/providers/Microsoft.CognitiveServices/accounts/{args['accountName']}"
        )
        return {k: rpc.wrap_rpc_secret(v) for k, v in ctx.arm.list_keys(path).items()}
    raise HarnessError(f"the function {token} is not modelled by this harness")
