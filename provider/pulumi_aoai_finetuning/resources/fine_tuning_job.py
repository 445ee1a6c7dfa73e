"""``FineTuningJob``: one paid training run and the model it produces; never submitted twice."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from .. import config
from ..client import (
    AzureOpenAIError,
    ConflictError,
    DataPlaneClient,
    NotFoundError,
    OperationFailedError,
    final_metrics,
    normalize_endpoint,
)
from ..client.status import JOB_DEAD, JOB_PAUSED, JOB_TERMINAL
from ..client.waiting import adopt_or_create, poll_until
from ..graders import check_reinforcement
from ..inputs import Failures, check_endpoint, check_number, diff, differs, in_place, is_unknown, user_inputs
from . import checkpoint_selection as selection
from ._common import Provider, resource_props
from ._getters import outputs_as_getters
from .shapes import (
    CheckpointDict,
    CheckpointSelectionArgsDict,
    DatasetDict,
    HyperparametersArgsDict,
    JobErrorDict,
    MethodArgsDict,
    QualityGateArgsDict,
    TokenCountDict,
)
from .training_estimate import ESTIMATE_INPUTS, ESTIMATE_OUTPUTS, check_estimate, estimate_error

INPUTS = (
    "endpoint", "model", "training_file", "validation_file", "suffix", "seed", "hyperparameters", "method",
    "training_type", "wait", "timeout_minutes", "paused", "quality_gate", "delete_model_on_destroy",
    "select_checkpoint_by", *ESTIMATE_INPUTS,
)  # fmt: skip
OUTPUTS = (
    "job_id", "status", "fine_tuned_model", "trained_tokens", "result_files", "checkpoints", "metrics", "error",
    "created_at", "finished_at", "job_seed", "datasets", *selection.OUTPUTS, *ESTIMATE_OUTPUTS,
)  # fmt: skip
REPLACE_ON = ("endpoint", "model", "training_file", "validation_file", "suffix", "seed", "hyperparameters", "method",
              "training_type")  # fmt: skip
UPDATE_ON = ("paused", "wait", "timeout_minutes", "quality_gate", "delete_model_on_destroy", "select_checkpoint_by",
             *ESTIMATE_INPUTS)  # fmt: skip
KEPT_BY_UPDATE = ("job_id", "created_at", "job_seed")  # an update never starts another job
# Once a job has succeeded nothing it produced can change; before, an update may resume it and it may finish.
KEPT_ONCE_SUCCEEDED = (
    "status", "fine_tuned_model", "trained_tokens", "result_files", "checkpoints", "metrics", "error", "finished_at",
    *selection.OUTPUTS,
)  # fmt: skip
SUFFIX_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
HYPERPARAMETERS = {
    "n_epochs": (1, 50, True),
    "batch_size": (1, 256, True),
    "learning_rate_multiplier": (1e-6, 10.0, False),
    "prompt_loss_weight": (0.0, 1.0, False),
    "beta": (1e-6, 10.0, False),
}
METHODS = ("supervised", "dpo", "reinforcement")
TRAINING_TYPES = ("standard", "globalstandard", "developer", "developerTier")
# The spelling Azure documents for each tier (the fine-tuning REST walkthrough: "globalstandard", "developerTier");
# ``developer`` is our short name for the developer tier and never goes on the wire.
WIRE_TRAINING_TYPES = {"standard": "standard", "globalstandard": "globalstandard", "developer": "developerTier",
                       "developertier": "developerTier"}  # fmt: skip
METRICS = (
    "train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy", "full_valid_loss",
    "full_valid_mean_token_accuracy",
)  # fmt: skip
# Azure spells the per-step validation accuracy two ways: ``validation_mean_token_accuracy`` in results.csv
# (and its documentation), ``valid_mean_token_accuracy`` in the job's metrics events. A gate copied from either
# is accepted; the ``metrics`` output uses the events' name.
METRIC_SPELLINGS = {"validation_mean_token_accuracy": "valid_mean_token_accuracy"}
DEFAULT_TIMEOUT_MINUTES = 720.0


def _method(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"type": value}
    return dict(value)


def job_seed(inputs: dict[str, Any]) -> int:
    """The user's seed, or one derived from the training inputs: it identifies our job when adopting."""
    if inputs.get("seed") is not None:
        return int(inputs["seed"])
    key = {k: inputs.get(k) for k in REPLACE_ON if k not in ("endpoint", "seed")}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return int(digest[:8], 16) % 2_147_483_647


