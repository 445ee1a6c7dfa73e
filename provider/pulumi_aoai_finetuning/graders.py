"""Graders (an evaluation's testing criteria, a reinforcement job's grader) checked offline against the API's shapes.

The shapes are those of the Azure OpenAI data-plane spec 2025-04-01-preview (``EvalStringCheckGrader``,
``EvalTextSimilarityGrader``, ``EvalLabelModelGrader``, ``EvalScoreModelGrader`` and the ``EvalItem`` messages
of the model graders). That spec defines no ``python`` or ``multi`` grader, so neither is accepted. Every failure
names its property path (``testing_criteria[1].operation``), the rule and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .inputs import Failures, is_unknown

STRING_OPERATIONS = ("eq", "ne", "like", "ilike")
SIMILARITY_METRICS = (
    "fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
)  # fmt: skip
ROLES = ("user", "assistant", "system", "developer")
CONTENT_TYPES = ("input_text", "output_text")
# The properties each grader type has in the spec (required first): anything else is a typo the service ignores.
SHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "string_check": (("type", "name", "input", "reference", "operation"), ()),
    "text_similarity": (("type", "input", "reference", "pass_threshold", "evaluation_metric"), ("name",)),
    "label_model": (("type", "model", "input", "passing_labels", "labels", "name"), ()),
    "score_model": (("type", "name", "input", "model"), ("pass_threshold", "range", "sampling_params")),
}
GRADER_TYPES = tuple(SHAPES)
TEMPLATE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
NAMESPACES = ("item", "sample")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def template_paths(text: str) -> list[str]:
    """The ``{{...}}`` references of a template string, as written (``item.answer``, ``sample.output_text``)."""
    return [m.group(1) for m in TEMPLATE.finditer(text)]


def _check_template(failures: Failures, path: str, text: str) -> None:
    for ref in template_paths(text):
        if ref.split(".", 1)[0] not in NAMESPACES or not re.fullmatch(r"[A-Za-z_]\w*(\.\w+)+", ref):
            failures.add(
                path,
                f"{path}: the template reference {{{{{ref}}}}} must name a field of the item or the model's sample, "
                "such as {{item.answer}} or {{sample.output_text}}",
            )


def message_text(message: dict[str, Any]) -> str | None:
    """The text of a template message (``content`` a string or ``{type, text}``), or None if it has none."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        return str(content["text"])
    return None


def check_messages(failures: Failures, path: str, messages: Any) -> None:
    """A non-empty list of ``{role, content}`` template messages (``EvalItem``)."""
    if is_unknown(messages):
        return
    if not isinstance(messages, list) or not messages:
        failures.add(
            path, f"{path} must be a non-empty list of messages such as [{{'role': 'user', 'content': '...'}}]"
        )
        return
    for i, message in enumerate(messages):
        at = f"{path}[{i}]"
        if not isinstance(message, dict):
            failures.add(at, f"{at} must be a message such as {{'role': 'user', 'content': '{{{{item.question}}}}'}}")
            continue
        if message.get("role") not in ROLES:
            failures.add(f"{at}.role", f"{at}.role must be one of {', '.join(ROLES)}, not {message.get('role')!r}")
        content = message.get("content")
        text = message_text(message)
        if text is None:
            failures.add(
                f"{at}.content",
                f"{at}.content must be a string or {{'type': 'input_text', 'text': '...'}}, not {content!r}",
            )
            continue
        if isinstance(content, dict) and content.get("type") not in CONTENT_TYPES:
            failures.add(
                f"{at}.content.type",
                f"{at}.content.type must be one of {', '.join(CONTENT_TYPES)}, not {content.get('type')!r}",
            )
        _check_template(failures, f"{at}.content", text)
        if message.get("type", "message") != "message":
            failures.add(f"{at}.type", f"{at}.type must be 'message' (or left out), not {message.get('type')!r}")


def _check_string(failures: Failures, path: str, grader: dict[str, Any], key: str) -> None:
    value = grader.get(key)
    if value is None or is_unknown(value):
        return
    if not isinstance(value, str) or not value:
        failures.add(f"{path}.{key}", f"{path}.{key} must be a non-empty string, not {value!r}")
    elif key in ("input", "reference"):
        _check_template(failures, f"{path}.{key}", value)


def _check_labels(failures: Failures, path: str, grader: dict[str, Any]) -> None:
    labels, passing = grader.get("labels"), grader.get("passing_labels")
    for key, value in (("labels", labels), ("passing_labels", passing)):
        shaped = isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)
        if value is not None and not is_unknown(value) and not shaped:
            failures.add(f"{path}.{key}", f"{path}.{key} must be a non-empty list of strings, not {value!r}")
            return
    if isinstance(labels, list) and isinstance(passing, list):
        stray = [p for p in passing if p not in labels]
        if stray:
            failures.add(
                f"{path}.passing_labels",
                f"{path}.passing_labels must be a subset of labels {labels}; {stray} are not labels: "
                "add them to labels or remove them",
            )


def _check_score(failures: Failures, path: str, grader: dict[str, Any]) -> None:
    low, high = 0.0, 1.0
    span = grader.get("range")
    if span is not None and not is_unknown(span):
        if not isinstance(span, list) or len(span) != 2 or not all(_number(v) for v in span) or span[0] >= span[1]:
            failures.add(f"{path}.range", f"{path}.range must be two numbers [low, high] with low < high, not {span!r}")
            return
        low, high = float(span[0]), float(span[1])
    _check_threshold(failures, path, grader, low, high)
    params = grader.get("sampling_params")
    if params is not None and not is_unknown(params) and not isinstance(params, dict):
        failures.add(f"{path}.sampling_params", f"{path}.sampling_params must be a map, not {params!r}")


