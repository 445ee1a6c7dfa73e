"""``Evaluation``: a model (and optionally a baseline) graded on a test set with the Evals API, and gated on it."""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from .. import config
from ..client import NotFoundError, OperationFailedError
from ..client.evals import RUN_TERMINAL, EvalsClient, overall_rate, pass_rates
from ..client.waiting import adopt_or_create, poll_until
from ..graders import check_criteria, check_messages, criteria_names, item_fields
from ..inputs import Failures, check_endpoint, check_number, diff, is_unknown, user_inputs
from ._common import Provider, resource_props
from ._getters import outputs_as_getters
from .eval_items import check_test_set
from .shapes import EvaluationGateArgsDict, ResultCountsDict
from .training_file import TrainingFileProvider

INPUTS = (
    "endpoint", "name", "path", "file_id", "testing_criteria", "model", "baseline_model", "gate", "input_messages",
    "timeout_minutes",
)  # fmt: skip
COMPUTED_INPUTS = ("test_set",)
OUTPUTS = (
    "eval_id", "run_id", "baseline_run_id", "test_file_id", "status", "result_counts", "pass_rate", "pass_rates",
    "baseline_result_counts", "baseline_pass_rate", "baseline_pass_rates", "passed",
)  # fmt: skip
REPLACE_ON = ("endpoint", "name", "test_set", "file_id", "testing_criteria", "model", "baseline_model",
              "input_messages")  # fmt: skip
UPDATE_ON = ("gate", "timeout_minutes", "path")
KEPT_BY_UPDATE = tuple(o for o in OUTPUTS if o != "passed")  # an update runs nothing again: it re-reads the runs
GATE_KEYS = ("min_pass_rate", "min_improvement_over_baseline")
MARKER_KEY = "pulumi_evaluation"
ROLE_KEY = "pulumi_role"
DEFAULT_TIMEOUT_MINUTES = 60.0
# Deterministic sampling: the same model on the same test set grades the same on a re-run.
SAMPLING = {"temperature": 0, "seed": 42}
TEST_SET_KEYS = ("sha256", "remote_filename", "filename", "bytes")


def marker(inputs: dict[str, Any], *, with_content: bool = True) -> str:
    """What identifies this evaluation's eval and runs in the account (their metadata): how a re-run adopts them.

    Without ``with_content`` it leaves the test set's content out: that version names the uploaded file, whose
    content-addressed name adds the content's hash itself.
    """
    keys = [k for k in REPLACE_ON if k != "endpoint" and (with_content or k != "test_set")]
    key = {k: inputs.get(k) for k in keys}
    test_set = key.get("test_set")
    if with_content and isinstance(test_set, dict):
        key["test_set"] = test_set.get("sha256")
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]


def input_messages(value: Any) -> dict[str, Any]:
    """The wire form of ``input_messages``: a list of messages is a template, ``item.<field>`` a reference."""
    if isinstance(value, str):
        return {"type": "item_reference", "item_reference": value}
    return {"type": "template", "template": list(value)}


def _check_input_messages(failures: Failures, value: Any) -> None:
    if value is None:
        failures.add(
            "input_messages",
            "input_messages is required: the prompt each test item becomes, e.g. "
            "[{'role': 'user', 'content': '{{item.question}}'}], or 'item.messages' to send an item's own messages",
        )
    elif isinstance(value, str):
        if not value.startswith("item.") or len(value) <= len("item."):
            failures.add(
                "input_messages",
                f"input_messages as a string names the item field holding the messages, such as 'item.messages', "
                f"not {value!r}",
            )
    else:
        check_messages(failures, "input_messages", value)


