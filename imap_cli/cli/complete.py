"""Completion callbacks: static lists and local files only, never the network.

Every TAB runs `imap` again, so this module imports only the stdlib at top level. The lists
below are copies of core.naming's and core.settings' (importing naming compiles its regular
expressions: ~10 ms per keypress); tests/cli/test_completion.py keeps the copies equal.

`python -m imap_cli.cli.complete --write` regenerates completions/imap.{bash,zsh,fish} and
imap_cli/cli/completion_spec.py (what cli/tab.py answers a TAB from); run it after adding or
changing a command or an option. Completion callbacks must live in modules that import only
the stdlib (like this one): a TAB imports them, and never typer, click or rich.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PROG_NAME = "imap"
COMPLETE_VAR = "_IMAP_COMPLETE"
SHELLS = ("bash", "zsh", "fish")

TABLES = ("ancillary", "quicklook", "science", "spice")
FORMATS = ("csv", "json", "paths", "table")
INSTRUMENTS = (
    "codice",
    "glows",
    "hi",
    "hit",
    "ialirt",
    "idex",
    "l1const",
    "lo",
    "mag",
    "spacecraft",
    "swapi",
    "swe",
    "ultra",
)
DATA_LEVELS = (
    "l0",
    "l1",
    "l1a",
    "l1b",
    "l1c",
    "l1ca",
    "l1cb",
    "l1d",
    "l2",
    "l2a",
    "l2b",
    "l2c",
    "l3",
    "l3a",
    "l3b",
    "l3c",
    "l3d",
    "l3e",
)
EXTENSIONS = (
    "bc",
    "bpc",
    "bsp",
    "cdf",
    "csv",
    "dat",
    "jpg",
    "json",
    "mk",
    "pdf",
    "pgm",
    "pkts",
    "png",
    "repoint",
    "sff",
    "spin",
    "tf",
    "tls",
    "tm",
    "tpc",
    "tsc",
    "tsv",
    "txt",
    "xlsx",
    "zip",
)
SPICE_TYPES = (
    "attitude_history",
    "attitude_predict",
    "earth_attitude",
    "ephemeris_90days",
    "ephemeris_launch",
    "ephemeris_long",
    "ephemeris_nominal",
    "ephemeris_predicted",
    "ephemeris_reconstructed",
    "imap_frames",
    "lagrange_point",
    "leapseconds",
    "lo_pivot_attitude",
    "metakernel",
    "planetary_constants",
    "planetary_ephemeris",
    "pointing_attitude",
    "repoint",
    "science_frames",
    "spacecraft_clock",
    "spin",
    "thruster",
)
CONFIG_KEYS = ("data-dir", "url", "api-key", "jobs", "timeout", "retries", "ca-bundle")


def _starting(values: Iterable[str], incomplete: str) -> list[str]:
    return [v for v in values if v.startswith(incomplete)]


# --- option values -------------------------------------------------------------------------


def tables(incomplete: str) -> list[str]:
    """Query tables."""
    return _starting(TABLES, incomplete)


def formats(incomplete: str) -> list[str]:
    """Output formats."""
    return _starting(FORMATS, incomplete)


def report_formats(incomplete: str) -> list[str]:
    """`imap doctor`'s formats."""
    return _starting(("json", "text"), incomplete)


def instruments(incomplete: str) -> list[str]:
    """Instruments and data sources."""
    return _starting(INSTRUMENTS, incomplete)


def data_levels(incomplete: str) -> list[str]:
    """Data levels."""
    return _starting(DATA_LEVELS, incomplete)


def extensions(incomplete: str) -> list[str]:
    """Every extension any kind of file may have."""
    return _starting(EXTENSIONS, incomplete)


def spice_types(incomplete: str) -> list[str]:
    """SPICE kernel types."""
    return _starting(SPICE_TYPES, incomplete)


def versions(incomplete: str) -> list[str]:
    """`latest`; other versions are typed."""
    return _starting(("latest",), incomplete)


def config_keys(incomplete: str) -> list[str]:
    """Setting names for `imap config get/set/unset`."""
    return _starting(CONFIG_KEYS, incomplete)


# --- arguments: recent query results and local files ---------------------------------------


def _typed_already(ctx: Any) -> set[str]:
    """Values already on the command line (parsed into ctx.params), as typed and normalised
    (`./a.cdf` is `a.cdf`)."""
    typed: set[str] = set()
    for value in (getattr(ctx, "params", None) or {}).values():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, (str, os.PathLike)):
                typed.update((str(item), os.path.normpath(item)))
    return typed


