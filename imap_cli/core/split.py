"""Answers too large for one response: split them into start-date windows (and pages).

The SDC's /query is a Lambda behind API Gateway, and a Lambda cannot send more than
6,291,556 bytes: a larger answer becomes the gateway's 500 `{"message": "Internal Server
Error"}` (502 on a REST-API gateway), the same body a crash gives. `fetch_all` is called when
the whole query failed that way (or with the windows that worked last time), and returns
every row once, in file_path order:

1. A query that matches nothing (`start_date=99991231`) is asked for alongside the first
   windows (or at the first failure): if even that fails, the SDC is failing, and its error
   (an outage, exit 3) is what the user sees, not a storm of ever smaller queries.
2. Start-date windows. They are exact on the science, quicklook and ancillary tables,
   because the SDC ranks versions per series and a series has one start date. A window too
   large is walked back from its newest day (today, for an open or far-future end; files
   dated later are asked for in one window of their own) as a stream of windows: the first
   a week long, to learn how many bytes a day the files take, then each sized to fill
   FILL of an answer at the densest rate seen, so most fit on the first try. Empty windows
   grow fourfold, so an open start or a far-away first day is reached in a few requests;
   once the data has begun and a window comes back empty, all the rest is asked for at once
   (cheap when empty; split the same way when it is not).
3. A single day that fails is asked for in pages (`offset`/`limit`, PAGE_ROWS rows, a page
   too large split in four) where the SDC has them (a newer revision); where it does not,
   it answers a 400 naming them, and the day is `TooLarge`.
4. The windows that answered, merged while they stay well under the limit, are the plan
   handed to `on_plan`, so a re-run can start from them (core.splitplans keeps them).

Windows, not pages, come first: each page makes the SDC run the whole query again (it can
only skip rows after ranking them all), so N pages cost N queries, while the windows together
cost about one. A size failure costs the SDC its whole window first, so the aim is few failed
attempts, not few requests: an empty window is cheap.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import itertools
import json
import math
import operator
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
# A window of a plan: first and last start day (YYYYMMDD, None: open), and the rows of a page
# when that day alone needed pages (0 otherwise).
Planned = tuple[str | None, str | None, int]
_Leaf = tuple[dt.date | None, dt.date | None, int]

# Rows per page: a science row is about 360 bytes, so 10,000 leave room for long ones.
PAGE_ROWS = 10_000
# Sub-queries in flight at once: enough to hide the SDC's latency, few enough to be polite.
JOBS = 4
# The first window of a ladder (only for files dated in the future), in days.
LADDER_DAYS = 32
# The first window of a stream, to learn the bytes a day; each empty one after it this many
# times longer.
PROBE_DAYS, GROWTH = 8, 4
# How full a window is planned to be: room for days denser than the densest seen so far.
FILL = 0.75
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
        """Days of data it may hold: files dated after today are rare."""
        if self.low is not None and self.low <= today and (self.high is None or self.high > today):
            return (today - self.low).days + 1
        return self.days()

    def split(self, today: dt.date, at_least: int = 0) -> list[Window]:
        """Smaller windows covering this one exactly (a closed one in `at_least` parts or
        more, up to 16); [] for a single day."""
        low, high = self.low, self.high
        if low is None and high is None:
            return [*_ladder(today, None, steps=3), Window(today + _DAY, None)]
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


def _date(text: str) -> dt.date:
    """A YYYYMMDD day, as queries and plans write it."""
    return dt.datetime.strptime(text, "%Y%m%d").date()


def _bounds(params: Sequence[tuple[str, str]]) -> tuple[dt.date | None, dt.date | None]:
    found = {k: _date(v) for k, v in params if k in _DATE_PARAMS}
    return found.get("start_date"), found.get("end_date")


def _row_bytes(rows: Sequence[dict]) -> float:
    """About how many bytes a row takes in the SDC's answer (from a few of them)."""
    sample = rows[:: max(1, len(rows) // 16)][:16]
    return sum(len(json.dumps(row)) + 2 for row in sample) / len(sample)


def _day_range(rows: Sequence[dict]) -> tuple[dt.date, dt.date] | None:
    """The earliest and latest start dates among the rows (YYYYMMDD or YYYY-MM-DD...), if
    they have any. Compared as text (in C: answers have thousands of rows), then read."""
    texts = [text for row in rows if isinstance(text := row.get("start_date"), str) and text]
    if not texts:
        return None

    def day(text: str) -> dt.date | None:
        digits = "".join(c for c in text[:10] if c.isdigit())
        try:
            return _date(digits) if len(digits) == 8 else None
        except ValueError:
            return None

    first, last = day(min(texts)), day(max(texts))
    return (first, last) if first is not None and last is not None else None


@dataclass
class _Stream:
    """Windows walked back from `cursor` down to `floor` (None: no first day)."""

    floor: dt.date | None
    cursor: dt.date | None  # the next window's last day; None once all is asked for
    length: int | None  # the next window's days; None: wait for the one in flight
    most: int | None = None  # a stream over a failed window asks for less than it did
    # The first window's last day, when it is later than `cursor` (the files dated after
    # today, asked for with the newest days; None: open).
    first_high: dt.date | None = None
    later: bool = False
    seen_data: bool = False
    rest: bool = False  # ask for everything left in one window

    def next_window(self) -> Window | None:
        """The next window to ask for (and the cursor moved past it), or None to wait."""
        high = self.cursor
        if high is None:
            return None
        if self.rest:
            self.cursor = None
            return Window(self.floor, self._top(high))
        if self.length is None:
            return None
        length = min(self.length, self.most or self.length)
        room = (high - (self.floor or dt.date.min)).days + 1
        if length >= room:
            self.cursor = None
            return Window(self.floor, self._top(high))
        low = high - dt.timedelta(days=length - 1)
        self.cursor = low - _DAY
        return Window(low, self._top(high))

    def _top(self, high: dt.date) -> dt.date | None:
        """The first window's last day: `first_high` when there are later days to cover."""
        if not self.later:
            return high
        self.later = False
        return self.first_high


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
        self.pending: dict[cf.Future, tuple[Window | Page, _Stream | None]] = {}
        self.streams: list[_Stream] = []
        self.found: list[dict] = []
        self.health: cf.Future | None = None
        # Learnt from the answers: bytes a row, the densest bytes a day, the largest answer
        # (it fits), and what an answer can hold (lowered when windows sized for it fail).
        self.row_bytes = 0.0
        self.rate = 0.0
        self.fit = 0.0
        self.cap = float(MAX_RESPONSE_BYTES)
        # The windows that answered (with their bytes), and the days that needed pages.
        self.answered: dict[Window, float] = {}
        self.paged: dict[Window, int] = {}

    def run(self, plan: Sequence[_Leaf] | None) -> list[dict]:
        # Parts in flight at most `jobs` at once; the health check beside them, not in a slot.
        self.pool = pool = WorkerPool(self.jobs, "imap-query-part")
        self.checker = checker = WorkerPool(1, "imap-query-check")
        try:
            if plan:
                for low, high, page_rows in plan:
                    self._start(Window(low, high), page_rows)
            else:
                # The whole query failed as a too-large answer does. Whether it was an outage
                # instead is asked alongside the first windows; failures wait for the answer.
                self.health = checker.submit(self.ask, self._nothing(), True)
                self._split(Window(*_bounds(self.base)))
            self._feed()
            self._report()
            while self.pending:
                ready, _ = cf.wait(self.pending, return_when=cf.FIRST_COMPLETED)
                for future in ready:
                    self._settle(*self.pending.pop(future), future)
                self._feed()
                self._report()
        finally:
            # Parts not started yet are dropped; the ones in flight end on their own.
            pool.stop(drop=True)
            checker.stop(drop=True)
        return self.found

    def _start(self, window: Window, page_rows: int) -> None:
        """A remembered window: asked for as it is, or in pages if its day needed them."""
        if page_rows and window.low is not None and window.low == window.high:
            self.page_rows = min(self.page_rows, page_rows)
            for _ in range(2):
                self._next_page(window)
        else:
            self._submit(window)

    def _submit(self, piece: Window | Page, stream: _Stream | None = None) -> None:
        self.total += 1
        future = self.pool.submit(self.ask, piece.params(self.base), False)
        self.pending[future] = (piece, stream)

    def _feed(self) -> None:
        """Top the parts in flight up to `jobs` from the streams, oldest stream first."""
        for stream in self.streams:
            if stream.length is None and not self.pending:
                stream.length = PROBE_DAYS  # nothing left to learn from: go on all the same
            while len(self.pending) < self.jobs:
                window = stream.next_window()
                if window is None:
                    break
                self._submit(window, stream)
                if not self.rate and not stream.seen_data:
                    stream.length = None  # nothing known yet: learn from this one first
        self.streams = [s for s in self.streams if s.cursor is not None]

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def _next_page(self, window: Window) -> None:
        start = self.frontier.get(window, 0)
        self._submit(Page(start, self.page_rows, window))
        self.frontier[window] = start + self.page_rows

    def _settle(self, piece: Window | Page, stream: _Stream | None, future: cf.Future) -> None:
        self.done += 1
        try:
            rows = future.result()
        except SizeFailure:
            if stream is not None:
                # Data enough to fail: go on back in windows sized for it (smaller).
                stream.seen_data = True
                stream.length = self._length() or max(1, (piece.span(self.today) or 1) // GROWTH)
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
            self.paged[piece.window] = self.page_rows
            # A full page at the end of what was asked: there may be more.
            if (
                len(rows) == piece.limit
                and piece.offset + piece.limit == self.frontier[piece.window]
            ):
                self._next_page(piece.window)
            return
        seen = _day_range(rows)
        size = self._learn(piece, rows, seen)
        self.answered[piece] = size
        if stream is not None:
            if rows:
                stream.seen_data = True
                stream.length = self._length()
                # The data begins well inside this window: the rest is likely empty.
                first = seen[0] if seen else None
                days = piece.span(self.today)
                stream.rest = bool(
                    first and days and piece.low and first - piece.low > _DAY * (days // 4)
                )
            elif stream.seen_data:
                stream.rest = True  # the data begins here: the rest is likely empty
            else:
                # Empty windows grow: an open start or a distant first day in a few requests.
                stream.length = GROWTH * max(stream.length or 0, piece.days() or PROBE_DAYS)

    def _learn(
        self, window: Window, rows: list[dict], seen: tuple[dt.date, dt.date] | None
    ) -> float:
        """The answer's bytes (about); the rates it shows (`seen`: its first and last day)."""
        if not rows:
            return 0.0
        self.row_bytes = max(self.row_bytes, _row_bytes(rows))
        size = self.row_bytes * len(rows)
        self.fit = max(self.fit, size)
        days = window.span(self.today)
        if days and seen and window.low is not None and window.low <= seen[1]:
            # Up to the last day with files: the newest days of the newest window are often
            # still empty (files come days after), and counting them would make the next
            # windows too large for one answer.
            days = min(days, (seen[1] - window.low).days + 1)
        if days:
            self.rate = max(self.rate, size / days)
        return size

    def _length(self) -> int | None:
        """Days a window can hold at the densest rate seen, FILL full; None before any."""
        if not self.rate:
            return None
        return max(1, int(FILL * self.cap / self.rate))

    def _split(self, window: Window) -> None:
        """Ask for a window too large for one answer in parts."""
        low, high, today = window.low, window.high, self.today
        if low is not None and low > today:
            # Files dated in the future only: rare, split without learning from them.
            for part in window.split(today):
                self._submit(part)
            return
        # Files dated after today are rare: asked for with the first (newest) window of the
        # stream, or on their own once the bytes a day are known or the window is short.
        later = high is None or high > today
        top = today if later else high
        days = None if low is None else (top - low).days + 1  # type: ignore[operator]
        short = days is not None and days <= 2 * PROBE_DAYS
        if later and (self.rate or short):
            self._submit(Window(today + _DAY, high))
            later = False
        if short and not self.rate:
            for part in Window(low, top).split(today, 4) or [Window(low, top)]:
                self._submit(part)
            return
        most = None if days is None else max(1, math.ceil(days / 2))
        length = self._length() or min(PROBE_DAYS, most or PROBE_DAYS)
        self.streams.append(_Stream(low, top, length, most, first_high=high, later=later))

    def _failed(self, piece: Window | Page) -> None:
        if self.health is None:
            self.health = self.checker.submit(self.ask, self._nothing(), True)
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
        days = piece.span(self.today)
        if days and self.rate and days * self.rate < 2 * self.cap:
            # Sized to fit but did not: the SDC's limit is lower than thought.
            self.cap = max(self.fit, days * self.rate * 0.7)
        self._split(piece)

    def plan(self) -> list[_Leaf]:
        """The windows that answered, neighbours merged while they stay FILL full at most."""
        pieces = sorted(
            [
                *((w, s, 0) for w, s in self.answered.items()),
                *((w, 0.0, r) for w, r in self.paged.items()),
            ],
            key=lambda p: p[0].low or dt.date.min,
        )
        # No larger than an answer that fitted: the plan must not fail where this run did not.
        most = min(self.fit, FILL * self.cap)
        merged: list[tuple[Window, float, int]] = []
        for window, size, page_rows in pieces:
            if merged:
                last, last_size, last_rows = merged[-1]
                joins = last.high is not None and window.low == last.high + _DAY
                if joins and not last_rows and not page_rows and last_size + size <= most:
                    merged[-1] = (Window(last.low, window.high), last_size + size, 0)
                    continue
            merged.append((window, size, page_rows))
        return [(w.low, w.high, r) for w, _, r in merged]

    def _check_health(self) -> None:
        """Make sure the SDC answers a query that matches nothing (so cannot be too large)
        before blaming an answer's size. Its failures are retried the ordinary way: a blip
        passes, an outage ends with the outage's error."""
        self.ask(self._nothing(), True)
        self.failures_in_a_row = 0

    def _nothing(self) -> Params:
        """The query restricted to files starting on NO_SUCH_DAY: an empty answer."""
        return Window(_date(NO_SUCH_DAY), None).params(self.base)

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


def _dates(plan: Sequence[Planned]) -> list[_Leaf] | None:
    def day(text: str | None) -> dt.date | None:
        return None if text is None else _date(text)

    try:
        return [(day(low), day(high), int(rows)) for low, high, rows in plan]
    except (TypeError, ValueError):  # a damaged cache
        return None


def covers(planned: Sequence[Planned], params: Sequence[tuple[str, str]]) -> bool:
    """Whether the plan's windows cover the query's dates exactly, each day once."""
    low, high = _bounds(params)
    plan = _dates(planned)
    if not plan or plan[0][0] != low or plan[-1][1] != high:
        return False
    for (_, last, _), (first, _, _) in itertools.pairwise(plan):
        if last is None or first is None or first != last + _DAY:
            return False
    return all(a is None or b is None or a <= b for a, b, _ in plan)


def fetch_all(
    ask: Ask,
    params: Sequence[tuple[str, str]],
    *,
    what: str = "query",
    jobs: int = JOBS,
    today: dt.date | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    plan: Sequence[Planned] | None = None,
    on_plan: Callable[[list[Planned]], None] | None = None,
) -> list[dict]:
    """Every row of a /query too large for one answer, once each, in file_path order.

    `ask(params, patient)` sends one request and returns its rows (see Ask).
    `on_progress(done, total)` is called after each answer (total grows as pieces split).
    `plan`: the windows that worked last time (used when they cover the query's dates; the
    whole query is then not assumed to have failed); `on_plan(windows)` gets the ones that
    worked this time.
    """
    if today is None:
        today = dt.datetime.now(dt.timezone.utc).date()
    leaves = _dates(plan) if plan is not None and covers(plan, params) else None
    run = _Run(ask, list(params), what=what, jobs=jobs, today=today, on_progress=on_progress)
    rows = merge(run.run(leaves))
    if on_plan is not None:
        on_plan(
            [
                (low and _day_text(low, ""), high and _day_text(high, ""), n)
                for low, high, n in run.plan()
            ]
        )
    return rows


def merge(rows: Sequence[dict]) -> list[dict]:
    """Each row once (by file_path), ordered by file_path as the SDC orders one answer."""
    if all(isinstance(row.get("file_path"), str) for row in rows):
        # Each part came ordered by file_path: the sort merges those runs (in C), and a row
        # asked for twice (pages of a day that changed meanwhile) is next to its twin.
        merged: list[dict] = []
        last = None
        for row in sorted(rows, key=operator.itemgetter("file_path")):
            key = row["file_path"]
            if key != last:
                merged.append(row)
                last = key
        return merged
    unique: dict[Any, dict] = {}
    for row in rows:
        key = row.get("file_path")
        if not isinstance(key, str):
            key = json.dumps(row, sort_keys=True, default=str)
        unique.setdefault(key, row)
    return [unique[key] for key in sorted(unique, key=str)]
