"""TrainingFile from a ``content_url``: known by its content, its SAS kept out of every message."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_aoai_finetuning import TrainingFile
from pulumi_aoai_finetuning.client.errors import redact
from pulumi_aoai_finetuning.testing import CheckFailed, EmulatedAccount, EngineReplay

SIG_ONE = "c2lnbmF0dXJlLW9uZS1zZWNyZXQ%3D"
SIG_TWO = "c2lnbmF0dXJlLXR3by1zZWNyZXQ%3D"


def _sas(path: Path, sig: str) -> str:
    return f"{path.as_uri()}?sv=2024-11-04&se=2030-01-01T00%3A00%3A00Z&sr=b&sp=r&sig={sig}"


def _inputs(acct: EmulatedAccount, url: str) -> dict[str, object]:
    return {"endpoint": acct.endpoint, "content_url": url, "filename": "train.jsonl"}


def test_import_reports_the_processed_file(engine: EngineReplay, account: EmulatedAccount, dataset: Path) -> None:
    """An import reports ``sha256``, ``examples`` and ``format`` of the file the service holds, never null."""
    step = engine.up("imported", TrainingFile, _inputs(account, _sas(dataset, SIG_ONE)))
    assert step.op == "create"
    assert step.state is not None
    out = step.state.outputs
    digest = hashlib.sha256(dataset.read_bytes()).hexdigest()
    assert (out["sha256"], out["examples"], out["format"]) == (digest, 12, "chat")
    assert out["status"] == "processed"
    assert account.objects("files")[step.state.id]["filename"] == f"train.{digest[:16]}.jsonl"


def test_rotating_the_sas_sends_nothing(engine: EngineReplay, account: EmulatedAccount, dataset: Path) -> None:
    """A new SAS (or a new URL) for the same bytes is an in-place update with zero mutating requests."""
    first = engine.up("imported", TrainingFile, _inputs(account, _sas(dataset, SIG_ONE)))
    assert first.state is not None
    before = account.requests()[-1]["seq"]
    rotated = engine.up("imported", TrainingFile, _inputs(account, _sas(dataset, SIG_TWO)))
    assert rotated.op == "update"
    assert rotated.state is not None
    assert rotated.state.id == first.state.id
    assert rotated.state.outputs["content_url"].endswith(SIG_TWO)
    copy = dataset.with_name("moved.jsonl")
    shutil.copyfile(dataset, copy)
    moved = engine.up("imported", TrainingFile, _inputs(account, _sas(copy, SIG_TWO)))
    assert moved.op == "update"
    assert [r for r in account.requests(mutating=True) if r["seq"] > before] == []
    assert list(account.objects("files")) == [first.state.id]


def test_changed_content_behind_the_same_url_replaces(
    engine: EngineReplay, account: EmulatedAccount, dataset: Path
) -> None:
    """New bytes behind an unchanged URL are a new dataset: the file is replaced."""
    engine.up("imported", TrainingFile, _inputs(account, _sas(dataset, SIG_ONE)))
    dataset.write_text(dataset.read_text() + dataset.read_text().splitlines(keepends=True)[0])
    step = engine.up("imported", TrainingFile, _inputs(account, _sas(dataset, SIG_ONE)))
    assert step.op == "replace"
    assert "sha256" in step.replaces


def test_unreadable_url_fails_check_without_its_signature(engine: EngineReplay, account: EmulatedAccount) -> None:
    """A URL that serves nothing fails check naming ``content_url``; the message shows no SAS query."""
    url = _sas(Path("/nowhere/train.jsonl"), SIG_ONE)
    with pytest.raises(CheckFailed) as info:
        engine.up("imported", TrainingFile, _inputs(account, url))
    [(prop, reason)] = info.value.failures
    assert prop == "content_url"
    assert "no such file" in reason
    assert "sig=" not in reason
    assert SIG_ONE not in reason
    assert account.requests() == []


@pytest.mark.parametrize(
    "text",
    [
        f"GET https://acct.blob.core.windows.net/data/train.jsonl?sv=2024&sp=r&sig={SIG_ONE} answered 403",
        f"The file at 'file:///d/train.jsonl?sig={SIG_ONE}&se=2030' could not be read.",
        f'{{"content_url": "https://a.blob.core.windows.net/c/t.jsonl?sig={SIG_ONE}"}}',
        f"sig={SIG_ONE}",
    ],
)
def test_redact_removes_sas_signatures(text: str) -> None:
    """Every message goes through ``redact``: a SAS signature never survives it, with or without its URL."""
    assert SIG_ONE not in redact(text)


class _Blob:
    """A loopback blob server that answers like Azure Blob Storage: a strong ETag per write, HEAD and GET counted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls: list[str] = []
        blob = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _headers(self) -> bytes:
                body = blob.path.read_bytes()
                self.send_response(200)
                self.send_header("ETag", f'"0x{hashlib.sha256(body).hexdigest()[:16].upper()}"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                return body

            def do_HEAD(self) -> None:
                blob.calls.append("HEAD")
                self._headers()

            def do_GET(self) -> None:
                blob.calls.append("GET")
                self.wfile.write(self._headers())

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, sig: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/data/train.jsonl?sv=2024-11-04&sp=r&sig={sig}"


@pytest.fixture
def blob(dataset: Path) -> Iterator[_Blob]:
    served = _Blob(dataset)
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_a_preview_of_an_unchanged_blob_does_not_download_it(
    engine: EngineReplay, account: EmulatedAccount, blob: _Blob, dataset: Path
) -> None:
    """With the blob's ETag unchanged since the last up, preview asks HEAD only; a rewritten blob is read again."""
    first = engine.up("imported", TrainingFile, _inputs(account, blob.url(SIG_ONE)))
    assert first.state is not None
    assert blob.calls[0] == "GET", "a first check learns the version from its download, with no HEAD before it"
    blob.calls.clear()
    assert engine.plan("imported", TrainingFile, _inputs(account, blob.url(SIG_TWO))).op == "update"
    assert blob.calls == ["HEAD"], "the unchanged blob was downloaded again at preview"
    rotated = engine.up("imported", TrainingFile, _inputs(account, blob.url(SIG_TWO)))
    assert rotated.state is not None
    assert blob.calls == ["HEAD", "HEAD"]
    for key in ("sha256", "examples", "tokens", "token_count"):
        assert rotated.state.outputs[key] == first.state.outputs[key], f"{key} was lost without a download"
    dataset.write_text(dataset.read_text() + dataset.read_text().splitlines(keepends=True)[0])
    blob.calls.clear()
    step = engine.plan("imported", TrainingFile, _inputs(account, blob.url(SIG_TWO)))
    assert blob.calls == ["HEAD", "GET"]
    assert step.op == "replace"
    assert "sha256" in step.replaces
