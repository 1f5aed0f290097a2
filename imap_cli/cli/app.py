"""The `imap` Typer app: global options, command registration, and main()'s error mapping."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from imap_cli import __version__
from imap_cli.cli import typer_compat
from imap_cli.cli.errors import (
    ExitCode,
    install_stop_signals,
    interrupted_code,
    interrupted_word,
)
from imap_cli.cli.plain_params import lighten
from imap_cli.cli.startup import install_light_help
from imap_cli.core.errors import IMAPError

EPILOG = (
    "Exit codes: 0 ok; 1 some items failed; 2 bad usage or input; 3 SDC unreachable or "
    "failing (network, TLS, 5xx after retries); 4 refused (401/403); 130 interrupted "
    "(Ctrl-C); 143 SIGTERM, 129 SIGHUP (what arrived is kept, as for Ctrl-C)."
)

# `imap --help` groups the commands in these panels, each command with a one-line summary.
FIND = "Finding and getting data"
INSIDE = "Inside the files"
OPERATIONS = "SDC operations"
SETUP = "Set-up and local server"


def _entry(panel: str, summary: str) -> dict[str, Any]:
    return {"epilog": EPILOG, "rich_help_panel": panel, "short_help": summary}


# Commands by name -> (module, attribute, settings). A module is imported only when its command
# runs, shows its help or completes a value: a TAB after `imap query --instrument` loads
# cli/query.py and nothing else (pip registers its commands by name for the same reason).
# Every command's help ends with the exit codes, as scripts need them.
COMMANDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "query": ("imap_cli.cli.query", "query", _entry(FIND, "Search the SDC for files.")),
    "download": (
        "imap_cli.cli.download",
        "download",
        _entry(FIND, "Download files into the data dir: parallel, resumable."),
    ),
    "sync": (
        "imap_cli.cli.sync",
        "sync",
        _entry(FIND, "Bring the data dir up to date with a query."),
    ),
    "coverage": (
        "imap_cli.cli.coverage",
        "coverage",
        _entry(FIND, "What the SDC holds, day by day, and where the gaps are."),
    ),
    "products": (
        "imap_cli.cli.products",
        "products",
        _entry(FIND, "The products the SDC holds: files, dates, latest version."),
    ),
    "info": (
        "imap_cli.cli.info",
        "info",
        _entry(INSIDE, "What a CDF or .pkts file holds: attributes, variables, packets."),
    ),
    "parents": (
        "imap_cli.cli.parents",
        "parents",
        _entry(INSIDE, "The files a CDF was made from; --check finds stale inputs."),
    ),
    "metakernel": (
        "imap_cli.cli.metakernel",
        "metakernel",
        _entry(INSIDE, "Write a SPICE metakernel for a time range."),
    ),
    "upload": (
        "imap_cli.cli.upload",
        "upload",
        _entry(OPERATIONS, "Upload files to the SDC."),
    ),
    "jobs": (  # a Typer: jobs, jobs logs
        "imap_cli.cli.jobs",
        "app",
        _entry(OPERATIONS, "The SDC's processing jobs and their logs."),
    ),
    "reprocess": (
        "imap_cli.cli.reprocess",
        "reprocess",
        _entry(OPERATIONS, "Ask the SDC to reprocess files (asks first)."),
    ),
    "release": (
        "imap_cli.cli.release",
        "release",
        _entry(OPERATIONS, "Release data to the public per a manifest (asks first)."),
    ),
    "webpoda": (  # a Typer: webpoda, webpoda login
        "imap_cli.cli.webpoda",
        "app",
        _entry(OPERATIONS, "Make L0 packet files from LASP's PODA; compare with the SDC."),
    ),
    "config": (  # a Typer: config show/get/...
        "imap_cli.cli.config",
        "app",
        _entry(SETUP, "Show and change settings."),
    ),
    "doctor": (
        "imap_cli.cli.doctor",
        "doctor",
        _entry(SETUP, "Check the setup and the way to the SDC."),
    ),
    "serve": (
        "imap_cli.cli.serve",
        "serve",
        _entry(SETUP, "Serve a folder as a local SDC, for offline work and tests."),
    ),
}


def _load_command(name: str) -> typer.core.TyperCommand | TyperGroup:
    """Import one command's module and build its click command the way typer does."""
    import importlib

    module, attribute, settings = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    holder.callback()(_holder)  # with a callback, Typer builds a group even for one command
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name, **settings)
    else:
        holder.command(name, **settings)(target)
    command = typer_compat.click_command(holder).commands[name]
    _add_global_options(command)
    lighten(command)
    _reflow_help(command)
    return command


