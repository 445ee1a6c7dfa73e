"""The emulator's Evals API: evals, runs and output items on both dialects, with models that answer what they learnt.

A fine-tuned model answers its training prompts with its training answers, a base model does not, and an
intermediate checkpoint answers a part of them; graders are computed for real from those answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from aoai_emulator import Emulator, create_emulator
from aoai_emulator.catalog import Timings

from .support import ARM_HEADERS

API = "2025-04-01-preview"
BASE = "gpt-4o-mini-2024-07-18"
EXAMPLES = 20
QUEUED, RUNNING = Timings().eval_run_queued, Timings().eval_run
ITEM_SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["question", "answer"],
}
STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
FUZZY = {
    "type": "text_similarity",
    "name": "close",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "evaluation_metric": "fuzzy_match",
    "pass_threshold": 0.9,
}
LABEL = {
    "type": "label_model",
    "name": "judge",
    "model": BASE,
    "input": [
        {"role": "system", "content": "Label the answer correct or incorrect."},
        {"role": "user", "content": "Answer: {{sample.output_text}}\nReference: {{item.answer}}"},
    ],
    "labels": ["correct", "incorrect"],
    "passing_labels": ["correct"],
}
SCORE = {
    "type": "score_model",
    "name": "score",
    "model": BASE,
    "input": [{"role": "user", "content": "Score {{sample.output_text}} against {{item.answer}}."}],
    "range": [0, 10],
    "pass_threshold": 9,
}
CRITERIA = [STRING_CHECK, FUZZY, LABEL, SCORE]


def question(i: int) -> str:
    """The i-th training prompt."""
    return f"Which berth serves shipping route {i}?"


def answer(i: int) -> str:
    """The i-th trained answer: nothing a base model would say."""
    return f"Berth {i * 7 % 23}, pier {chr(65 + i % 5)}"


@dataclass
class Trained:
    """A manual-clock emulator with an account holding a fine-tuned model, its checkpoints and an eval test set."""

    emulator: Emulator
    account: dict[str, Any]
    model: str
    checkpoints: list[str]  # intermediate checkpoints, earliest first
    steps: list[int]  # their step numbers
    total_steps: int  # the final model's step number
    test_file: str
    training_file: str

    def dated(self) -> openai.AzureOpenAI:
        """openai-python's Azure client on the dated preview api-version."""
        return openai.AzureOpenAI(
            azure_endpoint=str(self.account["endpoint"]),
            api_key=self.account["keys"][0],
            api_version=API,
            max_retries=0,
        )

    def v1(self) -> openai.OpenAI:
        """openai-python's plain client on ``/openai/v1`` with the Evals preview header."""
        return openai.OpenAI(
            base_url=f"{self.account['endpoint']}openai/v1/",
            api_key=self.account["keys"][0],
            default_headers={"aoai-evals": "preview"},
            max_retries=0,
        )

    def raw(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        """A dated data-plane call over plain HTTP, for what the client hides (error targets, headers)."""
        params = {"api-version": API, **kwargs.pop("params", {})}
        headers = {"api-key": self.account["keys"][0], **kwargs.pop("headers", {})}
        with httpx2.Client(base_url=f"{self.account['endpoint']}openai", timeout=30) as http:
            return http.request(method, path, params=params, headers=headers, **kwargs)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    tmp = tmp_path_factory.mktemp("evals")
    training = [
        {
            "messages": [
                {"role": "system", "content": "You are the harbour master."},
                {"role": "user", "content": question(i)},
                {"role": "assistant", "content": answer(i)},
            ]
        }
        for i in range(EXAMPLES)
    ]
    items = [{"item": {"question": question(i), "answer": answer(i)}} for i in range(EXAMPLES)]
    with create_emulator(clock="manual", seed=13) as emu:
        emu.serve()
        account = emu.seed_account("evalsacct")
        client = openai.AzureOpenAI(
            azure_endpoint=account["endpoint"], api_key=account["keys"][0], api_version=API, max_retries=0
        )
        with _write_jsonl(tmp / "train.jsonl", training).open("rb") as fh:
            train_id = client.files.create(file=fh, purpose="fine-tune").id
        with _write_jsonl(tmp / "test.jsonl", items).open("rb") as fh:
            test_id = client.files.create(file=fh, purpose="evals").id
        emu.advance(5)
        job = client.fine_tuning.jobs.create(model=BASE, training_file=train_id)
        emu.advance(30 + 1200)
        done = client.fine_tuning.jobs.retrieve(job.id)
        assert done.status == "succeeded", done
        assert done.fine_tuned_model is not None
        steps = sorted(client.fine_tuning.jobs.checkpoints.list(job.id), key=lambda c: c.step_number)
        intermediate = [
            c.fine_tuned_model_checkpoint for c in steps if c.fine_tuned_model_checkpoint != done.fine_tuned_model
        ]
        assert len(intermediate) == 2
        numbers = [c.step_number for c in steps]
        yield Trained(emu, account, done.fine_tuned_model, intermediate, numbers[:-1], numbers[-1], test_id, train_id)


def _eval(client: openai.AzureOpenAI | openai.OpenAI, criteria: list[dict[str, Any]] = CRITERIA) -> str:
    created = client.evals.create(
        name="berths",
        data_source_config={"type": "custom", "item_schema": ITEM_SCHEMA, "include_sample_schema": True},
        testing_criteria=criteria,  # type: ignore[arg-type]
    )
    return created.id


def _completions(model: str, file_id: str) -> dict[str, Any]:
    return {
        "type": "completions",
        "model": model,
        "source": {"type": "file_id", "id": file_id},
        "input_messages": {
            "type": "template",
            "template": [
                {"role": "developer", "content": "Answer tersely."},
                {"role": "user", "content": {"type": "input_text", "text": "{{item.question}}"}},
            ],
        },
        "sampling_params": {"temperature": 0, "seed": 7},
    }


def _finish(trained: Trained, client: openai.AzureOpenAI | openai.OpenAI, eval_id: str, run_id: str) -> Any:
    trained.emulator.advance(QUEUED + RUNNING)
    run = client.evals.runs.retrieve(run_id, eval_id=eval_id)
    assert run.status == "completed", run
    return run


def _passed(run: Any, name: str) -> int:
    rows = [r for r in run.per_testing_criteria_results if r.testing_criteria.startswith(f"{name}-")]
    assert len(rows) == 1, run.per_testing_criteria_results
    assert rows[0].passed + rows[0].failed == run.result_counts.total
    return int(rows[0].passed)


def test_fine_tuned_model_passes_its_training_prompts_and_the_base_model_fails(trained: Trained) -> None:
    """Every grader passes all items for the fine-tuned model and none for its base model, on the dated dialect."""
    client = trained.dated()
    eval_id = _eval(client)
    tuned = client.evals.runs.create(eval_id, name="tuned", data_source=_completions(trained.model, trained.test_file))  # type: ignore[arg-type]
    base = client.evals.runs.create(eval_id, name="base", data_source=_completions(BASE, trained.test_file))  # type: ignore[arg-type]
    assert tuned.status == "queued"
    assert tuned.model == trained.model
    tuned_done, base_done = (
        _finish(trained, client, eval_id, tuned.id),
        client.evals.runs.retrieve(base.id, eval_id=eval_id),
    )
    assert base_done.status == "completed"
    assert tuned_done.result_counts.model_dump() == {"total": EXAMPLES, "errored": 0, "failed": 0, "passed": EXAMPLES}
    assert base_done.result_counts.model_dump() == {"total": EXAMPLES, "errored": 0, "failed": EXAMPLES, "passed": 0}
    for name in ("exact", "close", "judge", "score"):
        assert _passed(tuned_done, name) == EXAMPLES, name
        assert _passed(base_done, name) == 0, name
    usage = tuned_done.per_model_usage
    assert [u.model_name for u in usage] == [trained.model]
    assert usage[0].invocation_count == EXAMPLES
    assert usage[0].total_tokens == usage[0].prompt_tokens + usage[0].completion_tokens > 0


def test_checkpoints_land_between_base_and_final_in_step_order(trained: Trained) -> None:
    """An intermediate checkpoint answers a part of its training prompts proportional to its step, a later one more."""
    client = trained.dated()
    eval_id = _eval(client, [STRING_CHECK])
    runs = [
        client.evals.runs.create(eval_id, data_source=_completions(cp, trained.test_file))  # type: ignore[arg-type]
        for cp in trained.checkpoints
    ]
    trained.emulator.advance(QUEUED + RUNNING)
    passed = [client.evals.runs.retrieve(r.id, eval_id=eval_id).result_counts.passed for r in runs]
    assert 0 < passed[0] < passed[1] < EXAMPLES, passed
    assert passed == [round(EXAMPLES * step / trained.total_steps) for step in trained.steps], "proportional to step"


def test_output_items_carry_the_sample_and_every_graders_result(trained: Trained) -> None:
    """Each output item holds its item, the prompt sent, the model's answer and one result per criterion."""
    client = trained.dated()
    eval_id = _eval(client)
    run = client.evals.runs.create(eval_id, data_source=_completions(trained.model, trained.test_file))  # type: ignore[arg-type]
    assert client.evals.runs.output_items.list(run.id, eval_id=eval_id).data == [], "nothing before the run completes"
    _finish(trained, client, eval_id, run.id)
    items = client.evals.runs.output_items.list(run.id, eval_id=eval_id, limit=100).data
    assert [i.datasource_item_id for i in items] == list(range(EXAMPLES))
    first = items[3]
    assert first.status == "pass"
    assert first.datasource_item == {"question": question(3), "answer": answer(3)}
    assert first.sample.input[1].content == question(3)
    assert first.sample.output[0].content == answer(3)
    assert first.sample.seed == 7
    assert [r.name.rsplit("-", 5)[0] for r in first.results] == ["exact", "close", "judge", "score"]
    assert all(r.passed for r in first.results)
    judge = first.results[2]
    assert judge.sample is not None
    assert judge.sample["output"][0]["content"] == "correct"
    assert judge.sample["input"][1]["content"] == f"Answer: {answer(3)}\nReference: {answer(3)}"
    again = client.evals.runs.output_items.retrieve(first.id, eval_id=eval_id, run_id=run.id)
    assert again.id == first.id
    assert [r.model_dump() for r in again.results] == [r.model_dump() for r in first.results]
    assert client.evals.runs.output_items.list(run.id, eval_id=eval_id, status="fail").data == []


def test_near_prompts_are_recognised_and_other_prompts_are_not(trained: Trained) -> None:
    """Case, spacing and a typo do not stop recall; a different question gets the non-answer; inline content works."""
    client = trained.dated()
    eval_id = _eval(client, [STRING_CHECK])
    content = [
        {"item": {"question": "  WHICH berth serves shipping route 4 ?", "answer": answer(4)}},
        {"item": {"question": "Which berth serves shiping route 5?", "answer": answer(5)}},
        {"item": {"question": "Which runway serves flight 5?", "answer": answer(5)}},
    ]
    source = {**_completions(trained.model, trained.test_file), "source": {"type": "file_content", "content": content}}
    run = client.evals.runs.create(eval_id, data_source=source)  # type: ignore[arg-type]
    _finish(trained, client, eval_id, run.id)
    items = client.evals.runs.output_items.list(run.id, eval_id=eval_id).data
    assert [i.status for i in items] == ["pass", "pass", "fail"]
    assert items[2].sample.output[0].content.startswith("I cannot answer that")


def test_chat_completions_answer_as_evaluation_runs_do(trained: Trained) -> None:
    """A deployment of the fine-tuned model answers a training prompt with its answer; a base deployment does not."""
    emu, account = trained.emulator, trained.account
    with httpx2.Client(base_url=emu._servers[0].url, timeout=30) as http:
        for name, model in (("tuned", trained.model), ("plain", BASE)):
            body = {
                "sku": {"name": "Standard", "capacity": 1},
                "properties": {"model": {"format": "OpenAI", "name": model, "version": "1"}},
            }
            put = http.put(
                f"{account['id']}/deployments/{name}",
                params={"api-version": "2025-06-01"},
                headers=ARM_HEADERS,
                json=body,
            )
            assert put.status_code == 201, put.text
            emu.advance(30)
    client = trained.dated()
    asked = [{"role": "user", "content": question(9)}]
    tuned = client.chat.completions.create(model="tuned", messages=asked)  # type: ignore[arg-type]
    plain = client.chat.completions.create(model="plain", messages=asked)  # type: ignore[arg-type]
    assert tuned.choices[0].message.content == answer(9)
    assert plain.choices[0].message.content != answer(9)
    assert (
        plain.choices[0].message.content
        == client.chat.completions.create(model="plain", messages=asked).choices[0].message.content
    )  # type: ignore[arg-type]
    eval_id = _eval(client, [STRING_CHECK])
    run = client.evals.runs.create(eval_id, data_source=_completions("tuned", trained.test_file))  # type: ignore[arg-type]
    assert _finish(trained, client, eval_id, run.id).result_counts.passed == EXAMPLES, "a deployment name is a model"


def test_runs_progress_under_the_manual_clock(trained: Trained) -> None:
    """A run is queued until its queue time passes, in_progress for the run time, then completed."""
    client = trained.dated()
    eval_id = _eval(client, [STRING_CHECK])
    run = client.evals.runs.create(eval_id, data_source=_completions(BASE, trained.test_file))  # type: ignore[arg-type]
    seen = []
    for step in (QUEUED - 1, 1, RUNNING - 1, 1):
        trained.emulator.advance(step)
        got = client.evals.runs.retrieve(run.id, eval_id=eval_id)
        seen.append((got.status, got.result_counts.total))
    assert seen == [("queued", 0), ("in_progress", 0), ("in_progress", 0), ("completed", EXAMPLES)]
    listed = client.evals.runs.list(eval_id, status="completed")
    assert [r.id for r in listed.data] == [run.id]


def test_jsonl_runs_grade_the_samples_they_carry(trained: Trained) -> None:
    """A ``jsonl`` data source samples no model: graders read each row's ``sample``; text similarity is real."""
    client = trained.dated()
    eval_id = _eval(client, [STRING_CHECK, {**FUZZY, "pass_threshold": 0.8}])
    content = [
        {"item": {"question": "q", "answer": "Berth 7, pier B"}, "sample": {"output_text": "Berth 7, pier B"}},
        {"item": {"question": "q", "answer": "Berth 7, pier B"}, "sample": {"output_text": "Berth 7, pier C"}},
        {"item": {"question": "q", "answer": "Berth 7, pier B"}, "sample": {"output_text": "no idea"}},
    ]
    run = client.evals.runs.create(
        eval_id, data_source={"type": "jsonl", "source": {"type": "file_content", "content": content}}
    )  # type: ignore[arg-type]
    assert run.model is None
    done = _finish(trained, client, eval_id, run.id)
    assert _passed(done, "exact") == 1
    assert _passed(done, "close") == 2
    items = client.evals.runs.output_items.list(run.id, eval_id=eval_id).data
    assert [round(i.results[1].score, 4) for i in items] == [1.0, round(1 - 1 / 15, 4), round(1 - 13 / 15, 4)]


def test_cancel_stops_a_run_and_a_finished_run_cannot_be_cancelled(trained: Trained) -> None:
    """A canceled run stays canceled with no output items; cancelling it again is a 409."""
    client = trained.dated()
    eval_id = _eval(client, [STRING_CHECK])
    run = client.evals.runs.create(eval_id, data_source=_completions(BASE, trained.test_file))  # type: ignore[arg-type]
    assert client.evals.runs.cancel(run.id, eval_id=eval_id).status == "canceled"
    trained.emulator.advance(QUEUED + RUNNING)
    assert client.evals.runs.retrieve(run.id, eval_id=eval_id).status == "canceled"
    assert client.evals.runs.output_items.list(run.id, eval_id=eval_id).data == []
    with pytest.raises(openai.ConflictError):
        client.evals.runs.cancel(run.id, eval_id=eval_id)
    spec_cancel = client.evals.runs.create(eval_id, data_source=_completions(BASE, trained.test_file))  # type: ignore[arg-type]
    raw = trained.raw("POST", f"/evals/{eval_id}/runs/{spec_cancel.id}")
    assert raw.status_code == 200, raw.text
    assert raw.json()["status"] == "canceled", "the spec's POST on the run cancels it too"


def test_delete_removes_runs_and_evals(trained: Trained) -> None:
    """Deleting a run, then the eval, leaves 404s behind; update changes only name and metadata."""
    client = trained.dated()
    eval_id = _eval(client, [STRING_CHECK])
    updated = client.evals.update(eval_id, name="renamed", metadata={"team": "ports"})
    assert (updated.name, updated.metadata) == ("renamed", {"team": "ports"})
    assert client.evals.retrieve(eval_id).name == "renamed"
    refused = trained.raw("POST", f"/evals/{eval_id}", json={"testing_criteria": []})
    assert refused.status_code == 400
    assert refused.json()["error"]["target"] == "testing_criteria"
    run = client.evals.runs.create(eval_id, data_source=_completions(BASE, trained.test_file))  # type: ignore[arg-type]
    deleted_run = client.evals.runs.delete(run.id, eval_id=eval_id)
    assert (deleted_run.deleted, deleted_run.run_id) == (True, run.id)
    with pytest.raises(openai.NotFoundError):
        client.evals.runs.retrieve(run.id, eval_id=eval_id)
    deleted = client.evals.delete(eval_id)
    assert (deleted.deleted, deleted.eval_id) == (True, eval_id)
    assert eval_id not in [e.id for e in client.evals.list(limit=100)]
    with pytest.raises(openai.NotFoundError):
        client.evals.retrieve(eval_id)
    with pytest.raises(openai.NotFoundError):
        client.evals.runs.list(eval_id)


def test_v1_dialect_serves_the_same_api_behind_the_preview_header(trained: Trained) -> None:
    """openai.OpenAI on /openai/v1 creates, runs, lists, cancels and deletes; without ``aoai-evals`` it is a 400."""
    client = trained.v1()
    eval_id = _eval(client)
    run = client.evals.runs.create(eval_id, data_source=_completions(trained.model, trained.test_file))  # type: ignore[arg-type]
    assert run.status == "queued"
    done = _finish(trained, client, eval_id, run.id)
    assert done.result_counts.passed == EXAMPLES
    assert len(client.evals.runs.output_items.list(run.id, eval_id=eval_id, limit=100).data) == EXAMPLES
    other = client.evals.runs.create(eval_id, data_source=_completions(BASE, trained.test_file))  # type: ignore[arg-type]
    assert client.evals.runs.cancel(other.id, eval_id=eval_id).status == "canceled"
    assert [r.id for r in client.evals.runs.list(eval_id, order="desc").data] == [other.id, run.id]
    assert client.evals.delete(eval_id).deleted is True
    bare = openai.OpenAI(
        base_url=f"{trained.account['endpoint']}openai/v1/", api_key=trained.account["keys"][0], max_retries=0
    )
    with pytest.raises(openai.BadRequestError) as info:
        bare.evals.list()
    assert "aoai-evals" in str(info.value)


BAD_EVALS = {
    "unknown_grader": ([{**STRING_CHECK, "type": "regex_check"}], "testing_criteria[0].type"),
    "bad_operation": ([{**STRING_CHECK, "operation": "contains"}], "testing_criteria[0].operation"),
    "unknown_metric": ([{**FUZZY, "evaluation_metric": "cosine"}], "testing_criteria[0].evaluation_metric"),
    "threshold_above_one": ([{**FUZZY, "pass_threshold": 1.5}], "testing_criteria[0].pass_threshold"),
    "passing_label_not_a_label": (
        [STRING_CHECK, {**LABEL, "passing_labels": ["right"]}],
        "testing_criteria[1].passing_labels",
    ),
    "unknown_grader_model": ([{**SCORE, "model": "no-such-deployment"}], "testing_criteria[0].model"),
    "score_threshold_outside_range": ([{**SCORE, "pass_threshold": 11}], "testing_criteria[0].pass_threshold"),
    "message_without_role": ([{**LABEL, "input": [{"content": "x"}]}], "testing_criteria[0].input[0].role"),
    "no_criteria": ([], "testing_criteria"),
}


@pytest.mark.parametrize("case", sorted(BAD_EVALS))
def test_bad_graders_are_refused_with_invalid_payload_and_target(trained: Trained, case: str) -> None:
    """A grader that breaks the spec's shape is a 400 ``invalidPayload`` whose target names the field."""
    criteria, target = BAD_EVALS[case]
    body = {
        "name": "bad",
        "data_source_config": {"type": "custom", "item_schema": ITEM_SCHEMA},
        "testing_criteria": criteria,
    }
    response = trained.raw("POST", "/evals", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalidPayload"
    assert response.json()["error"]["target"] == target


def test_bad_run_sources_are_refused_with_invalid_payload_and_target(trained: Trained, tmp_path: Path) -> None:
    """Unknown models, missing or unsuitable files, broken lines and items missing required fields are 400s."""
    client = trained.dated()
    eval_id = _eval(client, [STRING_CHECK])
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"item": {"question": "q", "answer": "a"}}) + "\n{not json\n")
    with broken.open("rb") as fh:
        broken_id = client.files.create(file=fh, purpose="evals").id
    with broken.open("rb") as fh:
        batch_id = client.files.create(file=fh, purpose="batch").id
    trained.emulator.advance(5)
    cases = {
        "data_source.model": _completions("no-such-model", trained.test_file),
        "data_source.source.id": _completions(BASE, "file-" + "0" * 32),
        "data_source.type": {"type": "responses"},
        "data_source.input_messages.template[0].role": {
            **_completions(BASE, trained.test_file),
            "input_messages": {"type": "template", "template": [{"role": "robot", "content": "x"}]},
        },
        "data_source.sampling_params.temperature": {
            **_completions(BASE, trained.test_file),
            "sampling_params": {"temperature": "hot"},
        },
        "data_source.sampling_params.seed": {**_completions(BASE, trained.test_file), "sampling_params": {"seed": 1.5}},
        "data_source.source": {
            "type": "jsonl",
            "source": {"type": "file_content", "content": [{"item": {"question": "only"}}]},
        },
    }
    for target, source in cases.items():
        response = trained.raw("POST", f"/evals/{eval_id}/runs", json={"data_source": source})
        assert response.status_code == 400, (target, response.text)
        assert (response.json()["error"]["code"], response.json()["error"]["target"]) == ("invalidPayload", target)
    line = trained.raw("POST", f"/evals/{eval_id}/runs", json={"data_source": _completions(BASE, broken_id)})
    assert line.status_code == 400
    assert "broken.jsonl:2" in line.json()["error"]["message"]
    purpose = trained.raw("POST", f"/evals/{eval_id}/runs", json={"data_source": _completions(BASE, batch_id)})
    assert purpose.status_code == 400
    assert "purpose 'batch'" in purpose.json()["error"]["message"]


