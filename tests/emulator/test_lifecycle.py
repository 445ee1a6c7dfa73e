"""State derived from the clock: file and job lifecycles, one running job per account, copies, quotas, idle deletion."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aoai_emulator import Emulator, create_emulator

from .support import ARM_HEADERS, chat_dataset, grant_copy

API = "2025-04-01-preview"
ARM_API = "2025-06-01"
MODEL = "gpt-4o-mini-2024-07-18"
DAY = 24 * 3600
_OPEN: list[httpx2.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


class Api:
    """Terse calls to one account of an in-process emulator, on both planes."""

    def __init__(self, emulator: Emulator, name: str, location: str = "eastus2") -> None:
        self.emulator = emulator
        self.account = emulator.seed_account(name, location)
        self.name = name
        self.http = httpx2.Client(base_url=emulator._servers[0].url, timeout=30)
        _OPEN.append(self.http)

    def data(self, method: str, path: str, v1: bool = False, **kwargs: Any) -> httpx2.Response:
        prefix = f"/{self.name}/openai" + ("/v1" if v1 else "")
        params = {**({} if v1 else {"api-version": API}), **kwargs.pop("params", {})}
        headers = {"api-key": self.account["keys"][0], **kwargs.pop("headers", {})}
        return self.http.request(method, prefix + path, params=params, headers=headers, **kwargs)

    def arm(self, method: str, path: str = "", **kwargs: Any) -> httpx2.Response:
        return self.http.request(
            method, self.account["id"] + path, params={"api-version": ARM_API}, headers=ARM_HEADERS, **kwargs
        )

    def upload(self, path: Path) -> str:
        response = self.data(
            "POST", "/files", files={"file": (path.name, path.read_bytes())}, data={"purpose": "fine-tune"}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def job(self, file_id: str, **body: Any) -> dict[str, Any]:
        response = self.data("POST", "/fine_tuning/jobs", json={"model": MODEL, "training_file": file_id, **body})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def get_job(self, job_id: str) -> dict[str, Any]:
        return dict(self.data("GET", f"/fine_tuning/jobs/{job_id}").json())

    def deploy(self, name: str, model: str, sku: str = "Standard", **model_extra: Any) -> httpx2.Response:
        body = {
            "sku": {"name": sku, "capacity": 1},
            "properties": {"model": {"format": "OpenAI", "name": model, "version": "1", **model_extra}},
        }
        return self.arm("PUT", f"/deployments/{name}", json=body)


@pytest.fixture
def manual(tmp_path: Path) -> Iterator[Emulator]:
    emu = create_emulator(clock="manual", seed=21)
    emu.serve()
    yield emu
    emu.close()


@pytest.fixture
def immediate() -> Iterator[Emulator]:
    emu = create_emulator(clock="immediate", seed=22)
    emu.serve()
    yield emu
    emu.close()


def _trained_model(api: Api, tmp_path: Path) -> str:
    file_id = api.upload(chat_dataset(tmp_path / f"{api.name}.jsonl"))
    api.data("GET", f"/files/{file_id}")
    job = api.job(file_id)
    for _ in range(5):
        job = api.get_job(job["id"])
    assert job["status"] == "succeeded", job
    return str(job["fine_tuned_model"])


def test_manual_clock_moves_files_and_jobs_only_when_advanced(manual: Emulator, tmp_path: Path) -> None:
    """Under the manual clock a file stays pending and a job stays put until time is advanced past each phase."""
    api = Api(manual, "manualacct")
    file_id = api.upload(chat_dataset(tmp_path / "t.jsonl"))
    assert api.data("GET", f"/files/{file_id}").json()["status"] == "pending"
    manual.advance(5)
    assert api.data("GET", f"/files/{file_id}").json()["status"] == "processed"
    job = api.job(file_id)
    assert api.get_job(job["id"])["status"] == "pending"
    manual.advance(30)
    running = api.get_job(job["id"])
    assert running["status"] == "running"
    assert running["estimated_finish"] == running["created_at"] + 30 + 1200
    manual.advance(600)
    events = api.data("GET", f"/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
    assert any(e["type"] == "metrics" for e in events), "metrics appear while training"
    manual.advance(600)
    assert api.get_job(job["id"])["status"] == "succeeded"


def test_one_job_runs_at_a_time_and_the_next_starts_when_it_ends(manual: Emulator, tmp_path: Path) -> None:
    """A second job waits as ``pending`` while the first runs, and starts the moment the first finishes."""
    api = Api(manual, "queueacct")
    file_id = api.upload(chat_dataset(tmp_path / "t.jsonl"))
    manual.advance(5)
    first, second = api.job(file_id), api.job(file_id)
    manual.advance(30)
    assert api.get_job(first["id"])["status"] == "running"
    assert api.get_job(second["id"])["status"] == "pending"
    manual.advance(1200)
    assert api.get_job(first["id"])["status"] == "succeeded"
    later = api.get_job(second["id"])
    assert later["status"] == "running"
    assert later["estimated_finish"] == api.get_job(first["id"])["finished_at"] + 1200


def test_paused_job_keeps_its_progress_and_its_slot(manual: Emulator, tmp_path: Path) -> None:
    """Pausing stops training without losing progress; the queue does not move while a job is paused."""
    api = Api(manual, "pauseacct")
    file_id = api.upload(chat_dataset(tmp_path / "t.jsonl"))
    manual.advance(5)
    job, waiting = api.job(file_id), api.job(file_id)
    manual.advance(30 + 600)
    assert api.data("POST", f"/fine_tuning/jobs/{job['id']}/pause").json()["status"] == "pausing"
    manual.advance(10_000)
    assert api.get_job(job["id"])["status"] == "paused"
    assert api.get_job(waiting["id"])["status"] == "pending"
    api.data("POST", f"/fine_tuning/jobs/{job['id']}/resume")
    manual.advance(10 + 599)
    assert api.get_job(job["id"])["status"] == "running"
    manual.advance(2)
    assert api.get_job(job["id"])["status"] == "succeeded"


def test_admin_can_fail_a_job_which_then_carries_an_error(immediate: Emulator, tmp_path: Path) -> None:
    """``POST /_emulator/jobs/{id}/fail`` ends a job in ``failed`` with ``error.code`` and ``message``."""
    api = Api(immediate, "failacct")
    file_id = api.upload(chat_dataset(tmp_path / "t.jsonl"))
    api.data("GET", f"/files/{file_id}")
    job = api.job(file_id)
    response = api.http.post(
        f"/_emulator/jobs/{job['id']}/fail", json={"code": "internalFailure", "message": "GPU on fire"}
    )
    assert response.status_code == 200
    failed = api.get_job(job["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "internalFailure"
    assert failed["fine_tuned_model"] is None


def test_checkpoint_copy_makes_the_model_deployable_in_the_destination(immediate: Emulator, tmp_path: Path) -> None:
    """Refused until the source's identity holds Azure AI User on the destination; then InProgress, Completed, deployable."""
    src, dest = Api(immediate, "copysrc", "eastus2"), Api(immediate, "copydst", "swedencentral")
    model = _trained_model(src, tmp_path)
    assert dest.deploy("early", model).json()["error"]["code"] == "DeploymentModelNotSupported"
    dest_file = dest.upload(chat_dataset(tmp_path / "d.jsonl"))
    dest.data("GET", f"/files/{dest_file}")
    dest.job(dest_file)
    job_id = src.data("GET", "/fine_tuning/jobs").json()["data"][0]["id"]
    checkpoint = src.data("GET", f"/fine_tuning/jobs/{job_id}/checkpoints").json()["data"][0]["id"]
    copy_path = f"/fine_tuning/jobs/{job_id}/checkpoints/{checkpoint}/copy"
    header = {"aoai-copy-ft-checkpoints": "preview"}
    body = {"destinationResourceId": dest.account["id"], "region": "swedencentral"}
    refused = src.data("POST", copy_path, v1=True, headers=header, json=body)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "PermissionDenied")
    grant_copy(src.http, src.account["id"], dest.account["id"])
    started = src.data("POST", copy_path, v1=True, headers=header, json=body)
    assert started.status_code == 200
    assert started.json()["copiedAccountDetails"][0]["status"] == "InProgress"
    assert started.json()["checkpointedModelName"] == model
    status = src.data("GET", copy_path, v1=True, headers=header).json()
    assert status["copiedAccountDetails"] == [{**body, "status": "Completed"}]
    assert model in [m["id"] for m in dest.data("GET", "/models", v1=True).json()["data"]]
    assert dest.deploy("copied", model).status_code == 201


