"""Deployment and CheckpointCopy through the real ``python -m pulumi.dynamic`` server, against the emulator's ARM."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from pulumi_aoai_finetuning import CheckpointCopy, Deployment, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.testing import UNKNOWN, CheckFailed, EmulatedAccount, EngineReplay, emulated_account
from tests.emulator.support import allow_copy

from .conftest import DATED, PluginFactory

MODEL = "gpt-4o-mini-2024-07-18"
ARM = {"Authorization": "Bearer x"}


def _train(engine: EngineReplay, acct: EmulatedAccount, dataset: Path, name: str = "job") -> dict[str, Any]:
    file = engine.up(f"{name}-file", TrainingFile, {"endpoint": acct.endpoint, "path": str(dataset)})
    assert file.state is not None
    job = engine.up(name, FineTuningJob, {"endpoint": acct.endpoint, "model": MODEL, "training_file": file.state.id})
    assert job.state is not None
    return job.state.outputs


def _dep(acct: EmulatedAccount, model: Any, name: str = "ft", **extra: Any) -> dict[str, Any]:
    return {"account_id": acct.id, "deployment_name": name, "model": model, **extra}


def _arm(acct: EmulatedAccount, method: str, path: str = "", **kwargs: Any) -> httpx2.Response:
    return httpx2.request(
        method, f"{acct.arm_endpoint}{acct.id}{path}", params={"api-version": "2025-06-01"}, headers=ARM, **kwargs
    )


def test_deployment_lifecycle_create_noop_update_replace_refresh_destroy(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """Create, a no-op second up, capacity in place, replace on model change, refresh after deletion, destroy."""
    model = _train(engine, account, dataset)["fine_tuned_model"]
    created = engine.up("dep", Deployment, _dep(account, model))
    assert created.op == "create"
    assert created.state is not None
    assert created.state.outputs["provisioning_state"] == "Succeeded"
    assert created.state.outputs["deployment_id"].endswith("/deployments/ft")
    seq = account.requests()[-1]["seq"]
    assert engine.up("dep", Deployment, _dep(account, model)).op == "same"
    assert [r for r in account.requests(mutating=True) if r["seq"] > seq] == []

    bigger = engine.up("dep", Deployment, _dep(account, model, capacity=3))
    assert bigger.op == "update"
    assert bigger.state is not None
    assert bigger.state.outputs["capacity"] == 3
    assert account.objects("deployments")["ft"]["sku"]["capacity"] == 3

    replaced = engine.up("dep", Deployment, _dep(account, MODEL, capacity=3))
    assert replaced.op == "replace"
    assert replaced.replaces == ["model"]
    assert account.objects("deployments")["ft"]["properties"]["model"]["name"] == MODEL

    assert _arm(account, "DELETE", "/deployments/ft").status_code == 202
    _arm(account, "GET", "/deployments/ft")
    assert engine.refresh("dep").op == "refresh-deleted"
    assert engine.up("dep", Deployment, _dep(account, MODEL, capacity=3)).op == "create"
    engine.destroy("dep")
    assert account.objects("deployments") == {}


def test_preview_with_unknown_model_makes_no_request(engine: EngineReplay, account: EmulatedAccount) -> None:
    """The model of a job not run yet is unknown in preview: plan a create, call nothing."""
    assert engine.plan("dep", Deployment, _dep(account, UNKNOWN)).op == "create"
    assert account.requests() == []


@pytest.mark.parametrize(
    ("extra", "prop"),
    [
        ({"account_id": "/subscriptions/x/accounts/y"}, "account_id"),
        ({"sku_name": "Premium"}, "sku_name"),
        ({"capacity": 0}, "capacity"),
        ({"deployment_name": None}, "deployment_name"),
        ({"source_account_id": "acct"}, "source_account_id"),
        ({"model_format": "Anthropic"}, "model_format"),
    ],
)
def test_bad_deployment_inputs_fail_check(
    engine: EngineReplay, account: EmulatedAccount, extra: dict[str, Any], prop: str
) -> None:
    """Each bad input is a CheckFailure naming its property, before any call."""
    with pytest.raises(CheckFailed) as info:
        engine.up("dep", Deployment, {**_dep(account, MODEL), **extra})
    assert prop in [p for p, _ in info.value.failures]
    assert account.requests() == []


def test_eight_deployments_on_one_account_in_one_up_all_succeed(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """Eight deployments created concurrently on one account: writes are serialised, no 409 reaches the user."""
    model = _train(engine, account, dataset)["fine_tuned_model"]
    results: dict[str, Any] = {}

    def up(i: int) -> None:
        target = model if i < 4 else MODEL
        try:
            results[f"d{i}"] = engine.up(f"d{i}", Deployment, _dep(account, target, name=f"d{i}"))
        except Exception as exc:
            results[f"d{i}"] = exc

    threads = [threading.Thread(target=up, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    failures = {k: v for k, v in results.items() if isinstance(v, Exception)}
    assert failures == {}
    assert len(account.objects("deployments")) == 8
    assert all(d["properties"]["provisioningState"] == "Succeeded" for d in account.objects("deployments").values())


def test_conflict_from_another_writer_is_retried_until_it_clears(
    manual_account: EmulatedAccount, make_plugin: PluginFactory
) -> None:
    """A deployment write in progress elsewhere answers 409 RequestConflict; the create waits it out."""
    engine = EngineReplay(make_plugin(manual_account))
    body = {
        "sku": {"name": "Standard", "capacity": 1},
        "properties": {"model": {"format": "OpenAI", "name": MODEL, "version": "1"}},
    }
    assert _arm(manual_account, "PUT", "/deployments/other", json=body).status_code == 201
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.05):
            manual_account.emulator.advance(2)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        step = engine.up("dep", Deployment, _dep(manual_account, MODEL, name="mine"))
    finally:
        stop.set()
        ticker.join()
    assert step.state is not None
    assert step.state.outputs["provisioning_state"] == "Succeeded"
    conflicts = [r for r in manual_account.requests() if r["status"] == 409]
    assert conflicts, "the first attempt met the other write"


def test_checkpoint_copy_then_deploy_in_the_destination_region(make_plugin: PluginFactory, dataset: Path) -> None:
    """Train in one region, copy the model to another account, deploy it there; refresh and destroy behave."""
    with emulated_account("copysource", "eastus2", seed=303) as source:
        dest = source.another("copydest", "swedencentral")
        allow_copy(source.arm_endpoint, source.id, dest.id)  # Azure AI User for the source's identity
        keys = json.dumps({source.endpoint: source.key, dest.endpoint: dest.key})
        engine = EngineReplay(make_plugin(source, **{"azure-openai:apiKeys": keys, "azure-openai:apiVersion": DATED}))
        job = _train(engine, source, dataset)
        with pytest.raises(Exception, match="has no fine-tuning job"):
            engine.up(
                "copy",
                CheckpointCopy,
                {"endpoint": source.endpoint, "job_id": job["job_id"], "destination_account_id": dest.id},
            )
        _train(engine, dest, dataset, name="destjob")
        copy = engine.up(
            "copy",
            CheckpointCopy,
            {"endpoint": source.endpoint, "job_id": job["job_id"], "destination_account_id": dest.id},
        )
        assert copy.state is not None
        assert copy.state.outputs["model_name"] == job["fine_tuned_model"]
        assert copy.state.outputs["region"] == "swedencentral"
        assert copy.state.outputs["status"] == "Completed"
        deployed = engine.up("dep", Deployment, _dep(dest, copy.state.outputs["model_name"]))
        assert deployed.state is not None
        assert deployed.state.outputs["provisioning_state"] == "Succeeded"
        assert (
            engine.up(
                "copy",
                CheckpointCopy,
                {"endpoint": source.endpoint, "job_id": job["job_id"], "destination_account_id": dest.id},
            ).op
            == "same"
        )
        assert engine.refresh("copy").op == "refresh"
        engine.destroy("dep")
        engine.destroy("copy")
        assert dest.objects("deployments") == {}


def test_cross_account_deploy_with_source(make_plugin: PluginFactory, dataset: Path) -> None:
    """Another subscription's or region's account deploys the model when ``source_account_id`` names its owner."""
    with emulated_account("owner", "eastus2", seed=304) as owner:
        other = owner.another("consumer", "westus")
        engine = EngineReplay(make_plugin(owner))
        model = _train(engine, owner, dataset)["fine_tuned_model"]
        step = engine.up("dep", Deployment, _dep(other, model, source_account_id=owner.id))
        assert step.state is not None
        assert step.state.outputs["provisioning_state"] == "Succeeded"
        assert other.objects("deployments")["ft"]["properties"]["model"]["source"] == owner.id


def test_deployment_waits_are_bounded_by_timeout(manual_account: EmulatedAccount, make_plugin: PluginFactory) -> None:
    """Under a clock that never moves, the create stops at timeout_minutes with a message saying what to do."""
    engine = EngineReplay(make_plugin(manual_account))
    started = time.monotonic()
    with pytest.raises(Exception, match="next `pulumi up`"):
        engine.up("dep", Deployment, _dep(manual_account, MODEL, timeout_minutes=0.02))
    assert time.monotonic() - started < 30
