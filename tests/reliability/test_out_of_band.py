"""Changes made outside Pulumi: refresh reports each one, and the next ``up`` repairs what should be repaired."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from pulumi_aoai_finetuning import Deployment, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.testing import SECRET_CONFIG, DynamicPlugin, EmulatedAccount, EngineReplay, emulated_account
from tests.emulator.support import chat_dataset

MODEL = "gpt-4o-mini-2024-07-18"
DAY = 24 * 3600


@dataclass
class Stack:
    """A file, a job and a deployment, up to date."""

    account: EmulatedAccount
    engine: EngineReplay
    inputs: dict[str, dict[str, Any]]

    def up_all(self) -> dict[str, str]:
        return {name: self.engine.up(name, cls, self.inputs[name]).op for name, cls in RESOURCES}

    def refresh_all(self) -> dict[str, str]:
        return {name: self.engine.refresh(name).op for name, _ in RESOURCES if name in self.engine.state}

    def submits(self) -> int:
        return sum(1 for r in self.account.requests() if r["method"] == "POST" and r["path"].endswith("/jobs"))


RESOURCES = [("train", TrainingFile), ("job", FineTuningJob), ("dep", Deployment)]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with emulated_account("outofband", seed=505) as account:
        plugin = DynamicPlugin(
            account.stack_config(**{"azure-openai:apiVersion": "2025-04-01-preview"}),
            secrets=set(SECRET_CONFIG),
            cwd=tmp_path,
        )
        engine = EngineReplay(plugin)
        dataset = chat_dataset(tmp_path / "train.jsonl")
        file_id = engine.up("train", TrainingFile, {"endpoint": account.endpoint, "path": str(dataset)}).state.id  # type: ignore[union-attr]
        job = engine.up("job", FineTuningJob, {"endpoint": account.endpoint, "model": MODEL, "training_file": file_id})
        model = job.state.outputs["fine_tuned_model"]  # type: ignore[union-attr]
        inputs = {
            "train": {"endpoint": account.endpoint, "path": str(dataset)},
            "job": {"endpoint": account.endpoint, "model": MODEL, "training_file": file_id},
            "dep": {"account_id": account.id, "deployment_name": "served", "model": model},
        }
        engine.up("dep", Deployment, inputs["dep"])
        try:
            yield Stack(account, engine, inputs)
        finally:
            plugin.close()


def _arm(acct: EmulatedAccount, method: str, path: str, **kwargs: Any) -> httpx2.Response:
    return httpx2.request(
        method,
        f"{acct.arm_endpoint}{acct.id}{path}",
        params={"api-version": "2025-06-01"},
        headers={"Authorization": "Bearer x"},
        **kwargs,
    )


def test_deployment_deleted_by_the_service_after_15_idle_days_is_recreated(stack: Stack) -> None:
    """Azure deletes a fine-tuned deployment idle for 15 days: refresh drops it, up recreates it, no retraining."""
    submits = stack.submits()
    stack.account.emulator.advance(16 * DAY)
    assert stack.refresh_all()["dep"] == "refresh-deleted"
    ops = stack.up_all()
    assert ops == {"train": "same", "job": "same", "dep": "create"}
    assert "served" in stack.account.objects("deployments")
    assert stack.submits() == submits


def test_capacity_changed_outside_is_reported_and_set_back(stack: Stack) -> None:
    """A capacity changed in the portal shows on refresh; the next up sets it back in place."""
    patched = _arm(stack.account, "PATCH", "/deployments/served", json={"sku": {"name": "Standard", "capacity": 9}})
    assert patched.status_code == 202
    _arm(stack.account, "GET", "/deployments/served")
    assert stack.refresh_all()["dep"] == "refresh"
    assert stack.engine.state["dep"].outputs["capacity"] == 9
    assert stack.up_all()["dep"] == "update"
    assert stack.account.objects("deployments")["served"]["sku"]["capacity"] == 1


def test_training_file_deleted_outside_is_uploaded_again_without_retraining(stack: Stack) -> None:
    """A file deleted outside Pulumi comes back on the next up; the finished job only records the new id."""
    file_id = stack.engine.state["train"].id
    httpx2.delete(f"{stack.account.endpoint}openai/v1/files/{file_id}", headers={"api-key": stack.account.key})
    assert stack.refresh_all()["train"] == "refresh-deleted"
    submits = stack.submits()
    new = stack.engine.up("train", TrainingFile, stack.inputs["train"])
    assert new.op == "create"
    job = stack.engine.up("job", FineTuningJob, {**stack.inputs["job"], "training_file": new.state.id})  # type: ignore[union-attr]
    assert job.op == "update"
    assert stack.submits() == submits


def test_job_cancelled_outside_is_reported_and_trained_again(stack: Stack, tmp_path: Path) -> None:
    """A job cancelled outside Pulumi shows as cancelled on refresh; the next up trains the declared model again."""
    inputs = {**stack.inputs["job"], "suffix": "oob", "wait": False}
    created = stack.engine.up("job2", FineTuningJob, inputs)
    assert created.state is not None
    response = httpx2.post(
        f"{stack.account.endpoint}openai/v1/fine_tuning/jobs/{created.state.id}/cancel",
        headers={"api-key": stack.account.key},
    )
    assert response.status_code == 200
    refreshed = stack.engine.refresh("job2")
    assert refreshed.state is not None
    assert refreshed.state.outputs["status"] == "cancelled"
    again = stack.engine.up("job2", FineTuningJob, {**inputs, "wait": True})
    assert again.op == "replace"
    assert again.replaces == ["status"]
    assert again.state is not None
    assert again.state.outputs["status"] == "succeeded"


def test_job_paused_outside_is_resumed_by_the_next_up(stack: Stack) -> None:
    """A job paused outside Pulumi (not what the stack declares) is resumed by the next up."""
    inputs = {**stack.inputs["job"], "suffix": "pausedoob", "wait": False}
    created = stack.engine.up("job3", FineTuningJob, inputs)
    assert created.state is not None
    job_url = f"{stack.account.endpoint}openai/v1/fine_tuning/jobs/{created.state.id}"
    headers = {"api-key": stack.account.key}
    while httpx2.get(job_url, headers=headers).json()["status"] != "running":
        pass
    assert httpx2.post(f"{job_url}/pause", headers=headers).status_code == 200
    refreshed = stack.engine.refresh("job3")
    assert refreshed.state is not None
    assert refreshed.state.outputs["status"] in ("pausing", "paused")
    resumed = stack.engine.up("job3", FineTuningJob, inputs)
    assert resumed.op == "update", "the same inputs, but the job is not in the declared state"
    assert resumed.state is not None
    assert resumed.state.outputs["status"] in ("resuming", "running")
