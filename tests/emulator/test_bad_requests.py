"""Bad requests get Azure's answer: the right status, error envelope and code, on both planes and ARM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aoai_emulator import Emulator, create_emulator

from .support import ARM_HEADERS, account_path, arm_group, chat_dataset, grant_copy

PREVIEW = "2025-04-01-preview"
GA = "2024-10-21"
MODEL = "gpt-4o-mini-2024-07-18"


@dataclass
class World:
    """Accounts and objects the bad requests refer to."""

    emulator: Emulator
    client: httpx2.Client
    ids: dict[str, str] = field(default_factory=dict)


def _upload(client: httpx2.Client, account: str, key: str, name: str, content: bytes) -> str:
    response = client.post(
        f"/{account}/openai/files",
        params={"api-version": PREVIEW},
        headers={"api-key": key},
        files={"file": (name, content)},
        data={"purpose": "fine-tune"},
    )
    assert response.status_code == 201, response.text
    file_id = str(response.json()["id"])
    client.get(f"/{account}/openai/files/{file_id}", params={"api-version": PREVIEW}, headers={"api-key": key})
    return file_id


def _job(client: httpx2.Client, account: str, key: str, file_id: str) -> str:
    response = client.post(
        f"/{account}/openai/fine_tuning/jobs",
        params={"api-version": PREVIEW},
        headers={"api-key": key},
        json={"model": MODEL, "training_file": file_id},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    emulator = create_emulator(seed=3)
    server = emulator.serve()
    tmp = tmp_path_factory.mktemp("bad")
    good = chat_dataset(tmp / "good.jsonl").read_bytes()
    with httpx2.Client(base_url=server.url, timeout=30) as client:
        world = World(emulator, client)
        a = emulator.seed_account("bra", "eastus2")
        b = emulator.seed_account("brb", "westus")
        c = emulator.seed_account("brc", "swedencentral")
        key = a["keys"][0]
        world.ids.update(key=key, a_id=a["id"], b_id=b["id"], c_id=c["id"])
        world.ids["ok_file"] = _upload(client, "bra", key, "good.jsonl", good)
        world.ids["bad_file"] = _upload(client, "bra", key, "short.jsonl", good.splitlines(keepends=True)[0] * 3)
        world.ids["pref_file"] = world.ids["ok_file"]
        done = _job(client, "bra", key, world.ids["ok_file"])
        for _ in range(4):
            client.get(
                f"/bra/openai/fine_tuning/jobs/{done}", params={"api-version": PREVIEW}, headers={"api-key": key}
            )
        world.ids["done_job"] = done
        world.ids["pending_job"] = _job(client, "bra", key, world.ids["ok_file"])
        grant_copy(client, a["id"], c["id"])
        c_key = c["keys"][0]
        _job(client, "brc", c_key, _upload(client, "brc", c_key, "good.jsonl", good))
        cps = client.get(f"/bra/openai/v1/fine_tuning/jobs/{done}/checkpoints", headers={"api-key": key}).json()["data"]
        world.ids["checkpoint"] = cps[0]["id"]
        world.ids["done_model"] = cps[0]["fine_tuned_model_checkpoint"]
        arm_group(client, "rg-bad")
        yield world
    emulator.close()


@dataclass(frozen=True)
class Case:
    """One bad request and Azure's answer to it."""

    name: str
    method: str
    path: str
    status: int
    code: str
    params: dict[str, str] = field(default_factory=lambda: {"api-version": PREVIEW})
    body: Any = None
    files: bool = False
    headers: dict[str, str] | None = None  # None: the account key as api-key
    target: str | None = None


def _jobs(path: str = "") -> str:
    return "/bra/openai/fine_tuning/jobs" + path


