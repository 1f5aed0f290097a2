"""Progress of transfers (downloads and uploads): rich bars on a terminal, plain lines otherwise.

Usage, for either direction::

    with TransferProgress(output, verb="Uploading") as progress:
        results = upload_files(..., on_event=progress.handle)
    progress.summary(results, elapsed)

`handle` is called from worker threads and is thread-safe. On a terminal it drives one overall
bar (files done/total, bytes, rate, ETA) plus one bar per active file, fitted to the terminal's
width; otherwise it writes one plain line per finished, skipped or failed file (no escape
codes). `-q` hides everything but failures. When stderr's reader goes away
(`imap download - 2>&1 | head`), progress goes quiet and the transfers carry on.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from imap_cli.cli.errors import message_for
from imap_cli.cli.output import Output, silence

if TYPE_CHECKING:
    from imap_cli.core.transfer import FileResult, TransferEvent

# Bars are redrawn this often; more only costs CPU that the transfer could use.
REFRESH_PER_SECOND = 4
NAME_WIDTH = 44
RATE_WINDOW = 10.0
# Room the columns beside a file's name take on a terminal: bar (>= 8), bytes ("123.4/567.8 MB"),
# rate ("123.4 MB/s"), time left ("0:00:00"), and the blanks between them.
BESIDE_NAME = 8 + 15 + 10 + 7 + 4
# An ETA is shown once this share of the work is done (earlier it is a guess), and never above
# this many seconds (a guess again).
ETA_AFTER = 0.05
ETA_MAX = 100 * 3600


def human_size(size: float) -> str:
    """Bytes in decimal units, like rich's download column: 1.2 MB, 3.4 GB."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover


def size_of(done: float, total: float) -> str:
    """`1.2/3.4 MB`: both in the unit of the total."""
    whole = human_size(total)
    unit = whole.split()[1]
    if unit == "bytes":
        return f"{int(done)}/{whole}"
    scale = 1000 ** ("kB", "MB", "GB", "TB").index(unit) * 1000
    return f"{done / scale:.1f}/{whole}"


def human_time(seconds: float) -> str:
    """0.42 s, 12.3 s, 4 min 05 s, 1 h 02 min."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _short_name(key: str, width: int = NAME_WIDTH) -> str:
    """The file name, shortened if it must be: first the `imap_` every name starts with, then
    the middle, so its instrument, date and version stay."""
    name = key.rsplit("/", 1)[-1]
    if len(name) <= width:
        return name
    name = name.removeprefix("imap_")
    if len(name) <= width:
        return name
    head = (width - 1) // 3
    return name[:head] + "…" + name[len(name) - (width - 1 - head) :]


def name_width(columns: int) -> int:
    """How wide a file's name may be on a terminal `columns` wide, beside its bar and figures."""
    return max(16, min(NAME_WIDTH + 16, columns - BESIDE_NAME))


def _past(verb: str) -> str:
    """Downloading -> Downloaded, Uploading -> Uploaded."""
    return verb[:-3] + "ed" if verb.endswith("ing") else verb


class _Bar:
    """What the live displays share: a rich Progress that stops quietly when stderr's reader
    has gone (`closed`: nothing more is written)."""

    output: Output
    closed: bool
    _progress: Any

    def _stream_gone(self) -> None:
        self.closed = True
        silence(self.output.streams.stderr)

    def _stop_bar(self) -> None:
        if self._progress is not None:
            try:
                self._progress.stop()
            except BrokenPipeError:
                self._stream_gone()
            self._progress = None


