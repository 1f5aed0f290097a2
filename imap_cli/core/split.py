"""Answers too large for one response: split them into start-date windows (and pages).

The SDC's /query is a Lambda behind API Gateway, and a Lambda cannot send more than
6,291,556 bytes: a larger answer becomes the gateway's 500 `{"message": "Internal Server
Error"}` (502 on a REST-API gateway), the same body a crash gives. `fetch_all` is called when
the whole query failed that way, and returns every row once, in file_path order:

1. A query that matches nothing (`start_date=99991231`) is asked for alongside the first
   windows, retried as any request: if even that fails, the SDC is failing, and its error
   (an outage, exit 3) is what the user sees, not a storm of ever smaller queries.
2. Start-date windows. They are exact on the science, quicklook and ancillary tables,
   because the SDC ranks versions per series and a series has one start date. Open ranges
   (`end_date=D` alone, `start_date=D` alone) cover the days before and after, so no first
   mission day is guessed. The first windows, all asked for at once, are 64, 256 and 1,024
   days back from the newest day (data arrives daily), then everything older. A window
   that fails is split into parts sized by the densest rate seen in answered windows (at
   least 4; before any rate is known, the shortest failed window is split first to learn
   one).
3. A single day that fails is asked for in pages (`offset`/`limit`, PAGE_ROWS rows, a page
   too large split in four) where the SDC has them (a newer revision); where it does not,
   it answers a 400 naming them, and the day is `TooLarge`.

Windows, not pages, come first: each page makes the SDC run the whole query again (it can
only skip rows after ranking them all), so N pages cost N queries, while the windows together
cost about one. A size failure costs the SDC its whole window first, so the aim is few failed
attempts, not few requests: an empty window is cheap.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from imap_cli.core.errors import BadRequest, Failure, TooLarge, Unavailable, option
from imap_cli.core.schema import MAX_RESPONSE_BYTES
from imap_cli.core.workers import WorkerPool

Params = list[tuple[str, str]]
# ask(params, patient): one request's rows. Not patient: the gateway's 500/502 raises
# SizeFailure at once. Patient: it is retried like any failure, then raised as Unavailable.
Ask = Callable[[Params, bool], list[dict]]

# Rows per page: a science row is about 360 bytes, so 10,000 leave room for long ones.
PAGE_ROWS = 10_000
# Sub-queries in flight at once: enough to hide the SDC's latency, few enough to be polite.
JOBS = 4
# The first window of a ladder, in days; each next one is twice as long.
LADDER_DAYS = 32
# The first split: 64, 256 and 1,024 days back from the newest day (3.7 years), then the rest.
FIRST_DAYS, FIRST_GROWTH, FIRST_STEPS = 64, 4, 3
# After this many size failures without any success, check the SDC still answers at all.
FAILURES_BEFORE_CHECK = 8
# What a size failure can and cannot be. A page of fewer than MAX_RESPONSE_BYTES / 6,000 rows
# cannot be over the limit (a science row is about 360 bytes), and a query whose parts keep
# failing this often is failing for another reason: splitting further would only pile requests
# on an SDC that is in trouble.
LARGEST_ROW_BYTES = 6_000
MOST_FAILED_PARTS = 48
# A start date no file has: the query restricted to it is empty, so cheap for a health check.
NO_SUCH_DAY = "99991231"
_DATE_PARAMS = ("start_date", "end_date")
_DAY = dt.timedelta(days=1)


class SizeFailure(Exception):
    """The SDC's gateway failed the answer as it does for one too large to send."""


def is_size_failure(status: int, body: bytes) -> bool:
    """True for the gateway's 500/502 `{"message": "Internal Server Error"}` (any case)."""
    if status not in (500, 502):
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    message = data.get("message") if isinstance(data, dict) else None
    return isinstance(message, str) and message.strip().lower() == "internal server error"


