"""The ``aoai-emulator`` command removes its temporary blob directory when stopped by SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx2
import pytest

from .support import EMULATOR_BIN, chat_dataset


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_signal_removes_the_blob_directory(tmp_path: Path, sig: signal.Signals) -> None:
    """After an upload, the signal stops the command and its blob directory (with the upload) is gone.

    The memory limit 0 puts the upload on disk, so the directory has something in it to remove.
    """
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = subprocess.Popen(
        [str(EMULATOR_BIN), "--port", "0", "--account", "sig", "--blob-memory-limit-mb", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(temp)},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://"), process.stderr.read() if process.stderr else ""
        with httpx2.Client(timeout=30) as http:
            account = http.get(f"{url}/_emulator/accounts").json()["accounts"][0]
            dataset = chat_dataset(tmp_path / "train.jsonl")
            reply = http.post(
                f"{account['endpoint']}openai/files",
                params={"api-version": "2024-10-21"},
                headers={"api-key": account["keys"][0]},
                files={"file": (dataset.name, dataset.read_bytes())},
                data={"purpose": "fine-tune"},
            )
            assert reply.status_code == 201, reply.text
        blob_dirs = list(temp.glob("aoai-emulator-blobs-*"))
        assert len(blob_dirs) == 1
        assert [p.name for p in blob_dirs[0].iterdir()] == [reply.json()["id"]]
        process.send_signal(sig)
        process.wait(timeout=30)
        assert not blob_dirs[0].exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
