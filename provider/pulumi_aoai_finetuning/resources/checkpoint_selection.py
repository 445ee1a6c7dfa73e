"""``select_checkpoint_by``: the checkpoint of a finished job to export as ``selected_model``, best by one metric.

Azure keeps a job's last checkpoints (one per epoch for the final three epochs), each with the metrics the job
reported at its step (``train_loss``, ``valid_loss``, ``full_valid_loss``...). A job that overfits has its best
validation loss before the end; this picks that checkpoint, whose ``fine_tuned_model_checkpoint`` deploys like
the final model.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import DiffResult

from ..client import OperationFailedError
from ..inputs import Failures, differs, is_unknown

PROPERTY = "select_checkpoint_by"
# The metrics of a checkpoint, as Azure's checkpoints list names them (the job's metrics events use the same).
METRICS = (
    "train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy", "full_valid_loss",
    "full_valid_mean_token_accuracy",
)  # fmt: skip
# results.csv (and its documentation) spell the step validation accuracy ``validation_mean_token_accuracy``.
SPELLINGS = {"validation_mean_token_accuracy": "valid_mean_token_accuracy"}
MODES = ("min", "max")
OUTPUTS = ("selected_model", "selected_checkpoint")


def _metric(name: str) -> str:
    return SPELLINGS.get(name, name)


def default_mode(metric: str) -> str:
    """A loss is best low, an accuracy high."""
    return "min" if metric.endswith("_loss") else "max"


def selection(value: Any) -> tuple[str, str] | None:
    """The (metric, mode) a checked ``select_checkpoint_by`` asks for: a metric name or ``{metric, mode}``."""
    if value is None:
        return None
    if isinstance(value, str):
        return _metric(value), default_mode(_metric(value))
    metric = _metric(str(value["metric"]))
    return metric, str(value.get("mode") or default_mode(metric))


def check_selection(failures: Failures, news: dict[str, Any]) -> None:
    """Refuse an unknown metric or mode, and a validation metric for a job without a ``validation_file``."""
    value = news.get(PROPERTY)
    if value is None or is_unknown(value):
        return
    allowed = ", ".join((*METRICS, *SPELLINGS))
    if isinstance(value, dict):
        unknown_keys = sorted(set(value) - {"metric", "mode"})
        if unknown_keys:
            failures.add(
                f"{PROPERTY}.{unknown_keys[0]}", f"{PROPERTY} takes only 'metric' and 'mode', not {unknown_keys}"
            )
            return
        metric, mode = value.get("metric"), value.get("mode")
        if mode is not None and mode not in MODES:
            failures.add(f"{PROPERTY}.mode", f"{PROPERTY}.mode must be 'min' or 'max', not {mode!r}")
        prop = f"{PROPERTY}.metric"
    elif isinstance(value, str):
        metric, prop = value, PROPERTY
    else:
        failures.add(PROPERTY, f"{PROPERTY} must be a metric name or a map such as {{'metric': 'full_valid_loss', "
                               f"'mode': 'min'}}, not {value!r}")  # fmt: skip
        return
    if not isinstance(metric, str) or _metric(metric) not in METRICS:
        failures.add(prop, f"{prop} must be a checkpoint metric, one of {allowed}; not {metric!r}")
    elif "valid" in metric and news.get("validation_file") is None:
        failures.add(
            prop,
            f"{prop} {metric!r} is measured on the validation set: give the job a validation_file, "
            "or select by train_loss or train_mean_token_accuracy",
        )


def select(checkpoints: list[dict[str, Any]] | None, value: Any, job_id: str) -> dict[str, Any]:
    """``selected_model`` and ``selected_checkpoint`` from a succeeded job's checkpoints (newest first).

    Without a selection, the final model (the last step): a program can deploy ``selected_model`` either way.
    Ties go to the later step: with nothing to choose between them, the model trained longer.
    """
    if not checkpoints:
        return dict.fromkeys(OUTPUTS)
    wanted = selection(value)
    if wanted is None:
        final = max(checkpoints, key=lambda c: int(c.get("step") or 0))
        return {"selected_model": final.get("model"), "selected_checkpoint": final.get("id")}
    metric, mode = wanted
    scored = [(float(c["metrics"][metric]), int(c.get("step") or 0), c) for c in checkpoints
              if isinstance(c.get("metrics"), dict) and c["metrics"].get(metric) is not None]  # fmt: skip
    if not scored:
        steps = ", ".join(str(c.get("step")) for c in checkpoints)
        raise OperationFailedError(
            f"{PROPERTY}: no checkpoint of job {job_id} (steps {steps}) reports {metric}; "
            f"select by one of the metrics its checkpoints carry"
        )
    sign = 1.0 if mode == "min" else -1.0
    _, _, best = min(scored, key=lambda s: (sign * s[0], -s[1]))
    return {"selected_model": best.get("model"), "selected_checkpoint": best.get("id")}


def judged(out: dict[str, Any], value: Any) -> tuple[dict[str, float], str]:
    """The metrics a ``quality_gate`` judges, and the model they are of: the model that is exported for deploying.

    With a selection, that is the selected checkpoint (its metrics at its step), else the final model (the final
    values of results.csv).
    """
    if selection(value) is None or not out.get("selected_checkpoint"):
        return out.get("metrics") or {}, f"{out.get('fine_tuned_model')}"
    chosen = next(c for c in out.get("checkpoints") or [] if c.get("id") == out["selected_checkpoint"])
    metrics = {SPELLINGS.get(k, k): float(v) for k, v in (chosen.get("metrics") or {}).items() if v is not None}
    return metrics, f"{out['selected_model']} (the checkpoint select_checkpoint_by chose)"


def unsettled(result: DiffResult, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
    """``result`` without the selection's outputs among its stables when ``select_checkpoint_by`` changed.

    A succeeded job keeps everything it produced; only a new selection moves ``selected_model``, and a preview
    must then show it unknown so that a Deployment of it is planned to change.
    """
    if not result.stables or not differs(olds.get(PROPERTY), news.get(PROPERTY)):
        return result
    stables = [key for key in result.stables if key not in OUTPUTS]
    return DiffResult(
        changes=result.changes,
        replaces=result.replaces,
        stables=stables,
        delete_before_replace=result.delete_before_replace,
    )
