"""Deployments: PUT/PATCH/DELETE as long-running operations, GET and list, with the service's quota and model rules."""

from __future__ import annotations

from typing import Any

from .. import errors, lifecycle
from ..catalog import SKU_NAMES
from ..dataplane.models import ACCOUNT_ID_RE, resolve_model
from ..http import Call, Reply, public
from ..service import Service
from ..state import Obj
from . import operations
from .accounts import _find, account_id
from .accounts import render as render_account

WRITE_KINDS = ("deployment_create", "deployment_update", "deployment_delete")


def render(account: Obj, dep: Obj) -> dict[str, Any]:
    """The deployment as ARM returns it."""
    out = public(dep)
    out["id"] = f"{account_id(account)}/deployments/{dep['name']}"
    return out


def _busy(svc: Service, account: Obj) -> bool:
    return any(
        op["status"] == "InProgress" and op["_kind"] in WRITE_KINDS
        for op in operations.account_ops(svc, account["name"].lower())
    )


def _model_error(model: dict[str, Any]) -> errors.ServiceError:
    return errors.arm_bad_request(
        "DeploymentModelNotSupported",
        f"The model 'Format: {model.get('format')}, Name: {model.get('name')}, Version: {model.get('version', '')}, "
        f"Source: {model.get('source', '')}' of account deployment is not supported.",
    )


def _check_model(svc: Service, account: Obj, model: Any) -> str:
    if not isinstance(model, dict) or not isinstance(model.get("name"), str) or not model["name"]:
        raise errors.arm_bad_request(
            "InvalidResourceProperties", "'properties.model.name' is required.", "properties.model"
        )
    if model.get("format") != "OpenAI":
        raise _model_error(model)
    name: str = model["name"]
    served = resolve_model(account, name)
    if served is not None:
        return served
    source = model.get("source") or model.get("sourceAccount")
    if isinstance(source, str):
        match = ACCOUNT_ID_RE.match(source)
        holder = svc.accounts.get(match["account"].lower()) if match else None
        if match and holder is not None and holder["subscription"] == match["sub"]:
            served = resolve_model(holder, name)
            if served is not None:
                return served
    raise _model_error(model)


