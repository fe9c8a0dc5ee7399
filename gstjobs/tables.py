"""Tables that fit the terminal they are printed on.

A view names its columns with how much each matters; ``fitted`` keeps the ones that
fit the console's width, most important first, and says which it left out (``--json``
always has everything). Nothing is truncated to an ellipsis that could hide a status,
and nothing is padded to a width the content does not need, so piped output holds no
trailing blanks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

PIPE_WIDTH = 200
"""Width for output that goes to no terminal (cron mail, a pipe, a file): wide enough
that no column is left out; lines are only as long as their content."""
MIN_FREE_TEXT = 24


def console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS") or PIPE_WIDTH)
    return Console(stderr=stderr, highlight=False, width=width)


@dataclass(frozen=True)
class Col:
    header: str
    keep: int = 0
    """0: always shown; otherwise the higher the number, the sooner it is left out."""
    justify: str = "left"
    free_text: bool = False
    """A message column: it folds into whatever width is left (at least 24)."""


Cell = str | Text


def _cells(value: Cell) -> int:
    text = value if isinstance(value, Text) else Text(value)
    return max((Text(line).cell_len for line in text.plain.splitlines()), default=0)


def fitted(
    cols: Sequence[Col],
    rows: Sequence[Sequence[Cell]],
    width: int,
    *,
    title: str | None = None,
) -> Table:
    """A table of the columns that fit in ``width`` cells."""
    natural = [max([_cells(c.header)] + [_cells(r[i]) for r in rows]) for i, c in enumerate(cols)]
    shown = list(range(len(cols)))

    def needed(index: list[int]) -> int:
        fixed = sum(natural[i] + 3 for i in index if not cols[i].free_text)
        free = sum(min(natural[i], MIN_FREE_TEXT) + 3 for i in index if cols[i].free_text)
        return fixed + free + 1

    for i in sorted(range(len(cols)), key=lambda i: -cols[i].keep):
        if needed(shown) <= width or cols[i].keep == 0:
            break
        shown.remove(i)
    table = Table(title=title, title_justify="left")
    for i in shown:
        c = cols[i]
        if c.free_text:
            table.add_column(c.header, overflow="fold")
        else:
            table.add_column(c.header, justify=c.justify, no_wrap=True, min_width=natural[i])  # type: ignore[arg-type]
    for r in rows:
        table.add_row(*(r[i] for i in shown))
    left_out = [" ".join(cols[i].header.split()) for i in range(len(cols)) if i not in shown]
    if left_out:
        table.caption = f"not shown at this width: {', '.join(left_out)} (--json has all)"
        table.caption_justify = "left"
    return table


def note(table: Table, line: str) -> None:
    """Add a line under ``table``, after what ``fitted`` said it left out."""
    table.caption = f"{table.caption}\n{line}" if table.caption else line
    table.caption_justify = "left"


NARROW = 100
"""Below this many columns, tables show moments without the year."""


def when(moment: datetime | None, tz: ZoneInfo, width: int = PIPE_WIDTH) -> str:
    """A moment in a table: local date and minute (the zone is named in the header);
    on a narrow terminal without the year (29 Nov 15:40)."""
    if moment is None:
        return "—"
    local = moment.astimezone(tz)
    return local.strftime("%d %b %H:%M" if width < NARROW else "%Y-%m-%d %H:%M")


def zone(tz: ZoneInfo, at: datetime | None = None) -> str:
    """The zone's short name for a column header (IST)."""
    return (at or datetime.now(tz)).astimezone(tz).tzname() or str(tz)


def count(value: int | None) -> str:
    """A number in a table: with thousands separators."""
    return "—" if value is None else f"{value:,}"


def rate(value: float | None) -> str:
    """A rate (0..1) in a table; — when there was nothing to count."""
    return "—" if value is None else f"{value:.0%}"
