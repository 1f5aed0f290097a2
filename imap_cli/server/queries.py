"""/query and /spice-query with the real SDC's semantics.

Every function returns an `Answer` carrying the SDC's status and body, errors included:
- 400 bodies are JSON strings with the SDC's exact wording;
- what makes the SDC's lambda crash (an unknown table, a bad date in /query, a value Postgres
  cannot cast, no query string at all, table=spice with rows to show) is the gateway's
  500 {"message": "Internal Server Error"}, as there.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from imap_cli.core.schema import ANCILLARY_FIELDS, KERNEL_COVERAGE_FIELDS, SCIENCE_FIELDS
from imap_cli.core.vocabulary import DATA_LEVELS, INSTRUMENTS
from imap_cli.server.answer import Answer, crash
from imap_cli.server.catalogue import Catalogue

# The tables' columns in their models' order (the 400 for an unknown parameter lists them): a
# science record's fields but the synthesised `version`, with `extension` last.
_SCIENCE_COLUMNS = [*SCIENCE_FIELDS[:8], *SCIENCE_FIELDS[10:], "extension"]
_ANCILLARY_COLUMNS = list(ANCILLARY_FIELDS)
_SPICE_COLUMNS = [
    "file_path",
    "file_name",
    "ingestion_date",
    "file_root",
    "kernel_type",
    *KERNEL_COVERAGE_FIELDS,
    "version",
    "released",
]
_TABLE_COLUMNS = {
    "science": _SCIENCE_COLUMNS,
    "ancillary": _ANCILLARY_COLUMNS,
    "spice": _SPICE_COLUMNS,
    "quicklook": _SCIENCE_COLUMNS,
}
VALID_PARAMETERS = {
    table: [
        *columns,
        *(["end_date"] if table != "ancillary" else []),
        "ingestion_start_date",
        "ingestion_end_date",
    ]
    for table, columns in _TABLE_COLUMNS.items()
}
SPICE_PARAMETERS = [
    "file_name",
    "start_time",
    "end_time",
    "type",
    "latest",
    "start_ingest_date",
    "end_ingest_date",
]
NON_SPICE_PARAMETERS = [
    "file_path",
    "start_date",
    "end_date",
    "latest",
    "start_ingest_date",
    "end_ingest_date",
]
VERSION_ERROR = "Invalid 'version' value. Use format 'vMMM.mmmm' or 'vXXX'."

# Catalogue column for each equality-filtered SDC column, and how Postgres would cast the value.
_EQUALITY = {
    "file_path": ("key", "text"),
    "instrument": ("instrument", "instrument"),
    "data_level": ("data_level", "data_level"),
    "descriptor": ("descriptor", "text"),
    "repointing": ("repointing", "int"),
    "major_version": ("major", "int"),
    "minor_version": ("minor", "int"),
    "ingestion_date": ("ingestion_text", "timestamp"),
    "cr": ("cr", "int"),
    "crid": (None, "text"),  # the catalogue knows no reprocessing ids: always null
    "released": (None, "bool"),  # see _UNRELEASED
    "extension": ("extension", "text"),
    "version": ("version", "text"),
}
_INT = re.compile(r"\s*[+-]?\d+\s*\Z")
_TRUE = {"t", "tr", "tru", "true", "y", "ye", "yes", "on", "1"}
_FALSE = {"f", "fa", "fal", "fals", "false", "n", "no", "of", "off", "0"}
_TIMESTAMP_FORMATS = (
    "%Y%m%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y%m%d",
    "%Y-%m-%d",
)


class _Crash(Exception):
    """What would make the SDC's lambda raise: answered as the gateway's 500."""


def _bad_request(message: str) -> Answer:
    return Answer(400, json.dumps(message))


def _rows_answer(rows: list[tuple]) -> Answer:
    return Answer(200, "[" + ", ".join(r[0] for r in rows) + "]")


def _day(value: str) -> str:
    """YYYYMMDD of a date parsed like the SDC does (strptime %Y%m%d); ValueError if bad."""
    return dt.datetime.strptime(value, "%Y%m%d").strftime("%Y%m%d")


def _midnight(value: str) -> float:
    return dt.datetime.strptime(value, "%Y%m%d").replace(tzinfo=dt.timezone.utc).timestamp()


def _cast(kind: str, value: Any, table: str) -> Any:
    """The value as Postgres would cast it for the column; _Crash where Postgres fails."""
    text = str(value)
    if kind == "int":
        if not _INT.match(text) or not -(2**31) <= int(text) < 2**31:
            raise _Crash
        return int(text)
    if kind == "instrument":
        if text not in INSTRUMENTS:
            raise _Crash
    elif kind == "data_level":
        if text not in DATA_LEVELS:
            raise _Crash
    elif kind == "bool":
        lowered = text.strip().lower()
        if lowered not in _TRUE | _FALSE:
            raise _Crash
        return lowered in _TRUE
    elif kind == "timestamp":
        for fmt in _TIMESTAMP_FORMATS:
            try:
                return dt.datetime.strptime(text.strip(), fmt).strftime("%Y%m%d %H:%M:%S")
            except ValueError:
                continue
        raise _Crash
    return text


# The row as stored says released; files marked unreleased say so (only computed when any is).
_UNRELEASED = "key IN (SELECT key FROM unreleased)"
_ROW_WITH_RELEASED = (
    f"CASE WHEN {_UNRELEASED} THEN replace(row_json, '\"released\": true', "
    "'\"released\": false') ELSE row_json END"
)


def query(
    catalogue: Catalogue,
    params: dict[str, str] | None,
    *,
    public: bool = False,
    pagination: bool = True,
) -> Answer:
    """GET /query: filter, rank versions, answer the rows ordered by file_path.

    `public`: the unauthenticated route, which sees released files only (before ranking).
    With `pagination` (the newer SDC revision), `offset` and `limit` are taken out first and
    applied after ordering; without, they are unknown parameters (400) as on most deployments.
    """
    if params is None:  # the gateway gives the lambda no parameters at all: it crashes
        return crash()
    params = dict(params)
    page = ""
    if pagination:
        page, problem = _page(params.pop("offset", None), params.pop("limit", None))
        if problem:
            return _bad_request(problem)
    table = params.pop("table", "science")
    if table not in VALID_PARAMETERS:
        return crash()
    mode = None
    if table == "science":
        try:
            mode = _science_version_mode(params)
        except ValueError:
            return _bad_request(VERSION_ERROR)
    valid = VALID_PARAMETERS[table]
    where = ["tbl = ?"]
    args: list[Any] = [table]
    # The conditions that can tell apart the versions of one series' day (see _ranked_sql).
    within: list[str] = []
    within_args: list[Any] = []
    try:
        for param, value in params.items():
            if param not in valid:
                return _bad_request(
                    f"{param} is not a valid query parameter for {table} table. "
                    f"Valid query parameters are: {valid}"
                )
            _condition(table, param, value, where, args)
            if param not in _PARTITION_PARAMS:
                _condition(table, param, value, within, within_args)
    except ValueError:  # strptime on a bad date: uncaught in the SDC's lambda
        return crash()
    try:
        if table == "spice":
            return _spice_on_query(catalogue, params, where, args)
        _check_casts(table, params)
    except _Crash:
        return crash()
    column = "row_json"
    if catalogue.unreleased_count:
        column = _ROW_WITH_RELEASED
        if public:
            where.append(f"NOT {_UNRELEASED}")
            within.append(f"NOT {_UNRELEASED}")
    sql = _ranked_sql(where, mode, column, _index_for(params), within)
    return _rows_answer(catalogue.rows(sql + page, args + within_args if mode else args))


# Parameters on the columns of the SDC's ranking partition (a series' day and repointing): the
# versions of one day all meet them or all fail them.
_PARTITION_PARAMS = frozenset(
    ("start_date", "end_date", "instrument", "data_level", "descriptor", "repointing")
)


def _index_for(params: dict[str, Any]) -> str:
    """The index that serves a query, chosen here: without statistics SQLite's planner
    prefers any date range over an instrument, and then reads every file of those days."""
    if "file_path" in params:
        return ""  # one key
    return "files_rank" if "instrument" in params else "files_day"


def _page(offset: str | None, limit: str | None) -> tuple[str, str]:
    """The SQL tail for offset/limit, or the SDC's 400 message for bad values."""
    if offset is None and limit is None:
        return "", ""
    try:
        first = int(offset) if offset is not None else 0
        count = int(limit) if limit is not None else -1
    except ValueError:
        return "", "'offset' and 'limit' must be integers."
    if max(first, count) > 2**63 - 1:  # not a 64-bit integer, as the SDC's database needs
        return "", "'offset' and 'limit' must be integers."
    if first < 0:
        return "", "'offset' must be greater than or equal to 0."
    if limit is not None and count <= 0:
        return "", "'limit' must be greater than 0."
    return f" LIMIT {count} OFFSET {first}", ""


