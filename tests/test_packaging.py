"""The distribution declares every third-party package its code imports (a clean install must import it all)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROVIDER = ROOT / "provider"
OWN = {"pulumi_aoai_finetuning", "aoai_emulator"}
# Namespace packages are shared by several distributions: the second name component tells which.
NAMESPACES = {"azure", "google"}  # namespace packages: a distribution per second-level name
# Namespace modules whose distribution is named otherwise.
DISTRIBUTION_OF = {"google.protobuf": "protobuf"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules() -> dict[str, str]:
    """Every absolute import outside the standard library, with the first file:line that imports it."""
    found: dict[str, str] = {}
    for path in sorted(PROVIDER.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] in sys.stdlib_module_names or parts[0] in OWN or parts[0] == "__future__":
                    continue
                key = ".".join(parts[:2]) if parts[0] in NAMESPACES else parts[0]
                found.setdefault(key, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _distribution(module: str) -> str:
    """The installed distribution that provides ``module``."""
    for prefix, distribution in DISTRIBUTION_OF.items():
        if module == prefix or module.startswith(prefix + "."):
            return distribution
    top = module.split(".", maxsplit=1)[0]
    candidates = importlib.metadata.packages_distributions().get(top, [])
    if top in NAMESPACES:
        wanted = _normal(module)
        candidates = [d for d in candidates if _normal(d) == wanted]
    assert len(candidates) >= 1, f"no installed distribution provides {module}"
    return _normal(candidates[0])


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_normal(re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def test_every_imported_package_is_a_declared_dependency() -> None:
    """The program harness imports yaml and the engine replay grpc: pyproject must declare both."""
    imported = _imported_modules()
    assert {"yaml", "grpc"} <= imported.keys()  # the walk sees the imports this test is about
    declared = _declared()
    missing = {
        f"{module} ({where}) from {_distribution(module)}"
        for module, where in imported.items()
        if _distribution(module) not in declared
    }
    assert not missing, f"imported but not in [project] dependencies of pyproject.toml: {sorted(missing)}"
