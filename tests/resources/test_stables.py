"""``DiffResult.stables``: each provider names what an in-place update keeps, and its update really keeps it.

The first tests call each provider's ``diff`` directly (the Python dynamic server drops ``stables`` on the wire);
the others run the update through the real plugin and check every declared stable output came back unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pulumi_aoai_finetuning import Deployment, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.resources import (
    CheckpointCopyProvider,
    DeploymentProvider,
    FineTuningJobProvider,
    TrainingFileProvider,
)
from pulumi_aoai_finetuning.testing import EmulatedAccount, EngineReplay

MODEL = "gpt-4o-mini-2024-07-18"
ACCOUNT = "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a"

FILE_OLDS = {
    "endpoint": "https://a/",
    "path": "a/train.jsonl",
    "filename": "train.jsonl",
    "sha256": "1" * 64,
    "remote_filename": "train.1111111111111111.jsonl",
    "purpose": "fine-tune",
    "file_id": "file-1",
    "bytes": 10,
    "status": "processed",
    "examples": 12,
    "format": "chat",
    "created_at": 1,
}
DEPLOYMENT_OLDS = {
    "account_id": ACCOUNT,
    "deployment_name": "ft",
    "model": "m.ft-1",
    "model_version": "1",
    "model_format": "OpenAI",
    "sku_name": "Standard",
    "capacity": 1,
    "deployment_id": f"{ACCOUNT}/deployments/ft",
    "provisioning_state": "Succeeded",
    "rate_limits": [{"key": "request", "count": 1}],
}
JOB_OLDS = {
    "endpoint": "https://a/",
    "model": MODEL,
    "training_file": "file-1",
    "suffix": "s",
    "hyperparameters": {"n_epochs": 3},
    "job_id": "ftjob-1",
    "status": "succeeded",
    "fine_tuned_model": "m.ft-1",
}
COPY_OLDS = {
    "endpoint": "https://a/",
    "job_id": "ftjob-1",
    "checkpoint": "ftchkpt-1",
    "destination_account_id": ACCOUNT,
    "model_name": "m.ft-1:ckpt-step-10",
    "status": "Succeeded",
}


def test_a_moved_dataset_file_keeps_the_file_and_what_describes_its_content() -> None:
    """Same content at another path: the file, its hash, size and counts stay; the path is what changes.

    content_url is an in-place input (a new SAS for the same blob is an update), so it is not among them.
    """
    moved = TrainingFileProvider().diff("file-1", FILE_OLDS, {**FILE_OLDS, "path": "b/train.jsonl"})
    assert (moved.changes, moved.replaces) == (True, [])
    assert moved.stables == [
        "bytes", "created_at", "endpoint", "examples", "file_id", "format", "purpose",
        "remote_filename", "sha256", "status", "status_details",
    ]  # fmt: skip
    assert "path" not in (moved.stables or [])


def test_new_dataset_content_promises_nothing_stable() -> None:
    """A replacement is a new file: no output is declared stable."""
    result = TrainingFileProvider().diff("file-1", FILE_OLDS, {**FILE_OLDS, "sha256": "2" * 64})
    assert result.replaces == ["sha256"]
    assert not result.stables


def test_a_capacity_change_keeps_the_deployment_and_its_model_not_its_limits() -> None:
    """Capacity in place: the ARM id and the served model stay; state and rate limits follow the new capacity."""
    result = DeploymentProvider().diff(
        DEPLOYMENT_OLDS["deployment_id"], DEPLOYMENT_OLDS, {**DEPLOYMENT_OLDS, "capacity": 3}
    )
    assert (result.changes, result.replaces) == (True, [])
    assert result.stables == [
        "account_id", "deployment_id", "deployment_name", "model", "model_format", "model_version",
        "source_account_id",
    ]  # fmt: skip
    model = DeploymentProvider().diff("d", DEPLOYMENT_OLDS, {**DEPLOYMENT_OLDS, "model": MODEL})
    assert model.replaces == ["model"]
    assert not model.stables


def test_an_update_of_a_succeeded_job_keeps_its_model() -> None:
    """A finished job's settings change in place: the job and everything it produced stay."""
    result = FineTuningJobProvider().diff("ftjob-1", JOB_OLDS, {**JOB_OLDS, "timeout_minutes": 60})
    assert (result.changes, result.replaces) == (True, [])
    assert set(result.stables or []) == {
        "created_at", "endpoint", "error", "fine_tuned_model", "finished_at", "hyperparameters", "job_id", "job_seed",
        "method", "metrics", "model", "checkpoints", "result_files", "seed", "status", "suffix", "trained_tokens",
        "training_file", "training_type", "validation_file", "selected_model", "selected_checkpoint",
    }  # fmt: skip


def test_a_new_checkpoint_selection_leaves_only_the_selected_model_unknown() -> None:
    """select_checkpoint_by changed: the job and its model stay, the selected model may move (not stable)."""
    olds = {**JOB_OLDS, "select_checkpoint_by": "train_loss"}
    result = FineTuningJobProvider().diff("ftjob-1", olds, {**olds, "select_checkpoint_by": "valid_loss"})
    assert (result.changes, result.replaces) == (True, [])
    stables = set(result.stables or [])
    assert {"job_id", "fine_tuned_model", "checkpoints", "metrics"} <= stables
    assert not stables & {"selected_model", "selected_checkpoint"}


