"""The emulated service's core: state, clock, limits and timings, shared by the data plane, ARM and admin API."""

from __future__ import annotations

import threading
from typing import Any

from .catalog import Limits, Timings
from .clock import Clock
from .faults import FaultBook
from .signing import Signer
from .state import Obj, Store
from .trained_tokens import TokenBook
from .verdicts import VerdictBook
from .views import ViewCache


class Service:
    """Everything one emulator instance knows and how its time runs."""

    def __init__(
        self,
        *,
        clock: Clock,
        store: Store,
        timings: Timings | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.clock = clock
        self.store = store
        self.timings = timings or Timings()
        self.limits = limits or Limits()
        self.faults = FaultBook()
        self.signer = Signer()
        self.requests: list[dict[str, Any]] = []
        self.request_seq = 0
        self.lock = threading.RLock()
        self.base_url = ""
        self.views = ViewCache()
        self.verdicts = VerdictBook()
        self.tokens = TokenBook()
        saved = store.data.get("clock_now")
        if isinstance(saved, int | float):
            clock.resume_from(float(saved))

    def now(self) -> float:
        """Emulator time now."""
        return self.clock.now()

    def step(self, read: bool = True) -> bool | None:
        """How a settle call should move an object: see :func:`lifecycle.fire_at`."""
        return read if self.clock.stepwise else None

    @property
    def accounts(self) -> dict[str, Obj]:
        """Account records by lower-cased name."""
        found: dict[str, Obj] = self.store.data["accounts"]
        return found

    def endpoint(self, account: Obj) -> str:
        """The data-plane endpoint of an account, as ARM reports it: its custom subdomain's, or its region's."""
        from .endpoints import endpoint  # noqa: PLC0415 - endpoints imports this module

        return endpoint(self.base_url, account)

    def log(self, entry: dict[str, Any]) -> None:
        """Remember a served request for ``GET /_emulator/requests``."""
        self.request_seq += 1
        entry["seq"] = self.request_seq
        self.requests.append(entry)
        if len(self.requests) > 100_000:
            del self.requests[:10_000]

    def save(self) -> None:
        """Persist the state file if there is one."""
        self.store.save(self.now())
