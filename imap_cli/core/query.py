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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from imap_cli.core.errors import (
    NotFound,
    TooLarge,
    UsageError,
    option,
    plural,
    terminal,
    word,
)
from imap_cli.core.filters import (
    FULL_VERSION,
    check_member,
    check_product,
    compact,
    ordered_range,
    parse_date,
    parse_repointing,
    parse_version,
    whole,
)
from imap_cli.core.records import (
    check_records,
    decode_body,
    latest_records,
    record_name,
)
from imap_cli.core.spice_time import (
    day_after,
    spice_time_range,
)

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
    # Kept here, not sent: the SDC's ingestion filters are whole days (core.moments), and it
    # has no notion of a best level (core.levels).
    "ingested_since",
    "ingested_before",
    "highest_level",
)
_QUERY_PARAM_ORDER = FILTERS[:13]

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


@dataclass(frozen=True)
class QueryPlan:
    """One validated request: where it goes, its parameters in order, what to do after."""

    table: str  # science, ancillary, quicklook or spice
    route: str  # "query" or "spice-query"
    params: tuple[tuple[str, str], ...]
    latest_here: bool = False  # resolve `latest` on the client (the table cannot)
    only_name: str | None = None  # keep only rows whose basename is this (--filename)
    fallback_route: str | None = None  # asked instead when the route is not there (404)
    ingested_since: dt.datetime | None = None  # keep rows ingested at or after (UTC)
    ingested_before: dt.datetime | None = None  # keep rows ingested strictly before
    highest_level: bool = False  # keep the highest level of each instrument and day

    @property
    def what(self) -> str:
        """How errors name this request."""
        if self.route.endswith("-table"):
            return self.route.replace("-", " ") + " query"
        return "spice query" if self.route == "spice-query" else "query"


def _extensions_for(table: str) -> tuple[str, ...]:
    from imap_cli.core.vocabulary import EXTENSIONS

    return tuple(sorted(EXTENSIONS[table]))


def _extension_of_another_table(table: str, value: Any, valid: tuple[str, ...]) -> None:
    """A value that is another table's extension says which table has it (not a near miss:
    `cdf` for quicklook is no typo of `pdf`)."""
    text = str(value).strip().lower()
    if text in valid:
        return
    others = [t for t in TABLES if t != table and text in _extensions_for(t)]
    others.sort(key=lambda t: t != DEFAULT_TABLE)  # the usual table first
    if others:
        raise UsageError(
            f"{value!r} is not a valid {word('extension')} for the {table} table; valid "
            f"{plural('extension')}: {', '.join(valid)}; {' and '.join(others)} files have it",
            f"For {text} files: {option('table', others[0])}.",
            field="extension",
            value=value,
            choices=valid,
        )


# Older names still accepted, not offered: old name -> the name to use.
OLD_TYPE_NAMES = {"thruster": "small-forces"}


def kernel_types() -> tuple[str, ...]:
    """Every kernel type the spice table accepts: kernel types, `kernels`, the csv tables."""
    from imap_cli.core.vocabulary import SPICE_TYPES

    return tuple(sorted({*SPICE_TYPES, ALL_KERNELS, *NON_KERNEL_TYPES}))


def offered_kernel_types() -> tuple[str, ...]:
    """What completion offers for the spice table's type: kernel_types() without old names."""
    return tuple(t for t in kernel_types() if t not in OLD_TYPE_NAMES)


def plan_query(**filters: Any) -> QueryPlan:
    """Validate the filters and build the request; raises UsageError before any I/O."""
    unknown = sorted(k for k in filters if k not in FILTERS)
    if unknown:
        raise UsageError(
            f"unknown query filter {', '.join(map(repr, unknown))}; valid filters: "
            f"{', '.join(sorted(FILTERS))}",
            field=unknown[0],
            choices=FILTERS,
        )
    given = {k: v for k, v in filters.items() if v is not None and v != ""}
    if given.get("highest_level") is False:
        del given["highest_level"]
    table = given.pop("table", None)
    if table is not None:
        table = check_member("table", table, TABLES, "ancillary")
    if "filename" in given:
        return _plan_for_name(given.pop("filename"), table, given)
    table = table or DEFAULT_TABLE
    since, before = _ingestion_window(given)
    highest = bool(given.pop("highest_level", False))
    if highest:
        _check_highest(table, given)
    plan = _plan_checked(table, given)
    if since is None and before is None and not highest:
        return plan
    return replace(plan, ingested_since=since, ingested_before=before, highest_level=highest)


