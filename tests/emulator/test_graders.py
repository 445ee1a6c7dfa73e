"""Grader arithmetic of the emulator's Evals API against textbook values, and template substitution."""

from __future__ import annotations

import math

import pytest

from aoai_emulator import behaviour, graders, similarity

METRIC_CASES = [
    ("fuzzy_match", "kitten", "sitting", 1 - 3 / 7),
    ("fuzzy_match", "", "", 1.0),
    ("rouge_1", "the cat sat", "the cat sat on the mat", 2 / 3),
    ("rouge_2", "the cat sat", "the cat sat on the mat", 2 * (2 / 2) * (2 / 5) / (2 / 2 + 2 / 5)),
    ("rouge_l", "a b c d", "a c d", 6 / 7),
    ("bleu", "the cat sat on the mat", "the cat sat on the mat", 1.0),
    ("bleu", "the cat sat on the mat", "the cat sat on the mat today", math.exp(1 - 7 / 6)),
    ("bleu", "cat the", "the cat", 0.0),
    ("gleu", "the cat", "the cat sat", 0.5),
    ("meteor", "the cat sat", "the cat sat", 1 - 0.5 * (1 / 3) ** 3),
    ("meteor", "sat the cat", "the cat sat", (1 - 0.5 * (2 / 3) ** 3)),
]


@pytest.mark.parametrize(("metric", "candidate", "reference", "expected"), METRIC_CASES)
def test_similarity_metrics_give_their_textbook_values(
    metric: str, candidate: str, reference: str, expected: float
) -> None:
    """Each text_similarity metric, on small cases worked out by hand."""
    assert similarity.score(metric, candidate, reference) == pytest.approx(expected)


def test_templates_substitute_item_and_sample_paths() -> None:
    """``{{item.x}}``, nested and indexed paths and ``{{sample.output_text}}`` are filled; objects become JSON."""
    namespaces = {"item": {"a": "x", "b": {"c": [1, {"d": "deep"}]}}, "sample": {"output_text": "out"}}
    text = "{{item.a}}|{{ item.b.c.1.d }}|{{sample.output_text}}|{{item.missing}}|{{item.b.c.0}}|{{item.b.c}}"
    assert graders.render(text, namespaces) == 'x|deep|out||1|[1, {"d": "deep"}]'


@pytest.mark.parametrize(
    ("operation", "given", "reference", "passed"),
    [
        ("eq", "Berth 4", "Berth 4", True),
        ("eq", "Berth 4", "berth 4", False),
        ("ne", "Berth 4", "berth 4", True),
        ("like", "At Berth 4 today", "Berth 4", True),
        ("like", "At berth 4 today", "Berth 4", False),
        ("ilike", "At berth 4 today", "BERTH 4", True),
    ],
)
def test_string_check_operations(operation: str, given: str, reference: str, passed: bool) -> None:
    """The eq and ne operations compare exactly; like is a case-sensitive containment, ilike a case-insensitive one."""
    grader = {"type": "string_check", "name": "s", "input": given, "reference": reference, "operation": operation}
    result = graders.grade(grader, {})
    assert (result["passed"], result["score"]) == (passed, 1.0 if passed else 0.0)


def test_model_graders_judge_the_output_against_the_quoted_reference() -> None:
    """A close answer gets the passing label and a high score; a non-answer the other label and a low score."""
    prompt = [{"role": "user", "content": "Is {{sample.output_text}} right for {{item.answer}}?"}]
    label = {"type": "label_model", "name": "l", "model": "m", "input": prompt, "labels": ["ok", "bad"],
             "passing_labels": ["ok"]}  # fmt: skip
    score = {"type": "score_model", "name": "s", "model": "m", "input": prompt, "range": [1, 5]}
    item = {"answer": "Berth 4, pier B"}
    close = {"item": item, "sample": {"output_text": "berth 4, pier b."}}
    off = {"item": item, "sample": {"output_text": behaviour.non_answer("m", "q")}}
    assert graders.grade(label, close)["sample"]["output"][0]["content"] == "ok"
    assert graders.grade(label, off)["sample"]["output"][0]["content"] == "bad"
    assert graders.grade(score, close)["score"] == 5.0
    assert graders.grade(score, close)["passed"] is True
    low = graders.grade(score, off)
    assert low["score"] < 3
    assert low["passed"] is False, "the default threshold is the middle of the range"


def test_unquoted_model_graders_judge_whether_the_model_answered() -> None:
    """A grader prompt quoting no item field passes real answers and fails a model's non-answer."""
    prompt = [{"role": "user", "content": "Is this helpful? {{sample.output_text}}"}]
    label = {"type": "label_model", "name": "l", "model": "m", "input": prompt, "labels": ["yes", "no"],
             "passing_labels": ["yes"]}  # fmt: skip
    assert graders.grade(label, {"sample": {"output_text": "Berth 4"}})["passed"] is True
    assert graders.grade(label, {"sample": {"output_text": behaviour.non_answer("m", "q")}})["passed"] is False
