"""``aoai-ft watch``: a fine-tuning job's progress, events and outcome, live; Ctrl-C stops watching, never the job."""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .. import config
from ..client import DataPlaneClient
from ..client.status import JOB_TERMINAL
from ..client.waiting import poll_until
from . import connection
from .formatting import clock, duration, number

STATUS_STYLES = {
    "succeeded": "bold green",
    "failed": "bold red",
    "cancelled": "bold yellow",
    "running": "bold cyan",
    "paused": "yellow",
    "pausing": "yellow",
    "resuming": "cyan",
}
EVENT_LEVEL_STYLES = {"error": "red", "warn": "yellow", "warning": "yellow"}
EXIT_SUCCEEDED = 0
EXIT_FAILED = 1  # failed or cancelled: a CI step that waits for training should fail too
EXIT_INTERRUPTED = 130  # the shell's convention for a command ended by SIGINT
# The newest events of each poll: room for every message event between two polls, even when a job logs
# a metrics event per step; older metrics events matter little, as only the latest step is shown.
EVENTS_PER_POLL = 100
BAR_WIDTH = 30
STEP_RE = re.compile(r"\bstep\s+(\d+)\s*/\s*(\d+)", re.IGNORECASE)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``watch``."""
    p = subparsers.add_parser(
        "watch",
        help="follow a fine-tuning job until it ends (Ctrl-C stops watching, not the job)",
        description="Follow a fine-tuning job: status, step / total steps, elapsed time, estimated finish, the "
        "latest losses and new events, polling with the provider's backoff. Exit status 0 when the job "
        "succeeds, 1 when it fails or is cancelled, 130 when you stop watching with Ctrl-C (the job goes on).",
    )
    connection.add_arguments(p, job=True, polling=True)
    return p


class Watcher:
    """Polls one job, prints its new events, and knows what to show about its progress."""

    def __init__(
        self,
        client: DataPlaneClient,
        job_id: str,
        console: Console,
        *,
        live: bool,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.job_id = job_id
        self.console = console
        self.live = live
        self._wall = wall
        self._monotonic = monotonic
        self.job: dict[str, Any] = {}
        self.step: int | None = None
        self.total: int | None = None
        self.train_loss: float | None = None
        self.valid_loss: float | None = None
        self._seen: set[str] = set()
        self._age_at_start: float | None = None  # the job's age when first seen, by the local clock
        self._started = monotonic()
        self._first_step: tuple[float, int] | None = None  # (monotonic, step) of the first step seen: the rate
        self._last_printed: tuple[Any, ...] | None = None

    # --- polling -----------------------------------------------------------------------------------------------

    def poll(self) -> dict[str, Any]:
        """One look at the job and its newest events; prints what is new."""
        job = self.client.get_job(self.job_id)
        events = self.client.job_events(self.job_id, limit=EVENTS_PER_POLL)
        self.job = job
        if self._age_at_start is None:
            created = job.get("created_at")
            self._age_at_start = max(0.0, self._wall() - created) if isinstance(created, int | float) else 0.0
        # Events come newest first; show the new ones in the order they happened.
        for event in reversed(events):
            key = str(event.get("id") or (event.get("created_at"), event.get("message")))
            if key in self._seen:
                continue
            self._seen.add(key)
            if event.get("type") == "metrics":
                self._metrics(event)
            else:
                self._print_event(event)
        if job.get("status") == "succeeded" and self.total is not None:
            self.step = self.total
        if self.step is not None and self._first_step is None:
            self._first_step = (self._monotonic(), self.step)
        if not self.live:
            # Without a live display (a CI log, a pipe), a line per change shows the progress instead.
            state = (job.get("status"), self.step)
            if state != self._last_printed:
                self._last_printed = state
                self.console.print(self.render())
        return job

    def follow(self, settings: config.Settings) -> dict[str, Any]:
        """Poll until the job ends, with the provider's capped backoff; returns the final job."""
        return poll_until(
            self.poll,
            lambda job: job.get("status") in JOB_TERMINAL,
            timeout_s=math.inf,
            interval=settings.poll_interval,
            cap=settings.poll_max,
            describe=lambda job: f"job {self.job_id} is {job.get('status')}",
        )

    def _metrics(self, event: dict[str, Any]) -> None:
        raw = event.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        step, total = data.get("step"), data.get("total_steps")
        found = STEP_RE.search(str(event.get("message") or ""))
        if found:
            step = step if step is not None else int(found[1])
            total = total if total is not None else int(found[2])
        if isinstance(step, int | float) and (self.step is None or step >= self.step):
            self.step = int(step)
            self.train_loss = _float(data.get("train_loss"), self.train_loss)
            self.valid_loss = _float(data.get("valid_loss", data.get("full_valid_loss")), self.valid_loss)
        if isinstance(total, int | float) and total > 0:
            self.total = int(total)

    def _print_event(self, event: dict[str, Any]) -> None:
        style = EVENT_LEVEL_STYLES.get(str(event.get("level")), "")
        line = Text.assemble((clock(event.get("created_at")), "dim"), "  ", (str(event.get("message", "")), style))
        self.console.print(line)

    # --- what to show --------------------------------------------------------------------------------------------

    def elapsed(self) -> float | None:
        """Seconds since the job was created: its finish time when it has one, else the local clock.

        While it runs, the job's age when first seen plus local time since: a client clock that is off by
        minutes does not make the figure jump or go negative.
        """
        created, finished = self.job.get("created_at"), self.job.get("finished_at")
        if isinstance(created, int | float) and isinstance(finished, int | float):
            return max(0.0, finished - created)
        if self._age_at_start is None:
            return None
        return self._age_at_start + self._monotonic() - self._started

    def remaining(self) -> float | None:
        """Seconds to the end of training: from the step rate seen so far, else the service's estimate."""
        status = self.job.get("status")
        if status in JOB_TERMINAL:
            return 0.0
        if self._first_step is not None and self.step is not None and self.total is not None:
            since, first = self._first_step
            if self.step > first:
                return (self.total - self.step) * (self._monotonic() - since) / (self.step - first)
        estimate = self.job.get("estimated_finish")
        if isinstance(estimate, int | float) and estimate > 0:
            return max(0.0, estimate - self._wall())
        return None

    def render(self) -> RenderableType:
        """The progress line: status, bar, step / total, elapsed, estimated finish, latest losses."""
        status = str(self.job.get("status") or "starting")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column()
        if self.total is not None:
            bar: RenderableType = ProgressBar(total=self.total, completed=self.step or 0, width=BAR_WIDTH)
        elif self.live and status not in JOB_TERMINAL:
            bar = ProgressBar(total=None, width=BAR_WIDTH)  # steps unknown yet: a pulse shows it is alive
        else:
            bar = Text("")
        details = []
        if self.total is not None:
            done = self.step or 0
            details.append(f"step {done}/{self.total} {100 * done // max(self.total, 1)}%")
        elif self.step is not None:
            details.append(f"step {self.step}")
        details.append(f"elapsed {duration(self.elapsed())}")
        if status not in JOB_TERMINAL:
            details.append(f"eta {duration(self.remaining())}")
        grid.add_row(Text(status, style=STATUS_STYLES.get(status, "bold")), bar, Text(" · ".join(details)))
        losses = [
            f"{name} loss {number(value)}"
            for name, value in (("train", self.train_loss), ("valid", self.valid_loss))
            if value is not None
        ]
        if losses:
            # A row of its own: the first row then fits a 100-column terminal whatever the step counts.
            grid.add_row("", "", Text(" · ".join(losses), style="dim"))
        return grid

    def final_line(self) -> Text:
        """The outcome in one line."""
        job, status = self.job, self.job.get("status")
        after = f" after {duration(self.elapsed())}"
        if status == "succeeded":
            tokens = job.get("trained_tokens")
            extra = f" ({tokens:,} trained tokens)" if isinstance(tokens, int) else ""
            return Text.assemble(
                (f"Job {self.job_id} succeeded{after}", STATUS_STYLES["succeeded"]),
                f": fine-tuned model {job.get('fine_tuned_model')}{extra}",
            )
        if status == "failed":
            raw = job.get("error")
            error: dict[str, Any] = raw if isinstance(raw, dict) else {}
            reason = ": ".join(str(x) for x in (error.get("code"), error.get("message")) if x) or "no error given"
            return Text.assemble((f"Job {self.job_id} failed{after}", STATUS_STYLES["failed"]), f": {reason}")
        return Text(f"Job {self.job_id} was {status}{after}", style=STATUS_STYLES.get(str(status), "bold"))