def test_cross_account_deployment_needs_a_source_that_holds_the_model(immediate: Emulator, tmp_path: Path) -> None:
    """Another account's fine-tuned model deploys only with ``source`` naming an account that holds it."""
    owner, other = Api(immediate, "owneracct"), Api(immediate, "otheracct", "westus")
    model = _trained_model(owner, tmp_path)
    assert other.deploy("nosource", model).json()["error"]["code"] == "DeploymentModelNotSupported"
    wrong = other.deploy("wrongsource", model, source=other.account["id"])
    assert wrong.json()["error"]["code"] == "DeploymentModelNotSupported"
    assert other.deploy("withsource", model, source=owner.account["id"]).status_code == 201


def test_sixth_fine_tuned_deployment_is_insufficient_quota(immediate: Emulator, tmp_path: Path) -> None:
    """Five fine-tuned deployments per account; the sixth is refused with InsufficientQuota."""
    api = Api(immediate, "quotaacct")
    model = _trained_model(api, tmp_path)
    for i in range(5):
        assert api.deploy(f"d{i}", model).status_code == 201
        assert api.arm("GET", f"/deployments/d{i}").json()["properties"]["provisioningState"] == "Succeeded"
    sixth = api.deploy("d5", model)
    assert sixth.status_code == 400
    assert sixth.json()["error"]["code"] == "InsufficientQuota"
    assert api.deploy("base", MODEL).status_code == 201, "base-model deployments do not count"


