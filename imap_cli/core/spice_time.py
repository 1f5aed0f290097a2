"""UTC days as the TDB seconds past J2000 that /spice-query and /metakernel compare.

Used by core.query (spice filters) and core.metakernel; no I/O.
"""

from __future__ import annotations

import datetime as dt
import math

# TAI-UTC in seconds, from each date on (IERS Bulletin C). TDB = UTC + (TAI-UTC) + 32.184 s,
# minus a periodic term of at most 1.7 ms that day filters can ignore. No leap second has been
# announced after 2017-01-01 (37 s), so later dates use 37 s, as SPICE's naif0012.tls does.
LEAP_SECONDS: tuple[tuple[dt.date, int], ...] = (
    (dt.date(1972, 1, 1), 10),
    (dt.date(1972, 7, 1), 11),
    (dt.date(1973, 1, 1), 12),
    (dt.date(1974, 1, 1), 13),
    (dt.date(1975, 1, 1), 14),
    (dt.date(1976, 1, 1), 15),
    (dt.date(1977, 1, 1), 16),
    (dt.date(1978, 1, 1), 17),
    (dt.date(1979, 1, 1), 18),
    (dt.date(1980, 1, 1), 19),
    (dt.date(1981, 7, 1), 20),
    (dt.date(1982, 7, 1), 21),
    (dt.date(1983, 7, 1), 22),
    (dt.date(1985, 7, 1), 23),
    (dt.date(1988, 1, 1), 24),
    (dt.date(1990, 1, 1), 25),
    (dt.date(1991, 1, 1), 26),
    (dt.date(1992, 7, 1), 27),
    (dt.date(1993, 7, 1), 28),
    (dt.date(1994, 7, 1), 29),
    (dt.date(1996, 1, 1), 30),
    (dt.date(1997, 7, 1), 31),
    (dt.date(1999, 1, 1), 32),
    (dt.date(2006, 1, 1), 33),
    (dt.date(2009, 1, 1), 34),
    (dt.date(2012, 7, 1), 35),
    (dt.date(2015, 7, 1), 36),
    (dt.date(2017, 1, 1), 37),
)
_TT_MINUS_TAI = 32.184
# J2000 = 2000-01-01 12:00:00 TT; seconds are counted from it on the UTC calendar, then shifted.
_J2000_UTC_CALENDAR = dt.datetime(2000, 1, 1, 12, 0, 0)


def tdb_seconds_past_j2000(moment: dt.datetime) -> float:
    """TDB seconds past J2000 for a UTC moment, as /spice-query compares them.

    TDB = UTC + (TAI-UTC) + 32.184 s; the periodic TDB-TT term (under 2 ms) is left out,
    which cannot matter to a filter by day.
    """
    leap = 10
    day = moment.date()
    for since, value in LEAP_SECONDS:
        if day < since:
            break
        leap = value
    return (moment - _J2000_UTC_CALENDAR).total_seconds() + leap + _TT_MINUS_TAI


def spice_time_range(start: dt.date | None, end: dt.date | None) -> tuple[int | None, int | None]:
    """`start_time`/`end_time` covering whole UTC days: [start 00:00, end + 1 day 00:00).

    Whole seconds rounded inward: kernels that end exactly at the start day's midnight or
    begin exactly at the midnight after the end day are left out, and one server revision
    parses these values with int(), so a fraction would be a 400.
    """
    start_time = end_time = None
    if start is not None:
        t = tdb_seconds_past_j2000(dt.datetime(start.year, start.month, start.day))
        start_time = math.floor(t) + 1
    after = day_after(end)
    if after is not None:
        t = tdb_seconds_past_j2000(dt.datetime(after.year, after.month, after.day))
        end_time = math.ceil(t) - 1
    return start_time, end_time


def day_after(day: dt.date | None) -> dt.date | None:
    """The next day; None for no day, or for 9999-12-31, after which nothing can start."""
    if day is None or day == dt.date.max:
        return None
    return day + dt.timedelta(days=1)
