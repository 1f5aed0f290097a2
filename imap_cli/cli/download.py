"""`imap download`: files into the data dir, in parallel, resumable and verified."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from imap_cli.cli import completers
from imap_cli.cli.options import (
    DryRun,
    Force,
    Jobs,
    Shard,
    State,
    Verify,
    input_items,
    state,
    with_query_filters,
)

if TYPE_CHECKING:
    from imap_cli.cli.output import Output
    from imap_cli.core.transfer import FileResult

# Invalid names listed one by one before the summary error; the rest are counted.
SHOWN_PROBLEMS = 10
# How core.download's verify reasons start ("size differs: ...", "checksum differs ...").
DIFFERS = ("size differs", "checksum differs")

Items = Annotated[
    list[str] | None,
    typer.Argument(
        help="SDC keys (imap/mag/l1a/2025/10/<name>) or bare filenames; `-` reads them from "
        "stdin: any `imap query` output (json, csv, paths), or one name a line.",
        show_default=False,
        autocompletion=completers.download_items,
    ),
]

QueryFlag = Annotated[
    bool,
    typer.Option(
        "--query",
        help="Download what a query finds instead of named files: the filters as for `imap "
        "query` (e.g. -i swapi -s D -e D2 --highest-level).",
    ),
]


@with_query_filters
def download(
    ctx: typer.Context,
    filters: dict,
    items: Items = None,
    query: QueryFlag = False,
    jobs: Jobs = None,
    force: Force = False,
    verify: Verify = False,
    dry_run: DryRun = False,
    shard: Shard = None,
) -> None:
    """Download files into <data dir>/<SDC key>: parallel, resumable, checked.

    A file already present (and not empty) is skipped; --verify checks its size and ETag.

    Stdout: the local path of every file present at the end, one a line, in input order.

    Each file goes to a .part, is checked (size; MD5 when the ETag is one), synced, renamed.
    A download stopped by Ctrl-C or a failure keeps what arrived; the same command continues it.

    --query downloads what a query finds, with the query's filters (see `imap query -h`).

    Examples: `imap download imap_mag_l1a_norm-mago_20251001_v001.0001.cdf`,
    `imap query -i mag -l l1a -o paths | imap download -`,
    `imap download --query -i swapi -s 20251001 -e 20251003 --highest-level`.
    """
    from imap_cli.core.shard import parse_shard

    run = state(ctx)
    if query:
        names = _queried(run, items, filters)
    else:
        if _has_filters(filters):
            from imap_cli.core.errors import UsageError

            raise UsageError(
                "query filters (-i, -s, --highest-level, ...) need --query",
                "Download what a query finds: imap download --query -i swapi -s 20251001",
            )
        names = input_items(
            run.output,
            items,
            what="file names",
            usage="imap download NAME...",
            example="imap query -i mag -o paths | imap download -",
        )
    code = run_downloads(
        run,
        names,
        jobs=jobs,
        force=force,
        verify=verify,
        dry_run=dry_run,
        shard=parse_shard(shard),
    )
    if code:
        raise typer.Exit(code)


def _has_filters(filters: dict) -> bool:
    """Whether any query filter was given (the table alone, at its default, is none)."""
    return any(
        value not in (None, False, "") and not (name == "table" and value == "science")
        for name, value in filters.items()
    )


def _queried(run: State, items: list[str] | None, filters: dict) -> list[str]:
    """--query: the SDC keys the query finds (its count on stderr, with progress when it is
    asked for in parts)."""
    from imap_cli.cli.progress import PartsProgress
    from imap_cli.core.errors import UsageError
    from imap_cli.core.query import fetch_result, plan_query
    from imap_cli.core.records import record_keys

    if items:
        raise UsageError(
            "--query downloads what the filters find; it takes no file names",
            "Drop the names, or drop --query.",
        )
    plan = plan_query(**filters)
    with run.client() as client, PartsProgress(run.output) as parts:
        client.on_retry = run.output.note
        rows = fetch_result(client, plan, on_progress=parts).rows
    count = len(rows)
    run.output.note(f"Found {count:,} file{'s' if count != 1 else ''} in the {plan.table} table")
    return record_keys(rows, plan.table) if rows else []


def run_downloads(
    state: State,
    items: list[str],
    *,
    jobs: int | None = None,
    force: bool = False,
    verify: bool = False,
    dry_run: bool = False,
    shard: tuple[int, int] | None = None,
    print_paths: bool = True,
) -> int:
    """Download `items` (keys or filenames) with progress and a summary; returns the exit code.

    Shared by `imap download` and `imap query --download`. Stdout gets the local path of every
    file present at the end (downloaded or already there), one per line, in input order
    (unless not `print_paths`: `imap query -o FORMAT --download` prints the query's records).
    """
    names = list(items)
    if not names:
        state.output.note("Nothing to download.")
        return 0
    # A DataDirError's hint is made to name what set the data dir where every command's
    # errors pass (cli/app.py, _name_the_data_dir).
    jobs = jobs or state.settings.jobs
    return _run(state, names, jobs, force, verify, dry_run, shard, print_paths)


def _run(
    state: State,
    names: list[str],
    jobs: int,
    force: bool,
    verify: bool,
    dry_run: bool,
    shard: tuple[int, int] | None,
    print_paths: bool,
) -> int:
    """run_downloads' work, once the names and the settings are known."""
    import time

    from imap_cli.cli.errors import run_exit_code
    from imap_cli.cli.progress import TransferProgress
    from imap_cli.core.download.pipeline import InvalidNames, download_files
    from imap_cli.core.errors import InvalidName

    output = state.output
    settings = state.settings
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
            compact=True,  # a few bytes per file: memory stays flat at 100,000 files
        )
        if dry_run:
            results = fetch(dry_run=True)
            _show_plan(state, results)
            return run_exit_code(results)
        with TransferProgress(output, verb="Downloading", client=client) as progress:
            results = fetch(on_event=progress.handle)
        if print_paths:
            output.lines(str(r.path) for r in results if r.ok and r.path is not None)
        progress.summary(results, time.monotonic() - started)
        if verify:
            _show_verified(state, results)
        return run_exit_code(results)
    except KeyboardInterrupt as stop:
        from imap_cli.cli.errors import interrupted_code

        interrupted_note(output, stop)
        raise typer.Exit(interrupted_code(stop)) from None  # said what was kept
    except InvalidNames as bad:
        from imap_cli.core.listing import excerpt

        for text, reason in bad.problems[:SHOWN_PROBLEMS]:
            # naming's reasons already quote the name; a key's folder problem quotes the key
            line = reason if text in reason else f"{text!r}: {reason}"
            output.error(excerpt(line, 200), hint="")
        if len(bad.problems) > SHOWN_PROBLEMS:
            output.error(f"... and {len(bad.problems) - SHOWN_PROBLEMS} more", hint="")
        count = len(bad.problems)
        raise InvalidName(
            f"{count} invalid name{'s' if count > 1 else ''}; nothing was downloaded"
        ) from None
    finally:
        client.close()


