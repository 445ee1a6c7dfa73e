"""The in-process factory: an emulator's ASGI app together with the controls tests and scripts use."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import admin
from .app import EmulatorApp
from .blobs import DEFAULT_MEMORY_LIMIT_MB
from .catalog import Limits, Timings
from .clock import Clock, ClockMode
from .faults import FaultRule, parse_rule
from .server import ServerThread
from .service import Service
from .state import Store
from .tls import make_certificate


class Emulator:
    """One emulator: ``app`` to mount or serve, and the controls of the admin API as methods."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.app = EmulatorApp(service)
        self._servers: list[ServerThread] = []
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None

    # --- controls -----------------------------------------------------------------------------------

    def advance(self, seconds: float) -> float:
        """Move emulator time forward."""
        return self.service.clock.advance(seconds)

    def add_fault(self, rule: FaultRule | Mapping[str, Any] | str) -> FaultRule:
        """Activate a fault rule."""
        with self.service.lock:
            return self.service.faults.add(
                rule if isinstance(rule, FaultRule) else parse_rule(dict(rule) if isinstance(rule, Mapping) else rule)
            )

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        with self.service.lock:
            self.service.faults.clear()

    def requests(self) -> list[dict[str, Any]]:
        """The log of requests served (method, path, status, ...)."""
        with self.service.lock:
            return list(self.service.requests)

    def state(self) -> dict[str, Any]:
        """The current state (a live reference: read, do not change)."""
        return self.service.store.data

    def seed_account(self, name: str, location: str = "eastus2", **kwargs: Any) -> dict[str, Any]:
        """Create a ready account without ARM; returns its endpoint, keys and ARM id."""
        with self.service.lock:
            if self._servers:
                self.service.base_url = self._servers[0].url
            return admin.seed_account(self.service, name, location, **kwargs)

    def reset(self) -> None:
        """Forget all state, faults and logged requests."""
        with self.service.lock:
            self.service.store.reset()
            self.service.verdicts.clear()
            self.service.tokens.clear()
            self.service.faults.clear()
            self.service.requests.clear()

    # --- serving -------------------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0, *, tls: bool = False) -> ServerThread:
        """Serve on a real socket from a background thread (``port`` 0 picks one); returns the server."""
        cert = None
        if tls:
            self._tls_dir = tempfile.TemporaryDirectory(prefix="aoai-emulator-tls-")
            cert = make_certificate(Path(self._tls_dir.name), host)
        server = ServerThread(self.app, host=host, port=port, tls=cert)
        self.service.base_url = server.url
        self._servers.append(server)
        return server

    def close(self) -> None:
        """Stop every server and remove temporary files."""
        for server in self._servers:
            server.stop()
        self._servers.clear()
        if self._tls_dir is not None:
            self._tls_dir.cleanup()
        self.service.verdicts.close()
        self.service.store.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create_emulator(
    *,
    clock: ClockMode | Clock = "immediate",
    time_scale: float = 1.0,
    state_file: str | Path | None = None,
    seed: int | None = None,
    timings: Mapping[str, float] | None = None,
    limits: Limits | None = None,
    faults: Iterable[FaultRule | Mapping[str, Any] | str] = (),
    blob_memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB,
) -> Emulator:
    """Build an emulator in-process: its ASGI ``app`` plus controls (``advance``, ``add_fault``, ``requests``, ...)."""
    the_clock = clock if isinstance(clock, Clock) else Clock(clock, scale=time_scale)
    service = Service(
        clock=the_clock,
        store=Store(state_file, seed, blob_memory_limit_mb=blob_memory_limit_mb),
        timings=Timings().with_overrides(dict(timings or {})),
        limits=limits,
    )
    emulator = Emulator(service)
    for rule in faults:
        emulator.add_fault(rule)
    return emulator