def _science_version_mode(params: dict[str, Any]) -> str | None:
    """Apply the `version` alias and `latest`, like the SDC; None = no ranking."""
    if "version" in params:
        digits = str(params.pop("version")).lstrip("vV")
        if "." in digits:
            major_text, minor_text = digits.split(".", 1)
            major, minor = int(major_text), int(minor_text)
            params["major_version"] = major
        else:
            minor = int(digits)
        params["minor_version"] = minor
    latest = str(params.pop("latest", "")).lower() == "true"
    if "major_version" in params:
        return None
    return "newest" if latest else "latest_major"


def _condition(table: str, param: str, value: Any, where: list[str], args: list[Any]) -> None:
    if param == "start_date":
        where.append("start_date >= ?")
        args.append(_day(value))
    elif param == "end_date":  # the SDC compares the file's START date, on every table
        where.append("start_date <= ?")
        args.append(_day(value))
    elif param == "ingestion_start_date":
        where.append("ingestion_day >= ?")
        args.append(_day(value))
    elif param == "ingestion_end_date":
        where.append("ingestion_day <= ?")
        args.append(_day(value))
    elif table != "spice":
        column, kind = _EQUALITY[param]
        try:
            cast = _cast(kind, value, table)
        except _Crash:
            cast = None  # _check_casts answers 500 once every name has been checked
        if param == "released":
            where.append(f"NOT {_UNRELEASED}" if cast else _UNRELEASED)
        elif column is None:
            where.append("0")  # a null column equals nothing
        else:
            where.append(f"{column} = ?")
            args.append(cast)