def _reflow_help(command: Any) -> None:
    """Join the lines of each help paragraph, as older Typers did: newer ones keep a
    docstring's line breaks, which then break lines mid-sentence at any terminal width.
    Paragraphs of indented lines or list items keep theirs."""
    if command.help:
        command.help = reflowed(command.help)
    for sub in getattr(command, "commands", {}).values():
        _reflow_help(sub)


def reflowed(text: str) -> str:
    """`text` with each paragraph's lines joined (see _reflow_help)."""
    paragraphs = text.split("\n\n")
    for at, paragraph in enumerate(paragraphs):
        lines = paragraph.split("\n")
        if len(lines) > 1 and not any(
            line.startswith((" ", "\t", "- ", "* ", "\b", "\f")) for line in lines
        ):
            paragraphs[at] = " ".join(line.strip() for line in lines)
    return "\n\n".join(paragraphs)


def _holder() -> None:
    """The callback of the group a command is built in; never run."""


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
                metavar=" ",  # a count takes no value (Typer 0.26 shows the type for "")
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

    return list(typer_compat.click_command(holder).params)


def _add_global_options(command: Any) -> None:
    """Give `command` (and a group's subcommands) the global options it does not define, and
    an "Interrupted." line on Ctrl-C."""
    import functools

    if isinstance(command, TyperGroup):
        # a group's own options too: `imap jobs --url URL` lists jobs, `imap config --url U show`
        for sub in command.commands.values():
            _add_global_options(sub)
    elif command.callback is None:
        return
    taken = {name for param in command.params for name in param.opts + param.secondary_opts}
    added = [o for o in _global_options() if not taken.intersection(o.opts)]
    command.params.extend(added)
    names = [o.name for o in added]
    inner = command.invoke

    @functools.wraps(inner)
    def invoke(ctx: typer.Context) -> Any:
        # the command's own function does not take the global options: they go to the State
        _apply_global_options(ctx, {name: ctx.params.pop(name, None) for name in names})
        try:
            return inner(ctx)
        except IMAPError as error:
            _name_the_data_dir(ctx, error)
            raise
        except KeyboardInterrupt as stop:
            # Typer would turn it into a silent exit 130; a command with more to say about
            # what was kept (download, upload, sync) catches it first.
            sys.stderr.write(f"\n{interrupted_word(stop)}.\n")
            raise typer.Exit(interrupted_code(stop)) from None

    command.invoke = invoke


def _name_the_data_dir(ctx: typer.Context, error: IMAPError) -> None:
    """A data-dir failure's hint names what set the data dir (flag, environment, file,
    default): the fix goes there."""
    from imap_cli.cli.options import State
    from imap_cli.core.errors import Failure

    run = ctx.find_root().obj
    if getattr(error, "kind", None) is not Failure.DATA_DIR or not isinstance(run, State):
        return
    from imap_cli.cli.hints import data_dir_hint

    try:
        origin = run.settings.origins.get("data-dir", "default")
    except IMAPError:
        return
    error.hint = data_dir_hint(origin)


def _apply_global_options(ctx: typer.Context, values: dict[str, Any]) -> None:
    """Merge global options given after the command name into the run's State."""
    from imap_cli.cli.options import State

    run = ctx.find_root().obj
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


def _command_summary(name: str) -> Any:
    """What `imap --help` lists for a command (name and help text), without its options;
    the whole command where this Typer does not say how it finds a sub-app's help."""
    import importlib
    import inspect

    module, attribute, settings = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        help_text = typer_compat.summary_help(target, name, settings)
        if help_text is None:
            return _load_command(name)
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
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, metavar=" ", help="More detail.", show_default=False
        ),
    ] = 0,
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
    # main() hands over the arguments it ran with (see _run_app); sys.argv otherwise.
    argv = ctx.obj if isinstance(ctx.obj, tuple) else tuple(sys.argv[1:])
    ctx.obj = State(
        flags=flags,
        output=Output(Streams(), quiet=quiet, verbose=verbose),
        debug=debug or _env_debug(),
        argv=argv,
    )


