"""Query the SDC: validate filters, call /query or /spice-query, return the SDC's records.

`plan_query(**filters)` checks every value and builds the request without any I/O;
`fetch(client, plan)` sends it and checks the answer; `run_query` does both. The keyword
names are the official client's (table, instrument, data_level, ...), plus `type` (the SPICE
kernel type) and `filename` (exactly one file, every filter derived from its name).

Deliberate differences from the official client:
- `vMMM.mmmm` versions are accepted (the official client rejects them unless a repointing
  is also given); `latest` is sent to the server for science, resolved here for ancillary and
  quicklook, and sent as `latest=true` to /spice-query.
- /spice-query gets only the parameters it accepts: dates become `start_time`/`end_time` in
  TDB seconds past J2000, never `start_date`/`end_date`/`version` (which give a 400).
- `filename` works (the official client crashes) and returns only that file.
- Choices in messages are sorted, so they read the same on every run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from imap_cli.core.errors import BadResponse, NotFound, TooLarge, UsageError
from imap_cli.core.recent import recent_keys, remember_keys

TABLES: tuple[str, ...] = ("ancillary", "quicklook", "science", "spice")
DEFAULT_TABLE = "science"
# /spice-query's `type=kernels` means every kernel type; it is our default for the spice table.
ALL_KERNELS = "kernels"
# Not kernels: the SDC keeps these files in tables of their own, whose rows carry file_path.
# `thruster` is the older name of small-forces; its route is the fallback on older SDCs.
TABLE_ROUTES: dict[str, str] = {
    "spin": "spin-table",
    "repoint": "repoint-table",
    "small-forces": "small-forces-table",
    "thruster": "small-forces-table",
}
_OLD_TABLE_ROUTES = {"small-forces-table": "thruster-table"}
NON_KERNEL_TYPES: frozenset[str] = frozenset(TABLE_ROUTES)

# Every keyword run_query accepts, in the order the SDC's own client sends /query parameters.
FILTERS: tuple[str, ...] = (
    "table",
    "instrument",
    "data_level",
    "descriptor",
    "start_date",
    "end_date",
    "ingestion_start_date",
    "ingestion_end_date",
    "repointing",
    "version",
    "major_version",
    "minor_version",
    "extension",
    "type",
    "filename",
)
_QUERY_PARAM_ORDER = FILTERS[:13]

_LABELS = {
    "table": "table",
    "instrument": "instrument",
    "data_level": "data level",
    "descriptor": "descriptor",
    "start_date": "start date",
    "end_date": "end date",
    "ingestion_start_date": "ingestion start date",
    "ingestion_end_date": "ingestion end date",
    "repointing": "repointing",
    "version": "version",
    "major_version": "major version",
    "minor_version": "minor version",
    "extension": "extension",
    "type": "SPICE kernel type",
    "filename": "filename",
}
# Filters each table cannot take: the SDC answers 400, so refuse before asking.
_NOT_FOR = {
    "ancillary": ("data_level", "repointing", "major_version", "minor_version", "type"),
    "science": ("type",),
    "quicklook": ("type",),
    "spice": (
        "instrument",
        "data_level",
        "descriptor",
        "repointing",
        "major_version",
        "minor_version",
        "extension",
    ),
}

_DATE_COMPACT = re.compile(r"[0-9]{8}")
_DATE_DASHED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FULL_VERSION = re.compile(r"v[0-9]{3}\.[0-9]{4}")
_LEGACY_VERSION = re.compile(r"v[0-9]{3}")
_REPOINT = re.compile(r"repoint([0-9]{5})")
_DIGITS = re.compile(r"[0-9]{1,5}")

# TAI-UTC in seconds, from each date on (IERS Bulletin C). TDB = UTC + (TAI-UTC) + 32.184 s,
# minus a periodic term of at most 1.7 ms that day filters can ignore. No leap second has been
# announced after 2017-01-01 (37 s), so later dates use 37 s, as SPICE's naif0012.tls does.
_LEAP_SECONDS: tuple[tuple[dt.date, int], ...] = (
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


@dataclass(frozen=True)
class QueryPlan:
    """One validated request: where it goes, its parameters in order, what to do after."""

    table: str  # science, ancillary, quicklook or spice
    route: str  # "query" or "spice-query"
    params: tuple[tuple[str, str], ...]
    latest_here: bool = False  # resolve `latest` on the client (the table cannot)
    only_name: str | None = None  # keep only rows whose basename is this (--filename)
    fallback_route: str | None = None  # asked instead when the route is not there (404)

    @property
    def what(self) -> str:
        """How errors name this request."""
        if self.route.endswith("-table"):
            return self.route.replace("-", " ") + " query"
        return "spice query" if self.route == "spice-query" else "query"


# --- values --------------------------------------------------------------------------------


def _label(name: str) -> str:
    return _LABELS.get(name, name)


def _choices(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def _closest_hint(value: str, valid: Iterable[str], example: str) -> str:
    import difflib

    close = difflib.get_close_matches(value, list(valid), n=1)
    if close:
        return f"Did you mean {close[0]!r}? For example: {example}"
    return f"For example: {example}"


def _member(name: str, value: Any, valid: Sequence[str], example: str, where: str = "") -> str:
    text = str(value).strip().lower()
    if text not in valid:
        plural = "SPICE kernel types" if name == "type" else _label(name) + "s"
        raise UsageError(
            f"{value!r} is not a valid {_label(name)}{where}; valid {plural}: {_choices(valid)}",
            _closest_hint(text, valid, example),
        )
    return text


def parse_date(value: Any, name: str = "start_date") -> dt.date:
    """A real calendar date from `YYYYMMDD`, `YYYY-MM-DD` or a date object."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    hint = "Dates are YYYYMMDD or YYYY-MM-DD, e.g. 20251001 or 2025-10-01."
    if _DATE_COMPACT.fullmatch(text):
        parts = (text[:4], text[4:6], text[6:])
    elif _DATE_DASHED.fullmatch(text):
        parts = (text[:4], text[5:7], text[8:])
    else:
        raise UsageError(
            f"{value!r} is not a valid {_label(name)}: use YYYYMMDD or YYYY-MM-DD", hint
        )
    try:
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        raise UsageError(
            f"{value!r} is not a valid {_label(name)}: there is no such day", hint
        ) from None


