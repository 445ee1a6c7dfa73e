"""``aoai-ft validate``: the verdicts of TrainingFile's check, standalone, on the project's dataset corpus."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from pulumi_aoai_finetuning.cli.main import main
from pulumi_aoai_finetuning.datasets import validate_file
from pulumi_aoai_finetuning.resources.training_file import TrainingFileProvider

from .conftest import WIDTH, cli_env, run_cli

DATA = Path(__file__).parent.parent / "data"
BAD: dict[str, Any] = json.loads((DATA / "bad" / "EXPECTED.json").read_text())
GOOD: dict[str, Any] = json.loads((DATA / "good" / "EXPECTED.json").read_text())
CORPUS = [DATA / "bad" / name for name in sorted(BAD)] + [DATA / "good" / name for name in sorted(GOOD)]
OPTION_FLAGS = {"max_bytes": "--max-bytes", "min_examples": "--min-examples"}


def options_of(path: Path) -> dict[str, int]:
    """The validator options a corpus file is checked with (EXPECTED.json gives some a smaller limit)."""
    expected = (BAD if path.parent.name == "bad" else GOOD)[path.name]
    return dict(expected.get("options", {}))


def flags_of(path: Path) -> list[str]:
    """Those options as ``aoai-ft validate`` flags."""
    return [arg for key, value in options_of(path).items() for arg in (OPTION_FLAGS[key], str(value))]


def run_in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``main(argv)`` with a fixed-width console; returns the exit status and everything printed."""
    buffer = StringIO()
    status = main(argv, console=Console(file=buffer, width=WIDTH, color_system=None))
    return status, buffer.getvalue() + capsys.readouterr().out


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_text_verdict_and_exit_status_are_the_validators(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every error line is the validator's ``file:line: rule: message (fix)``, nothing else is; exit 1 iff any."""
    expected = validate_file(path, **options_of(path))
    status, out = run_in_process(["validate", str(path), *flags_of(path)], capsys)
    assert status == (0 if expected.ok else 1)
    error_lines = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert error_lines == [str(e) for e in expected.errors]
    summary = out.splitlines()[0]
    assert summary.startswith(f"{path}  {'ok' if expected.ok else '1 error'}")
    assert (f"sha256 {expected.sha256}" in summary) == bool(expected.sha256)
    if path.parent.name == "bad":
        assert [(e.rule, e.line) for e in expected.errors] == [(BAD[path.name]["rule"], BAD[path.name]["line"])]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_json_report_is_the_validators_report(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--json`` prints the validator's report (format, examples, tokens, size, sha256, errors) as JSON."""
    status, out = run_in_process(["validate", "--json", str(path), *flags_of(path)], capsys)
    document = json.loads(out)
    expected = validate_file(path, **options_of(path))
    assert document == {"ok": expected.ok, "files": [{"ok": expected.ok, **expected.to_json()}]}
    assert status == (0 if expected.ok else 1)


@pytest.mark.parametrize("path", [p for p in CORPUS if not options_of(p)], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_errors_are_the_ones_training_file_check_reports(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI lists exactly the failures TrainingFile's ``check`` gives ``pulumi preview`` for the same file."""
    checked = TrainingFileProvider().check({}, {"endpoint": "https://acct.openai.azure.com/", "path": str(path)})
    status, out = run_in_process(["validate", str(path)], capsys)
    error_lines = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert error_lines == [failure.reason for failure in checked.failures]
    assert status == (1 if checked.failures else 0)


def test_console_script_over_the_whole_corpus_exits_1_and_prints_json(tmp_path: Path) -> None:
    """The installed ``aoai-ft`` checks many files in one run: JSON that parses, one report each, exit 1."""
    files = [str(p) for p in CORPUS if not options_of(p)]
    done = run_cli("validate", "--json", *files, env=cli_env(AOAI_FT_CACHE_DIR=str(tmp_path / "cache")))
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is False
    assert [f["path"] for f in document["files"]] == files
    assert {f["path"]: f["ok"] for f in document["files"]} == {f: not f.startswith(str(DATA / "bad")) for f in files}


def test_console_script_exits_0_when_every_file_is_good(tmp_path: Path) -> None:
    """Good files only: exit 0, one ``ok`` line per file and a summary (what a pre-commit hook relies on)."""
    files = [str(DATA / "good" / name) for name in sorted(GOOD)]
    done = run_cli("validate", *files, env=cli_env(AOAI_FT_CACHE_DIR=str(tmp_path / "cache")))
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split("  ")[:2] for line in done.stdout.splitlines()[:-1]] == [[f, "ok"] for f in files]
    assert done.stdout.splitlines()[-1] == f"{len(files)} of {len(files)} files ok"


def test_a_missing_file_is_an_error_not_a_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is reported as the validator's file.not-found error, exit 1."""
    missing = tmp_path / "nope.jsonl"
    status, out = run_in_process(["validate", str(missing)], capsys)
    assert status == 1
    assert f"{missing}: file.not-found: no such file" in out
