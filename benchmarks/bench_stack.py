"""Stack scaling through the program harness: first ``up`` vs an openai-python script; no-op ``up``/``preview``.

Every run is a fresh process, as a user's command is: the harness CLI (``python -m
pulumi_aoai_finetuning.testing``, which starts the real ``python -m pulumi.dynamic`` plugin) on one side, a plain
``python`` script on the other, each timed wall-clock from the parent, interpreter start and imports included.
The emulator is an ``aoai-emulator`` process of its own (its work never counts against the client measured).

1. First ``up`` of a stack of N ``TrainingFile`` resources (N = 1, 10, 50, 200; distinct 12-example datasets,
   verdict cache emptied first) vs an openai-python script making the same calls one file after another
   (``files.create``, then ``files.retrieve`` every 10 ms, the harness's poll interval, until ``processed``; our
   provider also lists the account's files first, to adopt an interrupted upload). Each measured run gets a fresh
   emulator, so both start from empty accounts; the service holds 50 files per account, so resource i goes to
   account i % 5 on both sides. Reported per resource; the goal (<= 1.5x) is judged on N = 200 and on the
   marginal cost per resource from N = 50 to N = 200, where the fixed start-up costs of both sides (interpreter,
   imports, the plugin) no longer dominate; N = 1..50 show the series, so linearity is visible.
2. No-op ``up`` and no-op ``preview`` of a stack of 240 ``TrainingFile`` resources (no request reaches the
   emulator) vs the same harness running 240 do-nothing dynamic resources (:class:`Nothing`, defined here, so the
   plugin imports it by reference). Goal <= 1.1x, plus the difference per resource in ms. ``Nothing`` registers 3
   properties where a TrainingFile registers 22, and the SDK and the engine pay for each one on every resource
   (serialised, an ``Output`` with four futures, sent, diffed, saved) whoever the provider is; so the same
   commands are also run on 240 :class:`ShapedNothing`: do-nothing resources with a TrainingFile's properties
   and state (the same names and value types, as constants). Against it, what remains is what our code costs:
   the provider's import in the plugin, ``check`` (the verdict cache) and ``diff``. Each no-op figure is also
   given in CPU seconds of the harness and its plugin (``RUSAGE_CHILDREN``), less sensitive to a busy machine.

Repetitions are interleaved: each round runs every N of figure 1 (ours, then theirs), then figure 2's six
commands (up, then preview, each on ours, the do-nothing stack and the shaped one). Figure 1 gets
``BENCH_STACK_REPS`` rounds (default 3), figure 2 ``BENCH_STACK_NOOP_REPS`` (default 7: its runs are short and its
goal is tight, so its median needs more samples on a shared machine); about 3 minutes on 2 cores. The stacks of figure 2 are deployed once, not
measured. Every figure is the min and the median over the repetitions. Alone: ``.venv/bin/python -m
benchmarks.bench_stack`` (``BENCH_STACK_SIZES=1,10 BENCH_STACK_NOOP=10`` for a quick try).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1, 10, 50, 200)
NOOP_SIZE = 240
POLL_SECONDS = 0.01
EXAMPLES = 12
ACCOUNTS = 5  # the service holds at most 50 files per account: resource i goes to account i % ACCOUNTS


class NothingProvider(ResourceProvider):
    """A dynamic provider whose every method returns at once: what the harness and plugin cost on their own."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Accept the inputs as they are."""
        return CheckResult(news, [])

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        """Nothing ever changes."""
        return DiffResult(changes=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """An id from the inputs, no remote call."""
        return CreateResult(f"nothing-{props.get('index', 0)}", dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """What the state holds."""
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete."""


class Nothing(Resource):
    """A dynamic resource that does nothing, with the same inputs a TrainingFile is given."""

    def __init__(self, name: str, endpoint: str, path: str, index: int) -> None:
        super().__init__(NothingProvider(), name, {"endpoint": endpoint, "path": path, "index": index})


# What a TrainingFile registers (its inputs, then its outputs and computed inputs seeded as None), what its check
# adds to the inputs and what its create adds to those: the same names and value types, as constants.
# tests/test_bench_shapes.py holds them to TrainingFile's own lists and to the state of a real TrainingFile.
SHAPED_PROPS = (
    "endpoint", "path", "content_url", "filename", "purpose", "validate", "timeout_minutes", "model", "count_tokens",
    "file_id", "bytes", "status", "status_details", "examples", "format", "created_at", "tokens",
    "max_example_tokens", "token_count", "sha256", "remote_filename", "resource_key",
)  # fmt: skip
SHAPED_TOKEN_COUNT = {
    "examples": 12, "estimated_examples": 0, "file": "d.jsonl", "encoding": "o200k_base", "max_example_tokens": 34,
    "tokens": 408, "max_example_line": 1,
}  # fmt: skip
SHAPED_CHECKED = {
    "purpose": "fine-tune", "sha256": "0" * 64, "examples": 12, "format": "chat", "bytes": 2400, "tokens": 408,
    "max_example_tokens": 34, "token_count": SHAPED_TOKEN_COUNT,
}  # fmt: skip
SHAPED_CREATED = {"status": "processed", "created_at": 1_700_000_000}


class ShapedNothingProvider(NothingProvider):
    """A do-nothing provider whose state has a TrainingFile's shape: the SDK's and engine's cost per property."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """The inputs plus the constants a TrainingFile's check computes."""
        name = str(news.get("path", "")).rsplit("/", 1)[-1]
        return CheckResult({**news, **SHAPED_CHECKED, "filename": name, "remote_filename": f"{name}.0"}, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        """The inputs plus the constants a TrainingFile's create returns."""
        file_id = f"file-{props.get('path')}"
        return CreateResult(file_id, {**props, **SHAPED_CREATED, "file_id": file_id})


class ShapedNothing(Resource):
    """A do-nothing dynamic resource registering a TrainingFile's properties (the baseline of the same shape)."""

    def __init__(self, name: str, endpoint: str, path: str) -> None:
        props: dict[str, Any] = dict.fromkeys(SHAPED_PROPS)
        props.update(endpoint=endpoint, path=path)
        props["resource_key"] = f"{pulumi.get_project()}/{pulumi.get_stack()}/{name}"
        super().__init__(ShapedNothingProvider(), name, props)


PROGRAM = '''"""{doc}"""

import pulumi

{imports}

config = pulumi.Config()
endpoints = config.require_object("endpoints")
for i in range(config.require_int("count")):
    {kind}(f"r{{i}}", endpoint=endpoints[i % len(endpoints)], path=f"data/d{{i}}.jsonl"{extra})
'''

OPENAI_SCRIPT = """
import json, sys, time
import openai
accounts, poll, *paths = sys.argv[1:]
clients = [
    openai.AzureOpenAI(azure_endpoint=endpoint, api_key=key, api_version="2024-10-21", max_retries=0)
    for endpoint, key in json.loads(accounts)
]
for i, path in enumerate(paths):
    client = clients[i % len(clients)]
    with open(path, "rb") as fh:
        f = client.files.create(file=fh, purpose="fine-tune")
    while f.status not in ("processed", "error"):
        time.sleep(float(poll))
        f = client.files.retrieve(f.id)
    assert f.status == "processed", f
"""


def _write_programs(workdir: Path) -> tuple[Path, Path, Path]:
    """Project directories sharing the datasets: TrainingFiles, do-nothing resources, and shaped do-nothing ones."""
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    for i in range(max(NOOP_SIZE, *SIZES)):
        lines = []
        for j in range(EXAMPLES):
            messages = [
                {"role": "system", "content": f"Dataset {i}: you answer arithmetic tersely."},
                {"role": "user", "content": f"What is {j} + {i}?"},
                {"role": "assistant", "content": str(i + j)},
            ]
            lines.append(json.dumps({"messages": messages}) + "\n")
        target = data / f"d{i}.jsonl"
        if not target.exists() or target.read_text() != "".join(lines):
            target.write_text("".join(lines))  # rewritten only when different: mtimes stay put between runs
    programs = []
    for name, doc, imports, kind, extra in (
        ("files", "N TrainingFiles.", "from pulumi_aoai_finetuning import TrainingFile", "TrainingFile", ""),
        ("nothing", "N do-nothing resources.", "from benchmarks.bench_stack import Nothing", "Nothing", ", index=i"),
        (
            "shaped",
            "N shaped do-nothing resources.",
            "from benchmarks.bench_stack import ShapedNothing",
            "ShapedNothing",
            "",
        ),
    ):
        project = workdir / name
        project.mkdir(exist_ok=True)
        (project / "Pulumi.yaml").write_text(f"name: bench-{name}\nruntime: python\n")
        (project / "__main__.py").write_text(PROGRAM.format(doc=doc, imports=imports, kind=kind, extra=extra))
        link = project / "data"
        if not link.exists():
            link.symlink_to(data, target_is_directory=True)
        programs.append(project)
    return programs[0], programs[1], programs[2]


def _env(workdir: Path) -> dict[str, str]:
    """The subprocesses' environment: the repository on the path (the plugin imports Nothing), a private cache."""
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT),
        "AOAI_FT_CACHE_DIR": str(workdir / "cache"),
    }