class TransferProgress(_Bar):
    """Renders TransferEvents for a person; a context manager around the transfer."""

    def __init__(self, output: Output, verb: str = "Downloading", client: Any = None) -> None:
        self.output = output
        self.verb = verb
        self.client = client  # an SDCClient whose retries are shown above the bars
        self.live = bool(output.streams.stderr_tty) and not output.quiet
        self._lock = threading.Lock()
        self._progress: Any = None
        self._overall: Any = None
        self._bars: dict[str, Any] = {}
        self._totals: dict[str, int | None] = {}
        self._moved: dict[str, int] = {}
        self._active: set[str] = set()  # started, not ended
        self._known = 0  # sum of the known totals of started files that did not fail
        self._unknown = 0  # started files (not failed) whose size is not known
        self._skipped = 0
        self._first_start: float | None = None
        self._name_width = NAME_WIDTH
        self._name_column: Any = None
        self._bytes = 0  # bytes moved by files that did not fail
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self.planned = 0
        self.finished = 0
        self.failed = 0
        self._reasons: set[str] = set()  # failure reasons already shown during the run
        self.closed = False  # stderr's reader has gone: nothing more is written
        self._retries_seen: set[str] = set()

    def __enter__(self) -> TransferProgress:
        if self.client is not None:
            self.client.on_retry = self.guard(self.retrying)
        if self.live:
            from rich.progress import BarColumn, Progress, TextColumn
            from rich.table import Column

            console = self.output.console
            self._name_width = name_width(console.width)
            # As wide as the longest name planned (up to what the terminal allows), so the bars
            # line up and a wide terminal does not waste room on blanks.
            self._name_column = Column(no_wrap=True, min_width=min(24, self._name_width))
            amount, speed, remaining = _overall_aware_columns()
            self._progress = Progress(
                TextColumn("{task.description}", markup=False, table_column=self._name_column),
                BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=8)),
                amount,
                speed,
                remaining,
                console=console,
                refresh_per_second=REFRESH_PER_SECOND,
                transient=True,
                expand=True,
            )
            # The overall bar counts files (a started file counts its share of bytes) until
            # every size is known, then bytes: its total never grows as files start.
            self._overall = self._progress.add_task(
                self.verb, total=None, moved=0, of=None, rate=None, eta=None
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_bar()

    def handle(self, event: TransferEvent) -> None:
        """Take one event from a worker thread."""
        from imap_cli.core.transfer import Stage

        if self.closed:
            return
        try:
            with self._lock:
                stage = event.stage
                if stage == Stage.PLANNED:
                    self.planned += 1
                    if self._progress is not None:
                        self._fit_name(event.key)
                        if self.planned % 1000:
                            return  # thousands of plans in a row: refresh once in a while
                elif stage == Stage.STARTED:
                    self._on_started(event)
                elif stage in (Stage.PROGRESS, Stage.RETRY):
                    self._on_bytes(event)
                elif stage in (Stage.DONE, Stage.SKIPPED, Stage.FAILED):
                    self._on_end(event)
                self._refresh_overall()
        except BrokenPipeError:
            self._stream_gone()

    def guard(self, callback: Callable[[str], None] | None) -> Callable[[str], None] | None:
        """`callback` (a message writer, e.g. SDCClient.on_retry) made quiet once stderr is gone."""
        if callback is None:
            return None

        def guarded(text: str) -> None:
            if self.closed:
                return
            try:
                callback(text)
            except BrokenPipeError:
                self._stream_gone()

        return guarded

    def retrying(self, text: str) -> None:
        """A request is waiting to try again (SDCClient.on_retry): say so, above the bars.

        On a terminal the bars alone would sit still at `0/1 files`; elsewhere it is detail
        (-v), as a log needs no play-by-play. The same words from parallel workers show once.
        """
        if self._progress is None:
            self.output.detail(text)
            return
        with self._lock:
            if text in self._retries_seen:
                return
            self._retries_seen.add(text)
            from rich.text import Text

            from imap_cli.core.errors import printable

            self._progress.console.print(Text(printable(text), style="yellow"))

    def _fit_name(self, key: str) -> None:
        wanted = min(self._name_width, len(key) - key.rfind("/") - 1 + 2)
        if wanted > self._name_column.min_width:
            self._name_column.min_width = wanted

    def _on_started(self, event: TransferEvent) -> None:
        if event.key in self._active:
            return
        if self._first_start is None:
            self._first_start = time.monotonic()
        self._totals[event.key] = event.total
        self._moved[event.key] = 0
        self._active.add(event.key)
        if event.total is None:
            self._unknown += 1
        else:
            self._known += event.total
        if self._progress is not None:
            self._bars[event.key] = self._progress.add_task(
                "  " + _short_name(event.key, self._name_width - 2), total=event.total
            )

    def _on_bytes(self, event: TransferEvent) -> None:
        from imap_cli.core.transfer import Stage

        if event.stage == Stage.RETRY and self.output.verbose:
            self._line(f"retrying {event.key}: {event.reason}", always=False)
        if event.key in self._moved:
            self._moved[event.key] += event.advance
        self._bytes += event.advance
        if self._progress is None or not event.advance:
            return
        bar = self._bars.get(event.key)
        if bar is not None:
            self._progress.advance(bar, event.advance)

    def _on_end(self, event: TransferEvent) -> None:
        from imap_cli.core.transfer import Stage

        self.finished += 1
        self._active.discard(event.key)
        bar = self._bars.pop(event.key, None)
        if bar is not None:
            self._progress.remove_task(bar)
        if event.stage == Stage.DONE:
            # A finished file's size is in the sums: its entry goes (memory flat in the count).
            if self._totals.pop(event.key, 0) is None and event.total is not None:
                self._unknown -= 1  # a size learnt only at the end
                self._known += event.total
            self._moved.pop(event.key, None)
            size = f" ({human_size(event.total)})" if event.total is not None else ""
            self._line(f"{_past(self.verb).lower()} {event.key}{size}", always=False)
        elif event.stage == Stage.SKIPPED:
            self._skipped += 1
            self._line(f"skipped {event.key} ({event.reason})", always=False)
        else:
            self.failed += 1
            # The failed file's bytes leave the overall bar.
            if event.key in self._totals:
                total = self._totals.pop(event.key)
                if total is None:
                    self._unknown -= 1
                else:
                    self._known -= total
            self._bytes -= self._moved.pop(event.key, 0)
            reason = " ".join((message_for(event.error) if event.error else event.reason).split())
            if reason in self._reasons and not self.output.verbose:
                return  # the same cause again (a wrong URL fails every file): once is enough
            self._reasons.add(reason)
            self._line(f"failed {event.key}: {reason}", always=True)

    def _refresh_overall(self) -> None:
        if self._progress is None:
            return
        files = f"{self.verb} {self.finished}/{self.planned} files"
        if self.failed:
            files += f", {self.failed} failed"
        rate = self._rate()
        waiting = self.planned - self.finished - len(self._active)
        if waiting <= 0 and not self._unknown and self._known:
            # Every file has started and every size is known: count bytes.
            total, done = float(self._known), float(self._bytes)
            eta = (total - done) / rate if rate else None
            of: int | None = self._known
        else:
            # Count files, a started one by its share of bytes: a total that never grows.
            total, done = float(self.planned), float(self.finished)
            for key in self._active:
                size = self._totals.get(key)
                if size:
                    done += min(1.0, self._moved.get(key, 0) / size)
            eta, of = self._eta_by_files(done), None
        if eta is not None and eta > ETA_MAX:
            eta = None
        self._progress.update(
            self._overall,
            description=files,
            total=total or None,
            completed=done,
            moved=self._bytes,
            of=of,
            rate=rate,
            eta=eta,
        )

    def _eta_by_files(self, done: float) -> float | None:
        """Time left from the share of files done so far (skipped files took no time)."""
        if self._first_start is None:
            return None
        work = self.planned - self._skipped
        share = (done - self._skipped) / work if work > 0 else 0.0
        elapsed = time.monotonic() - self._first_start
        if share < ETA_AFTER or elapsed < 1.0:
            return None
        return elapsed * (1 - share) / share

    def _rate(self) -> float | None:
        """Bytes per second over the last RATE_WINDOW seconds, for the overall bar.

        rich's own speed column restarts whenever a task's total changes, and the overall
        total changes with every file that starts, so the overall rate is measured here.
        """
        now = time.monotonic()
        samples = self._samples
        samples.append((now, self._bytes))
        while len(samples) > 2 and now - samples[1][0] > RATE_WINDOW:
            samples.popleft()
        then, moved = samples[0]
        if now - then < 0.5:
            return None
        return max(0.0, (self._bytes - moved) / (now - then))

    def _line(self, text: str, *, always: bool) -> None:
        if self._progress is not None:
            # On a terminal the bars say how many failed; the summary lists them once, at the end.
            return
        if always:
            self.output.error(text, hint="")
        else:
            self.output.note(text)

    def summary(self, results: Sequence[FileResult], elapsed: float) -> None:
        """The final summary, then each failure with its reason (unless stderr is gone)."""
        if self.closed:
            return
        try:
            summary(self.output, results, elapsed, verb=_past(self.verb))
        except BrokenPipeError:
            self._stream_gone()


def _overall_aware_columns() -> tuple[Any, Any, Any]:
    """rich's bytes, speed and time-left columns, except that a task carrying `moved`, `of`,
    `rate` and `eta` fields (the overall bar) shows those instead."""
    from rich import filesize
    from rich.progress import DownloadColumn, TimeRemainingColumn, TransferSpeedColumn
    from rich.table import Column
    from rich.text import Text

    def overall(base: Any, field: str, style: str, shown: Callable[[dict], str]) -> Any:
        class Overall(base):
            def render(self, task: Any) -> Text:
                if field not in task.fields:
                    return super().render(task)
                return Text(shown(task.fields), style=style)

        return Overall

    def amount(fields: dict) -> str:
        moved, of = fields["moved"], fields["of"]
        # of None: the total is not known yet, so what has arrived so far
        return human_size(moved) if of is None else size_of(moved, of)

    def speed(fields: dict) -> str:
        rate = fields["rate"]
        return "?" if rate is None else f"{filesize.decimal(int(rate))}/s"

    def remaining(fields: dict) -> str:
        if fields["eta"] is None:
            return "-:--:--"
        minutes, seconds = divmod(int(fields["eta"]), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours:d}:{minutes:02d}:{seconds:02d}"

    Amount = overall(DownloadColumn, "moved", "progress.download", amount)
    Speed = overall(TransferSpeedColumn, "rate", "progress.data.speed", speed)
    Remaining = overall(TimeRemainingColumn, "eta", "progress.remaining", remaining)

    right = {"justify": "right", "no_wrap": True}
    return (
        Amount(table_column=Column(min_width=15, **right)),
        Speed(table_column=Column(min_width=10, **right)),
        Remaining(table_column=Column(min_width=7, **right)),
    )


def summary(output: Output, results: Sequence[FileResult], elapsed: float, *, verb: str) -> None:
    """`Downloaded N files (size) in T; skipped M; failed K`, then each failure and its hint."""
    # Counted in one pass, keeping only the failures and the first few skipped files: a run
    # may have 100,000 results.
    moved = size = resumed = 0
    skipped: dict[str, int] = {}  # reason -> files
    first_skipped: list[FileResult] = []
    failed = []
    for result in results:
        if not result.ok:
            failed.append(result)
        elif result.status == "skipped":
            reason = _skip_reason(result)
            skipped[reason] = skipped.get(reason, 0) + 1
            if len(first_skipped) <= SKIPS_LISTED:
                first_skipped.append(result)
        else:
            moved += 1
            size += result.size
            resumed += result.resumed
    noun = "file" if moved == 1 else "files"
    line = f"{verb} {moved} {noun} ({human_size(size)}) in {human_time(elapsed)}"
    if resumed:
        line += f", of which {human_size(resumed)} kept from an earlier run"
    line += f"; skipped {sum(skipped.values())}{_why_skipped(skipped)}; failed {len(failed)}"
    if failed:
        output.note(line)
    else:
        output.success(line)
    # Few: each one, without -v, on a terminal (piped, a line per file was written already).
    if output.streams.stderr_tty and 0 < len(first_skipped) <= SKIPS_LISTED:
        for result in first_skipped:
            output.note(f"  skipped {result.key}: {_skip_reason(result)}")
    from imap_cli.cli.hints import hint_for

    hints: list[str] = []
    for reason, group in _by_reason(failed).items():
        if len(group) >= GROUPED and not output.verbose:
            # One cause for many files (a wrong URL, an outage): one line, not one per file.
            others = len(group) - 1
            output.error(
                f"{len(group)} files failed: {reason} (first {group[0].key}, "
                f"and {others} more; -v lists each)",
                hint="",
            )
        else:
            for result in group:
                output.error(f"{result.key}: {reason}", hint="")
        for result in group:
            hint = hint_for(result.error)
            if hint and hint not in hints:
                hints.append(hint)
    for hint in hints:
        _hint(output, hint)


# From this many files failing for the same reason, the summary gives the reason once.
GROUPED = 4
# Up to this many skipped files are each named in the summary; more are counted by reason.
SKIPS_LISTED = 3


def _skip_reason(result: FileResult) -> str:
    reason = result.reason or "already done"
    if reason == "already present":
        return "already in the data dir"
    return reason


def _why_skipped(counts: dict[str, int]) -> str:
    """`: reason` for one reason, `: N reason, M other` for several; "" for none."""
    if len(counts) <= 1:
        return f": {next(iter(counts))}" if counts else ""
    return ": " + ", ".join(f"{n} {reason}" for reason, n in counts.items())


def _by_reason(failed: Sequence[FileResult]) -> dict[str, list[FileResult]]:
    groups: dict[str, list[FileResult]] = {}
    for result in failed:
        reason = message_for(result.error) if result.error is not None else result.reason
        groups.setdefault(" ".join(reason.split()), []).append(result)
    return groups


def _hint(output: Output, hint: str) -> None:
    if output.streams.stderr_tty:
        from rich.text import Text

        output.console.print(Text(f"Hint: {hint}", style="cyan"))
    else:
        output.streams.stderr.write(f"Hint: {hint}\n")
        output.streams.stderr.flush()


class PartsProgress:
    """`Fetching the answer in parts: 3/8` while a query too large for one response is split.

    A callable `(done, total)` for core.query.fetch_result. On a terminal only (and not with
    -q): a transient bar that appears with the first part; piped, nothing at all.
    """

    def __init__(
        self,
        output: Output,
        description: str = "Too large for one answer; fetching it in parts",
        unit: str = "parts",
    ) -> None:
        self.output = output
        self.description = description
        self.unit = unit
        self.live = bool(output.streams.stderr_tty) and not output.quiet
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> PartsProgress:
        return self

    def __call__(self, done: int, total: int) -> None:
        if not self.live:
            return
        if self._progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit, markup=False),
                console=self.output.console,
                refresh_per_second=REFRESH_PER_SECOND,
                transient=True,
            )
            self._task = self._progress.add_task(self.description, total=total)
            self._progress.start()
        self._progress.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            with contextlib.suppress(BrokenPipeError):
                self._progress.stop()
            self._progress = None