def put(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``PUT .../deployments/{d}``: 201 (create) or 200 (update), both followed by an async operation."""
    account = _find(svc, p["sub"], p["group"], p["account"])
    body = call.json()
    if account["properties"]["provisioningState"] != "Succeeded":
        raise errors.arm_conflict(
            "AccountProvisioningStateInvalid",
            f"Account {account['name']} in state {account['properties']['provisioningState']}; retry when it is Succeeded.",
        )
    sku = body.get("sku") or {"name": "Standard", "capacity": 1}
    if not isinstance(sku, dict) or str(sku.get("name", "")).lower() not in SKU_NAMES:
        raise errors.arm_bad_request(
            "InvalidSku",
            f"The sku {sku!r} is not supported; use one of {', '.join(sorted(set(SKU_NAMES.values())))}.",
            "sku",
        )
    capacity = sku.get("capacity", 1)
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise errors.arm_bad_request(
            "InvalidCapacity", f"'sku.capacity' must be a positive integer, not {capacity!r}.", "sku.capacity"
        )
    props = body.get("properties")
    if not isinstance(props, dict):
        raise errors.arm_bad_request("InvalidResourceProperties", "'properties' is required.", "properties")
    model = props.get("model")
    served = _check_model(svc, account, model)
    assert isinstance(model, dict)  # _check_model has refused anything else
    name = p["deployment"]
    operations.settle_account(svc, account["name"].lower())
    existing = account["deployments"].get(name)
    if _busy(svc, account):
        raise errors.arm_request_conflict(account_id(account))
    if lifecycle.is_finetuned(served) and not (
        existing and lifecycle.is_finetuned(existing["properties"]["model"]["name"])
    ):
        count = sum(
            1 for d in account["deployments"].values() if lifecycle.is_finetuned(d["properties"]["model"]["name"])
        )
        if count >= svc.limits.max_finetuned_deployments:
            raise errors.arm_bad_request(
                "InsufficientQuota",
                f"This operation require 1 new fine-tuned model deployment, which is bigger than the current available "
                f"capacity 0. The current usage is {count} and the limit is {svc.limits.max_finetuned_deployments} "
                "fine-tuned deployments per account.",
            )
    dep: Obj = {
        "name": name,
        "type": "Microsoft.CognitiveServices/accounts/deployments",
        "sku": {"name": SKU_NAMES[str(sku["name"]).lower()], "capacity": capacity},
        "tags": body.get("tags") or {},
        "properties": {
            "model": {
                k: v
                for k, v in model.items()
                if k in ("format", "name", "version", "source", "sourceAccount", "publisher")
            },
            "provisioningState": "Accepted",
            "versionUpgradeOption": props.get("versionUpgradeOption", "OnceNewDefaultVersionAvailable"),
            "raiPolicyName": props.get("raiPolicyName", "Microsoft.DefaultV2"),
            "currentCapacity": capacity,
            "capabilities": {"chatCompletion": "true"},
            "rateLimits": [{"key": "request", "renewalPeriod": 10, "count": capacity}],
        },
        "_created": existing["_created"] if existing else svc.now(),
        "_last_used": existing.get("_last_used", svc.now()) if existing else svc.now(),
    }
    dep["properties"]["model"].setdefault("version", "1")
    account["deployments"][name] = dep
    op = operations.start(
        svc,
        kind="deployment_update" if existing else "deployment_create",
        account=account,
        target=name,
        duration=svc.timings.deployment_provisioning,
    )
    return Reply(
        200 if existing else 201, render(account, dep), operations.async_headers(svc, op, call.query["api-version"])
    )


def patch(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``PATCH .../deployments/{d}`` with ``sku`` and ``tags``: 202 with ``Location``."""
    account = _find(svc, p["sub"], p["group"], p["account"])
    dep = _get(svc, account, p["deployment"])
    body = call.json()
    operations.settle_account(svc, account["name"].lower())
    if _busy(svc, account):
        raise errors.arm_request_conflict(account_id(account))
    sku = body.get("sku")
    if sku is not None:
        if not isinstance(sku, dict) or str(sku.get("name", dep["sku"]["name"])).lower() not in SKU_NAMES:
            raise errors.arm_bad_request("InvalidSku", f"The sku {sku!r} is not supported.", "sku")
        capacity = sku.get("capacity", dep["sku"]["capacity"])
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise errors.arm_bad_request(
                "InvalidCapacity", f"'sku.capacity' must be a positive integer, not {capacity!r}."
            )
        dep["sku"] = {"name": SKU_NAMES[str(sku.get("name", dep["sku"]["name"])).lower()], "capacity": capacity}
        dep["properties"]["currentCapacity"] = capacity
    if "tags" in body:
        dep["tags"] = body["tags"] or {}
    dep["properties"]["provisioningState"] = "Accepted"
    op = operations.start(
        svc, kind="deployment_update", account=account, target=dep["name"], duration=svc.timings.deployment_provisioning
    )
    return Reply(202, None, operations.async_headers(svc, op, call.query["api-version"], location=True, async_op=False))


def _get(svc: Service, account: Obj, name: str, read: bool = False) -> Obj:
    operations.settle_account(svc, account["name"].lower(), name if read else "\0", WRITE_KINDS)
    dep: Obj | None = account["deployments"].get(name)
    if dep is None:
        raise errors.arm_not_found(
            "Microsoft.CognitiveServices/accounts/deployments", f"{account['name']}/{name}", account["group"]
        )
    return dep


def get(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET .../deployments/{d}``."""
    account = _find(svc, p["sub"], p["group"], p["account"])
    return Reply(200, render(account, _get(svc, account, p["deployment"], read=True)))


def list_all(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET .../deployments``."""
    account = _find(svc, p["sub"], p["group"], p["account"])
    operations.settle_account(svc, account["name"].lower(), None, WRITE_KINDS if svc.clock.stepwise else ())
    return Reply(200, {"value": [render(account, d) for d in account["deployments"].values()]})


def delete(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``DELETE .../deployments/{d}``: 202 and a long-running delete, 204 when it does not exist."""
    account = _find(svc, p["sub"], p["group"], p["account"])
    operations.settle_account(svc, account["name"].lower())
    dep = account["deployments"].get(p["deployment"])
    if dep is None:
        return Reply(204)
    if _busy(svc, account):
        raise errors.arm_request_conflict(account_id(account))
    dep["properties"]["provisioningState"] = "Deleting"
    op = operations.start(
        svc, kind="deployment_delete", account=account, target=dep["name"], duration=svc.timings.deletion
    )
    return Reply(202, None, operations.async_headers(svc, op, call.query["api-version"], location=True))


def operation_result(svc: Service, op: Obj) -> dict[str, Any] | None:
    """What ``operationResults`` answers once an operation is over."""
    account = svc.accounts.get(op["_account"])
    if account is None or op["_kind"] in ("deployment_delete", "account_delete"):
        return None
    if op["_kind"] == "account_create":
        return render_account(svc, account)
    dep = account["deployments"].get(op["_target"])
    return render(account, dep) if dep else None
