"""Fine-tuning jobs: create (with the service's checks), list, get, cancel, pause, resume, delete, events, checkpoints."""

from __future__ import annotations

import re
from typing import Any

import orjson

from .. import endpoints, errors, lifecycle
from ..blobs import Blob
from ..catalog import BASE_MODELS, PAUSE_RESUME_VERSIONS, TRAINING_TYPES, root_base_model
from ..http import Call, Reply, public
from ..service import Service
from ..state import Obj
from ..trained_tokens import encoding_of, tokens_per_epoch
from . import files
from .context import PREFIX_RE, Ctx, page

SUFFIX_RE = re.compile(r"^[A-Za-z0-9_-]+$")
HP_RANGES = {"n_epochs": (1, 50), "batch_size": (1, 256), "learning_rate_multiplier": (1e-6, 10.0)}
FORMAT_FOR_METHOD = {"dpo": {"preference"}, "supervised": {"chat", "completion"}, "reinforcement": {"chat"}}


def _render(ctx: Ctx, job: Obj) -> dict[str, Any]:
    out = public(job)
    if ctx.v1:
        out["user_provided_suffix"] = out.pop("suffix", None)
    else:
        out.pop("metadata", None)
    return out


def settle(ctx: Ctx, targets: set[str] | None) -> None:
    """Bring the account's jobs up to date; under the immediate clock move the read ones a step."""
    svc = ctx.svc
    lifecycle.settle_jobs(
        ctx.account, svc.now(), svc.timings, svc.store.ids, stepwise=svc.clock.stepwise, targets=targets
    )


def get_job(ctx: Ctx, job_id: str, read: bool = True) -> Obj:
    """The job, settled, or the 404 the service answers."""
    job: Obj | None = ctx.account["jobs"].get(job_id)
    if job is None:
        raise errors.not_found("fine-tuning job", job_id)
    settle(ctx, {job_id} if read else set())
    return job


def trainable_models(account: Obj) -> dict[str, str]:
    """Models of this account that can be a job's base: fine-tuned models, checkpoints and copies -> root base."""
    out: dict[str, str] = {}
    deleted = set(account.get("deleted_models", []))
    for job in account["jobs"].values():
        if job["status"] == "succeeded":
            for cp in job.get("_checkpoints", []):
                out[cp["fine_tuned_model_checkpoint"]] = root_base_model(job["model"])
                out[cp["id"]] = root_base_model(job["model"])
    for name in account["copied_models"]:
        out[name] = root_base_model(name)
    for name, entry in account.get("retained_models", {}).items():
        out[name] = root_base_model(name)
        out[entry["checkpoint_id"]] = root_base_model(name)
    return {k: v for k, v in out.items() if k not in deleted}


def due_token_counts(svc: Service, call: Call) -> list[tuple[Blob, str]]:
    """The training file's blob and encoding a job create will count and nobody has (call with the service lock held).

    Over-approximates, like the verdicts due: a count made ahead is only CPU spent early, never a change of state.
    """
    m = PREFIX_RE.match(call.path)
    if m is None or call.method != "POST" or (m["rest"] or "/").rstrip("/") != "/fine_tuning/jobs":
        return []
    account = endpoints.by_subdomain(svc, m["account"]) if m["account"] else None
    try:
        body = orjson.loads(call.body)
    except orjson.JSONDecodeError:
        return []
    if account is None or not isinstance(body, dict):
        return []
    model, file_id = body.get("model"), body.get("training_file")
    file = account["files"].get(file_id) if isinstance(file_id, str) else None
    encoding = encoding_of(model) if isinstance(model, str) else None
    if file is None or encoding is None or encoding in file.get("_token_counts", {}):
        return []
    blob = svc.store.blobs.get(file["id"])
    return [] if blob is None or svc.tokens.ready(blob, encoding) else [(blob, encoding)]