def _check_casts(table: str, params: dict[str, Any]) -> None:
    for param, value in params.items():
        if param in ("start_date", "end_date", "ingestion_start_date", "ingestion_end_date"):
            continue
        _column, kind = _EQUALITY[param]
        if param == "extension" and table == "science":
            kind = "science_extension"
            if value not in ("pkts", "cdf"):  # a Postgres enum on the science table
                raise _Crash
        _cast(kind, value, table)


def _ranked_sql(
    where: list[str],
    mode: str | None,
    column: str = "row_json",
    index: str = "",
    within: Sequence[str] = (),
) -> str:
    """The query's SQL: its rows ordered by key, and with a `mode`, only the SDC's rank() = 1
    of each series' day and repointing (NULL repointings share one, as in Postgres): the
    highest major version, and minor too for "newest"; ties all kept.

    A row is kept when no other row of its day that the query selects has a higher version:
    `within` are the query's conditions that can differ between the versions of one day
    (on the other columns the day's rows all agree), checked on that other row. In SQLite this
    is twice as fast as rank() OVER (...) for large answers, and each look-up is one seek in
    files_rank. Its args: the query's, then those of `within`.
    """
    condition = " AND ".join(where)
    files = "files f" + (f" INDEXED BY {index}" if index else "")
    if mode is None:
        return f"SELECT {column} FROM {files} WHERE {condition} ORDER BY key"
    # Versions are never NULL on the science table (a legacy vXXX is major 1, minor XXX).
    higher = "g.major > f.major"
    if mode == "newest":
        higher = f"({higher} OR (g.major = f.major AND g.minor > f.minor))"
    others = "".join(f" AND {c}" for c in within)
    newer = (
        "SELECT 1 FROM files g INDEXED BY files_rank WHERE g.tbl = f.tbl "
        "AND g.instrument IS f.instrument AND g.data_level IS f.data_level "
        "AND g.descriptor IS f.descriptor AND g.start_date IS f.start_date "
        f"AND g.repointing IS f.repointing AND {higher}{others}"
    )
    return f"SELECT {column} FROM {files} WHERE {condition} AND NOT EXISTS ({newer}) ORDER BY key"


def _spice_on_query(
    catalogue: Catalogue, params: dict[str, Any], where: list[str], args: list[Any]
) -> Answer:
    """table=spice on /query: the SDC's formatter fails on any SPICE row (500); [] if none."""
    if "end_date" in params:
        raise _Crash  # the filter reads start_date, which SPICE rows lack
    columns = {"file_path": "key", "file_name": "name", "kernel_type": "kernel_type"}
    columns.update(file_root="file_root", version="kversion")
    for param, value in params.items():
        if param in columns:
            where.append(f"{columns[param]} = ?")
            args.append(value)
        elif param not in ("ingestion_start_date", "ingestion_end_date", "released"):
            raise _Crash  # JSON, float and timestamp columns: not worth emulating
    found = catalogue.rows(f"SELECT 1 FROM files WHERE {' AND '.join(where)} LIMIT 1", args)
    if found:
        raise _Crash
    return Answer(200, "[]")


