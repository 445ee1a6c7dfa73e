"""The emulator's answers are what Azure's official REST specs declare, and validate against their JSON schemas.

The specs are vendored under ``specs/`` (see its README): the dated data-plane authoring specs 2024-10-21 (GA)
and 2025-04-01-preview, and ARM Microsoft.CognitiveServices 2025-09-01 with its common types. Every answer
comes over real HTTP from ``emu.serve()``. The spec itself picks the schema, from the operation's path template,
method and the answered status (a success status the operation does not declare fails); each case only names
the definition it expects that to be, as a guard against validating against the wrong thing.

Swagger 2.0 is read as JSON Schema draft 4, converted lightly:

- ``x-nullable: true`` admits null;
- an optional (not ``required``) property admits null too: the data-plane specs carry no ``x-nullable`` at
  all, yet the service sends null for unset optional fields (``fine_tuned_model``, ``result_files``,
  ``error``, ... as the job examples of github.com/Azure/azure-rest-api-specs show) and Azure's SDKs read null as absent. Required ones stay non-null;
- ``readOnly``, ``discriminator`` and ``x-ms-*`` are annotations; enums are checked as listed;
  ``int32``/``int64`` formats are range-checked.

Where the preview spec's Evals API lags the service (its own examples and openai-python disagree with its
schemas), the deviation is listed, with its reason, in ``SPEC_DEVIATIONS``: nothing else
is relaxed.

Served but outside the vendored specs, so not checked here: the v1 API (``/openai/v1/...``, its checkpoint copy
included), ``Microsoft.Authorization`` role assignments and definitions, ``Microsoft.ManagedIdentity``
identities, ARM operation-status resources and the Entra ID token endpoint.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import httpx2
import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from aoai_emulator import Emulator, create_emulator

SPECS = Path(__file__).parent / "specs"
GA = "2024-10-21"
PREVIEW = "2025-04-01-preview"
AUTHORING = SPECS / "cognitiveservices/data-plane/AzureOpenAI/authoring"
DATED_SPECS = {
    GA: AUTHORING / f"stable/{GA}/azureopenai.json",
    PREVIEW: AUTHORING / f"preview/{PREVIEW}/azureopenai.json",
}
ARM_API = "2025-09-01"
ARM_SPEC = (
    SPECS / f"cognitiveservices/resource-manager/Microsoft.CognitiveServices/stable/{ARM_API}/cognitiveservices.json"
)

BASE_MODEL = "gpt-4o-mini-2024-07-18"
SUB = "5f1c0b9e-3d2a-4c6b-9e8f-0a1b2c3d4e5f"
GROUP = "rg-spec-schemas"
ARM_ACCOUNT = "specarmaccount"
DEPLOYMENT = "gpt4omini"
ACCOUNT_PATH = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
    "/providers/Microsoft.CognitiveServices/accounts/{accountName}"
)
ARM_IDS = {"subscriptionId": SUB, "resourceGroupName": GROUP, "accountName": ARM_ACCOUNT, "deploymentName": DEPLOYMENT}
DEPLOYMENT_BODY = {
    "sku": {"name": "Standard", "capacity": 1},
    "properties": {"model": {"format": "OpenAI", "name": BASE_MODEL, "version": "2024-07-18"}},
}
POLLS = 20


# --- swagger 2.0 -> JSON Schema, and the spec's choice of response schema ------------------------------------


def _convert(node: Any, optional: bool = False) -> Any:
    """A swagger 2.0 schema as draft-4 JSON Schema: ``x-nullable`` and optional properties also admit null."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    required = set(node.get("required", []))
    if isinstance(node.get("properties"), dict):
        out["properties"] = {name: _convert(sub, name not in required) for name, sub in node["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            out[key] = _convert(node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            out[key] = [_convert(sub) for sub in node[key]]
    if optional or node.get("x-nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


_ALTERNATIVES = (
    "the variants are listed under allOf, but each variant's 'type' enum excludes the others, so no answer could "
    "match them all; they are alternatives chosen by 'type' (x-ms-discriminator-value), checked as anyOf"
)
# Deliberate deviations from the 2025-04-01-preview spec, each with its reason: (path in the document,
# change, reason). "alternatives" reads allOf as anyOf; "nullable" admits null for a required property; a dict
# replaces those keys of the schema.
SPEC_DEVIATIONS: list[tuple[tuple[str, ...], str | dict[str, Any], str]] = [
    (("definitions", "Eval", "properties", "data_source_config"), "alternatives", _ALTERNATIVES),
    (("definitions", "Eval", "properties", "testing_criteria", "items"), "alternatives", _ALTERNATIVES),
    (("definitions", "EvalRun", "properties", "data_source"), "alternatives", _ALTERNATIVES),
    (("definitions", "CreateEvalJsonlRunDataSource", "properties", "source"), "alternatives", _ALTERNATIVES),
    (("definitions", "EvalItem", "properties", "content"), "alternatives", _ALTERNATIVES),
    (
        ("definitions", "CreateEvalCompletionsRunDataSource", "properties", "source", "properties", "type"),
        {"enum": ["file_content", "file_id", "stored_completions"]},
        "the enum lists the definitions' names (EvalJsonlFileContentSource, ...) instead of their 'type' values, "
        "which the spec's examples (post_evaluation_run.json) and the definitions themselves use",
    ),
    (
        ("definitions", "EvalRun", "properties", "error"),
        "nullable",
        "null while the run has no error, as the spec's examples (post_evaluation_run.json) answer",
    ),
    (
        ("definitions", "EvalRun", "properties", "per_model_usage"),
        "nullable",
        "null until the run completes, as the spec's examples (get_evaluation_run.json) answer",
    ),
    (
        ("definitions", "EvalRun", "properties", "per_testing_criteria_results"),
        "nullable",
        "null until the run completes, as the spec's examples (get_evaluation_run.json) answer",
    ),
    (("definitions", "EvalRun", "properties", "model"), "nullable", "a 'jsonl' run samples no model"),
    (
        ("definitions", "EvalRunOutputItem", "properties", "sample", "properties", "error"),
        "nullable",
        "null for a sample without error, as the spec's examples (get_evaluation_run_output_items.json) answer",
    ),
    (
        ("definitions", "EvalRunOutputItem", "properties", "sample", "properties", "max_completion_tokens"),
        "nullable",
        "null when the run sets no limit (the spec's get_evaluation_run.json example has a null limit too)",
    ),
    (
        ("paths", "/evals/{eval_id}/runs", "post", "responses", "400", "schema"),
        {"$ref": "#/definitions/ErrorResponse"},
        "declared as a bare Error, while the service wraps every error as {'error': Error} (ErrorResponse), as all "
        "the other operations of this spec declare and openai-python reads",
    ),
]


@cache
def _spec_document(path: Path, skip: int | None = None) -> dict[str, Any]:
    """A vendored spec file as parsed JSON, with ``SPEC_DEVIATIONS`` (but the ``skip``-th) applied to the preview."""
    document: dict[str, Any] = json.loads(path.read_text())
    if path.resolve() == DATED_SPECS[PREVIEW].resolve():
        for where, change, _reason in (d for i, d in enumerate(SPEC_DEVIATIONS) if i != skip):
            node = document
            for key in where:
                node = node[key]
            if isinstance(change, dict):
                node.update(change)
            elif change == "alternatives":
                node["anyOf"] = node.pop("allOf")
            else:
                node["x-nullable"] = True
    return document


@cache
def _retrieve(uri: str, skip: int | None = None) -> Resource[Any]:
    """A vendored spec file, converted, for the ``$ref`` resolver; nothing outside ``specs/`` is fetched."""
    path = Path(url2pathname(urlsplit(uri).path)).resolve()
    if urlsplit(uri).scheme != "file" or not path.is_relative_to(SPECS.resolve()):
        raise LookupError(f"{uri} is not a vendored spec file")
    document = _spec_document(path, skip)
    definitions = {name: _convert(schema) for name, schema in document.get("definitions", {}).items()}
    # cognitiveservices.json refers to v3 'systemData'; this copy of v3/types.json names it 'SystemData'.
    if "SystemData" in definitions:
        definitions.setdefault("systemData", {"$ref": "#/definitions/SystemData"})
    return DRAFT4.create_resource({**document, "definitions": definitions})


@cache
def _registry(skip: int | None) -> Registry[Any]:
    return Registry(retrieve=lambda uri: _retrieve(uri, skip))


FORMATS = FormatChecker()


@FORMATS.checks("int32")
def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@FORMATS.checks("int64")
def _int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


@cache
def _validator(ref: str, skip: int | None) -> Draft4Validator:
    return Draft4Validator({"$ref": ref}, registry=_registry(skip), format_checker=FORMATS)


def schema_errors(ref: str, instance: Any, skip: int | None = None) -> list[str]:
    """Every way ``instance`` breaks the schema at ``ref`` (``skip``: without that deviation), as ``path: message``."""
    found = []
    for error in _validator(ref, skip).iter_errors(instance):
        # A nullable wrapper's failure is explained by its non-null branch, not by "is not of type 'null'".
        causes = [e for e in error.context if e.validator_value != "null"] or [error]
        found.extend(f"{cause.json_path}: {cause.message}" for cause in causes)
    return sorted(found)


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One answered request: the spec operation it is (path template and method), the status and JSON body."""

    method: str
    template: str
    url: str
    status: int
    body: Any


def declared_schema(spec: Path, exchange: Exchange, skip: int | None = None) -> str | None:
    """The absolute ``$ref`` of the schema ``spec`` declares for this answer, or None for a body-less one."""
    responses = _spec_document(spec, skip)["paths"][exchange.template][exchange.method.lower()]["responses"]
    declared = responses.get(str(exchange.status)) or (responses.get("default") if exchange.status >= 400 else None)
    assert declared is not None, (
        f"{exchange.method} {exchange.url} answered {exchange.status}; {spec.name} declares only {sorted(responses)}"
    )
    schema = declared.get("schema")
    if schema is None:
        return None
    if "$ref" in schema:
        return urljoin(spec.as_uri(), schema["$ref"])
    # An inline schema (the Evals deletes declare one): a JSON pointer to it in the spec.
    escaped = exchange.template.replace("~", "~0").replace("/", "~1")
    return f"{spec.as_uri()}#/paths/{escaped}/{exchange.method.lower()}/responses/{exchange.status}/schema"


INLINE = "(inline)"  # a case's "definition" when the operation declares its schema in place


def assert_conforms(spec: Path, exchange: Exchange, definition: str | None) -> None:
    """The answer's status is declared by the spec, and its body validates against the declared definition."""
    ref = declared_schema(spec, exchange)
    if definition is None:
        assert ref is None, f"{spec.name} declares a {ref} body for {exchange.status}"
        assert exchange.body is None, f"{exchange.method} {exchange.url} answered {exchange.status} with a body"
        return
    assert ref is not None, f"{spec.name} declares no body for {exchange.method} {exchange.template} {exchange.status}"
    wanted = "/schema" if definition == INLINE else f"#/definitions/{definition}"
    assert ref.endswith(wanted), f"{spec.name} declares {ref}, not {definition}"
    problems = schema_errors(ref, exchange.body)
    assert not problems, (
        f"{exchange.method} {exchange.url} ({exchange.status}) breaks {spec.parent.name}/{spec.name}#{definition}:\n  "
        + "\n  ".join(problems)
        + f"\nbody: {json.dumps(exchange.body)[:2000]}"
    )


# --- driving the emulator --------------------------------------------------------------------------------------


def send(client: httpx2.Client, method: str, template: str, ids: dict[str, str], **kwargs: Any) -> Exchange:
    """Call the operation ``template`` (a spec path) with its path parameters filled from ``ids``."""
    response = client.request(method, template.format_map(ids).lstrip("/"), **kwargs)
    body = response.json() if response.content else None
    return Exchange(method, template, str(response.url), response.status_code, body)


def expect(exchange: Exchange, status: int) -> Any:
    """The body of an answer that had to have ``status`` for the walk to go on."""
    assert exchange.status == status, f"{exchange.method} {exchange.url}: {exchange.status} {exchange.body}"
    return exchange.body


def chat_dataset(path: Path, examples: int = 12) -> Path:
    """A valid chat-format fine-tuning JSONL file of ``examples`` examples."""
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You convert Celsius to Fahrenheit."},
                    {"role": "user", "content": f"{i * 5} C?"},
                    {"role": "assistant", "content": f"{i * 9 + 32} F"},
                ]
            }
        )
        for i in range(examples)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def walk_dated(url: str, account: dict[str, Any], version: str, dataset: Path) -> dict[str, Exchange]:
    """Every answer of a dated data-plane walk, by step name.

    Files (processed and rejected), a job to succeeded (paused and resumed where the api-version has pause), a
    cancelled and a failed job, lists, events, checkpoints, models, three errors and the deletes.
    """
    seen: dict[str, Exchange] = {}
    ids: dict[str, str] = {}
    job_path = "/fine_tuning/jobs/{fine-tuning-job-id}"

    def until(step: str, status: str) -> dict[str, Any]:
        for _ in range(POLLS):  # under the immediate clock each read moves the job one phase on
            seen[step] = send(client, "GET", job_path, ids)
            if expect(seen[step], 200)["status"] == status:
                return dict(seen[step].body)
        raise AssertionError(f"job {ids['fine-tuning-job-id']} never became {status}: {seen[step].body}")

    def new_job() -> None:
        exchange = send(client, "POST", "/fine_tuning/jobs", ids, json={"model": BASE_MODEL, "training_file": file_id})
        ids["fine-tuning-job-id"] = expect(exchange, 201)["id"]

    with httpx2.Client(
        base_url=f"{account['endpoint']}openai/",
        headers={"api-key": account["keys"][0]},
        params={"api-version": version},
        timeout=30,
    ) as client:
        with dataset.open("rb") as fh:
            seen["file_uploaded"] = send(
                client, "POST", "/files", ids, files={"file": (dataset.name, fh)}, data={"purpose": "fine-tune"}
            )
        file_id = ids["file-id"] = expect(seen["file_uploaded"], 201)["id"]
        seen["file_processed"] = send(client, "GET", "/files/{file-id}", ids)
        assert expect(seen["file_processed"], 200)["status"] == "processed"
        too_small = chat_dataset(dataset.with_name("too-small.jsonl"), examples=3)
        with too_small.open("rb") as fh:
            rejected = send(
                client, "POST", "/files", ids, files={"file": (too_small.name, fh)}, data={"purpose": "fine-tune"}
            )
        seen["file_rejected"] = send(client, "GET", "/files/{file-id}", {"file-id": expect(rejected, 201)["id"]})
        assert expect(seen["file_rejected"], 200)["status"] == "error", "fewer than 10 examples fail validation"
        data = dataset.read_bytes()
        start = {"purpose": "fine-tune", "filename": "parts.jsonl", "bytes": len(data), "mime_type": "text/jsonl"}
        seen["upload_started"] = send(client, "POST", "/uploads", ids, json=start)
        ids["upload-id"] = expect(seen["upload_started"], 200)["id"]
        seen["upload_part"] = send(client, "POST", "/uploads/{upload-id}/parts", ids, files={"data": ("blob", data)})
        part_id = expect(seen["upload_part"], 200)["id"]
        seen["upload_completed"] = send(
            client, "POST", "/uploads/{upload-id}/complete", ids, json={"part_ids": [part_id]}
        )
        assert expect(seen["upload_completed"], 200)["status"] == "completed"
        cancelled_upload = {"upload-id": expect(send(client, "POST", "/uploads", ids, json=start), 200)["id"]}
        seen["upload_cancelled"] = send(client, "POST", "/uploads/{upload-id}/cancel", cancelled_upload)
        assert expect(seen["upload_cancelled"], 200)["status"] == "cancelled"
        imported = {"purpose": "fine-tune", "filename": "imported.jsonl", "content_url": dataset.as_uri()}
        seen["file_imported"] = send(client, "POST", "/files/import", ids, json=imported)
        expect(seen["file_imported"], 201)

        seen["job_pending"] = send(
            client,
            "POST",
            "/fine_tuning/jobs",
            ids,
            json={"model": BASE_MODEL, "training_file": file_id, "suffix": "spec", "seed": 42},
        )
        ids["fine-tuning-job-id"] = expect(seen["job_pending"], 201)["id"]
        assert seen["job_pending"].body["status"] == "pending"
        until("job_running", "running")
        if version == PREVIEW:
            seen["job_pausing"] = send(client, "POST", f"{job_path}/pause", ids)
            assert expect(seen["job_pausing"], 200)["status"] == "pausing"
            until("job_paused", "paused")
            seen["job_resuming"] = send(client, "POST", f"{job_path}/resume", ids)
            assert expect(seen["job_resuming"], 200)["status"] == "resuming"
        fine_tuned = until("job_succeeded", "succeeded")["fine_tuned_model"]
        seen["events"] = send(client, "GET", f"{job_path}/events", ids, params={"limit": 100})
        assert {e["type"] for e in expect(seen["events"], 200)["data"]} == {"message", "metrics"}
        seen["checkpoints"] = send(client, "GET", f"{job_path}/checkpoints", ids)
        assert expect(seen["checkpoints"], 200)["data"], "a succeeded job has checkpoints"
        seen["error_conflict"] = send(client, "POST", f"{job_path}/cancel", ids)
        expect(seen["error_conflict"], 409)

        seen["file_list"] = send(client, "GET", "/files", ids)
        purposes = {f["purpose"] for f in expect(seen["file_list"], 200)["data"]}
        assert purposes == {"fine-tune", "fine-tune-results"}, "the list holds the uploads and the job's results.csv"
        seen["model_list"] = send(client, "GET", "/models", ids)
        assert fine_tuned in [m["id"] for m in expect(seen["model_list"], 200)["data"]]
        seen["model_fine_tuned"] = send(client, "GET", "/models/{model-id}", {"model-id": fine_tuned})
        seen["model_base"] = send(client, "GET", "/models/{model-id}", {"model-id": BASE_MODEL})
        if version == PREVIEW:
            seen.update(walk_evals(client, fine_tuned))

        new_job()
        seen["job_cancelled"] = send(client, "POST", f"{job_path}/cancel", ids)
        assert expect(seen["job_cancelled"], 200)["status"] == "cancelled"
        cancelled_id = ids["fine-tuning-job-id"]
        new_job()
        failure = {"code": "internalFailure", "message": "Training failed on the emulator's request."}
        failed = client.post(f"{url}/_emulator/jobs/{ids['fine-tuning-job-id']}/fail", json=failure)
        assert failed.status_code == 200, failed.text
        until("job_failed", "failed")
        seen["job_list"] = send(client, "GET", "/fine_tuning/jobs", ids)
        statuses = {j["status"] for j in expect(seen["job_list"], 200)["data"]}
        assert statuses == {"succeeded", "cancelled", "failed"}

        seen["error_not_found"] = send(client, "GET", "/files/{file-id}", {"file-id": "file-" + "0" * 32})
        expect(seen["error_not_found"], 404)
        seen["error_invalid_payload"] = send(
            client, "POST", "/fine_tuning/jobs", ids, json={"model": "not-a-base-model", "training_file": file_id}
        )
        expect(seen["error_invalid_payload"], 400)
        seen["job_deleted"] = send(client, "DELETE", job_path, {"fine-tuning-job-id": cancelled_id})
        expect(seen["job_deleted"], 204)
        seen["file_deleted"] = send(client, "DELETE", "/files/{file-id}", ids)
        assert expect(seen["file_deleted"], 200)["id"] == file_id
    return seen


