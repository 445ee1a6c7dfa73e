"""The training curve of an emulated job and its ``results.csv``: plausible, seeded, loss falls and accuracy rises."""

from __future__ import annotations

import math
import random

COLUMNS = (
    "step",
    "train_loss",
    "train_mean_token_accuracy",
    "valid_loss",
    "validation_mean_token_accuracy",
    "full_valid_loss",
    "full_valid_mean_token_accuracy",
)
MAX_ROWS = 2000
# With three epochs, a rise of 0.15 by the end outweighs the last epoch's fall of the curve (about 0.08).
OVERFIT_RATE = 0.6


def overfitting(seed: int, progress: float) -> float:
    """What overfitting adds to the validation loss: nothing, or for a seed that is a multiple of 3 a rise late.

    A job that overfits has its best validation loss at an earlier checkpoint than the final one (with three
    epochs, the second epoch's), which is what choosing a checkpoint by metric is for.
    """
    return OVERFIT_RATE * max(0.0, progress - 0.5) ** 2 if seed % 3 == 0 else 0.0


def metrics_at(seed: int, step: int, total_steps: int, with_validation: bool) -> dict[str, float]:
    """The metrics of a job at ``step``: an exponential decay with seeded noise (validation may overfit)."""
    rng = random.Random(seed * 1_000_003 + step)
    progress = step / max(total_steps, 1)
    floor = 0.15 + (seed % 7) * 0.02
    overfit = overfitting(seed, progress)
    train_loss = floor + 1.6 * math.exp(-4.0 * progress) + rng.uniform(-0.03, 0.03)
    train_acc = min(0.99, 1.0 - train_loss / 2.2 + rng.uniform(-0.01, 0.01))
    out = {
        "step": float(step),
        "train_loss": round(max(train_loss, 0.01), 5),
        "train_mean_token_accuracy": round(max(train_acc, 0.0), 5),
    }
    if with_validation:
        valid_loss = train_loss + 0.05 + rng.uniform(0.0, 0.04) + overfit
        out["valid_loss"] = round(valid_loss, 5)
        out["valid_mean_token_accuracy"] = round(max(0.0, train_acc - 0.02 - overfit / 2.2), 5)
        out["full_valid_loss"] = round(floor + 0.06 + 1.6 * math.exp(-4.0 * progress) + overfit, 5)
        out["full_valid_mean_token_accuracy"] = round(max(0.0, 1.0 - out["full_valid_loss"] / 2.2), 5)
    return out


def steps_to_report(total_steps: int) -> list[int]:
    """The steps that have a row: every step, or an even sample ending on the last one for long jobs."""
    if total_steps <= MAX_ROWS:
        return list(range(1, total_steps + 1))
    stride = total_steps / MAX_ROWS
    steps = sorted({max(1, round(stride * i)) for i in range(1, MAX_ROWS + 1)})
    if steps[-1] != total_steps:
        steps.append(total_steps)
    return steps


def results_csv(seed: int, total_steps: int, steps_per_epoch: int, with_validation: bool) -> bytes:
    """The ``results.csv`` of a finished job; full-validation columns are filled at epoch ends only."""
    lines = [",".join(COLUMNS)]
    for step in steps_to_report(total_steps):
        m = metrics_at(seed, step, total_steps, with_validation)
        epoch_end = step % max(steps_per_epoch, 1) == 0 or step == total_steps
        row = [str(step), f"{m['train_loss']}", f"{m['train_mean_token_accuracy']}"]
        if with_validation:
            row += [f"{m['valid_loss']}", f"{m['valid_mean_token_accuracy']}"]
            row += [f"{m['full_valid_loss']}", f"{m['full_valid_mean_token_accuracy']}"] if epoch_end else ["", ""]
        else:
            row += ["", "", "", ""]
        lines.append(",".join(row))
    return ("\n".join(lines) + "\n").encode()
