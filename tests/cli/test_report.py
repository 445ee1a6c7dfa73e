"""``aoai-ft report``: the right final numbers, a PNG whose pixels hold both series of each chart, an HTML report."""

from __future__ import annotations

import base64
import io
import re
import subprocess
from collections.abc import Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread
from rich.console import Console

from pulumi_aoai_finetuning.cli import charts
from pulumi_aoai_finetuning.cli.main import main
from pulumi_aoai_finetuning.client import final_metrics
from pulumi_aoai_finetuning.testing import EmulatedAccount

from .conftest import WIDTH, cli_env, client_for, run_cli, start_job

# A drawn series leaves thousands of pixels of its colour; a legend swatch alone leaves well under this.
SERIES_MIN_PIXELS = 400
NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


@pytest.fixture(scope="module")
def report_run(
    finished_job: tuple[EmulatedAccount, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path, list[dict[str, str]], list[dict[str, Any]]]:
    """``aoai-ft report --out --html`` run once on the finished job, with the job's results.csv rows."""
    account, job_id = finished_job
    folder = tmp_path_factory.mktemp("report")
    done = run_cli(
        "report",
        job_id,
        "--endpoint",
        account.endpoint,
        "--out",
        "charts/curves.png",
        "--html",
        "report.html",
        env=cli_env(account),
        cwd=folder,
    )
    with client_for(account) as client:
        job = client.get_job(job_id)
        rows = client.results(job["result_files"][0])
        checkpoints = client.job_checkpoints(job_id)
    return done, folder, rows, checkpoints


def colour_pixels(image: np.ndarray[Any, Any], colour: str, tolerance: float = 0.06) -> int:
    """How many pixels of ``image`` (RGB(A) floats) are within ``tolerance`` of ``colour`` on every channel."""
    target = np.array(to_rgb(colour))
    return int((np.abs(image[:, :, :3] - target) <= tolerance).all(axis=2).sum())


def halves(image: np.ndarray[Any, Any]) -> Sequence[np.ndarray[Any, Any]]:
    """The two charts: the loss on the left half of the figure, the accuracy on the right."""
    middle = image.shape[1] // 2
    return image[:, :middle], image[:, middle:]


def test_report_png_shows_two_coloured_series_per_chart(report_run: Any) -> None:
    """Decoded, each half of the PNG (loss, accuracy) has many pixels of both the training and validation colours."""
    done, folder, _, _ = report_run
    assert done.returncode == 0, done.stdout + done.stderr
    image = imread(folder / "charts" / "curves.png")
    assert image.shape[:2] == (charts.FIGSIZE[1] * charts.DPI, charts.FIGSIZE[0] * charts.DPI)
    assert charts.TRAIN_COLOR != charts.VALID_COLOR
    for chart in halves(image):
        assert colour_pixels(chart, charts.TRAIN_COLOR) > SERIES_MIN_PIXELS
        assert colour_pixels(chart, charts.VALID_COLOR) > SERIES_MIN_PIXELS


def test_pixel_count_tells_a_missing_series(tmp_path: Path) -> None:
    """The pixel check can fail: results without validation columns leave (almost) no validation colour."""
    rows = [
        {"step": str(s), "train_loss": str(2 / s), "train_mean_token_accuracy": str(1 - 1 / (s + 1))}
        for s in range(1, 50)
    ]
    charts.draw(rows, [25, 49], str(tmp_path / "train-only.png"), "training only")
    for chart in halves(imread(tmp_path / "train-only.png")):
        assert colour_pixels(chart, charts.TRAIN_COLOR) > SERIES_MIN_PIXELS
        assert colour_pixels(chart, charts.VALID_COLOR) < SERIES_MIN_PIXELS // 10


def test_printed_final_numbers_are_final_metrics_of_results_csv(report_run: Any) -> None:
    """Each metric row prints exactly the value ``final_metrics`` takes from the job's results.csv."""
    done, _, rows, _ = report_run
    final = final_metrics(rows)
    printed = {
        m[1]: float(m[2]) for m in re.finditer(rf"^\s+([a-z_]+)\s+({NUMBER})\s+{NUMBER}\s+\d+\s*$", done.stdout, re.M)
    }
    assert printed == {k: v for k, v in final.items() if k not in ("step", "valid_mean_token_accuracy")}
    assert {"train_loss", "valid_loss", "full_valid_loss", "full_valid_mean_token_accuracy"} <= printed.keys()


def test_printed_best_values_and_checkpoints(report_run: Any) -> None:
    """The best loss is the lowest in results.csv, at its step; every checkpoint's step and model name is listed."""
    done, _, rows, checkpoints = report_run
    losses = [(float(r["train_loss"]), int(r["step"])) for r in rows]
    best, step = min(losses)
    match = re.search(rf"^\s+train_loss\s+{NUMBER}\s+({NUMBER})\s+(\d+)\s*$", done.stdout, re.M)
    assert match is not None, done.stdout
    assert (float(match[1]), int(match[2])) == (best, step)
    folded = re.sub(r"\s+", "", done.stdout)
    for checkpoint in checkpoints:
        assert checkpoint["fine_tuned_model_checkpoint"] in folded


def test_html_report_references_the_png_and_holds_the_tables(report_run: Any) -> None:
    """The HTML links the PNG by a path relative to itself, and carries the metrics and checkpoints tables."""
    done, folder, rows, checkpoints = report_run
    html = (folder / "report.html").read_text()
    assert '<img src="charts/curves.png"' in html
    assert (folder / "charts" / "curves.png").is_file(), "the missing charts/ folder is created"
    assert f"<td>train_loss</td><td>{final_metrics(rows)['train_loss']:.6g}</td>" in html
    for checkpoint in checkpoints:
        assert f"<code>{checkpoint['fine_tuned_model_checkpoint']}</code>" in html
    assert "report: report.html" in done.stdout


def test_without_out_a_sparkline_and_the_html_embeds_the_png(
    finished_job: tuple[EmulatedAccount, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ``--out``: a sparkline of the training loss in the terminal, and the HTML holds the PNG as base64."""
    account, job_id = finished_job
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", account.key)
    buffer = StringIO()
    console = Console(file=buffer, width=WIDTH, color_system=None)
    status = main(
        ["report", job_id, "--endpoint", account.endpoint, "--html", str(tmp_path / "r.html")], console=console
    )
    assert status == 0
    spark = re.search(rf"^train loss  ({NUMBER}) ([▁▂▃▄▅▆▇█]+) ({NUMBER})  \(steps 1-36\)$", buffer.getvalue(), re.M)
    assert spark is not None, buffer.getvalue()
    # The loss falls from the top of its range to the bottom.
    assert spark[2][0] == "█"
    assert spark[2][-1] == "▁"
    embedded = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', (tmp_path / "r.html").read_text())
    assert embedded is not None
    image = imread(io.BytesIO(base64.b64decode(embedded[1])), format="png")
    for chart in halves(image):
        assert colour_pixels(chart, charts.VALID_COLOR) > SERIES_MIN_PIXELS


def test_report_of_a_job_still_running_says_when_results_exist(slow_account: EmulatedAccount, tmp_path: Path) -> None:
    """A job without results.csv yet: exit 2 and a message pointing at ``watch``, no traceback."""
    job_id = start_job(slow_account, tmp_path)
    done = run_cli("report", job_id, "--endpoint", slow_account.endpoint, env=cli_env(slow_account))
    assert done.returncode == 2
    assert f"aoai-ft report: job {job_id} has no results.csv yet (status " in done.stderr
    assert f"aoai-ft watch {job_id} --endpoint {slow_account.endpoint}" in done.stderr
    assert "Traceback" not in done.stderr


def test_sparkline_spans_the_range_in_eight_levels() -> None:
    """The lowest value draws the lowest block and the highest the full block; long series are averaged down."""
    assert charts.sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert charts.sparkline([3, 3, 3]) == "▅▅▅"
    assert charts.sparkline(list(range(100)), width=10) == "▁▂▃▃▄▅▆▆▇█"
    assert charts.sparkline([]) == ""