@dataclass(frozen=True)
class Window:
    """Files whose start date is in [low, high]; None is an open end."""

    low: dt.date | None
    high: dt.date | None

    def days(self) -> int | None:
        if self.low is None or self.high is None:
            return None
        return (self.high - self.low).days + 1

    def params(self, base: Sequence[tuple[str, str]]) -> Params:
        """`base` with its start/end dates replaced by this window's, after the descriptor."""
        kept = [(k, v) for k, v in base if k not in _DATE_PARAMS]
        at = next(
            (
                i
                for i, (k, _) in enumerate(kept)
                if k not in ("table", "instrument", "data_level", "descriptor")
            ),
            len(kept),
        )
        dates = [
            (k, _day_text(d, ""))
            for k, d in (("start_date", self.low), ("end_date", self.high))
            if d
        ]
        return kept[:at] + dates + kept[at:]

    def span(self, today: dt.date) -> int | None:
        """Days of data it may hold: open to the future, files after today are rare."""
        if self.high is None and self.low is not None and self.low <= today:
            return (today - self.low).days + 1
        return self.days()

    def split(self, today: dt.date, at_least: int = 0) -> list[Window]:
        """Smaller windows covering this one exactly (a closed one in `at_least` parts or
        more, up to 16); [] for a single day."""
        low, high = self.low, self.high
        if low is None and high is None:
            return first_windows(None, None, today)
        if low is None:
            return _ladder(high, None, steps=3)  # type: ignore[arg-type]
        if high is None:
            if low > today:
                return _ladder(low, None, steps=3, up=True)
            past = Window(low, today)
            return [*(past.split(today, at_least) or [past]), Window(today + _DAY, None)]
        days = (high - low).days + 1
        if days == 1:
            return []
        # Long windows into more parts: a failure costs the whole query, an empty window little.
        parts = max(4, min(16, math.ceil(days / LADDER_DAYS)), min(16, at_least))
        parts = min(days, parts)
        edges = [low + dt.timedelta(days=round(i * days / parts)) for i in range(parts + 1)]
        return [
            Window(edges[i], edges[i + 1] - dt.timedelta(days=1))
            for i in range(parts)
            if edges[i + 1] > edges[i]
        ]

    def describe(self) -> str:
        if self.low is not None and self.low == self.high:
            return f"the files starting on {_day_text(self.low)}"
        if self.low is None and self.high is None:
            return "the whole query"
        if self.low is None:
            return f"the files starting up to {_day_text(self.high)}"  # type: ignore[arg-type]
        if self.high is None:
            return f"the files starting from {_day_text(self.low)}"
        return f"the files starting {_day_text(self.low)} to {_day_text(self.high)}"


@dataclass(frozen=True)
class Page:
    """`limit` rows from `offset` of a window's files, in file_path order."""

    offset: int
    limit: int
    window: Window = Window(None, None)

    def params(self, base: Sequence[tuple[str, str]]) -> Params:
        return [
            *self.window.params(base),
            ("offset", str(self.offset)),
            ("limit", str(self.limit)),
        ]

    def split(self) -> list[Page]:
        if self.limit == 1:
            return []
        size = math.ceil(self.limit / 4)
        return [
            Page(start, min(size, self.offset + self.limit - start), self.window)
            for start in range(self.offset, self.offset + self.limit, size)
        ]


def _day_text(day: dt.date, sep: str = "-") -> str:
    """YYYY-MM-DD (or YYYYMMDD, as queries take it), zero-padded even before year 1000."""
    return f"{day.year:04d}{sep}{day.month:02d}{sep}{day.day:02d}"


def _ladder(
    start: dt.date,
    end: dt.date | None,
    steps: int,
    first: int = LADDER_DAYS,
    growth: int = 2,
    *,
    up: bool = False,
) -> list[Window]:
    """Windows back from `start` (on from it when `up`): `first` days, then `growth` times
    longer each, ending at `end` (or, after `steps` of them, one open beyond)."""
    sign = 1 if up else -1
    windows: list[Window] = []
    length = first
    for _ in range(steps):
        far = start + dt.timedelta(days=sign * (length - 1))
        if end is not None and sign * (far - end).days >= 0:
            windows.append(Window(*sorted((start, end))))
            return windows
        windows.append(Window(*sorted((start, far))))
        start = far + dt.timedelta(days=sign)
        length *= growth
    windows.append(Window(start, end) if up else Window(end, start))
    return windows


def first_windows(low: dt.date | None, high: dt.date | None, today: dt.date) -> list[Window]:
    """The first split of [low, high], at most JOBS windows so that one round asks for all:
    back from `high` (or today, the newest also holding any future files) 64, 256 and 1,024
    days, then everything older."""
    anchor = high or today
    if low is not None and anchor < low:
        anchor = low
    windows = _ladder(anchor, low, FIRST_STEPS, FIRST_DAYS, FIRST_GROWTH)
    if high is None:
        windows[0] = Window(windows[0].low, None)
    return windows


