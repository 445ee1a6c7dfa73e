"""What the provider puts on the wire: Azure's spellings, checkpoint ids, PATCH for sku, idempotent transitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from pulumi_aoai_finetuning import CheckpointCopy, Deployment, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.client import ApiKeyAuth, DataPlaneClient
from pulumi_aoai_finetuning.testing import EmulatedAccount, EngineReplay, emulated_account
from tests.emulator.support import allow_copy

from .conftest import DATED, PluginFactory

MODEL = "gpt-4o-mini-2024-07-18"
ARM = {"Authorization": "Bearer x"}


def _file(engine: EngineReplay, acct: EmulatedAccount, dataset: Path, name: str = "train") -> str:
    step = engine.up(name, TrainingFile, {"endpoint": acct.endpoint, "path": str(dataset)})
    assert step.state is not None
    return step.state.id


def _train(engine: EngineReplay, acct: EmulatedAccount, dataset: Path, name: str = "job") -> dict[str, Any]:
    file_id = _file(engine, acct, dataset, f"{name}-file")
    job = engine.up(name, FineTuningJob, {"endpoint": acct.endpoint, "model": MODEL, "training_file": file_id})
    assert job.state is not None
    return job.state.outputs


@pytest.mark.parametrize("spelling", ["developer", "developerTier", "DEVELOPERTIER"])
def test_developer_tier_is_sent_as_azure_documents_it(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path, spelling: str
) -> None:
    """Every accepted spelling of the developer tier reaches the service as ``trainingType: developerTier``."""
    inputs = {"endpoint": account.endpoint, "model": MODEL, "training_file": _file(engine, account, dataset)}
    step = engine.up("job", FineTuningJob, {**inputs, "training_type": spelling})
    assert step.state is not None
    assert step.state.outputs["status"] == "succeeded"
    [job] = account.objects("jobs").values()
    assert job["_training_type"] == "developerTier"


def test_capacity_change_is_a_patch_of_sku_that_keeps_what_was_set_elsewhere(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """A capacity change PATCHes ``sku`` only: a content filter set outside Pulumi survives it."""
    model = _train(engine, account, dataset)["fine_tuned_model"]
    inputs = {"account_id": account.id, "deployment_name": "ft", "model": model}
    engine.up("dep", Deployment, inputs)
    url = f"{account.arm_endpoint}{account.id}/deployments/ft"
    current = httpx2.get(url, params={"api-version": "2025-06-01"}, headers=ARM).json()
    current["properties"]["raiPolicyName"] = "Custom.Ops"
    body = {
        "sku": current["sku"],
        "properties": {"model": current["properties"]["model"], "raiPolicyName": "Custom.Ops"},
    }
    assert httpx2.put(url, params={"api-version": "2025-06-01"}, headers=ARM, json=body).status_code in (200, 201)
    httpx2.get(url, params={"api-version": "2025-06-01"}, headers=ARM)
    seq = account.requests()[-1]["seq"]
    step = engine.up("dep", Deployment, {**inputs, "capacity": 4})
    assert step.op == "update"
    writes = [(r["method"], r["path"]) for r in account.requests(mutating=True) if r["seq"] > seq]
    assert writes == [("PATCH", f"{account.id}/deployments/ft")]
    dep = account.objects("deployments")["ft"]
    assert dep["sku"]["capacity"] == 4
    assert dep["properties"]["raiPolicyName"] == "Custom.Ops"


def test_copy_without_checkpoint_goes_by_checkpoint_id(make_plugin: PluginFactory, dataset: Path) -> None:
    """The job's final model is resolved through the checkpoints list: the copy URL carries ``ftchkpt-...``."""
    with emulated_account("wiresource", "eastus2", seed=311) as source:
        dest = source.another("wiredest", "swedencentral")
        allow_copy(source.arm_endpoint, source.id, dest.id)  # Azure AI User for the source's identity
        keys = json.dumps({source.endpoint: source.key, dest.endpoint: dest.key})
        engine = EngineReplay(make_plugin(source, **{"azure-openai:apiKeys": keys, "azure-openai:apiVersion": DATED}))
        job = _train(engine, source, dataset)
        _train(engine, dest, dataset, name="destjob")
        inputs = {"endpoint": source.endpoint, "job_id": job["job_id"], "destination_account_id": dest.id}
        copy = engine.up("copy", CheckpointCopy, inputs)
        assert copy.state is not None
        assert copy.state.outputs["resolved_checkpoint"].startswith("ftchkpt-")
        assert copy.state.outputs["model_name"] == job["fine_tuned_model"]
        paths = [r["path"] for r in source.requests() if r["path"].endswith("/copy")]
        assert paths
        assert all("/checkpoints/ftchkpt-" in p for p in paths), paths
        assert engine.refresh("copy").op == "refresh"


def test_repeated_pause_resume_and_cancel_are_success(account: EmulatedAccount, dataset: Path) -> None:
    """A pause, resume or cancel repeated (as after a lost reply) meets a 409 and returns the job as asked."""
    client = DataPlaneClient(account.endpoint, ApiKeyAuth(account.key), api_version=DATED)
    try:
        with dataset.open("rb"):
            file_id = client.upload_file(dataset, "train.jsonl", "fine-tune")["id"]
        for _ in range(10):
            if client.get_file(file_id)["status"] == "processed":
                break
        job_id = client.create_job({"model": MODEL, "training_file": file_id})["id"]
        for _ in range(20):
            if client.get_job(job_id)["status"] == "running":
                break
        assert client.pause_job(job_id)["status"] in ("pausing", "paused")
        assert client.pause_job(job_id)["status"] in ("pausing", "paused")
        assert [r["status"] for r in account.requests() if r["path"].endswith("/pause")] == [200, 409]
        for _ in range(20):
            if client.get_job(job_id)["status"] == "paused":
                break
        assert client.resume_job(job_id)["status"] in ("resuming", "running")
        assert client.resume_job(job_id)["status"] in ("resuming", "running", "queued", "pending")
        assert client.cancel_job(job_id)["status"] in ("cancelling", "cancelled")
        assert client.cancel_job(job_id)["status"] in ("cancelling", "cancelled")
        assert [r["status"] for r in account.requests() if r["path"].endswith("/cancel")][-1] == 409
    finally:
        client.close()


def test_policy_change_puts_back_what_was_set_elsewhere(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """A content-filter change has no PATCH: the deployment is read and PUT back with its tags kept."""
    model = _train(engine, account, dataset)["fine_tuned_model"]
    inputs = {"account_id": account.id, "deployment_name": "ft", "model": model}
    engine.up("dep", Deployment, inputs)
    url = f"{account.arm_endpoint}{account.id}/deployments/ft"
    patched = httpx2.patch(url, params={"api-version": "2025-06-01"}, headers=ARM, json={"tags": {"owner": "ops"}})
    assert patched.status_code == 202
    httpx2.get(url, params={"api-version": "2025-06-01"}, headers=ARM)
    seq = account.requests()[-1]["seq"]
    step = engine.up("dep", Deployment, {**inputs, "rai_policy_name": "Custom.Strict"})
    assert step.op == "update"
    calls = [(r["method"], r["path"]) for r in account.requests() if r["seq"] > seq and "/operation" not in r["path"]]
    assert calls[:2] == [("GET", f"{account.id}/deployments/ft"), ("PUT", f"{account.id}/deployments/ft")]
    dep = account.objects("deployments")["ft"]
    assert dep["properties"]["raiPolicyName"] == "Custom.Strict"
    assert dep["tags"] == {"owner": "ops"}
