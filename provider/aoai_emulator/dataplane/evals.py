"""Evals (the Evals API): create, list, get, update (name, metadata) and delete, on the dated and v1 dialects.

An eval holds a data source config (the JSON schema of its items) and testing criteria (graders); its runs live
in :mod:`eval_runs`. On ``/openai/v1`` the API is preview and needs the ``aoai-evals: preview`` header, as Azure's.
"""

from __future__ import annotations

import uuid
from typing import Any

from .. import errors, graders
from ..catalog import EVALS_VERSIONS
from ..http import Reply, public
from ..state import Obj
from .answering import resolve
from .context import Ctx, page

EVALS_HEADER = "aoai-evals"
SAMPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model": {"type": "string"},
        "choices": {"type": "array"},
        "output_text": {"type": "string"},
    },
    "required": ["model", "choices"],
}
UPDATABLE = frozenset({"name", "metadata"})


def require_preview(ctx: Ctx) -> None:
    """On v1 the Evals API is opt-in by header; dated, only api-versions that have it serve it."""
    if not ctx.v1 and ctx.version not in EVALS_VERSIONS:
        raise errors.resource_not_found()
    if ctx.v1 and ctx.call.headers.get(EVALS_HEADER, "").lower() != "preview":
        raise errors.preview_header_required(EVALS_HEADER)


def evals_of(ctx: Ctx) -> dict[str, Obj]:
    """The account's evals by id (accounts saved before evals existed get an empty collection)."""
    found: dict[str, Obj] = ctx.account.setdefault("evals", {})
    return found


def get_eval(ctx: Ctx, eval_id: str) -> Obj:
    """The eval, or the 404 the service answers."""
    require_preview(ctx)
    found = evals_of(ctx).get(eval_id)
    if found is None:
        raise errors.not_found("eval", eval_id)
    return found


def check_metadata(value: Any, where: str = "metadata") -> dict[str, str]:
    """Metadata as the API allows it: at most 16 string pairs, keys up to 64 and values up to 512 characters."""
    if value is None:
        return {}
    ok = isinstance(value, dict) and len(value) <= 16
    ok = ok and all(
        isinstance(k, str) and len(k) <= 64 and isinstance(v, str) and len(v) <= 512 for k, v in value.items()
    )
    if not ok:
        raise errors.invalid_payload(
            f"'{where}' must be an object of at most 16 string pairs (keys up to 64, values up to 512 characters).",
            where,
        )
    return dict(value)


def _data_source_config(raw: Any) -> dict[str, Any]:
    where = "data_source_config"
    if not isinstance(raw, dict) or raw.get("type") not in ("custom", "stored_completions"):
        raise errors.invalid_payload(f"'{where}.type' must be 'custom' or 'stored_completions'.", f"{where}.type")
    if raw["type"] == "stored_completions":
        return {
            "type": "stored_completions",
            "metadata": check_metadata(raw.get("metadata"), f"{where}.metadata"),
            "schema": {
                "type": "object",
                "properties": {"item": {"type": "object"}, "sample": SAMPLE_SCHEMA},
                "required": ["item", "sample"],
            },
        }
    item_schema = raw.get("item_schema")
    if not isinstance(item_schema, dict):
        raise errors.invalid_payload(f"'{where}.item_schema' must be a JSON schema object.", f"{where}.item_schema")
    with_sample = raw.get("include_sample_schema", False)
    if not isinstance(with_sample, bool):
        raise errors.invalid_payload(
            f"'{where}.include_sample_schema' must be true or false.", f"{where}.include_sample_schema"
        )
    properties: dict[str, Any] = {"item": item_schema}
    if with_sample:
        properties["sample"] = SAMPLE_SCHEMA
    return {
        "type": "custom",
        "schema": {"type": "object", "properties": properties, "required": list(properties)},
    }


def criteria_ids(eval_id: str, criteria: list[dict[str, Any]]) -> list[str]:
    """The names results report each criterion under: its name and a stable uuid, as the service writes them."""
    return [f"{c['name']}-{uuid.uuid5(uuid.NAMESPACE_URL, f'{eval_id}/{i}')}" for i, c in enumerate(criteria)]


def render(ctx: Ctx, record: Obj) -> dict[str, Any]:
    """An eval as clients see it."""
    return public(record)


def create(ctx: Ctx, _: dict[str, str]) -> Reply:
    """``POST /evals``: a data source config and graders, checked against the spec's shapes."""
    require_preview(ctx)
    body = ctx.call.json()
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise errors.invalid_payload("'name' must be a string.", "name")
    config = _data_source_config(body.get("data_source_config"))
    criteria = graders.validate(body.get("testing_criteria"), lambda model: resolve(ctx, model))
    metadata = check_metadata(body.get("metadata"))
    svc = ctx.svc
    now = svc.now()
    eval_id = f"eval_{svc.store.ids.hex32()}"
    record: Obj = {
        "object": "eval",
        "id": eval_id,
        "name": name or f"eval-{eval_id[-8:]}",
        "created_at": int(now),
        "data_source_config": config,
        "testing_criteria": criteria,
        "metadata": metadata,
        "_seq": svc.store.ids.counter,
        "_updated": now,
        "_criteria_ids": criteria_ids(eval_id, criteria),
        "_runs": {},
    }
    evals_of(ctx)[eval_id] = record
    return ctx.created(render(ctx, record), f"evals/{eval_id}")


def _ordered(ctx: Ctx, items: list[Obj], keys: dict[str, str]) -> list[Obj]:
    order = ctx.call.query.get("order", "asc")
    if order not in ("asc", "desc"):
        raise errors.invalid_payload(f"'order' must be 'asc' or 'desc', not {order!r}.", "order")
    order_by = ctx.call.query.get("order_by", "created_at")
    if order_by not in keys:
        raise errors.invalid_payload(f"'order_by' must be one of {', '.join(keys)}, not {order_by!r}.", "order_by")
    return sorted(items, key=lambda o: (o[keys[order_by]], o["_seq"]), reverse=order == "desc")


def list_evals(ctx: Ctx, _: dict[str, str]) -> Reply:
    """``GET /evals`` with ``after``, ``limit``, ``order`` and ``order_by``."""
    require_preview(ctx)
    ordered = _ordered(ctx, list(evals_of(ctx).values()), {"created_at": "_seq", "updated_at": "_updated"})
    return page(ctx, [render(ctx, e) for e in ordered], 20, ids_in_body=True)


def retrieve(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /evals/{id}``."""
    return Reply(200, render(ctx, get_eval(ctx, params["eval"])))


def update(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /evals/{id}``: only ``name`` and ``metadata`` change."""
    record = get_eval(ctx, params["eval"])
    body = ctx.call.json()
    extra = sorted(set(body) - UPDATABLE)
    if extra:
        raise errors.invalid_payload(
            f"Only 'name' and 'metadata' of an eval can be updated, not {', '.join(extra)}; create a new eval.",
            extra[0],
        )
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"]:
            raise errors.invalid_payload("'name' must be a non-empty string.", "name")
        record["name"] = body["name"]
    if "metadata" in body:
        record["metadata"] = check_metadata(body["metadata"])
    record["_updated"] = ctx.svc.now()
    return Reply(200, render(ctx, record))


def delete(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /evals/{id}``: the eval and its runs."""
    record = get_eval(ctx, params["eval"])
    del evals_of(ctx)[record["id"]]
    return Reply(200, {"object": "eval.deleted", "deleted": True, "eval_id": record["id"]})
