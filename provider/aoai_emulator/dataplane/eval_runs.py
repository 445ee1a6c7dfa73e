"""Eval runs and their output items: create, list, get, cancel, delete; runs move on with the emulator's clock.

A run is ``queued`` for ``Timings.eval_run_queued`` seconds, ``in_progress`` for ``Timings.eval_run``, then
``completed`` (or ``failed`` when its model is gone by then); under the immediate clock each read moves it one
step, as jobs do. Sampling and grading happen when it completes, with :mod:`behaviour` and :mod:`graders`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import behaviour, errors, graders, lifecycle
from ..http import Reply, public
from ..state import Obj
from . import eval_sources
from .answering import knowledge, resolve, tokens
from .context import Ctx, page
from .evals import check_metadata, get_eval

TERMINAL = frozenset({"completed", "failed", "canceled"})
RUN_STATUSES = ("queued", "in_progress", "completed", "canceled", "failed")


def _get_run(ctx: Ctx, params: dict[str, str], read: bool = True) -> tuple[Obj, Obj]:
    record = get_eval(ctx, params["eval"])
    run: Obj | None = record["_runs"].get(params["run"])
    if run is None:
        raise errors.not_found("eval run", params["run"])
    settle(ctx, record, run, read)
    return record, run


def settle(ctx: Ctx, record: Obj, run: Obj, read: bool) -> None:
    """Move a run on against the clock (one step per read under the immediate clock)."""
    svc = ctx.svc
    step = svc.step(read)
    durations = {"queued": svc.timings.eval_run_queued, "in_progress": svc.timings.eval_run}
    while run["status"] in durations:
        at = lifecycle.fire_at(run["_since"], durations[run["status"]], svc.now(), step)
        if at is None:
            return
        if run["status"] == "queued":
            run["status"], run["_since"] = "in_progress", at
        else:
            _complete(ctx, record, run, at)
        if step is not None:
            return


def _fail(run: Obj, at: float, code: str, message: str) -> None:
    run["status"], run["_since"] = "failed", at
    run["error"] = {"code": code, "message": message}


def _errored(model: str, params: dict[str, Any], messages: list[dict[str, str]]) -> dict[str, Any]:
    """The sample of an item the model could not be asked: its prompt came out empty."""
    return {
        "input": messages,
        "output": [],
        "finish_reason": "",
        "model": model,
        "usage": {"total_tokens": 0, "completion_tokens": 0, "prompt_tokens": 0, "cached_tokens": 0},
        "error": {
            "code": "invalid_input",
            "message": "The item's input messages are empty; check 'input_messages' against the item's fields.",
        },
        "temperature": float(params.get("temperature", 1.0)),
        "max_completion_tokens": params.get("max_completion_tokens"),
        "top_p": float(params.get("top_p", 1.0)),
        "seed": int(params.get("seed", 42)),
    }


def _sample(
    run: Obj, model: str | None, known: behaviour.Knowledge | None, item: dict[str, Any], given: Any
) -> tuple[dict[str, Any], Any]:
    """The output item's ``sample`` and the ``sample`` namespace graders see."""
    source = run["data_source"]
    params = source.get("sampling_params") or {}
    if model is None:
        namespace = dict(given or {})
        text = graders.lookup("output_text", namespace)
        messages: list[dict[str, str]] = []
        output = [{"role": "assistant", "content": text}] if isinstance(text, str) else []
        usage = {"total_tokens": 0, "completion_tokens": 0, "prompt_tokens": 0, "cached_tokens": 0}
        shown_model = str(namespace.get("model", ""))
    else:
        messages = eval_sources.prompt_messages(source, item)
        if not any(m["content"] for m in messages):
            return _errored(model, params, messages), {}
        reply = behaviour.answer(known, model, messages)
        prompt = sum(tokens(m["content"]) for m in messages)
        completion = tokens(reply.text)
        output = [{"role": "assistant", "content": reply.text}]
        usage = {
            "total_tokens": prompt + completion,
            "completion_tokens": completion,
            "prompt_tokens": prompt,
            "cached_tokens": 0,
        }
        namespace = {
            "model": model,
            "output_text": reply.text,
            "choices": [{"index": 0, "finish_reason": "stop", "message": output[0]}],
        }
        shown_model = model
    sample = {
        "input": messages,
        "output": output,
        "finish_reason": "stop" if output else "",
        "model": shown_model,
        "usage": usage,
        "error": None,
        "temperature": float(params.get("temperature", 1.0)),
        "max_completion_tokens": params.get("max_completion_tokens"),
        "top_p": float(params.get("top_p", 1.0)),
        "seed": int(params.get("seed", 42)),
    }
    return sample, namespace


