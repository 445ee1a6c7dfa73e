"""Stack references: another harness stack's outputs, read from its state file."""

from __future__ import annotations

from typing import Any

from pulumi.runtime import rpc

from . import checkpoint
from .context import _Context
from .results import HarnessError
from .stack_config import StackConfigError


def read_stack_reference(ctx: _Context, name: str) -> dict[str, Any]:
    """Another harness stack's outputs, read from its state file."""
    short = name.rsplit("/", 1)[-1]
    path = ctx.stack_references.get(name) or ctx.stack_references.get(short)
    path = path or ctx.state_file.parent / f"{short}.json"
    if not path.is_file():
        raise HarnessError(
            f"StackReference {name!r}: no state file {path}; pass stack_references={{{name!r}: PATH}} "
            f"(--stack-ref {name}=PATH)"
        )
    try:
        data = checkpoint.load(path, ctx.project.crypter(short))
    except (checkpoint.StateFormatError, StackConfigError) as exc:
        raise HarnessError(f"StackReference {name!r}: {exc}") from None
    secret = set(data.secret_outputs)
    outputs = {k: rpc.wrap_rpc_secret(v) if k in secret else v for k, v in data.outputs.items()}
    return {"name": name, "outputs": outputs, "secretOutputNames": sorted(secret)}
