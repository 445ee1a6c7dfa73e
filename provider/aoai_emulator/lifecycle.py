"""Time-derived state: files, jobs, checkpoint copies, ARM operations and deployments move on when read.

No timers and no background threads: every object stores its phase and when that phase began, and
``settle_*`` brings it up to date against the clock whenever it is read. In the ``immediate`` clock mode
a read moves an object exactly one phase on instead (``step=True``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pulumi_aoai_finetuning.pricing import auto_epochs

from . import ids, results
from .catalog import DEVELOPER_SKUS, Limits, Timings, root_base_model
from .state import Obj

INF = math.inf
JOB_TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
JOB_HOLDS_SLOT = frozenset({"running", "pausing", "paused", "resuming"})


def epoch_seconds(t: float) -> int:
    """Unix seconds as Azure's data plane writes them."""
    return int(t)


def fire_at(since: float, duration: float, now: float, step: bool | None) -> float | None:
    """When a phase ends, or None if not yet.

    ``step`` is None under the time-driven clocks (the phase ends at its deadline); under the immediate
    clock it is True for a read of this object (the phase ends now) and False otherwise.
    """
    if step is None:
        due = since + duration
        return due if now >= due else None
    return now if step else None


# --- files ----------------------------------------------------------------------------------------------


def settle_file(file: Obj, now: float, timings: Timings, step: bool | None, check: Callable[[Obj], list[str]]) -> None:
    """Move an uploaded file from ``pending`` to ``processed``, or ``error`` when ``check`` finds problems."""
    if file["status"] != "pending":
        return
    if fire_at(file["_since"], timings.file_processing, now, step) is not None:
        file["status"] = "error" if check(file) else "processed"


# --- jobs -----------------------------------------------------------------------------------------------


def add_event(job: Obj, at: float, message: str, level: str = "info") -> None:
    """Record a message event of a job."""
    events: list[Obj] = job["_events"]
    events.append(
        {
            "object": "fine_tuning.job.event",
            "id": ids.derived("ftevent", job["id"], len(events)),
            "created_at": epoch_seconds(at),
            "level": level,
            "message": message,
            "type": "message",
            "_seq": len(events),
        }
    )


def _deadline(job: Obj, timings: Timings, slot_free_at: float) -> float | None:
    phase = job["_phase"]
    since: float = job["_since"]
    if phase == "validating":
        return since + timings.job_validation
    if phase == "queued":
        return max(since, slot_free_at) if slot_free_at < INF else None
    if phase == "running":
        return since + max(0.0, timings.job_training - float(job["_trained"]))
    if phase == "pausing":
        return since + timings.job_pausing
    if phase == "resuming":
        return since + timings.job_resuming
    return None