def test_idle_fine_tuned_deployment_is_deleted_after_15_days_unless_used(manual: Emulator, tmp_path: Path) -> None:
    """A fine-tuned deployment with no inference for 15 days disappears; one that was called stays."""
    api = Api(manual, "idleacct")
    file_id = api.upload(chat_dataset(tmp_path / "t.jsonl"))
    manual.advance(5)
    job = api.job(file_id)
    manual.advance(30 + 1200)
    model = api.get_job(job["id"])["fine_tuned_model"]
    assert api.deploy("idle", model).status_code == 201
    assert api.deploy("busy", model).status_code == 409, "one deployment write at a time"
    manual.advance(30)
    assert api.deploy("busy", model).status_code == 201
    manual.advance(30)
    manual.advance(10 * DAY)
    chat = api.data(
        "POST", "/deployments/busy/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert chat.status_code == 200
    manual.advance(6 * DAY)
    assert api.arm("GET", "/deployments/idle").status_code == 404
    assert api.arm("GET", "/deployments/busy").status_code == 200
    assert api.deploy("base", MODEL).status_code == 201
    manual.advance(30 * DAY)
    assert api.arm("GET", "/deployments/base").status_code == 200, "base-model deployments never idle out"


def test_developer_tier_deployment_is_deleted_after_24_hours(manual: Emulator, tmp_path: Path) -> None:
    """Developer-tier deployments are removed a day after creation, used or not."""
    api = Api(manual, "devacct")
    assert api.deploy("dev", MODEL, sku="DeveloperTier").status_code == 201
    manual.advance(30)
    assert api.arm("GET", "/deployments/dev").json()["properties"]["provisioningState"] == "Succeeded"
    manual.advance(DAY)
    assert api.arm("GET", "/deployments/dev").status_code == 404


def test_fine_tuned_model_cannot_be_deleted_while_deployed(immediate: Emulator, tmp_path: Path) -> None:
    """``DELETE /openai/v1/models/{m}`` answers 409 while a deployment uses the model, 200 after."""
    api = Api(immediate, "delmodel")
    model = _trained_model(api, tmp_path)
    api.deploy("uses", model)
    api.arm("GET", "/deployments/uses")
    assert api.data("DELETE", f"/models/{model}", v1=True).status_code == 409
    api.arm("DELETE", "/deployments/uses")
    api.arm("GET", "/deployments/uses")
    deleted = api.data("DELETE", f"/models/{model}", v1=True)
    assert deleted.json() == {"id": model, "object": "model", "deleted": True}
    assert model not in [m["id"] for m in api.data("GET", "/models").json()["data"]]


def test_import_reads_file_urls_and_loopback_http(immediate: Emulator, tmp_path: Path) -> None:
    """``files/import`` fetches ``file://`` paths and loopback ``http://`` URLs, like a SAS URL on Azure."""
    api = Api(immediate, "importacct")
    dataset = chat_dataset(tmp_path / "served.jsonl")
    imported = api.data(
        "POST", "/files/import", json={"purpose": "fine-tune", "filename": "a.jsonl", "content_url": dataset.as_uri()}
    )
    assert imported.status_code == 201
    assert imported.json()["bytes"] == dataset.stat().st_size

    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/served.jsonl"
        over_http = api.data(
            "POST", "/files/import", json={"purpose": "fine-tune", "filename": "b.jsonl", "content_url": url}
        )
    finally:
        server.shutdown()
        server.server_close()
    assert over_http.status_code == 201
    file_id = over_http.json()["id"]
    assert api.data("GET", f"/files/{file_id}").json()["status"] == "processed"
    assert api.data("GET", f"/files/{file_id}/content").content == dataset.read_bytes()
