"""Evaluation through the real ``python -m pulumi.dynamic`` server on the emulator's Evals API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from pulumi_aoai_finetuning import Evaluation, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.testing import CheckFailed, EmulatedAccount, EngineReplay, ProviderError

from .conftest import PluginFactory

BASE = "gpt-4o-mini-2024-07-18"
EXAMPLES = 12
EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
CLOSE = {
    "type": "text_similarity",
    "name": "close",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "evaluation_metric": "fuzzy_match",
    "pass_threshold": 0.9,
}
PROMPT = [
    {"role": "system", "content": "You answer arithmetic tersely."},
    {"role": "user", "content": "{{item.question}}"},
]


def arithmetic_items(path: Path, count: int = EXAMPLES) -> Path:
    """The prompts ``chat_dataset`` trains on, as evaluation items with their trained answers."""
    rows = [{"item": {"question": f"What is {i} + 1?", "answer": str(i + 1)}} for i in range(count)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def fine_tuned_model(engine: EngineReplay, account: EmulatedAccount, dataset: Path) -> str:
    """Train on ``dataset`` (the arithmetic prompts) and return the model."""
    file = engine.up("train", TrainingFile, {"endpoint": account.endpoint, "path": str(dataset)})
    assert file.state is not None
    job = engine.up("job", FineTuningJob, {"endpoint": account.endpoint, "model": BASE, "training_file": file.state.id})
    assert job.state is not None
    return str(job.state.outputs["fine_tuned_model"])


def evaluation(account: EmulatedAccount, tmp_path: Path, model: str, **extra: Any) -> dict[str, Any]:
    """The inputs of an Evaluation of ``model`` against the base model on the arithmetic test set."""
    return {
        "endpoint": account.endpoint,
        "name": "arith",
        "path": str(arithmetic_items(tmp_path / "test.jsonl")),
        "testing_criteria": [EXACT, CLOSE],
        "input_messages": PROMPT,
        "model": model,
        "baseline_model": BASE,
        **extra,
    }


def evals_of(account: EmulatedAccount) -> dict[str, Any]:
    """The account's evals as the emulator holds them."""
    return account.objects("evals") if "evals" in account.emulator.state()["accounts"][account.name] else {}


def test_the_same_evaluation_passes_the_fine_tuned_model_and_fails_the_base_model(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path, tmp_path: Path
) -> None:
    """The fine-tuned model passes every item, the base model none; the gate fails the base with its numbers."""
    model = fine_tuned_model(engine, account, dataset)
    gate = {"min_pass_rate": 0.9, "min_improvement_over_baseline": 0.5}
    step = engine.up("tuned", Evaluation, evaluation(account, tmp_path, model, gate=gate))
    assert step.state is not None
    out = step.state.outputs
    assert out["passed"] is True
    assert out["status"] == "completed"
    assert out["result_counts"] == {"total": EXAMPLES, "passed": EXAMPLES, "failed": 0, "errored": 0}
    assert out["pass_rate"] == 1.0
    assert out["pass_rates"] == {"exact": 1.0, "close": 1.0}
    assert out["baseline_pass_rate"] == 0.0
    assert out["baseline_pass_rates"] == {"exact": 0.0, "close": 0.0}
    assert out["baseline_result_counts"]["failed"] == EXAMPLES
    assert out["eval_id"] == step.state.id
    runs = evals_of(account)[step.state.id]["_runs"]
    assert sorted(runs) == sorted([out["run_id"], out["baseline_run_id"]])
    assert runs[out["run_id"]]["model"] == model
    test_file = account.objects("files")[out["test_file_id"]]
    assert test_file["purpose"] == "evals"

    with pytest.raises(ProviderError) as info:
        engine.up("base", Evaluation, evaluation(account, tmp_path, BASE, name="arith-base", gate=gate))
    details = info.value.details
    assert f"of {BASE} missed its gate" in details
    assert f"pass rate (0 of {EXAMPLES} items passed every criterion) 0, below the minimum 0.9" in details
    assert "an improvement of +0, below the minimum +0.5" in details
    assert "base" not in engine.state
    posts = [r for r in account.requests(mutating=True) if r["method"] == "POST"]
    relaxed = engine.up("base", Evaluation, evaluation(account, tmp_path, BASE, name="arith-base", gate=None))
    assert relaxed.state is not None
    assert relaxed.state.id in details, "the missed eval is adopted, not made again"
    assert [r for r in account.requests(mutating=True) if r["method"] == "POST"] == posts, "no new runs are paid for"