def _file_for_training(ctx: Ctx, file_id: Any, field: str) -> Obj:
    if not isinstance(file_id, str) or not file_id:
        raise errors.invalid_payload(f"'{field}' must be a file id.", field)
    file: Obj | None = ctx.account["files"].get(file_id)
    if file is None:
        raise errors.invalid_payload(f"The {field.replace('_', ' ')} '{file_id}' could not be found.", field)
    files.settle(ctx, file, read=False)
    if file["purpose"] != "fine-tune":
        raise errors.invalid_payload(
            f"The file '{file_id}' has purpose '{file['purpose']}'; {field} needs purpose 'fine-tune'.", field
        )
    if file["status"] == "error":
        raise errors.invalid_payload(f"The file '{file_id}' failed validation: {file.get('status_details')}", field)
    if file["status"] != "processed":
        raise errors.invalid_payload(
            f"The file '{file_id}' is not processed yet (status '{file['status']}'); wait until it is 'processed'.",
            field,
        )
    return file


def _hyperparameters(ctx: Ctx, raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise errors.invalid_payload(f"'{where}' must be an object.", where)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        target = f"{where}.{key}"
        if key in {"beta", "l2_multiplier"}:
            out[key] = value
            continue
        if key not in HP_RANGES:
            raise errors.invalid_payload(f"Unknown hyperparameter '{key}'.", target)
        if value == "auto":
            if not ctx.v1:
                raise errors.invalid_payload(
                    f"'{target}' must be a number in this api-version; leave it out for the default.", target
                )
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise errors.invalid_payload(f"'{target}' must be a number, not {value!r}.", target)
        low, high = HP_RANGES[key]
        if key != "learning_rate_multiplier" and not isinstance(value, int):
            raise errors.invalid_payload(f"'{target}' must be an integer, not {value!r}.", target)
        if not low <= value <= high:
            raise errors.invalid_payload(f"'{target}' must be between {low} and {high}, not {value}.", target)
        out[key] = value
    return out


def create(ctx: Ctx, _: dict[str, str]) -> Reply:
    """``POST /fine_tuning/jobs``: the checks the service makes before it accepts (and bills) a job."""
    body = ctx.call.json()
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise errors.invalid_payload("'model' is required.", "model")
    own = trainable_models(ctx.account)
    base = BASE_MODELS.get(model) or BASE_MODELS.get(own.get(model, ""))
    if base is None:
        raise errors.invalid_payload("The specified base model does not support fine-tuning.", "model")
    if "training_file" not in body:
        raise errors.invalid_payload("'training_file' is required.", "training_file")
    training = _file_for_training(ctx, body["training_file"], "training_file")
    validation = None
    if body.get("validation_file") is not None:
        validation = _file_for_training(ctx, body["validation_file"], "validation_file")
    method = body.get("method")
    method_type = "supervised"
    hp = _hyperparameters(ctx, body.get("hyperparameters"), "hyperparameters")
    if method is not None:
        if not isinstance(method, dict) or method.get("type") not in FORMAT_FOR_METHOD:
            raise errors.invalid_payload("'method.type' must be 'supervised', 'dpo' or 'reinforcement'.", "method.type")
        method_type = method["type"]
        if method_type == "reinforcement" and not ctx.v1:
            raise errors.invalid_payload("Reinforcement fine-tuning is available on the v1 API only.", "method.type")
        inner = method.get(method_type) or {}
        hp = {**hp, **_hyperparameters(ctx, inner.get("hyperparameters"), f"method.{method_type}.hyperparameters")}
    if method_type not in base.methods:
        raise errors.invalid_payload(f"The model '{model}' does not support the '{method_type}' method.", "method.type")
    # A chat model trains on chat data only and a completion model on prompt/completion only (Azure refuses the
    # other), and the validation file must hold the same kind of examples as the training file.
    allowed = FORMAT_FOR_METHOD[method_type] & (base.formats | {"preference"})
    for file, field in ((training, "training_file"), (validation, "validation_file")):
        if file is not None and file["_format"] not in allowed:
            raise errors.invalid_payload(
                f"The file '{file['id']}' holds {file['_format']} examples; {method_type} training of '{model}' "
                f"needs {' or '.join(sorted(allowed)) or 'a format it does not support'}.",
                field,
            )
    if validation is not None and validation["_format"] != training["_format"]:
        raise errors.invalid_payload(
            f"The validation file '{validation['id']}' holds {validation['_format']} examples but the training file "
            f"'{training['id']}' holds {training['_format']} examples; both must be of the same format.",
            "validation_file",
        )
    suffix = body.get("suffix")
    max_suffix = 64 if ctx.v1 else 40
    if suffix is not None and (not isinstance(suffix, str) or not SUFFIX_RE.match(suffix) or len(suffix) > max_suffix):
        raise errors.invalid_payload(
            f"'suffix' must be 1 to {max_suffix} characters of a-z, A-Z, 0-9, '-' and '_'.", "suffix"
        )
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2_147_483_647):
        raise errors.invalid_payload("'seed' must be an integer from 0 to 2147483647.", "seed")
    training_type = body.get("trainingType", body.get("training_type"))
    if training_type is not None:
        ok = (isinstance(training_type, str) and training_type.lower() in TRAINING_TYPES) or (
            isinstance(training_type, int) and not isinstance(training_type, bool) and 0 <= training_type <= 2
        )
        if not ok:
            raise errors.invalid_payload(
                f"'trainingType' must be one of standard, globalstandard, developerTier, not {training_type!r}.",
                "trainingType",
            )
        if str(training_type).lower() == "globalstandard" and not base.global_training:
            raise errors.invalid_payload(f"The model '{base.name}' does not support global training.", "trainingType")
    metadata = body.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16):
        raise errors.invalid_payload("'metadata' must be an object of at most 16 pairs.", "metadata")
    settle(ctx, set())
    jobs = ctx.account["jobs"].values()
    active = sum(1 for j in jobs if j["_phase"] not in lifecycle.JOB_TERMINAL)
    limits = ctx.svc.limits
    if active >= limits.max_queued_jobs + limits.max_running_jobs:
        raise errors.quota_exceeded(
            f"The account has {active} jobs waiting or running, the maximum; wait for some to finish."
        )
    if len(ctx.account["jobs"]) >= limits.max_jobs:
        raise errors.quota_exceeded(f"The account holds {limits.max_jobs} fine-tuning jobs; delete old jobs first.")
    svc = ctx.svc
    now = svc.now()
    job_id = svc.store.ids.new("ftjob")
    if seed is None:
        seed = int(job_id[-8:], 16) % 2_147_483_647
    job: Obj = {
        "object": "fine_tuning.job",
        "id": job_id,
        "created_at": lifecycle.epoch_seconds(now),
        "status": "pending",
        "model": model,
        "fine_tuned_model": None,
        "training_file": training["id"],
        "validation_file": validation["id"] if validation else None,
        "result_files": None,
        "finished_at": None,
        "organization_id": None,
        "trained_tokens": None,
        "error": None,
        "estimated_finish": None,
        "hyperparameters": {"n_epochs": -1, "batch_size": -1, "learning_rate_multiplier": 1},
        "suffix": suffix,
        "seed": seed,
        "integrations": body.get("integrations"),
        "method": {"type": method_type, method_type: {"hyperparameters": dict(hp)}},
        "metadata": metadata,
        "_phase": "validating",
        "_since": now,
        "_seq": svc.store.ids.counter,
        "_trained": 0.0,
        "_hp_requested": hp,
        "_examples": training["_examples"],
        "_tokens": tokens_per_epoch(training, ctx.svc.store.blobs.get(training["id"]), model, ctx.svc.tokens),
        "_events": [],
        "_training_type": training_type,  # as sent: not in the job schema, kept for tests of the wire
    }
    lifecycle.add_event(job, now, f"Validating training file: {training['id']}")
    ctx.account["jobs"][job_id] = job
    return ctx.created(_render(ctx, job), f"fine_tuning/jobs/{job_id}")


