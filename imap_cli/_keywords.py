"""Unknown keyword arguments as a TypeError that says which keyword was meant.

Python's own "got an unexpected keyword argument 'instrumnet'" names no alternative; the API's
functions are wrapped so the same mistake reads "... did you mean 'instrument'?". The wrapper
keeps the signature (functools.wraps, and a ParamSpec for type checkers).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from imap_cli.core.errors import UnknownKeyword

P = ParamSpec("P")
R = TypeVar("R")


def unknown_keyword(where: str, given: str, valid: list[str]) -> UnknownKeyword:
    """The error for keyword `given`, which `where` does not take."""
    close = difflib.get_close_matches(given, valid, n=1, cutoff=0.6)
    meant = f"; did you mean {close[0]!r}?" if close else ""
    return UnknownKeyword(
        f"{where}() got an unexpected keyword argument {given!r}{meant}",
        f"{where}() takes: {', '.join(valid)}",
        field=given,
        choices=valid,
    )


def checked_keywords(func: Callable[P, R]) -> Callable[P, R]:
    """`func`, raising UnknownKeyword (a TypeError) with a did-you-mean for a wrong keyword."""
    code = func.__code__
    names = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    valid = [n for n in names if n != "self" and not n.startswith("_")]
    accepted = frozenset(names)
    where = func.__qualname__.removesuffix(".__init__")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # IPython and pytest leave this frame out of tracebacks
        for given in kwargs:
            if given not in accepted:
                raise unknown_keyword(where, given, valid) from None
        return func(*args, **kwargs)

    return wrapper
