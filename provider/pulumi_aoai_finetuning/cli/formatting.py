"""How numbers, sizes, times and durations read in the terminal and in reports."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any


def size(n: int) -> str:
    """A byte count as people read it (``3.4 kB``, ``1.2 MB``)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def number(value: float | None) -> str:
    """A metric: six significant digits (what results.csv holds), integers without a decimal point."""
    if value is None or math.isnan(value):
        return "-"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def duration(seconds: float | None) -> str:
    """``1:02:03`` / ``2:03``; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def timestamp(epoch: Any) -> str:
    """A service timestamp (unix seconds) as UTC ``2025-01-31 12:34``; ``-`` when absent."""
    if not isinstance(epoch, int | float) or isinstance(epoch, bool):
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def clock(epoch: Any) -> str:
    """A service timestamp as UTC time of day (``12:34:56``), for event lines."""
    if not isinstance(epoch, int | float) or isinstance(epoch, bool):
        return "--:--:--"
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")
