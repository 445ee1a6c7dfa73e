"""Tokens, estimates and hourly costs through the real ``python -m pulumi.dynamic`` server and the emulator.

Counts are compared with a separate implementation of the documented rules on top of OpenAI's tiktoken
(``tests/test_tokens.py``), on the edge cases of ``tests/data/tokens`` (multi-turn, tool calls, non-ASCII,
images, completion and preference examples).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import tiktoken

from pulumi_aoai_finetuning import Deployment, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.testing import CheckFailed, EmulatedAccount, EngineReplay
from tests import test_tokens
from tests.test_tokens import _reference_count

from .conftest import PluginFactory

reference = test_tokens.reference  # the fixture: tiktoken's encodings, fed OpenAI's verified rank files
CORPUS = Path(__file__).resolve().parent.parent / "data" / "tokens"
MIN_EXAMPLES = 10  # the validator's minimum: smaller corpus files are repeated up to it


def _corpus_dataset(source: Path, target: Path) -> list[dict[str, Any]]:
    """``source``'s examples, repeated until there are enough to validate, written to ``target``."""
    examples = [orjson.loads(line) for line in source.read_bytes().splitlines() if line.strip()]
    examples = (examples * MIN_EXAMPLES)[: max(MIN_EXAMPLES, len(examples))]
    target.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in examples))
    return examples


def _chat(words: int, answer: str = "ok") -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "word " * words}, {"role": "assistant", "content": answer}]}


def _write(path: Path, examples: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in examples))
    return path


CASES = [
    (source, model, encoding)
    for source in sorted(CORPUS.glob("*.jsonl"))
    for model, encoding in ((None, "o200k_base"), ("gpt-35-turbo-0125", "cl100k_base"))
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0].stem}-{c[2]}" for c in CASES])
def test_training_file_outputs_equal_the_reference_counts(
    engine: EngineReplay,
    account: EmulatedAccount,
    tmp_path: Path,
    reference: dict[str, tiktoken.Encoding],
    case: tuple[Path, str | None, str],
) -> None:
    """tokens, max_example_tokens and token_count are tiktoken's counts under the documented rules."""
    source, model, encoding = case
    path = tmp_path / f"{source.stem}.jsonl"
    examples = _corpus_dataset(source, path)
    expected = [_reference_count(reference[encoding], e) for e in examples]
    inputs: dict[str, Any] = {"endpoint": account.endpoint, "path": str(path)}
    if model:
        inputs["model"] = model
    step = engine.up("train", TrainingFile, inputs)
    assert step.state is not None
    out = step.state.outputs
    assert out["tokens"] == sum(expected)
    assert out["max_example_tokens"] == max(expected)
    count = out["token_count"]
    assert count["encoding"] == encoding
    assert count["examples"] == len(examples)
    assert count["max_example_line"] == expected.index(max(expected)) + 1
    assert count["file"] == path.name


def test_an_example_over_the_models_limit_is_refused_at_preview_with_file_line(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path
) -> None:
    """gpt-35-turbo-0613 takes 4,096 tokens per example: a longer one is named by line, before any request."""
    examples = [_chat(5) for _ in range(12)]
    examples[6] = _chat(5000)
    path = _write(tmp_path / "train.jsonl", examples)
    inputs = {"endpoint": account.endpoint, "path": str(path), "model": "gpt-35-turbo-0613"}
    with pytest.raises(CheckFailed) as refused:
        engine.plan("train", TrainingFile, inputs)
    ((prop, reason),) = refused.value.failures
    assert prop == "path"
    assert reason.startswith(f"{path}:7: the example has ")
    assert "above gpt-35-turbo-0613's limit of 4,096 tokens per training example" in reason
    assert "shorten or split" in reason
    assert account.requests() == []
    engine.plan("train", TrainingFile, {**inputs, "model": "gpt-4o-mini-2024-07-18"})  # 65,536 tokens: it fits