def spice_query(catalogue: Catalogue, params: dict[str, str] | None) -> Answer:
    """GET /spice-query: kernels by type, TDB time range, latest version, ingestion dates."""
    if params is None:
        return crash()
    kernel_type = params.get("type")
    if kernel_type in ("spin", "repoint", "thruster"):
        rest = {k: v for k, v in params.items() if k != "type"}
        return non_spice_query(catalogue, kernel_type, rest)
    where = ["tbl = 'spice'"]
    args: list[Any] = []
    filters = dict(_SPICE_FILTERS)
    if params.get("type") == "kernels":
        filters["type"] = None  # every kernel type
    try:
        latest = _filter(params, SPICE_PARAMETERS, filters, where, args)
    except _Refused as refused:
        return refused.answer
    if latest:
        # The newest version of each file_root, over the whole table (as the SDC's subquery).
        where.append(
            "kversion = (SELECT max(k.kversion) FROM files AS k "
            "WHERE k.tbl = 'spice' AND k.file_root = files.file_root)"
        )
    sql = f"SELECT row_json FROM files WHERE {' AND '.join(where)} ORDER BY key"
    return _rows_answer(catalogue.rows(sql, args))


def non_spice_query(catalogue: Catalogue, table: str, params: dict[str, str]) -> Answer:
    """Spin, repoint and thruster files (/spice-query?type=spin, /spin-table, ...)."""
    where = ["tbl = ?"]
    args: list[Any] = [table]
    filters = dict(_NON_SPICE_FILTERS)
    if table == "repoint":
        filters["start_date"] = None  # repoint files have no start
    try:
        latest = _filter(params, NON_SPICE_PARAMETERS, filters, where, args)
    except _Refused as refused:
        return refused.answer
    condition = " AND ".join(where)
    if latest:
        sql = (
            "SELECT row_json FROM (SELECT key, row_json, row_number() OVER (PARTITION BY "
            "start_ts, end_ts ORDER BY version DESC) AS n FROM files "
            f"WHERE {condition}) WHERE n = 1 ORDER BY key"
        )
    else:
        sql = f"SELECT row_json FROM files WHERE {condition} ORDER BY key"
    return _rows_answer(catalogue.rows(sql, args))


class _Refused(Exception):
    """A parameter the SDC answers with 400: carries that answer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.answer = _bad_request(message)


# Each parameter's SQL condition and how its value is read; None: accepted, no condition.
# The ingestion ends are compared with midnight, so the end day itself is left out (as there).
_Filters = dict[str, "tuple[str, Callable[[str], Any]] | None"]
_INGESTION_FILTERS: _Filters = {
    "start_ingest_date": ("ingested >= ?", _midnight),
    "end_ingest_date": ("ingested <= ?", _midnight),
}
_SPICE_FILTERS: _Filters = {
    "start_time": ("max_et >= ?", float),
    "end_time": ("min_et <= ?", float),
    "type": ("kernel_type = ?", str),
    "file_name": ("name = ?", str),
    **_INGESTION_FILTERS,
}
_NON_SPICE_FILTERS: _Filters = {
    "start_date": ("start_ts >= ?", _midnight),
    "end_date": ("end_ts <= ?", _midnight),
    "file_path": ("key = ?", str),
    **_INGESTION_FILTERS,
}


def _filter(
    params: dict[str, str], valid: list[str], filters: _Filters, where: list[str], args: list
) -> bool:
    """Add each parameter's condition, in the order given; True when `latest=true` is among
    them. Raises _Refused with the SDC's 400 for an unknown parameter or a bad value."""
    latest = False
    for param, value in params.items():
        if param not in valid:
            raise _Refused(
                f"{param} is not a valid query parameter. Valid query parameters are: {valid}"
            )
        if param == "latest":
            latest = latest or value.lower() == "true"
            continue
        rule = filters.get(param)
        if rule is None:
            continue
        condition, read = rule
        try:
            args.append(read(value))
        except ValueError:
            raise _Refused(f"Invalid value for {param}: {value}") from None
        where.append(condition)
    return latest
