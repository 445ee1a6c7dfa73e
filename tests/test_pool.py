"""Pooled clients: one connection pool per account per process, credentials still read on every call."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from pulumi_aoai_finetuning import config
from pulumi_aoai_finetuning.client import ApiKeyAuth, AuthenticationError, DataPlaneClient, pool
from pulumi_aoai_finetuning.resources import TrainingFileProvider
from pulumi_aoai_finetuning.testing import EmulatedAccount, emulated_account
from tests.emulator.support import chat_dataset


@pytest.fixture
def account() -> Iterator[EmulatedAccount]:
    with emulated_account("poolacct", seed=131) as acct:
        yield acct
        # What exit does in a plugin: no pooled connection outlives this emulator into other tests.
        pool.close_all()


@pytest.fixture
def stack_config() -> Iterator[dict[str, str]]:
    """The stack config the providers of this process read, changeable between calls."""
    values: dict[str, str] = {}
    config.set_stack_config(values.get)
    try:
        yield values
    finally:
        config.set_stack_config(lambda _key: None)


def _upload(account: EmulatedAccount, tmp_path: Path) -> str:
    client = DataPlaneClient(account.endpoint, ApiKeyAuth(account.key))
    try:
        file_id = str(client.upload_file(chat_dataset(tmp_path / "t.jsonl"), "t.jsonl", "fine-tune")["id"])
    finally:
        client.close()
    return file_id


def _rotate(account: EmulatedAccount) -> str:
    response = httpx2.post(
        f"{account.arm_endpoint}{account.id}/regenerateKey",
        params={"api-version": "2025-06-01"},
        headers={"Authorization": "Bearer rotate"},
        json={"keyName": "Key1"},
    )
    response.raise_for_status()
    return str(response.json()["key1"])


def test_the_pooled_client_sees_a_rotated_key(
    account: EmulatedAccount, stack_config: dict[str, str], tmp_path: Path
) -> None:
    """After rotation the old key is refused, and the provider's next call, on the same pool, uses the new one."""
    file_id = _upload(account, tmp_path)
    provider, props = TrainingFileProvider(), {"endpoint": account.endpoint}
    stack_config["azure-openai:apiKey"] = account.key
    before = pool.clients_created()
    assert provider.read(file_id, props).id == file_id
    new_key = _rotate(account)
    assert new_key != account.key
    with pytest.raises(AuthenticationError):
        provider.read(file_id, props)  # the old key, still configured: the emulator refuses it
    stack_config["azure-openai:apiKey"] = new_key
    assert provider.read(file_id, props).id == file_id
    assert pool.clients_created() - before == 1


def test_calls_from_several_threads_share_one_pool(
    account: EmulatedAccount, stack_config: dict[str, str], tmp_path: Path
) -> None:
    """The plugin serves calls on several threads: they all go through one pool for the account."""
    file_id = _upload(account, tmp_path)
    stack_config["azure-openai:apiKey"] = account.key
    provider = TrainingFileProvider()
    before = pool.clients_created()
    results: list[str | None] = []

    def read() -> None:
        results.append(provider.read(file_id, {"endpoint": account.endpoint}).id)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [file_id] * 4
    assert pool.clients_created() - before == 1
    # Another origin is another pool; the same origin with other TLS settings too.
    pool.shared_client("https://other.openai.azure.com/")
    pool.shared_client(account.endpoint, verify=False)
    assert pool.clients_created() - before == 3
    assert pool.shared_client(account.endpoint) is pool.shared_client(account.endpoint.rstrip("/") + "/openai/")


def test_close_all_closes_the_pools_and_a_later_call_gets_a_new_one(account: EmulatedAccount) -> None:
    """What runs at exit: every pool closed; the process may still call afterwards (a new pool)."""
    first = pool.shared_client(account.endpoint)
    pool.close_all()
    assert first.is_closed
    second = pool.shared_client(account.endpoint)
    assert second is not first
    assert not second.is_closed