def test_a_gate_per_criterion_names_the_criterion_and_a_changed_gate_is_applied_without_new_runs(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path
) -> None:
    """A per-criterion miss names the criterion; an update of the gate re-reads the runs and starts none."""
    inputs = evaluation(account, tmp_path, BASE, baseline_model=None)
    step = engine.up("plain", Evaluation, inputs)
    assert step.state is not None
    assert step.state.outputs["passed"] is True, "no gate: nothing to miss"
    eval_id = step.state.id
    before = len(evals_of(account)[eval_id]["_runs"])
    with pytest.raises(ProviderError) as info:
        engine.up("plain", Evaluation, {**inputs, "gate": {"min_pass_rate": {"close": 0.25}}})
    assert "close's pass rate 0, below the minimum 0.25" in info.value.details
    assert engine.state["plain"].outputs.get("gate") is None, "a failed update keeps the old state"
    step = engine.up("plain", Evaluation, {**inputs, "gate": {"min_pass_rate": {"close": 0.0}}})
    assert step.op == "update"
    assert step.state is not None
    assert step.state.id == eval_id
    assert len(evals_of(account)[eval_id]["_runs"]) == before, "an update runs nothing again"


def test_destroy_deletes_the_eval_and_the_uploaded_test_set_but_not_a_given_file(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path
) -> None:
    """Destroy removes the eval (with its runs) and the file it uploaded; a ``file_id`` given stays."""
    step = engine.up("uploaded", Evaluation, evaluation(account, tmp_path, BASE))
    assert step.state is not None
    file_id = step.state.outputs["test_file_id"]
    given = engine.up(
        "items",
        TrainingFile,
        {"endpoint": account.endpoint, "path": str(arithmetic_items(tmp_path / "given.jsonl")), "purpose": "evals"},
    )
    assert given.state is not None
    inputs = {**evaluation(account, tmp_path, BASE, name="given"), "file_id": given.state.id}
    del inputs["path"]
    other = engine.up("given", Evaluation, inputs)
    assert other.state is not None
    assert other.state.outputs["test_file_id"] == given.state.id
    assert set(evals_of(account)) == {step.state.id, other.state.id}
    engine.destroy("uploaded")
    engine.destroy("given")
    assert evals_of(account) == {}
    assert file_id not in account.objects("files")
    assert given.state.id in account.objects("files"), "a file the evaluation did not upload is not its to delete"


def test_an_eval_created_by_an_interrupted_run_is_adopted_with_its_runs(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path, make_plugin: PluginFactory
) -> None:
    """A create whose state was lost finds its eval, runs and file by their markers: nothing is created twice."""
    inputs = evaluation(account, tmp_path, BASE)
    first = engine.up("again", Evaluation, inputs)
    assert first.state is not None
    engine.state.clear()  # the engine never recorded the create (the process died before it answered)
    creates_before = [r for r in account.requests(mutating=True) if r["method"] == "POST"]
    rerun = EngineReplay(make_plugin(account, **{"azure-openai:apiVersion": "2025-04-01-preview"}))
    second = rerun.up("again", Evaluation, inputs)
    assert second.state is not None
    assert second.state.id == first.state.id
    for key in ("run_id", "baseline_run_id", "test_file_id", "result_counts", "pass_rates"):
        assert second.state.outputs[key] == first.state.outputs[key], key
    assert [r for r in account.requests(mutating=True) if r["method"] == "POST"] == creates_before
    assert len(evals_of(account)) == 1


def test_adoption_reads_the_newest_evals_only(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path, make_plugin: PluginFactory
) -> None:
    """Evals list newest first and the spec has no metadata filter: a re-run finds its eval on the first page.

    120 older evals of the account (more than one page of 100) are not read through.
    """
    with httpx2.Client(timeout=30) as http:
        for i in range(120):
            made = http.post(
                f"{account.endpoint}openai/evals",
                params={"api-version": "2025-04-01-preview"},
                headers={"api-key": account.key},
                json={
                    "name": f"other-{i}",
                    "data_source_config": {"type": "custom", "item_schema": {"type": "object"}},
                    "testing_criteria": [EXACT],
                },
            )
            assert made.status_code in (200, 201), made.text
    inputs = evaluation(account, tmp_path, BASE)
    first = engine.up("again", Evaluation, inputs)
    assert first.state is not None
    engine.state.clear()  # the engine never recorded the create (the process died before it answered)
    mark = account.requests()[-1]["seq"]
    second = EngineReplay(make_plugin(account, **{"azure-openai:apiVersion": "2025-04-01-preview"})).up(
        "again", Evaluation, inputs
    )
    assert second.state is not None
    assert second.state.id == first.state.id
    listed = [
        r for r in account.requests() if r["seq"] > mark and r["method"] == "GET" and r["path"].endswith("/evals")
    ]
    assert len(listed) == 1, listed


