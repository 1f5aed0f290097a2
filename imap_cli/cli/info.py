"""`imap info FILE|KEY...`: what a file is, without writing code (CDF attributes and
variables; a .pkts file's packets per APID)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from imap_cli.cli import completers
from imap_cli.cli.options import state, table_format

if TYPE_CHECKING:
    from imap_cli.cli.options import State
    from imap_cli.core.provenance import Located

FORMATS = completers.INSIDE_FORMATS

Files = Annotated[
    list[str] | None,
    typer.Argument(
        help="Local files, or IMAP file names / SDC keys (downloaded into the data dir first "
        "when not there yet).",
        show_default=False,
        autocompletion=completers.upload_files,
    ),
]
InsideFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-o",
        help="table or json. Default: table on a terminal, json when piped.",
        autocompletion=completers.vocabulary("inside_formats"),
        show_default=False,
    ),
]


def info(ctx: typer.Context, files: Files = None, output_format: InsideFormat = None) -> None:
    """What a file holds: a CDF's key global attributes and its variables; a .pkts file's
    packets per APID, with the first and last packet time.

    -v shows every global attribute. -o json prints a list with one object per file:
    path, kind, global_attributes, variables (name, type, shape, records, units, depend_0,
    var_type, catdesc) for a CDF; packets and apids for a .pkts file.

    Reading CDFs needs cdflib: pip install 'imap-sdc-cli[cdf]'.

    Examples:

    imap info imap_mag_l2_norm-gse_20251001_v001.0000.cdf

    imap info imap_mag_l0_raw_20251001_v001.0000.pkts -o json
    """
    from imap_cli.core.cdf import UnreadableFile, summary

    run = state(ctx)
    output = run.output
    fmt = table_format(output, output_format, FORMATS, example="-o json")
    located = locate_inputs(run, files, usage="imap info FILE...")
    code = fetch_missing(run, located)
    found, failed = [], 0
    for item in located:
        if not item.present:
            continue  # its download failed, and was reported
        try:
            found.append(summary(item.path))
        except UnreadableFile as bad:
            if len(located) == 1:
                raise
            output.error(bad)
            failed += 1
    if fmt == "json":
        output.json(found)
    else:
        for index, described in enumerate(found):
            if index:
                output.write("\n")
            show(output, described)
    if failed or code:
        raise typer.Exit(1 if found else max(code, 2))


def locate_inputs(run: State, files: list[str] | None, *, usage: str) -> list[Located]:
    """The FILE|KEY arguments as local paths (`-` reads them from stdin)."""
    from imap_cli.cli.options import input_items
    from imap_cli.core.provenance import locate

    items = input_items(
        run.output,
        files,
        what="files",
        usage=usage,
        example="imap query -i mag -l l2 -o paths | " + usage.split(" FILE")[0] + " -",
        paths=True,
    )
    return locate(items, run.settings.data_dir)


def fetch_missing(run: State, located: list[Located]) -> int:
    """Download the inputs named by key that are not in the data dir yet; the exit code of
    that download (0 when nothing was needed)."""
    keys = [item.key for item in located if item.key is not None and not item.present]
    if not keys:
        return 0
    import time

    from imap_cli.cli.errors import run_exit_code
    from imap_cli.cli.progress import TransferProgress
    from imap_cli.core.download.pipeline import download_files

    settings = run.settings
    with run.client() as client:
        started = time.monotonic()
        with TransferProgress(run.output, verb="Downloading", client=client) as progress:
            results = download_files(
                client,
                list(dict.fromkeys(keys)),
                data_dir=settings.data_dir,
                jobs=settings.jobs,
                on_event=progress.handle,
            )
        progress.summary(results, time.monotonic() - started)
    return run_exit_code(results)


def show(output: Any, described: dict[str, Any]) -> None:
    """One file's summary for a person, on stdout."""
    from pathlib import Path

    from imap_cli.cli.progress import human_size

    name = Path(described["path"]).name
    if described["kind"] == "pkts":
        output.lines(
            [
                f"{name}  (CCSDS packets: {described['packets']} packets, "
                f"{human_size(described['size'])})"
            ]
        )
        rows = [
            (a["apid"], a["packets"], a["bytes"], a["first"] or "", a["last"] or "")
            for a in described["apids"]
        ]
        output.table(("APID", "PACKETS", "BYTES", "FIRST (UTC)", "LAST (UTC)"), rows)
        return
    attributes = described["global_attributes"]
    count = len(described["variables"])
    output.lines([f"{name}  (CDF: {count} variables, {human_size(described['size'])})"])
    output.lines(_attribute_lines(attributes, everything=bool(output.verbose)))
    rows = [
        (
            v["name"],
            v["type"],
            "x".join(str(d) for d in v["shape"]) or "scalar",
            v["records"],
            v["units"] or "",
            v["depend_0"] or "",
        )
        for v in described["variables"]
    ]
    output.write("\n")
    output.table(
        ("VARIABLE", "TYPE", "SHAPE", "RECORDS", "UNITS", "DEPEND_0"),
        rows,
        drop_order=("DEPEND_0", "RECORDS", "UNITS", "TYPE"),
    )


def _attribute_lines(attributes: dict[str, Any], *, everything: bool) -> list[str]:
    from imap_cli.core.cdf import KEY_ATTRIBUTES

    names = [n for n in KEY_ATTRIBUTES if n in attributes]
    if everything:
        names += sorted(n for n in attributes if n not in KEY_ATTRIBUTES)
    width = max((len(n) for n in names), default=0)
    lines = []
    for name in names:
        values = attributes[name]
        values = values if isinstance(values, list) else [values]
        if not values:
            lines.append(f"  {name:<{width}}  (none)")
        for index, value in enumerate(values):
            label = name if index == 0 else ""
            lines.append(f"  {label:<{width}}  {value}")
    hidden = len(attributes) - len(names)
    if hidden > 0:
        lines.append(f"  ({hidden} more global attributes: -v shows them)")
    return lines
