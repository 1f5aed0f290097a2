"""What the SDC holds for one instrument, day by day (or repointing by repointing), and the gaps.

`plan_coverage(**options)` checks the options without any I/O; `fetch_coverage(client, plan)`
sends one query (split over the SDC's size limit by core.query) and builds a `Coverage`: one
product per data level and descriptor, the latest version held in each column, and each run of
missing columns with the lower levels that do have files there (a gap a reprocess could fill)
or none (a gap in the data itself).

The query asks for the whole instrument, whatever the levels and descriptors chosen: the
lower levels of a gap are part of the answer.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imap_cli.core.errors import UsageError, option, word
from imap_cli.core.filters import check_descriptor, check_member, ordered_range, parse_date
from imap_cli.core.query import QueryPlan, fetch_result, plan_query
from imap_cli.core.records import version_rank

BY_CHOICES = ("day", "repointing")
TABLES = ("science", "ancillary")
# Instruments whose products are made per repointing (a pointing of the spinning spacecraft).
REPOINTING_INSTRUMENTS = frozenset({"glows", "hi", "lo", "ultra"})
DEFAULT_DAYS = 90

Column = Any  # a dt.date (by day) or an int (a repointing number)


@dataclass(frozen=True)
class CoveragePlan:
    """Checked options: what to ask for and how to lay out the answer."""

    instrument: str
    table: str = "science"
    by: str = "day"
    data_levels: tuple[str, ...] = ()  # empty: every level found
    descriptors: tuple[str, ...] = ()  # empty: every descriptor found
    start: dt.date | None = None
    end: dt.date | None = None

    def query(self) -> QueryPlan:
        """The one query: the whole instrument (every level) over the range."""
        filters: dict[str, Any] = {"table": self.table, "instrument": self.instrument}
        if self.end is not None:
            filters["end_date"] = self.end
        # An ancillary file starting before the range may still cover it: no start filter.
        if self.start is not None and self.table == "science":
            filters["start_date"] = self.start
        return plan_query(**filters)


@dataclass
class Product:
    """One row of the grid: a data level (None for ancillary) and a descriptor."""

    data_level: str | None
    descriptor: str
    versions: dict[Column, str] = field(default_factory=dict)  # column -> latest version there
    files: dict[Column, int] = field(default_factory=dict)  # column -> files the SDC listed
    ranks: dict[Column, tuple] = field(default_factory=dict)
    top: tuple = ()  # the newest version's rank

    @property
    def label(self) -> str:
        return f"{self.data_level} {self.descriptor}" if self.data_level else self.descriptor

    @property
    def newest(self) -> str | None:
        """The newest version seen for this product in the range."""
        for column, rank in self.ranks.items():
            if rank == self.top:
                return self.versions[column]
        return None

    def stale(self, column: Column) -> bool:
        """Whether the latest file in `column` is older than the product's newest version."""
        rank = self.ranks.get(column)
        return rank is not None and rank < self.top


@dataclass(frozen=True)
class Gap:
    """A run of missing columns of one product, with the lower levels present in all of it."""

    data_level: str | None
    descriptor: str
    first: Column
    last: Column
    length: int
    present_below: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.data_level} {self.descriptor}" if self.data_level else self.descriptor


@dataclass
class Coverage:
    """The grid: products x columns, and the gaps."""

    instrument: str
    table: str
    by: str
    start: dt.date
    end: dt.date
    columns: list[Column]
    products: list[Product]
    gaps: list[Gap]
    files: int = 0  # records shown
    unplaced: int = 0  # records of the selection without a repointing (by repointing)
    level_columns: dict[str, set] = field(default_factory=dict)  # level -> columns with files

    def below(self, product: Product, column: Column) -> tuple[str, ...]:
        """The lower levels of the instrument with files in `column`."""
        return _lower(product.data_level, self.level_columns, column)

    def as_dict(self) -> dict[str, Any]:
        """The documented JSON structure (see the README's `imap coverage` section)."""
        texts = {c: column_text(c) for c in self.columns}
        return {
            "instrument": self.instrument,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "products": [
                {
                    "data_level": p.data_level,
                    "descriptor": p.descriptor,
                    "days_present": len(p.versions),
                    "days": {texts[c]: v for c, v in sorted(p.versions.items())},
                }
                for p in self.products
            ],
            "gaps": [
                {
                    "data_level": g.data_level,
                    "descriptor": g.descriptor,
                    "first": column_json(g.first),
                    "last": column_json(g.last),
                    "days": g.length,
                    "present_below": list(g.present_below),
                }
                for g in self.gaps
            ],
        }

    def csv_rows(self) -> list[list[Any]]:
        """One row per product and column: data_level, descriptor, date, present,
        latest_version, files."""
        rows = []
        texts = [column_text(c) for c in self.columns]
        for p in self.products:
            for c, text in zip(self.columns, texts):
                present = c in p.versions
                rows.append(
                    [
                        p.data_level or "",
                        p.descriptor,
                        text,
                        "true" if present else "false",
                        p.versions.get(c, ""),
                        p.files.get(c, 0),
                    ]
                )
        return rows


