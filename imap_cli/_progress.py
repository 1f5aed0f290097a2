"""`progress=` of the Python API's transfer functions and of `webpoda`: off, a rich bar, or the
caller's callback.

None (the default) draws a bar only when stderr is a terminal, so scripts, logs and batch jobs
stay quiet; True draws one anyway (rich renders in Jupyter too); a callable receives every
TransferEvent (webpoda: every WebpodaProgress snapshot), called from worker threads.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from imap_cli.core.transfer import EventSink, Stage, TransferEvent, ignore_events

if TYPE_CHECKING:
    from imap_cli.core.webpoda import WebpodaProgress

ProgressOption = bool | Callable[[TransferEvent], Any] | None
DaysProgressOption = bool | Callable[["WebpodaProgress"], Any] | None


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


def _wanted(progress: bool | None) -> bool:
    """None: a bar only when stderr is a terminal."""
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return progress


@contextlib.contextmanager
def progress_sink(progress: ProgressOption, verb: str) -> Iterator[EventSink]:
    """The event sink for `progress`, drawn (and stopped) around the transfer."""
    if callable(progress):
        yield progress
        return
    if not _wanted(progress):
        yield ignore_events
        return
    bar = _Bar(verb)
    bar.progress.start()
    try:
        yield bar
    finally:
        bar.progress.stop()


class _DaysBar:
    """One rich bar for a webpoda run: days (or pointings) done of those found, packet bytes."""

    def __init__(self, noun: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.noun = noun
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[received]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.task = self.progress.add_task(f"Finding the {noun}", total=None, received="")

    def __call__(self, now: WebpodaProgress) -> None:
        from rich.filesize import decimal

        self.progress.update(
            self.task,
            description=now.headline(self.noun),
            total=now.days or None,
            completed=now.done,
            received=decimal(now.received),
        )


@contextlib.contextmanager
def days_sink(
    progress: DaysProgressOption, noun: str
) -> Iterator[Callable[[WebpodaProgress], Any] | None]:
    """The callback for webpoda's `progress`, its bar drawn (and stopped) around the run."""
    if callable(progress):
        yield progress
        return
    if not _wanted(progress):
        yield None
        return
    bar = _DaysBar(noun)
    bar.progress.start()
    try:
        yield bar
    finally:
        bar.progress.stop()
