"""Plain parameter conversion for Typer releases that convert through pydantic.

From 0.29 on, Typer converts every parameter's value with a pydantic TypeAdapter, built when
the command runs: importing pydantic and building the adapters costs about 100 ms at the start
of every command (measured), which is most of `imap download`'s fixed cost. Our parameters are
plain (text, flags, bounded numbers, paths and lists of those), so they are converted here, the
same way, and anything else is left to Typer. Older Typers (click's own conversion) have no
such slot, and nothing is changed there; cli/typer_compat.py finds the slot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

from imap_cli.cli import typer_compat

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off", ""}


def lighten(command: Any) -> Any:
    """Give each plain parameter of `command` (and its subcommands) a direct converter."""
    for sub in getattr(command, "commands", {}).values():
        lighten(sub)
    for param in getattr(command, "params", ()):
        _lighten_param(param)
    help_option = getattr(command, "get_help_option", None)
    if help_option is not None and not getattr(help_option, "lightened", False):
        # -h/--help is made per run (click adds it to the parameters it parses)

        def get_help_option(ctx: Any) -> Any:
            option = help_option(ctx)
            if option is not None:
                _lighten_param(option)
            return option

        get_help_option.lightened = True  # type: ignore[attr-defined]
        command.get_help_option = get_help_option
    return command


# What help shows after an option (and names an argument): a word a user reads, never a
# Python type (Typer 0.29 would show `<str>`, `<list[str]>`, `<int range>`). By parameter name,
# then by type.
VALUE_NAMES: dict[str, str] = {
    "url": "URL",
    "api_key": "KEY",
    "access_token": "TOKEN",
    "data_dir": "DIR",
    "table": "TABLE",
    "instrument": "INSTRUMENT",
    "data_level": "LEVEL",
    "descriptor": "DESCRIPTOR",
    "start_date": "DATE",
    "end_date": "DATE",
    "ingestion_start_date": "DATE",
    "ingestion_end_date": "DATE",
    "since": "DATE",
    "repointing": "REPOINTING",
    "version": "VERSION",
    "extension": "EXT",
    "kernel_type": "TYPE",
    "filename": "NAME",
    "output_format": "FORMAT",
    "format": "FORMAT",
    "status": "STATUS",
    "output_file": "FILE",
    "items": "ITEM",
    "files": "FILE",
    "root": "FOLDER",
    "host": "HOST",
    "key": "KEY",
    "value": "VALUE",
}
_TYPE_NAMES = {int: "N", float: "SECONDS", str: "TEXT", Path: "PATH"}


def value_name(param: Any) -> str | None:
    """The value name help shows for `param`: its own metavar, else VALUE_NAMES'."""
    if getattr(param, "metavar", None) is not None:
        return param.metavar
    name = str(getattr(param, "name", "") or "").removeprefix("global_")
    if name in VALUE_NAMES:
        return VALUE_NAMES[name]
    declared = typer_compat.declared_type(param)
    if declared is None:
        return None
    annotation = declared[0]
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation) or (str,)
    return _TYPE_NAMES.get(annotation, "PATH" if annotation is Path else None)


def _lighten_param(param: Any) -> None:
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        if getattr(param, "metavar", "") is None:
            param.metavar = ""  # Typer 0.29's help would show `<bool>` after every flag
    elif getattr(param, "metavar", "") is None or param.param_type_name == "argument":
        named = value_name(param)
        if named is not None:
            typer_compat.show_value_name(param, named)
    if not typer_compat.converter_slot_free(param):
        return  # not a Typer-0.29-style parameter, or converted already
    converter = _converter(typer_compat.declared_type(param))
    if converter is not None:
        typer_compat.set_converter(param, converter)


class _Plain:
    """What Typer asks of a parameter's runtime converter: `coerce(value, param, ctx)`."""

    def __init__(self, convert: Any, many: bool) -> None:
        self.convert = convert
        self.many = many

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = getattr(param, "multiple", False) or getattr(param, "nargs", 1) == -1
        if value is None:
            return () if multiple else None
        try:
            if self.many:
                if isinstance(value, str):
                    raise ValueError("Value must be an iterable.")
                return [self.convert(item, param, ctx) for item in value]
            return self.convert(value, param, ctx)
        except ValueError as exc:
            raise _bad_parameter(str(exc), param, ctx) from None


def _converter(declared: tuple[Any, Any] | None) -> _Plain | None:
    if declared is None:
        return None
    annotation, info = declared
    if getattr(info, "parser", None) is not None:
        return None
    many = get_origin(annotation) is list
    if many:
        (annotation,) = get_args(annotation) or (str,)
    convert = _leaf(annotation, info)
    return None if convert is None else _Plain(convert, many)


def _leaf(annotation: Any, info: Any) -> Any:
    if annotation is str:
        return lambda value, param, ctx: value if isinstance(value, str) else str(value)
    if annotation is bool:
        return _to_bool
    if annotation in (int, float):
        return _number(annotation, info)
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return _path(annotation, info)
    return None


def _to_bool(value: Any, param: Any, ctx: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a valid boolean.")


def _number(kind: type, info: Any) -> Any:
    low, high, clamp = info.min, info.max, info.clamp

    def convert(value: Any, param: Any, ctx: Any) -> Any:
        try:
            number = value if isinstance(value, kind) else kind(str(value).strip())
        except ValueError:
            word = "integer" if kind is int else "float"
            raise ValueError(f"{value!r} is not a valid {word}.") from None
        if clamp:
            return (
                kind(low)
                if low is not None and number < low
                else (kind(high) if high is not None and number > high else number)
            )
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = f"{low}<=x" if low is not None else "x"
            bounds += f"<={high}" if high is not None else ""
            raise ValueError(f"{number} is not in the range {bounds}.")
        return number

    return convert


def _path(kind: type, info: Any) -> Any:
    coerce_cli_path = typer_compat.path_check()  # exists, file_okay, ...: given a Path, no pydantic
    if coerce_cli_path is None:
        return None
    path_type = info.path_type or kind

    def convert(value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and issubclass(path_type, Path):
            value = path_type(value)
        return coerce_cli_path(value, info, path_type=path_type, param=param, ctx=ctx)

    return convert


def _bad_parameter(message: str, param: Any, ctx: Any) -> Exception:
    from typer import BadParameter

    return BadParameter(message, ctx=ctx, param=param)
