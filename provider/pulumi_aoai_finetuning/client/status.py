"""One vocabulary of statuses: when a fine-tuning job or an ARM long-running operation has ended, and how."""

from __future__ import annotations

# A fine-tuning job's ``status`` (data plane): these three never change again.
JOB_TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
# Ended without a model: the job must be submitted again to get one.
JOB_DEAD = frozenset({"failed", "cancelled"})
# Paused, or on the way there: a resume is needed to finish.
JOB_PAUSED = frozenset({"paused", "pausing"})

# An ARM operation's ``status`` or a resource's ``provisioningState``, lowercased. Azure spells the cancelled
# state ``Canceled``; both spellings end an operation.
OPERATION_SUCCEEDED = "succeeded"
OPERATION_FAILED = frozenset({"failed", "canceled", "cancelled"})
OPERATION_TERMINAL = OPERATION_FAILED | {OPERATION_SUCCEEDED}


def operation_state(value: object) -> str:
    """An ARM status or ``provisioningState`` normalised for comparison (a missing one counts as succeeded)."""
    return str(value if value is not None else OPERATION_SUCCEEDED).lower()
