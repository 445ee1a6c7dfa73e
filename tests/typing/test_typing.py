"""The resources' signatures are typed: programs pass ``mypy --strict``, and a user's usual mistakes do not.

The examples and a program using every resource type-check; a misspelled keyword or a string for a number is
a type error.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent
EXAMPLES = ("quickstart", "promotion", "continuous", "cross-region")
# pulumi-azure-native is typed but huge: the examples' account resources are not what is checked here.
CONFIG = """\
[mypy]
strict = True
python_version = 3.11
warn_unreachable = True

[mypy-pulumi_azure_native.*]
follow_imports = skip
"""


@pytest.fixture(scope="module")
def mypy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A folder for the programs to check, and the mypy command (this venv's) with its config and cache there."""
    folder = tmp_path_factory.mktemp("typing")
    config = folder / "mypy.ini"
    config.write_text(CONFIG)
    command = [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(folder / "cache")]
    return folder, command


def _run(command: list[str], files: list[Path], cwd: Path) -> str:
    done = subprocess.run(
        [*command, *map(str, files)], capture_output=True, text=True, cwd=cwd, timeout=600, check=False
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2 would mean mypy itself could not run
    return done.stdout


def test_examples_and_the_typing_program_pass_mypy_strict(mypy: tuple[Path, list[str]]) -> None:
    """The four examples (as modules of their own: each is a ``__main__``) and tests/typing/program.py."""
    folder, command = mypy
    files = []
    for name in EXAMPLES:
        copy = folder / f"example_{name.replace('-', '_')}.py"
        shutil.copyfile(ROOT / "examples" / name / "__main__.py", copy)
        files.append(copy)
    files.append(HERE / "program.py")
    out = _run(command, files, folder)
    assert out.strip().endswith(f"Success: no issues found in {len(files)} source files"), out


def _line(marker: str) -> int:
    lines = (HERE / "bad_program.py").read_text().splitlines()
    (number,) = [i for i, text in enumerate(lines, 1) if text.rstrip().endswith(f"# {marker}")]
    return number


def test_misspelled_keywords_and_wrong_types_are_type_errors(mypy: tuple[Path, list[str]]) -> None:
    """``modle=``, ``capacity="2"`` (keywords and Args) and a misspelled quality_gate key: one error each."""
    folder, command = mypy
    out = _run(command, [HERE / "bad_program.py"], folder)
    errors: dict[int, list[str]] = {}
    for match in re.finditer(r"bad_program\.py:(\d+): error: (.*)", out):
        errors.setdefault(int(match[1]), []).append(match[2])
    assert any('Unexpected keyword argument "modle"' in e for e in errors.get(_line("MISSPELLED"), [])), out
    assert any('No overload variant of "Deployment"' in e for e in errors.get(_line("STRING"), [])), out
    assert any(
        'Argument "capacity" to "DeploymentArgs" has incompatible type "str"' in e
        for e in errors.get(_line("ARGS-STRING"), [])
    ), out
    assert any('No overload variant of "FineTuningJob"' in e for e in errors.get(_line("GATE-KEY"), [])), out
    assert set(errors) == {_line(m) for m in ("MISSPELLED", "STRING", "ARGS-STRING", "GATE-KEY")}, out
