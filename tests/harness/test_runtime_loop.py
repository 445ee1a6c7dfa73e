"""The harness owns the Pulumi runtime's loop: code that unsets the thread's loop leaves nothing unclosed."""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import Any

import pytest

from tests.test_program_harness import Stack


def test_a_loop_unset_between_runs_is_closed_by_the_harness_not_left_to_the_collector(
    tiny: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An `asyncio.run` between two commands unsets the runtime's loop; the next command closes it, no warning."""
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    tiny.run("preview")

    async def nothing() -> None:
        await asyncio.sleep(0)

    asyncio.run(nothing())  # sets the main thread's loop to None at its end
    gc.collect()
    tiny.run("preview")
    gc.collect()
    assert [str(u.exc_value) for u in unraisable] == []
