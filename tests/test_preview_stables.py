"""The harness's reading of ``DiffResult.stables``: from the registered provider, and nothing when it cannot say."""

from __future__ import annotations

import pulumi

from pulumi_aoai_finetuning.resources import TrainingFileProvider
from pulumi_aoai_finetuning.testing.pulumi_internals import serialize_provider
from pulumi_aoai_finetuning.testing.stables import preview_update_outputs, update_stables

OLDS = {
    "endpoint": "https://a/",
    "path": "a/train.jsonl",
    "filename": "train.jsonl",
    "sha256": "1" * 64,
    "remote_filename": "train.1111111111111111.jsonl",
    "purpose": "fine-tune",
    "file_id": "file-1",
    "status": "processed",
}


def _news(**changes: object) -> dict[str, object]:
    inputs = {k: v for k, v in OLDS.items() if k not in ("file_id", "status")}
    return {**inputs, **changes, "__provider": serialize_provider(TrainingFileProvider())}


def test_the_registered_provider_names_the_stables_of_an_update() -> None:
    """A moved file: the provider unpickled from ``__provider`` declares its file_id stable."""
    stables = update_stables("file-1", OLDS, _news(path="b/train.jsonl"))
    assert {"file_id", "status", "sha256"} <= stables
    assert "path" not in stables


def test_a_replacement_or_an_unreadable_provider_keeps_nothing() -> None:
    """New content is no in-place update; a blob that does not unpickle declares nothing: all stays unknown."""
    assert update_stables("file-1", OLDS, _news(sha256="2" * 64)) == frozenset()
    assert update_stables("file-1", OLDS, {**_news(path="b/train.jsonl"), "__provider": "bm90IGEgcGlja2xl"}) == set()
    assert update_stables("file-1", OLDS, {k: v for k, v in _news(path="b").items() if k != "__provider"}) == set()


def test_preview_outputs_are_the_inputs_and_the_old_stable_values() -> None:
    """Stable outputs keep their old values; others not among the inputs are absent (unknown to the program)."""
    unknown = pulumi.output.Unknown()  # type: ignore[no-untyped-call]
    checked = {**_news(path="b/train.jsonl"), "filename": unknown}
    outputs = preview_update_outputs(checked, {**OLDS, "__provider": "old"}, frozenset({"file_id", "__provider"}))
    assert outputs["file_id"] == "file-1"
    assert outputs["path"] == "b/train.jsonl"
    assert outputs["filename"] is unknown
    assert outputs["__provider"] == checked["__provider"]
    assert "status" not in outputs
