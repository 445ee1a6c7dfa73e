"""Against real Azure OpenAI: upload, adopt and delete one small file (nothing billed for training).

Runs only with ``AZURE_OPENAI_LIVE=1`` and ``AZURE_OPENAI_ENDPOINT`` set (key from ``AZURE_OPENAI_API_KEY`` or
Entra ID through ``DefaultAzureCredential``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pulumi_aoai_finetuning.resources import TrainingFileProvider
from tests.emulator.support import chat_dataset

LIVE = os.environ.get("AZURE_OPENAI_LIVE") == "1" and bool(os.environ.get("AZURE_OPENAI_ENDPOINT"))
pytestmark = pytest.mark.skipif(
    not LIVE,
    reason="live Azure test: set AZURE_OPENAI_LIVE=1 and AZURE_OPENAI_ENDPOINT (plus a key or an az login) to run it",
)


def test_training_file_round_trip_on_real_azure(tmp_path: Path) -> None:
    """Check, create (upload and wait for processed), a second create that adopts, read, and delete."""
    provider = TrainingFileProvider()
    news = {"endpoint": os.environ["AZURE_OPENAI_ENDPOINT"], "path": str(chat_dataset(tmp_path / "live.jsonl", 10))}
    checked = provider.check({}, news)
    assert checked.failures == []
    created = provider.create(dict(checked.inputs))
    try:
        assert created.outs["status"] == "processed"
        again = provider.create(dict(checked.inputs))
        assert again.id == created.id, "the second create adopts the first upload"
        assert provider.read(created.id, dict(created.outs)).id == created.id
    finally:
        provider.delete(created.id, dict(created.outs))
    assert provider.read(created.id, dict(created.outs)).id is None