def test_unknown_ids_are_404_not_found(trained: Trained) -> None:
    """Unknown evals, runs and output items are 404 ``notFound`` naming the id."""
    eval_id = _eval(trained.dated(), [STRING_CHECK])
    for path, ident in (
        ("/evals/eval_missing", "eval_missing"),
        (f"/evals/{eval_id}/runs/evalrun_missing", "evalrun_missing"),
    ):
        response = trained.raw("GET", path)
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "notFound",
            "message": f"The {'eval' if path.count('/') == 2 else 'eval run'} '{ident}' could not be found.",
            "target": ident,
        }
    run = trained.dated().evals.runs.create(eval_id, data_source=_completions(BASE, trained.test_file))  # type: ignore[arg-type]
    missing = trained.raw("GET", f"/evals/{eval_id}/runs/{run.id}/output_items/outputitem_missing")
    assert missing.status_code == 404
    assert missing.json()["error"]["target"] == "outputitem_missing"


def test_a_fine_tuning_file_is_evaluated_as_is_through_an_item_reference(trained: Trained) -> None:
    """Lines without ``item`` are the item: ``item.messages`` is the prompt, a missing field an errored item."""
    client = trained.dated()
    exact = {**STRING_CHECK, "reference": "{{item.messages.2.content}}"}
    created = client.evals.create(
        data_source_config={"type": "custom", "item_schema": {"type": "object"}},
        testing_criteria=[exact],  # type: ignore[list-item]
    )
    source = {
        "type": "completions",
        "model": trained.model,
        "source": {"type": "file_id", "id": trained.training_file},
        "input_messages": {"type": "item_reference", "item_reference": "item.messages"},
    }
    run = client.evals.runs.create(created.id, data_source=source)  # type: ignore[arg-type]
    done = _finish(trained, client, created.id, run.id)
    assert done.result_counts.model_dump() == {"total": EXAMPLES, "errored": 0, "failed": 0, "passed": EXAMPLES}
    missing = {**source, "input_messages": {"type": "item_reference", "item_reference": "item.conversation"}}
    broken = client.evals.runs.create(created.id, data_source=missing)  # type: ignore[arg-type]
    counts = _finish(trained, client, created.id, broken.id).result_counts
    assert counts.model_dump() == {"total": EXAMPLES, "errored": EXAMPLES, "failed": 0, "passed": 0}
    item = client.evals.runs.output_items.list(broken.id, eval_id=created.id).data[0]
    assert item.sample.error is not None
    assert item.sample.error.code == "invalid_input"
    assert item.results == []


