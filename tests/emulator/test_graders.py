"""Grader arithmetic of the emulator's Evals API against textbook values, and template substitution."""

from __future__ import annotations

import math
import random

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


def _mutate(rng: random.Random, text: str, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        at = rng.randrange(len(chars) + 1)
        kind = rng.random()
        if kind < 1 / 3:
            chars.insert(at, rng.choice("abcde "))
        elif at < len(chars):
            if kind < 2 / 3:
                chars[at] = rng.choice("abcde ")
            else:
                del chars[at]
    return "".join(chars)


def test_banded_edit_distance_agrees_with_the_full_one() -> None:
    """``within`` gives the Levenshtein distance when it is within the limit, and None otherwise."""
    rng = random.Random(3)
    for _ in range(2000):
        a, b = (_mutate(rng, "", rng.randint(0, 12)) for _ in range(2))
        limit, distance = rng.randint(0, 6), similarity.levenshtein(a, b)
        assert similarity.within(a, b, limit) == (distance if distance <= limit else None), (a, b, limit)


def test_recall_finds_the_same_prompt_as_a_scan_of_every_trained_prompt() -> None:
    """The q-gram filter only skips work: recall returns the nearest prompt at NEAR or above, first in file order."""
    rng = random.Random(5)
    for _ in range(150):
        base = _mutate(rng, "", rng.randint(3, 40))
        trained = [_mutate(rng, base, rng.randint(0, 6)) for _ in range(30)]
        known = behaviour.Knowledge("job", [(p, p.upper()) for p in trained], 1.0)
        for _ in range(5):
            asked = _mutate(rng, base, rng.randint(0, 5))
            scores = [similarity.fuzzy_match(p, asked) for p in known.prompts]
            best = max(scores, default=0.0)
            expected = known.prompts[scores.index(best)] if best >= behaviour.NEAR else None
            found = known.recall(asked)
            assert (found[0] if found else None) == expected, (asked, found, expected)
            if found:
                assert found[1] == found[0].upper()
