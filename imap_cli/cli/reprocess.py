"""`imap reprocess`: ask the SDC to reprocess an instrument's files over a date range."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imap_cli.cli.follow import WAIT_PANEL, Interval, Timeout
from imap_cli.cli.options import (
    DataLevel,
    Descriptor,
    DryRun,
    Instrument,
    Yes,
    confirm,
    state,
)

if TYPE_CHECKING:
    from imap_cli.cli.options import State
    from imap_cli.core.reprocess import ReprocessRequest

Start = Annotated[
    str | None,
    typer.Option(
        "--start-date", "-s", help="First day (YYYYMMDD or YYYY-MM-DD).", show_default=False
    ),
]
End = Annotated[
    str | None,
    typer.Option("--end-date", "-e", help="Last day, inclusive.", show_default=False),
]

Wait = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="After queueing, follow the jobs of this instrument and range that start after "
        "the request until none runs, then list the files not re-made (exit 0 only when "
        "there are none).",
        rich_help_panel=WAIT_PANEL,
    ),
]
Check = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Send nothing: list the latest files in the range ingested before --since (not "
        "re-made since that request). With --wait, follow its jobs first.",
        rich_help_panel=WAIT_PANEL,
    ),
]
Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="DATETIME",
        help="With --check: when the request was sent (ISO; UTC unless an offset is given).",
        show_default=False,
        rich_help_panel=WAIT_PANEL,
    ),
]


def reprocess(
    ctx: typer.Context,
    start_date: Start = None,
    end_date: End = None,
    instrument: Instrument = None,
    data_level: DataLevel = None,
    descriptor: Descriptor = None,
    yes: Yes = False,
    dry_run: DryRun = False,
    wait: Wait = False,
    check: Check = False,
    since: Since = None,
    timeout: Timeout = None,
    interval: Interval = 15.0,
) -> None:
    """Ask the SDC to reprocess an instrument's files that start in a date range.

    Needs an API key or an access token.

    The SDC queues any request unchecked, then drops what it cannot run, so rules come first:

    an instrument is required; a data level goes with a descriptor (both or neither).

    On a terminal it asks before sending; in a script it needs --yes. Prints the SDC's
    reprocess id.

    Examples:

    imap reprocess -s 20251001 -e 20251003 -i mag

    imap reprocess -s 20251001 -e 20251003 -i mag -l l1b -d norm-mago --yes

    imap reprocess -s 20251001 -e 20251003 -i mag --yes --wait --timeout 7200

    imap reprocess --check --since 2025-10-05T10:00:00Z -s 20251001 -e 20251003 -i mag
    """
    from imap_cli.core.reprocess import plan_reprocess, reprocess, request_url, require_credential

    run = state(ctx)
    output = run.output
    request = plan_reprocess(
        start_date=start_date,
        end_date=end_date,
        instrument=instrument,
        data_level=data_level,
        descriptor=descriptor,
    )
    sent_since = _check_options(ctx, check=check, since=since, dry_run=dry_run, wait=wait)
    if check:
        assert sent_since is not None
        _follow_and_check(
            run, request, sent_since, wait=wait, fresh=False, timeout=timeout, interval=interval
        )
        return
    with run.client() as client:
        if dry_run:
            output.lines([f"POST {request_url(client, request)}"])
            if not client.credential_headers():
                output.warn("no API key or access token is set; the SDC would refuse this")
            output.note(f"Dry run: would reprocess {request.describe()}; nothing was sent.")
            return
        require_credential(client)
        question = f"Reprocess {request.describe()} on {run.settings.url}?"
        confirm(output, yes, question, "a reprocess request")
        # Whole seconds, as ingestion dates: a file re-made in this second counts as re-made.
        sent_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        answer = reprocess(client, request)
    output.success(f"{answer.message}: {request.describe()}")
    if answer.reprocess_id:
        output.lines([answer.reprocess_id])
    if not wait:
        output.note("Follow it with `imap jobs -i " + request.instrument + "`.")
        return
    _follow_and_check(
        run, request, sent_at, wait=True, fresh=True, timeout=timeout, interval=interval
    )


def _check_options(
    ctx: typer.Context, *, check: bool, since: str | None, dry_run: bool, wait: bool
) -> dt.datetime | None:
    """The --since time of --check; usage errors for the options that do not go together."""
    from imap_cli.cli.options import given
    from imap_cli.core.errors import UsageError
    from imap_cli.core.moments import parse_moment

    if since is not None and not check:
        raise UsageError(
            "--since goes with --check (a new request is checked from when it is sent)",
            "For example: imap reprocess --check --since 2025-10-05T10:00:00Z -s D -e D2 -i mag",
        )
    if check and since is None:
        raise UsageError(
            "--check needs --since: the time the reprocess request was sent",
            "For example: --since 2025-10-05T10:00:00Z (UTC unless an offset is given)",
        )
    if check and dry_run:
        raise UsageError("--check sends nothing already; drop --dry-run", "Use --check alone.")
    if not wait and not check:
        for name in ("timeout", "interval"):
            if given(ctx, name):
                raise UsageError(f"--{name} goes with --wait", "For example: --wait --timeout 3600")
    return parse_moment(since, "since") if since is not None else None


def _follow_and_check(
    run: State,
    request: ReprocessRequest,
    since: dt.datetime,
    *,
    wait: bool,
    fresh: bool,
    timeout: float | None,
    interval: float,
) -> None:
    """Follow the request's jobs (with `wait`), then list the files not re-made since `since`;
    exit 0 only when every file was re-made (and no job failed), 3 on a timeout."""
    from imap_cli.cli.errors import ExitCode
    from imap_cli.cli.follow import follow, policy_for, report
    from imap_cli.core.moments import format_moment
    from imap_cli.core.remade import check_remade, in_range, job_filters

    output = run.output
    code = ExitCode.OK
    with run.client() as client:
        if wait:
            # A new request's jobs start later: wait for the first, and look once more after
            # the last ends (the scheduler starts the next a moment later).
            policy = policy_for(
                interval, timeout, min_jobs=1 if fresh else 0, settle_polls=1 if fresh else 0
            )
            result = follow(
                run,
                client,
                job_filters(request),
                policy,
                what="the reprocess jobs",
                started_after=since,
                follow_running=False,
                keep=in_range(request),
            )
            code = report(
                output,
                result,
                none_text="No job of this request has run.",
                not_started="The SDC may not have started them yet, or dropped the request "
                "(it drops one identical to a request of the last few minutes); look with "
                f"`imap jobs -i {request.instrument}`, later `--check --since` this request.",
            )
        checked = check_remade(client, request, since)
    when = format_moment(since)
    total, old = len(checked.files), len(checked.not_remade)
    _show_not_remade(output, checked.not_remade)
    if old:
        output.error(
            f"{old} of {total} latest file{'s' if total != 1 else ''} in the range not re-made "
            f"since {when} UTC (listed on stdout)",
            hint="Their jobs may still be queued, or have failed: see `imap jobs -i "
            f"{request.instrument} --status failed`; check again later with --check --since.",
        )
        code = max(code, ExitCode.PARTIAL) if code != ExitCode.TIMED_OUT else code
    elif total:
        output.success(f"All {total} latest files in the range were re-made since {when} UTC.")
    else:
        output.note("No files in the range to re-make.")
    if code:
        raise typer.Exit(int(code))


def _show_not_remade(output: Any, rows: list[dict]) -> None:
    """The SDC key of each file not re-made, one a line (stdout: `| imap download -` reads
    it); with -v, each one's ingestion date on stderr."""
    output.lines(str(row.get("file_path")) for row in rows)
    for row in rows:
        output.detail(f"not re-made: {row.get('file_path')} (ingested {row.get('ingestion_date')})")
