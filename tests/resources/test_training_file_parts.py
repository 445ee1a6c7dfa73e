"""TrainingFile above the part size goes through the Uploads API in parts, through the real plugin and emulator."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from pulumi_aoai_finetuning import TrainingFile
from pulumi_aoai_finetuning.client import ApiKeyAuth, DataPlaneClient
from pulumi_aoai_finetuning.client.uploads import upload_file
from pulumi_aoai_finetuning.config import ConfigError, resolve
from pulumi_aoai_finetuning.testing import EmulatedAccount, EngineReplay
from tests.emulator.support import chat_dataset

from .conftest import DATED, PluginFactory

PART = 1024
CONFIG = {"azure-openai:uploadPartSize": str(PART)}


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The plugin's cache (and upload journal) in this test's directory: plugins inherit the environment."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("AOAI_FT_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def big(tmp_path: Path) -> Path:
    """A dataset of several parts (about 7 KB: 7 parts of 1 KB, the last one short)."""
    return chat_dataset(tmp_path / "big.jsonl", 40)


def _inputs(acct: EmulatedAccount, path: Path) -> dict[str, Any]:
    # The key the TrainingFile class adds: a kill and re-run of one resource resumes its own upload.
    return {"endpoint": acct.endpoint, "path": str(path), "resource_key": "proj/dev/train"}


def _posts(acct: EmulatedAccount, suffix: str) -> list[dict[str, Any]]:
    return [r for r in acct.requests() if r["method"] == "POST" and r["path"].endswith(suffix)]


def _content(acct: EmulatedAccount, file_id: str) -> bytes:
    response = httpx2.get(f"{acct.endpoint}openai/v1/files/{file_id}/content", headers={"api-key": acct.key})
    assert response.status_code == 200, response.text
    return response.content


def test_a_file_above_the_part_size_is_sent_in_parts_and_arrives_whole(
    account: EmulatedAccount, make_plugin: PluginFactory, big: Path, cache_dir: Path
) -> None:
    """One upload, one request per part, one completion; no single-request upload; same bytes and sha256."""
    parts = math.ceil(big.stat().st_size / PART)
    step = EngineReplay(make_plugin(account, **CONFIG)).up("train", TrainingFile, _inputs(account, big))
    assert step.state is not None
    assert step.state.outputs["status"] == "processed"
    assert len(_posts(account, "/uploads")) == 1
    assert len(_posts(account, "/parts")) == parts > 1
    assert len(_posts(account, "/complete")) == 1
    assert _posts(account, "/files") == []
    content = _content(account, step.state.id)
    assert content == big.read_bytes()
    assert hashlib.sha256(content).hexdigest() == step.state.outputs["sha256"]
    assert list(account.objects("files")) == [step.state.id]
    assert not list((cache_dir / "uploads").glob("*.json")), "a completed upload leaves no journal"


@pytest.mark.parametrize("fault", [{"kind": "reset"}, {"status": 503}])
def test_a_failed_part_is_sent_again_alone(
    account: EmulatedAccount, make_plugin: PluginFactory, big: Path, fault: dict[str, Any]
) -> None:
    """The third part's connection drops (or meets a 503): that part alone is re-sent, not the file."""
    account.emulator.add_fault({"path": "/uploads/[^/]+/parts$", "method": "POST", "skip": 2, "count": 1, **fault})
    parts = math.ceil(big.stat().st_size / PART)
    step = EngineReplay(make_plugin(account, **CONFIG)).up("train", TrainingFile, _inputs(account, big))
    assert step.state is not None
    sent = _posts(account, "/parts")
    assert len(sent) == parts + 1
    failed = [i for i, r in enumerate(sent) if r["status"] != 200]
    assert failed == [2]
    assert sent[3]["bytes"] == sent[2]["bytes"], "the retry carries the same part"
    assert sum(r["bytes"] for r in sent) < big.stat().st_size + 2 * PART + (parts + 1) * 400
    assert len(_posts(account, "/uploads")) == 1
    assert _content(account, step.state.id) == big.read_bytes()


