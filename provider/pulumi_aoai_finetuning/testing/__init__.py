"""Test tools for stacks that use this package: the emulator as a fixture and a replay of the Pulumi engine.

Two replays of the engine share one layer of provider calls (:mod:`.provider_calls`, through the real
plugin in :mod:`.plugin`): :class:`EngineReplay` (:mod:`.engine`) drives resources one call at a time, and
the program harness (:func:`run_program`, :mod:`.program`) runs a whole Pulumi program as ``pulumi up``
would, offline; ``docs/harness.md`` describes how, and the module map. The Pulumi SDK's private helpers
the harness needs are imported only in :mod:`.pulumi_internals`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .emulator import FAST_POLLING, SECRET_CONFIG, EmulatedAccount, emulated_account
from .engine import UNKNOWN, CheckFailed, DynamicPlugin, EngineReplay, ProviderError, Step, resource_type

if TYPE_CHECKING:
    from .program import HarnessError, ProgramResult, ProgramStep, run_program

# The program harness is imported on first use, so that `python -m pulumi_aoai_finetuning.testing.program`
# runs a module nobody imported yet (runpy warns otherwise, and two copies of its classes would coexist).
_LAZY = {"HarnessError", "ProgramResult", "ProgramStep", "run_program"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(".program", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAST_POLLING",
    "SECRET_CONFIG",
    "UNKNOWN",
    "CheckFailed",
    "DynamicPlugin",
    "EmulatedAccount",
    "EngineReplay",
    "HarnessError",
    "ProgramResult",
    "ProgramStep",
    "ProviderError",
    "Step",
    "emulated_account",
    "resource_type",
    "run_program",
]
