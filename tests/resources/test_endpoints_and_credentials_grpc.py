"""Where credentials may go and what happens without any, through the real plugin against the emulator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pulumi_aoai_finetuning import Deployment, TrainingFile
from pulumi_aoai_finetuning.testing import (
    SECRET_CONFIG,
    CheckFailed,
    DynamicPlugin,
    EmulatedAccount,
    EngineReplay,
    ProviderError,
)

from .conftest import PluginFactory

# What DefaultAzureCredential reads: none of it may leak in from the machine running the tests.
AZURE_LOGIN_ENV = (
    "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ARM_TOKEN", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE",
    "IDENTITY_ENDPOINT", "MSI_ENDPOINT",
)  # fmt: skip


def test_plain_http_to_another_host_is_refused_at_check_with_no_request_sent(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """``http://<remote host>`` would carry the key in cleartext: preview fails naming the rule and the fix."""
    before = len(account.requests())
    with pytest.raises(CheckFailed) as failed:
        engine.plan("f", TrainingFile, {"endpoint": "http://acct.openai.azure.com/", "path": str(dataset)})
    reasons = dict(failed.value.failures)
    assert "cleartext" in reasons["endpoint"]
    assert "https://" in reasons["endpoint"]
    assert len(account.requests()) == before
    # Loopback (the emulator itself) stays allowed.
    assert engine.plan("f", TrainingFile, {"endpoint": account.endpoint, "path": str(dataset)}).op == "create"


def test_no_key_and_no_login_is_one_error_naming_the_keys(
    account: EmulatedAccount, dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a key or an Entra ID login, ``up`` fails with one line naming the config keys and the login."""
    config = {
        k: v for k, v in account.stack_config().items() if k not in ("azure-openai:apiKey", "azure-openai:armToken")
    }
    for name in AZURE_LOGIN_ENV:
        monkeypatch.delenv(name, raising=False)
    env = {}
    env["PATH"] = os.defpath  # no `az` or `azd` to borrow a login from
    env["HOME"] = str(tmp_path)  # no token cache of a developer's own login
    with DynamicPlugin(config, secrets=set(SECRET_CONFIG), cwd=tmp_path, env=env) as plugin:
        engine = EngineReplay(plugin)
        with pytest.raises(ProviderError) as raised:
            engine.up("f", TrainingFile, {"endpoint": account.endpoint, "path": str(dataset)})
        last = str(raised.value)
        assert "CredentialError" in last
        assert "azure-openai:apiKey" in last
        assert "AZURE_OPENAI_API_KEY" in last
        assert "az login" in last
        details = raised.value.details
        assert "ClientAuthenticationError" in details  # the cause is kept, for debugging
        assert "azure/identity/" not in details  # but not its frames through azure-identity
        with pytest.raises(ProviderError) as arm:
            engine.up("d", Deployment, {"account_id": account.id, "deployment_name": "d", "model": "m"})
        assert "azure-openai:armToken" in str(arm.value)
        assert "AZURE_OPENAI_ARM_TOKEN" in str(arm.value)
    assert account.requests(mutating=True) == []


def test_the_cli_refuses_plain_http_to_another_host(make_plugin: PluginFactory) -> None:
    """``aoai-ft`` applies the same rule as the providers, before any request."""
    from tests.cli.conftest import cli_env, run_cli

    done = run_cli("jobs", "--endpoint", "http://acct.openai.azure.com/", env=cli_env(AZURE_OPENAI_API_KEY="x" * 32))
    assert done.returncode != 0
    assert "cleartext" in done.stderr
    assert "--endpoint" in done.stderr
