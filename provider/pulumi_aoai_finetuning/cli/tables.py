"""Terminal tables that keep ids and model names whole, on one line, at any width and when piped.

A rich ``Table`` squeezes every column to fit the terminal: at 80 columns a model name became a column one
character wide, and ``overflow="fold"`` still spreads it over several lines. Here the columns users copy from
(ids, model names) are never wrapped, cut or dropped. When the terminal is narrow the other columns fold
first; then the whole columns after the first move to a line of their own under each row; then columns are
dropped in a stated order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

INDENT = 1  # before the first column
GAP = 2  # between columns
DETAIL_INDENT = 3  # before a whole value moved under its row


@dataclass(frozen=True)
class Column:
    """A table column, and what it may give up on a narrow terminal."""

    header: str
    justify: Literal["left", "right"] = "left"
    whole: bool = False
    """An id or a model name (what users copy): never wrapped, cut or dropped."""
    fold_to: int | None = None
    """The narrowest width the column may fold (wrap) to; None: never folded."""
    drop: int = 0
    """When folding is not enough, columns are dropped in this order (1 first); 0: never dropped."""


Cell = str | Text


@dataclass(frozen=True)
class Layout:
    """Which columns a table shows in the row, at which widths, and which move to lines under the row."""

    shown: list[int]
    widths: dict[int, int]
    below: list[int]


def _width(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


def _fit(columns: Sequence[Column], natural: Sequence[int], shown: list[int], width: int) -> dict[int, int] | None:
    """Widths for ``shown`` within ``width``: natural if they fit, else with foldable columns folded; or None."""

    def total(widths: dict[int, int]) -> int:
        return INDENT + sum(widths.values()) + GAP * (len(widths) - 1)

    widths = {i: natural[i] for i in shown}
    if total(widths) <= width:
        return widths
    for i in shown:
        fold_to = columns[i].fold_to
        if fold_to is not None and not columns[i].whole:
            widths[i] = min(natural[i], fold_to)
    room = width - total(widths)
    if room < 0:
        return None
    for i in shown:  # what is left goes back to the folded columns, left to right
        extra = min(room, natural[i] - widths[i])
        widths[i] += extra
        room -= extra
    return widths


def layout(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int) -> Layout:
    """Fit the table in ``width`` columns: fold, then move whole columns under their row, then drop columns."""
    natural = [max([cell_len(c.header), *(_width(row[i]) for row in rows)]) for i, c in enumerate(columns)]
    shown = list(range(len(columns)))
    widths = _fit(columns, natural, shown, width)
    if widths is not None:
        return Layout(shown, widths, [])
    below = [i for i in shown[1:] if columns[i].whole]
    shown = [i for i in shown if i not in below]
    widths = _fit(columns, natural, shown, width)
    for _, i in sorted((c.drop, i) for i, c in enumerate(columns) if c.drop and i in shown):
        if widths is not None:
            break
        shown.remove(i)
        widths = _fit(columns, natural, shown, width)
    if widths is None:  # narrower than the whole columns themselves: they overflow rather than break
        widths = {i: min(natural[i], columns[i].fold_to or natural[i]) for i in shown}
    return Layout(shown, widths, below)


def _lines(cell: Cell, width: int, justify: Literal["left", "right"], console: Console) -> list[Text]:
    text = cell.copy() if isinstance(cell, Text) else Text(cell)
    lines = [text] if text.cell_len <= width else list(text.wrap(console, width, overflow="fold"))
    for line in lines:
        line.rstrip()
        line.align(justify, width)
    return lines


def _row(cells: Sequence[Cell], columns: Sequence[Column], plan: Layout, console: Console) -> list[Text]:
    parts = [_lines(cells[i], plan.widths[i], columns[i].justify, console) for i in plan.shown]
    height = max(len(p) for p in parts)
    out = []
    for n in range(height):
        line = Text(" " * INDENT)
        for k, (i, part) in enumerate(zip(plan.shown, parts, strict=True)):
            if k:
                line.append(" " * GAP)
            line.append_text(part[n] if n < len(part) else Text(" " * plan.widths[i]))
        line.rstrip()
        out.append(line)
    return out


def print_table(
    console: Console, title: str, columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *, empty: str = "none"
) -> None:
    """Print a table that fits ``console.width`` without ever breaking a whole column's value."""
    plan = layout(columns, rows, console.width)
    lines = [Text(title, style="bold")]
    header = _row([Text(c.header, style="bold") for c in columns], columns, plan, console)
    lines += header
    lines.append(Text(" " * INDENT + "─" * (sum(plan.widths.values()) + GAP * (len(plan.shown) - 1)), style="dim"))
    # A label goes when it would push a value past the edge (the value must stay on one line); all or none.
    labelled = {
        i: all(DETAIL_INDENT + cell_len(columns[i].header) + GAP + _width(cells[i]) <= console.width for cells in rows)
        for i in plan.below
    }
    for cells in rows:
        lines += _row(cells, columns, plan, console)
        for i in plan.below:
            cell = cells[i]
            value = cell.plain if isinstance(cell, Text) else cell
            if value not in ("", "-"):
                label = columns[i].header + " " * GAP if labelled[i] else ""
                lines.append(Text(" " * DETAIL_INDENT + label + value))
    if not rows:
        lines.append(Text(" " * INDENT + empty, style="dim"))
    for line in lines:
        # soft_wrap: the console neither wraps nor crops, so a whole value stays on its line even when piped.
        console.print(line, soft_wrap=True)
