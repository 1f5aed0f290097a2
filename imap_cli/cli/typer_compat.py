"""Every place `imap` reaches past Typer's public API, in one module, each feature-detected.

Typer has no upper bound in pyproject.toml, so a release may move or drop any of these. Each
one is a *hook*: found the first time it is asked for, by import or attribute, and None when
missing. Callers treat None as "do what Typer does on its own": slower, the same results. No
other module of imap_cli names a private Typer or click name (tests/cli/test_typer_compat.py
runs the commands with every hook missing and checks that nothing the user sees changes).

The hooks, and what is lost without each:
- `click_command`: the click command Typer builds for an app (Typer documents it as the way to
  reach click); without it nothing works, so it is the one that is required.
- `summary_help`: a sub-app's help text without building it (`imap --help` then builds config
  and jobs to read their help: a few ms).
- `runtime_converter`, `path_check`: Typer 0.29 converts every value through pydantic (~100 ms a
  command); a plain converter is set on each simple parameter instead (plain_params.py).
- `completion_shared`, `completion_classes`: the completion scripts with our zsh ending, a
  script for a shell named on the command line, and plain (not rich) help in Typer's own
  completion answers.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Callable
from typing import Any

PROG_NAME = "imap"
COMPLETE_VAR = "_IMAP_COMPLETE"


def _typer_core_slot() -> str:
    """The name of the per-parameter converter slot of Typer 0.29's parameters."""
    core = importlib.import_module("typer.core")
    if not hasattr(core._TyperParameter, "get_runtime_param"):
        raise AttributeError("no runtime converter slot")
    return "_runtime_param"


def _summary_help() -> Callable[[Any, str, dict[str, Any]], str]:
    main = importlib.import_module("typer.main")
    models = importlib.import_module("typer.models")
    solve, info = main.solve_typer_info_help, models.TyperInfo
    return lambda target, name, settings: solve(info(target, name=name, **settings))


# name -> how to find it; a loader that raises ImportError or AttributeError means "missing"
_LOADERS: dict[str, Callable[[], Any]] = {
    "click_command": lambda: importlib.import_module("typer.main").get_command,
    "summary_help": _summary_help,
    "runtime_converter": _typer_core_slot,
    "path_check": lambda: importlib.import_module("typer._param_types").coerce_cli_path,
    "completion_shared": lambda: importlib.import_module("typer._completion_shared"),
    "completion_classes": lambda: importlib.import_module("typer._completion_classes"),
}
HOOKS = tuple(_LOADERS)
_found: dict[str, Any] = {}


def hook(name: str) -> Any:
    """The hook `name`, or None when this Typer lacks it (looked up once per process)."""
    if name not in _found:
        try:
            _found[name] = _LOADERS[name]()
        except (ImportError, AttributeError):
            _found[name] = None
    return _found[name]


def click_command(app: Any) -> Any:
    """The click command (or group) Typer builds for `app`."""
    build = hook("click_command")
    if build is None:
        raise RuntimeError("this Typer cannot build a click command from an app")
    return build(app)


def summary_help(target: Any, name: str, settings: dict[str, Any]) -> str | None:
    """The help text Typer gives the sub-app `target` under `name`; None when unknown."""
    solve = hook("summary_help")
    return None if solve is None else solve(target, name, settings)


def converter_slot_free(param: Any) -> bool:
    """Whether `param` converts through Typer's runtime converter and has none yet."""
    slot = hook("runtime_converter")
    return slot is not None and getattr(param, slot, ...) is None


def set_converter(param: Any, converter: Any) -> None:
    """Make `converter` (an object with `coerce(value, param, ctx)`) convert `param`'s values."""
    setattr(param, hook("runtime_converter"), converter)


def declared_type(param: Any) -> tuple[Any, Any] | None:
    """The annotation and the typer.Option/Argument info a parameter was declared with; None
    for a file parameter or one without them."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(descriptor, "file_annotation", None) is not None:
        return None
    info = getattr(descriptor, "parameter_info", None)
    return None if info is None else (descriptor.annotation, info)


def show_value_name(param: Any, name: str) -> None:
    """Make help name `param`'s value `name` (TEXT, DATE, FILE): its metavar, which Typer 0.29
    shows for an option but not in an argument's type column (it shows the Python type there:
    the argument's name column already says it)."""
    param.metavar = name
    if param.param_type_name == "argument" and hasattr(param, "display_type_rich"):
        param.display_type_rich = lambda ctx: None


