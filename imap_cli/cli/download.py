"""`imap download`: files into the data dir, in parallel, resumable and verified."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from imap_cli.cli import complete
from imap_cli.cli.options import DryRun, Force, Jobs, Shard, State, Verify, state

if TYPE_CHECKING:
    from imap_cli.cli.output import Output
    from imap_cli.core.transfer import FileResult

Items = Annotated[
    list[str],
    typer.Argument(
        help="SDC keys (imap/mag/l1a/2025/10/<name>) or bare filenames; `-` reads them from "
        "stdin, one per line (blank lines and # comments are ignored).",
        show_default=False,
        autocompletion=complete.download_items,
    ),
]


def download(
    ctx: typer.Context,
    items: Items,
    jobs: Jobs = None,
    force: Force = False,
    verify: Verify = False,
    dry_run: DryRun = False,
    shard: Shard = None,
) -> None:
    """Download files into <data dir>/<SDC key>: parallel, resumable, checked.

    A file already present (and not empty) is skipped; --verify checks its size and ETag.

    Each file goes to a .part, is checked (size; MD5 when the ETag is one), synced, renamed.
    A download stopped by Ctrl-C or a failure keeps what arrived; the same command continues it.

    Examples: `imap download imap_mag_l1a_norm-mago_20251001_v001.0001.cdf`,
    `imap query -i mag -l l1a -o paths | imap download -`.
    """
    from imap_cli.core.download import parse_shard

    code = run_downloads(
        state(ctx),
        items,
        jobs=jobs,
        force=force,
        verify=verify,
        dry_run=dry_run,
        shard=parse_shard(shard),
    )
    if code:
        raise typer.Exit(code)


def run_downloads(
    state: State,
    items: list[str],
    *,
    jobs: int | None = None,
    force: bool = False,
    verify: bool = False,
    dry_run: bool = False,
    shard: tuple[int, int] | None = None,
) -> int:
    """Download `items` (keys, filenames, `-` for stdin) with progress and a summary.

    Shared by `imap download` and `imap query --download`; returns the exit code.
    """
    import time

    from imap_cli.cli.progress import TransferProgress
    from imap_cli.core.download import InvalidNames, download_files
    from imap_cli.core.errors import InvalidName
    from imap_cli.core.transfer import exit_code, expand_items

    output = state.output
    names = expand_items(items, output.streams.stdin)
    if not names:
        output.note("Nothing to download.")
        return 0
    settings = state.settings
    jobs = jobs or settings.jobs
    client = state.client(jobs=jobs)
    try:
        started = time.monotonic()
        fetch = functools.partial(
            download_files,
            client,
            names,
            data_dir=settings.data_dir,
            jobs=jobs,
            force=force,
            verify=verify,
            shard=shard,
        )
        if dry_run:
            results = fetch(dry_run=True)
            _show_plan(state, results)
            return exit_code(results)
        with TransferProgress(output, verb="Downloading") as progress:
            client.on_retry = progress.guard(progress.retrying)
            results = fetch(on_event=progress.handle)
        progress.summary(results, time.monotonic() - started)
        return exit_code(results)
    except KeyboardInterrupt as stop:
        interrupted_note(output, stop)
        raise
    except InvalidNames as bad:
        for text, reason in bad.problems:
            # naming's reasons already quote the name; a key's folder problem quotes the key
            output.error(reason if text in reason else f"{text!r}: {reason}", hint="")
        count = len(bad.problems)
        raise InvalidName(
            f"{count} invalid name{'s' if count > 1 else ''}; nothing was downloaded"
        ) from None
    finally:
        client.close()


def interrupted_note(output: Output, stop: BaseException) -> None:
    """After Ctrl-C: what was kept, and how to continue."""
    from imap_cli.cli.progress import human_size

    kept = getattr(stop, "kept", None) or []
    if kept:
        size = human_size(sum(size for _, size in kept))
        noun = "file" if len(kept) == 1 else "files"
        output.note(
            f"Interrupted: finished files kept, and {size} of {len(kept)} unfinished {noun} "
            "kept beside them (as .partial); run the same command again to continue."
        )
    else:
        output.note(
            "Interrupted: finished files kept, nothing unfinished worth keeping; "
            "run the same command again to fetch the rest."
        )


def _show_plan(state: State, results: Sequence[FileResult]) -> None:
    """Dry run: `fetch KEY` or `skip KEY (reason)` on stdout, a count on stderr."""
    lines = []
    for result in results:
        if result.status == "would-download":
            why = f"  ({result.reason})" if result.reason else ""
            lines.append(f"fetch {result.key}{why}")
        elif result.status == "skipped":
            lines.append(f"skip  {result.key}  ({result.reason})")
        else:
            lines.append(f"fail  {result.key}  ({result.reason})")
    state.output.lines(lines)
    fetch = sum(r.status == "would-download" for r in results)
    skip = sum(r.status == "skipped" for r in results)
    state.output.note(f"Dry run: would download {fetch}, skip {skip}; nothing was written.")