CSV_COLUMNS = ("data_level", "descriptor", "date", "present", "latest_version", "files")


def column_text(column: Column) -> str:
    """A column as text: YYYY-MM-DD, or the repointing number."""
    return column.isoformat() if isinstance(column, dt.date) else str(column)


def column_json(column: Column) -> Any:
    return column.isoformat() if isinstance(column, dt.date) else column


def _many(values: Any) -> tuple[Any, ...]:
    """One value, or a list of them, each possibly comma- or space-separated: one by one."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    split = (re.split(r"[,\s]+", v) if isinstance(v, str) else [v] for v in values)
    return tuple(part for parts in split for part in parts if part != "")


def plan_coverage(
    instrument: Any = None,
    data_level: Any = None,
    descriptor: Any = None,
    start_date: Any = None,
    end_date: Any = None,
    by: Any = None,
    table: Any = None,
) -> CoveragePlan:
    """Check the options (UsageError) and plan the coverage; no I/O.

    `data_level` and `descriptor`: one value, a list, or comma-separated values; `by`: day or
    repointing (default: repointing for glows, hi, lo and ultra); `table`: science or
    ancillary (whose files cover a day from their start date to their end date).
    """
    from imap_cli.core.vocabulary import DATA_LEVELS, INSTRUMENTS

    if instrument is None or str(instrument).strip() == "":
        raise UsageError(
            f"coverage needs an {word('instrument')}",
            f"For example: {option('instrument', 'swapi')}",
            field="instrument",
        )
    instrument = check_member("instrument", instrument, INSTRUMENTS, "swapi")
    table = check_member("table", table or "science", TABLES, "ancillary")
    levels = tuple(check_member("data_level", v, DATA_LEVELS, "l1a") for v in _many(data_level))
    descriptors = tuple(check_descriptor(v) for v in _many(descriptor))
    start = parse_date(start_date, "start_date") if start_date not in (None, "") else None
    end = parse_date(end_date, "end_date") if end_date not in (None, "") else None
    ordered_range("start_date", "end_date", {"start_date": start, "end_date": end})
    by_asked = by not in (None, "")
    default_by = "repointing" if instrument in REPOINTING_INSTRUMENTS else "day"
    by = str(by or default_by).strip().lower()
    if by not in BY_CHOICES:
        raise UsageError(
            f"{by!r} is not a valid {option('by')} value: use day or repointing",
            f"For example: {option('by', 'day')}",
            field="by",
            value=by,
            choices=BY_CHOICES,
        )
    if table == "ancillary":
        if levels:
            raise UsageError(
                f"ancillary files have no {word('data_level')}",
                f"Drop {option('data_level')}; {option('descriptor')} picks files.",
                field="data_level",
            )
        if by == "repointing" and by_asked:
            raise UsageError(
                "ancillary files cover days, not repointings",
                f"Use {option('by', 'day')} with {option('table', 'ancillary')}.",
                field="by",
            )
        by = "day"
    # A start alone: the range ends at the newest file from then on (found in the answer).
    if end is not None and start is None:
        start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
    return CoveragePlan(instrument, table, by, levels, descriptors, start, end)


def fetch_coverage(
    client: Any, plan: CoveragePlan, on_progress: Callable[[int, int], None] | None = None
) -> Coverage:
    """Send the plan's one query through `client` (an SDCClient); the Coverage."""
    rows = fetch_result(client, plan.query(), on_progress=on_progress).rows
    return build_coverage(plan, rows)


def version_text(row: Mapping[str, Any]) -> str:
    version = row.get("version")
    if isinstance(version, str) and version:
        return version
    major, minor = row.get("major_version"), row.get("minor_version")
    if type(major) is int and type(minor) is int:
        return f"v{major:03d}.{minor:04d}"
    return ""


def _day(value: Any) -> dt.date | None:
    """A record's YYYYMMDD (or YYYY-MM-DD...) date; None when it has none."""
    if not isinstance(value, str):
        return None
    return _text_day(value)


@functools.lru_cache(maxsize=8192)  # many files share a day
def _text_day(value: str) -> dt.date | None:
    digits = value.replace("-", "")[:8]
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def _range(plan: CoveragePlan, days: Sequence[dt.date]) -> tuple[dt.date, dt.date] | None:
    """The range shown: as asked; else ending at the instrument's newest day, 90 days long,
    or shorter when nothing was asked and the instrument's files begin later."""
    if plan.start is not None and plan.end is not None:
        return plan.start, plan.end
    if not days:
        return None
    end = plan.end or max(days)
    start = plan.start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if plan.start is None and plan.end is None:
        start = max(start, min(days))
    return start, max(start, end)


