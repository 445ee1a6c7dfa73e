"""The job-create data rules Azure applies: a chat model trains on chat data, and validation matches training."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from aoai_emulator import create_emulator

from .support import chat_dataset

API = "2025-04-01-preview"
CHAT_MODEL = "gpt-4o-mini-2024-07-18"
COMPLETION_MODEL = "babbage-002"


def _completion_dataset(path: Path, examples: int = 12) -> Path:
    with path.open("w") as out:
        for i in range(examples):
            out.write(json.dumps({"prompt": f"{i} + 1 =", "completion": f" {i + 1}"}) + "\n")
    return path


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx2.Client, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("rules")
    with (
        create_emulator(seed=11) as emu,
        httpx2.Client(base_url=emu.serve().url + "/rules/openai", timeout=30) as client,
    ):
        key = emu.seed_account("rules")["keys"][0]
        client.headers["api-key"] = key
        client.params = httpx2.QueryParams({"api-version": API})
        files = {}
        for kind, path in (
            ("chat", chat_dataset(tmp / "chat.jsonl")),
            ("completion", _completion_dataset(tmp / "completion.jsonl")),
        ):
            answer = client.post(
                "/files", files={"file": (path.name, path.read_bytes())}, data={"purpose": "fine-tune"}
            )
            assert answer.status_code == 201, answer.text
            files[kind] = answer.json()["id"]
            assert client.get(f"/files/{files[kind]}").json()["status"] == "processed"
        yield client, files


def _create(client: httpx2.Client, **body: str) -> httpx2.Response:
    return client.post("/fine_tuning/jobs", json=body)


def test_prompt_completion_data_for_a_chat_model_is_refused(account: tuple[httpx2.Client, dict[str, str]]) -> None:
    """gpt-4o-mini with prompt/completion training data: 400 invalidPayload naming training_file."""
    client, files = account
    answer = _create(client, model=CHAT_MODEL, training_file=files["completion"])
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalidPayload"
    assert answer.json()["error"]["target"] == "training_file"


def test_chat_data_for_a_completion_model_is_refused(account: tuple[httpx2.Client, dict[str, str]]) -> None:
    """babbage-002 with chat training data: 400 naming training_file."""
    client, files = account
    answer = _create(client, model=COMPLETION_MODEL, training_file=files["chat"])
    assert answer.status_code == 400
    assert answer.json()["error"]["target"] == "training_file"


def test_validation_data_of_another_format_than_training_is_refused(
    account: tuple[httpx2.Client, dict[str, str]],
) -> None:
    """Completion training with chat validation data: 400 naming validation_file; matching formats train."""
    client, files = account
    answer = _create(client, model=COMPLETION_MODEL, training_file=files["completion"], validation_file=files["chat"])
    assert answer.status_code == 400
    assert answer.json()["error"]["target"] == "validation_file"
    ok = _create(client, model=COMPLETION_MODEL, training_file=files["completion"], validation_file=files["completion"])
    assert ok.status_code == 201, ok.text