def _float(value: Any, default: float | None) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def run(args: argparse.Namespace, console: Console) -> int:
    """Follow the job to its end: 0 succeeded, 1 failed or cancelled, 130 on Ctrl-C (the job goes on)."""
    target = connection.resolve(args, job=True)
    assert target.job_id is not None  # resolve(job=True) guarantees it
    client = target.client()
    live = console.is_terminal and not console.is_dumb_terminal
    watcher = Watcher(client, target.job_id, console, live=live)
    try:
        if live:
            with Live(get_renderable=watcher.render, console=console, refresh_per_second=4, transient=False):
                job = watcher.follow(target.settings)
        else:
            job = watcher.follow(target.settings)
    except KeyboardInterrupt:
        # Stop watching only: nothing here ever cancels a job (that is `pulumi destroy`'s business).
        status = watcher.job.get("status") or "not read yet"
        console.print(
            Text.assemble(
                (f"Stopped watching {target.job_id}", "bold"),
                f"; the job goes on (last status: {status}). Resume with: ",
                (target.command("watch"), "bold"),
            ),
            soft_wrap=True,
        )
        return EXIT_INTERRUPTED
    finally:
        client.close()
    console.print(watcher.final_line(), soft_wrap=True)
    if job.get("status") == "succeeded":
        console.print(Text(f"Curves and checkpoints: {target.command('report')}", style="dim"), soft_wrap=True)
        return EXIT_SUCCEEDED
    return EXIT_FAILED
