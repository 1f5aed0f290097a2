"""`progress=` of the Python API's transfer functions: off, a rich bar, or the caller's callback.

None (the default) draws a bar only when stderr is a terminal, so scripts, logs and batch jobs
stay quiet; True draws one anyway (rich renders in Jupyter too); a callable receives every
TransferEvent (called from worker threads).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from imap_cli.core.transfer import EventSink, Stage, TransferEvent, ignore_events

ProgressOption = bool | Callable[[TransferEvent], Any] | None


class _Bar:
    """One rich bar for a whole run: bytes moved of bytes known, files settled of files."""

    def __init__(self, verb: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.verb = verb
        self.lock = threading.Lock()
        self.files = self.settled = self.failed = 0
        self.total = 0
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),  # stdout is the program's; Jupyter is detected
        )
        self.task = self.progress.add_task(verb, total=None)

    def _describe(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.verb} {self.settled}/{self.files} files{failed}"

    def __call__(self, event: TransferEvent) -> None:
        with self.lock:
            advance = 0
            if event.stage is Stage.PLANNED:
                self.files += 1
            elif event.stage is Stage.STARTED and event.total:
                self.total += event.total
            elif event.stage in (Stage.PROGRESS, Stage.RETRY):
                advance = event.advance
            elif event.stage in (Stage.DONE, Stage.SKIPPED, Stage.FAILED):
                self.settled += 1
                self.failed += event.stage is Stage.FAILED
            self.progress.update(
                self.task,
                advance=advance,
                total=self.total or None,
                description=self._describe(),
            )


@contextlib.contextmanager
def progress_sink(progress: ProgressOption, verb: str) -> Iterator[EventSink]:
    """The event sink for `progress`, drawn (and stopped) around the transfer."""
    if callable(progress):
        yield progress
        return
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not progress:
        yield ignore_events
        return
    bar = _Bar(verb)
    bar.progress.start()
    try:
        yield bar
    finally:
        bar.progress.stop()
