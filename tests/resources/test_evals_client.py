"""The Evals API client on the emulator's manual clock: runs cancelled, output items filtered, runs deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulumi_aoai_finetuning.client import ApiKeyAuth, DataPlaneClient, NotFoundError
from pulumi_aoai_finetuning.client.evals import EvalsClient, overall_rate, pass_rates
from pulumi_aoai_finetuning.testing import EmulatedAccount

from .test_evaluation_grpc import BASE, EXACT, arithmetic_items

QUEUED_AND_RUN = 10 + 60  # the emulator's default eval_run_queued + eval_run seconds


@pytest.mark.parametrize("api_version", ["v1", "2025-04-01-preview"])
def test_runs_cancel_items_filter_and_deletes_on_both_dialects(
    manual_account: EmulatedAccount, tmp_path: Path, api_version: str
) -> None:
    """A queued run cancels (twice is fine), a completed one lists its items by status, and a deleted run is gone."""
    client = DataPlaneClient(manual_account.endpoint, ApiKeyAuth(manual_account.key), api_version=api_version)
    try:
        items = arithmetic_items(tmp_path / "items.jsonl", 4)
        file_id = client.upload_file(items, "items.jsonl", "evals")["id"]
        manual_account.emulator.advance(5)
        evals = EvalsClient(client)
        record = evals.create_eval(
            {"name": "c", "data_source_config": {"type": "custom", "item_schema": {"type": "object"}},
             "testing_criteria": [{**EXACT, "operation": "like", "reference": "I cannot answer"}]}
        )  # fmt: skip
        source = {
            "type": "completions",
            "model": BASE,
            "source": {"type": "file_id", "id": file_id},
            "input_messages": {"type": "template", "template": [{"role": "user", "content": "{{item.question}}"}]},
        }
        doomed = evals.create_run(record["id"], {"data_source": source})
        assert evals.cancel_run(record["id"], doomed["id"])["status"] == "canceled"
        assert evals.cancel_run(record["id"], doomed["id"])["status"] == "canceled", "a repeated cancel is success"
        run = evals.create_run(record["id"], {"data_source": source})
        manual_account.emulator.advance(QUEUED_AND_RUN)
        done = evals.get_run(record["id"], run["id"])
        assert done["status"] == "completed"
        assert overall_rate(done["result_counts"]) == 1.0, "the base model's non-answer is what this grader wants"
        assert pass_rates(done, ["exact"]) == {"exact": 1.0}
        assert len(evals.output_items(record["id"], run["id"])) == 4
        assert evals.output_items(record["id"], run["id"], status="fail") == []
        assert [r["id"] for r in evals.list_runs(record["id"])] == [doomed["id"], run["id"]]
        evals.delete_run(record["id"], doomed["id"])
        with pytest.raises(NotFoundError):
            evals.get_run(record["id"], doomed["id"])
        assert record["id"] in [e["id"] for e in evals.list_evals()]
        evals.delete_eval(record["id"])
        with pytest.raises(NotFoundError):
            evals.get_eval(record["id"])
    finally:
        client.close()