def download_items(incomplete: str, ctx: Any = None) -> list[str]:
    """Filenames of recent query results; their SDC keys once a `/` is typed.

    Attach as `autocompletion=complete.download_items` to `imap download`'s argument. Typer
    passes the click context by the parameter's name, so items already typed are left out.
    """
    try:
        from imap_cli.core.recent import recent_keys  # stdlib only: fine on every TAB

        keys = recent_keys()
    except Exception:  # a traceback must never land in the user's prompt
        return []
    typed = _typed_already(ctx)
    if "/" in incomplete:
        candidates = (key for key in keys if key.startswith(incomplete))
    else:
        candidates = (key.rsplit("/", 1)[-1] for key in keys)
        candidates = (name for name in candidates if name.startswith(incomplete))
    return sorted({c for c in candidates if c and c not in typed})


def upload_files(incomplete: str, ctx: Any = None) -> list[str]:
    """Local files for `imap upload`: those in the folder typed so far (the cwd at first).

    Folders that match are listed beside files with a trailing `/`. When no file matches,
    nothing is returned, so the shell's own path completion takes over (it descends into
    folders, expands `~` and quotes spaces better than a list of words can).
    """
    cut = max(incomplete.rfind("/"), incomplete.rfind(os.sep))
    head, prefix = incomplete[: cut + 1], incomplete[cut + 1 :]
    folder = Path(os.path.expanduser(head)) if head else Path(".")
    show_hidden = prefix.startswith(".")
    typed = _typed_already(ctx)
    files: list[str] = []
    folders: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if not name.startswith(prefix) or (name.startswith(".") and not show_hidden):
                    continue
                try:
                    if entry.is_dir():
                        folders.append(f"{head}{name}/")
                    elif entry.is_file() and os.path.normpath(f"{head}{name}") not in typed:
                        files.append(f"{head}{name}")
                except OSError:  # a dangling or unreadable entry: not a candidate
                    continue
    except OSError:
        return []
    if not files:
        return []
    return sorted(files) + sorted(folders)


# --- how typer answers the shells ----------------------------------------------------------

# rich's markup tags, as rich.markup matches them: [bold], [/], [link=...], ...
_MARKUP_TAG = re.compile(r"(\\*)\[([a-z#/@][^[]*?)]")


def _plain_text(text: str) -> str:
    """Help text without rich markup tags (an escaped `\\[` stays as a literal `[`)."""

    def drop(match: re.Match[str]) -> str:
        backslashes = match.group(1)
        if len(backslashes) % 2:  # escaped: keep the bracket, drop one backslash
            return backslashes[:-1] + "[" + match.group(2) + "]"
        return backslashes

    return _MARKUP_TAG.sub(drop, text)


# typer 0.28's zsh script defines _imap_completion, then registers it with compdef. Autoloaded
# from $fpath as `_imap` (how --install-completion and most setups load it), the file is the
# body of _imap, so the first TAB of every shell only defines things and completes nothing.
# Our ending completes at once when autoloaded, and registers the function when sourced.
ZSH_ENDING = """
if [[ $zsh_eval_context[-1] == (loadautofunc|shfunc) ]]; then
  # autoloaded from $fpath as _%(prog_name)s, whose body this file is: complete now
  %(complete_func)s "$@"
else
  # sourced or eval'ed: register the function for the TABs to come
  compdef %(complete_func)s %(prog_name)s
fi
"""
TYPER_ZSH_ENDING = "compdef %(complete_func)s %(prog_name)s\n"


def zsh_template() -> str:
    """typer's zsh template with its last line (the compdef) replaced by ZSH_ENDING."""
    from typer._completion_shared import COMPLETION_SCRIPT_ZSH

    if not COMPLETION_SCRIPT_ZSH.endswith(TYPER_ZSH_ENDING):  # a typer we do not know
        return COMPLETION_SCRIPT_ZSH
    return COMPLETION_SCRIPT_ZSH[: -len(TYPER_ZSH_ENDING)] + ZSH_ENDING.lstrip("\n")


def adapt_typer_completion() -> None:
    """Our two changes to typer 0.28's completion: plain help text, and the zsh script.

    Candidates' help text in zsh and fish goes through rich in typer (typer.rich_utils
    imports rich.markdown, pygments and more: ~50 ms on every TAB); our help texts hold no
    markup, so removing tags gives the same text for a fraction of the cost.
    """
    from typer import _completion_classes, _completion_shared

    if hasattr(_completion_classes, "_sanitize_help_text"):
        _completion_classes._sanitize_help_text = _plain_text
    template = zsh_template()
    _completion_shared._completion_scripts["zsh"] = template
    _completion_classes.ZshComplete.source_template = template


