"""A dated table of Azure OpenAI fine-tuning prices, overridable, and the training and hosting estimates.

PRICES CHANGE. The figures below are a snapshot (:data:`AS_OF`) for estimates at preview, never a bill: the
authority is Azure's pricing page (:data:`SOURCE_URL`), and a stack should set the prices it is charged
through stack config, which :func:`with_overrides` merges over this table, e.g.
``{"gpt-4o-mini-2024-07-18": {"training_per_million": 3.3, "hosting_per_hour": 1.7}}``.

Each price carries its status:

- ``documented``: stated as the rate in Microsoft's "Cost management for fine-tuning" how-to
  (MicrosoftDocs/azure-ai-docs ``articles/ai-foundry/openai/how-to/fine-tuning-cost-management.md``,
  ms.date 2026-02-11): $1.70/hour hosting for Standard and Global Standard deployments of a fine-tuned model,
  no hourly fee for Developer Tier, $100/hour of reinforcement training for o4-mini-2025-04-16, and o4-mini's
  $1.10 / $4.40 per 1M input/output tokens. The how-to itself calls its numbers examples and defers to the
  pricing page, so even these deserve an override once checked;
- ``unconfirmed``: the per-token training prices, recalled from the public price lists and not checked
  against the pricing page from this package's sources; they are there so a preview shows an order of
  magnitude, and say so. The developer-tier training price is derived from the global one by the how-to's
  rule ("developer (50% discount from global)"), so it is no firmer than the global price it halves;
- ``override``: given by stack config;
- a price the table does not have is None, and an estimate then reports no cost rather than invent one.

Training cost follows the how-to's formula for SFT and DPO: trained tokens = tokens in the training file x
epochs, times the price per token ("You're charged based on the number of tokens in your training file, and
the number of epochs"). For ``n_epochs: "auto"`` the epoch count is OpenAI's documented default rule, from its
fine-tuning data-prep notebook (openai-cookbook ``examples/Chat_finetuning_data_prep.ipynb``, "Pricing and
default n_epochs estimate"): 3 epochs, raised to min(25, 100 // examples) when examples x 3 < 100, lowered to
max(1, 25000 // examples) when examples x 3 > 25000 (:func:`auto_epochs`). Azure does not publish its own
rule; the service reports the epochs it chose in the job's ``hyperparameters.n_epochs``, which the estimate
can be compared with after training.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from .encodings import base_model

__all__ = [
    "AS_OF",
    "CURRENCY",
    "PRICES",
    "SOURCE_URL",
    "Estimate",
    "HourlyCost",
    "Price",
    "PriceTable",
    "auto_epochs",
    "estimate_training",
    "hosting_per_hour",
    "money",
    "with_overrides",
]

AS_OF = datetime.date(2026, 11, 30)
"""The day this table was compiled: every estimate repeats it, so a stale price shows its age."""

SOURCE_URL = "https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/"
"""Azure OpenAI's pricing page: the authority over every figure here."""

COST_DOC = "https://learn.microsoft.com/azure/ai-foundry/openai/how-to/fine-tuning-cost-management"
CURRENCY = "USD"

Status = Literal["documented", "unconfirmed", "override"]

PRICE_KEYS = (
    "training_per_million",
    "training_per_million_global",
    "training_per_million_developer",
    "training_per_hour",
    "hosting_per_hour",
    "hosting_per_hour_global",
    "hosting_per_hour_developer",
    "input_per_million",
    "output_per_million",
)
"""The prices a model may have: training by type, reinforcement training by hour, hosting by SKU, inference."""

TRAINING_TYPES = ("standard", "globalstandard", "developer")
_TRAINING_KEY = {
    "standard": "training_per_million",
    "globalstandard": "training_per_million_global",
    "global": "training_per_million_global",
    "developer": "training_per_million_developer",
    "developertier": "training_per_million_developer",
}
_HOSTING_KEY = {
    "standard": "hosting_per_hour",
    "globalstandard": "hosting_per_hour_global",
    "developer": "hosting_per_hour_developer",
    "developertier": "hosting_per_hour_developer",
}

# OpenAI's default-epochs rule (module docstring).
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


@dataclass(frozen=True, slots=True)
class Price:
    """One price in USD, with where it comes from (``documented``, ``unconfirmed`` or ``override``)."""

    value: float
    status: Status
    source: str


