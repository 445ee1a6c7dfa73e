"""``select_checkpoint_by`` through the real plugin: the best checkpoint by a metric, deployed and copied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pulumi_aoai_finetuning import CheckpointCopy, Deployment, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.resources.checkpoint_selection import select
from pulumi_aoai_finetuning.testing import CheckFailed, EmulatedAccount, EngineReplay, ProviderError, emulated_account
from tests.emulator.support import allow_copy, chat_dataset

from .conftest import DATED, PluginFactory

MODEL = "gpt-4o-mini-2024-07-18"
# The emulator's validation loss rises again over the last epochs for a seed that is a multiple of 3.
OVERFITTING_SEED, STEADY_SEED = 3, 4


def _files(engine: EngineReplay, acct: EmulatedAccount, tmp_path: Path) -> dict[str, str]:
    ids = {}
    for key, name in (("training_file", "train"), ("validation_file", "valid")):
        step = engine.up(
            name, TrainingFile, {"endpoint": acct.endpoint, "path": str(chat_dataset(tmp_path / name, 12))}
        )
        assert step.state is not None
        ids[key] = step.state.id
    return ids


def _job(acct: EmulatedAccount, files: dict[str, str], seed: int, **extra: Any) -> dict[str, Any]:
    return {"endpoint": acct.endpoint, "model": MODEL, **files, "seed": seed, "suffix": f"s{seed}",
            "hyperparameters": {"n_epochs": 3}, **extra}  # fmt: skip


def _best(checkpoints: list[dict[str, Any]], metric: str, mode: str) -> dict[str, Any]:
    values = [c["metrics"][metric] for c in checkpoints]
    best = min(values) if mode == "min" else max(values)
    return next(c for c in checkpoints if c["metrics"][metric] == best)


def test_overfitting_job_selects_an_earlier_checkpoint_and_deploys_it(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path
) -> None:
    """Lowest full_valid_loss is an earlier checkpoint's: selected_model names it and a Deployment of it succeeds."""
    files = _files(engine, account, tmp_path)
    by = {"metric": "full_valid_loss", "mode": "min"}
    step = engine.up("job", FineTuningJob, _job(account, files, OVERFITTING_SEED, select_checkpoint_by=by))
    assert step.state is not None
    out = step.state.outputs
    best = _best(out["checkpoints"], "full_valid_loss", "min")
    assert out["selected_model"] == best["model"]
    assert out["selected_checkpoint"] == best["id"]
    assert out["selected_model"] != out["fine_tuned_model"], "the emulator's overfitting job is best before the end"
    assert ":ckpt-step-" in out["selected_model"]

    deployed = engine.up(
        "dep", Deployment, {"account_id": account.id, "deployment_name": "best", "model": out["selected_model"]}
    )
    assert deployed.state is not None
    assert deployed.state.outputs["provisioning_state"] == "Succeeded"
    assert account.objects("deployments")["best"]["properties"]["model"]["name"] == out["selected_model"]


def test_steady_job_selects_the_final_model(engine: EngineReplay, account: EmulatedAccount, tmp_path: Path) -> None:
    """When the last checkpoint is best, selected_model is fine_tuned_model; a bare metric name means its usual mode."""
    files = _files(engine, account, tmp_path)
    step = engine.up("job", FineTuningJob, _job(account, files, STEADY_SEED, select_checkpoint_by="full_valid_loss"))
    assert step.state is not None
    out = step.state.outputs
    assert _best(out["checkpoints"], "full_valid_loss", "min")["model"] == out["fine_tuned_model"]
    assert out["selected_model"] == out["fine_tuned_model"]


