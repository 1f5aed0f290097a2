"""Answering a TAB without Typer: the shells' completion requests, from a static description.

Every TAB runs `imap` again. Typer 0.29 imports pydantic, so building the Typer app to answer
one keypress would cost more than the official client's whole `-h`. Instead the commands,
options and their completion sources are written once into cli/completion_spec.py
(`python -m imap_cli.cli.complete --write`), and this module walks the command line over
that description the way click's resilient parser does: the same candidates, in the same
order, in the same format as Typer's bash, zsh and fish answers (the protocol the scripts in
completions/ speak). Dynamic values (recent query keys, local files) come from the callbacks
in cli/completers.py, which import only the stdlib.

This module imports only the stdlib; tests/cli/test_startup.py checks that a TAB loads
neither typer, click nor rich.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from typing import Any

COMPLETE_VAR = "_IMAP_COMPLETE"
ANSWERED = ("complete_bash", "complete_zsh", "complete_fish")

Item = tuple[str, str | None]  # (value, help)
# bash's exit status for "nothing to offer, and the word is no path": completions/imap.bash
# then turns off its `-o default` for this TAB, so bash lists no local files (older scripts
# ignore the status and fall back to files as before).
NO_FILES_STATUS = 3
_WHITESPACE = re.compile(r"\s")


def wanted(environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """Whether this run is a completion request this module answers."""
    return (os.environ if environ is None else environ).get(COMPLETE_VAR, "") in ANSWERED


def split(line: str) -> list[str]:
    """Split a command line like a POSIX shell, keeping an unfinished quote's partial word."""
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    try:
        words.extend(lexer)
    except ValueError:  # an open quote or a trailing backslash: the partial word counts
        words.append(lexer.token)
    return words


class Context:
    """What click's resilient parse leaves for one command: its node, params and sources.

    Completion callbacks get this as `ctx`; they read `ctx.params` (values typed so far).
    """

    def __init__(self, node: dict[str, Any], parent: Context | None = None) -> None:
        self.node = node
        self.parent = parent
        self.params: dict[str, Any] = {}
        self.given: set[str] = set()  # names whose value came from the command line
        self.rest: list[str] = []  # a group's leftover words: the subcommand and its words