def _resolve_hyperparameters(job: Obj) -> None:
    requested = job["_hp_requested"]
    examples = max(1, int(job["_examples"]))
    epochs = requested.get("n_epochs")
    batch = requested.get("batch_size")
    # "auto" picks what OpenAI's default rule picks for the dataset's size: the rule a FineTuningJob's estimate
    # at preview uses, so that the estimate can be tested here for auto jobs too.
    epochs = int(epochs) if isinstance(epochs, int | float) and not isinstance(epochs, bool) else auto_epochs(examples)
    batch = int(batch) if isinstance(batch, int | float) and not isinstance(batch, bool) else max(1, examples // 200)
    lr = requested.get("learning_rate_multiplier")
    lr = float(lr) if isinstance(lr, int | float) and not isinstance(lr, bool) else 1.0
    steps_per_epoch = max(1, math.ceil(examples / batch))
    job["hyperparameters"] = {"n_epochs": epochs, "batch_size": batch, "learning_rate_multiplier": lr}
    method = job.get("method")
    if isinstance(method, dict) and isinstance(method.get(method.get("type", "")), dict):
        method[method["type"]]["hyperparameters"] = dict(job["hyperparameters"])
    job["_epochs"] = epochs
    job["_steps_per_epoch"] = steps_per_epoch
    job["_total_steps"] = steps_per_epoch * epochs


def _succeed(account: Obj, job: Obj, at: float, store_ids: ids.IdFactory) -> None:
    model = f"{root_base_model(job['model'])}.ft-{store_ids.hex32()}"
    if job.get("suffix"):
        model += f"-{job['suffix']}"
    total, spe = job["_total_steps"], job["_steps_per_epoch"]
    with_validation = bool(job.get("validation_file"))
    add_event(job, at, "Postprocessing started.")
    checkpoints = []
    for epoch in range(max(1, job["_epochs"] - 2), job["_epochs"] + 1):
        step = min(total, epoch * spe)
        name = model if step == total else f"{model}:ckpt-step-{step}"
        metrics = results.metrics_at(job["seed"], step, total, with_validation)
        checkpoints.append(
            {
                "object": "fine_tuning.job.checkpoint",
                "id": ids.derived("ftchkpt", job["id"], step),
                "created_at": epoch_seconds(at),
                "fine_tuned_model_checkpoint": name,
                "fine_tuning_job_id": job["id"],
                "step_number": step,
                "metrics": metrics,
            }
        )
    job["_checkpoints"] = checkpoints
    result_id = store_ids.new("file")
    content = results.results_csv(job["seed"], total, spe, with_validation)
    account["files"][result_id] = {
        "object": "file",
        "id": result_id,
        "created_at": epoch_seconds(at),
        "status": "processed",
        "bytes": len(content),
        "purpose": "fine-tune-results",
        "filename": "results.csv",
        "_since": at,
        "_generated_by": job["id"],
    }
    add_event(job, at, f"Completed results file: {result_id}")
    add_event(job, at, f"Training hours billed: {max(0.001, job['_trained'] / 3600):.3f}")
    add_event(job, at, "Job succeeded.")
    job.update(
        status="succeeded",
        fine_tuned_model=model,
        finished_at=epoch_seconds(at),
        trained_tokens=int(job["_tokens"]) * job["_epochs"],
        result_files=[result_id],
        estimated_finish=None,
    )


def fail_job(job: Obj, at: float, code: str, message: str, param: str | None = None) -> None:
    """End a job in ``failed`` with an error, as the service does when data or training goes wrong."""
    job["_phase"] = "failed"
    job["_since"] = at
    job.update(
        status="failed",
        error={"code": code, "message": message, "param": param},
        finished_at=epoch_seconds(at),
        estimated_finish=None,
    )
    add_event(job, at, message, level="error")


def _transition(account: Obj, job: Obj, at: float, timings: Timings, store_ids: ids.IdFactory) -> None:
    phase = job["_phase"]
    if phase == "validating":
        broken = [f for f in (job["training_file"], job.get("validation_file")) if f and f not in account["files"]]
        if broken:
            fail_job(
                job, at, "invalidTrainingFile", f"The file {broken[0]} was deleted before training.", "training_file"
            )
            return
        job["_phase"], job["_since"] = "queued", at
        add_event(job, at, "Job enqueued. Waiting for jobs ahead to complete.")
    elif phase == "queued":
        _resolve_hyperparameters(job)
        job["_phase"], job["_since"], job["_started_at"] = "running", at, at
        job["status"] = "running"
        job["estimated_finish"] = epoch_seconds(at + timings.job_training - job["_trained"])
        add_event(job, at, "Job started.")
    elif phase == "running":
        job["_trained"] = float(timings.job_training)
        job["_phase"], job["_since"] = "succeeded", at
        _succeed(account, job, at, store_ids)
    elif phase == "pausing":
        job["_phase"], job["_since"], job["status"] = "paused", at, "paused"
        add_event(job, at, "Job paused.")
    elif phase == "resuming":
        job["_phase"], job["_since"], job["status"] = "running", at, "running"
        job["estimated_finish"] = epoch_seconds(at + timings.job_training - job["_trained"])
        add_event(job, at, "Job resumed.")


def settle_jobs(
    account: Obj,
    now: float,
    timings: Timings,
    store_ids: ids.IdFactory,
    *,
    stepwise: bool,
    targets: set[str] | None = None,
) -> None:
    """Bring every job of an account up to date; one running job at a time, the rest wait in order.

    ``stepwise`` (the immediate clock) moves each job in ``targets`` (all when ``None``) one phase on; a
    queued target blocked by a running job moves that job on first, so polling a queued job terminates.
    """
    jobs = sorted(account["jobs"].values(), key=lambda j: j["_seq"])
    if stepwise and targets is not None:
        holders = [j["id"] for j in jobs if j["_phase"] in JOB_HOLDS_SLOT]
        if holders and any(account["jobs"][t]["_phase"] == "queued" for t in targets if t in account["jobs"]):
            targets = targets | set(holders)
    slot_free_at = -INF
    for job in jobs:
        budget = 1 if stepwise and (targets is None or job["id"] in targets) else 0
        while job["_phase"] not in JOB_TERMINAL and job["_phase"] != "paused":
            due = _deadline(job, timings, slot_free_at)
            if stepwise:
                if budget <= 0 or (job["_phase"] == "queued" and slot_free_at == INF):
                    break
                budget -= 1
                at = now
            else:
                if due is None or due > now:
                    break
                at = due
            _transition(account, job, at, timings, store_ids)
        if job["_phase"] in JOB_HOLDS_SLOT:
            slot_free_at = INF
        elif "_started_at" in job and job.get("finished_at") is not None:
            slot_free_at = max(slot_free_at, float(job["_since"]))


def progress(job: Obj, now: float, timings: Timings) -> float:
    """How far training has gone, from 0 to 1."""
    if job["_phase"] == "succeeded":
        return 1.0
    trained = float(job["_trained"])
    if job["_phase"] == "running":
        trained += max(0.0, now - job["_since"])
    return min(1.0, trained / max(timings.job_training, 1e-9))


def job_events(job: Obj, now: float, timings: Timings) -> list[Obj]:
    """A job's events, newest first: its messages plus a metrics event every tenth of the way."""
    events: list[Any] = [dict(e) for e in job["_events"]]
    if "_total_steps" in job:
        total = job["_total_steps"]
        done = int(progress(job, now, timings) * total)
        every = max(1, total // 10)
        start = float(job["_started_at"])
        with_validation = bool(job.get("validation_file"))
        for step in range(every, done + 1, every):
            m = results.metrics_at(job["seed"], step, total, with_validation)
            at = start + timings.job_training * step / total
            events.append(
                {
                    "object": "fine_tuning.job.event",
                    "id": ids.derived("ftevent", job["id"], "metrics", step),
                    "created_at": epoch_seconds(min(at, now)),
                    "level": "info",
                    "message": f"Step {step}/{total}: training loss={m['train_loss']:.4f}",
                    "type": "metrics",
                    "data": m,
                    "_seq": 0.5 + step / (total + 1),
                }
            )
    events.sort(key=lambda e: (e["created_at"], e["_seq"]), reverse=True)
    for e in events:
        e.pop("_seq", None)
    return events


# --- checkpoint copies ----------------------------------------------------------------------------------


def settle_copy(copy: Obj, accounts: dict[str, Obj], now: float, timings: Timings, step: bool | None) -> None:
    """Finish a checkpoint copy after its duration; the model then exists in the destination account."""
    if copy["status"] != "InProgress":
        return
    at = fire_at(copy["_since"], timings.copy, now, step)
    if at is None:
        return
    dest = accounts.get(copy["_dest_account"])
    if dest is None:
        copy["status"] = "Failed"
        return
    copy["status"] = "Completed"
    dest["copied_models"][copy["_model"]] = {
        "id": copy["_model"],
        "created_at": epoch_seconds(at),
        "base": root_base_model(copy["_model"]),
        "job": copy["_job"],
        "source_account": copy["_source_account"],
    }


# --- ARM operations and deployments -----------------------------------------------------------------------


def settle_operation(
    op: Obj, accounts: dict[str, Obj], now: float, step: bool | None, deleted: dict[str, Obj] | None = None
) -> None:
    """Complete an ARM async operation when its time is up and apply what it does.

    A deleted account moves to ``deleted`` (the soft-deleted accounts) when given, as Azure keeps it 48 hours.
    """
    if op["status"] != "InProgress":
        return
    at = fire_at(op["_since"], op["_duration"], now, step)
    if at is None:
        return
    op["status"] = "Succeeded"
    op["_end"] = at
    account = accounts.get(op["_account"])
    if account is None:
        return
    kind = op["_kind"]
    if kind == "account_create":
        account["properties"]["provisioningState"] = "Succeeded"
    elif kind == "account_delete":
        gone = accounts.pop(op["_account"], None)
        if gone is not None and deleted is not None:
            gone["_deleted_at"] = at
            gone["deployments"] = {}
            deleted[op["_account"]] = gone
    elif kind in ("deployment_create", "deployment_update"):
        dep = account["deployments"].get(op["_target"])
        if dep is not None:
            dep["properties"]["provisioningState"] = "Succeeded"
            dep["_last_used"] = at
            dep.setdefault("_created", at)
    elif kind == "deployment_delete":
        account["deployments"].pop(op["_target"], None)


def is_finetuned(model_name: str) -> bool:
    """True for fine-tuned models and checkpoints, which the service deletes when idle."""
    return ".ft-" in model_name or model_name.startswith("ftchkpt-")


def expire_deployments(account: Obj, now: float, limits: Limits) -> list[str]:
    """Delete deployments the service would have deleted: idle fine-tuned ones, and developer-tier ones."""
    gone = []
    for name, dep in list(account["deployments"].items()):
        if dep["properties"]["provisioningState"] != "Succeeded":
            continue
        model = dep["properties"]["model"]["name"]
        idle = now - float(dep.get("_last_used", now))
        age = now - float(dep.get("_created", now))
        developer = dep["sku"]["name"].lower() in DEVELOPER_SKUS
        if (is_finetuned(model) and idle > limits.idle_deployment_seconds) or (
            developer and age > limits.developer_deployment_seconds
        ):
            del account["deployments"][name]
            account.setdefault("expired_deployments", []).append({"name": name, "at": now})
            gone.append(name)
    return gone