def metric_name(name: str) -> str:
    """The ``metrics`` output's name for a results.csv column or a gate's metric (either of Azure's spellings)."""
    return METRIC_SPELLINGS.get(name, name)


def job_metrics(final: dict[str, float]) -> dict[str, float]:
    """The ``metrics`` output from results.csv's final values: known metrics under one name, keys sorted.

    Sorted keys make the output the same whatever the column order of results.csv or the spelling it uses.
    """
    out: dict[str, float] = {}
    for key, value in final.items():
        name = metric_name(key)
        if name in METRICS or name == "step":
            out[name] = value
    return dict(sorted(out.items()))


def _check_gate(failures: Failures, gate: Any) -> None:
    if gate is None or is_unknown(gate):
        return
    if not isinstance(gate, dict):
        failures.add("quality_gate", "quality_gate must be a map such as {'max_full_valid_loss': 0.5}")
        return
    for key, value in gate.items():
        bound, _, metric = key.partition("_")
        if bound not in ("max", "min") or metric_name(metric) not in METRICS:
            failures.add(
                f"quality_gate.{key}",
                f"unknown threshold {key!r}; use max_<metric> or min_<metric> with a metric among "
                f"{', '.join(sorted((*METRICS, *METRIC_SPELLINGS)))}",
            )
        elif isinstance(value, bool) or not isinstance(value, int | float):
            failures.add(f"quality_gate.{key}", f"{key} must be a number, not {value!r}")


def _check_hyperparameters(failures: Failures, prop: str, hp: Any, settings: config.Settings) -> None:
    if hp is None or is_unknown(hp):
        return
    if not isinstance(hp, dict):
        failures.add(prop, f"{prop} must be a map such as {{'n_epochs': 3}}")
        return
    for key, value in hp.items():
        if key not in HYPERPARAMETERS:
            failures.add(f"{prop}.{key}", f"unknown hyperparameter {key!r}; known: {', '.join(HYPERPARAMETERS)}")
            continue
        if value == "auto":
            if settings.api_version != "v1":
                failures.add(
                    f"{prop}.{key}",
                    f"'auto' is accepted by the v1 API only; leave {key} out for the default "
                    f"or set azure-openai:apiVersion to v1",
                )
            continue
        low, high, integer = HYPERPARAMETERS[key]
        check_number(failures, {f"{prop}.{key}": value}, f"{prop}.{key}", low=low, high=high, integer=integer)


def gate_misses(gate: dict[str, Any] | None, metrics: dict[str, float]) -> list[str]:
    """The thresholds of ``gate`` that ``metrics`` miss, each with both numbers."""
    misses = []
    for key, limit in (gate or {}).items():
        bound, _, metric = key.partition("_")
        value = metrics.get(metric_name(metric))
        if value is None:
            misses.append(f"{metric} is not in results.csv (does the job have a validation_file?)")
        elif (bound == "max" and value > limit) or (bound == "min" and value < limit):
            misses.append(
                f"{metric} = {value:g}, {'above the maximum' if bound == 'max' else 'below the minimum'} {limit:g}"
            )
    return misses