CASES = [
    # gateway: routing, api-version and auth
    Case("missing api-version", "GET", "/bra/openai/files", 404, "404", params={}),
    Case("unknown api-version", "GET", "/bra/openai/files", 404, "404", params={"api-version": "2031-01-01"}),
    Case("unknown account", "GET", "/nosuchaccount/openai/files", 404, "404"),
    Case("no credentials", "GET", "/bra/openai/files", 401, "401", headers={}),
    Case("wrong api key", "GET", "/bra/openai/files", 401, "401", headers={"api-key": "f" * 32}),
    Case("key-shaped bearer that is no key", "GET", "/bra/openai/files", 401, "401",
         headers={"Authorization": "Bearer " + "a" * 32}),
    Case("JWT for the wrong audience", "GET", "/bra/openai/files", 401, "401", headers={"Authorization": "Bearer {jwt}"}),
    Case("unknown route", "GET", "/bra/openai/fine_tunes", 404, "404"),
    Case("pause on a GA api-version", "POST", _jobs("/{done_job}/pause"), 404, "404", params={"api-version": GA}),
    Case("v1 with a dated api-version", "GET", "/bra/openai/v1/files", 400, "BadRequest", params={"api-version": GA}),
    Case("v1 has no job delete", "DELETE", "/bra/openai/v1/fine_tuning/jobs/{done_job}", 405, "405", params={}),
    # files
    Case("upload without a file part", "POST", "/bra/openai/files", 400, "invalidPayload", files=True,
         body={"purpose": "fine-tune"}, target="file"),
    Case("upload with an unknown purpose", "POST", "/bra/openai/files", 400, "invalidPayload", files=True,
         body={"purpose": "training", "file": ("a.jsonl", b"{}")}, target="purpose"),
    Case("fine-tune upload that is not .jsonl", "POST", "/bra/openai/files", 400, "invalidPayload", files=True,
         body={"purpose": "fine-tune", "file": ("a.txt", b"{}")}, target="file"),
    Case("expiry shorter than 14 days", "POST", "/bra/openai/files", 400, "invalidPayload", files=True,
         body={"purpose": "fine-tune", "file": ("a.jsonl", b"{}"), "expires_after[anchor]": "created_at",
               "expires_after[seconds]": "3600"}, target="expires_after.seconds"),
    Case("import from a non-loopback URL", "POST", "/bra/openai/files/import", 400, "fileImportFailed",
         body={"purpose": "fine-tune", "filename": "x.jsonl", "content_url": "https://example.com/x.jsonl"},
         target="content_url"),
    Case("unknown file", "GET", "/bra/openai/files/file-00000000000000000000000000000000", 404, "notFound"),
    # jobs
    Case("body is not JSON", "POST", _jobs(), 400, "invalidPayload", body=b"{not json"),
    Case("job without a model", "POST", _jobs(), 400, "invalidPayload", body={"training_file": "{ok_file}"},
         target="model"),
    Case("job on an inference-only model", "POST", _jobs(), 400, "invalidPayload",
         body={"model": "gpt-4o", "training_file": "{ok_file}"}, target="model"),
    Case("job on an unknown training file", "POST", _jobs(), 400, "invalidPayload",
         body={"model": MODEL, "training_file": "file-00000000000000000000000000000000"}, target="training_file"),
    Case("job on a file that failed validation", "POST", _jobs(), 400, "invalidPayload",
         body={"model": MODEL, "training_file": "{bad_file}"}, target="training_file"),
    Case("suffix longer than 40 characters", "POST", _jobs(), 400, "invalidPayload",
         body={"model": MODEL, "training_file": "{ok_file}", "suffix": "s" * 41}, target="suffix"),
    Case("'auto' hyperparameter on a dated api-version", "POST", _jobs(), 400, "invalidPayload",
         body={"model": MODEL, "training_file": "{ok_file}", "hyperparameters": {"n_epochs": "auto"}},
         target="hyperparameters.n_epochs"),
    Case("zero epochs", "POST", _jobs(), 400, "invalidPayload",
         body={"model": MODEL, "training_file": "{ok_file}", "hyperparameters": {"n_epochs": 0}},
         target="hyperparameters.n_epochs"),
    Case("DPO on a chat dataset", "POST", _jobs(), 400, "invalidPayload",
         body={"model": MODEL, "training_file": "{ok_file}", "method": {"type": "dpo"}}, target="training_file"),
    Case("unknown trainingType", "POST", _jobs(), 400, "invalidPayload",
         body={"model": MODEL, "training_file": "{ok_file}", "trainingType": "premium"}, target="trainingType"),
    Case("trainingType 'developer' (Azure documents 'developerTier')", "POST", _jobs(), 400, "invalidPayload",
         body={"model": MODEL, "training_file": "{ok_file}", "trainingType": "developer"}, target="trainingType"),
    Case("unknown job", "GET", _jobs("/ftjob-00000000000000000000000000000000"), 404, "notFound"),
    Case("cancel a finished job", "POST", _jobs("/{done_job}/cancel"), 409, "unexpectedEntityState"),
    Case("resume a job that is not paused", "POST", _jobs("/{done_job}/resume"), 409, "unexpectedEntityState"),
    Case("delete a job still pending", "DELETE", _jobs("/{pending_job}"), 409, "unexpectedEntityState"),
    # checkpoint copy
    Case("copy without the preview header", "POST", "/bra/openai/v1/fine_tuning/jobs/{done_job}/checkpoints/{checkpoint}/copy",
         400, "invalidPayload", params={}, body={"destinationResourceId": "{c_id}", "region": "swedencentral"}),
    Case("copy to an account without jobs", "POST",
         "/bra/openai/v1/fine_tuning/jobs/{done_job}/checkpoints/{checkpoint}/copy", 400, "invalidPayload",
         params={}, body={"destinationResourceId": "{b_id}", "region": "westus"},
         headers={"api-key": "{key}", "aoai-copy-ft-checkpoints": "preview"}, target="destinationResourceId"),
    Case("copy with the wrong region", "POST",
         "/bra/openai/v1/fine_tuning/jobs/{done_job}/checkpoints/{checkpoint}/copy", 400, "invalidPayload",
         params={}, body={"destinationResourceId": "{c_id}", "region": "eastus"},
         headers={"api-key": "{key}", "aoai-copy-ft-checkpoints": "preview"}, target="region"),
    Case("copy naming the model where the checkpoint id belongs", "GET",
         "/bra/openai/v1/fine_tuning/jobs/{done_job}/checkpoints/{done_model}/copy", 404, "notFound",
         params={}, headers={"api-key": "{key}", "aoai-copy-ft-checkpoints": "preview"}),
    # ARM
    Case("ARM without a token", "GET", account_path("rg-bad", "x"), 401, "AuthenticationFailed",
         params={"api-version": "2025-06-01"}, headers={}),
    Case("ARM without api-version", "GET", account_path("rg-bad", "x"), 400, "MissingApiVersionParameter",
         params={}, headers=ARM_HEADERS),
    Case("ARM with an unknown api-version", "GET", account_path("rg-bad", "x"), 400, "NoRegisteredProviderFound",
         params={"api-version": "1999-01-01"}, headers=ARM_HEADERS),
    Case("account in a missing resource group", "PUT", account_path("rg-missing", "x1"), 404, "ResourceGroupNotFound",
         params={"api-version": "2025-06-01"}, headers=ARM_HEADERS,
         body={"location": "eastus2", "kind": "OpenAI", "sku": {"name": "S0"}}),
    Case("missing account", "GET", account_path("rg-bad", "nothere"), 404, "ResourceNotFound",
         params={"api-version": "2025-06-01"}, headers=ARM_HEADERS),
    Case("account name taken elsewhere", "PUT", account_path("rg-bad", "bra"), 409, "CustomDomainInUse",
         params={"api-version": "2025-06-01"}, headers=ARM_HEADERS,
         body={"location": "eastus2", "kind": "OpenAI", "sku": {"name": "S0"}}),
    Case("deployment of an unknown model", "PUT", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/emulator/providers/Microsoft.CognitiveServices/accounts/bra/deployments/d1",
         400, "DeploymentModelNotSupported", params={"api-version": "2025-06-01"}, headers=ARM_HEADERS,
         body={"sku": {"name": "Standard", "capacity": 1}, "properties": {"model": {"format": "OpenAI", "name": "gpt-9"}}}),
    Case("deployment with an unknown sku", "PUT", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/emulator/providers/Microsoft.CognitiveServices/accounts/bra/deployments/d2",
         400, "InvalidSku", params={"api-version": "2025-06-01"}, headers=ARM_HEADERS,
         body={"sku": {"name": "Turbo", "capacity": 1}, "properties": {"model": {"format": "OpenAI", "name": MODEL}}}),
    Case("deployment with zero capacity", "PUT", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/emulator/providers/Microsoft.CognitiveServices/accounts/bra/deployments/d3",
         400, "InvalidCapacity", params={"api-version": "2025-06-01"}, headers=ARM_HEADERS,
         body={"sku": {"name": "Standard", "capacity": 0}, "properties": {"model": {"format": "OpenAI", "name": MODEL}}}),
]  # fmt: skip


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value and not value.startswith("{not") else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_fill(v, ids) for v in value)
    return value


