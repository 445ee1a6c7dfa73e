"""A Pulumi project directory as the program harness reads it: ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from .passphrase import PassphraseCrypter
from .results import HarnessError
from .stack_config import StackConfig, StackConfigError


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory: its name, its program's entry point, its stack config files."""

    directory: Path
    name: str
    main: Path

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Project:
        """Read ``Pulumi.yaml``; only Python programs can run here."""
        root = Path(directory).resolve()
        spec_file = root / "Pulumi.yaml"
        if not spec_file.is_file():
            raise HarnessError(f"{root}: no Pulumi.yaml (a project directory, as `pulumi new python` makes, is needed)")
        try:
            spec = yaml.safe_load(spec_file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise HarnessError(f"{spec_file}: not valid YAML: {exc}") from None
        runtime = spec.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
        if runtime_name != "python":
            raise HarnessError(f"{spec_file}: runtime is {runtime_name!r}; this harness runs Python programs only")
        if not isinstance(spec.get("name"), str) or not spec["name"]:
            raise HarnessError(f"{spec_file}: the project needs a name")
        main = root / str(spec.get("main") or ".")
        if main.is_dir():
            main = main / "__main__.py"
        if not main.is_file():
            raise HarnessError(f"{spec_file}: the program's entry point {main} does not exist")
        return cls(root, spec["name"], main)

    def qualify(self, key: str) -> str:
        """A config key as the engine names it: bare keys belong to the project's namespace."""
        return key if ":" in key else f"{self.name}:{key}"

    def crypter(self, stack: str) -> PassphraseCrypter | None:
        """The stack's passphrase crypter: when ``Pulumi.<stack>.yaml`` has an ``encryptionsalt`` and a passphrase is set."""
        return StackConfig.load(self.directory / f"Pulumi.{stack}.yaml").crypter()

    def stack_config(self, stack: str) -> tuple[dict[str, str], set[str]]:
        """Values of ``Pulumi.<stack>.yaml`` and the keys stored encrypted (``secure:``).

        Encrypted values are decrypted with ``PULUMI_CONFIG_PASSPHRASE`` (or ``..._FILE``) when it is set, as
        the CLI does; without it they are left out (and must be given as secrets).
        """
        file = StackConfig.load(self.directory / f"Pulumi.{stack}.yaml")
        try:
            return file.values(self.qualify, file.crypter() if file.config else None)
        except StackConfigError as exc:
            raise HarnessError(str(exc)) from None
