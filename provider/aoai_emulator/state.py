"""Everything the emulator knows, as plain JSON-able dicts, with an optional state file and its blobs.

Objects are dicts in Azure's wire shape; keys starting with ``_`` are the emulator's own bookkeeping and
never leave the server. Keeping the state as plain data makes the state file a straight JSON dump and
``GET /_emulator/state`` honest.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .blobs import DEFAULT_MEMORY_LIMIT_MB, BlobStore
from .ids import IdFactory

Obj = dict[str, Any]
SCHEMA = 1


def empty_state() -> dict[str, Any]:
    """A state with nothing in it."""
    return {
        "schema": SCHEMA,
        "clock_now": None,
        "id_counter": 0,
        "resource_groups": {},  # "<sub>/<group>" lowercased -> group
        "accounts": {},  # account name lowercased -> account record
        "operations": {},  # ARM async operation id -> operation
        "copies": {},  # copy key -> copy record
        "deleted_accounts": {},  # account name lowercased -> soft-deleted account record (kept 48 hours)
    }


class Store:
    """The emulator's state, its id factory and the file contents (:attr:`blobs`)."""

    def __init__(
        self,
        state_file: str | os.PathLike[str] | None = None,
        seed: int | None = None,
        *,
        blob_memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB,
    ) -> None:
        self.state_file = Path(state_file) if state_file else None
        self.data: dict[str, Any] = empty_state()
        if self.state_file and self.state_file.exists():
            loaded = json.loads(self.state_file.read_text())
            if loaded.get("schema") != SCHEMA:
                raise ValueError(f"{self.state_file}: state schema {loaded.get('schema')} is not {SCHEMA}")
            self.data = loaded
        self.seed = self.data.setdefault("seed", seed if seed is not None else IdFactory().seed)
        self.ids = IdFactory(self.seed, self.data["id_counter"])
        if self.state_file:
            # The state outlives the process, so its blobs must too: every one is on disk.
            self.blobs = BlobStore(Path(f"{self.state_file}.blobs"), 0, owned=False)
        else:
            directory = Path(tempfile.mkdtemp(prefix="aoai-emulator-blobs-"))
            self.blobs = BlobStore(directory, blob_memory_limit_mb * 1024 * 1024, owned=True)

    # --- accounts and their collections ----------------------------------------------------------

    def account(self, name: str) -> Obj | None:
        """The account record named ``name`` (case-insensitive), if any."""
        found: Obj | None = self.data["accounts"].get(name.lower())
        return found

    def accounts(self) -> list[Obj]:
        """All account records."""
        return list(self.data["accounts"].values())

    # --- persistence --------------------------------------------------------------------------------

    def save(self, now: float) -> None:
        """Write the state file atomically (no-op without one), so a crash never leaves half a file."""
        self.data["clock_now"] = now
        self.data["id_counter"] = self.ids.counter
        if not self.state_file:
            return
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(json.dumps(self.data, separators=(",", ":")))
        os.replace(tmp, self.state_file)

    def reset(self) -> None:
        """Forget everything, blobs included."""
        seed = self.seed
        self.data = empty_state()
        self.data["seed"] = seed
        self.ids = IdFactory(seed, 0)
        self.blobs.reset()

    def close(self) -> None:
        """Free the blobs' memory and remove the temporary blob directory of an emulator without a state file."""
        self.blobs.close()
