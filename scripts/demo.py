"""One Azure OpenAI fine-tuning workflow, end to end, against the local emulator, with plain HTTP calls.

The demo starts ``aoai-emulator`` with a clock 60 times faster than real time (a 20-minute training job
takes about 20 seconds), then does what a client of Azure does, step by step:

- ARM: create a resource group and an Azure OpenAI account (following its long-running operation),
  read the account's endpoint and its keys;
- data plane: upload the training and validation files of ``examples/data/``, wait until they are
  processed, create a fine-tuning job and follow it until it succeeds, then show its events, its
  checkpoints and the end of its ``results.csv``;
- ARM: deploy the fine-tuned model, then call the deployment once.

The last line names the deployed model. Any failed step stops the demo with the service's error
envelope and a non-zero exit status; the emulator is stopped in every case.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx2

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data"
TRAINING_FILE = DATA / "training.jsonl"
VALIDATION_FILE = DATA / "validation.jsonl"

TIME_SCALE = 60
SUBSCRIPTION = "00000000-0000-0000-0000-00000000de00"
RESOURCE_GROUP = "rg-finetune-demo"
LOCATION = "eastus2"
ACCOUNT = "aoai-finetune-demo"
DEPLOYMENT = "quill-support"
BASE_MODEL = "gpt-4o-mini-2024-07-18"
SUFFIX = "demo"

ARM_TOKEN = "demo-token"  # noqa: S105 (not a secret: the emulator accepts any opaque ARM bearer token)
RESOURCE_GROUP_API = "2024-03-01"
ARM_API = "2025-06-01"
DATA_API = "2025-04-01-preview"  # authoring (files, jobs)
INFERENCE_API = "2024-10-21"

STARTUP_TIMEOUT = 20.0
FILE_TIMEOUT = 30.0
ARM_TIMEOUT = 30.0
JOB_TIMEOUT = 75.0
JOB_POLL_SECONDS = 2.0
MAX_RETRY_AFTER = 3.0


class DemoError(Exception):
    """A step of the demo failed; the message says which and why."""


# --- output ----------------------------------------------------------------------------------------------


def section(title: str) -> None:
    """Print the heading of a group of steps."""
    print(f"\n== {title}")


def step(method: str, what: str, result: str) -> None:
    """Print one step as ``METHOD  what  -> result``."""
    print(f"  {method:<6} {what:<50} -> {result}")


def note(text: str) -> None:
    """Print a detail line under a step."""
    print(f"         {text}".rstrip())


def clock_time(epoch: float | None) -> str:
    """An emulator timestamp as UTC wall-clock time (emulator time runs ``TIME_SCALE`` times faster)."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%SZ")


class ProgressLine:
    """A status line that rewrites itself on a terminal and prints only changes elsewhere."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.last = ""

    def show(self, text: str) -> None:
        """Show the current state."""
        if text == self.last:
            return
        if self.tty:
            print(f"\r\033[K  {text}", end="", flush=True)
        else:
            print(f"  {text}", flush=True)
        self.last = text

    def done(self) -> None:
        """End the line (on a terminal the cursor is still on it)."""
        if self.tty and self.last:
            print()


# --- the emulator process --------------------------------------------------------------------------------


def emulator_command() -> list[str]:
    """The ``aoai-emulator`` console script of this interpreter's environment, with the demo's clock."""
    exe = Path(sys.executable).parent / "aoai-emulator"
    found = str(exe) if exe.exists() else shutil.which("aoai-emulator")
    if found is None:
        raise DemoError("cannot find the 'aoai-emulator' command; run 'make demo' so the venv is installed")
    return [found, "--port", "0", "--clock", "time", "--time-scale", str(TIME_SCALE)]


def read_first_line(proc: subprocess.Popen[bytes], stderr: IO[bytes], timeout: float) -> str:
    """The first stdout line of the emulator (its base URL), or an error with what it printed on stderr."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DemoError(f"the emulator printed no URL within {timeout:.0f} s")
            if not sel.select(remaining):
                continue
            chunk = proc.stdout.read1(4096)  # type: ignore[attr-defined]
            if not chunk:
                proc.wait(timeout=5)
                stderr.seek(0)
                detail = stderr.read().decode(errors="replace").strip()
                raise DemoError(f"the emulator exited with status {proc.returncode} before it was ready:\n{detail}")
            buffer += chunk
    return buffer.split(b"\n", 1)[0].decode().strip()


