"""The offline grader check agrees with the service's (the emulator's, per the spec); the gate's arithmetic is exact."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_aoai_finetuning.graders import check_criteria, check_grader, item_fields
from pulumi_aoai_finetuning.inputs import Failures
from pulumi_aoai_finetuning.resources.evaluation import gate_misses
from tests.emulator.test_evals import BAD_EVALS, CRITERIA

# The service resolves a grader's model against the account's deployments: only it can refuse an unknown one.
ONLINE_ONLY = {"unknown_grader_model"}


def _failures(criteria: Any) -> dict[str, str]:
    failures = Failures()
    check_criteria(failures, "testing_criteria", criteria)
    return {f.property: f.reason for f in failures.items}


def test_every_grader_the_service_accepts_passes_the_offline_check() -> None:
    """string_check, text_similarity, label_model and score_model as the Evals API tests send them: no failure."""
    assert _failures(CRITERIA) == {}


@pytest.mark.parametrize("case", sorted(set(BAD_EVALS) - ONLINE_ONLY))
def test_every_grader_the_service_refuses_is_refused_offline_at_the_same_path(case: str) -> None:
    """Each bad grader the service answers with a 400 naming a field is refused at check naming that same field."""
    criteria, target = BAD_EVALS[case]
    failures = _failures(criteria)
    assert target in failures, failures
    assert target in failures[target], "the reason names the property path too"


def test_a_reinforcement_grader_needs_no_name_but_an_evaluation_criterion_does() -> None:
    """``text_similarity`` has an optional name in the spec; an evaluation needs it for its gate and pass_rates."""
    grader = {k: v for k, v in CRITERIA[1].items() if k != "name"}
    alone = Failures()
    check_grader(alone, "method.reinforcement.grader", grader)
    assert alone.items == []
    assert "testing_criteria[0].name" in _failures([grader])


def test_item_fields_are_the_item_references_of_every_template() -> None:
    """The fields a test set's items must hold: every ``{{item.<path>}}`` of the graders and the prompt."""
    prompt = [{"role": "user", "content": {"type": "input_text", "text": "{{ item.question }} {{sample.output_text}}"}}]
    assert item_fields([CRITERIA, prompt]) == {"answer", "question"}


def test_an_improvement_exactly_at_the_minimum_meets_the_gate() -> None:
    """0.7 against a baseline of 0.2 is an improvement of 0.5: it meets a minimum of 0.5 (no float rounding miss)."""
    outputs = {"pass_rate": 0.7, "baseline_pass_rate": 0.2, "pass_rates": {"a": 0.7}, "baseline_pass_rates": {"a": 0.2}}
    assert gate_misses({"min_improvement_over_baseline": 0.5}, outputs) == []
    assert gate_misses({"min_improvement_over_baseline": {"a": 0.5}}, outputs) == []
    assert gate_misses({"min_improvement_over_baseline": 0.51}, outputs) == [
        "pass rate (0 of 0 items passed every criterion) 0.7 vs the baseline's 0.2: an improvement of +0.5, "
        "below the minimum +0.51"
    ]
