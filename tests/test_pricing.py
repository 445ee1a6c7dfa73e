"""The price table, its overrides, and the training and hosting estimates."""

from __future__ import annotations

import datetime
import math

import pytest

from pulumi_aoai_finetuning import pricing
from pulumi_aoai_finetuning.pricing import (
    AS_OF,
    PRICE_KEYS,
    PRICES,
    SOURCE_URL,
    auto_epochs,
    estimate_training,
    hosting_per_hour,
    with_overrides,
)
from pulumi_aoai_finetuning.tokens import EXAMPLE_TOKEN_LIMITS


def test_the_table_is_dated_sourced_and_marks_every_price() -> None:
    assert isinstance(AS_OF, datetime.date)
    assert SOURCE_URL.startswith("https://azure.microsoft.com/pricing/")
    assert set(PRICES) == set(EXAMPLE_TOKEN_LIMITS) - {"gpt-4-0613"}  # gpt-4-0613 fine-tuning was a retired preview
    for model, prices in PRICES.items():
        assert set(prices) <= set(PRICE_KEYS), model
        for key, price in prices.items():
            assert price.status in ("documented", "unconfirmed"), (model, key)
            assert price.source, (model, key)
            assert price.value >= 0
        # Per-token training prices are not confirmed against the pricing page: the table must say so.
        for key in ("training_per_million", "training_per_million_global", "training_per_million_developer"):
            if key in prices:
                assert prices[key].status == "unconfirmed", (model, key)
        if "training_per_million_global" in prices:
            assert prices["training_per_million_developer"].value == pytest.approx(
                prices["training_per_million_global"].value / 2
            )


def test_hosting_fees_from_microsofts_cost_guide() -> None:
    standard = hosting_per_hour("gpt-4o-mini-2024-07-18.ft-0e208cf33a6a466994aff31a08aba678", "Standard")
    assert standard.per_hour == 1.70
    assert standard.price_status == "documented"
    assert standard.as_of == AS_OF
    assert "1.7/hour" in standard.rule
    assert hosting_per_hour("gpt-4.1-2025-04-14", "GlobalStandard").per_hour == 1.70
    assert hosting_per_hour("gpt-4.1-2025-04-14", "DeveloperTier").per_hour == 0.0
    assert hosting_per_hour("gpt-4.1-2025-04-14", "Developer").per_hour == 0.0
    ptu = hosting_per_hour("gpt-4.1-2025-04-14", "ProvisionedManaged")
    assert ptu.per_hour is None
    assert "PTU" in ptu.rule
    unknown = hosting_per_hour("gpt-5-2025-08-07", "Standard")
    assert unknown.per_hour is None
    assert "prices.gpt-5-2025-08-07.hosting_per_hour" in unknown.rule
    with pytest.raises(ValueError, match=r"'GlobalBatch'.*pricing\.sku"):
        hosting_per_hour("gpt-4.1-2025-04-14", "GlobalBatch")


def test_training_estimate_is_tokens_times_epochs_times_the_price() -> None:
    price = PRICES["gpt-4o-mini-2024-07-18"]["training_per_million"].value
    estimate = estimate_training("gpt-4o-mini-2024-07-18", 123_457, 3)
    assert estimate.trained_tokens == 370_371
    assert estimate.epochs == 3
    assert estimate.cost == pytest.approx(370_371 * price / 1_000_000)
    assert estimate.currency == "USD"
    assert estimate.as_of == AS_OF
    assert estimate.price_status == "unconfirmed"
    assert "123,457 tokens x 3 epochs = 370,371 trained tokens" in estimate.rule
    assert "unconfirmed" in estimate.rule


@pytest.mark.parametrize(
    ("training_type", "key"),
    [
        ("standard", "training_per_million"),
        ("globalstandard", "training_per_million_global"),
        ("GlobalStandard", "training_per_million_global"),
        ("developer", "training_per_million_developer"),
    ],
)
def test_training_type_selects_the_price(training_type: str, key: str) -> None:
    estimate = estimate_training("gpt-4.1-mini-2025-04-14", 1_000_000, 1, training_type)
    assert estimate.cost == pytest.approx(PRICES["gpt-4.1-mini-2025-04-14"][key].value)


def test_microsofts_worked_example_with_an_override() -> None:
    # The cost guide: GPT-4.1, global training, 1M tokens, 2 epochs, $2 per 1M tokens -> $4.
    prices = with_overrides({"gpt-4.1-2025-04-14": {"training_per_million_global": 2}})
    estimate = estimate_training("gpt-4.1-2025-04-14", 1_000_000, 2, "globalstandard", prices=prices)
    assert estimate.cost == 4.0
    assert estimate.price_status == "override"
    assert "stack config" in estimate.rule