def walk_evals(client: httpx2.Client, model: str) -> dict[str, Exchange]:
    """Every answer of an Evals API walk (preview api-version), by step name.

    An eval with every grader, created, read, updated and listed; a run to completed with its output items, a
    cancelled run, a refused run, and the deletes.
    """
    seen: dict[str, Exchange] = {}
    ids: dict[str, str] = {}
    run_path = "/evals/{eval_id}/runs/{run_id}"
    prompt = [{"role": "user", "content": "{{item.question}}"}]
    judge = [{"role": "user", "content": "Is {{sample.output_text}} the same as {{item.answer}}?"}]
    criteria = [
        {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
         "operation": "eq"},
        {"type": "text_similarity", "name": "close", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
         "evaluation_metric": "rouge_l", "pass_threshold": 0.8},
        {"type": "label_model", "name": "judge", "model": BASE_MODEL, "input": judge, "labels": ["yes", "no"],
         "passing_labels": ["yes"]},
        {"type": "score_model", "name": "score", "model": BASE_MODEL, "input": judge, "range": [0, 5],
         "pass_threshold": 4},
    ]  # fmt: skip
    config = {
        "type": "custom",
        "item_schema": {"type": "object", "properties": {"question": {"type": "string"}, "answer": {"type": "string"}}},
        "include_sample_schema": True,
    }
    content = [{"item": {"question": f"{i * 5} C?", "answer": f"{i * 9 + 32} F"}} for i in range(3)]
    data_source = {
        "type": "completions",
        "model": model,
        "source": {"type": "file_content", "content": content},
        "input_messages": {"type": "template", "template": prompt},
        "sampling_params": {"temperature": 1, "top_p": 1, "seed": 42},
    }
    body = {"name": "spec walk", "data_source_config": config, "testing_criteria": criteria}
    seen["eval_created"] = send(client, "POST", "/evals", ids, json=body)
    ids["eval_id"] = expect(seen["eval_created"], 201)["id"]
    seen["eval"] = send(client, "GET", "/evals/{eval_id}", ids)
    seen["eval_updated"] = send(client, "POST", "/evals/{eval_id}", ids, json={"metadata": {"walk": "spec"}})
    assert expect(seen["eval_updated"], 200)["metadata"] == {"walk": "spec"}
    seen["eval_list"] = send(client, "GET", "/evals", ids)
    seen["run_queued"] = send(client, "POST", "/evals/{eval_id}/runs", ids, json={"data_source": data_source})
    ids["run_id"] = expect(seen["run_queued"], 201)["id"]
    seen["run_in_progress"] = send(client, "GET", run_path, ids)
    assert expect(seen["run_in_progress"], 200)["status"] == "in_progress"
    seen["run_completed"] = send(client, "GET", run_path, ids)
    assert expect(seen["run_completed"], 200)["result_counts"]["passed"] == 3, "the model answers its training"
    seen["run_list"] = send(client, "GET", "/evals/{eval_id}/runs", ids)
    seen["output_items"] = send(client, "GET", run_path + "/output_items", ids)
    ids["output_item_id"] = expect(seen["output_items"], 200)["data"][0]["id"]
    seen["output_item"] = send(client, "GET", run_path + "/output_items/{output_item_id}", ids)
    jsonl = {"type": "jsonl", "source": {"type": "file_content", "content": content}}
    queued = send(client, "POST", "/evals/{eval_id}/runs", ids, json={"data_source": jsonl})
    seen["run_canceled"] = send(client, "POST", run_path, {**ids, "run_id": expect(queued, 201)["id"]})
    assert expect(seen["run_canceled"], 200)["status"] == "canceled"
    unknown = {**data_source, "model": "no-such-model"}
    seen["run_refused"] = send(client, "POST", "/evals/{eval_id}/runs", ids, json={"data_source": unknown})
    expect(seen["run_refused"], 400)
    seen["run_deleted"] = send(client, "DELETE", run_path, ids)
    expect(seen["run_deleted"], 200)
    seen["eval_deleted"] = send(client, "DELETE", "/evals/{eval_id}", ids)
    expect(seen["eval_deleted"], 200)
    return seen