def _check_gate(failures: Failures, gate: Any, names: list[str], has_baseline: bool) -> None:
    if gate is None or is_unknown(gate):
        return
    if not isinstance(gate, dict):
        failures.add("gate", "gate must be a map such as {'min_pass_rate': 0.9, 'min_improvement_over_baseline': 0.2}")
        return
    for key, value in gate.items():
        if key not in GATE_KEYS:
            failures.add(f"gate.{key}", f"gate.{key}: unknown threshold; use {' or '.join(GATE_KEYS)}")
            continue
        if key == "min_improvement_over_baseline" and not has_baseline:
            failures.add(
                f"gate.{key}", f"gate.{key} compares with the baseline's pass rate: set baseline_model as well"
            )
        low = -1.0 if key == "min_improvement_over_baseline" else 0.0
        if isinstance(value, dict):
            for name, limit in value.items():
                if names and name not in names:
                    failures.add(
                        f"gate.{key}.{name}",
                        f"gate.{key}.{name}: no testing criterion is named {name!r}; the names are {', '.join(names)}",
                    )
                check_number(failures, {f"gate.{key}.{name}": limit}, f"gate.{key}.{name}", low=low, high=1.0)
        else:
            check_number(failures, {f"gate.{key}": value}, f"gate.{key}", low=low, high=1.0)


def gate_misses(gate: dict[str, Any] | None, outputs: dict[str, Any]) -> list[str]:
    """The thresholds of ``gate`` the evaluation's outputs miss, each with the numbers."""
    misses: list[str] = []
    rates, base_rates = outputs.get("pass_rates") or {}, outputs.get("baseline_pass_rates") or {}
    counts = outputs.get("result_counts") or {}
    for key, value in (gate or {}).items():
        if isinstance(value, dict):
            checks = [(f"{name}'s pass rate", rates.get(name, 0.0), base_rates.get(name), limit)
                      for name, limit in value.items()]  # fmt: skip
        else:
            label = f"pass rate ({counts.get('passed', 0)} of {counts.get('total', 0)} items passed every criterion)"
            checks = [(label, outputs.get("pass_rate") or 0.0, outputs.get("baseline_pass_rate"), value)]
        for what, rate, base, limit in checks:
            gain = round(rate - (base or 0.0), 6)  # 0.7 - 0.2 is 0.5, not 0.49999999999999994
            if key == "min_pass_rate" and rate < limit:
                misses.append(f"{what} {rate:g}, below the minimum {limit:g}")
            elif key == "min_improvement_over_baseline" and gain < limit:
                misses.append(
                    f"{what} {rate:g} vs the baseline's {base or 0.0:g}: an improvement of {gain:+g}, "
                    f"below the minimum {limit:+g}"
                )
    return misses


