"""The `imap` Typer app: global options, command registration, and main()'s error mapping."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from imap_cli import __version__
from imap_cli.cli.complete import adapt_typer_completion, script_request, show_or_install
from imap_cli.cli.plain_params import lighten
from imap_cli.cli.startup import install_light_help
from imap_cli.core.errors import ExitCode, IMAPError

EPILOG = (
    "Exit codes: 0 ok; 1 some items failed; 2 bad usage or input; 3 SDC unreachable or "
    "failing (network, TLS, 5xx after retries); 4 refused (401/403); 130 interrupted."
)

# Commands by name -> (module, attribute, settings). A module is imported only when its command
# runs, shows its help or completes a value: a TAB after `imap query --instrument` loads
# cli/query.py and nothing else (pip registers its commands by name for the same reason).
# Every command's help ends with the exit codes, as scripts need them.
COMMANDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "query": ("imap_cli.cli.query", "query", {"epilog": EPILOG}),
    "download": ("imap_cli.cli.download", "download", {"epilog": EPILOG}),
    "upload": ("imap_cli.cli.upload", "upload", {"epilog": EPILOG}),
    "sync": ("imap_cli.cli.sync", "sync", {"epilog": EPILOG}),
    "serve": ("imap_cli.cli.serve", "serve", {"epilog": EPILOG}),
    "config": ("imap_cli.cli.config", "app", {"epilog": EPILOG}),  # a Typer: config show/get/...
    "reprocess": ("imap_cli.cli.reprocess", "reprocess", {"epilog": EPILOG}),
    "release": ("imap_cli.cli.release", "release", {"epilog": EPILOG}),
    "jobs": ("imap_cli.cli.jobs", "app", {"epilog": EPILOG}),  # a Typer: jobs, jobs logs
    "metakernel": ("imap_cli.cli.metakernel", "metakernel", {"epilog": EPILOG}),
    "doctor": ("imap_cli.cli.doctor", "doctor", {"epilog": EPILOG}),
}


def _load_command(name: str) -> typer.core.TyperCommand | TyperGroup:
    """Import one command's module and build its click command the way typer does."""
    import importlib

    module, attribute, settings = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name, **settings)
    else:
        holder.command(name, **settings)(target)
    command = typer.main.get_group(holder).commands[name]
    _add_global_options(command)
    lighten(command)
    return command


# The root's options, also accepted after the command name (`imap query -i mag -q`) and listed
# in each command's help. A command's own option of the same name wins (`imap serve --api-key`
# is the key the server demands).
GLOBAL_PANEL = "Global options (also before the command)"


def _global_options() -> list[Any]:
    """The global options as click parameters, built by Typer itself (whose option classes
    change between releases) from a function's signature. Its annotations are resolved as
    module globals (postponed evaluation), so they name only module-level things."""
    holder = typer.Typer(add_completion=False)

    @holder.command()
    def options(
        global_url: Annotated[
            str | None,
            typer.Option(
                "--url", help="SDC API URL.", rich_help_panel=GLOBAL_PANEL, show_default=False
            ),
        ] = None,
        global_api_key: Annotated[
            str | None,
            typer.Option(
                "--api-key",
                help="SDC API key (prefer IMAP_API_KEY).",
                rich_help_panel=GLOBAL_PANEL,
                show_default=False,
            ),
        ] = None,
        global_data_dir: Annotated[
            str | None,
            typer.Option(
                "--data-dir",
                help="Where downloaded files go.",
                rich_help_panel=GLOBAL_PANEL,
                show_default=False,
            ),
        ] = None,
        global_verbose: Annotated[
            int,
            typer.Option(
                "--verbose",
                "-v",
                count=True,
                metavar="",
                help="More detail.",
                rich_help_panel=GLOBAL_PANEL,
                show_default=False,
            ),
        ] = 0,
        global_quiet: Annotated[
            bool,
            typer.Option(
                "--quiet",
                "-q",
                help="Only errors and data.",
                rich_help_panel=GLOBAL_PANEL,
                show_default=False,
            ),
        ] = False,
        global_debug: Annotated[
            bool,
            typer.Option(
                "--debug",
                help="Show tracebacks on errors.",
                rich_help_panel=GLOBAL_PANEL,
                show_default=False,
            ),
        ] = False,
    ) -> None:
        """Never run: only its parameters are used."""

    return list(typer.main.get_command(holder).params)


def _add_global_options(command: Any) -> None:
    """Give `command` (and a group's subcommands) the global options it does not define, and
    an "Interrupted." line on Ctrl-C."""
    import functools

    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            _add_global_options(sub)
        return
    if command.callback is None:
        return
    taken = {name for param in command.params for name in param.opts + param.secondary_opts}
    added = [o for o in _global_options() if not taken.intersection(o.opts)]
    command.params.extend(added)
    names = [o.name for o in added]
    inner = command.callback

    @functools.wraps(inner)
    def callback(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name, None) for name in names}
        _apply_global_options(values)
        try:
            return inner(*args, **kwargs)
        except KeyboardInterrupt:
            # Typer would turn it into a silent exit 130; a command with more to say about
            # what was kept (download, upload, sync) catches it first.
            sys.stderr.write("\nInterrupted.\n")
            raise typer.Exit(ExitCode.INTERRUPTED) from None

    command.callback = callback


