"""The official openai-python client runs its fine-tuning workflows unchanged against ``aoai-emulator``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from pulumi_aoai_finetuning.pricing import auto_epochs

from .support import RunningCli, chat_dataset, run_cli

BASE_MODEL = "gpt-4o-mini-2024-07-18"
TERMINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningCli]:
    with run_cli("--port", "0", "--seed", "42", "--clock", "immediate") as running:
        yield running


@pytest.fixture
def account(server: RunningCli, request: pytest.FixtureRequest) -> dict[str, object]:
    name = "oai" + request.node.name.replace("_", "")[-20:].lower()
    response = server.admin("POST", "/accounts", json={"name": name, "location": "eastus2"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def poll(get, job_id: str, until: set[str], limit: int = 20):  # type: ignore[no-untyped-def]
    """Read a job until its status is in ``until`` (each read moves it a step under the immediate clock)."""
    for _ in range(limit):
        job = get(job_id)
        if job.status in until:
            return job
    raise AssertionError(f"job {job_id} never reached {until}")


def test_azure_openai_dated_client_completes_the_whole_workflow(account: dict[str, object], tmp_path: Path) -> None:
    """AzureOpenAI (dated api-version) uploads, trains, pauses, resumes, cancels, reads results and deletes."""
    client = openai.AzureOpenAI(
        azure_endpoint=str(account["endpoint"]),
        api_key=str(account["keys"][0]),  # type: ignore[index]
        api_version="2025-04-01-preview",
        max_retries=0,
    )
    with chat_dataset(tmp_path / "train.jsonl").open("rb") as fh:
        uploaded = client.files.create(file=fh, purpose="fine-tune")
    assert uploaded.id.startswith("file-")
    assert len(uploaded.id) == 37
    assert uploaded.status == "pending"
    assert uploaded.filename == "train.jsonl"
    assert uploaded.id in [f.id for f in client.files.list()]
    assert client.files.retrieve(uploaded.id).status == "processed"

    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=uploaded.id, suffix="e2e", seed=7)
    assert job.id.startswith("ftjob-")
    assert job.status == "pending"
    assert job.hyperparameters.n_epochs == -1
    assert job.result_files is None
    assert job.fine_tuned_model is None

    running = poll(client.fine_tuning.jobs.retrieve, job.id, {"running"})
    assert running.estimated_finish is not None
    # "auto" resolves by OpenAI's default rule for the dataset's size, as a FineTuningJob's estimate assumes
    assert running.hyperparameters.n_epochs == auto_epochs(len((tmp_path / "train.jsonl").read_text().splitlines()))
    assert client.fine_tuning.jobs.pause(job.id).status == "pausing"
    assert poll(client.fine_tuning.jobs.retrieve, job.id, {"paused"}).status == "paused"
    assert client.fine_tuning.jobs.resume(job.id).status == "resuming"
    done = poll(client.fine_tuning.jobs.retrieve, job.id, TERMINAL)
    assert done.status == "succeeded"
    assert done.fine_tuned_model is not None
    assert done.fine_tuned_model.startswith(f"{BASE_MODEL}.ft-")
    assert done.fine_tuned_model.endswith("-e2e")
    assert done.trained_tokens
    assert done.finished_at
    assert done.result_files

    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    assert messages[0] == "Job succeeded."
    assert {"Job paused.", "Job resumed.", "Job started."} <= set(messages)
    assert any(m.startswith("Step ") for m in messages), "metrics events are listed"

    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    assert len(checkpoints) == 3
    assert [c.step_number for c in checkpoints] == sorted((c.step_number for c in checkpoints), reverse=True)
    assert checkpoints[0].fine_tuned_model_checkpoint == done.fine_tuned_model
    assert (
        checkpoints[1].fine_tuned_model_checkpoint == f"{done.fine_tuned_model}:ckpt-step-{checkpoints[1].step_number}"
    )
    assert all(c.id.startswith("ftchkpt-") for c in checkpoints)

    result = client.files.retrieve(done.result_files[0])
    assert result.purpose == "fine-tune-results"
    assert result.filename == "results.csv"
    rows = list(csv.DictReader(io.StringIO(client.files.content(result.id).text)))
    assert list(rows[0]) == [
        "step", "train_loss", "train_mean_token_accuracy", "valid_loss", "validation_mean_token_accuracy",
        "full_valid_loss", "full_valid_mean_token_accuracy",
    ]  # fmt: skip
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert float(rows[-1]["train_mean_token_accuracy"]) > float(rows[0]["train_mean_token_accuracy"])
    assert int(rows[-1]["step"]) == checkpoints[0].step_number

    assert done.fine_tuned_model in [m.id for m in client.models.list()]

    second = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=uploaded.id)
    cancelled = client.fine_tuning.jobs.cancel(second.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.ConflictError):
        client.fine_tuning.jobs.cancel(second.id)

    deleted = client.files.delete(uploaded.id)
    assert deleted.deleted is True
    assert deleted.id == uploaded.id
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_openai_v1_client_completes_the_core_workflow(account: dict[str, object], tmp_path: Path) -> None:
    """The plain OpenAI client pointed at <endpoint>/openai/v1/ with the key as bearer trains and downloads results."""
    client = openai.OpenAI(
        base_url=f"{account['endpoint']}openai/v1/",
        api_key=str(account["keys"][1]),  # type: ignore[index]
        max_retries=0,
    )
    with chat_dataset(tmp_path / "v1.jsonl", 15).open("rb") as fh:
        uploaded = client.files.create(file=fh, purpose="fine-tune")
    assert client.files.wait_for_processing(uploaded.id, poll_interval=0.01).status == "processed"
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=uploaded.id, method={"type": "supervised"})
    done = poll(client.fine_tuning.jobs.retrieve, job.id, TERMINAL)
    assert done.status == "succeeded"
    assert done.fine_tuned_model
    assert next(j.id for j in client.fine_tuning.jobs.list()) == job.id
    assert len(client.fine_tuning.jobs.checkpoints.list(job.id).data) == 3
    assert client.files.content(done.result_files[0]).text.startswith("step,train_loss")
    assert done.fine_tuned_model in [m.id for m in client.models.list()]
    assert client.files.delete(uploaded.id).deleted is True


def test_wrong_key_is_refused_with_azures_401(account: dict[str, object]) -> None:
    """A key of another shape or value gets Azure's gateway 401, which openai raises as AuthenticationError."""
    client = openai.AzureOpenAI(
        azure_endpoint=str(account["endpoint"]),
        api_key="0" * 32,
        api_version="2024-10-21",
        max_retries=0,
    )
    with pytest.raises(openai.AuthenticationError) as info:
        client.files.list()
    assert info.value.status_code == 401
    assert "Access denied" in str(info.value)
