"""FineTuningJob through the real ``python -m pulumi.dynamic`` server: never a duplicate paid job."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from pulumi_aoai_finetuning import FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.testing import UNKNOWN, CheckFailed, EmulatedAccount, EngineReplay, ProviderError
from tests.emulator.support import chat_dataset

from .conftest import DATED, PluginFactory

MODEL = "gpt-4o-mini-2024-07-18"


def _file(engine: EngineReplay, acct: EmulatedAccount, dataset: Path) -> str:
    step = engine.up("train", TrainingFile, {"endpoint": acct.endpoint, "path": str(dataset)})
    assert step.state is not None
    return step.state.id


def _job(acct: EmulatedAccount, file_id: Any, **extra: Any) -> dict[str, Any]:
    return {"endpoint": acct.endpoint, "model": MODEL, "training_file": file_id, "suffix": "grpc", **extra}


def _mutations(acct: EmulatedAccount, since: int = 0) -> list[dict[str, Any]]:
    return [r for r in acct.requests(mutating=True) if r["seq"] > since]


def test_create_trains_and_reports_model_checkpoints_and_metrics(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """Create submits one job, waits for it, and reports the model, three checkpoints and the final metrics."""
    step = engine.up("job", FineTuningJob, _job(account, _file(engine, account, dataset)))
    assert step.state is not None
    out = step.state.outputs
    assert out["status"] == "succeeded"
    assert out["fine_tuned_model"].startswith(f"{MODEL}.ft-")
    assert len(out["checkpoints"]) == 3
    assert out["checkpoints"][0]["model"] == out["fine_tuned_model"]
    assert out["metrics"]["train_loss"] > 0
    assert len(account.objects("jobs")) == 1


def test_second_up_is_a_no_op_without_mutating_requests(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """Unchanged inputs: DIFF_NONE for both resources and no mutating request."""
    inputs = _job(account, _file(engine, account, dataset))
    engine.up("job", FineTuningJob, inputs)
    seq = account.requests()[-1]["seq"]
    assert (
        engine.up(
            "train", TrainingFile, {"endpoint": account.endpoint, "path": str(engine.state["train"].inputs["path"])}
        ).op
        == "same"
    )
    assert engine.up("job", FineTuningJob, inputs).op == "same"
    assert _mutations(account, seq) == []


def test_changed_training_input_replaces_the_job(engine: EngineReplay, account: EmulatedAccount, dataset: Path) -> None:
    """A new suffix is a new training run; the old job record is deleted after the new one exists."""
    file_id = _file(engine, account, dataset)
    first = engine.up("job", FineTuningJob, _job(account, file_id))
    step = engine.up("job", FineTuningJob, _job(account, file_id, suffix="v2"))
    assert step.op == "replace"
    assert step.replaces == ["suffix"]
    assert step.state is not None
    assert first.state is not None
    assert list(account.objects("jobs")) == [step.state.id]


def test_waiting_settings_change_in_place_without_remote_calls(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """timeout_minutes and quality_gate are updates that touch no remote object."""
    inputs = _job(account, _file(engine, account, dataset))
    engine.up("job", FineTuningJob, inputs)
    seq = account.requests()[-1]["seq"]
    step = engine.up("job", FineTuningJob, {**inputs, "timeout_minutes": 60, "quality_gate": {"max_train_loss": 50}})
    assert step.op == "update"
    assert _mutations(account, seq) == []


def test_pause_and_resume_are_in_place_updates(engine: EngineReplay, account: EmulatedAccount, dataset: Path) -> None:
    """``paused`` pauses a running job and resumes it, without replacing it."""
    inputs = _job(account, _file(engine, account, dataset), wait=False)
    created = engine.up("job", FineTuningJob, inputs)
    assert created.state is not None
    paused = engine.up("job", FineTuningJob, {**inputs, "paused": True})
    assert paused.op == "update"
    assert paused.state is not None
    assert paused.state.outputs["status"] == "paused"
    resumed = engine.up("job", FineTuningJob, {**inputs, "paused": False, "wait": True})
    assert resumed.op == "update"
    assert resumed.state is not None
    assert resumed.state.outputs["status"] == "succeeded"
    assert resumed.state.id == created.state.id
    assert len(account.objects("jobs")) == 1


def test_preview_with_unknown_training_file_makes_no_request(engine: EngineReplay, account: EmulatedAccount) -> None:
    """In a first preview the file id is unknown: check and diff pass, nothing is called."""
    assert engine.plan("job", FineTuningJob, _job(account, UNKNOWN)).op == "create"
    assert account.requests() == []


def test_refresh_drops_a_job_deleted_out_of_band(engine: EngineReplay, account: EmulatedAccount, dataset: Path) -> None:
    """A job deleted outside Pulumi leaves the state on refresh."""
    step = engine.up("job", FineTuningJob, _job(account, _file(engine, account, dataset)))
    assert step.state is not None
    response = httpx2.delete(
        f"{account.endpoint}openai/fine_tuning/jobs/{step.state.id}",
        params={"api-version": DATED},
        headers={"api-key": account.key},
    )
    assert response.status_code == 204
    assert engine.refresh("job").op == "refresh-deleted"


def test_destroy_cancels_a_running_job(engine: EngineReplay, account: EmulatedAccount, dataset: Path) -> None:
    """Destroying an unfinished job cancels it, then deletes its record; then the file goes."""
    engine.up("job", FineTuningJob, _job(account, _file(engine, account, dataset), wait=False))
    engine.destroy("job")
    engine.destroy("train")
    assert account.objects("jobs") == {}
    assert any(r["path"].endswith("/cancel") for r in account.requests(mutating=True))
    assert account.objects("files") == {}


@pytest.mark.parametrize(
    ("extra", "prop"),
    [
        ({"suffix": "x" * 41}, "suffix"),
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"epochs": 3}}, "hyperparameters.epochs"),
        ({"method": "rlhf"}, "method"),
        ({"quality_gate": {"max_loss": 1}}, "quality_gate.max_loss"),
        ({"seed": -1}, "seed"),
        ({"quality_gate": {"max_train_loss": 1}, "wait": False}, "quality_gate"),
    ],
)
def test_bad_inputs_fail_check_before_any_request(
    engine: EngineReplay, account: EmulatedAccount, extra: dict[str, Any], prop: str
) -> None:
    """Each bad input is a CheckFailure on its property, and no request is made."""
    with pytest.raises(CheckFailed) as info:
        engine.up("job", FineTuningJob, _job(account, "file-0123", **extra))
    assert prop in [p for p, _ in info.value.failures]
    assert account.requests() == []


def test_timeout_names_the_job_and_the_next_up_resumes_it(
    manual_account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path
) -> None:
    """Past timeout_minutes the create fails naming the job; the next up adopts that job instead of a new one."""
    engine = EngineReplay(make_plugin(manual_account))
    step = _file_manual(engine, manual_account, dataset)
    inputs = _job(manual_account, step, timeout_minutes=0.02)
    with pytest.raises(ProviderError) as info:
        engine.up("job", FineTuningJob, inputs)
    (job_id,) = manual_account.objects("jobs")
    assert job_id in info.value.details
    assert "next `pulumi up` resumes" in info.value.details
    manual_account.emulator.advance(2000)
    resumed = engine.up("job", FineTuningJob, inputs)
    assert resumed.state is not None
    assert resumed.state.id == job_id
    assert resumed.state.outputs["status"] == "succeeded"
    assert len(manual_account.objects("jobs")) == 1


def _file_manual(engine: EngineReplay, acct: EmulatedAccount, dataset: Path) -> str:
    done = threading.Event()
    ticker = threading.Thread(target=_tick, args=(acct, done), daemon=True)
    ticker.start()
    try:
        return _file(engine, acct, dataset)
    finally:
        done.set()
        ticker.join()


def _tick(acct: EmulatedAccount, done: threading.Event) -> None:
    while not done.wait(0.05):
        acct.emulator.advance(1)


def test_quality_gate_missed_fails_with_the_numbers_and_met_passes(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """A missed gate fails the create with the metric and both numbers; a met gate passes."""
    file_id = _file(engine, account, dataset)
    with pytest.raises(ProviderError) as info:
        engine.up("strict", FineTuningJob, _job(account, file_id, quality_gate={"max_train_loss": 0.0001}))
    assert "train_loss = " in info.value.details
    assert "above the maximum 0.0001" in info.value.details
    step = engine.up(
        "lenient", FineTuningJob, _job(account, file_id, suffix="ok", quality_gate={"max_train_loss": 100})
    )
    assert step.state is not None
    assert step.state.outputs["status"] == "succeeded"


def test_interrupted_submit_is_adopted_exactly_one_job(
    account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path
) -> None:
    """The plugin is killed after the service accepted the job; a fresh plugin adopts it: one job in the end."""
    engine = EngineReplay(make_plugin(account))
    file_id = _file(engine, account, dataset)
    account.emulator.add_fault(
        {
            "path": "/fine_tuning/jobs$",
            "method": "POST",
            "kind": "latency",
            "latency_ms": 4000,
            "when": "after",
            "count": 1,
        }
    )
    worker = threading.Thread(target=_swallow, args=(engine, _job(account, file_id)), daemon=True)
    worker.start()
    deadline = time.monotonic() + 20
    while not account.objects("jobs") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert account.objects("jobs"), "the job reached the service"
    engine.plugin.kill()
    worker.join(timeout=20)
    fresh = EngineReplay(make_plugin(account))
    step = fresh.up("job", FineTuningJob, _job(account, file_id))
    assert step.state is not None
    assert list(account.objects("jobs")) == [step.state.id]
    submits = [r for r in account.requests() if r["method"] == "POST" and r["path"].endswith("/fine_tuning/jobs")]
    assert len(submits) == 1


def _swallow(engine: EngineReplay, inputs: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):  # the plugin is killed under this call on purpose
        engine.up("job", FineTuningJob, inputs)


def test_both_resources_converge_under_30_percent_throttling_and_outages(
    account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path
) -> None:
    """With 30 % of calls answered 429 or 503 (with Retry-After), both resources converge with no duplicates."""
    for status, seed in ((429, 1), (503, 2)):
        account.emulator.add_fault(
            {"path": "/openai/", "status": status, "retry_after": 0.01, "probability": 0.15, "seed": seed}
        )
    engine = EngineReplay(make_plugin(account, **{"azure-openai:maxRetries": "10"}))
    file_id = _file(engine, account, dataset)
    step = engine.up("job", FineTuningJob, _job(account, file_id))
    assert step.state is not None
    assert step.state.outputs["status"] == "succeeded"
    faults = [r for r in account.requests() if r["fault"]]
    assert len(faults) >= 3, "faults were injected"
    assert len([f for f in account.objects("files").values() if f["purpose"] == "fine-tune"]) == 1
    assert len(account.objects("jobs")) == 1


@pytest.mark.parametrize("provider", ["training_file.TrainingFileProvider", "fine_tuning_job.FineTuningJobProvider"])
def test_provider_blob_is_small_and_identical_across_processes(provider: str) -> None:
    """``__provider`` is a reference to the installed class: under 1 KB and byte-identical in two processes."""
    module, cls = provider.split(".")
    code = (
        "from pulumi_aoai_finetuning.testing.pulumi_internals import serialize_provider\n"
        f"from pulumi_aoai_finetuning.resources.{module} import {cls}\n"
        f"print(serialize_provider({cls}()))"
    )
    blobs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        for _ in range(2)
    ]
    assert blobs[0] == blobs[1]
    assert 0 < len(blobs[0]) < 1024


def test_identical_dataset_reuploaded_out_of_band_does_not_retrain(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """A training file deleted outside Pulumi is uploaded again with a new id; the finished job is kept, not rerun."""
    file_id = _file(engine, account, dataset)
    first = engine.up("job", FineTuningJob, _job(account, file_id))
    assert first.state is not None
    httpx2.delete(f"{account.endpoint}openai/v1/files/{file_id}", headers={"api-key": account.key})
    assert engine.refresh("train").op == "refresh-deleted"
    new_file = _file(engine, account, dataset)
    assert new_file != file_id
    step = engine.up("job", FineTuningJob, _job(account, new_file))
    assert step.op == "update"
    assert step.state is not None
    assert step.state.id == first.state.id
    assert step.state.outputs["training_file"] == new_file
    assert len(account.objects("jobs")) == 1


def test_changed_dataset_content_still_retrains(engine: EngineReplay, account: EmulatedAccount, dataset: Path) -> None:
    """New content behind the training file is a new training run."""
    first = engine.up("job", FineTuningJob, _job(account, _file(engine, account, dataset)))
    chat_dataset(dataset, 15)
    step = engine.up("job", FineTuningJob, _job(account, _file(engine, account, dataset)))
    assert step.op == "replace"
    assert step.state is not None
    assert first.state is not None
    assert step.state.id != first.state.id


def test_destroy_of_a_finished_job_removes_its_results_file(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """A succeeded job's results.csv goes with it (its metrics stay in the outputs); the model is kept."""
    step = engine.up("job", FineTuningJob, _job(account, _file(engine, account, dataset)))
    assert step.state is not None
    assert step.state.outputs["result_files"]
    engine.destroy("job")
    engine.destroy("train")
    assert account.objects("files") == {}
    models = httpx2.get(f"{account.endpoint}openai/v1/models", headers={"api-key": account.key}).json()["data"]
    assert step.state.outputs["fine_tuned_model"] in [m["id"] for m in models]