@contextlib.contextmanager
def running_emulator() -> Iterator[str]:
    """Start the emulator, yield its base URL, and stop it however the block ends."""
    command = emulator_command()
    with tempfile.TemporaryFile() as stderr:
        # Its own session: Ctrl-C reaches only the demo, which then stops the emulator itself, in order.
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True
        )
        try:
            url = read_first_line(proc, stderr, STARTUP_TIMEOUT)
            if not url.startswith(("http://", "https://")):
                raise DemoError(f"the emulator's first line is not a URL: {url!r}")
            yield url
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


# --- HTTP ------------------------------------------------------------------------------------------------


def error_envelope(response: httpx2.Response) -> str:
    """The service's error body, pretty-printed, or the raw text when it is not JSON."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or "(empty body)"
    return json.dumps(body, indent=2)


def request(
    client: httpx2.Client, method: str, url: str, what: str, expect: tuple[int, ...] = (200,), **kwargs: Any
) -> httpx2.Response:
    """Make one call; anything but an expected status is a ``DemoError`` that shows the error envelope."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx2.HTTPError as exc:
        raise DemoError(f"{method} {what}: the request failed: {exc}") from exc
    if response.status_code not in expect:
        raise DemoError(
            f"{method} {what}: expected HTTP {' or '.join(map(str, expect))}, got {response.status_code} "
            f"{response.reason_phrase}\n{error_envelope(response)}"
        )
    return response


def retry_after(response: httpx2.Response, default: float) -> float:
    """How long to wait before polling again: the ``Retry-After`` header, bounded for a demo."""
    try:
        seconds = float(response.headers.get("Retry-After", default))
    except ValueError:
        seconds = default
    return min(max(seconds, 0.1), MAX_RETRY_AFTER)


