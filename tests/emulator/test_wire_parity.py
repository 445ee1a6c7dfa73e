"""Our requests beside the official SDKs', operation by operation, as the emulator's request log records them.

For every operation both have, the data plane is run once through our client and once through openai-python,
ARM once through our client and once through azure-mgmt-cognitiveservices, each on its own objects; the first
request of each operation is compared on method, path (ids made generic), query, content type, body keys and
whether an ``x-ms-client-request-id`` came. Any difference must be listed in :data:`ALLOWED`, with its reason.
"""

from __future__ import annotations

import re
import ssl
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import (
    Deployment,
    DeploymentModel,
    DeploymentProperties,
    PatchResourceTagsAndSku,
    Sku,
)

from aoai_emulator import Emulator, create_emulator
from pulumi_aoai_finetuning.client import ApiKeyAuth, ArmClient, DataPlaneClient
from pulumi_aoai_finetuning.client.arm import API_VERSION
from pulumi_aoai_finetuning.client.auth import BearerAuth
from pulumi_aoai_finetuning.client.http import new_client

from .support import StaticTokenCredential, chat_dataset

DATED = "2025-04-01-preview"
MODEL = "gpt-4o-mini-2024-07-18"
FIELDS = ("method", "path", "query", "content_type", "body_keys", "client_request_id")
IDS = [
    (re.compile(r"file-[0-9a-f]{32}"), "{file}"),
    (re.compile(r"ftjob-[0-9a-f]{32}"), "{job}"),
    (re.compile(r"gpt-4o-mini-2024-07-18\.ft-[0-9a-f]{32}(-[a-z]+)?"), "{model}"),
    (re.compile(r"/deployments/wire-(ours|sdk)"), "/deployments/{deployment}"),
    (re.compile(r"^/wire(ours|sdk)/"), "/{account}/"),
]

# (operation, field) -> why our request may differ there from the SDK's. Nothing else may differ.
ALLOWED: dict[tuple[str, str], str] = {
    ("files.delete", "content_type"): (
        "openai-python declares application/json on every request but a GET, a DELETE included; a DELETE has "
        "no body to type, and we send none"
    ),
    ("models.delete", "content_type"): (
        "openai-python declares application/json on every request but a GET, a DELETE included; a DELETE has "
        "no body to type, and we send none"
    ),
}


@dataclass(frozen=True)
class Op:
    """One operation run by both clients: ``ours`` and ``sdk`` each send it once."""

    name: str
    ours: Callable[[], Any]
    sdk: Callable[[], Any]


