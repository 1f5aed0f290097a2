"""`imap coverage`: what the SDC holds for an instrument, as a grid of days (or repointings) by
product, and the gaps: those a reprocess could fill and those with no data below."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imap_cli.cli import completers
from imap_cli.cli.options import Instrument, state, table_format

if TYPE_CHECKING:
    from imap_cli.cli.output import Output
    from imap_cli.core.coverage import Coverage, Gap, Product

FORMATS = completers.COVERAGE_FORMATS
GAP_CSV_COLUMNS = ("data_level", "descriptor", "first", "last", "days", "present_below")
LABEL_WIDTH = 22  # a product's name is cut (with …) beyond this

Levels = Annotated[
    list[str] | None,
    typer.Option(
        "--data-level",
        "-l",
        metavar="LEVEL",
        help="Data level(s) to show (repeat, or comma-separated); default: every level found.",
        autocompletion=completers.vocabulary("data_levels"),
        show_default=False,
    ),
]
Descriptors = Annotated[
    list[str] | None,
    typer.Option(
        "--descriptor",
        "-d",
        metavar="DESCRIPTOR",
        help="Descriptor(s) to show (repeat, or comma-separated); default: every one found.",
        show_default=False,
    ),
]
Start = Annotated[
    str | None,
    typer.Option(
        "--start-date",
        "-s",
        metavar="DATE",
        help="First day shown (YYYYMMDD or YYYY-MM-DD). Default: 90 days before the end, "
        "or the first file's day if later.",
        show_default=False,
    ),
]
End = Annotated[
    str | None,
    typer.Option(
        "--end-date",
        "-e",
        metavar="DATE",
        help="Last day shown, inclusive. Default: the day of the instrument's newest file.",
        show_default=False,
    ),
]
By = Annotated[
    str | None,
    typer.Option(
        "--by",
        metavar="day|repointing",
        autocompletion=completers.vocabulary("coverage_by"),
        help="day or repointing: one column per day, or per repointing (the default for "
        "glows, hi, lo and ultra).",
        show_default=False,
    ),
]
CoverageTable = Annotated[
    str | None,
    typer.Option(
        "--table",
        metavar="science|ancillary",
        autocompletion=completers.vocabulary("coverage_tables"),
        help="science (default) or ancillary: which days the calibration files cover.",
        show_default=False,
    ),
]
GapsOnly = Annotated[bool, typer.Option("--gaps", help="Only the list of gaps, no grid.")]
CoverageFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-o",
        metavar="table|json|csv",
        autocompletion=completers.vocabulary("coverage_formats"),
        help="table, json or csv. Default: table on a terminal, json when piped.",
        show_default=False,
    ),
]
Svg = Annotated[
    Path | None,
    typer.Option(
        "--svg", metavar="FILE", help="Also save the picture as an SVG file.", dir_okay=False
    ),
]
Html = Annotated[
    Path | None,
    typer.Option(
        "--html", metavar="FILE", help="Also save the picture as an HTML file.", dir_okay=False
    ),
]


def coverage(
    ctx: typer.Context,
    instrument: Instrument = None,
    data_level: Levels = None,
    descriptor: Descriptors = None,
    start_date: Start = None,
    end_date: End = None,
    by: By = None,
    table: CoverageTable = None,
    gaps: GapsOnly = False,
    output_format: CoverageFormat = None,
    svg: Svg = None,
    html: Html = None,
) -> None:
    """What the SDC holds for an instrument, day by day, and where the gaps are.

    One query, then a grid: a row per product (data level and descriptor), a column per day.

    --by repointing: a column per repointing (the default for glows, hi, lo and ultra).

    Under it, the gaps: with lower levels present, a reprocess could fill them; else no data.

    Default range: the 90 days ending at the instrument's newest file (or from its first file).

    -o json: instrument, start, end, products (latest version per day) and gaps.

    -o csv: one row per product and day. --svg/--html FILE: the picture as a file.

    Examples:

    imap coverage -i swapi

    imap coverage -i swapi -l l2 -s 2025-10-01 -e 2025-10-31 --gaps

    imap coverage -i ultra -o json

    imap coverage -i mag --table ancillary
    """
    from imap_cli.cli.progress import PartsProgress
    from imap_cli.core.coverage import fetch_coverage, plan_coverage

    run = state(ctx)
    output = run.output
    fmt = table_format(
        output, output_format, FORMATS, what="an output format here; valid", example="-o json"
    )
    plan = plan_coverage(
        instrument=instrument,
        data_level=data_level,
        descriptor=descriptor,
        start_date=start_date,
        end_date=end_date,
        by=by,
        table=table,
    )
    with run.client() as client, PartsProgress(output) as parts:
        client.on_retry = output.note
        found = fetch_coverage(client, plan, on_progress=parts)
    _tell(output, found)
    if fmt == "json":
        data = found.as_dict()
        output.json(data["gaps"] if gaps else data)
    elif fmt == "csv":
        if gaps:
            data = found.as_dict()["gaps"]
            output.csv(GAP_CSV_COLUMNS, [_gap_row(g) for g in data])
        else:
            from imap_cli.core.coverage import CSV_COLUMNS

            output.csv(CSV_COLUMNS, found.csv_rows())
    elif found.products:
        _print(output, found, gaps)
    for path, kind in ((svg, "svg"), (html, "html")):
        if path is not None:
            save_picture(found, path, kind, width=_width(output), gaps=gaps)
            output.note(f"Saved {path}")


def _gap_row(gap: dict) -> list[Any]:
    return [
        gap["data_level"] or "",
        gap["descriptor"],
        gap["first"],
        gap["last"],
        gap["days"],
        " ".join(gap["present_below"]),
    ]


def _tell(output: Output, found: Coverage) -> None:
    """The count, or a clear word that the range holds nothing (still exit 0)."""
    span = f"{found.start.isoformat()} .. {found.end.isoformat()}"
    if not found.products:
        output.note(
            f"No {found.table} files of {found.instrument} from {span} match: nothing to show. "
            "Widen the range (--start-date, --end-date) or drop --data-level/--descriptor."
        )
        return
    output.note(f"{found.files:,} {found.table} files of {found.instrument}, {span}")
    if found.unplaced:
        output.note(f"{found.unplaced:,} files have no repointing and are not shown; use --by day.")


def _width(output: Output) -> int:
    return output.streams.columns or 80


def _print(output: Output, found: Coverage, gaps_only: bool) -> None:
    from rich.console import Console

    streams = output.streams
    console = Console(
        file=streams.stdout,
        width=_width(output),
        force_terminal=bool(streams.stdout_tty),
        no_color=bool(streams.env.get("NO_COLOR")) or not streams.stdout_tty,
        markup=False,
        highlight=False,
        emoji=False,
    )
    glyphs = GLYPHS if _unicode(streams.stdout) else ASCII_GLYPHS
    console.print(picture(found, console.width, glyphs, gaps_only=gaps_only))


def _unicode(stream: Any) -> bool:
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "")
    return encoding in ("utf8", "utf8sig")


def save_picture(found: Coverage, path: Path, kind: str, *, width: int, gaps: bool) -> None:
    """The picture as an SVG or HTML file, written whole or not at all."""
    import io
    import os
    import tempfile

    from rich.console import Console

    from imap_cli.core.errors import UsageError

    console = Console(
        record=True,
        file=io.StringIO(),
        width=width,
        force_terminal=True,
        color_system="truecolor",
        markup=False,
        highlight=False,
        emoji=False,
    )
    console.print(picture(found, width, GLYPHS, gaps_only=gaps))
    title = f"imap coverage -i {found.instrument}"
    text = console.export_svg(title=title) if kind == "svg" else console.export_html()
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".coverage-", suffix=".tmp", dir=target.parent or ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)  # mkstemp's 0600 is for secrets; a picture is not
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(
            f"cannot write the {kind.upper()} file {path}: {exc.strerror or exc}",
            "Give a path in a folder that exists and that you can write to.",
        ) from None


# Shapes, not colour alone: each state reads the same without colour (NO_COLOR).
GLYPHS = {
    "full": "█",
    "parts": "▁▂▃▄▅▆▇",
    "stale": "▒",
    "stale_part": "░",
    "fillable": "○",
    "none": "·",
    "tick": "╵",
}
ASCII_GLYPHS = {
    "full": "#",
    "parts": "+++++++",
    "stale": "%",
    "stale_part": ":",
    "fillable": "o",
    "none": ".",
    "tick": "|",
}
STYLES = {
    "full": "green",
    "parts": "green",
    "stale": "yellow",
    "stale_part": "yellow",
    "fillable": "red",
    "none": "dim",
}


def picture(found: Coverage, width: int, glyphs: dict[str, str], *, gaps_only: bool = False):
    """The picture as one Text (one print: much faster than a print a line): title, grid,
    date axis, legend, gaps."""
    from rich.text import Text

    parts: list[Any] = []
    if not gaps_only:
        parts += _grid(found, width, glyphs)
        parts.append(Text(""))
    parts += _gap_lines(found)
    return Text("\n").join(parts)


def _cell(found: Coverage, product: Product, columns: list, glyphs: dict[str, str]) -> tuple:
    """The glyph and style of one cell covering `columns`."""
    present = [c for c in columns if c in product.versions]
    if not present:
        fillable = any(found.below(product, c) for c in columns)
        kind = "fillable" if fillable else "none"
        return glyphs[kind], STYLES[kind]
    stale = any(product.stale(c) for c in present)
    if len(present) == len(columns):
        kind = "stale" if stale else "full"
        return glyphs[kind], STYLES[kind]
    if stale:
        return glyphs["stale_part"], STYLES["stale_part"]
    share = len(present) / len(columns)
    eighths = glyphs["parts"]
    return eighths[min(len(eighths) - 1, int(share * len(eighths)))], STYLES["parts"]


def _grid(found: Coverage, width: int, glyphs: dict[str, str]) -> list[Any]:
    from rich.text import Text

    columns = found.columns
    total = len(columns)
    mark = "…" if glyphs is GLYPHS else "~"
    labels = [_cut(p.label, LABEL_WIDTH, mark) for p in found.products]
    label_width = max(map(len, labels))
    count_width = len(f"{total}/{total}") + 1
    room = max(10, width - label_width - 1 - count_width)
    per_cell = max(1, math.ceil(total / room))
    cells = [columns[i : i + per_cell] for i in range(0, total, per_cell)]
    unit = "repointing" if found.by == "repointing" else "day"
    span = _span(found)
    lines = [Text(f"{found.instrument} {found.table} files, {span}")]
    if per_cell > 1:
        lines.append(Text(f"one column = {per_cell} {unit}s"))
    for label, product in zip(labels, found.products):
        line = Text(label.ljust(label_width) + " ")
        for group in cells:
            glyph, style = _cell(found, product, group, glyphs)
            line.append(glyph, style)
        line.append(f"{len(product.versions)}/{total}".rjust(count_width))
        lines.append(line)
    lines += _axis(found, cells, label_width + 1, glyphs["tick"])
    lines += _legend(glyphs, per_cell, unit, found.table, width)
    return lines


def _span(found: Coverage) -> str:
    days = (found.end - found.start).days + 1
    text = f"{found.start.isoformat()} .. {found.end.isoformat()} ({days} days)"
    if found.by == "repointing" and found.columns:
        text += f", repointings {found.columns[0]} .. {found.columns[-1]}"
    return text


def _cut(text: str, limit: int, mark: str) -> str:
    return text if len(text) <= limit else text[: limit - 1] + mark


def _axis(found: Coverage, cells: list[list], indent: int, tick: str) -> list[Any]:
    """Ticks under the grid and the day (MM-DD) or repointing of each tick."""
    import datetime as dt

    from rich.text import Text

    def name(column: Any) -> str:
        return f"{column:%m-%d}" if isinstance(column, dt.date) else str(column)

    step = max(len(name(group[0])) for group in cells) + 2
    ticks = [" "] * len(cells)
    words = [" "] * (len(cells) + step)
    for index in range(0, len(cells), step):
        ticks[index] = tick
        text = name(cells[index][0])
        words[index : index + len(text)] = list(text)
    pad = " " * indent
    return [Text(pad + "".join(ticks).rstrip(), "dim"), Text(pad + "".join(words).rstrip())]


def _legend(glyphs: dict[str, str], per_cell: int, unit: str, table: str, width: int) -> list:
    """The legend's items, as many to a line as fit `width` (an item is never broken)."""
    from rich.text import Text

    newest = "newest version" if table == "science" else "a file covers it"
    items = [
        ("full", f"{glyphs['full']} {newest}"),
        ("stale", f"{glyphs['stale']}{glyphs['stale_part']} older version"),
    ]
    if per_cell > 1:
        parts = glyphs["parts"]
        items.append(("parts", f"{parts[0]}{parts[3]}{parts[-1]} some {unit}s"))
    if table == "science":
        items.append(("fillable", f"{glyphs['fillable']} missing, a lower level has files"))
        items.append(("none", f"{glyphs['none']} no data at any level"))
    else:
        items.append(("none", f"{glyphs['none']} no file"))
    lines = [Text()]
    for kind, text in items:
        line = lines[-1]
        if line.plain and len(line.plain) + 2 + len(text) > width:
            lines.append(Text())
            line = lines[-1]
        elif line.plain:
            line.append("  ")
        mark = text.split(" ", 1)[0]
        line.append(mark, STYLES[kind])
        line.append(text[len(mark) :])
    return lines


