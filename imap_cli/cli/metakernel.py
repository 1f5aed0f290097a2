"""`imap metakernel`: the SDC's kernels for a time range, downloaded, listed in a .tm."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from imap_cli.cli import completers
from imap_cli.cli.options import DryRun, Force, Jobs, state

Start = Annotated[
    str | None,
    typer.Option(
        "--start-date",
        "-s",
        help="First day to cover (YYYYMMDD or YYYY-MM-DD).",
        show_default=False,
    ),
]
End = Annotated[
    str | None,
    typer.Option("--end-date", "-e", help="Last day to cover, inclusive.", show_default=False),
]
Types = Annotated[
    list[str] | None,
    typer.Option(
        "--type",
        "-t",
        help="Kernel type(s) to include (repeat, or comma-separated); default: all types.",
        autocompletion=completers.vocabulary("metakernel_types"),
        show_default=False,
    ),
]
OutputFile = Annotated[
    Path | None,
    typer.Option(
        "--output",
        help="Write the .tm here (default: print it on stdout).",
        show_default=False,
        dir_okay=False,
    ),
]
MetakernelFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-o",
        help="tm (the metakernel, default) or json (its kernels' SDC keys and local paths).",
        autocompletion=completers.vocabulary("metakernel_formats"),
        show_default=False,
    ),
]
FORMATS = completers.METAKERNEL_FORMATS
RequireCoverage = Annotated[
    bool,
    typer.Option(
        "--require-coverage",
        help="Fail (exit 1) and show the gaps when attitude or ephemeris coverage is incomplete.",
    ),
]


def metakernel(
    ctx: typer.Context,
    start_date: Start = None,
    end_date: End = None,
    kernel_type: Types = None,
    output_file: OutputFile = None,
    output_format: MetakernelFormat = None,
    require_coverage: RequireCoverage = False,
    dry_run: DryRun = False,
    jobs: Jobs = None,
    force: Force = False,
) -> None:
    """Write a SPICE metakernel (.tm) for a time range, downloading the kernels it needs.

    The SDC picks the latest version of each kernel covering the range, in load order.

    Missing kernels are downloaded into the data dir; the .tm lists their absolute paths.

    Long paths are continued with `+`, so spiceypy.furnsh(FILE) loads every kernel.

    --dry-run lists the kernels' SDC keys; nothing is downloaded or written.

    -o is the output format, as in every command: `-o json` prints the kernels' SDC keys and
    local paths (the .tm still goes to --output when given).

    Examples:

    imap metakernel -s 20251001 -e 20251003 --output imap.tm

    imap metakernel -s 20251001 --type leapseconds --type spacecraft_clock --output clock.tm
    """
    import time

    from imap_cli.cli.errors import run_exit_code
    from imap_cli.core.metakernel import build, plan_metakernel

    run = state(ctx)
    output = run.output
    fmt = _format(output_format)
    request = plan_metakernel(
        start_date=start_date,
        end_date=end_date,
        types=kernel_type,
        require_coverage=require_coverage,
    )
    settings = run.settings
    workers = jobs or settings.jobs
    with run.client(jobs=workers) as client:
        if dry_run:
            planned = build(client, request, data_dir=settings.data_dir, dry_run=True)
            if fmt == "json":
                output.json([{"key": key} for key in planned.keys])
            else:
                output.lines(planned.keys)
            output.note(f"Dry run: {len(planned.keys)} kernels; nothing was downloaded or written.")
            return
        from imap_cli.cli.progress import TransferProgress

        started = time.monotonic()
        with TransferProgress(output, verb="Downloading", client=client) as progress:
            made = build(
                client,
                request,
                data_dir=settings.data_dir,
                jobs=workers,
                output=output_file,
                force=force,
                on_event=progress.handle,
            )
        progress.summary(made.results, time.monotonic() - started)
    code = run_exit_code(made.results)
    if code:
        output.error(
            "some kernels could not be downloaded, so no metakernel was written",
            "Run the same command again; kernels already downloaded are kept.",
        )
        raise typer.Exit(code)
    _show(output, made, fmt)


def _show(output, made, fmt: str) -> None:
    """The metakernel written: its text on stdout, or its path (with --output); with -o json,
    its kernels' keys and local paths."""
    if fmt == "json":
        output.json([{"key": k, "path": str(p)} for k, p in zip(made.keys, made.paths)])
        if made.output is not None:
            output.note(f"Wrote {made.output} ({len(made.paths)} kernels)")
    elif made.output is None:
        output.write(made.text)
    else:
        output.lines([str(made.output)])
        output.note(f"Wrote {made.output} ({len(made.paths)} kernels)")


def _format(value: str | None) -> str:
    """The output format: tm or json; anything else (a file name after -o, say) is refused."""
    if value is None or value.lower() in FORMATS:
        return (value or "tm").lower()
    from imap_cli.core.errors import UsageError

    raise UsageError(
        f"{value!r} is not an output format here; valid: {', '.join(FORMATS)}",
        f"-o is the output format in every command; to write the metakernel to a file: "
        f"--output {value}",
        field="format",
        value=value,
        choices=FORMATS,
    )
