"""The secrets ledger itself: it finds a planted secret, so its zero in RELIABILITY.md means something."""

from __future__ import annotations

from pathlib import Path

from tests.secrets_ledger import Ledger


def test_ledger_finds_a_secret_in_an_error_text_and_in_a_state_file(tmp_path: Path) -> None:
    """A key planted in an artifact and in a file is reported twice; an unrelated text is not."""
    ledger = Ledger()
    key = "5ec7e7" * 5 + "aa"
    ledger.secrets.add(key)
    ledger.add("provider error", f"403 for api-key {key}")
    ledger.add("plugin stderr", "nothing to see")
    (tmp_path / "state.json").write_text(f'{{"apiKey": "{key}"}}')
    tally = ledger.scan(tmp_path)
    assert [kind for kind, _ in tally["hits"]] == ["provider error", "file .json"]
    assert tally["artifacts"] == 3
