"""Test tools for stacks that use this package: the emulator as a fixture and a replay of the Pulumi engine."""

from .emulator import FAST_POLLING, SECRET_CONFIG, EmulatedAccount, emulated_account
from .engine import UNKNOWN, CheckFailed, DynamicPlugin, EngineReplay, ProviderError, Step, resource_type

__all__ = [
    "FAST_POLLING",
    "SECRET_CONFIG",
    "UNKNOWN",
    "CheckFailed",
    "DynamicPlugin",
    "EmulatedAccount",
    "EngineReplay",
    "ProviderError",
    "Step",
    "emulated_account",
    "resource_type",
]
