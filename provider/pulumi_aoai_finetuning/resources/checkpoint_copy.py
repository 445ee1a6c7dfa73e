"""``CheckpointCopy``: a fine-tuned checkpoint copied into another account (region, subscription)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from .. import config
from ..client import NotFoundError, OperationFailedError
from ..client.waiting import poll_until
from ..inputs import Failures, check_account_id, check_endpoint, check_number, diff, is_unknown, user_inputs
from ._common import Provider, resource_props
from ._getters import outputs_as_getters
from .shapes import CopiedAccountDetailDict

INPUTS = ("endpoint", "job_id", "checkpoint", "destination_account_id", "destination_region", "timeout_minutes")
OUTPUTS = ("model_name", "status", "copied_account_details", "region", "resolved_checkpoint")
REPLACE_ON = ("endpoint", "job_id", "checkpoint", "destination_account_id", "destination_region")
UPDATE_ON = ("timeout_minutes",)
KEPT_BY_UPDATE = OUTPUTS  # only the wait setting changes in place: the copy is the same
DEFAULT_TIMEOUT_MINUTES = 120.0
CHECKPOINT_PREFIX = "ftchkpt-"


def _mine(status: dict[str, Any], destination: str) -> dict[str, Any] | None:
    for detail in status.get("copiedAccountDetails") or []:
        if str(detail.get("destinationResourceId", "")).lower() == destination.lower():
            return dict(detail)
    return None


def checkpoint_id(client: Any, job_id: str, wanted: str | None) -> str:
    """The id (``ftchkpt-...``) of the checkpoint to copy: Azure's copy URL takes an id, never a model name.

    ``wanted`` may be an id (used as is), a checkpoint's model name, or None for the job's final model; a name
    is looked up in the job's checkpoints list.
    """
    if wanted and wanted.startswith(CHECKPOINT_PREFIX):
        return wanted
    if not wanted:
        job = client.get_job(job_id)
        if job.get("status") != "succeeded" or not job.get("fine_tuned_model"):
            raise OperationFailedError(
                f"checkpoint: job {job_id} is {job.get('status')}; only a succeeded job's model can be copied "
                "(wait for the job, or name a checkpoint id ftchkpt-...)"
            )
        wanted = str(job["fine_tuned_model"])
    checkpoints = client.job_checkpoints(job_id)
    for cp in checkpoints:
        if cp.get("fine_tuned_model_checkpoint") == wanted and cp.get("id"):
            return str(cp["id"])
    known = ", ".join(str(cp.get("id")) for cp in checkpoints) or "none"
    raise OperationFailedError(
        f"checkpoint: job {job_id} has no checkpoint of model {wanted!r} (its checkpoints: {known}); "
        "set checkpoint to one of these ids"
    )


class CheckpointCopyProvider(Provider):
    """Starts (or adopts) the copy and waits until the destination reports it ``Completed``."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Offline rules for every input."""
        failures = Failures()
        check_endpoint(failures, news)
        check_account_id(failures, news, "destination_account_id")
        job = news.get("job_id")
        if job is None:
            failures.add("job_id", "job_id is required: the source job, e.g. job.job_id")
        elif not is_unknown(job) and (not isinstance(job, str) or not job.startswith("ftjob-")):
            failures.add("job_id", f"job_id must be a fine-tuning job id (ftjob-...), not {job!r}")
        check_number(failures, news, "timeout_minutes", low=0.01, high=7 * 24 * 60)
        return CheckResult(news, failures.items)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Any change of what is copied where is a new copy."""
        return diff(olds, news, replace=REPLACE_ON, update=UPDATE_ON, keeps=KEPT_BY_UPDATE)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Check the documented prerequisites, start the copy (adopting one in progress), wait for it."""
        inputs = user_inputs(props, INPUTS)
        settings = config.current()
        client = settings.data_client(inputs["endpoint"])
        destination = inputs["destination_account_id"]
        try:
            checkpoint = checkpoint_id(client, inputs["job_id"], inputs.get("checkpoint"))
            region = inputs.get("destination_region") or self._region(destination, settings)
            # A copy already started (by an interrupted run) is adopted rather than requested again.
            try:
                known = _mine(client.copy_status(inputs["job_id"], checkpoint), destination)
            except NotFoundError:
                known = None
            if known is None or known.get("status") == "Failed":
                client.start_copy(inputs["job_id"], checkpoint, destination, region)
            timeout = float(inputs.get("timeout_minutes", DEFAULT_TIMEOUT_MINUTES)) * 60
            status = poll_until(
                lambda: client.copy_status(inputs["job_id"], checkpoint),
                lambda s: (_mine(s, destination) or {}).get("status") in ("Completed", "Failed"),
                timeout_s=timeout,
                interval=settings.poll_interval,
                cap=settings.poll_max,
                describe=lambda _s: (
                    f"the copy of {checkpoint} to {destination} is still in progress after "
                    f"{timeout / 60:g} minutes; the next `pulumi up` resumes waiting for it"
                ),
            )
        finally:
            client.close()
        mine = _mine(status, destination) or {}
        if mine.get("status") != "Completed":
            raise OperationFailedError(
                f"copying {checkpoint} to {destination} failed. The destination needs at least one fine-tuning job, "
                "public network access while copying, and the source account's identity needs 'Azure AI User' on it."
            )
        outputs = {
            **inputs,
            "resolved_checkpoint": checkpoint,
            "region": region,
            "model_name": status.get("checkpointedModelName"),
            "status": mine.get("status"),
            "copied_account_details": [mine],
        }
        return CreateResult(f"{inputs['job_id']}/{checkpoint}->{destination}", outputs)

    def _region(self, destination: str, settings: config.Settings) -> str:
        arm = settings.arm_client()
        try:
            return str(arm.get(destination)["location"])
        except NotFoundError:
            raise OperationFailedError(f"the destination account {destination} does not exist") from None
        finally:
            arm.close()

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the copy's status for our destination, or gone."""
        settings = config.current()
        client = settings.data_client(props["endpoint"])
        try:
            # State written before copies went by id may hold a model name here: resolve it as create does.
            checkpoint = checkpoint_id(client, props["job_id"], props.get("resolved_checkpoint") or props["checkpoint"])
            status = client.copy_status(props["job_id"], checkpoint)
        except NotFoundError:
            return ReadResult(None, {})
        finally:
            client.close()
        mine = _mine(status, props["destination_account_id"])
        if mine is None:
            return ReadResult(None, {})
        return ReadResult(
            id_,
            {
                **user_inputs(props, INPUTS + OUTPUTS),
                "status": mine.get("status"),
                "copied_account_details": [mine],
            },
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only the wait setting changes in place."""
        return UpdateResult({**olds, **user_inputs(news, INPUTS)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """A copy cannot be undone: the copied model stays in the destination (delete its deployments instead)."""
        pulumi.log.info(
            f"{props.get('model_name')} stays in {props.get('destination_account_id')}: Azure has no "
            "operation that removes a copied checkpoint"
        )


@dataclass
class CheckpointCopyArgs:
    """The inputs of a :class:`CheckpointCopy`."""

    endpoint: pulumi.Input[str]
    """The endpoint of the account that ran the job (the source)."""
    job_id: pulumi.Input[str]
    """The source job (``ftjob-...``), e.g. a FineTuningJob's ``job_id``."""
    destination_account_id: pulumi.Input[str]
    """The ARM id of the account to copy into."""
    checkpoint: pulumi.Input[str] | None = None
    """The checkpoint to copy: its id (``ftchkpt-...``) or model name; default: the job's final model."""
    destination_region: pulumi.Input[str] | None = None
    """The destination's region; default: read from ARM."""
    timeout_minutes: pulumi.Input[float] | None = None
    """How long to wait for the copy (default 120)."""


@outputs_as_getters
class CheckpointCopy(Resource, module="azure-openai", name="CheckpointCopy"):
    """A fine-tuned model or checkpoint copied to another account, ready to deploy there."""

    if TYPE_CHECKING:
        endpoint: pulumi.Output[str]
        """The source account's endpoint."""
        job_id: pulumi.Output[str]
        """The source job."""
        checkpoint: pulumi.Output[str | None]
        """The checkpoint asked for (None: the job's final model)."""
        resolved_checkpoint: pulumi.Output[str]
        """The id (``ftchkpt-...``) of the checkpoint actually copied."""
        destination_account_id: pulumi.Output[str]
        """The destination account's ARM id."""
        destination_region: pulumi.Output[str | None]
        """The destination region asked for."""
        timeout_minutes: pulumi.Output[float | None]
        """How long the copy is waited for."""
        model_name: pulumi.Output[str]
        """The model's name in the destination: a Deployment's ``model`` there."""
        status: pulumi.Output[str]
        """The copy's status (``Completed``)."""
        region: pulumi.Output[str]
        """The destination's region."""
        copied_account_details: pulumi.Output[list[CopiedAccountDetailDict]]
        """The service's status of the copy for this destination."""
    else:
        # Pulumi reads these at run time to convert outputs (a float becomes an int, a dict must be a dict):
        # they stay as they were, so outputs keep their values; the precise shapes above are for type checkers.
        endpoint: pulumi.Output[str]
        job_id: pulumi.Output[str]
        checkpoint: pulumi.Output[str]
        destination_account_id: pulumi.Output[str]
        model_name: pulumi.Output[str]
        status: pulumi.Output[str]
        region: pulumi.Output[str]
        copied_account_details: pulumi.Output[list[dict[str, Any]]]

    @overload
    def __init__(
        self, resource_name: str, args: CheckpointCopyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None: ...

    @overload
    def __init__(
        self,
        resource_name: str,
        *,
        opts: pulumi.ResourceOptions | None = None,
        endpoint: pulumi.Input[str],
        job_id: pulumi.Input[str],
        destination_account_id: pulumi.Input[str],
        checkpoint: pulumi.Input[str] | None = None,
        destination_region: pulumi.Input[str] | None = None,
        timeout_minutes: pulumi.Input[float] | None = None,
    ) -> None: ...

    def __init__(
        self,
        resource_name: str,
        args: CheckpointCopyArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        """Declare a copy, from a :class:`CheckpointCopyArgs` or from keywords.

        :param resource_name: The resource's name in the stack.
        :param args: The inputs, as a :class:`CheckpointCopyArgs` (instead of keywords).
        :param opts: Options for the resource.
        :param endpoint: The endpoint of the account that ran the job (the source).
        :param job_id: The source job (``ftjob-...``), e.g. a FineTuningJob's ``job_id``.
        :param destination_account_id: The ARM id of the account to copy into.
        :param checkpoint: The checkpoint's id (``ftchkpt-...``) or model name; default: the job's final model.
        :param destination_region: The destination's region; default: read from ARM.
        :param timeout_minutes: How long to wait for the copy (default 120).
        """
        props = resource_props("CheckpointCopy", args, kwargs, INPUTS, OUTPUTS)
        super().__init__(CheckpointCopyProvider(), resource_name, props, opts)
