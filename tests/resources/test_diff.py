"""Diff rules of the resources, called directly: what replaces, what updates in place, what is a no-op."""

from __future__ import annotations

import pulumi

from pulumi_aoai_finetuning.resources import FineTuningJobProvider, TrainingFileProvider

JOB_OLDS = {
    "endpoint": "https://a/",
    "model": "m",
    "training_file": "file-1",
    "suffix": "s",
    "hyperparameters": {"n_epochs": 3},
    "job_id": "ftjob-1",
    "status": "succeeded",
    "__provider": "old-blob",
}


def test_identical_inputs_are_no_change_even_if_provider_blob_differs() -> None:
    """Only our keys count: a different ``__provider`` or a float-for-int is not a change."""
    news = {**JOB_OLDS, "hyperparameters": {"n_epochs": 3.0}, "__provider": "new-blob"}
    result = FineTuningJobProvider().diff("ftjob-1", JOB_OLDS, news)
    assert result.changes is False
    assert result.replaces == []


def test_training_inputs_replace_the_job() -> None:
    """Changing what is trained is a new job."""
    result = FineTuningJobProvider().diff("ftjob-1", JOB_OLDS, {**JOB_OLDS, "hyperparameters": {"n_epochs": 4}})
    assert result.changes is True
    assert result.replaces == ["hyperparameters"]


def test_pause_is_an_update_not_a_replace() -> None:
    """``paused`` changes the job in place."""
    result = FineTuningJobProvider().diff("ftjob-1", JOB_OLDS, {**JOB_OLDS, "paused": True})
    assert result.changes is True
    assert result.replaces == []


def test_unknown_replace_key_is_a_replace() -> None:
    """A training file not known yet (preview) may change: report a replace."""
    result = FineTuningJobProvider().diff("ftjob-1", JOB_OLDS, {**JOB_OLDS, "training_file": pulumi.output.Unknown()})
    assert result.replaces == ["training_file"]


def test_file_content_replaces_but_moving_it_does_not() -> None:
    """A new hash replaces the file; the same content at another path only updates the recorded path."""
    olds = {
        "endpoint": "https://a/",
        "path": "a/train.jsonl",
        "sha256": "1" * 64,
        "remote_filename": "train.1.jsonl",
        "purpose": "fine-tune",
    }
    provider = TrainingFileProvider()
    assert provider.diff("f", olds, {**olds, "sha256": "2" * 64}).replaces == ["sha256"]
    moved = provider.diff("f", olds, {**olds, "path": "b/train.jsonl"})
    assert moved.changes is True
    assert moved.replaces == []