def walk_arm(url: str) -> dict[str, Exchange]:
    """A resource group, an account to Succeeded, a deployment to Succeeded, lists and two errors, through ARM."""
    seen: dict[str, Exchange] = {}
    deployment_path = ACCOUNT_PATH + "/deployments/{deploymentName}"
    with httpx2.Client(
        base_url=url, headers={"Authorization": "Bearer spec-schema-test"}, params={"api-version": ARM_API}, timeout=30
    ) as client:
        group = send(
            client,
            "PUT",
            "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}",
            ARM_IDS,
            params={"api-version": "2024-03-01"},
            json={"location": "eastus2"},
        )
        assert group.status in (200, 201), group.body
        seen["account_created"] = send(
            client,
            "PUT",
            ACCOUNT_PATH,
            ARM_IDS,
            json={"location": "eastus2", "kind": "OpenAI", "sku": {"name": "S0"}, "properties": {}},
        )
        expect(seen["account_created"], 201)
        for _ in range(POLLS):
            seen["account"] = send(client, "GET", ACCOUNT_PATH, ARM_IDS)
            if expect(seen["account"], 200)["properties"]["provisioningState"] == "Succeeded":
                break
        else:
            raise AssertionError(f"the account never became Succeeded: {seen['account'].body}")
        seen["account_list"] = send(client, "GET", ACCOUNT_PATH.rsplit("/", 1)[0], ARM_IDS)
        expect(seen["account_list"], 200)

        seen["deployment_created"] = send(client, "PUT", deployment_path, ARM_IDS, json=DEPLOYMENT_BODY)
        expect(seen["deployment_created"], 201)
        for _ in range(POLLS):
            seen["deployment"] = send(client, "GET", deployment_path, ARM_IDS)
            if expect(seen["deployment"], 200)["properties"]["provisioningState"] == "Succeeded":
                break
        else:
            raise AssertionError(f"the deployment never became Succeeded: {seen['deployment'].body}")
        seen["deployment_list"] = send(client, "GET", ACCOUNT_PATH + "/deployments", ARM_IDS)
        assert [d["name"] for d in expect(seen["deployment_list"], 200)["value"]] == [DEPLOYMENT]

        seen["error_not_found"] = send(
            client, "GET", deployment_path, {**ARM_IDS, "deploymentName": "nosuchdeployment"}
        )
        expect(seen["error_not_found"], 404)
        unknown_model = {**DEPLOYMENT_BODY, "properties": {"model": {"format": "OpenAI", "name": "no-such-model"}}}
        seen["error_bad_request"] = send(
            client, "PUT", deployment_path, {**ARM_IDS, "deploymentName": "broken"}, json=unknown_model
        )
        expect(seen["error_bad_request"], 400)

        seen["account_list_subscription"] = send(
            client, "GET", "/subscriptions/{subscriptionId}/providers/Microsoft.CognitiveServices/accounts", ARM_IDS
        )
        assert ARM_ACCOUNT in [a["name"] for a in expect(seen["account_list_subscription"], 200)["value"]]
        seen["account_updated"] = send(
            client,
            "PATCH",
            ACCOUNT_PATH,
            ARM_IDS,
            json={"tags": {"env": "spec"}, "identity": {"type": "SystemAssigned"}},
        )
        assert expect(seen["account_updated"], 200)["identity"]["principalId"]
        seen["account_models"] = send(client, "GET", ACCOUNT_PATH + "/models", ARM_IDS)
        assert expect(seen["account_models"], 200)["value"]
        seen["deployment_skus"] = send(client, "GET", deployment_path + "/skus", ARM_IDS)
        assert expect(seen["deployment_skus"], 200)["value"]
        seen["keys"] = send(client, "POST", ACCOUNT_PATH + "/listKeys", ARM_IDS)
        assert expect(seen["keys"], 200)["key1"]
        seen["keys_regenerated"] = send(
            client, "POST", ACCOUNT_PATH + "/regenerateKey", ARM_IDS, json={"keyName": "Key2"}
        )
        assert expect(seen["keys_regenerated"], 200)["key2"] != seen["keys"].body["key2"]
        seen["deployment_updated"] = send(
            client, "PATCH", deployment_path, ARM_IDS, json={"sku": {"name": "Standard", "capacity": 2}}
        )
        expect(seen["deployment_updated"], 202)  # long-running, final state via Location
        subdomain_ids = {**ARM_IDS, "accountName": "specsubdomain"}
        with_subdomain = {"location": "eastus2", "kind": "OpenAI", "sku": {"name": "S0"}}
        with_subdomain["properties"] = {"customSubDomainName": "spec-sub"}
        seen["account_with_subdomain"] = send(client, "PUT", ACCOUNT_PATH, subdomain_ids, json=with_subdomain)
        assert expect(seen["account_with_subdomain"], 201)["properties"]["endpoint"].endswith("/spec-sub/")
        seen["error_subdomain_in_use"] = send(
            client, "PUT", ACCOUNT_PATH, {**ARM_IDS, "accountName": "specsubtaken"}, json=with_subdomain
        )
        assert expect(seen["error_subdomain_in_use"], 409)["error"]["code"] == "CustomDomainInUse"
        for _ in range(POLLS):
            if (
                expect(send(client, "GET", deployment_path, ARM_IDS), 200)["properties"]["provisioningState"]
                == "Succeeded"
            ):
                break
        seen["deployment_deleted"] = send(client, "DELETE", deployment_path, ARM_IDS)
        assert seen["deployment_deleted"].status in (200, 202, 204)

        deleted_ids = {**ARM_IDS, "accountName": "specdeleted", "location": "eastus2"}
        send(
            client,
            "PUT",
            ACCOUNT_PATH,
            deleted_ids,
            json={"location": "eastus2", "kind": "OpenAI", "sku": {"name": "S0"}},
        )
        seen["account_deleted"] = send(client, "DELETE", ACCOUNT_PATH, deleted_ids)
        expect(seen["account_deleted"], 202)
        for _ in range(POLLS):
            gone = send(client, "DELETE", ACCOUNT_PATH, deleted_ids)
            if gone.status in (200, 204) or send(client, "GET", ACCOUNT_PATH, deleted_ids).status == 404:
                break
        deleted_path = (
            "/subscriptions/{subscriptionId}/providers/Microsoft.CognitiveServices/locations/{location}"
            "/resourceGroups/{resourceGroupName}/deletedAccounts/{accountName}"
        )
        seen["deleted_account"] = send(client, "GET", deleted_path, deleted_ids)
        expect(seen["deleted_account"], 200)
        seen["deleted_account_list"] = send(
            client,
            "GET",
            "/subscriptions/{subscriptionId}/providers/Microsoft.CognitiveServices/deletedAccounts",
            ARM_IDS,
        )
        assert "specdeleted" in [a["name"] for a in expect(seen["deleted_account_list"], 200)["value"]]
        seen["deleted_account_purged"] = send(client, "DELETE", deleted_path, deleted_ids)
        expect(seen["deleted_account_purged"], 200)
    return seen


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[Emulator, str]]:
    with create_emulator(clock="immediate", seed=20241021) as emu:
        yield emu, emu.serve().url


