"""The Uploads API (a file in parts): openai-python's ``uploads.upload_file_chunked`` runs against the emulator."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from .support import RunningCli, chat_dataset, run_cli


@pytest.fixture(scope="module")
def server() -> Iterator[RunningCli]:
    with run_cli("--port", "0", "--seed", "17", "--clock", "immediate") as running:
        yield running


@pytest.fixture
def account(server: RunningCli, request: pytest.FixtureRequest) -> dict[str, object]:
    name = "up" + "".join(c for c in request.node.name if c.isalnum())[-20:].lower()
    response = server.admin("POST", "/accounts", json={"name": name, "location": "eastus2"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _dated(account: dict[str, object]) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=str(account["endpoint"]),
        api_key=str(account["keys"][0]),  # type: ignore[index]
        api_version="2025-04-01-preview",
        max_retries=0,
    )


def _v1(account: dict[str, object]) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{account['endpoint']}openai/v1/",
        api_key=str(account["keys"][0]),  # type: ignore[index]
        max_retries=0,
    )


@pytest.mark.parametrize("dialect", ["dated", "v1"])
def test_a_file_sent_in_parts_becomes_a_processed_file_with_the_same_bytes(
    account: dict[str, object], tmp_path: Path, dialect: str
) -> None:
    """upload_file_chunked with small parts and an md5: the upload completes into a File whose content is the file."""
    client = _dated(account) if dialect == "dated" else _v1(account)
    dataset = chat_dataset(tmp_path / "parts.jsonl", examples=40)
    data = dataset.read_bytes()
    upload = client.uploads.upload_file_chunked(
        file=dataset,
        mime_type="application/jsonl",
        purpose="fine-tune",
        part_size=1024,
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
    )
    assert upload.status == "completed"
    assert upload.bytes == len(data)
    assert upload.file is not None
    assert client.files.retrieve(upload.file.id).status == "processed"
    assert client.files.content(upload.file.id).read() == data


def test_parts_that_do_not_add_up_are_refused_and_cancel_ends_the_upload(account: dict[str, object]) -> None:
    """Completing with fewer bytes than declared is a 400 naming part_ids; cancel leaves the upload cancelled."""
    client = _v1(account)
    upload = client.uploads.create(bytes=10, filename="short.jsonl", mime_type="application/jsonl", purpose="fine-tune")
    part = client.uploads.parts.create(upload.id, data=b"12345")
    with pytest.raises(openai.BadRequestError) as info:
        client.uploads.complete(upload.id, part_ids=[part.id])
    assert "10" in str(info.value)
    cancelled = client.uploads.cancel(upload.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.uploads.parts.create(upload.id, data=b"67890")


def test_an_upload_declared_with_a_non_jsonl_name_for_fine_tuning_is_refused(account: dict[str, object]) -> None:
    """The fine-tune purpose needs a .jsonl file name, as with a one-shot upload."""
    client = _v1(account)
    with pytest.raises(openai.BadRequestError):
        client.uploads.create(bytes=10, filename="data.csv", mime_type="text/csv", purpose="fine-tune")