def _job_inputs(
    engine: EngineReplay,
    account: EmulatedAccount,
    dataset: Path,
    model: str,
    counted_for: str | None = None,
    **job: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Up a TrainingFile (counted for ``counted_for``, else the default encoding); its outputs and a job's inputs.

    The job trains ``model`` on the file and is given the file's token count, as a program passes it.
    """
    train = {"endpoint": account.endpoint, "path": str(dataset)}
    file = engine.up("train", TrainingFile, {**train, "model": counted_for} if counted_for else train)
    assert file.state is not None
    inputs = {
        "endpoint": account.endpoint,
        "model": model,
        "training_file": file.state.id,
        "training_token_count": file.state.outputs["token_count"],
        **job,
    }
    return file.state.outputs, inputs


def _refusal(engine: EngineReplay, inputs: dict[str, Any]) -> tuple[str, str]:
    """The one check failure a job's preview meets: its property and reason."""
    with pytest.raises(CheckFailed) as refused:
        engine.plan("job", FineTuningJob, inputs)
    ((prop, reason),) = refused.value.failures
    return prop, reason


def _file_and_job(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path, model: str, **job: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Up a TrainingFile counted for ``model`` and a job on it with its token count; return both outputs."""
    file, inputs = _job_inputs(engine, account, dataset, model, counted_for=model, **job)
    step = engine.up("job", FineTuningJob, inputs)
    assert step.state is not None
    return file, step.state.outputs


@pytest.mark.parametrize("model", ["gpt-4o-mini-2024-07-18", "gpt-35-turbo-0125"])
def test_the_emulators_trained_tokens_equal_the_estimate(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path, model: str
) -> None:
    """For a fixed n_epochs the emulator trains on exactly the estimated tokens, in the model's own encoding."""
    file, job = _file_and_job(engine, account, dataset, model, hyperparameters={"n_epochs": 3})
    assert job["estimated_trained_tokens"] == file["tokens"] * 3
    assert job["trained_tokens"] == job["estimated_trained_tokens"]
    assert job["estimate_error"] == 0


def test_n_epochs_auto_follows_the_documented_rule(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """n_epochs left out: OpenAI's default rule, 100 // 12 = 8 epochs for the 12-example dataset; the emulator too."""
    file, job = _file_and_job(engine, account, dataset, "gpt-4o-mini-2024-07-18")
    assert job["estimated_trained_tokens"] == file["tokens"] * 8
    assert "8 epochs (n_epochs auto: OpenAI's default rule for 12 examples)" in job["estimate"]
    assert job["trained_tokens"] == job["estimated_trained_tokens"]
    assert job["estimate_error"] == 0


def test_a_count_in_another_encoding_is_refused_before_any_job(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """Counts made for gpt-4o-mini (o200k_base) cannot guard a gpt-35-turbo job (cl100k_base): the fix is named."""
    _, inputs = _job_inputs(engine, account, dataset, "gpt-35-turbo-0125")
    before = len(account.requests(mutating=True))
    prop, reason = _refusal(engine, inputs)
    assert prop == "training_token_count"
    assert "counted in o200k_base, but gpt-35-turbo-0125 uses cl100k_base" in reason
    assert "set model='gpt-35-turbo-0125' on the TrainingFile" in reason
    assert len(account.requests(mutating=True)) == before


def test_a_budget_that_cannot_be_priced_is_refused(
    account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path
) -> None:
    """No price for the model (gpt-35-turbo's is not in the table): a cost budget refuses, naming the config key."""
    engine = EngineReplay(make_plugin(account))
    model = "gpt-35-turbo-0125"
    _, inputs = _job_inputs(engine, account, dataset, model, counted_for=model, max_training_cost=10)
    prop, reason = _refusal(engine, inputs)
    assert prop == "max_training_cost"
    assert "rule budget.unknown-price" in reason
    assert "azure-openai:prices" in reason
    priced = EngineReplay(
        make_plugin(account, **{"azure-openai:prices": json.dumps({"gpt-35-turbo-0125": {"training_per_million": 8}})})
    )
    priced.state = dict(engine.state)
    assert priced.plan("job", FineTuningJob, inputs).op == "create"


def test_a_budget_lowered_under_a_trained_job_does_not_block_the_stack(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """The guard stops new paid runs only: a job already trained stays, and the update sends no job request."""
    _, job = _file_and_job(engine, account, dataset, "gpt-4o-mini-2024-07-18", hyperparameters={"n_epochs": 1})
    inputs = {k: job[k] for k in ("endpoint", "model", "training_file", "training_token_count", "hyperparameters")}
    before = len(account.requests(mutating=True))
    step = engine.up("job", FineTuningJob, {**inputs, "max_trained_tokens": 1})
    assert step.op == "update"
    assert len(account.requests(mutating=True)) == before
    with pytest.raises(CheckFailed, match="max_trained_tokens"):
        engine.plan("job", FineTuningJob, {**inputs, "max_trained_tokens": 1, "hyperparameters": {"n_epochs": 2}})


@pytest.mark.parametrize(("sku", "cost"), [("Standard", 1.7), ("GlobalStandard", 1.7), ("DeveloperTier", 0.0)])
def test_deployment_outputs_its_hourly_cost(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path, sku: str, cost: float
) -> None:
    """The hourly hosting fee of the deployed fine-tuned model, from the dated table, with its source."""
    _, job = _file_and_job(engine, account, dataset, "gpt-4o-mini-2024-07-18", hyperparameters={"n_epochs": 1})
    step = engine.up(
        "serve",
        Deployment,
        {"account_id": account.id, "deployment_name": "serve", "model": job["fine_tuned_model"], "sku_name": sku},
    )
    assert step.state is not None
    assert step.state.outputs["hourly_cost"] == cost
    assert "documented" in step.state.outputs["hourly_cost_rule"]
    base = engine.up(
        "base",
        Deployment,
        {"account_id": account.id, "deployment_name": "base", "model": "gpt-4o-mini-2024-07-18", "sku_name": sku},
    )
    assert base.state is not None
    assert base.state.outputs.get("hourly_cost") is None
    assert "base model: billed per token" in base.state.outputs["hourly_cost_rule"]


def test_a_moved_dataset_changes_nothing_on_its_job(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path, tmp_path: Path
) -> None:
    """The counts name the file, not its path: moving the dataset updates the file in place and leaves the job."""
    model = "gpt-4o-mini-2024-07-18"
    file, job = _file_and_job(engine, account, dataset, model, hyperparameters={"n_epochs": 1})
    moved = tmp_path / "moved" / dataset.name
    moved.parent.mkdir()
    dataset.rename(moved)
    step = engine.up("train", TrainingFile, {"endpoint": account.endpoint, "path": str(moved), "model": model})
    assert step.op == "update"
    assert step.state is not None
    assert step.state.outputs["token_count"] == file["token_count"]
    inputs = {k: job[k] for k in ("endpoint", "model", "training_file", "hyperparameters")}
    assert engine.plan(
        "job", FineTuningJob, {**inputs, "training_token_count": step.state.outputs["token_count"]}
    ).op == ("same")


def test_a_malformed_price_in_stack_config_fails_the_estimate_naming_the_key(
    account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path
) -> None:
    """A price under an unknown name is named with the config key, the rule and the known names."""
    prices = json.dumps({"gpt-4o-mini-2024-07-18": {"training_per_token": 3}})
    engine = EngineReplay(make_plugin(account, **{"azure-openai:prices": prices}))
    model = "gpt-4o-mini-2024-07-18"
    _, inputs = _job_inputs(engine, account, dataset, model, counted_for=model, max_training_cost=5)
    prop, reason = _refusal(engine, inputs)
    assert prop == "max_training_cost"
    assert "stack config azure-openai:prices.gpt-4o-mini-2024-07-18.training_per_token: not a known price" in reason
    assert "training_per_million" in reason


def test_count_tokens_false_skips_counting_and_an_unknown_model_is_named(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """count_tokens=false leaves the counts out; a model with no known tokenizer is refused with the fix."""
    step = engine.up("train", TrainingFile, {"endpoint": account.endpoint, "path": str(dataset), "count_tokens": False})
    assert step.state is not None
    assert [step.state.outputs.get(k) for k in ("tokens", "max_example_tokens", "token_count")] == [None] * 3
    counted = engine.up("train", TrainingFile, {"endpoint": account.endpoint, "path": str(dataset)})
    assert counted.op == "update"
    assert counted.state is not None
    assert counted.state.outputs["tokens"] == counted.state.outputs["token_count"]["tokens"] > 0
    with pytest.raises(CheckFailed) as refused:
        engine.plan("train", TrainingFile, {"endpoint": account.endpoint, "path": str(dataset), "model": "llama-3"})
    ((prop, reason),) = refused.value.failures
    assert prop == "model"
    assert "no known tokenizer for it (rule tokens.unknown-model)" in reason