# --- --show-completion SHELL / --install-completion SHELL ------------------------------------

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
    import typer
    from typer._completion_shared import install

    if shell not in INSTALLABLE_SHELLS:
        from imap_cli.core.errors import UsageError

        raise UsageError(
            f"no completion for the shell {shell!r}; shells: {', '.join(INSTALLABLE_SHELLS)}",
            "Leave the shell out to use the one you are running.",
        )
    if action == "show":
        typer.echo(completion_script(shell))
        return 0
    adapt_typer_completion()
    _, path = install(shell=shell, prog_name=PROG_NAME, complete_var=COMPLETE_VAR)
    typer.secho(f"{shell} completion installed in {path}", fg="green")
    typer.echo("Completion will take effect once you restart the terminal")
    return 0


# --- the committed completion scripts ------------------------------------------------------

HEADER = (
    "# Generated by `python -m imap_cli.cli.complete --write` from typer's templates; "
    "do not edit.\n"
)


def completion_script(shell: str) -> str:
    """The completion script for one shell, exactly as `imap --show-completion SHELL` prints it."""
    from typer._completion_shared import get_completion_script

    adapt_typer_completion()
    return get_completion_script(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell)


def completion_file_text(shell: str) -> str:
    """What completions/imap.<shell> holds: the script plus a header saying where it came from."""
    script = completion_script(shell)
    if shell == "zsh":
        # `#compdef imap` must stay the first line: compinit reads nothing else.
        first, _, rest = script.partition("\n")
        return f"{first}\n{HEADER}{rest}\n"
    return f"{HEADER}{script}\n"


def write_completion_files(folder: Path) -> list[Path]:
    """Write imap.bash, imap.zsh and imap.fish into `folder`; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for shell in SHELLS:
        path = folder / f"{PROG_NAME}.{shell}"
        path.write_text(completion_file_text(shell), encoding="utf-8", newline="\n")
        written.append(path)
    return written


# --- the static description a TAB is answered from (cli/tab.py reads it) --------------------

SPEC_HEADER = '''"""What a TAB completes: the commands and options of `imap`, and their values.

Generated from the Typer app; do not edit. After adding or changing a command or an option, run:

    python -m imap_cli.cli.complete --write

(tests/cli/test_completion_spec.py fails while this file is stale.)
"""

# Generated by `python -m imap_cli.cli.complete --write`; do not edit.
# fmt: off
'''


def _typer_wrapper(function: Any) -> Any:
    """The function typer wraps an `autocompletion=` callback in (it holds the callback and
    which of its parameters take ctx, args and the incomplete word), found through closures."""
    seen, queue = set(), [function]
    while queue:
        current = queue.pop(0)
        code = getattr(current, "__code__", None)
        if code is None or id(current) in seen:
            continue
        seen.add(id(current))
        if "callback" in code.co_freevars and "incomplete_name" in code.co_freevars:
            return current
        for cell in current.__closure__ or ():
            with contextlib.suppress(ValueError):  # an empty cell
                queue.append(cell.cell_contents)
    return None


def _callback_source(param: Any) -> dict[str, Any]:
    wrapper = _typer_wrapper(param._custom_shell_complete)
    if wrapper is None:
        raise RuntimeError(
            f"{param.name}: only typer's autocompletion= callbacks can be described for a TAB"
        )
    cells = dict(zip(wrapper.__code__.co_freevars, (c.cell_contents for c in wrapper.__closure__)))
    callback = cells["callback"]
    reference = f"{callback.__module__}:{callback.__qualname__}"
    if "<" in callback.__qualname__:  # a lambda or a function defined inside another
        raise RuntimeError(
            f"{param.name}: the completion callback {reference} must be a module-level function"
        )
    return {
        "callback": reference,
        "ctx": cells.get("ctx_name"),
        "args": cells.get("args_name"),
        "incomplete": cells.get("incomplete_name"),
    }


def _value_source(param: Any, ctx: Any) -> dict[str, Any] | None:
    """Where a parameter's values come from, found by asking it (typer 0.28 and 0.29 keep
    types differently): a callback, a list of choices, the shell's own paths, or nothing."""
    if param._custom_shell_complete is not None:
        return _callback_source(param)
    items = param.shell_complete(ctx, "")
    if not items:
        return None
    if all(item.type in ("file", "dir") for item in items):
        return {"path": True}
    choices = [item.value for item in items]
    probe = next((c[:1] for c in choices if c[:1].swapcase() != c[:1]), None)
    case_sensitive = probe is None or not param.shell_complete(ctx, probe.swapcase())
    return {"choices": choices, "case_sensitive": case_sensitive}