@pytest.mark.parametrize(
    ("examples", "epochs"),
    [(1, 25), (3, 25), (5, 20), (10, 10), (33, 3), (34, 3), (8_333, 3), (8_334, 2), (12_500, 2), (30_000, 1)],
)
def test_auto_epochs_follows_openais_rule(examples: int, epochs: int) -> None:
    assert auto_epochs(examples) == epochs


def test_auto_epochs_in_an_estimate_reproduces_the_cookbooks_output() -> None:
    # Chat_finetuning_data_prep.ipynb: a 5-example dataset of ~4306 tokens trains 20 epochs, ~86120 tokens.
    estimate = estimate_training("gpt-4o-mini-2024-07-18", 4306, "auto", examples=5)
    assert (estimate.epochs, estimate.trained_tokens) == (20, 86_120)
    assert "n_epochs auto" in estimate.rule
    with pytest.raises(ValueError, match=r"examples:.*pricing\.auto-epochs"):
        estimate_training("gpt-4o-mini-2024-07-18", 4306, "auto")
    with pytest.raises(ValueError, match=r"pricing\.auto-epochs"):
        auto_epochs(0)


def test_a_model_without_a_price_gets_no_cost_and_the_fix() -> None:
    estimate = estimate_training("babbage-002", 10_000, 2)
    assert estimate.trained_tokens == 20_000
    assert estimate.cost is None
    assert estimate.price_status is None
    assert 'set prices.babbage-002.training_per_million in stack config (e.g. {"babbage-002"' in estimate.rule


def test_reinforcement_is_billed_by_the_hour_so_no_token_cost() -> None:
    estimate = estimate_training("o4-mini-2025-04-16", 10_000, 1)
    assert estimate.cost is None
    assert "$100/h" in estimate.rule


def test_overrides_merge_per_key_and_leave_the_table_alone() -> None:
    before = PRICES["gpt-4o-mini-2024-07-18"]["training_per_million"]
    prices = with_overrides(
        {
            "gpt-4o-mini-2024-07-18": {"training_per_million": 3.3, "hosting_per_hour": 1.7},
            "gpt-5-2025-08-07.ft-abc": {"training_per_million": 9},
        }
    )
    assert prices["gpt-4o-mini-2024-07-18"]["training_per_million"].status == "override"
    assert (
        prices["gpt-4o-mini-2024-07-18"]["training_per_million_global"]
        == (PRICES["gpt-4o-mini-2024-07-18"]["training_per_million_global"])
    )
    assert prices["gpt-5-2025-08-07"]["training_per_million"].value == 9.0  # a model the table lacks
    assert estimate_training("gpt-5-2025-08-07", 1_000_000, 1, prices=prices).cost == 9.0
    assert PRICES["gpt-4o-mini-2024-07-18"]["training_per_million"] is before
    assert "gpt-5-2025-08-07" not in PRICES
    with pytest.raises(TypeError):
        PRICES["gpt-4o-mini-2024-07-18"]["training_per_million"] = before  # type: ignore[index]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (
            {"gpt-4o-mini-2024-07-18": {"training_per_millon": 3}},
            r"prices\.gpt-4o-mini-2024-07-18\.training_per_millon:",
        ),
        ({"gpt-4o-mini-2024-07-18": {"hosting_per_hour": -1}}, r"hosting_per_hour: -1 is not a price"),
        ({"gpt-4o-mini-2024-07-18": {"hosting_per_hour": True}}, r"True is not a price"),
        ({"gpt-4o-mini-2024-07-18": {"hosting_per_hour": math.nan}}, r"nan is not a price"),
        ({"gpt-4o-mini-2024-07-18": {"hosting_per_hour": "1.7"}}, r"'1.7' is not a price"),
        ({"gpt-4o-mini-2024-07-18": 3.3}, r"prices\.gpt-4o-mini-2024-07-18: must map price names"),
    ],
)
def test_bad_overrides_name_the_key_the_rule_and_the_fix(overrides: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match) as caught:
        with_overrides(overrides)  # type: ignore[arg-type]
    assert "pricing.override" in str(caught.value)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("gpt-4o-mini-2024-07-18", -1, 1), r"tokens: -1"),
        (("gpt-4o-mini-2024-07-18", 10, 0), r"n_epochs: 0"),
        (
            ("gpt-4o-mini-2024-07-18", 10, 1, "premium"),
            r"training_type: 'premium'.*standard, globalstandard, developer",
        ),
    ],
)
def test_bad_estimate_inputs_are_refused(args: tuple[object, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        estimate_training(*args)  # type: ignore[arg-type]


def test_module_docstring_says_prices_change_and_are_overridable() -> None:
    doc = pricing.__doc__ or ""
    assert "PRICES CHANGE" in doc
    assert "with_overrides" in doc
