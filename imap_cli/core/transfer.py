"""What downloads and uploads report: progress events while they run, one result per file."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imap_cli.core.errors import IMAPError


class Stage(str, enum.Enum):
    """The life of one file in a transfer."""

    PLANNED = "planned"  # known, not started (total may be None)
    STARTED = "started"  # bytes about to flow; total known when the server said so
    PROGRESS = "progress"  # `advance` more bytes moved
    RETRY = "retry"  # a dropped connection; resuming (or restarting: `advance` may be negative)
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class TransferEvent:
    """One thing that happened to one file; emitted from worker threads."""

    stage: Stage
    key: str  # the SDC key: the file's identity everywhere
    total: int | None = None  # bytes expected, when known
    advance: int = 0  # bytes moved since the last event (PROGRESS, RETRY)
    error: IMAPError | None = None  # FAILED
    reason: str = ""  # SKIPPED / RETRY, for people


@dataclass(frozen=True)
class FileResult:
    """How one file's transfer ended."""

    key: str
    status: str  # "downloaded", "uploaded", "skipped", "failed", "would-download", ...
    path: Path | None = None
    size: int = 0
    error: IMAPError | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Not failed."""
        return self.error is None


EventSink = Callable[[TransferEvent], None]


def ignore_events(event: TransferEvent) -> None:
    """The default sink: library callers that want no progress."""
