"""What keeps `imap --help` quick: typer's help module without the parts it never uses here.

typer 0.28 renders help with typer.rich_utils, whose first lines import rich.markdown (with
markdown-it and pygments) and rich.traceback: ~30 ms, a quarter of `imap --help`, for a
markup mode we do not use and for pretty tracebacks we turn off. While that one module is
executed, those two names resolve to stand-ins that import the real class on first use; every
other importer, before or after, gets the real modules.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec, PathFinder
from typing import Any

TARGET = "typer.rich_utils"


class Markdown:
    """Stand-in for rich.markdown.Markdown: builds the real one when called."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from rich.markdown import Markdown as Real

        return Real(*args, **kwargs)


class Traceback:
    """Stand-in for rich.traceback.Traceback: its typer entry point, from_exception()."""

    @classmethod
    def from_exception(cls, *args: Any, **kwargs: Any) -> Any:
        from rich.traceback import Traceback as Real

        return Real.from_exception(*args, **kwargs)


@contextmanager
def _stand_ins() -> Iterator[None]:
    placed = {}
    for name, stand_in in (("rich.markdown", Markdown), ("rich.traceback", Traceback)):
        if name not in sys.modules:  # already imported for real: use it
            module = types.ModuleType(name, "stand-in while typer.rich_utils is imported")
            setattr(module, stand_in.__name__, stand_in)
            placed[name] = sys.modules[name] = module
    try:
        yield
    finally:
        for name, module in placed.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


class _Loader:
    """Runs the real loader of typer.rich_utils with the stand-ins in place."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        with _stand_ins():
            self.loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, ... for tracebacks
        return getattr(self.loader, name)


class _Finder:
    """A meta path finder that answers for typer.rich_utils once, then steps aside."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: Any = None
    ) -> ModuleSpec | None:
        if fullname != TARGET:
            return None
        remove_light_help()
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _Loader(spec.loader)
        return spec


_finder = _Finder()


def install_light_help() -> None:
    """Make the next import of typer.rich_utils skip rich.markdown and rich.traceback."""
    if TARGET not in sys.modules and _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def remove_light_help() -> None:
    """Undo install_light_help() (after typer.rich_utils was imported, nothing is left)."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