PriceTable = Mapping[str, Mapping[str, Price]]
"""Prices by base model, then by one of :data:`PRICE_KEYS`."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """An estimated training run: tokens x epochs, its cost (None when no price is known) and how it was made."""

    trained_tokens: int
    epochs: int
    cost: float | None
    currency: str
    as_of: datetime.date
    price_status: Status | None
    rule: str


@dataclass(frozen=True, slots=True)
class HourlyCost:
    """The hourly hosting cost of a deployed fine-tuned model (None when not known or not hourly)."""

    per_hour: float | None
    currency: str
    as_of: datetime.date
    price_status: Status | None
    rule: str


def _table() -> PriceTable:
    unconfirmed = f"recalled public price, not checked against {SOURCE_URL}"
    developer = "half the global price: the cost how-to's 'developer (50% discount from global)'"
    hosting = {
        "hosting_per_hour": Price(1.70, "documented", COST_DOC),
        "hosting_per_hour_global": Price(1.70, "documented", COST_DOC),
        "hosting_per_hour_developer": Price(0.0, "documented", COST_DOC),
    }

    def sft(standard: float, global_: float) -> dict[str, Price]:
        return {
            "training_per_million": Price(standard, "unconfirmed", unconfirmed),
            "training_per_million_global": Price(global_, "unconfirmed", unconfirmed),
            "training_per_million_developer": Price(round(global_ / 2, 4), "unconfirmed", developer),
            **hosting,
        }

    table: dict[str, dict[str, Price]] = {
        "gpt-4o-mini-2024-07-18": sft(3.30, 3.00),
        "gpt-4o-2024-08-06": sft(27.50, 25.00),
        "gpt-4.1-2025-04-14": sft(27.50, 25.00),
        "gpt-4.1-mini-2025-04-14": sft(5.50, 5.00),
        "gpt-4.1-nano-2025-04-14": sft(1.65, 1.50),
        "o4-mini-2025-04-16": {
            "training_per_hour": Price(100.0, "documented", COST_DOC),
            "input_per_million": Price(1.10, "documented", COST_DOC),
            "output_per_million": Price(4.40, "documented", COST_DOC),
            **hosting,
        },
        # Older models: their training prices are not known to this table (set them in stack config).
        "gpt-35-turbo-0125": dict(hosting),
        "gpt-35-turbo-1106": dict(hosting),
        "gpt-35-turbo-0613": dict(hosting),
        "babbage-002": dict(hosting),
        "davinci-002": dict(hosting),
    }
    return MappingProxyType({model: MappingProxyType(prices) for model, prices in table.items()})


PRICES: PriceTable = _table()
"""The built-in price table, as of :data:`AS_OF` (read the module docstring before trusting a figure)."""


def with_overrides(overrides: Mapping[str, Mapping[str, Any]], table: PriceTable = PRICES) -> PriceTable:
    """A copy of ``table`` with prices from stack config merged over it, per model and per price key."""
    merged: dict[str, dict[str, Price]] = {model: dict(prices) for model, prices in table.items()}
    if not isinstance(overrides, Mapping):
        raise ValueError(
            f"prices: must be a mapping of model to prices, not {type(overrides).__name__} (rule pricing.override); "
            'write e.g. {"gpt-4o-mini-2024-07-18": {"training_per_million": 3.3}}'
        )
    for model, prices in overrides.items():
        if not isinstance(model, str) or not isinstance(prices, Mapping):
            raise ValueError(
                f"prices.{model}: must map price names to numbers (rule pricing.override); "
                'write e.g. {"training_per_million": 3.3, "hosting_per_hour": 1.7}'
            )
        entry = merged.setdefault(base_model(model), {})
        for key, value in prices.items():
            if key not in PRICE_KEYS:
                raise ValueError(
                    f"prices.{model}.{key}: not a known price (rule pricing.override); use one of {', '.join(PRICE_KEYS)}"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"prices.{model}.{key}: {value!r} is not a price (rule pricing.override); "
                    "give a number of US dollars, 0 or more"
                )
            entry[key] = Price(float(value), "override", "stack config")
    return MappingProxyType({model: MappingProxyType(prices) for model, prices in merged.items()})


def auto_epochs(examples: int) -> int:
    """The epochs ``n_epochs: "auto"`` is expected to pick for ``examples`` training examples (OpenAI's rule)."""
    if examples <= 0:
        raise ValueError(f"examples: {examples} is not a dataset size (rule pricing.auto-epochs); count at least 1")
    if examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // examples)
    if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // examples)
    return TARGET_EPOCHS


def money(amount: float) -> str:
    """US dollars as a person reads them: cents from $1 up, and a small amount's significant digits below it."""
    return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${amount:.3g}"


def _provenance(price: Price) -> str:
    if price.status == "override":
        return "price from stack config"
    return f"{price.status} price, table as of {AS_OF}"


def _training_key(training_type: str) -> str:
    key = _TRAINING_KEY.get(training_type.replace("_", "").replace(" ", "").lower())
    if key is None:
        raise ValueError(
            f"training_type: {training_type!r} is not a training type (rule pricing.training-type); "
            f"use one of {', '.join(TRAINING_TYPES)}"
        )
    return key


def estimate_training(
    model: str,
    tokens: int,
    epochs: int | Literal["auto"],
    training_type: str = "standard",
    *,
    examples: int | None = None,
    prices: PriceTable = PRICES,
) -> Estimate:
    """Estimate an SFT/DPO run: trained tokens (file tokens x epochs) and their cost at the table's price."""
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise ValueError(f"tokens: {tokens!r} is not a token count (rule pricing.tokens); pass the file's tokens")
    if epochs == "auto":
        if examples is None:
            raise ValueError(
                "examples: needed when n_epochs is 'auto', which depends on the dataset's size "
                "(rule pricing.auto-epochs); pass the training file's example count"
            )
        n_epochs = auto_epochs(examples)
        how_epochs = f"{n_epochs} epochs (n_epochs auto: OpenAI's default rule for {examples:,} examples)"
    elif isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"n_epochs: {epochs!r} is not an epoch count (rule pricing.epochs); use 1 or more, or 'auto'")
    else:
        n_epochs = epochs
        how_epochs = f"{n_epochs} epochs"
    key = _training_key(training_type)
    base = base_model(model)
    trained = tokens * n_epochs
    price = prices.get(base, {}).get(key)
    kind = key.removeprefix("training_per_million").lstrip("_") or "standard"
    if price is None:
        hourly = prices.get(base, {}).get("training_per_hour")
        if hourly is not None:
            why = f"{base} is billed by training hour (${hourly.value:g}/h), which cannot be known before the run"
        else:
            why = (
                f"no {kind} training price for {base} in the table as of {AS_OF}; set prices.{base}.{key} in "
                f'stack config (e.g. {{"{base}": {{"{key}": <USD per 1M tokens>}}}})'
            )
        return Estimate(
            trained,
            n_epochs,
            None,
            CURRENCY,
            AS_OF,
            None,
            f"{tokens:,} tokens x {how_epochs} = {trained:,} trained tokens; cost unknown: {why}",
        )
    cost = round(trained * price.value / 1_000_000, 6)
    return Estimate(
        trained,
        n_epochs,
        cost,
        CURRENCY,
        AS_OF,
        price.status,
        f"{tokens:,} tokens x {how_epochs} = {trained:,} trained tokens x ${price.value:g} per 1M ({kind} training, "
        f"{_provenance(price)}) = {money(cost)}",
    )