def _describe_param(param: Any, ctx: Any) -> dict[str, Any]:
    kind = "option" if param.param_type_name == "option" else "argument"
    help_text = getattr(param, "help", None)
    return {
        "kind": kind,
        "name": param.name,
        "opts": list(param.opts) if kind == "option" else [],
        "secondary_opts": list(param.secondary_opts) if kind == "option" else [],
        "help": _plain_text(help_text) if help_text else None,
        "flag": bool(getattr(param, "is_flag", False)),
        "count": bool(getattr(param, "count", False)),
        "nargs": param.nargs,
        "multiple": bool(param.multiple),
        "hidden": bool(getattr(param, "hidden", False)),
        "complete": _value_source(param, ctx),
    }


def _describe_command(command: Any, ctx: Any) -> dict[str, Any]:
    params = [_describe_param(p, ctx) for p in command.get_params(ctx)]
    help_option = command.get_help_option(ctx)
    for param in params:
        if help_option is not None and param["name"] == help_option.name:
            # click lists a help option's names from a set, in a different order in each
            # process; the settings' order (-h, --help) keeps this file the same every time
            order = list(ctx.help_option_names)
            param["opts"].sort(key=lambda name: order.index(name) if name in order else len(order))
    node: dict[str, Any] = {"params": params}
    if not hasattr(command, "list_commands"):
        return node
    # what the group itself offers for `imap <TAB>` (the root lists summaries, not full commands)
    listed = {item.value: item.help for item in command.shell_complete(ctx, "")}
    node["commands"] = {}
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is None:
            continue
        with sub.make_context(name, [], parent=ctx, resilient_parsing=True) as sub_ctx:
            child = _describe_command(sub, sub_ctx)
        short_help = listed.get(name, sub.get_short_help_str())
        child = {
            "short_help": _plain_text(short_help) if short_help else None,
            "hidden": bool(sub.hidden),
            **child,
        }
        node["commands"][name] = child
    return node


def build_spec() -> dict[str, Any]:
    """The description of every command, option and completion source, from the Typer app."""
    import typer

    from imap_cli.cli.app import app

    root = typer.main.get_command(app)
    with root.make_context(PROG_NAME, [], resilient_parsing=True) as ctx:
        return _describe_command(root, ctx)


def _spec_lines(node: dict[str, Any], indent: str) -> list[str]:
    """A command as Python source: one line per parameter, so a diff shows what changed."""
    inner = indent + "    "
    lines = [
        f"{inner}{key!r}: {value!r},"
        for key, value in node.items()
        if key not in ("params", "commands")
    ]
    lines.append(f"{inner}'params': [")
    lines.extend(f"{inner}    {param!r}," for param in node["params"])
    lines.append(f"{inner}],")
    if "commands" in node:
        lines.append(f"{inner}'commands': {{")
        for name, child in node["commands"].items():
            lines.append(f"{inner}    {name!r}: {{")
            lines.extend(_spec_lines(child, inner + "    "))
            lines.append(f"{inner}    }},")
        lines.append(f"{inner}}},")
    return lines


def spec_file_text() -> str:
    """What imap_cli/cli/completion_spec.py holds."""
    body = "\n".join(_spec_lines(build_spec(), ""))
    return f"{SPEC_HEADER}SPEC = {{\n{body}\n}}\n"


def _default_spec_file() -> Path:
    return Path(__file__).resolve().with_name("completion_spec.py")


def _default_folder() -> Path:
    return Path(__file__).resolve().parents[2] / "completions"


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m imap_cli.cli.complete",
        description=(
            "Regenerate or check completions/imap.{bash,zsh,fish} and "
            "imap_cli/cli/completion_spec.py (what a TAB is answered from)."
        ),
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="write the files")
    action.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    parser.add_argument("folder", nargs="?", type=Path, default=_default_folder())
    parser.add_argument("--spec-file", type=Path, default=_default_spec_file())
    args = parser.parse_args(argv)
    wanted = {args.folder / f"{PROG_NAME}.{shell}": completion_file_text(shell) for shell in SHELLS}
    wanted[args.spec_file] = spec_file_text()
    if args.write:
        for path, text in wanted.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            print(path)
        return 0
    stale = [
        path
        for path, text in wanted.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    for path in stale:
        print(f"stale: {path}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
