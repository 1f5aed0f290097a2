"""`imap config`: show, get, set, unset and locate the settings file."""

from __future__ import annotations

from typing import Annotated

import typer

from imap_cli.cli import completers
from imap_cli.cli.options import state

app = typer.Typer(
    help="Show and change settings (file < environment < flags).", no_args_is_help=True
)

KeyArg = Annotated[
    str,
    typer.Argument(
        help="Setting name, e.g. data-dir.", autocompletion=completers.vocabulary("config_keys")
    ),
]


@app.command("show")
def show(
    ctx: typer.Context,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-o",
            help="table or json.",
            autocompletion=completers.vocabulary("config_formats"),
        ),
    ] = "table",
) -> None:
    """Every setting, its value (secrets masked) and where it came from."""
    from imap_cli.core.errors import UsageError

    run = state(ctx)
    rows = run.settings.rows()
    if format not in completers.CONFIG_FORMATS:
        raise UsageError(f"config show --format must be table or json, not {format!r}")
    if format == "json":
        run.output.json([{"key": k, "value": v, "origin": o} for k, v, o in rows if o])
    elif format == "table":
        run.output.table(["KEY", "VALUE", "ORIGIN"], [r for r in rows if r[2]])
        run.output.note(f"Config file: {run.settings.config_path}")
        from imap_cli.core.settings import relative_note

        note = relative_note(run.settings)
        if note:
            run.output.warn(f"{note}; give an absolute path to keep it in one place.")
    else:
        raise UsageError(f"config show --format must be table or json, not {format!r}")


@app.command("get")
def get(
    ctx: typer.Context,
    key: KeyArg,
    reveal: Annotated[bool, typer.Option("--reveal", help="Print a secret in full.")] = False,
) -> None:
    """Print one setting's raw value, for scripts (secrets masked unless --reveal)."""
    from imap_cli.core.settings import KEYS, mask

    value = state(ctx).settings.value(key)
    if KEYS[key].secret and not reveal:
        value = mask(value)
    state(ctx).output.lines(["" if value is None else str(value)])


@app.command("set")
def set_(
    ctx: typer.Context,
    key: KeyArg,
    value: Annotated[str, typer.Argument(help="The new value.")],
) -> None:
    """Store a setting in the config file (validated first)."""
    from imap_cli.core import settings

    run = state(ctx)
    path = settings.default_config_path()
    stored = settings.set_value(path, key, value)
    shown = settings.mask(stored) if settings.KEYS[key].secret else stored
    run.output.success(f"{key} = {shown}  (saved in {path})")
    _warn_if_overridden(run, key)


def _warn_if_overridden(run, key: str) -> None:
    """Say so when an environment variable or a flag hides the value just saved."""
    from imap_cli.core.errors import IMAPError
    from imap_cli.core.settings import KEYS

    try:
        origin = run.settings.origins.get(key, "")
    except IMAPError:  # another setting is broken: its own command will say so
        return
    if origin.startswith("env:"):
        variable = origin[4:]
        run.output.warn(f"{variable} is set and wins over it; `unset {variable}` to use it.")
    elif origin == "flag":
        flag = f"--{key}" if KEYS[key].env else key
        run.output.warn(f"{flag} overrides the saved value for this run only.")


@app.command("unset")
def unset(ctx: typer.Context, key: KeyArg) -> None:
    """Remove a setting from the config file, so its default (or environment) applies."""
    from imap_cli.core import settings

    path = settings.default_config_path()
    if settings.unset_value(path, key):
        state(ctx).output.success(f"{key} removed from {path}")
    else:
        state(ctx).output.note(f"{key} was not set in {path}")


@app.command("path")
def path(ctx: typer.Context) -> None:
    """Print the config file's path."""
    from imap_cli.core import settings

    state(ctx).output.lines([str(settings.default_config_path())])