def hosting_per_hour(model: str, sku: str, prices: PriceTable = PRICES) -> HourlyCost:
    """The hourly hosting fee of a fine-tuned ``model`` deployed with ``sku`` (Standard, GlobalStandard, Developer)."""
    base = base_model(model)
    sku_key = sku.replace("_", "").replace(" ", "").lower()
    if sku_key.endswith("provisionedmanaged"):
        return HourlyCost(
            None, CURRENCY, AS_OF, None, f"{sku}: billed per PTU-hour by agreement, not by a fine-tuned hosting fee"
        )
    key = _HOSTING_KEY.get(sku_key)
    if key is None:
        raise ValueError(
            f"sku: {sku!r} has no fine-tuned hosting price (rule pricing.sku); "
            "use Standard, GlobalStandard or Developer (DeveloperTier)"
        )
    price = prices.get(base, {}).get(key)
    if price is None:
        return HourlyCost(
            None,
            CURRENCY,
            AS_OF,
            None,
            f"no {sku} hosting price for {base} in the table as of {AS_OF}; set prices.{base}.{key} in stack config",
        )
    return HourlyCost(
        price.value,
        CURRENCY,
        AS_OF,
        price.status,
        f"${price.value:g}/hour to host {base} fine-tuned models on {sku} ({_provenance(price)})",
    )