def compact(day: dt.date) -> str:
    """YYYYMMDD, zero-padded (strftime's %Y is not padded before year 1000 everywhere)."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def tdb_seconds_past_j2000(moment: dt.datetime) -> float:
    """TDB seconds past J2000 for a UTC moment, as /spice-query compares them.

    TDB = UTC + (TAI-UTC) + 32.184 s; the periodic TDB-TT term (under 2 ms) is left out,
    which cannot matter to a filter by day.
    """
    leap = 10
    day = moment.date()
    for since, value in _LEAP_SECONDS:
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
    after = _day_after(end)
    if after is not None:
        t = tdb_seconds_past_j2000(dt.datetime(after.year, after.month, after.day))
        end_time = math.ceil(t) - 1
    return start_time, end_time


def _day_after(day: dt.date | None) -> dt.date | None:
    """The next day; None for no day, or for 9999-12-31, after which nothing can start."""
    if day is None or day == dt.date.max:
        return None
    return day + dt.timedelta(days=1)


def parse_repointing(value: Any) -> int:
    """`repoint00012`, `12` or 12 -> 12."""
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int) and 0 <= value <= 99999:
        return value
    text = str(value).strip().lower()
    found = _REPOINT.fullmatch(text) or _DIGITS.fullmatch(text)
    if not found:
        raise UsageError(
            f"{value!r} is not a valid repointing: use repoint followed by 5 digits "
            "(repoint00012) or the number (12)",
            "For example: --repointing repoint00012",
        )
    return int(found.group(1) if found.re is _REPOINT else text)


def parse_version(value: Any, table: str) -> str:
    """`latest`, `vMMM.mmmm` or `vXXX`, checked against what the table's files carry."""
    text = str(value).strip()
    if text.lower() == "latest":
        return "latest"
    if table == "spice":
        raise UsageError(
            f"version {value!r} cannot filter the spice table: /spice-query only knows 'latest'",
            "Use --version latest, or --filename NAME for one kernel.",
        )
    if table == "ancillary":
        if _LEGACY_VERSION.fullmatch(text):
            return text
        raise UsageError(
            f"{value!r} is not a valid ancillary version: use vXXX (e.g. v002) or latest",
            "Ancillary files are versioned v001, v002, ...",
        )
    if _FULL_VERSION.fullmatch(text) or _LEGACY_VERSION.fullmatch(text):
        return text
    raise UsageError(
        f"{value!r} is not a valid version: use vMMM.mmmm (e.g. v001.0002), legacy vXXX, or latest",
        "vMMM.mmmm selects exactly that version; vXXX matches the minor version only.",
    )