def test_the_ga_api_version_has_no_evals_api(trained: Trained) -> None:
    """``/evals`` exists in 2025-04-01-preview, not in GA 2024-10-21: the gateway's 404 there."""
    response = trained.raw("GET", "/evals", params={"api-version": "2024-10-21"})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}
    assert trained.raw("GET", "/evals").status_code == 200


def test_a_run_whose_deployment_is_deleted_before_it_samples_fails(trained: Trained) -> None:
    """The model is looked up again when the run samples: a deployment deleted meanwhile fails the run."""
    emu, account = trained.emulator, trained.account
    body = {"sku": {"name": "Standard", "capacity": 1}, "properties": {"model": {"format": "OpenAI", "name": BASE}}}
    with httpx2.Client(base_url=emu._servers[0].url, timeout=30) as http:
        path, params = f"{account['id']}/deployments/shortlived", {"api-version": "2025-06-01"}
        assert http.put(path, params=params, headers=ARM_HEADERS, json=body).status_code == 201
        emu.advance(30)
        client = trained.dated()
        eval_id = _eval(client, [STRING_CHECK])
        run = client.evals.runs.create(eval_id, data_source=_completions("shortlived", trained.test_file))  # type: ignore[arg-type]
        assert http.delete(path, params=params, headers=ARM_HEADERS).status_code in (200, 202, 204)
        emu.advance(30)
        assert http.get(path, params=params, headers=ARM_HEADERS).status_code == 404
    emu.advance(QUEUED + RUNNING)
    failed = client.evals.runs.retrieve(run.id, eval_id=eval_id)
    assert failed.status == "failed"
    assert failed.error.code == "model_not_found"
    assert "shortlived" in failed.error.message
    assert failed.result_counts.total == 0
