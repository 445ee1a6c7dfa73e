"""`make demo` end to end: the quickstart is deployed and destroyed against a real emulator process."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scripts" / "demo.py"
TIMEOUT = 180


@pytest.mark.timeout(TIMEOUT + 30)
def test_demo_deploys_the_fine_tuned_model() -> None:
    """The demo exits 0, shows the metrics, destroys the stack, and its last line names the deployed model."""
    proc = subprocess.Popen(
        [sys.executable, str(DEMO)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGTERM lets the demo stop its emulator before it exits.
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        pytest.fail(f"the demo did not finish within {TIMEOUT} s\n--- stdout\n{out}\n--- stderr\n{err}")
    assert proc.returncode == 0, f"exit status {proc.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"Deployed model: \S+\.ft-[0-9a-f]{32}\S* as deployment '[^']+'", last), last
    assert re.search(r"\.ft-[0-9a-f]{32}", last)
    assert "Training metrics" in out
    assert "$ pulumi destroy" in out
    assert "the stack was destroyed" in out