@pytest.fixture(scope="module")
def dated(
    emulator: tuple[Emulator, str], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], dict[str, Exchange]]:
    """The dated walk's answers for an api-version, walked once per version on an account of its own."""
    emu, url = emulator
    walks: dict[str, dict[str, Exchange]] = {}

    def answers(version: str) -> dict[str, Exchange]:
        if version not in walks:
            account = emu.seed_account("spec" + version.replace("-", ""))
            dataset = chat_dataset(tmp_path_factory.mktemp(f"dataset-{version}") / "train.jsonl")
            walks[version] = walk_dated(url, account, version, dataset)
        return walks[version]

    return answers


@pytest.fixture(scope="module")
def arm(emulator: tuple[Emulator, str]) -> dict[str, Exchange]:
    return walk_arm(emulator[1])


# --- the emulator's answers against the specs ------------------------------------------------------------------

DATED_CASES = [
    ("file_uploaded", "File"),
    ("file_imported", "File"),
    ("file_processed", "File"),
    ("file_rejected", "File"),
    ("file_list", "FileList"),
    ("file_deleted", "FileDelete"),
    ("job_pending", "FineTuningJob"),
    ("job_running", "FineTuningJob"),
    ("job_succeeded", "FineTuningJob"),
    ("job_cancelled", "FineTuningJob"),
    ("job_failed", "FineTuningJob"),
    ("job_list", "FineTuningJobList"),
    ("job_deleted", None),
    ("events", "FineTuningJobEventList"),
    ("checkpoints", "FineTuningJobCheckpointList"),
    ("model_list", "ModelList"),
    ("model_base", "Model"),
    ("model_fine_tuned", "Model"),
    ("error_not_found", "ErrorResponse"),
    ("error_invalid_payload", "ErrorResponse"),
    ("error_conflict", "ErrorResponse"),
    ("upload_started", "UploadResource"),
    ("upload_part", "UploadPartResource"),
    ("upload_completed", "UploadResource"),
    ("upload_cancelled", "UploadResource"),
]
PREVIEW_ONLY_CASES = [
    ("job_pausing", "FineTuningJob"),
    ("job_paused", "FineTuningJob"),
    ("job_resuming", "FineTuningJob"),
    ("eval_created", "Eval"),
    ("eval", "Eval"),
    ("eval_updated", "Eval"),
    ("eval_list", "EvalList"),
    ("run_queued", "EvalRun"),
    ("run_in_progress", "EvalRun"),
    ("run_completed", "EvalRun"),
    ("run_list", "EvalRunList"),
    ("output_items", "EvalRunOutputItemList"),
    ("output_item", "EvalRunOutputItem"),
    ("run_canceled", "EvalRun"),
    ("run_refused", "ErrorResponse"),
    ("run_deleted", INLINE),
    ("eval_deleted", INLINE),
]
DATED_PARAMS = [
    pytest.param(version, step, definition, id=f"{version}-{step}")
    for version in (GA, PREVIEW)
    for step, definition in [*DATED_CASES, *(PREVIEW_ONLY_CASES if version == PREVIEW else [])]
]
ARM_CASES = [
    ("account_created", "Account"),
    ("account", "Account"),
    ("account_list", "AccountListResult"),
    ("deployment_created", "Deployment"),
    ("deployment", "Deployment"),
    ("deployment_list", "DeploymentListResult"),
    ("error_not_found", "ErrorResponse"),
    ("error_bad_request", "ErrorResponse"),
    ("account_list_subscription", "AccountListResult"),
    ("account_updated", "Account"),
    ("account_models", "AccountModelListResult"),
    ("deployment_skus", "DeploymentSkuListResult"),
    ("keys", "ApiKeys"),
    ("keys_regenerated", "ApiKeys"),
    ("deployment_updated", None),
    ("account_with_subdomain", "Account"),
    ("error_subdomain_in_use", "ErrorResponse"),
    ("deployment_deleted", None),
    ("account_deleted", None),
    ("deleted_account", "Account"),
    ("deleted_account_list", "AccountListResult"),
    ("deleted_account_purged", None),
]