def _spans(plan: CoveragePlan, rows: Sequence[dict]) -> list[tuple[dict, dt.date, dt.date]]:
    """Each usable record with the days it covers (science: its start day)."""
    spans = []
    for row in rows:
        first = _day(row.get("start_date"))
        if first is None or not isinstance(row.get("descriptor"), str):
            continue
        last = first
        if plan.table == "ancillary":
            # No end date: valid from its start on (until a newer file replaces it).
            last = _day(row.get("end_date")) or dt.date.max
        spans.append((row, first, last))
    return spans


def _selected(plan: CoveragePlan, row: Mapping[str, Any]) -> bool:
    if plan.data_levels and row.get("data_level") not in plan.data_levels:
        return False
    return not plan.descriptors or row.get("descriptor") in plan.descriptors


def build_coverage(plan: CoveragePlan, rows: Sequence[dict]) -> Coverage:
    """The grid and gaps of these records (the answer to plan.query())."""
    spans = _spans(plan, rows)
    # The instrument's newest file ends the default range, whatever the products shown: a
    # level behind the others shows its missing days. Ancillary files say until when they hold.
    days = [first for _, first, _ in spans]
    days += [last for _, _, last in spans if last != dt.date.max]
    bounds = _range(plan, days)
    if bounds is None:
        today = dt.date.today()
        bounds = (plan.start or plan.end or today, plan.end or plan.start or today)
    start, end = bounds
    spans = [s for s in spans if s[1] <= end and s[2] >= start]
    products: dict[tuple, Product] = {}
    by_level: dict[str, set] = {}  # level -> columns holding any file of it
    count = unplaced = 0
    versions: dict[tuple, tuple] = {}  # (major, minor, version) -> (rank, text)
    for row, first, last in spans:
        columns = _columns_of(plan, row, max(first, start), min(last, end))
        level = row.get("data_level") if plan.table == "science" else None
        if isinstance(level, str):
            by_level.setdefault(level, set()).update(columns)
        if not _selected(plan, row):
            continue
        if not columns:
            unplaced += 1
            continue
        count += 1
        key = (level, row["descriptor"])
        product = products.get(key) or products.setdefault(key, Product(*key))
        version = (row.get("major_version"), row.get("minor_version"), row.get("version"))
        known = versions.get(version)
        if known is None:
            known = versions[version] = (version_rank(row), version_text(row))
        rank, text = known
        if rank > product.top:
            product.top = rank
        for column in columns:
            product.files[column] = product.files.get(column, 0) + 1
            if column not in product.ranks or rank > product.ranks[column]:
                product.ranks[column], product.versions[column] = rank, text
    ordered = sorted(products.values(), key=_product_order)
    columns = _all_columns(plan, start, end, ordered)
    gaps = [gap for p in ordered for gap in find_gaps(p, columns, by_level)]
    return Coverage(
        plan.instrument,
        plan.table,
        plan.by,
        start,
        end,
        columns,
        ordered,
        gaps,
        count,
        unplaced,
        by_level,
    )


def _columns_of(plan: CoveragePlan, row: Mapping[str, Any], first: dt.date, last: dt.date) -> list:
    if first > last:
        return []
    if plan.by == "repointing":
        number = row.get("repointing")
        return [number] if type(number) is int else []
    if first == last:
        return [first]
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _product_order(product: Product) -> tuple:
    from imap_cli.core.vocabulary import DATA_LEVELS

    level = product.data_level
    rank = DATA_LEVELS.index(level) if level in DATA_LEVELS else len(DATA_LEVELS)
    return (rank, level or "", product.descriptor)


def _all_columns(plan: CoveragePlan, start: dt.date, end: dt.date, products: list[Product]):
    if plan.by == "repointing":
        seen = {c for p in products for c in p.versions}
        return list(range(min(seen), max(seen) + 1)) if seen else []
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def _lower(level: str | None, by_level: Mapping[str, set], column: Column) -> tuple[str, ...]:
    from imap_cli.core.vocabulary import DATA_LEVELS

    if level not in DATA_LEVELS:
        return ()
    below = DATA_LEVELS[: DATA_LEVELS.index(level)]
    return tuple(lv for lv in below if column in by_level.get(lv, ()))


def find_gaps(product: Product, columns: Sequence[Column], by_level: Mapping[str, set]) -> list:
    """Runs of missing columns, split where lower levels start or stop having files there: each
    gap is one a reprocess could fill (present_below: the lower levels with files in it) or a
    gap in the data itself (present_below empty)."""
    from imap_cli.core.vocabulary import DATA_LEVELS

    gaps: list[Gap] = []
    run: list[Column] = []
    below: set[str] = set()

    def close() -> None:
        if run:
            levels = tuple(lv for lv in DATA_LEVELS if lv in below)
            gap = Gap(product.data_level, product.descriptor, run[0], run[-1], len(run), levels)
            gaps.append(gap)
        run.clear()
        below.clear()

    for column in columns:
        if column in product.versions:
            close()
            continue
        here = _lower(product.data_level, by_level, column)
        if run and bool(here) != bool(below):
            close()
        below.update(here)
        run.append(column)
    close()
    return gaps
