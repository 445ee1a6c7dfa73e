"""``aoai-emulator --help`` reads as plain text."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

AOAI_EMULATOR = Path(sys.executable).parent / "aoai-emulator"


def test_help_has_no_restructuredtext_markup() -> None:
    """No double backquotes or ``:role:`` markup in what the user reads."""
    done = subprocess.run([str(AOAI_EMULATOR), "--help"], capture_output=True, text=True, check=True, timeout=60)
    assert "usage: aoai-emulator" in done.stdout
    assert "base URL" in done.stdout
    assert "``" not in done.stdout
    assert not re.search(r":[a-z]+:`", done.stdout)