class EvaluationProvider(Provider):
    """Uploads the test set, creates (or adopts) the eval and its runs, waits for them, and applies the gate."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Every rule that can be checked offline: graders, gate, prompt, and the test set itself."""
        failures = Failures()
        inputs = dict(news)
        check_endpoint(failures, news)
        name = news.get("name")
        if name is None:
            failures.add("name", "name is required: the eval's name in the account (the resource's name by default)")
        elif not is_unknown(name) and (not isinstance(name, str) or not name):
            failures.add("name", f"name must be a non-empty string, not {name!r}")
        for key, required in (("model", True), ("baseline_model", False)):
            value = news.get(key)
            if value is None:
                if required:
                    failures.add(key, f"{key} is required: a deployment name or a model the account serves")
            elif not is_unknown(value) and (not isinstance(value, str) or not value):
                failures.add(key, f"{key} must be a deployment name or a model name, not {value!r}")
        criteria = news.get("testing_criteria")
        check_criteria(failures, "testing_criteria", criteria)
        _check_input_messages(failures, news.get("input_messages"))
        _check_gate(failures, news.get("gate"), criteria_names(criteria), news.get("baseline_model") is not None)
        check_number(failures, news, "timeout_minutes", low=0.01, high=7 * 24 * 60)
        path, file_id = news.get("path"), news.get("file_id")
        if (path is None) == (file_id is None):
            failures.add("path", "give exactly one of path (a local JSONL test set) or file_id (an uploaded file)")
        elif file_id is not None and not is_unknown(file_id) and (not isinstance(file_id, str) or not file_id):
            failures.add("file_id", f"file_id must be a file id such as file-abc123, not {file_id!r}")
        if isinstance(path, str):
            self._check_path(failures, inputs, path)
        return CheckResult(inputs, failures.items)

    def _check_path(self, failures: Failures, inputs: dict[str, Any], path: str) -> None:
        """Validate, hash and name the test set as a TrainingFile of purpose ``evals`` would be, then its items."""
        stem = Path(path).stem or "test"
        filename = f"{stem}.{marker(inputs, with_content=False)[:8]}.jsonl"
        uploaded = TrainingFileProvider().check({}, {"path": path, "purpose": "evals", "filename": filename})
        # Its own failures only: the endpoint is checked (and required) by this resource's check.
        refused = [f for f in uploaded.failures or [] if f.property != "endpoint"]
        for failure in refused:
            failures.add("path", failure.reason)
        if refused:
            return
        file_inputs = uploaded.inputs or {}
        fields = item_fields([inputs.get("testing_criteria"), inputs.get("input_messages")])
        items, errors = check_test_set(Path(path), fields if not is_unknown(inputs.get("testing_criteria")) else [])
        for error in errors:
            failures.add("path", error)
        inputs["test_set"] = {**{k: file_inputs.get(k) for k in TEST_SET_KEYS}, "items": items}

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Replace on anything graded (model, test set, criteria, prompt); the gate is re-applied in place."""
        return diff(olds, news, replace=REPLACE_ON, update=UPDATE_ON, keeps=KEPT_BY_UPDATE)

    # --- create -------------------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Upload (or adopt) the test set, adopt or create the eval and its runs, wait, then apply the gate."""
        inputs = user_inputs(props, INPUTS + COMPUTED_INPUTS)
        settings = config.current()
        client = settings.data_client(inputs["endpoint"])
        try:
            evals = EvalsClient(client)
            file_id = inputs.get("file_id") or self._upload(inputs)
            record = self._find_or_create_eval(evals, inputs, settings)
            runs = {
                role: self._find_or_start_run(
                    evals, record["id"], role=role, model=model, file_id=file_id, inputs=inputs, settings=settings
                )
                for role, model in self._models(inputs)
            }
            runs = {role: self._wait(evals, run, inputs, settings) for role, run in runs.items()}
            outputs = self._outputs(inputs, record["id"], file_id, runs)
        finally:
            client.close()
        self._apply_gate(inputs, outputs)
        return CreateResult(record["id"], outputs)

    def _models(self, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        pairs = [("model", str(inputs["model"]))]
        if inputs.get("baseline_model"):
            pairs.append(("baseline", str(inputs["baseline_model"])))
        return pairs

    def _upload(self, inputs: dict[str, Any]) -> str:
        """The test set uploaded (or adopted) exactly as a TrainingFile of purpose ``evals`` is."""
        test_set = inputs["test_set"]
        props = {
            "endpoint": inputs["endpoint"],
            "path": inputs["path"],
            "purpose": "evals",
            **{k: test_set[k] for k in TEST_SET_KEYS if test_set.get(k) is not None},
        }
        return str(TrainingFileProvider().create(props).id)

    def _find_or_create_eval(
        self, evals: EvalsClient, inputs: dict[str, Any], settings: config.Settings
    ) -> dict[str, Any]:
        mark = marker(inputs)

        def find() -> dict[str, Any] | None:
            for record in evals.list_evals():
                if (record.get("metadata") or {}).get(MARKER_KEY) == mark:
                    pulumi.log.info(f"adopting eval {record['id']} ({record.get('name')}), created by an earlier run")
                    return dict(record)
            return None

        body = {
            "name": inputs["name"],
            "data_source_config": {"type": "custom", "item_schema": {"type": "object"}, "include_sample_schema": True},
            "testing_criteria": inputs["testing_criteria"],
            "metadata": {MARKER_KEY: mark},
        }
        return adopt_or_create(find, lambda: evals.create_eval(body), attempts=settings.max_retries)

    def _find_or_start_run(
        self,
        evals: EvalsClient,
        eval_id: str,
        *,
        role: str,
        model: str,
        file_id: str,
        inputs: dict[str, Any],
        settings: config.Settings,
    ) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for run in evals.list_runs(eval_id):
                meta = run.get("metadata") or {}
                if meta.get(ROLE_KEY) == role and run.get("status") not in ("failed", "canceled"):
                    pulumi.log.info(f"adopting {role} run {run['id']} ({run.get('status')}) of eval {eval_id}")
                    return dict(run)
            return None

        body = {
            "name": f"{inputs['name']}-{role}",
            "data_source": {
                "type": "completions",
                "model": model,
                "source": {"type": "file_id", "id": file_id},
                "input_messages": input_messages(inputs["input_messages"]),
                "sampling_params": SAMPLING,
            },
            "metadata": {ROLE_KEY: role},
        }
        return adopt_or_create(find, lambda: evals.create_run(eval_id, body), attempts=settings.max_retries)

    def _wait(
        self, evals: EvalsClient, run: dict[str, Any], inputs: dict[str, Any], settings: config.Settings
    ) -> dict[str, Any]:
        timeout = float(inputs.get("timeout_minutes", DEFAULT_TIMEOUT_MINUTES)) * 60
        if run.get("status") not in RUN_TERMINAL:
            run = poll_until(
                lambda: evals.get_run(run["eval_id"], run["id"]),
                lambda r: r.get("status") in RUN_TERMINAL,
                timeout_s=timeout,
                interval=settings.poll_interval,
                cap=settings.poll_max,
                describe=lambda r: (
                    f"evaluation run {r['id']} of {r.get('model')} is still {r.get('status')} after "
                    f"{timeout / 60:g} minutes (timeout_minutes); the next `pulumi up` adopts it and waits again"
                ),
            )
        if run.get("status") != "completed":
            error = run.get("error") or {}
            raise OperationFailedError(
                f"evaluation run {run['id']} of {run.get('model')} {run.get('status')}"
                + (f": {error.get('code')}: {error.get('message')}" if error else "")
                + "; the next `pulumi up` starts a new run"
            )
        return run

    def _outputs(
        self, inputs: dict[str, Any], eval_id: str, file_id: str, runs: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        names = criteria_names(inputs.get("testing_criteria"))
        run, base = runs.get("model") or {}, runs.get("baseline")
        counts = _counts(run.get("result_counts"))
        out: dict[str, Any] = {
            **inputs,
            "eval_id": eval_id,
            "run_id": run.get("id"),
            "baseline_run_id": base.get("id") if base else None,
            "test_file_id": file_id,
            "status": run.get("status"),
            "result_counts": counts,
            "pass_rate": overall_rate(counts),
            "pass_rates": pass_rates(run, names),
            "baseline_result_counts": _counts(base.get("result_counts")) if base else None,
            "baseline_pass_rate": overall_rate(base.get("result_counts")) if base else None,
            "baseline_pass_rates": pass_rates(base, names) if base else None,
        }
        out["passed"] = not gate_misses(inputs.get("gate"), out)
        return out

    def _apply_gate(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        misses = gate_misses(inputs.get("gate"), outputs)
        if misses:
            raise OperationFailedError(
                f"evaluation {outputs['eval_id']} of {inputs['model']} missed its gate: {'; '.join(misses)}. "
                "Nothing that depends on this Evaluation is created or updated. The eval and its runs are kept: "
                "the next `pulumi up` with the same inputs reads them again instead of paying for new runs."
            )

    # --- read, update, delete -----------------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the eval and its runs as the service has them, or gone."""
        settings = config.current()
        inputs = user_inputs(props, INPUTS + COMPUTED_INPUTS)
        client = settings.data_client(inputs["endpoint"])
        try:
            evals = EvalsClient(client)
            try:
                evals.get_eval(id_)
                runs = self._runs(evals, id_, props)
            except NotFoundError:
                return ReadResult(None, {})
        finally:
            client.close()
        return ReadResult(id_, self._outputs(inputs, id_, str(props.get("test_file_id")), runs))

    def _runs(self, evals: EvalsClient, eval_id: str, props: dict[str, Any]) -> dict[str, dict[str, Any]]:
        runs = {"model": evals.get_run(eval_id, str(props["run_id"]))}
        if props.get("baseline_run_id"):
            runs["baseline"] = evals.get_run(eval_id, str(props["baseline_run_id"]))
        return runs

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """A changed gate is applied to the runs already graded: nothing is run (or paid for) again."""
        inputs = {**user_inputs(olds, COMPUTED_INPUTS), **user_inputs(news, INPUTS + COMPUTED_INPUTS)}
        settings = config.current()
        client = settings.data_client(inputs["endpoint"])
        try:
            runs = self._runs(EvalsClient(client), id_, olds)
        finally:
            client.close()
        outputs = self._outputs(inputs, id_, str(olds.get("test_file_id")), runs)
        self._apply_gate(inputs, outputs)
        return UpdateResult(outputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete the eval (its runs go with it), then the test set this evaluation uploaded (not a given file_id)."""
        settings = config.current()
        client = settings.data_client(props["endpoint"])
        try:
            with contextlib.suppress(NotFoundError):
                EvalsClient(client).delete_eval(id_)
        finally:
            client.close()
        if props.get("path") and props.get("test_file_id"):
            TrainingFileProvider().delete(str(props["test_file_id"]), {"endpoint": props["endpoint"]})


def _counts(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, dict):
        return None
    return {key: int(raw.get(key) or 0) for key in ("total", "passed", "failed", "errored")}


@dataclass
class EvaluationArgs:
    """The inputs of an :class:`Evaluation`."""

    endpoint: pulumi.Input[str]
    """The account's endpoint (``https://<account>.openai.azure.com/``)."""
    model: pulumi.Input[str]
    """The model under test: a deployment's name (say a Deployment's ``name``) or a model the account serves."""
    testing_criteria: pulumi.Input[list[dict[str, Any]]]
    """The graders (``string_check``, ``text_similarity``, ``label_model``, ``score_model``), each named."""
    input_messages: pulumi.Input[str | list[dict[str, Any]]]
    """The prompt of each item: messages quoting ``{{item.<field>}}``, or ``item.<field>`` holding the messages."""
    path: pulumi.Input[str] | None = None
    """A local JSONL test set (one item per line), uploaded like a TrainingFile; give this or ``file_id``."""
    file_id: pulumi.Input[str] | None = None
    """An uploaded test set's file id (purpose ``evals`` or ``fine-tune``); give this or ``path``."""
    baseline_model: pulumi.Input[str] | None = None
    """A model graded in the same eval for comparison (the base model, say)."""
    gate: pulumi.Input[EvaluationGateArgsDict] | None = None
    """What the model must reach (``min_pass_rate``, ``min_improvement_over_baseline``); a miss fails the update."""
    name: pulumi.Input[str] | None = None
    """The eval's name in the account; default: the resource's name."""
    timeout_minutes: pulumi.Input[float] | None = None
    """How long to wait for the runs (default 60); the next ``pulumi up`` resumes a wait that ran out."""


@outputs_as_getters
class Evaluation(Resource, module="azure-openai", name="Evaluation"):
    """A model graded on a test set (and a baseline beside it); a missed gate stops what depends on it."""

    if TYPE_CHECKING:
        endpoint: pulumi.Output[str]
        """The account's endpoint."""
        name: pulumi.Output[str]
        """The eval's name."""
        model: pulumi.Output[str]
        """The model under test."""
        baseline_model: pulumi.Output[str | None]
        """The baseline model, if any."""
        testing_criteria: pulumi.Output[list[dict[str, Any]]]
        """The graders."""
        gate: pulumi.Output[dict[str, Any] | None]
        """The thresholds the evaluation had to meet."""
        eval_id: pulumi.Output[str]
        """The eval's id (``eval_...``)."""
        run_id: pulumi.Output[str]
        """The run of the model under test."""
        baseline_run_id: pulumi.Output[str | None]
        """The baseline's run, if any."""
        test_file_id: pulumi.Output[str]
        """The test set's file id (uploaded from ``path``, or ``file_id``)."""
        status: pulumi.Output[str]
        """The model's run status (``completed``)."""
        result_counts: pulumi.Output[ResultCountsDict]
        """How the model's items fared."""
        pass_rate: pulumi.Output[float]
        """The share of items that passed every criterion (0 to 1)."""
        pass_rates: pulumi.Output[dict[str, float]]
        """Each criterion's pass rate, by name."""
        baseline_result_counts: pulumi.Output[ResultCountsDict | None]
        """How the baseline's items fared."""
        baseline_pass_rate: pulumi.Output[float | None]
        """The baseline's overall pass rate."""
        baseline_pass_rates: pulumi.Output[dict[str, float] | None]
        """The baseline's pass rate per criterion."""
        passed: pulumi.Output[bool]
        """Whether the gate was met (true when there is no gate)."""
    else:
        # Pulumi reads these at run time to convert outputs: they stay loose, so outputs keep their values.
        endpoint: pulumi.Output[str]
        name: pulumi.Output[str]
        model: pulumi.Output[str]
        eval_id: pulumi.Output[str]
        run_id: pulumi.Output[str]
        baseline_run_id: pulumi.Output[str | None]
        test_file_id: pulumi.Output[str]
        status: pulumi.Output[str]
        result_counts: pulumi.Output[dict[str, Any]]
        pass_rate: pulumi.Output[float]
        pass_rates: pulumi.Output[dict[str, Any]]
        baseline_result_counts: pulumi.Output[dict[str, Any] | None]
        baseline_pass_rate: pulumi.Output[float | None]
        baseline_pass_rates: pulumi.Output[dict[str, Any] | None]
        passed: pulumi.Output[bool]

    @overload
    def __init__(
        self, resource_name: str, args: EvaluationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None: ...

    @overload
    def __init__(
        self,
        resource_name: str,
        *,
        opts: pulumi.ResourceOptions | None = None,
        endpoint: pulumi.Input[str],
        model: pulumi.Input[str],
        testing_criteria: pulumi.Input[list[dict[str, Any]]],
        input_messages: pulumi.Input[str | list[dict[str, Any]]],
        path: pulumi.Input[str] | None = None,
        file_id: pulumi.Input[str] | None = None,
        baseline_model: pulumi.Input[str] | None = None,
        gate: pulumi.Input[EvaluationGateArgsDict] | None = None,
        name: pulumi.Input[str] | None = None,
        timeout_minutes: pulumi.Input[float] | None = None,
    ) -> None: ...

    def __init__(
        self,
        resource_name: str,
        args: EvaluationArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        """Declare an evaluation, from an :class:`EvaluationArgs` or from keywords.

        :param resource_name: The resource's name in the stack (and the eval's, unless ``name`` is given).
        :param args: The inputs, as an :class:`EvaluationArgs` (instead of keywords).
        :param opts: Options for the resource.
        :param endpoint: The account's endpoint (``https://<account>.openai.azure.com/``).
        :param model: The model under test: a deployment's name or a model the account serves.
        :param testing_criteria: The graders, each named.
        :param input_messages: The prompt of each item (messages quoting ``{{item.<field>}}``, or ``item.<field>``).
        :param path: A local JSONL test set; give this or ``file_id``.
        :param file_id: An uploaded test set's file id; give this or ``path``.
        :param baseline_model: A model graded in the same eval for comparison.
        :param gate: ``min_pass_rate`` and/or ``min_improvement_over_baseline`` (numbers or maps by criterion).
        :param name: The eval's name in the account; default: the resource's name.
        :param timeout_minutes: How long to wait for the runs (default 60).
        """
        props = resource_props("Evaluation", args, kwargs, INPUTS, OUTPUTS + COMPUTED_INPUTS)
        if props.get("name") is None:
            props["name"] = resource_name
        super().__init__(EvaluationProvider(), resource_name, props, opts)
