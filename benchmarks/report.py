"""Rows of a benchmark as a Markdown table, for a module run on its own."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

COLUMNS = ("figure", "ours", "baseline", "ratio", "unit", "goal", "met")


def print_rows(rows: Iterable[dict[str, Any]], columns: Sequence[str] = COLUMNS) -> None:
    """Print ``rows`` as a Markdown table of ``columns``."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row.get(k, "")) for k in columns) + " |")
