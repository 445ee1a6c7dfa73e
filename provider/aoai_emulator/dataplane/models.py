"""Models (base, fine-tuned, copied), checkpoint copy across accounts, and the inference call that keeps a deployment alive."""

from __future__ import annotations

import re
from typing import Any

from .. import behaviour, errors, lifecycle, rbac
from ..arm.accounts import account_id
from ..catalog import BASE_MODELS, INFERENCE_ONLY_MODELS, root_base_model
from ..http import Reply
from ..service import Service
from ..state import Obj
from .context import Ctx
from .jobs import get_job

COPY_HEADER = "aoai-copy-ft-checkpoints"
ACCOUNT_ID_RE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers/"
    r"Microsoft\.CognitiveServices/accounts/(?P<account>[^/]+)$",
    re.IGNORECASE,
)
FOREVER = 4102444800  # 2100-01-01, the far deprecation date of the emulator's models


def held_models(account: Obj) -> dict[str, Obj]:
    """The fine-tuned models this account holds (its jobs' models and checkpoints, and copies), by name."""
    deleted = set(account.get("deleted_models", []))
    out: dict[str, Obj] = {}
    for job in account["jobs"].values():
        if job["status"] != "succeeded":
            continue
        for cp in job.get("_checkpoints", []):
            entry = {
                "id": cp["fine_tuned_model_checkpoint"],
                "created_at": job["finished_at"],
                "base": job["model"],
                "job": job["id"],
                "final": cp["fine_tuned_model_checkpoint"] == job["fine_tuned_model"],
                "checkpoint_id": cp["id"],
            }
            out[entry["id"]] = entry
    for name, kept in account.get("retained_models", {}).items():
        out[name] = dict(kept)
    for name, copied in account["copied_models"].items():
        out[name] = {**copied, "final": True}
    return {k: v for k, v in out.items() if k not in deleted}


def resolve_model(account: Obj, name: str) -> str | None:
    """The model name a deployment of ``name`` serves in this account (a checkpoint id maps to its model)."""
    if name in BASE_MODELS or name in INFERENCE_ONLY_MODELS:
        return name
    held = held_models(account)
    if name in held:
        return name
    for entry in held.values():
        if entry.get("checkpoint_id") == name:
            return str(entry["id"])
    return None


def _dated_model(entry: Obj, fine_tuned: bool) -> dict[str, Any]:
    base = {
        "object": "model",
        "id": entry["id"],
        "created_at": int(entry.get("created_at") or 1_700_000_000),
        "status": "succeeded",
        "capabilities": {
            "fine_tune": True,
            "inference": True,
            "completion": False,
            "chat_completion": True,
            "embeddings": False,
        },
        "lifecycle_status": "generally-available",
        "deprecation": {"inference": FOREVER},
    }
    if fine_tuned:
        base["model"] = root_base_model(str(entry["base"]))
        if entry.get("job"):
            base["fine_tune"] = entry["job"]
    else:
        base["deprecation"] = {"fine_tune": FOREVER, "inference": FOREVER}
    return base


def _all_models(ctx: Ctx) -> list[dict[str, Any]]:
    out = []
    for name in sorted(BASE_MODELS):
        entry = {"id": name, "created_at": 1_700_000_000}
        out.append(_v1_model(entry, "system") if ctx.v1 else _dated_model(entry, False))
    for entry in held_models(ctx.account).values():
        if entry["final"]:
            out.append(_v1_model(entry, "organization-owner") if ctx.v1 else _dated_model(entry, True))
    return out


def _v1_model(entry: Obj, owner: str) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "object": "model",
        "created": int(entry.get("created_at") or 1_700_000_000),
        "owned_by": owner,
    }


def list_models(ctx: Ctx, _: dict[str, str]) -> Reply:
    """``GET /models``: base models and this account's fine-tuned models."""
    return Reply(200, {"object": "list", "data": _all_models(ctx)})


