"""`imap products`: the catalogue of products, one row per instrument, level and descriptor."""

from __future__ import annotations

from typing import Annotated

import typer

from imap_cli.cli import completers
from imap_cli.cli.options import DataLevel, Instrument, state, table_format

FORMATS = completers.PRODUCTS_FORMATS
# Left out first to last when the table is wider than the terminal; the product's name
# (instrument, level, descriptor) and its file count stay.
DROP_ORDER = ("INGESTED (UTC)", "FIRST", "LATEST", "LAST")

ProductsTable = Annotated[
    str,
    typer.Option(
        "--table",
        metavar="science|ancillary|quicklook",
        help="The table whose products are listed.",
        autocompletion=completers.vocabulary("products_tables"),
    ),
]
ProductsFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-o",
        help="table, json or csv. Default: table on a terminal, json when piped.",
        autocompletion=completers.vocabulary("products_formats"),
        show_default=False,
    ),
]


def products(
    ctx: typer.Context,
    instrument: Instrument = None,
    data_level: DataLevel = None,
    table: ProductsTable = "science",
    output_format: ProductsFormat = None,
) -> None:
    """The SDC's products: one row per instrument, data level and descriptor.

    Each row: FILES (the latest version of each day or repointing), the first and last day,
    the latest version and when a file was last ingested (UTC).

    Without -i every instrument is asked in turn (progress on a terminal); a query too large
    for one answer is fetched in parts.

    Examples:

    imap products

    imap products -i swapi -o json

    imap products --table ancillary -o csv
    """
    from imap_cli.cli.progress import PartsProgress
    from imap_cli.core.products import PRODUCT_FIELDS, list_products, plan_products

    run = state(ctx)
    output = run.output
    fmt = table_format(
        output, output_format, FORMATS, what="an output format here; valid", example="-o json"
    )
    plan_products(instrument=instrument, data_level=data_level, table=table)  # checked first
    progress = PartsProgress(output, "Listing products", "queries")
    with run.client() as client, progress:
        client.on_retry = output.note
        found = list_products(
            client,
            instrument=instrument,
            data_level=data_level,
            table=table,
            on_progress=progress,
        )
    count = len(found)
    if count:
        output.note(f"{count} product{'s' if count != 1 else ''} in the {table} table")
    else:
        output.note(f"No products in the {table} table match these filters.")
    rows = [p.as_dict() for p in found]
    if fmt == "json":
        output.json(rows)
    elif fmt == "csv":
        output.csv(list(PRODUCT_FIELDS), [[_cell(r[k]) for k in PRODUCT_FIELDS] for r in rows])
    elif count:
        names = ["INSTRUMENT", "LEVEL", "DESCRIPTOR", "FILES", "FIRST", "LAST", "LATEST"]
        names.append("INGESTED (UTC)")
        data = [[r[k] for r in rows] for k in PRODUCT_FIELDS]
        output.table_columns(names, data, drop_order=DROP_ORDER)


def _cell(value: object) -> object:
    return "" if value is None else value
