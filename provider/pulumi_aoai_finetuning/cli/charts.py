"""Training curves from ``results.csv``: the series, a terminal sparkline, and a PNG drawn with matplotlib."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO

# Blue and orange: the first pair of matplotlib's palette, told apart by most colour-blind readers too.
TRAIN_COLOR = "#1f77b4"
VALID_COLOR = "#ff7f0e"
CHECKPOINT_COLOR = "#7f7f7f"
LINE_WIDTH = 2.0
DPI = 100
FIGSIZE = (12.0, 4.5)  # two charts side by side: loss on the left, mean token accuracy on the right
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Series:
    """One column of ``results.csv`` over the steps where it has a value."""

    column: str
    steps: tuple[float, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class Chart:
    """One chart: its title and its training and validation series (either may be missing)."""

    title: str
    train: Series | None
    valid: Series | None
    full_valid: Series | None


# Which columns feed each chart, best first. Azure names the per-step validation accuracy
# ``validation_mean_token_accuracy``; the full-validation columns are filled at epoch ends only.
CHARTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str], ...] = (
    ("Loss", ("train_loss",), ("valid_loss",), "full_valid_loss"),
    (
        "Mean token accuracy",
        ("train_mean_token_accuracy",),
        ("validation_mean_token_accuracy", "valid_mean_token_accuracy"),
        "full_valid_mean_token_accuracy",
    ),
)


def series(rows: Sequence[dict[str, str]], column: str) -> Series | None:
    """The numeric values of ``column`` by step; ``None`` when the column has none."""
    steps: list[float] = []
    values: list[float] = []
    for index, row in enumerate(rows, start=1):
        raw = row.get(column)
        if not raw:
            continue
        try:
            value = float(raw)
            step = float(row.get("step") or index)
        except ValueError:
            continue
        steps.append(step)
        values.append(value)
    return Series(column, tuple(steps), tuple(values)) if values else None


def first_series(rows: Sequence[dict[str, str]], columns: Iterable[str]) -> Series | None:
    """The first of ``columns`` that has values."""
    for column in columns:
        found = series(rows, column)
        if found is not None:
            return found
    return None


def charts(rows: Sequence[dict[str, str]]) -> list[Chart]:
    """The loss and accuracy charts of a job's results."""
    return [
        Chart(title, first_series(rows, train), first_series(rows, valid), series(rows, full))
        for title, train, valid, full in CHARTS
    ]


def sparkline(values: Sequence[float], width: int = 60) -> str:
    """``values`` as a line of block characters, averaged into at most ``width`` buckets."""
    if not values or width < 1:
        return ""
    buckets = min(width, len(values))
    means = []
    for b in range(buckets):
        chunk = values[b * len(values) // buckets : (b + 1) * len(values) // buckets]
        means.append(sum(chunk) / len(chunk))
    low, high = min(means), max(means)
    if high == low:
        return SPARK[len(SPARK) // 2] * buckets
    top = len(SPARK) - 1
    return "".join(SPARK[round((m - low) / (high - low) * top)] for m in means)


def draw(
    rows: Sequence[dict[str, str]], checkpoint_steps: Iterable[float], target: str | IO[bytes], title: str
) -> None:
    """Draw the loss and mean token accuracy charts side by side to a PNG (a path or a binary file)."""
    # Imported here: matplotlib takes about half a second to import and only `report` draws.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # no display needed: CI machines and servers have none
    from matplotlib.figure import Figure  # noqa: PLC0415 - a bare Figure keeps no pyplot global state

    marks = sorted(set(checkpoint_steps))
    figure = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    figure.suptitle(title)
    for axes, chart in zip(figure.subplots(1, 2), charts(rows), strict=True):
        axes.set_title(chart.title)
        axes.set_xlabel("step")
        axes.grid(visible=True, color="#e5e5e5", linewidth=0.8)
        for found, color, label in ((chart.train, TRAIN_COLOR, "training"), (chart.valid, VALID_COLOR, "validation")):
            if found is not None:
                axes.plot(found.steps, found.values, color=color, linewidth=LINE_WIDTH, label=label)
        if chart.full_valid is not None:
            axes.plot(
                chart.full_valid.steps,
                chart.full_valid.values,
                linestyle="none",
                marker="o",
                markersize=5,
                color=VALID_COLOR,
                markeredgecolor="black",
                label="full validation",
            )
        for n, step in enumerate(marks):
            axes.axvline(
                step, color=CHECKPOINT_COLOR, linestyle=":", linewidth=1.2, label="checkpoint" if n == 0 else None
            )
        if chart.train is None and chart.valid is None:
            axes.text(0.5, 0.5, "no data in results.csv", ha="center", va="center", transform=axes.transAxes)
        else:
            axes.legend(loc="best", fontsize="small")
    figure.savefig(target, format="png", dpi=DPI)