@pytest.mark.parametrize(("api_version", "step", "definition"), DATED_PARAMS)
def test_dated_data_plane_answer_is_what_the_authoring_spec_declares(
    dated: Callable[[str], dict[str, Exchange]], api_version: str, step: str, definition: str | None
) -> None:
    """A dated data-plane answer has a status its operation declares in that api-version's spec, and conforms.

    Covers files, every job state, lists, events, checkpoints, models, errors and deletes.
    """
    assert_conforms(DATED_SPECS[api_version], dated(api_version)[step], definition)


@pytest.mark.parametrize(("step", "definition"), ARM_CASES, ids=[step for step, _ in ARM_CASES])
def test_arm_answer_is_what_the_cognitiveservices_spec_declares(
    arm: dict[str, Exchange], step: str, definition: str | None
) -> None:
    """An ARM answer has a status the 2025-09-01 spec declares for its operation, and conforms to its schema.

    Covers account PUT, GET and list, deployment PUT, GET and list, and a 404 and a 400 (common-types ErrorResponse).
    """
    assert_conforms(ARM_SPEC, arm[step], definition)


# --- the checks can fail ----------------------------------------------------------------------------------------

JOB_BREAKAGES = {
    "status_outside_the_enum": (lambda job: {**job, "status": "finished"}, "$.status"),
    "required_training_file_missing": (
        lambda job: {k: v for k, v in job.items() if k != "training_file"},
        "'training_file' is a required property",
    ),
    "required_model_null": (lambda job: {**job, "model": None}, "$.model"),
    "created_at_a_string": (lambda job: {**job, "created_at": "2024-10-21T00:00:00Z"}, "$.created_at"),
    "seed_beyond_int32": (lambda job: {**job, "seed": 2**31}, "$.seed"),
    "n_epochs_a_string": (
        lambda job: {**job, "hyperparameters": {**job["hyperparameters"], "n_epochs": "auto"}},
        "$.hyperparameters.n_epochs",
    ),
}


