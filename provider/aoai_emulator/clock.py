"""The emulator's injected clock: every timestamp and every state change is derived from it.

Three modes, chosen when the emulator starts:

- ``immediate``: emulator time follows the wall clock, and every read of a long-running object
  (a job, a file, an ARM operation) moves that object one step on. Tests get through a whole
  workflow in a handful of polls without sleeping.
- ``manual``: time stands still until ``advance(seconds)`` is called (``POST /_emulator/clock/advance``).
  Objects change state exactly when their deadlines are passed.
- ``time``: wall time multiplied by ``scale``: a one-hour job takes a minute at ``scale=60``.

``advance`` works in every mode (it adds an offset), so the 15-day idle deletion of a deployment can
be tested in seconds whatever the mode.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

ClockMode = Literal["immediate", "manual", "time"]
CLOCK_MODES: tuple[ClockMode, ...] = ("immediate", "manual", "time")


class Clock:
    """Emulator time, in unix seconds (float), from one of the three modes."""

    def __init__(
        self,
        mode: ClockMode = "immediate",
        *,
        scale: float = 1.0,
        start: float | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if mode not in CLOCK_MODES:
            raise ValueError(f"clock mode must be one of {', '.join(CLOCK_MODES)}, not {mode!r}")
        if scale <= 0:
            raise ValueError(f"time scale must be positive, not {scale}")
        self.mode: ClockMode = mode
        self.scale = scale
        self._wall = wall
        self._wall0 = wall()
        self._start = self._wall0 if start is None else start
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def stepwise(self) -> bool:
        """True when reads, not time, move objects on (the ``immediate`` mode)."""
        return self.mode == "immediate"

    def now(self) -> float:
        """The current emulator time."""
        with self._lock:
            if self.mode == "manual":
                return self._start + self._offset
            if self.mode == "time":
                return self._start + (self._wall() - self._wall0) * self.scale + self._offset
            return self._wall() + self._offset

    def advance(self, seconds: float) -> float:
        """Move emulator time forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()

    def resume_from(self, saved_now: float) -> None:
        """Continue from a saved time after a restart, so that time never runs backwards."""
        behind = saved_now - self.now()
        if behind > 0:
            with self._lock:
                self._offset += behind

    def wall_seconds(self, emulator_seconds: float) -> float:
        """How long a client should wait, in wall seconds, for ``emulator_seconds`` to pass."""
        if self.mode == "time":
            return emulator_seconds / self.scale
        return emulator_seconds

    def describe(self) -> dict[str, object]:
        """The clock's settings and current time, for ``GET /_emulator/clock``."""
        return {"mode": self.mode, "scale": self.scale, "now": self.now()}
