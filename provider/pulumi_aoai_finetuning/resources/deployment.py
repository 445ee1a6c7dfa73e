"""``Deployment``: a serving deployment of a fine-tuned model or checkpoint, through ARM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from .. import config
from ..client import NotFoundError, account_writes
from ..encodings import base_model
from ..inputs import Failures, check_account_id, check_number, diff, is_unknown, user_inputs
from ..pricing import hosting_per_hour, with_overrides
from ._common import Provider, resource_props
from ._getters import outputs_as_getters
from .shapes import RateLimitDict

INPUTS = (
    "account_id", "deployment_name", "model", "model_version", "model_format", "source_account_id", "sku_name",
    "capacity", "rai_policy_name", "version_upgrade_option", "timeout_minutes",
)  # fmt: skip
OUTPUTS = ("deployment_id", "provisioning_state", "rate_limits", "hourly_cost", "hourly_cost_rule")
REPLACE_ON = ("account_id", "deployment_name", "model", "model_version", "model_format", "source_account_id")
UPDATE_ON = ("sku_name", "capacity", "rai_policy_name", "version_upgrade_option", "timeout_minutes")
# A PUT under the same account and name is the same ARM resource serving the same model; its state and rate
# limits follow the new capacity and sku, so they are not kept.
KEPT_BY_UPDATE = ("deployment_id",)
SKUS = (
    "Standard", "GlobalStandard", "DataZoneStandard", "ProvisionedManaged", "GlobalProvisionedManaged",
    "DataZoneProvisionedManaged", "GlobalBatch", "DataZoneBatch", "DeveloperTier", "Developer",
)  # fmt: skip
UPGRADE_OPTIONS = ("OnceNewDefaultVersionAvailable", "OnceCurrentVersionExpired", "NoAutoUpgrade")
DEFAULTS = {"model_version": "1", "model_format": "OpenAI", "sku_name": "Standard", "capacity": 1}
DEFAULT_TIMEOUT_MINUTES = 60.0
# Inputs that live in ``properties`` (no PATCH carries them), and the properties ARM computes, never sent back.
PROPERTY_INPUTS = ("rai_policy_name", "version_upgrade_option")
READ_ONLY_PROPERTIES = (
    "provisioningState", "rateLimits", "capabilities", "callRateLimit", "currentCapacity", "deploymentState",
)  # fmt: skip


def _with_defaults(props: dict[str, Any]) -> dict[str, Any]:
    return {**DEFAULTS, **user_inputs(props, INPUTS)}


def _body(inputs: dict[str, Any]) -> dict[str, Any]:
    model = {"format": inputs["model_format"], "name": inputs["model"], "version": str(inputs["model_version"])}
    if inputs.get("source_account_id"):
        model["source"] = inputs["source_account_id"]
    properties: dict[str, Any] = {"model": model}
    for key, wire in (("rai_policy_name", "raiPolicyName"), ("version_upgrade_option", "versionUpgradeOption")):
        if inputs.get(key):
            properties[wire] = inputs[key]
    return {"sku": {"name": inputs["sku_name"], "capacity": int(inputs["capacity"])}, "properties": properties}


def _outputs(inputs: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    props = resource.get("properties", {})
    sku = resource.get("sku", {})
    return {
        **inputs,
        "deployment_id": resource.get("id"),
        "provisioning_state": props.get("provisioningState"),
        "model": props.get("model", {}).get("name", inputs.get("model")),
        "sku_name": sku.get("name", inputs.get("sku_name")),
        "capacity": sku.get("capacity", inputs.get("capacity")),
        "rate_limits": props.get("rateLimits"),
        **_hourly_cost(inputs),
    }


def _hourly_cost(inputs: dict[str, Any]) -> dict[str, Any]:
    """The hosting fee per hour of what is deployed (``pricing.hosting_per_hour``), with how it was found.

    Known at preview when the model's name is; ``azure-openai:prices`` in stack config overrides the table.
    """
    model, sku = inputs.get("model"), inputs.get("sku_name")
    if not isinstance(model, str) or not isinstance(sku, str) or is_unknown(model) or is_unknown(sku):
        return {}
    if base_model(model) == model.strip():  # no .ft- / ft: / :ckpt-step- part: a base model, not a fine-tuned one
        return {"hourly_cost": None, "hourly_cost_rule": f"{model} is a base model: billed per token, not by the hour"}
    try:
        cost = hosting_per_hour(model, sku, with_overrides(config.current().prices))
    except ValueError as exc:  # a sku without a hosting fee (batch), or malformed prices in stack config
        return {"hourly_cost": None, "hourly_cost_rule": str(exc)}
    rule = f"{cost.rule}; {cost.currency}, table as of {cost.as_of}" if cost.per_hour is not None else cost.rule
    return {"hourly_cost": cost.per_hour, "hourly_cost_rule": rule}


class DeploymentProvider(Provider):
    """PUTs a deployment and follows its long-running operation; refresh notices one the service deleted."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Offline rules for every input."""
        failures = Failures()
        check_account_id(failures, news, "account_id")
        check_account_id(failures, news, "source_account_id", required=False)
        for name in ("deployment_name", "model"):
            value = news.get(name)
            if value is None:
                failures.add(name, f"{name} is required")
            elif not is_unknown(value) and (not isinstance(value, str) or not value.strip()):
                failures.add(name, f"{name} must be a non-empty string, not {value!r}")
        dep_name = news.get("deployment_name")
        if isinstance(dep_name, str) and (len(dep_name) > 64 or "/" in dep_name):
            failures.add(
                "deployment_name", f"deployment_name must be at most 64 characters without '/', not {dep_name!r}"
            )
        sku = news.get("sku_name")
        if sku is not None and not is_unknown(sku):
            canonical = {s.lower(): s for s in SKUS}
            if not isinstance(sku, str) or sku.lower() not in canonical:
                failures.add("sku_name", f"sku_name must be one of {', '.join(SKUS)}, not {sku!r}")
        check_number(failures, news, "capacity", low=1, high=100_000, integer=True)
        check_number(failures, news, "timeout_minutes", low=0.01, high=24 * 60)
        option = news.get("version_upgrade_option")
        if option is not None and not is_unknown(option) and option not in UPGRADE_OPTIONS:
            failures.add(
                "version_upgrade_option", f"version_upgrade_option must be one of {', '.join(UPGRADE_OPTIONS)}"
            )
        fmt = news.get("model_format")
        if fmt is not None and not is_unknown(fmt) and fmt != "OpenAI":
            failures.add("model_format", f"fine-tuned models are deployed with model_format 'OpenAI', not {fmt!r}")
        checked = {**DEFAULTS, **news}
        if not failures:
            checked.update(_hourly_cost(checked))
        return CheckResult(checked, failures.items)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Replace when what is served changes; capacity, sku and policies change in place.

        A replacement under the same account and name must delete first: both would be the same ARM resource.
        """
        result = diff(olds, news, replace=REPLACE_ON, update=UPDATE_ON, keeps=KEPT_BY_UPDATE)
        same_place = not set(result.replaces or []) & {"account_id", "deployment_name"}
        if result.replaces and same_place:
            result.delete_before_replace = True
        return result

    def _resource_id(self, inputs: dict[str, Any]) -> str:
        return f"{inputs['account_id']}/deployments/{inputs['deployment_name']}"

    def _put(self, inputs: dict[str, Any]) -> dict[str, Any]:
        settings = config.current()
        client = settings.arm_client()
        timeout = float(inputs.get("timeout_minutes", DEFAULT_TIMEOUT_MINUTES)) * 60
        try:
            with account_writes(inputs["account_id"]):
                return client.put(self._resource_id(inputs), _body(inputs), timeout_s=timeout)
        finally:
            client.close()

    def create(self, props: dict[str, Any]) -> CreateResult:
        """PUT the deployment (a re-run's PUT adopts one left by an interrupted run) and wait for it."""
        inputs = _with_defaults(props)
        resource = self._put(inputs)
        return CreateResult(self._resource_id(inputs), _outputs(inputs, resource))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Apply capacity, sku and policy changes in place, leaving what was set outside Pulumi alone.

        A sku or capacity change is a PATCH of ``sku`` (as the SDK's ``begin_update``); a policy change has no
        PATCH, so the deployment is read and PUT back with only those properties changed.
        """
        inputs = _with_defaults(news)
        before = _with_defaults(olds)
        settings = config.current()
        client = settings.arm_client()
        timeout = float(inputs.get("timeout_minutes", DEFAULT_TIMEOUT_MINUTES)) * 60
        resource_id = self._resource_id(inputs)
        try:
            with account_writes(inputs["account_id"]):
                resource: dict[str, Any] | None = None
                if any(inputs.get(k) != before.get(k) for k in PROPERTY_INPUTS):
                    current = client.get(resource_id)
                    properties = {**current.get("properties", {}), **_body(inputs)["properties"]}
                    for key in READ_ONLY_PROPERTIES:
                        properties.pop(key, None)
                    body = {**_body(inputs), "properties": properties}
                    if current.get("tags"):
                        body["tags"] = current["tags"]
                    resource = client.put(resource_id, body, timeout_s=timeout)
                elif any(inputs.get(k) != before.get(k) for k in ("sku_name", "capacity")):
                    resource = client.patch(resource_id, {"sku": _body(inputs)["sku"]}, timeout_s=timeout)
                if resource is None:
                    resource = client.get(resource_id)
        finally:
            client.close()
        return UpdateResult(_outputs(inputs, resource))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the deployment as ARM has it, or gone (Azure deletes idle fine-tuned deployments)."""
        settings = config.current()
        client = settings.arm_client()
        try:
            resource = client.get(id_)
        except NotFoundError:
            return ReadResult(None, {})
        finally:
            client.close()
        return ReadResult(id_, _outputs(_with_defaults(props), resource))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """DELETE and wait until ARM reports it gone."""
        settings = config.current()
        client = settings.arm_client()
        timeout = float(props.get("timeout_minutes") or DEFAULT_TIMEOUT_MINUTES) * 60
        try:
            with account_writes(str(props.get("account_id") or id_.rsplit("/deployments/", 1)[0])):
                client.delete(id_, timeout_s=timeout)
        finally:
            client.close()


@dataclass
class DeploymentArgs:
    """The inputs of a :class:`Deployment`."""

    account_id: pulumi.Input[str]
    """The ARM id of the account that serves the deployment, e.g. the account's ``id``."""
    deployment_name: pulumi.Input[str]
    """The deployment's name (at most 64 characters, no ``/``): what requests name as their model."""
    model: pulumi.Input[str]
    """The fine-tuned model or checkpoint to serve, e.g. a FineTuningJob's ``fine_tuned_model``."""
    model_version: pulumi.Input[str] | None = None
    """The model's version (default ``1``, what fine-tuned models have)."""
    model_format: pulumi.Input[str] | None = None
    """The model's format: ``OpenAI`` (the default, and the only one for fine-tuned models)."""
    source_account_id: pulumi.Input[str] | None = None
    """The ARM id of the account that holds the model, when it is not ``account_id``."""
    sku_name: pulumi.Input[str] | None = None
    """The deployment type: ``Standard`` (default), ``GlobalStandard``, ``Developer``..."""
    capacity: pulumi.Input[int] | None = None
    """Capacity units (thousands of tokens per minute for Standard), 1 to 100000 (default 1)."""
    rai_policy_name: pulumi.Input[str] | None = None
    """The content filter (responsible AI policy) to apply."""
    version_upgrade_option: pulumi.Input[str] | None = None
    """``OnceNewDefaultVersionAvailable``, ``OnceCurrentVersionExpired`` or ``NoAutoUpgrade``."""
    timeout_minutes: pulumi.Input[float] | None = None
    """How long to wait for ARM to finish the deployment (default 60)."""


@outputs_as_getters
class Deployment(Resource, module="azure-openai", name="Deployment"):
    """A deployment of a fine-tuned model (or checkpoint) on an account, possibly from another account."""

    if TYPE_CHECKING:
        account_id: pulumi.Output[str]
        """The ARM id of the serving account."""
        deployment_name: pulumi.Output[str]
        """The deployment's name: what requests name as their model."""
        model: pulumi.Output[str]
        """The model served."""
        model_version: pulumi.Output[str]
        """The model's version."""
        model_format: pulumi.Output[str]
        """The model's format (``OpenAI``)."""
        source_account_id: pulumi.Output[str | None]
        """The account that holds the model, when it is another one."""
        sku_name: pulumi.Output[str]
        """The deployment type."""
        capacity: pulumi.Output[int]
        """Capacity units."""
        rai_policy_name: pulumi.Output[str | None]
        """The content filter applied."""
        version_upgrade_option: pulumi.Output[str | None]
        """The version upgrade option."""
        timeout_minutes: pulumi.Output[float | None]
        """How long a change waits for ARM."""
        deployment_id: pulumi.Output[str]
        """The deployment's ARM id."""
        provisioning_state: pulumi.Output[str]
        """ARM's provisioning state (``Succeeded`` once served)."""
        rate_limits: pulumi.Output[list[RateLimitDict] | None]
        """The request and token limits ARM reports for the capacity."""
        hourly_cost: pulumi.Output[float | None]
        """The hosting fee per hour in US dollars (known at preview once the model is; None when not hourly)."""
        hourly_cost_rule: pulumi.Output[str | None]
        """Where ``hourly_cost`` comes from: the price, its status and the table's date, or why there is none."""
    else:
        # Pulumi reads these at run time to convert outputs (a float becomes an int, a dict must be a dict):
        # they stay as they were, so outputs keep their values; the precise shapes above are for type checkers.
        account_id: pulumi.Output[str]
        deployment_name: pulumi.Output[str]
        model: pulumi.Output[str]
        sku_name: pulumi.Output[str]
        capacity: pulumi.Output[int]
        deployment_id: pulumi.Output[str]
        provisioning_state: pulumi.Output[str]
        rate_limits: pulumi.Output[list[dict[str, Any]] | None]
        hourly_cost: pulumi.Output[float | None]
        hourly_cost_rule: pulumi.Output[str | None]

    @overload
    def __init__(
        self, resource_name: str, args: DeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None: ...

    @overload
    def __init__(
        self,
        resource_name: str,
        *,
        opts: pulumi.ResourceOptions | None = None,
        account_id: pulumi.Input[str],
        deployment_name: pulumi.Input[str],
        model: pulumi.Input[str],
        model_version: pulumi.Input[str] | None = None,
        model_format: pulumi.Input[str] | None = None,
        source_account_id: pulumi.Input[str] | None = None,
        sku_name: pulumi.Input[str] | None = None,
        capacity: pulumi.Input[int] | None = None,
        rai_policy_name: pulumi.Input[str] | None = None,
        version_upgrade_option: pulumi.Input[str] | None = None,
        timeout_minutes: pulumi.Input[float] | None = None,
    ) -> None: ...

    def __init__(
        self,
        resource_name: str,
        args: DeploymentArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        """Declare a deployment, from a :class:`DeploymentArgs` or from keywords.

        :param resource_name: The resource's name in the stack.
        :param args: The inputs, as a :class:`DeploymentArgs` (instead of keywords).
        :param opts: Options for the resource.
        :param account_id: The ARM id of the account that serves the deployment.
        :param deployment_name: The deployment's name (at most 64 characters, no ``/``).
        :param model: The fine-tuned model or checkpoint to serve, e.g. a FineTuningJob's ``fine_tuned_model``.
        :param model_version: The model's version (default ``1``).
        :param model_format: The model's format: ``OpenAI`` (the default).
        :param source_account_id: The ARM id of the account that holds the model, when it is not ``account_id``.
        :param sku_name: The deployment type: ``Standard`` (default), ``GlobalStandard``, ``Developer``...
        :param capacity: Capacity units, 1 to 100000 (default 1).
        :param rai_policy_name: The content filter (responsible AI policy) to apply.
        :param version_upgrade_option: ``OnceNewDefaultVersionAvailable``, ``OnceCurrentVersionExpired`` or ``NoAutoUpgrade``.
        :param timeout_minutes: How long to wait for ARM to finish the deployment (default 60).
        """
        props = resource_props("Deployment", args, kwargs, INPUTS, OUTPUTS)
        super().__init__(DeploymentProvider(), resource_name, props, opts)
