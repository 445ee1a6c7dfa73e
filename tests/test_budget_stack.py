"""Tokens and cost at preview, and the budget guard, through the program harness (``tests/programs/budget``).

The program counts its dataset with the job's model, estimates the job (n_epochs 2) and exports the estimate,
the trained tokens and the deployment's hourly cost. Every run serves a fresh emulator; its request log proves
that a refused budget stops the stack before any mutating request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aoai_emulator import Emulator, create_emulator
from pulumi_aoai_finetuning.testing.program import HarnessError, ProgramResult, run_program
from pulumi_aoai_finetuning.tokens import count_file

BUDGET = Path(__file__).parent / "programs" / "budget"
MODEL = "gpt-4o-mini-2024-07-18"
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
EPOCHS = 2  # the program's default n_epochs


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = create_emulator(seed=777)
    server = emulator.serve()
    try:
        yield emulator, server.url
    finally:
        emulator.close()


def _run(served: tuple[Emulator, str], tmp_path: Path, command: str, **config: str) -> ProgramResult:
    _, url = served
    settings = {
        "azure-openai:armEndpoint": url,
        "azure-openai:pollIntervalSeconds": "0.01",
        "azure-openai:pollMaxSeconds": "0.05",
        **config,
    }
    return run_program(
        command,
        BUDGET,
        tmp_path / "state" / "dev.json",
        config=settings,
        secrets={"azure-openai:armToken": "arm-token"},
    )


def _mutations(emulator: Emulator) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in emulator.requests() if r["method"] in MUTATING]


def test_preview_shows_the_exact_tokens_and_the_estimate_before_anything_exists(
    served: tuple[Emulator, str], tmp_path: Path
) -> None:
    """A first preview knows the dataset's tokens and the job's estimate; nothing is created."""
    result = _run(served, tmp_path, "preview")
    exact = count_file(BUDGET / "train.jsonl", "o200k_base")
    out = result.outputs
    assert (out["tokens"], out["max_example_tokens"]) == (exact.tokens, exact.max_example_tokens)
    assert out["estimated_trained_tokens"] == exact.tokens * EPOCHS
    assert out["estimated_training_cost"] == round(
        exact.tokens * EPOCHS * 3.30 / 1e6, 6
    )  # pricing rounds to a millionth of a dollar
    assert f"{exact.tokens:,} tokens x {EPOCHS} epochs" in out["estimate"]
    assert "unconfirmed price, table as of" in out["estimate"]
    assert _mutations(served[0]) == []


@pytest.mark.parametrize(
    ("config", "prop", "limit_text"),
    [
        ({"maxTrainedTokens": "100"}, "max_trained_tokens", "above max_trained_tokens 100"),
        ({"maxTrainingCost": "0.001"}, "max_training_cost", "above max_training_cost $0.001"),
    ],
    ids=["tokens", "cost"],
)
def test_a_budget_below_the_estimate_stops_up_before_any_mutating_request(
    served: tuple[Emulator, str], tmp_path: Path, config: dict[str, str], prop: str, limit_text: str
) -> None:
    """``up`` previews first: the job's Check refuses, naming the property, the estimate, the limit and the fix."""
    exact = count_file(BUDGET / "train.jsonl", "o200k_base")
    with pytest.raises(HarnessError) as refused:
        _run(served, tmp_path, "up", **config)
    message = str(refused.value)
    assert "FineTuningJob::job: the inputs failed Check" in message
    assert f"{prop}: the job would" in message
    assert f"{exact.tokens * EPOCHS:,} trained tokens" in message
    assert limit_text in message
    assert f"raise {prop}" in message
    assert _mutations(served[0]) == []  # not even the resource group: the preview stopped the whole update


def test_trained_tokens_equal_the_estimate_and_prices_come_from_stack_config(
    served: tuple[Emulator, str], tmp_path: Path
) -> None:
    """On the emulator the job trains on exactly the estimate; overridden prices set the cost and the hourly fee."""
    prices = {MODEL: {"training_per_million": 4.0, "hosting_per_hour": 2.5}}
    result = _run(
        served, tmp_path, "up", **{"azure-openai:prices": json.dumps(prices), "maxTrainingCost": "1", "epochs": "3"}
    )
    exact = count_file(BUDGET / "train.jsonl", "o200k_base")
    out = result.outputs
    assert out["estimated_trained_tokens"] == exact.tokens * 3
    assert out["trained_tokens"] == out["estimated_trained_tokens"]
    assert out["estimate_error"] == 0
    assert out["estimated_training_cost"] == round(exact.tokens * 3 * 4.0 / 1e6, 6)
    assert "price from stack config" in out["estimate"]
    assert out["hourly_cost"] == 2.5
