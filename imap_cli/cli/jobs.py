"""`imap jobs`: the SDC's processing jobs; `imap jobs logs STREAM`: one job's log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from imap_cli.cli import completers
from imap_cli.cli.follow import WAIT_PANEL, Interval, Timeout
from imap_cli.cli.options import DataLevel, Descriptor, Instrument, state, table_format
from imap_cli.core.schema import JOB_FIELDS

app = typer.Typer(invoke_without_command=True, no_args_is_help=False)

FORMATS = completers.JOBS_FORMATS
# SGR colours of a status on a terminal.
STATUS_STYLES = {"SUCCEEDED": "32", "FAILED": "1;31", "INPROGRESS": "33"}

Status = Annotated[
    str | None,
    typer.Option(
        "--status",
        help="INPROGRESS (or running), SUCCEEDED or FAILED; any case.",
        autocompletion=completers.vocabulary("job_statuses"),
        show_default=False,
    ),
]
JobsFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-o",
        help="table, json or csv. Default: table on a terminal, json when piped.",
        autocompletion=completers.vocabulary("jobs_formats"),
        show_default=False,
    ),
]
JobDay = Annotated[
    str | None,
    typer.Option(
        "--start-date",
        "-s",
        help="Jobs for files starting on this day (YYYYMMDD or YYYY-MM-DD).",
        show_default=False,
    ),
]

Wait = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="Poll until no matching job is in progress: exit 0 when all succeeded, 1 when "
        "any failed (each listed with its log), 3 on --timeout.",
        rich_help_panel=WAIT_PANEL,
    ),
]
WaitSince = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="DATETIME",
        help="With --wait: also follow jobs started at or after this time (ISO; UTC unless "
        "an offset is given), not only those running now or starting later.",
        show_default=False,
        rich_help_panel=WAIT_PANEL,
    ),
]


@app.callback()
def jobs(
    ctx: typer.Context,
    status: Status = None,
    instrument: Instrument = None,
    data_level: DataLevel = None,
    descriptor: Descriptor = None,
    start_date: JobDay = None,
    output_format: JobsFormat = None,
    wait: Wait = False,
    timeout: Timeout = None,
    interval: Interval = 15.0,
    since: WaitSince = None,
) -> None:
    """The SDC's processing jobs, newest first (the SDC sends at most 500), and their logs.

    -o table (default on a terminal; status in colour), json (default when piped) or csv.

    A job's log: `imap jobs logs STREAM`, with the LOG STREAM of its row.

    Examples:

    --wait follows the matching jobs running now (and those starting later) until none
    runs; the jobs it followed are then listed in the -o format.

    Examples:

    imap jobs --status failed -i swe

    imap jobs --wait -i mag --timeout 3600

    imap jobs logs swe-l2-processing/default/cbf8b09d1b5b8097881576c8d658a1a5
    """
    if ctx.invoked_subcommand is not None:
        return
    from imap_cli.core.jobs import list_jobs, plan_jobs

    run = state(ctx)
    output = run.output
    fmt = table_format(
        output, output_format, FORMATS, what="an output format here; valid", example="-o json"
    )
    filters = {
        "status": status,
        "instrument": instrument,
        "data_level": data_level,
        "descriptor": descriptor,
        "start_date": start_date,
    }
    plan_jobs(**filters)  # every value checked before the client is even built
    if wait:
        _wait(run, filters, fmt, timeout=timeout, interval=interval, since=since)
        return
    _refuse_wait_options(ctx)
    with run.client() as client:
        rows = list_jobs(client, **filters)
    show_jobs(output, rows, fmt)


def _refuse_wait_options(ctx: typer.Context) -> None:
    from imap_cli.cli.options import given
    from imap_cli.core.errors import UsageError

    for name in ("timeout", "interval", "since"):
        if given(ctx, name):
            raise UsageError(
                f"--{name} goes with --wait", "For example: imap jobs --wait -i mag --timeout 600"
            )


def _wait(
    run: Any,
    filters: dict[str, Any],
    fmt: str,
    *,
    timeout: float | None,
    interval: float,
    since: str | None,
) -> None:
    """--wait: follow, list what was followed, exit 0 / 1 / 3."""
    from imap_cli.cli.follow import follow, policy_for, report
    from imap_cli.core.moments import parse_moment

    started_after = parse_moment(since, "since") if since else None
    policy = policy_for(interval, timeout)
    with run.client() as client:
        result = follow(run, client, filters, policy, started_after=started_after)
    if result.jobs:
        show_jobs(run.output, result.jobs, fmt, counted=False)
    code = report(run.output, result, none_text="No matching job is in progress.")
    if code:
        raise typer.Exit(code)


def show_jobs(output: Any, rows: list[dict], fmt: str, *, counted: bool = True) -> None:
    """Jobs in a format on stdout (with their count on stderr unless not `counted`)."""
    count = len(rows)
    if not counted:
        pass
    elif count:
        output.note(f"{count} job{'s' if count != 1 else ''}, newest first")
    else:
        output.note("No processing jobs match these filters.")
    if fmt == "json":
        output.json(rows)
    elif fmt == "csv":
        from imap_cli.cli.query import csv_rows

        columns = list(JOB_FIELDS) + sorted({k for r in rows for k in r} - set(JOB_FIELDS))
        output.csv(columns, csv_rows(rows, columns))
    elif count:
        names, data = table_columns(rows)
        output.table_columns(
            names, data, styles={0: STATUS_STYLES}, drop_order=DROP_ORDER, last_below=True
        )


def _duration(row: dict) -> str:
    try:
        began = dt.datetime.fromisoformat(str(row.get("started_at")))
        ended = dt.datetime.fromisoformat(str(row.get("stopped_at")))
    except ValueError:
        return "running" if row.get("status") == "INPROGRESS" else ""
    seconds = int((ended - began).total_seconds())
    if seconds < 0:
        return ""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _version(row: dict) -> str:
    major, minor = row.get("major_version"), row.get("minor_version")
    if isinstance(major, int) and isinstance(minor, int):
        return f"v{major:03d}.{minor:04d}"
    return ""


# Left out first to last when the table is wider than the terminal; what identifies a job
# (its product and day) and when it ran go last. The log stream (the handle for `imap jobs
# logs`) is never cut: when the row is too wide, it goes on a line of its own under its row.
DROP_ORDER = (
    "TOOK",
    "REPOINT",
    "VERSION",
    "LEVEL",  # the stream's name starts with instrument and level
    "INSTRUMENT",
    "RAN (UTC)",
    "DESCRIPTOR",
    "START",
)


def table_columns(rows: list[dict]) -> tuple[list[str], list[list[Any]]]:
    """Column names and values (column by column) for the jobs table."""
    from imap_cli.cli.output import table_dates

    names = ["STATUS", "INSTRUMENT", "LEVEL", "DESCRIPTOR", "START", "VERSION"]
    data: list[list[Any]] = [
        [r.get("status") for r in rows],
        [r.get("instrument") for r in rows],
        [r.get("data_level") for r in rows],
        [r.get("descriptor") for r in rows],
        table_dates([r.get("start_date") for r in rows]),
        [_version(r) for r in rows],
    ]
    repointing = [r.get("repointing") for r in rows]
    if any(v is not None for v in repointing):
        names.append("REPOINT")
        data.append(repointing)
    names += ["RAN (UTC)", "TOOK", "LOG STREAM"]
    data += [
        table_dates([r.get("started_at") for r in rows]),
        [_duration(r) for r in rows],
        [r.get("job_log_stream_id") for r in rows],
    ]
    return names, data


Stream = Annotated[
    str,
    typer.Argument(
        help="The job's log stream (LOG STREAM in `imap jobs`, job_log_stream_id in JSON).",
        metavar="STREAM",
        show_default=False,
    ),
]


@app.command("logs")
def logs(ctx: typer.Context, stream: Stream) -> None:
    """Print one processing job's log, as plain text.

    Example: imap jobs logs swe-l2-processing/default/cbf8b09d1b5b8097881576c8d658a1a5
    """
    from imap_cli.core.errors import printable
    from imap_cli.core.jobs import check_stream, job_logs

    run = state(ctx)
    check_stream(stream)
    with run.client() as client:
        text = job_logs(client, stream)
    if run.output.streams.stdout_tty:
        text = "\n".join(printable(line) for line in text.split("\n"))
    run.output.write(text if text.endswith("\n") or not text else text + "\n")