def _check_threshold(failures: Failures, path: str, grader: dict[str, Any], low: float, high: float) -> None:
    value = grader.get("pass_threshold")
    if value is None or is_unknown(value):
        return
    if not _number(value) or not low <= value <= high:
        failures.add(
            f"{path}.pass_threshold",
            f"{path}.pass_threshold must be a number from {low:g} to {high:g} (the grader's score range), "
            f"not {value!r}",
        )


def check_grader(failures: Failures, path: str, grader: Any, *, name_required: bool = False) -> None:
    """One grader against its type's shape; ``name_required`` also for ``text_similarity`` (results use names)."""
    if is_unknown(grader):
        return
    if not isinstance(grader, dict):
        failures.add(path, f"{path} must be a grader map with a 'type' ({', '.join(GRADER_TYPES)}), not {grader!r}")
        return
    kind = grader.get("type")
    if is_unknown(kind):
        return
    if kind not in SHAPES:
        failures.add(
            f"{path}.type",
            f"{path}.type must be one of {', '.join(GRADER_TYPES)} (the graders of API 2025-04-01-preview), "
            f"not {kind!r}",
        )
        return
    required, optional = SHAPES[kind]
    if name_required and "name" not in required:
        required = (*required, "name")
    for key in required:
        if grader.get(key) is None:
            failures.add(f"{path}.{key}", f"{path}.{key} is required for a {kind} grader")
    unknown = sorted(set(grader) - {*required, *optional})
    for key in unknown:
        failures.add(
            f"{path}.{key}",
            f"{path}.{key} is not a property of a {kind} grader (known: {', '.join(sorted({*required, *optional}))}); "
            "remove it or fix its spelling",
        )
    for key in ("name", "input", "reference", "model"):
        if key in grader and not (kind.endswith("_model") and key == "input"):
            _check_string(failures, path, grader, key)
    if kind == "string_check":
        op = grader.get("operation")
        if op is not None and not is_unknown(op) and op not in STRING_OPERATIONS:
            failures.add(
                f"{path}.operation", f"{path}.operation must be one of {', '.join(STRING_OPERATIONS)}, not {op!r}"
            )
    elif kind == "text_similarity":
        metric = grader.get("evaluation_metric")
        if metric is not None and not is_unknown(metric) and metric not in SIMILARITY_METRICS:
            failures.add(
                f"{path}.evaluation_metric",
                f"{path}.evaluation_metric must be one of {', '.join(SIMILARITY_METRICS)}, not {metric!r}",
            )
        _check_threshold(failures, path, grader, 0.0, 1.0)
    else:
        if grader.get("input") is not None:
            check_messages(failures, f"{path}.input", grader.get("input"))
        if kind == "label_model":
            _check_labels(failures, path, grader)
        else:
            _check_score(failures, path, grader)


def check_criteria(failures: Failures, prop: str, criteria: Any) -> None:
    """An evaluation's testing criteria: a non-empty list of graders, each named, the names unique."""
    if criteria is None:
        failures.add(prop, f"{prop} is required: a list of graders such as [{{'type': 'string_check', ...}}]")
        return
    if is_unknown(criteria):
        return
    if not isinstance(criteria, list) or not criteria:
        failures.add(prop, f"{prop} must be a non-empty list of graders ({', '.join(GRADER_TYPES)})")
        return
    seen: dict[str, int] = {}
    for i, grader in enumerate(criteria):
        check_grader(failures, f"{prop}[{i}]", grader, name_required=True)
        name = grader.get("name") if isinstance(grader, dict) else None
        if isinstance(name, str) and name:
            if name in seen:
                failures.add(
                    f"{prop}[{i}].name",
                    f"{prop}[{i}].name {name!r} is already the name of {prop}[{seen[name]}]: names must be unique "
                    "(the gate and the pass_rates output use them)",
                )
            seen.setdefault(name, i)


def criteria_names(criteria: Any) -> list[str]:
    """The names of the testing criteria (those that have one)."""
    if not isinstance(criteria, list):
        return []
    return [str(g["name"]) for g in criteria if isinstance(g, dict) and isinstance(g.get("name"), str)]


def item_fields(templates: Iterable[Any]) -> set[str]:
    """The ``item.*`` paths the given graders or messages quote, without the ``item.`` prefix."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.update(ref[5:] for ref in template_paths(value) if ref.startswith("item."))
        elif isinstance(value, dict):
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for template in templates:
        walk(template)
    return found


def check_reinforcement(failures: Failures, settings: Any, prop: str = "method.reinforcement") -> None:
    """A reinforcement fine-tuning method's settings: its ``grader`` is required and must be a valid grader."""
    if is_unknown(settings):
        return
    grader = settings.get("grader") if isinstance(settings, dict) else None
    if grader is None:
        failures.add(
            f"{prop}.grader",
            f"{prop}.grader is required: reinforcement fine-tuning scores the model's answers with a grader "
            "such as {'type': 'score_model', 'name': ..., 'model': ..., 'input': [...]}",
        )
        return
    check_grader(failures, f"{prop}.grader", grader)
