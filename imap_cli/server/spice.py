"""SPICE kernel metadata derived from the file name alone, for the /spice-query rows.

The real SDC reads each kernel with SPICE to get its exact coverage. `imap serve` does not
load kernels, so the coverage is the day range the name states:

- names with dates or days of year (attitude, ephemeris, spin, thruster, earth attitude, ...):
  from 00:00:00 UTC of the first day to 00:00:00 UTC of the day after the last one;
- a name with only one day (repoint, MOC metakernels): that whole day;
- the SDC's yearly metakernel: the whole year;
- kernels with no date (leapseconds, clock, frames, planetary ephemerides and constants):
  1950-01-01 to 2100-01-01, i.e. "always".

Times are converted from UTC to TDB seconds past J2000 by core.query (leap seconds plus
32.184 s; TDB-TT, at most 1.7 ms, is ignored). SCLK fields are null: they need the kernels.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from imap_cli.core.spice_time import tdb_seconds_past_j2000

UTC = dt.timezone.utc
ALWAYS = (dt.datetime(1950, 1, 1, tzinfo=UTC), dt.datetime(2100, 1, 1, tzinfo=UTC))

# Kernel types that the SDC keeps in their own tables, not in the SPICE table.
NON_SPICE_TYPES = ("spin", "repoint", "thruster")

_DOY = r"\d{4}_\d{3}"
# Each pattern names: start/end (YYYY_DDD), start8/end8 (YYYYMMDD), start6/end6 (YYMMDD),
# year (YYYY), and the version digits `v`, whose span is cut out to make the file_root.
_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"imap_dps_(?P<start>{_DOY})_(?P<end>{_DOY})_(?P<v>\d+)\.ah\.bc$",
        rf"imap_lopivot-repoint\d{{5}}_(?P<start>{_DOY})_(?P<end>{_DOY})_(?P<v>\d+)\.bc$",
        rf"imap_(?P<start>{_DOY})_(?P<end>{_DOY})_(?P<v>\d+)\.(?:ah\.bc|ap\.bc|spin\.csv|spin)$",
        rf"imap_(?P<end>{_DOY})_(?P<v>\d+)\.(?:repoint\.csv|repoint)$",
        r"imap_[a-z0-9\-]+_(?:od\d{3}_)?(?P<start8>\d{8})_(?P<end8>\d{8})(?:_v(?P<v>\d*))?\.bsp$",
        rf"imap_(?P<start>{_DOY})_(?P<end>{_DOY})_[a-z0-9\-_]+_(?P<v>\d{{2}})\.sff$",
        r"imap_sdc_metakernel_(?P<year>\d{4})_v(?P<v>\d{3})\.tm$",
        rf"imap_(?P<start>{_DOY})_a(?P<v>\d{{2}})\.spice\.mk$",
        rf"imap_(?P<start>{_DOY})_e(?P<v>\d{{2}})\.mk$",
        r"earth_(?P<start6>\d{6})_(?P<end6>\d{6})_\d{6}\.bpc$",
        r"imap_science_(?P<v>\d+)\.tf$",
        r"imap_(?P<v>\d+)\.tf$",
        r"(?:L1_de|[a-z\-_]+)(?P<v>\d+)\.(?:tls|tpc|bsp|tsc)$",
    )
)


@dataclass(frozen=True)
class KernelInfo:
    """What /spice-query reports about one kernel, derived from its name."""

    file_root: str
    version: int | None
    version_text: str | None  # the digits as written (spin/repoint/thruster rows show them)
    start: dt.datetime  # coverage, UTC
    end: dt.datetime
    has_start: bool  # False for repoint files, whose name gives only an end day


def tdb_seconds(moment: dt.datetime) -> float:
    """TDB seconds past J2000 for an aware UTC datetime (core's conversion, which the client's
    day filters use too, so that a day the client asks for is the day the server stores)."""
    return tdb_seconds_past_j2000(moment.astimezone(UTC).replace(tzinfo=None))


def _doy(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y_%j").replace(tzinfo=UTC)


def _day(text: str, fmt: str) -> dt.datetime:
    return dt.datetime.strptime(text, fmt).replace(tzinfo=UTC)


def _coverage(groups: dict[str, str | None]) -> tuple[dt.datetime, dt.datetime, bool]:
    one_day = dt.timedelta(days=1)
    if groups.get("year"):
        year = int(groups["year"])
        return dt.datetime(year, 1, 1, tzinfo=UTC), dt.datetime(year + 1, 1, 1, tzinfo=UTC), True
    for start_key, end_key, parse in (
        ("start", "end", _doy),
        ("start8", "end8", lambda s: _day(s, "%Y%m%d")),
        ("start6", "end6", lambda s: _day(s, "%y%m%d")),
    ):
        start_text, end_text = groups.get(start_key), groups.get(end_key)
        if start_text and end_text:
            start, end = parse(start_text), parse(end_text)
            return start, max(start, end) + one_day, True
        if start_text:
            start = parse(start_text)
            return start, start + one_day, True
        if end_text:
            end = parse(end_text)
            return end, end + one_day, False
    return ALWAYS[0], ALWAYS[1], True


def kernel_info(name: str) -> KernelInfo:
    """Coverage, version and file_root of a kernel name that core.naming accepted as SPICE.

    file_root is the name with its version digits cut out, as the SDC stores it
    (`imap_2025_118_2025_120_009.ah.bc` -> `imap_2025_118_2025_120_.ah.bc`, `naif0012.tls` ->
    `naif.tls`); `latest=true` keeps the highest version of each root.
    """
    for pattern in _PATTERNS:
        match = pattern.match(name)
        if match is None:
            continue
        groups = match.groupdict()
        start, end, has_start = _coverage(groups)
        digits = groups.get("v")
        if digits:
            root = name[: match.start("v")] + name[match.end("v") :]
            version: int | None = int(digits)
        else:
            root, version, digits = name, None, None
        return KernelInfo(root, version, digits, start, end, has_start)
    # core.naming accepted it, so it is a kernel; without a known shape it covers all time.
    return KernelInfo(name, None, None, ALWAYS[0], ALWAYS[1], True)