def _show_verified(state: State, results: Sequence[FileResult]) -> None:
    """--verify: what the check of the files already here found."""
    matched = differed = 0
    for r in results:  # one pass: each result of a CompactResults is made again when read
        matched += r.status == "skipped" and r.reason == "verified"
        differed += r.status == "downloaded" and r.reason.startswith(DIFFERS)
    if not matched and not differed:
        state.output.note("Verify: none of these files was here yet, so none was checked.")
        return
    again = "was" if differed == 1 else "were"
    state.output.note(
        f"Verify: {matched} matched the SDC, {differed} differed and {again} downloaded again."
    )


def interrupted_note(output: Output, stop: BaseException) -> None:
    """After Ctrl-C (or SIGTERM, SIGHUP): what was kept, and how to continue."""
    from imap_cli.cli.errors import interrupted_word
    from imap_cli.cli.progress import human_size

    word = interrupted_word(stop)
    kept = getattr(stop, "kept", None) or []
    if kept:
        size = human_size(sum(size for _, size in kept))
        noun = "file" if len(kept) == 1 else "files"
        output.note(
            f"{word}: finished files kept, and {size} of {len(kept)} unfinished {noun} "
            "kept beside them (as .partial); run the same command again to continue."
        )
    else:
        output.note(
            f"{word}: finished files kept, nothing unfinished worth keeping; "
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
