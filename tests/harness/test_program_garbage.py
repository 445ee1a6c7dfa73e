"""The harness collects a program's garbage only after a run that failed, and then all of it, at once."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from pulumi_aoai_finetuning.testing.program import HarnessError, ProgramResult, run_program

# Nothing here reaches Azure or the emulator: the programs hold no Azure resource; the endpoint is only checked.
CONFIG = {"azure-openai:armEndpoint": "http://127.0.0.1:9"}


def _program(root: Path, name: str, body: str) -> Path:
    """A one-file Python Pulumi program named ``name``."""
    directory = root / name
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
    (directory / "__main__.py").write_text("import pulumi\n" + body)
    return directory


def _run(root: Path, name: str, body: str) -> ProgramResult:
    """``up`` of a program that may read the stack ``dev`` (its state in ``root/dev.json``)."""
    return run_program(
        "up",
        _program(root, name, body),
        root / f"{name}.json",
        config=CONFIG,
        stack_references={"dev": root / "dev.json"},
    )


@pytest.fixture
def dev(tmp_path: Path) -> Path:
    """A deployed stack with one output, ``a``."""
    run_program("up", _program(tmp_path, "dev", "pulumi.export('a', 'x')\n"), tmp_path / "dev.json", config=CONFIG)
    return tmp_path


@pytest.fixture
def collections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each full collection asked for from now on (the real one still runs)."""
    asked: list[int] = []
    collect: Callable[..., int] = gc.collect

    def counted(*args: int) -> int:
        asked.append(1)
        return collect(*args)

    monkeypatch.setattr(gc, "collect", counted)
    return asked


def _unawaited_now() -> list[str]:
    """The 'never awaited' warnings a full collection raises at this moment."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    return [str(w.message) for w in caught if "never awaited" in str(w.message)]


def test_a_successful_run_does_not_collect(dev: Path, collections: list[int]) -> None:
    """A run that failed nowhere leaves no unawaited outputs, so it costs no full collection."""
    result = _run(dev, "fine", "pulumi.export('b', pulumi.StackReference('organization/dev/dev').get_output('a'))\n")
    assert result.outputs == {"b": "x"}
    assert collections == []


def test_a_failed_require_output_is_collected_within_its_run(dev: Path, collections: list[int]) -> None:
    """A missing stack output fails the program; what it left unawaited is collected before the run returns.

    The failure is still held (by ``pytest.raises``) when the test collects: nothing of the run is left for it.
    """
    body = (
        "ref = pulumi.StackReference('organization/dev/dev')\n"
        "pulumi.export('m', ref.require_output('missing'))\n"
        "later = ref.require_output('missing').apply(lambda v: v)\n"
    )
    with pytest.raises(HarnessError, match="KeyError: 'missing'") as failure:
        _run(dev, "broken", body)
    assert collections != []
    assert _unawaited_now() == [], failure.value


def test_an_error_logged_without_raising_is_a_failed_run(dev: Path, collections: list[int]) -> None:
    """``pulumi.log.error`` fails nothing in the SDK, but the run failed: it is collected (preview, then update)."""
    result = _run(dev, "logged", "pulumi.log.error('the config is wrong')\npulumi.export('b', 'y')\n")
    assert result.outputs == {"b": "y"}
    assert collections == [1, 1]


def test_a_failed_run_leaves_nothing_for_the_next_run_or_the_collector(dev: Path) -> None:
    """A registration that fails on a missing stack output (the promotion example's prod without dev's model).

    The program's other registrations wait on it and its outputs are never awaited; once the failure is
    released (as a test ends) and the next run is done, a collection finds nothing left of the failed run.
    """
    body = (
        "from pulumi_aoai_finetuning import TrainingFile, Deployment\n"
        "ref = pulumi.StackReference('organization/dev/dev')\n"
        "model = ref.require_output('fine_tuned_model')\n"
        "f = TrainingFile('t', endpoint=model.apply(lambda m: 'https://a.openai.azure.com/'), path='train.jsonl')\n"
        "d = Deployment('d', account_id=model, deployment_name='x', model=f.file_id, opts=pulumi.ResourceOptions("
        "depends_on=[f]))\n"
        "pulumi.export('deployed_model', d.model)\n"
        "pulumi.export('file', f.file_id)\n"
    )
    with pytest.raises(HarnessError, match="fine_tuned_model") as failure:
        _run(dev, "prod", body)
    message = str(failure.value)
    del failure  # as a test ends: what the failure held becomes garbage
    assert _run(dev, "fine", "pulumi.export('b', 'y')\n").outputs == {"b": "y"}
    assert _unawaited_now() == [], message