def _bounds(params: Sequence[tuple[str, str]]) -> tuple[dt.date | None, dt.date | None]:
    found = {k: dt.datetime.strptime(v, "%Y%m%d").date() for k, v in params if k in _DATE_PARAMS}
    return found.get("start_date"), found.get("end_date")


class _Run:
    """Asks for the pieces in parallel, splits the ones that fail, collects the rows."""

    def __init__(
        self,
        ask: Ask,
        base: Params,
        *,
        what: str,
        jobs: int,
        today: dt.date,
        on_progress: Callable[[int, int], None] | None,
    ) -> None:
        self.ask = ask
        self.base = base
        self.what = what
        self.jobs = max(1, jobs)
        self.today = today
        self.on_progress = on_progress
        self.done = 0
        self.total = 0
        self.failures_in_a_row = 0
        self.failures = 0
        self.paging: bool | None = None  # whether the SDC takes offset/limit, once known
        self.page_rows = PAGE_ROWS
        self.frontier: dict[Window, int] = {}  # a paged day's pages cover [0, frontier)
        self.pending: dict[cf.Future, Window | Page] = {}
        self.found: list[dict] = []
        # From the windows answered so far: the most rows one answer held (so it fits), and
        # the most rows a day (so how many days such an answer covers).
        self.most_rows = 0
        self.rows_a_day = 0.0
        self.deferred: list[Window] = []

    def run(self) -> list[dict]:
        # Parts in flight at most `jobs` at once; the health check beside them, not in a slot.
        self.pool = pool = WorkerPool(self.jobs, "imap-query-part")
        checker = WorkerPool(1, "imap-query-check")
        try:
            # The whole query failed as a too-large answer does. Whether it was an outage
            # instead is asked alongside the first windows; failures wait for the answer.
            self.health = checker.submit(self.ask, self._nothing(), True)
            for window in first_windows(*_bounds(self.base), self.today):
                self._submit(window)
            self._report()
            while self.pending or self.deferred:
                if self.pending:
                    ready, _ = cf.wait(self.pending, return_when=cf.FIRST_COMPLETED)
                    for future in ready:
                        self._settle(self.pending.pop(future), future)
                self._split_deferred()
                self._report()
        finally:
            # Parts not started yet are dropped; the ones in flight end on their own.
            pool.stop(drop=True)
            checker.stop(drop=True)
        return self.found

    def _submit(self, piece: Window | Page) -> None:
        self.total += 1
        self.pending[self.pool.submit(self.ask, piece.params(self.base), False)] = piece

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def _next_page(self, window: Window) -> None:
        start = self.frontier.get(window, 0)
        self._submit(Page(start, self.page_rows, window))
        self.frontier[window] = start + self.page_rows

    def _settle(self, piece: Window | Page, future: cf.Future) -> None:
        self.done += 1
        try:
            rows = future.result()
        except SizeFailure:
            self._failed(piece)
            return
        except BadRequest as error:
            # The SDC's 400 for parameters it does not know names them: no pagination there.
            no_paging = "offset" in error.message or "limit" in error.message
            if not isinstance(piece, Page) or not no_paging:
                raise
            self.paging = False  # this SDC has no offset/limit: the day cannot be split
            self._check_health()
            raise self._too_large(piece.window) from None
        self.failures_in_a_row = 0
        self.found.extend(rows)
        if isinstance(piece, Page):
            self.paging = True
            # A full page at the end of what was asked: there may be more.
            if (
                len(rows) == piece.limit
                and piece.offset + piece.limit == self.frontier[piece.window]
            ):
                self._next_page(piece.window)
            return
        days = piece.span(self.today)
        if days and rows:
            self.most_rows = max(self.most_rows, len(rows))
            self.rows_a_day = max(self.rows_a_day, len(rows) / days)

    def _failed(self, piece: Window | Page) -> None:
        self.health.result()  # an outage's error, if the SDC answers nothing at all
        self.failures_in_a_row += 1
        self.failures += 1
        if isinstance(piece, Page) and piece.limit * LARGEST_ROW_BYTES < MAX_RESPONSE_BYTES:
            raise self._not_the_size(f"even a page of {piece.limit:,} files failed")
        if self.failures > MOST_FAILED_PARTS:
            raise self._not_the_size(f"{self.failures} smaller parts failed")
        if self.failures_in_a_row >= FAILURES_BEFORE_CHECK:
            self._check_health()
        if isinstance(piece, Page):
            parts = piece.split()
            if not parts:
                self._check_health()
                raise self._too_large(piece.window, piece)
            self.page_rows = min(self.page_rows, parts[0].limit)
            for part in parts:
                self._submit(part)
            return
        if piece.low is not None and piece.low == piece.high:
            # One day cannot be split by date; pages can, where the SDC has them.
            if self.paging is False:
                self._check_health()
                raise self._too_large(piece)
            for _ in range(2):  # it was over the limit: at least two pages
                self._next_page(piece)
            return
        if not self.most_rows:
            self.deferred.append(piece)  # split once some answer shows how dense files are
            return
        for part in piece.split(self.today, self._parts_for(piece)):
            self._submit(part)

    def _split_deferred(self) -> None:
        """Split the failed windows: all of them once a density is known; else the shortest
        alone when nothing else is on its way, to learn one (a failure costs far more than
        a round trip)."""
        if not self.deferred:
            return
        if self.most_rows:
            windows, self.deferred = self.deferred, []
        elif not self.pending:
            self.deferred.sort(key=lambda w: w.span(self.today) or 1 << 30)
            windows, self.deferred = self.deferred[:1], self.deferred[1:]
        else:
            return
        for window in windows:
            for part in window.split(self.today, self._parts_for(window)):
                self._submit(part)

    def _parts_for(self, window: Window) -> int:
        """Parts that would each hold no more than the largest answer yet, at the densest rate
        seen so far: fewer failed attempts than splitting in four, again and again."""
        days = window.span(self.today)
        if not days or not self.most_rows:
            return 0
        return math.ceil(days * self.rows_a_day / self.most_rows)

    def _check_health(self) -> None:
        """Make sure the SDC answers a query that matches nothing (so cannot be too large)
        before blaming an answer's size. Its failures are retried the ordinary way: a blip
        passes, an outage ends with the outage's error."""
        self.ask(self._nothing(), True)
        self.failures_in_a_row = 0

    def _nothing(self) -> Params:
        """The query restricted to files starting on 9999-12-31: an empty answer."""
        return Window(dt.date(9999, 12, 31), None).params(self.base)

    def _not_the_size(self, why: str) -> Unavailable:
        return Unavailable(
            f"{self.what}: the SDC keeps failing (500) on this query, and not for its size: {why}",
            kind=Failure.OUTAGE,
        )

    def _too_large(self, window: Window, page: Page | None = None) -> TooLarge:
        if page is not None:
            where, how = f"one file of {window.describe()}", "a single file"
        else:
            where, how = window.describe(), "a single day"
        return TooLarge(
            f"{self.what}: the answer is too large for the SDC to send: {where} alone is more "
            f"than it can send at once (about 6 MB), and {how} cannot be split further",
            f"Narrow the query: add {option('instrument')}, {option('data_level')} or "
            f"{option('descriptor')}, or ask for {option('version', 'latest')}.",
        )


def fetch_all(
    ask: Ask,
    params: Sequence[tuple[str, str]],
    *,
    what: str = "query",
    jobs: int = JOBS,
    today: dt.date | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Every row of a /query that failed for size, once each, in file_path order.

    `ask(params, patient)` sends one request and returns its rows (see Ask).
    `on_progress(done, total)` is called after each answer (total grows as pieces split).
    """
    if today is None:
        today = dt.datetime.now(dt.timezone.utc).date()
    run = _Run(ask, list(params), what=what, jobs=jobs, today=today, on_progress=on_progress)
    return merge(run.run())


def merge(rows: Sequence[dict]) -> list[dict]:
    """Each row once (by file_path), ordered by file_path as the SDC orders one answer."""
    unique: dict[Any, dict] = {}
    for row in rows:
        key = row.get("file_path")
        if not isinstance(key, str):
            key = json.dumps(row, sort_keys=True, default=str)
        unique.setdefault(key, row)
    return [unique[key] for key in sorted(unique, key=str)]
