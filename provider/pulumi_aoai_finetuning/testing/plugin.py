"""The SDK's real dynamic-provider server (``python -m pulumi.dynamic``), started and configured as the CLI does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import grpc
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from .provider_calls import ProviderError, to_struct


class DynamicPlugin:
    """The real ``python -m pulumi.dynamic`` server in a subprocess, configured with stack config."""

    def __init__(
        self,
        config: dict[str, str] | None = None,
        *,
        secrets: set[str] | None = None,
        project: str = "proj",
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = dict(config or {})
        self.secrets = set(secrets or ())
        self.project = project
        self.cwd = str(cwd) if cwd else os.getcwd()
        self.env = {**os.environ, "PULUMI_PROJECT": project, **(env or {})}
        self._stderr = tempfile.NamedTemporaryFile(prefix="pulumi-dynamic-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.isdigit():
            self.close()
            raise RuntimeError(f"the dynamic provider server did not start: {self.stderr()}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        args = {k: rpc.wrap_rpc_secret(v) if k in self.secrets else v for k, v in self.config.items()}
        self.configure_response = self.stub.Configure(
            provider_pb2.ConfigureRequest(
                args=to_struct(args),
                acceptSecrets=True,
                acceptResources=True,
                type="pulumi:providers:pulumi-python",
                name="default",
            )
        )

    def stderr(self) -> str:
        """What the plugin wrote on stderr so far (the engine shows it as diagnostics)."""
        return Path(self._stderr.name).read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the plugin, as when the CLI is killed in the middle of an operation."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.channel.close()

    def close(self) -> None:
        """Stop the plugin and remove its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if hasattr(self, "channel"):
            self.channel.close()
        if self.process.stdout:
            self.process.stdout.close()
        self._stderr.close()
        Path(self._stderr.name).unlink(missing_ok=True)

    def __enter__(self) -> DynamicPlugin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, request: Any) -> Any:
        """One RPC; a provider exception becomes :class:`ProviderError` with the engine's details."""
        try:
            return getattr(self.stub, method)(request)
        except grpc.RpcError as exc:
            raise ProviderError(method, exc.details() or str(exc)) from None