def test_the_quality_gate_judges_the_selected_checkpoint(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path
) -> None:
    """A gate between the best and the final loss passes the selected checkpoint and fails the final model."""
    files = _files(engine, account, tmp_path)
    by = {"metric": "full_valid_loss"}
    probe = engine.up("probe", FineTuningJob, _job(account, files, OVERFITTING_SEED, select_checkpoint_by=by))
    assert probe.state is not None
    checkpoints = probe.state.outputs["checkpoints"]
    best = _best(checkpoints, "full_valid_loss", "min")["metrics"]["full_valid_loss"]
    final = max(checkpoints, key=lambda c: c["step"])["metrics"]["full_valid_loss"]
    assert best < final
    gate = {"max_full_valid_loss": (best + final) / 2}

    selected = engine.up(
        "selected", FineTuningJob,
        _job(account, files, OVERFITTING_SEED, suffix="sel", select_checkpoint_by=by, quality_gate=gate),
    )  # fmt: skip
    assert selected.state is not None
    assert ":ckpt-step-" in selected.state.outputs["selected_model"]
    with pytest.raises(ProviderError) as info:
        engine.up("final", FineTuningJob, _job(account, files, OVERFITTING_SEED, suffix="fin", quality_gate=gate))
    assert f"full_valid_loss = {final:g}, above the maximum" in info.value.details
    assert "select_checkpoint_by" not in info.value.details


def test_without_a_selection_selected_model_is_the_final_model(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path
) -> None:
    """No select_checkpoint_by: selected_model and selected_checkpoint name the final model, so it always deploys."""
    files = _files(engine, account, tmp_path)
    step = engine.up("job", FineTuningJob, _job(account, files, OVERFITTING_SEED))
    assert step.state is not None
    out = step.state.outputs
    final = max(out["checkpoints"], key=lambda c: c["step"])
    assert (out["selected_model"], out["selected_checkpoint"]) == (out["fine_tuned_model"], final["id"])


def test_a_new_selection_is_an_in_place_update_that_trains_nothing(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path
) -> None:
    """Changing the metric or mode re-selects from the same job: an update, no job submitted, a preview-unknown output."""
    files = _files(engine, account, tmp_path)
    first = engine.up("job", FineTuningJob, _job(account, files, OVERFITTING_SEED, select_checkpoint_by="valid_loss"))
    assert first.state is not None
    job_id = first.state.id
    seq = account.requests()[-1]["seq"]
    by = {"metric": "full_valid_mean_token_accuracy", "mode": "min"}  # the worst: the first epoch's checkpoint
    assert engine.plan("job", FineTuningJob, _job(account, files, OVERFITTING_SEED, select_checkpoint_by=by)).op == (
        "update"
    )
    second = engine.up("job", FineTuningJob, _job(account, files, OVERFITTING_SEED, select_checkpoint_by=by))
    assert second.op == "update"
    assert second.state is not None
    out = second.state.outputs
    assert second.state.id == job_id
    assert [r for r in account.requests(mutating=True) if r["seq"] > seq] == []
    assert out["selected_model"] == _best(out["checkpoints"], "full_valid_mean_token_accuracy", "min")["model"]
    assert out["selected_model"] == min(out["checkpoints"], key=lambda c: c["step"])["model"]
    assert len(account.objects("jobs")) == 1


@pytest.mark.parametrize(
    ("by", "prop", "words"),
    [
        ({"metric": "accuracy"}, "select_checkpoint_by.metric", ["checkpoint metric", "full_valid_loss", "train_loss"]),
        ("loss", "select_checkpoint_by", ["checkpoint metric", "valid_mean_token_accuracy"]),
        ({"metric": "train_loss", "mode": "lowest"}, "select_checkpoint_by.mode", ["'min' or 'max'", "'lowest'"]),
        ({"metric": "train_loss", "goal": "min"}, "select_checkpoint_by.goal", ["only 'metric' and 'mode'"]),
        (["train_loss"], "select_checkpoint_by", ["a metric name or a map"]),
    ],
)
def test_check_refuses_an_unknown_metric_or_mode_with_zero_requests(
    engine: EngineReplay, account: EmulatedAccount, by: Any, prop: str, words: list[str]
) -> None:
    """Each refusal names the property, the rule and the allowed values, before any request."""
    job = {"endpoint": account.endpoint, "model": MODEL, "training_file": "file-x", "validation_file": "file-y"}
    with pytest.raises(CheckFailed) as info:
        engine.plan("job", FineTuningJob, {**job, "select_checkpoint_by": by})
    [(failed, reason)] = info.value.failures
    assert failed == prop
    for word in words:
        assert word in reason
    assert account.requests() == []


