"""What a program-harness command did, or why it failed: its steps, stack outputs and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

PREVIEW_UNKNOWN = "[unknown]"  # a stack output that a preview cannot know yet
REDACTED = "[secret]"  # a secret stack output read back from the state, which keeps only its hash
SHOWN_UNKNOWN = "output<unknown>"  # how the CLI shows a value only the update will know


class HarnessError(Exception):
    """A command failed; the message names the resource and the cause, as the CLI would print it."""


class PropertyChange(NamedTuple):
    """One changed property as printed: old and new values shown as JSON, secrets masked, unknowns named."""

    name: str
    old: str
    new: str


class ProgramStep(NamedTuple):
    """What a command did (or, in a preview, would do) to one resource.

    ``op`` is one of create, same, update, replace, delete, delete-replaced (the old half of a replacement,
    removed at the end), refresh, refresh-deleted, import (a pending create read into the state by refresh).
    """

    urn: str
    op: str
    preview: bool = False  # planned by a preview (``preview``, or the one ``up`` runs first), not carried out
    # update/replace: the input properties that change; refresh: the outputs found changed
    changed: tuple[PropertyChange, ...] = ()
    replaces: tuple[str, ...] = ()  # replace: the properties that force it

    @property
    def paid_training(self) -> bool:
        """Whether the step submits (or, in a preview, would submit) a new, billed fine-tuning run."""
        return self.type.endswith(":FineTuningJob") and self.op in ("create", "replace")

    @property
    def name(self) -> str:
        """The resource's logical name."""
        return self.urn.rsplit("::", 1)[-1]

    @property
    def type(self) -> str:
        """The resource's type token."""
        return self.urn.split("::")[2].rsplit("$", 1)[-1]


@dataclass
class ProgramResult:
    """What one command did: its steps, the stack outputs, and the plugin's diagnostics.

    ``outputs`` are the program's exports after ``up`` and ``preview`` (:data:`PREVIEW_UNKNOWN` where a preview
    cannot know them), the stored ones after ``refresh`` (:data:`REDACTED` for secrets), none after
    ``destroy``.
    """

    command: str
    stack: str
    steps: list[ProgramStep]
    outputs: dict[str, Any]
    secret_outputs: set[str] = field(default_factory=set)
    drift: list[str] = field(default_factory=list)  # refresh: URNs whose outputs changed
    diagnostics: str = ""  # what the dynamic-provider plugin printed (the CLI shows it as diagnostics)
    preview: list[ProgramStep] = field(default_factory=list)  # up: the steps its preview planned
    warnings: list[str] = field(default_factory=list)  # the engine's warnings, e.g. about pending operations
    pending_operations: list[tuple[str, str]] = field(default_factory=list)  # (type, URN) left in the state

    def ops(self) -> dict[str, str]:
        """The op of each resource by logical name (a replacement's ``delete-replaced`` left out)."""
        return {step.name: step.op for step in self.steps if step.op != "delete-replaced"}

    def changes(self) -> list[ProgramStep]:
        """The steps that change something (or would, in a preview)."""
        return [step for step in self.steps if step.op not in ("same", "refresh")]