def test_a_run_killed_mid_upload_resumes_it_and_makes_one_file(
    account: EmulatedAccount, make_plugin: PluginFactory, big: Path
) -> None:
    """Killed while a part's answer is on its way: the next run resumes the same upload; one file, whole."""
    account.emulator.add_fault(
        {"path": "/uploads/[^/]+/parts$", "method": "POST", "kind": "latency", "latency_ms": 10_000, "when": "after",
         "skip": 2, "count": 1}
    )  # fmt: skip
    first = EngineReplay(make_plugin(account, **CONFIG))
    worker = threading.Thread(target=_up_ignoring_errors, args=(first, account, big), daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while len(_posts(account, "/parts")) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(_posts(account, "/parts")) == 3, "the third part reached the service"
    first.plugin.kill()
    worker.join(timeout=20)
    assert account.objects("files") == {}

    step = EngineReplay(make_plugin(account, **CONFIG)).up("train", TrainingFile, _inputs(account, big))
    assert step.op == "create"
    assert step.state is not None
    parts = math.ceil(big.stat().st_size / PART)
    assert len(_posts(account, "/uploads")) == 1, "the same upload was resumed"
    assert len(_posts(account, "/parts")) == parts + 1, "only the part whose answer was lost went twice"
    assert list(account.objects("files")) == [step.state.id]
    assert _content(account, step.state.id) == big.read_bytes()


def test_a_run_killed_after_completion_adopts_the_file_by_its_name(
    account: EmulatedAccount, make_plugin: PluginFactory, big: Path
) -> None:
    """Killed while /complete's answer is on its way: the file exists; the next run adopts it and sends nothing."""
    account.emulator.add_fault(
        {"path": "/uploads/[^/]+/complete$", "method": "POST", "kind": "latency", "latency_ms": 10_000,
         "when": "after", "count": 1}
    )  # fmt: skip
    first = EngineReplay(make_plugin(account, **CONFIG))
    worker = threading.Thread(target=_up_ignoring_errors, args=(first, account, big), daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while not _posts(account, "/complete") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert account.objects("files"), "the upload completed on the service"
    first.plugin.kill()
    worker.join(timeout=20)
    mark = account.requests()[-1]["seq"]

    step = EngineReplay(make_plugin(account, **CONFIG)).up("train", TrainingFile, _inputs(account, big))
    assert step.state is not None
    assert list(account.objects("files")) == [step.state.id]
    assert [r for r in account.requests(mutating=True) if r["seq"] > mark] == []
    assert _content(account, step.state.id) == big.read_bytes()


def test_an_upload_that_takes_no_more_parts_is_cancelled_and_started_again(
    account: EmulatedAccount, make_plugin: PluginFactory, big: Path
) -> None:
    """The journal names an upload cancelled since: the next run starts a new one; one file in the end."""
    account.emulator.add_fault(
        {"path": "/uploads/[^/]+/parts$", "method": "POST", "status": 500, "skip": 1}
    )  # every part after the first fails, retries included
    first = EngineReplay(make_plugin(account, **CONFIG, **{"azure-openai:maxRetries": "2"}))
    with pytest.raises(Exception, match="500"):
        first.up("train", TrainingFile, _inputs(account, big))
    assert len(_posts(account, "/uploads")) == 1
    account.emulator.clear_faults()
    [pending] = account.objects("uploads").values()
    assert pending["status"] == "pending"
    cancel = httpx2.post(
        f"{account.endpoint}openai/v1/uploads/{pending['id']}/cancel", headers={"api-key": account.key}
    )
    assert cancel.status_code == 200, cancel.text

    step = EngineReplay(make_plugin(account, **CONFIG)).up("train", TrainingFile, _inputs(account, big))
    assert step.state is not None
    assert len(_posts(account, "/uploads")) == 2
    assert sorted(u["status"] for u in account.objects("uploads").values()) == ["cancelled", "completed"]
    assert list(account.objects("files")) == [step.state.id]
    assert _content(account, step.state.id) == big.read_bytes()


@pytest.mark.parametrize(("version", "size", "in_parts"), [("v1", "0", False), (DATED, "1024", True),
                                                            ("2024-10-21", "1024", False)])  # fmt: skip
def test_one_request_when_parts_are_off_or_the_api_version_has_no_uploads(
    account: EmulatedAccount, big: Path, version: str, size: str, in_parts: bool
) -> None:
    """A part size of 0, or a dated api-version before the Uploads API, send the file in one request."""
    settings = resolve({"azure-openai:uploadPartSize": size}.get, env={})
    client = DataPlaneClient(account.endpoint, ApiKeyAuth(account.key), api_version=version)
    try:
        file = upload_file(client, big, "big.jsonl", "fine-tune", part_size=settings.upload_part_size)
    finally:
        client.close()
    assert bool(_posts(account, "/parts")) is in_parts
    assert bool(_posts(account, "/files")) is not in_parts
    assert _content(account, file["id"]) == big.read_bytes()


@pytest.mark.parametrize("raw", ["-1", "1.5", str(64 * 1024 * 1024 + 1), "big"])
def test_upload_part_size_outside_azures_limits_is_refused_with_the_fix(raw: str) -> None:
    """The message names the key, the limit and the way to turn parts off."""
    with pytest.raises(ConfigError, match="uploadPartSize") as info:
        resolve({"azure-openai:uploadPartSize": raw}.get, env={})
    assert "up to 67108864 (64 MiB" in str(info.value)
    assert "or 0 to send files in one request" in str(info.value)


def _up_ignoring_errors(engine: EngineReplay, acct: EmulatedAccount, path: Path) -> None:
    try:
        engine.up("train", TrainingFile, _inputs(acct, path))
    except Exception:  # the plugin is killed under it: the error is the point
        return
