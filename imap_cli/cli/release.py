"""`imap release`: check a release manifest, upload it, and ask the SDC to release."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from imap_cli.cli.options import DryRun, Format, Yes, confirm, require_yes, state, table_format

ManifestFile = Annotated[
    Path | None,
    typer.Argument(
        help="The manifest, named like imap_hit_data-release-001_20260101_20260131_v001.txt.",
        metavar="MANIFEST",
        show_default=False,
    ),
]


def release(
    ctx: typer.Context,
    manifest: ManifestFile = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    output_format: Format = None,
) -> None:
    """Release data to the public per a manifest: the latest version of each matching series.

    The manifest's name gives the first and last day (inclusive, against each file's start date).

    Each line is one rule: `instrument, data_type, descriptor, true|false`.

    data_type: all, ancillary or a level; descriptor: all or one. `#` lines and a header skipped.

    Every line is checked first; any problem and nothing is sent (exit 2).

    Then the manifest is uploaded (an identical one already there is fine).

    Once the SDC lists it, the release is requested. Needs an API key.

    --dry-run: list the files the manifest would release; nothing is sent.

    A release cannot be undone: on a terminal it shows how many files each line releases and
    asks; in a script it needs --yes.

    Examples:

    imap release imap_hit_data-release-001_20251001_20251130_v001.txt --dry-run

    imap release imap_hit_data-release-001_20251001_20251130_v001.txt
    """
    from imap_cli.core.errors import UsageError
    from imap_cli.core.release import InvalidManifest, preview, read_manifest, release

    if manifest is None:
        raise UsageError(
            "a release needs its manifest file",
            "e.g. imap release imap_hit_data-release-001_20251001_20251130_v001.txt --dry-run "
            "(see imap release -h)",
        )
    run = state(ctx)
    output = run.output
    try:
        checked = read_manifest(manifest)
    except InvalidManifest as error:
        for problem in error.problems:
            output.error(f"{manifest}: {problem}", "")
        raise
    if not checked.rules:
        output.warn(f"{manifest} has no rule set to true: it releases nothing")
    with run.client() as client:
        if not dry_run:
            from imap_cli.core.release import require_api_key

            require_api_key(client)
            require_yes(output, yes, "a release")  # before the plan's queries are sent
        planned = _plan(client, checked, output, tolerate=yes and not dry_run)
        rows = None if planned is None else preview(client, checked, planned)
        if dry_run:
            _show_preview(run, rows, output_format)
            output.note(
                f"Dry run: {checked.name} would release {_files(len(rows))} starting "
                f"{checked.start_date} to {checked.end_date}; nothing was sent."
            )
            return
        if not yes:
            _ask(output, checked, planned, rows)
        outcome = release(client, checked, on_step=output.detail)
    if outcome.uploaded:
        output.note(f"Uploaded {checked.key}")
    else:
        output.note(f"{checked.key} was already in the SDC (identical)")
    output.success(outcome.message)
    if rows is not None:
        output.note(
            f"Released {_files(len(rows))} (the latest version of each series) "
            f"starting {checked.start_date} to {checked.end_date}."
        )


def _plan(client, checked, output, *, tolerate: bool) -> list | None:
    """Each rule with the files it releases (the dry run's plan). With `tolerate` (--yes: the
    release itself was asked for), a failure to plan is a warning and None: the count is only
    the summary's; otherwise there is nothing to show, so nothing to confirm."""
    from imap_cli.cli.errors import message_for
    from imap_cli.core.errors import SDCError
    from imap_cli.core.release import plan

    try:
        return plan(client, checked)
    except SDCError as error:
        if not tolerate:
            raise
        output.warn(f"could not count the files it releases: {message_for(error)}")
        return None


def _ask(output, checked, planned: list, rows: list) -> None:
    """How many files each line releases, then the question (no: nothing is sent, exit 1)."""
    for rule, found in planned:
        output.note(
            f"  line {rule.line}: {rule.instrument}, {rule.data_type}, "
            f"{rule.descriptor}: {_files(len(found))}"
        )
    confirm(
        output,
        False,
        f"Release {_files(len(rows))} to the public per {checked.name} "
        f"({checked.start_date} to {checked.end_date})? This cannot be undone.",
        "a release",
    )


def _files(count: int) -> str:
    return f"{count} file{'s' if count != 1 else ''}"


def _show_preview(run, rows: list[dict], output_format: str | None) -> None:
    from imap_cli.cli.completers import FORMATS
    from imap_cli.cli.query import show_results

    output = run.output
    fmt = table_format(output, output_format, FORMATS)
    science = [r for r in rows if "data_level" in r]
    ancillary = [r for r in rows if "data_level" not in r]
    if fmt in ("json", "csv") or not rows:
        show_results(output.__class__(output.streams, quiet=True), rows, "science", fmt)
        return
    for table, part in (("science", science), ("ancillary", ancillary)):
        if part:
            show_results(output, part, table, fmt)
