"""`imap release`: check a release manifest, upload it, and ask the SDC to release."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from imap_cli.cli.options import DryRun, Format, state, table_format

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
        if dry_run:
            rows = preview(client, checked)
            _show_preview(run, rows, output_format)
            output.note(
                f"Dry run: {checked.name} would release {len(rows)} file"
                f"{'s' if len(rows) != 1 else ''} starting {checked.start_date} to "
                f"{checked.end_date}; nothing was sent."
            )
            return
        outcome = release(client, checked, on_step=output.detail)
    if outcome.uploaded:
        output.note(f"Uploaded {checked.key}")
    else:
        output.note(f"{checked.key} was already in the SDC (identical)")
    output.success(outcome.message)


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
