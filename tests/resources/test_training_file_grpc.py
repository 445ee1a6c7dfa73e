"""TrainingFile through the real ``python -m pulumi.dynamic`` server, replaying what the engine sends."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import httpx2
import pytest

from pulumi_aoai_finetuning import TrainingFile
from pulumi_aoai_finetuning.testing import UNKNOWN, CheckFailed, EmulatedAccount, EngineReplay, ProviderError
from tests.emulator.support import chat_dataset

from .conftest import PluginFactory


def _inputs(acct: EmulatedAccount, path: Path) -> dict[str, object]:
    return {"endpoint": acct.endpoint, "path": str(path)}


def test_create_uploads_once_and_reports_the_dataset(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """Create uploads the file under a content-addressed name, waits for processed, and reports hash and shape."""
    step = engine.up("train", TrainingFile, _inputs(account, dataset))
    assert step.op == "create"
    assert step.state is not None
    out = step.state.outputs
    digest = hashlib.sha256(dataset.read_bytes()).hexdigest()
    assert out["sha256"] == digest
    assert out["status"] == "processed"
    assert out["examples"] == 12
    assert out["format"] == "chat"
    assert out["bytes"] == dataset.stat().st_size
    assert out["file_id"] == step.state.id
    files = account.objects("files")
    assert list(files) == [step.state.id]
    assert files[step.state.id]["filename"] == f"train.{digest[:16]}.jsonl"


def test_second_up_is_a_no_op_without_mutating_requests(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """An unchanged resource diffs to DIFF_NONE and the second up sends nothing that changes anything."""
    engine.up("train", TrainingFile, _inputs(account, dataset))
    before = len(account.requests())
    step = engine.up("train", TrainingFile, _inputs(account, dataset))
    assert step.op == "same"
    assert account.requests()[before:] == []


def test_a_file_named_before_names_carried_their_owner_keeps_its_name(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """A stack from before the resource's key was sent: the next up is a no-op, not a replace and a new upload."""
    first = engine.up("train", TrainingFile, _inputs(account, dataset))
    before = len(account.requests())
    step = engine.up("train", TrainingFile, {**_inputs(account, dataset), "resource_key": "proj/dev/train"})
    assert step.op == "same"
    assert step.state is not None
    assert first.state is not None
    assert step.state.inputs["remote_filename"] == first.state.inputs["remote_filename"]
    assert account.requests()[before:] == []


def test_the_resources_key_names_its_upload(engine: EngineReplay, account: EmulatedAccount, dataset: Path) -> None:
    """With the key the class sends, the remote name carries a hash of it after the content's."""
    step = engine.up("train", TrainingFile, {**_inputs(account, dataset), "resource_key": "proj/dev/train"})
    assert step.state is not None
    digest = hashlib.sha256(dataset.read_bytes()).hexdigest()
    mine = hashlib.sha256(b"proj/dev/train").hexdigest()[:8]
    assert account.objects("files")[step.state.id]["filename"] == f"train.{digest[:16]}.{mine}.jsonl"


def test_changed_dataset_replaces_the_file(engine: EngineReplay, account: EmulatedAccount, dataset: Path) -> None:
    """New content is a new file: the new one is uploaded first, then the old one deleted."""
    first = engine.up("train", TrainingFile, _inputs(account, dataset))
    chat_dataset(dataset, 14)
    step = engine.up("train", TrainingFile, _inputs(account, dataset))
    assert step.op == "replace"
    assert "sha256" in step.replaces
    assert step.state is not None
    assert first.state is not None
    assert list(account.objects("files")) == [step.state.id]
    assert step.state.id != first.state.id


def test_preview_with_unknown_endpoint_makes_no_request(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """A preview whose endpoint is not known yet validates the dataset and calls nothing."""
    step = engine.plan("train", TrainingFile, {"endpoint": UNKNOWN, "path": str(dataset)})
    assert step.op == "create"
    assert account.requests() == []


def test_refresh_drops_a_file_deleted_out_of_band(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """Deleted outside Pulumi, the file leaves the state on refresh."""
    created = engine.up("train", TrainingFile, _inputs(account, dataset))
    assert created.state is not None
    assert engine.refresh("train").op == "refresh"
    httpx2.delete(f"{account.endpoint}openai/v1/files/{created.state.id}", headers={"api-key": account.key})
    assert engine.refresh("train").op == "refresh-deleted"
    assert "train" not in engine.state


def test_destroy_deletes_the_file(engine: EngineReplay, account: EmulatedAccount, dataset: Path) -> None:
    """Destroy leaves no file in the account."""
    engine.up("train", TrainingFile, _inputs(account, dataset))
    engine.destroy("train")
    assert account.objects("files") == {}


def test_bad_dataset_fails_check_with_file_and_line(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path
) -> None:
    """A broken dataset fails at check with ``file:line``, and nothing is uploaded."""
    bad = tmp_path / "bad.jsonl"
    lines = chat_dataset(tmp_path / "ok.jsonl").read_text().splitlines()
    lines[3] = '{"messages": [{"role": "user", "content": "hi"}'
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(CheckFailed) as info:
        engine.up("bad", TrainingFile, _inputs(account, bad))
    assert any(prop == "path" and "bad.jsonl:4" in reason for prop, reason in info.value.failures)
    assert account.requests() == []


def test_missing_inputs_fail_check_naming_each_property(engine: EngineReplay, tmp_path: Path) -> None:
    """No endpoint and both sources at once: two failures, each naming its property."""
    with pytest.raises(CheckFailed) as info:
        engine.up("x", TrainingFile, {"path": str(tmp_path / "a.jsonl"), "content_url": "https://h/a.jsonl"})
    props = {prop for prop, _ in info.value.failures}
    assert {"endpoint", "path"} <= props


def test_interrupted_upload_is_adopted_not_repeated(
    account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path
) -> None:
    """The plugin dies after the service stored the upload; the next create adopts it: one file in the end."""
    account.emulator.add_fault(
        {
            "path": "/openai/v1/files$",
            "method": "POST",
            "kind": "latency",
            "latency_ms": 4000,
            "when": "after",
            "count": 1,
        }
    )
    first = EngineReplay(make_plugin(account))
    errors: list[BaseException] = []
    worker = threading.Thread(target=lambda: _up_catching(first, account, dataset, errors), daemon=True)
    worker.start()
    deadline = time.monotonic() + 20
    while not account.objects("files") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert account.objects("files"), "the upload reached the service"
    first.plugin.kill()
    worker.join(timeout=20)
    second = EngineReplay(make_plugin(account))
    step = second.up("train", TrainingFile, _inputs(account, dataset))
    assert step.op == "create"
    assert list(account.objects("files")) == [step.state.id if step.state else None]
    uploads = [r for r in account.requests() if r["method"] == "POST" and r["path"].endswith("/files")]
    assert len(uploads) == 1


def _up_catching(engine: EngineReplay, acct: EmulatedAccount, path: Path, errors: list[BaseException]) -> None:
    try:
        engine.up("train", TrainingFile, _inputs(acct, path))
    except (ProviderError, Exception) as exc:
        errors.append(exc)