def _whole(name: str, value: Any, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = -1
    if isinstance(value, bool) or not 0 <= number <= high:
        raise UsageError(f"{value!r} is not a valid {_label(name)}: use a number 0..{high}")
    return number


def check_descriptor(value: Any) -> str:
    """One field of a file name: non-empty, no `_`, no spaces or control characters."""
    text = str(value).strip()
    if not text or "_" in text or any(c.isspace() or not c.isprintable() for c in text):
        raise UsageError(
            f"{value!r} is not a valid descriptor: it is one field of a file name, "
            "non-empty, without '_' or spaces",
            "For example: --descriptor norm-mago",
        )
    return text


def _extensions_for(table: str) -> tuple[str, ...]:
    from imap_cli.core.naming import EXTENSIONS

    return tuple(sorted(EXTENSIONS[table]))


def _kernel_types() -> tuple[str, ...]:
    from imap_cli.core.naming import SPICE_TYPES

    return tuple(sorted({*SPICE_TYPES, ALL_KERNELS, *NON_KERNEL_TYPES}))


# --- planning ------------------------------------------------------------------------------


def plan_query(**filters: Any) -> QueryPlan:
    """Validate the filters and build the request; raises UsageError before any I/O."""
    unknown = sorted(k for k in filters if k not in FILTERS)
    if unknown:
        raise UsageError(
            f"unknown query filter {', '.join(map(repr, unknown))}; valid filters: "
            f"{_choices(FILTERS)}"
        )
    given = {k: v for k, v in filters.items() if v is not None and v != ""}
    table = given.pop("table", None)
    if table is not None:
        table = _member("table", table, TABLES, "--table ancillary")
    if "filename" in given:
        return _plan_for_name(given.pop("filename"), table, given)
    table = table or DEFAULT_TABLE

    refused = [k for k in _NOT_FOR[table] if k in given]
    if refused:
        names = ", ".join(_label(k) for k in refused)
        raise UsageError(
            f"the {table} table cannot be filtered by {names}",
            _refusal_hint(table),
        )
    if not any(k != "version" or str(v).strip().lower() != "latest" for k, v in given.items()):
        example = (
            "--type leapseconds, --start-date 20251001"
            if table == "spice"  # the spice table refuses --instrument
            else "--instrument mag --start-date 20251001"
        )
        raise UsageError(
            "at least one filter is needed (--table and --version latest alone match everything)",
            f"e.g. {example} (see imap query -h)",
        )
    if table == "spice":
        return _plan_spice(given)
    return _plan_table(table, given)


def _refusal_hint(table: str) -> str:
    if table == "spice":
        return (
            "The spice table filters by --type, dates, ingestion dates and --version latest; "
            "see --help."
        )
    if table == "ancillary":
        return "Ancillary files have no data level or repointing; drop those filters."
    return "--type (the SPICE kernel type) goes with --table spice."


def _ordered_range(name_from: str, name_to: str, values: dict[str, Any]) -> None:
    low, high = values.get(name_from), values.get(name_to)
    if low is not None and high is not None and low > high:
        raise UsageError(
            f"the {_label(name_from)} {compact(low)} is after the {_label(name_to)} "
            f"{compact(high)}",
            "Swap them; both ends are inclusive.",
        )


def _dates(given: Mapping[str, Any]) -> dict[str, dt.date]:
    days = {
        name: parse_date(given[name], name)
        for name in ("start_date", "end_date", "ingestion_start_date", "ingestion_end_date")
        if name in given
    }
    _ordered_range("start_date", "end_date", days)
    _ordered_range("ingestion_start_date", "ingestion_end_date", days)
    return days


def check_product(given: Mapping[str, Any]) -> dict[str, str]:
    """The instrument, data level and descriptor among `given`, checked (UsageError)."""
    from imap_cli.core.naming import DATA_LEVELS, INSTRUMENTS

    values: dict[str, str] = {}
    if "instrument" in given:
        values["instrument"] = _member(
            "instrument", given["instrument"], INSTRUMENTS, "--instrument mag"
        )
    if "data_level" in given:
        values["data_level"] = _member(
            "data_level", given["data_level"], DATA_LEVELS, "--data-level l1a"
        )
    if "descriptor" in given:
        values["descriptor"] = check_descriptor(given["descriptor"])
    return values


def _plan_table(table: str, given: dict[str, Any]) -> QueryPlan:
    values = check_product(given)
    values.update({name: compact(day) for name, day in _dates(given).items()})
    if "repointing" in given:
        values["repointing"] = str(parse_repointing(given["repointing"]))
    version = parse_version(given["version"], table) if "version" in given else None
    has_parts = "major_version" in given or "minor_version" in given
    if version is not None and has_parts:
        raise UsageError(
            "give either a version or major/minor versions, not both",
            "--version v001.0002 is the same as major 1, minor 2.",
        )
    if version is not None and version != "latest":
        values.update(_version_params(table, version))
    if "major_version" in given:
        values["major_version"] = str(_whole("major_version", given["major_version"], 999))
    if "minor_version" in given:
        values["minor_version"] = str(_whole("minor_version", given["minor_version"], 9999))
    if "extension" in given:
        valid = _extensions_for(table)
        values["extension"] = _member(
            "extension",
            given["extension"],
            valid,
            f"--extension {valid[0]}",
            f" for the {table} table",
        )
    params = [("table", table)] + [(k, values[k]) for k in _QUERY_PARAM_ORDER if k in values]
    # Only the science table resolves `latest` itself; ancillary answers 400 to it, and
    # quicklook is resolved here as the official client does.
    latest_here = version == "latest" and table != "science"
    if version == "latest" and table == "science":
        params.append(("latest", "true"))
    return QueryPlan(table, "query", tuple(params), latest_here=latest_here)


def _plan_spice(given: dict[str, Any]) -> QueryPlan:
    kernel_type = ALL_KERNELS
    if "type" in given:
        kernel_type = _member("type", given["type"], _kernel_types(), "--type leapseconds")
    days = _dates(given)
    version = parse_version(given["version"], "spice") if "version" in given else None
    if kernel_type in TABLE_ROUTES:
        return _plan_spice_table(kernel_type, days, version)
    start_time, end_time = spice_time_range(days.get("start_date"), days.get("end_date"))
    params: list[tuple[str, str]] = [("type", kernel_type)]
    if start_time is not None:
        params.append(("start_time", str(start_time)))
    if end_time is not None:
        params.append(("end_time", str(end_time)))
    if "ingestion_start_date" in days:
        params.append(("start_ingest_date", compact(days["ingestion_start_date"])))
    after = _day_after(days.get("ingestion_end_date"))
    if after is not None:
        # The SDC compares end_ingest_date with that day's midnight, which would leave the day
        # itself out; send the next day so the end date is inclusive, as on /query.
        params.append(("end_ingest_date", compact(after)))
    if version == "latest":
        params.append(("latest", "true"))
    return QueryPlan("spice", "spice-query", tuple(params))


def _plan_spice_table(kernel_type: str, days: dict[str, dt.date], version: str | None) -> QueryPlan:
    """/spin-table, /repoint-table, /small-forces-table: their own date filters.

    start_date keeps files starting on or after it (repoint files have no start: ignored);
    end_date keeps files ENDING on or before it. Ingestion dates as on /spice-query.
    """
    params: list[tuple[str, str]] = []
    for name in ("start_date", "end_date"):
        if name in days:
            params.append((name, compact(days[name])))
    if "ingestion_start_date" in days:
        params.append(("start_ingest_date", compact(days["ingestion_start_date"])))
    after = _day_after(days.get("ingestion_end_date"))
    if after is not None:
        params.append(("end_ingest_date", compact(after)))
    if version == "latest":
        params.append(("latest", "true"))
    route = TABLE_ROUTES[kernel_type]
    return QueryPlan("spice", route, tuple(params), fallback_route=_OLD_TABLE_ROUTES.get(route))


def _plan_for_name(filename: Any, table: str | None, others: Mapping[str, Any]) -> QueryPlan:
    from imap_cli.core.naming import parse_key

    if others:
        names = ", ".join(_label(k) for k in sorted(others))
        raise UsageError(
            f"a filename already fixes every filter; drop the {names} filter(s)",
            "--filename NAME finds exactly that file.",
        )
    parsed = parse_key(str(filename).strip())
    kind = parsed.kind
    if kind not in TABLES:
        raise UsageError(
            f"{parsed.name} is a {kind} file, and the SDC's query tables list only science, "
            "quicklook, ancillary and SPICE files",
            f"Download it directly: imap download {parsed.name}",
        )
    if table is not None and table != kind:
        raise UsageError(
            f"{parsed.name} is a {kind} file, so it is not in the {table} table",
            f"Drop --table, or use --table {kind}.",
        )
    if kind == "spice":
        return _plan_spice_name(parsed)
    params: list[tuple[str, str]] = [
        ("table", kind),
        ("instrument", parsed.instrument or ""),
    ]
    if kind != "ancillary":
        params.append(("data_level", parsed.data_level or ""))
    params += [
        ("descriptor", parsed.descriptor or ""),
        ("start_date", parsed.start_date or ""),
        ("end_date", parsed.start_date or ""),  # the SDC's end_date compares start dates
    ]
    if kind != "ancillary" and parsed.repointing is not None:
        params.append(("repointing", str(parsed.repointing)))
    version = parsed.version or ""
    if kind != "ancillary" and parsed.major_version is None and parsed.minor_version is not None:
        # The SDC stores a legacy vXXX science file as major 1, minor XXX. Asking with the full
        # form turns off the "highest major only" default, which would hide it.
        version = f"v001.{parsed.minor_version:04d}"
    params += [*_version_params(kind, version).items(), ("extension", parsed.extension)]
    return QueryPlan(kind, "query", tuple(params), only_name=parsed.name)


def _version_params(table: str, version: str) -> dict[str, str]:
    """`version` as the table takes it: as typed (science, ancillary), or split (quicklook).

    Only the science table turns `version` into major/minor itself; quicklook answers 400 to
    a `version` parameter but has major_version/minor_version columns.
    """
    if table != "quicklook":
        return {"version": version}
    if _FULL_VERSION.fullmatch(version):
        return {"major_version": str(int(version[1:4])), "minor_version": str(int(version[5:]))}
    return {"minor_version": str(int(version[1:]))}


def _plan_spice_name(parsed: Any) -> QueryPlan:
    if parsed.spice_type in TABLE_ROUTES:
        # Spin, repoint and small-forces files live in their own tables: list the table and
        # match the name here (the file_path filter wants the SDC's exact key).
        route = TABLE_ROUTES[parsed.spice_type]
        return QueryPlan(
            "spice",
            route,
            (),
            only_name=parsed.name,
            fallback_route=_OLD_TABLE_ROUTES.get(route),
        )
    else:
        # The SPICE table's file_name column is the bare name (rows show "<subdir>/<name>").
        params = (("type", ALL_KERNELS), ("file_name", parsed.name))
    return QueryPlan("spice", "spice-query", params, only_name=parsed.name)


# --- the answer ----------------------------------------------------------------------------


def check_records(data: Any, what: str = "query") -> list[dict]:
    """The body must be a JSON array of objects; anything else is a BadResponse."""
    if not isinstance(data, list):
        kind = _json_kind(data)
        detail = ""
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            detail = f": {' '.join(data['message'].split())[:200]}"
        raise BadResponse(
            f"{what}: the SDC answered with a JSON {kind}, not a list of files{detail}"
        )
    for index, row in enumerate(data):
        if type(row) is not dict:
            raise BadResponse(
                f"{what}: item {index + 1} of the SDC's answer is a JSON {_json_kind(row)}, "
                "not a file record"
            )
    return data


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def record_name(row: Mapping[str, Any]) -> str:
    """The file's bare name: basename of file_path (science, ancillary) or file_name (SPICE)."""
    path = row.get("file_path") or row.get("file_name") or ""
    if not isinstance(path, str):
        return ""
    return path.rpartition("/")[2]


def record_key(row: Mapping[str, Any], table: str) -> str:
    """The SDC key of a record, for `imap download`: file_path, or imap/spice/<file_name>."""
    if table == "spice" and isinstance(row.get("file_name"), str):
        return "imap/spice/" + row["file_name"].lstrip("/")
    path = row.get("file_path")
    if not isinstance(path, str) or not path:
        raise BadResponse(
            f"the SDC sent a {table} record without a file_path: {str(dict(row))[:200]}"
        )
    if table == "spice" and not path.startswith("imap/"):
        # spin/repoint/thruster rows: build the key from the name, as downloads do.
        from imap_cli.core.errors import InvalidName
        from imap_cli.core.naming import parse

        try:
            return parse(path.rpartition("/")[2]).key
        except InvalidName:
            return "imap/spice/" + path.lstrip("/")
    return path


def record_keys(rows: Iterable[Mapping[str, Any]], table: str) -> list[str]:
    """record_key for every row (fast path for the usual file_path rows)."""
    if table != "spice":
        keys = [row.get("file_path") for row in rows]
        if set(map(type, keys)) <= {str} and all(keys):
            return keys  # type: ignore[return-value]
    return [record_key(row, table) for row in rows]


def _version_rank(row: Mapping[str, Any]) -> tuple[int, int, int]:
    major, minor = row.get("major_version"), row.get("minor_version")
    if isinstance(major, int) and isinstance(minor, int):
        return (1, major, minor)
    text = str(row.get("version") or "")
    if _FULL_VERSION.fullmatch(text):
        return (1, int(text[1:4]), int(text[5:]))
    if _LEGACY_VERSION.fullmatch(text):
        return (0, 0, int(text[1:]))  # legacy vXXX sorts before any vMMM.mmmm
    digits = re.sub(r"[^0-9]", "", text)
    return (0, 0, int(digits) if digits else -1)


def latest_records(rows: Sequence[dict]) -> list[dict]:
    """Keep the newest version of each series (instrument, level, descriptor, start date,
    repointing), ties included, in the SDC's order."""
    best: dict[tuple, tuple[int, int, int]] = {}
    keys = []
    for row in rows:
        series = (
            row.get("instrument"),
            row.get("data_level"),
            row.get("descriptor"),
            row.get("start_date"),
            row.get("repointing"),
        )
        rank = _version_rank(row)
        keys.append((series, rank))
        if series not in best or rank > best[series]:
            best[series] = rank
    return [row for row, (series, rank) in zip(rows, keys) if best[series] == rank]


# --- running -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryResult:
    """The records, and the SDC's JSON body when the records are exactly that body."""

    rows: list[dict]
    body: bytes | None = None


def decode_records(body: bytes, what: str = "query", status: int = 200, kind: str = "") -> Any:
    """Decode a JSON body; NaN/Infinity (not JSON) become null. BadResponse if not JSON."""
    return _decode(body, what, status, kind)[0]


def _decode(body: bytes, what: str, status: int, kind: str) -> tuple[Any, bool]:
    constants: list[str] = []

    def constant(word: str) -> None:
        constants.append(word)

    try:
        return json.loads(body, parse_constant=constant), bool(constants)
    except ValueError:  # includes UnicodeDecodeError
        raise BadResponse(
            f"{what}: the SDC answered {status} with a body that is not JSON "
            f"({kind or 'unknown type'}, {len(body)} bytes)"
        ) from None


# A body cut short (connection dropped mid-answer) is asked for again this many more times.
_BODY_RETRIES = 2


def _size_failure(response: Any) -> bool:
    """The gateway's answer to a response too large to send (or a crash: see core.split)."""
    from imap_cli.core.split import is_size_failure

    if response.status_code not in (500, 502):
        return False
    try:
        body = response.content
    except Exception:  # a broken error body is an ordinary failure
        return False
    return is_size_failure(response.status_code, body)


def _send_query(client: Any, url: str, plan: QueryPlan, params: list, patient: bool) -> Any:
    """The 200 response to one request, retried as usual. Not patient: the gateway's size
    failure raises SizeFailure at once instead of being retried (the same answer would fail
    the same way); other 500/502 answers keep their usual retries."""
    from imap_cli.core.retry import RETRY_STATUSES, answered, retry_after
    from imap_cli.core.split import SizeFailure

    if patient:
        return client.api("GET", url, params=params, what=plan.what, stream=True)
    policy = client.retry
    for attempt in range(policy.attempts):
        response = client.api(
            "GET",
            url,
            params=params,
            what=plan.what,
            stream=True,
            ok=(200, 500, 502),
            retry_statuses=RETRY_STATUSES - {500, 502},
        )
        if response.status_code == 200:
            return response
        if _size_failure(response):
            response.close()
            raise SizeFailure
        delay = retry_after(response)
        response.close()
        if attempt == policy.retries or policy.too_late(delay):
            raise client.http_error(response, plan.what)
        policy.again(answered(plan.what, response), attempt, delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _get_body(
    client: Any,
    plan: QueryPlan,
    params: Sequence[tuple[str, str]] | None = None,
    *,
    patient: bool = True,
) -> tuple[bytes, int, str]:
    """One request's body (see _send_query for `patient`)."""
    from imap_cli.core.errors import ConnectionFailed

    url = client.api_url(plan.route)
    for attempt in range(_BODY_RETRIES + 1):
        # Streamed, then read in one call: much faster than requests' 10 KB chunks for the
        # 10+ MB answers broad queries get.
        response = _send_query(
            client, url, plan, list(plan.params if params is None else params), patient
        )
        try:
            return (
                response.raw.read(decode_content=True),
                response.status_code,
                response.headers.get("Content-Type", ""),
            )
        except Exception as exc:  # urllib3's ProtocolError, ReadTimeoutError, OSError...
            if attempt == _BODY_RETRIES:
                raise ConnectionFailed(
                    f"{plan.what}: the connection dropped while reading the SDC's answer "
                    f"({type(exc).__name__})",
                    "Retry; if it keeps happening, narrow the query (fewer days or one "
                    "instrument).",
                ) from exc
        finally:
            response.close()
    raise AssertionError("unreachable")  # pragma: no cover


def _records(client: Any, plan: QueryPlan, params: Sequence[tuple[str, str]], patient: bool):
    """The checked records of one request (a piece of a split query)."""
    body, status, kind = _get_body(client, plan, params, patient=patient)
    return check_records(_decode(body, plan.what, status, kind)[0], plan.what)


def _select(plan: QueryPlan, rows: list[dict]) -> tuple[list[dict], bool]:
    """The plan's client-side filters (--filename, latest); whether nothing was dropped."""
    unchanged = True
    if plan.only_name is not None:
        kept = [row for row in rows if record_name(row) == plan.only_name]
        unchanged, rows = len(kept) == len(rows), kept
    if plan.latest_here:
        kept = latest_records(rows)
        unchanged, rows = unchanged and len(kept) == len(rows), kept
    return rows, unchanged


def fetch_result(
    client: Any, plan: QueryPlan, on_progress: Callable[[int, int], None] | None = None
) -> QueryResult:
    """Send a planned query with an SDCClient; the checked records, and the raw body if usable.

    The body is kept so `-o json` can print the SDC's bytes as they came (already valid JSON,
    already UTF-8) instead of encoding 30,000 records again. An answer too large for the SDC
    to send at once is fetched in parts (core.split); `on_progress(done, total)` follows them.
    """
    from imap_cli.core.split import SizeFailure

    try:
        try:
            body, status, kind = _get_body(client, plan, patient=False)
        except NotFound:
            if plan.fallback_route is None:
                raise
            # An SDC from before the small-forces rename has only /thruster-table.
            plan = replace(plan, route=plan.fallback_route, fallback_route=None)
            body, status, kind = _get_body(client, plan, patient=False)
    except SizeFailure:
        return QueryResult(_select(plan, _fetch_in_parts(client, plan, on_progress))[0])
    data, had_constants = _decode(body, plan.what, status, kind)
    rows, unchanged = _select(plan, check_records(data, plan.what))
    # Only a plain UTF-8 array goes out verbatim: no BOM, and no NaN we turned into null.
    raw_ok = unchanged and not had_constants and body.lstrip()[:1] == b"["
    return QueryResult(rows, body if raw_ok else None)


def _fetch_in_parts(
    client: Any, plan: QueryPlan, on_progress: Callable[[int, int], None] | None
) -> list[dict]:
    from imap_cli.core.split import fetch_all

    if plan.route == "query":
        return fetch_all(
            lambda params, patient: _records(client, plan, params, patient),
            plan.params,
            what=plan.what,
            on_progress=on_progress,
        )
    # /spice-query and the other tables have no start-date or paging semantics to split by.
    # A query that cannot match anything tells a failing SDC from an answer too large.
    kernel_type = dict(plan.params).get("type", ALL_KERNELS)
    column = (
        "file_path"
        if kernel_type in NON_KERNEL_TYPES or plan.route != "spice-query"
        else "file_name"
    )
    probe = [("type", kernel_type)] if plan.route == "spice-query" else []
    probe.append((column, "imap-cli-no-such-file"))
    _records(client, plan, probe, True)
    raise TooLarge(
        f"{plan.what}: the answer is too large for the SDC to send at once (about 6 MB), and "
        "this table cannot be asked for in parts",
        "Narrow the query: a --type, a shorter --start-date/--end-date range, or --version latest.",
    )


def fetch(client: Any, plan: QueryPlan) -> list[dict]:
    """Send a planned query with an SDCClient and return the checked records."""
    return fetch_result(client, plan).rows


def run_query(client: Any, **filters: Any) -> list[dict]:
    """Validate `filters`, query the SDC through `client` (an SDCClient), return its records.

    The records are the SDC's JSON objects, unchanged (science rows: file_path, instrument,
    data_level, descriptor, start_date, repointing, version, ingestion_date, ...).
    """
    return fetch(client, plan_query(**filters))


__all__ = [
    "FILTERS",
    "TABLES",
    "QueryPlan",
    "QueryResult",
    "check_records",
    "decode_records",
    "fetch",
    "fetch_result",
    "latest_records",
    "parse_date",
    "parse_repointing",
    "parse_version",
    "plan_query",
    "recent_keys",
    "record_key",
    "record_keys",
    "record_name",
    "remember_keys",
    "run_query",
    "spice_time_range",
    "tdb_seconds_past_j2000",
]
