"""ARM long-running operations: the operation-status and operation-result resources pollers follow."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from .. import errors, lifecycle
from ..http import Call, Reply
from ..service import Service
from ..state import Obj

PROVIDER = "Microsoft.CognitiveServices"


def iso(t: float) -> str:
    """An ARM timestamp."""
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def start(svc: Service, *, kind: str, account: Obj, target: str | None, duration: float) -> Obj:
    """Begin an operation on an account (or one of its deployments)."""
    op_id = svc.store.ids.hex32()
    now = svc.now()
    op: Obj = {
        "id": op_id,
        "name": op_id,
        "status": "InProgress",
        "startTime": iso(now),
        "_since": now,
        "_duration": duration,
        "_kind": kind,
        "_account": account["name"].lower(),
        "_target": target,
        "_sub": account["subscription"],
        "_location": account["location"],
    }
    svc.store.data["operations"][op_id] = op
    return op


def _url(svc: Service, op: Obj, leaf: str, version: str) -> str:
    return (
        f"{svc.base_url}/subscriptions/{op['_sub']}/providers/{PROVIDER}/locations/{op['_location']}"
        f"/{leaf}/{op['id']}?api-version={version}"
    )


def retry_after(svc: Service, op: Obj) -> dict[str, str]:
    """A ``Retry-After`` that matches the remaining time under the ``time`` clock (none otherwise)."""
    if svc.clock.mode != "time" or op["status"] != "InProgress":
        return {}
    remaining = op["_since"] + op["_duration"] - svc.now()
    return {"Retry-After": str(max(1, min(10, math.ceil(svc.clock.wall_seconds(remaining)))))}


def async_headers(
    svc: Service, op: Obj, version: str, *, location: bool = False, async_op: bool = True
) -> dict[str, str]:
    """The polling headers of an accepted write."""
    out = retry_after(svc, op)
    if async_op:
        out["Azure-AsyncOperation"] = _url(svc, op, "operationStatuses", version)
    if location:
        out["Location"] = _url(svc, op, "operationResults", version)
    return out


def deleted_book(svc: Service) -> dict[str, Obj]:
    """Where deleted accounts are kept while soft-deleted."""
    book: dict[str, Obj] = svc.store.data.setdefault("deleted_accounts", {})
    return book


def account_ops(svc: Service, account_key: str) -> list[Obj]:
    """The operations of an account, oldest first."""
    return [op for op in svc.store.data["operations"].values() if op["_account"] == account_key]


def settle_account(
    svc: Service, account_key: str, step_target: str | None = None, step_kinds: tuple[str, ...] = ()
) -> None:
    """Bring an account's operations up to date; under the immediate clock, step the ones a read is about."""
    for op in account_ops(svc, account_key):
        about = op["_kind"] in step_kinds and (step_target is None or op["_target"] == step_target)
        lifecycle.settle_operation(op, svc.accounts, svc.now(), svc.step(about), deleted_book(svc))
    account = svc.accounts.get(account_key)
    if account is not None:
        lifecycle.expire_deployments(account, svc.now(), svc.limits)


def status_body(op: Obj) -> dict[str, Any]:
    """The operation-status resource."""
    # The common types want the status resource's own ARM id, not the bare operation name.
    status_id = (
        f"/subscriptions/{op['_sub']}/providers/{PROVIDER}/locations/{op['_location']}/operationStatuses/{op['id']}"
    )
    body: dict[str, Any] = {"id": status_id, "name": op["name"], "status": op["status"], "startTime": op["startTime"]}
    if "_end" in op:
        body["endTime"] = iso(op["_end"])
        body["percentComplete"] = 100.0
    if op["status"] == "Failed":
        body["error"] = op.get("error", {"code": "InternalError", "message": "The operation failed."})
    return body


def get_status(svc: Service, call: Call, op_id: str) -> Reply:
    """``GET .../operationStatuses/{id}``."""
    op = svc.store.data["operations"].get(op_id)
    if op is None:
        raise errors.arm_not_found("operationStatuses", op_id)
    lifecycle.settle_operation(op, svc.accounts, svc.now(), svc.step(True), deleted_book(svc))
    if op["status"] == "Succeeded":
        account = svc.accounts.get(op["_account"])
        if account is not None:
            lifecycle.expire_deployments(account, svc.now(), svc.limits)
    return Reply(200, status_body(op), retry_after(svc, op))


def get_result(svc: Service, call: Call, op_id: str, render: Any) -> Reply:
    """``GET .../operationResults/{id}``: 202 while running, then the resource (or 204 after a delete)."""
    op = svc.store.data["operations"].get(op_id)
    if op is None:
        raise errors.arm_not_found("operationResults", op_id)
    lifecycle.settle_operation(op, svc.accounts, svc.now(), svc.step(True), deleted_book(svc))
    version = call.query.get("api-version", "")
    if op["status"] == "InProgress":
        return Reply(202, None, async_headers(svc, op, version, location=True, async_op=False))
    result = render(op)
    return Reply(204) if result is None else Reply(200, result)