def _complete(ctx: Ctx, record: Obj, run: Obj, at: float) -> None:
    """Sample (for a completions run) and grade every item, then count."""
    name = run["data_source"].get("model")
    model = None
    if run["data_source"]["type"] == "completions":
        model = resolve(ctx, str(name))
        if model is None:
            _fail(run, at, "model_not_found", f"The model '{name}' no longer exists; the run could not sample it.")
            return
        dep = ctx.account["deployments"].get(str(name))
        if dep is not None:
            dep["_last_used"] = at
    # What the model learnt is looked up once for the whole run, not once per item.
    known = knowledge(ctx, model) if model is not None else None
    criteria, ids = record["testing_criteria"], record["_criteria_ids"]
    tally = {cid: [0, 0] for cid in ids}
    counts = {"total": 0, "errored": 0, "failed": 0, "passed": 0}
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cached_tokens": 0}
    items = []
    for index, row in enumerate(run["_rows"]):
        sample, namespace = _sample(run, model, known, row["item"], row.get("sample"))
        results = []
        if sample["error"] is None:
            for cid, criterion in zip(ids, criteria, strict=True):
                result = {**graders.grade(criterion, {"item": row["item"], "sample": namespace}), "name": cid}
                tally[cid][0 if result["passed"] else 1] += 1
                results.append(result)
        passed = sample["error"] is None and all(r["passed"] for r in results)
        counts["total"] += 1
        counts["errored" if sample["error"] else "passed" if passed else "failed"] += 1
        for key in usage:
            usage[key] += sample["usage"][key]
        digest = hashlib.sha256(f"{run['id']}:{index}".encode()).hexdigest()[:32]
        items.append(
            {
                "object": "eval.run.output_item",
                "id": f"outputitem_{digest}",
                "created_at": int(at),
                "run_id": run["id"],
                "eval_id": record["id"],
                "status": "pass" if passed else "fail",
                "datasource_item_id": index,
                "datasource_item": row["item"],
                "results": results,
                "sample": sample,
            }
        )
    run["_items"] = items
    run["result_counts"] = counts
    run["per_testing_criteria_results"] = [
        {"testing_criteria": cid, "passed": tally[cid][0], "failed": tally[cid][1]} for cid in ids
    ]
    run["per_model_usage"] = (
        [{"model_name": model, "invocation_count": counts["total"] - counts["errored"], **usage}]
        if model is not None
        else []
    )
    run["status"], run["_since"] = "completed", at


def _render(run: Obj) -> dict[str, Any]:
    return public(run)


def create(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /evals/{id}/runs``: the data source is checked and read now; sampling and grading come later."""
    record = get_eval(ctx, params["eval"])
    body = ctx.call.json()
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise errors.invalid_payload("'name' must be a string.", "name")
    rows, model = eval_sources.check(ctx, body.get("data_source"), record["data_source_config"])
    metadata = check_metadata(body.get("metadata"))
    svc = ctx.svc
    now = svc.now()
    run_id = f"evalrun_{svc.store.ids.hex32()}"
    run: Obj = {
        "object": "eval.run",
        "id": run_id,
        "eval_id": record["id"],
        "report_url": f"{ctx.prefix()}/evals/{record['id']}/runs/{run_id}",
        "status": "queued",
        "model": model,
        "name": name or f"run-{run_id[-8:]}",
        "created_at": int(now),
        "result_counts": {"total": 0, "errored": 0, "failed": 0, "passed": 0},
        "per_model_usage": None,
        "per_testing_criteria_results": None,
        "data_source": body["data_source"],
        "error": None,
        "metadata": metadata,
        "_seq": svc.store.ids.counter,
        "_since": now,
        "_rows": rows,
        "_items": [],
    }
    record["_runs"][run_id] = run
    return ctx.created(_render(run), f"evals/{record['id']}/runs/{run_id}")


def _order(ctx: Ctx, items: list[Obj], key: str) -> list[Obj]:
    order = ctx.call.query.get("order", "asc")
    if order not in ("asc", "desc"):
        raise errors.invalid_payload(f"'order' must be 'asc' or 'desc', not {order!r}.", "order")
    return sorted(items, key=lambda o: o[key], reverse=order == "desc")


def list_runs(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /evals/{id}/runs`` with ``after``, ``limit``, ``order`` and ``status``."""
    record = get_eval(ctx, params["eval"])
    status = ctx.call.query.get("status")
    if status is not None and status not in RUN_STATUSES:
        raise errors.invalid_payload(f"'status' must be one of {', '.join(RUN_STATUSES)}.", "status")
    runs = list(record["_runs"].values())
    for run in runs:
        settle(ctx, record, run, read=True)
    chosen = [r for r in _order(ctx, runs, "_seq") if status is None or r["status"] == status]
    return page(ctx, [_render(r) for r in chosen], 20, ids_in_body=True)


def retrieve(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /evals/{id}/runs/{run}``."""
    return Reply(200, _render(_get_run(ctx, params)[1]))


def cancel(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /evals/{id}/runs/{run}`` (the spec's cancel) or ``.../cancel`` (openai-python's): stop a run."""
    _, run = _get_run(ctx, params, read=False)
    if run["status"] in TERMINAL:
        raise errors.unexpected_state(
            f"The run '{run['id']}' is already {run['status']} and cannot be canceled.", run["id"]
        )
    run["status"], run["_since"] = "canceled", ctx.svc.now()
    return Reply(200, _render(run))


def delete(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /evals/{id}/runs/{run}``: the run and its output items."""
    record, run = _get_run(ctx, params, read=False)
    del record["_runs"][run["id"]]
    return Reply(200, {"object": "eval.run.deleted", "deleted": True, "run_id": run["id"]})


def list_output_items(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET .../output_items`` with ``after``, ``limit``, ``order`` and ``status`` (pass or fail)."""
    _, run = _get_run(ctx, params, read=False)
    status = ctx.call.query.get("status")
    if status is not None and status not in ("pass", "fail"):
        raise errors.invalid_payload("'status' must be 'pass' or 'fail'.", "status")
    chosen = [i for i in _order(ctx, run["_items"], "datasource_item_id") if status is None or i["status"] == status]
    return page(ctx, chosen, 20, ids_in_body=True)


def retrieve_output_item(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET .../output_items/{id}``."""
    _, run = _get_run(ctx, params, read=False)
    for item in run["_items"]:
        if item["id"] == params["item"]:
            return Reply(200, item)
    raise errors.not_found("output item", params["item"])
