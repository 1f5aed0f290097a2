"""`imap webpoda`: L0 packet files from LASP's PODA; `imap webpoda login`: store PODA's
credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from imap_cli.cli import completers
from imap_cli.cli.options import Jobs, state, table_format

if TYPE_CHECKING:
    from imap_cli.cli.output import Output
    from imap_cli.core.webpoda import DayResult, WebpodaSummary

app = typer.Typer(invoke_without_command=True, no_args_is_help=False)

FORMATS = completers.CONFIG_FORMATS  # table, json


Instrument = Annotated[
    str | None,
    typer.Option(
        "--instrument",
        "-i",
        help="Instrument, e.g. mag, ultra.",
        autocompletion=completers.vocabulary("instruments"),
        show_default=False,
    ),
]
StartDay = Annotated[
    str | None, typer.Option("--start-date", "-s", help="First day (YYYYMMDD).", show_default=False)
]
EndDay = Annotated[
    str | None,
    typer.Option("--end-date", "-e", help="Last day (default: the start day).", show_default=False),
]
QueryMode = Annotated[
    str,
    typer.Option(
        "--query-mode",
        help="ert: the days of packets received in the window (backfills too); sct: every "
        "day of the window, by packet time.",
        autocompletion=completers.vocabulary("webpoda_modes"),
    ),
]
# Not the shared --dry-run ("transfer nothing"): webpoda's dry run does fetch from PODA.
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        "-n",
        help="Fetch the packets from PODA and compare them with the SDC; write and upload nothing.",
    ),
]
Upload = Annotated[bool, typer.Option("--upload", help="Upload new and changed files to the SDC.")]
Format = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-o",
        help="table or json. Default: table on a terminal, json when piped.",
        autocompletion=completers.vocabulary("config_formats"),
        show_default=False,
    ),
]
Apids = Annotated[
    str | None,
    typer.Option(
        "--apids",
        help="APIDs to fetch instead of the instrument's table, e.g. 1052,1068.",
        show_default=False,
    ),
]
Sid = Annotated[
    str,
    typer.Option(
        "--sid",
        help="PODA system id: SID1 flight, SID2 pre-launch, SID3 sim.",
        autocompletion=completers.vocabulary("poda_sids"),
    ),
]
WebpodaUrl = Annotated[
    str | None,
    typer.Option(
        "--webpoda-url",
        help="PODA's .../dap2/apids URL (default: the webpoda-url setting).",
        show_default=False,
    ),
]


@app.callback()
def webpoda(
    ctx: typer.Context,
    instrument: Instrument = None,
    start_date: StartDay = None,
    end_date: EndDay = None,
    query_mode: QueryMode = "ert",
    upload: Upload = False,
    dry_run: DryRun = False,
    output_format: Format = None,
    jobs: Jobs = None,
    apids: Apids = None,
    sid: Sid = "SID1",
    webpoda_url: WebpodaUrl = None,
) -> None:
    """Make L0 packet files from LASP's PODA and compare them with the SDC.

    Each day with packets (glows, hi, lo, ultra: each pointing) is fetched, all APIDs at once.

    New: minor version 1; changed: the next minor version; unchanged: no file is left.

    The files are the official client's webpoda files, byte for byte.

    --dry-run fetches and compares; it writes and uploads nothing.

    --upload sends the new and changed files to the SDC, as imap upload does.

    Exit 1 when a day or an upload failed.

    PODA's credentials: `imap webpoda login`, or IMAP_WEBPODA_TOKEN (base64 of user:password).

    Examples:

    imap webpoda -i mag -s 20251001 -e 20251003 --dry-run

    imap webpoda -i ultra -s 20251001 --query-mode sct --upload
    """
    if ctx.invoked_subcommand is not None:
        return
    from imap_cli.core.errors import UsageError

    run = state(ctx)
    if not instrument or not start_date:
        missing = "--instrument" if not instrument else "--start-date"
        raise UsageError(
            f"imap webpoda needs {missing}",
            "For example: imap webpoda -i mag -s 20251001 --dry-run (or: imap webpoda login)",
        )
    fmt = table_format(run.output, output_format, FORMATS, what="an output format here; valid")
    from dataclasses import replace

    from imap_cli.core.settings import check_value
    from imap_cli.core.webpoda import plan_webpoda

    plan = plan_webpoda(
        instrument, start_date, end_date, query_mode=query_mode, apids=apids, sid=sid
    )
    settings = run.settings
    if webpoda_url:
        settings = replace(settings, webpoda_url=check_value("webpoda-url", webpoda_url))
    summary = _make(run, settings, plan, jobs or settings.jobs, dry_run, upload)
    show(run.output, summary, fmt)
    if summary.failed:
        raise typer.Exit(1)


def _make(run, settings, plan, workers: int, dry_run: bool, upload: bool) -> WebpodaSummary:
    """Run the plan with a progress bar on a terminal, one line per day on stderr (with -v,
    above the bar); Ctrl-C says what was kept."""
    from imap_cli.cli.progress import DaysProgress
    from imap_cli.core.webpoda import make_files

    output = run.output
    verb = "Would write" if dry_run else "Writing"
    output.detail(f"{verb} {plan.instrument} L0 files from {settings.webpoda_url} ({plan.sid})")
    with run.client(jobs=workers) as sdc:
        try:
            # the bar is gone (it is transient) before the summary or the Ctrl-C note
            with DaysProgress(output, "pointings" if plan.by_pointing else "days") as bar:
                return make_files(
                    sdc,
                    settings,
                    plan,
                    jobs=workers,
                    dry_run=dry_run,
                    upload=upload,
                    on_day=lambda day: _say_day(output, day),
                    on_retry=output.detail,
                    on_progress=bar,
                )
        except KeyboardInterrupt as stop:
            from imap_cli.cli.errors import interrupted_code, interrupted_word

            output.note(f"{interrupted_word(stop)}: no file was left half written.")
            raise typer.Exit(interrupted_code(stop)) from None


def _say_day(output: Output, day: DayResult) -> None:
    """One line per day as it is done (stderr), warnings and failures named."""
    from imap_cli.cli.errors import message_for

    what = day.date + (f" repoint{day.repointing:05d}" if day.repointing is not None else "")
    if day.error is not None:
        output.warn(f"{what}: failed: {' '.join(message_for(day.error).split())}")
    elif day.warning:
        output.warn(f"{what}: {day.detail}")
    else:
        output.detail(f"{what}: {day.action} ({day.detail})")


def _action(day: DayResult) -> str:
    if day.uploaded is True:
        return f"{day.action}, uploaded"
    if day.uploaded is False:
        return f"{day.action}, upload failed"
    return day.action


def show(output: Output, summary: WebpodaSummary, fmt: str) -> None:
    """The summary: a table or JSON on stdout; the totals and failures on stderr."""
    from imap_cli.cli.progress import human_size

    if fmt == "json":
        output.json(summary.as_dict())
    elif summary.days:
        rows = []
        for day in summary.days:
            per_apid = " ".join(f"{a}:{n}" for a, n in day.apids.items() if n) or "-"
            name = day.path.rsplit("/", 1)[-1] if day.path else ""
            rows.append(
                [
                    day.date,
                    "" if day.repointing is None else str(day.repointing),
                    per_apid,
                    str(day.packets),
                    human_size(day.bytes),
                    _action(day),
                    name,
                ]
            )
        columns = ["DATE", "REPOINT", "PACKETS PER APID", "PACKETS", "SIZE", "ACTION", "FILE"]
        if all(day.repointing is None for day in summary.days):
            columns.pop(1)
            rows = [r[:1] + r[2:] for r in rows]
        # the file name is never cut: the detail goes first on a narrow terminal
        output.table(columns, rows, drop_order=("PACKETS PER APID", "PACKETS", "SIZE", "REPOINT"))
    counts = {a: sum(d.action == a for d in summary.days) for a in ("new", "changed")}
    same = sum(d.action in ("unchanged", "empty") for d in summary.days)
    head = "Would write" if summary.dry_run else "Wrote"
    if not summary.days:
        output.note("No packets in that window: nothing to do.")
        return
    output.note(
        f"{head} {counts['new']} new and {counts['changed']} changed file(s); "
        f"{same} unchanged or empty" + ("; nothing was written." if summary.dry_run else ".")
    )
    for day in summary.failed:
        what = day.date + (f" repoint{day.repointing:05d}" if day.repointing is not None else "")
        output.error(f"{what}: {day.detail or day.action}", "")


@app.command("login")
def login(ctx: typer.Context) -> None:
    """Ask for the PODA user name and password; store them, encoded, in the config file (mode 0600).

    Not on a terminal, the user and the password are read from the first two lines of stdin.
    """
    from imap_cli.core import settings
    from imap_cli.core.errors import UsageError
    from imap_cli.core.poda import encode_token

    run = state(ctx)
    if run.output.stdin_tty:
        user = typer.prompt("PODA user", err=True).strip()
        password = typer.prompt("PODA password", hide_input=True, err=True)
    else:  # from a pipe or a file: the user on the first line, the password on the second
        lines = [*run.output.streams.stdin.read().splitlines(), "", ""]
        user, password = lines[0].strip(), lines[1]
    if not user or not password or ":" in user:
        raise UsageError("a PODA user name (without ':') and a password are needed")
    path = settings.default_config_path()
    settings.set_value(path, "webpoda-token", encode_token(user, password))
    run.output.success(f"PODA credentials for {user} saved in {path}")
    from imap_cli.cli.config import _warn_if_overridden

    _warn_if_overridden(run, "webpoda-token")