@pytest.mark.parametrize("breakage", sorted(JOB_BREAKAGES))
def test_schema_check_reports_a_real_job_broken_in_one_field(
    dated: Callable[[str], dict[str, Exchange]], breakage: str
) -> None:
    """A real succeeded FineTuningJob with one field made to break the GA spec is reported, naming that field."""
    real = dated(GA)["job_succeeded"]
    ref = declared_schema(DATED_SPECS[GA], real)
    assert ref is not None
    assert schema_errors(ref, real.body) == []
    change, mention = JOB_BREAKAGES[breakage]
    problems = schema_errors(ref, change(real.body))
    assert any(mention in problem for problem in problems), problems


def test_ga_spec_rejects_the_pausing_state_only_the_preview_spec_declares(
    dated: Callable[[str], dict[str, Exchange]],
) -> None:
    """Each api-version is checked against its own spec: the preview's ``pausing`` job is not a GA FineTuningJob."""
    pausing = dated(PREVIEW)["job_pausing"]
    ga_ref = urljoin(DATED_SPECS[GA].as_uri(), "#/definitions/FineTuningJob")
    assert any(problem.startswith("$.status") for problem in schema_errors(ga_ref, pausing.body))


def test_an_answer_status_the_operation_does_not_declare_is_reported(
    dated: Callable[[str], dict[str, Exchange]],
) -> None:
    """A dated upload answered 200 instead of the declared 201 fails, as does a 204 where a body is declared."""
    upload = dated(GA)["file_uploaded"]
    with pytest.raises(AssertionError, match="declares only"):
        assert_conforms(DATED_SPECS[GA], dataclasses.replace(upload, status=200), "File")
    with pytest.raises(AssertionError, match="declares only"):
        assert_conforms(DATED_SPECS[GA], dataclasses.replace(upload, status=204, body=None), None)


