"""Progress of long work on a terminal: a line on stderr that says what is being done.

Only when stderr is a terminal and the command prints for people (not ``--json``, not
``-q``): under cron, in a pipe or a log, nothing extra is written.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from gstjobs.core import SILENT, Progress


class _Terminal:
    """A Rich progress line: the phase, a bar when the total is known, elapsed time."""

    def __init__(self, bar: object, task: object) -> None:
        self.bar, self.task = bar, task
        self.began = time.monotonic()

    def step(self, what: str) -> None:
        self.bar.update(self.task, description=what, completed=0, total=None)  # type: ignore[attr-defined]

    def advance(self, done: int, total: int | None = None) -> None:
        self.bar.update(self.task, completed=done, total=total)  # type: ignore[attr-defined]


@contextmanager
def shown(enabled: bool, first: str = "starting") -> Iterator[Progress]:
    """A progress reporter for the duration of the block; SILENT unless ``enabled`` and
    stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield SILENT
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import (
        Progress as RichProgress,
    )

    from gstjobs.tables import console

    bar = RichProgress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    )
    from gstjobs.guard import signals_kept_from_new_threads

    with signals_kept_from_new_threads():
        bar.start()  # its refresh thread must never take a run's SIGTERM or SIGINT
    try:
        yield _Terminal(bar, bar.add_task(first, total=None))
    finally:
        bar.stop()
