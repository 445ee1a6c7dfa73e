"""Fixtures for provider tests: an emulated account, the real dynamic-provider plugin, an engine replay."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pulumi_aoai_finetuning.testing import SECRET_CONFIG, DynamicPlugin, EmulatedAccount, EngineReplay, emulated_account
from tests.emulator.support import chat_dataset

SECRET_KEYS = set(SECRET_CONFIG)
DATED = "2025-04-01-preview"


@pytest.fixture
def account() -> Iterator[EmulatedAccount]:
    with emulated_account("provacct", seed=101) as acct:
        yield acct


@pytest.fixture
def manual_account() -> Iterator[EmulatedAccount]:
    with emulated_account("manualacct", seed=102, clock="manual") as acct:
        yield acct


PluginFactory = Callable[..., DynamicPlugin]


@pytest.fixture
def make_plugin(tmp_path: Path) -> Iterator[PluginFactory]:
    plugins: list[DynamicPlugin] = []

    def make(acct: EmulatedAccount, **config: str) -> DynamicPlugin:
        plugin = DynamicPlugin(acct.stack_config(**config), secrets=SECRET_KEYS, cwd=tmp_path)
        plugins.append(plugin)
        return plugin

    yield make
    for plugin in plugins:
        plugin.close()


@pytest.fixture
def engine(account: EmulatedAccount, make_plugin: PluginFactory) -> EngineReplay:
    return EngineReplay(make_plugin(account, **{"azure-openai:apiVersion": DATED}))


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return chat_dataset(tmp_path / "train.jsonl", 12)