def test_schema_check_reports_a_real_arm_answer_broken_in_one_field(arm: dict[str, Exchange]) -> None:
    """ARM definitions and the common-types they refer to are checked: broken fields of real answers are reported.

    A Deployment with a fractional ``sku.capacity`` or an unknown ``systemData.createdByType`` (common-types v3),
    and an ErrorResponse whose ``details`` is not a list (common-types v6).
    """
    deployment = arm["deployment"]
    ref = declared_schema(ARM_SPEC, deployment)
    assert ref is not None
    fractional = {**deployment.body, "sku": {**deployment.body["sku"], "capacity": 1.5}}
    assert any(problem.startswith("$.sku.capacity") for problem in schema_errors(ref, fractional))
    robot = {**deployment.body, "systemData": {"createdByType": "Robot"}}
    assert any(problem.startswith("$.systemData.createdByType") for problem in schema_errors(ref, robot))
    error = arm["error_not_found"]
    error_ref = declared_schema(ARM_SPEC, error)
    assert error_ref is not None
    assert "common-types/resource-management/v6" in error_ref
    broken_error = {"error": {**error.body["error"], "details": "none"}}
    assert any(problem.startswith("$.error.details") for problem in schema_errors(error_ref, broken_error))


# Which real answer of the preview walk each deviation is for (by its index in SPEC_DEVIATIONS).
DEVIATION_STEPS = {
    0: "eval_created",
    1: "eval_created",
    2: "run_queued",
    3: "run_canceled",
    4: "eval_created",
    5: "run_queued",
    6: "run_queued",
    7: "run_queued",
    8: "run_queued",
    9: "run_canceled",
    10: "output_item",
    11: "output_item",
    12: "run_refused",
}


