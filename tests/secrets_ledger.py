"""A ledger of every secret the test runs use, and of every artifact they leave behind.

Installed for the whole test session by ``tests/conftest.py``: it records the API keys and bearer tokens in
play (every emulator's account keys, the secret stack config given to every plugin) and the artifacts a user
or an attacker could read (engine and harness state, ``__provider`` blobs, plugin stderr, provider and
check error texts, every file the tests left in their temporary directories), then counts every occurrence
of every secret in every artifact. The tally goes to ``$AOAI_SECRETS_REPORT`` (for ``RELIABILITY.md``); any
hit fails the session.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aoai_emulator.emulator import Emulator
from pulumi_aoai_finetuning.testing import engine as engine_module
from pulumi_aoai_finetuning.testing import program as program_module

MIN_SECRET = 8  # shorter strings would match by accident
SCANNED_SUFFIXES = (".json", ".log", ".txt", ".yaml", ".html", ".csv")


@dataclass
class Ledger:
    """Secrets seen and artifacts collected."""

    secrets: set[str] = field(default_factory=set)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    emulators: list[Emulator] = field(default_factory=list)
    engines: list[Any] = field(default_factory=list)

    def add(self, kind: str, text: str) -> None:
        """Keep an artifact to scan."""
        self.texts.append((kind, text))

    def scan(self, directory: Path | None) -> dict[str, Any]:
        """Count every secret in every artifact; the tally lists hits by artifact kind."""
        for emulator in self.emulators:
            for account in emulator.state()["accounts"].values():
                self.secrets.update(account["keys"])
        texts = list(self.texts)
        for engine in self.engines:
            texts.append(("engine state", json.dumps({n: vars(s) for n, s in engine.state.items()}, default=str)))
        if directory is not None and directory.exists():
            for path in directory.rglob("*"):
                if path.is_file() and path.suffix in SCANNED_SUFFIXES and path.stat().st_size < 50_000_000:
                    texts.append((f"file {path.suffix}", path.read_text(errors="replace")))
        secrets = {s for s in self.secrets if len(s) >= MIN_SECRET}
        kinds: dict[str, int] = {}
        for kind, _ in texts:
            bucket = "file" if kind.startswith("file") else kind
            kinds[bucket] = kinds.get(bucket, 0) + 1
        hits = [(kind, s[:4] + "...") for kind, text in texts for s in secrets if s in text]
        return {
            "secrets": len(secrets),
            "artifacts": len(texts),
            "by_kind": kinds,
            "bytes": sum(len(t) for _, t in texts),
            "hits": hits,
        }


LEDGER = Ledger()


def install() -> None:
    """Patch the constructors that create secrets and artifacts so they report to :data:`LEDGER`."""
    plugin_init, plugin_close = engine_module.DynamicPlugin.__init__, engine_module.DynamicPlugin.close
    replay_init, emulator_init = engine_module.EngineReplay.__init__, Emulator.__init__
    provider_error, check_failed = engine_module.ProviderError.__init__, engine_module.CheckFailed.__init__
    harness_error = program_module.HarnessError.__init__

    def plugin_init_(self: Any, config: Any = None, *args: Any, secrets: Any = None, **kwargs: Any) -> None:
        LEDGER.secrets.update(str(v) for k, v in (config or {}).items() if k in (secrets or ()))
        for value in (config or {}).values():  # a JSON map of keys (apiKeys) holds several secrets
            if isinstance(value, str) and value.startswith("{"):
                with contextlib.suppress(ValueError, AttributeError):
                    LEDGER.secrets.update(str(v) for v in json.loads(value).values())
        signed_in = (kwargs.get("env") or {}).get("AZURE_CLIENT_SECRET")  # a deployer signed in to Entra ID
        if signed_in:
            LEDGER.secrets.add(str(signed_in))
        plugin_init(self, config, *args, secrets=secrets, **kwargs)

    def plugin_close_(self: Any) -> None:
        log = Path(self._stderr.name)
        if log.exists():
            LEDGER.add("plugin stderr", log.read_text(errors="replace"))
        plugin_close(self)

    def replay_init_(self: Any, *args: Any, **kwargs: Any) -> None:
        replay_init(self, *args, **kwargs)
        LEDGER.engines.append(self)

    def emulator_init_(self: Any, *args: Any, **kwargs: Any) -> None:
        emulator_init(self, *args, **kwargs)
        LEDGER.emulators.append(self)

    def provider_error_(self: Any, method: str, details: str) -> None:
        LEDGER.add("provider error", details)
        provider_error(self, method, details)

    def check_failed_(self: Any, failures: Any) -> None:
        LEDGER.add("check failure", json.dumps(failures))
        check_failed(self, failures)

    def harness_error_(self: Any, *args: Any, **kwargs: Any) -> None:
        harness_error(self, *args, **kwargs)
        LEDGER.add("harness error", str(self))

    engine_module.DynamicPlugin.__init__ = plugin_init_  # type: ignore[method-assign]
    engine_module.DynamicPlugin.close = plugin_close_  # type: ignore[method-assign]
    engine_module.EngineReplay.__init__ = replay_init_  # type: ignore[method-assign]
    Emulator.__init__ = emulator_init_  # type: ignore[method-assign]
    engine_module.ProviderError.__init__ = provider_error_  # type: ignore[method-assign]
    engine_module.CheckFailed.__init__ = check_failed_  # type: ignore[method-assign]
    program_module.HarnessError.__init__ = harness_error_  # type: ignore[method-assign]