def wait_until(
    poll: Callable[[], tuple[bool, float]], what: str, timeout: float, on_timeout: Callable[[], str] = lambda: ""
) -> None:
    """Call ``poll`` (which returns ``(done, seconds to wait)``) until it is done or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        done, wait = poll()
        if done:
            return
        if time.monotonic() + wait > deadline:
            detail = on_timeout()
            raise DemoError(f"{what} did not finish within {timeout:.0f} s{': ' + detail if detail else ''}")
        time.sleep(wait)


def follow_operation(client: httpx2.Client, response: httpx2.Response, what: str, headers: dict[str, str]) -> str:
    """Poll an ARM ``Azure-AsyncOperation`` (with the ARM ``headers``) until it ends; failing is a ``DemoError``."""
    op_url = response.headers.get("Azure-AsyncOperation")
    if not op_url:
        raise DemoError(f"{what}: the response has no Azure-AsyncOperation header")
    started = time.monotonic()
    seen: list[str] = []
    body: dict[str, Any] = {}

    def poll() -> tuple[bool, float]:
        nonlocal body
        reply = request(client, "GET", op_url, f"{what} (operation status)", headers=headers)
        body = reply.json()
        status = str(body.get("status"))
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in {"Failed", "Canceled"}:
            raise DemoError(f"{what}: the operation ended {status}\n{json.dumps(body, indent=2)}")
        return status == "Succeeded", retry_after(reply, 1.0)

    wait_until(poll, what, ARM_TIMEOUT, lambda: f"last status {body.get('status')}")
    step("GET", f"{what} (Azure-AsyncOperation)", f"{' -> '.join(seen)} in {time.monotonic() - started:.1f} s")
    return str(body["status"])


# --- the workflow ----------------------------------------------------------------------------------------


class Demo:
    """The workflow's state: the emulator's URL, then the account's endpoint, key and the job's outputs."""

    def __init__(self, base_url: str, client: httpx2.Client) -> None:
        self.base = base_url.rstrip("/")
        self.client = client
        self.arm_headers = {"Authorization": f"Bearer {ARM_TOKEN}"}
        self.account_path = (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
            f"/providers/Microsoft.CognitiveServices/accounts/{ACCOUNT}"
        )
        self.endpoint = ""
        self.data_headers: dict[str, str] = {}

    # ARM ---------------------------------------------------------------------------------------------

    def arm(self, method: str, path: str, what: str, version: str = ARM_API, **kwargs: Any) -> httpx2.Response:
        """An ARM call with the bearer token."""
        url = f"{self.base}{path}?api-version={version}"
        kwargs.setdefault("expect", (200,))
        return request(self.client, method, url, what, headers=self.arm_headers, **kwargs)

    def create_account(self) -> None:
        """Resource group, account (a long-running PUT), its endpoint and its keys."""
        section("Azure Resource Manager: resource group and Azure OpenAI account")
        group = self.arm(
            "PUT",
            f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{RESOURCE_GROUP}",
            f"resource group {RESOURCE_GROUP}",
            version=RESOURCE_GROUP_API,
            expect=(200, 201),
            json={"location": LOCATION},
        )
        step("PUT", f"resource group {RESOURCE_GROUP}", f"{group.status_code}, location {group.json()['location']}")
        created = self.arm(
            "PUT",
            self.account_path,
            f"account {ACCOUNT}",
            expect=(200, 201),
            json={"location": LOCATION, "kind": "OpenAI", "sku": {"name": "S0"}, "properties": {}},
        )
        state = created.json().get("properties", {}).get("provisioningState")
        step("PUT", f"account {ACCOUNT} (kind OpenAI, sku S0)", f"{created.status_code}, provisioningState {state}")
        if created.status_code == 201:
            follow_operation(self.client, created, f"account {ACCOUNT}", self.arm_headers)
        account = self.arm("GET", self.account_path, f"account {ACCOUNT}").json()
        props = account.get("properties", {})
        if props.get("provisioningState") != "Succeeded" or not props.get("endpoint"):
            raise DemoError(f"GET account {ACCOUNT}: not ready\n{json.dumps(account, indent=2)}")
        self.endpoint = str(props["endpoint"])
        if not self.endpoint.endswith("/"):
            self.endpoint += "/"
        step("GET", f"account {ACCOUNT}", f"Succeeded, endpoint {self.endpoint}")
        keys = self.arm("POST", f"{self.account_path}/listKeys", "listKeys").json()
        if not keys.get("key1"):
            raise DemoError(f"POST listKeys: no key1 in the answer\n{json.dumps(keys, indent=2)}")
        self.data_headers = {"api-key": keys["key1"]}
        step("POST", "listKeys", f"key1 {keys['key1'][:4]}...{keys['key1'][-4:]}")

    # data plane --------------------------------------------------------------------------------------

    def data(self, method: str, path: str, what: str, version: str = DATA_API, **kwargs: Any) -> httpx2.Response:
        """A data-plane call with the account's key."""
        url = f"{self.endpoint}openai/{path}"
        params = {"api-version": version, **kwargs.pop("params", {})}
        kwargs.setdefault("expect", (200,))
        return request(self.client, method, url, what, headers=self.data_headers, params=params, **kwargs)

    def upload(self, path: Path) -> str:
        """Upload a JSONL file for fine-tuning; returns its id."""
        with path.open("rb") as content:
            reply = self.data(
                "POST",
                "files",
                f"upload {path.name}",
                expect=(200, 201),
                data={"purpose": "fine-tune"},
                files={"file": (path.name, content, "application/jsonl")},
            )
        file = reply.json()
        lines = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        step("POST", f"files: {path.name} ({lines} examples)", f"{reply.status_code}, {file['id']} {file['status']}")
        return str(file["id"])

    def wait_processed(self, file_ids: list[str]) -> None:
        """Poll the files until every one is ``processed``; a file in ``error`` stops the demo."""
        started = time.monotonic()
        pending = set(file_ids)

        def poll() -> tuple[bool, float]:
            for file_id in sorted(pending):
                file = self.data("GET", f"files/{file_id}", f"file {file_id}").json()
                if file["status"] == "error":
                    raise DemoError(
                        f"file {file_id} ({file.get('filename')}) failed validation: {file.get('status_details')}"
                    )
                if file["status"] == "processed":
                    pending.discard(file_id)
            return not pending, 0.25

        wait_until(poll, "file processing", FILE_TIMEOUT, lambda: f"still pending: {', '.join(sorted(pending))}")
        step("GET", "files (poll until processed)", f"all processed in {time.monotonic() - started:.1f} s")

    def create_job(self, training: str, validation: str) -> str:
        """Create the fine-tuning job; returns its id."""
        reply = self.data(
            "POST",
            "fine_tuning/jobs",
            "create fine-tuning job",
            expect=(200, 201),
            json={
                "model": BASE_MODEL,
                "training_file": training,
                "validation_file": validation,
                "suffix": SUFFIX,
            },
        )
        job = reply.json()
        step("POST", f"fine_tuning/jobs ({BASE_MODEL}, suffix {SUFFIX})", f"{reply.status_code}, {job['id']}")
        return str(job["id"])

    def latest_step(self, job_id: str) -> str:
        """The training step of the newest metrics event, as ``step 27/90 loss 0.81``, or ``""``."""
        events = self.data("GET", f"fine_tuning/jobs/{job_id}/events", "job events", params={"limit": 20}).json()
        for event in events.get("data", []):
            if event.get("type") == "metrics":
                data = event.get("data") or {}
                return f"{event['message'].split(':')[0].lower()}, train loss {data.get('train_loss', 0):.3f}"
        return ""

    def follow_job(self, job_id: str) -> dict[str, Any]:
        """Poll the job until it succeeds, with one progress line; returns the finished job."""
        print(f"  GET    fine_tuning/jobs/{job_id} (every {JOB_POLL_SECONDS:.0f} s)")
        started = time.monotonic()
        progress = ProgressLine()
        job: dict[str, Any] = {}

        def poll() -> tuple[bool, float]:
            nonlocal job
            job = self.data("GET", f"fine_tuning/jobs/{job_id}", f"job {job_id}").json()
            status = job["status"]
            if status in ("failed", "cancelled"):
                progress.done()
                raise DemoError(f"job {job_id} ended {status}\n{json.dumps(job.get('error'), indent=2)}")
            line = f"[{time.monotonic() - started:5.1f} s] {status:<9}"
            if job.get("estimated_finish"):
                line += f" estimated_finish {clock_time(job['estimated_finish'])}"
            if status == "running":
                detail = self.latest_step(job_id)
                line += f"  {detail}" if detail else ""
            progress.show(line.rstrip())
            return status == "succeeded", JOB_POLL_SECONDS

        try:
            wait_until(poll, f"job {job_id}", JOB_TIMEOUT, lambda: f"last status {job.get('status')}")
        finally:
            progress.done()
        step(
            "GET",
            f"job {job_id}",
            f"succeeded in {time.monotonic() - started:.1f} s (emulator time x{TIME_SCALE})",
        )
        note(f"fine_tuned_model: {job['fine_tuned_model']}")
        hp = job.get("hyperparameters", {})
        note(
            f"trained_tokens {job.get('trained_tokens')}, epochs {hp.get('n_epochs')}, "
            f"batch_size {hp.get('batch_size')}, learning_rate_multiplier {hp.get('learning_rate_multiplier')}"
        )
        return job

    def show_outputs(self, job: dict[str, Any]) -> None:
        """The latest events, the checkpoints and the end of ``results.csv``."""
        job_id = job["id"]
        events = self.data("GET", f"fine_tuning/jobs/{job_id}/events", "job events", params={"limit": 6}).json()
        step("GET", "events (latest 6)", f"{len(events['data'])} events")
        for event in reversed(events["data"]):
            note(f"{clock_time(event['created_at'])} {event['level']:<5} {event['message']}")

        checkpoints = self.data("GET", f"fine_tuning/jobs/{job_id}/checkpoints", "job checkpoints").json()
        step("GET", "checkpoints", f"{len(checkpoints['data'])} checkpoints")
        for cp in checkpoints["data"]:
            metrics = cp.get("metrics") or {}
            losses = f"train_loss {metrics.get('train_loss', 0):.3f}"
            if "valid_loss" in metrics:
                losses += f", valid_loss {metrics['valid_loss']:.3f}"
            note(f"step {cp['step_number']:>4}  {losses}  {cp['fine_tuned_model_checkpoint']}")

        result_files = job.get("result_files") or []
        if not result_files:
            raise DemoError(f"job {job_id} succeeded without a result file")
        csv_text = self.data("GET", f"files/{result_files[0]}/content", "results.csv").text
        rows = [line.split(",") for line in csv_text.strip().splitlines()]
        step("GET", f"files/{result_files[0]}/content (results.csv)", f"{len(rows) - 1} rows, last 5:")
        shown = [rows[0], *rows[-5:]]
        widths = [max(len(row[i]) if i < len(row) else 0 for row in shown) for i in range(len(rows[0]))]
        for row in shown:
            note("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=False)))

    # deployment and inference ------------------------------------------------------------------------

    def deploy(self, model: str) -> None:
        """Deploy the fine-tuned model through ARM and wait for the operation."""
        section("Azure Resource Manager: deploy the fine-tuned model")
        path = f"{self.account_path}/deployments/{DEPLOYMENT}"
        reply = self.arm(
            "PUT",
            path,
            f"deployment {DEPLOYMENT}",
            expect=(200, 201),
            json={
                "sku": {"name": "Standard", "capacity": 1},
                "properties": {"model": {"format": "OpenAI", "name": model, "version": "1"}},
            },
        )
        state = reply.json().get("properties", {}).get("provisioningState")
        step("PUT", f"deployment {DEPLOYMENT} (Standard, capacity 1)", f"{reply.status_code}, {state}")
        follow_operation(self.client, reply, f"deployment {DEPLOYMENT}", self.arm_headers)
        dep = self.arm("GET", path, f"deployment {DEPLOYMENT}").json()
        props = dep.get("properties", {})
        if props.get("provisioningState") != "Succeeded":
            raise DemoError(f"GET deployment {DEPLOYMENT}: not ready\n{json.dumps(dep, indent=2)}")
        step("GET", f"deployment {DEPLOYMENT}", f"Succeeded, model {props['model']['name']}")

    def chat(self, question: str) -> None:
        """One chat completion through the deployment."""
        section("Data plane: call the deployment")
        reply = self.data(
            "POST",
            f"deployments/{DEPLOYMENT}/chat/completions",
            "chat completion",
            version=INFERENCE_API,
            json={"messages": [{"role": "user", "content": question}], "max_tokens": 100},
        )
        body = reply.json()
        answer = body["choices"][0]["message"]["content"]
        step("POST", f"deployments/{DEPLOYMENT}/chat/completions", f"{reply.status_code}, model {body.get('model')}")
        note(f"user:      {question}")
        note(f"assistant: {answer}")

    def run(self) -> str:
        """The whole workflow; returns the fine-tuned model's name."""
        self.create_account()
        section(f"Data plane (api-version {DATA_API}): files and fine-tuning job")
        training = self.upload(TRAINING_FILE)
        validation = self.upload(VALIDATION_FILE)
        self.wait_processed([training, validation])
        job_id = self.create_job(training, validation)
        job = self.follow_job(job_id)
        self.show_outputs(job)
        model = str(job["fine_tuned_model"])
        self.deploy(model)
        self.chat("How do I export a notebook to PDF?")
        return model


def main() -> int:
    """Run the demo; 0 on success, 1 when a step fails, 130 on Ctrl-C."""
    # Ctrl-C raises KeyboardInterrupt even when the shell started us with SIGINT ignored; SIGTERM (a test
    # runner's timeout) and SIGHUP (a closed terminal) unwind too, so the emulator is always stopped.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    started = time.monotonic()
    try:
        for path in (TRAINING_FILE, VALIDATION_FILE):
            if not path.is_file():
                raise DemoError(f"missing dataset {path.relative_to(ROOT)}")
        with running_emulator() as url:
            print(f"Emulator running at {url} (clock: time x{TIME_SCALE})")
            with httpx2.Client(timeout=30.0) as client:
                model = Demo(url, client).run()
    except DemoError as exc:
        print(f"\nDemo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nDemo interrupted.", file=sys.stderr)
        return 130
    print(f"\nDone in {time.monotonic() - started:.1f} s.")
    print(f"Deployed model: {model} as deployment '{DEPLOYMENT}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
