"""`imap sync`: keep the data dir up to date with a query, fetching only what is new."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from imap_cli.cli import completers
from imap_cli.cli.options import DryRun, Jobs, Shard, state, with_query_filters

if TYPE_CHECKING:
    from imap_cli.cli.options import State
    from imap_cli.core.sync import SyncSummary

FORMATS = completers.SYNC_FORMATS

Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Ask for files ingested on or after this day (YYYYMMDD or YYYY-MM-DD) instead of "
        "since the last sync.",
        show_default=False,
    ),
]
# `--version latest` is the one spelling (as in imap query); --latest-only, its older name,
# still works and is no longer shown.
LatestOnly = Annotated[
    bool,
    typer.Option("--latest-only", hidden=True, help="The older name of --version latest."),
]
ReportSuperseded = Annotated[
    bool,
    typer.Option(
        "--report-superseded",
        help="List local files for which the SDC has a newer version (nothing is deleted).",
    ),
]
PruneSuperseded = Annotated[
    bool,
    typer.Option(
        "--prune-superseded",
        help="Delete superseded local files, only those this filter set brought in.",
    ),
]
SyncFormat = Annotated[
    str,
    typer.Option(
        "--format",
        "-o",
        help="text: new paths on stdout, a summary on stderr. json: one summary object "
        "(new, skipped, failed, superseded, files, watermark).",
        autocompletion=completers.vocabulary("sync_formats"),
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only failures (for cron).")]


@with_query_filters
def sync(
    ctx: typer.Context,
    filters: dict[str, Any],
    since: Since = None,
    dry_run: DryRun = False,
    latest_only: LatestOnly = False,
    report_superseded: ReportSuperseded = False,
    prune_superseded: PruneSuperseded = False,
    shard: Shard = None,
    jobs: Jobs = None,
    output_format: SyncFormat = "text",
    quiet: Quiet = False,
) -> None:
    """Bring the data dir up to date with a query: fetch only files not here yet.

    Takes the same filters as `imap query`. The first run fetches everything that matches.

    Later runs ask only for files ingested since the last complete sync (less a day).

    A file that failed is fetched by the next run. State: <data dir>/.imap-sync/.

    Exit codes as for download: 0 all here, 1 some failed.

    Examples:

    imap sync -i mag -l l1b -q          (a cron line: prints only failures)

    imap sync -i swe -l l2 --version latest --report-superseded

    imap sync -i mag -l l1a --since 2025-10-01 --dry-run

    imap sync -i hi -l l1b --shard 2/8  (host 2 of 8 sharing one data dir)
    """
    from imap_cli.core.errors import UsageError
    from imap_cli.core.shard import parse_shard

    run = state(ctx)
    if quiet:
        run.output.quiet = True
    fmt = output_format.strip().lower()
    if fmt not in FORMATS:
        raise UsageError(
            f"{output_format!r} is not a sync output format; valid formats: {', '.join(FORMATS)}",
            "For example: --format json",
        )
    if str(filters.get("version") or "").lower() == "latest":
        # the newest version of each series: sync keeps its own state for such a run
        filters["version"], latest_only = None, True
    # core.sync's keyword arguments, as the flags give them
    options = {
        "since": since,
        "dry_run": dry_run,
        "latest_only": latest_only,
        "prune_superseded": prune_superseded,
        "shard": parse_shard(shard),
    }
    report = report_superseded or prune_superseded
    code = run_sync(run, filters, options, jobs=jobs, fmt=fmt, report=report)
    if code:
        raise typer.Exit(code)


def run_sync(
    run: State,
    filters: dict,
    options: dict[str, Any],
    *,
    jobs: int | None,
    fmt: str,
    report: bool,
) -> int:
    """Run the sync with progress on stderr; print the result; return the exit code."""
    import time

    from imap_cli.cli.download import interrupted_note
    from imap_cli.cli.errors import interrupted_code, run_exit_code
    from imap_cli.cli.progress import TransferProgress
    from imap_cli.core.sync import sync as sync_files
    from imap_cli.core.transfer import ignore_events

    output = run.output
    settings = run.settings
    jobs = jobs or settings.jobs
    with run.client(jobs=jobs) as client:
        started = time.monotonic()
        try:
            with TransferProgress(output, verb="Downloading", client=client) as progress:
                summary = sync_files(
                    client,
                    data_dir=settings.data_dir,
                    filters=filters,
                    jobs=jobs,
                    on_event=ignore_events if options["dry_run"] else progress.handle,
                    **options,
                )
            if not options["dry_run"]:
                progress.summary(summary.results, time.monotonic() - started)
        except KeyboardInterrupt as stop:
            interrupted_note(output, stop)
            output.note("The sync state was not changed.")
            raise typer.Exit(interrupted_code(stop)) from None  # said what was kept
    _show(run, summary, fmt, report=report)
    return run_exit_code(summary.results)


def _show(run: State, summary: SyncSummary, fmt: str, *, report: bool) -> None:
    """Stdout: the new files' paths (text) or one JSON object; stderr: what it means."""
    output = run.output
    if fmt == "json":
        output.json(summary.as_dict())
    elif summary.dry_run:
        output.lines(f"fetch {r.key}" for r in summary.iter_new())
    elif not output.quiet:  # -q, for cron: only failures, which go to stderr
        output.lines(str(r.path) for r in summary.iter_new() if r.path is not None)
    if report and fmt != "json":
        for item in summary.superseded_files:
            output.note(f"superseded: {item.path} (newer: {item.newer})")
        for path in summary.pruned:
            output.note(f"pruned: {path}")
    window = f"files ingested since {_day(summary.since)}" if summary.since else "every match"
    if summary.dry_run:
        output.note(
            f"Dry run, {window}: would download {summary.new_count}, "
            f"{summary.skipped_count} already here; nothing was written."
        )
        return
    if summary.superseded_files or summary.pruned:
        count = len(summary.superseded_files)
        line = f"{count} local file{' has' if count == 1 else 's have'} a newer version in the SDC"
        if summary.pruned:
            line += f"; {len(summary.pruned)} pruned"
        if not report:
            line += " (list them with --report-superseded)"
        output.note(line + ".")
    if summary.failed:
        output.note(f"Synced {window}, but not all: the next run asks for the failed files again.")
    else:
        output.note(f"Synced {window}; up to date as of {summary.watermark}.")


def _day(compact: str) -> str:
    return f"{compact[:4]}-{compact[4:6]}-{compact[6:]}"