def test_pausing_a_running_job_keeps_the_job_but_not_its_future_model() -> None:
    """A job not finished yet may finish during the update: its model, status and tokens are not promised."""
    running = {**JOB_OLDS, "status": "running", "fine_tuned_model": None}
    result = FineTuningJobProvider().diff("ftjob-1", running, {**running, "paused": True})
    assert (result.changes, result.replaces) == (True, [])
    stables = set(result.stables or [])
    assert {"job_id", "created_at", "job_seed", "training_file", "model"} <= stables
    assert not stables & {"fine_tuned_model", "status", "trained_tokens", "checkpoints", "metrics", "finished_at"}


def test_a_changed_training_input_promises_nothing_stable() -> None:
    """New hyperparameters are a new paid job: nothing is kept."""
    result = FineTuningJobProvider().diff("ftjob-1", JOB_OLDS, {**JOB_OLDS, "hyperparameters": {"n_epochs": 4}})
    assert result.replaces == ["hyperparameters"]
    assert not result.stables


def test_a_checkpoint_copy_wait_change_keeps_the_copy() -> None:
    """Only the wait setting changes in place: the copied model and its status stay."""
    result = CheckpointCopyProvider().diff("c", COPY_OLDS, {**COPY_OLDS, "timeout_minutes": 10})
    assert (result.changes, result.replaces) == (True, [])
    assert set(result.stables or []) == {
        "checkpoint", "copied_account_details", "destination_account_id", "destination_region", "endpoint", "job_id",
        "model_name", "region", "resolved_checkpoint", "status",
    }  # fmt: skip
    moved = CheckpointCopyProvider().diff("c", COPY_OLDS, {**COPY_OLDS, "destination_region": "westus"})
    assert moved.replaces == ["destination_region"]
    assert not moved.stables


# --- the update through the real plugin keeps what the diff declared -----------------------------------------


def _kept(provider: Any, step_id: str, old_outputs: dict[str, Any], new_inputs: dict[str, Any]) -> list[str]:
    """The stables the provider declares for this update, checked to be non-empty."""
    stables = list(provider.diff(step_id, old_outputs, new_inputs).stables or [])
    assert stables, "an in-place update declared nothing stable"
    return stables


def _assert_unchanged(stables: list[str], old: dict[str, Any], new: dict[str, Any]) -> None:
    changed = {k: (old.get(k), new.get(k)) for k in stables if old.get(k) != new.get(k)}
    assert changed == {}, f"declared stable but changed by the update: {changed}"


def test_a_moved_file_is_updated_keeping_every_declared_stable(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path, tmp_path: Path
) -> None:
    """The real Update of a moved file returns the old value of every output its diff declared stable."""
    created = engine.up("train", TrainingFile, {"endpoint": account.endpoint, "path": str(dataset)})
    assert created.state is not None
    old = dict(created.state.outputs)
    moved = tmp_path / "moved" / dataset.name
    moved.parent.mkdir()
    dataset.rename(moved)
    step = engine.up("train", TrainingFile, {"endpoint": account.endpoint, "path": str(moved)})
    assert step.op == "update"
    assert step.state is not None
    stables = _kept(TrainingFileProvider(), step.state.id, old, step.state.inputs)
    assert "file_id" in stables
    _assert_unchanged(stables, old, step.state.outputs)
    assert step.state.outputs["path"] == str(moved)


def test_a_capacity_update_keeps_every_declared_stable(engine: EngineReplay, account: EmulatedAccount) -> None:
    """The real PUT of a new capacity keeps the deployment's id and model, as declared."""
    inputs = {"account_id": account.id, "deployment_name": "base", "model": MODEL}
    created = engine.up("dep", Deployment, inputs)
    assert created.state is not None
    old = dict(created.state.outputs)
    step = engine.up("dep", Deployment, {**inputs, "capacity": 3})
    assert step.op == "update"
    assert step.state is not None
    stables = _kept(DeploymentProvider(), step.state.id, old, step.state.inputs)
    assert "deployment_id" in stables
    _assert_unchanged(stables, old, step.state.outputs)
    assert step.state.outputs["capacity"] == 3


def test_pause_and_resume_keep_every_declared_stable(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """Pause, resume to the end, then a settings change: each real Update keeps what its diff declared."""
    file = engine.up("train", TrainingFile, {"endpoint": account.endpoint, "path": str(dataset)})
    assert file.state is not None
    inputs = {"endpoint": account.endpoint, "model": MODEL, "training_file": file.state.id, "wait": False}
    created = engine.up("job", FineTuningJob, inputs)
    assert created.state is not None
    outputs = dict(created.state.outputs)
    for change in ({"paused": True}, {"paused": False, "wait": True}):
        step = engine.up("job", FineTuningJob, {**inputs, **change})
        assert step.op == "update", change
        assert step.state is not None
        stables = _kept(FineTuningJobProvider(), step.state.id, outputs, step.state.inputs)
        assert "job_id" in stables
        _assert_unchanged(stables, outputs, step.state.outputs)
        outputs = dict(step.state.outputs)
    assert outputs["status"] == "succeeded"
    assert outputs["fine_tuned_model"]
    finished = engine.up("job", FineTuningJob, {**inputs, "paused": False, "wait": True, "timeout_minutes": 30})
    assert finished.op == "update"
    assert finished.state is not None
    stables = _kept(FineTuningJobProvider(), finished.state.id, outputs, finished.state.inputs)
    assert "fine_tuned_model" in stables
    _assert_unchanged(stables, outputs, finished.state.outputs)
