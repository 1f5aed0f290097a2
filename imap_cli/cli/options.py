"""Every shared option, defined once as an Annotated alias, and the per-run State."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imap_cli.cli import completers

if TYPE_CHECKING:
    from imap_cli.cli.output import Output
    from imap_cli.core.http import SDCClient
    from imap_cli.core.settings import Settings


@dataclass
class State:
    """What the root callback learned, handed to every command through ctx.obj."""

    flags: dict[str, Any]
    output: Output
    debug: bool = False
    argv: tuple[str, ...] = ()  # the command line after `imap` (`serve --background` reruns it)
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """Resolved settings (flags > env > file > default), resolved once per run."""
        if self._settings is None:
            from imap_cli.core.settings import resolve

            self._settings = resolve(flags=self.flags)
            for warning in self._settings.warnings:
                self.output.warn(warning)
        return self._settings

    def client(self, **overrides: Any) -> SDCClient:
        """An SDC client for these settings (overrides: e.g. jobs from a command's flag)."""
        from dataclasses import replace

        from imap_cli.core.http import SDCClient

        settings = self.settings
        changes = {k: v for k, v in overrides.items() if v is not None}
        if changes:
            settings = replace(settings, **changes)
        client = SDCClient(settings)
        # Transfers retry per file, which is detail; a lone request's retries are news.
        client.on_retry = self.output.detail
        return client


def input_items(
    output: Output,
    items: Sequence[str] | None,
    *,
    what: str,
    usage: str,
    example: str,
    paths: bool = False,
) -> list[str]:
    """The command's inputs with `-` read from stdin; none at all is a usage error.

    On a terminal, `-` says what it waits for instead of waiting silently.
    """
    from imap_cli.core.errors import UsageError
    from imap_cli.core.transfer import expand_items

    if not items:
        raise UsageError(f"no {what} given", f"{usage}, or: {example}")
    if "-" in items and output.streams.stdin_tty:
        eof = "Ctrl-Z then Enter" if os.name == "nt" else "Ctrl-D"
        output.prompt(f"Reading {what} from the terminal, one per line; finish with {eof}.")
        output.prompt(f"(Usually they come from a pipe: {example})")
    return expand_items(items, output.streams.stdin, paths=paths)


def state(ctx: typer.Context) -> State:
    """The State of this run (the root callback always sets it)."""
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


def table_format(
    output: Output,
    value: str | None,
    formats: Sequence[str],
    *,
    what: str = "an output format; valid formats",
    example: str = "-o paths",
) -> str:
    """The -o format asked for (table on a terminal, json otherwise when none is); one that
    is not in `formats` is a usage error."""
    from imap_cli.core.errors import UsageError

    fmt = (value or "").strip().lower() or ("table" if output.streams.stdout_tty else "json")
    if fmt not in formats:
        raise UsageError(
            f"{value!r} is not {what}: {', '.join(formats)}", f"For example: {example}"
        )
    return fmt


FILTERS = "Filters"


def _filter(
    *names: str,
    help: str,
    values: str | None = None,
    complete: Any = None,
    metavar: str | None = None,
) -> Any:
    """A query filter's option, in the Filters panel; `values`: its vocabulary for a TAB (or
    `complete`, a completer of its own)."""
    complete = completers.vocabulary(values) if values else complete
    return typer.Option(
        *names, help=help, autocompletion=complete, rich_help_panel=FILTERS, metavar=metavar
    )


Table = Annotated[
    str, _filter("--table", help="science, ancillary, quicklook or spice.", values="tables")
]
Instrument = Annotated[
    str | None,
    _filter("--instrument", "-i", help="Instrument, e.g. mag, swe, codice.", values="instruments"),
]
DataLevel = Annotated[
    str | None,
    _filter("--data-level", "-l", help="Data level, e.g. l1a, l2.", values="data_levels"),
]
Descriptor = Annotated[
    str | None,
    _filter(
        "--descriptor", "-d", help="Descriptor, e.g. norm-mago.", complete=completers.descriptors
    ),
]
StartDate = Annotated[
    str | None,
    _filter(
        "--start-date", "-s", help="Files starting on or after this day (YYYYMMDD or YYYY-MM-DD)."
    ),
]
EndDate = Annotated[
    str | None,
    _filter(
        "--end-date",
        "-e",
        help="Files starting on or before this day (the SDC compares the file's start date).",
    ),
]
IngestionStartDate = Annotated[
    str | None,
    _filter(
        "--ingestion-start-date",
        help="Ingested on or after this day: use it for 'what is new since'.",
    ),
]
IngestionEndDate = Annotated[
    str | None, _filter("--ingestion-end-date", help="Ingested on or before this day.")
]
Repointing = Annotated[
    str | None, _filter("--repointing", help="Repointing, as repoint00012 or 12.")
]
Version = Annotated[
    str | None,
    _filter(
        "--version",
        help="vMMM.mmmm, legacy vXXX, or latest (the newest file of each series).",
        values="versions",
    ),
]
Extension = Annotated[
    str | None,
    _filter("--extension", help="File extension, e.g. cdf, pkts.", values="extensions"),
]
KernelType = Annotated[
    str | None,
    _filter(
        "--type",
        help="SPICE kernel type (with --table spice), e.g. leapseconds, attitude_history.",
        values="spice_types",
    ),
]
Filename = Annotated[
    str | None,
    _filter("--filename", help="Exactly this file: every filter is derived from the name."),
]

IngestedSince = Annotated[
    str | None,
    _filter(
        "--ingested-since",
        metavar="DATETIME",
        help="Ingested at or after this time, to the second: 2025-10-01, 2025-10-01T12:30:00 "
        "(UTC unless an offset is given: ...T14:30:00+02:00).",
    ),
]
IngestedBefore = Annotated[
    str | None,
    _filter(
        "--ingested-before",
        metavar="DATETIME",
        help="Ingested strictly before this time (same forms as --ingested-since).",
    ),
]
HighestLevel = Annotated[
    bool,
    typer.Option(
        "--highest-level",
        help="Per instrument and day (or repointing), only the files of the highest data "
        "level present (l3 > l2 > l1d > l1c > l1b > l1a > l1 > l0), latest version.",
        rich_help_panel=FILTERS,
    ),
]

# The filters as a command function's parameters: name -> (annotation, default). core.query
# calls --type `type`, a builtin's name, so the function takes it as `kernel_type`.
QUERY_FILTERS: dict[str, tuple[Any, Any]] = {
    "table": (Table, "science"),
    "instrument": (Instrument, None),
    "data_level": (DataLevel, None),
    "descriptor": (Descriptor, None),
    "start_date": (StartDate, None),
    "end_date": (EndDate, None),
    "ingestion_start_date": (IngestionStartDate, None),
    "ingestion_end_date": (IngestionEndDate, None),
    "repointing": (Repointing, None),
    "version": (Version, None),
    "extension": (Extension, None),
    "kernel_type": (KernelType, None),
    "filename": (Filename, None),
    "ingested_since": (IngestedSince, None),
    "ingested_before": (IngestedBefore, None),
    "highest_level": (HighestLevel, False),
}


def with_query_filters(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give `command` the query filters as options, where it has a parameter `filters`; it
    gets them as one dict, named as core.query takes them (`imap query`, `imap sync`).

    With --filename and no --table, the table is None: the name says which table.
    """
    import functools
    import inspect

    signature = inspect.signature(command, eval_str=True)
    params = []
    for param in signature.parameters.values():
        if param.name != "filters":
            params.append(param)
            continue
        for name, (annotation, default) in QUERY_FILTERS.items():
            params.append(param.replace(name=name, annotation=annotation, default=default))

    @functools.wraps(command)
    def with_filters(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in QUERY_FILTERS}
        filters = {("type" if k == "kernel_type" else k): v for k, v in values.items()}
        if values["filename"] is not None and not given(kwargs["ctx"], "table"):
            filters["table"] = None
        return command(*args, filters=filters, **kwargs)

    with_filters.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    with_filters.__annotations__ = {p.name: p.annotation for p in params}
    return with_filters


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the parameter `name` got its value from the user (not its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


Format = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-o",
        help="table, json, csv or paths. Default: table on a terminal, json when piped.",
        autocompletion=completers.vocabulary("formats"),
    ),
]
Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs", "-j", min=1, max=64, help="Files transferred at once (default: the jobs setting)."
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", "-n", help="Show what would happen; transfer nothing.")
]
Yes = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask: needed when not on a terminal.")
]
Force = Annotated[bool, typer.Option("--force", "-f", help="Download again even if present.")]
Verify = Annotated[
    bool,
    typer.Option("--verify", help="Check files already present against the SDC's size and ETag."),
]
Shard = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="K/N",
        help="Take only shard K of N (1 <= K <= N; by a hash of each SDC key): N hosts sharing "
        "a data dir split one job with no overlap and no gaps. `auto`: K and N from the batch "
        "array job's variables (Slurm, SGE, LSF; PBS: auto/N).",
        show_default=False,
    ),
]


def require_yes(output: Any, yes: bool, what: str) -> None:
    """Refuse (exit 2) something that cannot be undone when no one can be asked: without
    --yes and with no terminal on stdin. `what` names it ("a release")."""
    if yes or output.stdin_tty:
        return
    from imap_cli.core.errors import UsageError

    raise UsageError(
        f"{what} cannot be undone, and there is no terminal to ask; nothing was sent",
        "Check it with --dry-run, then run the same command with --yes.",
    )


def confirm(output: Any, yes: bool, question: str, what: str) -> None:
    """Ask `question` before something that cannot be undone: with --yes, go on; on a
    terminal, ask (no: "Nothing was sent.", exit 1); elsewhere refuse (require_yes)."""
    require_yes(output, yes, what)
    if not yes and not output.ask(question):
        output.note("Nothing was sent.")
        raise typer.Exit(1)
