"""`imap parents FILE|KEY...`: the files a CDF was made from, and (--check) whether any of
them has been superseded, is a predicted kernel, or is missing from the SDC."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from imap_cli.cli.info import FORMATS, Files, InsideFormat, fetch_missing, locate_inputs
from imap_cli.cli.options import Jobs, state, table_format

if TYPE_CHECKING:
    from imap_cli.core.provenance import FileParents, Provenance

Download = Annotated[
    bool,
    typer.Option("--download", help="Download the parents not in the data dir (in parallel)."),
]
Recursive = Annotated[
    bool,
    typer.Option(
        "--recursive",
        "-r",
        help="Follow the parents' parents too, down to level 0 and the kernels (each once).",
    ),
]
Check = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Audit: is a newer version of a parent in the SDC, is it a predicted kernel, is "
        "it missing? One row per file; exit 1 when any file has a stale or missing input.",
    ),
]
STATUS_STYLES = {"ok": "32", "stale": "1;33", "missing": "1;31"}


def parents(
    ctx: typer.Context,
    files: Files = None,
    download: Download = False,
    recursive: Recursive = False,
    check: Check = False,
    jobs: Jobs = None,
    output_format: InsideFormat = None,
) -> None:
    """The files each CDF names in its Parents attribute: their SDC keys, whether each is in
    the data dir and in the SDC.

    --check is the audit: a file is stale when a parent has a newer version in the SDC or is
    a predicted SPICE kernel, missing when a parent is not in the SDC. Only the CDFs'
    attributes are read, and the SDC is asked about all parents together (a few queries per
    product and date range), so thousands of files take seconds.

    -o json: without --check, one object per file (file, depth, parents: name, key, local,
    path, in_sdc, newer, predicted); with --check, one per file: file, status (ok, stale,
    missing), superseded [{parent, newer}], predicted, missing.

    Reading CDFs needs cdflib: pip install 'imap-sdc-cli[cdf]'.

    Examples:

    imap parents imap_mag_l2_norm-gse_20251001_v001.0000.cdf --recursive --download

    imap parents --check ~/imap-data/imap/mag/l2/2025/*/*.cdf
    """
    import time

    from imap_cli.cli.errors import run_exit_code
    from imap_cli.core.provenance import trace

    run = state(ctx)
    output = run.output
    fmt = table_format(output, output_format, FORMATS, example="-o json")
    located = locate_inputs(run, files, usage="imap parents FILE...")
    code = fetch_missing(run, located)
    paths = [item.path for item in located if item.present]
    settings = run.settings
    workers = jobs or settings.jobs
    started = time.monotonic()
    with run.client(jobs=workers) as client:
        if download:
            from imap_cli.cli.progress import TransferProgress

            with TransferProgress(output, verb="Downloading", client=client) as progress:
                found = trace(
                    client,
                    paths,
                    data_dir=settings.data_dir,
                    download=True,
                    recursive=recursive,
                    jobs=workers,
                    on_event=progress.handle,
                )
            if found.downloads:
                progress.summary(found.downloads, time.monotonic() - started)
            code = max(code, run_exit_code(found.downloads))
        else:
            found = trace(client, paths, data_dir=settings.data_dir, recursive=recursive)
    for bad in found.unreadable:
        output.error(bad)
    if check:
        _show_check(output, found, fmt)
    else:
        _show_parents(output, found, fmt)
    output.detail(f"{found.queries} SDC queries in {time.monotonic() - started:.1f} s")
    if found.unreadable:
        code = max(code, 1 if found.files else 2)
    if check and any(f.status != "ok" for f in found.files):
        code = max(code, 1)
    if code:
        raise typer.Exit(code)


def _newer(parent: Any) -> str:
    """The newer version's version, or its name when it is not an IMAP name."""
    from imap_cli.core.errors import InvalidName
    from imap_cli.core.naming import parse

    try:
        return parse(parent.newer).version or parent.newer
    except InvalidName:
        return parent.newer


def _where(parent: Any) -> str:
    if parent.newer:
        return f"newer: {_newer(parent)}"
    if parent.in_sdc is None:
        return "?" if parent.key else "not an IMAP name"
    return "yes" if parent.in_sdc else "no"


def _show_parents(output: Any, found: Provenance, fmt: str) -> None:
    """Each file on a line of its own, then a table of its parents (fits 80 columns)."""
    if fmt == "json":
        output.json([f.as_dict() for f in found.files])
        return
    for index, file in enumerate(found.files):
        depth = f" [depth {file.depth}]" if file.depth else ""
        named = ":" if file.parents else ": names no parents"
        output.write(("\n" if index else "") + f"{file.name}{named}{depth}\n")
        rows = [
            (parent.name, "yes" if parent.path is not None else "no", _where(parent))
            for parent in file.parents
        ]
        if rows:
            output.table(("PARENT", "LOCAL", "IN SDC"), rows, drop_order=("LOCAL",))
    total = sum(len(f.parents) for f in found.files)
    local = sum(p.path is not None for f in found.files for p in f.parents)
    output.note(f"{len(found.files)} files, {total} parents named, {local} of them in the data dir")


def _problems(file: FileParents) -> list[str]:
    lines = [f"{p.name} superseded by {_newer(p)}" for p in file.superseded]
    lines += [f"{p.name} is a predicted kernel" for p in file.predicted]
    lines += [f"{p.name} is not in the SDC" for p in file.missing]
    return lines


def _show_check(output: Any, found: Provenance, fmt: str) -> None:
    if fmt == "json":
        output.json([f.as_check() for f in found.files])
    else:
        # A reason goes on a line of its own under its file, so that rows fit 80 columns.
        statuses, names = [], []
        for file in found.files:
            statuses.append(file.status)
            names.append(("  " * file.depth) + file.name)
            for problem in _problems(file):
                statuses.append("")
                names.append(("  " * file.depth) + "  " + problem)
        if names:
            output.table_columns(("STATUS", "FILE"), (statuses, names), styles={0: STATUS_STYLES})
    counts = {s: sum(f.status == s for f in found.files) for s in ("ok", "stale", "missing")}
    output.note(
        f"{len(found.files)} files: {counts['ok']} ok, {counts['stale']} stale, "
        f"{counts['missing']} with a missing input ({found.queries} SDC queries)"
    )
