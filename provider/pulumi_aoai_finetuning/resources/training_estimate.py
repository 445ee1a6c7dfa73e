"""A FineTuningJob's training estimate at preview, and its budget guard: refused before anything is paid.

The job gets its dataset's exact token counts from its TrainingFile (``training_token_count=file.token_count``,
counted at preview, so known before the file exists) and estimates, in ``check``, what the run will train on
and cost (``pricing.estimate_training``): file tokens x epochs, ``n_epochs`` left out or ``"auto"`` taking
OpenAI's default rule (``pricing.auto_epochs``), at the price of the job's ``training_type`` from the package's
dated table, overridden by ``azure-openai:prices`` in stack config. The estimate is in the checked inputs, so a
preview shows it as outputs. ``max_trained_tokens`` and ``max_training_cost`` refuse a job whose estimate is
above them, in ``check``: the preview fails and ``up`` stops before any request that costs money. Once the job
has trained, ``estimate_error`` compares the service's ``trained_tokens`` with the estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import config
from ..encodings import UnknownModelError, encoding_for_model
from ..inputs import Failures, check_number, is_unknown
from ..pricing import Estimate, PriceTable, estimate_training, money, with_overrides
from ..tokens import OverLimit, example_token_limit

__all__ = ["ESTIMATE_INPUTS", "ESTIMATE_OUTPUTS", "check_estimate", "estimate_error"]

ESTIMATE_INPUTS = ("training_token_count", "max_trained_tokens", "max_training_cost")
ESTIMATE_OUTPUTS = ("estimated_trained_tokens", "estimated_training_cost", "estimate", "estimate_error")
_COUNT_KEYS = ("examples", "tokens", "max_example_tokens", "max_example_line")
_FIX_COUNT = "pass training_token_count=<the TrainingFile>.token_count"


def _epochs(news: Mapping[str, Any]) -> int | str | None:
    """The requested epochs: a number, ``"auto"`` (also when left out) or None when not known yet."""
    values = []
    hp = news.get("hyperparameters")
    if isinstance(hp, dict):
        values.append(hp.get("n_epochs"))
    method = news.get("method")
    if isinstance(method, dict) and isinstance(method.get(method.get("type")), dict):
        mhp = method[method["type"]].get("hyperparameters")
        if isinstance(mhp, dict):
            values.append(mhp.get("n_epochs"))
    for value in values:
        if is_unknown(value):
            return None
        if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
            return int(value)
    return "auto"


def _prices(failures: Failures, news: Mapping[str, Any]) -> PriceTable | None:
    """The price table with stack config's overrides; a malformed override fails the check that needs it."""
    try:
        return with_overrides(config.current().prices)
    except ValueError as exc:
        prop = "max_training_cost" if news.get("max_training_cost") is not None else "training_token_count"
        failures.add(prop, f"stack config {config.NAMESPACE}:{exc}")
        return None


def _count(failures: Failures, raw: Any) -> dict[str, Any] | None:
    """The token count input, checked; None when it is absent, unknown or malformed (then a failure says so)."""
    if raw is None or is_unknown(raw):
        return None
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), int | float) and not isinstance(raw.get(k), bool) for k in _COUNT_KEYS
    ):
        failures.add(
            "training_token_count",
            f"training_token_count must be a TrainingFile's token_count (a map with encoding, {', '.join(_COUNT_KEYS)})"
            f", not {raw!r}; {_FIX_COUNT}",
        )
        return None
    return {**raw, **{k: int(raw[k]) for k in _COUNT_KEYS}}


