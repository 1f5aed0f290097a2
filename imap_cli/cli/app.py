"""The `imap` Typer app: global options, command registration, and main()'s error mapping."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from imap_cli import __version__
from imap_cli.cli import config as config_cmd
from imap_cli.cli import download as download_cmd
from imap_cli.cli import query as query_cmd
from imap_cli.cli import serve as serve_cmd
from imap_cli.cli import upload as upload_cmd
from imap_cli.cli.options import State
from imap_cli.cli.output import Output, Streams
from imap_cli.core.errors import ExitCode, IMAPError

EPILOG = (
    "Exit codes: 0 ok; 1 some items failed; 2 bad usage or input; 3 SDC unreachable or "
    "failing (network, TLS, 5xx after retries); 4 refused (401/403); 130 interrupted."
)

app = typer.Typer(
    name="imap",
    help="Query, download and upload IMAP Science Data Center (SDC) files.",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"imap-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", help="SDC API URL.", show_default=False)
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="SDC API key (prefer IMAP_API_KEY or the config file)."),
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option("--data-dir", help="Where downloaded files go.")
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More detail.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and data.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Query, download and upload IMAP Science Data Center (SDC) files."""
    flags = {"url": url, "api-key": api_key, "data-dir": data_dir}
    ctx.obj = State(
        flags=flags,
        output=Output(Streams(), quiet=quiet, verbose=verbose),
        debug=debug or _env_debug(),
    )


app.command("query", no_args_is_help=True)(query_cmd.query)
app.command("download", no_args_is_help=True)(download_cmd.download)
app.command("upload", no_args_is_help=True)(upload_cmd.upload)
app.command("serve")(serve_cmd.serve)
app.add_typer(config_cmd.app, name="config")


def _env_debug() -> bool:
    return os.environ.get("IMAP_DEBUG", "").lower() in ("1", "true", "yes", "on")


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or _env_debug()


def main(argv: list[str] | None = None) -> int:
    """Run `imap`; map every IMAPError to one line, a hint and its exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        code = app(args=args, prog_name="imap", standalone_mode=False)
    except IMAPError as error:
        if _debug_requested(args):
            raise
        Output(Streams()).error(error)
        code = error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted.\n")
        code = ExitCode.INTERRUPTED
    except typer.Abort:
        sys.stderr.write("\nAborted.\n")
        code = ExitCode.INTERRUPTED
    except (typer.BadParameter, typer.Exit, SystemExit) as stop:  # pragma: no cover - click paths
        raise stop
    except Exception as exc:  # click's usage errors, then anything unexpected
        code = _other_error(exc, args)
    code = int(code or 0)
    if argv is None:
        sys.exit(code)
    return code


def _other_error(exc: Exception, args: list[str]) -> int:
    from typer import _click

    if isinstance(exc, _click.exceptions.ClickException):
        # click's plain form: "Usage: ...", "Try 'imap query -h' for help.", "Error: ..." lines
        # that read well in a terminal and in a CI log alike.
        exc.show()
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):
        # `imap query ... | head`: the reader left; nothing more to say.
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        return ExitCode.OK
    if _debug_requested(args):
        raise exc
    Output(Streams()).error(
        f"unexpected {type(exc).__name__}: {exc}",
        "This is a bug in imap-cli; run again with --debug and report the traceback.",
    )
    return ExitCode.PARTIAL