@dataclass
class _Target:
    """Where a harness run goes: the emulator's URL, its accounts (endpoint, key), the subprocess environment."""

    url: str
    accounts: list[tuple[str, str]]
    env: dict[str, str]


@contextmanager
def _emulator() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A fresh ``aoai-emulator`` process with ACCOUNTS accounts; its URL and their (endpoint, key)."""
    # Imported here, not at the top: the plugin imports this module to unpickle Nothing, and the do-nothing
    # baseline must not pay for these imports at start-up.
    import httpx2  # noqa: PLC0415

    from benchmarks._emulator import emulator_process  # noqa: PLC0415

    more = [f"--account=bench{i}" for i in range(1, ACCOUNTS)]
    with emulator_process(*more) as (url, _):
        listed = httpx2.get(f"{url}/_emulator/accounts").json()["accounts"]
        yield url, [(a["endpoint"], a["keys"][0]) for a in listed]


def _children_cpu() -> float:
    """CPU seconds (user + system) of the child processes waited for so far, their own children included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _harness(
    command: str, program: Path, state: Path, target: _Target, count: int, *, cpu: list[float] | None = None
) -> float:
    """Wall seconds of one harness command in a fresh process (its CPU seconds, plugin's included, onto ``cpu``).

    Raise with its output if it fails.
    """
    url, accounts, env = target.url, target.accounts, target.env
    args = [sys.executable, "-m", "pulumi_aoai_finetuning.testing", command, str(program), "--state", str(state)]
    config = {
        "azure-openai:armEndpoint": url,
        "azure-openai:pollIntervalSeconds": str(POLL_SECONDS),
        "azure-openai:pollMaxSeconds": "0.05",
        "endpoints": json.dumps([endpoint for endpoint, _ in accounts]),
        "count": str(count),
    }
    for key, value in config.items():
        args += ["--config", f"{key}={value}"]
    args += ["--secret", f"azure-openai:apiKeys={json.dumps(dict(accounts))}"]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=900, check=False)
    seconds = time.perf_counter() - started
    if cpu is not None:
        cpu.append(_children_cpu() - cpu_before)  # the harness waits for its plugin, so that counts too
    if done.returncode != 0:
        raise RuntimeError(f"harness {command} of {program.name} (N={count}) failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def _openai(accounts: list[tuple[str, str]], paths: list[Path], env: dict[str, str]) -> float:
    """Wall seconds of the plain openai-python script in a fresh process."""
    args = [sys.executable, "-c", OPENAI_SCRIPT, json.dumps(accounts), str(POLL_SECONDS)]
    started = time.perf_counter()
    subprocess.run([*args, *map(str, paths)], capture_output=True, text=True, env=env, timeout=900, check=True)
    return time.perf_counter() - started


def _first_up(files: Path, workdir: Path, n: int, env: dict[str, str]) -> float:
    """The first up of N TrainingFiles against a fresh emulator, cold verdict cache; wall seconds."""
    shutil.rmtree(workdir / "cache", ignore_errors=True)
    state = workdir / "state" / f"first-{n}.json"
    state.unlink(missing_ok=True)
    with _emulator() as (url, accounts):
        return _harness("up", files, state, _Target(url, accounts, env), n)


def _script(files: Path, n: int, env: dict[str, str]) -> float:
    """The openai-python script over the same N datasets against a fresh emulator; wall seconds."""
    with _emulator() as (_url, accounts):
        return _openai(accounts, [files / "data" / f"d{i}.jsonl" for i in range(n)], env)


def _stat_rows(
    label: str, ours: list[float], theirs: list[float], unit: str, goal: float | None
) -> list[dict[str, Any]]:
    """A median row and a min row of ours against the baseline."""
    rows = []
    for stat, fn in (("median", statistics.median), ("min", min)):
        ratio = fn(ours) / fn(theirs)
        rows.append(
            {
                "figure": f"{label}, {stat} of {len(ours)}" if stat == "median" else f"  the same, min of {len(ours)}",
                "ours": round(fn(ours), 2),
                "baseline": round(fn(theirs), 2),
                "unit": unit,
                "ratio": round(ratio, 3),
                "goal": f"<= {goal}x" if goal else "reported (series)",
                "met": ratio <= goal if goal else True,
            }
        )
    return rows


def run(workdir: Path) -> list[dict[str, Any]]:
    """Figures 1 and 2 of the module docstring, interleaved; rows as the other benchmark modules give them."""
    workdir = workdir / "stack"
    (workdir / "state").mkdir(parents=True, exist_ok=True)
    reps = int(os.environ.get("BENCH_STACK_REPS", "3"))
    noop_reps = int(os.environ.get("BENCH_STACK_NOOP_REPS", "7"))
    sizes = tuple(int(s) for s in os.environ.get("BENCH_STACK_SIZES", ",".join(map(str, SIZES))).split(","))
    noop_size = int(os.environ.get("BENCH_STACK_NOOP", str(NOOP_SIZE)))
    files, nothing, shaped = _write_programs(workdir)
    env = _env(workdir)
    first: dict[int, list[float]] = {n: [] for n in sizes}
    script: dict[int, list[float]] = {n: [] for n in sizes}
    noop: dict[str, list[float]] = {f"{c}{k}": [] for c in ("up", "preview") for k in ("", "-nothing", "-shaped")}
    noop_cpu: dict[str, list[float]] = {key: [] for key in noop}
    with _emulator() as (url, accounts):
        target = _Target(url, accounts, env)
        programs = {"": files, "-nothing": nothing, "-shaped": shaped}
        states = {kind: workdir / "state" / f"noop{kind or '-files'}.json" for kind in programs}
        for kind, program in programs.items():
            states[kind].unlink(missing_ok=True)
            _harness("up", program, states[kind], target, noop_size)
        for r in range(max(reps, noop_reps)):
            for n in sizes if r < reps else ():
                first[n].append(_first_up(files, workdir, n, env))
                script[n].append(_script(files, n, env))
            for command in ("up", "preview") if r < noop_reps else ():
                for kind, program in programs.items():
                    key = f"{command}{kind}"
                    noop[key].append(_harness(command, program, states[kind], target, noop_size, cpu=noop_cpu[key]))
    rows: list[dict[str, Any]] = []
    for n in sizes:
        ours = [s * 1000 / n for s in first[n]]
        theirs = [s * 1000 / n for s in script[n]]
        goal = 1.5 if n == max(sizes) else None
        label = f"first up of {n} TrainingFiles, per resource / openai-python script"
        rows += _stat_rows(label, ours, theirs, "ms per resource", goal)
    if len(sizes) > 1:
        low, high = sorted(sizes)[-2:]
        # Marginal cost: the difference of paired runs of one repetition, so fixed start-up costs cancel.
        ours = [(a - b) * 1000 / (high - low) for a, b in zip(first[high], first[low], strict=True)]
        theirs = [(a - b) * 1000 / (high - low) for a, b in zip(script[high], script[low], strict=True)]
        rows += _stat_rows(
            f"first up, marginal cost per resource from N={low} to N={high} / openai-python script",
            ours,
            theirs,
            "ms per resource",
            1.5,
        )
    for command in ("up", "preview"):
        ours, theirs = noop[command], noop[f"{command}-nothing"]
        rows += _stat_rows(
            f"no-op {command} of {noop_size} TrainingFiles / {noop_size} do-nothing dynamic resources",
            ours,
            theirs,
            "s",
            1.1,
        )
        shaped_rows = _stat_rows(
            f"  the same / {noop_size} do-nothing resources registering a TrainingFile's 22 properties",
            ours,
            noop[f"{command}-shaped"],
            "s",
            None,
        )
        for row in shaped_rows:
            # What our code costs (provider import, check, diff, the class): the same property set on both sides.
            row["goal"] = "<= 1.1x (our code alone)"
            row["met"] = row["ratio"] <= 1.1
            row["figure"] = row["figure"].replace("  the same, min", "    the same, min")
        rows += shaped_rows
        # The measured reason the 3-property goal is out of reach: what each registered property costs the SDK,
        # the harness and the plugin on every resource, whoever the provider is.
        extra_props = len(SHAPED_PROPS) + 1 - 4  # __provider included on both sides; Nothing registers 3
        per_property = [
            (a - b) * 1e6 / noop_size / extra_props
            for a, b in zip(noop[f"{command}-shaped"], noop[f"{command}-nothing"], strict=True)
        ]
        rows.append(
            {
                "figure": f"  no-op {command}: cost of one registered property per resource (shaped do-nothing over "
                f"do-nothing, {extra_props} properties more), median of {len(per_property)} "
                f"(min {min(per_property):.1f})",
                "ours": round(statistics.median(per_property), 1),
                "baseline": None,
                "unit": "us per property per resource",
                "ratio": None,
                "goal": "reported",
                "met": True,
            }
        )
        for kind, label in (("-nothing", "do-nothing"), ("-shaped", "shaped do-nothing")):
            cpu_rows = _stat_rows(
                f"  the same in CPU seconds (harness and plugin) / {label} resources",
                noop_cpu[command],
                noop_cpu[f"{command}{kind}"],
                "CPU s",
                None,
            )
            for row in cpu_rows:
                row["goal"] = "reported (less sensitive than wall time to a busy machine)"
                row["figure"] = row["figure"].replace("  the same, min", "    the same, min")
            rows += cpu_rows
        extra = [(a - b) * 1000 / noop_size for a, b in zip(ours, theirs, strict=True)]
        rows.append(
            {
                "figure": f"  no-op {command}: TrainingFile's cost per resource over a do-nothing one, median of "
                f"{len(extra)} (min {min(extra):.2f})",
                "ours": round(statistics.median(extra), 2),
                "baseline": None,
                "unit": "ms per resource",
                "ratio": None,
                "goal": "reported",
                "met": True,
            }
        )
    return rows


if __name__ == "__main__":
    for row in run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/out")):
        print(row)