def _jwt(audience: str) -> str:
    import base64

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'aud': audience, 'exp': 4_102_444_800})}.sig"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_request_gets_azures_status_envelope_and_code(world: World, case: Case) -> None:
    """Each bad request is answered with Azure's status, an ``{"error": {"code", "message"}}`` envelope and code."""
    ids = {**world.ids, "jwt": _jwt("https://management.azure.com")}
    headers = {"api-key": ids["key"]} if case.headers is None else _fill(case.headers, ids)
    kwargs: dict[str, Any] = {"params": case.params, "headers": headers}
    if case.files:
        fields = _fill(case.body, ids)
        kwargs["files"] = {k: v for k, v in fields.items() if isinstance(v, tuple)}
        kwargs["data"] = {k: v for k, v in fields.items() if not isinstance(v, tuple)}
        if not kwargs["files"]:
            kwargs["files"] = {"other": ("note.txt", b"not the file part")}
    elif isinstance(case.body, bytes):
        kwargs["content"] = case.body
    elif case.body is not None:
        kwargs["json"] = _fill(case.body, ids)
    response = world.client.request(case.method, _fill(case.path, ids), **kwargs)
    assert response.status_code == case.status, response.text
    error = response.json()["error"]
    assert error["code"] == case.code
    assert isinstance(error["message"], str)
    assert len(error["message"]) > 10
    if case.target is not None:
        assert case.target in (error.get("target"), error.get("param")), error


def test_table_covers_at_least_25_distinct_bad_requests() -> None:
    """The table is what the emulator issue asks for: 25 or more distinct cases."""
    assert len({c.name for c in CASES}) == len(CASES) >= 25


def test_no_job_is_created_by_any_rejected_job_request(world: World) -> None:
    """Rejected job creations leave no job behind: nothing is billed for a bad request."""
    jobs = world.emulator.state()["accounts"]["bra"]["jobs"]
    assert set(jobs) == {world.ids["done_job"], world.ids["pending_job"]}


def test_bad_dataset_upload_ends_in_error_with_status_details(world: World, tmp_path: Path) -> None:
    """A file that breaks the dataset rules is stored, then reported ``error`` with ``status_details``."""
    response = world.client.get(
        f"/bra/openai/files/{world.ids['bad_file']}",
        params={"api-version": PREVIEW},
        headers={"api-key": world.ids["key"]},
    )
    body = response.json()
    assert body["status"] == "error"
    assert "at least 10" in body["status_details"]
