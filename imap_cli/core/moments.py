"""Times to the second: `ingested_since` / `ingested_before`, and the SDC's ingestion dates.

The SDC filters ingestion by whole days (`ingestion_start_date`/`ingestion_end_date`, the
DATE part of `ingestion_date`, inclusive), but writes each row's `ingestion_date` to the
second, in UTC (`YYYYMMDD HH:MM:SS`; older servers `YYYY-MM-DD HH:MM:SS`, the SPICE tables
`YYYY-MM-DD, HH:MM:SS`). So a query asks for the days that hold the window and keeps the
rows inside it here.

The window is half-open: `ingested_since` keeps rows ingested at or after it (floored to the
second, as the rows are, so a file ingested in that same second is never missed),
`ingested_before` rows ingested strictly before it. No I/O here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from imap_cli.core.errors import UsageError, word

UTC = dt.timezone.utc
_DAY = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
_MOMENT = re.compile(
    r"(?P<day>\d{4}-?\d{2}-?\d{2})(?:[T ](?P<h>\d{2}):?(?P<m>\d{2})(?::?(?P<s>\d{2})"
    r"(?P<frac>[.,]\d{1,9})?)?)?\s*(?P<zone>Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?"
)
_ROW_TIME = re.compile(r"(\d{4})-?(\d{2})-?(\d{2}),?[ T](\d{2}):(\d{2}):(\d{2})")
_HINT = (
    "Use a date or a date and time, UTC unless an offset is given: 2025-10-01, "
    "2025-10-01T12:30:00, 2025-10-01T12:30:00Z or 2025-10-01T14:30:00+02:00."
)
# The query keywords of the window.
SINCE = "ingested_since"
BEFORE = "ingested_before"


def parse_moment(value: Any, name: str = SINCE) -> dt.datetime:
    """An aware UTC datetime from an ISO date or date-time (UTC unless an offset is given),
    or a datetime (naive: UTC) or date (its midnight UTC). UsageError names `name`."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    found = _MOMENT.fullmatch(text)
    if not found:
        raise UsageError(
            f"{value!r} is not a valid {word(name)}: use an ISO date or date-time",
            _HINT,
            field=name,
            value=value,
        )
    year, month, day = _DAY.fullmatch(found["day"]).groups()  # type: ignore[union-attr]
    frac = (found["frac"] or ".0")[1:]
    try:
        moment = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(found["h"] or 0),
            int(found["m"] or 0),
            int(found["s"] or 0),
            int(frac[:6].ljust(6, "0")),
            tzinfo=_zone(found["zone"]),
        )
    except ValueError as exc:
        raise UsageError(
            f"{value!r} is not a valid {word(name)}: there is no such day or time",
            _HINT,
            field=name,
            value=value,
            cause=exc,
        ) from None
    return moment.astimezone(UTC)


def _zone(text: str | None) -> dt.tzinfo:
    if not text or text.upper() in ("Z", "UTC"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"offset {text} out of range")
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def format_moment(moment: dt.datetime) -> str:
    """`2025-10-01 12:30:00` (UTC), as products and reports show times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def ingestion_time(row: Mapping[str, Any]) -> dt.datetime | None:
    """A record's `ingestion_date` as an aware UTC datetime; None when it has none (or an
    unreadable one)."""
    text = row.get("ingestion_date")
    if not isinstance(text, str):
        return None
    found = _ROW_TIME.match(text.strip())
    if not found:
        return None
    try:
        return dt.datetime(*map(int, found.groups()), tzinfo=UTC)
    except ValueError:
        return None


def floor_second(moment: dt.datetime) -> dt.datetime:
    """The moment without its fraction of a second (ingestion dates have none)."""
    return moment.replace(microsecond=0)


def window_days(
    since: dt.datetime | None, before: dt.datetime | None
) -> tuple[dt.date | None, dt.date | None]:
    """The first and last UTC ingestion days that can hold rows of the window."""
    first = floor_second(since).date() if since is not None else None
    last = (before - dt.timedelta(microseconds=1)).date() if before is not None else None
    return first, last


def in_window(
    rows: Iterable[dict], since: dt.datetime | None, before: dt.datetime | None
) -> list[dict]:
    """The rows ingested in [since, before); a row without a readable ingestion date cannot
    be shown to be inside, so it is left out."""
    low = floor_second(since) if since is not None else None
    kept = []
    for row in rows:
        moment = ingestion_time(row)
        if moment is None:
            continue
        if low is not None and moment < low:
            continue
        if before is not None and moment >= before:
            continue
        kept.append(row)
    return kept