def _env_debug() -> bool:
    return os.environ.get("IMAP_DEBUG", "").lower() in ("1", "true", "yes", "on")


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or _env_debug()


def _run_app(args: list[str]) -> Any:
    """Run the Typer app; help, completion and completion-script requests are set up first."""
    install_light_help()
    typer_compat.adapt_typer_completion()
    # typer 0.28 guesses the shell from the parent process, so `--show-completion fish` typed in
    # bash would print bash's script: a shell named first thing is answered here, with typer's
    # own functions.
    request = script_request(args)
    if request is not None and typer_compat.writes_scripts():
        return show_or_install(*request)
    # obj: the arguments, for the root callback's State (click keeps no copy of them)
    return app(args=args, prog_name="imap", standalone_mode=False, obj=tuple(args))


INSTALLABLE_SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def script_request(args: list[str]) -> tuple[str, str] | None:
    """("show" or "install", shell) when the command line is one of those options and a shell
    (`--show-completion fish`, `--install-completion=zsh`); else None (typer detects it)."""
    if not args:
        return None
    option, equals, shell = args[0].partition("=")
    if option not in ("--show-completion", "--install-completion"):
        return None
    if not equals:
        shell = args[1] if len(args) == 2 else ""
    elif len(args) != 1:
        return None
    if not shell or shell.startswith("-"):
        return None
    return ("show" if option == "--show-completion" else "install"), shell


def show_or_install(action: str, shell: str) -> int:
    """Print or install the script for `shell`, as typer's --show/--install-completion do."""
    if shell not in INSTALLABLE_SHELLS:
        from imap_cli.core.errors import UsageError

        raise UsageError(
            f"no completion for the shell {shell!r}; shells: {', '.join(INSTALLABLE_SHELLS)}",
            "Leave the shell out to use the one you are running.",
        )
    if action == "show":
        typer.echo(typer_compat.completion_script(shell))
        return 0
    path = typer_compat.install_completion(shell)
    typer.secho(f"{shell} completion installed in {path}", fg="green")
    typer.echo("Completion will take effect once you restart the terminal")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run `imap`; map every IMAPError to one line, a hint and its exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    if argv is None:
        install_stop_signals()  # the process is imap's: TERM and HUP stop it as Ctrl-C does
    try:
        code = _run_app(args)
    except IMAPError as error:
        if _debug_requested(args):
            raise
        from imap_cli.cli.errors import exit_code_for
        from imap_cli.cli.output import Output, Streams

        Output(Streams()).error(error)
        code = exit_code_for(error)
    except KeyboardInterrupt as stop:
        sys.stderr.write(f"\n{interrupted_word(stop)}.\n")
        code = interrupted_code(stop)
    except typer.Abort:
        sys.stderr.write("\nAborted.\n")
        code = ExitCode.INTERRUPTED
    except Exception as exc:  # click's usage errors, then anything unexpected
        code = _other_error(exc, args)
    code = int(code or 0)
    if argv is None:
        sys.exit(code)
    return code


def _click_exception() -> type:
    """click's ClickException, whichever click this Typer carries: typer.BadParameter's base."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


# The subcommands of the groups in COMMANDS, for naming a command without building it.
SUBCOMMANDS = {"config": ("show", "get", "set", "unset", "path"), "jobs": ("logs",)}


def _command_path(args: list[str]) -> str:
    """`imap` and the command (and subcommand) words at the front of `args`, options left out:
    the command a usage error is about when click does not say."""
    words = [arg for arg in args if not arg.startswith("-")][:2]
    if not words or words[0] not in COMMANDS:
        return "imap"
    if len(words) == 2 and words[1] in SUBCOMMANDS.get(words[0], ()):
        return " ".join(["imap", *words])
    return f"imap {words[0]}"


def _other_error(exc: Exception, args: list[str]) -> int:
    if type(exc).__name__ == "NoArgsIsHelpError":
        # `imap query` alone: typer has printed the help already; show() would add a blank line
        return exc.exit_code  # type: ignore[attr-defined]
    if isinstance(exc, _click_exception()):
        # our one form, as for every other error: `Error: <what>` and `Hint: <the fix>`
        from imap_cli.cli.hints import usage_error
        from imap_cli.cli.output import Output, Streams

        Output(Streams()).error(*usage_error(exc, _command_path(args)))
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