class FineTuningJobProvider(Provider):
    """Submits (or adopts) a job, waits for it, reports its model, checkpoints and metrics, cancels it on delete."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Every rule that can be checked offline, before anything is paid for."""
        settings = config.current()
        failures = Failures()
        check_endpoint(failures, news)
        for name in ("model", "training_file"):
            value = news.get(name)
            if value is None:
                failures.add(name, f"{name} is required")
            elif not is_unknown(value) and (not isinstance(value, str) or not value):
                failures.add(name, f"{name} must be a non-empty string, not {value!r}")
        suffix = news.get("suffix")
        if (
            suffix is not None
            and not is_unknown(suffix)
            and (not isinstance(suffix, str) or not SUFFIX_RE.match(suffix))
        ):
            failures.add("suffix", f"suffix must be 1 to 40 characters of a-z, A-Z, 0-9, '-' and '_', not {suffix!r}")
        check_number(failures, news, "seed", low=0, high=2_147_483_647, integer=True)
        check_number(failures, news, "timeout_minutes", low=0.01, high=720 * 60)
        _check_hyperparameters(failures, "hyperparameters", news.get("hyperparameters"), settings)
        method = news.get("method")
        if method is not None and not is_unknown(method):
            m = _method(method)
            kind = m.get("type") if m else None
            if kind not in METHODS:
                failures.add(
                    "method", f"method must be one of {', '.join(METHODS)} (or a map with 'type'), not {method!r}"
                )
            elif isinstance(m, dict) and isinstance(m.get(kind), dict):
                _check_hyperparameters(
                    failures, f"method.{kind}.hyperparameters", m[kind].get("hyperparameters"), settings
                )
            if kind == "reinforcement" and isinstance(m, dict):
                check_reinforcement(failures, m.get("reinforcement"))
        training_type = news.get("training_type")
        if training_type is not None and not is_unknown(training_type):
            if str(training_type).lower() not in WIRE_TRAINING_TYPES:
                failures.add(
                    "training_type", f"training_type must be one of {', '.join(TRAINING_TYPES)}, not {training_type!r}"
                )
            elif settings.api_version == "v1":
                failures.add(
                    "training_type",
                    "training_type is sent on dated API versions only; set "
                    "azure-openai:apiVersion to 2025-04-01-preview",
                )
        for flag in ("wait", "paused", "delete_model_on_destroy"):
            value = news.get(flag)
            if value is not None and not is_unknown(value) and not isinstance(value, bool):
                failures.add(flag, f"{flag} must be true or false, not {value!r}")
        if (
            news.get("paused") is True
            and settings.api_version not in ("v1",)
            and not settings.api_version.endswith("-preview")
        ):
            failures.add(
                "paused",
                f"pause and resume need azure-openai:apiVersion v1 or a preview version, not {settings.api_version}",
            )
        _check_gate(failures, news.get("quality_gate"))
        selection.check_selection(failures, news)
        if news.get("quality_gate") and news.get("wait") is False:
            failures.add("quality_gate", "a quality_gate needs wait=true: the metrics exist only once the job is done")
        # Tokens and cost at preview, and the budget guard (training_estimate.py).
        submits = not olds or any(differs(olds.get(k), news.get(k)) for k in REPLACE_ON)
        check_estimate(failures, news, submits=submits)
        return CheckResult(news, failures.items)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """The plan for ``news``; a new ``select_checkpoint_by`` re-selects in place (its outputs then change)."""
        return selection.unsettled(self._diff(olds, news), olds, news)

    def _diff(self, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Replace on any training input; pause/resume in place; waiting settings touch nothing remote.

        A dataset re-uploaded with identical content (a new file id, the same content-addressed name) is not
        a reason to pay for training again: a finished job then only records the new id.
        """
        result = diff(olds, news, replace=REPLACE_ON, update=UPDATE_ON, keeps=self._kept(olds))
        if olds.get("status") in JOB_DEAD:
            # Cancelled or failed since the last up (a refresh saw it): the declared model does not exist.
            return DiffResult(changes=True, replaces=[*(result.replaces or []), "status"], delete_before_replace=False)
        if not result.changes and olds.get("status") in JOB_PAUSED and news.get("paused") is not True:
            # Paused outside Pulumi (a refresh saw it) while the stack declares it running: resume it.
            return in_place(olds, news, replace=REPLACE_ON, keeps=self._kept(olds))
        files = {"training_file", "validation_file"}
        replaces = list(result.replaces or [])
        if replaces and set(replaces) <= files and olds.get("status") == "succeeded":
            same = [key for key in replaces if self._same_content(olds, news, key)]
            replaces = [key for key in replaces if key not in same]
            if not replaces:
                return in_place(olds, news, replace=REPLACE_ON, keeps=self._kept(olds))
        return result

    def _kept(self, olds: dict[str, Any]) -> tuple[str, ...]:
        """The outputs an in-place update keeps: the job itself, and all it produced once it has succeeded."""
        return KEPT_BY_UPDATE + (KEPT_ONCE_SUCCEEDED if olds.get("status") == "succeeded" else ())

    def _same_content(self, olds: dict[str, Any], news: dict[str, Any], key: str) -> bool:
        known = (olds.get("datasets") or {}).get(key) or {}
        new_id = news.get(key)
        if not known.get("filename") or not isinstance(new_id, str) or is_unknown(new_id):
            return False
        client = config.current().data_client(str(news.get("endpoint") or olds["endpoint"]))
        try:
            return bool(client.get_file(new_id).get("filename") == known["filename"])
        except AzureOpenAIError:
            return False  # cannot tell: the safe answer is the one that retrains
        finally:
            client.close()

    def _datasets(
        self, client: DataPlaneClient, inputs: dict[str, Any], previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The content-addressed names of the job's files, to recognise an identical re-upload later."""
        out: dict[str, Any] = {}
        for key in ("training_file", "validation_file"):
            file_id = inputs.get(key)
            if not file_id:
                continue
            known = ((previous or {}).get("datasets") or {}).get(key) or {}
            if known.get("id") == file_id:
                out[key] = known
                continue
            try:
                out[key] = {"id": file_id, "filename": client.get_file(file_id).get("filename")}
            except NotFoundError:
                out[key] = {"id": file_id, "filename": None}
        return out

    # --- create ------------------------------------------------------------------------------------------

    def _body(self, inputs: dict[str, Any], seed: int, client: DataPlaneClient) -> dict[str, Any]:
        body: dict[str, Any] = {"model": inputs["model"], "training_file": inputs["training_file"], "seed": seed}
        for key in ("validation_file", "suffix", "hyperparameters"):
            if inputs.get(key) is not None:
                body[key] = inputs[key]
        method = _method(inputs.get("method"))
        if method is not None:
            body["method"] = method
        if inputs.get("training_type") is not None and client.dated:
            body["trainingType"] = WIRE_TRAINING_TYPES[str(inputs["training_type"]).lower()]
        return body

    def _matches(self, job: dict[str, Any], inputs: dict[str, Any], seed: int) -> bool:
        suffix = job.get("suffix", job.get("user_provided_suffix"))
        return (
            job.get("status") not in JOB_DEAD
            and job.get("model") == inputs["model"]
            and job.get("training_file") == inputs["training_file"]
            and job.get("validation_file") == inputs.get("validation_file")
            and job.get("seed") == seed
            and (suffix or None) == (inputs.get("suffix") or None)
        )

    def _find_or_submit(
        self, client: DataPlaneClient, inputs: dict[str, Any], seed: int, settings: config.Settings
    ) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for job in client.list_jobs():
                if self._matches(job, inputs, seed):
                    pulumi.log.info(
                        f"adopting fine-tuning job {job['id']} ({job.get('status')}): same inputs, "
                        "submitted by an earlier run; no new job is started"
                    )
                    return dict(job)
            return None

        body = self._body(inputs, seed, client)
        key = ("job", normalize_endpoint(inputs["endpoint"]), json.dumps(body, sort_keys=True, default=str))
        return adopt_or_create(find, lambda: client.create_job(body), attempts=settings.max_retries, key=key)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Adopt a job with the same inputs or submit one; then wait, read results and apply the quality gate."""
        inputs = user_inputs(props, INPUTS + ESTIMATE_OUTPUTS)
        settings = config.current()
        seed = job_seed(inputs)
        client = settings.data_client(inputs["endpoint"])
        try:
            job = self._find_or_submit(client, inputs, seed, settings)
            job = self._settle(client, job, inputs, settings)
            return CreateResult(job["id"], self._outputs(client, inputs, job, seed))
        finally:
            client.close()

    def _settle(
        self, client: DataPlaneClient, job: dict[str, Any], inputs: dict[str, Any], settings: config.Settings
    ) -> dict[str, Any]:
        """Bring the job to what the inputs ask for: paused, or finished (if waiting), or left running."""
        timeout = float(inputs.get("timeout_minutes", DEFAULT_TIMEOUT_MINUTES)) * 60
        if inputs.get("paused") is True:
            job = self._wait(client, job, timeout, settings, until=frozenset({"running", "paused"}) | JOB_TERMINAL)
            if job.get("status") == "running":
                job = client.pause_job(job["id"])
            return self._wait(client, job, timeout, settings, until=frozenset({"paused"}) | JOB_TERMINAL)
        if job.get("status") in JOB_PAUSED:
            job = client.resume_job(job["id"])
        if inputs.get("wait", True) is False:
            return job
        job = self._wait(client, job, timeout, settings, until=JOB_TERMINAL)
        if job["status"] != "succeeded":
            error = job.get("error") or {}
            raise OperationFailedError(
                f"fine-tuning job {job['id']} {job['status']}"
                + (f": {error.get('code')}: {error.get('message')}" if error else "")
            )
        return job

    def _wait(
        self,
        client: DataPlaneClient,
        job: dict[str, Any],
        timeout: float,
        settings: config.Settings,
        until: frozenset[str],
    ) -> dict[str, Any]:
        if job.get("status") in until:
            return job
        return poll_until(
            lambda: client.get_job(job["id"]),
            lambda j: j.get("status") in until,
            timeout_s=timeout,
            interval=settings.poll_interval,
            cap=settings.poll_max,
            describe=lambda j: (
                f"fine-tuning job {j['id']} is still {j.get('status')} after waiting {timeout / 60:g} minutes "
                "(timeout_minutes). The job goes on in Azure; the next `pulumi up` resumes waiting for this same "
                "job and does not start another."
            ),
        )

    def _outputs(
        self,
        client: DataPlaneClient,
        inputs: dict[str, Any],
        job: dict[str, Any],
        seed: int,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        out = {
            **inputs,
            "job_id": job["id"],
            "status": job.get("status"),
            "fine_tuned_model": job.get("fine_tuned_model"),
            "trained_tokens": job.get("trained_tokens"),
            "result_files": job.get("result_files"),
            "error": job.get("error"),
            "created_at": job.get("created_at"),
            "finished_at": job.get("finished_at"),
            "job_seed": seed,
            "checkpoints": None,
            "metrics": None,
            "datasets": self._datasets(client, inputs, previous),
            "estimate_error": estimate_error(inputs.get("estimated_trained_tokens"), job.get("trained_tokens")),
        }
        if job.get("status") == "succeeded":
            out["checkpoints"] = [
                {
                    "id": c["id"],
                    "model": c.get("fine_tuned_model_checkpoint"),
                    "step": c.get("step_number"),
                    "metrics": c.get("metrics"),
                }
                for c in client.job_checkpoints(job["id"])
            ]
            out.update(selection.select(out["checkpoints"], inputs.get("select_checkpoint_by"), job["id"]))
            files = job.get("result_files") or []
            metrics = final_metrics(client.results(files[0])) if files else {}
            out["metrics"] = job_metrics(metrics)
            judged, model = selection.judged(out, inputs.get("select_checkpoint_by"))
            misses = gate_misses(inputs.get("quality_gate"), judged)
            if misses:
                raise OperationFailedError(
                    f"fine-tuning job {job['id']} succeeded but missed its quality_gate: {'; '.join(misses)}. "
                    f"Its model {model} is not exported, so nothing downstream deploys it."
                )
        return out

    # --- read, update, delete -------------------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the job as the service has it, or gone."""
        settings = config.current()
        inputs = user_inputs(props, INPUTS + ESTIMATE_OUTPUTS)
        client = settings.data_client(inputs["endpoint"])
        try:
            try:
                job = client.get_job(id_)
            except NotFoundError:
                return ReadResult(None, {})
            if job.get("status") == "succeeded" and props.get("status") == "succeeded":
                keep = {k: props.get(k) for k in ("checkpoints", "metrics")}
                return ReadResult(id_, {**user_inputs(props, INPUTS + OUTPUTS), **self._plain_outputs(job), **keep})
            try:
                outputs = self._outputs(client, inputs, job, int(props.get("job_seed") or job_seed(inputs)), props)
            except OperationFailedError:
                outputs = {**user_inputs(props, INPUTS + OUTPUTS), **self._plain_outputs(job)}
            return ReadResult(id_, outputs)
        finally:
            client.close()

    def _plain_outputs(self, job: dict[str, Any]) -> dict[str, Any]:
        return {
            "job_id": job["id"],
            "status": job.get("status"),
            "fine_tuned_model": job.get("fine_tuned_model"),
            "trained_tokens": job.get("trained_tokens"),
            "result_files": job.get("result_files"),
            "error": job.get("error"),
            "created_at": job.get("created_at"),
            "finished_at": job.get("finished_at"),
        }

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Pause or resume in place, resume an interrupted wait, re-apply a changed quality gate."""
        inputs = user_inputs(news, INPUTS + ESTIMATE_OUTPUTS)
        settings = config.current()
        client = settings.data_client(inputs["endpoint"])
        try:
            job = client.get_job(id_)
            if inputs.get("paused") is not True and job.get("status") in JOB_PAUSED:
                job = self._wait(client, job, 600, settings, until=frozenset({"paused"}) | JOB_TERMINAL)
            job = self._settle(client, job, inputs, settings)
            return UpdateResult(self._outputs(client, inputs, job, int(olds.get("job_seed") or job_seed(inputs)), olds))
        finally:
            client.close()

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Cancel the job if it still runs, delete its results file and its record, keep the model by default."""
        settings = config.current()
        client = settings.data_client(props["endpoint"])
        try:
            try:
                job = client.get_job(id_)
            except NotFoundError:
                # Gone already (an interrupted destroy, or deleted outside Pulumi): its results file may remain.
                self._delete_results(client, props.get("result_files"))
                return
            if job.get("status") not in JOB_TERMINAL:
                with contextlib.suppress(ConflictError):  # it finished meanwhile
                    client.cancel_job(id_)
                job = poll_until(
                    lambda: client.get_job(id_),
                    lambda j: j.get("status") in JOB_TERMINAL,
                    timeout_s=600,
                    interval=settings.poll_interval,
                    cap=settings.poll_max,
                    describe=lambda j: f"fine-tuning job {id_} did not stop: {j.get('status')}",
                )
            # results.csv belongs to the job, and goes first: once the record is gone nothing points at it.
            self._delete_results(client, job.get("result_files") or props.get("result_files"))
            if client.dated:
                with contextlib.suppress(NotFoundError, ConflictError):
                    client.delete_job(id_)
            model = job.get("fine_tuned_model")
            if props.get("delete_model_on_destroy") is True and model:
                try:
                    client.delete_model(model)
                except NotFoundError:
                    pass
                except AzureOpenAIError as exc:
                    raise OperationFailedError(f"could not delete the model {model}: {exc}") from None
        finally:
            client.close()

    def _delete_results(self, client: DataPlaneClient, files: Any) -> None:
        for file_id in files or []:
            with contextlib.suppress(NotFoundError):
                client.delete_file(file_id)


@dataclass
class FineTuningJobArgs:
    """The inputs of a :class:`FineTuningJob`."""

    endpoint: pulumi.Input[str]
    """The account's endpoint (``https://<account>.openai.azure.com/``)."""
    model: pulumi.Input[str]
    """The base model (``gpt-4o-mini-2024-07-18``), or a fine-tuned model to continue training."""
    training_file: pulumi.Input[str]
    """The training dataset's file id, e.g. a TrainingFile's ``file_id``."""
    validation_file: pulumi.Input[str] | None = None
    """The validation dataset's file id; the ``valid_*`` metrics need one."""
    suffix: pulumi.Input[str] | None = None
    """Up to 40 characters of a-z, A-Z, 0-9, ``-`` and ``_`` added to the model's name."""
    seed: pulumi.Input[int] | None = None
    """The training seed; default: one derived from the training inputs."""
    hyperparameters: pulumi.Input[HyperparametersArgsDict] | None = None
    """Training hyperparameters (``n_epochs``, ``batch_size``...); unset ones take the service's default."""
    method: pulumi.Input[str | MethodArgsDict] | None = None
    """``supervised`` (default), ``dpo`` or ``reinforcement``, or a map with ``type`` and its settings."""
    training_type: pulumi.Input[str] | None = None
    """``standard``, ``globalstandard`` or ``developer`` (= ``developerTier``); dated API versions only."""
    wait: pulumi.Input[bool] | None = None
    """Wait for the job to finish (default true); a quality_gate needs it."""
    timeout_minutes: pulumi.Input[float] | None = None
    """How long to wait for the job (default 720); the next ``pulumi up`` resumes a wait that ran out."""
    paused: pulumi.Input[bool] | None = None
    """Pause the job (true) or resume it (false), in place."""
    quality_gate: pulumi.Input[QualityGateArgsDict] | None = None
    """Thresholds on the final metrics, e.g. ``{"max_full_valid_loss": 0.5}``; a missed one fails the update."""
    delete_model_on_destroy: pulumi.Input[bool] | None = None
    """Delete the fine-tuned model when the job is destroyed (default false: the model is kept)."""
    training_token_count: pulumi.Input[TokenCountDict | None] | None = None
    """A TrainingFile's ``token_count``: the preview's estimate is made from it (None: no estimate, budgets refuse)."""
    max_trained_tokens: pulumi.Input[int] | None = None
    """Refuse at preview a job estimated to train on more tokens than this (needs ``training_token_count``)."""
    max_training_cost: pulumi.Input[float] | None = None
    """Refuse at preview a job estimated to cost more than this many US dollars (needs ``training_token_count``)."""
    select_checkpoint_by: pulumi.Input[str | CheckpointSelectionArgsDict] | None = None
    """The metric that picks ``selected_model`` among the checkpoints, e.g. ``{"metric": "full_valid_loss"}``;
    without it, ``selected_model`` is the final model."""


@outputs_as_getters
class FineTuningJob(Resource, module="azure-openai", name="FineTuningJob"):
    """A fine-tuning job: submitted once, waited for, gated on its metrics; its model feeds deployments."""

    if TYPE_CHECKING:
        endpoint: pulumi.Output[str]
        """The account's endpoint."""
        model: pulumi.Output[str]
        """The base model trained."""
        training_file: pulumi.Output[str]
        """The training dataset's file id."""
        validation_file: pulumi.Output[str | None]
        """The validation dataset's file id."""
        suffix: pulumi.Output[str | None]
        """The suffix of the model's name."""
        seed: pulumi.Output[int | None]
        """The seed given, if any."""
        hyperparameters: pulumi.Output[dict[str, Any] | None]
        """The hyperparameters given."""
        method: pulumi.Output[str | dict[str, Any] | None]
        """The training method given."""
        training_type: pulumi.Output[str | None]
        """The training type given."""
        wait: pulumi.Output[bool | None]
        """Whether the job is waited for."""
        timeout_minutes: pulumi.Output[float | None]
        """How long the job is waited for."""
        paused: pulumi.Output[bool | None]
        """Whether the job is declared paused."""
        quality_gate: pulumi.Output[dict[str, float] | None]
        """The thresholds the final metrics had to meet."""
        delete_model_on_destroy: pulumi.Output[bool | None]
        """Whether destroy deletes the model."""
        select_checkpoint_by: pulumi.Output[str | dict[str, str] | None]
        """The metric (and min or max) that picks ``selected_model``."""
        selected_model: pulumi.Output[str]
        """The best checkpoint's model by ``select_checkpoint_by`` (without it, the final model), to deploy."""
        selected_checkpoint: pulumi.Output[str]
        """The id (``ftchkpt-...``) of that checkpoint, e.g. a CheckpointCopy's ``checkpoint``."""
        job_id: pulumi.Output[str]
        """The job's id (``ftjob-...``)."""
        job_seed: pulumi.Output[int]
        """The seed the job was submitted with (given or derived): how a re-run recognises it."""
        status: pulumi.Output[str]
        """The job's status (``succeeded`` once waited for)."""
        fine_tuned_model: pulumi.Output[str]
        """The trained model's name, to deploy; known once the job succeeded (empty with wait=false until then)."""
        trained_tokens: pulumi.Output[int | None]
        """Tokens trained on (what is billed)."""
        result_files: pulumi.Output[list[str] | None]
        """The file ids of the job's results (results.csv)."""
        checkpoints: pulumi.Output[list[CheckpointDict] | None]
        """The checkpoints of a succeeded job, newest first; each one is deployable."""
        metrics: pulumi.Output[dict[str, float] | None]
        """The final metrics from results.csv, keys sorted (``valid_mean_token_accuracy`` under that name)."""
        error: pulumi.Output[JobErrorDict | None]
        """Why the job failed, if it did."""
        datasets: pulumi.Output[dict[str, DatasetDict]]
        """The training and validation files by id and content-addressed name."""
        created_at: pulumi.Output[int]
        """When the job was submitted (unix seconds)."""
        finished_at: pulumi.Output[int | None]
        """When the job finished (unix seconds)."""
        training_token_count: pulumi.Output[TokenCountDict | None]
        """The training file's token counts the estimate was made from."""
        max_trained_tokens: pulumi.Output[int | None]
        """The trained-tokens budget, if any."""
        max_training_cost: pulumi.Output[float | None]
        """The training-cost budget in US dollars, if any."""
        estimated_trained_tokens: pulumi.Output[int | None]
        """Estimated at preview: the file's tokens x epochs (``n_epochs`` auto: OpenAI's default rule)."""
        estimated_training_cost: pulumi.Output[float | None]
        """Estimated at preview, in US dollars, from the dated price table or stack config; None if unpriced."""
        estimate: pulumi.Output[str | None]
        """How the estimate was made: tokens, epochs, price, its source and date."""
        estimate_error: pulumi.Output[float | None]
        """After training: trained_tokens / estimated_trained_tokens - 1 (0.0 when the estimate was exact)."""
    else:
        # Pulumi reads these at run time to convert outputs (a float becomes an int, a dict must be a dict):
        # they stay as they were, so outputs keep their values; the precise shapes above are for type checkers.
        endpoint: pulumi.Output[str]
        model: pulumi.Output[str]
        job_id: pulumi.Output[str]
        status: pulumi.Output[str]
        fine_tuned_model: pulumi.Output[str | None]
        trained_tokens: pulumi.Output[int | None]
        result_files: pulumi.Output[list[str] | None]
        checkpoints: pulumi.Output[list[dict[str, Any]] | None]
        metrics: pulumi.Output[dict[str, float] | None]
        error: pulumi.Output[dict[str, Any] | None]
        created_at: pulumi.Output[int]
        finished_at: pulumi.Output[int | None]
        estimated_trained_tokens: pulumi.Output[int | None]
        estimated_training_cost: pulumi.Output[float | None]
        estimate: pulumi.Output[str | None]
        estimate_error: pulumi.Output[float | None]
        selected_model: pulumi.Output[str | None]
        selected_checkpoint: pulumi.Output[str | None]

    @overload
    def __init__(
        self, resource_name: str, args: FineTuningJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None: ...

    @overload
    def __init__(
        self,
        resource_name: str,
        *,
        opts: pulumi.ResourceOptions | None = None,
        endpoint: pulumi.Input[str],
        model: pulumi.Input[str],
        training_file: pulumi.Input[str],
        validation_file: pulumi.Input[str] | None = None,
        suffix: pulumi.Input[str] | None = None,
        seed: pulumi.Input[int] | None = None,
        hyperparameters: pulumi.Input[HyperparametersArgsDict] | None = None,
        method: pulumi.Input[str | MethodArgsDict] | None = None,
        training_type: pulumi.Input[str] | None = None,
        wait: pulumi.Input[bool] | None = None,
        timeout_minutes: pulumi.Input[float] | None = None,
        paused: pulumi.Input[bool] | None = None,
        quality_gate: pulumi.Input[QualityGateArgsDict] | None = None,
        delete_model_on_destroy: pulumi.Input[bool] | None = None,
        training_token_count: pulumi.Input[TokenCountDict | None] | None = None,
        max_trained_tokens: pulumi.Input[int] | None = None,
        max_training_cost: pulumi.Input[float] | None = None,
        select_checkpoint_by: pulumi.Input[str | CheckpointSelectionArgsDict] | None = None,
    ) -> None: ...

    def __init__(
        self,
        resource_name: str,
        args: FineTuningJobArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        """Declare a job, from a :class:`FineTuningJobArgs` or from keywords.

        :param resource_name: The resource's name in the stack.
        :param args: The inputs, as a :class:`FineTuningJobArgs` (instead of keywords).
        :param opts: Options for the resource.
        :param endpoint: The account's endpoint (``https://<account>.openai.azure.com/``).
        :param model: The base model, or a fine-tuned model to continue training.
        :param training_file: The training dataset's file id, e.g. a TrainingFile's ``file_id``.
        :param validation_file: The validation dataset's file id; the ``valid_*`` metrics need one.
        :param suffix: Up to 40 characters of a-z, A-Z, 0-9, ``-`` and ``_`` added to the model's name.
        :param seed: The training seed; default: one derived from the training inputs.
        :param hyperparameters: Training hyperparameters (``n_epochs``, ``batch_size``...).
        :param method: ``supervised`` (default), ``dpo`` or ``reinforcement``, or a map with ``type`` and its settings.
        :param training_type: ``standard``, ``globalstandard`` or ``developer`` (= ``developerTier``); dated API versions only.
        :param wait: Wait for the job to finish (default true); a quality_gate needs it.
        :param timeout_minutes: How long to wait for the job (default 720).
        :param paused: Pause the job (true) or resume it (false), in place.
        :param quality_gate: Thresholds on the final metrics, e.g. ``{"max_full_valid_loss": 0.5}``.
        :param delete_model_on_destroy: Delete the fine-tuned model when the job is destroyed (default false).
        :param training_token_count: The training file's ``token_count``: the estimate at preview is made from it.
        :param max_trained_tokens: Refuse at preview a job estimated to train on more tokens than this.
        :param max_training_cost: Refuse at preview a job estimated to cost more than this (US dollars).
        :param select_checkpoint_by: The metric that picks ``selected_model``, e.g. ``{"metric": "full_valid_loss"}``.
        """
        props = resource_props("FineTuningJob", args, kwargs, INPUTS, OUTPUTS)
        super().__init__(FineTuningJobProvider(), resource_name, props, opts)