def _ingestion_window(given: dict[str, Any]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Take ingested_since/ingested_before out of `given`, and put the ingestion days that
    hold them in (the narrower of those and any ingestion dates already given)."""
    from imap_cli.core.moments import BEFORE, SINCE, parse_moment, window_days

    since = parse_moment(given.pop(SINCE), SINCE) if SINCE in given else None
    before = parse_moment(given.pop(BEFORE), BEFORE) if BEFORE in given else None
    if since is not None and before is not None and since >= before:
        raise UsageError(
            f"the {word(SINCE)} is not before the {word(BEFORE)}, so nothing can match",
            f"Swap them: {option(SINCE)} is the start (kept), {option(BEFORE)} the end (left out).",
            field=SINCE,
        )
    first, last = window_days(since, before)
    if first is not None:
        named = given.get("ingestion_start_date")
        if named is None or parse_date(named, "ingestion_start_date") < first:
            given["ingestion_start_date"] = compact(first)
    if last is not None:
        named = given.get("ingestion_end_date")
        if named is None or parse_date(named, "ingestion_end_date") > last:
            given["ingestion_end_date"] = compact(last)
    return since, before


def _check_highest(table: str, given: dict[str, Any]) -> None:
    """highest_level needs data levels (science, quicklook) and picks levels itself."""
    if table not in ("science", "quicklook"):
        raise UsageError(
            f"the {table} table has no data levels, so there is no highest one",
            f"{option('highest_level')} works on the science and quicklook tables.",
            field="highest_level",
        )
    if "data_level" in given:
        raise UsageError(
            f"{option('highest_level')} chooses the data level itself; drop the "
            f"{word('data_level')} filter",
            "It keeps, per instrument and day (or repointing), the files of the highest "
            "level present.",
            field="data_level",
        )
    if not any(k in given for k in ("version", "major_version", "minor_version")):
        given["version"] = "latest"  # only the latest version of each file is kept anyway


def _plan_checked(table: str, given: dict[str, Any]) -> QueryPlan:
    """The plan for a table (not by file name), once the window and level are taken out."""
    refused = [k for k in _NOT_FOR[table] if k in given]
    if refused:
        names = ", ".join(word(k) for k in refused)
        raise UsageError(
            f"the {table} table cannot be filtered by {names}",
            _refusal_hint(table),
            field=refused[0],
        )
    if not any(k != "version" or str(v).strip().lower() != "latest" for k, v in given.items()):
        example = (
            f"{option('type', 'leapseconds')}, {option('start_date', '20251001')}"
            if table == "spice"  # the spice table refuses an instrument
            else f"{option('instrument', 'mag')} {option('start_date', '20251001')}"
        )
        raise UsageError(
            f"at least one filter is needed ({option('table')} and "
            f"{option('version', 'latest')} alone match everything)",
            f"e.g. {example}{terminal('query-help')}",
        )
    if table == "spice":
        return _plan_spice(given)
    return _plan_table(table, given)


def _refusal_hint(table: str) -> str:
    if table == "spice":
        return (
            f"The spice table filters by {option('type')}, dates, ingestion dates and "
            f"{option('version', 'latest')}{terminal('see-help')}."
        )
    if table == "ancillary":
        return "Ancillary files have no data level or repointing; drop those filters."
    return f"{option('type')} (the SPICE kernel type) goes with {option('table', 'spice')}."


def _dates(given: Mapping[str, Any]) -> dict[str, dt.date]:
    days = {
        name: parse_date(given[name], name)
        for name in ("start_date", "end_date", "ingestion_start_date", "ingestion_end_date")
        if name in given
    }
    ordered_range("start_date", "end_date", days)
    ordered_range("ingestion_start_date", "ingestion_end_date", days)
    return days


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
            f"{option('version', 'v001.0002')} is the same as major 1, minor 2.",
            field="version",
        )
    if version is not None and version != "latest":
        values.update(_version_params(table, version))
    if "major_version" in given:
        values["major_version"] = str(whole("major_version", given["major_version"], 999))
    if "minor_version" in given:
        values["minor_version"] = str(whole("minor_version", given["minor_version"], 9999))
    if "extension" in given:
        valid = _extensions_for(table)
        where = f" for the {table} table"
        _extension_of_another_table(table, given["extension"], valid)
        values["extension"] = check_member("extension", given["extension"], valid, valid[0], where)
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
        kernel_type = check_member("type", given["type"], kernel_types(), "leapseconds")
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
    params += _ingestion_and_latest(days, version)
    return QueryPlan("spice", "spice-query", tuple(params))


def _ingestion_and_latest(days: Mapping[str, dt.date], version: str | None) -> list:
    """The ingestion-date and `latest` parameters /spice-query and the spice tables share."""
    params = []
    if "ingestion_start_date" in days:
        params.append(("start_ingest_date", compact(days["ingestion_start_date"])))
    after = day_after(days.get("ingestion_end_date"))
    if after is not None:
        # The SDC compares end_ingest_date with that day's midnight, which would leave the day
        # itself out; send the next day so the end date is inclusive, as on /query.
        params.append(("end_ingest_date", compact(after)))
    if version == "latest":
        params.append(("latest", "true"))
    return params


def _plan_spice_table(kernel_type: str, days: dict[str, dt.date], version: str | None) -> QueryPlan:
    """/spin-table, /repoint-table, /small-forces-table: their own date filters.

    start_date keeps files starting on or after it (repoint files have no start: ignored);
    end_date keeps files ENDING on or before it. Ingestion dates as on /spice-query.
    """
    params = [(name, compact(days[name])) for name in ("start_date", "end_date") if name in days]
    params += _ingestion_and_latest(days, version)
    route = TABLE_ROUTES[kernel_type]
    return QueryPlan("spice", route, tuple(params), fallback_route=_OLD_TABLE_ROUTES.get(route))


def _plan_for_name(filename: Any, table: str | None, others: Mapping[str, Any]) -> QueryPlan:
    from imap_cli.core.naming import parse_key

    if others:
        names = ", ".join(word(k) for k in sorted(others))
        raise UsageError(
            f"a filename already fixes every filter; drop the {names} filter(s)",
            f"{option('filename', 'NAME')} finds exactly that file.",
            field="filename",
        )
    parsed = parse_key(str(filename).strip())
    kind = parsed.kind
    if kind not in TABLES:
        download = terminal("download-it", "Download it directly with download():")
        raise UsageError(
            f"{parsed.name} is a {kind} file, and the SDC's query tables list only science, "
            "quicklook, ancillary and SPICE files",
            f"{download} {parsed.name}",
            field="filename",
            value=filename,
        )
    if table is not None and table != kind:
        raise UsageError(
            f"{parsed.name} is a {kind} file, so it is not in the {table} table",
            f"Drop {option('table')}, or use {option('table', kind)}.",
            field="table",
            value=table,
        )
    if kind == "spice":
        return _plan_spice_name(parsed)
    return _plan_science_name(parsed)


def _plan_science_name(parsed: Any) -> QueryPlan:
    """A science, quicklook or ancillary file: every filter its name fixes."""
    kind = parsed.kind
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
    if FULL_VERSION.fullmatch(version):
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
    # The SPICE table's file_name column is the bare name (rows show "<subdir>/<name>").
    params = (("type", ALL_KERNELS), ("file_name", parsed.name))
    return QueryPlan("spice", "spice-query", params, only_name=parsed.name)


@dataclass(frozen=True)
class QueryResult:
    """The records, and the SDC's JSON body when the records are exactly that body."""

    rows: list[dict]
    body: bytes | None = None


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
    return check_records(decode_body(body, plan.what, status, kind)[0], plan.what)


def _select(plan: QueryPlan, rows: list[dict]) -> tuple[list[dict], bool]:
    """The plan's client-side filters (filename, latest, ingestion window, highest level);
    whether nothing was dropped."""
    unchanged = True
    if plan.only_name is not None:
        kept = [row for row in rows if record_name(row) == plan.only_name]
        unchanged, rows = len(kept) == len(rows), kept
    if plan.latest_here:
        kept = latest_records(rows)
        unchanged, rows = unchanged and len(kept) == len(rows), kept
    if plan.ingested_since is not None or plan.ingested_before is not None:
        from imap_cli.core.moments import in_window

        kept = in_window(rows, plan.ingested_since, plan.ingested_before)
        unchanged, rows = unchanged and len(kept) == len(rows), kept
    if plan.highest_level:
        from imap_cli.core.levels import highest_level

        kept = highest_level(rows)
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

    remembered = _remembered_split(client, plan) if plan.route == "query" else None
    if remembered is not None:
        # Too large last time: start with the parts that worked (core.splitplans).
        rows = _fetch_in_parts(client, plan, on_progress, remembered)
        return QueryResult(_select(plan, rows)[0])
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
    data, had_constants = decode_body(body, plan.what, status, kind)
    rows, unchanged = _select(plan, check_records(data, plan.what))
    # Only a plain UTF-8 array goes out verbatim: no BOM, and no NaN we turned into null.
    raw_ok = unchanged and not had_constants and body.lstrip()[:1] == b"["
    return QueryResult(rows, body if raw_ok else None)


def _remembered_split(client: Any, plan: QueryPlan) -> list | None:
    """The windows this query was split into last time; None if there are none."""
    from imap_cli.core import splitplans

    return splitplans.load_plan(splitplans.plan_key(client.api_url(plan.route), plan.params))


def _fetch_in_parts(
    client: Any,
    plan: QueryPlan,
    on_progress: Callable[[int, int], None] | None,
    remembered: list | None = None,
) -> list[dict]:
    """The records of a query too large to send at once; `remembered`: its split last time."""
    from imap_cli.core.split import fetch_all

    if plan.route == "query":
        from imap_cli.core import splitplans

        key = splitplans.plan_key(client.api_url(plan.route), plan.params)
        return fetch_all(
            lambda params, patient: _records(client, plan, params, patient),
            plan.params,
            what=plan.what,
            on_progress=on_progress,
            plan=remembered,
            on_plan=lambda windows: splitplans.save_plan(key, windows),
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
        f"Narrow the query: a {option('type')}, a shorter {option('start_date')}/"
        f"{option('end_date')} range, or {option('version', 'latest')}.",
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