def list_jobs(ctx: Ctx, _: dict[str, str]) -> Reply:
    """``GET /fine_tuning/jobs``, newest first."""
    settle(ctx, None if ctx.svc.clock.stepwise else set())
    jobs = sorted(ctx.account["jobs"].values(), key=lambda j: j["_seq"], reverse=True)
    return page(ctx, [_render(ctx, j) for j in jobs], 20)


def retrieve(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /fine_tuning/jobs/{id}``."""
    return Reply(200, _render(ctx, get_job(ctx, params["job"])))


def _require_pause_api(ctx: Ctx) -> None:
    if not ctx.v1 and ctx.version not in PAUSE_RESUME_VERSIONS:
        raise errors.resource_not_found()


def cancel(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST .../cancel``: stops a job that has not finished."""
    job = get_job(ctx, params["job"], read=False)
    if job["_phase"] in lifecycle.JOB_TERMINAL:
        raise errors.unexpected_state(
            f"The job '{job['id']}' is already {job['status']} and cannot be cancelled.", job["id"]
        )
    now = ctx.svc.now()
    if job["_phase"] == "running":
        job["_trained"] += now - job["_since"]
    job.update(status="cancelled", finished_at=lifecycle.epoch_seconds(now), estimated_finish=None)
    job["_phase"], job["_since"] = "cancelled", now
    lifecycle.add_event(job, now, "Job cancelled.")
    return Reply(200, _render(ctx, job))


def pause(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST .../pause``: only a running job can be paused."""
    _require_pause_api(ctx)
    job = get_job(ctx, params["job"], read=False)
    if job["_phase"] != "running":
        raise errors.unexpected_state(f"Only a running job can be paused; '{job['id']}' is {job['status']}.", job["id"])
    now = ctx.svc.now()
    job["_trained"] += now - job["_since"]
    job["_phase"], job["_since"], job["status"] = "pausing", now, "pausing"
    job["estimated_finish"] = None
    lifecycle.add_event(job, now, "Job pause requested.")
    return Reply(200, _render(ctx, job))


def resume(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST .../resume``: only a paused job can be resumed."""
    _require_pause_api(ctx)
    job = get_job(ctx, params["job"], read=False)
    if job["_phase"] != "paused":
        raise errors.unexpected_state(f"Only a paused job can be resumed; '{job['id']}' is {job['status']}.", job["id"])
    now = ctx.svc.now()
    job["_phase"], job["_since"], job["status"] = "resuming", now, "resuming"
    lifecycle.add_event(job, now, "Job resume requested.")
    return Reply(200, _render(ctx, job))


def delete(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /fine_tuning/jobs/{id}`` (dated only): a finished job; a running one must be cancelled first."""
    job = get_job(ctx, params["job"], read=False)
    if job["_phase"] not in lifecycle.JOB_TERMINAL:
        raise errors.unexpected_state(
            f"The job '{job['id']}' is {job['status']}; cancel it before deleting it.", job["id"]
        )
    # The job record goes; its fine-tuned models (and checkpoints) stay, as on Azure.
    retained = ctx.account.setdefault("retained_models", {})
    for cp in job.get("_checkpoints", []):
        name = cp["fine_tuned_model_checkpoint"]
        retained[name] = {
            "id": name,
            "created_at": job["finished_at"],
            "base": job["model"],
            "job": job["id"],
            "final": name == job["fine_tuned_model"],
            "checkpoint_id": cp["id"],
        }
    del ctx.account["jobs"][job["id"]]
    return Reply(204)


def events(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET .../events``, newest first."""
    job = get_job(ctx, params["job"])
    return page(ctx, lifecycle.job_events(job, ctx.svc.now(), ctx.svc.timings), 20)


def checkpoints(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET .../checkpoints``, newest first; a job has them once it succeeded."""
    job = get_job(ctx, params["job"])
    items = sorted(job.get("_checkpoints", []), key=lambda c: c["step_number"], reverse=True)
    return page(ctx, [dict(c) for c in items], 10, ids_in_body=ctx.v1)