def retrieve_model(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /models/{id}``."""
    for model in _all_models(ctx):
        if model["id"] == params["model"]:
            return Reply(200, model)
    raise errors.not_found("model", params["model"])


def delete_model(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /models/{id}`` (v1): a fine-tuned model with no deployment."""
    name = params["model"]
    if name not in held_models(ctx.account):
        if name in BASE_MODELS:
            raise errors.invalid_payload(f"'{name}' is a base model; only fine-tuned models can be deleted.", "model")
        raise errors.not_found("model", name)
    deployed = [d["name"] for d in ctx.account["deployments"].values() if d["properties"]["model"]["name"] == name]
    if deployed:
        raise errors.conflict(
            f"The model '{name}' has deployments ({', '.join(sorted(deployed))}); delete them before the model.", name
        )
    ctx.account.setdefault("deleted_models", []).append(name)
    return Reply(200, {"id": name, "object": "model", "deleted": True})


# --- checkpoint copy (preview) --------------------------------------------------------------------------


def _copy_target(ctx: Ctx, params: dict[str, str]) -> tuple[Obj, Obj]:
    if ctx.call.headers.get(COPY_HEADER, "").lower() != "preview":
        raise errors.preview_header_required(COPY_HEADER)
    job = get_job(ctx, params["job"], read=False)
    if job["status"] != "succeeded":
        raise errors.unexpected_state(
            f"The job '{job['id']}' is {job['status']}; only succeeded jobs have checkpoints."
        )
    for cp in job.get("_checkpoints", []):
        if params["checkpoint"] == cp["id"]:
            return job, cp
    # Azure addresses a checkpoint by its id (ftchkpt-...); a model name there names no checkpoint at all.
    raise errors.not_found("checkpoint", params["checkpoint"])


def _copy_body(ctx: Ctx, job: Obj, cp: Obj, read: bool) -> Reply:
    svc = ctx.svc
    copies = [
        c
        for c in svc.store.data["copies"].values()
        if c["_source_account"] == ctx.account["name"].lower() and c["_checkpoint"] == cp["id"]
    ]
    for c in copies:
        lifecycle.settle_copy(c, svc.accounts, svc.now(), svc.timings, svc.step(read))
    return Reply(
        200,
        {
            "checkpointedModelName": cp["fine_tuned_model_checkpoint"],
            "fineTuningJobId": job["id"],
            "copiedAccountDetails": [
                {"destinationResourceId": c["destinationResourceId"], "region": c["region"], "status": c["status"]}
                for c in copies
            ],
        },
    )


def _identity_principals(account: Obj) -> set[str]:
    """The principal ids of an account's managed identities, system- and user-assigned."""
    identity = account.get("identity") or {}
    found = {identity["principalId"]} if identity.get("principalId") else set()
    for user in (identity.get("userAssignedIdentities") or {}).values():
        if user.get("principalId"):
            found.add(user["principalId"])
    return found


def _check_copy_permissions(svc: Service, source: Obj, dest: Obj, dest_id: str) -> None:
    """Refuse a copy unless the destination allows public network access and the source may write to it.

    Microsoft's fine-tuning guide ("Copy a fine-tuned model", its "Configure permissions") asks for both: the
    destination must not disable public network access, and a managed identity of the source account must hold
    *Azure AI User* (rbac.AZURE_AI_USER) on the destination. The service's exact answers to a copy that misses
    them are not documented; the emulator answers 403 ``PermissionDenied`` in the shape Azure uses when a principal
    lacks a data action, and 400 naming ``destinationResourceId`` for the network rule, like the other
    destination prerequisites.
    """
    if dest["properties"].get("publicNetworkAccess") == "Disabled":
        raise errors.invalid_payload(
            f"The destination account '{dest['name']}' disables public network access; a checkpoint copy needs "
            "it enabled on the destination, at least while the copy is requested.",
            "destinationResourceId",
        )
    principals = _identity_principals(source)
    if not rbac.holds(svc, principals, dest_id, rbac.AZURE_AI_USER):
        who = (
            f"none of the managed identities of '{source['name']}' ({', '.join(sorted(principals))})"
            if principals
            else f"the account '{source['name']}' has no managed identity, so nothing"
        )
        raise errors.ServiceError(
            403,
            "PermissionDenied",
            f"Checkpoint copy to '{dest_id}' refused: {who} holds the Azure AI User role "
            f"({rbac.AZURE_AI_USER}) on the destination. Give the source account a managed identity and assign "
            "it Azure AI User at the destination account's scope (or its resource group's or subscription's).",
        )


def start_copy(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST .../checkpoints/{cp}/copy``: the documented prerequisites, then a copy in progress."""
    job, cp = _copy_target(ctx, params)
    body = ctx.call.json()
    dest_id, region = body.get("destinationResourceId"), body.get("region")
    if not isinstance(dest_id, str) or not dest_id:
        raise errors.invalid_payload("'destinationResourceId' is required.", "destinationResourceId")
    if not isinstance(region, str) or not region:
        raise errors.invalid_payload("'region' is required.", "region")
    match = ACCOUNT_ID_RE.match(dest_id)
    if not match:
        raise errors.invalid_payload(
            f"'destinationResourceId' must be an account's ARM id "
            f"(/subscriptions/<s>/resourceGroups/<g>/providers/Microsoft.CognitiveServices/accounts/<a>), not {dest_id!r}.",
            "destinationResourceId",
        )
    svc = ctx.svc
    dest = svc.accounts.get(match["account"].lower())
    if dest is None or dest["subscription"] != match["sub"] or dest["group"].lower() != match["group"].lower():
        raise errors.invalid_payload(f"The destination account '{dest_id}' does not exist.", "destinationResourceId")
    if dest is ctx.account:
        raise errors.invalid_payload(
            "The destination is the source account; copy to another account.", "destinationResourceId"
        )
    if not dest["jobs"]:
        raise errors.invalid_payload(
            f"The destination account '{dest['name']}' has no fine-tuning job; it needs at least one before it "
            "can receive a copied checkpoint.",
            "destinationResourceId",
        )
    _check_copy_permissions(svc, ctx.account, dest, account_id(dest))
    if region.replace(" ", "").lower() != dest["location"].replace(" ", "").lower():
        raise errors.invalid_payload(
            f"'region' is {region!r} but the destination account is in {dest['location']!r}.", "region"
        )
    key = f"{ctx.account['name'].lower()}|{cp['id']}|{dest['name'].lower()}"
    existing = svc.store.data["copies"].get(key)
    if existing is None or existing["status"] == "Failed":
        svc.store.data["copies"][key] = {
            "destinationResourceId": dest_id,
            "region": region,
            "status": "InProgress",
            "_since": svc.now(),
            "_source_account": ctx.account["name"].lower(),
            "_dest_account": dest["name"].lower(),
            "_checkpoint": cp["id"],
            "_model": cp["fine_tuned_model_checkpoint"],
            "_job": job["id"],
        }
    return _copy_body(ctx, job, cp, read=False)


def copy_status(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET .../checkpoints/{cp}/copy``: the status of every copy of this checkpoint."""
    job, cp = _copy_target(ctx, params)
    return _copy_body(ctx, job, cp, read=True)


# --- inference ----------------------------------------------------------------------------------------------


def knowledge(ctx: Ctx, model: str) -> behaviour.Knowledge | None:
    """What ``model`` (a resolved model name) learnt, if it is a fine-tuned model of this account."""
    svc = ctx.svc
    return behaviour.knowledge(held_models(ctx.account), svc.accounts, ctx.account, model, svc.store.blobs.get)


def ask(ctx: Ctx, model: str, messages: list[Any]) -> behaviour.Answer:
    """What ``model`` (a resolved model name) answers to ``messages`` in this account."""
    return behaviour.answer(knowledge(ctx, model), model, messages)


def tokens(text: str) -> int:
    """A token count for usage figures: about four characters a token, OpenAI's rule of thumb."""
    return max(1, (len(text) + 3) // 4)


def chat(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /deployments/{d}/chat/completions`` (or v1 with ``model``): the model's answer, which counts as use.

    The answer follows :mod:`aoai_emulator.behaviour`, the same rule evaluation runs use.
    """
    body = ctx.call.json()
    name = params.get("deployment") or body.get("model")
    dep = ctx.account["deployments"].get(str(name))
    if dep is None or dep["properties"]["provisioningState"] != "Succeeded":
        raise errors.ServiceError(
            404,
            "DeploymentNotFound",
            "The API deployment for this resource does not exist. If you created the deployment within the last "
            "5 minutes, please wait a moment and try again.",
            gateway=True,
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise errors.invalid_payload("'messages' must be a non-empty array of chat messages.", "messages")
    now = ctx.svc.now()
    dep["_last_used"] = now
    model = dep["properties"]["model"]["name"]
    reply = ask(ctx, model, messages)
    prompt_tokens = sum(tokens(str(m.get("content", ""))) for m in messages if isinstance(m, dict))
    completion_tokens = tokens(reply.text)
    return Reply(
        200,
        {
            "id": ctx.svc.store.ids.new("chatcmpl"),
            "object": "chat.completion",
            "created": int(now),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply.text}}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )
