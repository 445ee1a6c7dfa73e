"""Test tools for stacks that use this package: the emulator as a fixture and a replay of the Pulumi engine."""

from .emulator import FAST_POLLING, SECRET_CONFIG, EmulatedAccount, emulated_account
from .engine import UNKNOWN, CheckFailed, DynamicPlugin, EngineReplay, ProviderError, Step, resource_type
from .program import HarnessError, ProgramResult, ProgramStep, run_program

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
