"""Outputs declared as SDK getters: the same outputs and conversions, their types resolved once per class."""

from __future__ import annotations

import inspect
from typing import Any

import pulumi
import pytest
from pulumi._types import resource_types

from pulumi_aoai_finetuning import CheckpointCopy, Deployment, Evaluation, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.testing.thread_loop import ClosingMockMonitor

# The runtime annotations each class declared before its outputs became getters, as the SDK resolved them.
DECLARED = {
    TrainingFile: {
        "endpoint": str, "path": str, "content_url": str, "filename": str, "purpose": str, "file_id": str,
        "bytes": int, "sha256": str, "status": str, "status_details": str, "examples": int, "format": str,
        "created_at": int, "tokens": int, "max_example_tokens": int, "token_count": dict[str, Any],
    },
    FineTuningJob: {
        "endpoint": str, "model": str, "job_id": str, "status": str, "fine_tuned_model": str, "trained_tokens": int,
        "result_files": list[str], "checkpoints": list[dict[str, Any]], "metrics": dict[str, float],
        "error": dict[str, Any], "created_at": int, "finished_at": int, "estimated_trained_tokens": int,
        "estimated_training_cost": float, "estimate": str, "estimate_error": float, "selected_model": str,
        "selected_checkpoint": str,
    },
    Deployment: {
        "account_id": str, "deployment_name": str, "model": str, "sku_name": str, "capacity": int,
        "deployment_id": str, "provisioning_state": str, "rate_limits": list[dict[str, Any]], "hourly_cost": float,
        "hourly_cost_rule": str,
    },
}  # fmt: skip


@pytest.mark.parametrize("cls", [*DECLARED, CheckpointCopy, Evaluation], ids=lambda c: c.__name__)
def test_no_annotation_is_left_for_the_sdk_to_resolve_per_resource(cls: type) -> None:
    """The SDK resolves a class's own annotations for every resource it registers; none are left."""
    assert inspect.get_annotations(cls) == {}


@pytest.mark.parametrize("cls", list(DECLARED), ids=lambda c: c.__name__)
def test_the_sdk_sees_the_declared_output_types(cls: type) -> None:
    """The types the SDK converts outputs by are exactly those the class declares."""
    assert resource_types(cls) == DECLARED[cls]


class _Engine(pulumi.runtime.Mocks):
    """An engine that answers a create with JSON-ish numbers (a float for every int), as a state file may."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = {**args.inputs, "file_id": "file-1", "bytes": 1234.0, "created_at": 1700000000.0, "examples": 12.0}
        return "file-1", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


@pytest.fixture
def engine() -> Any:
    mocks = _Engine()
    # The SDK's own MockMonitor would leave an unclosed event loop in each thread that registers a resource.
    pulumi.runtime.set_mocks(mocks, preview=False, monitor=ClosingMockMonitor(mocks))
    yield
    pulumi.runtime.settings.reset_options()  # type: ignore[no-untyped-call]


@pulumi.runtime.test
def test_outputs_are_outputs_converted_by_their_declared_types(engine: Any) -> None:
    """A getter yields the resource's Output; an int output given as a float arrives as an int."""
    res = TrainingFile("t", endpoint="https://a.openai.azure.com/", path="train.jsonl")
    assert isinstance(res.bytes, pulumi.Output)
    assert isinstance(res.endpoint, pulumi.Output)

    def seen(values: list[Any]) -> None:
        file_id, size, created, examples, endpoint, purpose = values
        assert (file_id, endpoint, purpose) == ("file-1", "https://a.openai.azure.com/", None)
        assert (size, created, examples) == (1234, 1700000000, 12)
        assert all(type(v) is int for v in (size, created, examples))

    return pulumi.Output.all(  # type: ignore[no-any-return]
        res.file_id, res.bytes, res.created_at, res.examples, res.endpoint, res.purpose
    ).apply(seen)