def test_every_spec_deviation_is_listed_with_the_answer_it_is_for() -> None:
    """The table below names one walk step for each deviation, so none is left unchecked."""
    assert sorted(DEVIATION_STEPS) == list(range(len(SPEC_DEVIATIONS)))


@pytest.mark.parametrize("index", sorted(DEVIATION_STEPS))
def test_each_spec_deviation_is_needed_by_a_real_answer(
    dated: Callable[[str], dict[str, Exchange]], index: int
) -> None:
    """Without this one deviation, the real answer it is for breaks the preview spec: none is there for nothing."""
    exchange = dated(PREVIEW)[DEVIATION_STEPS[index]]
    spec = DATED_SPECS[PREVIEW]
    ref = declared_schema(spec, exchange, skip=index)
    assert ref is not None
    assert schema_errors(ref, exchange.body, skip=index), f"{SPEC_DEVIATIONS[index][0]} is not needed"
    assert not schema_errors(declared_schema(spec, exchange) or "", exchange.body)


EVAL_BREAKAGES = {
    "run_status_a_number": ("run_completed", lambda run: {**run, "status": 3}, "$.status"),
    "run_counts_without_passed": (
        "run_completed",
        lambda run: {**run, "result_counts": {k: v for k, v in run["result_counts"].items() if k != "passed"}},
        "'passed' is a required property",
    ),
    "criteria_result_passed_a_string": (
        "run_completed",
        lambda run: {
            **run,
            "per_testing_criteria_results": [{**run["per_testing_criteria_results"][0], "passed": "3"}],
        },
        "$.per_testing_criteria_results[0].passed",
    ),
    "grader_operation_unknown": (
        "eval_created",
        lambda ev: {**ev, "testing_criteria": [{**ev["testing_criteria"][0], "operation": "contains"}]},
        "$.testing_criteria[0]",
    ),
    "item_id_a_string": ("output_item", lambda item: {**item, "datasource_item_id": "0"}, "$.datasource_item_id"),
    "deleted_eval_id_a_number": ("eval_deleted", lambda body: {**body, "eval_id": 5}, "$.eval_id"),
}


@pytest.mark.parametrize("breakage", sorted(EVAL_BREAKAGES))
def test_schema_check_reports_a_real_eval_answer_broken_in_one_field(
    dated: Callable[[str], dict[str, Exchange]], breakage: str
) -> None:
    """Real Evals answers (eval, run, output item, an inline-declared delete) with one field broken are reported."""
    step, change, mention = EVAL_BREAKAGES[breakage]
    real = dated(PREVIEW)[step]
    ref = declared_schema(DATED_SPECS[PREVIEW], real)
    assert ref is not None
    assert schema_errors(ref, real.body) == []
    problems = schema_errors(ref, change(real.body))
    assert any(mention in problem for problem in problems), problems
