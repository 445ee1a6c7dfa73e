"""A Pulumi project directory as the program harness reads it: ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from .results import HarnessError


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

    def stack_config(self, stack: str) -> tuple[dict[str, str], set[str]]:
        """Plain values of ``Pulumi.<stack>.yaml``; encrypted (``secure:``) values need the CLI."""
        path = self.directory / f"Pulumi.{stack}.yaml"
        if not path.is_file():
            return {}, set()
        values: dict[str, str] = {}
        secure: set[str] = set()
        for key, value in ((yaml.safe_load(path.read_text()) or {}).get("config") or {}).items():
            name = self.qualify(str(key))
            if isinstance(value, dict) and "secure" in value:
                secure.add(name)
            elif isinstance(value, str):
                values[name] = value
            else:
                values[name] = json.dumps(value)  # the engine hands structured config over as JSON text
        return values, secure
