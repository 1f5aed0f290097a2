"""`imap upload`: check every file, then stream them to the SDC in parallel."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from imap_cli.cli import completers
from imap_cli.cli.options import DryRun, Jobs, input_items, state

if TYPE_CHECKING:
    from imap_cli.core.transfer import FileResult

Files = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Files to upload; `-` reads them from stdin, one per line (blank lines and "
        "# comments are ignored), or as `imap query` writes them (json, csv).",
        metavar="FILE",
        autocompletion=completers.upload_files,
        show_default=False,
    ),
]


def upload(
    ctx: typer.Context, files: Files = None, jobs: Jobs = None, dry_run: DryRun = False
) -> None:
    """Upload files to the SDC, several at once, streamed from disk.

    Every file is checked first (IMAP name, readable, not empty); if any fails, nothing is sent.

    A file already in the SDC with the same bytes (size, and MD5 when the SDC's ETag is one) counts
    as done; with other bytes it is a conflict (exit 1): a new version needs a new name.

    --dry-run uploads nothing and says which files the SDC has already.

    The SDC takes uploads only with an API key that may write (`imap config set api-key KEY`).
    """
    import time

    from imap_cli.cli.errors import run_exit_code
    from imap_cli.core.upload import InvalidUploads, upload_files

    run = state(ctx)
    output = run.output
    given = [str(f) for f in files or ()]
    example = "find out -name '*.cdf' | imap upload -"
    paths = [
        Path(p)
        for p in input_items(
            output, given, what="files", usage="imap upload FILE...", example=example, paths=True
        )
    ]
    if not paths:
        output.note("Nothing to upload.")
        return
    workers = jobs or run.settings.jobs
    with run.client(jobs=workers) as sdc:
        try:
            if dry_run:
                results = upload_files(sdc, paths, jobs=workers, dry_run=True)
                show_dry_run(run.output, results, sdc.base_url)
                code = run_exit_code(results)
                if code:
                    raise typer.Exit(code)
                return
            output.detail(f"Uploading to {sdc.base_url} with {workers} jobs")
            from imap_cli.cli.progress import TransferProgress

            started = time.monotonic()
            with TransferProgress(output, verb="Uploading", client=sdc) as progress:
                results = upload_files(sdc, paths, jobs=workers, on_event=progress.handle)
            progress.summary(results, time.monotonic() - started)
        except KeyboardInterrupt as stop:
            from imap_cli.cli.errors import interrupted_code, interrupted_word

            output.note(
                f"{interrupted_word(stop)}: an unfinished upload leaves nothing in the SDC. Run "
                "the same command again; files that made it are then reported as already in "
                "the SDC."
            )
            raise typer.Exit(interrupted_code(stop)) from None  # said what was kept
        except InvalidUploads as error:
            if len(error.problems) > 1 or len(paths) > 1:
                for path, reason in error.problems:
                    output.error(f"{path}: {reason}", "")
            raise
    output.lines(r.key for r in results if r.status == "uploaded")
    code = run_exit_code(results)
    if code:
        raise typer.Exit(code)


def show_dry_run(output, results: Iterable[FileResult], target: str) -> None:
    """The SDC key each file would get on stdout; a count on stderr."""
    from imap_cli.cli.progress import human_size

    results = list(results)
    todo = [r for r in results if r.status == "would-upload"]
    output.lines(r.key for r in todo)
    for result in results:
        if result.status == "skipped":
            output.note(f"already in the SDC: {result.key} ({result.reason})")
        elif result.error is not None:
            output.error(result.error, hint="")
    total = sum(r.size for r in todo)
    there = len(results) - len(todo)
    output.note(
        f"Would upload {len(todo)} file{'s' if len(todo) != 1 else ''} "
        f"({human_size(total)}) to {target}"
        + (f"; {there} already there" if there else "")
        + "; nothing was sent."
    )