def _option_table(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    table = {}
    for param in node["params"]:
        if param["kind"] == "option":
            for name in (*param["opts"], *param["secondary_opts"]):
                table[name] = param
    return table


def _record(ctx: Context, param: dict[str, Any], value: Any, name: str) -> None:
    key = param["name"]
    ctx.given.add(key)
    if param["count"]:
        ctx.params[key] = ctx.params.get(key, 0) + 1
    elif param["flag"]:
        ctx.params[key] = name not in param["secondary_opts"]
    elif param["multiple"]:
        ctx.params[key] = (*ctx.params.get(key, ()), value)
    else:
        ctx.params[key] = value


class _Stop(Exception):
    """A usage error: click's resilient parser stops reading there."""


def _take_value(param: dict[str, Any], rargs: list[str]) -> Any:
    nargs = param["nargs"]
    if len(rargs) < nargs:
        raise _Stop
    if nargs == 1:
        return rargs.pop(0)
    value = tuple(rargs[:nargs])
    del rargs[:nargs]
    return value


def _long(ctx: Context, table: dict[str, Any], arg: str, rargs: list[str]) -> bool:
    """Match `--name` or `--name=value`; False when no option has that name."""
    name, equals, explicit = arg.partition("=")
    param = table.get(name)
    if param is None or (len(name) == 2 and name[1] != "-"):  # -x is a short option
        return False
    if param["flag"] or param["count"]:
        if equals:
            raise _Stop
        _record(ctx, param, None, name)
        return True
    if equals:
        rargs.insert(0, explicit)
    _record(ctx, param, _take_value(param, rargs), name)
    return True


def _short(ctx: Context, table: dict[str, Any], arg: str, rargs: list[str]) -> None:
    """Match `-abc` as -a -b -c, where an option that takes a value eats the rest."""
    for index, char in enumerate(arg[1:], start=2):
        name = arg[0] + char
        param = table.get(name)
        if param is None:
            raise _Stop
        if param["flag"] or param["count"]:
            _record(ctx, param, None, name)
            continue
        if index < len(arg):
            rargs.insert(0, arg[index:])
        _record(ctx, param, _take_value(param, rargs), name)
        return


def _unpack(words: list[str], nargs_spec: list[int]) -> tuple[list[Any], list[str]]:
    """Positional words onto the arguments (a nargs=-1 one takes what the others leave),
    and the words left over."""
    words = list(words)
    values: list[Any] = [None] * len(nargs_spec)
    star = next((i for i, n in enumerate(nargs_spec) if n < 0), None)
    for index, nargs in enumerate(nargs_spec if star is None else nargs_spec[:star]):
        values[index] = _pop(words, nargs, front=True)
    if star is None:
        return values, words
    for index in range(len(nargs_spec) - 1, star, -1):
        values[index] = _pop(words, nargs_spec[index], front=False)
    values[star] = tuple(words)
    return values, []


def _pop(words: list[str], nargs: int, *, front: bool) -> Any:
    def one() -> str | None:
        if not words:
            return None
        return words.pop(0) if front else words.pop()

    if nargs == 1:
        return one()
    got = [one() for _ in range(nargs)]
    if all(value is None for value in got):
        return None
    return tuple(got if front else reversed(got))


def parse(ctx: Context, words: list[str]) -> None:
    """Read `words` into ctx as click's resilient parser does: a usage error ends the reading.

    A group reads its own options up to the first other word, which names the subcommand;
    a command reads options anywhere and gives the other words to its arguments.
    """
    node = ctx.node
    table = _option_table(node)
    group = "commands" in node
    rargs, largs = list(words), []
    try:
        while rargs:
            arg = rargs.pop(0)
            if arg == "--":
                break
            if arg[:1] == "-" and len(arg) > 1:
                if not _long(ctx, table, arg, rargs):
                    if arg[:2] == "--":
                        raise _Stop
                    _short(ctx, table, arg, rargs)
            elif group:
                rargs.insert(0, arg)
                break
            else:
                largs.append(arg)
    except _Stop:  # what was read so far counts; the arguments get nothing
        ctx.rest = largs
        return
    arguments = [p for p in node["params"] if p["kind"] == "argument"]
    values, ctx.rest = _unpack(largs + rargs, [p["nargs"] for p in arguments])
    for param, value in zip(arguments, values):
        if value is not None:
            ctx.params[param["name"]] = value
            ctx.given.add(param["name"])


def resolve(spec: dict[str, Any], args: list[str]) -> Context:
    """The context of the innermost command the words name (click's _resolve_context)."""
    ctx = Context(spec)
    parse(ctx, args)
    while ctx.rest and "commands" in ctx.node:
        name, *words = ctx.rest
        child = ctx.node["commands"].get(name)
        if child is None:
            return ctx
        sub = Context(child, parent=ctx)
        parse(sub, words)
        ctx = sub
    return ctx


def _option_awaiting_value(ctx: Context, args: list[str]) -> dict[str, Any] | None:
    for param in ctx.node["params"]:
        if param["kind"] != "option" or param["flag"] or param["count"]:
            continue
        # The last option among the words this one's value would fill (click's check).
        last = next((arg for arg in reversed(args[-param["nargs"] :]) if arg[:1] == "-"), None)
        if last in param["opts"]:
            return param
    return None


def _argument_awaiting_value(ctx: Context) -> dict[str, Any] | None:
    for param in ctx.node["params"]:
        if param["kind"] != "argument":
            continue
        value = ctx.params.get(param["name"])
        nargs = param["nargs"]
        if (
            nargs == -1
            or param["name"] not in ctx.given
            or (nargs > 1 and isinstance(value, tuple) and len(value) < nargs)
        ):
            return param
    return None


def _command_items(ctx: Context, incomplete: str) -> list[Item]:
    items: list[Item] = []
    for name, command in ctx.node.get("commands", {}).items():
        if name.startswith(incomplete) and not command["hidden"]:
            items.append((name, command["short_help"]))
    if incomplete and not incomplete[0].isalnum():
        for param in ctx.node["params"]:
            if param["kind"] != "option" or param["hidden"]:
                continue
            if not param["multiple"] and param["name"] in ctx.given:
                continue
            names = (*param["opts"], *param["secondary_opts"])
            items.extend((name, param["help"]) for name in names if name.startswith(incomplete))
    return items


def _load(reference: str) -> Any:
    import importlib

    module, _, qualname = reference.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _param_items(ctx: Context, param: dict[str, Any], incomplete: str) -> list[Item]:
    source = param["complete"]
    if source is None:
        return []
    if "callback" in source:
        callback = _load(source["callback"])
        kwargs: dict[str, Any] = {}
        for role, value in (("ctx", ctx), ("args", []), ("incomplete", incomplete)):
            if source.get(role):
                kwargs[source[role]] = value
        items: list[Item] = []
        for candidate in callback(**kwargs):
            value, help_text = candidate if isinstance(candidate, tuple) else (candidate, None)
            if value.startswith(incomplete):
                items.append((value, help_text))
        return items
    if "choices" in source:
        fold = str if source.get("case_sensitive", True) else str.lower
        return [(c, None) for c in source["choices"] if fold(c).startswith(fold(incomplete))]
    if source.get("path"):  # the word itself: the shell completes paths
        return [(incomplete, None)]
    return []


def candidates(spec: dict[str, Any], args: list[str], incomplete: str) -> list[Item]:
    """What a TAB offers after `args` for the word `incomplete` (click's get_completions)."""
    return completion(spec, args, incomplete)[0]


def _may_be_path(param: dict[str, Any] | None) -> bool:
    """Whether the word completed may be a local path: a parameter with no completion source
    (a date, a file name: the spec cannot tell) or one whose source is paths. A command or an
    option name, a fixed vocabulary or a callback of other values (descriptors, SDC keys) is
    no path."""
    if param is None:
        return False
    source = param["complete"]
    return source is None or bool(source.get("path"))


def completion(spec: dict[str, Any], args: list[str], incomplete: str) -> tuple[list[Item], bool]:
    """What a TAB offers, and whether the shell may offer local paths when that is nothing."""
    ctx = resolve(spec, args)
    args = list(args)
    if incomplete == "=":
        incomplete = ""
    elif "=" in incomplete and incomplete[:1] == "-":
        name, _, incomplete = incomplete.partition("=")
        args.append(name)
    if "--" not in args and incomplete[:1] == "-":
        return _command_items(ctx, incomplete), False
    param = _option_awaiting_value(ctx, args) or _argument_awaiting_value(ctx)
    if param is not None:
        return _param_items(ctx, param, incomplete), _may_be_path(param)
    return _command_items(ctx, incomplete), False


def _zsh_escape(text: str) -> str:
    return (
        text.replace('"', '""')
        .replace("'", "''")
        .replace("$", "\\$")
        .replace("`", "\\`")
        .replace(":", r"\\:")
    )


def answer(environ: dict[str, str] | os._Environ[str], out: Any = None) -> int:
    """Print the answer to one completion request; return the exit code."""
    from imap_cli.cli.completion_spec import SPEC

    out = sys.stdout if out is None else out
    shell = environ[COMPLETE_VAR].removeprefix("complete_")
    if shell == "bash":
        words = split(environ.get("COMP_WORDS", ""))
        cword = int(environ.get("COMP_CWORD", "0") or 0)
        args = words[1:cword]
        incomplete = words[cword] if cword < len(words) else ""
    else:
        line = environ.get("_TYPER_COMPLETE_ARGS", "")
        args = split(line)[1:]
        incomplete = args.pop() if args and not line.endswith(" ") else ""
    try:
        items, paths = completion(SPEC, args, incomplete)
    except Exception:  # a traceback must never land in the user's prompt
        items, paths = [], True
    # Nothing to offer: each shell completes local paths only where the word may be one.
    code = 0
    if shell == "bash":
        text = "\n".join(value for value, _ in items)
        if not items and not paths:
            code = NO_FILES_STATUS
    elif shell == "zsh":
        shown = [
            f'"{_zsh_escape(value)}":"{_zsh_escape(help_text)}"'
            if help_text
            else f'"{_zsh_escape(value)}"'
            for value, help_text in items
        ]
        if shown:
            text = "_arguments '*: :((" + "\n".join(shown) + "))'"
        else:
            text = "_files" if paths else "return 1"  # no matches: zsh lists nothing
    else:
        action = environ.get("_TYPER_COMPLETE_FISH_ACTION", "")
        if action == "is-args":
            # true: the script's rule (--no-files) answers, with nothing when there are no
            # items; false: fish falls back to its own completion, local paths
            return 0 if items or not paths else 1
        text = "\n".join(
            f"{value}\t{_WHITESPACE.sub(' ', help_text)}" if help_text else value
            for value, help_text in items
        )
        if action != "get-args":
            text = ""
    out.write(text + "\n")
    out.flush()
    return code