def test_bad_graders_and_gates_are_refused_at_check_naming_the_path_with_no_request(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path
) -> None:
    """Every broken grader, prompt, gate and test-set line is a check failure naming its property: nothing is sent."""
    label = {
        "type": "label_model",
        "name": "judge",
        "model": BASE,
        "input": [{"role": "robot", "content": "{{sample.output_text}}"}],
        "labels": ["right", "wrong"],
        "passing_labels": ["correct"],
    }
    bad = [
        EXACT,
        {**EXACT, "name": "op", "operation": "contains"},
        {**CLOSE, "pass_threshold": 1.5},
        {**CLOSE, "name": None},
        label,
        {"type": "python", "name": "py", "source": "def grade(s, i): return 1"},
        {**EXACT, "name": "exact", "refrence": "x"},
    ]
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"item": {"question": "q"}}) + "\n[1]\n")
    inputs = {
        **evaluation(account, tmp_path, BASE),
        "testing_criteria": bad,
        "path": str(items),
        "gate": {"min_pass_rate": {"nope": 0.5}, "max_loss": 1},
        "baseline_model": None,
    }
    inputs["gate"]["min_improvement_over_baseline"] = 0.1
    before = len(account.requests())
    with pytest.raises(CheckFailed) as info:
        engine.up("bad", Evaluation, inputs)
    failures = dict(info.value.failures)
    reasons = "\n".join(r for _, r in info.value.failures)
    assert "testing_criteria[1].operation" in failures
    assert "eq, ne, like, ilike" in failures["testing_criteria[1].operation"]
    assert "from 0 to 1" in failures["testing_criteria[2].pass_threshold"]
    assert "testing_criteria[3].name" in failures
    assert "testing_criteria[4].input[0].role" in failures
    assert "subset of labels" in failures["testing_criteria[4].passing_labels"]
    assert "string_check, text_similarity, label_model, score_model" in failures["testing_criteria[5].type"]
    assert "fix its spelling" in failures["testing_criteria[6].refrence"]
    assert "already the name of testing_criteria[0]" in failures["testing_criteria[6].name"]
    assert "no testing criterion is named 'nope'" in failures["gate.min_pass_rate.nope"]
    assert "unknown threshold" in failures["gate.max_loss"]
    assert "set baseline_model" in failures["gate.min_improvement_over_baseline"]
    assert f"{items}:1: the item has no answer" in reasons
    assert f"{items}:2: each line must be a JSON object" in reasons
    same = {k: v for k, v in evaluation(account, tmp_path, BASE).items() if k != "name"}
    with pytest.raises(CheckFailed) as info:
        engine.up("same", Evaluation, same)
    failures = dict(info.value.failures)
    assert "name is required" in failures["name"]
    assert len(account.requests()) == before, "check sent requests"


def test_a_reinforcement_jobs_grader_is_checked_against_the_spec(
    engine: EngineReplay, account: EmulatedAccount
) -> None:
    """A reinforcement job's grader is validated at check, with the path under ``method.reinforcement``."""
    job = {"endpoint": account.endpoint, "model": "o4-mini-2025-04-16", "training_file": "file-x"}
    grader = {"type": "score_model", "name": "s", "model": BASE, "input": [{"role": "user", "content": "x"}]}
    cases = {
        "method.reinforcement.grader": {"type": "reinforcement", "reinforcement": {}},
        "method.reinforcement.grader.range": {
            "type": "reinforcement",
            "reinforcement": {"grader": {**grader, "range": [5, 1]}},
        },
        "method.reinforcement.grader.type": {
            "type": "reinforcement",
            "reinforcement": {"grader": {"type": "multi", "graders": {}}},
        },
        "method.reinforcement.grader.input[0].content": {
            "type": "reinforcement",
            "reinforcement": {"grader": {**grader, "input": [{"role": "user", "content": "{{answer}}"}]}},
        },
    }
    before = len(account.requests())
    for path, method in cases.items():
        with pytest.raises(CheckFailed) as info:
            engine.up("rft", FineTuningJob, {**job, "method": method})
        assert path in dict(info.value.failures), (path, info.value.failures)
    plan = engine.plan(
        "rft", FineTuningJob, {**job, "method": {"type": "reinforcement", "reinforcement": {"grader": grader}}}
    )
    assert plan.op == "create", "a valid grader passes check"
    assert len(account.requests()) == before


def test_the_v1_dialect_sends_the_preview_header(
    account: EmulatedAccount, make_plugin: PluginFactory, tmp_path: Path
) -> None:
    """On ``/openai/v1`` the Evals API is opted into with ``aoai-evals: preview``; the evaluation works there too."""
    engine = EngineReplay(make_plugin(account))
    step = engine.up("v1", Evaluation, evaluation(account, tmp_path, BASE, baseline_model=None))
    assert step.state is not None
    assert step.state.outputs["result_counts"]["total"] == EXAMPLES
    evals = [r for r in account.requests() if "/evals" in r["path"]]
    assert evals
    assert all("/openai/v1/evals" in r["path"] and r["status"] < 400 for r in evals), "without the header: 400"