def _apply_global_options(values: dict[str, Any]) -> None:
    """Merge global options given after the command name into the run's State."""
    from imap_cli.cli.options import State

    try:
        from typer._click.globals import get_current_context
    except ImportError:  # a Typer that uses click itself
        from click import get_current_context

    ctx = get_current_context(silent=True)
    run = ctx.find_root().obj if ctx is not None else None
    if not isinstance(run, State):
        return
    for flag in ("url", "api-key", "data-dir"):
        value = values.get("global_" + flag.replace("-", "_"))
        if value is not None:
            run.flags[flag] = value
            run._settings = None  # resolved again with the new flag
    if values.get("global_quiet"):
        run.output.quiet = True
    if values.get("global_verbose"):
        run.output.verbose += values["global_verbose"]
    if values.get("global_debug"):
        run.debug = True


def _command_summary(name: str) -> typer.core.TyperCommand:
    """What `imap --help` lists for a command (name and help text), without its options."""
    import importlib
    import inspect

    from typer.models import TyperInfo

    module, attribute, settings = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        help_text = typer.main.solve_typer_info_help(TyperInfo(target, name=name, **settings))
    else:
        help_text = inspect.getdoc(target) if settings.get("help") is None else settings["help"]
    return typer.core.TyperCommand(
        name=name,
        help=help_text,
        short_help=settings.get("short_help"),
        hidden=settings.get("hidden", False),
        deprecated=settings.get("deprecated", False),
        rich_help_panel=settings.get("rich_help_panel"),
    )


class LazyCommands(TyperGroup):
    """The root group: lists every command by name, builds each one on first use."""

    _summaries_only = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(COMMANDS) + [name for name in self.commands if name not in COMMANDS]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            if self._summaries_only:  # not kept: a later call gets the real command
                return _command_summary(cmd_name)
            self.commands[cmd_name] = _load_command(cmd_name)
        return self.commands.get(cmd_name)

    # Listing the commands, in `imap --help` and for `imap <TAB>`, needs each one's name and
    # help text only; building every command's options to show them would cost ~8 ms.

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        self._summaries_only = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._summaries_only = False

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        lighten(self)  # the root's own options (--url, -q, ...), before they are converted
        return super().parse_args(ctx, args)

    def shell_complete(self, ctx: typer.Context, incomplete: str) -> list[Any]:
        self._summaries_only = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._summaries_only = False


app = typer.Typer(
    cls=LazyCommands,
    name="imap",
    help="Query, download and upload IMAP Science Data Center (SDC) files.",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"imap-sdc-cli {__version__}")
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
    from imap_cli.cli.options import State
    from imap_cli.cli.output import Output, Streams

    flags = {"url": url, "api-key": api_key, "data-dir": data_dir}
    ctx.obj = State(
        flags=flags,
        output=Output(Streams(), quiet=quiet, verbose=verbose),
        debug=debug or _env_debug(),
    )


def _env_debug() -> bool:
    return os.environ.get("IMAP_DEBUG", "").lower() in ("1", "true", "yes", "on")


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or _env_debug()


def _run_app(args: list[str]) -> Any:
    """Run the Typer app; help, completion and completion-script requests are set up first."""
    install_light_help()
    adapt_typer_completion()
    # typer 0.28 guesses the shell from the parent process, so `--show-completion fish` typed in
    # bash would print bash's script: a shell named first thing is answered here, with typer's
    # own functions.
    request = script_request(args)
    if request is not None:
        return show_or_install(*request)
    return app(args=args, prog_name="imap", standalone_mode=False)


def main(argv: list[str] | None = None) -> int:
    """Run `imap`; map every IMAPError to one line, a hint and its exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        code = _run_app(args)
    except IMAPError as error:
        if _debug_requested(args):
            raise
        from imap_cli.cli.errors import exit_code_for
        from imap_cli.cli.output import Output, Streams

        Output(Streams()).error(error)
        code = exit_code_for(error)
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted.\n")
        code = ExitCode.INTERRUPTED
    except typer.Abort:
        sys.stderr.write("\nAborted.\n")
        code = ExitCode.INTERRUPTED
    except Exception as exc:  # click's usage errors, then anything unexpected
        code = _other_error(exc, args)
    code = int(code or 0)
    if argv is None:
        sys.exit(code)
    return code


def _other_error(exc: Exception, args: list[str]) -> int:
    from typer import _click

    if isinstance(exc, _click.exceptions.NoArgsIsHelpError):
        # `imap query` alone: typer has printed the help already; show() would add a blank line
        return exc.exit_code
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
    from imap_cli.cli.output import Output, Streams

    Output(Streams()).error(
        f"unexpected {type(exc).__name__}: {exc}",
        "This is a bug in imap-sdc-cli; run again with --debug and report the traceback.",
    )
    return ExitCode.PARTIAL
