"""`imap query`: search the SDC's catalogue; a table, JSON, CSV or SDC keys on stdout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imap_cli.cli.completers import FORMATS
from imap_cli.cli.options import Force, Format, Jobs, state, table_format, with_query_filters
from imap_cli.core.schema import RECORD_FIELDS

if TYPE_CHECKING:
    from imap_cli.cli.output import Output


# The table view's columns, least important first: left out in this order until a line fits
# the terminal. What identifies a row (instrument, level, descriptor, dates) goes last; the
# file name is never left out (nor cut): it says everything the others do.
DROP_ORDER = {
    "science": (
        "INGESTED",
        "VERSION",
        "INSTRUMENT",  # the file name starts with instrument and level
        "LEVEL",
        "DESCRIPTOR",
        "CR",
        "REPOINT",
        "START",
    ),
    "ancillary": ("INGESTED", "VERSION", "INSTRUMENT", "DESCRIPTOR", "END", "START"),
    # the kernel type shows in the file name's extension too; the coverage does not
    "spice": ("INGESTED", "VERSION", "KERNEL TYPE", "MAX DATE", "MIN DATE"),
}
DROP_ORDER["quicklook"] = DROP_ORDER["science"]

Download = Annotated[
    bool,
    typer.Option(
        "--download",
        help="Then download every file found into the data dir, as `imap download` does "
        "(files already there are skipped). Prints the local paths, or the list in the -o "
        "format if one is given.",
    ),
]


@with_query_filters
def query(
    ctx: typer.Context,
    filters: dict[str, Any],
    output_format: Format = None,
    download: Download = False,
    jobs: Jobs = None,
    force: Force = False,
) -> None:
    """Search the SDC for files; print them as a table, JSON, CSV or SDC keys.

    At least one filter is needed; every value is checked before anything is sent.

    The count of files found goes to stderr, the data to stdout.

    -o table: for people. -o json: the SDC's records, unchanged, as one JSON array.

    -o csv: a header, then one row per record. -o paths: one SDC key a line, for `imap download -`.

    Default: table on a terminal, json when stdout is a pipe or a file.

    --table spice: --type (default: all kernels), dates, ingestion dates and --version latest.

    Examples:

    imap query -i mag -l l1a --start-date 2025-10-01 --version latest

    imap query -i mag --ingestion-start-date 20251001 -o paths | imap download -

    imap query --filename imap_mag_l1a_norm-mago_20251017_v001.0002.cdf

    imap query --table spice --type attitude_history --start-date 20251001 -o json

    imap query -i swe -l l2 --start-date 20251001 --download
    """

    run = state(ctx)
    fmt = table_format(run.output, output_format, FORMATS)
    from imap_cli.cli.progress import PartsProgress
    from imap_cli.core.query import fetch_result, plan_query

    plan = plan_query(**filters)
    with run.client() as client, PartsProgress(run.output) as parts:
        client.on_retry = run.output.note
        result = fetch_result(client, plan, on_progress=parts)
    # With --download the list is printed only when asked for (-o); otherwise the download
    # prints the local paths.
    shown = fmt if output_format or not download else None
    show_results(run.output, result.rows, plan.table, shown, body=result.body)
    if download and result.rows:
        from imap_cli.cli.download import run_downloads
        from imap_cli.core.records import record_keys

        keys = record_keys(result.rows, plan.table)
        code = run_downloads(run, keys, jobs=jobs, force=force, print_paths=not output_format)
        if code:
            raise typer.Exit(code)


def show_results(
    output: Output, rows: list[dict], table: str, fmt: str | None, body: bytes | None = None
) -> None:
    """Print rows in a format, with the count (or a friendly "nothing matched") on stderr.

    `body`: the SDC's JSON bytes when they hold exactly `rows`; `-o json` into a pipe or a
    file prints them as they are (the same records, without encoding them again).
    `fmt` None prints only the count.
    """
    from imap_cli.core.records import record_keys

    count = len(rows)
    if count:
        output.note(f"Found {count:,} file{'s' if count != 1 else ''} in the {table} table")
    else:
        output.note(
            f"No files in the {table} table match these filters. Widen them (dates, version, "
            "descriptor), or check the values with --help."
        )
    keys = record_keys(rows, table) if count and fmt == "paths" else None
    if fmt == "json":
        if body is not None and not output.streams.stdout_tty:
            output.json_bytes(body)
        else:
            output.json(rows)
    elif fmt == "csv":
        columns = csv_columns(rows, table)
        output.csv(columns, csv_rows(rows, columns))
    elif fmt == "paths":
        output.lines(keys or ())
    elif fmt == "table" and count:
        names, data = table_columns(rows, table)
        output.table_columns(names, data, drop_order=DROP_ORDER.get(table, ()))
    if count:
        _remember(rows, table, keys)


def _remember(rows: list[dict], table: str, keys: list[str] | None) -> None:
    """Keep the keys for `imap download` tab completion; a record without one is no error here."""
    import contextlib

    from imap_cli.core.errors import IMAPError
    from imap_cli.core.recent import remember_keys
    from imap_cli.core.records import record_keys

    with contextlib.suppress(IMAPError):
        remember_keys(keys if keys is not None else record_keys(rows, table))


def csv_columns(rows: Sequence[dict], table: str) -> list[str]:
    """The union of the rows' keys: the table's known fields first, then others as first seen."""
    known = RECORD_FIELDS.get(table, ())
    if not rows:
        return list(known)
    seen: dict[str, None] = {}
    first_keys = None
    for row in rows:
        keys = row.keys()
        if keys == first_keys:  # the usual case: every row has the same fields
            continue
        first_keys = first_keys or keys
        for key in keys:
            seen.setdefault(key, None)
    ordered = [k for k in known if k in seen]
    return ordered + [k for k in seen if k not in known]


def csv_rows(rows: Sequence[dict], columns: Sequence[str]) -> list[list[Any]]:
    """Cells for csv.writer: None -> empty, booleans true/false, lists/objects as JSON."""
    import json

    def cell(value: Any) -> Any:
        if value is None:
            return ""
        if value is True:
            return "true"
        if value is False:
            return "false"
        if isinstance(value, (list, dict)):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return value

    simple = (str, int, float)
    out = []
    for row in rows:
        values = [row.get(c) for c in columns]
        # bool is an int subclass, so compare types exactly: True must become "true".
        if all(type(v) in simple for v in values):
            out.append(values)
        else:
            out.append([cell(v) for v in values])
    return out


def _column(rows: Sequence[dict], key: str) -> list[Any]:
    return [r.get(key) for r in rows]


def _versions(rows: Sequence[dict]) -> list[Any]:
    versions = _column(rows, "version")
    if set(map(type, versions)) <= {str}:
        return versions
    return [_version(r) for r in rows]


def _version(row: dict) -> str:
    version = row.get("version")
    if isinstance(version, str) and version:
        return version
    major, minor = row.get("major_version"), row.get("minor_version")
    if isinstance(major, int) and isinstance(minor, int):
        return f"v{major:03d}.{minor:04d}"
    return "" if version is None else str(version)


def _basenames(values: list[Any]) -> list[Any]:
    return [v.rpartition("/")[2] if type(v) is str else v for v in values]


def table_columns(rows: Sequence[dict], table: str) -> tuple[list[str], list[list[Any]]]:
    """Column names and their values (column by column) for the table view of this table."""
    from imap_cli.cli.output import table_dates

    if table == "spice":
        return _spice_columns(rows)
    if table == "ancillary":
        names = ["INSTRUMENT", "DESCRIPTOR", "START", "END", "VERSION", "INGESTED", "FILENAME"]
        data = [
            _column(rows, "instrument"),
            _column(rows, "descriptor"),
            table_dates(_column(rows, "start_date")),
            table_dates(_column(rows, "end_date")),
            _versions(rows),
            table_dates(_column(rows, "ingestion_date")),
            _basenames(_column(rows, "file_path")),
        ]
        return names, data
    names = ["INSTRUMENT", "LEVEL", "DESCRIPTOR", "START"]
    data = [
        _column(rows, "instrument"),
        _column(rows, "data_level"),
        _column(rows, "descriptor"),
        table_dates(_column(rows, "start_date")),
    ]
    # Repointing and CR only when some file has one: most products have neither.
    for key, name in (("repointing", "REPOINT"), ("cr", "CR")):
        values = _column(rows, key)
        if any(v is not None for v in values):
            names.append(name)
            data.append(values)
    names += ["VERSION", "INGESTED", "FILENAME"]
    data += [
        _versions(rows),
        table_dates(_column(rows, "ingestion_date")),
        _basenames(_column(rows, "file_path")),
    ]
    return names, data


def _spice_columns(rows: Sequence[dict]) -> tuple[list[str], list[list[Any]]]:
    from imap_cli.cli.output import table_dates

    names = ["KERNEL TYPE", "MIN DATE", "MAX DATE", "INGESTED", "VERSION", "FILENAME"]
    filenames = _basenames([r.get("file_name") or r.get("file_path") for r in rows])
    data = [
        [r.get("kernel_type") or _kernel_type(name) for r, name in zip(rows, filenames)],
        # spin/repoint/small-forces rows (type=spin...) carry start_date/end_date/file_path.
        table_dates([r.get("min_date_datetime", r.get("start_date")) for r in rows]),
        table_dates([r.get("max_date_datetime", r.get("end_date")) for r in rows]),
        table_dates(_column(rows, "ingestion_date")),
        [_spice_version(r, name) for r, name in zip(rows, filenames)],
        filenames,
    ]
    return names, data


def _spice_version(row: dict, name: Any) -> Any:
    """The version as the SDC writes it in the file name (`001`, `01`), not as a number."""
    from imap_cli.core.errors import InvalidName
    from imap_cli.core.naming import parse

    if isinstance(name, str):
        try:
            version = parse(name).version
        except InvalidName:
            version = None
        if version:
            return version
    return row.get("version")


def _kernel_type(name: Any) -> str:
    """spin/repoint/thruster rows carry no kernel_type: take it from the file name."""
    from imap_cli.core.errors import InvalidName
    from imap_cli.core.naming import parse

    try:
        return parse(name).spice_type or "" if isinstance(name, str) else ""
    except InvalidName:
        return ""
