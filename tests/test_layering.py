"""Layering: no module imports a private module or name (``_x``) of a package it is not part of.

A private module (``resources/_common.py``) or a private name of a module (``testing.engine._clean``) may
change with no notice; only modules of the package that holds it may rely on it. Dunder names are public.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pulumi_aoai_finetuning.testing import pulumi_internals

ROOT = Path(__file__).resolve().parents[1]
TREES = ("provider", "tests", "benchmarks", "scripts")
OURS = ("pulumi_aoai_finetuning", "aoai_emulator", "tests", "benchmarks", "scripts")


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _module_name(path: Path) -> tuple[str, bool]:
    """The dotted name of a file and whether it is a package's ``__init__``."""
    rel = path.relative_to(ROOT / "provider" if path.is_relative_to(ROOT / "provider") else ROOT)
    parts = list(rel.with_suffix("").parts)
    is_init = parts[-1] == "__init__"
    if is_init:
        parts = parts[:-1]
    return ".".join(parts), is_init


def _absolute(node: ast.ImportFrom, module: str, is_init: bool) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_init else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _package_of(prefix: list[str]) -> str:
    """The package a member of ``prefix`` belongs to: ``prefix`` itself, or its parent when it is a module."""
    base = ROOT / "provider" if prefix[0] in OURS[:2] else ROOT
    is_package = (base.joinpath(*prefix) / "__init__.py").exists()
    return ".".join(prefix if is_package else prefix[:-1])


def violations_in(path: Path) -> list[str]:
    """Each import in ``path`` of a private module or name that lives outside the file's own package."""
    module, is_init = _module_name(path)
    own_package = module if is_init else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, is_init)
            targets = [f"{source}.{alias.name}" for alias in node.names if alias.name != "*"]
        for target in targets:
            parts = target.split(".")
            if parts[0] not in OURS:
                continue
            for i, part in enumerate(parts):
                if not _private(part):
                    continue
                owner = _package_of(parts[:i])
                if not (own_package == owner or own_package.startswith(owner + ".")):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports {target} (private to {owner})")
                    break
    return found


def test_no_import_of_a_private_module_or_name_from_outside_its_package() -> None:
    """Every module under provider/, tests/, benchmarks/ and scripts/ imports only public names of other packages."""
    files = [p for tree in TREES for p in sorted((ROOT / tree).rglob("*.py")) if ".venv" not in p.parts]
    assert len(files) > 50
    found = [v for path in files for v in violations_in(path)]
    assert found == [], "use a public name instead (or make it public):\n" + "\n".join(found)


def test_the_walker_catches_what_it_looks_for(tmp_path: Path) -> None:
    """A private module and a private name imported from another package are both reported; one's own are not."""
    cli = ROOT / "provider" / "pulumi_aoai_finetuning" / "cli" / "connection.py"
    source = cli.read_text()
    probe = cli.with_name("_layering_probe.py")
    try:
        probe.write_text(
            "from ..resources._common import Provider\n"
            "from ..testing.engine import _clean\n"
            "from . import connection\n"
            "from ._layering_probe import x\n"
        )
        found = violations_in(probe)
    finally:
        probe.unlink()
    assert cli.read_text() == source
    assert [f.split(": imports ")[1] for f in found] == [
        "pulumi_aoai_finetuning.resources._common.Provider (private to pulumi_aoai_finetuning.resources)",
        "pulumi_aoai_finetuning.testing.engine._clean (private to pulumi_aoai_finetuning.testing)",
    ]


# --- the Pulumi SDK's private helpers --------------------------------------------------------------------

INTERNALS = ROOT / "provider" / "pulumi_aoai_finetuning" / "testing" / "pulumi_internals.py"
INTERNALS_TEST = ROOT / "tests" / "harness" / "test_pulumi_internals.py"


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as its parts, or None for anything but a chain of names."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else [*base, node.attr]
    return None


def pulumi_private_uses(source: str, where: str) -> list[str]:
    """Each import or attribute in ``source`` that reaches one of the SDK helpers ``pulumi_internals`` isolates."""
    helpers = set(pulumi_internals.HELPERS)

    def is_helper(name: str) -> bool:
        return any(name == h or name.startswith(h + ".") for h in helpers)

    tree = ast.parse(source, where)
    names: dict[str, str] = {}  # local name -> what it is bound to
    found = []
    for node in ast.walk(tree):
        bound: list[tuple[str, str]] = []
        if isinstance(node, ast.Import):
            bound = [
                (a.asname or a.name.split(".")[0], a.name if a.asname else a.name.split(".")[0]) for a in node.names
            ]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            bound = [(a.asname or a.name, f"{node.module}.{a.name}") for a in node.names]
        for local, target in bound:
            names[local] = target
            if is_helper(target):
                found.append(f"{where}:{node.lineno}: imports {target}")
    for node in ast.walk(tree):
        parts = _dotted(node) if isinstance(node, ast.Attribute) else None
        if parts and parts[0] in names:
            target = ".".join([names[parts[0]], *parts[1:]])
            if target in helpers:  # the chain that names it, not the longer ones that go on from it
                found.append(f"{where}:{node.lineno}: uses {target}")
    return sorted(set(found))


def test_only_pulumi_internals_touches_the_sdk_private_helpers() -> None:
    """Every module but ``testing/pulumi_internals.py`` (and its own test) reaches the SDK's helpers through it."""
    files = [p for tree in TREES for p in sorted((ROOT / tree).rglob("*.py")) if ".venv" not in p.parts]
    found = [
        use
        for path in files
        if path not in (INTERNALS, INTERNALS_TEST)
        for use in pulumi_private_uses(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert found == [], "use pulumi_aoai_finetuning.testing.pulumi_internals instead:\n" + "\n".join(found)
    assert pulumi_private_uses(INTERNALS.read_text(), "pulumi_internals.py"), "the walker sees the module's own uses"


def test_the_pulumi_walker_catches_imports_and_attributes() -> None:
    """An import of a helper, a module alias and an attribute chain to one are all reported; public names are not."""
    source = (
        "import pulumi\n"
        "from pulumi.runtime import settings as s\n"
        "from pulumi.runtime.sync_await import _sync_await\n"
        "from pulumi.runtime.stack import run_in_stack\n"
        "s.ROOT.set(None)\n"
        "pulumi.runtime.stack.massage({}, [])\n"
        "pulumi.runtime.get_root_resource()\n"
    )
    assert pulumi_private_uses(source, "probe.py") == [
        "probe.py:3: imports pulumi.runtime.sync_await._sync_await",
        "probe.py:5: uses pulumi.runtime.settings.ROOT",
        "probe.py:6: uses pulumi.runtime.stack.massage",
    ]
