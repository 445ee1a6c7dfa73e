"""A local Azure OpenAI fine-tuning and ARM emulator that the official clients accept unchanged.

Start it with the ``aoai-emulator`` command (its first stdout line is its URL) or in-process with
:func:`create_emulator`. README.md ("The emulator") says what it emulates and how faithfully.
"""

from .catalog import Limits, Timings
from .clock import Clock
from .emulator import Emulator, create_emulator
from .faults import FaultRule

__all__ = ["Clock", "Emulator", "FaultRule", "Limits", "Timings", "create_emulator"]