def test_check_refuses_a_validation_metric_without_a_validation_file(
    engine: EngineReplay, account: EmulatedAccount
) -> None:
    """full_valid_loss is measured on the validation set: without one, check says so and what to choose instead."""
    job = {"endpoint": account.endpoint, "model": MODEL, "training_file": "file-x"}
    with pytest.raises(CheckFailed) as info:
        engine.plan("job", FineTuningJob, {**job, "select_checkpoint_by": {"metric": "full_valid_loss"}})
    [(failed, reason)] = info.value.failures
    assert failed == "select_checkpoint_by.metric"
    assert "validation_file" in reason
    assert "train_loss" in reason
    assert engine.plan("job", FineTuningJob, {**job, "select_checkpoint_by": "train_loss"}).op == "create"


def test_ties_go_to_the_later_checkpoint_and_missing_metrics_are_skipped() -> None:
    """Equal values pick the model trained longer; no metric is no candidate; no selection is the final model."""
    checkpoints = [
        {"id": "c3", "model": "m", "step": 30, "metrics": {"train_loss": 0.2}},
        {"id": "c2", "model": "m:ckpt-step-20", "step": 20, "metrics": {"train_loss": 0.2}},
        {"id": "c1", "model": "m:ckpt-step-10", "step": 10, "metrics": {}},
    ]
    assert select(checkpoints, "train_loss", "job")["selected_checkpoint"] == "c3"
    assert select(checkpoints[::-1], "train_loss", "job")["selected_checkpoint"] == "c3"
    assert select(checkpoints, {"metric": "train_loss", "mode": "max"}, "job")["selected_checkpoint"] == "c3"
    checkpoints[0]["metrics"]["train_loss"] = 0.3
    assert select(checkpoints, "train_loss", "job")["selected_model"] == "m:ckpt-step-20"
    assert select(checkpoints, None, "job") == {"selected_model": "m", "selected_checkpoint": "c3"}
    assert select(None, "train_loss", "job") == {"selected_model": None, "selected_checkpoint": None}


def test_selected_checkpoint_is_copied_to_another_account(make_plugin: PluginFactory, tmp_path: Path) -> None:
    """A CheckpointCopy of selected_model copies that checkpoint (by its id), and it deploys in the destination."""
    with emulated_account("selsource", "eastus2", seed=311) as source:
        dest = source.another("seldest", "swedencentral")
        keys = json.dumps({source.endpoint: source.key, dest.endpoint: dest.key})
        engine = EngineReplay(make_plugin(source, **{"azure-openai:apiKeys": keys, "azure-openai:apiVersion": DATED}))
        files = _files(engine, source, tmp_path)
        job = engine.up("job", FineTuningJob, _job(source, files, OVERFITTING_SEED, select_checkpoint_by="valid_loss"))
        assert job.state is not None
        out = job.state.outputs
        dest_file = engine.up("dfile", TrainingFile, {"endpoint": dest.endpoint, "path": str(tmp_path / "train")})
        assert dest_file.state is not None
        engine.up(
            "djob", FineTuningJob, {"endpoint": dest.endpoint, "model": MODEL, "training_file": dest_file.state.id}
        )
        allow_copy(source.arm_endpoint, source.id, dest.id)  # Azure AI User for the source's identity
        copy = engine.up(
            "copy",
            CheckpointCopy,
            {"endpoint": source.endpoint, "job_id": out["job_id"], "destination_account_id": dest.id,
             "checkpoint": out["selected_model"]},
        )  # fmt: skip
        assert copy.state is not None
        assert copy.state.outputs["resolved_checkpoint"] == out["selected_checkpoint"]
        assert copy.state.outputs["model_name"] == out["selected_model"]
        deployed = engine.up(
            "dep", Deployment, {"account_id": dest.id, "deployment_name": "best", "model": out["selected_model"]}
        )
        assert deployed.state is not None
        assert deployed.state.outputs["provisioning_state"] == "Succeeded"
