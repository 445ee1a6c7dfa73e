"""Testing criteria (graders) of the Evals API: their validation, template substitution and grading.

Graders are computed for real: ``string_check`` exactly, ``text_similarity`` with :mod:`similarity`. The model
graders judge deterministically by the rule of :mod:`behaviour`: the grader "model" compares the sample's output
with the reference answers its prompt quotes (the ``{{item.*}}`` values in its ``input``), by ``fuzzy_match``
of the normalised texts. ``label_model`` gives the first passing label when that ratio reaches
``behaviour.NEAR`` and the first other label otherwise; ``score_model`` scores ``low + (high - low) * ratio``
and passes at ``pass_threshold`` (the middle of ``range`` when not given). A prompt that quotes no item field
is judged on whether the output is a real answer (not a model's non-answer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from . import behaviour, errors, similarity

GRADER_TYPES = ("string_check", "text_similarity", "label_model", "score_model")
STRING_OPERATIONS = ("eq", "ne", "like", "ilike")
ROLES = ("user", "assistant", "system", "developer")
TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


def lookup(path: str, namespaces: dict[str, Any]) -> Any:
    """The value at a dotted path (``item.answer``, ``sample.output_text``), or None."""
    value: Any = namespaces
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def render(template: str, namespaces: dict[str, Any]) -> str:
    """A template with each ``{{path}}`` replaced by its value (objects as JSON, missing as empty)."""
    return TEMPLATE.sub(lambda m: _text(lookup(m.group(1), namespaces)), template)


def references(template: str) -> list[str]:
    """The ``{{item.*}}`` paths a template quotes."""
    return [m.group(1) for m in TEMPLATE.finditer(template) if m.group(1).startswith("item.")]


# --- validation -------------------------------------------------------------------------------------------------


def _need_str(grader: dict[str, Any], key: str, where: str, required: bool = True) -> None:
    value = grader.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise errors.invalid_payload(f"'{where}.{key}' must be a string.", f"{where}.{key}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def message_text(message: dict[str, Any]) -> str:
    """The template text of a grader or data-source message (plain string or ``{type, text}`` content)."""
    return behaviour.content_text(message.get("content"))


def validate_messages(messages: Any, where: str) -> list[dict[str, Any]]:
    """A list of ``{role, content}`` template messages, or the 400 naming the first bad one."""
    if not isinstance(messages, list) or not messages:
        raise errors.invalid_payload(f"'{where}' must be a non-empty array of messages.", where)
    for i, message in enumerate(messages):
        at = f"{where}[{i}]"
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise errors.invalid_payload(f"'{at}.role' must be one of {', '.join(ROLES)}.", f"{at}.role")
        content = message.get("content")
        ok = isinstance(content, str) or (isinstance(content, dict) and isinstance(content.get("text"), str))
        if not ok:
            raise errors.invalid_payload(
                f"'{at}.content' must be a string or an object with a string 'text'.", f"{at}.content"
            )
    return messages


def _validate_model_grader(grader: dict[str, Any], where: str, resolve: Callable[[str], str | None]) -> None:
    _need_str(grader, "model", where)
    if resolve(grader["model"]) is None:
        raise errors.invalid_payload(
            f"'{where}.model' is '{grader['model']}', which is neither a deployment of this resource nor a model "
            "it serves; name a deployment.",
            f"{where}.model",
        )
    validate_messages(grader.get("input"), f"{where}.input")
    if grader["type"] == "label_model":
        for key in ("labels", "passing_labels"):
            value = grader.get(key)
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise errors.invalid_payload(f"'{where}.{key}' must be a non-empty array of strings.", f"{where}.{key}")
        stray = [p for p in grader["passing_labels"] if p not in grader["labels"]]
        if stray:
            raise errors.invalid_payload(
                f"'{where}.passing_labels' must be a subset of 'labels'; {stray} are not labels.",
                f"{where}.passing_labels",
            )
        return
    low, high = score_range(grader)
    span = grader.get("range")
    if span is not None and (
        not isinstance(span, list) or len(span) != 2 or not all(_number(v) for v in span) or not low < high
    ):
        raise errors.invalid_payload(
            f"'{where}.range' must be two numbers [low, high] with low < high.", f"{where}.range"
        )
    threshold = grader.get("pass_threshold")
    if threshold is not None and (not _number(threshold) or not low <= threshold <= high):
        raise errors.invalid_payload(
            f"'{where}.pass_threshold' must be a number within range [{low}, {high}].", f"{where}.pass_threshold"
        )


def score_range(grader: dict[str, Any]) -> tuple[float, float]:
    """A score_model grader's ``range`` (default ``[0, 1]``)."""
    span = grader.get("range")
    if isinstance(span, list) and len(span) == 2 and all(_number(v) for v in span):
        return float(span[0]), float(span[1])
    return 0.0, 1.0