@pytest.fixture(params=["manual"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[Emulator, str, str]]:
    emulator = create_emulator(seed=6060, clock=request.param)
    server = emulator.serve(tls=True)
    try:
        yield emulator, server.url, str(server.ca_path)
    finally:
        emulator.close()


def _shape(entry: dict[str, Any]) -> dict[str, Any]:
    path = entry["path"]
    for pattern, placeholder in IDS:
        path = pattern.sub(placeholder, path)
    query = dict(urllib.parse.parse_qsl(entry["query"]))
    return {
        "method": entry["method"],
        "path": path,
        "query": query,
        "content_type": entry["content_type"],
        "body_keys": entry["body_keys"],
        "client_request_id": entry["client_request_id"],
    }


class Recorder:
    """Runs each operation through both clients and keeps the first request each sent."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.seen: dict[str, dict[str, dict[str, Any]]] = {}
        self.ours_arm: list[dict[str, Any]] = []

    def _last(self) -> int:
        log = self.emulator.requests()
        return int(log[-1]["seq"]) if log else 0

    def run(self, op: Op) -> tuple[Any, Any]:
        """Send ``op`` through our client, then the SDK; return both results."""
        results = []
        for side, call in (("ours", op.ours), ("sdk", op.sdk)):
            mark = self._last()
            results.append(call())
            sent = [r for r in self.emulator.requests() if r["seq"] > mark]
            assert sent, f"{op.name}: {side} sent nothing"
            self.seen.setdefault(op.name, {})[side] = _shape(sent[0])
            if side == "ours" and "/providers/" in sent[0]["path"]:
                self.ours_arm.extend(sent)
        return results[0], results[1]

    def differences(self) -> list[str]:
        """Every field in which our request and the SDK's differ, and is not in :data:`ALLOWED`."""
        found = []
        for name, sides in self.seen.items():
            for field_name in FIELDS:
                ours, sdk = sides["ours"][field_name], sides["sdk"][field_name]
                if ours != sdk and (name, field_name) not in ALLOWED:
                    found.append(f"{name}.{field_name}: ours {ours!r}, SDK {sdk!r}")
        return found

    def unused_allowances(self) -> list[tuple[str, str]]:
        """Entries of :data:`ALLOWED` that no longer differ: the table must not outlive its reasons."""
        return [
            (name, f)
            for (name, f) in ALLOWED
            if name in self.seen and self.seen[name]["ours"][f] == self.seen[name]["sdk"][f]
        ]


def _until(emulator: Emulator, read: Callable[[], Any], done: Callable[[Any], bool], limit: int = 200) -> Any:
    """Move the manual clock on until ``read`` gives what ``done`` accepts (both sides see the same times)."""
    for _ in range(limit):
        value = read()
        if done(value):
            return value
        emulator.advance(30)
    raise AssertionError(f"never reached the awaited state; last {value!r}")


def test_data_plane_requests_match_openai_python(served: tuple[Emulator, str, str], tmp_path: Path) -> None:
    """Files, jobs, transitions, events, checkpoints and model delete: our requests are openai-python's."""
    emulator, _url, ca = served
    # One account each: an account trains one job at a time, and both sides must see the same states.
    mine, theirs = emulator.seed_account("wireours", "eastus2"), emulator.seed_account("wiresdk", "eastus2")
    verify = ssl.create_default_context(cafile=ca)
    ours = DataPlaneClient(mine["endpoint"], ApiKeyAuth(mine["keys"][0]), api_version=DATED, verify=verify)
    http = httpx2.Client(verify=verify)
    endpoint, key = theirs["endpoint"], theirs["keys"][0]
    sdk = openai.AzureOpenAI(azure_endpoint=endpoint, api_key=key, api_version=DATED, http_client=http, max_retries=0)
    v1 = openai.OpenAI(base_url=f"{endpoint}openai/v1/", api_key=key, http_client=http, max_retries=0)
    dataset = chat_dataset(tmp_path / "train.jsonl")
    rec = Recorder(emulator)
    try:

        def sdk_upload() -> str:
            with dataset.open("rb") as fh:
                return sdk.files.create(file=("train.jsonl", fh, "application/octet-stream"), purpose="fine-tune").id

        f_ours, f_sdk = rec.run(
            Op("files.create", lambda: ours.upload_file(dataset, "train.jsonl", "fine-tune")["id"], sdk_upload)
        )
        rec.run(Op("files.list", lambda: ours.list_files("fine-tune"), lambda: sdk.files.list(purpose="fine-tune")))
        rec.run(Op("files.retrieve", lambda: ours.get_file(f_ours), lambda: sdk.files.retrieve(f_sdk)))
        _until(emulator, lambda: ours.get_file(f_ours)["status"], lambda s: s == "processed")
        _until(emulator, lambda: sdk.files.retrieve(f_sdk).status, lambda s: s == "processed")
        rec.run(Op("files.content", lambda: ours.file_content(f_ours), lambda: sdk.files.content(f_sdk).read()))
        body = {"model": MODEL, "suffix": "wire", "seed": 7}
        j_ours, j_sdk = rec.run(
            Op(
                "jobs.create",
                lambda: ours.create_job({**body, "training_file": f_ours})["id"],
                lambda: sdk.fine_tuning.jobs.create(training_file=f_sdk, **body).id,  # type: ignore[arg-type]
            )
        )
        rec.run(Op("jobs.retrieve", lambda: ours.get_job(j_ours), lambda: sdk.fine_tuning.jobs.retrieve(j_sdk)))
        rec.run(Op("jobs.list", lambda: next(ours.list_jobs()), lambda: sdk.fine_tuning.jobs.list(limit=100)))
        rec.run(
            Op(
                "jobs.list_events",
                lambda: ours.job_events(j_ours, 20),
                lambda: sdk.fine_tuning.jobs.list_events(j_sdk, limit=20),
            )
        )
        _until(emulator, lambda: ours.get_job(j_ours)["status"], lambda s: s == "running")
        _until(emulator, lambda: sdk.fine_tuning.jobs.retrieve(j_sdk).status, lambda s: s == "running")
        rec.run(Op("jobs.pause", lambda: ours.pause_job(j_ours), lambda: sdk.fine_tuning.jobs.pause(j_sdk)))
        _until(emulator, lambda: ours.get_job(j_ours)["status"], lambda s: s == "paused")
        _until(emulator, lambda: sdk.fine_tuning.jobs.retrieve(j_sdk).status, lambda s: s == "paused")
        rec.run(Op("jobs.resume", lambda: ours.resume_job(j_ours), lambda: sdk.fine_tuning.jobs.resume(j_sdk)))
        model_ours = _until(emulator, lambda: ours.get_job(j_ours), lambda j: j["status"] == "succeeded")[
            "fine_tuned_model"
        ]
        model_sdk = _until(
            emulator, lambda: sdk.fine_tuning.jobs.retrieve(j_sdk), lambda j: j.status == "succeeded"
        ).fine_tuned_model
        rec.run(
            Op(
                "jobs.checkpoints.list",
                lambda: ours.job_checkpoints(j_ours),
                lambda: sdk.fine_tuning.jobs.checkpoints.list(j_sdk),
            )
        )
        c_ours, c_sdk = (ours.create_job({**body, "training_file": f_ours})["id"],) * 1 + (
            sdk.fine_tuning.jobs.create(training_file=f_sdk, **body).id,  # type: ignore[arg-type]
        )
        rec.run(Op("jobs.cancel", lambda: ours.cancel_job(c_ours), lambda: sdk.fine_tuning.jobs.cancel(c_sdk)))
        rec.run(Op("models.delete", lambda: ours.delete_model(model_ours), lambda: v1.models.delete(model_sdk)))
        d_ours = ours.upload_file(dataset, "spare.jsonl", "fine-tune")["id"]
        d_sdk = sdk_upload()
        rec.run(Op("files.delete", lambda: ours.delete_file(d_ours), lambda: sdk.files.delete(d_sdk)))
    finally:
        ours.close()
        sdk.close()
        v1.close()
        http.close()
    assert rec.differences() == []
    assert rec.unused_allowances() == []
    assert rec.seen["jobs.pause"]["ours"]["content_type"] == "application/json"


@pytest.mark.parametrize("served", ["immediate"], indirect=True)
def test_arm_requests_match_azure_mgmt(served: tuple[Emulator, str, str]) -> None:
    """Account read, keys, deployment create, read, sku update and delete: our requests are the SDK's."""
    emulator, url, ca = served
    account = emulator.seed_account("wirearm", "eastus2")
    account_id: str = account["id"]
    parts = account_id.split("/")
    sub, group, name = parts[2], parts[4], parts[8]
    pool = new_client(verify=ssl.create_default_context(cafile=ca))
    ours = ArmClient(
        url,
        BearerAuth("emulator-opaque-token"),
        client=pool,
        poll_interval=0.01,
        poll_max=0.05,
    )
    mgmt = CognitiveServicesManagementClient(
        StaticTokenCredential(),  # type: ignore[arg-type]
        sub,
        base_url=url,
        connection_verify=ca,
        polling_interval=0.01,
        api_version=API_VERSION,  # the same version on both sides: the shapes compared are the version's
    )
    rec = Recorder(emulator)
    body = {
        "sku": {"name": "Standard", "capacity": 1},
        "properties": {"model": {"format": "OpenAI", "name": MODEL, "version": "1"}},
    }
    sdk_body = Deployment(
        sku=Sku(name="Standard", capacity=1),
        properties=DeploymentProperties(model=DeploymentModel(format="OpenAI", name=MODEL, version="1")),
    )
    dep = f"{account_id}/deployments/wire-"
    try:
        rec.run(Op("accounts.get", lambda: ours.get(account_id), lambda: mgmt.accounts.get(group, name)))
        rec.run(
            Op(
                "accounts.list_keys",
                lambda: ours.post(account_id, "listKeys"),
                lambda: mgmt.accounts.list_keys(group, name),
            )
        )
        rec.run(
            Op(
                "deployments.create_or_update",
                lambda: ours.put(f"{dep}ours", body, timeout_s=60),
                lambda: mgmt.deployments.begin_create_or_update(group, name, "wire-sdk", sdk_body).result(),
            )
        )
        rec.run(
            Op(
                "deployments.get",
                lambda: ours.get(f"{dep}ours"),
                lambda: mgmt.deployments.get(group, name, "wire-sdk"),
            )
        )
        rec.run(
            Op(
                "deployments.update",
                lambda: ours.patch(f"{dep}ours", {"sku": {"name": "Standard", "capacity": 2}}, timeout_s=60),
                lambda: mgmt.deployments.begin_update(
                    group, name, "wire-sdk", PatchResourceTagsAndSku(sku=Sku(name="Standard", capacity=2))
                ).result(),
            )
        )
        rec.run(
            Op(
                "deployments.delete",
                lambda: ours.delete(f"{dep}ours", timeout_s=60),
                lambda: mgmt.deployments.begin_delete(group, name, "wire-sdk").result(),
            )
        )
    finally:
        ours.close()
        pool.close()
        mgmt.close()
    assert rec.differences() == []
    assert rec.unused_allowances() == []
    # Every ARM request of ours, polls included, carries a client request id, as azure-core's do.
    assert rec.ours_arm
    assert all(r["client_request_id"] for r in rec.ours_arm)
