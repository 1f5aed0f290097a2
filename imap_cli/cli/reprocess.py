"""`imap reprocess`: ask the SDC to reprocess an instrument's files over a date range."""

from __future__ import annotations

from typing import Annotated

import typer

from imap_cli.cli.options import (
    DataLevel,
    Descriptor,
    DryRun,
    Instrument,
    Yes,
    confirm,
    state,
)

Start = Annotated[
    str | None,
    typer.Option(
        "--start-date", "-s", help="First day (YYYYMMDD or YYYY-MM-DD).", show_default=False
    ),
]
End = Annotated[
    str | None,
    typer.Option("--end-date", "-e", help="Last day, inclusive.", show_default=False),
]


def reprocess(
    ctx: typer.Context,
    start_date: Start = None,
    end_date: End = None,
    instrument: Instrument = None,
    data_level: DataLevel = None,
    descriptor: Descriptor = None,
    yes: Yes = False,
    dry_run: DryRun = False,
) -> None:
    """Ask the SDC to reprocess an instrument's files that start in a date range.

    Needs an API key or an access token.

    The SDC queues any request unchecked, then drops what it cannot run, so rules come first:

    an instrument is required; a data level goes with a descriptor (both or neither).

    On a terminal it asks before sending; in a script it needs --yes. Prints the SDC's
    reprocess id.

    Examples:

    imap reprocess -s 20251001 -e 20251003 -i mag

    imap reprocess -s 20251001 -e 20251003 -i mag -l l1b -d norm-mago --yes
    """
    from imap_cli.core.reprocess import plan_reprocess, reprocess, request_url, require_credential

    run = state(ctx)
    output = run.output
    request = plan_reprocess(
        start_date=start_date,
        end_date=end_date,
        instrument=instrument,
        data_level=data_level,
        descriptor=descriptor,
    )
    with run.client() as client:
        if dry_run:
            output.lines([f"POST {request_url(client, request)}"])
            if not client.credential_headers():
                output.warn("no API key or access token is set; the SDC would refuse this")
            output.note(f"Dry run: would reprocess {request.describe()}; nothing was sent.")
            return
        require_credential(client)
        question = f"Reprocess {request.describe()} on {run.settings.url}?"
        confirm(output, yes, question, "a reprocess request")
        answer = reprocess(client, request)
    output.success(f"{answer.message}: {request.describe()}")
    if answer.reprocess_id:
        output.lines([answer.reprocess_id])
    output.note("Follow it with `imap jobs -i " + request.instrument + "`.")