def validate(criteria: Any, resolve: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """The testing criteria of an eval, checked against the spec's grader shapes; a 400 names the bad field."""
    if not isinstance(criteria, list) or not criteria:
        raise errors.invalid_payload("'testing_criteria' must be a non-empty array of graders.", "testing_criteria")
    out = []
    for i, grader in enumerate(criteria):
        where = f"testing_criteria[{i}]"
        if not isinstance(grader, dict) or grader.get("type") not in GRADER_TYPES:
            raise errors.invalid_payload(f"'{where}.type' must be one of {', '.join(GRADER_TYPES)}.", f"{where}.type")
        kind = grader["type"]
        _need_str(grader, "name", where, required=kind != "text_similarity")
        if kind in ("string_check", "text_similarity"):
            _need_str(grader, "input", where)
            _need_str(grader, "reference", where)
        if kind == "string_check" and grader.get("operation") not in STRING_OPERATIONS:
            raise errors.invalid_payload(
                f"'{where}.operation' must be one of {', '.join(STRING_OPERATIONS)}.", f"{where}.operation"
            )
        if kind == "text_similarity":
            if grader.get("evaluation_metric") not in similarity.METRICS:
                raise errors.invalid_payload(
                    f"'{where}.evaluation_metric' must be one of {', '.join(similarity.METRICS)}.",
                    f"{where}.evaluation_metric",
                )
            threshold: Any = grader.get("pass_threshold")
            if not _number(threshold) or not 0 <= threshold <= 1:
                raise errors.invalid_payload(
                    f"'{where}.pass_threshold' must be a number from 0 to 1.", f"{where}.pass_threshold"
                )
        if kind in ("label_model", "score_model"):
            _validate_model_grader(grader, where, resolve)
        out.append({**grader, "name": grader.get("name") or kind})
    return out


# --- grading ----------------------------------------------------------------------------------------------------


def _string_check(operation: str, given: str, reference: str) -> bool:
    if operation == "eq":
        return given == reference
    if operation == "ne":
        return given != reference
    if operation == "like":
        return reference in given
    return reference.lower() in given.lower()


def _judge(grader: dict[str, Any], namespaces: dict[str, Any]) -> tuple[float, list[dict[str, str]]]:
    """How close the sample's output is to the references the grader's prompt quotes, and the rendered prompt."""
    rendered = [{"role": m["role"], "content": render(message_text(m), namespaces)} for m in grader["input"]]
    output = _text(lookup("sample.output_text", namespaces))
    quoted = [p for m in grader["input"] for p in references(message_text(m))]
    if not quoted:
        return (0.0 if behaviour.is_non_answer(output) or not output else 1.0), rendered
    got = behaviour.normalise(output)
    ratio = max(similarity.fuzzy_match(got, behaviour.normalise(_text(lookup(p, namespaces)))) for p in quoted)
    return ratio, rendered


def grade(grader: dict[str, Any], namespaces: dict[str, Any]) -> dict[str, Any]:
    """One grader's result for one item: ``name``, ``type``, ``score``, ``passed`` and the grader's ``sample``."""
    kind = grader["type"]
    sample = None
    if kind == "string_check":
        passed = _string_check(
            grader["operation"], render(grader["input"], namespaces), render(grader["reference"], namespaces)
        )
        value = 1.0 if passed else 0.0
    elif kind == "text_similarity":
        value = similarity.score(
            grader["evaluation_metric"], render(grader["input"], namespaces), render(grader["reference"], namespaces)
        )
        passed = value >= float(grader["pass_threshold"])
    else:
        ratio, rendered = _judge(grader, namespaces)
        if kind == "label_model":
            others = [label for label in grader["labels"] if label not in grader["passing_labels"]]
            match = ratio >= behaviour.NEAR
            label = grader["passing_labels"][0] if match or not others else others[0]
            passed = label in grader["passing_labels"]
            value = 1.0 if passed else 0.0
            said = label
        else:
            low, high = score_range(grader)
            value = low + (high - low) * ratio
            threshold = grader.get("pass_threshold")
            passed = value >= (float(threshold) if threshold is not None else (low + high) / 2)
            said = json.dumps({"score": round(value, 6)})
        sample = {"input": rendered, "output": [{"role": "assistant", "content": said}]}
    return {"name": grader["name"], "type": kind, "score": round(value, 6), "passed": passed, "sample": sample}