def check_estimate(failures: Failures, news: dict[str, Any], *, submits: bool) -> None:
    """Put the estimate into ``news``; refuse a job whose estimate is above its budget, or that cannot be guarded.

    ``submits`` says whether the inputs may start a new paid job (a create, or a changed training input): the
    budget guards only those, so lowering a budget under a job that already trained does not block the stack.
    """
    check_number(failures, news, "max_trained_tokens", low=1, high=1e15, integer=True)
    check_number(failures, news, "max_training_cost", low=0, high=1e9)
    count = _count(failures, news.get("training_token_count"))
    model = news.get("model")
    budgets = [b for b in ("max_trained_tokens", "max_training_cost") if news.get(b) is not None]
    if count is None or not isinstance(model, str) or not model:
        if count is None and news.get("training_token_count") is None:
            for budget in budgets:
                failures.add(budget, f"{budget} needs the dataset's token count to estimate the run; {_FIX_COUNT}")
        return
    try:
        encoding = encoding_for_model(model)
    except UnknownModelError as exc:
        if budgets:
            failures.add("model", f"{exc}; the budget ({', '.join(budgets)}) cannot be checked without a tokenizer")
        return
    if count.get("encoding") != encoding:
        failures.add(
            "training_token_count",
            f"training_token_count was counted in {count.get('encoding')}, but {model} uses {encoding} "
            f"(rule tokens.encoding-mismatch); set model={model!r} on the TrainingFile so it counts in {encoding}",
        )
        return
    limit = example_token_limit(model)
    if limit is not None and count["max_example_tokens"] > limit:
        over = OverLimit(line=count["max_example_line"], tokens=count["max_example_tokens"], limit=limit)
        failures.add("training_token_count", over.message(str(count.get("file") or "the training file"), model))
    epochs = _epochs(news)
    training_type = news.get("training_type") or "standard"
    if epochs is None or is_unknown(training_type) or count["examples"] < 1:
        return
    prices = _prices(failures, news)
    if prices is None:
        return
    try:
        estimate = estimate_training(
            model,
            count["tokens"],
            "auto" if epochs == "auto" else int(epochs),
            str(training_type),
            examples=count["examples"],
            prices=prices,
        )
    except ValueError:
        return  # an out-of-range n_epochs or training_type: its own check names it
    news["estimated_trained_tokens"] = estimate.trained_tokens
    news["estimated_training_cost"] = estimate.cost
    news["estimate"] = f"{estimate.rule} ({estimate.currency})"
    if submits:
        _guard(failures, news, estimate)


def _guard(failures: Failures, news: Mapping[str, Any], estimate: Estimate) -> None:
    tokens_limit = news.get("max_trained_tokens")
    if isinstance(tokens_limit, int | float) and estimate.trained_tokens > tokens_limit:
        failures.add(
            "max_trained_tokens",
            f"the job would train on an estimated {estimate.trained_tokens:,} tokens ({estimate.rule}), above "
            f"max_trained_tokens {int(tokens_limit):,} (rule budget.trained-tokens); nothing was submitted. Lower "
            "n_epochs or shrink the dataset, or raise max_trained_tokens",
        )
    cost_limit = news.get("max_training_cost")
    if not isinstance(cost_limit, int | float) or isinstance(cost_limit, bool):
        return
    if estimate.cost is None:
        failures.add(
            "max_training_cost",
            f"the training cost cannot be estimated ({estimate.rule}) (rule budget.unknown-price); nothing was "
            f"submitted. Set the price in stack config ({config.NAMESPACE}:prices) or remove max_training_cost",
        )
    elif estimate.cost > cost_limit:
        failures.add(
            "max_training_cost",
            f"the job would cost an estimated {money(estimate.cost)} {estimate.currency} ({estimate.rule}), above "
            f"max_training_cost {money(cost_limit)} (rule budget.training-cost); nothing was submitted. Lower "
            "n_epochs, shrink the dataset or pick a cheaper training_type, or raise max_training_cost",
        )


def estimate_error(estimated: Any, trained: Any) -> float | None:
    """How far the service's trained tokens are from the estimate: trained / estimated - 1 (0.0 when exact)."""
    if not isinstance(estimated, int | float) or not isinstance(trained, int | float) or not estimated:
        return None
    return round(trained / estimated - 1, 6)