# The days in flight named beside the bar; more are counted (`+3`).
DAYS_NAMED = 2
# Room the other columns of the days bar take besides its description: the bar (>= 10),
# bytes received ("123.4 MB"), time elapsed ("0:00:00"), and the blanks between the columns.
BESIDE_DAYS = 10 + 9 + 7 + 4


def days_in_flight(current: Sequence[str], room: int) -> str:
    """`20251001, 20251002 +3` within `room` characters: fewer days named, then none."""
    for named in range(min(DAYS_NAMED, len(current)), -1, -1):
        text = ", ".join(current[:named])
        if len(current) > named:
            text += f" +{len(current) - named}" if named else f"{len(current)} in flight"
        if len(text) <= room:
            return text
    return ""


class DaysProgress(_Bar):
    """`imap webpoda`'s progress: days done/total, packet bytes received, the days being
    fetched, and the time elapsed.

    A callable taking core.webpoda.WebpodaProgress snapshots (from worker threads) and a
    context manager around the run. On a terminal only (and not with -q): one transient bar,
    with the per-day lines (-v) printed above it; piped, nothing at all. When stderr's reader
    goes away, it goes quiet and the run carries on.
    """

    def __init__(self, output: Output, noun: str = "days") -> None:
        self.output = output
        self.noun = noun
        self.live = bool(output.streams.stderr_tty) and not output.quiet
        self.closed = False
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> DaysProgress:
        if not self.live:
            return self
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Column

        right = {"justify": "right", "no_wrap": True}
        self._progress = Progress(
            TextColumn("{task.description}", markup=False, table_column=Column(no_wrap=True)),
            BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=10)),
            TextColumn("{task.fields[received]}", table_column=Column(min_width=9, **right)),
            TextColumn(
                "{task.fields[current]}",
                markup=False,
                table_column=Column(no_wrap=True, overflow="ellipsis"),
            ),
            TimeElapsedColumn(table_column=Column(min_width=7, **right)),
            console=self.output.console,
            refresh_per_second=REFRESH_PER_SECOND,
            transient=True,
            expand=True,
        )
        self._task = self._progress.add_task(
            f"Finding the {self.noun} with packets", total=None, received="", current=""
        )
        try:
            self._progress.start()
        except BrokenPipeError:
            self._stream_gone()
        return self

    def __call__(self, now: Any) -> None:
        """Take one WebpodaProgress (from any thread); never raises."""
        if self._progress is None or self.closed:
            return
        try:
            self._progress.update(self._task, **self._fields(now))
        except BrokenPipeError:
            self._stream_gone()

    def _fields(self, now: Any) -> dict[str, Any]:
        """The bar's description, counts and columns for a WebpodaProgress."""
        description = now.headline(self.noun)
        if now.phase == "finding":
            return {"description": description, "received": ""}
        # the days in flight give way first: the counts and the time stay whole
        room = self.output.console.width - len(description) - BESIDE_DAYS
        return {
            "description": description,
            "total": now.days or None,
            "completed": now.done,
            "received": human_size(now.received),
            "current": days_in_flight(now.current, room),
        }

    def __exit__(self, *exc: object) -> None:
        # closed first: a worker still streaming after Ctrl-C draws nothing more
        self.closed = True
        self._stop_bar()
