"""Stack config and environment resolve in the documented order, and bad values are named with the fix."""

from __future__ import annotations

import pytest

from pulumi_aoai_finetuning.client import ApiKeyAuth, EntraAuth
from pulumi_aoai_finetuning.config import ConfigError, resolve


def _get(values: dict[str, str]):  # type: ignore[no-untyped-def]
    return values.get


def test_stack_config_key_wins_over_environment() -> None:
    """``azure-openai:apiKey`` comes before ``AZURE_OPENAI_API_KEY``."""
    settings = resolve(_get({"azure-openai:apiKey": "from-config"}), {"AZURE_OPENAI_API_KEY": "from-env"})
    assert settings.api_key == "from-config"


def test_environment_key_is_used_without_stack_config() -> None:
    """With no stack config the environment supplies the key."""
    assert resolve(_get({}), {"AZURE_OPENAI_API_KEY": "from-env"}).api_key == "from-env"


def test_per_endpoint_keys_pick_the_account_then_fall_back() -> None:
    """``apiKeys`` maps endpoints (with or without a trailing slash) to keys; others use ``apiKey``."""
    settings = resolve(
        _get(
            {
                "azure-openai:apiKeys": '{"https://a.openai.azure.com": "key-a"}',
                "azure-openai:apiKey": "key-default",
            }
        ),
        {},
    )
    assert settings.data_plane_auth("https://a.openai.azure.com/") == ApiKeyAuth("key-a")
    assert settings.data_plane_auth("https://b.openai.azure.com/") == ApiKeyAuth("key-default")


def test_no_key_anywhere_means_entra_id() -> None:
    """Without any key the data plane uses Microsoft Entra ID."""
    assert isinstance(resolve(_get({}), {}).data_plane_auth("https://a.openai.azure.com/"), EntraAuth)


def test_defaults() -> None:
    """The v1 dialect, public ARM, 2 s first poll capped at 45 s, 6 attempts."""
    settings = resolve(_get({}), {})
    assert (settings.api_version, settings.arm_endpoint) == ("v1", "https://management.azure.com")
    assert (settings.poll_interval, settings.poll_max, settings.max_retries) == (2.0, 45.0, 6)


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"azure-openai:apiVersion": "latest"}, "apiVersion"),
        ({"azure-openai:apiKeys": "not json"}, "apiKeys"),
        ({"azure-openai:apiKeys": '{"https://a/": 3}'}, "apiKeys"),
        ({"azure-openai:pollIntervalSeconds": "soon"}, "pollIntervalSeconds"),
        ({"azure-openai:maxRetries": "0"}, "maxRetries"),
        ({"azure-openai:prices": "cheap"}, "prices"),
        ({"azure-openai:prices": "[1, 2]"}, "prices"),
    ],
)
def test_bad_values_are_refused_naming_the_key(values: dict[str, str], needle: str) -> None:
    """Each unusable value raises a ConfigError that names its key."""
    with pytest.raises(ConfigError, match=needle):
        resolve(_get(values), {})


def test_prices_are_read_from_stack_config_as_json() -> None:
    """``azure-openai:prices`` is a JSON object of model to prices; absent, the table alone applies."""
    prices = '{"gpt-4o-mini-2024-07-18": {"training_per_million": 4}}'
    assert resolve(_get({"azure-openai:prices": prices}), {}).prices == {
        "gpt-4o-mini-2024-07-18": {"training_per_million": 4}
    }
    assert resolve(_get({}), {}).prices == {}


def test_settings_repr_hides_secrets() -> None:
    """Printing settings never shows a key or token."""
    settings = resolve(_get({"azure-openai:apiKey": "supersecretkey123", "azure-openai:armToken": "tok-abcdefgh"}), {})
    assert "supersecretkey123" not in repr(settings)
    assert "tok-abcdefgh" not in repr(settings)