def path_check() -> Callable[..., Any] | None:
    """Typer's checks of a path value (exists, file_okay, ...), given a Path; None if unknown."""
    return hook("path_check")


# rich's markup tags, as rich.markup matches them: [bold], [/], [link=...], ...
_MARKUP_TAG = re.compile(r"(\\*)\[([a-z#/@][^[]*?)]")


def plain_text(text: str) -> str:
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


def typer_zsh_template() -> str | None:
    """Typer's own zsh script template; None when this Typer keeps it elsewhere."""
    shared = hook("completion_shared")
    return getattr(shared, "COMPLETION_SCRIPT_ZSH", None)


def zsh_template() -> str | None:
    """Typer's zsh template with its last line (the compdef) replaced by ZSH_ENDING."""
    template = typer_zsh_template()
    if template is None or not template.endswith(TYPER_ZSH_ENDING):  # a typer we do not know
        return template
    return template[: -len(TYPER_ZSH_ENDING)] + ZSH_ENDING.lstrip("\n")


# typer's bash script registers `complete -o default`: when the answer is empty, bash lists
# local files, even for a descriptor or a command name. cli/tab.py exits with status 3 when the
# word is no path; then the function turns that fallback off for this TAB (compopt is bash 4+:
# an older bash fails quietly and lists files as before). Paths still complete where the word may
# be one.
TYPER_BASH_ENDING = "    return 0\n}\n"
BASH_ENDING = """    # exit status 3: no match, and the word is no path: so no file names either
    if [[ $? == 3 ]]; then compopt +o default 2>/dev/null; fi
    return 0
}
"""


def bash_template() -> str | None:
    """Typer's bash template with the end of its function replaced by BASH_ENDING."""
    template = getattr(hook("completion_shared"), "COMPLETION_SCRIPT_BASH", None)
    if template is None or TYPER_BASH_ENDING not in template:  # a typer we do not know
        return template
    return template.replace(TYPER_BASH_ENDING, BASH_ENDING, 1)


def adapt_typer_completion() -> None:
    """Our changes to Typer's completion, where this Typer has the places for them: plain
    help text, and the zsh and bash scripts.

    Candidates' help text in zsh and fish goes through rich in Typer (typer.rich_utils
    imports rich.markdown, pygments and more: ~50 ms a TAB); our help texts hold no markup,
    so removing tags gives the same text for a fraction of the cost.
    """
    classes, shared = hook("completion_classes"), hook("completion_shared")
    if classes is not None and hasattr(classes, "_sanitize_help_text"):
        classes._sanitize_help_text = plain_text
    if classes is None or shared is None:
        return
    for shell, template, name in (
        ("zsh", zsh_template(), "ZshComplete"),
        ("bash", bash_template(), "BashComplete"),
    ):
        if template is None:
            continue
        with contextlib.suppress(AttributeError, TypeError):
            shared._completion_scripts[shell] = template
            getattr(classes, name).source_template = template


def writes_scripts() -> bool:
    """Whether this Typer says how it writes and installs completion scripts."""
    shared = hook("completion_shared")
    return hasattr(shared, "get_completion_script") and hasattr(shared, "install")


def completion_script(shell: str) -> str | None:
    """The completion script for one shell, as `imap --show-completion SHELL` prints it; None
    when this Typer does not say how it writes them."""
    shared = hook("completion_shared")
    write = getattr(shared, "get_completion_script", None)
    if write is None:
        return None
    adapt_typer_completion()
    return write(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell)


def install_completion(shell: str) -> Any:
    """Install the script for `shell` as --install-completion does; return where it went, or
    None when this Typer does not say how."""
    install = getattr(hook("completion_shared"), "install", None)
    if install is None:
        return None
    adapt_typer_completion()
    _, path = install(shell=shell, prog_name=PROG_NAME, complete_var=COMPLETE_VAR)
    return path