def _gap_lines(found: Coverage) -> list[Any]:
    from rich.text import Text

    if not found.gaps:
        return [Text("No gaps.")]
    lines = [Text("Gaps:", "bold")]
    fillable = [g for g in found.gaps if g.present_below]
    for gap in found.gaps:
        lines.append(Text(f"  {gap.label}: {_gap_span(found, gap)}, {_below(found, gap)}"))
    lines.append(Text(""))
    summary = f"{len(found.gaps)} gap{'s' if len(found.gaps) != 1 else ''}"
    if found.table == "science":
        summary += (
            f": {len(fillable)} a reprocess could fill (lower levels present), "
            f"{len(found.gaps) - len(fillable)} with no data below"
        )
    else:
        summary += ": days no file covers"
    lines.append(Text(summary))
    if fillable and found.by == "day":
        gap = max(fillable, key=lambda g: g.length)
        lines.append(
            Text(
                f"e.g. imap reprocess -i {found.instrument} -l {gap.data_level} "
                f"-d {gap.descriptor} -s {gap.first:%Y%m%d} -e {gap.last:%Y%m%d}",
                "dim",
            )
        )
    return lines


def _gap_span(found: Coverage, gap: Gap) -> str:
    from imap_cli.core.coverage import column_text

    unit = "repointing" if found.by == "repointing" else "day"
    count = f"{gap.length} {unit}{'s' if gap.length != 1 else ''}"
    if gap.first == gap.last:
        return f"{column_text(gap.first)} ({count})"
    return f"{column_text(gap.first)} .. {column_text(gap.last)} ({count})"


def _below(found: Coverage, gap: Gap) -> str:
    if found.table != "science":
        return "no file covers it"
    levels = list(gap.present_below)
    if not levels:
        return "nothing below (no data)"
    if len(levels) == 1:
        return f"{levels[0]} present"
    return f"{', '.join(levels[:-1])} and {levels[-1]} present"
